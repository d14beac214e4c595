/* test_xray_render.c — a trace as X-Ray segment documents (ingest/xray_render.c): every X-Ray
 * sample document of $OWL_TEST_DATA/xray the decoder keeps goes decode -> owl_trace (built
 * here as owl_traces_get would give it) -> render -> decode again, and gives the same records
 * (ids, parents, services, names, kinds, flags, HTTP fields, attrs; times to the
 * microsecond); an OTLP trace of three services comes out as X-Ray's exporter writes it
 * (segments per entry span and per change of service, remote client subsegments, flags, http,
 * cause, metadata.otel) and reads back as X-Ray; times round to the microsecond;
 * in-progress spans. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/traceid.h"
#include "ingest/ingest.h"

#define MAX 100000

static int bytes_eq(owl_bytes a, owl_bytes b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

/* t over spans[0..n) with each span's parent found by its parent_id, as owl_traces_get
 * builds it (the decoders give a parent before its subsegments, so this is tree order). */
static void trace_of(owl_span *spans, size_t n, owl_trace *t)
{
    memset(t, 0, sizeof *t);
    t->spans = spans;
    t->n = n;
    t->parent = malloc((n ? n : 1) * sizeof *t->parent);
    t->depth = calloc(n ? n : 1, sizeof *t->depth);
    cr_assert(t->parent && t->depth);
    if (n)
        memcpy(t->id, spans[0].trace_id, 16);
    for (size_t i = 0; i < n; i++) {
        t->parent[i] = -1;
        for (size_t j = 0; j < n; j++)
            if (j != i && !memcmp(spans[j].span_id, spans[i].parent_id, 8) &&
                !memcmp(spans[j].trace_id, spans[i].trace_id, 16))
                t->parent[i] = (int32_t)j;
        cr_assert(t->parent[i] < (int32_t)i, "span %zu comes before its parent", i);
        t->depth[i] = t->parent[i] < 0 ? 0 : t->depth[t->parent[i]] + 1;
    }
}

static void trace_done(owl_trace *t)
{
    free(t->parent);
    free(t->depth);
}

/* Renders t; *body is a PutTraceSegments body of its documents (free it), *out the rendered
 * documents (owl_buf_free it), docs (free it) where each is. */
static void render(const owl_trace *t, owl_buf *out, owl_xray_doc **docs, size_t *nd,
                   char **body)
{
    *out = (owl_buf)OWL_BUF_INIT;
    cr_assert_eq(owl_xray_render(t, out, docs, nd), OWL_OK);
    owl_buf b = OWL_BUF_INIT;
    owl_buf_puts(&b, "{\"TraceSegmentDocuments\":[");
    for (size_t i = 0; i < *nd; i++) {
        if (i)
            owl_buf_putc(&b, ',');
        owl_buf_json_str(&b, out->data + (*docs)[i].off, (*docs)[i].len);
    }
    owl_buf_puts(&b, "]}");
    *body = owl_buf_steal(&b);
}

static void decode_body(const char *body, owl_xray_decoded *x)
{
    owl_error err = {0};
    memset(x, 0, sizeof *x);
    cr_assert_eq(owl_xray_decode_docs(body, strlen(body), MAX, x, &err), OWL_OK, "%s",
                 err.msg);
    cr_assert_eq(x->spans.rejected, 0, "a rendered document was refused: %s (%s)",
                 x->spans.message, body);
}

static char *attrs_json(const owl_span *s)
{
    bson_t doc;
    if (!s->attrs.n)
        return strdup("{}");
    cr_assert(bson_init_static(&doc, s->attrs.p, s->attrs.n));
    char *j = bson_as_relaxed_extended_json(&doc, NULL);
    char *r = strdup(j);
    bson_free(j);
    return r;
}

static int64_t us_of(int64_t ns)
{
    return (ns + 500) / 1000;
}

#define SAME(f) cr_assert(bytes_eq(a->f, b->f), "%s span %s: " #f " \"%.*s\" came back as " \
                          "\"%.*s\"", what, id, (int)a->f.n, (const char *)a->f.p, \
                          (int)b->f.n, (const char *)b->f.p)
#define SAME_INT(f) cr_assert_eq((long long)a->f, (long long)b->f, \
                                 "%s span %s: " #f " %lld came back as %lld", what, id, \
                                 (long long)a->f, (long long)b->f)

