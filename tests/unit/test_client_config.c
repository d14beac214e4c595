/* test_client_config.c — client/config.c through owl/owl.h and what client_int.h gives span.c:
 * defaults, each environment variable, their precedence (OWL_* over OTEL_*, OTEL_SERVICE_NAME
 * over OTEL_RESOURCE_ATTRIBUTES' service.name), malformed environment values ignored,
 * owl_config_set's accepted and refused forms for every name, the k=v lists (percent-decoding,
 * OWS, duplicates, removal, canonical re-encoding) and the signal URLs. Built from the
 * client's sources alone. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"

static const char *const env_names[] = {
    "OWL_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT", "OWL_SERVICE_NAME", "OTEL_SERVICE_NAME",
    "OWL_API_KEY", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TIMEOUT", "OWL_EXPORT_INTERVAL",
    "OTEL_BSP_SCHEDULE_DELAY", "OWL_QUEUE_SIZE", "OTEL_BSP_MAX_QUEUE_SIZE", "OWL_BATCH_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OWL_METRICS_INTERVAL", "OTEL_METRIC_EXPORT_INTERVAL",
    "OWL_LOG_LEVEL", "OWL_LOG_STDERR",
};
#define NENV (sizeof env_names / sizeof *env_names)

static void clean_env(void)
{
    for (size_t i = 0; i < NENV; i++)
        unsetenv(env_names[i]);
}

TestSuite(client_config, .init = clean_env, .fini = clean_env);

/* A configuration from the environment as it is now. */
static owl_config *fresh(void)
{
    owl_config *c = owl_config_new();
    cr_assert_not_null(c);
    return c;
}

static void expect(const owl_config *c, const char *name, const char *want)
{
    const char *got = owl_config_get(c, name);
    cr_assert_not_null(got, "%s: NULL", name);
    cr_assert_str_eq(got, want, "%s: \"%s\", want \"%s\"", name, got, want);
}

/* The value name takes from the environment variable var = v, alone in the environment. */
static void expect_env(const char *var, const char *v, const char *name, const char *want)
{
    clean_env();
    setenv(var, v, 1);
    owl_config *c = fresh();
    expect(c, name, want);
    owl_config_free(c);
    unsetenv(var);
}

static void set_ok(owl_config *c, const char *name, const char *v, const char *want)
{
    int r = owl_config_set(c, name, v);
    cr_assert_eq(r, 0, "%s = \"%s\": %d", name, v, r);
    expect(c, name, want);
}

/* Refused with OWL_ERR_INVAL (or `code`), and nothing of c changed. */
static void set_refused_code(owl_config *c, const char *name, const char *v, int code)
{
    static const char *const names[] = {"endpoint", "service.name", "api_key", "headers",
                                        "resource", "sampler", "sampler.arg", "protocol"};
    char *before[8];
    for (int i = 0; i < 8; i++)
        before[i] = strdup(owl_config_get(c, names[i]));
    int r = owl_config_set(c, name, v);
    cr_assert_eq(r, code, "%s = \"%s\": %d, want %d", name, v ? v : "(null)", r, code);
    for (int i = 0; i < 8; i++) {
        expect(c, names[i], before[i]);
        free(before[i]);
    }
}

static void set_refused(owl_config *c, const char *name, const char *v)
{
    set_refused_code(c, name, v, OWL_ERR_INVAL);
}

/* ---- defaults and unknown names ---- */

Test(client_config, defaults)
{
    owl_config *c = fresh();
    expect(c, "endpoint", "http://127.0.0.1:4318");
    expect(c, "service.name", "unknown_service");
    expect(c, "api_key", "");
    expect(c, "headers", "");
    expect(c, "resource", "");
    expect(c, "sampler", "parentbased_always_on");
    expect(c, "sampler.arg", "1");
    expect(c, "protocol", "http/protobuf");
    cr_assert_eq(owl__config_header_count(c), 0);
    cr_assert_eq(owl__config_resource_count(c), 0);
    double ratio = -1;
    cr_assert_eq(owl__config_sampler(c, &ratio), OWL__SAMPLER_PARENTBASED_ALWAYS_ON);
    cr_assert_eq(ratio, 1.0);
    owl_config_free(c);
}

