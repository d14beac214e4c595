/* test_client_log.c — client/log.c and the logs half of client/otlp_encode.c: log.level
 * (below it nothing is made: no record, no allocation), the current span's ids, structured
 * attributes and their limits, printf messages cut at 64 KiB on a UTF-8 boundary, the stderr
 * line; records encoded in both forms read back field by field (protobuf-c's unpack, the
 * server's JSON transcoding) and decoded by owld (owl_otlp_logs_decode) to the events it
 * stores; an encode out of memory leaves the buffer as given. Built from the client's sources
 * plus the server's libraries; reaches the sink hooks through client_int.h. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "client/client_int.h"

/* ingest/ingest.h (common/log.h) names a type owl_span, an enum owl_span_kind, owl_log and its
 * levels as the client does: the server's are renamed here (nothing below uses them). */
#define owl_span owl_srv_span
#define owl_span_kind owl_srv_span_kind
#define owl_log owl_srv_log
#define OWL_LOG_DEBUG OWL_SRV_LOG_DEBUG
#define OWL_LOG_INFO OWL_SRV_LOG_INFO
#define OWL_LOG_WARN OWL_SRV_LOG_WARN
#define OWL_LOG_ERROR OWL_SRV_LOG_ERROR
#include "ingest/ingest.h"
#include "ingest/otlp_int.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "client_oom.h"
#undef owl_span
#undef owl_span_kind
#undef owl_log
#undef OWL_LOG_DEBUG
#undef OWL_LOG_INFO
#undef OWL_LOG_WARN
#undef OWL_LOG_ERROR

typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest Req;
typedef Opentelemetry__Proto__Logs__V1__LogRecord LogRecord;
typedef Opentelemetry__Proto__Common__V1__KeyValue KV;
#define AV_(k) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##k
#define S(lit) ((char *)(lit))
#define SERVICE "svc-log"
#define RESOURCE "service.instance.id=i-1,deployment.environment=test"

/* ---- allocations counted on the calling thread (glibc's allocator underneath) ----
 * ASan brings its own allocator, which these would bypass: there nothing is counted. */

static _Thread_local int counting;
static _Thread_local long allocs;

#ifndef __SANITIZE_ADDRESS__
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);

void *malloc(size_t n)
{
    allocs += counting;
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    allocs += counting;
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    allocs += counting;
    return __libc_realloc(p, n);
}
#endif

/* ---- a sink keeping copies of what it is given ---- */

/* The first 64 records, body and attributes deep-copied. */
static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static owl__log_record seen[64];
static size_t body_held[64]; /* bytes the record's own body holds (malloc_usable_size) */
static size_t nseen;

static void sink(void *ud, const owl__log_record *r)
{
    (void)ud;
    pthread_mutex_lock(&sink_lock);
    if (nseen < sizeof seen / sizeof *seen) {
        body_held[nseen] = malloc_usable_size(r->body);
        owl__log_record *c = &seen[nseen++];
        *c = *r;
        c->body = strdup(r->body);
        c->attrs = calloc(r->nattrs + 1, sizeof *c->attrs);
        for (uint32_t i = 0; i < r->nattrs; i++) {
            c->attrs[i] = r->attrs[i];
            c->attrs[i].key = strdup(r->attrs[i].key);
            if (r->attrs[i].type == OWL__ATTR_STR)
                c->attrs[i].v.s = strdup(r->attrs[i].v.s);
        }
    }
    pthread_mutex_unlock(&sink_lock);
}

static void clear_seen(void)
{
    for (size_t i = 0; i < nseen; i++) {
        owl__log_record *c = &seen[i];
        for (uint32_t j = 0; j < c->nattrs; j++)
            owl__attr_clear(&c->attrs[j]);
        free(c->attrs);
        free(c->body);
    }
    nseen = 0;
}

static void no_span(void *ud, const owl__span_record *r)
{
    (void)ud;
    (void)r;
}

static void discard(void *ud, const owl__log_record *r)
{
    (void)ud;
    (void)r;
}

/* owl_init with the tests' service, the sampler, log.level and log.stderr; the endpoint a
 * closed port (nothing reaches it: the sinks take every record). */
static void init_sampler(const char *sampler, const char *level, const char *to_stderr)
{
    owl_config *c = owl_config_new();
    cr_assert_not_null(c);
    cr_assert_eq(owl_config_set(c, "endpoint", "http://127.0.0.1:9"), 0);
    cr_assert_eq(owl_config_set(c, "service.name", SERVICE), 0);
    cr_assert_eq(owl_config_set(c, "sampler", sampler), 0);
    cr_assert_eq(owl_config_set(c, "log.level", level), 0);
    cr_assert_eq(owl_config_set(c, "log.stderr", to_stderr), 0);
    cr_assert_eq(owl_init(c), 0);
    owl_config_free(c);
}

static void init_with(const char *level, const char *to_stderr)
{
    init_sampler("always_on", level, to_stderr);
}

static void setup(void)
{
    owl__set_span_sink(no_span, NULL);
    owl__set_log_sink(sink, NULL);
}

static void teardown(void)
{
    owl_shutdown(0);
    owl__set_log_sink(NULL, NULL);
    owl__set_span_sink(NULL, NULL);
    clear_seen();
}

