/* sketch.c — SCAFFOLDING: replaced by the relative-error sketch (helper f-sketch). */
#include <stdlib.h>
#include "analytics/analytics.h"
owl_sketch *owl_sketch_new(void) { return NULL; }
void owl_sketch_free(owl_sketch *s) { (void)s; }
int owl_sketch_add(owl_sketch *s, double v, double w) { return OWL_EUNSUPPORTED; }
int owl_sketch_merge(owl_sketch *dst, const owl_sketch *src) { return OWL_EUNSUPPORTED; }
double owl_sketch_count(const owl_sketch *s) { return 0; }
int owl_sketch_quantile(const owl_sketch *s, double q, double *out) { return OWL_EUNSUPPORTED; }
double owl_sketch_rank(const owl_sketch *s, double v) { return 0; }
void owl_sketch_visit(const owl_sketch *s, void (*fn)(void *ud, double v, double w), void *ud) {}
int owl_sketch_encode(const owl_sketch *s, owl_buf *out) { return OWL_EUNSUPPORTED; }
int owl_sketch_decode(const void *p, size_t n, owl_sketch **out) { return OWL_EUNSUPPORTED; }
