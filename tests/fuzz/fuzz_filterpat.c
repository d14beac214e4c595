/* fuzz_filterpat.c — libFuzzer target for the CloudWatch Logs filter-pattern compiler
 * (index/filterpat.c), which reads patterns from the network (FilterLogEvents, metric and
 * subscription filters, live tail). Beyond crashes, leaks and sanitizer reports it checks the
 * contract: compile answers OK or EINVAL, a refusal leaves *out NULL and names a position
 * inside the text or one past it; whatever compiles is matched against fixed events, and
 * every event it matches passes the pruning filter both by pred.c's row check and by its
 * block check over the event's token bloom; extract and check_ref answer within their
 * contract (a found value lies inside the event or the scratch buffer). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/bloom.h"
#include "index/index.h"
#include "index/pred.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static const char *const events[] = {
    "[ERROR 401] UNAUTHORIZED REQUEST from user_42",
    "Exception in thread \"main\" java.lang.NullPointerException",
    "{\"eventType\":\"UpdateTrail\",\"user\":{\"id\":1,\"email\":\"a@example.com\"},"
    "\"latency\":120,\"ok\":true,\"e\":null,\"list\":[1,\"two\",{\"x\":3.5e2}]}",
    "{\"k\":\"v\\u0041\\n\\\"q\\\"\",\"n\":-0.5E-3}",
    "127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] \"GET /index.html HTTP/1.0\" 404 2326",
    "",
    "a b  c\t\"d e\" [f g] \"unterminated",
};

static const char *const refs[] = {"$.latency", "$.user.email", "$.list[2].x", "$.k", "$.n",
                                   "$ip", "$status", "$a", "$bytes", "$", "$.", "x"};

static int add_token(void *ud, const char *t, size_t n)
{
    owl_bloom_add_hash(ud, owl_pred_token_item(t, n, 3));
    return 0;
}

static int leaf_may(void *ud, const owl_pred *p)
{
    return owl_pred_block_may(ud, p);
}

/* Aborts when the matched event msg fails f by row or by block. */
static void check_necessary(const owl_filter *f, const char *msg)
{
    size_t depth;
    if (owl_filter_check(&owl_logs_schema, f, &depth, NULL) != OWL_OK)
        abort();
    owl_cell cell = {.b = {msg, strlen(msg)}};
    owl_cell *cols[OWL_MAX_COLS] = {0};
    cols[OWL_LOGS_MESSAGE] = &cell;
    uint8_t keep = 1, scratch[2 * OWL_FILTER_MAX_DEPTH + 1];
    owl_filter_rows(&owl_logs_schema, f, cols, 1, 0, &keep, scratch);
    if (!keep)
        abort();
    owl_bloom b;
    if (owl_bloom_init(&b, 64, 0.01) != OWL_OK)
        abort();
    owl_tokenize(msg, strlen(msg), add_token, &b);
    owl_pred_colstats cs = {.type = OWL_TYPE_STR, .flags = OWL_COL_TOKENS, .bloom = &b,
                            .format = 3};
    if (!owl_filter_block_may(f, leaf_may, &cs))
        abort();
    owl_bloom_free(&b);
}

static void check_extract(const owl_fpat *p, const char *msg, owl_buf *scratch)
{
    size_t n = strlen(msg);
    for (size_t r = 0; r < sizeof refs / sizeof *refs; r++) {
        owl_bytes text = {0};
        double num;
        int is_num = -1;
        int found = owl_fpat_extract(p, msg, n, refs[r], scratch, &text, &num, &is_num);
        if (found != 0 && found != 1)
            abort();
        if (is_num != 0 && is_num != 1)
            abort();
        if (found) {
            const char *t = text.p;
            int in_msg = t >= msg && t + text.n <= msg + n;
            int in_scratch = scratch->data && t >= scratch->data &&
                             t + text.n <= scratch->data + scratch->len;
            if (!in_msg && !in_scratch)
                abort();
        }
        owl_error err = {0};
        int rc = owl_fpat_check_ref(p, refs[r], &err);
        if (rc != OWL_OK && (rc != OWL_EINVAL || !err.msg[0]))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (n > 4096)
        return 0;
    owl_fpat *p = (owl_fpat *)1;
    owl_error err = {0};
    int rc = owl_fpat_compile((const char *)d, n, &p, &err);
    if (rc != OWL_OK && rc != OWL_EINVAL)
        abort();
    if (rc == OWL_EINVAL) {
        const char *at = strstr(err.msg, " at position ");
        unsigned long pos = at ? strtoul(at + 13, NULL, 10) : 0;
        if (p || pos == 0 || pos > n + 1)
            abort();
        return 0;
    }
    owl_buf scratch = OWL_BUF_INIT;
    const owl_filter *f = owl_fpat_filter(p, OWL_LOGS_MESSAGE);
    for (size_t e = 0; e < sizeof events / sizeof *events; e++) {
        int m = owl_fpat_match(p, events[e], strlen(events[e]));
        if (m != 0 && m != 1)
            abort();
        if (m && f)
            check_necessary(f, events[e]);
        check_extract(p, events[e], &scratch);
    }
    /* the pattern's own text as an event: matches of it must pass the filter too */
    char *self = malloc(n + 1);
    if (self) {
        memcpy(self, d, n);
        self[n] = '\0';
        if (owl_fpat_match(p, self, strlen(self)) && f)
            check_necessary(f, self);
        free(self);
    }
    owl_buf_free(&scratch);
    owl_fpat_free(p);
    return 0;
}