static const owl__attr *attr(const owl__log_record *r, const char *key)
{
    for (uint32_t i = 0; i < r->nattrs; i++)
        if (!strcmp(r->attrs[i].key, key))
            return &r->attrs[i];
    return NULL;
}

/* ---- levels ---- */

Test(log, level_filters, .init = setup, .fini = teardown)
{
    /* before owl_init nothing would take a record: none is made */
    owl_log(OWL_LOG_INFO, "before init");
    owl_log(OWL_LOG_FATAL, "before init");
    cr_assert_null(owl_log_start(OWL_LOG_FATAL), "no record is made before owl_init");
    cr_assert_eq(nseen, 0);
    init_with("info", "0"); /* log.level's default */
    owl_log(OWL_LOG_DEBUG, "below info");
    owl_log(OWL_LOG_INFO, "info");
    cr_assert_eq(nseen, 1);
    cr_assert_str_eq(seen[0].body, "info");
    owl_shutdown(0);

    init_with("warn", "0");
    owl_log(OWL_LOG_INFO, "dropped");
    owl_log((owl_level)(OWL_LOG_WARN - 1), "dropped");
    cr_assert_null(owl_log_start(OWL_LOG_INFO));
    owl_log_set_str(NULL, "k", "v"); /* what a NULL record goes through */
    owl_log_set_int(NULL, "k", 1);
    owl_log_emit(NULL, "dropped");
    cr_assert_eq(nseen, 1);
    owl_log(OWL_LOG_WARN, "w");
    owl_log((owl_level)(OWL_LOG_ERROR + 2), "e");
    owl_log_emit(owl_log_start(OWL_LOG_FATAL), "f");
    cr_assert_eq(nseen, 4);
    cr_assert_eq(seen[1].level, OWL_LOG_WARN);
    cr_assert_eq((int)seen[2].level, OWL_LOG_ERROR + 2);
    cr_assert_eq(seen[3].level, OWL_LOG_FATAL);

    owl_shutdown(0); /* nothing taken from here on */
    owl_log(OWL_LOG_FATAL, "after");
    cr_assert_null(owl_log_start(OWL_LOG_FATAL));
    cr_assert_eq(nseen, 4);
}

/* A record below the level allocates nothing (the counter is shown live by one at it). */
Test(log, below_level_allocates_nothing, .init = setup, .fini = teardown)
{
#ifdef __SANITIZE_ADDRESS__
    cr_skip_test("ASan's allocator is not counted");
#endif
    init_with("error", "0");
    counting = 1;
    allocs = 0;
    for (int i = 0; i < 1000; i++) {
        owl_log(OWL_LOG_WARN, "%s %d", "a long enough message to be worth a buffer", i);
        owl_log_set_str(owl_log_start(OWL_LOG_INFO), "k", "v");
    }
    long below = allocs;
    owl_log(OWL_LOG_ERROR, "%d", 1);
    long at = allocs;
    counting = 0;
    cr_assert_eq(below, 0, "%ld allocations below the level", below);
    cr_assert_gt(at, 0, "the counter sees allocations");
    cr_assert_eq(nseen, 1);
}

/* ---- ids ---- */

Test(log, ids_of_the_current_span, .init = setup, .fini = teardown)
{
    uint8_t ta[16], sa[8], tb[16], sb[8];
    init_with("info", "0");
    owl_log(OWL_LOG_INFO, "none");
    owl_span *a = owl_span_start("a", OWL_KIND_SERVER, NULL, 0);
    owl_log(OWL_LOG_INFO, "in a");
    owl_span *b = owl_span_start("b", OWL_KIND_INTERNAL, NULL, 0);
    owl_log_emit(owl_log_start(OWL_LOG_INFO), "in b");
    owl_span_end(b);
    owl_log(OWL_LOG_INFO, "a again");
    cr_assert_eq(owl_span_ids(a, ta, sa), 0);
    owl_span_end(a);
    owl_log(OWL_LOG_INFO, "none again");
    cr_assert_eq(nseen, 5);

    for (int i = 0; i < 5; i += 4) {
        cr_assert(owl__is_zero(seen[i].trace_id, 16) && owl__is_zero(seen[i].span_id, 8),
                  "record %d", i);
        cr_assert_eq(seen[i].sampled, 0);
    }
    for (int i = 1; i < 4; i++) {
        cr_assert_eq(memcmp(seen[i].trace_id, ta, 16), 0, "record %d", i);
        cr_assert_eq(seen[i].sampled, 1);
    }
    cr_assert_eq(memcmp(seen[1].span_id, sa, 8), 0);
    cr_assert_eq(memcmp(seen[3].span_id, sa, 8), 0);
    memcpy(tb, seen[2].trace_id, 16);
    memcpy(sb, seen[2].span_id, 8);
    cr_assert_eq(memcmp(tb, ta, 16), 0);
    cr_assert_neq(memcmp(sb, sa, 8), 0, "b's own span id");
}

