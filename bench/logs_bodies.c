/* logs_bodies.c — turns a file of log lines into the request bodies of bench/logs.sh, once,
 * before any clock starts: the same events (the non-empty lines, in file order) cut into the
 * same batches three ways, each file in bench/loadgen's "records" format ("LEN ITEMS\n" + LEN
 * bytes + "\n", ITEMS = events in the body):
 *   put.rec   CloudWatch Logs PutLogEvents JSON bodies for GROUP / STREAM;
 *   otlp.rec  OTLP/HTTP ExportLogsServiceRequest protobuf bodies (one ResourceLogs with the
 *             attributes aws.log.group.names = OTLP_GROUP and service.instance.id = STREAM,
 *             one ScopeLogs, each event a LogRecord with time_unix_nano and a string body),
 *             encoded by the small protobuf writer below;
 *   ch.rec    TabSeparated rows "TIME_MS \t STREAM \t MESSAGE" for ClickHouse
 *             (INSERT ... FORMAT TabSeparated; '\\' -> "\\\\", TAB -> "\\t").
 * Event i of N gets the time START_MS + i * SPAN_MS / N (integer division), so the times rise
 * through the file, are distinct when SPAN_MS >= N, and every batch is in chronological order
 * as PutLogEvents requires. A batch holds at most BATCH events and at most 1,048,576 bytes
 * counted as PutLogEvents counts them (message bytes + 26 per event). Empty lines are left out
 * (PutLogEvents refuses an empty message) and counted; a line that is not valid UTF-8, or
 * longer than one event may be, is an error (exit 1), as is any I/O failure.
 * The summary goes to stdout as key=value lines: events, empty_lines, requests, first_ms,
 * last_ms, put_bytes, otlp_bytes, ch_bytes.
 *
 * Build (bench/logs.sh does it in its temp dir): cc -std=gnu11 -O2 -o logs_bodies logs_bodies.c
 * Run:   logs_bodies FILE OUTDIR GROUP STREAM OTLP_GROUP START_MS SPAN_MS BATCH */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BATCH_BYTES 1048576
#define EVENT_OVERHEAD 26
#define MAX_BATCH_EVENTS 10000

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("logs_bodies: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* ---- a growable byte buffer ---- */
struct buf {
    char *d;
    size_t n, cap;
};

static void b_reserve(struct buf *b, size_t more)
{
    if (b->n + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->n + more)
        cap *= 2;
    char *d = realloc(b->d, cap);
    if (!d)
        die("out of memory");
    b->d = d;
    b->cap = cap;
}

static void b_put(struct buf *b, const void *p, size_t n)
{
    b_reserve(b, n);
    memcpy(b->d + b->n, p, n);
    b->n += n;
}

static void b_byte(struct buf *b, unsigned char c) { b_put(b, &c, 1); }

static void b_str(struct buf *b, const char *s) { b_put(b, s, strlen(s)); }

static void b_varint(struct buf *b, uint64_t v)
{
    while (v >= 0x80) {
        b_byte(b, (unsigned char)(v | 0x80));
        v >>= 7;
    }
    b_byte(b, (unsigned char)v);
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* ---- validation and escapes ---- */

/* utf8_ok — true when s[0..n) is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF). */
static bool utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) {
            k = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            k = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            k = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (s[i + j] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += k + 1;
    }
    return true;
}

static void json_escaped(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    b_byte(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            b_byte(b, '\\');
            b_byte(b, c);
        } else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            b_put(b, e, sizeof e);
        } else {
            b_byte(b, c);
        }
    }
    b_byte(b, '"');
}

static void tsv_escaped(struct buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\')
            b_str(b, "\\\\");
        else if (s[i] == '\t')
            b_str(b, "\\t");
        else
            b_byte(b, (unsigned char)s[i]);
    }
}

/* ---- one batch, three bodies ---- */

struct ev {
    const char *msg;
    size_t len;
    int64_t ms;
};

struct out {
    FILE *f;
    const char *path;
    uint64_t bytes;
};

static void emit(struct out *o, const struct buf *body, size_t items)
{
    if (fprintf(o->f, "%zu %zu\n", body->n, items) < 0 || fwrite(body->d, 1, body->n, o->f) != body->n ||
        fputc('\n', o->f) == EOF)
        die("writing %s: %s", o->path, strerror(errno));
    o->bytes += body->n;
}

/* pb_bytes — tag (field, wire type 2) + length + bytes */
static void pb_bytes(struct buf *b, unsigned field, const void *p, size_t n)
{
    b_varint(b, (uint64_t)field << 3 | 2);
    b_varint(b, n);
    b_put(b, p, n);
}

