/* test_client_metrics.c — client/metrics.c and the metrics encoders of client/otlp_encode.c:
 * instruments of each kind recorded into, collected (owl__metrics_collect) in both encodings
 * and read back two ways: decoded by owld (owl_otlp_metrics_decode: names, units, values,
 * dimensions, histogram statistics) and unpacked to protobuf-c's structs for the fields owld
 * does not keep (start time, temporality, monotonic, bounds). Series identity and limits, kind
 * mismatches, refused bounds, ignored values, exact totals from 4 threads, cumulative points
 * across collections, an encode out of memory. Each Criterion test runs in its own process,
 * so each starts with no instruments. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/client_renamed.h"

#include "ingest/ingest.h"
#include "ingest/otlp_int.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "client_oom.h"

typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest Req;
typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumPt;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistPt;
#define M_(k) OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_##k
#define CUMULATIVE OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE
#define SERVICE "checkout"
#define RESOURCE "deployment.environment=prod"

/* ---- collecting and reading back ---- */

static void collect(int json, owl__cbuf *b)
{
    cr_assert_eq(owl__metrics_collect(NULL, SERVICE, RESOURCE, json, b), 0);
    cr_assert_eq(b->nomem, 0);
}

/* owld's cumulative-to-delta step replaced: every point is the first of its stream. */
static int first_point(void *ud, uint64_t stream, int64_t start_ns, const double *cum,
                       double *delta, size_t n)
{
    (void)ud, (void)stream, (void)start_ns;
    memcpy(delta, cum, n * sizeof *delta);
    return 1;
}

static void decode(int json, const owl__cbuf *b, owl_otlp_batch *out)
{
    owl_error err = {0};
    memset(out, 0, sizeof *out);
    cr_assert_eq(owl_otlp_metrics_decode(json ? OWL_OTLP_JSON : OWL_OTLP_PROTOBUF, b->p, b->len,
                                         1000, first_point, NULL, out, &err),
                 OWL_OK, "%s", err.msg);
    cr_assert_eq(out->rejected, 0, "%s", out->message);
}

/* The datum of metric name whose dimensions are exactly the pairs of dims ("k=v,k=v", ""). */
static const owl_datum *datum(const owl_otlp_batch *b, const char *name, const char *dims)
{
    for (size_t i = 0; i < b->n; i++) {
        const owl_datum *d = &b->d[i];
        char got[512] = "";
        size_t w = 0;
        if (strcmp(d->id.name, name) != 0)
            continue;
        for (size_t j = 0; j < d->id.ndims; j++)
            w += (size_t)snprintf(got + w, sizeof got - w, "%s%s=%s", j ? "," : "",
                                  d->id.dims[j].name, d->id.dims[j].value);
        if (strcmp(got, dims) == 0)
            return d;
    }
    cr_assert_fail("no datum %s {%s}", name, dims);
    return NULL;
}

static Req *unpack(int json, const owl__cbuf *b, owl_arena *mem)
{
    ProtobufCMessage *m = NULL;
    owl_error err = {0};
    owl_arena_init(mem, 0);
    cr_assert_eq(owl_otlp_unpack(
                     &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor,
                     json ? OWL_OTLP_JSON : OWL_OTLP_PROTOBUF, b->p, b->len, mem, &m, &err),
                 OWL_OK, "%s", err.msg);
    return (Req *)m;
}

static const Metric *metric(const Req *q, const char *name)
{
    cr_assert_eq(q->n_resource_metrics, 1);
    cr_assert_eq(q->resource_metrics[0]->n_scope_metrics, 1);
    const Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm =
        q->resource_metrics[0]->scope_metrics[0];
    for (size_t i = 0; i < sm->n_metrics; i++)
        if (strcmp(sm->metrics[i]->name, name) == 0)
            return sm->metrics[i];
    return NULL;
}

static size_t nmetrics(const Req *q)
{
    return q->resource_metrics[0]->scope_metrics[0]->n_metrics;
}

/* ---- each kind, both encodings, both readers ---- */

static owl_metric *req, *depth, *temp, *lat;

