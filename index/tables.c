/* tables.c — the table registry (every table's schema, in one place for owld, owl-store and
 * the tests) and the schema-driven row builder. A new table is a column enum in index.h, a
 * coldef array and schema here, and a line in `registry`.
 * Row builder invariant: cells of byte columns hold offsets into rb->bytes (which moves as it
 * grows), or DEFAULT_OFF for the column's static default; owl_rowbuf_rows turns them into
 * pointers in the separate view arrays, so it can be called again after more rows. */
#include <stdlib.h>
#include <string.h>

#include "index/index.h"
#include "index/tables.h"

static const owl_coldef logs_cols[OWL_LOGS_NCOLS] = {
    [OWL_LOGS_TIME] = {"time", OWL_TYPE_TIME, 0},
    [OWL_LOGS_INGEST_TIME] = {"ingest_time", OWL_TYPE_I64, 0},
    [OWL_LOGS_STREAM] = {"stream", OWL_TYPE_DICT, 0},
    [OWL_LOGS_MESSAGE] = {"message", OWL_TYPE_STR, OWL_COL_TOKENS},
    [OWL_LOGS_SEVERITY] = {"severity", OWL_TYPE_DICT, 0},
    [OWL_LOGS_TRACE_ID] = {"trace_id", OWL_TYPE_ID16, OWL_COL_BLOOM},
    [OWL_LOGS_SPAN_ID] = {"span_id", OWL_TYPE_ID8, 0},
    [OWL_LOGS_ATTRS] = {"attrs", OWL_TYPE_BSON, 0},
};

const owl_schema owl_logs_schema = {
    .name = "logs",
    .cols = logs_cols,
    .ncols = OWL_LOGS_NCOLS,
    .time_col = OWL_LOGS_TIME,
    .time_per_sec = 1000,
};

static const owl_coldef audit_cols[OWL_AUDIT_NCOLS] = {
    [OWL_AUDIT_TIME] = {"time", OWL_TYPE_TIME, 0},
    [OWL_AUDIT_KEY_ID] = {"key_id", OWL_TYPE_DICT, 0},
    [OWL_AUDIT_SOURCE] = {"source", OWL_TYPE_DICT, 0},
    [OWL_AUDIT_USER_AGENT] = {"user_agent", OWL_TYPE_DICT, 0},
    [OWL_AUDIT_ACTION] = {"action", OWL_TYPE_DICT, 0},
    [OWL_AUDIT_RESOURCE] = {"resource", OWL_TYPE_STR, 0},
    [OWL_AUDIT_STATUS] = {"status", OWL_TYPE_I64, 0},
    [OWL_AUDIT_ERROR_CODE] = {"error_code", OWL_TYPE_DICT, 0},
    [OWL_AUDIT_REQUEST_ID] = {"request_id", OWL_TYPE_STR, OWL_COL_BLOOM},
    [OWL_AUDIT_DURATION_US] = {"duration_us", OWL_TYPE_I64, 0},
    [OWL_AUDIT_COUNT] = {"count", OWL_TYPE_I64, 0}, /* added after v1: reads as 0 in old parts */
};

const owl_schema owl_audit_schema = {
    .name = "audit",
    .cols = audit_cols,
    .ncols = OWL_AUDIT_NCOLS,
    .time_col = OWL_AUDIT_TIME,
    .time_per_sec = 1000,
};

static const owl_coldef metrics_cols[OWL_METRICS_NCOLS] = {
    [OWL_METRICS_TIME] = {"time", OWL_TYPE_TIME, 0},
    [OWL_METRICS_SERIES] = {"series", OWL_TYPE_U64, OWL_COL_CLUSTER},
    [OWL_METRICS_UNIT] = {"unit", OWL_TYPE_DICT, 0},
    [OWL_METRICS_RES] = {"res", OWL_TYPE_I64, 0},
    [OWL_METRICS_COUNT] = {"count", OWL_TYPE_F64, 0},
    [OWL_METRICS_SUM] = {"sum", OWL_TYPE_F64, 0},
    [OWL_METRICS_MIN] = {"min", OWL_TYPE_F64, 0},
    [OWL_METRICS_MAX] = {"max", OWL_TYPE_F64, 0},
    [OWL_METRICS_SKETCH] = {"sketch", OWL_TYPE_STR, 0},
    [OWL_METRICS_FLAGS] = {"flags", OWL_TYPE_I64, 0},
};

