/* fuzz_wal.c — libFuzzer target for WAL recovery (index/wal.c). Each input is written into
 * a scratch directory three ways: as the records of a segment behind a valid header, as a
 * whole raw segment file, and as the checkpoint file. owl_wal_verify must agree with
 * owl_wal_open, which must either fail cleanly or replay well-formed records; when it
 * succeeds, one more append followed by a reopen must replay exactly what the first open
 * did plus that record (anything else aborts). One input in eight is opened under
 * OWL_WAL_SYNC_ALWAYS, whose appends are direct (O_DIRECT: the partial last block of whatever
 * the recovered segment holds is read back and written again in front of the record). */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "index/wal.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static char base[64];

typedef struct seen {
    size_t limit;   /* no record can be longer than the input */
    uint64_t count, first, last;
    uint32_t sum;   /* touches every byte so ASan sees any bad pointer */
    size_t last_n;
    uint8_t last_head[8];
} seen;

static int on_record(void *ud, uint64_t lsn, const void *rec, size_t n)
{
    seen *s = ud;
    if (n > s->limit || (s->count && lsn != s->last + 1))
        abort();
    if (!s->count)
        s->first = lsn;
    s->count++;
    s->last = lsn;
    s->sum = owl_crc32c(s->sum, rec, n);
    s->last_n = n;
    memset(s->last_head, 0, sizeof s->last_head);
    memcpy(s->last_head, rec, n < 8 ? n : 8);
    return 0;
}

static void clear_dir(void)
{
    char path[512];
    DIR *dir = opendir(base);
    struct dirent *de;
    if (!dir)
        abort();
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", base, de->d_name);
        unlink(path);
    }
    closedir(dir);
}

static void put_file(const char *name, const void *h, size_t hn, const void *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", base, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, h, hn) != (ssize_t)hn || write(fd, p, n) != (ssize_t)n)
        abort();
    close(fd);
}

static void remove_base(void)
{
    clear_dir();
    rmdir(base);
}

static void seg_header(uint8_t h[24], uint64_t first)
{
    memcpy(h, "OWLWAL\0\0", 8);
    h[8] = 1;
    h[9] = h[10] = h[11] = 0;
    for (int i = 0; i < 8; i++)
        h[12 + i] = (uint8_t)(first >> (8 * i));
    uint32_t c = owl_crc32c(0, h, 20);
    for (int i = 0; i < 4; i++)
        h[20 + i] = (uint8_t)(c >> (8 * i));
}

/* Verifies what is in base (read-only), then opens it; on success appends a marker and
 * checks a reopen sees it. A log verify found sound must open and replay every record. */
static void exercise(size_t limit, int always)
{
    owl_wal_options o = {always ? OWL_WAL_SYNC_ALWAYS : OWL_WAL_SYNC_NONE, 0, 4096, 1 << 16, 0,
                         0};
    owl_wal *w = NULL;
    seen a = {limit, 0, 0, 0, 0, 0, {0}}, b = a;
    uint64_t good = 0;
    int sound = owl_wal_verify(base, NULL, NULL, &good, NULL) == OWL_OK;
    if (owl_wal_open(base, &o, on_record, &a, &w, NULL) != OWL_OK) {
        if (sound)
            abort();
        return;
    }
    if (sound && a.count != good)
        abort();
    owl_wal_stats st;
    owl_wal_stats_get(w, &st);
    if (a.count && st.last_lsn != a.last)
        abort();
    struct iovec iov = {(void *)"fuzzmark", 8};
    uint64_t lsn = 0;
    int rc = owl_wal_append(w, &iov, 1, &lsn, NULL);
    owl_wal_close(w);
    if (rc != OWL_OK)
        return;
    if (lsn != st.last_lsn + 1)
        abort();
    b.limit = limit > 8 ? limit : 8;
    if (owl_wal_open(base, &o, on_record, &b, &w, NULL) != OWL_OK)
        abort();
    owl_wal_close(w);
    if (b.last != lsn || b.last_n != 8 || memcmp(b.last_head, "fuzzmark", 8) != 0)
        abort();
    if (a.count && (b.count != a.count + 1 || b.first != a.first))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    static const char seg1[] = "wal-0000000000000001.log";
    uint8_t h[24];
    if (!base[0]) {
        owl_log_set_level(OWL_LOG_OFF);
        snprintf(base, sizeof base, "%s/owl-fuzz-wal-XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(base))
            abort();
        atexit(remove_base);
    }
    seg_header(h, 1);

    clear_dir();
    put_file(seg1, h, sizeof h, d, n);
    exercise(n, n % 8 == 0);

    clear_dir();
    put_file(seg1, "", 0, d, n);
    exercise(n, n % 8 == 0);

    clear_dir();
    put_file("checkpoint", "", 0, d, n);
    put_file(seg1, h, sizeof h, "", 0);
    exercise(n, n % 8 == 0);

    clear_dir();
    return 0;
}