static void record_each_kind(void)
{
    static const double bounds[] = {10, 100};
    req = owl_counter("http.server.requests", "{request}", "requests served");
    depth = owl_updown_counter("queue.depth", "1", NULL);
    temp = owl_gauge("cpu.util", "%", "busy share");
    lat = owl_histogram("http.server.duration", "ms", NULL, bounds, 2);
    cr_assert(req && depth && temp && lat);
    owl_metric_add(owl_metric_series(req, "route", "/a", "code", "200", NULL), 3);
    owl_metric_add(owl_metric_series(req, "code", "200", "route", "/a", NULL), 1.5);
    owl_metric_add(owl_metric_series(req, "route", "/b", "code", "500", NULL), 1);
    owl_metric_add(depth, 5);
    owl_metric_add(depth, -7);
    owl_metric_set(temp, 12);
    owl_metric_set(temp, 42.5);
    owl_metric *l = owl_metric_series(lat, "route", "/a", NULL);
    owl_metric_record(l, 5);
    owl_metric_record(l, 50);
    owl_metric_record(l, 50);
    owl_metric_record(l, 500);
}

Test(client_metrics, each_kind_decoded_by_owld)
{
    record_each_kind();
    for (int json = 0; json < 2; json++) {
        owl__cbuf b = {0};
        owl_otlp_batch d;
        collect(json, &b);
        decode(json, &b, &d);
        cr_assert_eq(d.n, 5);
        const owl_datum *x = datum(&d, "http.server.requests", "code=200,route=/a");
        cr_assert_str_eq(x->id.ns, "otel/" SERVICE);
        cr_assert_str_eq(x->unit, "Count");
        cr_assert(x->nvalues == 1 && x->values[0] == 4.5);
        x = datum(&d, "http.server.requests", "code=500,route=/b");
        cr_assert(x->nvalues == 1 && x->values[0] == 1);
        x = datum(&d, "queue.depth", "");
        cr_assert_str_eq(x->unit, "None");
        cr_assert(x->nvalues == 1 && x->values[0] == -2);
        x = datum(&d, "cpu.util", "");
        cr_assert_str_eq(x->unit, "Percent");
        cr_assert(x->nvalues == 1 && x->values[0] == 42.5);
        x = datum(&d, "http.server.duration", "route=/a");
        cr_assert_str_eq(x->unit, "Milliseconds");
        cr_assert(x->has_stats);
        cr_assert(x->count == 4 && x->sum == 605 && x->min == 5 && x->max == 500);
        cr_assert_eq(x->nvalues, 3); /* one value a non-empty bucket */
        cr_assert(x->counts[0] == 1 && x->counts[1] == 2 && x->counts[2] == 1);
        owl_otlp_batch_free(&d);
        owl__cbuf_free(&b);
    }
}

