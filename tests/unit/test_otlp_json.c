/* test_otlp_json.c — OTLP JSON to protobuf wire (ingest/otlp_json.c): the one-pass fast path
 * checked against the general one, body by body, for the three request types. The property
 * (otlp_int.h): the fast path answers OK or UNSUPPORTED, leaving the buffer as it was when it
 * declines; when it answers OK the general path accepts the body too and both wires unpack to
 * one message (compared packed again: the fast path may pad nested lengths); a body the general
 * path refuses is never OK on the fast path. What senders write (the JS SDK's captured
 * exports, the shape of bench/traces_bodies.py, the OTLP project's examples) must take the
 * fast path, from several threads at once too. Bodies are written with ' for " (turned at run
 * time): none of them needs a real '. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "ingest/ingest.h"
#include "ingest/otlp_int.h"
#include "tests/unit/testfs.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest TraceReq;
typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest LogsReq;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Logs__V1__LogRecord LogRecord;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;

#define T (&opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor)
#define L (&opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor)
#define M (&opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor)

/* One span, log record, gauge point, ... with the given members, in the smallest request. */
#define SPAN(x) "{'resourceSpans':[{'scopeSpans':[{'spans':[{" x "}]}]}]}"
#define ATTR(v) SPAN("'attributes':[{'key':'k','value':" v "}]")
#define LOG(x) "{'resourceLogs':[{'scopeLogs':[{'logRecords':[{" x "}]}]}]}"
#define METRIC(x) "{'resourceMetrics':[{'scopeMetrics':[{'metrics':[{'name':'m'," x "}]}]}]}"
#define POINT(x) METRIC("'gauge':{'dataPoints':[{" x "}]}")
#define HIST(x) METRIC("'histogram':{'dataPoints':[{" x "}]}")
#define EXPH(x) METRIC("'exponentialHistogram':{'dataPoints':[{" x "}]}")

#define TID "5b8efff798038103d269b633813fc60c"
#define SID "eee19b7ec3c1b174"

/* Already in the buffer before each call: both paths append after it. */
#define PRE "pre"
#define PRE_LEN 3

/* The body for the error messages, cut short. */
#define SHOW(b, n) (int)((n) < 300 ? (n) : 300), (b)

static ProtobufCMessage *unpack(const ProtobufCMessageDescriptor *desc, const owl_buf *w,
                                const char *who, const char *body, size_t n)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, w->len - PRE_LEN,
                                                    (const uint8_t *)w->data + PRE_LEN);
    cr_assert_not_null(m, "the %s path's %zu wire bytes do not unpack: %.*s", who,
                       w->len - PRE_LEN, SHOW(body, n));
    return m;
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *p = malloc(*len + 1);
    cr_assert_not_null(p);
    cr_assert_eq(protobuf_c_message_pack(m, p), *len);
    return p;
}

/* Both wires (after PRE) unpack, and the messages pack to the same bytes. */
static void same_message(const ProtobufCMessageDescriptor *desc, const owl_buf *fw,
                         const owl_buf *gw, const char *body, size_t n)
{
    ProtobufCMessage *fm = unpack(desc, fw, "fast", body, n);
    ProtobufCMessage *gm = unpack(desc, gw, "general", body, n);
    size_t flen, glen;
    uint8_t *f = pack(fm, &flen), *g = pack(gm, &glen);
    size_t at = 0;
    while (at < flen && at < glen && f[at] == g[at])
        at++;
    cr_assert(flen == glen && at == flen,
              "the paths disagree (%s): repacked %zu and %zu bytes, first difference at byte "
              "%zu: %.*s",
              desc->name, flen, glen, at, SHOW(body, n));
    free(f);
    free(g);
    protobuf_c_message_free_unpacked(fm, NULL);
    protobuf_c_message_free_unpacked(gm, NULL);
}

/* check_same_n — runs both paths on body[0..n) and asserts the property; *general_ok (when
 * not NULL) whether the general path accepted it. Returns whether the fast path took it.
 * ENOMEM, which the contract allows, does not happen to bodies this small: it fails here. */
static int check_same_n(const ProtobufCMessageDescriptor *desc, const char *body, size_t n,
                        int *general_ok)
{
    owl_buf fw = OWL_BUF_INIT, gw = OWL_BUF_INIT;
    owl_error err = {0};
    cr_assert_eq(owl_buf_append(&fw, PRE, PRE_LEN), OWL_OK);
    cr_assert_eq(owl_buf_append(&gw, PRE, PRE_LEN), OWL_OK);
    int frc = owl_otlp_json_fast(desc, body, n, &fw);
    cr_assert(frc == OWL_OK || frc == OWL_EUNSUPPORTED, "the fast path answered %d (%s): %.*s",
              frc, owl_strerror(frc), SHOW(body, n));
    cr_assert(fw.len >= PRE_LEN && memcmp(fw.data, PRE, PRE_LEN) == 0,
              "the fast path changed what the buffer held: %.*s", SHOW(body, n));
    if (frc != OWL_OK)
        cr_assert_eq(fw.len, PRE_LEN, "declined, but left %zu bytes in the buffer: %.*s",
                     fw.len - PRE_LEN, SHOW(body, n));
    int grc = owl_otlp_json_general(desc, body, n, &gw, &err);
    cr_assert(grc == OWL_OK || grc == OWL_EINVAL, "the general path answered %d (%s): %.*s", grc,
              owl_strerror(grc), SHOW(body, n));
    if (grc != OWL_OK)
        cr_assert(err.msg[0] != '\0', "refused without saying why: %.*s", SHOW(body, n));
    if (frc == OWL_OK) {
        cr_assert_eq(grc, OWL_OK, "the fast path took a body the general path refuses (%s): %.*s",
                     err.msg, SHOW(body, n));
        same_message(desc, &fw, &gw, body, n);
    }
    if (general_ok)
        *general_ok = grc == OWL_OK;
    owl_buf_free(&fw);
    owl_buf_free(&gw);
    return frc == OWL_OK;
}

static int check_same(const ProtobufCMessageDescriptor *desc, const char *body)
{
    return check_same_n(desc, body, strlen(body), NULL);
}

/* text with each ' turned into " (malloc'd). */
static char *dq(const char *text)
{
    char *s = strdup(text);
    cr_assert_not_null(s);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    return s;
}

/* The body takes the fast path (and the paths agree). */
static void fast(const ProtobufCMessageDescriptor *desc, const char *text)
{
    char *b = dq(text);
    cr_assert(check_same(desc, b), "the fast path declined: %.*s", SHOW(b, strlen(b)));
    free(b);
}

/* The general path refuses the body (so the fast path must not take it). */
static void refused_n(const ProtobufCMessageDescriptor *desc, const char *body, size_t n)
{
    int general_ok;
    check_same_n(desc, body, n, &general_ok);
    cr_assert(!general_ok, "the general path accepts: %.*s", SHOW(body, n));
}

static void refused(const ProtobufCMessageDescriptor *desc, const char *text)
{
    char *b = dq(text);
    refused_n(desc, b, strlen(b));
    free(b);
}

/* Either path may answer; the property holds. */
static void agrees(const ProtobufCMessageDescriptor *desc, const char *text)
{
    char *b = dq(text);
    check_same(desc, b);
    free(b);
}

/* The message the fast path made of text, after asserting it took the body. */
static ProtobufCMessage *fast_message(const ProtobufCMessageDescriptor *desc, const char *text)
{
    char *b = dq(text);
    size_t n = strlen(b);
    owl_buf w = OWL_BUF_INIT;
    cr_assert(check_same(desc, b), "the fast path declined: %.*s", SHOW(b, n));
    cr_assert_eq(owl_buf_append(&w, PRE, PRE_LEN), OWL_OK);
    cr_assert_eq(owl_otlp_json_fast(desc, b, n, &w), OWL_OK);
    ProtobufCMessage *m = unpack(desc, &w, "fast", b, n);
    owl_buf_free(&w);
    free(b);
    return m;
}

static const Span *first_span(const ProtobufCMessage *m)
{
    const TraceReq *r = (const TraceReq *)m;
    cr_assert(r->n_resource_spans && r->resource_spans[0]->n_scope_spans &&
              r->resource_spans[0]->scope_spans[0]->n_spans);
    return r->resource_spans[0]->scope_spans[0]->spans[0];
}

