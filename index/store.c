/* store.c — the columnar store: WAL-backed appends into memtables, sealing into parts,
 * scans over parts and memtables, retention, compaction and quarantine.
 *
 * Layout under the store directory (docs/storage.md):
 *   wal/                                   the write-ahead log (wal.h)
 *   <table>/<tenant>/<partition>/RETENTION days to keep ("0" = forever), absent = forever
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
 *     inside a span counts the span's max_lsn as sealed (invariant 3). */
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

#define NAME_MAX_LEN 255
#define MAX_VALUE_BYTES (16u << 20)
#define ARENA_BLOCK (1u << 20)
#define SCAN_BATCH 4096
#define COMPACT_MAX_ROWS (4u << 20)

/* ---------- memtables ---------- */

struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    char data[];
};

struct memtable {
    pthread_rwlock_t lock; /* appends write-lock; scans read-lock */
    size_t nrows, cap;
    owl_cell *cols[OWL_MAX_COLS];
    struct arena_block *arena;
    uint64_t min_lsn, max_lsn;
    int64_t created_ms;
    uint64_t raw_bytes;
    int refs; /* guarded by the store mutex */
};

struct part_ref {
    owl_part *p;
    char *path;
    uint64_t first, last; /* sealed sequence range */
    int level;
    int refs;             /* guarded by the store mutex */
    int dead;             /* unlink when the last reference goes */
    int quarantine;       /* move to quarantine/ instead */
};

/* A day of a partition, or a span of days (span = 1: days day..last, parts only). */
struct day {
    int32_t day, last;
    int span;
    struct memtable **mems; /* oldest first; the last one takes appends unless sealing */
    size_t nmems;
    int last_sealing;       /* mems[nmems-1] is being sealed: appends need a new one */
    struct part_ref **parts;
    size_t nparts;
    uint64_t next_seq;
    uint64_t sealed_lsn;
};

struct ptn {
    size_t table;
    char *tenant, *name, *dir;
    int retention_days;
    struct day **days;
    size_t ndays;
};

struct owl_store {
    char *dir;
    const owl_schema *const *schemas;
    size_t nschemas;
    owl_store_options opt;
    owl_wal *wal;
    pthread_mutex_t mu; /* the partition map, day lists, refcounts */
    struct ptn **ptns;
    size_t nptns;
    /* lsn-ordered application (invariant 1) */
    pthread_mutex_t apply_mu;
    pthread_cond_t apply_cv;
    uint64_t applied;
    pthread_mutex_t seal_mu; /* one seal or compaction at a time */
    /* background */
    pthread_t bg;
    int bg_running, stopping;
    pthread_mutex_t bg_mu;
    pthread_cond_t bg_cv;
    int bg_kick;
    /* counters */
    uint64_t compactions, quarantined;
    owl_error open_err; /* why a part or WAL record stopped the open (replay_fn, load_day) */
};

static void mem_unref(owl_store *s, struct memtable *m);

static int64_t day_units(const owl_schema *sc)
{
    return 86400 * sc->time_per_sec;
}

static int32_t day_of(const owl_schema *sc, int64_t t)
{
    int64_t d = day_units(sc);
    return (int32_t)(t >= 0 ? t / d : -((-t + d - 1) / d));
}

static struct memtable *mem_new(void)
{
    struct memtable *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    pthread_rwlock_init(&m->lock, NULL);
    m->created_ms = owl_now_ms();
    m->refs = 1;
    return m;
}

static void mem_free(struct memtable *m)
{
    if (!m)
        return;
    for (size_t c = 0; c < OWL_MAX_COLS; c++)
        free(m->cols[c]);
    struct arena_block *b = m->arena;
    while (b) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
    pthread_rwlock_destroy(&m->lock);
    free(m);
}

static void *arena_copy(struct memtable *m, const void *p, size_t n)
{
    struct arena_block *b = m->arena;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > ARENA_BLOCK / 4 ? n : ARENA_BLOCK;
        struct arena_block *nb = malloc(sizeof *nb + cap);
        if (!nb)
            return NULL;
        nb->used = 0, nb->cap = cap;
        if (b && n > ARENA_BLOCK / 4) { /* a big value gets its own block behind the current */
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            m->arena = nb;
        }
        b = nb;
    }
    void *dst = b->data + b->used;
    if (n)
        memcpy(dst, p, n);
    b->used += n;
    return dst;
}

/* Appends rows [from, to) of r. Caller holds m->lock for writing. */
static int mem_append(struct memtable *m, const owl_schema *sc, const owl_rows *r, size_t from,
                      size_t to, uint64_t lsn)
{
    size_t n = to - from;
    if (m->nrows + n > m->cap) {
        size_t cap = m->cap ? m->cap : 1024;
        while (cap < m->nrows + n)
            cap *= 2;
        for (size_t c = 0; c < sc->ncols; c++) {
            owl_cell *p = realloc(m->cols[c], cap * sizeof *p);
            if (!p)
                return OWL_ENOMEM;
            m->cols[c] = p;
        }
        m->cap = cap;
    }
    for (size_t c = 0; c < sc->ncols; c++) {
        owl_cell *dst = m->cols[c] + m->nrows;
        const owl_cell *src = r->cols[c] + from;
        if (!owl_type_is_bytes(sc->cols[c].type)) {
            memcpy(dst, src, n * sizeof *dst);
            m->raw_bytes += 8 * n;
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            void *p = arena_copy(m, src[i].b.p, src[i].b.n);
            if (!p && src[i].b.n)
                return OWL_ENOMEM;
            dst[i].b.p = p;
            dst[i].b.n = src[i].b.n;
            m->raw_bytes += src[i].b.n;
        }
    }
    if (!m->nrows)
        m->min_lsn = lsn;
    m->max_lsn = lsn;
    m->nrows += n;
    return OWL_OK;
}

/* ---------- names and paths ---------- */

/* snprintf for paths: returns -1 (and an empty string) when the result does not fit. */
static int pathf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pathf(char *out, size_t n, const char *fmt, ...)
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

static int valid_name(const char *s)
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

static char *day_dir(const struct ptn *p, int32_t day, int32_t last)
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

static struct ptn *find_ptn(owl_store *s, size_t table, const char *tenant, const char *name)
{
    for (size_t i = 0; i < s->nptns; i++) {
        struct ptn *p = s->ptns[i];
        if (p->table == table && !strcmp(p->tenant, tenant) && !strcmp(p->name, name))
            return p;
    }
    return NULL;
}

static struct ptn *get_ptn(owl_store *s, size_t table, const char *tenant, const char *name)
{
    struct ptn *p = find_ptn(s, table, tenant, name);
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
static struct day *add_unit(struct ptn *p, int32_t day, int32_t last)
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
    if (!d->span)
        d->sealed_lsn = span_sealed(p, day);
    p->days[p->ndays++] = d;
    return d;
}

