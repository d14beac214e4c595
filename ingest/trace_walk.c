/* trace_walk.c — every trace of a time window, handed whole to a callback as the filter
 * language's spans (owl_traces_walk): what service maps from traces, bottlenecks and root
 * causes read. One scan of the window (widened by WALK_MARGIN_NS on both sides, so a
 * trace's spans just outside it come too) decodes only the columns an analysis needs; rows
 * are grouped by trace and each group's tree built from span and parent ids. With a filter,
 * the columns it reads come too (owl_xf_reads: HTTP fields, attributes and resource) and
 * each trace's views are matched as a trace read whole would be.
 *
 * The scan is in cluster-key order (OWL_ORDER_CLUSTER): each batch says below which trace
 * key nothing more will come, and the traces under it are handed over at once. The rows
 * waiting are those of the blocks being read (a few per part) and the memtables', not the
 * window's: the buffer stays small and warm in the cache, however long the window.
 *
 * Names are interned once per walk (services and operations repeat), so a row costs its
 * fixed-size record and the strings are NUL-terminated for the views. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/hash.h"
#include "common/traceid.h"
#include "ingest/ingest.h"
#include "ingest/span_int.h"

#define WALK_MARGIN_NS (300LL * 1000000000LL) /* 5 minutes */

enum { C_TIME, C_KEY, C_TID, C_SID, C_PID, C_SVC, C_NAME, C_KIND, C_DUR, C_STATUS, C_MSG,
       C_PEER, C_PROG, C_ATTRS, C_METHOD, C_URL, C_UA, C_CIP, C_HSTATUS, C_RESOURCE, C_N };

/* The interned columns, each with its NEAR slots. */
enum { I_SVC, I_NAME, I_PEER, I_METHOD, I_UA, I_CIP, I_N };

/* Fields read only for a filter that tests them, beside the rows (same index). Values of
 * many distinct kinds (URLs, users, annotation values) are kept as text offsets (0 = none)
 * that live only as long as their row waits, not interned for the whole walk: a day of
 * unique URLs would otherwise be held to its end. */

/* A row's fields from its attributes and resource (owl_span_more_of): text offsets, and its
 * annotations, anns[ann .. ann + nann). */
typedef struct arow {
    uint32_t user, stype, az, inst, arn;
    uint32_t ann, nann;
} arow;

/* An annotation: its key's name id, a string value's text offset. */
typedef struct tann {
    uint32_t key, str;
    double num;
    uint8_t type, boolean;
} tann;

/* A row's HTTP fields: name ids, the URL a text offset. */
typedef struct hrow {
    uint32_t method, url, ua, cip;
    int32_t status;
} hrow;

typedef struct row {
    uint64_t key;
    uint8_t tid[16];
    uint64_t sid, pid;
    int64_t start, dur;
    const char *svc, *name; /* interned (NULL = none), as the views take them */
    uint32_t peer, msg, etype, emsg; /* name ids, 0 = none; unset in a lean walk's rows */
    uint8_t kind, status, prog;
} row;

/* A dictionary column's values repeat by address within a block: a value seen before in the
 * batch is known by its address and length. A block holds up to a few hundred distinct
 * operations, hence a slot table of this many (a power of two) per interned column. */
#define NEAR 1024

struct near {
    const void *p;
    const char *s; /* the value interned: names[id - 1], NULL for id 0 */
    uint32_t n, id, batch;
};

/* Rows the buffer holds before its waiting rows are moved to its front (and it grows when
 * they fill half of it): about 6 MB, a few blocks of each part. */
#define WORK_ROWS 65536

/* A run: rows [pos, end) of the buffer, in key order, not handed over yet. */
typedef struct run {
    size_t pos, end;
} run;

/* The merge's heap entry: a run's next key, held here so comparing costs no trip to the rows. */
typedef struct head {
    uint64_t key;
    uint32_t run;
} head;

/* A trace's span id table (views_of): the id beside its span's index, so a probe compares
 * without a trip to the row. A slot is empty unless its stamp is the trace's (the table is
 * not cleared between traces). */
struct idslot {
    uint64_t sid;
    uint32_t i, stamp;
};

typedef struct walk {
    row *rows;      /* a mapping of `bytes` (huge pages); cap rows of it in use */
    size_t n, cap, bytes;
    hrow *http;     /* NULL, or cap entries: rows[i]'s HTTP fields are http[i] */
    arow *more;     /* NULL, or cap entries: rows[i]'s other fields are more[i] */
    tann *anns;     /* the waiting rows' annotations */
    size_t nanns, capanns;
    char *text;     /* the waiting rows' strings, NUL-terminated; text[0] = "" for none */
    size_t ntext, captext;
    owl_xf_annotation *vann; /* scratch: a trace's annotations as views */
    size_t capvann;
    run *runs;
    head *heap;     /* capruns entries */
    size_t nruns, capruns;
    char **names; /* id - 1 */
    size_t nnames, capnames;
    uint32_t *tab; /* open addressing: name ids */
    uint64_t *tabh;
    size_t tabcap;
    int at[C_N];       /* each column's place in the scan's batches; -1: not read */
    struct near *near; /* per interned column, NEAR slots: ids of a batch's values */
    uint32_t batch;    /* the batch being taken, counted from 1: a slot of another is empty */
    /* where the traces go */
    owl_trace_walk *q;
    owl_trace_walk_fn fn;
    void *ud;
    owl_error *err;
    uint64_t epoch; /* the names live as long as this walk */
    arow *arow_at;  /* take_rows: the row whose annotations are being added */
    size_t max;     /* traces to hand over at most */
    const row **g;  /* scratch: one key's rows, their views, the span id table */
    owl_xf_span *v;
    struct idslot *slot;
    uint32_t stamp; /* the trace views_of is making: the slots holding it are taken */
    size_t gcap, vcap, scap;
    int lean;       /* no peer, status message or attribute columns: views without them */
    int rc;
} walk;