static const LogRecord *first_log(const ProtobufCMessage *m)
{
    const LogsReq *r = (const LogsReq *)m;
    cr_assert(r->n_resource_logs && r->resource_logs[0]->n_scope_logs &&
              r->resource_logs[0]->scope_logs[0]->n_log_records);
    return r->resource_logs[0]->scope_logs[0]->log_records[0];
}

/* ---- what senders write: the fast path ---- */

/* A file of the source tree: $OWL_SRCDIR (set by `make check`), else found from __FILE__. */
static char *read_src(const char *name, size_t *n)
{
    char path[4096];
    const char *src = getenv("OWL_SRCDIR");
    if (src && *src) {
        snprintf(path, sizeof path, "%s/%s", src, name);
    } else {
        const char *me = __FILE__, *tail = strstr(me, "tests/unit/test_otlp_json.c");
        snprintf(path, sizeof path, "%.*s%s", tail ? (int)(tail - me) : 0, me, name);
    }
    char *buf = NULL;
    cr_assert_eq(owl_read_file(path, 1u << 20, &buf, n, NULL), OWL_OK, "%s", path);
    return buf;
}

/* What the OTel JS SDK (tests/otel/package.json's versions) sent, as captured:
 * sdk_json_{1,2}.json, the two metrics exports of tests/otel/push.mjs (see test_otlp.c);
 * sdk_traces_json.json, the "orders" service's export for /checkout?fail=1 in
 * tests/otel/traces.mjs (events, a link, an error status); sdk_logs_json.json, the three
 * records of tests/otel/logs.mjs. */
Test(otlp_json, js_sdk_exports)
{
    static const struct {
        const char *file;
        const ProtobufCMessageDescriptor *desc;
    } ex[] = {
        {"tests/unit/fixtures/otlp/sdk_json_1.json", M},
        {"tests/unit/fixtures/otlp/sdk_json_2.json", M},
        {"tests/unit/fixtures/otlp/sdk_traces_json.json", T},
        {"tests/unit/fixtures/otlp/sdk_logs_json.json", L},
    };
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        size_t n;
        char *b = read_src(ex[i].file, &n);
        cr_assert(check_same_n(ex[i].desc, b, n, NULL), "%s: the fast path declined", ex[i].file);
        free(b);
    }
}

Test(otlp_json, otlp_project_and_jaeger_examples)
{
    static const struct {
        const char *file;
        const ProtobufCMessageDescriptor *desc;
    } ex[] = {
        {"opentelemetry-proto/trace.json", T},
        {"opentelemetry-proto/logs.json", L},
        {"opentelemetry-proto/events.json", L},
        {"opentelemetry-proto/metrics.json", M},
        {"jaeger/memory_otel_traces_01.json", T},
        {"jaeger/jaeger-ui_otlp2jaeger-multi-in-combined.json", T},
    };
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        size_t n;
        char rel[256];
        snprintf(rel, sizeof rel, "otlp/%s", ex[i].file);
        char *b = test_data(rel, 1u << 20, &n);
        cr_assert(check_same_n(ex[i].desc, b, n, NULL), "%s: the fast path declined", ex[i].file);
        free(b);
    }
}

/* What bench/traces_bodies.py writes to json.rec (its write_batch): spans grouped by service,
 * lower-case hex ids, kinds as numbers, times as decimal strings, HTTP attributes with an
 * intValue string on server spans, status code 2 on failed ones. */
Test(otlp_json, bench_traces_shape)
{
    owl_buf b = OWL_BUF_INIT;
    owl_buf_puts(&b, "{\"resourceSpans\":[");
    for (int svc = 0; svc < 5; svc++) {
        owl_buf_printf(&b,
                       "%s{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":"
                       "{\"stringValue\":\"svc-%d\"}},{\"key\":\"telemetry.sdk.language\","
                       "\"value\":{\"stringValue\":\"java\"}}]},\"scopeSpans\":[{\"scope\":"
                       "{\"name\":\"nezha\"},\"spans\":[",
                       svc ? "," : "", svc);
        for (int i = 0; i < 400; i++) {
            unsigned long long st = 1796428800000000000ull + (unsigned long long)i * 1000003;
            int kind = i % 3 == 0 ? 2 : i % 3 == 1 ? 3 : 1;
            owl_buf_printf(&b,
                           "%s{\"traceId\":\"%016llx%016llx\",\"spanId\":\"%016llx\","
                           "\"name\":\"hipstershop.Svc%d/Op%d\",\"kind\":%d,"
                           "\"startTimeUnixNano\":\"%llu\",\"endTimeUnixNano\":\"%llu\"",
                           i ? "," : "", 0xbdd640fb06671ad1ull * (unsigned)(i + 1),
                           0x1c80317fa3b1799dull ^ (unsigned)svc, 0x3eb13b9046685257ull + (unsigned)i,
                           svc, i % 7, kind, st, st + 5408440444ull);
            if (i % 4)
                owl_buf_printf(&b, ",\"parentSpanId\":\"%016llx\"",
                               0x23b8c1e9392456deull + (unsigned)i);
            if (kind == 2)
                owl_buf_printf(&b,
                               ",\"attributes\":[{\"key\":\"http.request.method\",\"value\":"
                               "{\"stringValue\":\"GET\"}},{\"key\":\"http.route\",\"value\":"
                               "{\"stringValue\":\"hipstershop.Svc%d/Op%d\"}},{\"key\":"
                               "\"http.response.status_code\",\"value\":{\"intValue\":\"%d\"}}]",
                               svc, i % 7, i % 5 ? 200 : 500);
            if (i % 5 == 0)
                owl_buf_puts(&b, ",\"status\":{\"code\":2}");
            owl_buf_putc(&b, '}');
        }
        owl_buf_puts(&b, "]}]}");
    }
    owl_buf_puts(&b, "]}");
    cr_assert(check_same_n(T, b.data, b.len, NULL), "the fast path declined the bench shape");
    owl_buf_free(&b);
}

Test(otlp_json, empty_bodies)
{
    static const char *const bodies[] = {"", "   ", "{}", " \t\r\n{ } \n", "{ }"};
    const ProtobufCMessageDescriptor *descs[] = {T, L, M};
    for (size_t d = 0; d < 3; d++)
        for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
            cr_assert(check_same(descs[d], bodies[i]), "%s: the fast path declined '%s'",
                      descs[d]->name, bodies[i]);
}

Test(otlp_json, camel_case_and_proto_names)
{
    fast(T, SPAN("'traceId':'" TID "','spanId':'" SID "','parentSpanId':'" SID "',"
                 "'startTimeUnixNano':'1','endTimeUnixNano':'2','droppedAttributesCount':3,"
                 "'traceState':'a=b','droppedEventsCount':1,'droppedLinksCount':2"));
    fast(T, "{'resource_spans':[{'scope_spans':[{'spans':[{'trace_id':'" TID "','span_id':'" SID
            "','parent_span_id':'" SID "','start_time_unix_nano':'1','end_time_unix_nano':'2',"
            "'dropped_attributes_count':3,'trace_state':'a=b','dropped_events_count':1,"
            "'dropped_links_count':2}],'schema_url':'s'}],'schema_url':'r'}]}");
    fast(T, "{'resourceSpans':[{'scope_spans':[{'spans':[{'trace_id':'" TID "','spanId':'" SID
            "','start_time_unix_nano':'1','endTimeUnixNano':'2'}],'schemaUrl':'s'}]}]}");
    fast(L, LOG("'timeUnixNano':'5','observedTimeUnixNano':'6','severityNumber':9,"
                "'severityText':'INFO','traceId':'" TID "','spanId':'" SID "','eventName':'e'"));
    fast(L, "{'resource_logs':[{'scope_logs':[{'log_records':[{'time_unix_nano':'5',"
            "'observed_time_unix_nano':'6','severity_number':9,'severity_text':'INFO',"
            "'trace_id':'" TID "','span_id':'" SID "','event_name':'e'}]}]}]}");
    fast(M, "{'resource_metrics':[{'scope_metrics':[{'metrics':[{'name':'m','sum':{"
            "'aggregation_temporality':2,'is_monotonic':true,'data_points':[{"
            "'start_time_unix_nano':'1','time_unix_nano':'2','as_double':1.5}]}}]}]}]}");
    fast(M, HIST("'bucket_counts':['1','2'],'explicit_bounds':[5],'count':'3','sum':2.5"));
    fast(M, EXPH("'zero_count':'1','zero_threshold':0.5,'scale':3,'positive':{'offset':-2,"
                 "'bucket_counts':[1,2]},'negative':{'offset':1,'bucketCounts':['3']}"));
    fast(M, METRIC("'summary':{'dataPoints':[{'count':'2','sum':3,'quantile_values':[{"
                   "'quantile':0.5,'value':1}],'quantileValues':[{'quantile':1,'value':2}]}]}"));
}