/* pb_kv_string — a KeyValue {key, value: AnyValue {string_value}} as field `field` */
static void pb_kv_string(struct buf *b, unsigned field, const char *k, const char *v)
{
    struct buf any = {0}, kv = {0};
    pb_bytes(&any, 1, v, strlen(v));
    pb_bytes(&kv, 1, k, strlen(k));
    pb_bytes(&kv, 2, any.d, any.n);
    pb_bytes(b, field, kv.d, kv.n);
    free(any.d);
    free(kv.d);
}

static struct buf scratch_recs, scratch_res, scratch_rl;

static void otlp_body(struct buf *b, const struct ev *e, size_t n, const char *group,
                      const char *stream)
{
    struct buf *recs = &scratch_recs, *res = &scratch_res, *rl = &scratch_rl;
    recs->n = res->n = rl->n = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t ns = (uint64_t)e[i].ms * 1000000u;
        size_t any = 1 + varint_len(e[i].len) + e[i].len; /* AnyValue {1: string_value} */
        size_t rec = 9 + 1 + varint_len(any) + any;         /* LogRecord {1: fixed64, 5: body} */
        b_byte(recs, 0x12);                                 /* ScopeLogs.log_records = 2 */
        b_varint(recs, rec);
        b_byte(recs, 0x09); /* LogRecord.time_unix_nano = 1, fixed64 */
        for (int k = 0; k < 8; k++)
            b_byte(recs, (unsigned char)(ns >> (8 * k)));
        b_byte(recs, 0x2A); /* LogRecord.body = 5 */
        b_varint(recs, any);
        pb_bytes(recs, 1, e[i].msg, e[i].len);
    }
    pb_kv_string(res, 1, "aws.log.group.names", group); /* Resource.attributes = 1 */
    pb_kv_string(res, 1, "service.instance.id", stream);
    pb_bytes(rl, 1, res->d, res->n);   /* ResourceLogs.resource = 1 */
    pb_bytes(rl, 2, recs->d, recs->n); /* ResourceLogs.scope_logs = 2 (a ScopeLogs without scope) */
    b->n = 0;
    pb_bytes(b, 1, rl->d, rl->n); /* ExportLogsServiceRequest.resource_logs = 1 */
}

static void put_body(struct buf *b, const struct ev *e, size_t n, const char *group,
                     const char *stream)
{
    char num[64];
    b->n = 0;
    b_str(b, "{\"logGroupName\":");
    json_escaped(b, group, strlen(group));
    b_str(b, ",\"logStreamName\":");
    json_escaped(b, stream, strlen(stream));
    b_str(b, ",\"logEvents\":[");
    for (size_t i = 0; i < n; i++) {
        snprintf(num, sizeof num, "%s{\"timestamp\":%" PRId64 ",\"message\":", i ? "," : "",
                 e[i].ms);
        b_str(b, num);
        json_escaped(b, e[i].msg, e[i].len);
        b_byte(b, '}');
    }
    b_str(b, "]}");
}

static void ch_body(struct buf *b, const struct ev *e, size_t n, const char *stream)
{
    char num[32];
    b->n = 0;
    for (size_t i = 0; i < n; i++) {
        snprintf(num, sizeof num, "%" PRId64 "\t", e[i].ms);
        b_str(b, num);
        tsv_escaped(b, stream, strlen(stream));
        b_byte(b, '\t');
        tsv_escaped(b, e[i].msg, e[i].len);
        b_byte(b, '\n');
    }
}

static struct out out_open(const char *dir, const char *name)
{
    struct out o = {0};
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (!p)
        die("out of memory");
    snprintf(p, n, "%s/%s", dir, name);
    o.f = fopen(p, "w");
    if (!o.f)
        die("cannot create %s: %s", p, strerror(errno));
    o.path = p;
    return o;
}

static void out_close(struct out *o)
{
    if (fclose(o->f) != 0)
        die("writing %s: %s", o->path, strerror(errno));
    free((char *)o->path);
}

static int64_t num_arg(const char *s, const char *what, int64_t min)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min)
        die("%s must be an integer >= %" PRId64 ", got '%s'", what, min, s);
    return v;
}

