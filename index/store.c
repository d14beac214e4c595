/* store.c — the columnar store: opening (loading parts, WAL replay), appends through the WAL
 * into memtables, the partition map, figures and offline verification. Memtables and sealing
 * live in memtable.c, scans in scan.c, compaction, settling and retention in compact.c,
 * dropping a partition in drop.c, predicates in pred.c; the structures they share in
 * store_int.h.
 *
 * Layout under the store directory (docs/storage.md):
 *   wal/                                   the write-ahead log (wal.h)
 *   <table>/<tenant>/<partition>/RETENTION days to keep ("0" = forever), absent = forever
 *   <table>/<tenant>/<partition>/DROPPED   the partition was dropped at a WAL lsn (drop.c)
 *   <table>/<tenant>/<partition>/<YYYYMMDD>/p-<first>-<last>-<level>.owp   parts (part.h)
 *   <table>/<tenant>/<partition>/<YYYYMMDD>-<YYYYMMDD>/s-<max_lsn>-<level>.owp
 *                                          a span: one part holding several sparse days
 *   quarantine/                            parts that failed their checks
 * <partition> is the partition name with every byte outside [A-Za-z0-9._-] as %XX.
 *
 * Invariants:
 *  1. Rows reach memtables in WAL lsn order (appenders take turns by lsn after the WAL
 *     append), so each memtable of a partition-day holds a contiguous run of that day's
 *     records, and parts of a day hold every record of that day up to their max_lsn.
 *  2. Memtables of one day seal oldest first; a failed seal is retried before any newer one.
 *  3. The WAL checkpoint never passes the smallest lsn held only in memory, nor an lsn not
 *     yet applied. On replay, a record is skipped for a day whose parts reach its lsn.
 *  4. A part named p-A-B-L covers the sealed sequence numbers A..B; a part whose range lies
 *     inside another's was merged by compaction and is deleted at open.
 *  5. A span (days D0..D1, written by compaction from cold, sparse days) holds every record of
 *     those days up to its max_lsn: it is made of every part of every unit (day or span) in
 *     D0..D1 and of nothing else, and only from days without memtables, so rows of those days
 *     that arrive later have larger lsns. Hence at open a part whose days lie inside a span
 *     and whose max_lsn is at most the span's was merged into it and is deleted; and a day
 *     inside a span counts the span's max_lsn as sealed (invariant 3).
 *  6. A drop of a partition is a WAL record (lsn L) applied in its turn like the rows: every
 *     memtable and part of the partition then holds rows below L only and all of them go; a
 *     part never mixes rows from both sides of a drop. The DROPPED marker (L) is durable
 *     before the drop's turn, so before the checkpoint can pass L; at open a part at or below
 *     a marker's L is deleted. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/endian.h"
#include "index/bloom.h"
#include "index/encode.h"
#include "index/index.h"
#include "index/part.h"
#include "index/tables.h"
#include "index/wal.h"

#include "index/store_int.h"

/* ---------- names and paths ---------- */

/* snprintf for paths: returns -1 (and an empty string) when the result does not fit. */
int owl__pathf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int owl__pathf(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= n) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

int owl__valid_name(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= NAME_MAX_LEN;
}

static void escape_name(const char *s, char *out)
{
    static const char hx[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
                    (*p == '.' && p != (const unsigned char *)s);
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hx[*p >> 4];
            out[o++] = hx[*p & 15];
        }
    }
    out[o] = '\0';
}

