/* test_svcmap.c — tracer/svcmap.c: the service map as data. The builder (unique names and
 * edges, copied strings, thousands of nodes), the histogram's buckets, counting and
 * percentiles on known data; owl's JSON read back by libbson with every figure checked; DOT
 * escaping of odd names, each output rendered by /usr/bin/dot -Tsvg with nothing on stderr;
 * SVG through libgvc (also from several threads at once, nothing printed); a 500-node map;
 * X-Ray's GetServiceGraph shape read back by libbson and checked against botocore's model
 * and the AWS CLI by tests/unit/svcmap_xray.py. */
#include <bson/bson.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/utf8.h"
#include "tracer/tracer.h"

#define DOT_PATH "/usr/bin/dot"

/* LeakSanitizer (the --enable-sanitizers build): the font caches fontconfig fills when
 * Graphviz first measures text stay allocated for the process's life, the same after one
 * render as after twenty (docs/api/service-map.md "SVG"; tests/unit/graphviz.supp is the
 * valgrind side). LeakSanitizer reads this hook at exit. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libfontconfig.so\n";
}

static owl_svcmap *new_map(int64_t start, int64_t end)
{
    owl_svcmap *m = NULL;
    cr_assert_eq(owl_svcmap_new(start, end, &m), OWL_OK);
    return m;
}

static size_t node(owl_svcmap *m, const char *name, const char *type)
{
    size_t i = SIZE_MAX;
    cr_assert_eq(owl_svcmap_node_at(m, name, type, &i), OWL_OK);
    return i;
}

static size_t edge(owl_svcmap *m, size_t s, size_t t)
{
    size_t i = SIZE_MAX;
    cr_assert_eq(owl_svcmap_edge_at(m, s, t, &i), OWL_OK);
    return i;
}

static owl_svcmap_stats *node_st(owl_svcmap *m, size_t i)
{
    size_t n;
    owl_svcmap_node *v = owl_svcmap_nodes(m, &n);
    cr_assert_lt(i, n);
    return &v[i].st;
}

static owl_svcmap_stats *edge_st(owl_svcmap *m, size_t i)
{
    size_t n;
    owl_svcmap_edge *v = owl_svcmap_edges(m, &n);
    cr_assert_lt(i, n);
    return &v[i].st;
}

/* Reads JSON text with libbson (a parse failure fails the test). */
static bson_t *parse(const char *text)
{
    bson_error_t be;
    bson_t *d = bson_new_from_json((const uint8_t *)text, -1, &be);
    cr_assert_not_null(d, "JSON does not parse (%s): %.300s", be.message, text);
    return d;
}

static int64_t get_int(const bson_t *d, const char *path)
{
    bson_iter_t it, f;
    cr_assert(bson_iter_init(&it, d) && bson_iter_find_descendant(&it, path, &f), "%s", path);
    cr_assert(BSON_ITER_HOLDS_INT(&f), "%s is not an integer", path);
    return bson_iter_as_int64(&f);
}

static double get_num(const bson_t *d, const char *path)
{
    bson_iter_t it, f;
    cr_assert(bson_iter_init(&it, d) && bson_iter_find_descendant(&it, path, &f), "%s", path);
    cr_assert(BSON_ITER_HOLDS_NUMBER(&f), "%s is not a number", path);
    return bson_iter_as_double(&f);
}

static const char *get_str(const bson_t *d, const char *path)
{
    bson_iter_t it, f;
    cr_assert(bson_iter_init(&it, d) && bson_iter_find_descendant(&it, path, &f), "%s", path);
    cr_assert(BSON_ITER_HOLDS_UTF8(&f), "%s is not a string", path);
    return bson_iter_utf8(&f, NULL);
}

static int get_bool(const bson_t *d, const char *path)
{
    bson_iter_t it, f;
    cr_assert(bson_iter_init(&it, d) && bson_iter_find_descendant(&it, path, &f), "%s", path);
    cr_assert(BSON_ITER_HOLDS_BOOL(&f), "%s is not a boolean", path);
    return bson_iter_bool(&f);
}

static int has(const bson_t *d, const char *path)
{
    bson_iter_t it, f;
    return bson_iter_init(&it, d) && bson_iter_find_descendant(&it, path, &f);
}

static uint32_t count_of(const bson_t *d, const char *path)
{
    bson_iter_t it, f, a;
    cr_assert(bson_iter_init(&it, d) && bson_iter_find_descendant(&it, path, &f), "%s", path);
    cr_assert(BSON_ITER_HOLDS_ARRAY(&f) && bson_iter_recurse(&f, &a), "%s", path);
    uint32_t n = 0;
    while (bson_iter_next(&a))
        n++;
    return n;
}

/* ---- builder ---- */

Test(svcmap, builder)
{
    owl_svcmap *m = new_map(0, 60000);
    char name[16] = "frontend";
    size_t a = node(m, name, "service");
    strcpy(name, "changed!");
    cr_assert_eq(node(m, "frontend", "database"), a, "a name is one node whatever the type");
    size_t b = node(m, "orders-db", "database");
    size_t c = node(m, NULL, NULL);
    cr_assert_neq(a, b);
    cr_assert_eq(node(m, "", "queue"), c, "NULL and \"\" are the same name");
    size_t n;
    owl_svcmap_node *v = owl_svcmap_nodes(m, &n);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(v[a].name, "frontend", "the name is copied");
    cr_assert_str_eq(v[a].type, "service", "the first type stays");
    cr_assert_str_eq(v[c].name, "");
    cr_assert_str_eq(v[c].type, "service", "no type is a service");

    size_t e = edge(m, a, b);
    cr_assert_eq(edge(m, a, b), e);
    size_t f = edge(m, b, a);
    cr_assert_neq(e, f, "direction matters");
    cr_assert_eq(edge(m, a, a), 2, "a self call is an edge");
    size_t ne;
    owl_svcmap_edge *ev = owl_svcmap_edges(m, &ne);
    cr_assert_eq(ne, 3);
    cr_assert_eq(ev[e].source, a);
    cr_assert_eq(ev[e].target, b);
    size_t bad;
    cr_assert_eq(owl_svcmap_edge_at(m, a, 3, &bad), OWL_EINVAL);
    cr_assert_eq(owl_svcmap_edge_at(m, 99, a, &bad), OWL_EINVAL);
    owl_svcmap_free(m);
    owl_svcmap_free(NULL);
}