/* Every record of want has one in got with the same span id and the same content. */
static void same_records(const char *what, const owl_span_decoded *want,
                         const owl_span_decoded *got)
{
    cr_assert_eq(got->n, want->n, "%s: %zu records came back, %zu were put", what, got->n,
                 want->n);
    for (size_t i = 0; i < want->n; i++) {
        const owl_span *a = &want->spans[i], *b = NULL;
        char id[OWL_SPANID_HEX_SIZE];
        owl_traceid_span_to_hex(a->span_id, id);
        for (size_t j = 0; j < got->n && !b; j++)
            if (!memcmp(got->spans[j].span_id, a->span_id, 8))
                b = &got->spans[j];
        cr_assert(b, "%s: span %s did not come back", what, id);
        cr_assert(!memcmp(a->trace_id, b->trace_id, 16), "%s span %s: trace id", what, id);
        cr_assert(!memcmp(a->parent_id, b->parent_id, 8), "%s span %s: parent id", what, id);
        SAME(service);
        SAME(name);
        SAME(status_message);
        SAME(http_method);
        SAME(route);
        SAME(url);
        SAME(peer_service);
        SAME(user_agent);
        SAME(client_ip);
        SAME_INT(kind);
        SAME_INT(status);
        SAME_INT(status_code);
        SAME_INT(http_status);
        SAME_INT(in_progress);
        cr_assert_eq(us_of(a->start_ns), us_of(b->start_ns), "%s span %s: start %lld, back %lld",
                     what, id, (long long)a->start_ns, (long long)b->start_ns);
        cr_assert_eq(us_of(a->start_ns + a->duration_ns), us_of(b->start_ns + b->duration_ns),
                     "%s span %s: end", what, id);
        char *ja = attrs_json(a), *jb = attrs_json(b);
        cr_assert_str_eq(ja, jb, "%s span %s: attrs", what, id);
        free(ja);
        free(jb);
    }
}

/* ---- the X-Ray samples round trip ---- */

static char *data_dir(void)
{
    const char *data = getenv("OWL_TEST_DATA"), *src = getenv("OWL_SRCDIR");
    char path[1024];
    if (data && *data)
        snprintf(path, sizeof path, "%s/xray", data);
    else
        snprintf(path, sizeof path, "%s/../shared/data/xray", src && *src ? src : "..");
    return strdup(path);
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)len + 1);
    cr_assert(p && fread(p, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    p[len] = 0;
    *n = (size_t)len;
    return p;
}

/* One sample (an X-Ray daemon datagram) through the round trip; 1 when the decoder kept it. */
static int round_trip(const char *dir, const char *file)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    size_t n;
    char *raw = slurp(path, &n);
    owl_xray_decoded first = {0}, again;
    owl_error err = {0};
    cr_assert_eq(owl_xray_decode_datagram(raw, n, MAX, &first, &err), OWL_OK, "%s: %s", file,
                 err.msg);
    free(raw);
    if (first.spans.n == 0) {
        owl_xray_decoded_free(&first);
        return 0;
    }
    owl_trace t;
    trace_of(first.spans.spans, first.spans.n, &t);
    owl_buf out;
    owl_xray_doc *docs;
    size_t nd;
    char *body;
    render(&t, &out, &docs, &nd, &body);
    cr_assert_eq(nd, 1, "%s: one document put, %zu rendered", file, nd);
    decode_body(body, &again);
    same_records(file, &first.spans, &again.spans);
    char id[OWL_SPANID_HEX_SIZE];
    owl_traceid_span_to_hex(first.spans.spans[0].span_id, id);
    cr_assert_str_eq(docs[0].id, id, "%s: the document's Id is its segment's", file);
    owl_xray_decoded_free(&again);
    free(body);
    free(docs);
    owl_buf_free(&out);
    trace_done(&t);
    owl_xray_decoded_free(&first);
    return 1;
}

Test(xray_render, samples_round_trip)
{
    char *dir = data_dir();
    DIR *d = opendir(dir);
    if (!d) {
        char why[512];
        snprintf(why, sizeof why, "X-Ray samples not found: %s (set OWL_TEST_DATA)", dir);
        free(dir);
        cr_skip_test("%s", why);
    }
    int kept = 0, ddb = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".txt"))
            continue;
        int k = round_trip(dir, e->d_name);
        kept += k;
        ddb += k && !strcmp(e->d_name, "ddbSample.txt");
    }
    closedir(d);
    free(dir);
    cr_assert_eq(ddb, 1, "ddbSample.txt went round");
    cr_assert_geq(kept, 5, "only %d samples kept", kept);
}

