/* logs_schema.c — the logs table's columns and a batch builder for them. Byte values are
 * kept as offsets into one buffer while the batch grows (the buffer moves when it grows)
 * and turned into pointers by owl_logs_batch_rows. */
#include "index/logs_schema.h"

#include <stdlib.h>
#include <string.h>

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

static const unsigned char zero_id[16];

void owl_logs_batch_init(owl_logs_batch *b)
{
    memset(b, 0, sizeof *b);
}

int owl_logs_batch_add(owl_logs_batch *b, int64_t time_ms, int64_t ingest_ms, const char *stream,
                       const char *msg, size_t n)
{
    if (b->nrows == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 1024;
        for (int c = 0; c < OWL_LOGS_NCOLS; c++) {
            owl_cell *p = realloc(b->cells[c], cap * sizeof *p);
            if (!p)
                return OWL_ENOMEM;
            b->cells[c] = p;
        }
        b->cap = cap;
    }
    size_t slen = strlen(stream);
    size_t at = b->bytes.len;
    if (owl_buf_append(&b->bytes, msg, n) != OWL_OK ||
        owl_buf_append(&b->bytes, stream, slen) != OWL_OK)
        return OWL_ENOMEM;
    size_t r = b->nrows++;
    b->cells[OWL_LOGS_TIME][r].i = time_ms;
    b->cells[OWL_LOGS_INGEST_TIME][r].i = ingest_ms;
    b->cells[OWL_LOGS_MESSAGE][r].b = (owl_bytes){(const void *)(uintptr_t)at, n};
    b->cells[OWL_LOGS_STREAM][r].b = (owl_bytes){(const void *)(uintptr_t)(at + n), slen};
    b->cells[OWL_LOGS_SEVERITY][r].b = (owl_bytes){"", 0};
    b->cells[OWL_LOGS_TRACE_ID][r].b = (owl_bytes){zero_id, 16};
    b->cells[OWL_LOGS_SPAN_ID][r].b = (owl_bytes){zero_id, 8};
    b->cells[OWL_LOGS_ATTRS][r].b = (owl_bytes){"", 0};
    return OWL_OK;
}

const owl_rows *owl_logs_batch_rows(owl_logs_batch *b)
{
    static const int offset_cols[] = {OWL_LOGS_MESSAGE, OWL_LOGS_STREAM};
    for (size_t k = 0; k < 2; k++) {
        owl_cell *col = b->cells[offset_cols[k]];
        for (size_t r = 0; r < b->nrows; r++)
            col[r].b.p = b->bytes.data + (uintptr_t)col[r].b.p;
    }
    memset(&b->rows, 0, sizeof b->rows);
    b->rows.nrows = b->nrows;
    for (int c = 0; c < OWL_LOGS_NCOLS; c++)
        b->rows.cols[c] = b->cells[c];
    return &b->rows;
}

void owl_logs_batch_reset(owl_logs_batch *b)
{
    b->nrows = 0;
    owl_buf_reset(&b->bytes);
}

void owl_logs_batch_free(owl_logs_batch *b)
{
    for (int c = 0; c < OWL_LOGS_NCOLS; c++)
        free(b->cells[c]);
    owl_buf_free(&b->bytes);
    memset(b, 0, sizeof *b);
}