/* An unsampled span's ids still correlate; its flag says it was not sampled. */
Test(log, ids_of_an_unsampled_span, .init = setup, .fini = teardown)
{
    init_sampler("always_off", "info", "0");
    owl_span *a = owl_span_start("a", OWL_KIND_SERVER, NULL, 0);
    uint8_t t[16], s[8];
    cr_assert_eq(owl_span_ids(a, t, s), 0);
    owl_log(OWL_LOG_INFO, "x");
    owl_span_end(a);
    cr_assert_eq(nseen, 1);
    cr_assert_eq(memcmp(seen[0].trace_id, t, 16), 0);
    cr_assert_eq(memcmp(seen[0].span_id, s, 8), 0);
    cr_assert_eq(seen[0].sampled, 0);
}

/* The time is the wall clock's at emit. */
Test(log, time_is_the_emit_time, .init = setup, .fini = teardown)
{
    init_with("info", "0");
    struct timespec t0, t1;
    owl_log_record *r = owl_log_start(OWL_LOG_INFO);
    clock_gettime(CLOCK_REALTIME, &t0);
    owl_log_emit(r, "t");
    clock_gettime(CLOCK_REALTIME, &t1);
    uint64_t a = (uint64_t)t0.tv_sec * 1000000000u + (uint64_t)t0.tv_nsec;
    uint64_t b = (uint64_t)t1.tv_sec * 1000000000u + (uint64_t)t1.tv_nsec;
    cr_assert_eq(nseen, 1);
    cr_assert(seen[0].time_ns >= a && seen[0].time_ns <= b);
}

/* ---- attributes ---- */

Test(log, structured_attributes, .init = setup, .fini = teardown)
{
    init_with("info", "0");
    static char longv[OWL__MAX_STR + 10];
    memset(longv, 'x', sizeof longv - 1);
    memcpy(longv + OWL__MAX_STR - 1, "\xe2\x9c\x93", 3); /* straddles the cut */
    owl_log_record *r = owl_log_start(OWL_LOG_INFO);
    cr_assert_not_null(r);
    owl_log_set_str(r, "s", "v");
    owl_log_set_int(r, "i", INT64_MIN);
    owl_log_set_double(r, "d", -2.5);
    owl_log_set_bool(r, "b", 7);
    owl_log_set_str(r, "rep", "first");
    owl_log_set_int(r, "rep", 2); /* replaces, in place */
    owl_log_set_str(r, "long", longv);
    owl_log_set_str(r, NULL, "ignored");
    owl_log_set_str(r, "nullvalue", NULL);
    owl_log_emit(r, "structured");
    cr_assert_eq(nseen, 1);
    const owl__log_record *g = &seen[0];
    cr_assert_eq(g->nattrs, 6);
    cr_assert_eq(g->dropped_attrs, 0);
    cr_assert_str_eq(g->attrs[0].key, "s");
    cr_assert_str_eq(g->attrs[0].v.s, "v");
    cr_assert_eq(attr(g, "i")->type, OWL__ATTR_INT);
    cr_assert_eq(attr(g, "i")->v.i, INT64_MIN);
    cr_assert_eq(attr(g, "d")->type, OWL__ATTR_DOUBLE);
    cr_assert_eq(attr(g, "d")->v.d, -2.5);
    cr_assert_eq(attr(g, "b")->type, OWL__ATTR_BOOL);
    cr_assert_eq(attr(g, "b")->v.b, 1);
    cr_assert_str_eq(g->attrs[4].key, "rep");
    cr_assert_eq(g->attrs[4].type, OWL__ATTR_INT);
    cr_assert_eq(g->attrs[4].v.i, 2);
    cr_assert_eq(strlen(attr(g, "long")->v.s), OWL__MAX_STR - 1, "cut before the character");
}

Test(log, attribute_limit_counts_dropped, .init = setup, .fini = teardown)
{
    init_with("info", "0");
    owl_log_record *r = owl_log_start(OWL_LOG_INFO);
    char k[16];
    for (int i = 0; i < OWL__MAX_ATTRS + 5; i++) {
        snprintf(k, sizeof k, "k%d", i);
        owl_log_set_int(r, k, i);
    }
    owl_log_set_int(r, "k0", -1); /* a key it holds is still replaced when full */
    owl_log_set_str(r, "new", "v");
    owl_log_emit(r, "many");
    cr_assert_eq(nseen, 1);
    cr_assert_eq(seen[0].nattrs, OWL__MAX_ATTRS);
    cr_assert_eq(seen[0].dropped_attrs, 6);
    cr_assert_eq(attr(&seen[0], "k0")->v.i, -1);
    cr_assert_null(attr(&seen[0], "new"));
}

/* ---- the message ---- */

Test(log, printf_message, .init = setup, .fini = teardown)
{
    init_with("info", "0");
    static char long_arg[600];
    memset(long_arg, 'y', sizeof long_arg - 1);
    owl_log(OWL_LOG_INFO, "n=%d s=%s x=%04x %%", 42, "\xc3\xa9t\xc3\xa9", 0xab);
    owl_log(OWL_LOG_INFO, "[%s]", long_arg); /* past the first try's buffer */
    owl_log(OWL_LOG_INFO, "%s", "");
    owl_log(OWL_LOG_INFO, "bad \xff byte, kept as given");
    cr_assert_eq(nseen, 4);
    cr_assert_str_eq(seen[0].body, "n=42 s=\xc3\xa9t\xc3\xa9 x=00ab %");
    cr_assert_eq(strlen(seen[1].body), sizeof long_arg + 1);
    cr_assert(seen[1].body[0] == '[' && seen[1].body[sizeof long_arg] == ']');
    cr_assert_str_eq(seen[2].body, "");
    cr_assert_str_eq(seen[3].body, "bad \xff byte, kept as given");
}