/* What owld does not keep: description, temporality, monotonic, times, bounds, buckets. */
Test(client_metrics, fields_owld_does_not_keep)
{
    uint64_t before = (uint64_t)time(NULL) * 1000000000u;
    record_each_kind();
    owl_gauge("never.set", NULL, NULL); /* no recording: not sent */
    for (int json = 0; json < 2; json++) {
        owl__cbuf b = {0};
        owl_arena mem;
        collect(json, &b);
        Req *q = unpack(json, &b, &mem);
        cr_assert_str_eq(q->resource_metrics[0]->resource->attributes[0]->value->string_value,
                         SERVICE);
        cr_assert_str_eq(q->resource_metrics[0]->scope_metrics[0]->scope->name, "libowl");
        cr_assert_eq(nmetrics(q), 4);
        cr_assert_null(metric(q, "never.set"));

        const Metric *m = metric(q, "http.server.requests");
        cr_assert_str_eq(m->description, "requests served");
        cr_assert_str_eq(m->unit, "{request}");
        cr_assert_eq(m->data_case, M_(SUM));
        cr_assert_eq(m->sum->aggregation_temporality, CUMULATIVE);
        cr_assert(m->sum->is_monotonic);
        cr_assert_eq(m->sum->n_data_points, 2);
        const NumPt *p = m->sum->data_points[0];
        cr_assert_eq(p->value_case, OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE);
        cr_assert(p->as_double == 4.5);
        cr_assert(p->start_time_unix_nano >= before && p->time_unix_nano >= p->start_time_unix_nano);
        cr_assert_eq(p->n_attributes, 2); /* sorted by key */
        cr_assert_str_eq(p->attributes[0]->key, "code");
        cr_assert_str_eq(p->attributes[1]->key, "route");

        m = metric(q, "queue.depth");
        cr_assert_eq(m->data_case, M_(SUM));
        cr_assert_eq(m->sum->aggregation_temporality, CUMULATIVE);
        cr_assert(!m->sum->is_monotonic);
        cr_assert_str_eq(m->description, "");

        m = metric(q, "cpu.util");
        cr_assert_eq(m->data_case, M_(GAUGE));
        cr_assert_eq(m->gauge->n_data_points, 1);
        cr_assert(m->gauge->data_points[0]->as_double == 42.5);

        m = metric(q, "http.server.duration");
        cr_assert_eq(m->data_case, M_(HISTOGRAM));
        cr_assert_eq(m->histogram->aggregation_temporality, CUMULATIVE);
        cr_assert_eq(m->histogram->n_data_points, 1); /* the series without attributes: none */
        const HistPt *h = m->histogram->data_points[0];
        cr_assert_eq(h->count, 4);
        cr_assert(h->sum == 605 && h->min == 5 && h->max == 500);
        cr_assert_eq(h->n_explicit_bounds, 2);
        cr_assert(h->explicit_bounds[0] == 10 && h->explicit_bounds[1] == 100);
        cr_assert_eq(h->n_bucket_counts, 3);
        cr_assert(h->bucket_counts[0] == 1 && h->bucket_counts[1] == 2 &&
                  h->bucket_counts[2] == 1);
        owl_arena_free(&mem);
        owl__cbuf_free(&b);
    }
}

/* A point on a bound falls in the bucket it closes (upper bounds inclusive); default bounds. */
Test(client_metrics, bucket_edges_and_default_bounds)
{
    static const double bounds[] = {1, 2, 4};
    owl_metric *h = owl_histogram("edges", NULL, NULL, bounds, 3);
    owl_metric *d = owl_histogram("dflt", NULL, NULL, NULL, 0);
    cr_assert(h && d);
    double vs[] = {-1, 1, 1.5, 2, 4, 4.0000001, 1e300};
    for (size_t i = 0; i < sizeof vs / sizeof *vs; i++)
        owl_metric_record(h, vs[i]);
    owl_metric_record(d, 7);
    owl__cbuf b = {0};
    owl_arena mem;
    collect(0, &b);
    Req *q = unpack(0, &b, &mem);
    const HistPt *p = metric(q, "edges")->histogram->data_points[0];
    cr_assert(p->bucket_counts[0] == 2 && p->bucket_counts[1] == 2 && p->bucket_counts[2] == 1 &&
              p->bucket_counts[3] == 2);
    cr_assert(p->min == -1 && p->max == 1e300);
    p = metric(q, "dflt")->histogram->data_points[0];
    cr_assert_eq(p->n_explicit_bounds, 15);
    cr_assert(p->explicit_bounds[0] == 0 && p->explicit_bounds[14] == 10000);
    cr_assert_eq(p->bucket_counts[2], 1); /* (5, 10] */
    owl_arena_free(&mem);
    owl__cbuf_free(&b);
}

/* ---- series identity and limits ---- */

Test(client_metrics, series_identity)
{
    owl_metric *c = owl_counter("c", NULL, NULL);
    owl_metric *ab = owl_metric_series(c, "a", "1", "b", "2", NULL);
    cr_assert_not_null(ab);
    cr_assert_eq(owl_metric_series(c, "b", "2", "a", "1", NULL), ab);
    cr_assert_eq(owl_metric_series(ab, "b", "2", "a", "1", NULL), ab); /* from a series */
    cr_assert_neq(owl_metric_series(c, "a", "1", "b", "3", NULL), ab);
    cr_assert_neq(owl_metric_series(c, "a", "1", NULL), ab);
    cr_assert_eq(owl_metric_series(c, NULL), c);
    cr_assert_eq(owl_metric_series(ab, NULL), c);
    /* a key given twice: its last value */
    cr_assert_eq(owl_metric_series(c, "b", "9", "a", "1", "b", "2", NULL), ab);
    /* no ambiguity between a key's end and a value's start */
    cr_assert_neq(owl_metric_series(c, "ab", "c", NULL), owl_metric_series(c, "a", "bc", NULL));
    /* another instrument, the same attributes: another series */
    owl_metric *d = owl_counter("d", NULL, NULL);
    cr_assert_neq(owl_metric_series(d, "a", "1", "b", "2", NULL), ab);
}