/* Thousands of nodes and edges: every lookup finds what was added, across table growths. */
Test(svcmap, many)
{
    enum { N = 5000 };
    owl_svcmap *m = new_map(0, 60000);
    char name[32];
    for (size_t i = 0; i < N; i++) {
        snprintf(name, sizeof name, "svc-%zu", i);
        cr_assert_eq(node(m, name, i % 2 ? "database" : "service"), i);
    }
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(edge(m, i, (i * 7 + 1) % N), i);
    for (size_t i = 0; i < N; i++) {
        snprintf(name, sizeof name, "svc-%zu", i);
        cr_assert_eq(node(m, name, NULL), i);
        cr_assert_eq(edge(m, i, (i * 7 + 1) % N), i);
    }
    size_t n;
    owl_svcmap_nodes(m, &n);
    cr_assert_eq(n, N);
    owl_svcmap_edges(m, &n);
    cr_assert_eq(n, N);
    owl_svcmap_free(m);
}

/* ---- figures ---- */

Test(svcmap, buckets)
{
    cr_assert_eq(owl_svcmap_bucket(0), 0);
    cr_assert_eq(owl_svcmap_bucket(-3), 0);
    cr_assert_eq(owl_svcmap_bucket(NAN), 0);
    cr_assert_eq(owl_svcmap_bucket(1e-9), 0);
    cr_assert_eq(owl_svcmap_bucket(exp2(-10)), 0);
    cr_assert_eq(owl_svcmap_bucket(exp2(-10 + 0.25) * 1.0000001), 1);
    cr_assert_eq(owl_svcmap_bucket(1), 40, "1 ms = 2^0: bucket 4 * 10");
    cr_assert_eq(owl_svcmap_bucket(0.999), 39);
    cr_assert_eq(owl_svcmap_bucket(1000), 79, "2^9.97: 4 * 19.97 = 79.9");
    cr_assert_eq(owl_svcmap_bucket(1024), 80);
    cr_assert_eq(owl_svcmap_bucket(exp2(26.9)), 147, "the last bucket");
    cr_assert_eq(owl_svcmap_bucket(1e30), 147, "beyond the last: the last");
    cr_assert_eq(owl_svcmap_bucket(INFINITY), 147);
}

Test(svcmap, count)
{
    owl_svcmap_stats st = {0};
    owl_svcmap_count(&st, 10, 0);
    owl_svcmap_count(&st, 2, OWL_FO_ERROR);
    owl_svcmap_count(&st, 30, OWL_FO_FAULT);
    owl_svcmap_count(&st, 5, OWL_FO_THROTTLE);
    owl_svcmap_count(&st, 7, OWL_FO_THROTTLE | OWL_FO_ERROR);
    owl_svcmap_count(&st, 8, OWL_FO_FAULT | OWL_FO_ERROR | OWL_FO_THROTTLE);
    owl_svcmap_count(&st, -4, 0);
    owl_svcmap_count(&st, NAN, 0);
    cr_assert_eq(st.requests, 8);
    cr_assert_eq(st.errors, 3, "4xx and the two throttles");
    cr_assert_eq(st.throttles, 2);
    cr_assert_eq(st.faults, 2, "a fault wins over the other bits");
    cr_assert_float_eq(st.sum_ms, 62, 1e-9, "negative and NaN times count as 0");
    cr_assert_float_eq(st.min_ms, 0, 1e-12);
    cr_assert_float_eq(st.max_ms, 30, 1e-12);
    uint64_t total = 0;
    for (int b = 0; b < OWL_SVCMAP_NBUCKETS; b++)
        total += st.hist[b];
    cr_assert_eq(total, 8);
    cr_assert_eq(st.hist[0], 2);
    cr_assert_eq(st.hist[owl_svcmap_bucket(30)], 1);

    owl_svcmap_stats one = {0};
    owl_svcmap_count(&one, 1e300, 0);
    cr_assert_float_eq(one.max_ms, 1e12, 1, "absurd times are capped");
}

Test(svcmap, percentiles)
{
    owl_svcmap_stats st = {0};
    cr_assert_eq(owl_svcmap_percentile(&st, 50), 0, "empty");
    for (int i = 1; i <= 100; i++)
        owl_svcmap_count(&st, i, 0);
    /* nearest rank: p50 is the 50th value (50 ms), p90 the 90th, p99 the 99th, each
     * answered as its bucket's geometric middle */
    static const struct {
        double p, value;
    } want[] = {{50, 50}, {90, 90}, {99, 99}, {1, 1}, {0.001, 1}, {100, 100}};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        int b = owl_svcmap_bucket(want[k].value);
        double mid = exp2(-10 + (b + 0.5) / 4);
        if (mid < 1)
            mid = 1;
        if (mid > 100)
            mid = 100;
        double got = owl_svcmap_percentile(&st, want[k].p);
        cr_assert_float_eq(got, mid, 1e-9, "p%g: %g, want %g", want[k].p, got, mid);
        cr_assert(fabs(got - want[k].value) <= want[k].value * 0.091, "within a bucket");
    }
    owl_svcmap_stats one = {0};
    owl_svcmap_count(&one, 7.3, 0);
    cr_assert_float_eq(owl_svcmap_percentile(&one, 50), 7.3, 1e-12, "clamped into [min,max]");
    cr_assert_float_eq(owl_svcmap_percentile(&one, 99), 7.3, 1e-12);
    /* a skewed set: 99 fast requests and one slow */
    owl_svcmap_stats sk = {0};
    for (int i = 0; i < 99; i++)
        owl_svcmap_count(&sk, 2, 0);
    owl_svcmap_count(&sk, 5000, 0);
    double mid2 = exp2(-10 + (owl_svcmap_bucket(2) + 0.5) / 4);
    cr_assert_float_eq(owl_svcmap_percentile(&sk, 99), mid2, 1e-12, "the 99th is fast");
    cr_assert_float_eq(owl_svcmap_percentile(&sk, 99.5), 5000, 1e-12);
}

