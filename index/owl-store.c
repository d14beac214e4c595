/* owl-store.c — offline tool over an owl data directory's store (like sqlite3's shell or
 * RocksDB's ldb): import raw log lines, scan them, print per-partition figures, verify
 * every checksum, recover damaged metadata and WAL files. Run it while owld is stopped (the store takes a lock).
 * Exit status: 0 ok, 1 corruption found or a runtime error, 2 usage error. */
#include <getopt.h>
#include <sys/stat.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "common/logtime.h"
#include "index/index.h"
#include "index/wal.h"

static void usage(FILE *f)
{
    fputs("usage:\n"
          "  owl-store import DIR --table logs --partition NAME [--tenant T]\n"
          "                   [--sync always|interval|none] [--level 1..22] [--no-compact] FILE\n"
          "  owl-store scan DIR --table logs --partition NAME [--tenant T]\n"
          "                 [--contains TERM | --substr TEXT] [--start T] [--end T] [--count]\n"
          "  owl-store stats DIR\n"
          "  owl-store verify DIR\n"
          "  owl-store recover DIR\n"
          "DIR is owld's data directory (the store is DIR/store). T defaults to 000000000000.\n"
          "recover salvages every valid record around damage in DIR/meta and DIR/store/wal\n"
          "into new files and moves the damaged originals to DIR/quarantine-<UTC time>/.\n"
          "--contains matches TERM as whole tokens (bloom-pruned); --substr matches any bytes.\n"
          "Times are RFC 3339 or epoch milliseconds. --level is the zstd level of the parts the\n"
          "import writes (default 3; from 9 on, messages are also tried as templates). After the\n"
          "import the store is compacted as owld's janitor would (--no-compact: not).\n",
          f);
}

struct opts {
    const char *cmd, *dir, *table, *partition, *tenant, *contains, *substr, *file, *sync;
    int64_t start, end;
    int count;
    int level;
    int no_compact;
};

static int parse(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        {"table", required_argument, 0, 't'},    {"partition", required_argument, 0, 'p'},
        {"tenant", required_argument, 0, 'T'},   {"contains", required_argument, 0, 'c'},
        {"substr", required_argument, 0, 's'},   {"start", required_argument, 0, 'S'},
        {"end", required_argument, 0, 'E'},      {"count", no_argument, 0, 'n'},
        {"sync", required_argument, 0, 'y'},     {"help", no_argument, 0, 'h'},
        {"level", required_argument, 0, 'l'},   {"no-compact", no_argument, 0, 'C'},
        {0, 0, 0, 0},
    };
    memset(o, 0, sizeof *o);
    o->tenant = "000000000000";
    o->table = "logs";
    o->start = INT64_MIN;
    o->end = INT64_MAX;
    o->level = 3;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 't': o->table = optarg; break;
        case 'p': o->partition = optarg; break;
        case 'T': o->tenant = optarg; break;
        case 'c': o->contains = optarg; break;
        case 's': o->substr = optarg; break;
        case 'n': o->count = 1; break;
        case 'y': o->sync = optarg; break;
        case 'C': o->no_compact = 1; break;
        case 'l': {
            char *end;
            long l = strtol(optarg, &end, 10);
            if (*end || l < 1 || l > 22) {
                fprintf(stderr, "owl-store: --level takes 1 to 22\n");
                return -1;
            }
            o->level = (int)l;
            break;
        }
        case 'S':
        case 'E': {
            int64_t ms;
            if (owl_time_parse(optarg, strlen(optarg), &ms) != OWL_OK) {
                fprintf(stderr, "owl-store: --%s: '%s' is not a time\n",
                        c == 'S' ? "start" : "end", optarg);
                return -1;
            }
            *(c == 'S' ? &o->start : &o->end) = ms;
            break;
        }
        case 'h': usage(stdout); exit(0);
        default: return -1;
        }
    }
    if (optind + 2 > argc)
        return -1;
    o->cmd = argv[optind];
    o->dir = argv[optind + 1];
    if (!strcmp(o->cmd, "import")) {
        if (optind + 3 != argc || !o->partition)
            return -1;
        o->file = argv[optind + 2];
    } else if (!strcmp(o->cmd, "scan")) {
        if (optind + 2 != argc || !o->partition || (o->contains && o->substr))
            return -1;
    } else if (strcmp(o->cmd, "stats") && strcmp(o->cmd, "verify") &&
               strcmp(o->cmd, "recover")) {
        return -1;
    }
    if (strcmp(o->table, "logs") != 0) {
        fprintf(stderr, "owl-store: only the logs table can be imported or scanned for now\n");
        return -1;
    }
    return 0;
}

