/* span_int.h — what ingest/'s span decoders (otlp_traces.c, zipkin.c) share beyond the record
 * and the status rule of ingest.h: the route taken from a URL when nothing better names it,
 * so every way in derives it alike (docs/otlp.md, docs/api/traces-ingest.md). */
#ifndef OWL_INGEST_SPAN_INT_H
#define OWL_INGEST_SPAN_INT_H

#include <stddef.h>

/* owl_span_url_path — the path of the NUL-terminated URL s: after "scheme://authority", up to
 * '?' or '#' (*len bytes from the returned pointer, which points into s), "/" when the URL
 * has none; NULL when s is not an absolute URL. Cannot fail otherwise. */
const char *owl_span_url_path(const char *s, size_t *len);

#endif