/* ---- a small shop ---- */

/* frontend -> cart -> orders-db (faulting), frontend -> inventory, cart -> queue */
static owl_svcmap *shop(void)
{
    owl_svcmap *m = new_map(1700000000000, 1700000600000); /* 10 minutes */
    size_t fe = node(m, "frontend", "service");
    size_t cart = node(m, "cart", "AWS::ECS::Container");
    size_t db = node(m, "orders-db", "database");
    size_t inv = node(m, "inventory", "service");
    size_t q = node(m, "jobs", "queue");
    size_t ext = node(m, "api.stripe.com", "external");
    for (int i = 0; i < 200; i++) {
        owl_svcmap_count(node_st(m, fe), 20 + i % 10, i < 3 ? OWL_FO_ERROR : 0);
        owl_svcmap_count(node_st(m, cart), 10, i % 10 == 0 ? OWL_FO_FAULT : 0);
        owl_svcmap_count(node_st(m, inv), 3, i % 25 == 0 ? OWL_FO_THROTTLE : 0);
    }
    size_t e1 = edge(m, fe, cart), e2 = edge(m, cart, db), e3 = edge(m, fe, inv);
    size_t e4 = edge(m, cart, q), e5 = edge(m, cart, ext);
    for (int i = 0; i < 200; i++) {
        owl_svcmap_count(edge_st(m, e1), 12, i % 10 == 0 ? OWL_FO_FAULT : 0);
        owl_svcmap_count(edge_st(m, e2), 4, i % 10 == 0 ? OWL_FO_FAULT : 0);
        owl_svcmap_count(edge_st(m, e3), 4, i % 25 == 0 ? OWL_FO_THROTTLE : 0);
    }
    owl_svcmap_count(edge_st(m, e4), 1, 0);
    owl_svcmap_count(edge_st(m, e5), 300, OWL_FO_ERROR);
    owl_svcmap_count(node_st(m, db), 4, OWL_FO_FAULT);
    return m;
}

Test(svcmap, json)
{
    owl_svcmap *m = shop();
    owl_buf b = OWL_BUF_INIT;
    owl_buf_puts(&b, "x"); /* appended after what is there */
    cr_assert_eq(owl_svcmap_json(m, &b, NULL), OWL_OK);
    cr_assert_eq(b.data[0], 'x');
    bson_t *d = parse(b.data + 1);
    cr_assert_eq(get_int(d, "startTime"), 1700000000000);
    cr_assert_eq(get_int(d, "endTime"), 1700000600000);
    /* sorted by name */
    static const char *names[] = {"api.stripe.com", "cart", "frontend", "inventory", "jobs",
                                  "orders-db"};
    cr_assert_eq(count_of(d, "services"), 6);
    char p[64];
    for (int i = 0; i < 6; i++) {
        snprintf(p, sizeof p, "services.%d.name", i);
        cr_assert_str_eq(get_str(d, p), names[i]);
    }
    cr_assert_str_eq(get_str(d, "services.1.type"), "AWS::ECS::Container");
    cr_assert_eq(get_int(d, "services.1.requests"), 200);
    cr_assert_eq(get_int(d, "services.1.faults"), 20);
    cr_assert_eq(get_int(d, "services.1.ok"), 180);
    cr_assert_float_eq(get_num(d, "services.1.faultRate"), 0.1, 1e-12);
    cr_assert_float_eq(get_num(d, "services.1.sumMs"), 2000, 1e-9);
    cr_assert_float_eq(get_num(d, "services.1.p99"), 10, 1e-12);
    cr_assert_eq(count_of(d, "services.1.histogram"), 1);
    int b10 = owl_svcmap_bucket(10);
    cr_assert_float_eq(get_num(d, "services.1.histogram.0.ms"), exp2(-10 + (b10 + 1) / 4.0),
                       1e-12);
    cr_assert_eq(get_int(d, "services.1.histogram.0.count"), 200);
    /* inventory: 8 throttles are 8 errors */
    cr_assert_eq(get_int(d, "services.3.errors"), 8);
    cr_assert_eq(get_int(d, "services.3.throttles"), 8);
    cr_assert_eq(get_int(d, "services.3.ok"), 192);
    cr_assert_float_eq(get_num(d, "services.3.throttleRate"), 0.04, 1e-12);
    cr_assert_float_eq(get_num(d, "services.3.errorRate"), 0.04, 1e-12);
    /* a node with no requests */
    cr_assert_eq(get_int(d, "services.0.requests"), 0);
    cr_assert_float_eq(get_num(d, "services.0.p50"), 0, 0);
    cr_assert_eq(count_of(d, "services.0.histogram"), 0);
    /* edges by (source, target) */
    static const char *ends[][2] = {{"cart", "api.stripe.com"}, {"cart", "jobs"},
                                    {"cart", "orders-db"}, {"frontend", "cart"},
                                    {"frontend", "inventory"}};
    cr_assert_eq(count_of(d, "edges"), 5);
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "edges.%d.source", i);
        cr_assert_str_eq(get_str(d, p), ends[i][0]);
        snprintf(p, sizeof p, "edges.%d.target", i);
        cr_assert_str_eq(get_str(d, p), ends[i][1]);
    }
    cr_assert_str_eq(get_str(d, "edges.2.sourceType"), "AWS::ECS::Container");
    cr_assert_str_eq(get_str(d, "edges.2.targetType"), "database");
    cr_assert_eq(get_int(d, "edges.2.requests"), 200);
    cr_assert_eq(get_int(d, "edges.2.faults"), 20);
    cr_assert_eq(get_int(d, "edges.0.errors"), 1);
    cr_assert_float_eq(get_num(d, "edges.0.minMs"), 300, 0);
    bson_destroy(d);

    /* the same map gives the same bytes, whatever order it was built in */
    owl_buf again = OWL_BUF_INIT;
    cr_assert_eq(owl_svcmap_json(m, &again, NULL), OWL_OK);
    cr_assert_str_eq(again.data, b.data + 1);
    owl_buf_free(&again);
    owl_buf_free(&b);
    owl_svcmap_free(m);
}