Test(otlp_json, hex_ids_either_case)
{
    ProtobufCMessage *m = fast_message(T, SPAN("'traceId':'5B8EFFF798038103D269B633813FC60C',"
                                              "'spanId':'EeE19b7Ec3C1b174'"));
    const Span *s = first_span(m);
    cr_assert_eq(s->trace_id.len, 16);
    cr_assert_eq(s->trace_id.data[0], 0x5b);
    cr_assert_eq(s->trace_id.data[15], 0x0c);
    cr_assert_eq(s->span_id.len, 8);
    cr_assert_eq(s->span_id.data[7], 0x74);
    protobuf_c_message_free_unpacked(m, NULL);
    fast(T, SPAN("'traceId':'" TID "','spanId':'" SID "','parentSpanId':'0000000000000000'"));
    fast(T, SPAN("'links':[{'traceId':'ABCDEF0123456789abcdef0123456789','spanId':'" SID "',"
                 "'flags':1},{'trace_id':'" TID "','span_id':'0123456789ABCDEF'}]"));
    fast(L, LOG("'traceId':'5B8EFFF798038103D269B633813FC60C','spanId':'" SID "'"));
    fast(M, POINT("'asInt':'1','exemplars':[{'spanId':'" SID "','traceId':'" TID "',"
                  "'asDouble':2,'timeUnixNano':'3','filteredAttributes':[{'key':'a','value':"
                  "{'boolValue':true}}]}]"));
    agrees(T, SPAN("'traceId':'ab','spanId':'0102'")); /* not 16 and 8 bytes */
    agrees(T, SPAN("'traceId':'','spanId':''"));
    agrees(T, SPAN("'spanId':'\\u0065ee19b7ec3c1b174'")); /* an escape in an id */
}

Test(otlp_json, int64_as_strings_and_numbers)
{
    ProtobufCMessage *m = fast_message(T, SPAN("'startTimeUnixNano':'18446744073709551615',"
                                              "'endTimeUnixNano':1544712661000000000"));
    const Span *s = first_span(m);
    cr_assert_eq(s->start_time_unix_nano, UINT64_MAX);
    cr_assert_eq(s->end_time_unix_nano, 1544712661000000000ull);
    protobuf_c_message_free_unpacked(m, NULL);
    fast(T, SPAN("'startTimeUnixNano':0,'endTimeUnixNano':'0'"));
    fast(T, SPAN("'startTimeUnixNano':9223372036854775807,'endTimeUnixNano':'9223372036854775808'"));
    fast(T, SPAN("'startTimeUnixNano':1234567890123456789"));
    fast(T, ATTR("{'intValue':'-9223372036854775808'}"));
    fast(T, ATTR("{'intValue':-9223372036854775808}"));
    fast(T, ATTR("{'intValue':9007199254740993}"));
    fast(T, ATTR("{'intValue':'42'}"));
    fast(T, ATTR("{'intValue':-42}"));
    fast(M, POINT("'asInt':'-5','timeUnixNano':'1700000000000000000'"));
    fast(M, POINT("'asInt':-5,'timeUnixNano':1700000000000000000"));
    fast(M, HIST("'count':'18446744073709551615','bucketCounts':[0,'1',18446744073709551]"));
    fast(T, SPAN("'droppedAttributesCount':4294967295,'flags':4294967295"));
}

/* Integral values written with an exponent or a fraction: the general path reads them as the
 * integer, and so does the fast one. Past 2^53 and with a sign on zero, the fast path may leave
 * them to the general one. */
Test(otlp_json, integral_numbers_with_exponent_or_fraction)
{
    ProtobufCMessage *m = fast_message(T, SPAN("'startTimeUnixNano':1e3,'endTimeUnixNano':5.0"));
    cr_assert_eq(first_span(m)->start_time_unix_nano, 1000);
    cr_assert_eq(first_span(m)->end_time_unix_nano, 5);
    protobuf_c_message_free_unpacked(m, NULL);
    fast(T, SPAN("'startTimeUnixNano':1E+2,'endTimeUnixNano':2.50e1"));
    fast(T, SPAN("'droppedAttributesCount':3.0,'kind':2.0"));
    fast(T, SPAN("'startTimeUnixNano':1.5e18,'endTimeUnixNano':1e18"));
    fast(T, ATTR("{'intValue':-1e3}"));
    fast(T, ATTR("{'intValue':1.0E2}"));
    fast(M, POINT("'asInt':-7.0"));
    fast(M, HIST("'bucketCounts':[1e2,2.0,3],'count':1e1"));
    fast(M, EXPH("'scale':-2.0,'positive':{'offset':1e1}"));
    /* past 2^53: the general path rounds these through a double */
    agrees(T, SPAN("'startTimeUnixNano':1.234567890123456789e18"));
    agrees(T, SPAN("'startTimeUnixNano':12345678901234567890"));
    agrees(T, SPAN("'startTimeUnixNano':10000000000000000001"));
    agrees(T, ATTR("{'intValue':9.2e18}"));
    /* zero with a sign */
    agrees(T, SPAN("'startTimeUnixNano':-0,'droppedAttributesCount':-0"));
    agrees(T, SPAN("'startTimeUnixNano':-0.0,'droppedAttributesCount':-0e5"));
    agrees(T, SPAN("'startTimeUnixNano':'-0'"));
}

/* Integer strings: digits, after a '-' for a signed field, as the JSON mapping writes them.
 * Other shapes strtoll would take (white space, a plus sign, hex; " -1" it reads as 2^64 - 1
 * for an unsigned field) are refused. */
Test(otlp_json, integer_strings_at_the_edges)
{
    agrees(T, SPAN("'startTimeUnixNano':'0001'"));
    agrees(T, ATTR("{'intValue':'-0'}"));
    agrees(M, POINT("'asInt':'9223372036854775807'"));
    refused(T, SPAN("'endTimeUnixNano':'+5'"));
    refused(T, SPAN("'startTimeUnixNano':' 5'"));
    refused(T, SPAN("'startTimeUnixNano':' -1'"));
    refused(T, SPAN("'startTimeUnixNano':'1e3'"));
    refused(T, SPAN("'startTimeUnixNano':'5.0'"));
    refused(T, SPAN("'startTimeUnixNano':'5 '"));
    refused(T, SPAN("'startTimeUnixNano':'0x10'"));
    refused(T, SPAN("'startTimeUnixNano':17015152000000000001'")); /* a number, then a quote */
    refused(T, SPAN("'kind':2'"));
    refused(T, ATTR("{'intValue':' +7'}"));
    refused(T, ATTR("{'intValue':'-'}"));
}

/* Digit strings of every length to 21, as read eight digits at a time: all digits (taken by
 * the fast path up to 19, or 18 for a signed field), all nines, and a non-digit at each place
 * (the paths agree whichever answers). */