/* At OWL__MAX_BODY bytes: whole; one more: cut (and no more than the cut kept in memory); a
 * character across the limit: cut before it. */
Test(log, message_cut_at_64k_on_a_character, .init = setup, .fini = teardown)
{
    init_with("info", "0");
    size_t big = 4 * OWL__MAX_BODY;
    char *m = malloc(big + 1);
    memset(m, 'a', big);
    m[big] = 0;
    owl_log(OWL_LOG_INFO, "%.*s", OWL__MAX_BODY, m);
    owl_log(OWL_LOG_INFO, "%s", m);
    m[0] = 'b'; /* then two-byte characters from byte 1: byte 65536 continues one */
    for (size_t i = 1; i + 1 < big; i += 2)
        memcpy(m + i, "\xc3\xa9", 2);
    m[big - 1] = 0;
    owl_log(OWL_LOG_INFO, "%s", m);
    memset(m, 'a', big); /* three bytes over 65534..65536 */
    memcpy(m + OWL__MAX_BODY - 2, "\xe2\x9c\x93", 3);
    owl_log(OWL_LOG_INFO, "%s", m);
    free(m);
    cr_assert_eq(nseen, 4);
    cr_assert_eq(strlen(seen[0].body), OWL__MAX_BODY);
    cr_assert_eq(strlen(seen[1].body), OWL__MAX_BODY);
    cr_assert_lt(body_held[1], 2 * OWL__MAX_BODY, "%zu bytes held", body_held[1]);
    cr_assert_eq(strlen(seen[2].body), OWL__MAX_BODY - 1);
    cr_assert(owl__utf8_ok(seen[2].body, OWL__MAX_BODY - 1));
    cr_assert_eq(strlen(seen[3].body), OWL__MAX_BODY - 2);
    cr_assert(owl__utf8_ok(seen[3].body, OWL__MAX_BODY - 2));
}

/* ---- stderr ---- */

/* Runs fn with stderr into a file, returns what was written (malloc'd). */
static char *capture_stderr(void (*fn)(void))
{
    char path[] = "/tmp/test_client_log_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    unlink(path);
    int saved = dup(STDERR_FILENO);
    cr_assert_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    off_t n = lseek(fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)n + 1);
    cr_assert_eq(pread(fd, text, (size_t)n, 0), n);
    close(fd);
    return text;
}

static uint8_t line_trace[16], line_span[8];

static void emit_lines(void)
{
    owl_log(OWL_LOG_WARN, "plain %d", 7);
    owl_span *s = owl_span_start("s", OWL_KIND_SERVER, NULL, 0);
    owl_span_ids(s, line_trace, line_span);
    owl_log_record *r = owl_log_start(OWL_LOG_ERROR);
    owl_log_set_str(r, "user", "ann");
    owl_log_set_int(r, "n", -3);
    owl_log_set_double(r, "d", 0.5);
    owl_log_set_bool(r, "ok", 0);
    owl_log_emit(r, "in span");
    owl_log(OWL_LOG_INFO, "two\nlines\tand\x01 a bell");
    owl_log(OWL_LOG_DEBUG, "below the level: not written");
    owl_span_end(s);
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

Test(log, stderr_line, .init = setup, .fini = teardown)
{
    init_with("info", "1");
    char *text = capture_stderr(emit_lines);
    char t[33], s[17], want[512];
    hex(line_trace, 16, t);
    hex(line_span, 8, s);
    regex_t re;
    snprintf(want, sizeof want,
             "^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z) WARN "
             "\\[" SERVICE "\\] plain 7\n"
             "[0-9T:.Z-]{24} ERROR \\[" SERVICE "\\] trace=%s span=%s in span user=ann n=-3 "
             "d=0\\.5 ok=false\n"
             "[0-9T:.Z-]{24} INFO \\[" SERVICE "\\] trace=%s span=%s two\\\\nlines\\\\tand"
             "\\\\x01 a bell\n$",
             t, s, t, s);
    cr_assert_eq(regcomp(&re, want, REG_EXTENDED), 0);
    regmatch_t m[2];
    cr_assert_eq(regexec(&re, text, 2, m, 0), 0, "got:\n%s", text);
    regfree(&re);
    /* the time is the record's */
    char stamp[32];
    time_t sec = (time_t)(seen[0].time_ns / 1000000000u);
    struct tm tm;
    gmtime_r(&sec, &tm);
    size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + n, sizeof stamp - n, ".%03uZ",
             (unsigned)(seen[0].time_ns / 1000000u % 1000u));
    cr_assert_eq(strncmp(text, stamp, strlen(stamp)), 0, "%s vs %s", text, stamp);
    free(text);
    cr_assert_eq(nseen, 3, "written and exported");
}