const owl_schema owl_metrics_schema = {
    .name = "metrics",
    .cols = metrics_cols,
    .ncols = OWL_METRICS_NCOLS,
    .time_col = OWL_METRICS_TIME,
    .time_per_sec = 1000,
};

static const owl_coldef spans_cols[OWL_SPANS_NCOLS] = {
    [OWL_SPANS_TIME] = {"time", OWL_TYPE_TIME, OWL_COL_FAST},
    [OWL_SPANS_TRACE_KEY] = {"trace_key", OWL_TYPE_U64, OWL_COL_CLUSTER},
    [OWL_SPANS_TRACE_ID] = {"trace_id", OWL_TYPE_ID16, OWL_COL_BLOOM},
    [OWL_SPANS_SPAN_ID] = {"span_id", OWL_TYPE_ID8, 0},
    [OWL_SPANS_PARENT_ID] = {"parent_id", OWL_TYPE_ID8, 0, 1 + OWL_SPANS_SPAN_ID},
    [OWL_SPANS_SERVICE] = {"service", OWL_TYPE_DICT, 0},
    [OWL_SPANS_NAME] = {"name", OWL_TYPE_DICT, 0},
    [OWL_SPANS_KIND] = {"kind", OWL_TYPE_I64, 0},
    [OWL_SPANS_DURATION] = {"duration", OWL_TYPE_I64, OWL_COL_FAST},
    [OWL_SPANS_STATUS] = {"status", OWL_TYPE_I64, 0},
    [OWL_SPANS_STATUS_CODE] = {"status_code", OWL_TYPE_I64, 0},
    [OWL_SPANS_STATUS_MSG] = {"status_message", OWL_TYPE_STR, 0},
    [OWL_SPANS_HTTP_METHOD] = {"http_method", OWL_TYPE_DICT, 0},
    [OWL_SPANS_ROUTE] = {"route", OWL_TYPE_DICT, 0},
    [OWL_SPANS_URL] = {"url", OWL_TYPE_STR, 0},
    [OWL_SPANS_HTTP_STATUS] = {"http_status", OWL_TYPE_I64, 0},
    [OWL_SPANS_PEER_SERVICE] = {"peer_service", OWL_TYPE_DICT, 0},
    [OWL_SPANS_USER_AGENT] = {"user_agent", OWL_TYPE_DICT, 0},
    [OWL_SPANS_CLIENT_IP] = {"client_ip", OWL_TYPE_DICT, 0},
    [OWL_SPANS_IN_PROGRESS] = {"in_progress", OWL_TYPE_I64, 0},
    [OWL_SPANS_ATTRS] = {"attrs", OWL_TYPE_BSON, 0},
    [OWL_SPANS_RESOURCE] = {"resource", OWL_TYPE_BSON, 0},
};

const owl_schema owl_spans_schema = {
    .name = "spans",
    .cols = spans_cols,
    .ncols = OWL_SPANS_NCOLS,
    .time_col = OWL_SPANS_TIME,
    .time_per_sec = 1000000000,
};

/* Every table of the store. Later capabilities (metrics, spans) add a line. */
static const owl_schema *const registry[] = {
    &owl_logs_schema,
    &owl_audit_schema,
    &owl_metrics_schema,
    &owl_spans_schema,
};

const owl_schema *const *owl_tables(size_t *n)
{
    *n = sizeof registry / sizeof registry[0];
    return registry;
}

const owl_schema *owl_table_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof registry / sizeof registry[0]; i++)
        if (!strcmp(registry[i]->name, name))
            return registry[i];
    return NULL;
}

int owl_schema_col(const owl_schema *sc, const char *name, size_t *idx)
{
    for (size_t c = 0; sc && name && c < sc->ncols; c++)
        if (!strcmp(sc->cols[c].name, name)) {
            *idx = c;
            return OWL_OK;
        }
    return OWL_ENOTFOUND;
}

/* The columns of version 1 WAL records, as owl wrote them until WAL records named their
 * columns (version 2). Frozen: do not edit when a table changes. */