/* The id of p[0..n) (0 for an empty string), interned when new; 0 and rc set when out of
 * memory. */
static uint32_t intern(walk *w, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    uint64_t h = owl_hash64(p, n, 3);
    if (w->tabcap)
        for (size_t at = h & (w->tabcap - 1); w->tab[at]; at = (at + 1) & (w->tabcap - 1)) {
            const char *s = w->names[w->tab[at] - 1];
            if (w->tabh[at] == h && !memcmp(s, p, n) && s[n] == '\0')
                return w->tab[at];
        }
    if ((w->nnames + 1) * 2 > w->tabcap) {
        size_t cap = w->tabcap ? w->tabcap * 2 : 256;
        uint32_t *t = calloc(cap, sizeof *t);
        uint64_t *th = malloc(cap * sizeof *th);
        if (!t || !th) {
            free(t), free(th);
            w->rc = OWL_ENOMEM;
            return 0;
        }
        for (size_t i = 0; i < w->tabcap; i++)
            if (w->tab[i]) {
                size_t at = w->tabh[i] & (cap - 1);
                while (t[at])
                    at = (at + 1) & (cap - 1);
                t[at] = w->tab[i];
                th[at] = w->tabh[i];
            }
        free(w->tab), free(w->tabh);
        w->tab = t, w->tabh = th, w->tabcap = cap;
    }
    if (w->nnames == w->capnames) {
        size_t cap = w->capnames ? w->capnames * 2 : 256;
        char **v = realloc(w->names, cap * sizeof *v);
        if (!v) {
            w->rc = OWL_ENOMEM;
            return 0;
        }
        w->names = v, w->capnames = cap;
    }
    char *s = malloc(n + 1);
    if (!s) {
        w->rc = OWL_ENOMEM;
        return 0;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    w->names[w->nnames++] = s;
    size_t at = h & (w->tabcap - 1);
    while (w->tab[at])
        at = (at + 1) & (w->tabcap - 1);
    w->tab[at] = (uint32_t)w->nnames;
    w->tabh[at] = h;
    return (uint32_t)w->nnames;
}

/* intern_at's miss: the value interned and remembered in its slot e, which it returns (a
 * value too long for a slot: in e, as of no batch). */
static const struct near *intern_slot(walk *w, struct near *e, owl_bytes b)
{
    uint32_t id = intern(w, b.p, b.n);
    int keep = b.n <= UINT32_MAX;
    *e = (struct near){b.p, id ? w->names[id - 1] : NULL, keep ? (uint32_t)b.n : 0, id,
                       keep ? w->batch : 0};
    return e;
}

/* intern() through the batch's table of values by address: a dictionary-encoded column
 * hands out one address per distinct value of a block, so most rows skip the hash (and,
 * inline, the call: two are made a row). The value's slot: its id and its string. */
static inline __attribute__((always_inline)) const struct near *near_of(walk *w, int col,
                                                                       owl_bytes b)
{
    struct near *e = &w->near[col * NEAR + ((uintptr_t)b.p * 0x9e3779b97f4a7c15ull >> 54)];
    if (e->batch == w->batch && e->p == b.p && e->n == b.n)
        return e;
    return intern_slot(w, e, b);
}

static inline __attribute__((always_inline)) uint32_t intern_at(walk *w, int col, owl_bytes b)
{
    return near_of(w, col, b)->id;
}

static const char *name_at(char *const *names, uint32_t id)
{
    return id ? names[id - 1] : NULL;
}

static const char *name_of(const walk *w, uint32_t id)
{
    return name_at(w->names, id);
}

/* What failed a failed span, interned (owl_span_exception). */
static void exception_of(walk *w, row *r, owl_bytes attrs)
{
    owl_bytes type, msg;
    owl_span_exception(attrs, &type, &msg);
    r->etype = intern(w, type.p, type.n);
    r->emsg = intern(w, msg.p, msg.n);
}

static int cmp_row(const void *x, const void *y)
{
    const row *a = x, *b = y;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    int c = memcmp(a->tid, b->tid, 16);
    if (c)
        return c;
    return a->start < b->start ? -1 : a->start > b->start;
}

static int cmp_rowp(const void *x, const void *y)
{
    return cmp_row(*(const row *const *)x, *(const row *const *)y);
}

/* Sorts the rows from first on (a memtable batch) by cmp_row, their side fields (HTTP,
 * attributes) with them. */
static void sort_batch(walk *w, size_t first)
{
    size_t n = w->n - first;
    if (!w->http && !w->more) {
        qsort(w->rows + first, n, sizeof *w->rows, cmp_row);
        return;
    }
    /* rows carry their index while sorted, then the side fields follow it */
    const row **p = malloc(n * sizeof *p);
    row *r = malloc(n * sizeof *r);
    hrow *h = w->http ? malloc(n * sizeof *h) : NULL;
    arow *m = w->more ? malloc(n * sizeof *m) : NULL;
    if (!p || !r || (w->http && !h) || (w->more && !m)) {
        free(p), free(r), free(h), free(m);
        w->rc = OWL_ENOMEM;
        return;
    }
    for (size_t i = 0; i < n; i++)
        p[i] = &w->rows[first + i];
    qsort(p, n, sizeof *p, cmp_rowp);
    for (size_t i = 0; i < n; i++) {
        r[i] = *p[i];
        if (h)
            h[i] = w->http[p[i] - w->rows];
        if (m)
            m[i] = w->more[p[i] - w->rows];
    }
    memcpy(w->rows + first, r, n * sizeof *r);
    if (h)
        memcpy(w->http + first, h, n * sizeof *h);
    if (m)
        memcpy(w->more + first, m, n * sizeof *m);
    free(p), free(r), free(h), free(m);
}

/* The rows buffer, in huge pages where the kernel gives them on request (fewer faults and
 * TLB misses than 4 KiB pages), kept by the traces module between walks
 * (owl_traces_scratch_take). cap counts rows; mapped whole. */
#define HUGE_PAGE ((size_t)2 << 20)

static size_t rows_bytes(size_t cap)
{
    return (cap * sizeof(row) + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
}

/* The mapping *p of *bytes, of which used rows are filled, grown to hold cap rows;
 * OWL_ENOMEM (*p unchanged). */
static int rows_grow(row **p, size_t *bytes, size_t used, size_t cap)
{
    size_t want = rows_bytes(cap);
    if (*p && want <= *bytes)
        return OWL_OK;
    /* a new mapping and a copy, not mremap: ThreadSanitizer does not follow mremap and took
     * the old addresses, mapped again by another walk, for shared memory */
    void *q = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (q == MAP_FAILED)
        return OWL_ENOMEM;
    madvise(q, want, MADV_HUGEPAGE); /* a hint: without it, small pages */
    if (*p) {
        memcpy(q, *p, used * sizeof(row));
        munmap(*p, *bytes);
    }
    *p = q;
    *bytes = want;
    return OWL_OK;
}


/* The offset in w->text of a copy of p[0..n) (0 for none), or 0 with rc set when out of
 * memory. */
static uint32_t keep_text(walk *w, const void *p, size_t n)
{
    if (!n)
        return 0;
    if (!w->ntext)
        w->ntext = 1; /* offset 0 is "none" */
    if (w->ntext + n + 1 > w->captext) {
        size_t cap = w->captext ? w->captext : 1 << 16;
        while (cap < w->ntext + n + 1)
            cap *= 2;
        char *t = cap <= UINT32_MAX ? realloc(w->text, cap) : NULL;
        if (!t) {
            w->rc = OWL_ENOMEM;
            return 0;
        }
        w->text = t, w->captext = cap;
    }
    uint32_t at = (uint32_t)w->ntext;
    memcpy(w->text + at, p, n);
    w->text[at + n] = '\0';
    w->ntext += n + 1;
    return at;
}

static const char *text_of(const walk *w, uint32_t at)
{
    return at ? w->text + at : NULL;
}

/* After the waiting rows moved to the front: their strings and annotations copied into
 * fresh buffers (what the rows handed over held is dropped). */
static int rehome(walk *w)
{
    char *old = w->text;
    tann *olda = w->anns;
    size_t na = 0;
    for (size_t r = 0; w->more && r < w->n; r++)
        na += w->more[r].nann;
    w->text = NULL, w->ntext = w->captext = 0;
    w->anns = na ? malloc(na * sizeof *w->anns) : NULL;
    w->nanns = 0, w->capanns = na;
    if (na && !w->anns)
        w->rc = OWL_ENOMEM;
#define MOVE(off) ((off) ? keep_text(w, old + (off), strlen(old + (off))) : 0)
    for (size_t r = 0; r < w->n && !w->rc; r++) {
        if (w->http)
            w->http[r].url = MOVE(w->http[r].url);
        if (!w->more)
            continue;
        arow *m = &w->more[r];
        m->user = MOVE(m->user), m->stype = MOVE(m->stype), m->az = MOVE(m->az);
        m->inst = MOVE(m->inst), m->arn = MOVE(m->arn);
        for (uint32_t k = 0; k < m->nann && !w->rc; k++) {
            tann a = olda[m->ann + k];
            a.str = MOVE(a.str);
            w->anns[w->nanns + k] = a;
        }
        m->ann = (uint32_t)w->nanns;
        w->nanns += m->nann;
    }
#undef MOVE
    free(old);
    free(olda);
    return w->rc;
}

/* Moves the runs' waiting rows to the front of the buffer, then grows it (twice) until they
 * fill at most half of it and `more` rows fit after them. */
static int make_room(walk *w, size_t more)
{
    size_t o = 0, nr = 0;
    for (size_t i = 0; i < w->nruns; i++) {
        size_t len = w->runs[i].end - w->runs[i].pos;
        if (!len)
            continue;
        if (o != w->runs[i].pos) {
            memmove(w->rows + o, w->rows + w->runs[i].pos, len * sizeof *w->rows);
            if (w->http)
                memmove(w->http + o, w->http + w->runs[i].pos, len * sizeof *w->http);
            if (w->more)
                memmove(w->more + o, w->more + w->runs[i].pos, len * sizeof *w->more);
        }
        w->runs[nr++] = (run){o, o + len};
        o += len;
    }
    w->n = o, w->nruns = nr;
    if ((w->http || w->more) && rehome(w) != OWL_OK)
        return OWL_ENOMEM;
    size_t cap = w->cap ? w->cap : WORK_ROWS;
    while (cap < 2 * o || cap < o + more)
        cap *= 2;
    if (cap > w->cap) {
        if (rows_grow(&w->rows, &w->bytes, w->n, cap) != OWL_OK)
            return OWL_ENOMEM;
        if (w->http) {
            hrow *h = realloc(w->http, cap * sizeof *h);
            if (!h)
                return OWL_ENOMEM;
            w->http = h;
        }
        if (w->more) {
            arow *m = realloc(w->more, cap * sizeof *m);
            if (!m)
                return OWL_ENOMEM;
            w->more = m;
        }
        w->cap = cap;
    }
    return OWL_OK;
}

/* owl_span_annotations' callback: one annotation of w->arow_at (its key interned, a string
 * value kept as text). */
static int add_ann(void *ud, const owl_span_ann *a)
{
    walk *w = ud;
    if (w->nanns == w->capanns) {
        size_t cap = w->capanns ? w->capanns * 2 : 1024;
        tann *v = realloc(w->anns, cap * sizeof *v);
        if (!v)
            return w->rc = OWL_ENOMEM;
        w->anns = v, w->capanns = cap;
    }
    tann t = {.key = intern(w, a->key, a->key_n), .num = a->num, .type = (uint8_t)a->type,
              .boolean = (uint8_t)(a->boolean != 0)};
    if (a->type == OWL_XF_ASTR)
        t.str = keep_text(w, a->str, a->str_n);
    if (w->rc)
        return w->rc;
    w->anns[w->nanns++] = t;
    w->arow_at->nann++;
    return 0;
}

/* m: the attribute fields of a row with attributes attrs and resource res. */
static void more_of(walk *w, arow *m, owl_bytes attrs, owl_bytes res)
{
    owl_span_more x;
    owl_span_more_of(attrs, res, &x);
    m->user = keep_text(w, x.user.p, x.user.n);
    m->stype = keep_text(w, x.service_type.p, x.service_type.n);
    m->az = keep_text(w, x.az.p, x.az.n);
    m->inst = keep_text(w, x.instance_id.p, x.instance_id.n);
    m->arn = keep_text(w, x.arn.p, x.arn.n);
    m->ann = (uint32_t)w->nanns;
    m->nann = 0;
    w->arow_at = m;
    owl_span_annotations(attrs, add_ann, w);
}

static int drain(walk *w, uint64_t floor, int all);

static int take_rows(void *ud, const owl_batch *b)
{
    walk *w = ud;
    w->batch++; /* a batch's memory may be the last one's: the table's slots are stale */
    if (w->n + b->nrows > w->cap && make_room(w, b->nrows) != OWL_OK)
        return w->rc = OWL_ENOMEM;
    size_t first = w->n;
    /* the columns in locals: stores to the rows could alias the batch for the compiler */
#define COL(c) (w->at[c] < 0 ? NULL : b->cols[w->at[c]])
    const owl_cell *key = COL(C_KEY), *tid = COL(C_TID), *sid = COL(C_SID), *pid = COL(C_PID),
                   *time = COL(C_TIME), *dur = COL(C_DUR), *svc = COL(C_SVC),
                   *name = COL(C_NAME), *kind = COL(C_KIND), *status = COL(C_STATUS),
                   *prog = COL(C_PROG), *peer = COL(C_PEER), *msg = COL(C_MSG),
                   *attrs = COL(C_ATTRS), *method = COL(C_METHOD), *url = COL(C_URL),
                   *ua = COL(C_UA), *cip = COL(C_CIP), *hstatus = COL(C_HSTATUS),
                   *resource = COL(C_RESOURCE);
#undef COL
    /* a part's rows come in key order, a memtable's as they were appended: told as they are
     * copied, and sorted below */
    int sorted = 1;
    uint64_t prev = b->nrows ? key[0].u : 0;
    row *r = &w->rows[first];
    for (size_t i = 0; i < b->nrows; i++, r++) {
        r->key = key[i].u;
        sorted &= r->key >= prev;
        prev = r->key;
        memcpy(r->tid, tid[i].b.p, 16);
        memcpy(&r->sid, sid[i].b.p, 8);
        memcpy(&r->pid, pid[i].b.p, 8);
        r->start = time[i].i;
        r->dur = dur[i].i;
        r->svc = near_of(w, I_SVC, svc[i].b)->s;
        r->name = near_of(w, I_NAME, name[i].b)->s;
        r->kind = (uint8_t)kind[i].i;
        r->status = (uint8_t)status[i].i;
        r->prog = prog[i].i != 0;
    }
    if (!w->lean) /* the peer and what failed a failed span (a lean walk reads neither) */
        for (size_t i = 0; i < b->nrows; i++) {
            r = &w->rows[first + i];
            r->peer = intern_at(w, I_PEER, peer[i].b);
            r->msg = r->etype = r->emsg = 0;
            if (r->status != OWL_SPAN_OK) {
                r->msg = intern(w, msg[i].b.p, msg[i].b.n);
                if (attrs)
                    exception_of(w, r, attrs[i].b);
            }
        }
    if (w->http) /* the filter's HTTP fields, beside the rows */
        for (size_t i = 0; i < b->nrows; i++) {
            hrow *h = &w->http[first + i];
            h->method = intern_at(w, I_METHOD, method[i].b);
            h->url = keep_text(w, url[i].b.p, url[i].b.n);
            h->ua = intern_at(w, I_UA, ua[i].b);
            h->cip = intern_at(w, I_CIP, cip[i].b);
            int64_t st = hstatus[i].i;
            h->status = st < 0 || st > INT32_MAX ? 0 : (int32_t)st;
        }
    for (size_t i = 0; w->more && i < b->nrows; i++) /* the filter's attribute fields */
        more_of(w, &w->more[first + i], attrs[i].b, resource[i].b);
    w->n += b->nrows;
    if (w->rc)
        return w->rc;
    if (!sorted)
        sort_batch(w, first);
    if (first < w->n) {
        /* a batch in order carrying on from the last run's end extends it */
        run *last = w->nruns ? &w->runs[w->nruns - 1] : NULL;
        if (sorted && last && last->end == first && last->pos < first &&
            w->rows[first - 1].key <= w->rows[first].key) {
            last->end = w->n;
        } else {
            if (w->nruns == w->capruns) {
                size_t cap = w->capruns ? w->capruns * 2 : 64;
                run *v = realloc(w->runs, cap * sizeof *v);
                if (v)
                    w->runs = v;
                head *h = v ? realloc(w->heap, cap * sizeof *h) : NULL;
                if (!h)
                    return w->rc = OWL_ENOMEM;
                w->heap = h, w->capruns = cap;
            }
            w->runs[w->nruns++] = (run){first, w->n};
        }
    }
    return b->floor ? drain(w, b->floor, 0) : 0;
}

#define SEEN 1 /* seen_row's stop: not an owl error code */

/* A scan's callback that stops at the first row, setting *(int *)ud. */
static int seen_row(void *ud, const owl_batch *b)
{
    if (!b->nrows)
        return 0;
    *(int *)ud = 1;
    return SEEN;
}

/* Where a span id's probe starts in a table of cap (a power of two) slots: Fibonacci hashing,
 * the product's top bits (span ids are random, or counters, which it spreads as well). */
static size_t id_at(uint64_t sid, size_t cap)
{
    return (size_t)((sid * 0x9e3779b97f4a7c15ull) >> (64 - __builtin_ctzll(cap)));
}

/* The views of rows g[0..n) of one trace into v, parents by span id through slot[0..cap)
 * (cap a power of two >= 2n, scratch): a child naming an id two spans share (Zipkin's
 * client and server halves) goes under the server half, which goes under the client half.
 * Only the fields a row has are set: v's others are 0 from its allocation, never written. */
static int views_of(walk *w, const row *const *g, size_t n, owl_xf_span *v,
                    struct idslot *slot, size_t cap)
{
    uint32_t st = ++w->stamp;
    if (st == 0) { /* the stamps wrapped: no slot may keep an old one */
        memset(slot, 0, w->scap * sizeof *slot);
        st = w->stamp = 1;
    }
    size_t na = 0; /* the trace's annotations, as views in w->vann */
    for (size_t i = 0; w->more && i < n; i++)
        na += w->more[g[i] - w->rows].nann;
    if (na > w->capvann) {
        owl_xf_annotation *x = realloc(w->vann, na * sizeof *x);
        if (!x)
            return OWL_ENOMEM;
        w->vann = x, w->capvann = na;
    }
    /* in locals: the stores to the views could alias w's fields for the compiler */
    char *const *names = w->names;
    for (size_t i = 0; i < n; i++) {
        const row *r = g[i];
        owl_xf_span *x = &v[i];
        x->service = r->svc;
        x->name = r->name;
        x->kind = owl_span_view_kind(r->kind);
        x->start_ns = r->start;
        x->end_ns = r->start + r->dur;
        owl_span_view_flags(x, r->status, r->prog);
        x->parent = -1;
        /* the id's slot: a server half takes it over from a client half sharing the id */
        size_t at = id_at(r->sid, cap);
        for (; slot[at].stamp == st; at = (at + 1) & (cap - 1)) {
            if (slot[at].sid != r->sid)
                continue;
            const row *o = g[slot[at].i];
            if (r->kind == OWL_SPAN_SERVER && o->kind == OWL_SPAN_CLIENT && o->svc != r->svc) {
                v[i].parent = (int32_t)slot[at].i;
                slot[at].i = (uint32_t)i;
            } else if (o->kind == OWL_SPAN_SERVER && r->kind == OWL_SPAN_CLIENT &&
                       o->svc != r->svc) {
                v[slot[at].i].parent = (int32_t)i;
            }
            break;
        }
        if (slot[at].stamp != st)
            slot[at] = (struct idslot){r->sid, (uint32_t)i, st};
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t want = g[i]->pid;
        if (!want || v[i].parent >= 0)
            continue;
        for (size_t at = id_at(want, cap); slot[at].stamp == st; at = (at + 1) & (cap - 1))
            if (slot[at].sid == want) {
                if (slot[at].i != i)
                    v[i].parent = (int32_t)slot[at].i;
                break;
            }
    }
    /* the fields not every walk has, each in a loop of its own: tested once a trace, not
     * once a span */
    if (!w->lean) /* a lean walk's rows have none: the views keep their NULLs */
        for (size_t i = 0; i < n; i++) {
            const row *r = g[i];
            owl_xf_span *x = &v[i];
            x->remote_service = name_at(names, r->peer);
            x->exception_type = name_at(names, r->etype);
            x->exception_message = name_at(names, r->emsg ? r->emsg : r->msg);
        }
    const hrow *http = w->http;
    const arow *more = w->more;
    for (size_t i = 0; http && i < n; i++) {
        const hrow *h = &http[g[i] - w->rows];
        owl_xf_span *x = &v[i];
        x->http_method = name_of(w, h->method);
        x->http_url = text_of(w, h->url);
        x->http_useragent = name_of(w, h->ua);
        x->http_clientip = name_of(w, h->cip);
        x->http_status = h->status;
    }
    for (size_t i = 0, va = 0; more && i < n; i++) {
        const arow *m = &more[g[i] - w->rows];
        owl_xf_span *x = &v[i];
        x->user = text_of(w, m->user);
        x->service_type = text_of(w, m->stype);
        x->availability_zone = text_of(w, m->az);
        x->instance_id = text_of(w, m->inst);
        x->resource_arn = text_of(w, m->arn);
        x->annotations = m->nann ? w->vann + va : NULL;
        x->n_annotations = m->nann;
        for (uint32_t k = 0; k < m->nann; k++) {
            const tann *t = &w->anns[m->ann + k];
            w->vann[va++] = (owl_xf_annotation){
                .key = name_of(w, t->key), .type = (owl_xf_atype)t->type,
                .str = t->type == OWL_XF_ASTR ? (t->str ? w->text + t->str : "") : NULL,
                .num = t->num, .boolean = t->boolean};
        }
    }
    return OWL_OK;
}

/* ---- the merge of the runs by key, a trace at a time ---- */

static void sift_down(head *h, size_t n, size_t i)
{
    head x = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && h[c + 1].key < h[c].key)
            c++;
        if (h[c].key >= x.key)
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

static int same_tid(const row *a, const row *b)
{
    uint64_t a0, a1, b0, b1;
    memcpy(&a0, a->tid, 8), memcpy(&a1, a->tid + 8, 8);
    memcpy(&b0, b->tid, 8), memcpy(&b1, b->tid + 8, 8);
    return a0 == b0 && a1 == b1;
}

/* The rows of key `key`, the least of the runs in heap h[0..*n), into w->g: their count, or
 * OWL_ENOMEM; *same: they are all of one trace (not two traces' on a collision of their
 * keys), *first: their earliest start. A run's rows of one key are consecutive: each run
 * holding it hands them all over at once. */
static ptrdiff_t merge_group(walk *w, head *h, size_t *n, uint64_t key, int *same,
                             int64_t *first)
{
    const row *rows = w->rows;
    size_t k = 0;
    *same = 1;
    *first = INT64_MAX;
    while (*n && h[0].key == key) {
        run *r = &w->runs[h[0].run];
        size_t p = r->pos, e = r->end;
        for (; p < e && rows[p].key == key; p++) {
            if (k == w->gcap) {
                size_t c = w->gcap ? w->gcap * 2 : 256;
                const row **ng = realloc(w->g, c * sizeof *ng);
                if (!ng)
                    return OWL_ENOMEM;
                w->g = ng, w->gcap = c;
            }
            w->g[k++] = &rows[p];
            *same &= same_tid(&rows[p], w->g[0]);
            *first = rows[p].start < *first ? rows[p].start : *first;
        }
        r->pos = p;
        if (p == e)
            h[0] = h[--*n];
        else
            h[0].key = rows[p].key;
        if (*n)
            sift_down(h, *n, 0);
    }
    return (ptrdiff_t)k;
}

#define FULL 2 /* hand_over's stop when q->max_traces are handed over: not an owl error code */

/* Hands over the traces of one key's rows g[0..n) that start in the window: one trace when
 * `same` (then `first` is its earliest start), else two traces' or more on a collision of
 * their keys, told apart here. */
static int hand_over(walk *w, const row **g, size_t n, int same, int64_t first)
{
    owl_trace_walk *q = w->q;
    if (!same)
        qsort(g, n, sizeof *g, cmp_rowp);
    int rc = OWL_OK;
    for (size_t at = 0; rc == OWL_OK && at < n;) {
        size_t end = same ? n : at + 1;
        while (end < n && same_tid(g[end], g[at]))
            end++;
        const row *const *t = g + at;
        size_t tn = end - at;
        at = end;
        if (!same) {
            first = t[0]->start;
            for (size_t i = 1; i < tn; i++)
                first = t[i]->start < first ? t[i]->start : first;
        }
        if (first < q->start_ns || first >= q->end_ns) /* starts elsewhere */
            continue;
        if (q->traces == w->max) {
            q->truncated = 1;
            return FULL;
        }
        size_t cap = 16;
        while (cap < 2 * tn)
            cap *= 2;
        if (tn > w->vcap) {
            owl_xf_span *nv = realloc(w->v, tn * sizeof *nv);
            if (!nv)
                return owl_error_set(w->err, OWL_ENOMEM, "out of memory");
            /* views_of leaves the fields it does not set at 0 */
            memset(nv + w->vcap, 0, (tn - w->vcap) * sizeof *nv);
            w->v = nv, w->vcap = tn;
        }
        if (cap > w->scap) {
            struct idslot *ns = realloc(w->slot, cap * sizeof *ns);
            if (!ns)
                return owl_error_set(w->err, OWL_ENOMEM, "out of memory");
            memset(ns + w->scap, 0, (cap - w->scap) * sizeof *ns); /* no stamp: empty */
            w->slot = ns, w->scap = cap;
        }
        if (views_of(w, t, tn, w->v, w->slot, cap) != OWL_OK)
            return owl_error_set(w->err, OWL_ENOMEM, "out of memory");
        owl_xf_trace xt = {.spans = w->v, .n_spans = tn, .root = -1, .names_epoch = w->epoch};
        if (q->filter && !owl_xf_match(q->filter, &xt))
            continue;
        q->traces++;
        q->spans += tn;
        rc = w->fn(w->ud, &xt, t[0]->tid);
    }
    return rc;
}

/* Hands over, in key order, every waiting trace whose key is below floor (all of them when
 * `all`): no batch still to come holds one of their rows. */
static int drain(walk *w, uint64_t floor, int all)
{
    size_t n = 0;
    for (size_t i = 0; i < w->nruns; i++)
        if (w->runs[i].pos < w->runs[i].end)
            w->heap[n++] = (head){w->rows[w->runs[i].pos].key, (uint32_t)i};
    for (size_t i = n / 2; i-- > 0;)
        sift_down(w->heap, n, i);
    int rc = OWL_OK;
    while (rc == OWL_OK && n && (all || w->heap[0].key < floor)) {
        int same;
        int64_t first;
        ptrdiff_t k = merge_group(w, w->heap, &n, w->heap[0].key, &same, &first);
        rc = k < 0 ? owl_error_set(w->err, OWL_ENOMEM, "out of memory")
                   : hand_over(w, w->g, (size_t)k, same, first);
    }
    if (rc != OWL_OK)
        w->rc = rc;
    return rc;
}

/* The walk of the traces whose key is in part `part` of `nparts` equal ranges (nparts 1:
 * every trace); q's counts and flag are this part's. */
static int walk_part(owl_traces *tr, const char *tenant, owl_trace_walk *q, size_t part,
                     size_t nparts, owl_trace_walk_fn fn, void *ud, owl_error *err)
{
    q->traces = q->spans = 0;
    q->truncated = 0;
    walk w = {.near = calloc(I_N * NEAR, sizeof(struct near)),
              .q = q, .fn = fn, .ud = ud, .err = err,
              .epoch = owl_names_epoch(), .max = q->max_traces ? q->max_traces : 1000000};
    if (!w.near)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    /* the part's key range: [lo, hi), the last one closed at UINT64_MAX */
    uint64_t step = UINT64_MAX / nparts;
    uint64_t lo = (uint64_t)part * step;
    uint64_t hi = part + 1 == nparts ? UINT64_MAX : lo + step;
    owl_pred kp[2] = {
        {.col = OWL_SPANS_TRACE_KEY, .op = OWL_PRED_RANGE, .lo.u = lo, .hi.u = hi},
        {.col = OWL_SPANS_TRACE_KEY, .op = OWL_PRED_EQ, .lo.u = UINT64_MAX},
    };
    owl_filter kl[2] = {{.kind = OWL_FILTER_PRED, .pred = &kp[0]},
                        {.kind = OWL_FILTER_PRED, .pred = &kp[1]}};
    owl_filter range = {.kind = OWL_FILTER_OR, .kids = kl, .nkids = part + 1 == nparts ? 2 : 1};
    void *kept;
    size_t kept_bytes;
    owl_traces_scratch_take(tr, &kept, &kept_bytes);
    w.rows = kept;
    w.bytes = kept_bytes;
    w.cap = kept_bytes / sizeof(row) < WORK_ROWS ? kept_bytes / sizeof(row) : WORK_ROWS;
    static const size_t all[C_N] = {
        OWL_SPANS_TIME,     OWL_SPANS_TRACE_KEY, OWL_SPANS_TRACE_ID,    OWL_SPANS_SPAN_ID,
        OWL_SPANS_PARENT_ID, OWL_SPANS_SERVICE,  OWL_SPANS_NAME,        OWL_SPANS_KIND,
        OWL_SPANS_DURATION, OWL_SPANS_STATUS,    OWL_SPANS_STATUS_MSG,  OWL_SPANS_PEER_SERVICE,
        OWL_SPANS_IN_PROGRESS, OWL_SPANS_ATTRS, OWL_SPANS_HTTP_METHOD, OWL_SPANS_URL,
        OWL_SPANS_USER_AGENT, OWL_SPANS_CLIENT_IP, OWL_SPANS_HTTP_STATUS, OWL_SPANS_RESOURCE};
    /* a filter is tested on the walk's own views, which then hold what it reads: its HTTP
     * fields, what failed spans, users, types, zones, instances, ARNs and annotations (the
     * attributes and resource read and parsed) */
    unsigned reads = owl_xf_reads(q->filter);
    int http = (reads & OWL_XF_READS_HTTP) != 0, more = (reads & OWL_XF_READS_ATTRS) != 0;
    int exceptions = q->exceptions || (reads & OWL_XF_READS_EXCEPTIONS);
    int lean = q->lean && !q->filter;
    w.lean = lean;
    if ((http && !(w.http = malloc(WORK_ROWS * sizeof *w.http))) ||
        (more && !(w.more = malloc(WORK_ROWS * sizeof *w.more)))) {
        free(w.near), free(w.http);
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    }
    size_t cols[C_N], ncols = 0;
    for (int c = 0; c < C_N; c++) {
        int skip = (c == C_ATTRS && !exceptions && !more) ||
                   (lean && (c == C_PEER || c == C_MSG || c == C_ATTRS)) ||
                   (!http && c >= C_METHOD && c <= C_HSTATUS) || (!more && c == C_RESOURCE);
        w.at[c] = skip ? -1 : (int)ncols;
        if (!skip)
            cols[ncols++] = all[c];
    }
    const char *parts[] = {OWL_TRACES_PARTITION};
    owl_scan sq = {
        .table = "spans",
        .tenant = tenant,
        .partitions = parts,
        .npartitions = 1,
        .start = q->start_ns > INT64_MIN + WALK_MARGIN_NS ? q->start_ns - WALK_MARGIN_NS
                                                          : INT64_MIN,
        .end = q->end_ns < INT64_MAX - WALK_MARGIN_NS ? q->end_ns + WALK_MARGIN_NS : INT64_MAX,
        .cols = cols,
        .ncols = ncols,
        .fn = take_rows,
        .ud = &w,
        .filter = nparts > 1 ? &range : NULL,
        .order = OWL_ORDER_CLUSTER,
    };
    /* A trace starts in the window only if one of its spans does: a window without a span
     * of its own (a baseline before the data) has none, and the scan of its margins, which
     * would read every block of a day clustered by trace, is skipped. */
    int found = 0;
    owl_scan probe = sq;
    probe.start = q->start_ns;
    probe.end = q->end_ns;
    probe.ncols = 1;
    probe.fn = seen_row;
    probe.ud = &found;
    probe.limit = 1;
    probe.order = OWL_ORDER_NONE;
    int rc = owl_store_scan(owl_traces_store(tr), &probe, NULL, err);
    if (rc == SEEN)
        rc = OWL_OK;
    if (rc == OWL_OK && found)
        rc = owl_store_scan(owl_traces_store(tr), &sq, NULL, err);
    if (rc == OWL_OK)
        rc = drain(&w, UINT64_MAX, 1);
    if (rc == FULL)
        rc = OWL_OK;
    if (rc == OWL_ENOMEM)
        owl_error_set(err, rc, "out of memory");
    free(w.v);
    free(w.g);
    free(w.slot);
    free(w.runs);
    free(w.heap);
    for (size_t i = 0; i < w.nnames; i++)
        free(w.names[i]);
    free(w.names);
    free(w.tab);
    free(w.tabh);
    free(w.near);
    free(w.http);
    free(w.more);
    free(w.anns);
    free(w.text);
    free(w.vann);
    owl_traces_scratch_give(tr, w.rows, w.bytes);
    return rc;
}

int owl_traces_walk(owl_traces *tr, const char *tenant, owl_trace_walk *q, owl_trace_walk_fn fn,
                    void *ud, owl_error *err)
{
    if (q->end_ns <= q->start_ns)
        return owl_error_set(err, OWL_EINVAL, "the end of the range must be after its start");
    return walk_part(tr, tenant, q, 0, 1, fn, ud, err);
}

typedef struct part_job {
    owl_traces *tr;
    const char *tenant;
    owl_trace_walk q;
    size_t part, nparts;
    owl_trace_walk_fn fn;
    void *ud;
    owl_error err;
    int rc;
} part_job;

static void *part_thread(void *arg)
{
    part_job *j = arg;
    j->rc = walk_part(j->tr, j->tenant, &j->q, j->part, j->nparts, j->fn, j->ud, &j->err);
    return NULL;
}

int owl_traces_walk_split(owl_traces *tr, const char *tenant, owl_trace_walk *q, size_t nparts,
                          owl_trace_walk_fn fn, void *const *uds, owl_error *err)
{
    if (q->end_ns <= q->start_ns)
        return owl_error_set(err, OWL_EINVAL, "the end of the range must be after its start");
    if (nparts < 1 || nparts > OWL_WALK_PARTS_MAX)
        return owl_error_set(err, OWL_EINVAL, "1 to %d parts", OWL_WALK_PARTS_MAX);
    part_job job[OWL_WALK_PARTS_MAX];
    size_t max = q->max_traces ? q->max_traces : 1000000;
    for (size_t i = 0; i < nparts; i++) {
        job[i] = (part_job){.tr = tr, .tenant = tenant, .q = *q, .part = i, .nparts = nparts,
                            .fn = fn, .ud = uds[i]};
        job[i].q.max_traces = (max + nparts - 1) / nparts;
    }
    owl_run_parts(part_thread, job, sizeof *job, nparts);
    q->traces = q->spans = 0;
    q->truncated = 0;
    int rc = OWL_OK;
    for (size_t i = 0; i < nparts; i++) {
        q->traces += job[i].q.traces;
        q->spans += job[i].q.spans;
        q->truncated |= job[i].q.truncated;
        if (rc == OWL_OK && job[i].rc != OWL_OK) {
            rc = job[i].rc;
            if (err)
                *err = job[i].err;
        }
    }
    return rc;
}