/* Figures a caller filled by hand, however wrong, still give JSON every reader takes. */
Test(svcmap, json_odd_figures)
{
    owl_svcmap *m = new_map(-5, INT64_MAX);
    size_t a = node(m, "a\x01\xff\"\\", "t\n");
    owl_svcmap_stats *st = node_st(m, a);
    st->requests = UINT64_MAX;
    st->errors = 5;
    st->faults = UINT64_MAX;
    st->sum_ms = NAN;
    st->min_ms = INFINITY;
    st->max_ms = -INFINITY;
    st->hist[3] = UINT64_MAX;
    st->hist[4] = UINT64_MAX;
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_svcmap_json(m, &b, NULL), OWL_OK);
    bson_t *d = parse(b.data);
    cr_assert_eq(get_int(d, "services.0.requests"), INT64_MAX);
    cr_assert_eq(get_int(d, "services.0.ok"), 0);
    cr_assert_float_eq(get_num(d, "services.0.sumMs"), 0, 0);
    cr_assert_str_eq(get_str(d, "services.0.name"), "a\x01\xef\xbf\xbd\"\\");
    bson_destroy(d);
    owl_buf_reset(&b);
    cr_assert_eq(owl_svcmap_xray_json(m, &b, NULL), OWL_OK);
    d = parse(b.data);
    cr_assert_eq(get_int(d, "Services.0.DurationHistogram.0.Count"), INT32_MAX);
    bson_destroy(d);
    owl_buf_reset(&b);
    cr_assert_eq(owl_svcmap_dot(m, &b, NULL), OWL_OK);
    owl_buf_free(&b);
    owl_svcmap_free(m);
}

/* ---- DOT ---- */

/* Runs dot -Tsvg on text: 0 when it exits 0 with nothing on stderr (what it printed in why),
 * -1 when it fails; the SVG in *svg when asked. */
static int run_dot(const char *text, char *why, size_t whysz, char **svg)
{
    char in[] = "/tmp/owl-svcmap-XXXXXX", outp[] = "/tmp/owl-svcmap-XXXXXX",
         errp[] = "/tmp/owl-svcmap-XXXXXX";
    int fi = mkstemp(in), fo = mkstemp(outp), fe = mkstemp(errp);
    cr_assert(fi >= 0 && fo >= 0 && fe >= 0);
    size_t n = strlen(text);
    cr_assert_eq(write(fi, text, n), (ssize_t)n);
    close(fi);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(fo, 1);
        dup2(fe, 2);
        execl(DOT_PATH, "dot", "-Tsvg", in, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    off_t elen = lseek(fe, 0, SEEK_END);
    why[0] = '\0';
    if (elen > 0) {
        ssize_t r = pread(fe, why, whysz - 1, 0);
        why[r > 0 ? r : 0] = '\0';
    }
    if (svg) {
        off_t olen = lseek(fo, 0, SEEK_END);
        *svg = calloc(1, (size_t)olen + 1);
        cr_assert_eq(pread(fo, *svg, (size_t)olen, 0), olen);
    }
    close(fo);
    close(fe);
    unlink(in);
    unlink(outp);
    unlink(errp);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 && elen == 0 ? 0 : -1;
}

static void need_dot(void)
{
    if (access(DOT_PATH, X_OK) != 0)
        cr_skip_test(DOT_PATH " is not installed (Debian package graphviz)");
}

/* Names that break naive DOT writers: quotes, backslashes, escape letters Graphviz reads
 * (\N \G \l), HTML and entities, DOT keywords and operators, control characters, non-ASCII,
 * invalid UTF-8, empty, very long. */
static const char *odd_names[] = {
    "a\"b\\c", "<html>", "--", "->", "{}", "", "node", "edge", "digraph", "subgraph",
    "strict", "a;b", "[label=x]", "\\N\\G\\l\\n", "back\\", "\"", "tab\there", "new\nline",
    "cr\rbell\a", "del\x7f", "&amp;", "&lt;&#34;", "é中文😀", "bad\xff\xfeutf8",
    "cut\xe2\x82", "\xc0\xaf overlong", "// comment", "/* c */", "#hash", "  spaces  ",
    "n0", "0", "-1.5", "%s%n", "x",
};

static owl_svcmap *odd_map(char **long_name)
{
    owl_svcmap *m = new_map(0, 3 * 60000);
    size_t n = sizeof odd_names / sizeof odd_names[0];
    *long_name = malloc(10241);
    for (int i = 0; i < 10240; i++)
        (*long_name)[i] = "ab\"\\&\n"[i % 6];
    (*long_name)[10240] = '\0';
    size_t prev = node(m, *long_name, "service");
    static const char *types[] = {"service", "database", "queue", "external", "remote",
                                  "AWS::DynamoDB::Table", "client", "we\"ird\\type"};
    for (size_t i = 0; i < n; i++) {
        size_t k = node(m, odd_names[i], types[i % 8]);
        owl_svcmap_count(node_st(m, k), (double)i, (unsigned)i % 8);
        size_t e = edge(m, prev, k);
        owl_svcmap_count(edge_st(m, e), (double)i * 3, (unsigned)(i / 2) % 8);
        prev = k;
    }
    return m;
}

Test(svcmap, dot_escaping)
{
    char *long_name;
    owl_svcmap *m = odd_map(&long_name);
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_svcmap_dot(m, &b, NULL), OWL_OK);
    cr_assert(owl_utf8_valid(b.data, b.len), "the DOT is valid UTF-8");
    for (size_t i = 0; i < b.len; i++)
        cr_assert(b.data[i] == '\n' || (unsigned char)b.data[i] >= 0x20, "no control bytes");
    cr_assert_not_null(strstr(b.data, "digraph \"owl_service_map\" {"));
    cr_assert_not_null(strstr(b.data, "rankdir=LR"));
    cr_assert_not_null(strstr(b.data, "label=\"a\\\"b\\\\c\\n"), "quote and backslash");
    cr_assert_not_null(strstr(b.data, "tooltip=\"&amp;amp; ("), "& is written &amp;");
    cr_assert_not_null(strstr(b.data, "label=\"new\xe2\x90\x8aline\\n"), "LF as U+240A");
    cr_assert_not_null(strstr(b.data, "label=\"bad\xef\xbf\xbd\xef\xbf\xbdutf8\\n"));
    cr_assert_not_null(strstr(b.data, "label=\"\xc3\xa9\xe4\xb8\xad\xe6\x96\x87\xf0\x9f\x98\x80"
                                      "\\n"), "UTF-8 kept");
    cr_assert_not_null(strstr(b.data, "\xe2\x80\xa6\\n"), "a long name's label is cut");
    need_dot();
    char why[4096];
    cr_assert_eq(run_dot(b.data, why, sizeof why, NULL), 0, "dot -Tsvg: %s", why);
    owl_buf_free(&b);
    owl_svcmap_free(m);
    free(long_name);
}

