/* fuzz_xfilter.c — libFuzzer target for the X-Ray filter-expression compiler (tracer/xfilter.c),
 * which reads expressions from the network (GetTraceSummaries' FilterExpression, owl's trace
 * search). Beyond crashes, leaks and sanitizer reports it checks the contract: compile answers
 * OK, EINVAL or EUNSUPPORTED; a refusal leaves *out NULL and names a position inside the text
 * or one past it; compiling the same bytes again gives the same answer (same code and message,
 * or the same match on every trace); whatever compiles is matched against fixed traces
 * (nested groups, an inferred node, an in-progress span, a parent cycle, no spans), and the
 * pre-check never refuses a trace the matcher accepts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracer/tracer.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define MS(x) ((int64_t)(x) * 1000000LL)

static const owl_xf_annotation ann[] = {
    {.key = "gameid", .type = OWL_XF_ASTR, .str = "817DL6VO"},
    {.key = "age", .type = OWL_XF_ANUM, .num = 31},
    {.key = "vip", .type = OWL_XF_ABOOL, .boolean = 1},
    {.key = NULL, .type = OWL_XF_ASTR, .str = NULL},
    {.key = "user.id", .type = OWL_XF_ASTR, .str = NULL},
};

static const owl_xf_span shop[] = {
    {.service = "frontend", .service_type = "AWS::EC2::Instance", .kind = OWL_XF_SERVER,
     .start_ns = 0, .end_ns = MS(2500), .http_method = "GET", .http_status = 200,
     .http_url = "https://shop.example.com/api/cart?id=7", .http_useragent = "curl/8.5.0",
     .http_clientip = "203.0.113.9", .user = "alice", .availability_zone = "eu-west-1a",
     .instance_id = "i-0abc", .annotations = ann, .n_annotations = 5, .parent = -1},
    {.service = "frontend", .service_type = "AWS::EC2::Instance", .kind = OWL_XF_CLIENT,
     .start_ns = MS(100), .end_ns = MS(2300), .fault = 1, .http_status = 500, .parent = 0,
     .remote_service = "cart"},
    {.service = "cart", .kind = OWL_XF_SERVER, .start_ns = MS(200), .end_ns = MS(2200),
     .fault = 1, .http_status = 500, .parent = 1},
    {.service = "cart", .kind = OWL_XF_CLIENT, .start_ns = MS(300), .end_ns = MS(2100),
     .fault = 1, .resource_arn = "arn:aws:dynamodb:eu-west-1:1:table/orders", .parent = 2,
     .remote_service = "orders-db", .remote_type = "AWS::DynamoDB::Table"},
    {.service = "random-name", .service_type = "AWS::Lambda", .kind = OWL_XF_SERVER,
     .start_ns = MS(310), .end_ns = MS(690), .parent = 0},
    {.service = "random-name", .service_type = "AWS::Lambda::Function", .kind = OWL_XF_SERVER,
     .start_ns = MS(320), .end_ns = MS(680), .error = 1, .throttle = 1, .http_status = 429,
     .parent = 4},
    {.service = "", .kind = OWL_XF_PRODUCER, .start_ns = MS(5), .end_ns = MS(1), .parent = 5,
     .remote_service = "queue"},
};

static const owl_xf_span odd[] = {
    {.service = "worker", .kind = OWL_XF_CONSUMER, .start_ns = MS(10), .in_progress = 1,
     .parent = 1, .user = "bob"},
    {.service = "worker", .kind = OWL_XF_CLIENT, .start_ns = MS(11), .end_ns = MS(12),
     .error = 1, .parent = 0, .remote_service = "worker"},
    {.service = NULL, .kind = OWL_XF_INTERNAL, .start_ns = -5, .end_ns = INT64_MAX,
     .parent = 1000},
};

static const owl_xf_trace traces[] = {
    {shop, sizeof shop / sizeof *shop, -1, 0},
    {shop, sizeof shop / sizeof *shop, 2, 0},
    {odd, sizeof odd / sizeof *odd, -1, 0},
    {NULL, 0, -1, 0},
};
#define NT (sizeof traces / sizeof *traces)

/* The position an error message names ("... at position N"), or 0. */
static size_t named_position(const char *msg)
{
    const char *p = strstr(msg, " at position ");
    const char *last = NULL;
    while (p) {
        last = p;
        p = strstr(p + 1, " at position ");
    }
    return last ? strtoull(last + 13, NULL, 10) : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    const char *text = (const char *)d;
    owl_xf *f = NULL, *g = NULL;
    owl_error e1 = {0}, e2 = {0};
    int rc = owl_xf_compile(text, n, &f, &e1);
    int rc2 = owl_xf_compile(text, n, &g, &e2);
    if (rc != rc2)
        abort();
    if (rc != OWL_OK) {
        if (rc != OWL_EINVAL && rc != OWL_EUNSUPPORTED)
            abort();
        if (f || g || strcmp(e1.msg, e2.msg))
            abort();
        size_t pos = named_position(e1.msg);
        size_t limit = n > OWL_XF_MAX_LEN ? OWL_XF_MAX_LEN + 1 : n + 1;
        if (pos < 1 || pos > limit)
            abort();
        return 0;
    }
    if (!f || !g)
        abort();
    for (size_t i = 0; i < NT; i++) {
        int m = owl_xf_match(f, &traces[i]);
        if (m != 0 && m != 1)
            abort();
        if (owl_xf_match(g, &traces[i]) != m)
            abort();
        const char *svc[16];
        owl_xf_summary s;
        if (owl_xf_summarize(&traces[i], svc, 16, &s, NULL) != OWL_OK)
            abort();
        if (m && !owl_xf_may_match(f, &s))
            abort();
    }
    owl_xf_free(f);
    owl_xf_free(g);
    return 0;
}
