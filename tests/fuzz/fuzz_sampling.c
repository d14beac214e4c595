/* fuzz_sampling.c — the X-Ray daemon's SamplingTargets handling (server/sampling.c) on hostile
 * bodies, as the daemon's TCP port takes them: the body through owl_aws_json_decode, then
 * owl_sampling_targets_json with a clock that moves on a second per input. Contract: a refused
 * request appends nothing and says why; an answer is JSON with one target or unprocessed entry
 * per statistics document, and no client is ever given more than the rule's reservoir. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "server/sampling.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t array_len(const bson_t *doc, const char *name)
{
    bson_iter_t it, arr;
    size_t n = 0;
    if (!bson_iter_init_find(&it, doc, name) || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &arr))
        abort();
    while (bson_iter_next(&arr))
        n++;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static owl_sampling *s;
    static int64_t now = 1764900000;
    owl_error err = {0};
    if (!s && owl_sampling_new(&owl_sampling_default_rule, 1, "123456789012", now, &s, &err))
        abort();
    now++;
    bson_t in = BSON_INITIALIZER, out = BSON_INITIALIZER;
    owl_buf b = OWL_BUF_INIT;
    if (owl_aws_json_decode((const char *)data, size, &in, &err) != OWL_OK)
        goto done;
    int rc = owl_sampling_targets_json(s, &in, now, &b, &err);
    if (rc != OWL_OK) {
        if (rc != OWL_EINVAL || b.len || !err.msg[0])
            abort();
        goto done;
    }
    if (owl_aws_json_decode(b.data, b.len, &out, &err) != OWL_OK)
        abort(); /* the answer must be JSON */
    if (array_len(&out, "SamplingTargetDocuments") + array_len(&out, "UnprocessedStatistics") !=
        array_len(&in, "SamplingStatisticsDocuments"))
        abort();
    bson_iter_t it, arr, q;
    bson_iter_init_find(&it, &out, "SamplingTargetDocuments");
    bson_iter_recurse(&it, &arr);
    while (bson_iter_next(&arr)) {
        bson_iter_t doc;
        if (!bson_iter_recurse(&arr, &doc) || !bson_iter_find_descendant(&doc, "ReservoirQuota", &q))
            abort();
        int64_t quota = bson_iter_as_int64(&q);
        if (quota < 0 || quota > owl_sampling_default_rule.reservoir)
            abort();
    }
done:
    bson_destroy(&in);
    bson_destroy(&out);
    owl_buf_free(&b);
    return 0;
}
