/* alarm_actions.c — delivers alarm state changes to webhooks: the alarms module reports each
 * change to a hook (owl_alarms_add_hook) that only queues one job per action URL; worker
 * threads POST the JSON payload with libcurl, retry failures with exponential backoff, and
 * record every attempt as an "Action" history item of the alarm. Evaluation never waits on a
 * webhook: a hung one holds one worker until its timeout, the others go on.
 *
 * Payload (JSON, Content-Type application/json): CloudWatch's SNS notification fields
 * (AlarmName, AlarmDescription, AWSAccountId, NewStateValue, NewStateReason,
 * StateChangeTime, Region, AlarmArn, OldStateValue), HistoryData (the change with
 * StateReasonData: the datapoints used), and a Slack-compatible "text". */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analytics/analytics.h"
#include "common/clock.h"
#include "server/server.h"

typedef struct job {
    struct job *next;
    char tenant[256], name[256];
    char *url, *body;
    int attempt;
    int64_t due_ms;
} job;

struct owl_alarm_actions {
    owl_alarms *alarms;
    owl_alarm_actions_options opt;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head; /* by due time */
    size_t queued;
    int stopping;
    pthread_t *threads;
    size_t nthreads;
    uint64_t delivered, failed_attempts, dropped;
};

static void job_free(job *j)
{
    if (j) {
        free(j->url);
        free(j->body);
        free(j);
    }
}

/* Inserts j by due time (mu held). */
static void enqueue_locked(owl_alarm_actions *aa, job *j)
{
    job **p = &aa->head;
    while (*p && (*p)->due_ms <= j->due_ms)
        p = &(*p)->next;
    j->next = *p;
    *p = j;
    aa->queued++;
    pthread_cond_broadcast(&aa->cv);
}

static void json_field(owl_buf *b, const char *key, const char *v, int comma)
{
    owl_buf_printf(b, "%s\"%s\":", comma ? "," : "", key);
    owl_buf_json_str(b, v ? v : "", v ? strlen(v) : 0);
}

static char *payload(const owl_alarm_change *ch)
{
    static const char *const icon[] = {":large_green_circle:", ":red_circle:",
                                       ":white_circle:"};
    char when[40], arn[600], text[1400];
    owl_time_format_rfc3339(ch->time_ms, when, sizeof when);
    snprintf(arn, sizeof arn, "arn:aws:cloudwatch:us-east-1:%s:alarm:%s", ch->tenant, ch->name);
    snprintf(text, sizeof text, "%s *%s* is now %s (was %s): %.1000s", icon[ch->new_state % 3],
             ch->name, owl_alarm_state_name(ch->new_state), owl_alarm_state_name(ch->old_state),
             ch->reason ? ch->reason : "");
    owl_buf b = OWL_BUF_INIT;
    owl_buf_append(&b, "{", 1);
    json_field(&b, "AlarmName", ch->name, 0);
    json_field(&b, "AlarmDescription", ch->description, 1);
    json_field(&b, "AWSAccountId", ch->tenant, 1);
    json_field(&b, "NewStateValue", owl_alarm_state_name(ch->new_state), 1);
    json_field(&b, "NewStateReason", ch->reason, 1);
    json_field(&b, "StateChangeTime", when, 1);
    json_field(&b, "Region", "us-east-1", 1);
    json_field(&b, "AlarmArn", arn, 1);
    json_field(&b, "OldStateValue", owl_alarm_state_name(ch->old_state), 1);
    if (ch->history_data && *ch->history_data)
        owl_buf_printf(&b, ",\"HistoryData\":%s", ch->history_data);
    if (ch->evidence)
        owl_buf_printf(&b, ",\"evidence\":%s", ch->evidence);
    json_field(&b, "text", text, 1);
    owl_buf_append(&b, "}", 1);
    return b.data; /* NULL only when out of memory */
}

/* The hook: one job per action of the change. */
static void on_change(void *ud, const owl_alarm_change *ch)
{
    owl_alarm_actions *aa = ud;
    for (size_t i = 0; ch->actions && ch->actions[i]; i++) {
        job *j = calloc(1, sizeof *j);
        if (!j || !(j->url = strdup(ch->actions[i])) || !(j->body = payload(ch))) {
            job_free(j);
            continue;
        }
        snprintf(j->tenant, sizeof j->tenant, "%s", ch->tenant);
        snprintf(j->name, sizeof j->name, "%s", ch->name);
        j->due_ms = owl_now_ms();
        pthread_mutex_lock(&aa->mu);
        if (aa->queued >= aa->opt.max_queued) {
            aa->dropped++;
            pthread_mutex_unlock(&aa->mu);
            owl_warn("alarm actions: queue full, %s for %s dropped", j->url, j->name);
            job_free(j);
            continue;
        }
        enqueue_locked(aa, j);
        pthread_mutex_unlock(&aa->mu);
    }
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p, (void)ud;
    return size * n;
}

