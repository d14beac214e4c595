/* xray_render.c — a stored trace as X-Ray segment documents (BatchGetTraces' Segments), the
 * inverse of xray.c's mapping (docs/api/xray.md "Documents"):
 *   - a segment per entry span: a root (no parent in the trace), a server or consumer span,
 *     or an OTLP / Zipkin span whose parent is of another service; every other span (client,
 *     producer, internal) is a subsegment nested in its parent's document, so an X-Ray
 *     document put with PutTraceSegments comes back with its tree;
 *   - a span decoded from X-Ray kept every member of its node but the ids, name, times and
 *     subsegments in attrs: they are written back as they were (error, fault, cause, http,
 *     aws, sql, annotations, metadata, namespace, origin, ...);
 *   - a span from OTLP or Zipkin (its attrs hold resource, attributes, zipkin, ...) gets the
 *     members X-Ray's own OpenTelemetry exporter writes: error / throttle / fault, http,
 *     namespace "remote" on client subsegments named after the service they call, and its
 *     attributes, resource and events under metadata.otel.
 * Segments name their service (X-Ray's rule); subsegments their operation. Times are epoch
 * seconds rounded to the microsecond. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/traceid.h"
#include "ingest/ingest.h"

/* Members that say a span did not come from an X-Ray document. */
static const char *const foreign_keys[] = {"resource", "scope",      "attributes", "events",
                                           "links",    "zipkin",     "trace_state", "flags",
                                           NULL};

static int is_foreign(const owl_span *s, const bson_t *attrs)
{
    bson_iter_t it;
    if (s->resource.n)
        return 1;
    for (size_t i = 0; foreign_keys[i]; i++)
        if (bson_iter_init_find(&it, attrs, foreign_keys[i]))
            return 1;
    return 0;
}

static int is_foreign_span(const owl_span *s)
{
    bson_t attrs;
    if (s->resource.n)
        return 1;
    return s->attrs.n >= 5 && bson_init_static(&attrs, s->attrs.p, s->attrs.n) &&
           is_foreign(s, &attrs);
}

