/* rawlog.c — raw log lines (POST /api/v1/logs?group=G&stream=S): a text/plain body, one
 * event per line dated by the timestamp it starts with (common/logtime.h), or NDJSON, one
 * {"timestamp", "message", ...} object per line; docs/api/logs-ingest.md. Invariant: each
 * non-empty line is one event or counted in out->rejected (with its line number). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/logtime.h"
#include "ingest/ingest.h"
#include "ingest/log_decoded.h"

/* Cuts body into lines: *line, *len is the next line without its LF or CRLF (a last line
 * without LF counts). Returns 0 at the end. */
static int next_line(const char *body, size_t n, size_t *pos, const char **line, size_t *len)
{
    if (*pos >= n)
        return 0;
    const char *s = body + *pos;
    const char *nl = memchr(s, '\n', n - *pos);
    size_t l = nl ? (size_t)(nl - s) : n - *pos;
    *pos += l + (nl ? 1 : 0);
    if (l && s[l - 1] == '\r')
        l--;
    *line = s;
    *len = l;
    return 1;
}

/* Empties out, then the checks every raw request starts with: names, then the number of
 * non-empty lines. */
static int start(const char *body, size_t n, const char *group, const char *stream,
                 size_t max_events, owl_log_decoded *out, owl_error *err)
{
    const char *line;
    size_t pos = 0, len, lines = 0;
    if (owl_log_decoded_begin(out) != OWL_OK)
        return owl_error_set(err, OWL_ENOMEM, "out of memory decoding log lines");
    if (!group || !owl_log_decoded_group_ok(group, strlen(group)))
        return owl_error_set(err, OWL_EINVAL, "invalid log group name \"%.64s\" (1 to 512 of "
                                              "A-Z a-z 0-9 _ - / . #)", group ? group : "");
    if (!stream || !owl_log_decoded_stream_ok(stream, strlen(stream)))
        return owl_error_set(err, OWL_EINVAL, "invalid log stream name \"%.64s\" (1 to 512 "
                                              "bytes of UTF-8 without ':' or '*')",
                             stream ? stream : "");
    while (next_line(body, n, &pos, &line, &len))
        lines += len != 0;
    if (lines > max_events)
        return owl_error_set(err, OWL_ETOOBIG, "%zu log lines in one request (at most %zu)",
                             lines, max_events);
    return OWL_OK;
}

static int finish(owl_log_decoded *out, int rc, owl_error *err)
{
    if (rc == OWL_OK)
        rc = owl_log_decoded_finish(out);
    if (rc == OWL_ENOMEM)
        owl_error_set(err, rc, "out of memory decoding log lines");
    return rc;
}

int owl_rawlog_decode_text(const char *body, size_t n, const char *group, const char *stream,
                           int64_t now_ms, size_t max_events, owl_log_decoded *out,
                           owl_error *err)
{
    const char *line;
    size_t pos = 0, len, no = 0;
    int rc = start(body, n, group, stream, max_events, out, err);
    if (rc != OWL_OK)
        return rc;
    while (rc == OWL_OK && next_line(body, n, &pos, &line, &len)) {
        owl_log_event ev;
        no++;
        if (!len)
            continue;
        memset(&ev, 0, sizeof ev);
        ev.time_ms = now_ms;
        owl_logtime_parse(line, len, now_ms, &ev.time_ms);
        if ((rc = owl_log_decoded_text(out, line, len, &ev.message)) != OWL_OK)
            break;
        if (ev.message.n > OWL_LOG_MESSAGE_MAX) {
            owl_log_decoded_reject(out, "line %zu: %zu bytes (at most %d)", no, ev.message.n,
                                   OWL_LOG_MESSAGE_MAX);
            continue;
        }
        rc = owl_log_decoded_add(out, group, strlen(group), stream, strlen(stream), &ev);
    }
    return finish(out, rc, err);
}

/* "timestamp" of an NDJSON object: epoch ms as a number, or a string owl_time_parse reads
 * (RFC 3339 with fractions and offsets, or epoch ms). 0 or -1 (refused). */