static const owl_coldef logs_v1[] = {
    {"time", OWL_TYPE_TIME, 0, 0},   {"ingest_time", OWL_TYPE_I64, 0, 0},
    {"stream", OWL_TYPE_DICT, 0, 0}, {"message", OWL_TYPE_STR, 0, 0},
    {"severity", OWL_TYPE_DICT, 0, 0}, {"trace_id", OWL_TYPE_ID16, 0, 0},
    {"span_id", OWL_TYPE_ID8, 0, 0}, {"attrs", OWL_TYPE_BSON, 0, 0},
};
static const owl_coldef audit_v1[] = {
    {"time", OWL_TYPE_TIME, 0, 0},      {"key_id", OWL_TYPE_DICT, 0, 0},
    {"source", OWL_TYPE_DICT, 0, 0},    {"user_agent", OWL_TYPE_DICT, 0, 0},
    {"action", OWL_TYPE_DICT, 0, 0},    {"resource", OWL_TYPE_STR, 0, 0},
    {"status", OWL_TYPE_I64, 0, 0},     {"error_code", OWL_TYPE_DICT, 0, 0},
    {"request_id", OWL_TYPE_STR, 0, 0}, {"duration_us", OWL_TYPE_I64, 0, 0},
};
static const struct {
    const char *table;
    const owl_coldef *cols;
    size_t n;
} v1_layouts[] = {
    {"logs", logs_v1, sizeof logs_v1 / sizeof logs_v1[0]},
    {"audit", audit_v1, sizeof audit_v1 / sizeof audit_v1[0]},
};

const owl_coldef *owl_table_v1_cols(const char *name, size_t *n)
{
    for (size_t i = 0; i < sizeof v1_layouts / sizeof v1_layouts[0]; i++)
        if (!strcmp(v1_layouts[i].table, name)) {
            *n = v1_layouts[i].n;
            return v1_layouts[i].cols;
        }
    return NULL;
}

static const unsigned char zero_id[16];

owl_cell owl_col_default(enum owl_type t)
{
    owl_cell v;
    memset(&v, 0, sizeof v);
    switch (t) {
    case OWL_TYPE_ID8:
        v.b = (owl_bytes){zero_id, 8};
        break;
    case OWL_TYPE_ID16:
        v.b = (owl_bytes){zero_id, 16};
        break;
    case OWL_TYPE_DICT:
    case OWL_TYPE_STR:
    case OWL_TYPE_BSON:
        v.b = (owl_bytes){"", 0};
        break;
    default: /* numbers and TIME: the zeroed union */
        break;
    }
    return v;
}

/* ---- the row builder ---- */

#define DEFAULT_OFF ((uintptr_t)-1)

static int is_bytes(enum owl_type t)
{
    return t == OWL_TYPE_DICT || t == OWL_TYPE_STR || t == OWL_TYPE_BSON || t == OWL_TYPE_ID8 ||
           t == OWL_TYPE_ID16;
}

void owl_rowbuf_init(owl_rowbuf *rb, const owl_schema *schema)
{
    memset(rb, 0, sizeof *rb);
    rb->schema = schema;
    for (size_t c = 0; c < schema->ncols && c < OWL_MAX_COLS; c++) {
        rb->dflt[c] = owl_col_default(schema->cols[c].type);
        if (is_bytes(schema->cols[c].type))
            rb->dflt[c].b.p = (const void *)DEFAULT_OFF;
    }
}

static int grow(owl_rowbuf *rb)
{
    const owl_schema *sc = rb->schema;
    size_t cap = rb->cap ? 2 * rb->cap : 64;
    for (size_t c = 0; c < sc->ncols; c++) {
        owl_cell *p = realloc(rb->cells[c], cap * sizeof *p);
        if (!p)
            return OWL_ENOMEM;
        rb->cells[c] = p;
        if (!is_bytes(sc->cols[c].type))
            continue;
        /* the view grows with the cells so that owl_rowbuf_rows never allocates */
        if (!(p = realloc(rb->view[c], cap * sizeof *p)))
            return OWL_ENOMEM;
        rb->view[c] = p;
    }
    rb->cap = cap;
    return OWL_OK;
}

int owl_rowbuf_begin_row(owl_rowbuf *rb)
{
    const owl_schema *sc = rb->schema;
    if (rb->in_row)
        return OWL_EINVAL;
    if (rb->nrows == rb->cap && grow(rb) != OWL_OK)
        return OWL_ENOMEM;
    for (size_t c = 0; c < sc->ncols; c++)
        rb->cells[c][rb->nrows] = rb->dflt[c];
    rb->in_row = 1;
    return OWL_OK;
}

/* The cell of column col in the begun row when the column's type is one of a or b. */
static owl_cell *settable(owl_rowbuf *rb, size_t col, enum owl_type a, enum owl_type b)
{
    if (!rb->in_row || col >= rb->schema->ncols)
        return NULL;
    enum owl_type t = rb->schema->cols[col].type;
    return t == a || t == b ? &rb->cells[col][rb->nrows] : NULL;
}