Test(svcmap, dot_labels_colours_shapes)
{
    owl_svcmap *m = shop();
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_svcmap_dot(m, &b, NULL), OWL_OK);
    /* nodes by name: n0 api.stripe.com, n1 cart, n2 frontend, n3 inventory, n4 jobs,
     * n5 orders-db; 10 minutes */
    static const char *want[] = {
        "n1 [label=\"cart\\n20 req/min\\np99 10 ms\\n10% faults\"",
        "shape=box, style=\"rounded,filled\", color=\"#c62828\", fillcolor=\"#ffebee\"",
        "n2 [label=\"frontend\\n20 req/min\\np99 29",
        "0% faults\", tooltip=\"frontend (service)\", shape=box, style=\"rounded,filled\", "
        "color=\"#b26a00\"", /* 3 errors of 200: 1.5% */
        "n3 [label=\"inventory\\n20 req/min\\np99 3 ms\\n0% faults\"",
        "tooltip=\"inventory (service)\", shape=box, style=\"rounded,filled\", "
        "color=\"#6a1b9a\"",
        "tooltip=\"jobs (queue)\", shape=cds, style=\"filled\", color=\"#2e7d32\"",
        "tooltip=\"orders-db (database)\", shape=cylinder",
        "tooltip=\"api.stripe.com (external)\", shape=component",
        "n1 -> n5 [label=\"20 req/min\\np99 4 ms\\n10% faults\", color=\"#c62828\"",
        "n1 -> n4 [label=\"0.1 req/min\\np99 1 ms\", color=\"#2e7d32\"",
        "n2 -> n3 [label=\"20 req/min\\np99 4 ms\", color=\"#6a1b9a\"",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert_not_null(strstr(b.data, want[i]), "missing %s in\n%s", want[i], b.data);
    need_dot();
    char why[4096];
    char *svg = NULL;
    cr_assert_eq(run_dot(b.data, why, sizeof why, &svg), 0, "dot -Tsvg: %s", why);
    cr_assert_not_null(strstr(svg, ">orders&#45;db</text>"));
    free(svg);
    owl_buf_free(&b);
    owl_svcmap_free(m);
}

/* An empty map and a one-minute window are drawn too. */
Test(svcmap, dot_empty)
{
    owl_svcmap *m = new_map(100, 50); /* end before start: one minute */
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_svcmap_dot(m, &b, NULL), OWL_OK);
    size_t a = node(m, "solo", NULL);
    owl_svcmap_count(node_st(m, a), 1, 0);
    owl_svcmap_count(node_st(m, a), 1, 0);
    owl_buf b2 = OWL_BUF_INIT;
    cr_assert_eq(owl_svcmap_dot(m, &b2, NULL), OWL_OK);
    cr_assert_not_null(strstr(b2.data, "solo\\n2 req/min"), "%s", b2.data);
    need_dot();
    char why[4096];
    cr_assert_eq(run_dot(b.data, why, sizeof why, NULL), 0, "dot -Tsvg: %s", why);
    cr_assert_eq(run_dot(b2.data, why, sizeof why, NULL), 0, "dot -Tsvg: %s", why);
    owl_buf_free(&b);
    owl_buf_free(&b2);
    owl_svcmap_free(m);
}

/* ---- SVG ---- */