Test(client_metrics, odd_lists_and_pair_limit)
{
    owl_metric *c = owl_counter("c", NULL, NULL);
    cr_assert_null(owl_metric_series(c, "a", (char *)NULL, NULL));
    cr_assert_null(owl_metric_series(c, "a", "1", "b", (char *)NULL, NULL));
    cr_assert_null(owl_metric_series(NULL, "a", "1", NULL));
    cr_assert_null(owl_metric_series(c, "", "1", NULL));
    const char *k[17] = {"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8",
                         "k9", "ka", "kb", "kc", "kd", "ke", "kf", "kg"};
#define P16 k[0], "v", k[1], "v", k[2], "v", k[3], "v", k[4], "v", k[5], "v", k[6], "v", k[7], "v", \
            k[8], "v", k[9], "v", k[10], "v", k[11], "v", k[12], "v", k[13], "v", k[14], "v",       \
            k[15], "v"
    cr_assert_not_null(owl_metric_series(c, P16, NULL));
    cr_assert_null(owl_metric_series(c, P16, k[16], "v", NULL));
}

/* 2,000 series an instrument (its own included); past it every new attribute set shares the
 * overflow series, sent with otel.metric.overflow = true; series made before keep theirs. */
Test(client_metrics, series_limit_and_overflow)
{
    owl_metric *c = owl_counter("c", NULL, NULL), *first = NULL;
    char v[16];
    owl_metric_add(c, 1);
    for (int i = 0; i < 1999; i++) {
        snprintf(v, sizeof v, "%d", i);
        owl_metric *s = owl_metric_series(c, "id", v, NULL);
        cr_assert_not_null(s);
        cr_assert_neq(s, c);
        if (!first)
            first = s;
        owl_metric_add(s, 1);
    }
    owl_metric *o = owl_metric_series(c, "id", "new", NULL);
    cr_assert_not_null(o);
    cr_assert_eq(owl_metric_series(c, "id", "other", "x", "y", NULL), o);
    cr_assert_eq(owl_metric_series(c, "id", "0", NULL), first);
    owl_metric_add(o, 2);
    owl_metric_add(owl_metric_series(c, "id", "third", NULL), 3);

    for (int json = 0; json < 2; json++) {
        owl__cbuf b = {0};
        owl_otlp_batch d;
        collect(json, &b);
        decode(json, &b, &d);
        cr_assert_eq(d.n, 2001);
        cr_assert(datum(&d, "c", "otel.metric.overflow=true")->values[0] == 5);
        cr_assert(datum(&d, "c", "id=1998")->values[0] == 1);
        cr_assert(datum(&d, "c", "")->values[0] == 1);
        owl_otlp_batch_free(&d);
        owl_arena mem;
        Req *q = unpack(json, &b, &mem);
        const NumPt *p = metric(q, "c")->sum->data_points[2000];
        cr_assert_eq(p->n_attributes, 1);
        cr_assert_str_eq(p->attributes[0]->key, "otel.metric.overflow");
        cr_assert(p->attributes[0]->value->value_case ==
                      OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE &&
                  p->attributes[0]->value->bool_value);
        owl_arena_free(&mem);
        owl__cbuf_free(&b);
    }
}

/* ---- instruments by name and kind ---- */