static void emit_one(void)
{
    owl_log(OWL_LOG_ERROR, "not on stderr");
}

/* A double in the fewest digits that read back; a line past 16 KiB cut on a character (a
 * message of 3-byte characters), nothing after the cut. */
static void emit_double_and_long(void)
{
    owl_log_record *r = owl_log_start(OWL_LOG_INFO);
    owl_log_set_double(r, "d", 0.1);
    owl_log_emit(r, "tenth");
    static char big[20000];
    for (size_t i = 0; i + 3 < sizeof big; i += 3)
        memcpy(big + i, "\xe2\x82\xac", 3); /* U+20AC */
    r = owl_log_start(OWL_LOG_INFO);
    owl_log_set_str(r, "after", "cut");
    owl_log_emit(r, "%s", big);
}

Test(log, stderr_double_and_cut, .init = setup, .fini = teardown)
{
    init_with("info", "1");
    char *text = capture_stderr(emit_double_and_long);
    char *nl = strchr(text, '\n');
    cr_assert_not_null(nl);
    *nl = '\0';
    cr_assert(strstr(text, " tenth d=0.1") && nl[-1] == '1', "%s", text);
    char *second = nl + 1, *end = strchr(second, '\n');
    cr_assert_not_null(end, "the long line ends with a newline");
    cr_assert_lt(end - text, 16384 + (nl - text) + 1);
    cr_assert(owl__utf8_ok(second, (size_t)(end - second)), "cut on a character boundary");
    cr_assert_null(strstr(second, "after=cut"), "nothing after the cut");
    cr_assert_eq(end[1], '\0', "two lines");
    free(text);
}

Test(log, stderr_off_by_default, .init = setup, .fini = teardown)
{
    char *before = capture_stderr(emit_one);
    init_with("info", "0");
    char *off = capture_stderr(emit_one);
    owl_shutdown(0);
    init_with("info", "1");
    owl_shutdown(0); /* back to none */
    char *after = capture_stderr(emit_one);
    cr_assert_str_eq(before, "");
    cr_assert_str_eq(off, "");
    cr_assert_str_eq(after, "");
    free(before);
    free(off);
    free(after);
    cr_assert_eq(nseen, 1, "only the record made while set up");
}

/* Threads writing at once (started together): every line whole (one write(2) a record). */
#define LINES 10000
static pthread_barrier_t start_line;

static void *writer(void *arg)
{
    long id = (long)arg;
    pthread_barrier_wait(&start_line);
    for (int i = 0; i < LINES; i++)
        owl_log(OWL_LOG_INFO, "thread %ld line %d %s end", id, i,
                "................................................................");
    return NULL;
}

static void threads_write(void)
{
    pthread_t th[4];
    pthread_barrier_init(&start_line, NULL, 4);
    for (long i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, writer, (void *)i);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start_line);
}

Test(log, stderr_lines_do_not_interleave, .init = setup, .fini = teardown)
{
    owl__set_log_sink(discard, NULL); /* no lock between the threads */
    init_with("info", "1");
    char *text = capture_stderr(threads_write);
    regex_t re;
    cr_assert_eq(regcomp(&re,
                         "^[0-9T:.Z-]{24} INFO \\[" SERVICE "\\] thread [0-3] line [0-9]+ "
                         "\\.{64} end$",
                         REG_EXTENDED | REG_NOSUB),
                 0);
    int lines = 0;
    for (char *save, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        cr_assert_eq(regexec(&re, l, 0, NULL, 0), 0, "line %d: %s", lines, l);
        lines++;
    }
    regfree(&re);
    free(text);
    cr_assert_eq(lines, 4 * LINES);
}

/* ---- encodings: records with every field, read back ---- */