/* ddbSample's tree: the rendered document nests the 17 subsegments as they were put, the
 * faulted DynamoDB PutItem call (the second aws subsegment) with its cause. */
Test(xray_render, ddb_sample_tree)
{
    char *dir = data_dir(), path[1200];
    snprintf(path, sizeof path, "%s/ddbSample.txt", dir);
    free(dir);
    FILE *f = fopen(path, "rb");
    if (!f)
        cr_skip_test("%s not found (set OWL_TEST_DATA)", path);
    fclose(f);
    size_t n;
    char *raw = slurp(path, &n);
    owl_xray_decoded x = {0};
    owl_error err = {0};
    cr_assert_eq(owl_xray_decode_datagram(raw, n, MAX, &x, &err), OWL_OK, "%s", err.msg);
    free(raw);
    cr_assert_eq(x.spans.n, 18);
    owl_trace t;
    trace_of(x.spans.spans, x.spans.n, &t);
    owl_buf out;
    owl_xray_doc *docs;
    size_t nd;
    char *body;
    render(&t, &out, &docs, &nd, &body);
    bson_error_t be;
    bson_t *doc = bson_new_from_json((const uint8_t *)out.data + docs[0].off,
                                     (ssize_t)docs[0].len, &be);
    cr_assert(doc, "the document is JSON: %s", be.message);
    bson_iter_t it, v;
    const struct {
        const char *path, *want;
    } strs[] = {
        {"name", "DDB"},
        {"trace_id", "1-5f29ab21-d4ebf299219a65bd5c31d6da"},
        {"subsegments.0.name", "DDB.DescribeExistingTableAndPutToMissingTable"},
        {"subsegments.0.subsegments.1.name", "dynamodb"},
        {"subsegments.0.subsegments.1.namespace", "aws"},
        {"subsegments.0.subsegments.1.aws.operation", "PutItem"},
        {"subsegments.0.subsegments.1.aws.table_name", "does_not_exist"},
        {"subsegments.0.subsegments.1.subsegments.1.name", "attempt"},
        {"subsegments.0.subsegments.0.subsegments.1.subsegments.0.subsegments.2.name", "tls"},
    };
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) {
        cr_assert(bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, strs[i].path, &v) &&
                      BSON_ITER_HOLDS_UTF8(&v),
                  "%s absent", strs[i].path);
        cr_assert_str_eq(bson_iter_utf8(&v, NULL), strs[i].want, "%s", strs[i].path);
    }
    const char *faults[] = {"fault", "subsegments.0.fault", "subsegments.0.subsegments.1.fault",
                            "subsegments.0.subsegments.1.subsegments.1.fault"};
    for (size_t i = 0; i < sizeof faults / sizeof *faults; i++)
        cr_assert(bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, faults[i], &v) &&
                      BSON_ITER_HOLDS_BOOL(&v) && bson_iter_bool(&v),
                  "%s is not true", faults[i]);
    cr_assert(bson_iter_init(&it, doc) &&
              bson_iter_find_descendant(&it, "subsegments.0.subsegments.1.cause.exceptions.0",
                                        &v),
              "the PutItem call's cause");
    cr_assert(bson_iter_init(&it, doc) &&
                  !bson_iter_find_descendant(&it, "subsegments.0.subsegments.0.fault", &v),
              "the DescribeTable call is not faulted");
    cr_assert(bson_iter_init(&it, doc) && !bson_iter_find(&it, "parent_id"),
              "a root segment has no parent_id");
    bson_destroy(doc);
    free(body);
    free(docs);
    owl_buf_free(&out);
    trace_done(&t);
    owl_xray_decoded_free(&x);
}

/* ---- spans from OTLP ---- */

#define TRACE_HEX "5b8efff798038103d269b633813fc60c"
#define TRACE_XRAY "1-5b8efff7-98038103d269b633813fc60c"
#define A "a000000000000001" /* shop server, the root, HTTP 500 */
#define B "b000000000000002" /* shop client calling payments, HTTP 503 */
#define C "c000000000000003" /* payments server under B */
#define F "f000000000000006" /* payments internal under C */
#define D "d000000000000004" /* shop internal under A */
#define E "e000000000000005" /* worker internal under A: another service, no server span */

#define KV_S(k, v) "{\"key\":\"" k "\",\"value\":{\"stringValue\":\"" v "\"}}"
#define KV_I(k, v) "{\"key\":\"" k "\",\"value\":{\"intValue\":\"" #v "\"}}"
#define RES(svc, spans) \
    "{\"resource\":{\"attributes\":[" KV_S("service.name", svc) "]},\"scopeSpans\":[{" \
    "\"scope\":{\"name\":\"lib\"},\"spans\":[" spans "]}]}"
