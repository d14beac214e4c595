/* mfilter.h — private to ingest/: a compiled metric filter and the aggregation of matched
 * events into datapoints (mfilter.c). logs.c keeps the definitions and calls these on every
 * put, backfill and evidence request.
 *
 * A compiled filter is immutable once built and reference-counted: a group's cached set
 * holds one reference, a put in progress another, so a PutMetricFilter or DeleteMetricFilter
 * never frees a filter an ingest is still using. */
#ifndef OWL_INGEST_MFILTER_H
#define OWL_INGEST_MFILTER_H

#include "ingest/ingest.h"

typedef struct owl_mf {
    int refs;                  /* atomic */
    char id[48];               /* its record's id */
    int64_t created;
    char *name, *pattern, *mname, *mns, *mvalue, *unit; /* unit NULL: None */
    int has_default;
    double dflt;
    size_t ndims;
    char *dname[OWL_LOGS_MF_MAX_DIMS], *dref[OWL_LOGS_MF_MAX_DIMS];
    owl_fpat *pat;
    int value_is_ref;          /* 0: value_num for each match */
    double value_num;
} owl_mf;

/* owl_mf_new — checks def (owl_logs_mfilter_check), copies and compiles it into *out (refs
 * 1). OWL_EINVAL, OWL_ENOMEM. */
int owl_mf_new(const owl_logs_mfilter *def, const char *id, int64_t created, owl_mf **out,
               owl_error *err);
void owl_mf_ref(owl_mf *f);
void owl_mf_unref(owl_mf *f); /* frees at the last reference; accepts NULL */

/* owl_mf_view — f as a definition (views into f). */
void owl_mf_view(const owl_mf *f, owl_logs_mfilter *out);

/* owl_mf_doc / owl_mf_from_doc — the record of kind "log-metric-filter" (docs/storage.md):
 * {name, pattern, created, mname, mns, mvalue, unit?, dflt?, dims: [{n, v}]}. from_doc:
 * OWL_ECORRUPT for a record that does not read or check, OWL_ENOMEM. */
void owl_mf_doc(const owl_mf *f, bson_t *doc);
int owl_mf_from_doc(const bson_t *doc, const char *id, owl_mf **out, owl_error *err);

/* Datapoints being gathered: one statistic set per (filter, dimension values, minute). */
typedef struct owl_mf_agg owl_mf_agg;

/* owl_mf_agg_new — an empty aggregation for filters f[0..n) (referenced by the caller for
 * the aggregation's life). NULL when out of memory. */
owl_mf_agg *owl_mf_agg_new(owl_mf *const *f, size_t n);
void owl_mf_agg_free(owl_mf_agg *a); /* accepts NULL */

/* owl_mf_agg_event — runs one event through every filter; returns the number of filters
 * that matched it, or OWL_ENOMEM. A match whose value or a dimension value is absent or not
 * usable (a value that is not a number, an empty or over-long dimension value) adds nothing. */
int owl_mf_agg_event(owl_mf_agg *a, int64_t time_ms, const char *msg, size_t n);

/* owl_mf_agg_datums — the gathered datapoints, plus, for each filter with a default value,
 * one datapoint of that value in every minute that had events but no match of the filter.
 * Minutes too old or too new for owl_metrics_put as of now_ms are left out. *d (n entries)
 * points into a, valid until the next call on a. OWL_OK or OWL_ENOMEM. */
int owl_mf_agg_datums(owl_mf_agg *a, int64_t now_ms, const owl_datum **d, size_t *n);

#endif