/* Runs owl_svcmap_svg with stderr sent to a file, which must stay empty. */
static int svg_quiet(owl_svcmap *m, owl_buf *b, owl_error *err)
{
    char errp[] = "/tmp/owl-svcmap-XXXXXX";
    int fe = mkstemp(errp);
    cr_assert_geq(fe, 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fe, 2);
    int rc = owl_svcmap_svg(m, b, err);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char said[1024] = "";
    ssize_t r = pread(fe, said, sizeof said - 1, 0);
    close(fe);
    unlink(errp);
    cr_assert_leq(r, 0, "Graphviz printed: %s", said);
    return rc;
}

static void check_svg(const owl_buf *b)
{
    cr_assert(b->len > 0);
    cr_assert(strncmp(b->data, "<?xml", 5) == 0 || strncmp(b->data, "<svg", 4) == 0,
              "%.100s", b->data);
    cr_assert_not_null(strstr(b->data, "</svg>"));
}

Test(svcmap, svg)
{
    owl_svcmap *m = shop();
    owl_buf b = OWL_BUF_INIT;
    owl_error err = {0};
    cr_assert_eq(svg_quiet(m, &b, &err), OWL_OK, "%s", err.msg);
    check_svg(&b);
    static const char *names[] = {">api.stripe.com<", ">cart<", ">frontend<", ">inventory<",
                                  ">jobs<", ">orders&#45;db<"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        cr_assert_not_null(strstr(b.data, names[i]), "%s", names[i]);
    cr_assert_not_null(strstr(b.data, "fill=\"#ffebee\""), "the red node's fill");
    owl_buf_free(&b);

    char *long_name;
    owl_svcmap *odd = odd_map(&long_name);
    cr_assert_eq(svg_quiet(odd, &b, &err), OWL_OK, "%s", err.msg);
    check_svg(&b);
    cr_assert_not_null(strstr(b.data, "a&quot;b\\c"));
    cr_assert_not_null(strstr(b.data, "&amp;amp;"), "a name \"&amp;\" is drawn as written");
    cr_assert_not_null(strstr(b.data, "&lt;html&gt;"));
    owl_buf_free(&b);
    owl_svcmap_free(odd);
    free(long_name);

    owl_svcmap *empty = new_map(0, 0);
    cr_assert_eq(svg_quiet(empty, &b, &err), OWL_OK, "%s", err.msg);
    check_svg(&b);
    owl_buf_free(&b);
    owl_svcmap_free(empty);
    owl_svcmap_free(m);
}

/* Graphviz is not thread-safe: owl_svcmap_svg serialises its calls. Four threads rendering
 * at once all get the whole drawing. */
static void *svg_thread(void *arg)
{
    owl_svcmap *m = arg;
    for (int i = 0; i < 5; i++) {
        owl_buf b = OWL_BUF_INIT;
        if (owl_svcmap_svg(m, &b, NULL) != OWL_OK || !strstr(b.data, ">orders&#45;db<") ||
            !strstr(b.data, "</svg>")) {
            owl_buf_free(&b);
            return (void *)1;
        }
        owl_buf_free(&b);
    }
    return NULL;
}

Test(svcmap, svg_threads)
{
    owl_svcmap *m = shop();
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, svg_thread, m), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        cr_assert_null(r, "thread %d got a broken SVG", i);
    }
    owl_svcmap_free(m);
}

Test(svcmap, svg_too_large)
{
    owl_svcmap *m = new_map(0, 60000);
    char name[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(name, sizeof name, "s%d", i);
        node(m, name, NULL);
    }
    for (size_t i = 0; i < 1001; i++)
        edge(m, i, i + 1);
    owl_buf b = OWL_BUF_INIT;
    owl_error err = {0};
    cr_assert_eq(owl_svcmap_svg(m, &b, &err), OWL_ETOOBIG);
    cr_assert_not_null(strstr(err.msg, "3000 nodes and 1001 edges"), "%s", err.msg);
    cr_assert_eq(b.len, 0);
    owl_buf_free(&b);
    owl_svcmap_free(m);
}

/* ---- 500 nodes ---- */

Test(svcmap, five_hundred, .timeout = 120)
{
    enum { N = 500 };
    owl_svcmap *m = new_map(0, 15 * 60000);
    char name[32];
    static const char *types[] = {"service", "service", "service", "database", "queue",
                                  "external"};
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "svc-%03d", i);
        size_t k = node(m, name, types[i % 6]);
        for (int r = 0; r < 1 + i % 7; r++)
            owl_svcmap_count(node_st(m, k), 1 + r * 3 + i % 13, (unsigned)(r + i) % 5);
    }
    /* a layered call graph: each node calls two in the next layer of 50 */
    for (int i = 0; i < N - 50; i++) {
        for (int j = 0; j < 2; j++) {
            size_t e = edge(m, (size_t)i, (size_t)(50 * (i / 50 + 1) + (i * 7 + j * 13) % 50));
            owl_svcmap_count(edge_st(m, e), 2 + j, (unsigned)(i % 11 == 0));
        }
    }
    size_t ne;
    owl_svcmap_edges(m, &ne);
    owl_buf j = OWL_BUF_INIT, x = OWL_BUF_INIT, d = OWL_BUF_INIT, s = OWL_BUF_INIT;
    cr_assert_eq(owl_svcmap_json(m, &j, NULL), OWL_OK);
    bson_t *doc = parse(j.data);
    cr_assert_eq(count_of(doc, "services"), N);
    cr_assert_eq(count_of(doc, "edges"), ne);
    bson_destroy(doc);
    cr_assert_eq(owl_svcmap_xray_json(m, &x, NULL), OWL_OK);
    doc = parse(x.data);
    cr_assert_eq(count_of(doc, "Services"), N);
    bson_destroy(doc);
    cr_assert_eq(owl_svcmap_dot(m, &d, NULL), OWL_OK);
    owl_error err = {0};
    cr_assert_eq(svg_quiet(m, &s, &err), OWL_OK, "%s", err.msg);
    check_svg(&s);
    cr_assert_not_null(strstr(s.data, ">svc&#45;499<"));
    if (access(DOT_PATH, X_OK) == 0) {
        char why[4096];
        cr_assert_eq(run_dot(d.data, why, sizeof why, NULL), 0, "dot -Tsvg: %s", why);
    }
    owl_buf_free(&j);
    owl_buf_free(&x);
    owl_buf_free(&d);
    owl_buf_free(&s);
    owl_svcmap_free(m);
}