#define SPAN(id, parent, name, kind, t0, t1, attrs, status) \
    "{\"traceId\":\"" TRACE_HEX "\",\"spanId\":\"" id "\",\"parentSpanId\":\"" parent \
    "\",\"name\":\"" name "\",\"kind\":" #kind ",\"startTimeUnixNano\":\"" t0 \
    "\",\"endTimeUnixNano\":\"" t1 "\",\"attributes\":[" attrs "],\"status\":" status "}"

static const char otlp_body[] =
    "{\"resourceSpans\":["
    RES("shop",
        SPAN(A, "", "GET /cart", 2, "1700000000000000000", "1700000000250000000",
             KV_S("http.request.method", "GET") "," KV_S("url.full", "http://shop/cart") ","
             KV_I("http.response.status_code", 500) "," KV_S("user_agent.original", "curl/8")
             "," KV_S("client.address", "10.0.0.9"),
             "{\"code\":2,\"message\":\"boom\"}") ","
        SPAN(B, A, "POST", 3, "1700000000010000000", "1700000000110000000",
             KV_S("peer.service", "payments") "," KV_S("http.request.method", "POST") ","
             KV_I("http.response.status_code", 503),
             "{}") ","
        SPAN(D, A, "render", 1, "1700000000120000000", "1700000000130000000",
             KV_S("template", "cart.html"), "{}")) ","
    RES("payments",
        SPAN(C, B, "charge", 2, "1700000000020000000", "1700000000100000000", "", "{}") ","
        SPAN(F, C, "db", 1, "1700000000030000000", "1700000000090000000", "", "{}")) ","
    RES("worker",
        SPAN(E, A, "job", 1, "1700000000140000000", "1700000000200000000", "", "{}"))
    "]}";

static bson_t *doc_json(const owl_buf *out, const owl_xray_doc *d)
{
    bson_error_t be;
    bson_t *doc = bson_new_from_json((const uint8_t *)out->data + d->off, (ssize_t)d->len, &be);
    cr_assert(doc, "a document is not JSON: %s: %.*s", be.message, (int)d->len,
              out->data + d->off);
    return doc;
}

static void want_str(const bson_t *doc, const char *path, const char *want)
{
    bson_iter_t it, v;
    cr_assert(bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &v) &&
                  BSON_ITER_HOLDS_UTF8(&v),
              "%s absent", path);
    cr_assert_str_eq(bson_iter_utf8(&v, NULL), want, "%s", path);
}

static void want_absent(const bson_t *doc, const char *path)
{
    bson_iter_t it, v;
    cr_assert(bson_iter_init(&it, doc) && !bson_iter_find_descendant(&it, path, &v),
              "%s is there", path);
}

static void want_true(const bson_t *doc, const char *path)
{
    bson_iter_t it, v;
    cr_assert(bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &v) &&
                  BSON_ITER_HOLDS_BOOL(&v) && bson_iter_bool(&v),
              "%s is not true", path);
}

static void want_num(const bson_t *doc, const char *path, double want)
{
    bson_iter_t it, v;
    cr_assert(bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &v) &&
                  BSON_ITER_HOLDS_NUMBER(&v),
              "%s absent", path);
    cr_assert_float_eq(bson_iter_as_double(&v), want, 1e-7, "%s", path);
}

static const owl_span *by_id(const owl_span_decoded *d, const char *hex)
{
    uint8_t id[8];
    cr_assert_eq(owl_traceid_span_from_hex(hex, 16, id, NULL), OWL_OK);
    for (size_t i = 0; i < d->n; i++)
        if (!memcmp(d->spans[i].span_id, id, 8))
            return &d->spans[i];
    cr_assert_fail("span %s absent", hex);
    return NULL;
}