static int ndjson_time(bson_iter_t *it, int64_t *ms)
{
    if (BSON_ITER_HOLDS_INT32(it) || BSON_ITER_HOLDS_INT64(it)) {
        *ms = bson_iter_as_int64(it);
        return 0;
    }
    if (BSON_ITER_HOLDS_DOUBLE(it)) {
        double d = bson_iter_double(it);
        if (!isfinite(d) || fabs(d) > 9.2e18)
            return -1;
        *ms = (int64_t)floor(d);
        return 0;
    }
    if (BSON_ITER_HOLDS_UTF8(it)) {
        uint32_t l;
        const char *s = bson_iter_utf8(it, &l);
        return owl_time_parse(s, l, ms) == OWL_OK ? 0 : -1;
    }
    return -1;
}

/* One NDJSON line as an event; why is set (and nothing added) when the line is refused. */
static int ndjson_line(owl_log_decoded *out, const char *line, size_t len, int64_t now_ms,
                       owl_log_event *ev, char *why, size_t whysz)
{
    bson_t doc = BSON_INITIALIZER, attrs = BSON_INITIALIZER;
    bson_iter_t it;
    owl_error jerr = {0};
    int rc = OWL_OK, has_msg = 0;
    memset(ev, 0, sizeof *ev);
    ev->time_ms = now_ms;
    if (owl_aws_json_decode(line, len, &doc, &jerr) != OWL_OK) {
        snprintf(why, whysz, "not a JSON object: %.150s", jerr.msg);
        goto out;
    }
    if (!bson_iter_init(&it, &doc)) {
        snprintf(why, whysz, "not a JSON object");
        goto out;
    }
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (strcmp(k, "message") == 0) {
            uint32_t l;
            const char *s = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, &l) : NULL;
            if (!s || !l) {
                snprintf(why, whysz, "\"message\" must be a non-empty string");
                goto out;
            }
            if (l > OWL_LOG_MESSAGE_MAX) {
                snprintf(why, whysz, "a message of %u bytes (at most %d)", l,
                         OWL_LOG_MESSAGE_MAX);
                goto out;
            }
            if ((rc = owl_log_decoded_text(out, s, l, &ev->message)) != OWL_OK)
                goto out;
            has_msg = 1;
        } else if (strcmp(k, "timestamp") == 0) {
            if (!BSON_ITER_HOLDS_NULL(&it) && ndjson_time(&it, &ev->time_ms) != 0) {
                snprintf(why, whysz, "\"timestamp\" must be epoch ms or an RFC 3339 string");
                goto out;
            }
        } else if (!bson_append_iter(&attrs, NULL, 0, &it)) {
            rc = OWL_ENOMEM;
            goto out;
        }
    }
    if (!has_msg) {
        snprintf(why, whysz, "no \"message\"");
        goto out;
    }
    if (!bson_empty(&attrs)) {
        void *p = owl_arena_copy(&out->arena, bson_get_data(&attrs), attrs.len);
        if (!p) {
            rc = OWL_ENOMEM;
            goto out;
        }
        ev->attrs = (owl_bytes){p, attrs.len};
    }
out:
    bson_destroy(&doc);
    bson_destroy(&attrs);
    return rc;
}

int owl_rawlog_decode_ndjson(const char *body, size_t n, const char *group, const char *stream,
                             int64_t now_ms, size_t max_events, owl_log_decoded *out,
                             owl_error *err)
{
    const char *line;
    size_t pos = 0, len, no = 0;
    int rc = start(body, n, group, stream, max_events, out, err);
    if (rc != OWL_OK)
        return rc;
    while (rc == OWL_OK && next_line(body, n, &pos, &line, &len)) {
        owl_log_event ev;
        char why[200] = "";
        no++;
        if (!len)
            continue;
        rc = ndjson_line(out, line, len, now_ms, &ev, why, sizeof why);
        if (rc == OWL_OK && why[0])
            owl_log_decoded_reject(out, "line %zu: %s", no, why);
        else if (rc == OWL_OK)
            rc = owl_log_decoded_add(out, group, strlen(group), stream, strlen(stream), &ev);
    }
    return finish(out, rc, err);
}