/* ---- X-Ray ---- */

Test(svcmap, xray_shape)
{
    owl_svcmap *m = shop();
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_svcmap_xray_json(m, &b, NULL), OWL_OK);
    bson_t *d = parse(b.data);
    cr_assert_float_eq(get_num(d, "StartTime"), 1700000000.0, 1e-6);
    cr_assert_float_eq(get_num(d, "EndTime"), 1700000600.0, 1e-6);
    cr_assert_eq(get_bool(d, "ContainsOldGroupVersions"), 0);
    cr_assert_eq(count_of(d, "Services"), 6);
    /* ReferenceId = place by name; Root = nobody calls it; types as X-Ray names them */
    static const struct {
        const char *name, *type;
        int root, edges;
    } want[] = {
        {"api.stripe.com", "remote", 0, 0}, {"cart", "AWS::ECS::Container", 0, 3},
        {"frontend", "service", 1, 2},      {"inventory", "service", 0, 0},
        {"jobs", "remote", 0, 0},           {"orders-db", "Database::SQL", 0, 0},
    };
    char p[96];
    for (int i = 0; i < 6; i++) {
        snprintf(p, sizeof p, "Services.%d.ReferenceId", i);
        cr_assert_eq(get_int(d, p), i);
        snprintf(p, sizeof p, "Services.%d.Name", i);
        cr_assert_str_eq(get_str(d, p), want[i].name);
        snprintf(p, sizeof p, "Services.%d.Names.0", i);
        cr_assert_str_eq(get_str(d, p), want[i].name);
        snprintf(p, sizeof p, "Services.%d.Type", i);
        cr_assert_str_eq(get_str(d, p), want[i].type);
        snprintf(p, sizeof p, "Services.%d.Root", i);
        cr_assert_eq(get_bool(d, p), want[i].root, "%s", want[i].name);
        snprintf(p, sizeof p, "Services.%d.State", i);
        cr_assert_str_eq(get_str(d, p), "active");
        snprintf(p, sizeof p, "Services.%d.Edges", i);
        cr_assert_eq(count_of(d, p), want[i].edges, "%s", want[i].name);
    }
    /* cart's edges: to api.stripe.com (0), jobs (4), orders-db (5) */
    cr_assert_eq(get_int(d, "Services.1.Edges.0.ReferenceId"), 0);
    cr_assert_eq(get_int(d, "Services.1.Edges.1.ReferenceId"), 4);
    cr_assert_eq(get_int(d, "Services.1.Edges.2.ReferenceId"), 5);
    cr_assert_eq(get_int(d, "Services.1.Edges.2.SummaryStatistics.TotalCount"), 200);
    cr_assert_eq(get_int(d, "Services.1.Edges.2.SummaryStatistics.OkCount"), 180);
    cr_assert_eq(get_int(d, "Services.1.Edges.2.SummaryStatistics.FaultStatistics.TotalCount"),
                 20);
    cr_assert_float_eq(get_num(d, "Services.1.Edges.2.SummaryStatistics.TotalResponseTime"),
                       0.8, 1e-9);
    cr_assert_float_eq(get_num(d, "Services.1.Edges.2.ResponseTimeHistogram.0.Value"), 0.004,
                       1e-12, "one bucket, clamped to min = max = 4 ms");
    cr_assert_eq(get_int(d, "Services.1.Edges.2.ResponseTimeHistogram.0.Count"), 200);
    cr_assert_eq(count_of(d, "Services.1.Edges.2.Aliases"), 0);
    cr_assert_float_eq(get_num(d, "Services.1.Edges.2.StartTime"), 1700000000.0, 1e-6);
    /* inventory: throttles are errors */
    cr_assert_eq(get_int(d, "Services.3.SummaryStatistics.ErrorStatistics.ThrottleCount"), 8);
    cr_assert_eq(get_int(d, "Services.3.SummaryStatistics.ErrorStatistics.OtherCount"), 0);
    cr_assert_eq(get_int(d, "Services.3.SummaryStatistics.ErrorStatistics.TotalCount"), 8);
    cr_assert_eq(get_int(d, "Services.3.SummaryStatistics.OkCount"), 192);
    cr_assert_eq(get_int(d, "Services.2.SummaryStatistics.ErrorStatistics.OtherCount"), 3);
    cr_assert(has(d, "Services.2.DurationHistogram.0.Value"));
    cr_assert(has(d, "Services.2.ResponseTimeHistogram.0.Count"));
    cr_assert(!has(d, "Services.0.DurationHistogram.0"), "no requests: empty histograms");
    bson_destroy(d);
    owl_buf_free(&b);
    owl_svcmap_free(m);
}

/* A service that calls itself is still a root: nobody else calls it. */
Test(svcmap, xray_self_call_root)
{
    owl_svcmap *m = new_map(0, 60000);
    size_t a = node(m, "a", NULL), bb = node(m, "b", NULL);
    edge(m, a, a);
    edge(m, bb, bb);
    edge(m, a, bb);
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_svcmap_xray_json(m, &b, NULL), OWL_OK);
    bson_t *d = parse(b.data);
    cr_assert_eq(get_bool(d, "Services.0.Root"), 1);
    cr_assert_eq(get_bool(d, "Services.1.Root"), 0);
    cr_assert_eq(get_int(d, "Services.0.Edges.0.ReferenceId"), 0);
    cr_assert_eq(get_int(d, "Services.0.Edges.1.ReferenceId"), 1);
    cr_assert_eq(get_int(d, "Services.1.Edges.0.ReferenceId"), 1);
    bson_destroy(d);
    owl_buf_free(&b);
    owl_svcmap_free(m);
}

