/* stats.c — SCAFFOLDING: replaced by the statistics (helper f-sketch). */
#include "analytics/analytics.h"
int owl_stat_parse(const char *s, owl_stat *out, owl_error *err) { return OWL_EUNSUPPORTED; }
int owl_stat_eval(const owl_stat *st, const owl_bucket *b, double *out) { return OWL_EUNSUPPORTED; }