static owl__attr attrs0[] = {
    {S("user"), OWL__ATTR_STR, {.s = S("ann \xe2\x9c\x93")}},
    {S("n"), OWL__ATTR_INT, {.i = -9007199254740993ll}},
    {S("d"), OWL__ATTR_DOUBLE, {.d = 0.1}},
    {S("ok"), OWL__ATTR_BOOL, {.b = 1}},
};
static owl__log_record r0 = {
    .time_ns = 1700000000123456789ull,
    .level = OWL_LOG_INFO,
    .trace_id = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
    .span_id = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8},
    .sampled = 1,
    .body = S("placing order 42 \"quoted\"\n"),
    .attrs = attrs0,
    .nattrs = 4,
    .dropped_attrs = 3,
};
/* no ids, empty message, no attributes */
static owl__log_record r1 = {
    .time_ns = 1700000001000000000ull,
    .level = OWL_LOG_WARN,
    .body = S(""),
};
/* ids of an unsampled span, the top severity, an invalid byte (both forms give U+FFFD) */
static owl__log_record r2 = {
    .time_ns = 1700000002000000000ull,
    .level = (owl_level)24,
    .trace_id = {0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
    .span_id = {0, 0, 0, 0, 0, 0, 0, 2},
    .body = S("bad \xff end"),
};
static const owl__log_record *const recs[] = {&r0, &r1, &r2};
#define NRECS 3

/* severityText by level: the name of its range of four */
static const char *const want_text[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};

static void encode(int json, const owl__log_record *const *rs, size_t n, owl__cbuf *b)
{
    int rc = json ? owl__otlp_logs_json(rs, n, SERVICE, RESOURCE, b)
                  : owl__otlp_logs_pb(rs, n, SERVICE, RESOURCE, b);
    cr_assert_eq(rc, 0);
    cr_assert_eq(b->nomem, 0);
}

/* s, with each invalid UTF-8 byte as U+FFFD (what both forms deliver). */
static const char *repaired(const char *s)
{
    return strcmp(s, "bad \xff end") ? s : "bad \xef\xbf\xbd end";
}

static void check_record(const LogRecord *l, const owl__log_record *r, int json)
{
    cr_assert_eq(l->time_unix_nano, r->time_ns);
    cr_assert_eq(l->observed_time_unix_nano, r->time_ns);
    cr_assert_eq((int)l->severity_number, (int)r->level);
    cr_assert_str_eq(l->severity_text, want_text[((int)r->level - 1) / 4]);
    cr_assert_not_null(l->body);
    cr_assert_eq(l->body->value_case, AV_(STRING_VALUE));
    if (json)
        cr_assert_str_eq(l->body->string_value, repaired(r->body));
    else
        cr_assert_str_eq(l->body->string_value, r->body); /* bytes as given */
    cr_assert_eq(l->n_attributes, r->nattrs);
    for (uint32_t i = 0; i < r->nattrs; i++) {
        const KV *kv = l->attributes[i];
        const owl__attr *a = &r->attrs[i];
        cr_assert_str_eq(kv->key, a->key);
        switch (a->type) {
        case OWL__ATTR_STR:
            cr_assert_eq(kv->value->value_case, AV_(STRING_VALUE));
            cr_assert_str_eq(kv->value->string_value, a->v.s);
            break;
        case OWL__ATTR_INT:
            cr_assert_eq(kv->value->value_case, AV_(INT_VALUE));
            cr_assert_eq(kv->value->int_value, a->v.i);
            break;
        case OWL__ATTR_DOUBLE:
            cr_assert_eq(kv->value->value_case, AV_(DOUBLE_VALUE));
            cr_assert_eq(kv->value->double_value, a->v.d);
            break;
        case OWL__ATTR_BOOL:
            cr_assert_eq(kv->value->value_case, AV_(BOOL_VALUE));
            cr_assert_eq(kv->value->bool_value, a->v.b);
            break;
        }
    }
    cr_assert_eq(l->dropped_attributes_count, r->dropped_attrs);
    int ids = !owl__is_zero(r->trace_id, 16);
    cr_assert_eq(l->flags, ids && r->sampled ? 1u : 0u);
    if (ids) {
        cr_assert(l->trace_id.len == 16 && !memcmp(l->trace_id.data, r->trace_id, 16));
        cr_assert(l->span_id.len == 8 && !memcmp(l->span_id.data, r->span_id, 8));
    } else {
        cr_assert(l->trace_id.len == 0 && l->span_id.len == 0, "no ids: none sent");
    }
}

static void check_req(const Req *q, const owl__log_record *const *rs, size_t n, int json)
{
    cr_assert_eq(q->n_resource_logs, 1);
    const Opentelemetry__Proto__Logs__V1__ResourceLogs *rl = q->resource_logs[0];
    const Opentelemetry__Proto__Resource__V1__Resource *res = rl->resource;
    static const char *const want_res[] = {
        "service.name", SERVICE, "service.instance.id", "i-1", "deployment.environment", "test",
        "telemetry.sdk.name", "libowl", "telemetry.sdk.language", "c",
        "telemetry.sdk.version", OWL_VERSION_STRING};
    cr_assert_eq(res->n_attributes, 6);
    for (size_t i = 0; i < 6; i++) {
        cr_assert_str_eq(res->attributes[i]->key, want_res[2 * i]);
        cr_assert_str_eq(res->attributes[i]->value->string_value, want_res[2 * i + 1]);
    }
    cr_assert_eq(rl->n_scope_logs, 1);
    const Opentelemetry__Proto__Logs__V1__ScopeLogs *sl = rl->scope_logs[0];
    cr_assert_str_eq(sl->scope->name, "libowl");
    cr_assert_str_eq(sl->scope->version, OWL_VERSION_STRING);
    cr_assert_eq(sl->n_log_records, n);
    for (size_t i = 0; i < n; i++)
        check_record(sl->log_records[i], rs[i], json);
}

Test(log_otlp, protobuf_unpacks_to_every_field)
{
    owl__cbuf b = {0};
    encode(0, recs, NRECS, &b);
    Req *q = opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(
        NULL, b.len, b.p);
    cr_assert_not_null(q);
    check_req(q, recs, NRECS, 0);
    opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(q,
                                                                                          NULL);
    owl__cbuf_free(&b);
}

Test(log_otlp, json_reads_as_the_same_request)
{
    owl__cbuf b = {0};
    owl_arena mem;
    ProtobufCMessage *m = NULL;
    owl_error err = {0};
    encode(1, recs, NRECS, &b);
    const ProtobufCMessageDescriptor *desc =
        &opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor;
    owl_arena_init(&mem, 0);
    cr_assert_eq(owl_otlp_unpack(desc, OWL_OTLP_JSON, b.p, b.len, &mem, &m, &err), OWL_OK, "%s",
                 err.msg);
    check_req((const Req *)m, recs, NRECS, 1);
    owl_arena_free(&mem);
    owl__cbuf_free(&b);
}

static int64_t member_int(const bson_t *doc, const char *path)
{
    bson_iter_t it;
    cr_assert(bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &it), "%s",
              path);
    return bson_iter_as_int64(&it);
}