Test(client_metrics, names_and_kind_mismatch)
{
    owl_metric *c = owl_counter("jobs.done", "1", NULL);
    cr_assert_not_null(c);
    cr_assert_eq(owl_counter("jobs.done", "ms", "other"), c);
    cr_assert_eq(owl_counter("Jobs.Done", NULL, NULL), c); /* names are case-insensitive */
    cr_assert_null(owl_gauge("jobs.done", NULL, NULL));
    cr_assert_null(owl_updown_counter("jobs.done", NULL, NULL));
    cr_assert_null(owl_histogram("jobs.done", NULL, NULL, NULL, 0));

    char name[257];
    memset(name, 'a', 256);
    name[256] = '\0';
    cr_assert_null(owl_counter(name, NULL, NULL));
    name[255] = '\0';
    cr_assert_not_null(owl_counter(name, NULL, NULL));
    const char *bad[] = {"", "1abc", "_a", "a b", "a:b", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_null(owl_counter(bad[i], NULL, NULL), "%s", bad[i]);
    cr_assert_null(owl_counter(NULL, NULL, NULL));
    cr_assert_not_null(owl_counter("a_b.c-d/E9", NULL, NULL));
}

/* A recording of a kind the instrument is not does nothing; NaN, infinities, a negative
 * counter increment and a sum past doubles are ignored; unrecorded series are not sent. */
Test(client_metrics, ignored_recordings)
{
    owl_metric *c = owl_counter("c", NULL, NULL), *u = owl_updown_counter("u", NULL, NULL);
    owl_metric *g = owl_gauge("g", NULL, NULL), *h = owl_histogram("h", NULL, NULL, NULL, 0);
    owl__cbuf b = {0};

    owl_metric_add(c, -1);
    owl_metric_add(c, NAN);
    owl_metric_add(c, INFINITY);
    owl_metric_set(c, 3);
    owl_metric_record(c, 3);
    owl_metric_add(u, -INFINITY);
    owl_metric_add(g, 3);
    owl_metric_set(g, NAN);
    owl_metric_record(g, 3);
    owl_metric_add(h, 3);
    owl_metric_set(h, 3);
    owl_metric_record(h, NAN);
    owl_metric_record(h, -INFINITY);
    owl_metric_add(NULL, 1);
    owl_metric_set(NULL, 1);
    owl_metric_record(NULL, 1);
    collect(0, &b);
    cr_assert_eq(b.len, 0); /* nothing recorded: nothing to send */

    owl_metric_set(g, 7);
    owl_metric_add(g, 1);
    owl_metric_add(c, 1e308);
    owl_metric_add(c, 1e308); /* would be infinite */
    owl_metric_add(c, -0.0);
    collect(0, &b);
    owl_arena mem;
    Req *q = unpack(0, &b, &mem);
    cr_assert_eq(nmetrics(q), 2);
    cr_assert(metric(q, "g")->gauge->data_points[0]->as_double == 7);
    cr_assert(metric(q, "c")->sum->data_points[0]->as_double == 1e308);
    owl_arena_free(&mem);
    owl__cbuf_free(&b);
}

Test(client_metrics, bounds_refused)
{
    const double dec[] = {1, 3, 2}, eq[] = {1, 1}, nan[] = {1, NAN}, inf[] = {1, INFINITY};
    double many[65];
    for (int i = 0; i < 65; i++)
        many[i] = i;
    cr_assert_null(owl_histogram("h1", NULL, NULL, dec, 3));
    cr_assert_null(owl_histogram("h2", NULL, NULL, eq, 2));
    cr_assert_null(owl_histogram("h3", NULL, NULL, nan, 2));
    cr_assert_null(owl_histogram("h4", NULL, NULL, inf, 2));
    cr_assert_null(owl_histogram("h5", NULL, NULL, many, 65));
    cr_assert_null(owl_histogram("h6", NULL, NULL, NULL, 3));
    owl_metric *h = owl_histogram("h7", NULL, NULL, many, 64);
    cr_assert_not_null(h);
    owl_metric_record(h, 100);
    owl__cbuf b = {0};
    owl_arena mem;
    collect(1, &b);
    const HistPt *p = metric(unpack(1, &b, &mem), "h7")->histogram->data_points[0];
    cr_assert(p->n_explicit_bounds == 64 && p->n_bucket_counts == 65 && p->bucket_counts[64] == 1);
    owl_arena_free(&mem);
    owl__cbuf_free(&b);
}

/* ---- concurrency and cumulative points ---- */

#define THREADS 4
#define ADDS 100000

static owl_metric *tc, *th;
static atomic_int done;
static pthread_barrier_t go;

static void *adder(void *arg)
{
    owl_metric *s = owl_metric_series(tc, "t", "shared", NULL);
    owl_metric *hs = owl_metric_series(th, "t", "shared", NULL);
    (void)arg;
    pthread_barrier_wait(&go); /* all start together, so their recordings overlap */
    for (int i = 0; i < ADDS; i++) {
        owl_metric_add(s, 1);
        owl_metric_record(hs, (double)(i % 200));
    }
    atomic_fetch_add(&done, 1);
    return NULL;
}

/* 4 threads add 100,000 each into one series while collections run: every point is one owld
 * accepts (count = the buckets' total, min <= max), the last totals are exact. */
Test(client_metrics, threads_give_exact_totals)
{
    pthread_t t[THREADS];
    tc = owl_counter("adds", NULL, NULL);
    th = owl_histogram("obs", NULL, NULL, NULL, 0);
    pthread_barrier_init(&go, NULL, THREADS);
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, adder, NULL), 0);
    for (int i = 0; atomic_load(&done) < THREADS; i++) {
        owl__cbuf b = {0};
        owl_otlp_batch d;
        collect(i & 1, &b);
        if (b.len) {
            decode(i & 1, &b, &d);
            owl_otlp_batch_free(&d);
        }
        owl__cbuf_free(&b);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&go);
    owl__cbuf b = {0};
    owl_arena mem;
    collect(0, &b);
    Req *q = unpack(0, &b, &mem);
    cr_assert(metric(q, "adds")->sum->data_points[0]->as_double == THREADS * ADDS);
    const HistPt *p = metric(q, "obs")->histogram->data_points[0];
    cr_assert_eq(p->count, THREADS * ADDS);
    cr_assert(p->sum == THREADS * (ADDS / 200) * (199.0 * 200 / 2));
    cr_assert(p->min == 0 && p->max == 199);
    owl_arena_free(&mem);
    owl__cbuf_free(&b);
}