static int open_store(const char *dir, enum owl_sync_policy sync, int level, owl_store **s,
                      owl_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/store", dir);
    owl_store_options o;
    owl_store_options_default(&o);
    o.sync = sync;
    o.memtable_age_ms = 1 << 30; /* seal by size, and at the end */
    o.zstd_level = level;
    o.compact_zstd_level = level > o.compact_zstd_level ? level : o.compact_zstd_level;
    o.settle_age_ms = -1; /* imported days are done: the final compaction settles them */
    o.background = 0;
    /* every table of the registry, not just the one imported: replay must apply (and seal)
     * owld's records of the other tables too, or the checkpoint would pass them */
    return owl_store_open(path, NULL, 0, &o, s, err);
}

#define BATCH 8192

/* One imported line as a logs row: its time, the import time, the line as the message (the
 * other columns keep their defaults). */
static int add_line(owl_rowbuf *b, int64_t ts, int64_t now, const char *line, size_t len)
{
    int rc = owl_rowbuf_begin_row(b);
    rc = rc ? rc : owl_rowbuf_set_i64(b, OWL_LOGS_TIME, ts);
    rc = rc ? rc : owl_rowbuf_set_i64(b, OWL_LOGS_INGEST_TIME, now);
    rc = rc ? rc : owl_rowbuf_set_bytes(b, OWL_LOGS_MESSAGE, line, len);
    return rc ? rc : owl_rowbuf_end_row(b);
}

static int cmd_import(const struct opts *o)
{
    owl_error err = {0};
    owl_store *s = NULL;
    enum owl_sync_policy sync = OWL_SYNC_ALWAYS;
    if (o->sync && !strcmp(o->sync, "interval"))
        sync = OWL_SYNC_INTERVAL;
    else if (o->sync && !strcmp(o->sync, "none"))
        sync = OWL_SYNC_NONE;
    else if (o->sync && strcmp(o->sync, "always")) {
        fprintf(stderr, "owl-store: --sync takes always, interval or none\n");
        return 2;
    }
    FILE *f = strcmp(o->file, "-") ? fopen(o->file, "r") : stdin;
    if (!f) {
        perror(o->file);
        return 1;
    }
    int rc = open_store(o->dir, sync, o->level, &s, &err);
    if (rc != OWL_OK) {
        fprintf(stderr, "owl-store: %s\n", err.msg);
        if (f != stdin)
            fclose(f);
        return 1;
    }
    owl_rowbuf b;
    owl_rowbuf_init(&b, &owl_logs_schema);
    char *line = NULL;
    size_t cap = 0, total = 0, dated = 0;
    ssize_t len;
    int64_t now = owl_now_ms();
    int64_t t0 = owl_mono_ns();
    while (rc == OWL_OK && (len = getline(&line, &cap, f)) >= 0) {
        if (len && line[len - 1] == '\n')
            len--;
        if (len && line[len - 1] == '\r')
            len--;
        int64_t ts = now;
        if (owl_logtime_parse(line, (size_t)len, now, &ts) >= 0)
            dated++;
        if ((rc = add_line(&b, ts, now, line, (size_t)len)) != OWL_OK)
            owl_error_set(&err, rc, "out of memory");
        if (rc == OWL_OK && b.nrows == BATCH) {
            rc = owl_store_append(s, "logs", o->tenant, o->partition, owl_rowbuf_rows(&b), &err);
            total += b.nrows;
            owl_rowbuf_reset(&b);
        }
    }
    if (rc == OWL_OK && b.nrows) {
        rc = owl_store_append(s, "logs", o->tenant, o->partition, owl_rowbuf_rows(&b), &err);
        total += b.nrows;
    }
    int64_t t1 = owl_mono_ns();
    if (rc == OWL_OK)
        rc = owl_store_flush(s, &err);
    if (rc == OWL_OK && !o->no_compact)
        rc = owl_store_compact(s, &err);
    free(line);
    owl_rowbuf_free(&b);
    if (f != stdin)
        fclose(f);
    owl_store_close(s);
    if (rc != OWL_OK) {
        fprintf(stderr, "owl-store: import failed after %zu rows: %s\n", total, err.msg);
        return 1;
    }
    double secs = (double)(t1 - t0) / 1e9;
    fprintf(stderr, "imported %zu rows (%zu with their own timestamp) in %.3f s: %.0f rows/s\n",
            total, dated, secs, secs > 0 ? (double)total / secs : 0.0);
    return 0;
}