Test(otlp_json, integer_strings_of_every_length)
{
    const char *digits = "918273645546372819091827", *bad = "/:a -";
    char v[32], body[256];
    for (int len = 1; len <= 21; len++) {
        for (int nines = 0; nines < 2; nines++) {
            for (int i = 0; i < len; i++)
                v[i] = nines ? '9' : digits[i];
            v[len] = '\0';
            snprintf(body, sizeof body, SPAN("'startTimeUnixNano':'%s'"), v);
            char *b = dq(body);
            int took = check_same(T, b);
            free(b);
            cr_assert(took || len > 19,
                      "the fast path declined %d digits", len);
            snprintf(body, sizeof body, ATTR("{'intValue':'-%s'}"), v);
            agrees(T, body);
            snprintf(body, sizeof body, ATTR("{'intValue':'%s'}"), v);
            agrees(T, body);
        }
        for (int at = 0; at < len; at++)
            for (const char *c = bad; *c; c++) {
                for (int i = 0; i < len; i++)
                    v[i] = i == at ? *c : digits[i];
                v[len] = '\0';
                snprintf(body, sizeof body, SPAN("'startTimeUnixNano':'%s'"), v);
                agrees(T, body);
                snprintf(body, sizeof body, ATTR("{'intValue':'-%s'}"), v);
                agrees(T, body);
            }
    }
}

/* A name that differs from a field's in one byte, at any place, is not that field (the
 * fast path compares names eight bytes at a time and the last eight overlapping). */
Test(otlp_json, names_one_byte_off)
{
    const char *names[] = {"startTimeUnixNano", "start_time_unix_nano", "traceId", "kind",
                           "droppedAttributesCount", "parentSpanId", "attributes"};
    const char *values[] = {"'5'", "'5'", "'" TID "'", "2", "3", "'" SID "'", "[]"};
    char name[32], body[256];
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        size_t n = strlen(names[k]);
        for (size_t at = 0; at < n; at++) {
            memcpy(name, names[k], n + 1);
            name[at] = name[at] == 'X' ? 'Y' : 'X';
            snprintf(body, sizeof body, SPAN("'%s':%s"), name, values[k]);
            agrees(T, body);
        }
        snprintf(body, sizeof body, SPAN("'%s':%s"), names[k], values[k]);
        agrees(T, body);
    }
}

/* A value past a 32-bit field's range is refused (protobuf-c would cut it when unpacking:
 * droppedAttributesCount 4294967296 would read as 0); the range's ends are taken. */
Test(otlp_json, values_past_32_bits)
{
    refused(T, SPAN("'droppedAttributesCount':4294967296"));
    refused(T, SPAN("'droppedAttributesCount':'4294967297'"));
    refused(T, SPAN("'flags':4294967296"));
    refused(T, SPAN("'flags':'8589934593'"));
    refused(T, SPAN("'kind':4294967298"));
    refused(T, SPAN("'kind':2147483648"));
    refused(M, EXPH("'scale':2147483648"));
    refused(M, EXPH("'scale':-2147483649"));
    refused(M, EXPH("'positive':{'offset':6442450944}"));
    agrees(T, SPAN("'kind':-1"));
    agrees(T, SPAN("'droppedAttributesCount':4294967295,'flags':'4294967295'"));
    agrees(M, EXPH("'scale':-2147483648,'positive':{'offset':2147483647},"
                   "'negative':{'offset':-2147483648}"));
    agrees(L, LOG("'severityNumber':99,'flags':'4294967295'"));
}

Test(otlp_json, enums_by_name_and_number)
{
    ProtobufCMessage *m =
        fast_message(T, SPAN("'kind':'SPAN_KIND_SERVER','status':{'code':'STATUS_CODE_ERROR',"
                             "'message':'boom'}"));
    const Span *s = first_span(m);
    cr_assert_eq(s->kind, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER);
    cr_assert_eq(s->status->code,
                 OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR);
    protobuf_c_message_free_unpacked(m, NULL);
    fast(T, SPAN("'kind':2,'status':{'code':2}"));
    fast(T, SPAN("'kind':'SPAN_KIND_UNSPECIFIED','status':{'code':'STATUS_CODE_UNSET'}"));
    fast(T, SPAN("'kind':0,'status':{'code':0}"));
    fast(T, SPAN("'kind':'SPAN_KIND_CONSUMER'"));
    fast(L, LOG("'severityNumber':'SEVERITY_NUMBER_INFO'"));
    fast(L, LOG("'severityNumber':24"));
    fast(M, METRIC("'sum':{'aggregationTemporality':'AGGREGATION_TEMPORALITY_CUMULATIVE',"
                   "'dataPoints':[]}"));
    fast(M, METRIC("'histogram':{'aggregationTemporality':1}"));
    agrees(T, SPAN("'kind':99")); /* a number the enum does not name */
    agrees(T, SPAN("'kind':'2'"));
    agrees(T, SPAN("'kind':'span_kind_server'"));
}

Test(otlp_json, doubles)
{
    fast(M, POINT("'asDouble':21.5"));
    fast(M, POINT("'asDouble':-1.25e-3"));
    fast(M, POINT("'asDouble':0"));
    fast(M, POINT("'asDouble':'NaN'"));
    fast(M, POINT("'asDouble':'Infinity'"));
    fast(M, POINT("'asDouble':'-Infinity'"));
    fast(M, POINT("'asDouble':'2.5'"));
    fast(M, POINT("'asDouble':123"));
    fast(M, HIST("'explicitBounds':[0,0.5,'NaN','Infinity','-Infinity',1e10,-2],'sum':'1.5',"
                 "'min':-1,'max':'3'"));
    fast(M, EXPH("'zeroThreshold':1e-9,'sum':4"));
    fast(M, METRIC("'summary':{'dataPoints':[{'quantileValues':[{'quantile':0,'value':'NaN'},"
                   "{'quantile':1,'value':0.0}]}]}"));
    fast(T, ATTR("{'doubleValue':3.14159}"));
    fast(T, ATTR("{'doubleValue':'-Infinity'}"));
    ProtobufCMessage *m = fast_message(T, ATTR("{'doubleValue':'NaN'}"));
    cr_assert(isnan(first_span(m)->attributes[0]->value->double_value));
    protobuf_c_message_free_unpacked(m, NULL);
    /* numbers past the digits and exponents a double multiplies exactly */
    agrees(M, POINT("'asDouble':1.7976931348623157e308"));
    agrees(M, POINT("'asDouble':5e-324"));
    agrees(M, POINT("'asDouble':2.2250738585072011e-308"));
    agrees(M, POINT("'asDouble':-9223372036854775808"));
    agrees(M, POINT("'asDouble':9007199254740993"));
    agrees(M, POINT("'asDouble':0.1000000000000000055511151231257827"));
    agrees(M, POINT("'asDouble':123456789012345678901234567890"));
    agrees(M, HIST("'explicitBounds':[1e300,1e23,8.98846567431158e307,4.9e-324]"));
    /* negative zero where it is kept on the wire (oneof and repeated): -0 is an integer */
    agrees(T, ATTR("{'doubleValue':-0}"));
    agrees(T, ATTR("{'doubleValue':-0.0}"));
    agrees(M, POINT("'asDouble':-0"));
    agrees(M, HIST("'explicitBounds':[-0,-0.0,'-0']"));
    /* strings strtod reads beyond JSON's numbers */
    agrees(M, POINT("'asDouble':' 1.5'"));
    agrees(M, POINT("'asDouble':'0x10'"));
    agrees(M, POINT("'asDouble':'inf'"));
    agrees(M, POINT("'asDouble':'nan'"));
    agrees(M, POINT("'asDouble':'-nan'"));
    agrees(M, POINT("'asDouble':'1e400'"));
    agrees(M, POINT("'asDouble':'1e-400'"));
    agrees(M, POINT("'asDouble':'.5'"));
    agrees(M, POINT("'asDouble':'+1.5'"));
    agrees(M, POINT("'asDouble':'1.5 '"));
    agrees(M, POINT("'asDouble':''"));
}

Test(otlp_json, bools)
{
    fast(M, METRIC("'sum':{'isMonotonic':true}"));
    fast(M, METRIC("'sum':{'isMonotonic':false}"));
    fast(T, ATTR("{'boolValue':true}"));
    fast(T, ATTR("{'boolValue':false}"));
    refused(T, ATTR("{'boolValue':'true'}"));
    refused(T, ATTR("{'boolValue':1}"));
}