Test(client_config, unknown_names)
{
    owl_config *c = fresh();
    cr_assert_null(owl_config_get(c, "Endpoint"));
    cr_assert_null(owl_config_get(c, "service_name"));
    cr_assert_null(owl_config_get(c, ""));
    cr_assert_null(owl_config_get(c, NULL));
    cr_assert_null(owl_config_get(NULL, "endpoint"));
    set_refused(c, "endpoints", "http://a");
    set_refused(c, "SAMPLER", "always_on");
    set_refused(c, NULL, "x");
    cr_assert_eq(owl_config_set(NULL, "sampler", "always_on"), OWL_ERR_INVAL);
    owl_config_free(c);
    owl_config_free(NULL);
}

/* ---- each environment variable, precedence, malformed values ---- */

Test(client_config, each_variable)
{
    expect_env("OWL_ENDPOINT", "https://owl.example:8443/base", "endpoint",
               "https://owl.example:8443/base");
    expect_env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/", "endpoint",
               "http://collector:4318/");
    expect_env("OWL_SERVICE_NAME", "orders", "service.name", "orders");
    expect_env("OTEL_SERVICE_NAME", "inventory", "service.name", "inventory");
    expect_env("OWL_API_KEY", "k-123_ABC", "api_key", "k-123_ABC");
    expect_env("OTEL_EXPORTER_OTLP_HEADERS", "api-key=abc,x-team=owl%20core", "headers",
               "api-key=abc,x-team=owl%20core");
    expect_env("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod,host.name=h1",
               "resource", "deployment.environment=prod,host.name=h1");
    expect_env("OTEL_RESOURCE_ATTRIBUTES", "service.name=payments,team=a", "service.name",
               "payments");
    expect_env("OTEL_RESOURCE_ATTRIBUTES", "service.name=payments,team=a", "resource", "team=a");
    expect_env("OTEL_TRACES_SAMPLER", "traceidratio", "sampler", "traceidratio");
    expect_env("OTEL_TRACES_SAMPLER", "XRay", "sampler", "xray");
    expect_env("OTEL_TRACES_SAMPLER_ARG", "0.25", "sampler.arg", "0.25");
    expect_env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", "protocol", "http/json");
}

Test(client_config, owl_over_otel)
{
    setenv("OWL_ENDPOINT", "http://owl:4318", 1);
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318", 1);
    setenv("OWL_SERVICE_NAME", "from-owl", 1);
    setenv("OTEL_SERVICE_NAME", "from-otel", 1);
    owl_config *c = fresh();
    expect(c, "endpoint", "http://owl:4318");
    expect(c, "service.name", "from-owl");
    owl_config_free(c);

    /* first set *and valid* wins: a malformed OWL_* gives way to a valid OTEL_* */
    setenv("OWL_ENDPOINT", "ftp://owl", 1);
    setenv("OWL_SERVICE_NAME", "\xff", 1);
    c = fresh();
    expect(c, "endpoint", "http://otel:4318");
    expect(c, "service.name", "from-otel");
    owl_config_free(c);

    /* an empty variable is unset (OTel's rule) */
    setenv("OWL_ENDPOINT", "", 1);
    setenv("OWL_SERVICE_NAME", "", 1);
    c = fresh();
    expect(c, "endpoint", "http://otel:4318");
    expect(c, "service.name", "from-otel");
    owl_config_free(c);
}

Test(client_config, service_name_over_resource)
{
    setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-resource,k=v", 1);
    setenv("OTEL_SERVICE_NAME", "from-otel", 1);
    owl_config *c = fresh();
    expect(c, "service.name", "from-otel");
    expect(c, "resource", "k=v");
    owl_config_free(c);

    setenv("OWL_SERVICE_NAME", "from-owl", 1);
    c = fresh();
    expect(c, "service.name", "from-owl");
    owl_config_free(c);

    unsetenv("OWL_SERVICE_NAME");
    unsetenv("OTEL_SERVICE_NAME");
    c = fresh();
    expect(c, "service.name", "from-resource");
    owl_config_free(c);

    /* a malformed OTEL_SERVICE_NAME leaves the resource's */
    setenv("OTEL_SERVICE_NAME", "\xc3\x28", 1);
    c = fresh();
    expect(c, "service.name", "from-resource");
    owl_config_free(c);
}