/* The memtable taking appends for d, created when needed. */
static struct memtable *active_mem(struct day *d)
{
    if (d->nmems && !d->last_sealing)
        return d->mems[d->nmems - 1];
    struct memtable **grown = realloc(d->mems, (d->nmems + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    d->mems = grown;
    struct memtable *m = mem_new();
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
    pathf(out, outsz, "%s/quarantine/%lld-%s", s->dir, (long long)owl_now_ms(), flat);
}

static void part_unref_locked(owl_store *s, struct part_ref *r)
{
    if (--r->refs > 0)
        return;
    owl_part_close(r->p);
    if (r->quarantine) {
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

static void mem_unref(owl_store *s, struct memtable *m)
{
    pthread_mutex_lock(&s->mu);
    int last = --m->refs == 0;
    pthread_mutex_unlock(&s->mu);
    if (last)
        mem_free(m);
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
static int time_storable(const owl_schema *sc, int64_t t)
{
    int64_t u = 86400 * sc->time_per_sec, day = t / u - (t % u < 0);
    return day >= owl_days_from_civil(1, 1, 1) && day <= owl_days_from_civil(9999, 12, 31);
}

static int put_str(owl_buf *b, const void *p, size_t n)
{
    uint8_t v[10];
    size_t k = owl_varint_put(v, n);
    if (owl_buf_append(b, v, k) != OWL_OK)
        return OWL_ENOMEM;
    return owl_buf_append(b, p, n);
}

static int encode_record(const owl_schema *sc, const char *tenant, const char *partition,
                         const owl_rows *r, owl_buf *b)
{
    uint8_t v[10];
    int rc = owl_buf_putc(b, 2);
    rc |= put_str(b, sc->name, strlen(sc->name));
    rc |= put_str(b, tenant, strlen(tenant));
    rc |= put_str(b, partition, strlen(partition));
    rc |= owl_buf_append(b, v, owl_varint_put(v, sc->ncols));
    for (size_t c = 0; c < sc->ncols && rc == OWL_OK; c++) {
        rc |= put_str(b, sc->cols[c].name, strlen(sc->cols[c].name));
        rc |= owl_buf_putc(b, (char)sc->cols[c].type);
    }
    rc |= owl_buf_append(b, v, owl_varint_put(v, r->nrows));
    for (size_t c = 0; c < sc->ncols && rc == OWL_OK; c++) {
        enum owl_type t = sc->cols[c].type;
        const owl_cell *col = r->cols[c];
        if (!owl_type_is_bytes(t)) {
            if ((rc = owl_buf_reserve(b, 8 * r->nrows)) != OWL_OK)
                break;
            for (size_t i = 0; i < r->nrows; i++) {
                owl_put64le((uint8_t *)b->data + b->len, col[i].u);
                b->len += 8;
            }
            b->data[b->len] = '\0';
        } else if (t == OWL_TYPE_ID8 || t == OWL_TYPE_ID16) {
            for (size_t i = 0; i < r->nrows && rc == OWL_OK; i++)
                rc = owl_buf_append(b, col[i].b.p, col[i].b.n);
        } else {
            for (size_t i = 0; i < r->nrows && rc == OWL_OK; i++)
                rc = put_str(b, col[i].b.p, col[i].b.n);
        }
    }
    return rc == OWL_OK ? OWL_OK : OWL_ENOMEM;
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

/* The record's columns: version 2 lists them; version 1 records hold the table's frozen
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
    if (version == 2 &&
        (owl_varint_get(p, end, &n) != OWL_OK || n == 0 || n > OWL_MAX_COLS))
        return owl_error_set(err, OWL_ECORRUPT, "WAL record %llu: bad column count",
                             (unsigned long long)lsn);
    if (version == 2)
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

/* Reads nrows values of type t into col (NULL: skips them). */
static int decode_values(const uint8_t **pp, const uint8_t *end, enum owl_type t, size_t nrows,
                         owl_cell *col)
{
    const uint8_t *p = *pp, *str;
    size_t len, w = owl_type_id_width(t);
    for (size_t i = 0; i < nrows; i++) {
        if (!owl_type_is_bytes(t)) {
            if (end - p < 8)
                return OWL_ECORRUPT;
            if (col)
                col[i].u = owl_get64le(p);
            p += 8;
        } else if (w) {
            if ((size_t)(end - p) < w)
                return OWL_ECORRUPT;
            if (col)
                col[i].b = (owl_bytes){p, w};
            p += w;
        } else {
            if (get_str(&p, end, &str, &len) != OWL_OK)
                return OWL_ECORRUPT;
            if (col)
                col[i].b = (owl_bytes){str, len};
        }
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
    if ((version != 1 && version != 2) || get_str(&p, end, &str, &len) != OWL_OK)
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
        if (decode_values(&p, end, rcols.type[k], (size_t)nrows, col) != OWL_OK)
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
                      const owl_rows *r, uint64_t lsn, int replay, int *full)
{
    const owl_schema *sc = s->schemas[table];
    const owl_cell *times = r->cols[sc->time_col];
    int rc = OWL_OK;
    pthread_mutex_lock(&s->mu);
    struct ptn *p = get_ptn(s, table, tenant, partition);
    size_t i = 0;
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
            d = add_unit(p, day, day);
        struct memtable *m = d ? active_mem(d) : NULL;
        if (!m) {
            rc = OWL_ENOMEM;
            break;
        }
        pthread_rwlock_wrlock(&m->lock);
        rc = mem_append(m, sc, r, i, j, lsn);
        pthread_rwlock_unlock(&m->lock);
        if (m->nrows >= s->opt.memtable_rows || m->raw_bytes >= s->opt.memtable_bytes)
            *full = 1;
        i = j;
    }
    if (!p)
        rc = OWL_ENOMEM;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Applies one WAL record at open. A record that cannot be applied (a table this store was
 * not opened with, a column whose type changed) stops the open, its reason kept in
 * s->open_err: skipping it would let the checkpoint pass it and lose it for good. */
static int replay_fn(void *ud, uint64_t lsn, const void *rec, size_t n)
{
    owl_store *s = ud;
    struct rec r;
    int full = 0;
    int rc = decode_record(s, lsn, rec, n, &r, &s->open_err);
    if (rc != OWL_OK)
        return rc;
    rc = apply_rows(s, r.table, r.tenant, r.partition, &r.rows, lsn, 1, &full);
    free(r.cells);
    s->applied = lsn;
    return rc;
}

/* ---------- sealing ---------- */

struct time_idx {
    int64_t t;
    size_t i;
};

static int cmp_time_idx(const void *a, const void *b)
{
    const struct time_idx *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Rows of m sorted by time, as an owl_rows over freshly allocated column arrays
 * (byte values still point into m's arena). */
static int sorted_rows(const owl_schema *sc, struct memtable *m, owl_rows *out, owl_cell **cells)
{
    size_t n = m->nrows;
    struct time_idx *ix = malloc(n * sizeof *ix);
    owl_cell *all = malloc(n * sc->ncols * sizeof *all);
    if (!ix || !all) {
        free(ix), free(all);
        return OWL_ENOMEM;
    }
    int sorted = 1;
    for (size_t i = 0; i < n; i++) {
        ix[i].t = m->cols[sc->time_col][i].i, ix[i].i = i;
        if (i && ix[i].t < ix[i - 1].t)
            sorted = 0;
    }
    if (!sorted)
        qsort(ix, n, sizeof *ix, cmp_time_idx);
    memset(out, 0, sizeof *out);
    out->nrows = n;
    for (size_t c = 0; c < sc->ncols; c++) {
        owl_cell *col = all + c * n;
        for (size_t i = 0; i < n; i++)
            col[i] = m->cols[c][ix[i].i];
        out->cols[c] = col;
    }
    free(ix);
    *cells = all;
    return OWL_OK;
}

/* A day's part p-<first>-<last>-<level>.owp; a span's s-<max_lsn>-<level>.owp (first =
 * last = max_lsn for spans). */
static void part_path(const struct ptn *p, const struct day *d, uint64_t first, uint64_t last,
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

static int add_part_ref(struct day *d, struct part_ref *r)
{
    struct part_ref **grown = realloc(d->parts, (d->nparts + 1) * sizeof *grown);
    if (!grown)
        return OWL_ENOMEM;
    d->parts = grown;
    d->parts[d->nparts++] = r;
    return OWL_OK;
}

static struct part_ref *open_part_ref(const char *path, const owl_schema *sc, uint64_t first,
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
static int seal_oldest(owl_store *s, struct ptn *p, struct day *d, owl_error *err)
{
    const owl_schema *sc = s->schemas[p->table];
    pthread_mutex_lock(&s->mu);
    if (!d->nmems) {
        pthread_mutex_unlock(&s->mu);
        return OWL_OK;
    }
    struct memtable *m = d->mems[0];
    if (d->nmems == 1)
        d->last_sealing = 1;
    m->refs++;
    uint64_t seq = d->next_seq;
    char *ddir = day_dir(p, d->day, d->day);
    pthread_mutex_unlock(&s->mu);

    int rc = OWL_OK;
    owl_rows rows;
    owl_cell *cells = NULL;
    char path[4096];
    /* no appender writes m any more, but take the lock so the last writer is done */
    pthread_rwlock_rdlock(&m->lock);
    size_t nrows = m->nrows;
    if (nrows) {
        rc = ddir ? owl_mkdir_p(ddir, 0700, err) : OWL_ENOMEM;
        if (rc == OWL_OK)
            rc = sorted_rows(sc, m, &rows, &cells);
        if (rc == OWL_OK) {
            owl_part_info info = {sc->name, p->tenant, p->name, d->day, m->max_lsn, 0, 1};
            part_path(p, d, seq, seq, 0, path, sizeof path);
            rc = owl_part_write(path, sc, &info, &rows, s->opt.block_rows, s->opt.zstd_level,
                                NULL, err);
        }
    }
    uint64_t max_lsn = m->max_lsn;
    pthread_rwlock_unlock(&m->lock);
    free(cells);
    free(ddir);

    struct part_ref *r = NULL;
    if (rc == OWL_OK && nrows && !(r = open_part_ref(path, sc, seq, seq, 0, err)))
        rc = err && err->code ? err->code : OWL_EIO;
    pthread_mutex_lock(&s->mu);
    if (rc == OWL_OK) {
        if (r && add_part_ref(d, r) != OWL_OK) {
            part_unref_locked(s, r);
            rc = OWL_ENOMEM;
        }
    }
    if (rc == OWL_OK) {
        if (nrows) {
            d->next_seq = seq + 1;
            if (max_lsn > d->sealed_lsn)
                d->sealed_lsn = max_lsn;
        }
        memmove(d->mems, d->mems + 1, (d->nmems - 1) * sizeof *d->mems);
        d->nmems--;
        if (d->nmems == 0)
            d->last_sealing = 0;
        m->refs--; /* the day's reference */
    } else {
        /* the seal failed: the memtable stays first in line (retried before any newer
         * one, invariant 2) and, when it is the only one, takes appends again */
        d->last_sealing = 0;
    }
    pthread_mutex_unlock(&s->mu);
    mem_unref(s, m);
    return rc;
}

/* Advances the WAL checkpoint as far as invariant 3 allows. */
static int advance_checkpoint(owl_store *s, owl_error *err)
{
    pthread_mutex_lock(&s->apply_mu);
    uint64_t cp = s->applied;
    pthread_mutex_unlock(&s->apply_mu);
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nptns; i++)
        for (size_t j = 0; j < s->ptns[i]->ndays; j++) {
            struct day *d = s->ptns[i]->days[j];
            for (size_t k = 0; k < d->nmems; k++)
                if (d->mems[k]->nrows && d->mems[k]->min_lsn - 1 < cp)
                    cp = d->mems[k]->min_lsn - 1;
        }
    pthread_mutex_unlock(&s->mu);
    return owl_wal_checkpoint(s->wal, cp, err); /* a no-op unless cp moves it forward */
}

/* Seals memtables that are full, old, or (force) any. */
static int seal_some(owl_store *s, int force, owl_error *err)
{
    int rc = OWL_OK;
    int64_t now = owl_now_ms();
    pthread_mutex_lock(&s->seal_mu);
    for (;;) {
        struct ptn *p = NULL;
        struct day *d = NULL;
        pthread_mutex_lock(&s->mu);
        for (size_t i = 0; i < s->nptns && !d; i++)
            for (size_t j = 0; j < s->ptns[i]->ndays && !d; j++) {
                struct day *c = s->ptns[i]->days[j];
                if (!c->nmems)
                    continue;
                struct memtable *m = c->mems[0];
                if (force || c->nmems > 1 || m->nrows >= s->opt.memtable_rows ||
                    m->raw_bytes >= s->opt.memtable_bytes ||
                    now - m->created_ms >= s->opt.memtable_age_ms)
                    p = s->ptns[i], d = c;
            }
        pthread_mutex_unlock(&s->mu);
        if (!d)
            break;
        if ((rc = seal_oldest(s, p, d, err)) != OWL_OK)
            break;
    }
    pthread_mutex_unlock(&s->seal_mu);
    if (rc == OWL_OK)
        rc = advance_checkpoint(s, err);
    return rc;
}

int owl_store_flush(owl_store *s, owl_error *err)
{
    return seal_some(s, 1, err);
}

/* ---------- append ---------- */

static int find_table(const owl_store *s, const char *name, size_t *t)
{
    for (size_t i = 0; i < s->nschemas; i++)
        if (!strcmp(s->schemas[i]->name, name)) {
            *t = i;
            return OWL_OK;
        }
    return OWL_ENOTFOUND;
}

static int validate_rows(const owl_schema *sc, const owl_rows *r, owl_error *err)
{
    for (size_t c = 0; c < sc->ncols; c++) {
        enum owl_type t = sc->cols[c].type;
        if (!r->cols[c] && r->nrows)
            return owl_error_set(err, OWL_EINVAL, "column %s has no values", sc->cols[c].name);
        for (size_t i = 0; c == sc->time_col && i < r->nrows; i++)
            if (!time_storable(sc, r->cols[c][i].i))
                return owl_error_set(err, OWL_EINVAL, "column %s row %zu: time outside the "
                                     "years 1 to 9999", sc->cols[c].name, i);
        if (!owl_type_is_bytes(t))
            continue;
        for (size_t i = 0; i < r->nrows; i++) {
            size_t n = r->cols[c][i].b.n;
            if (owl_type_id_width(t) && n != owl_type_id_width(t))
                return owl_error_set(err, OWL_EINVAL, "column %s row %zu: id of %zu bytes",
                                     sc->cols[c].name, i, n);
            if (n > MAX_VALUE_BYTES || (n && !r->cols[c][i].b.p))
                return owl_error_set(err, OWL_EINVAL, "column %s row %zu: value too large",
                                     sc->cols[c].name, i);
        }
    }
    return OWL_OK;
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
    if (find_table(s, table, &t) != OWL_OK)
        return owl_error_set(err, OWL_EINVAL, "no table named %s", table);
    if (!valid_name(tenant) || !valid_name(partition))
        return owl_error_set(err, OWL_EINVAL, "tenant and partition names must be 1 to %d bytes",
                             NAME_MAX_LEN);
    if (rows->nrows == 0)
        return OWL_OK;
    const owl_schema *sc = s->schemas[t];
    int rc = validate_rows(sc, rows, err);
    if (rc != OWL_OK)
        return rc;
    owl_buf rec = OWL_BUF_INIT;
    if (encode_record(sc, tenant, partition, rows, &rec) != OWL_OK) {
        owl_buf_free(&rec);
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    }
    struct iovec iov = {rec.data, rec.len};
    uint64_t lsn;
    rc = owl_wal_append(s->wal, &iov, 1, &lsn, err);
    owl_buf_free(&rec);
    if (rc != OWL_OK)
        return rc;
    /* invariant 1: apply in lsn order */
    pthread_mutex_lock(&s->apply_mu);
    while (s->applied + 1 != lsn)
        pthread_cond_wait(&s->apply_cv, &s->apply_mu);
    pthread_mutex_unlock(&s->apply_mu);
    int full = 0;
    rc = apply_rows(s, t, tenant, partition, rows, lsn, 0, &full);
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
            rc = seal_some(s, 0, err);
    }
    return rc;
}

/* ---------- predicates ---------- */

static int bytes_eq(const owl_bytes *a, const owl_bytes *b)
{
    return a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, a->n) == 0);
}

/* 1 when the occurrence of tok (n > 0 bytes) at hit, inside [row, row_end), stands as a
 * whole token: the bytes beside it are not token bytes (or tok itself ends there in a
 * separator). */
static int token_bounded(const char *hit, const unsigned char *tok, size_t n, const char *row,
                         const char *row_end)
{
    int left = hit == row || !owl_is_token_byte((unsigned char)hit[-1]) ||
               !owl_is_token_byte(tok[0]);
    int right = hit + n == row_end || !owl_is_token_byte((unsigned char)hit[n]) ||
                !owl_is_token_byte(tok[n - 1]);
    return left && right;
}

static int contains_token(const owl_bytes *v, const owl_bytes *tok)
{
    const char *s = v->p, *end = s + v->n;
    if (tok->n == 0)
        return 1;
    while (s < end) {
        const char *hit = memmem(s, (size_t)(end - s), tok->p, tok->n);
        if (!hit)
            return 0;
        if (token_bounded(hit, tok->p, tok->n, v->p, end))
            return 1;
        s = hit + 1;
    }
    return 0;
}

static int cmp_num(enum owl_type t, const owl_cell *a, const owl_cell *b)
{
    switch (t) {
    case OWL_TYPE_U64:
        return a->u < b->u ? -1 : a->u > b->u;
    case OWL_TYPE_F64:
        return a->f < b->f ? -1 : a->f > b->f;
    default:
        return a->i < b->i ? -1 : a->i > b->i;
    }
}

/* Numeric equality; a NaN equals nothing, as in IEEE-754. */
static int num_eq(enum owl_type t, const owl_cell *a, const owl_cell *b)
{
    if (t == OWL_TYPE_F64)
        return a->f == b->f;
    return cmp_num(t, a, b) == 0;
}

static int pred_holds(const owl_schema *sc, const owl_pred *p, const owl_cell *v)
{
    enum owl_type t = sc->cols[p->col].type;
    int bytes = owl_type_is_bytes(t);
    switch (p->op) {
    case OWL_PRED_EQ:
        return bytes ? bytes_eq(&v->b, &p->lo.b) : num_eq(t, v, &p->lo);
    case OWL_PRED_IN:
        for (size_t i = 0; i < p->nset; i++)
            if (bytes ? bytes_eq(&v->b, &p->set[i].b) : num_eq(t, v, &p->set[i]))
                return 1;
        return 0;
    case OWL_PRED_RANGE:
        if (bytes || (t == OWL_TYPE_F64 && (v->f != v->f)))
            return 0;
        return cmp_num(t, v, &p->lo) >= 0 && cmp_num(t, v, &p->hi) < 0;
    case OWL_PRED_TOKEN:
        return bytes && contains_token(&v->b, &p->text);
    case OWL_PRED_SUBSTR:
        return bytes && (p->text.n == 0 || memmem(v->b.p, v->b.n, p->text.p, p->text.n));
    }
    return 0;
}

/* ---------- scans ---------- */

struct scan_ctx {
    owl_store *s;
    const owl_scan *q;
    const owl_schema *sc;
    owl_scan_stats *st;
    int64_t start, end;
    size_t need[OWL_MAX_COLS]; /* columns to read: wanted + predicate columns */
    size_t nneed;
    owl_cell *out[OWL_MAX_COLS];
    size_t outcap;
    uint32_t *sel;
    uint8_t *keep; /* 2 x outcap: rows still matching, and text_pass's scratch */
    size_t selcap;
};

static int ensure_out(struct scan_ctx *c, size_t n)
{
    if (n <= c->outcap)
        return OWL_OK;
    for (size_t i = 0; i < c->q->ncols; i++) {
        owl_cell *p = realloc(c->out[i], n * sizeof *p);
        if (!p)
            return OWL_ENOMEM;
        c->out[i] = p;
    }
    uint32_t *sel = realloc(c->sel, n * sizeof *sel);
    if (!sel)
        return OWL_ENOMEM;
    c->sel = sel;
    uint8_t *keep = realloc(c->keep, 2 * n);
    if (!keep)
        return OWL_ENOMEM;
    c->keep = keep;
    c->outcap = n;
    return OWL_OK;
}

/* 1 when the non-empty values of v[0..n) lie in one buffer in row order without overlap
 * (decoded part blocks: STR and template chunks both lay their rows out so), so one search
 * over the whole range can stand in for a search per row. */
static int laid_out_in_order(const owl_cell *v, size_t n)
{
    const char *at = NULL;
    for (size_t r = 0; r < n; r++) {
        if (!v[r].b.n)
            continue;
        const char *p = v[r].b.p;
        if (!p || (at && p < at))
            return 0;
        at = p + v[r].b.n;
    }
    return at != NULL;
}

/* TOKEN / SUBSTR over rows laid out in order: one memmem pass over the block's bytes; a hit
 * counts for the row that holds all of it (and, for TOKEN, with token boundaries inside that
 * row, as contains_token decides). Clears keep[r] for every row without a match. */
static void text_pass(const owl_cell *v, size_t n, const owl_bytes *needle, int token,
                      uint8_t *keep, uint8_t *found)
{
    const unsigned char *tok = needle->p;
    size_t len = needle->n, r = 0;
    const char *s = NULL, *end = NULL;
    for (size_t i = 0; i < n; i++) {
        found[i] = 0;
        if (v[i].b.n) {
            if (!s)
                s = v[i].b.p;
            end = (const char *)v[i].b.p + v[i].b.n;
        }
    }
    while (s && s < end) {
        const char *hit = memmem(s, (size_t)(end - s), needle->p, len);
        if (!hit)
            break;
        while (r < n && (v[r].b.n == 0 || (const char *)v[r].b.p + v[r].b.n <= hit))
            r++;
        if (r == n)
            break;
        const char *row = v[r].b.p, *row_end = row + v[r].b.n;
        if (hit < row) { /* between rows */
            s = row;
            continue;
        }
        if (hit + len > row_end) { /* runs into the next row */
            s = hit + 1;
            continue;
        }
        if (token && !token_bounded(hit, tok, len, row, row_end)) {
            s = hit + 1;
            continue;
        }
        found[r] = 1;
        s = row_end;
        r++;
    }
    for (size_t i = 0; i < n; i++)
        keep[i] &= found[i];
}

/* Filters rows [0, n) of cols (indexed by schema column) and emits the matches. one_buf:
 * each byte column's values live in one buffer (a decoded part block), so the bytes between
 * them may be read. */
static int emit(struct scan_ctx *c, const struct ptn *p, owl_cell *const *cols, size_t n,
                int one_buf)
{
    int rc = ensure_out(c, n);
    if (rc != OWL_OK)
        return rc;
    const owl_cell *times = cols[c->sc->time_col];
    uint8_t *keep = c->keep, *found = c->keep + n;
    for (size_t r = 0; r < n; r++)
        keep[r] = times[r].i >= c->start && times[r].i < c->end;
    for (size_t i = 0; i < c->q->npreds; i++) {
        const owl_pred *pr = &c->q->preds[i];
        const owl_cell *v = cols[pr->col];
        if ((pr->op == OWL_PRED_TOKEN || pr->op == OWL_PRED_SUBSTR) &&
            owl_type_is_bytes(c->sc->cols[pr->col].type) && pr->text.n && pr->text.p && one_buf &&
            laid_out_in_order(v, n)) {
            text_pass(v, n, &pr->text, pr->op == OWL_PRED_TOKEN, keep, found);
            continue;
        }
        for (size_t r = 0; r < n; r++)
            if (keep[r])
                keep[r] = (uint8_t)pred_holds(c->sc, pr, &v[r]);
    }
    size_t k = 0;
    for (size_t r = 0; r < n; r++)
        if (keep[r])
            c->sel[k++] = (uint32_t)r;
    if (c->st) {
        c->st->rows_scanned += n;
        c->st->rows_matched += k;
    }
    if (!k)
        return 0;
    owl_batch b = {.nrows = k, .tenant = p->tenant, .partition = p->name};
    for (size_t i = 0; i < c->q->ncols; i++) {
        const owl_cell *src = cols[c->q->cols[i]];
        for (size_t j = 0; j < k; j++)
            c->out[i][j] = src[c->sel[j]];
        b.cols[i] = c->out[i];
    }
    return c->q->fn(c->q->ud, &b);
}

/* Removes r from the day that lists it and drops that reference (caller holds s->mu). */
static void drop_part_locked(owl_store *s, const struct ptn *p, struct part_ref *r)
{
    for (size_t j = 0; j < p->ndays; j++) {
        struct day *d = p->days[j];
        for (size_t k = 0; k < d->nparts; k++) {
            if (d->parts[k] != r)
                continue;
            memmove(d->parts + k, d->parts + k + 1, (d->nparts - k - 1) * sizeof *d->parts);
            d->nparts--;
            part_unref_locked(s, r);
            return;
        }
    }
}

static int scan_part(struct scan_ctx *c, const struct ptn *p, struct part_ref *r,
                     owl_block_data *bd, owl_error *err)
{
    const owl_part_meta *pm = owl_part_get_meta(r->p);
    if (pm->max_time < c->start || pm->min_time >= c->end)
        return OWL_OK;
    if (c->st)
        c->st->parts++;
    for (size_t b = 0; b < pm->nblocks; b++) {
        if (c->st)
            c->st->blocks++;
        if (!owl_part_block_may_match(r->p, b, c->start, c->end, c->q->preds, c->q->npreds)) {
            if (c->st)
                c->st->blocks_skipped++;
            continue;
        }
        bd->bytes_read = 0;
        /* text the bloom let through must still appear in the chunk's stored bytes */
        int rc = OWL_OK, may = 1;
        for (size_t i = 0; i < c->q->npreds && may && rc == OWL_OK; i++)
            if (c->q->preds[i].op == OWL_PRED_TOKEN || c->q->preds[i].op == OWL_PRED_SUBSTR)
                rc = owl_part_block_text_may(r->p, b, c->q->preds[i].col, &c->q->preds[i].text,
                                              bd, &may, err);
        if (rc == OWL_OK && !may) {
            if (c->st) {
                c->st->blocks_skipped++;
                c->st->bytes_read += bd->bytes_read;
            }
            continue;
        }
        if (rc == OWL_OK)
            rc = owl_part_read_block(r->p, b, c->need, c->nneed, bd, err);
        if (rc == OWL_ECORRUPT) {
            owl_errorf("store: %s is corrupt (%s); quarantined", r->path,
                       err ? err->msg : "checksum");
            pthread_mutex_lock(&c->s->mu);
            if (!r->quarantine) {
                r->quarantine = 1;
                c->s->quarantined++;
                drop_part_locked(c->s, p, r);
            }
            pthread_mutex_unlock(&c->s->mu);
            return OWL_OK;
        }
        if (rc != OWL_OK)
            return rc;
        if (c->st)
            c->st->bytes_read += bd->bytes_read;
        if ((rc = emit(c, p, bd->cells, bd->nrows, 1)) != 0)
            return rc;
    }
    return OWL_OK;
}

static int scan_mem(struct scan_ctx *c, const struct ptn *p, struct memtable *m)
{
    int rc = 0;
    pthread_rwlock_rdlock(&m->lock);
    size_t n = m->nrows;
    for (size_t off = 0; off < n && rc == 0; off += SCAN_BATCH) {
        size_t len = n - off < SCAN_BATCH ? n - off : SCAN_BATCH;
        owl_cell *cols[OWL_MAX_COLS] = {0};
        for (size_t i = 0; i < c->sc->ncols; i++)
            cols[i] = m->cols[i] + off;
        rc = emit(c, p, cols, len, 0);
    }
    pthread_rwlock_unlock(&m->lock);
    return rc;
}

static int ptn_wanted(const owl_scan *q, const struct ptn *p, size_t table)
{
    if (p->table != table || strcmp(p->tenant, q->tenant) != 0)
        return 0;
    if (!q->partitions)
        return 1;
    for (size_t i = 0; i < q->npartitions; i++)
        if (!strcmp(q->partitions[i], p->name))
            return 1;
    return 0;
}

/* What one scan holds on to: references taken under the store mutex. */
struct snap_item {
    struct ptn *p;
    struct part_ref *part;
    struct memtable *mem;
    int64_t cutoff;
};

static int64_t retention_cutoff(const owl_schema *sc, const struct ptn *p, int64_t now_ms)
{
    if (p->retention_days <= 0)
        return INT64_MIN;
    return (now_ms / 1000 - (int64_t)p->retention_days * 86400) * sc->time_per_sec;
}

int owl_store_scan(owl_store *s, const owl_scan *q, owl_scan_stats *stats, owl_error *err)
{
    size_t t;
    if (find_table(s, q->table, &t) != OWL_OK)
        return owl_error_set(err, OWL_EINVAL, "no table named %s", q->table);
    const owl_schema *sc = s->schemas[t];
    if (q->ncols > OWL_MAX_COLS || !q->fn || !q->tenant)
        return owl_error_set(err, OWL_EINVAL, "bad scan request");
    for (size_t i = 0; i < q->ncols; i++)
        if (q->cols[i] >= sc->ncols)
            return owl_error_set(err, OWL_EINVAL, "column %zu out of range", q->cols[i]);
    for (size_t i = 0; i < q->npreds; i++)
        if (q->preds[i].col >= sc->ncols)
            return owl_error_set(err, OWL_EINVAL, "predicate column out of range");
    struct scan_ctx c = {.s = s, .q = q, .sc = sc, .st = stats, .start = q->start, .end = q->end};
    if (stats)
        memset(stats, 0, sizeof *stats);
    int seen[OWL_MAX_COLS] = {0};
    c.need[c.nneed++] = sc->time_col, seen[sc->time_col] = 1;
    for (size_t i = 0; i < q->ncols; i++)
        if (!seen[q->cols[i]])
            seen[q->cols[i]] = 1, c.need[c.nneed++] = q->cols[i];
    for (size_t i = 0; i < q->npreds; i++)
        if (!seen[q->preds[i].col])
            seen[q->preds[i].col] = 1, c.need[c.nneed++] = q->preds[i].col;

    struct snap_item *items = NULL;
    size_t nitems = 0, cap = 0;
    int rc = OWL_OK;
    int64_t now = owl_now_ms();
    int32_t d0 = day_of(sc, q->start > INT64_MIN ? q->start : INT64_MIN / 2);
    int32_t d1 = day_of(sc, q->end < INT64_MAX ? q->end - 1 : INT64_MAX / 2);
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nptns && rc == OWL_OK; i++) {
        struct ptn *p = s->ptns[i];
        if (!ptn_wanted(q, p, t))
            continue;
        int64_t cutoff = retention_cutoff(sc, p, now);
        for (size_t j = 0; j < p->ndays && rc == OWL_OK; j++) {
            struct day *d = p->days[j];
            if (d->last < d0 || d->day > d1)
                continue;
            size_t want = d->nparts + d->nmems;
            if (nitems + want > cap) {
                size_t ncap = (nitems + want) * 2 + 8;
                struct snap_item *grown = realloc(items, ncap * sizeof *grown);
                if (!grown) {
                    rc = OWL_ENOMEM;
                    break;
                }
                items = grown, cap = ncap;
            }
            for (size_t k = 0; k < d->nparts; k++) {
                if (d->parts[k]->dead || d->parts[k]->quarantine)
                    continue;
                d->parts[k]->refs++;
                items[nitems++] = (struct snap_item){p, d->parts[k], NULL, cutoff};
            }
            for (size_t k = 0; k < d->nmems; k++) {
                d->mems[k]->refs++;
                items[nitems++] = (struct snap_item){p, NULL, d->mems[k], cutoff};
            }
        }
    }
    pthread_mutex_unlock(&s->mu);

    owl_block_data bd;
    memset(&bd, 0, sizeof bd);
    size_t i = 0;
    for (; i < nitems && rc == OWL_OK; i++) {
        c.start = q->start > items[i].cutoff ? q->start : items[i].cutoff;
        if (items[i].part)
            rc = scan_part(&c, items[i].p, items[i].part, &bd, err);
        else
            rc = scan_mem(&c, items[i].p, items[i].mem);
    }
    owl_block_data_free(&bd);
    for (size_t k = 0; k < c.q->ncols; k++)
        free(c.out[k]);
    free(c.sel);
    free(c.keep);
    pthread_mutex_lock(&s->mu);
    for (size_t k = 0; k < nitems; k++)
        if (items[k].part)
            part_unref_locked(s, items[k].part);
        else if (--items[k].mem->refs == 0)
            mem_free(items[k].mem);
    pthread_mutex_unlock(&s->mu);
    free(items);
    if (rc == OWL_ENOMEM)
        owl_error_set(err, rc, "out of memory during scan");
    return rc;
}

/* ---------- retention ---------- */

static void retention_path(const struct ptn *p, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s/RETENTION", p->dir);
}

int owl_store_set_retention(owl_store *s, const char *table, const char *tenant,
                            const char *partition, int days, owl_error *err)
{
    size_t t;
    if (find_table(s, table, &t) != OWL_OK)
        return owl_error_set(err, OWL_EINVAL, "no table named %s", table);
    if (!valid_name(tenant) || !valid_name(partition) || days < 0 || days > 36500)
        return owl_error_set(err, OWL_EINVAL, "bad retention request (days 0..36500)");
    pthread_mutex_lock(&s->mu);
    struct ptn *p = get_ptn(s, t, tenant, partition);
    char path[4200], text[32];
    /* unchanged: nothing to write (RETENTION holds it already, or is absent for 0) */
    if (p && p->retention_days == days) {
        pthread_mutex_unlock(&s->mu);
        return OWL_OK;
    }
    int rc = p ? owl_mkdir_p(p->dir, 0700, err) : OWL_ENOMEM;
    if (rc == OWL_OK) {
        retention_path(p, path, sizeof path);
        int n = snprintf(text, sizeof text, "%d\n", days);
        rc = owl_write_file_atomic(path, text, (size_t)n, 0600, err);
    }
    if (rc == OWL_OK)
        p->retention_days = days;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void remove_day_locked(owl_store *s, struct ptn *p, size_t j)
{
    struct day *d = p->days[j];
    for (size_t k = 0; k < d->nparts; k++) {
        d->parts[k]->dead = 1;
        part_unref_locked(s, d->parts[k]);
    }
    for (size_t k = 0; k < d->nmems; k++)
        if (--d->mems[k]->refs == 0)
            mem_free(d->mems[k]);
    free(d->parts);
    free(d->mems);
    free(d);
    memmove(p->days + j, p->days + j + 1, (p->ndays - j - 1) * sizeof *p->days);
    p->ndays--;
}

int owl_store_retire(owl_store *s, int64_t now_ms, owl_error *err)
{
    char **dirs = NULL;
    size_t ndirs = 0;
    pthread_mutex_lock(&s->seal_mu);
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nptns; i++) {
        struct ptn *p = s->ptns[i];
        if (p->retention_days <= 0)
            continue;
        int32_t keep_from = (int32_t)(now_ms / 86400000) - p->retention_days;
        for (size_t j = 0; j < p->ndays;) {
            if (p->days[j]->last >= keep_from) {
                j++;
                continue;
            }
            char **grown = realloc(dirs, (ndirs + 1) * sizeof *grown);
            if (grown) {
                dirs = grown;
                dirs[ndirs++] = day_dir(p, p->days[j]->day, p->days[j]->last);
            }
            remove_day_locked(s, p, j);
        }
    }
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_unlock(&s->seal_mu);
    /* Files still read by a scan are unlinked when it ends; the directory goes with the
     * last of them (rmdir fails harmlessly until then and is retried at the next pass). */
    for (size_t i = 0; i < ndirs; i++) {
        if (dirs[i] && rmdir(dirs[i]) != 0 && errno != ENOENT && errno != ENOTEMPTY)
            owl_warn("store: rmdir %s: %s", dirs[i], strerror(errno));
        free(dirs[i]);
    }
    free(dirs);
    return advance_checkpoint(s, err);
}

/* ---------- compaction ---------- */

/* Reads every row of src (the caller holds a reference on each), sorts them by time and
 * writes them as one part at the path of unit d (sequence range first..last), then opens it
 * as *merged. Caller holds seal_mu, not mu. */
static int merge_write(owl_store *s, struct ptn *p, struct day *d, struct part_ref **src,
                       size_t nsrc, uint64_t first, uint64_t last, struct part_ref **merged,
                       owl_error *err)
{
    const owl_schema *sc = s->schemas[p->table];
    size_t total = 0, nblocks = 0;
    uint64_t max_lsn = 0;
    int level = 0;
    for (size_t i = 0; i < nsrc; i++) {
        const owl_part_meta *pm = owl_part_get_meta(src[i]->p);
        total += pm->rows;
        nblocks += pm->nblocks;
        if (pm->max_lsn > max_lsn)
            max_lsn = pm->max_lsn;
        if (src[i]->level > level)
            level = src[i]->level;
    }
    if (d->span)
        first = last = max_lsn;
    int rc = OWL_OK;
    owl_block_data *bd = calloc(nblocks, sizeof *bd);
    struct time_idx *ix = malloc(total * sizeof *ix);
    owl_cell *all = malloc(total * sc->ncols * sizeof *all);
    owl_cell *sorted = malloc(total * sc->ncols * sizeof *sorted);
    char *dir = day_dir(p, d->day, d->last);
    size_t cols[OWL_MAX_COLS];
    for (size_t c = 0; c < sc->ncols; c++)
        cols[c] = c;
    if (!bd || !ix || !all || !sorted || !dir) {
        rc = owl_error_set(err, OWL_ENOMEM, "out of memory merging %zu rows", total);
        goto out;
    }
    size_t row = 0, blk = 0;
    for (size_t i = 0; i < nsrc && rc == OWL_OK; i++) {
        const owl_part_meta *pm = owl_part_get_meta(src[i]->p);
        for (size_t k = 0; k < pm->nblocks && rc == OWL_OK; k++, blk++) {
            rc = owl_part_read_block(src[i]->p, k, cols, sc->ncols, &bd[blk], err);
            for (size_t r = 0; rc == OWL_OK && r < bd[blk].nrows; r++, row++)
                for (size_t c = 0; c < sc->ncols; c++)
                    all[c * total + row] = bd[blk].cells[c][r];
        }
    }
    if (rc != OWL_OK)
        goto out;
    for (size_t r = 0; r < total; r++)
        ix[r].t = all[sc->time_col * total + r].i, ix[r].i = r;
    qsort(ix, total, sizeof *ix, cmp_time_idx);
    owl_rows rows = {.nrows = total};
    for (size_t c = 0; c < sc->ncols; c++) {
        for (size_t r = 0; r < total; r++)
            sorted[c * total + r] = all[c * total + ix[r].i];
        rows.cols[c] = sorted + c * total;
    }
    char path[4096];
    part_path(p, d, first, last, level + 1, path, sizeof path);
    owl_part_info info = {sc->name, p->tenant, p->name, d->day, max_lsn, level + 1,
                          d->last - d->day + 1};
    if ((rc = owl_mkdir_p(dir, 0700, err)) == OWL_OK)
        rc = owl_part_write(path, sc, &info, &rows, s->opt.block_rows,
                            s->opt.compact_zstd_level, NULL, err);
    if (rc == OWL_OK && !(*merged = open_part_ref(path, sc, first, last, level + 1, err)))
        rc = OWL_EIO;
out:
    if (bd)
        for (size_t k = 0; k < nblocks; k++)
            owl_block_data_free(&bd[k]);
    free(bd), free(ix), free(all), free(sorted), free(dir);
    return rc;
}

/* Takes a reference on each of n parts (caller holds mu). */
static void ref_parts(struct part_ref **src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        src[i]->refs++;
}

static void unref_parts(owl_store *s, struct part_ref **src, size_t n)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < n; i++)
        part_unref_locked(s, src[i]);
    pthread_mutex_unlock(&s->mu);
}

/* Removes r from d's list (found by pointer: a scan may have quarantined it meanwhile), marks
 * it dead and drops d's reference. Returns the index it had, or SIZE_MAX. Caller holds mu. */
static size_t unlist_part_locked(owl_store *s, struct day *d, struct part_ref *r)
{
    for (size_t k = 0; k < d->nparts; k++) {
        if (d->parts[k] != r)
            continue;
        memmove(d->parts + k, d->parts + k + 1, (d->nparts - k - 1) * sizeof *d->parts);
        d->nparts--;
        r->dead = 1;
        part_unref_locked(s, r);
        return k;
    }
    return SIZE_MAX;
}

/* Inserts r at index at (clamped) of d's list; on failure r is dropped. Caller holds mu. */
static void insert_part_locked(owl_store *s, struct day *d, struct part_ref *r, size_t at)
{
    if (add_part_ref(d, r) != OWL_OK) {
        r->dead = 1;
        part_unref_locked(s, r);
        return;
    }
    if (at < d->nparts - 1) {
        memmove(d->parts + at + 1, d->parts + at, (d->nparts - 1 - at) * sizeof *d->parts);
        d->parts[at] = r;
    }
}

/* Merges the parts [a, b) of day d into one part (caller holds seal_mu). */
static int merge_parts(owl_store *s, struct ptn *p, struct day *d, size_t a, size_t b,
                       owl_error *err)
{
    size_t nsrc = b - a;
    struct part_ref **src = calloc(nsrc, sizeof *src), *merged = NULL;
    if (!src)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    pthread_mutex_lock(&s->mu);
    memcpy(src, d->parts + a, nsrc * sizeof *src);
    ref_parts(src, nsrc);
    pthread_mutex_unlock(&s->mu);
    int rc = merge_write(s, p, d, src, nsrc, src[0]->first, src[nsrc - 1]->last, &merged, err);
    if (rc == OWL_OK) {
        pthread_mutex_lock(&s->mu);
        /* the merged part takes the place of the first source, keeping the list in order */
        size_t at = SIZE_MAX;
        for (size_t i = 0; i < nsrc; i++) {
            size_t k = unlist_part_locked(s, d, src[i]);
            if (at == SIZE_MAX)
                at = k;
        }
        insert_part_locked(s, d, merged, at == SIZE_MAX ? d->nparts : at);
        s->compactions++;
        pthread_mutex_unlock(&s->mu);
    }
    unref_parts(s, src, nsrc);
    free(src);
    return rc;
}

/* Span compaction (invariant 5). A unit is a candidate when it is a cold day (no memtable,
 * at least SPAN_COLD_DAYS old, under SPAN_SMALL_BYTES) or a span under SPAN_TARGET_BYTES with
 * no other unit inside its days. Runs of candidates adjacent in day order merge into one
 * span while the run stays within SPAN_TARGET_BYTES, SPAN_MAX_ROWS and the partition's
 * width limit (a span is dropped only when its last day expires, so with retention R a span
 * covers at most R/4 days). */
#define SPAN_COLD_DAYS 2
#define SPAN_SMALL_BYTES ((uint64_t)2 << 20)
#define SPAN_TARGET_BYTES ((uint64_t)8 << 20)
#define SPAN_MAX_ROWS ((uint64_t)1 << 19)
#define SPAN_MAX_DAYS 366

static int cmp_unit(const void *a, const void *b)
{
    const struct day *x = *(struct day *const *)a, *y = *(struct day *const *)b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    return x->last > y->last ? -1 : x->last < y->last; /* a span before days inside it */
}

static uint64_t unit_bytes(const struct day *d, uint64_t *rows)
{
    uint64_t n = 0;
    for (size_t k = 0; k < d->nparts; k++) {
        const owl_part_meta *pm = owl_part_get_meta(d->parts[k]->p);
        n += pm->file_bytes;
        *rows += pm->rows;
    }
    return n;
}

/* Caller holds mu; units sorted (cmp_unit); i indexes u; bytes and rows are u[i]'s. */
static int span_candidate(struct day *const *u, size_t n, size_t i, uint64_t bytes,
                          uint64_t rows, int32_t today)
{
    const struct day *d = u[i];
    if (!d->nparts || d->nmems)
        return 0;
    for (size_t k = 0; k < d->nparts; k++)
        if (d->parts[k]->dead || d->parts[k]->quarantine)
            return 0;
    if (!d->span) {
        for (size_t j = 0; j < n; j++) /* a day inside a span stays a day */
            if (u[j]->span && u[j]->day <= d->day && d->day <= u[j]->last)
                return 0;
        return d->day <= today - SPAN_COLD_DAYS && bytes < SPAN_SMALL_BYTES;
    }
    /* a span half full is left alone, so spans are not rewritten again and again */
    return bytes < SPAN_TARGET_BYTES / 2 && rows < SPAN_MAX_ROWS / 2 &&
           (i + 1 == n || u[i + 1]->day > d->last);
}

/* Merges the units run[0..nrun) into one span (caller holds seal_mu). */
static int merge_span(owl_store *s, struct ptn *p, struct day **run, size_t nrun, owl_error *err)
{
    struct day span = {.day = run[0]->day, .span = 1};
    size_t nsrc = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < nrun; i++) {
        nsrc += run[i]->nparts;
        if (run[i]->last > span.last)
            span.last = run[i]->last;
    }
    struct part_ref **src = calloc(nsrc, sizeof *src), *merged = NULL;
    if (src) {
        size_t o = 0;
        for (size_t i = 0; i < nrun; i++)
            for (size_t k = 0; k < run[i]->nparts; k++)
                src[o++] = run[i]->parts[k];
        ref_parts(src, nsrc);
    }
    pthread_mutex_unlock(&s->mu);
    if (!src)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    int rc = merge_write(s, p, &span, src, nsrc, 0, 0, &merged, err);
    char **dirs = calloc(nrun, sizeof *dirs);
    if (rc == OWL_OK) {
        pthread_mutex_lock(&s->mu);
        struct day *d = add_unit(p, span.day, span.last);
        if (d) {
            d->sealed_lsn = owl_part_get_meta(merged->p)->max_lsn;
            insert_part_locked(s, d, merged, 0);
        } else {
            merged->dead = 1;
            part_unref_locked(s, merged);
            rc = owl_error_set(err, OWL_ENOMEM, "out of memory");
        }
        for (size_t i = 0; rc == OWL_OK && i < nrun; i++) {
            struct day *u = run[i];
            for (size_t k = 0; k < nsrc; k++)
                unlist_part_locked(s, u, src[k]);
            /* a day that took new rows meanwhile stays (its sealed_lsn still holds) */
            if (u->nparts || u->nmems)
                continue;
            for (size_t j = 0; j < p->ndays; j++)
                if (p->days[j] == u) {
                    if (dirs)
                        dirs[i] = day_dir(p, u->day, u->last);
                    remove_day_locked(s, p, j);
                    break;
                }
        }
        if (rc == OWL_OK)
            s->compactions++;
        pthread_mutex_unlock(&s->mu);
    }
    unref_parts(s, src, nsrc);
    /* empty now unless a scan still reads a file there; open removes it then */
    for (size_t i = 0; dirs && i < nrun; i++) {
        if (dirs[i])
            rmdir(dirs[i]);
        free(dirs[i]);
    }
    free(dirs);
    free(src);
    return rc;
}

/* Finds one run of span candidates in p and merges it; *merged = 1 when it did. */
static int span_pass(owl_store *s, struct ptn *p, int32_t today, int *merged, owl_error *err)
{
    *merged = 0;
    pthread_mutex_lock(&s->mu);
    size_t n = p->ndays;
    struct day **u = malloc((n ? n : 1) * sizeof *u), **run = malloc((n ? n : 1) * sizeof *run);
    if (!u || !run) {
        pthread_mutex_unlock(&s->mu);
        free(u), free(run);
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    }
    memcpy(u, p->days, n * sizeof *u);
    qsort(u, n, sizeof *u, cmp_unit);
    int32_t width = p->retention_days > 0 ? p->retention_days / 4 : SPAN_MAX_DAYS;
    if (width > SPAN_MAX_DAYS)
        width = SPAN_MAX_DAYS;
    size_t nrun = 0;
    uint64_t bytes = 0, rows = 0;
    for (size_t i = 0; i <= n; i++) {
        uint64_t r = 0, b = i < n ? unit_bytes(u[i], &r) : 0;
        int cand = i < n && span_candidate(u, n, i, b, r, today);
        if (cand && (nrun == 0 || (bytes + b <= SPAN_TARGET_BYTES && rows + r <= SPAN_MAX_ROWS &&
                                   u[i]->last - run[0]->day < width))) {
            run[nrun++] = u[i];
            bytes += b, rows += r;
            continue;
        }
        if (nrun >= 2)
            break;
        /* start again from u[i] when it can begin a run */
        nrun = 0, bytes = 0, rows = 0;
        if (cand) {
            run[nrun++] = u[i];
            bytes = b, rows = r;
        }
    }
    pthread_mutex_unlock(&s->mu);
    int rc = OWL_OK;
    if (nrun >= 2 && width >= 2) {
        rc = merge_span(s, p, run, nrun, err);
        *merged = rc == OWL_OK;
    }
    free(u), free(run);
    return rc;
}

int owl_store_compact(owl_store *s, owl_error *err)
{
    int rc = OWL_OK;
    int32_t today = (int32_t)(owl_now_ms() / 86400000);
    pthread_mutex_lock(&s->seal_mu);
    /* appends grow the partition and day arrays under mu: read them under it; the ptn and
     * day a pointer names stay, since only seal_mu holders free days */
    for (size_t i = 0; rc == OWL_OK; i++) {
        pthread_mutex_lock(&s->mu);
        struct ptn *p = i < s->nptns ? s->ptns[i] : NULL;
        pthread_mutex_unlock(&s->mu);
        if (!p)
            break;
        for (size_t j = 0; rc == OWL_OK; j++) {
            pthread_mutex_lock(&s->mu);
            struct day *d = j < p->ndays ? p->days[j] : NULL;
            if (!d || d->span) {
                pthread_mutex_unlock(&s->mu);
                if (!d)
                    break;
                continue;
            }
            /* a run of parts, oldest first, up to COMPACT_MAX_ROWS rows */
            size_t n = d->nparts, run = 0;
            uint64_t rows = 0;
            while (run < n) {
                uint64_t r = owl_part_get_meta(d->parts[run]->p)->rows;
                if (run >= 2 && rows + r > COMPACT_MAX_ROWS)
                    break;
                rows += r;
                run++;
            }
            pthread_mutex_unlock(&s->mu);
            if (n >= s->opt.compact_min_parts && run >= 2)
                rc = merge_parts(s, p, d, 0, run, err);
        }
        for (int merged = 1; merged && rc == OWL_OK;)
            rc = span_pass(s, p, today, &merged, err);
    }
    pthread_mutex_unlock(&s->seal_mu);
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
        if (seal_some(s, 0, &err) != OWL_OK)
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
    return x->last > y->last ? -1 : x->last < y->last; /* wider first */
}

/* Sorts d's parts and drops those inside another's range (merged before a crash). */
static void resolve_covered(struct day *d)
{
    if (d->nparts > 1)
        qsort(d->parts, d->nparts, sizeof *d->parts, cmp_part_first);
    size_t o = 0;
    uint64_t reach = 0;
    for (size_t i = 0; i < d->nparts; i++) {
        struct part_ref *r = d->parts[i];
        if (o && r->last <= reach) {
            owl_info("store: %s was merged into a larger part; removing it", r->path);
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
    if (!d && !(d = add_unit(p, day, last))) {
        closedir(dh);
        return OWL_ENOMEM;
    }
    struct dirent *e;
    while ((e = readdir(dh))) {
        char path[4096];
        size_t len = strlen(e->d_name);
        pathf(path, sizeof path, "%s/%s", ddir, e->d_name);
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
        struct part_ref *r = open_part_ref(path, sc, first, lastseq, level, &perr);
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
        if (add_part_ref(d, r) != OWL_OK) {
            owl_part_close(r->p);
            free(r->path);
            free(r);
            closedir(dh);
            return OWL_ENOMEM;
        }
    }
    closedir(dh);
    resolve_covered(d);
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
                unlist_part_locked(s, u, r);
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
        char *dir = day_dir(p, u->day, u->last);
        remove_day_locked(s, p, j);
        if (dir)
            rmdir(dir);
        free(dir);
    }
}

static int load_partition(owl_store *s, size_t t, const char *tenant, const char *name,
                          const char *pdir)
{
    pthread_mutex_lock(&s->mu);
    struct ptn *p = get_ptn(s, t, tenant, name);
    pthread_mutex_unlock(&s->mu);
    if (!p)
        return OWL_ENOMEM;
    char path[4200];
    retention_path(p, path, sizeof path);
    char *text = NULL;
    size_t n;
    if (owl_read_file(path, 64, &text, &n, NULL) == OWL_OK) {
        p->retention_days = atoi(text);
        free(text);
    }
    DIR *dh = opendir(pdir);
    if (!dh)
        return OWL_OK;
    struct dirent *e;
    int rc = OWL_OK;
    while (rc == OWL_OK && (e = readdir(dh))) {
        int32_t day, last;
        if (parse_day_name(e->d_name, &day) == 0)
            last = day;
        else if (parse_span_name(e->d_name, &day, &last) != 0)
            continue;
        pathf(path, sizeof path, "%s/%s", pdir, e->d_name);
        rc = load_day(s, p, path, day, last);
    }
    closedir(dh);
    if (rc == OWL_OK)
        resolve_spans(s, p);
    return rc;
}

/* Walks <table>/<tenant>/<partition>/ for every table. */
static int load_tables(owl_store *s)
{
    int rc = OWL_OK;
    for (size_t t = 0; t < s->nschemas && rc == OWL_OK; t++) {
        char tdir[4096];
        pathf(tdir, sizeof tdir, "%s/%s", s->dir, s->schemas[t]->name);
        DIR *th = opendir(tdir);
        if (!th)
            continue;
        struct dirent *te;
        while (rc == OWL_OK && (te = readdir(th))) {
            char tenant[NAME_MAX_LEN + 1], ndir[4096];
            if (te->d_name[0] == '.' || unescape_name(te->d_name, tenant, sizeof tenant))
                continue;
            pathf(ndir, sizeof ndir, "%s/%s", tdir, te->d_name);
            DIR *nh = opendir(ndir);
            if (!nh)
                continue;
            struct dirent *ne;
            while (rc == OWL_OK && (ne = readdir(nh))) {
                char name[NAME_MAX_LEN + 1], pdir[4200];
                if (ne->d_name[0] == '.' || unescape_name(ne->d_name, name, sizeof name))
                    continue;
                pathf(pdir, sizeof pdir, "%s/%s", ndir, ne->d_name);
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
    o->memtable_rows = 262144;
    o->memtable_bytes = 64u << 20;
    o->memtable_age_ms = 10000;
    o->block_rows = 8192;
    o->zstd_level = 3;
    o->compact_zstd_level = 9;
    o->compact_min_parts = 4;
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
    if (!schemas)
        schemas = owl_tables(&nschemas);
    s->schemas = schemas;
    s->nschemas = nschemas;
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
    if (!s->opt.compact_min_parts)
        s->opt.compact_min_parts = def.compact_min_parts;
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
    pathf(sub, sizeof sub, "%s/quarantine", dir);
    if ((rc = owl_mkdir_p(sub, 0700, err)) != OWL_OK)
        goto fail;
    if ((rc = load_tables(s)) != OWL_OK) {
        owl_error_set(err, rc, "loading parts failed: %s",
                      s->open_err.msg[0] ? s->open_err.msg : owl_strerror(rc));
        goto fail;
    }
    pathf(sub, sizeof sub, "%s/wal", dir);
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
    if (s->bg_running) {
        pthread_mutex_lock(&s->bg_mu);
        s->stopping = 1;
        pthread_cond_signal(&s->bg_cv);
        pthread_mutex_unlock(&s->bg_mu);
        pthread_join(s->bg, NULL);
    }
    if (s->wal) {
        owl_error err = {0};
        if (seal_some(s, 1, &err) != OWL_OK)
            owl_errorf("store: sealing at close failed (the WAL keeps the rows): %s", err.msg);
    }
    owl_wal_close(s->wal);
    for (size_t i = 0; i < s->nptns; i++) {
        struct ptn *p = s->ptns[i];
        while (p->ndays) {
            struct day *d = p->days[p->ndays - 1];
            for (size_t k = 0; k < d->nparts; k++)
                part_unref_locked(s, d->parts[k]);
            for (size_t k = 0; k < d->nmems; k++)
                if (--d->mems[k]->refs == 0)
                    mem_free(d->mems[k]);
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
        if (e->d_name[0] == '.' || pathf(path, sizeof path, "%s/%s", dir, e->d_name) != 0)
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
    pathf(wal, sizeof wal, "%s/wal", dir);
    if (stat(wal, &st) == 0)
        owl_wal_verify(wal, wal_report, &v, &records, NULL);
    if (v.bad)
        return owl_error_set(err, OWL_ECORRUPT, "%zu problem(s) in %zu part(s) and the WAL", v.bad,
                             v.parts);
    owl_error_set(err, OWL_OK, "%zu part(s) and %llu WAL record(s) check out", v.parts,
                  (unsigned long long)records);
    return OWL_OK;
}