Test(otlp_json, null_is_an_absent_field)
{
    fast(T, "{'resourceSpans':null}");
    fast(T, "{'resourceSpans':[{'resource':null,'scopeSpans':null,'schemaUrl':null}]}");
    fast(T, SPAN("'name':null,'kind':null,'traceId':null,'attributes':null,'status':null,"
                 "'startTimeUnixNano':null,'events':null,'flags':null"));
    fast(T, ATTR("null"));
    fast(T, ATTR("{'stringValue':null}"));
    fast(L, LOG("'body':null,'severityNumber':null"));
    fast(M, POINT("'asDouble':null,'asInt':null,'exemplars':null"));
    fast(M, HIST("'bucketCounts':null,'explicitBounds':null,'sum':null"));
}

Test(otlp_json, empty_arrays_and_objects)
{
    fast(T, "{'resourceSpans':[]}");
    fast(T, "{'resourceSpans':[{}]}");
    fast(T, "{'resourceSpans':[{},{},{'scopeSpans':[]}]}");
    fast(T, "{'resourceSpans':[{'resource':{},'scopeSpans':[{}]}]}");
    fast(T, "{'resourceSpans':[{'scopeSpans':[{'scope':{},'spans':[{},{}]}]}]}");
    fast(T, SPAN("'status':{},'events':[{}],'links':[{}],'attributes':[]"));
    fast(T, ATTR("{}"));
    fast(T, ATTR("{'arrayValue':{}}"));
    fast(T, ATTR("{'arrayValue':{'values':[]}}"));
    fast(T, ATTR("{'kvlistValue':{'values':[]}}"));
    fast(T, ATTR("{'kvlistValue':{'values':[{}]}}"));
    fast(T, ATTR("{'arrayValue':{'values':[{}]}}"));
    fast(T, ATTR("{'stringValue':''}"));
    fast(L, LOG("'body':{}"));
    fast(M, METRIC("'gauge':{}"));
    fast(M, HIST("'bucketCounts':[],'explicitBounds':[]"));
}

Test(otlp_json, unknown_fields_are_skipped)
{
    fast(T, "{'x':1,'resourceSpans':[],'y':'s\\n\\u00e9','z':true,'w':null,'v':false}");
    fast(T, "{'x':{'a':[1,{'b':{}},[]],'c':'d'},'resourceSpans':[{'u':[1,-2.5e3,'x',null]}]}");
    fast(T, SPAN("'name':'n','unknown':{'deep':{'deeper':[[[{'a':1}]]]}},'more':[true,false]"));
    fast(T, SPAN("'traceID':'zz','Trace_id':5,'start_timeUnixNano':{},'TRACEID':[]"));
    fast(T, ATTR("{'stringValue':'s','stringvalue':1}"));
    fast(L, "{'partialSuccess':{},'resourceLogs':[{'scopeLogs':[{'logRecords':[],'x':[]}]}]}");
    fast(M, POINT("'asDouble':1,'extra':{'k':'v'}"));
    agrees(M, POINT("'asDouble':1,'':0"));
    fast(T, SPAN("'a':1,'b':2,'c':3,'d':4,'e':5,'f':6,'g':7,'h':8,'i':9,'j':10,'k':11,'l':12,"
                 "'m':13,'n':14,'o':15,'p':16,'name':'x'"));
}

Test(otlp_json, strings_with_escapes_and_raw_utf8)
{
    ProtobufCMessage *m =
        fast_message(T, SPAN("'name':'a\\nb\\'c\\\\d\\/e\\u00e9f\\ud83d\\ude00\\b\\f\\r\\t\\u0041'"));
    cr_assert_str_eq(first_span(m)->name,
                     "a\nb\"c\\d/e\xc3\xa9" "f\xf0\x9f\x98\x80\b\f\r\tA");
    protobuf_c_message_free_unpacked(m, NULL);
    m = fast_message(T, SPAN("'name':'caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac \xdf\xbf'"));
    cr_assert_str_eq(first_span(m)->name, "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac \xdf\xbf");
    protobuf_c_message_free_unpacked(m, NULL);
    fast(T, ATTR("{'stringValue':'\\u20AC\\uFFFF\\u0080\\u07ff\\uDBFF\\uDFFF'}"));
    fast(L, LOG("'body':{'stringValue':'line\\nwith\\ttabs and \\\\ and \\''}"));
    fast(T, "{'resourceSpans':[{'resource':{'attributes':[{'key':'k\\u00e9y\\n','value':"
            "{'stringValue':'v'}}]}}]}");
}

Test(otlp_json, anyvalue_nesting)
{
    fast(L, LOG("'body':{'kvlistValue':{'values':[{'key':'a','value':{'arrayValue':{'values':["
                "{'intValue':'1'},{'kvlistValue':{'values':[{'key':'b','value':{'boolValue':true}}"
                "]}},{'arrayValue':{'values':[{'doubleValue':1.5},{'bytesValue':'AQID'}]}}]}}}]}}"));
    char b[2048];
    for (int k = 1; k <= 5; k++) { /* the leaf 8 + 3k deep in the text: within 24 */
        int o = snprintf(b, sizeof b, "%s", "{'resourceLogs':[{'scopeLogs':[{'logRecords':[{'body':");
        for (int i = 0; i < k; i++)
            o += snprintf(b + o, sizeof b - (size_t)o, "{'arrayValue':{'values':[");
        o += snprintf(b + o, sizeof b - (size_t)o, "{'stringValue':'leaf'}");
        for (int i = 0; i < k; i++)
            o += snprintf(b + o, sizeof b - (size_t)o, "]}}");
        snprintf(b + o, sizeof b - (size_t)o, "}]}]}]}");
        fast(L, b);
    }
}

Test(otlp_json, repeated_fields)
{
    fast(T, "{'resourceSpans':[{'scopeSpans':[{'spans':[{'name':'a'},{'name':'b'}]},"
            "{'spans':[{'name':'c'}]}]},{'scopeSpans':[{'spans':[{'name':'d'}]}]}]}");
    fast(T, SPAN("'attributes':[{'key':'a','value':{'stringValue':'1'}},{'key':'b','value':"
                 "{'intValue':2}},{'key':'a','value':{'boolValue':false}}],'events':[{'name':'e1',"
                 "'timeUnixNano':'1','attributes':[{'key':'x','value':{}}]},{'name':'e2'}],"
                 "'links':[{'traceId':'" TID "'},{'spanId':'" SID "','traceState':'t'}]"));
    fast(M, HIST("'bucketCounts':['0','3','0','1','0','0','0','1'],'explicitBounds':"
                 "[0,5,10,25,50,75,100],'count':'5'"));
    fast(M, EXPH("'positive':{'bucketCounts':[1,2,3,4,5,6,7,8,9,10,'11',12]}"));
    ProtobufCMessage *m =
        fast_message(T, SPAN("'attributes':[{'key':'a'},{'key':'b'},{'key':'c'}]"));
    cr_assert_eq(first_span(m)->n_attributes, 3);
    cr_assert_str_eq(first_span(m)->attributes[2]->key, "c");
    protobuf_c_message_free_unpacked(m, NULL);
}

Test(otlp_json, white_space_everywhere)
{
    fast(T, " \n{ 'resourceSpans' :\t[ { 'scopeSpans' : [ { 'spans' : [ { 'traceId' : '" TID
            "' , 'kind' : 2 , 'name' : 'n' , 'attributes' : [ { 'key' : 'k' , 'value' : { "
            "'intValue' : -5 } } ] , 'startTimeUnixNano' : '7' } ] } ] } ] }\r\n\t ");
    fast(M, "{\r\n  'resourceMetrics': [\r\n    {\r\n      'scopeMetrics': [{'metrics': [{\n"
            "  'name' : 'm' , 'histogram' : { 'dataPoints' : [ { 'bucketCounts' : [ 1 , '2' ] ,"
            " 'explicitBounds' : [ 1.5 ] } ] } } ] } ]\n    }\n  ]\n}\n");
}