int main(int argc, char **argv)
{
    if (argc != 9) {
        fprintf(stderr, "usage: logs_bodies FILE OUTDIR GROUP STREAM OTLP_GROUP START_MS SPAN_MS "
                        "BATCH\n");
        return 2;
    }
    const char *path = argv[1], *dir = argv[2], *group = argv[3], *stream = argv[4],
               *ogroup = argv[5];
    int64_t start = num_arg(argv[6], "START_MS", 0), span = num_arg(argv[7], "SPAN_MS", 1),
            batch = num_arg(argv[8], "BATCH", 1);
    if (batch > MAX_BATCH_EVENTS)
        die("BATCH must be at most %d (PutLogEvents' limit)", MAX_BATCH_EVENTS);

    FILE *in = fopen(path, "rb");
    if (!in)
        die("cannot open %s: %s", path, strerror(errno));
    if (fseek(in, 0, SEEK_END) != 0)
        die("cannot seek %s: %s", path, strerror(errno));
    long size = ftell(in);
    if (size < 0 || fseek(in, 0, SEEK_SET) != 0)
        die("cannot size %s", path);
    char *data = malloc((size_t)size + 1);
    if (!data)
        die("out of memory for %ld bytes", size);
    if (fread(data, 1, (size_t)size, in) != (size_t)size)
        die("reading %s: %s", path, strerror(errno));
    fclose(in);

    /* pass 1: count the events (non-empty lines) */
    uint64_t nev = 0, nempty = 0;
    for (size_t i = 0; i < (size_t)size;) {
        const char *nl = memchr(data + i, '\n', (size_t)size - i);
        size_t end = nl ? (size_t)(nl - data) : (size_t)size, len = end - i;
        if (len && data[end - 1] == '\r')
            len--;
        if (len)
            nev++;
        else
            nempty++;
        i = end + 1;
    }
    if (nev == 0)
        die("%s holds no non-empty line", path);

    struct out put = out_open(dir, "put.rec"), otlp = out_open(dir, "otlp.rec"),
               ch = out_open(dir, "ch.rec");
    struct ev *evs = malloc(sizeof *evs * (size_t)batch);
    if (!evs)
        die("out of memory");
    struct buf body = {0};
    size_t nb = 0, bbytes = 0;
    uint64_t idx = 0, requests = 0, line = 0;
    int64_t first_ms = 0, last_ms = 0;

    for (size_t i = 0; i <= (size_t)size;) {
        bool at_end = i >= (size_t)size;
        size_t len = 0;
        const char *msg = NULL;
        if (!at_end) {
            const char *nl = memchr(data + i, '\n', (size_t)size - i);
            size_t end = nl ? (size_t)(nl - data) : (size_t)size;
            msg = data + i;
            len = end - i;
            if (len && msg[len - 1] == '\r')
                len--;
            i = end + 1;
            line++;
            if (!len)
                continue;
            if (len + EVENT_OVERHEAD > MAX_BATCH_BYTES)
                die("%s line %" PRIu64 ": %zu bytes, more than one event may hold", path, line,
                    len);
            if (!utf8_ok((const unsigned char *)msg, len))
                die("%s line %" PRIu64 ": not valid UTF-8", path, line);
        }
        bool full = nb > 0 && (at_end || nb == (size_t)batch ||
                               bbytes + len + EVENT_OVERHEAD > MAX_BATCH_BYTES);
        if (full) {
            put_body(&body, evs, nb, group, stream);
            emit(&put, &body, nb);
            otlp_body(&body, evs, nb, ogroup, stream);
            emit(&otlp, &body, nb);
            ch_body(&body, evs, nb, stream);
            emit(&ch, &body, nb);
            requests++;
            nb = 0;
            bbytes = 0;
        }
        if (at_end)
            break;
        int64_t ms = start + (int64_t)((unsigned __int128)idx * (uint64_t)span / nev);
        if (idx == 0)
            first_ms = ms;
        last_ms = ms;
        idx++;
        evs[nb++] = (struct ev){msg, len, ms};
        bbytes += len + EVENT_OVERHEAD;
    }
    out_close(&put);
    out_close(&otlp);
    out_close(&ch);
    printf("events=%" PRIu64 "\nempty_lines=%" PRIu64 "\nrequests=%" PRIu64 "\nfirst_ms=%" PRId64
           "\nlast_ms=%" PRId64 "\nput_bytes=%" PRIu64 "\notlp_bytes=%" PRIu64
           "\nch_bytes=%" PRIu64 "\n",
           nev, nempty, requests, first_ms, last_ms, put.bytes, otlp.bytes, ch.bytes);
    free(body.d);
    free(scratch_recs.d);
    free(scratch_res.d);
    free(scratch_rl.d);
    free(evs);
    free(data);
    return 0;
}