struct scan_out {
    int count_only;
    uint64_t n;
    FILE *out;
};

static int print_rows(void *ud, const owl_batch *b)
{
    struct scan_out *so = ud;
    so->n += b->nrows;
    if (so->count_only)
        return 0;
    for (size_t i = 0; i < b->nrows; i++) {
        fwrite(b->cols[0][i].b.p, 1, b->cols[0][i].b.n, so->out);
        fputc('\n', so->out);
    }
    return 0;
}

static int cmd_scan(const struct opts *o)
{
    owl_error err = {0};
    owl_store *s = NULL;
    if (open_store(o->dir, OWL_SYNC_ALWAYS, 3, &s, &err) != OWL_OK) {
        fprintf(stderr, "owl-store: %s\n", err.msg);
        return 1;
    }
    const char *parts[] = {o->partition};
    size_t cols[] = {OWL_LOGS_MESSAGE};
    owl_pred pred = {.col = OWL_LOGS_MESSAGE};
    const char *text = o->contains ? o->contains : o->substr;
    if (text) {
        pred.op = o->contains ? OWL_PRED_TOKEN : OWL_PRED_SUBSTR;
        pred.text.p = text;
        pred.text.n = strlen(text);
    }
    struct scan_out so = {o->count, 0, stdout};
    owl_scan q = {
        .table = "logs", .tenant = o->tenant, .partitions = parts, .npartitions = 1,
        .start = o->start, .end = o->end, .cols = cols, .ncols = 1,
        .preds = text ? &pred : NULL, .npreds = text ? 1 : 0, .fn = print_rows, .ud = &so,
    };
    owl_scan_stats st;
    int64_t t0 = owl_mono_ns();
    int rc = owl_store_scan(s, &q, &st, &err);
    int64_t t1 = owl_mono_ns();
    owl_store_close(s);
    if (rc != OWL_OK) {
        fprintf(stderr, "owl-store: scan failed: %s\n", err.msg);
        return 1;
    }
    if (o->count)
        printf("%llu\n", (unsigned long long)so.n);
    fprintf(stderr,
            "scan: %llu rows matched of %llu scanned; blocks %llu, skipped %llu; %llu bytes read; "
            "%.3f ms\n",
            (unsigned long long)st.rows_matched, (unsigned long long)st.rows_scanned,
            (unsigned long long)st.blocks, (unsigned long long)st.blocks_skipped,
            (unsigned long long)st.bytes_read, (double)(t1 - t0) / 1e6);
    return 0;
}

static int print_stats(void *ud, const owl_store_table_stats *t)
{
    (void)ud;
    printf("%-8s %-12s %-24s %10llu %14llu %14llu %8.2f %6llu\n", t->table, t->tenant,
           t->partition, (unsigned long long)t->rows, (unsigned long long)t->raw_bytes,
           (unsigned long long)t->stored_bytes,
           t->stored_bytes ? (double)t->raw_bytes / (double)t->stored_bytes : 0.0,
           (unsigned long long)t->parts);
    return 0;
}

static int cmd_stats(const struct opts *o)
{
    owl_error err = {0};
    owl_store *s = NULL;
    if (open_store(o->dir, OWL_SYNC_ALWAYS, 3, &s, &err) != OWL_OK) {
        fprintf(stderr, "owl-store: %s\n", err.msg);
        return 1;
    }
    printf("%-8s %-12s %-24s %10s %14s %14s %8s %6s\n", "table", "tenant", "partition", "rows",
           "raw_bytes", "stored_bytes", "ratio", "parts");
    owl_store_partitions(s, print_stats, NULL, &err);
    owl_store_stats st;
    owl_store_stats_get(s, &st);
    printf("wal_bytes %llu, parts %llu, rows %llu, quarantined %llu\n",
           (unsigned long long)st.wal_bytes, (unsigned long long)st.parts,
           (unsigned long long)st.rows, (unsigned long long)st.quarantined);
    owl_store_close(s);
    return 0;
}