Test(otlp_json, base64_bytes)
{
    ProtobufCMessage *m = fast_message(T, ATTR("{'bytesValue':'aGVsbG8='}"));
    const AnyValue *v = first_span(m)->attributes[0]->value;
    cr_assert_eq(v->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE);
    cr_assert_eq(v->bytes_value.len, 5);
    cr_assert(memcmp(v->bytes_value.data, "hello", 5) == 0);
    protobuf_c_message_free_unpacked(m, NULL);
    fast(T, ATTR("{'bytesValue':'aGVsbG8'}"));
    fast(T, ATTR("{'bytesValue':'aGk='}"));
    fast(T, ATTR("{'bytesValue':'aGk'}"));
    fast(T, ATTR("{'bytesValue':'aGVsbG8hIQ=='}"));
    fast(T, ATTR("{'bytesValue':'aGVsbG8hIQ'}"));
    fast(T, ATTR("{'bytesValue':''}"));
    fast(T, ATTR("{'bytesValue':'+/+/'}"));
    fast(L, LOG("'body':{'bytesValue':'AAECAwQFBgcICQoLDA0ODw=='}"));
    /* what the general path does not check: url-safe letters, cut groups, data after '=' */
    agrees(T, ATTR("{'bytesValue':'\\/w=='}"));
    agrees(T, ATTR("{'bytesValue':'-_-_'}"));
    agrees(T, ATTR("{'bytesValue':'Q'}"));
    agrees(T, ATTR("{'bytesValue':'QQ=='}"));
    agrees(T, ATTR("{'bytesValue':'QQ='}"));
    agrees(T, ATTR("{'bytesValue':'QQ==QQ=='}"));
    agrees(T, ATTR("{'bytesValue':'QQ==!!'}"));
    agrees(T, ATTR("{'bytesValue':'QR=='}"));
    agrees(T, ATTR("{'bytesValue':'='}"));
    refused(T, ATTR("{'bytesValue':'!!!!'}"));
    refused(T, ATTR("{'bytesValue':'aGk K'}"));
    refused(T, ATTR("{'bytesValue':5}"));
}

/* A 100 KB string: its length and every enclosing length take 3-byte varints. */
Test(otlp_json, long_string)
{
    enum { N = 100000 };
    owl_buf b = OWL_BUF_INIT;
    owl_buf_puts(&b, "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"body\":"
                     "{\"stringValue\":\"");
    for (size_t i = 0; i < N; i++)
        owl_buf_putc(&b, (char)('a' + i % 26));
    owl_buf_puts(&b, "\"},\"severityText\":\"INFO\"}]}]}]}");
    cr_assert(check_same_n(L, b.data, b.len, NULL), "the fast path declined a long string");
    owl_buf w = OWL_BUF_INIT;
    owl_buf_append(&w, PRE, PRE_LEN);
    cr_assert_eq(owl_otlp_json_fast(L, b.data, b.len, &w), OWL_OK);
    ProtobufCMessage *m = unpack(L, &w, "fast", b.data, b.len);
    const char *s = first_log(m)->body->string_value;
    cr_assert_eq(strlen(s), N);
    cr_assert_eq(s[N - 1], 'a' + (N - 1) % 26);
    protobuf_c_message_free_unpacked(m, NULL);
    owl_buf_free(&w);
    owl_buf_free(&b);
}

/* Names and values whose lengths put the enclosing messages on each side of a varint length's
 * 1/2 and 2/3-byte steps (127/128, 16383/16384 bytes). */
Test(otlp_json, lengths_across_varint_steps)
{
    static const size_t from[] = {0, 16320};
    for (size_t r = 0; r < 2; r++) {
        for (size_t len = from[r]; len < from[r] + 150; len++) {
            owl_buf b = OWL_BUF_INIT;
            owl_buf_puts(&b, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":\"");
            for (size_t i = 0; i < len; i++)
                owl_buf_putc(&b, (char)('a' + i % 26));
            owl_buf_puts(&b, "\",\"attributes\":[{\"key\":\"k\",\"value\":{\"stringValue\":\"");
            for (size_t i = 0; i < len / 2; i++)
                owl_buf_putc(&b, 'v');
            owl_buf_puts(&b, "\"}}]}]}]}]}");
            cr_assert(check_same_n(T, b.data, b.len, NULL), "declined at length %zu", len);
            owl_buf_free(&b);
        }
    }
}

/* Both spellings of one field in one object are two JSON names: the general path writes the
 * field twice (protobuf-c then keeps the last scalar, concatenates repeated ones and merges
 * messages). */
Test(otlp_json, one_field_under_both_names)
{
    agrees(T, SPAN("'startTimeUnixNano':'1','start_time_unix_nano':'2'"));
    agrees(T, SPAN("'traceId':'" TID "','trace_id':'00'"));
    agrees(T, "{'resourceSpans':[{'scopeSpans':[{'spans':[{'name':'a'}]}],"
              "'scope_spans':[{'spans':[{'name':'b'}]}]}]}");
    agrees(T, "{'resourceSpans':[{'scopeSpans':[]}],'resource_spans':[{}]}");
    agrees(T, ATTR("{'kvlistValue':{'values':[{'key':'a'}]},'kvlist_value':{'values':[{'key':'b'}]}}"));
    agrees(T, ATTR("{'stringValue':'a','intValue':5}"));
    agrees(T, ATTR("{'intValue':5,'stringValue':'a'}"));
    agrees(M, POINT("'asDouble':1,'asInt':'2'"));
    agrees(M, HIST("'bucketCounts':[1],'bucket_counts':[2,3]"));
}

/* Bodies the general path accepts that the fast one may leave to it. */
Test(otlp_json, odd_bodies_either_path)
{
    agrees(T, SPAN("'n\\u0061me':'escaped name'"));
    agrees(T, SPAN("'\\u0078':1,'name':'escaped unknown'"));
    agrees(T, SPAN("'a':1,'b':2,'c':3,'d':4,'e':5,'f':6,'g':7,'h':8,'i':9,'j':10,'k':11,'l':12,"
                   "'m':13,'n':14,'o':15,'p':16,'q':17,'name':'x'"));
    char b[512];
    for (int k = 20; k <= 31; k++) { /* unknown arrays nested inside the top-level object */
        int o = snprintf(b, sizeof b, "{'x':");
        for (int i = 0; i < k; i++)
            b[o++] = '[';
        for (int i = 0; i < k; i++)
            b[o++] = ']';
        snprintf(b + o, sizeof b - (size_t)o, ",'resourceSpans':[]}");
        agrees(T, b);
    }
}

/* The whole request as an AnyValue k arrays deep: the general path's two limits (nesting in the
 * JSON text, nesting of messages) either side. */
Test(otlp_json, deep_anyvalues)
{
    char b[4096];
    for (int k = 1; k <= 40; k++) {
        int o = snprintf(b, sizeof b, "{'resourceLogs':[{'scopeLogs':[{'logRecords':[{'body':");
        for (int i = 0; i < k; i++)
            o += snprintf(b + o, sizeof b - (size_t)o, "{'arrayValue':{'values':[");
        o += snprintf(b + o, sizeof b - (size_t)o, "{'intValue':1}");
        for (int i = 0; i < k; i++)
            o += snprintf(b + o, sizeof b - (size_t)o, "]}}");
        snprintf(b + o, sizeof b - (size_t)o, "}]}]}]}");
        agrees(L, b);
    }
}

/* ---- bodies the general path refuses: never the fast path's ---- */

#define VALID SPAN("'traceId':'" TID "','name':'n\\u00e9','kind':2,'startTimeUnixNano':'1'," \
                   "'attributes':[{'key':'k','value':{'doubleValue':1.5}}],'status':{}")

Test(otlp_json, every_cut_of_a_body)
{
    char *b = dq(VALID);
    size_t n = strlen(b);
    cr_assert(check_same_n(T, b, n, NULL));
    for (size_t cut = 1; cut < n; cut++)
        refused_n(T, b, cut);
    free(b);
}

Test(otlp_json, malformed_json)
{
    refused(T, "{'resourceSpans':[]}x");
    refused(T, "{'resourceSpans':[]}{}");
    refused(T, "{}{}");
    refused(T, "{} 1");
    refused(T, "{'resourceSpans':[],}");
    refused(T, "{'resourceSpans':[{},]}");
    refused(T, SPAN("'name':'a',"));
    refused(T, "{,}");
    refused(T, "{'resourceSpans' []}");
    refused(T, "{'resourceSpans':[] 'x':1}");
    refused(T, "{resourceSpans:[]}");
    refused(T, SPAN("'kind':tru"));
    refused(T, SPAN("'kind':nul"));
    refused(T, SPAN("'x':True"));
    refused(T, SPAN("'x':falsey"));
    refused(T, SPAN("'x':NaN"));
    refused(T, SPAN("'x':Infinity"));
    refused(M, POINT("'asDouble':-Infinity"));
    refused(T, SPAN("'kind':01"));
    refused(T, SPAN("'kind':+1"));
    refused(T, SPAN("'x':.5"));
    refused(T, SPAN("'x':1."));
    refused(T, SPAN("'x':1e"));
    refused(T, SPAN("'x':-"));
    refused(T, SPAN("'x':0x10"));
    refused(T, SPAN("'name':'a\\x'"));
    refused(T, SPAN("'name':'\\u12'"));
    refused(T, SPAN("'name':'\\u12g4'"));
    refused(T, SPAN("'name':'tab\there'"));
    refused(T, SPAN("'x':'new\nline'"));
}