static int unescape_name(const char *s, char *out, size_t outsz)
{
    size_t o = 0;
    for (size_t i = 0; s[i]; i++) {
        if (o + 1 >= outsz)
            return -1;
        if (s[i] == '%') {
            unsigned v;
            if (!s[i + 1] || !s[i + 2] || sscanf(s + i + 1, "%2X", &v) != 1)
                return -1;
            out[o++] = (char)v;
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return 0;
}

static void one_day_name(int32_t day, char out[9])
{
    char t[40];
    owl_time_format_rfc3339((int64_t)day * 86400000, t, sizeof t);
    snprintf(out, 9, "%.4s%.2s%.2s", t, t + 5, t + 8);
}

/* YYYYMMDD for a day, YYYYMMDD-YYYYMMDD for a span */
static void day_name(int32_t day, int32_t last, char out[24])
{
    char a[9], b[9];
    one_day_name(day, a);
    if (last == day) {
        snprintf(out, 24, "%s", a);
        return;
    }
    one_day_name(last, b);
    snprintf(out, 24, "%s-%s", a, b);
}

static int parse_day_name(const char *s, int32_t *day)
{
    unsigned y, m, d;
    if (strlen(s) != 8 || sscanf(s, "%4u%2u%2u", &y, &m, &d) != 3 || m < 1 || m > 12 || d < 1 ||
        d > 31)
        return -1;
    *day = (int32_t)owl_days_from_civil(y, m, d);
    return 0;
}

/* Parses a span directory name YYYYMMDD-YYYYMMDD (first < last). */
static int parse_span_name(const char *s, int32_t *day, int32_t *last)
{
    char a[9];
    if (strlen(s) != 17 || s[8] != '-')
        return -1;
    memcpy(a, s, 8);
    a[8] = 0;
    if (parse_day_name(a, day) != 0 || parse_day_name(s + 9, last) != 0 || *last <= *day)
        return -1;
    return 0;
}

char *owl__day_dir(const struct ptn *p, int32_t day, int32_t last)
{
    char dn[24];
    day_name(day, last, dn);
    size_t n = strlen(p->dir) + 30;
    char *path = malloc(n);
    if (path)
        snprintf(path, n, "%s/%s", p->dir, dn);
    return path;
}

/* ---------- the partition map (callers hold s->mu) ---------- */

struct ptn *owl__find_ptn(owl_store *s, size_t table, const char *tenant, const char *name)
{
    for (size_t i = 0; i < s->nptns; i++) {
        struct ptn *p = s->ptns[i];
        if (p->table == table && !strcmp(p->tenant, tenant) && !strcmp(p->name, name))
            return p;
    }
    return NULL;
}

struct ptn *owl__get_ptn(owl_store *s, size_t table, const char *tenant, const char *name)
{
    struct ptn *p = owl__find_ptn(s, table, tenant, name);
    if (p)
        return p;
    struct ptn **grown = realloc(s->ptns, (s->nptns + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    s->ptns = grown;
    p = calloc(1, sizeof *p);
    char esc_t[3 * NAME_MAX_LEN + 1], esc_n[3 * NAME_MAX_LEN + 1];
    escape_name(tenant, esc_t);
    escape_name(name, esc_n);
    size_t dlen = strlen(s->dir) + strlen(s->schemas[table]->name) + strlen(esc_t) +
                  strlen(esc_n) + 4;
    if (p) {
        p->table = table;
        p->tenant = strdup(tenant);
        p->name = strdup(name);
        p->dir = malloc(dlen);
    }
    if (!p || !p->tenant || !p->name || !p->dir) {
        if (p) {
            free(p->tenant), free(p->name), free(p->dir);
            free(p);
        }
        return NULL;
    }
    snprintf(p->dir, dlen, "%s/%s/%s/%s", s->dir, s->schemas[table]->name, esc_t, esc_n);
    s->ptns[s->nptns++] = p;
    return p;
}

static struct day *find_day(struct ptn *p, int32_t day)
{
    for (size_t i = 0; i < p->ndays; i++)
        if (p->days[i]->day == day && !p->days[i]->span)
            return p->days[i];
    return NULL;
}

/* The highest max_lsn of the spans covering day (0 if none): sealed for it (invariant 5). */
static uint64_t span_sealed(const struct ptn *p, int32_t day)
{
    uint64_t lsn = 0;
    for (size_t i = 0; i < p->ndays; i++) {
        const struct day *d = p->days[i];
        if (d->span && d->day <= day && day <= d->last && d->sealed_lsn > lsn)
            lsn = d->sealed_lsn;
    }
    return lsn;
}

/* Adds a unit (a day, or a span when last > day) with no parts yet. */
struct day *owl__add_unit(struct ptn *p, int32_t day, int32_t last)
{
    struct day **grown = realloc(p->days, (p->ndays + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    p->days = grown;
    struct day *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->day = day;
    d->last = last;
    d->span = last != day;
    d->next_seq = 1;
    d->active_ms = owl_now_ms();
    if (!d->span)
        d->sealed_lsn = span_sealed(p, day);
    p->days[p->ndays++] = d;
    return d;
}

/* The memtable taking appends for d, created when needed. */
static struct memtable *active_mem(owl_store *s, size_t table, struct day *d)
{
    if (d->nmems && !d->last_sealing)
        return d->mems[d->nmems - 1];
    struct memtable **grown = realloc(d->mems, (d->nmems + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    d->mems = grown;
    struct memtable *m = owl_mem_new(s, table);
    if (!m)
        return NULL;
    d->mems[d->nmems++] = m;
    d->last_sealing = 0;
    return m;
}

/* quarantine/<ms>-<path below the store with '/' as '_'>: part names repeat in every day
 * directory, so the whole path keeps quarantined files from replacing each other. */
static void quarantine_name(const owl_store *s, const char *path, char *out, size_t outsz)
{
    size_t dl = strlen(s->dir);
    const char *rel = strncmp(path, s->dir, dl) == 0 && path[dl] == '/' ? path + dl + 1 : path;
    char flat[4096];
    owl_strlcpy(flat, rel, sizeof flat);
    for (char *c = flat; *c; c++)
        if (*c == '/')
            *c = '_';
    owl__pathf(out, outsz, "%s/quarantine/%lld-%s", s->dir, (long long)owl_now_ms(), flat);
}

void owl__part_unref_locked(owl_store *s, struct part_ref *r)
{
    if (--r->refs > 0)
        return;
    owl_part_close(r->p);
    if (r->unlinked) {
        /* nothing left to do on disk */
    } else if (r->quarantine) {
        char dst[4096];
        quarantine_name(s, r->path, dst, sizeof dst);
        if (rename(r->path, dst) != 0)
            owl_errorf("store: cannot move %s to quarantine: %s", r->path, strerror(errno));
    } else if (r->dead) {
        unlink(r->path);
    }
    free(r->path);
    free(r);
}

/* ---------- WAL records ----------
 * A record's payload (docs/storage.md "WAL records"); varint = LEB128, str = varint length +
 * bytes, integers little-endian:
 *   u8 version (2; 1 is still read)
 *   str table, str tenant, str partition
 *   version 2 only: varint ncols (1..OWL_MAX_COLS), then per column: str name, u8 type
 *                   (enum owl_type), in the order the values follow
 *   varint nrows
 *   per column (v2: as listed; v1: the current schema's columns), all rows of it:
 *     TIME, I64, U64 (bit pattern), F64 (bit pattern): 8 bytes per row
 *     ID8 / ID16: 8 / 16 bytes per row
 *     DICT, STR, BSON: str per row
 * Version 2 records name their columns so that they replay under a later schema of their
 * table: columns are matched by name, a schema column the record lacks reads as its default
 * (owl_col_default), a record column the schema lacks is skipped, and a column whose type
 * differs makes the open fail (OWL_EUNSUPPORTED). Version 1 records (written until 2026-12)
 * carry no column list: they hold the columns their table had then, kept frozen in
 * tables.c (owl_table_v1_cols) and matched by name as above; a table without such a list
 * (tests' own tables) reads them as its current schema's columns. */

/* 1 when time t (in sc's unit) falls on a day of the years 1..9999: the days a day
 * directory can be named for (YYYYMMDD). Rows outside would be sealed where no open finds
 * them, so appends refuse them and replay takes a record holding one for corrupt. */
#define DAY_0001_01_01 (-719162) /* owl_days_from_civil(1, 1, 1); test_common checks both */
#define DAY_9999_12_31 2932896    /* owl_days_from_civil(9999, 12, 31) */

static int time_storable(const owl_schema *sc, int64_t t)
{
    int64_t u = 86400 * sc->time_per_sec, day = t / u - (t % u < 0);
    return day >= DAY_0001_01_01 && day <= DAY_9999_12_31;
}

static int put_str(owl_buf *b, const void *p, size_t n)
{
    uint8_t v[10];
    size_t k = owl_varint_put(v, n);
    if (owl_buf_append(b, v, k) != OWL_OK)
        return OWL_ENOMEM;
    return owl_buf_append(b, p, n);
}

/* WAL record versions: 1 (a table's frozen layout, 8-byte numbers, strings), 2 (the columns
 * named in the record), 3 (as 2, and each column's values begin with a mode byte: RAW as in
 * version 2, CONST one value for every row, or DELTA numbers as zigzag varints of the
 * difference from the row before, the first from 0). Version 3 makes the metrics table's
 * records about a sixth of version 2's size: constant units and counts, times a second
 * apart, runs of one series. */
#define REC_V3 3
enum { COL_RAW = 0, COL_CONST = 1, COL_DELTA = 2, COL_RUNS = 3 };
#define RUNS_PROBE 64 /* rows a byte column's runs are counted over before giving up early */

static uint64_t zigzag(uint64_t d)
{
    return (d << 1) ^ (uint64_t)((int64_t)d >> 63);
}

static uint64_t unzigzag(uint64_t z)
{
    return (z >> 1) ^ (uint64_t)-(int64_t)(z & 1);
}

/* A byte value as the record holds it, at q (room made): an id's width bytes (a copy of known
 * size, no call), else a str. Returns the end. */
static inline uint8_t *put_bytes(uint8_t *q, size_t width, const owl_bytes *v)
{
    if (width == 8)
        return memcpy(q, v->p, 8), q + 8;
    if (width == 16)
        return memcpy(q, v->p, 16), q + 16;
    q = owl_varint_write(q, v->n);
    if (v->n) /* an empty value may have no bytes at all */
        memcpy(q, v->p, v->n);
    return q + v->n;
}

/* q, a place in b past b->len, with room for need more bytes after it (b may grow and move);
 * NULL when out of memory. */
static inline uint8_t *room(owl_buf *b, uint8_t *q, size_t need)
{
    size_t at = (size_t)(q - (uint8_t *)b->data);
    if (need < b->cap - at) /* and the NUL */
        return q;
    if (owl_buf_reserve(b, at - b->len + need) != OWL_OK)
        return NULL;
    return (uint8_t *)b->data + at;
}

/* Ends a column written in place at q. */
static void column_end(owl_buf *b, uint8_t *q)
{
    b->len = (size_t)(q - (uint8_t *)b->data);
    b->data[b->len] = '\0';
}

/* A numeric column: CONST when every row is equal, else DELTA when its varints take fewer
 * than 8 bytes a row, else RAW. The varints are written as they are worked out, so DELTA (the
 * common case) takes one pass; CONST and RAW write over them. */
static int encode_numbers(owl_buf *b, const owl_cell *col, size_t n)
{
    if (owl_buf_reserve(b, 1 + 10 * n) != OWL_OK)
        return OWL_ENOMEM;
    uint8_t *mode = (uint8_t *)b->data + b->len, *q = mode + 1;
    uint64_t first = col[0].u, prev = 0, varies = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t u = col[i].u;
        q = owl_varint_write(q, zigzag(u - prev));
        varies |= u ^ first;
        prev = u;
    }
    if (n > 1 && !varies) {
        *mode = COL_CONST;
        owl_put64le(mode + 1, first);
        q = mode + 9;
    } else if ((size_t)(q - mode - 1) < 8 * n) {
        *mode = COL_DELTA;
    } else {
        *mode = COL_RAW;
        for (size_t i = 0; i < n; i++)
            owl_put64le(mode + 1 + 8 * i, col[i].u);
        q = mode + 1 + 8 * n;
    }
    column_end(b, q);
    return OWL_OK;
}

/* OWL_OK for a value byte column cd takes (width: its ids' width, else 0); else OWL_EINVAL,
 * naming row i in err. */
static inline int check_bytes(const owl_coldef *cd, size_t width, const owl_bytes *v, size_t i,
                              owl_error *err)
{
    if (width && v->n != width)
        return owl_error_set(err, OWL_EINVAL, "column %s row %zu: id of %zu bytes", cd->name, i,
                             v->n);
    if (v->n > MAX_VALUE_BYTES || (v->n && !v->p))
        return owl_error_set(err, OWL_EINVAL, "column %s row %zu: value too large", cd->name, i);
    if (cd->type == OWL_TYPE_BSON && !owl_part_bson_ok(v->p, v->n))
        return owl_error_set(err, OWL_EINVAL, "column %s row %zu: not a BSON document",
                             cd->name, i);
    return OWL_OK;
}

/* 1 when checked values a and b of byte column type t are equal: ids compared inline, with no
 * call (a trace's spans hold its id each at an address of its own), else owl__same_cell. */
static inline int same_bytes(enum owl_type t, const owl_cell *a, const owl_cell *b)
{
    if (t == OWL_TYPE_ID16)
        return memcmp(a->b.p, b->b.p, 16) == 0;
    if (t == OWL_TYPE_ID8)
        return memcmp(a->b.p, b->b.p, 8) == 0;
    return owl__same_cell(t, a, b);
}

/* Rows first..end-1 of a byte column, a run of equal values, written at q as RUNS holds them
 * (their count, then the value), with room made; NULL when out of memory. */
static inline uint8_t *put_run(owl_buf *b, uint8_t *q, size_t width, const owl_cell *col,
                               size_t first, size_t end)
{
    q = room(b, q, 20 + col[first].b.n);
    return q ? put_bytes(owl_varint_write(q, end - first), width, &col[first].b) : NULL;
}

/* Byte column cd written RAW at b->len (room for its mode byte made), checking the values of
 * rows from `checked` on (OWL_EINVAL as check_bytes); OWL_ENOMEM. */
static int put_raw_bytes(owl_buf *b, const owl_coldef *cd, size_t width, const owl_cell *col,
                         size_t n, size_t checked, owl_error *err)
{
    uint8_t *q = (uint8_t *)b->data + b->len;
    *q++ = COL_RAW;
    for (size_t i = 0; i < n; i++) {
        int rc = i < checked ? OWL_OK : check_bytes(cd, width, &col[i].b, i, err);
        if (rc != OWL_OK)
            return rc;
        if (!(q = room(b, q, 10 + col[i].b.n)))
            return OWL_ENOMEM;
        q = put_bytes(q, width, &col[i].b);
    }
    column_end(b, q);
    return OWL_OK;
}

/* Byte column cd: checks every value (OWL_EINVAL as check_bytes for the first bad one; else
 * OWL_OK or OWL_ENOMEM) and writes the column CONST when every row is equal, else RUNS when
 * runs of equal values average two rows or more, else RAW. Runs are written as they are found
 * while they may still pay, after room for their count (at most n/2 then); a column whose
 * first RUNS_PROBE values are mostly distinct (a 49th run begins among them: ids, names,
 * attributes) goes raw without comparing half its values first. Rows at the address and
 * length of the row before hold its value, checked already (a batch's shared resource): a
 * comparison each. */
static int encode_bytes(owl_buf *b, const owl_coldef *cd, const owl_cell *col, size_t n,
                        owl_error *err)
{
    size_t width = owl_type_id_width(cd->type), at = 1 + owl_varint_len(n / 2), runs = 0,
           run = 0;
    if (owl_buf_reserve(b, at) != OWL_OK)
        return OWL_ENOMEM;
    uint8_t *q = (uint8_t *)b->data + b->len + at;
    for (size_t i = 0, j; i < n; i = j) {
        const owl_bytes *v = &col[i].b;
        for (j = i + 1; j < n && col[j].b.p == v->p && col[j].b.n == v->n; j++)
            ;
        int rc = check_bytes(cd, width, v, i, err);
        if (rc != OWL_OK)
            return rc;
        if (i > 0 && same_bytes(cd->type, &col[i], &col[i - 1]))
            continue;
        if (i > 0 && !(q = put_run(b, q, width, col, run, i))) /* the run before ends at i */
            return OWL_ENOMEM;
        run = i;
        runs++;
        if (runs * 2 > n || (n >= RUNS_PROBE && i < RUNS_PROBE && runs * 4 > RUNS_PROBE * 3))
            return put_raw_bytes(b, cd, width, col, n, j, err);
    }
    if (!(q = put_run(b, q, width, col, run, n))) /* the last run; its room holds a CONST */
        return OWL_ENOMEM;
    uint8_t *s = (uint8_t *)b->data + b->len, *from = s + at;
    if (runs == 1) { /* n > 1: one row alone cannot pay */
        s[0] = COL_CONST;
        q = put_bytes(s + 1, width, &col[0].b);
    } else {
        s[0] = COL_RUNS;
        uint8_t *to = owl_varint_write(s + 1, runs);
        if (to < from) /* fewer runs than the count's room was for */
            memmove(to, from, (size_t)(q - from));
        q = to + (q - from);
    }
    column_end(b, q);
    return OWL_OK;
}

/* Column c of rows, after checking its values: OWL_EINVAL (message in err) for a column
 * without values, a time outside the years 1 to 9999, an id of the wrong width, or a value
 * too large or without bytes; OWL_ENOMEM. */
static int encode_column(owl_buf *b, const owl_schema *sc, size_t c, const owl_cell *col,
                         size_t n, owl_error *err)
{
    const owl_coldef *cd = &sc->cols[c];
    if (!col)
        return owl_error_set(err, OWL_EINVAL, "column %s has no values", cd->name);
    for (size_t i = 0; c == sc->time_col && i < n; i++)
        if (!time_storable(sc, col[i].i))
            return owl_error_set(err, OWL_EINVAL,
                                 "column %s row %zu: time outside the years 1 to 9999",
                                 cd->name, i);
    int rc = owl_type_is_bytes(cd->type) ? encode_bytes(b, cd, col, n, err)
                                          : encode_numbers(b, col, n);
    return rc == OWL_ENOMEM ? owl_error_set(err, rc, "out of memory") : rc;
}

/* Appends rows (nrows > 0) to b as one version 3 record, checking them on the way (column
 * after column, row after row: the first bad row is the one refused). OWL_EINVAL or
 * OWL_ENOMEM with the message in err; b then holds part of a record. */
static int encode_record(const owl_schema *sc, const char *tenant, const char *partition,
                         const owl_rows *r, owl_buf *b, owl_error *err)
{
    uint8_t v[10];
    int rc = owl_buf_putc(b, REC_V3);
    rc |= put_str(b, sc->name, strlen(sc->name));
    rc |= put_str(b, tenant, strlen(tenant));
    rc |= put_str(b, partition, strlen(partition));
    rc |= owl_buf_append(b, v, owl_varint_put(v, sc->ncols));
    for (size_t c = 0; c < sc->ncols && rc == OWL_OK; c++) {
        rc |= put_str(b, sc->cols[c].name, strlen(sc->cols[c].name));
        rc |= owl_buf_putc(b, (char)sc->cols[c].type);
    }
    rc |= owl_buf_append(b, v, owl_varint_put(v, r->nrows));
    if (rc != OWL_OK)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    for (size_t c = 0; c < sc->ncols && rc == OWL_OK; c++)
        rc = encode_column(b, sc, c, r->cols[c], r->nrows, err);
    return rc;
}

static int get_str(const uint8_t **p, const uint8_t *end, const uint8_t **s, size_t *n)
{
    uint64_t len;
    if (owl_varint_get(p, end, &len) != OWL_OK || len > (uint64_t)(end - *p))
        return OWL_ECORRUPT;
    *s = *p;
    *n = (size_t)len;
    *p += len;
    return OWL_OK;
}

/* A decoded record: cells point into the payload (or at static defaults); names copied
 * NUL-terminated. */
struct rec {
    size_t table;
    char tenant[NAME_MAX_LEN + 1], partition[NAME_MAX_LEN + 1];
    owl_rows rows;
    owl_cell *cells;
};

/* The columns a record holds, in payload order: their types and the schema column each
 * fills (SIZE_MAX: not in the schema, skipped). */
struct rec_cols {
    size_t n;
    enum owl_type type[OWL_MAX_COLS];
    size_t to[OWL_MAX_COLS];
};

/* Matches record column k (name, type) to sc's column of that name: to[k] = its index, or
 * SIZE_MAX when sc has none. A repeated column is corrupt, a type change unsupported. */
static int match_col(const owl_schema *sc, struct rec_cols *cols, size_t k, const char *name,
                     uint64_t lsn, owl_error *err)
{
    size_t c;
    cols->to[k] = SIZE_MAX;
    if (owl_schema_col(sc, name, &c) != OWL_OK)
        return OWL_OK;
    for (size_t j = 0; j < k; j++)
        if (cols->to[j] == c)
            return owl_error_set(err, OWL_ECORRUPT, "WAL record %llu: column %s twice",
                                 (unsigned long long)lsn, name);
    if (cols->type[k] != sc->cols[c].type)
        return owl_error_set(err, OWL_EUNSUPPORTED,
                             "WAL record %llu: column %s of table %s has type %d, the schema "
                             "says %d (a column's type cannot change)",
                             (unsigned long long)lsn, name, sc->name, (int)cols->type[k],
                             (int)sc->cols[c].type);
    cols->to[k] = c;
    return OWL_OK;
}

/* The record's columns: versions 2 and 3 list them; version 1 records hold the table's frozen
 * version 1 layout (tables.h), or for tables without one the current schema's columns. */
static int decode_cols(int version, const uint8_t **p, const uint8_t *end, const owl_schema *sc,
                       uint64_t lsn, struct rec_cols *cols, owl_error *err)
{
    uint64_t n;
    int rc = OWL_OK;
    const owl_coldef *v1 = version == 1 ? owl_table_v1_cols(sc->name, &cols->n) : NULL;
    if (version == 1 && !v1) {
        cols->n = sc->ncols;
        for (size_t c = 0; c < sc->ncols; c++)
            cols->type[c] = sc->cols[c].type, cols->to[c] = c;
        return OWL_OK;
    }
    if (version >= 2 &&
        (owl_varint_get(p, end, &n) != OWL_OK || n == 0 || n > OWL_MAX_COLS))
        return owl_error_set(err, OWL_ECORRUPT, "WAL record %llu: bad column count",
                             (unsigned long long)lsn);
    if (version >= 2)
        cols->n = (size_t)n;
    for (size_t k = 0; k < cols->n && rc == OWL_OK; k++) {
        char name[NAME_MAX_LEN + 1];
        const uint8_t *str;
        size_t len;
        if (v1) {
            owl_strlcpy(name, v1[k].name, sizeof name);
            cols->type[k] = v1[k].type;
        } else if (get_str(p, end, &str, &len) != OWL_OK || len == 0 || len > NAME_MAX_LEN ||
                   *p >= end || **p < OWL_TYPE_TIME || **p > OWL_TYPE_BSON) {
            return owl_error_set(err, OWL_ECORRUPT, "WAL record %llu: bad column %zu",
                                 (unsigned long long)lsn, k);
        } else {
            memcpy(name, str, len);
            name[len] = '\0';
            cols->type[k] = (enum owl_type)*(*p)++;
        }
        rc = match_col(sc, cols, k, name, lsn, err);
    }
    for (size_t k = 0; k < cols->n && rc == OWL_OK; k++)
        if (cols->to[k] == sc->time_col)
            return OWL_OK;
    return rc != OWL_OK ? rc
                        : owl_error_set(err, OWL_EUNSUPPORTED,
                                        "WAL record %llu of table %s has no column %s",
                                        (unsigned long long)lsn, sc->name,
                                        sc->cols[sc->time_col].name);
}

/* Reads one value of type t at *pp (into *out unless NULL). */
static int decode_value(const uint8_t **pp, const uint8_t *end, enum owl_type t, owl_cell *out)
{
    const uint8_t *p = *pp, *str;
    size_t len, w = owl_type_id_width(t);
    if (!owl_type_is_bytes(t)) {
        if (end - p < 8)
            return OWL_ECORRUPT;
        if (out)
            out->u = owl_get64le(p);
        p += 8;
    } else if (w) {
        if ((size_t)(end - p) < w)
            return OWL_ECORRUPT;
        if (out)
            out->b = (owl_bytes){p, w};
        p += w;
    } else {
        /* what an append accepts (check_bytes), so a seal can take the rows as they are */
        if (get_str(&p, end, &str, &len) != OWL_OK || len > MAX_VALUE_BYTES ||
            (t == OWL_TYPE_BSON && !owl_part_bson_ok(str, len)))
            return OWL_ECORRUPT;
        if (out)
            out->b = (owl_bytes){str, len};
    }
    *pp = p;
    return OWL_OK;
}

/* Reads nrows values of type t into col (NULL: skips them); moded: version 3's mode byte
 * comes first. */
static int decode_values(const uint8_t **pp, const uint8_t *end, enum owl_type t, size_t nrows,
                         int moded, owl_cell *col)
{
    const uint8_t *p = *pp;
    int mode = COL_RAW;
    if (moded) {
        if (p >= end)
            return OWL_ECORRUPT;
        mode = *p++;
    }
    if (mode == COL_CONST) {
        owl_cell v;
        if (nrows < 2 || decode_value(&p, end, t, &v) != OWL_OK)
            return OWL_ECORRUPT;
        for (size_t i = 0; col && i < nrows; i++)
            col[i] = v;
    } else if (mode == COL_DELTA) {
        uint64_t prev = 0, z;
        if (owl_type_is_bytes(t))
            return OWL_ECORRUPT;
        for (size_t i = 0; i < nrows; i++) {
            if (owl_varint_get(&p, end, &z) != OWL_OK)
                return OWL_ECORRUPT;
            prev += unzigzag(z);
            if (col)
                col[i].u = prev;
        }
    } else if (mode == COL_RUNS) {
        uint64_t runs, len;
        size_t i = 0;
        if (!owl_type_is_bytes(t) || owl_varint_get(&p, end, &runs) != OWL_OK || runs == 0 ||
            runs > nrows)
            return OWL_ECORRUPT;
        for (uint64_t r = 0; r < runs; r++) {
            owl_cell v;
            if (owl_varint_get(&p, end, &len) != OWL_OK || len == 0 || len > nrows - i ||
                decode_value(&p, end, t, &v) != OWL_OK)
                return OWL_ECORRUPT;
            for (uint64_t k = 0; col && k < len; k++)
                col[i + k] = v;
            i += len;
        }
        if (i != nrows)
            return OWL_ECORRUPT;
    } else if (mode == COL_RAW) {
        for (size_t i = 0; i < nrows; i++)
            if (decode_value(&p, end, t, col ? &col[i] : NULL) != OWL_OK)
                return OWL_ECORRUPT;
    } else {
        return OWL_ECORRUPT;
    }
    *pp = p;
    return OWL_OK;
}

/* Decodes record lsn into out (out->cells to be freed by the caller on OWL_OK). A record of
 * a table the store was not opened with is OWL_EUNSUPPORTED, naming it. */
static int decode_record(owl_store *s, uint64_t lsn, const uint8_t *p, size_t n, struct rec *out,
                         owl_error *err)
{
    const uint8_t *end = p + n, *str;
    size_t len;
    uint64_t nrows;
    struct rec_cols rcols = {0};
    int rc;
    memset(out, 0, sizeof *out);
    uint8_t version = n ? *p++ : 0;
    if (version < 1 || version > REC_V3 || get_str(&p, end, &str, &len) != OWL_OK)
        goto bad;
    size_t t = 0;
    while (t < s->nschemas &&
           !(strlen(s->schemas[t]->name) == len && !memcmp(s->schemas[t]->name, str, len)))
        t++;
    if (t == s->nschemas)
        return owl_error_set(err, OWL_EUNSUPPORTED,
                             "WAL record %llu belongs to table '%.*s', which this program does "
                             "not know", (unsigned long long)lsn, (int)(len > 64 ? 64 : len),
                             (const char *)str);
    out->table = t;
    const owl_schema *sc = s->schemas[t];
    /* names as owl_store_append takes them (valid_name): a NUL would cut one short */
    if (get_str(&p, end, &str, &len) != OWL_OK || len == 0 || len > NAME_MAX_LEN ||
        memchr(str, 0, len))
        goto bad;
    memcpy(out->tenant, str, len);
    if (get_str(&p, end, &str, &len) != OWL_OK || len == 0 || len > NAME_MAX_LEN ||
        memchr(str, 0, len))
        goto bad;
    memcpy(out->partition, str, len);
    if ((rc = decode_cols(version, &p, end, sc, lsn, &rcols, err)) != OWL_OK)
        return rc;
    if (owl_varint_get(&p, end, &nrows) != OWL_OK || nrows > n)
        goto bad;
    out->rows.nrows = (size_t)nrows;
    out->cells = calloc(sc->ncols * (nrows ? nrows : 1), sizeof *out->cells);
    if (!out->cells)
        return owl_error_set(err, OWL_ENOMEM, "out of memory replaying the WAL");
    for (size_t c = 0; c < sc->ncols; c++) {
        /* every column starts at its default; those the record holds are overwritten */
        owl_cell *col = out->cells + c * nrows, def = owl_col_default(sc->cols[c].type);
        out->rows.cols[c] = col;
        for (size_t i = 0; i < nrows; i++)
            col[i] = def;
    }
    for (size_t k = 0; k < rcols.n; k++) {
        owl_cell *col = rcols.to[k] == SIZE_MAX ? NULL : out->cells + rcols.to[k] * nrows;
        if (decode_values(&p, end, rcols.type[k], (size_t)nrows, version == REC_V3, col) !=
            OWL_OK)
            goto bad;
    }
    if (p != end)
        goto bad;
    for (size_t i = 0; i < nrows; i++)
        if (!time_storable(sc, out->rows.cols[sc->time_col][i].i))
            goto bad;
    return OWL_OK;
bad:
    free(out->cells);
    out->cells = NULL;
    return owl_error_set(err, OWL_ECORRUPT, "WAL record %llu does not decode",
                         (unsigned long long)lsn);
}

/* ---------- applying rows to memtables ---------- */

/* Inserts the rows of one record (lsn) into the memtables of their days. During replay,
 * days whose parts already hold lsn are skipped (invariant 3). */
static int apply_rows(owl_store *s, size_t table, const char *tenant, const char *partition,
                      const owl_rows *r, uint64_t lsn, int replay, int *full,
                      struct memtable **wait_on)
{
    const owl_schema *sc = s->schemas[table];
    const owl_cell *times = r->cols[sc->time_col];
    int rc = OWL_OK;
    pthread_mutex_lock(&s->mu);
    struct ptn *p = owl__get_ptn(s, table, tenant, partition);
    size_t i = 0;
    if (p && replay && lsn <= p->drop_lsn)
        i = r->nrows; /* written before the drop (whose record, replayed next, would remove
                       * them again) */
    else if (p)
        p->dropped = 0; /* an append after a drop starts the partition again, empty */
    while (rc == OWL_OK && i < r->nrows && p) {
        int32_t day = day_of(sc, times[i].i);
        size_t j = i + 1;
        while (j < r->nrows && day_of(sc, times[j].i) == day)
            j++;
        struct day *d = find_day(p, day);
        if (replay && lsn <= (d ? d->sealed_lsn : span_sealed(p, day))) {
            i = j; /* already in a part: no day unit or memtable for it (either would hold
                    * the day back from compaction) */
            continue;
        }
        if (!d)
            d = owl__add_unit(p, day, day);
        struct memtable *m = d ? active_mem(s, table, d) : NULL;
        if (!m) {
            rc = OWL_ENOMEM;
            break;
        }
        uint64_t bytes0 = m->raw_bytes, rows0 = m->nrows;
        rc = owl_mem_append(m, sc, r, i, j, lsn); /* under mu: scans never wait on it */
        p->mem_bytes += m->raw_bytes - bytes0;
        p->rows += m->nrows - rows0;
        d->active_ms = owl_now_ms();
        if (m->nrows >= s->opt.memtable_rows || m->raw_bytes >= s->opt.memtable_bytes)
            *full = 1;
        /* twice full: the seals fall behind the appends; the caller waits for this one */
        if (wait_on && !*wait_on && s->bg_running &&
            (m->nrows >= 2 * s->opt.memtable_rows || m->raw_bytes >= 2 * s->opt.memtable_bytes)) {
            m->refs++;
            *wait_on = m;
        }
        i = j;
    }
    if (!p)
        rc = OWL_ENOMEM;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---------- drop records ----------
 * A drop of a partition (drop.c) is a WAL record of its own, so that it takes its place in
 * lsn order among the appends: u8 0x80 (REC_DROP), str table, str tenant, str partition. */
#define REC_DROP 0x80

int owl__drop_record(const char *table, const char *tenant, const char *partition, owl_buf *b)
{
    int rc = owl_buf_putc(b, (char)REC_DROP);
    rc |= put_str(b, table, strlen(table));
    rc |= put_str(b, tenant, strlen(tenant));
    rc |= put_str(b, partition, strlen(partition));
    return rc == OWL_OK ? OWL_OK : OWL_ENOMEM;
}

/* Replays drop record lsn: the partition it names loses every row written before it. */
static int replay_drop(owl_store *s, uint64_t lsn, const uint8_t *p, size_t n)
{
    const uint8_t *end = p + n, *str[3];
    size_t len[3], t;
    char names[3][NAME_MAX_LEN + 1];
    p++;
    for (int k = 0; k < 3; k++) {
        if (get_str(&p, end, &str[k], &len[k]) != OWL_OK || len[k] == 0 ||
            len[k] > NAME_MAX_LEN || memchr(str[k], 0, len[k]))
            return owl_error_set(&s->open_err, OWL_ECORRUPT, "WAL record %llu does not decode",
                                 (unsigned long long)lsn);
        memcpy(names[k], str[k], len[k]);
        names[k][len[k]] = '\0';
    }
    if (p != end)
        return owl_error_set(&s->open_err, OWL_ECORRUPT, "WAL record %llu does not decode",
                             (unsigned long long)lsn);
    if (owl__find_table(s, names[0], &t) != OWL_OK)
        return owl_error_set(&s->open_err, OWL_EUNSUPPORTED,
                             "WAL record %llu drops a partition of table '%s', which this "
                             "program does not know", (unsigned long long)lsn, names[0]);
    pthread_mutex_lock(&s->mu);
    struct ptn *pt = owl__get_ptn(s, t, names[1], names[2]);
    pthread_mutex_unlock(&s->mu);
    if (!pt)
        return owl_error_set(&s->open_err, OWL_ENOMEM, "out of memory replaying the WAL");
    owl_error derr = {0};
    if (owl__drop_apply(s, pt, lsn, &derr) != OWL_OK)
        owl_warn("store: replaying drop %llu: %s (the janitor retries)",
                 (unsigned long long)lsn, derr.msg);
    return OWL_OK;
}

/* Applies one WAL record at open. A record that cannot be applied (a table this store was
 * not opened with, a column whose type changed) stops the open, its reason kept in
 * s->open_err: skipping it would let the checkpoint pass it and lose it for good. */
static int replay_fn(void *ud, uint64_t lsn, const void *rec, size_t n)
{
    owl_store *s = ud;
    struct rec r;
    int full = 0;
    if (n && *(const uint8_t *)rec == REC_DROP) {
        int rc = replay_drop(s, lsn, rec, n);
        s->applied = lsn;
        return rc;
    }
    int rc = decode_record(s, lsn, rec, n, &r, &s->open_err);
    if (rc != OWL_OK)
        return rc;
    rc = apply_rows(s, r.table, r.tenant, r.partition, &r.rows, lsn, 1, &full, NULL);
    free(r.cells);
    s->applied = lsn;
    return rc;
}


/* A day's part p-<first>-<last>-<level>.owp; a span's s-<max_lsn>-<level>.owp (first =
 * last = max_lsn for spans). */
void owl__part_path(const struct ptn *p, const struct day *d, uint64_t first, uint64_t last,
                      int level, char *out, size_t outsz)
{
    char dn[24];
    day_name(d->day, d->last, dn);
    if (d->span)
        snprintf(out, outsz, "%s/%s/s-%llu-%d.owp", p->dir, dn, (unsigned long long)last, level);
    else
        snprintf(out, outsz, "%s/%s/p-%llu-%llu-%d.owp", p->dir, dn, (unsigned long long)first,
                 (unsigned long long)last, level);
}

int owl__add_part_ref(struct ptn *p, struct day *d, struct part_ref *r)
{
    struct part_ref **grown = realloc(d->parts, (d->nparts + 1) * sizeof *grown);
    if (!grown)
        return OWL_ENOMEM;
    d->parts = grown;
    d->parts[d->nparts++] = r;
    ptn_count_part(p, r, 1);
    return OWL_OK;
}

struct part_ref *owl__open_part_ref(const char *path, const owl_schema *sc, uint64_t first,
                                      uint64_t last, int level, owl_error *err)
{
    struct part_ref *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->path = strdup(path);
    r->first = first, r->last = last, r->level = level;
    r->refs = 1;
    if (!r->path || owl_part_open(path, sc, &r->p, err) != OWL_OK) {
        free(r->path);
        free(r);
        return NULL;
    }
    return r;
}

/* Seals the oldest memtable of d (caller holds seal_mu, not mu). */
/* ---------- append ---------- */

int owl__find_table(const owl_store *s, const char *name, size_t *t)
{
    for (size_t i = 0; i < s->nschemas; i++)
        if (!strcmp(s->schemas[i]->name, name)) {
            *t = i;
            return OWL_OK;
        }
    return OWL_ENOTFOUND;
}

/* Backpressure: an append that left its memtable twice full (the seals fall behind) waits
 * until that memtable's seal begins and appends go to a new one, so unsealed rows stay
 * bounded (about two memtables' worth a day) however fast they come. Rows are already
 * durable and readable; only the caller's next append is held back. Also while a merge holds
 * seal_mu (compact.c): a level-9 merge under a saturating load let the memtable grow to
 * millions of rows and owld to 2 GB (docs/storage.md, Backpressure). */
static void backpressure(owl_store *s, struct memtable *m)
{
    pthread_mutex_lock(&s->mu);
    while (!m->closed && !s->closing)
        pthread_cond_wait(&s->closed_cv, &s->mu);
    int last = --m->refs == 0;
    pthread_mutex_unlock(&s->mu);
    if (last)
        owl_mem_free(s, m);
}

static owl_buf recbuf_take(owl_store *s)
{
    owl_buf b = OWL_BUF_INIT;
    pthread_mutex_lock(&s->recbuf_mu);
    if (s->nrecbufs)
        b = s->recbufs[--s->nrecbufs];
    pthread_mutex_unlock(&s->recbuf_mu);
    return b;
}

static void recbuf_give(owl_store *s, owl_buf *b)
{
    owl_buf_reset(b);
    pthread_mutex_lock(&s->recbuf_mu);
    if (b->cap <= RECBUF_MAX_KEPT && s->nrecbufs < RECBUF_KEEP) {
        s->recbufs[s->nrecbufs++] = *b;
        *b = (owl_buf)OWL_BUF_INIT;
    }
    pthread_mutex_unlock(&s->recbuf_mu);
    owl_buf_free(b);
}

static void kick_background(owl_store *s)
{
    pthread_mutex_lock(&s->bg_mu);
    s->bg_kick = 1;
    pthread_cond_signal(&s->bg_cv);
    pthread_mutex_unlock(&s->bg_mu);
}

int owl_store_append(owl_store *s, const char *table, const char *tenant, const char *partition,
                     const owl_rows *rows, owl_error *err)
{
    size_t t;
    if (owl__find_table(s, table, &t) != OWL_OK)
        return owl_error_set(err, OWL_EINVAL, "no table named %s", table);
    if (!owl__valid_name(tenant) || !owl__valid_name(partition))
        return owl_error_set(err, OWL_EINVAL, "tenant and partition names must be 1 to %d bytes",
                             NAME_MAX_LEN);
    if (rows->nrows == 0)
        return OWL_OK;
    owl_buf rec = recbuf_take(s);
    int rc = encode_record(s->schemas[t], tenant, partition, rows, &rec, err);
    if (rc != OWL_OK) {
        recbuf_give(s, &rec);
        return rc;
    }
    struct iovec iov = {rec.data, rec.len};
    uint64_t lsn;
    rc = owl_wal_append(s->wal, &iov, 1, &lsn, err);
    recbuf_give(s, &rec);
    if (rc != OWL_OK)
        return rc;
    /* invariant 1: apply in lsn order */
    pthread_mutex_lock(&s->apply_mu);
    while (s->applied + 1 != lsn)
        pthread_cond_wait(&s->apply_cv, &s->apply_mu);
    pthread_mutex_unlock(&s->apply_mu);
    int full = 0;
    struct memtable *wait_on = NULL;
    rc = apply_rows(s, t, tenant, partition, rows, lsn, 0, &full, &wait_on);
    pthread_mutex_lock(&s->apply_mu);
    s->applied = lsn;
    pthread_cond_broadcast(&s->apply_cv);
    pthread_mutex_unlock(&s->apply_mu);
    if (rc != OWL_OK)
        return owl_error_set(err, rc, "out of memory applying rows (they are in the WAL)");
    if (full) {
        if (s->bg_running)
            kick_background(s);
        else
            rc = owl__seal_some(s, 0, err);
    }
    if (wait_on)
        backpressure(s, wait_on);
    return rc;
}

/* ---------- background work ---------- */

static void *background(void *arg)
{
    owl_store *s = arg;
    int64_t last_janitor = 0;
    pthread_mutex_lock(&s->bg_mu);
    while (!s->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000;
        if (ts.tv_nsec >= 1000000000)
            ts.tv_sec++, ts.tv_nsec -= 1000000000;
        if (!s->bg_kick)
            pthread_cond_timedwait(&s->bg_cv, &s->bg_mu, &ts);
        s->bg_kick = 0;
        if (s->stopping)
            break;
        pthread_mutex_unlock(&s->bg_mu);
        owl_error err = {0};
        if (owl__seal_some(s, 0, &err) != OWL_OK)
            owl_errorf("store: sealing failed (will retry): %s", err.msg);
        int64_t now = owl_now_ms();
        if (now - last_janitor >= 10000) {
            last_janitor = now;
            if (owl_store_retire(s, now, &err) != OWL_OK)
                owl_errorf("store: retention failed: %s", err.msg);
            if (owl_store_compact(s, &err) != OWL_OK)
                owl_errorf("store: compaction failed: %s", err.msg);
        }
        pthread_mutex_lock(&s->bg_mu);
    }
    pthread_mutex_unlock(&s->bg_mu);
    return NULL;
}

/* ---------- open: loading parts ---------- */

static void quarantine_file(owl_store *s, const char *path, const char *why)
{
    char dst[4096];
    quarantine_name(s, path, dst, sizeof dst);
    owl_errorf("store: part %s is corrupt (%s); moved to %s", path, why, dst);
    if (rename(path, dst) != 0)
        owl_errorf("store: cannot move %s: %s", path, strerror(errno));
    s->quarantined++;
}

static int cmp_part_first(const void *a, const void *b)
{
    const struct part_ref *x = *(struct part_ref *const *)a, *y = *(struct part_ref *const *)b;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    if (x->last != y->last)
        return x->last > y->last ? -1 : 1; /* wider first */
    /* a settled part (compact.c) has its source's range: the rewrite is kept */
    return x->level > y->level ? -1 : x->level < y->level;
}

/* Sorts d's parts and drops those inside another's range (merged before a crash). */
static void resolve_covered(struct ptn *p, struct day *d)
{
    if (d->nparts > 1)
        qsort(d->parts, d->nparts, sizeof *d->parts, cmp_part_first);
    size_t o = 0;
    uint64_t reach = 0;
    for (size_t i = 0; i < d->nparts; i++) {
        struct part_ref *r = d->parts[i];
        if (o && r->last <= reach) {
            owl_info("store: %s was merged into a larger part; removing it", r->path);
            ptn_count_part(p, r, -1);
            owl_part_close(r->p);
            unlink(r->path);
            free(r->path);
            free(r);
            continue;
        }
        reach = r->last;
        d->parts[o++] = r;
    }
    d->nparts = o;
}

/* Loads the parts in ddir as unit (day, last); a directory with no part is removed. */
static int load_day(owl_store *s, struct ptn *p, const char *ddir, int32_t day, int32_t last)
{
    const owl_schema *sc = s->schemas[p->table];
    DIR *dh = opendir(ddir);
    if (!dh)
        return OWL_OK;
    struct day *d = last == day ? find_day(p, day) : NULL;
    if (!d && !(d = owl__add_unit(p, day, last))) {
        closedir(dh);
        return OWL_ENOMEM;
    }
    struct dirent *e;
    while ((e = readdir(dh))) {
        char path[4096];
        size_t len = strlen(e->d_name);
        owl__pathf(path, sizeof path, "%s/%s", ddir, e->d_name);
        if (len > 4 && !strcmp(e->d_name + len - 4, ".tmp")) {
            unlink(path);
            continue;
        }
        unsigned long long first, lastseq;
        int level, ok;
        if (d->span) {
            ok = sscanf(e->d_name, "s-%llu-%d.owp", &lastseq, &level) == 2;
            first = lastseq;
        } else {
            ok = sscanf(e->d_name, "p-%llu-%llu-%d.owp", &first, &lastseq, &level) == 3;
        }
        if (!ok)
            continue;
        owl_error perr = {0};

        struct part_ref *r = owl__open_part_ref(path, sc, first, lastseq, level, &perr);
        if (!r && perr.code == OWL_ECORRUPT) {
            quarantine_file(s, path, perr.msg);
            continue;
        }
        if (!r) {
            /* not the part's fault (out of files or memory, no permission, a column whose
             * type the schema changed): the open fails rather than quarantine a healthy part
             * or serve the store without it */
            int code = perr.code ? perr.code : OWL_ENOMEM;
            s->open_err = perr;
            owl_errorf("store: cannot open part %s: %s", path,
                       perr.msg[0] ? perr.msg : "out of memory");
            closedir(dh);
            return code;
        }
        /* a part at or below the drop's lsn is of the dropped incarnation (a part never mixes
         * incarnations: a drop removes every memtable and part of the partition at once) */
        if (p->drop_lsn && owl_part_get_meta(r->p)->max_lsn <= p->drop_lsn) {
            owl_info("store: %s belongs to a dropped partition; removing it", path);
            owl_part_close(r->p);
            unlink(path);
            free(r->path);
            free(r);
            continue;
        }
        if (owl__add_part_ref(p, d, r) != OWL_OK) {
            owl_part_close(r->p);
            free(r->path);
            free(r);
            closedir(dh);
            return OWL_ENOMEM;
        }
    }
    closedir(dh);
    resolve_covered(p, d);
    for (size_t i = 0; i < d->nparts; i++) {
        const owl_part_meta *pm = owl_part_get_meta(d->parts[i]->p);
        if (pm->max_lsn > d->sealed_lsn)
            d->sealed_lsn = pm->max_lsn;
        if (d->parts[i]->last >= d->next_seq)
            d->next_seq = d->parts[i]->last + 1;
    }
    return OWL_OK;
}

/* Invariant 5 at open: parts inside a span that were merged into it before a crash are
 * deleted, units left without parts are removed with their directories, and days inside a
 * span count its max_lsn as sealed. */
static void resolve_spans(owl_store *s, struct ptn *p)
{
    for (size_t i = 0; i < p->ndays; i++) {
        struct day *sp = p->days[i];
        if (!sp->span)
            continue;
        for (size_t j = 0; j < p->ndays; j++) {
            struct day *u = p->days[j];
            if (u == sp || u->day < sp->day || u->last > sp->last)
                continue;
            /* (two spans of the same days cannot both be whole: keep the newer one) */
            int same = u->span && u->day == sp->day && u->last == sp->last;
            for (size_t k = 0; k < u->nparts;) {
                struct part_ref *r = u->parts[k];
                uint64_t lsn = owl_part_get_meta(r->p)->max_lsn;
                if (lsn > sp->sealed_lsn || (same && lsn == sp->sealed_lsn)) {
                    k++;
                    continue;
                }
                owl_info("store: %s was merged into a span; removing it", r->path);
                owl__unlist_part_locked(s, p, u, r);
            }
        }
    }
    for (size_t j = 0; j < p->ndays;) {
        struct day *u = p->days[j];
        if (u->nparts || u->nmems) {
            uint64_t covered = u->span ? 0 : span_sealed(p, u->day);
            if (covered > u->sealed_lsn)
                u->sealed_lsn = covered;
            j++;
            continue;
        }
        char *dir = owl__day_dir(p, u->day, u->last);
        owl__remove_day_locked(s, p, j);
        if (dir)
            rmdir(dir);
        free(dir);
    }
}

static int load_partition(owl_store *s, size_t t, const char *tenant, const char *name,
                          const char *pdir)
{
    pthread_mutex_lock(&s->mu);
    struct ptn *p = owl__get_ptn(s, t, tenant, name);
    pthread_mutex_unlock(&s->mu);
    if (!p)
        return OWL_ENOMEM;
    char path[4200];
    int rc = owl__drop_read_marker(p, &s->open_err);
    if (rc != OWL_OK)
        return rc;
    owl__retention_path(p, path, sizeof path);
    char *text = NULL;
    size_t n;
    int has_retention = owl_read_file(path, 64, &text, &n, NULL) == OWL_OK;
    if (has_retention) {
        p->retention_days = atoi(text);
        free(text);
    }
    DIR *dh = opendir(pdir);
    if (!dh)
        return OWL_OK;
    struct dirent *e;
    while (rc == OWL_OK && (e = readdir(dh))) {
        int32_t day, last;
        if (parse_day_name(e->d_name, &day) == 0)
            last = day;
        else if (parse_span_name(e->d_name, &day, &last) != 0)
            continue;
        owl__pathf(path, sizeof path, "%s/%s", pdir, e->d_name);
        rc = load_day(s, p, path, day, last);
    }
    closedir(dh);
    if (rc == OWL_OK)
        resolve_spans(s, p);
    /* a drop removes RETENTION before it writes its marker: one present now was set later,
     * by a new incarnation, as are parts above the marker's lsn */
    p->dropped = p->drop_lsn && !p->ndays && !has_retention;
    return rc;
}

/* Walks <table>/<tenant>/<partition>/ for every table. */
static int load_tables(owl_store *s)
{
    int rc = OWL_OK;
    for (size_t t = 0; t < s->nschemas && rc == OWL_OK; t++) {
        char tdir[4096];
        owl__pathf(tdir, sizeof tdir, "%s/%s", s->dir, s->schemas[t]->name);
        DIR *th = opendir(tdir);
        if (!th)
            continue;
        struct dirent *te;
        while (rc == OWL_OK && (te = readdir(th))) {
            char tenant[NAME_MAX_LEN + 1], ndir[4096];
            if (te->d_name[0] == '.' || unescape_name(te->d_name, tenant, sizeof tenant))
                continue;
            owl__pathf(ndir, sizeof ndir, "%s/%s", tdir, te->d_name);
            DIR *nh = opendir(ndir);
            if (!nh)
                continue;
            struct dirent *ne;
            while (rc == OWL_OK && (ne = readdir(nh))) {
                char name[NAME_MAX_LEN + 1], pdir[4200];
                if (ne->d_name[0] == '.' || unescape_name(ne->d_name, name, sizeof name))
                    continue;
                owl__pathf(pdir, sizeof pdir, "%s/%s", ndir, ne->d_name);
                rc = load_partition(s, t, tenant, name, pdir);
            }
            closedir(nh);
        }
        closedir(th);
    }
    return rc;
}

void owl_store_options_default(owl_store_options *o)
{
    memset(o, 0, sizeof *o);
    o->sync = OWL_SYNC_ALWAYS;
    o->sync_interval_ms = 1000;
    o->memtable_rows = 65536;
    o->memtable_bytes = 64u << 20;
    o->memtable_age_ms = 10000;
    o->wal_max_bytes = (size_t)256 << 20;
    o->block_rows = 8192;
    o->zstd_level = -1;
    o->compact_zstd_level = 9;
    o->compact_min_parts = 4;
    o->compact_max_rows = COMPACT_MAX_ROWS;
    o->settle_age_ms = 3600000;
    o->background = 1;
}

int owl_store_open(const char *dir, const owl_schema *const *schemas, size_t nschemas,
                   const owl_store_options *opts, owl_store **out, owl_error *err)
{
    int rc;
    owl_store *s = calloc(1, sizeof *s);
    if (!s)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->apply_mu, NULL);
    pthread_cond_init(&s->apply_cv, NULL);
    pthread_mutex_init(&s->seal_mu, NULL);
    pthread_mutex_init(&s->bg_mu, NULL);
    pthread_cond_init(&s->bg_cv, NULL);
    pthread_mutex_init(&s->recbuf_mu, NULL);
    pthread_mutex_init(&s->spare_mu, NULL);
    pthread_cond_init(&s->closed_cv, NULL);
    if (!schemas)
        schemas = owl_tables(&nschemas);
    s->schemas = schemas;
    s->nschemas = nschemas;
    s->spare_mem = calloc((nschemas ? nschemas : 1) * MEM_SPARES, sizeof *s->spare_mem); /* NULL: no reuse */
    s->combiners = calloc(nschemas ? nschemas : 1, sizeof *s->combiners);
    if (opts)
        s->opt = *opts;
    else
        owl_store_options_default(&s->opt);
    owl_store_options def;
    owl_store_options_default(&def);
    if (!s->opt.block_rows)
        s->opt.block_rows = def.block_rows;
    if (!s->opt.memtable_rows)
        s->opt.memtable_rows = def.memtable_rows;
    if (!s->opt.memtable_bytes)
        s->opt.memtable_bytes = def.memtable_bytes;
    if (!s->opt.wal_max_bytes)
        s->opt.wal_max_bytes = def.wal_max_bytes;
    if (!s->opt.compact_min_parts)
        s->opt.compact_min_parts = def.compact_min_parts;
    if (!s->opt.compact_max_rows)
        s->opt.compact_max_rows = def.compact_max_rows;
    if (!s->opt.settle_age_ms)
        s->opt.settle_age_ms = def.settle_age_ms;
    s->dir = strdup(dir);
    char sub[4200];
    if (!s->dir) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < nschemas; i++) {
        const owl_schema *sc = schemas[i];
        if (sc->ncols == 0 || sc->ncols > OWL_MAX_COLS || sc->time_col >= sc->ncols ||
            sc->cols[sc->time_col].type != OWL_TYPE_TIME || sc->time_per_sec <= 0) {
            rc = owl_error_set(err, OWL_EINVAL, "schema %s is not valid", sc->name);
            goto fail;
        }
    }
    owl__pathf(sub, sizeof sub, "%s/quarantine", dir);
    if ((rc = owl_mkdir_p(sub, 0700, err)) != OWL_OK)
        goto fail;
    if ((rc = load_tables(s)) != OWL_OK) {
        owl_error_set(err, rc, "loading parts failed: %s",
                      s->open_err.msg[0] ? s->open_err.msg : owl_strerror(rc));
        goto fail;
    }
    owl__pathf(sub, sizeof sub, "%s/wal", dir);
    owl_wal_options wo = {
        .sync = s->opt.sync == OWL_SYNC_ALWAYS     ? OWL_WAL_SYNC_ALWAYS
                : s->opt.sync == OWL_SYNC_INTERVAL ? OWL_WAL_SYNC_INTERVAL
                                                   : OWL_WAL_SYNC_NONE,
        .interval_ms = s->opt.sync_interval_ms,
    };
    if ((rc = owl_wal_open(sub, &wo, replay_fn, s, &s->wal, err)) != OWL_OK) {
        if (s->open_err.code == rc) /* the record's own reason says more than the WAL's */
            owl_error_set(err, rc, "%s", s->open_err.msg);
        goto fail;
    }
    owl_wal_stats ws;
    owl_wal_stats_get(s->wal, &ws);
    s->applied = ws.last_lsn;
    if (s->opt.background) {
        if (pthread_create(&s->bg, NULL, background, s) != 0) {
            rc = owl_error_set(err, OWL_EIO, "cannot start the store's background thread");
            goto fail;
        }
        s->bg_running = 1;
    }
    *out = s;
    return OWL_OK;
fail:
    owl_store_close(s);
    return rc;
}

void owl_store_close(owl_store *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu); /* no append waits for seals that will not come */
    s->closing = 1;
    pthread_cond_broadcast(&s->closed_cv);
    pthread_mutex_unlock(&s->mu);
    if (s->bg_running) {
        pthread_mutex_lock(&s->bg_mu);
        s->stopping = 1;
        pthread_cond_signal(&s->bg_cv);
        pthread_mutex_unlock(&s->bg_mu);
        pthread_join(s->bg, NULL);
    }
    if (s->wal) {
        owl_error err = {0};
        if (owl__seal_some(s, 1, &err) != OWL_OK)
            owl_errorf("store: sealing at close failed (the WAL keeps the rows): %s", err.msg);
    }
    owl_wal_close(s->wal);
    for (size_t i = 0; i < s->nptns; i++) {
        struct ptn *p = s->ptns[i];
        while (p->ndays) {
            struct day *d = p->days[p->ndays - 1];
            for (size_t k = 0; k < d->nparts; k++)
                owl__part_unref_locked(s, d->parts[k]);
            for (size_t k = 0; k < d->nmems; k++)
                if (--d->mems[k]->refs == 0)
                    owl_mem_free(NULL, d->mems[k]);
            free(d->parts), free(d->mems), free(d);
            p->ndays--;
        }
        free(p->days), free(p->tenant), free(p->name), free(p->dir), free(p);
    }
    free(s->ptns);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->apply_mu);
    pthread_cond_destroy(&s->apply_cv);
    pthread_mutex_destroy(&s->seal_mu);
    pthread_mutex_destroy(&s->bg_mu);
    pthread_cond_destroy(&s->bg_cv);
    for (size_t i = 0; i < s->nrecbufs; i++)
        owl_buf_free(&s->recbufs[i]);
    pthread_mutex_destroy(&s->recbuf_mu);
    for (size_t t = 0; s->spare_mem && t < s->nschemas * MEM_SPARES; t++)
        owl_mem_free(NULL, s->spare_mem[t]);
    free(s->spare_mem);
    free(s->combiners);
    owl__seal_scratch_free(&s->seal);
    pthread_mutex_destroy(&s->spare_mu);
    pthread_cond_destroy(&s->closed_cv);
    free(s->dir);
    free(s);
}

/* ---------- figures ---------- */

void owl_store_stats_get(owl_store *s, owl_store_stats *st)
{
    owl_wal_stats ws;
    owl_wal_stats_get(s->wal, &ws);
    memset(st, 0, sizeof *st);
    st->wal_bytes = ws.bytes;
    st->fsyncs = ws.fsyncs;
    pthread_mutex_lock(&s->mu);
    st->compactions = s->compactions;
    st->quarantined = s->quarantined;
    for (size_t i = 0; i < s->nptns; i++)
        for (size_t j = 0; j < s->ptns[i]->ndays; j++) {
            struct day *d = s->ptns[i]->days[j];
            st->parts += d->nparts;
            for (size_t k = 0; k < d->nparts; k++)
                st->rows += owl_part_get_meta(d->parts[k]->p)->rows;
            for (size_t k = 0; k < d->nmems; k++)
                st->rows += d->mems[k]->nrows;
        }
    pthread_mutex_unlock(&s->mu);
}

int owl_store_partitions(owl_store *s, int (*fn)(void *ud, const owl_store_table_stats *t),
                         void *ud, owl_error *err)
{
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nptns && rc == 0; i++) {
        struct ptn *p = s->ptns[i];
        owl_store_table_stats t;
        if (p->dropped)
            continue;
        memset(&t, 0, sizeof t);
        t.table = s->schemas[p->table]->name;
        owl_strlcpy(t.tenant, p->tenant, sizeof t.tenant);
        owl_strlcpy(t.partition, p->name, sizeof t.partition);
        for (size_t j = 0; j < p->ndays; j++) {
            struct day *d = p->days[j];
            t.parts += d->nparts;
            for (size_t k = 0; k < d->nparts; k++) {
                const owl_part_meta *pm = owl_part_get_meta(d->parts[k]->p);
                t.rows += pm->rows;
                t.raw_bytes += pm->raw_bytes;
                t.stored_bytes += pm->file_bytes;
            }
            for (size_t k = 0; k < d->nmems; k++) {
                t.rows += d->mems[k]->nrows;
                t.raw_bytes += d->mems[k]->raw_bytes;
            }
        }
        rc = fn(ud, &t);
    }
    pthread_mutex_unlock(&s->mu);
    (void)err;
    return rc;
}

int owl_store_partition_bytes(owl_store *s, const char *table, const char *tenant,
                              const char *partition, uint64_t *stored, uint64_t *rows,
                              owl_error *err)
{
    size_t t;
    if (owl__find_table(s, table, &t) != OWL_OK)
        return owl_error_set(err, OWL_EINVAL, "no table named %s", table);
    if (!owl__valid_name(tenant) || !owl__valid_name(partition))
        return owl_error_set(err, OWL_EINVAL, "tenant and partition names must be 1 to %d bytes",
                             NAME_MAX_LEN);
    pthread_mutex_lock(&s->mu);
    struct ptn *p = owl__find_ptn(s, t, tenant, partition);
    int found = p && !p->dropped;
    if (found) {
        *stored = p->part_bytes + p->mem_bytes;
        *rows = p->rows;
    }
    pthread_mutex_unlock(&s->mu);
    if (!found)
        return owl_error_set(err, OWL_ENOTFOUND, "table %s has no partition %s of tenant %s",
                             table, partition, tenant);
    return OWL_OK;
}

/* ---------- offline verification ---------- */

struct verify_ctx {
    void (*report)(void *ud, const char *what);
    void *ud;
    size_t parts, bad;
};

static void verify_report(struct verify_ctx *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void verify_report(struct verify_ctx *v, const char *fmt, ...)
{
    char msg[4600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    v->bad++;
    if (v->report)
        v->report(v->ud, msg);
}

/* Checks every p-*.owp below dir (depth-first), skipping quarantine/ and wal/. Parts carry
 * their schema in the footer, so none is needed here. */
static void verify_tree(struct verify_ctx *v, const char *dir, int depth)
{
    DIR *dh = opendir(dir);
    if (!dh) {
        verify_report(v, "%s: cannot open directory: %s", dir, strerror(errno));
        return;
    }
    struct dirent *e;
    while ((e = readdir(dh))) {
        char path[4096];
        if (e->d_name[0] == '.' || owl__pathf(path, sizeof path, "%s/%s", dir, e->d_name) != 0)
            continue;
        if (depth == 0 && (!strcmp(e->d_name, "quarantine") || !strcmp(e->d_name, "wal")))
            continue;
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth < 6)
                verify_tree(v, path, depth + 1);
            continue;
        }
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".owp") != 0)
            continue;
        owl_part *p = NULL;
        owl_error perr = {0};
        v->parts++;
        if (owl_part_open(path, NULL, &p, &perr) != OWL_OK)
            verify_report(v, "part %s: %s", path, perr.msg);
        else if (owl_part_verify(p, &perr) != OWL_OK)
            verify_report(v, "part %s: %s", path, perr.msg);
        owl_part_close(p);
    }
    closedir(dh);
}

static void wal_report(void *ud, const char *what)
{
    verify_report(ud, "wal %s", what);
}

int owl_store_verify(const char *dir, void (*report)(void *ud, const char *what), void *ud,
                     owl_error *err)
{
    struct verify_ctx v = {report, ud, 0, 0};
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return owl_error_set(err, OWL_ENOTFOUND, "%s is not a store directory", dir);
    verify_tree(&v, dir, 0);
    char wal[4200];
    uint64_t records = 0;
    owl__pathf(wal, sizeof wal, "%s/wal", dir);
    if (stat(wal, &st) == 0)
        owl_wal_verify(wal, wal_report, &v, &records, NULL);
    if (v.bad)
        return owl_error_set(err, OWL_ECORRUPT, "%zu problem(s) in %zu part(s) and the WAL", v.bad,
                             v.parts);
    owl_error_set(err, OWL_OK, "%zu part(s) and %llu WAL record(s) check out", v.parts,
                  (unsigned long long)records);
    return OWL_OK;
}