/* A source file's path: $OWL_SRCDIR (set by `make check`), else found from __FILE__. */
static void src_path(char *out, size_t n, const char *name)
{
    const char *src = getenv("OWL_SRCDIR");
    if (src && *src) {
        snprintf(out, n, "%s/%s", src, name);
    } else {
        const char *me = __FILE__, *tail = strstr(me, "tests/unit/test_svcmap.c");
        snprintf(out, n, "%.*s%s", tail ? (int)(tail - me) : 0, me, name);
    }
}

/* What AWS's clients make of the answer: botocore's model and parser, `aws xray
 * get-service-graph` (tests/unit/svcmap_xray.py). */
Test(svcmap, xray_botocore, .timeout = 180)
{
    owl_svcmap *m = shop();
    owl_buf b = OWL_BUF_INIT;
    cr_assert_eq(owl_svcmap_xray_json(m, &b, NULL), OWL_OK);
    char file[] = "/tmp/owl-svcmap-XXXXXX";
    int fd = mkstemp(file);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, b.data, b.len), (ssize_t)b.len);
    close(fd);
    char script[4096], cmd[8192];
    src_path(script, sizeof script, "tests/unit/svcmap_xray.py");
    snprintf(cmd, sizeof cmd,
             "python3 '%s' '%s' 'api.stripe.com=remote:0:0,"
             "cart=AWS::ECS::Container:0:3,frontend=service:1:2,inventory=service:0:0,"
             "jobs=remote:0:0,orders-db=Database::SQL:0:0' 2>&1",
             script, file);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char said[4096];
    size_t n = fread(said, 1, sizeof said - 1, p);
    said[n] = '\0';
    int st = pclose(p);
    unlink(file);
    owl_buf_free(&b);
    owl_svcmap_free(m);
    cr_assert(WIFEXITED(st));
    if (WEXITSTATUS(st) == 77 || WEXITSTATUS(st) == 127)
        cr_skip_test("%s", WEXITSTATUS(st) == 127 ? "python3 is not installed" : said);
    cr_assert_eq(WEXITSTATUS(st), 0, "svcmap_xray.py: %s", said);
    cr_log_info("svcmap_xray.py: %s", said);
}

/* Graphviz without its plugins (GVBINDIR names an empty directory before the process's first
 * render; Criterion runs each test in a process of its own): the layout fails, reported as
 * OWL_EIO with Graphviz's own words, nothing printed, out as it was. */
Test(svcmap, svg_graphviz_fails)
{
    char dir[] = "/tmp/owl-svcmap-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    setenv("GVBINDIR", dir, 1);
    owl_svcmap *m = shop();
    owl_buf b = OWL_BUF_INIT;
    owl_buf_puts(&b, "kept");
    owl_error err = {0};
    int rc = svg_quiet(m, &b, &err);
    rmdir(dir);
    cr_assert_eq(rc, OWL_EIO, "%d %s", rc, err.msg);
    cr_assert_not_null(strstr(err.msg, "Graphviz: layout failed: "), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "dot"), "%s", err.msg);
    cr_log_info("%s", err.msg);
    cr_assert_str_eq(b.data, "kept");
    owl_buf_free(&b);
    owl_svcmap_free(m);
}

Test(svcmap, merge_adds_nodes_edges_and_figures)
{
    owl_svcmap *a = new_map(0, 60000), *b = new_map(0, 60000);
    size_t fa = node(a, "front", "service"), oa = node(a, "orders", "service"), e, n;
    cr_assert_eq(owl_svcmap_edge_at(a, fa, oa, &e), OWL_OK);
    owl_svcmap_count(&owl_svcmap_edges(a, &n)[e].st, 10, 0);
    owl_svcmap_count(&owl_svcmap_nodes(a, &n)[oa].st, 10, 0);
    size_t ob = node(b, "orders", "service"), db = node(b, "postgresql", "database");
    size_t fb = node(b, "front", "service");
    cr_assert_eq(owl_svcmap_edge_at(b, fb, ob, &e), OWL_OK);
    owl_svcmap_count(&owl_svcmap_edges(b, &n)[e].st, 30, OWL_FO_FAULT);
    cr_assert_eq(owl_svcmap_edge_at(b, ob, db, &e), OWL_OK);
    owl_svcmap_count(&owl_svcmap_edges(b, &n)[e].st, 2, 0);
    cr_assert_eq(owl_svcmap_merge(a, b), OWL_OK);
    owl_svcmap_node *nd = owl_svcmap_nodes(a, &n);
    cr_assert_eq(n, 3);
    size_t ne;
    owl_svcmap_edge *ed = owl_svcmap_edges(a, &ne);
    cr_assert_eq(ne, 2);
    for (size_t i = 0; i < ne; i++) {
        if (!strcmp(nd[ed[i].target].name, "orders")) {
            cr_assert_eq(ed[i].st.requests, 2);
            cr_assert_eq(ed[i].st.faults, 1);
            cr_assert_float_eq(ed[i].st.min_ms, 10, 1e-9);
            cr_assert_float_eq(ed[i].st.max_ms, 30, 1e-9);
            cr_assert_float_eq(ed[i].st.sum_ms, 40, 1e-9);
        } else {
            cr_assert_str_eq(nd[ed[i].target].name, "postgresql");
            cr_assert_str_eq(nd[ed[i].target].type, "database");
            cr_assert_eq(ed[i].st.requests, 1);
        }
    }
    owl_svcmap_free(a);
    owl_svcmap_free(b);
}