Test(client_metrics, cumulative_across_collections)
{
    owl_metric *c = owl_counter("c", NULL, NULL);
    owl_metric *h = owl_histogram("h", NULL, NULL, NULL, 0);
    owl__cbuf b1 = {0}, b2 = {0};
    owl_arena m1, m2;
    owl_metric_add(c, 2);
    owl_metric_record(h, 1);
    collect(0, &b1);
    usleep(2000);
    owl_metric_add(c, 3);
    owl_metric_record(h, 20);
    collect(0, &b2);
    Req *q1 = unpack(0, &b1, &m1), *q2 = unpack(0, &b2, &m2);
    const NumPt *p1 = metric(q1, "c")->sum->data_points[0], *p2 = metric(q2, "c")->sum->data_points[0];
    cr_assert(p1->as_double == 2 && p2->as_double == 5);
    cr_assert_eq(p1->start_time_unix_nano, p2->start_time_unix_nano);
    cr_assert(p2->time_unix_nano > p1->time_unix_nano);
    const HistPt *h1 = metric(q1, "h")->histogram->data_points[0];
    const HistPt *h2 = metric(q2, "h")->histogram->data_points[0];
    cr_assert(h1->count == 1 && h2->count == 2 && h2->sum == 21 && h2->max == 20);
    cr_assert_eq(h1->start_time_unix_nano, h2->start_time_unix_nano);
    owl_arena_free(&m1);
    owl_arena_free(&m2);
    owl__cbuf_free(&b1);
    owl__cbuf_free(&b2);
}

/* ---- the encoders directly ---- */