static int same_bytes(owl_bytes a, owl_bytes b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

/* Whether span i starts a document of its own: a root, a server or consumer span, or a span
 * from OTLP / Zipkin whose parent is of another service (the callee's instrumentation made
 * no server span). An X-Ray subsegment stays in its parent's document whatever its service:
 * an independent subsegment has its origin (or unknown_service) as service, not its
 * segment's name, and X-Ray gives it back inside its segment. */
static int is_segment(const owl_trace *t, size_t i)
{
    const owl_span *s = &t->spans[i];
    if (t->parent[i] < 0 || s->kind == OWL_SPAN_SERVER || s->kind == OWL_SPAN_CONSUMER)
        return 1;
    return !same_bytes(s->service, t->spans[t->parent[i]].service) && is_foreign_span(s);
}

static int put_time(owl_buf *b, const char *name, int64_t ns)
{
    /* epoch seconds with microseconds, as the SDKs write them: rounded to the nearest, so a
     * time put as 1596566305.535414 (read as ...535413980 ns through a double) comes back
     * as it was */
    int64_t s = ns / 1000000000, frac = ns % 1000000000;
    if (frac < 0)
        s--, frac += 1000000000;
    int64_t us = (frac + 500) / 1000;
    if (us == 1000000)
        s++, us = 0;
    return owl_buf_printf(b, ",\"%s\":%" PRId64 ".%06" PRId64, name, s, us);
}

static int put_json_str(owl_buf *b, const char *name, owl_bytes v)
{
    int rc = owl_buf_printf(b, "%s\"%s\":", b->len && b->data[b->len - 1] != '{' ? "," : "",
                            name);
    return rc ? rc : owl_buf_json_str(b, v.n ? v.p : "", v.n);
}

/* The members X-Ray's exporter writes for a span that came from OTLP or Zipkin. */
static int put_foreign(owl_buf *b, const owl_span *s, const bson_t *attrs, int segment)
{
    int rc = OWL_OK;
    if (s->status == OWL_SPAN_FAULT)
        rc = owl_buf_puts(b, ",\"fault\":true");
    else if (s->status == OWL_SPAN_ERROR)
        rc = owl_buf_puts(b, ",\"error\":true");
    else if (s->status == OWL_SPAN_THROTTLE)
        rc = owl_buf_puts(b, ",\"error\":true,\"throttle\":true");
    if (!rc && !segment && s->kind == OWL_SPAN_CLIENT && s->peer_service.n)
        rc = owl_buf_puts(b, ",\"namespace\":\"remote\"");
    if (!rc && (s->http_method.n || s->url.n || s->user_agent.n || s->client_ip.n ||
                s->http_status)) {
        rc = owl_buf_puts(b, ",\"http\":{\"request\":{");
        if (!rc && s->http_method.n)
            rc = put_json_str(b, "method", s->http_method);
        if (!rc && (s->url.n || s->route.n))
            rc = put_json_str(b, "url", s->url.n ? s->url : s->route);
        if (!rc && s->user_agent.n)
            rc = put_json_str(b, "user_agent", s->user_agent);
        if (!rc && s->client_ip.n)
            rc = put_json_str(b, "client_ip", s->client_ip);
        rc = rc ? rc : owl_buf_putc(b, '}');
        if (!rc && s->http_status)
            rc = owl_buf_printf(b, ",\"response\":{\"status\":%d}", s->http_status);
        rc = rc ? rc : owl_buf_putc(b, '}');
    }
    if (!rc && s->status_message.n) {
        rc = owl_buf_puts(b, ",\"cause\":{\"exceptions\":[{\"message\":");
        rc = rc ? rc : owl_buf_json_str(b, s->status_message.p, s->status_message.n);
        rc = rc ? rc : owl_buf_puts(b, "}]}");
    }
    /* everything else under metadata.otel, the operation's name too on a segment */
    rc = rc ? rc : owl_buf_puts(b, ",\"metadata\":{\"otel\":{\"kind\":");
    rc = rc ? rc : owl_buf_json_str(b, owl_span_kind_name(s->kind),
                                    strlen(owl_span_kind_name(s->kind)));
    if (!rc && segment) {
        rc = owl_buf_puts(b, ",\"operation\":");
        rc = rc ? rc : owl_buf_json_str(b, s->name.n ? s->name.p : "", s->name.n);
    }
    bson_t res;
    if (!rc && s->resource.n >= 5 && bson_init_static(&res, s->resource.p, s->resource.n))
        rc = owl_aws_json_members(&res, b);
    if (!rc && !bson_empty(attrs))
        rc = owl_aws_json_members(attrs, b);
    return rc ? rc : owl_buf_puts(b, "}}");
}

/* Writes span i (and, nested, its subsegment descendants) as one JSON object. kids[first[i]
 * .. first[i + 1]) are i's children in tree order; seg[c] says child c is a segment. */
static int put_node(owl_buf *b, const owl_trace *t, size_t i, const size_t *first,
                    const size_t *kids, const char *seg, int depth)
{
    const owl_span *s = &t->spans[i];
    int segment = depth == 0;
    char id[OWL_SPANID_HEX_SIZE];
    owl_traceid_span_to_hex(s->span_id, id);
    int rc = owl_buf_printf(b, "{\"id\":\"%s\",\"name\":", id);
    /* X-Ray names a segment after its service, a remote subsegment after what it called */
    owl_bytes name = segment ? s->service
                     : s->kind == OWL_SPAN_CLIENT && s->peer_service.n ? s->peer_service
                                                                        : s->name;
    bson_t attrs;
    int have = s->attrs.n >= 5 && bson_init_static(&attrs, s->attrs.p, s->attrs.n);
    if (!have)
        bson_init(&attrs);
    int foreign = is_foreign(s, &attrs);
    if (!foreign)
        name = s->name; /* X-Ray's own names, as they were put */
    rc = rc ? rc : owl_buf_json_str(b, name.n ? name.p : "unknown", name.n ? name.n : 7);
    if (!rc && segment) {
        char xr[OWL_TRACEID_XRAY_SIZE];
        owl_traceid_to_xray(s->trace_id, xr);
        rc = owl_buf_printf(b, ",\"trace_id\":\"%s\"", xr);
        if (!rc && !owl_traceid_is_zero(s->parent_id, 8)) {
            char pid[OWL_SPANID_HEX_SIZE];
            owl_traceid_span_to_hex(s->parent_id, pid);
            rc = owl_buf_printf(b, ",\"parent_id\":\"%s\"", pid);
        }
    }
    rc = rc ? rc : put_time(b, "start_time", s->start_ns);
    if (!rc && s->in_progress)
        rc = owl_buf_puts(b, ",\"in_progress\":true");
    else if (!rc)
        rc = put_time(b, "end_time", s->start_ns + s->duration_ns);
    if (!rc)
        rc = foreign ? put_foreign(b, s, &attrs, segment)
                     : owl_aws_json_members(&attrs, b);
    /* subsegments: the children that are not segments of their own */
    int open = 0;
    for (size_t k = first[i]; k < first[i + 1] && !rc; k++) {
        size_t c = kids[k];
        if (seg[c])
            continue;
        rc = owl_buf_puts(b, open ? "," : ",\"subsegments\":[");
        open = 1;
        rc = rc ? rc : put_node(b, t, c, first, kids, seg, depth + 1);
    }
    if (!rc && open)
        rc = owl_buf_putc(b, ']');
    if (!have)
        bson_destroy(&attrs);
    return rc ? rc : owl_buf_putc(b, '}');
}

int owl_xray_render(const owl_trace *t, owl_buf *out, owl_xray_doc **docs, size_t *ndocs)
{
    size_t n = t->n;
    size_t *first = calloc(n + 1, sizeof *first), *kids = malloc((n ? n : 1) * sizeof *kids),
           *fill = malloc((n ? n : 1) * sizeof *fill);
    char *seg = malloc(n ? n : 1);
    owl_xray_doc *d = NULL;
    size_t nd = 0;
    int rc = first && kids && fill && seg ? OWL_OK : OWL_ENOMEM;
    /* children of each span, in tree order (spans are in tree order) */
    for (size_t i = 0; rc == OWL_OK && i < n; i++)
        if (t->parent[i] >= 0)
            first[t->parent[i] + 1]++;
    for (size_t i = 0; rc == OWL_OK && i < n; i++)
        first[i + 1] += first[i];
    if (rc == OWL_OK)
        memcpy(fill, first, n * sizeof *fill);
    for (size_t i = 0; rc == OWL_OK && i < n; i++)
        if (t->parent[i] >= 0)
            kids[fill[t->parent[i]]++] = i;
    size_t nseg = 0;
    for (size_t i = 0; rc == OWL_OK && i < n; i++)
        nseg += seg[i] = (char)is_segment(t, i);
    if (rc == OWL_OK && !(d = calloc(nseg ? nseg : 1, sizeof *d)))
        rc = OWL_ENOMEM;
    for (size_t i = 0; rc == OWL_OK && i < n; i++) {
        if (!seg[i])
            continue;
        owl_xray_doc *x = &d[nd++];
        owl_traceid_span_to_hex(t->spans[i].span_id, x->id);
        x->off = out->len;
        rc = put_node(out, t, i, first, kids, seg, 0);
        x->len = out->len - x->off;
    }
    free(first);
    free(kids);
    free(fill);
    free(seg);
    if (rc != OWL_OK) {
        free(d);
        return rc;
    }
    *docs = d;
    *ndocs = nd;
    return OWL_OK;
}