Test(client_config, malformed_env_ignored)
{
    static const struct {
        const char *var, *value, *name, *dflt;
    } cases[] = {
        {"OWL_ENDPOINT", "127.0.0.1:4318", "endpoint", "http://127.0.0.1:4318"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:99999", "endpoint", "http://127.0.0.1:4318"},
        {"OWL_SERVICE_NAME", "bad\xe2\x82", "service.name", "unknown_service"},
        {"OWL_API_KEY", "has space", "api_key", ""},
        {"OTEL_EXPORTER_OTLP_HEADERS", "a=1,b", "headers", ""},
        {"OTEL_EXPORTER_OTLP_HEADERS", "a=%zz", "headers", ""},
        {"OTEL_RESOURCE_ATTRIBUTES", "k=v,bad key=v", "resource", ""},
        {"OTEL_RESOURCE_ATTRIBUTES", "k=v,service.name=", "service.name", "unknown_service"},
        {"OTEL_RESOURCE_ATTRIBUTES", "k=v,service.name=", "resource", ""},
        {"OTEL_TRACES_SAMPLER", "parentbased_jaeger_remote", "sampler", "parentbased_always_on"},
        {"OTEL_TRACES_SAMPLER_ARG", "1.5", "sampler.arg", "1"},
        {"OTEL_TRACES_SAMPLER_ARG", "5e-1", "sampler.arg", "1"},
        {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "protocol", "http/protobuf"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        expect_env(cases[i].var, cases[i].value, cases[i].name, cases[i].dflt);
}

/* ---- owl_config_set, name by name ---- */

Test(client_config, set_endpoint)
{
    owl_config *c = fresh();
    static const char *const good[] = {
        "http://localhost", "HTTPS://Owl.Example.COM:443", "http://[::1]:4318/",
        "http://10.0.0.1:1/otlp/base%2Fx/", "http://h:65535/a-b_c.~!$&'()*+,;=:@",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        set_ok(c, "endpoint", good[i], good[i]); /* kept as given */
    static const char *const bad[] = {
        "", "localhost:4318", "ftp://h", "http:/h", "http://", "http://:4318", "http://h:",
        "http://h:0", "http://h:65536", "http://h:123456", "http://h:4318x", "http://user@h",
        "http://h/a b", "http://h/?q=1", "http://h/#f", "http://h/%2", "http://h/%zz",
        "http://[::1", "http://[]", "http://h\n", "https://h:44 3",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        set_refused(c, "endpoint", bad[i]);
    owl_config_free(c);
}

Test(client_config, set_service_name)
{
    owl_config *c = fresh();
    set_ok(c, "service.name", "checkout", "checkout");
    set_ok(c, "service.name", "caf\xc3\xa9 \xe2\x98\x95", "caf\xc3\xa9 \xe2\x98\x95");
    set_refused(c, "service.name", "");
    set_refused(c, "service.name", "\xc0\xaf");         /* overlong */
    set_refused(c, "service.name", "\xed\xa0\x80");     /* surrogate */
    set_refused(c, "service.name", "\xf4\x90\x80\x80"); /* past U+10FFFF */
    owl_config_free(c);
}

Test(client_config, set_api_key)
{
    owl_config *c = fresh();
    set_ok(c, "api_key", "abc!~{}", "abc!~{}");
    set_ok(c, "api_key", "", "");
    set_refused(c, "api_key", "a b");
    set_refused(c, "api_key", "a\tb");
    set_refused(c, "api_key", "caf\xc3\xa9");
    set_refused(c, "api_key", "a\x7f");
    owl_config_free(c);
}

Test(client_config, set_sampler)
{
    static const char *const names[] = {
        "always_on", "always_off", "traceidratio", "parentbased_always_on",
        "parentbased_always_off", "parentbased_traceidratio", "xray",
    };
    owl_config *c = fresh();
    for (int i = 0; i < 7; i++) {
        set_ok(c, "sampler", names[i], names[i]);
        cr_assert_eq((int)owl__config_sampler(c, NULL), i);
    }
    set_ok(c, "sampler", "ParentBased_TraceIdRatio", "parentbased_traceidratio");
    set_refused(c, "sampler", "");
    set_refused(c, "sampler", "always_on ");
    set_refused(c, "sampler", "jaeger_remote");
    owl_config_free(c);
}

Test(client_config, set_sampler_arg)
{
    static const struct {
        const char *in, *held;
        double value;
    } ok[] = {
        {"0", "0", 0},       {"1", "1", 1},          {"0.25", "0.25", 0.25},
        {".5", "0.5", 0.5},  {"00.2500", "0.25", 0.25}, {"1.", "1", 1},
        {"1.000", "1", 1},   {"0.", "0", 0},         {"0.000", "0", 0},
        {"0.1", "0.1", 0.1}, {"0.0001", "0.0001", 0.0001},
        {"0.12345678901234567890123", "0.12345678901234567890123", 0.12345678901234567890123},
    };
    owl_config *c = fresh();
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        double r = -1;
        set_ok(c, "sampler.arg", ok[i].in, ok[i].held);
        owl__config_sampler(c, &r);
        cr_assert_float_eq(r, ok[i].value, 1e-15, "%s: %.17g", ok[i].in, r);
    }
    static const char *const bad[] = {"", ".", "-0", "+0.5", "1.01", "2", "10", "0.5 ", " 0.5",
                                      "0,5", "5e-1", "0x1", "nan", "inf", "1.0.0"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        set_refused(c, "sampler.arg", bad[i]);
    owl_config_free(c);
}

Test(client_config, set_protocol)
{
    owl_config *c = fresh();
    set_ok(c, "protocol", "http/json", "http/json");
    set_ok(c, "protocol", "HTTP/Protobuf", "http/protobuf");
    set_refused(c, "protocol", "grpc");
    set_refused(c, "protocol", "http/protobuf;");
    set_refused(c, "protocol", "");
    owl_config_free(c);
}

/* The exporter's and the logs' names: defaults, variables (OWL_* first), forms, numbers. */
Test(client_config, export_and_log_options)
{
    owl_config *c = fresh();
    expect(c, "compression", "none"); /* OpenTelemetry's SDKs' default */
    expect(c, "timeout", "10000");
    expect(c, "export.interval", "1000");
    expect(c, "queue.size", "2048");
    expect(c, "batch.size", "512");
    expect(c, "metrics.interval", "60000");
    expect(c, "log.level", "info");
    expect(c, "log.stderr", "0");
    cr_assert_eq(owl__config_num(c, "log.level"), OWL_LOG_INFO);
    cr_assert_eq(owl__config_num(c, "compression"), 1); /* none: gzip is 0 */
    cr_assert_eq(owl__config_num(c, "protocol"), 0);
    cr_assert_eq(owl__config_num(c, "queue.size"), 2048);
    cr_assert_eq(owl__config_num(c, "endpoint"), -1);
    cr_assert_eq(owl__config_num(c, "no.such"), -1);

    set_ok(c, "compression", "GZip", "gzip");
    cr_assert_eq(owl__config_num(c, "compression"), 0);
    set_ok(c, "compression", "NONE", "none");
    cr_assert_eq(owl__config_num(c, "compression"), 1);
    set_refused(c, "compression", "zstd");
    set_ok(c, "timeout", "0250", "250");
    cr_assert_eq(owl__config_num(c, "timeout"), 250);
    set_refused(c, "timeout", "0");
    set_refused(c, "timeout", "600001");
    set_refused(c, "timeout", "-5");
    set_refused(c, "timeout", "1e3");
    set_refused(c, "timeout", "99999999999999999999999");
    set_ok(c, "queue.size", "1048576", "1048576");
    set_refused(c, "queue.size", "1048577");
    set_ok(c, "metrics.interval", "86400000", "86400000");
    set_refused(c, "export.interval", " 5");
    set_ok(c, "log.level", "Error", "error");
    cr_assert_eq(owl__config_num(c, "log.level"), OWL_LOG_ERROR);
    set_ok(c, "log.level", "trace", "trace");
    cr_assert_eq(owl__config_num(c, "log.level"), OWL_LOG_TRACE);
    set_refused(c, "log.level", "verbose");
    set_ok(c, "log.stderr", "TRUE", "1");
    set_ok(c, "log.stderr", "0", "0");
    set_refused(c, "log.stderr", "yes");
    owl_config_free(c);

    expect_env("OTEL_BSP_SCHEDULE_DELAY", "5000", "export.interval", "5000");
    expect_env("OTEL_EXPORTER_OTLP_COMPRESSION", "none", "compression", "none");
    expect_env("OTEL_METRIC_EXPORT_INTERVAL", "abc", "metrics.interval", "60000");
    clean_env();
    setenv("OWL_BATCH_SIZE", "64", 1);
    setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "128", 1);
    c = fresh();
    expect(c, "batch.size", "64");
    owl_config_free(c);
    clean_env();
}

Test(client_config, null_resets_to_default)
{
    setenv("OWL_ENDPOINT", "http://env:1", 1);
    setenv("OTEL_EXPORTER_OTLP_HEADERS", "a=1", 1);
    owl_config *c = fresh();
    set_ok(c, "service.name", "x", "x");
    set_ok(c, "endpoint", NULL, "http://127.0.0.1:4318");
    set_ok(c, "service.name", NULL, "unknown_service");
    set_ok(c, "headers", NULL, "");
    cr_assert_eq(owl__config_header_count(c), 0);
    owl_config_free(c);
}

/* ---- the lists ---- */

static void expect_entry(const owl_config *c, int header, size_t i, const char *k,
                         const char *v)
{
    const char *gk, *gv;
    int r = header ? owl__config_header_at(c, i, &gk, &gv)
                   : owl__config_resource_at(c, i, &gk, &gv);
    cr_assert_eq(r, 0);
    cr_assert_str_eq(gk, k);
    cr_assert_str_eq(gv, v, "entry %zu: \"%s\", want \"%s\"", i, gv, v);
}

Test(client_config, list_decoding_and_ows)
{
    owl_config *c = fresh();
    set_ok(c, "resource", " a = x%2Cy%3Dz ,\tb=caf%C3%A9 , c=%e2%98%95,d=50%25,e=p+q ",
           "a=x%2Cy=z,b=caf%C3%A9,c=%E2%98%95,d=50%25,e=p+q");
    cr_assert_eq(owl__config_resource_count(c), 5);
    expect_entry(c, 0, 0, "a", "x,y=z");
    expect_entry(c, 0, 1, "b", "caf\xc3\xa9");
    expect_entry(c, 0, 2, "c", "\xe2\x98\x95");
    expect_entry(c, 0, 3, "d", "50%");
    expect_entry(c, 0, 4, "e", "p+q"); /* '+' is a plus */
    cr_assert_eq(owl__config_resource_at(c, 5, NULL, NULL), OWL_ERR_NOTFOUND);

    /* inner spaces in a value are taken ("Authorization=Bearer KEY"), sent back encoded */
    set_ok(c, "headers", "Authorization=Bearer abc==", "Authorization=Bearer%20abc==");
    expect_entry(c, 1, 0, "Authorization", "Bearer abc==");
    /* empty members are skipped */
    set_ok(c, "headers", ",, x=1 ,", "Authorization=Bearer%20abc==,x=1");
    owl_config_free(c);
}

Test(client_config, list_refused)
{
    owl_config *c = fresh();
    set_ok(c, "resource", "keep=1", "keep=1");
    set_ok(c, "headers", "keep=1", "keep=1");
    static const char *const bad[] = {
        "novalue",      "=v",         "a b=v",       "a=v,=w",      "k@=v",     "k=v;p=1",
        "k=\"q\"",      "k=a\\b",     "k=%",         "k=%4",        "k=%G0",    "k=%00",
        "k=%C3",        "k=%C0%AF",   "k=caf\xc3\xa9", "k=a\tb",    "k=\x01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        set_refused(c, "resource", bad[i]);
        set_refused(c, "headers", bad[i]);
    }
    /* a header's value holds no control character, an attribute's may */
    set_refused(c, "headers", "k=a%0D%0AInjected: 1");
    set_refused(c, "headers", "k=%09");
    set_refused(c, "headers", "k=%7F");
    set_ok(c, "resource", "k=a%0Ab", "keep=1,k=a%0Ab");
    /* service.name in the resource must not be empty: the whole list is refused */
    set_refused(c, "resource", "x=1,service.name=");
    owl_config_free(c);
}

Test(client_config, list_duplicates_and_removal)
{
    owl_config *c = fresh();
    set_ok(c, "resource", "a=1,b=2,a=3", "a=3,b=2");
    set_ok(c, "resource", "c=4,b=", "a=3,c=4");
    set_ok(c, "resource", "zz=", "a=3,c=4"); /* removing what is not there */
    set_ok(c, "resource", "", "a=3,c=4");   /* an empty list changes nothing */
    set_ok(c, "resource", "A=5", "a=3,c=4,A=5"); /* attribute keys are case-sensitive */

    /* header names are not: the last spelling and value win, in the first's place */
    set_ok(c, "headers", "X-Key=1,other=2", "X-Key=1,other=2");
    set_ok(c, "headers", "x-key=9", "x-key=9,other=2");
    set_ok(c, "headers", "X-KEY=", "other=2");
    owl_config_free(c);
}

Test(client_config, resource_service_name)
{
    owl_config *c = fresh();
    set_ok(c, "service.name", "first", "first");
    set_ok(c, "resource", "service.name=second,k=v", "k=v");
    expect(c, "service.name", "second");
    set_ok(c, "resource", "service.name=a,service.name=caf%C3%A9", "k=v");
    expect(c, "service.name", "caf\xc3\xa9");
    set_ok(c, "resource", NULL, ""); /* clears the list, not the name */
    expect(c, "service.name", "caf\xc3\xa9");
    owl_config_free(c);
}

Test(client_config, list_limit)
{
    owl_config *c = fresh();
    char buf[129 * 8 + 16] = "", *w = buf;
    for (int i = 0; i < 128; i++)
        w += sprintf(w, "%sk%d=v", i ? "," : "", i);
    cr_assert_eq(owl_config_set(c, "headers", buf), 0);
    cr_assert_eq(owl__config_header_count(c), 128);
    cr_assert_eq(owl_config_set(c, "headers", "k0=w"), 0); /* a replacement adds none */
    set_refused_code(c, "headers", "one=more", OWL_ERR_LIMIT);
    cr_assert_eq(owl_config_set(c, "headers", "k5=,one=more"), 0); /* removing makes room */
    cr_assert_eq(owl__config_header_count(c), 128);
    expect_entry(c, 1, 127, "one", "more");

    /* from the environment, a list past the limit is ignored whole */
    w += sprintf(w, ",k128=v");
    setenv("OTEL_EXPORTER_OTLP_HEADERS", buf, 1);
    owl_config *e = fresh();
    expect(e, "headers", "");
    owl_config_free(e);
    owl_config_free(c);
}

Test(client_config, list_round_trip)
{
    owl_config *a = fresh(), *b = fresh();
    set_ok(a, "headers", "k1=%22quoted%22%3B%5C,k2=%C3%A9%E2%82%AC%F0%9F%A6%89,k3=a %2C b",
           "k1=%22quoted%22%3B%5C,k2=%C3%A9%E2%82%AC%F0%9F%A6%89,k3=a%20%2C%20b");
    const char *t = owl_config_get(a, "headers");
    set_ok(b, "headers", t, t);
    for (size_t i = 0; i < owl__config_header_count(a); i++) {
        const char *ka, *va, *kb, *vb;
        cr_assert_eq(owl__config_header_at(a, i, &ka, &va), 0);
        cr_assert_eq(owl__config_header_at(b, i, &kb, &vb), 0);
        cr_assert_str_eq(ka, kb);
        cr_assert_str_eq(va, vb);
    }
    expect_entry(a, 1, 1, "k2", "\xc3\xa9\xe2\x82\xac\xf0\x9f\xa6\x89");
    owl_config_free(a);
    owl_config_free(b);
}

/* ---- the signal URLs ---- */

Test(client_config, signal_urls)
{
    static const struct {
        const char *endpoint, *url;
    } cases[] = {
        {"http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/traces"},
        {"http://h:4318/", "http://h:4318/v1/traces"},
        {"https://h/my/path", "https://h/my/path/v1/traces"},
        {"https://h/my/path/", "https://h/my/path/v1/traces"},
    };
    owl_config *c = fresh();
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cr_assert_eq(owl_config_set(c, "endpoint", cases[i].endpoint), 0);
        char *u = owl__config_url(c, "traces");
        cr_assert_str_eq(u, cases[i].url);
        free(u);
    }
    owl_config_free(c);
}
