/* mexpr.c — SCAFFOLDING: replaced by metric math (helper f-mexpr). */
#include <stdlib.h>
#include "analytics/analytics.h"
void owl_ts_list_free(owl_ts_list *l) { (void)l; }
int owl_mexpr_parse(const char *text, owl_mexpr **out, size_t *pos, owl_error *err) { return OWL_EUNSUPPORTED; }
void owl_mexpr_free(owl_mexpr *e) { (void)e; }
void owl_mexpr_refs(const owl_mexpr *e, void (*fn)(void *ud, const char *id), void *ud) {}
int owl_mexpr_eval(const owl_mexpr *e, const owl_mexpr_env *env, owl_ts_list *out, owl_error *err) { return OWL_EUNSUPPORTED; }