static void bytes_is(owl_bytes b, const char *want)
{
    cr_assert(b.n == strlen(want) && (!b.n || memcmp(b.p, want, b.n) == 0),
              "got \"%.*s\", want \"%s\"", (int)b.n, (const char *)b.p, want);
}

/* What owld stores of each record: group /otel/<service>, stream service.instance.id, time
 * (ms), message, severity, ids, the attributes with their types. */
static void check_decoded(enum owl_otlp_encoding enc, const owl__cbuf *b)
{
    owl_log_decoded d = {0};
    owl_error err = {0};
    cr_assert_eq(owl_otlp_logs_decode(enc, b->p, b->len, 1, 1000, &d, &err), OWL_OK, "%s",
                 err.msg);
    cr_assert_eq(d.rejected, 0, "%s", d.message);
    cr_assert_eq(d.nb, 1);
    cr_assert_str_eq(d.b[0].group, "/otel/" SERVICE);
    cr_assert_str_eq(d.b[0].stream, "i-1");
    cr_assert_eq(d.b[0].n, NRECS);
    for (size_t i = 0; i < NRECS; i++) {
        const owl_log_event *e = &d.b[0].ev[i];
        const owl__log_record *r = recs[i];
        cr_assert_eq(e->time_ms, (int64_t)(r->time_ns / 1000000u));
        bytes_is(e->message, repaired(r->body));
        bytes_is(e->severity, want_text[((int)r->level - 1) / 4]);
        cr_assert_eq(memcmp(e->trace_id, r->trace_id, 16), 0);
        cr_assert_eq(memcmp(e->span_id, r->span_id, 8), 0);
        bson_t doc;
        cr_assert(bson_init_static(&doc, e->attrs.p, e->attrs.n));
        bson_iter_t it;
        cr_assert(bson_iter_init_find(&it, &doc, "resource"));
        if (!r->nattrs) {
            cr_assert(!bson_iter_init_find(&it, &doc, "attributes"));
            continue;
        }
        cr_assert(bson_iter_init(&it, &doc) &&
                  bson_iter_find_descendant(&it, "attributes.user", &it) &&
                  BSON_ITER_HOLDS_UTF8(&it));
        cr_assert_str_eq(bson_iter_utf8(&it, NULL), attrs0[0].v.s);
        cr_assert_eq(member_int(&doc, "attributes.n"), attrs0[1].v.i);
        cr_assert(bson_iter_init(&it, &doc) &&
                  bson_iter_find_descendant(&it, "attributes.d", &it) &&
                  BSON_ITER_HOLDS_DOUBLE(&it) && bson_iter_double(&it) == 0.1);
        cr_assert(bson_iter_init(&it, &doc) &&
                  bson_iter_find_descendant(&it, "attributes.ok", &it) &&
                  BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it));
    }
    owl_log_decoded_free(&d);
}

Test(log_otlp, server_decodes_both_encodings)
{
    for (int json = 0; json < 2; json++) {
        owl__cbuf b = {0};
        encode(json, recs, NRECS, &b);
        check_decoded(json ? OWL_OTLP_JSON : OWL_OTLP_PROTOBUF, &b);
        owl__cbuf_free(&b);
    }
}

/* The JSON text itself: names, ids in lowercase hex, 64-bit integers as strings, severity as
 * a number and its text, flags only with ids. */
Test(log_otlp, json_text_of_a_small_request)
{
    static owl__attr a[] = {{S("k"), OWL__ATTR_INT, {.i = -3}}};
    owl__log_record r = r2;
    r.sampled = 1;
    r.level = OWL_LOG_ERROR;
    r.body = S("m\t\"x\"");
    r.attrs = a;
    r.nattrs = 1;
    const owl__log_record *two[] = {&r, &r1};
    owl__cbuf b = {0};
    owl__cbuf_put(&b, "kept", 4);
    cr_assert_eq(owl__otlp_logs_json(two, 2, "s", "", &b), 0);
    owl__cbuf_put(&b, "", 1);
    cr_assert_str_eq(
        (char *)b.p,
        "kept{\"resourceLogs\":[{\"resource\":{\"attributes\":["
        "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"s\"}},"
        "{\"key\":\"telemetry.sdk.name\",\"value\":{\"stringValue\":\"libowl\"}},"
        "{\"key\":\"telemetry.sdk.language\",\"value\":{\"stringValue\":\"c\"}},"
        "{\"key\":\"telemetry.sdk.version\",\"value\":{\"stringValue\":\"" OWL_VERSION_STRING
        "\"}}]},\"scopeLogs\":[{\"scope\":{\"name\":\"libowl\",\"version\":\"" OWL_VERSION_STRING
        "\"},\"logRecords\":["
        "{\"timeUnixNano\":\"1700000002000000000\","
        "\"observedTimeUnixNano\":\"1700000002000000000\",\"severityNumber\":17,"
        "\"severityText\":\"ERROR\",\"body\":{\"stringValue\":\"m\\t\\\"x\\\"\"},"
        "\"attributes\":[{\"key\":\"k\",\"value\":{\"intValue\":\"-3\"}}],\"flags\":1,"
        "\"traceId\":\"ff000000000000000000000000000001\",\"spanId\":\"0000000000000002\"},"
        "{\"timeUnixNano\":\"1700000001000000000\","
        "\"observedTimeUnixNano\":\"1700000001000000000\",\"severityNumber\":13,"
        "\"severityText\":\"WARN\",\"body\":{\"stringValue\":\"\"}}]}]}]}");
    owl__cbuf_free(&b);
}