/* Numbers JSON allows that the general reader still refuses: out of a double's range, or
 * longer than it reads. In a skipped value too. */
Test(otlp_json, numbers_out_of_reach)
{
    refused(T, SPAN("'x':1e999"));
    refused(T, SPAN("'x':-1e400"));
    refused(T, "{'x':[1,2,1e309]}");
    refused(M, POINT("'asDouble':1e999"));
    refused(M, HIST("'explicitBounds':[1,-1e999]"));
    char b[1024];
    int o = snprintf(b, sizeof b, "{'x':");
    for (int i = 0; i < 500; i++)
        b[o++] = (char)('1' + i % 9);
    snprintf(b + o, sizeof b - (size_t)o, "}");
    refused(T, b);
    o = snprintf(b, sizeof b, "{'x':0.");
    for (int i = 0; i < 500; i++)
        b[o++] = '0';
    snprintf(b + o, sizeof b - (size_t)o, "1}");
    refused(T, b);
}

Test(otlp_json, duplicate_names)
{
    refused(T, "{'resourceSpans':[],'resourceSpans':[]}");
    refused(T, SPAN("'name':'a','kind':2,'name':'b'"));
    refused(T, SPAN("'name':null,'name':'b'"));
    refused(T, SPAN("'name':'a','name':null"));
    refused(T, "{'resourceSpans':null,'resourceSpans':[]}");
    refused(T, SPAN("'x':1,'x':2"));
    refused(T, SPAN("'x':null,'x':null"));
    refused(T, SPAN("'x':{'a':1,'b':2,'a':3}"));
    refused(T, SPAN("'x':[{'a':1},{'b':{'c':1,'c':1}}]"));
    refused(T, ATTR("{'stringValue':'a','stringValue':'b'}"));
    refused(T, "{'resourceSpans':[{'resource':{},'resource':{}}]}");
    refused(T, SPAN("'a':1,'b':2,'c':3,'d':4,'e':5,'f':6,'g':7,'h':8,'i':9,'j':10,'k':11,'l':12,"
                    "'m':13,'n':14,'o':15,'a':16"));
    refused(T, SPAN("'a':1,'b':2,'c':3,'d':4,'e':5,'f':6,'g':7,'h':8,'i':9,'j':10,'k':11,'l':12,"
                    "'m':13,'n':14,'o':15,'p':16,'q':17,'a':18"));
    refused(T, SPAN("'name':'x','a':1,'b':2,'c':3,'d':4,'e':5,'f':6,'g':7,'h':8,'i':9,'j':10,"
                    "'k':11,'l':12,'m':13,'n':14,'o':15,'p':16,'q':17,'name':'y'"));
    refused(T, SPAN("'name':'x','n\\u0061me':'y'"));
    refused(L, LOG("'body':{'kvlistValue':{'values':[{'key':'a','key':'b'}]}}"));
}

Test(otlp_json, bad_strings)
{
    refused(T, SPAN("'name':'\xff'"));
    refused(T, SPAN("'name':'abcdefg\xff ok'"));
    refused(T, SPAN("'name':'\xc0\xaf'"));
    refused(T, SPAN("'name':'\xed\xa0\x80'"));
    refused(T, SPAN("'name':'\xe2\x82'"));
    refused(T, SPAN("'name':'\xf4\x90\x80\x80'"));
    refused(T, SPAN("'x':'\xff'"));
    refused(T, SPAN("'\xff':1"));
    refused(T, SPAN("'name':'a\\u0000b'"));
    refused(T, SPAN("'x':'\\u0000'"));
    refused(T, SPAN("'name':'\\ud83d'"));
    refused(T, SPAN("'name':'\\ude00x'"));
    refused(T, SPAN("'name':'\\ud83d\\u0041'"));
    refused(T, SPAN("'x':'\\udbff'"));
    static const char raw_nul[] = "{\"x\":\"a\0b\"}";
    refused_n(T, raw_nul, sizeof raw_nul - 1);
    static const char raw_nul_known[] = "{\"resourceSpans\":[{\"schemaUrl\":\"a\0b\"}]}";
    refused_n(T, raw_nul_known, sizeof raw_nul_known - 1);
    static const char raw_nul_name[] = "{\"a\0b\":1}";
    refused_n(T, raw_nul_name, sizeof raw_nul_name - 1);
    char *b = malloc(2000);
    int o = snprintf(b, 2000, "{\"");
    memset(b + o, 'k', 1100);
    snprintf(b + o + 1100, 2000 - (size_t)o - 1100, "\":1}");
    refused_n(T, b, strlen(b)); /* a name over OWL_AWS_MAX_KEY */
    free(b);
}

Test(otlp_json, bad_ids)
{
    refused(T, SPAN("'traceId':'abc'"));
    refused(T, SPAN("'traceId':'5b8efff798038103d269b633813fc60'"));
    refused(T, SPAN("'spanId':'zz'"));
    refused(T, SPAN("'spanId':'eee19b7ec3c1b17g'"));
    refused(T, SPAN("'spanId':'0x12'"));
    refused(T, SPAN("'parentSpanId':' eee19b7ec3c1b17'"));
    refused(T, SPAN("'traceId':12"));
    refused(T, SPAN("'traceId':['ab']"));
    refused(L, LOG("'traceId':'W4798D'"));
    refused(M, POINT("'exemplars':[{'spanId':'e'}]"));
}

Test(otlp_json, values_of_the_wrong_type)
{
    refused(T, "{'resourceSpans':[{'resource':'x'}]}");
    refused(T, SPAN("'status':'ok'"));
    refused(T, ATTR("'s'"));
    refused(T, ATTR("5"));
    refused(T, ATTR("true"));
    refused(T, SPAN("'name':5"));
    refused(T, SPAN("'name':true"));
    refused(T, SPAN("'name':{}"));
    refused(T, "{'resourceSpans':[{'resource':{'attributes':[{'key':1}]}}]}");
    refused(T, ATTR("{'stringValue':1}"));
    refused(T, SPAN("'name':['a']"));
    refused(T, "{'resourceSpans':[{'resource':[{}]}]}");
    refused(T, SPAN("'kind':[2]"));
    refused(T, SPAN("'startTimeUnixNano':['1']"));
    refused(T, SPAN("'startTimeUnixNano':true"));
    refused(T, SPAN("'startTimeUnixNano':{}"));
    refused(T, SPAN("'startTimeUnixNano':''"));
    refused(T, SPAN("'startTimeUnixNano':'abc'"));
    refused(T, SPAN("'kind':true"));
    refused(T, SPAN("'kind':'SPAN_KIND_BOGUS'"));
    refused(T, "{'resourceSpans':{}}");
    refused(T, "{'resourceSpans':5}");
    refused(T, "{'resourceSpans':'a'}");
    refused(T, SPAN("'attributes':{'key':'a'}"));
    refused(T, SPAN("'events':{}"));
    refused(M, HIST("'bucketCounts':5"));
    refused(M, HIST("'explicitBounds':1.5"));
    refused(T, "{'resourceSpans':[5]}");
    refused(T, "{'resourceSpans':[null]}");
    refused(T, "{'resourceSpans':[[]]}");
    refused(T, SPAN("'attributes':[{'key':'a'},'b']"));
    refused(M, HIST("'bucketCounts':[1,null]"));
    refused(M, HIST("'explicitBounds':[1,'x']"));
    refused(M, HIST("'explicitBounds':[true]"));
    refused(M, POINT("'asDouble':true"));
    refused(M, POINT("'asDouble':{}"));
    refused(M, POINT("'asDouble':'1.5x'"));
    refused(M, POINT("'asDouble':'nonsense'"));
}