Test(client_metrics, json_text_of_a_gauge)
{
    static const owl__attr a = {(char *)"k", OWL__ATTR_STR, {.s = (char *)"v"}};
    owl__metric_point p = {.attrs = &a, .nattrs = 1, .start_ns = 1, .time_ns = 2, .value = 0.5};
    owl__metric_data d = {.name = "g", .unit = "1", .kind = OWL__METRIC_GAUGE, .points = &p,
                          .npoints = 1};
    owl__cbuf b = {0};
    cr_assert_eq(owl__otlp_metrics_json(&d, 1, "s", NULL, &b), 0);
    owl__cbuf_put(&b, "", 1);
    cr_assert_str_eq(
        (char *)b.p,
        "{\"resourceMetrics\":[{\"resource\":{\"attributes\":["
        "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"s\"}},"
        "{\"key\":\"telemetry.sdk.name\",\"value\":{\"stringValue\":\"libowl\"}},"
        "{\"key\":\"telemetry.sdk.language\",\"value\":{\"stringValue\":\"c\"}},"
        "{\"key\":\"telemetry.sdk.version\",\"value\":{\"stringValue\":\"" OWL_VERSION_STRING
        "\"}}]},\"scopeMetrics\":[{\"scope\":{\"name\":\"libowl\",\"version\":\"" OWL_VERSION_STRING
        "\"},\"metrics\":[{\"name\":\"g\",\"unit\":\"1\",\"gauge\":{\"dataPoints\":[{"
        "\"attributes\":[{\"key\":\"k\",\"value\":{\"stringValue\":\"v\"}}],"
        "\"startTimeUnixNano\":\"1\",\"timeUnixNano\":\"2\",\"asDouble\":0.5}]}}]}]}]}");
    owl__cbuf_free(&b);
}


/* The address space capped a few MB above use: 10 points of 16 attributes of 512 KB run out
 * of memory part way, and the buffer is left as given, usable again. */
Test(client_metrics, out_of_memory_leaves_the_buffer)
{
#ifdef __SANITIZE_ADDRESS__
    cr_skip_test("ASan reserves its shadow memory up front and aborts where malloc would fail");
#endif
    static char big[512 * 1024 + 1];
    static owl__attr a[16];
    static const double bounds[] = {1};
    static const uint64_t buckets[] = {1, 0};
    owl__metric_point p[10];
    memset(big, 'x', sizeof big - 1);
    for (int i = 0; i < 16; i++)
        a[i] = (owl__attr){(char *)"k", OWL__ATTR_STR, {.s = big}};
    for (int i = 0; i < 10; i++)
        p[i] = (owl__metric_point){.attrs = a, .nattrs = 16, .count = 1, .buckets = buckets};
    owl__metric_data d = {.name = "h", .kind = OWL__METRIC_HISTOGRAM, .bounds = bounds,
                          .nbounds = 1, .points = p, .npoints = 10};
    for (int json = 0; json < 2; json++) {
        owl__cbuf b = {0};
        owl__cbuf_put(&b, "prefix", 6);
        struct rlimit old;
        oom_cap(&old);
        int rc = json ? owl__otlp_metrics_json(&d, 1, SERVICE, RESOURCE, &b)
                      : owl__otlp_metrics_pb(&d, 1, SERVICE, RESOURCE, &b);
        oom_uncap(&old);
        cr_assert_eq(rc, OWL_ERR_NOMEM);
        cr_assert_eq(b.len, 6);
        cr_assert_eq(b.nomem, 0);
        cr_assert(memcmp(b.p, "prefix", 6) == 0);
        d.npoints = 1;
        cr_assert_eq(owl__otlp_metrics_pb(&d, 1, SERVICE, RESOURCE, &b), 0);
        cr_assert(b.len > 6 + 16 * sizeof big - 16);
        d.npoints = 10;
        owl__cbuf_free(&b);
    }
}

/* ---- the micro-benchmark: logged, not asserted ---- */

static double bench(owl_metric *m, int n, void (*op)(owl_metric *, double))
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n; i++)
        op(m, (double)(i & 1023));
    clock_gettime(CLOCK_MONOTONIC, &b);
    return ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / n;
}

Test(client_metrics, bench_add_record, .timeout = 600)
{
    int n = getenv("OWL_METRICS_BENCH_N") ? atoi(getenv("OWL_METRICS_BENCH_N")) : 10000000;
    owl_metric *c = owl_metric_series(owl_counter("c", NULL, NULL), "k", "v", NULL);
    owl_metric *h = owl_histogram("h", NULL, NULL, NULL, 0);
    double add = bench(c, n, owl_metric_add), rec = bench(h, n, owl_metric_record);
    cr_log_info("over %d calls: owl_metric_add %.1f ns, owl_metric_record %.1f ns", n, add, rec);
    fprintf(stderr, "# over %d calls: owl_metric_add %.1f ns, owl_metric_record %.1f ns\n", n,
            add, rec);
}