/* One POST; 0 on a 2xx answer, else fills why. */
static int post(const owl_alarm_actions *aa, const job *j, char *why, size_t whysz)
{
    if (strncmp(j->url, "http://", 7) != 0 && strncmp(j->url, "https://", 8) != 0) {
        snprintf(why, whysz, "no webhook is configured for %s (http and https URLs are called)",
                 j->url);
        return -1;
    }
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(why, whysz, "out of memory");
        return -1;
    }
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, j->url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, j->body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)aa->opt.timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)aa->opt.timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "owld-alarm-actions");
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        snprintf(why, whysz, "%s", curl_easy_strerror(rc));
        return -1;
    }
    if (status < 200 || status > 299) {
        snprintf(why, whysz, "HTTP status %ld", status);
        return -1;
    }
    return 0;
}

static void *worker(void *arg)
{
    owl_alarm_actions *aa = arg;
    pthread_mutex_lock(&aa->mu);
    for (;;) {
        while (!aa->stopping && (!aa->head || aa->head->due_ms > owl_now_ms())) {
            if (!aa->head) {
                pthread_cond_wait(&aa->cv, &aa->mu);
                continue;
            }
            int64_t due = aa->head->due_ms;
            struct timespec ts = {(time_t)(due / 1000), (long)(due % 1000) * 1000000};
            pthread_cond_timedwait(&aa->cv, &aa->mu, &ts); /* the clock is CLOCK_REALTIME */
        }
        if (aa->stopping)
            break;
        job *j = aa->head;
        aa->head = j->next;
        aa->queued--;
        pthread_mutex_unlock(&aa->mu);

        char why[300], summary[700];
        j->attempt++;
        int ok = post(aa, j, why, sizeof why) == 0;
        int retry = !ok && j->attempt < aa->opt.max_attempts &&
                    strncmp(j->url, "http", 4) == 0;
        int64_t backoff = aa->opt.backoff_ms << (j->attempt - 1);
        if (ok)
            snprintf(summary, sizeof summary, "Successfully executed action %.400s", j->url);
        else if (retry)
            snprintf(summary, sizeof summary,
                     "Failed to execute action %.400s (attempt %d): %.200s; retrying in %lld ms",
                     j->url, j->attempt, why, (long long)backoff);
        else
            snprintf(summary, sizeof summary,
                     "Failed to execute action %.400s (attempt %d): %.200s; giving up", j->url,
                     j->attempt, why);
        owl_error err = {0};
        if (owl_alarms_add_history(aa->alarms, j->tenant, j->name, "Action", owl_now_ms(),
                                   summary, "", &err) != OWL_OK)
            owl_warn("alarm actions: history of %s: %s", j->name, err.msg);

        pthread_mutex_lock(&aa->mu);
        if (ok) {
            aa->delivered++;
        } else {
            aa->failed_attempts++;
        }
        if (retry) {
            j->due_ms = owl_now_ms() + backoff;
            enqueue_locked(aa, j);
        } else {
            job_free(j);
        }
    }
    pthread_mutex_unlock(&aa->mu);
    return NULL;
}

void owl_alarm_actions_options_default(owl_alarm_actions_options *o)
{
    o->threads = 4;
    o->timeout_ms = 5000;
    o->max_attempts = 6;
    o->backoff_ms = 1000;
    o->max_queued = 10000;
}

int owl_alarm_actions_start(owl_alarms *alarms, const owl_alarm_actions_options *opt,
                            owl_alarm_actions **out, owl_error *err)
{
    *out = NULL;
    owl_alarm_actions *aa = calloc(1, sizeof *aa);
    if (!aa)
        return owl_error_set(err, OWL_ENOMEM, "out of memory");
    aa->alarms = alarms;
    owl_alarm_actions_options_default(&aa->opt);
    if (opt)
        aa->opt = *opt;
    if (aa->opt.threads < 1)
        aa->opt.threads = 1;
    pthread_mutex_init(&aa->mu, NULL);
    pthread_cond_init(&aa->cv, NULL);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        owl_alarm_actions_stop(aa);
        return owl_error_set(err, OWL_EIO, "libcurl does not initialise");
    }
    aa->threads = calloc((size_t)aa->opt.threads, sizeof *aa->threads);
    for (int i = 0; aa->threads && i < aa->opt.threads; i++) {
        if (pthread_create(&aa->threads[i], NULL, worker, aa) != 0)
            break;
        aa->nthreads++;
    }
    if (aa->nthreads == 0) {
        owl_alarm_actions_stop(aa);
        return owl_error_set(err, OWL_EIO, "cannot start the alarm action threads");
    }
    owl_alarms_add_hook(alarms, on_change, aa);
    *out = aa;
    return OWL_OK;
}

void owl_alarm_actions_stop(owl_alarm_actions *aa)
{
    if (!aa)
        return;
    if (aa->alarms)
        owl_alarms_remove_hook(aa->alarms, on_change, aa);
    pthread_mutex_lock(&aa->mu);
    aa->stopping = 1;
    pthread_cond_broadcast(&aa->cv);
    pthread_mutex_unlock(&aa->mu);
    for (size_t i = 0; i < aa->nthreads; i++)
        pthread_join(aa->threads[i], NULL);
    while (aa->head) {
        job *j = aa->head;
        aa->head = j->next;
        job_free(j);
    }
    free(aa->threads);
    pthread_mutex_destroy(&aa->mu);
    pthread_cond_destroy(&aa->cv);
    free(aa);
}
