/* fuzz_meta.c — libFuzzer target for the metadata store's recovery (index/meta.c): the input
 * becomes a journal or snapshot file in a scratch directory and the store is opened. Opening
 * must fail cleanly or succeed; on success the loaded records are read back, changed,
 * compacted and reopened, and the record count must survive that round trip.
 * First input byte selects the file shape (see the switch); the rest is the content. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "index/index.h"

static char dir[64];

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* A valid 28-byte header (format table in index/meta.c). */
static void header(owl_buf *b, uint32_t kind, uint64_t gen)
{
    unsigned char h[28];
    memcpy(h, "OWLMETA", 8);
    put32(h + 8, 1);
    put32(h + 12, kind);
    put64(h + 16, gen);
    put32(h + 24, owl_crc32c(0, h, 24));
    owl_buf_append(b, h, sizeof h);
}

/* Splits d into chunks "u16 length, bytes" and frames each with a correct crc, so the
 * fuzzer reaches the record decoder. Returns the number of frames. */
static uint64_t frames(owl_buf *b, const uint8_t *d, size_t n)
{
    uint64_t count = 0;
    while (n >= 2) {
        size_t len = (size_t)d[0] | ((size_t)d[1] << 8);
        d += 2;
        n -= 2;
        if (len > n)
            len = n;
        unsigned char fh[8];
        put32(fh, (uint32_t)len);
        put32(fh + 4, owl_crc32c(owl_crc32c(0, fh, 4), d, len));
        owl_buf_append(b, fh, sizeof fh);
        owl_buf_append(b, d, len);
        d += len;
        n -= len;
        count++;
    }
    return count;
}

static void write_file(const char *name, const void *p, size_t n)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        abort();
    if (n && write(fd, p, n) != (ssize_t)n)
        abort();
    close(fd);
}

static void clear_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[400];
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
}

static int visit(void *ud, const char *t, const char *k, const char *i, const bson_t *doc)
{
    size_t len;
    char *json = bson_as_relaxed_extended_json(doc, &len);
    bson_free(json);
    (*(size_t *)ud)++;
    return 0;
}

/* Reads everything reachable through the API; the kinds come from the seeds. */
static size_t read_back(owl_meta *m)
{
    static const char *const kinds[] = {"apikey", "k", "alarm"};
    size_t n = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        owl_meta_list(m, NULL, kinds[i], NULL, 0, visit, &n, NULL);
        owl_meta_list(m, "t", kinds[i], "a", 2, visit, &n, NULL);
    }
    bson_t *doc = NULL;
    if (owl_meta_get(m, "t", "k", "a", &doc, NULL) == OWL_OK)
        bson_destroy(doc);
    return n;
}

static void exercise(void)
{
    owl_meta_options o = {4096, 2.0, 0};
    owl_meta *m = NULL;
    if (owl_meta_open(dir, &o, &m, NULL) != OWL_OK)
        return;
    read_back(m);
    bson_t *doc = BCON_NEW("v", BCON_INT32(1));
    owl_meta_put(m, "t", "k", "fuzz", doc, NULL);
    bson_destroy(doc);
    owl_meta_delete(m, "t", "k", "a", NULL);
    size_t count = owl_meta_count(m);
    if (owl_meta_compact(m, NULL) != OWL_OK)
        abort();
    owl_meta_close(m);
    m = NULL;
    if (owl_meta_open(dir, &o, &m, NULL) != OWL_OK || owl_meta_count(m) != count)
        abort(); /* what we wrote ourselves must always reload */
    read_back(m);
    owl_meta_close(m);
}

static void remove_dir(void)
{
    clear_dir();
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (!dir[0]) {
        owl_log_set_level(OWL_LOG_OFF);
        struct stat st;
        snprintf(dir, sizeof dir, "%s/owl-fuzz-meta-XXXXXX",
                 stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(dir))
            abort();
        atexit(remove_dir);
    }
    if (n < 1)
        return 0;
    owl_buf b = OWL_BUF_INIT;
    clear_dir();
    switch (d[0] % 4) {
    case 0: /* raw journal */
        write_file("journal-000000000000.owm", d + 1, n - 1);
        break;
    case 1: /* valid header, raw frames */
        header(&b, 2, 0);
        owl_buf_append(&b, d + 1, n - 1);
        write_file("journal-000000000000.owm", b.data, b.len);
        break;
    case 2: /* valid header and checksums, fuzzed payloads */
        header(&b, 2, 0);
        frames(&b, d + 1, n - 1);
        write_file("journal-000000000000.owm", b.data, b.len);
        break;
    case 3: { /* a snapshot with valid checksums and footer, fuzzed payloads */
        header(&b, 1, 1);
        uint64_t count = frames(&b, d + 1, n - 1);
        unsigned char foot[28];
        memcpy(foot, "OWLMEND", 8);
        put64(foot + 8, count);
        put64(foot + 16, count);
        owl_buf_append(&b, foot, 24);
        put32(foot, owl_crc32c(0, b.data, b.len));
        owl_buf_append(&b, foot, 4);
        write_file("snapshot-000000000001.owm", b.data, b.len);
        break;
    }
    }
    owl_buf_free(&b);
    exercise();
    clear_dir();
    return 0;
}