Test(otlp_json, numbers_a_field_cannot_hold)
{
    refused(T, SPAN("'droppedAttributesCount':-1"));
    refused(T, SPAN("'startTimeUnixNano':-1"));
    refused(T, SPAN("'startTimeUnixNano':'-1'"));
    refused(T, SPAN("'flags':-1"));
    refused(M, HIST("'bucketCounts':[1,-2]"));
    refused(M, HIST("'count':'-5'"));
    refused(T, SPAN("'startTimeUnixNano':1.5"));
    refused(T, SPAN("'droppedAttributesCount':0.5"));
    refused(T, SPAN("'kind':1.5"));
    refused(T, ATTR("{'intValue':2.5}"));
    refused(T, ATTR("{'intValue':'2.5'}"));
    refused(M, POINT("'asInt':1e-1"));
    refused(T, SPAN("'startTimeUnixNano':'18446744073709551616'"));
    refused(T, SPAN("'startTimeUnixNano':18446744073709551616"));
    refused(T, SPAN("'startTimeUnixNano':1e20"));
    refused(T, ATTR("{'intValue':'9223372036854775808'}"));
    refused(T, ATTR("{'intValue':'-9223372036854775809'}"));
    refused(T, ATTR("{'intValue':9223372036854775808}"));
    refused(T, ATTR("{'intValue':1e19}"));
    refused(M, POINT("'asInt':-1e19"));
}

Test(otlp_json, not_an_object)
{
    static const char *const bodies[] = {"[]", "[{}]", "'x'", "5", "null", "true", "x", "}"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        refused(T, bodies[i]);
        refused(L, bodies[i]);
        refused(M, bodies[i]);
    }
}

/* Forty arrays deep (the reader stops at 32), in a skipped value and in an AnyValue. */
Test(otlp_json, nested_forty_deep)
{
    char b[4096];
    int o = snprintf(b, sizeof b, "{'x':");
    for (int i = 0; i < 40; i++)
        b[o++] = '[';
    for (int i = 0; i < 40; i++)
        b[o++] = ']';
    snprintf(b + o, sizeof b - (size_t)o, "}");
    refused(T, b);
    o = snprintf(b, sizeof b, "{'x':");
    for (int i = 0; i < 40; i++)
        o += snprintf(b + o, sizeof b - (size_t)o, "{'a':");
    o += snprintf(b + o, sizeof b - (size_t)o, "1");
    for (int i = 0; i < 40; i++)
        b[o++] = '}';
    snprintf(b + o, sizeof b - (size_t)o, "}");
    refused(T, b);
    o = snprintf(b, sizeof b, "{'resourceLogs':[{'scopeLogs':[{'logRecords':[{'body':");
    for (int i = 0; i < 40; i++)
        o += snprintf(b + o, sizeof b - (size_t)o, "{'arrayValue':{'values':[");
    for (int i = 0; i < 40; i++)
        o += snprintf(b + o, sizeof b - (size_t)o, "]}}");
    snprintf(b + o, sizeof b - (size_t)o, "}]}]}]}");
    refused(L, b);
}

/* Threads reading at once from the first call on (each Test runs in its own process, so the
 * registry of message types is built while they race). A thread only records what it got;
 * the main thread asserts (Criterion's assertions belong to the test's own thread). */
static const char *const race_bodies[3] = {
    SPAN("'traceId':'" TID "','spanId':'" SID "','kind':2,'status':{'code':2},"
         "'events':[{'name':'e'}],'links':[{'traceId':'" TID "'}]"),
    LOG("'body':{'kvlistValue':{'values':[{'key':'a','value':{'intValue':'1'}}]}},"
        "'severityNumber':9,'traceId':'" TID "'"),
    HIST("'bucketCounts':['1',2],'explicitBounds':[1.5],'exemplars':[{'asInt':'3'}]"),
};

typedef struct racer {
    unsigned k;
    char *body[3];
    owl_buf first[3]; /* the first wire (after PRE) for each body */
    unsigned bad;     /* calls not OK, or not the same bytes as the first */
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    const ProtobufCMessageDescriptor *descs[3] = {T, L, M};
    for (unsigned i = 0; i < 300; i++) {
        unsigned d = (r->k + i) % 3;
        size_t n = strlen(r->body[d]);
        owl_buf w = OWL_BUF_INIT;
        owl_buf_append(&w, PRE, PRE_LEN);
        if (owl_otlp_json_fast(descs[d], r->body[d], n, &w) != OWL_OK)
            r->bad++;
        else if (!r->first[d].len)
            owl_buf_append(&r->first[d], w.data, w.len);
        else if (w.len != r->first[d].len || memcmp(w.data, r->first[d].data, w.len) != 0)
            r->bad++;
        owl_buf_free(&w);
    }
    return NULL;
}

Test(otlp_json, threads_from_the_first_call)
{
    const ProtobufCMessageDescriptor *descs[3] = {T, L, M};
    racer r[4] = {{0}};
    pthread_t th[4];
    for (unsigned k = 0; k < 4; k++) {
        r[k].k = k;
        for (int d = 0; d < 3; d++)
            r[k].body[d] = dq(race_bodies[d]);
        cr_assert_eq(pthread_create(&th[k], NULL, race, &r[k]), 0);
    }
    for (int k = 0; k < 4; k++)
        pthread_join(th[k], NULL);
    for (int k = 0; k < 4; k++) {
        cr_assert_eq(r[k].bad, 0, "thread %d: %u calls declined or gave other bytes", k, r[k].bad);
        for (int d = 0; d < 3; d++) {
            size_t n = strlen(r[k].body[d]);
            owl_buf g = OWL_BUF_INIT;
            owl_buf_append(&g, PRE, PRE_LEN);
            cr_assert_eq(owl_otlp_json_general(descs[d], r[k].body[d], n, &g, NULL), OWL_OK);
            same_message(descs[d], &r[k].first[d], &g, r[k].body[d], n);
            owl_buf_free(&g);
            owl_buf_free(&r[k].first[d]);
            free(r[k].body[d]);
        }
    }
}

/* ---- owl_otlp_json_wire: the fast path, else the general one ---- */

static void wire_ok(const ProtobufCMessageDescriptor *desc, const char *text)
{
    char *b = dq(text);
    size_t n = strlen(b);
    owl_buf w = OWL_BUF_INIT, g = OWL_BUF_INIT;
    owl_error err = {0};
    owl_buf_append(&w, PRE, PRE_LEN);
    owl_buf_append(&g, PRE, PRE_LEN);
    cr_assert_eq(owl_otlp_json_wire(desc, b, n, &w, &err), OWL_OK, "%s: %s", b, err.msg);
    cr_assert_eq(owl_otlp_json_general(desc, b, n, &g, &err), OWL_OK, "%s: %s", b, err.msg);
    same_message(desc, &w, &g, b, n);
    owl_buf_free(&w);
    owl_buf_free(&g);
    free(b);
}

static void wire_refuses(const ProtobufCMessageDescriptor *desc, const char *text)
{
    char *b = dq(text);
    owl_buf w = OWL_BUF_INIT;
    owl_error err = {0};
    cr_assert_eq(owl_otlp_json_wire(desc, b, strlen(b), &w, &err), OWL_EINVAL, "%s", b);
    cr_assert(err.msg[0] != '\0', "refused without saying why: %s", b);
    owl_buf_free(&w);
    free(b);
}

Test(otlp_json, wire_takes_either_path)
{
    wire_ok(T, VALID);                              /* the fast path */
    wire_ok(T, SPAN("'n\\u0061me':'escaped name'")); /* the general one */
    wire_ok(L, LOG("'body':{'stringValue':'x'}"));
    wire_ok(M, POINT("'asDouble':1"));
    wire_ok(M, "");
    wire_refuses(T, "{'resourceSpans':[],}");
    wire_refuses(T, SPAN("'name':5"));
    wire_refuses(T, SPAN("'traceId':'abc'"));
    wire_refuses(L, LOG("'x':1,'x':2"));
    wire_refuses(M, "[]");
}