Test(xray_render, otlp_trace_as_xray)
{
    owl_span_decoded o = {0};
    owl_error err = {0};
    cr_assert_eq(owl_otlp_traces_decode(OWL_OTLP_JSON, otlp_body, strlen(otlp_body), MAX, &o,
                                        &err),
                 OWL_OK, "%s", err.msg);
    cr_assert_eq(o.n, 6, "%s", o.message);
    owl_trace t;
    trace_of(o.spans, o.n, &t);
    owl_buf out;
    owl_xray_doc *docs;
    size_t nd;
    char *body;
    render(&t, &out, &docs, &nd, &body);
    /* segments: the root, payments' server span, worker's span under shop's */
    cr_assert_eq(nd, 3, "%zu documents: %s", nd, body);
    cr_assert_str_eq(docs[0].id, A);
    cr_assert_str_eq(docs[1].id, C);
    cr_assert_str_eq(docs[2].id, E);

    bson_t *a = doc_json(&out, &docs[0]);
    want_str(a, "name", "shop");
    want_str(a, "id", A);
    want_str(a, "trace_id", TRACE_XRAY);
    want_absent(a, "parent_id");
    want_num(a, "start_time", 1700000000.0);
    want_num(a, "end_time", 1700000000.25);
    want_true(a, "fault");
    want_absent(a, "error");
    want_str(a, "http.request.method", "GET");
    want_str(a, "http.request.url", "http://shop/cart");
    want_str(a, "http.request.user_agent", "curl/8");
    want_str(a, "http.request.client_ip", "10.0.0.9");
    want_num(a, "http.response.status", 500);
    want_str(a, "cause.exceptions.0.message", "boom");
    want_str(a, "metadata.otel.kind", "server");
    want_str(a, "metadata.otel.operation", "GET /cart");
    want_str(a, "metadata.otel.scope.name", "lib");
    want_absent(a, "namespace");
    /* the client call: a remote subsegment named after what it called; then the internal one */
    want_str(a, "subsegments.0.id", B);
    want_str(a, "subsegments.0.name", "payments");
    want_str(a, "subsegments.0.namespace", "remote");
    want_true(a, "subsegments.0.fault");
    want_str(a, "subsegments.0.http.request.method", "POST");
    want_num(a, "subsegments.0.http.response.status", 503);
    want_str(a, "subsegments.0.metadata.otel.kind", "client");
    want_absent(a, "subsegments.0.trace_id");
    want_absent(a, "subsegments.0.subsegments"); /* C is a segment of its own */
    want_str(a, "subsegments.1.id", D);
    want_str(a, "subsegments.1.name", "render");
    want_absent(a, "subsegments.1.namespace");
    want_absent(a, "subsegments.1.fault");
    want_str(a, "subsegments.1.metadata.otel.attributes.template", "cart.html");
    want_absent(a, "subsegments.2");
    bson_destroy(a);

    bson_t *c = doc_json(&out, &docs[1]);
    want_str(c, "name", "payments");
    want_str(c, "trace_id", TRACE_XRAY);
    want_str(c, "parent_id", B);
    want_str(c, "metadata.otel.operation", "charge");
    want_str(c, "subsegments.0.id", F);
    want_str(c, "subsegments.0.name", "db");
    want_absent(c, "fault");
    bson_destroy(c);

    bson_t *e = doc_json(&out, &docs[2]);
    want_str(e, "name", "worker");
    want_str(e, "parent_id", A);
    want_str(e, "metadata.otel.kind", "internal");
    want_str(e, "metadata.otel.operation", "job");
    bson_destroy(e);

    /* and X-Ray reads them back as the same tree */
    owl_xray_decoded x;
    decode_body(body, &x);
    cr_assert_eq(x.spans.n, 6);
    const struct {
        const char *id, *parent, *service, *name;
        enum owl_span_kind kind;
        enum owl_span_status status;
    } want[] = {
        {A, NULL, "shop", "shop", OWL_SPAN_SERVER, OWL_SPAN_FAULT},
        {B, A, "shop", "payments", OWL_SPAN_CLIENT, OWL_SPAN_FAULT},
        {D, A, "shop", "render", OWL_SPAN_INTERNAL, OWL_SPAN_OK},
        {C, B, "payments", "payments", OWL_SPAN_SERVER, OWL_SPAN_OK},
        {F, C, "payments", "db", OWL_SPAN_INTERNAL, OWL_SPAN_OK},
        {E, A, "worker", "worker", OWL_SPAN_SERVER, OWL_SPAN_OK},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const owl_span *s = by_id(&x.spans, want[i].id);
        uint8_t p[8] = {0};
        if (want[i].parent)
            owl_traceid_span_from_hex(want[i].parent, 16, p, NULL);
        cr_assert(!memcmp(s->parent_id, p, 8), "%s: parent", want[i].id);
        cr_assert(bytes_eq(s->service, (owl_bytes){want[i].service, strlen(want[i].service)}),
                  "%s: service %.*s", want[i].id, (int)s->service.n, (const char *)s->service.p);
        cr_assert(bytes_eq(s->name, (owl_bytes){want[i].name, strlen(want[i].name)}),
                  "%s: name %.*s", want[i].id, (int)s->name.n, (const char *)s->name.p);
        cr_assert_eq(s->kind, want[i].kind, "%s: kind", want[i].id);
        cr_assert_eq(s->status, want[i].status, "%s: status", want[i].id);
        /* X-Ray's times are doubles: the same to the microsecond */
        const owl_span *w = by_id(&o, want[i].id);
        cr_assert_eq(us_of(s->start_ns), us_of(w->start_ns), "%s: start", want[i].id);
        cr_assert_eq(us_of(s->start_ns + s->duration_ns), us_of(w->start_ns + w->duration_ns),
                     "%s: end", want[i].id);
    }
    owl_xray_decoded_free(&x);
    free(body);
    free(docs);
    owl_buf_free(&out);
    trace_done(&t);
    owl_span_decoded_free(&o);
}