static void report(void *ud, const char *what)
{
    int *bad = ud;
    (*bad)++;
    printf("CORRUPT %s\n", what);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void say_line(void *ud, const char *line)
{
    (void)ud;
    printf("%s\n", line);
}

static void meta_report(void *ud, const char *line)
{
    if (strstr(line, ": damaged") || strstr(line, "bad or short"))
        report(ud, line);
}

static int cmd_verify(const struct opts *o)
{
    owl_error err = {0};
    char path[4096];
    int bad = 0;
    owl_meta_salvage ms;
    snprintf(path, sizeof path, "%s/meta", o->dir);
    /* without a quarantine directory the recovery only reports (and takes the lock) */
    int mrc = is_dir(path) ? owl_meta_recover(path, NULL, meta_report, &bad, &ms, &err) : OWL_OK;
    if (mrc != OWL_OK) {
        fprintf(stderr, "owl-store: verify of %s failed: %s\n", path, err.msg);
        return 1;
    }
    owl_error_clear(&err);
    snprintf(path, sizeof path, "%s/store", o->dir);
    int rc = owl_store_verify(path, report, &bad, &err);
    if (rc == OWL_OK && bad)
        rc = OWL_ECORRUPT;
    if (rc == OWL_OK) {
        printf("ok: %s\n", err.msg[0] ? err.msg : "every part and WAL record checks out");
        return 0;
    }
    if (rc != OWL_ECORRUPT)
        fprintf(stderr, "owl-store: verify failed: %s\n", err.msg);
    else
        printf("%d problem(s) found\n", bad);
    return 1;
}

/* recover: salvages DIR/meta and DIR/store/wal, quarantining damaged originals in
 * DIR/quarantine-<UTC time>/ (same file system, so originals are hard-linked). */
static int cmd_recover(const struct opts *o)
{
    owl_error err = {0};
    char meta[4096], wal[4096], qdir[4096], stamp[32];
    owl_meta_salvage ms;
    owl_wal_salvage ws;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(meta, sizeof meta, "%s/meta", o->dir);
    snprintf(wal, sizeof wal, "%s/store/wal", o->dir);
    snprintf(qdir, sizeof qdir, "%s/quarantine-%s", o->dir, stamp);
    memset(&ms, 0, sizeof ms);
    memset(&ws, 0, sizeof ws);
    if (!is_dir(o->dir)) {
        fprintf(stderr, "owl-store: %s is not a directory\n", o->dir);
        return 1;
    }
    int rc = is_dir(meta) ? owl_meta_recover(meta, qdir, say_line, NULL, &ms, &err) : OWL_OK;
    if (rc != OWL_OK) {
        fprintf(stderr, "owl-store: recover %s: %s\n", meta, err.msg);
        return 1;
    }
    rc = is_dir(wal) ? owl_wal_recover(wal, qdir, say_line, NULL, &ws, &err) : OWL_OK;
    if (rc != OWL_OK) {
        fprintf(stderr, "owl-store: recover %s: %s\n", wal, err.msg);
        return 1;
    }
    printf("metadata: %llu file(s) rewritten, %llu records kept, %llu damaged region(s) "
           "(%llu bytes) skipped\n",
           (unsigned long long)ms.files, (unsigned long long)ms.kept,
           (unsigned long long)ms.regions, (unsigned long long)ms.bytes_skipped);
    printf("wal: %llu segment(s) rewritten, %llu records kept, %llu damaged region(s) "
           "(%llu bytes) skipped, %llu lsn(s) given up\n",
           (unsigned long long)ws.files, (unsigned long long)ws.kept,
           (unsigned long long)ws.regions, (unsigned long long)ws.bytes_skipped,
           (unsigned long long)ws.lost_lsns);
    if (ms.files || ws.files)
        printf("damaged originals: %s\n", qdir);
    else
        printf("nothing to recover\n");
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    owl_log_set_level(OWL_LOG_WARN);
    if (!strcmp(o.cmd, "import"))
        return cmd_import(&o);
    if (!strcmp(o.cmd, "scan"))
        return cmd_scan(&o);
    if (!strcmp(o.cmd, "stats"))
        return cmd_stats(&o);
    if (!strcmp(o.cmd, "recover"))
        return cmd_recover(&o);
    return cmd_verify(&o);
}