int owl_rowbuf_set_i64(owl_rowbuf *rb, size_t col, int64_t v)
{
    owl_cell *c = settable(rb, col, OWL_TYPE_TIME, OWL_TYPE_I64);
    if (!c)
        return OWL_EINVAL;
    c->i = v;
    return OWL_OK;
}

int owl_rowbuf_set_u64(owl_rowbuf *rb, size_t col, uint64_t v)
{
    owl_cell *c = settable(rb, col, OWL_TYPE_U64, OWL_TYPE_U64);
    if (!c)
        return OWL_EINVAL;
    c->u = v;
    return OWL_OK;
}

int owl_rowbuf_set_f64(owl_rowbuf *rb, size_t col, double v)
{
    owl_cell *c = settable(rb, col, OWL_TYPE_F64, OWL_TYPE_F64);
    if (!c)
        return OWL_EINVAL;
    c->f = v;
    return OWL_OK;
}

int owl_rowbuf_set_bytes(owl_rowbuf *rb, size_t col, const void *p, size_t n)
{
    if (!rb->in_row || col >= rb->schema->ncols || (n && !p))
        return OWL_EINVAL;
    enum owl_type t = rb->schema->cols[col].type;
    size_t w = t == OWL_TYPE_ID8 ? 8 : t == OWL_TYPE_ID16 ? 16 : 0;
    if (!is_bytes(t) || (w && n != w))
        return OWL_EINVAL;
    size_t at = rb->bytes.len;
    if (n && owl_buf_append(&rb->bytes, p, n) != OWL_OK)
        return OWL_ENOMEM;
    rb->cells[col][rb->nrows].b = (owl_bytes){(const void *)(uintptr_t)at, n};
    return OWL_OK;
}

int owl_rowbuf_set_named(owl_rowbuf *rb, const char *name, const owl_cell *v)
{
    size_t c;
    if (owl_schema_col(rb->schema, name, &c) != OWL_OK)
        return OWL_ENOTFOUND;
    switch (rb->schema->cols[c].type) {
    case OWL_TYPE_TIME:
    case OWL_TYPE_I64:
        return owl_rowbuf_set_i64(rb, c, v->i);
    case OWL_TYPE_U64:
        return owl_rowbuf_set_u64(rb, c, v->u);
    case OWL_TYPE_F64:
        return owl_rowbuf_set_f64(rb, c, v->f);
    default:
        return owl_rowbuf_set_bytes(rb, c, v->b.p, v->b.n);
    }
}

int owl_rowbuf_end_row(owl_rowbuf *rb)
{
    if (!rb->in_row)
        return OWL_EINVAL;
    rb->in_row = 0;
    rb->nrows++;
    return OWL_OK;
}

const owl_rows *owl_rowbuf_rows(owl_rowbuf *rb)
{
    const owl_schema *sc = rb->schema;
    memset(&rb->rows, 0, sizeof rb->rows);
    rb->rows.nrows = rb->nrows;
    for (size_t c = 0; c < sc->ncols; c++) {
        enum owl_type t = sc->cols[c].type;
        if (!is_bytes(t)) {
            rb->rows.cols[c] = rb->cells[c];
            continue;
        }
        owl_cell def = owl_col_default(t);
        for (size_t r = 0; r < rb->nrows; r++) {
            owl_bytes b = rb->cells[c][r].b;
            uintptr_t off = (uintptr_t)b.p;
            /* an empty value may sit at the end of a still-empty buffer (data NULL) */
            rb->view[c][r].b = off == DEFAULT_OFF ? def.b
                               : b.n             ? (owl_bytes){rb->bytes.data + off, b.n}
                                                 : (owl_bytes){"", 0};
        }
        rb->rows.cols[c] = rb->view[c];
    }
    return &rb->rows;
}

void owl_rowbuf_reset(owl_rowbuf *rb)
{
    rb->nrows = 0;
    rb->in_row = 0;
    owl_buf_reset(&rb->bytes);
}

void owl_rowbuf_free(owl_rowbuf *rb)
{
    if (!rb)
        return;
    for (size_t c = 0; c < OWL_MAX_COLS; c++) {
        free(rb->cells[c]);
        free(rb->view[c]);
    }
    owl_buf_free(&rb->bytes);
    const owl_schema *sc = rb->schema;
    owl_rowbuf_init(rb, sc);
}
