/* logs_schema.h — the `logs` table: one row per log event, partitioned by log group.
 * Defined here, below every module, so the offline tool (owl-store) and owld's logs
 * capability write the same columns. */
#ifndef OWL_LOGS_SCHEMA_H
#define OWL_LOGS_SCHEMA_H

#include "index/index.h"

enum owl_logs_col {
    OWL_LOGS_TIME = 0,        /* event time, ms (TIME) */
    OWL_LOGS_INGEST_TIME = 1, /* when owl received it, ms (I64) */
    OWL_LOGS_STREAM = 2,      /* log stream name (DICT) */
    OWL_LOGS_MESSAGE = 3,     /* the message bytes (STR, token blooms) */
    OWL_LOGS_SEVERITY = 4,    /* "INFO", "ERROR", ... or "" (DICT) */
    OWL_LOGS_TRACE_ID = 5,    /* 16 bytes, zero when none (ID16, value blooms) */
    OWL_LOGS_SPAN_ID = 6,     /* 8 bytes, zero when none (ID8) */
    OWL_LOGS_ATTRS = 7,       /* attributes as a BSON document, empty when none (BSON) */
    OWL_LOGS_NCOLS = 8,
};

extern const owl_schema owl_logs_schema;

/* A growable batch of log rows in the table's column layout. */
typedef struct owl_logs_batch {
    size_t nrows, cap;
    owl_cell *cells[OWL_LOGS_NCOLS];
    owl_buf bytes;  /* message and stream bytes; cells hold offsets until owl_logs_batch_rows */
    owl_rows rows;
} owl_logs_batch;

void owl_logs_batch_init(owl_logs_batch *b);

/* owl_logs_batch_add — appends one event (copies the bytes). OWL_OK or OWL_ENOMEM. */
int owl_logs_batch_add(owl_logs_batch *b, int64_t time_ms, int64_t ingest_ms, const char *stream,
                       const char *msg, size_t n);

/* owl_logs_batch_rows — the batch as owl_rows (valid until the next reset/free). It turns
 * the rows' byte offsets into pointers in place, so call it once per filled batch, then
 * reset: adding after it, or calling it again, is not allowed. */
const owl_rows *owl_logs_batch_rows(owl_logs_batch *b);

void owl_logs_batch_reset(owl_logs_batch *b);
void owl_logs_batch_free(owl_logs_batch *b);

#endif
