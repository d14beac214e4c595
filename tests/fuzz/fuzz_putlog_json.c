/* fuzz_putlog_json.c — differential libFuzzer target for PutLogEvents bodies read directly
 * (ingest/putlog_json.c). Any input either falls back (OWL_EUNSUPPORTED: the general path
 * answers, nothing to check here) or is read; a body that is read must also decode with the
 * general JSON decoder, and its document, walked the way server/logs.c's put_log_events_doc
 * walks it, must give without an error the very group, stream, sequence token and events (time
 * and message bytes, in order). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "strict_doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

/* A string field the walk requires (need_str / opt_str): the same text, or both absent. */
static void same_str(const bson_t *doc, const char *key, const char *want)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, key)) {
        if (want)
            abort();
        return;
    }
    uint32_t len;
    if (!want || !BSON_ITER_HOLDS_UTF8(&it))
        abort();
    const char *s = bson_iter_utf8(&it, &len);
    if (len != strlen(want) || memcmp(s, want, len) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    owl_putlog pl;
    int rc = owl_putlog_parse((const char *)d, n, &pl);
    if (rc != OWL_OK) {
        if (rc != OWL_EUNSUPPORTED && rc != OWL_ENOMEM)
            abort();
        if (pl.ev || pl.scratch || pl.n)
            abort(); /* nothing is left to free after a fallback */
        return 0;
    }
    bson_t doc = BSON_INITIALIZER;
    if (owl_aws_json_decode((const char *)d, n, &doc, NULL) != OWL_OK || !fuzz_strict_doc(&doc, 0))
        abort(); /* read directly, refused by the decoder */
    if (!pl.group || !pl.stream)
        abort();
    same_str(&doc, "logGroupName", pl.group);
    same_str(&doc, "logStreamName", pl.stream);
    same_str(&doc, "sequenceToken", pl.token);
    bson_iter_t it, ev, f;
    if (!bson_iter_init_find(&it, &doc, "logEvents") || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &ev))
        abort();
    size_t k = 0;
    while (bson_iter_next(&ev)) {
        const char *msg = NULL;
        uint32_t mlen = 0;
        int64_t ts = 0;
        int have_ts = 0;
        if (!BSON_ITER_HOLDS_DOCUMENT(&ev) || !bson_iter_recurse(&ev, &f))
            abort();
        while (bson_iter_next(&f)) {
            if (strcmp(bson_iter_key(&f), "message") == 0 && BSON_ITER_HOLDS_UTF8(&f))
                msg = bson_iter_utf8(&f, &mlen);
            else if (strcmp(bson_iter_key(&f), "timestamp") == 0 &&
                     (BSON_ITER_HOLDS_INT32(&f) || BSON_ITER_HOLDS_INT64(&f)))
                ts = bson_iter_as_int64(&f), have_ts = 1;
        }
        if (!msg || !have_ts || k >= pl.n) /* the walk would answer an error */
            abort();
        if (pl.ev[k].time_ms != ts || pl.ev[k].message.n != mlen ||
            (mlen && memcmp(pl.ev[k].message.p, msg, mlen) != 0))
            abort();
        k++;
    }
    if (k != pl.n)
        abort();
    bson_destroy(&doc);
    owl_putlog_free(&pl);
    return 0;
}