/* An emitted record through the encoder as the exporter sends it: owld reads its ids. */
static owl__cbuf emitted;

static void encode_sink(void *ud, const owl__log_record *r)
{
    (void)ud;
    const owl__log_record *one[] = {r};
    cr_assert_eq(owl__otlp_logs_pb(one, 1, SERVICE, "", &emitted), 0);
}

Test(log_otlp, emitted_record_reaches_owld_with_its_span)
{
    owl__set_span_sink(no_span, NULL);
    owl__set_log_sink(encode_sink, NULL);
    init_with("info", "0");
    owl_span *s = owl_span_start("s", OWL_KIND_SERVER, NULL, 0);
    uint8_t t[16], sp[8];
    owl_span_ids(s, t, sp);
    owl_log_record *r = owl_log_start(OWL_LOG_WARN);
    owl_log_set_str(r, "user", "ann");
    owl_log_emit(r, "order %d failed", 42);
    owl_span_end(s);
    owl_shutdown(0);
    owl__set_log_sink(NULL, NULL);
    owl__set_span_sink(NULL, NULL);

    owl_log_decoded d = {0};
    owl_error err = {0};
    cr_assert_eq(owl_otlp_logs_decode(OWL_OTLP_PROTOBUF, emitted.p, emitted.len, 1, 10, &d, &err),
                 OWL_OK, "%s", err.msg);
    cr_assert_eq(d.nb, 1);
    cr_assert_str_eq(d.b[0].group, "/otel/" SERVICE);
    cr_assert_str_eq(d.b[0].stream, "default");
    cr_assert_eq(d.b[0].n, 1);
    const owl_log_event *e = &d.b[0].ev[0];
    bytes_is(e->message, "order 42 failed");
    bytes_is(e->severity, "WARN");
    cr_assert_eq(memcmp(e->trace_id, t, 16), 0);
    cr_assert_eq(memcmp(e->span_id, sp, 8), 0);
    owl_log_decoded_free(&d);
    owl__cbuf_free(&emitted);
}

/* ---- out of memory ---- */


/* The address space capped a few MB above use: 20 records of 64 KiB messages and 128
 * attributes of 4 KiB run out part way; the buffer is left as given, and usable again. */
Test(log_otlp, out_of_memory_leaves_the_buffer)
{
#ifdef __SANITIZE_ADDRESS__
    cr_skip_test("ASan reserves its shadow memory up front and aborts where malloc would fail");
#endif
    static owl__attr big[OWL__MAX_ATTRS];
    static char keys[OWL__MAX_ATTRS][8];
    static char longval[OWL__MAX_STR + 1], body[OWL__MAX_BODY + 1];
    memset(longval, 'v', OWL__MAX_STR);
    memset(body, 'm', OWL__MAX_BODY);
    for (int i = 0; i < OWL__MAX_ATTRS; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        big[i] = (owl__attr){keys[i], OWL__ATTR_STR, {.s = longval}};
    }
    owl__log_record r = r0;
    r.attrs = big;
    r.nattrs = OWL__MAX_ATTRS;
    r.body = body;
    const owl__log_record *rs[20];
    for (int i = 0; i < 20; i++)
        rs[i] = &r;
    for (int json = 0; json < 2; json++) {
        owl__cbuf b = {0};
        owl__cbuf_put(&b, "prefix", 6);
        size_t cap = b.cap;
        struct rlimit old;
        oom_cap(&old);
        int rc = json ? owl__otlp_logs_json(rs, 20, SERVICE, RESOURCE, &b)
                      : owl__otlp_logs_pb(rs, 20, SERVICE, RESOURCE, &b);
        oom_uncap(&old);
        cr_assert_eq(rc, OWL_ERR_NOMEM);
        cr_assert_eq(b.len, 6);
        cr_assert_eq(b.nomem, 0);
        cr_assert(b.cap >= cap && memcmp(b.p, "prefix", 6) == 0);
        cr_assert_eq(owl__otlp_logs_pb(rs, 1, SERVICE, RESOURCE, &b), 0);
        cr_assert(b.len > 6 + OWL__MAX_BODY + OWL__MAX_ATTRS * OWL__MAX_STR);
        owl__cbuf_free(&b);
    }
}