/* ---- times and in-progress spans ---- */

static owl_span plain(const char *id, int64_t start, int64_t dur)
{
    owl_span s = {0};
    owl_traceid_from_hex(TRACE_HEX, 32, s.trace_id, NULL);
    owl_traceid_span_from_hex(id, 16, s.span_id, NULL);
    s.service = (owl_bytes){"svc", 3};
    s.name = (owl_bytes){"op", 2};
    s.kind = OWL_SPAN_SERVER;
    s.start_ns = start;
    s.duration_ns = dur;
    return s;
}

Test(xray_render, times_round_to_the_microsecond)
{
    owl_span s[3] = {
        plain(A, 1700000000999999600, 400),       /* both round up into the next second */
        plain(B, 1700000000123456499, 1000),      /* down, and down */
        plain(C, 1596566305535413980, 154000000), /* ddbSample's start as a double reads it */
    };
    const char *want[] = {
        "\"start_time\":1700000001.000000,\"end_time\":1700000001.000000",
        "\"start_time\":1700000000.123456,\"end_time\":1700000000.123457",
        "\"start_time\":1596566305.535414,\"end_time\":1596566305.689414",
    };
    for (size_t i = 0; i < 3; i++) {
        owl_trace t;
        trace_of(&s[i], 1, &t);
        owl_buf out = OWL_BUF_INIT;
        owl_xray_doc *docs;
        size_t nd;
        cr_assert_eq(owl_xray_render(&t, &out, &docs, &nd), OWL_OK);
        cr_assert_eq(nd, 1);
        owl_buf_putc(&out, 0);
        cr_assert(strstr(out.data, want[i]), "%s: want %s", out.data, want[i]);
        free(docs);
        owl_buf_free(&out);
        trace_done(&t);
    }
}

Test(xray_render, in_progress)
{
    owl_span s[2] = {plain(A, 1700000000000000000, 0), plain(B, 1700000000100000000, 0)};
    s[0].in_progress = 1;
    s[1].in_progress = 1;
    s[1].kind = OWL_SPAN_INTERNAL;
    s[1].name = (owl_bytes){"step", 4};
    owl_traceid_span_from_hex(A, 16, s[1].parent_id, NULL);
    owl_trace t;
    trace_of(s, 2, &t);
    owl_buf out;
    owl_xray_doc *docs;
    size_t nd;
    char *body;
    render(&t, &out, &docs, &nd, &body);
    cr_assert_eq(nd, 1);
    bson_t *d = doc_json(&out, &docs[0]);
    want_true(d, "in_progress");
    want_absent(d, "end_time");
    want_true(d, "subsegments.0.in_progress");
    want_absent(d, "subsegments.0.end_time");
    want_str(d, "subsegments.0.name", "step");
    bson_destroy(d);
    owl_xray_decoded x;
    decode_body(body, &x);
    cr_assert_eq(x.spans.n, 2);
    cr_assert(x.spans.spans[0].in_progress && x.spans.spans[1].in_progress);
    owl_xray_decoded_free(&x);
    free(body);
    free(docs);
    owl_buf_free(&out);
    trace_done(&t);
}

Test(xray_render, empty_trace)
{
    owl_trace t = {0};
    owl_buf out = OWL_BUF_INIT;
    owl_xray_doc *docs = NULL;
    size_t nd = 1;
    cr_assert_eq(owl_xray_render(&t, &out, &docs, &nd), OWL_OK);
    cr_assert_eq(nd, 0);
    cr_assert_eq(out.len, 0);
    free(docs);
    owl_buf_free(&out);
}
