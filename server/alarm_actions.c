/* alarm_actions.c — delivers alarm state changes to webhooks: the alarms module reports each
 * change to a hook (owl_alarms_add_hook) that only queues jobs, one per webhook URL: an action
 * that is a URL is one job, an SNS topic ARN one job per URL --alarm-topic maps the topic to
 * (owl_config_topic_urls). Worker threads POST the JSON payload with libcurl, retry failures
 * with exponential backoff, and record every attempt as an "Action" history item of the
 * alarm. Evaluation never waits on a webhook: a hung one holds one worker until its timeout,
 * the others go on. An unmapped topic is one failed attempt, not retried.
 *
 * Payload of a URL action (JSON, Content-Type application/json): CloudWatch's SNS
 * notification fields (AlarmName, AlarmDescription, AWSAccountId, NewStateValue,
 * NewStateReason, StateChangeTime, Region, AlarmArn, OldStateValue), HistoryData (the change
 * with StateReasonData: the datapoints used), and a Slack-compatible "text".
 * Payload of a topic's webhook: what SNS POSTs to an HTTP subscriber (Type "Notification",
 * MessageId, TopicArn, Subject, Message = the payload above as a string, Timestamp; not
 * signed), the same "text" beside them, and SNS's x-amz-sns-* headers. All the URLs of one
 * topic get the same MessageId, kept across retries, as one SNS publish would. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analytics/analytics.h"
#include "common/clock.h"
#include "common/target.h"
#include "server/server.h"

#define REGION "us-east-1" /* owl's one region, as in the alarms' ARNs */

typedef struct job {
    struct job *next;
    char tenant[256], name[256];
    char *action;        /* as the alarm names it: a URL or an SNS topic ARN */
    char *url;           /* where it is POSTed; NULL: nowhere, and nowhere says why */
    const char *nowhere;
    char *body;
    char message_id[37]; /* a topic's webhook: the envelope's MessageId; "" for a URL action */
    int index, count;    /* a topic's webhook: which of the topic's URLs (1-based) of how many */
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
        free(j->action);
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

/* slack_text — the line a Slack incoming webhook shows for the change. */
static void slack_text(const owl_alarm_change *ch, char *text, size_t n)
{
    static const char *const icon[] = {":large_green_circle:", ":red_circle:",
                                       ":white_circle:"};
    snprintf(text, n, "%s *%s* is now %s (was %s): %.1000s", icon[ch->new_state % 3], ch->name,
             owl_alarm_state_name(ch->new_state), owl_alarm_state_name(ch->old_state),
             ch->reason ? ch->reason : "");
}

static char *payload(const owl_alarm_change *ch)
{
    char when[40], arn[600], text[1400];
    owl_time_format_rfc3339(ch->time_ms, when, sizeof when);
    snprintf(arn, sizeof arn, "arn:aws:cloudwatch:" REGION ":%s:alarm:%s", ch->tenant, ch->name);
    slack_text(ch, text, sizeof text);
    owl_buf b = OWL_BUF_INIT;
    owl_buf_append(&b, "{", 1);
    json_field(&b, "AlarmName", ch->name, 0);
    json_field(&b, "AlarmDescription", ch->description, 1);
    json_field(&b, "AWSAccountId", ch->tenant, 1);
    json_field(&b, "NewStateValue", owl_alarm_state_name(ch->new_state), 1);
    json_field(&b, "NewStateReason", ch->reason, 1);
    json_field(&b, "StateChangeTime", when, 1);
    json_field(&b, "Region", REGION, 1);
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

/* message_id — a random (version 4) UUID, as SNS's MessageId. OWL_OK or OWL_EIO. */
static int message_id(char out[37])
{
    unsigned char u[16];
    if (owl_random(u, sizeof u) != OWL_OK)
        return OWL_EIO;
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
    char hex[33];
    owl_hex(u, sizeof u, hex);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
    return OWL_OK;
}

/* envelope — what SNS would POST to an HTTP subscriber of topic for the change: message
 * (the alarm's payload) as a string inside a Notification, and the Slack text beside it.
 * NULL when out of memory. */
static char *envelope(const owl_alarm_change *ch, const char *topic, const char *id,
                      const char *message)
{
    char subject[100], when[40], text[1400];
    /* SNS takes subjects under 100 characters: a long alarm name is cut */
    int fixed = snprintf(subject, sizeof subject, "%s: \"\" in " REGION,
                         owl_alarm_state_name(ch->new_state));
    snprintf(subject, sizeof subject, "%s: \"%.*s\" in " REGION,
             owl_alarm_state_name(ch->new_state), (int)sizeof subject - 1 - fixed, ch->name);
    owl_time_format_rfc3339(owl_now_ms(), when, sizeof when);
    slack_text(ch, text, sizeof text);
    owl_buf b = OWL_BUF_INIT;
    owl_buf_append(&b, "{", 1);
    json_field(&b, "Type", "Notification", 0);
    json_field(&b, "MessageId", id, 1);
    json_field(&b, "TopicArn", topic, 1);
    json_field(&b, "Subject", subject, 1);
    json_field(&b, "Message", message, 1);
    json_field(&b, "Timestamp", when, 1);
    json_field(&b, "text", text, 1);
    owl_buf_append(&b, "}", 1);
    return b.data;
}

/* queue — hands j to the workers, or drops it when the queue is full. */
static void queue(owl_alarm_actions *aa, job *j)
{
    j->due_ms = owl_now_ms();
    pthread_mutex_lock(&aa->mu);
    if (aa->queued >= aa->opt.max_queued) {
        aa->dropped++;
        pthread_mutex_unlock(&aa->mu);
        owl_warn("alarm actions: queue full, %s for %s dropped", j->action, j->name);
        job_free(j);
        return;
    }
    enqueue_locked(aa, j);
    pthread_mutex_unlock(&aa->mu);
}

/* new_job — a job for action of the change, POSTing body (taken, even on failure) to url
 * (copied; NULL: nowhere). NULL when out of memory. */
static job *new_job(const owl_alarm_change *ch, const char *action, const char *url, char *body)
{
    job *j = calloc(1, sizeof *j);
    if (!j || !(j->action = strdup(action)) || (url && !(j->url = strdup(url)))) {
        free(body);
        job_free(j);
        return NULL;
    }
    j->body = body;
    snprintf(j->tenant, sizeof j->tenant, "%s", ch->tenant);
    snprintf(j->name, sizeof j->name, "%s", ch->name);
    return j;
}

/* topic_jobs — one job per webhook of the SNS topic action, all with one envelope; one that
 * fails at once when the topic has none. */
static void topic_jobs(owl_alarm_actions *aa, const owl_alarm_change *ch, const char *action,
                       const char *message)
{
    const char *urls[OWL_CONFIG_TOPIC_URLS_MAX];
    size_t n = aa->opt.topics ? owl_config_topic_urls(aa->opt.topics, action, urls,
                                                      OWL_ARRAY_LEN(urls))
                              : 0;
    char id[37], *body;
    job *j;
    if (n == 0) {
        if ((j = new_job(ch, action, NULL, NULL))) {
            j->nowhere = "no webhook is configured for this topic (owld --alarm-topic)";
            queue(aa, j);
        }
        return;
    }
    if (message_id(id) != OWL_OK || !(body = envelope(ch, action, id, message))) {
        owl_warn("alarm actions: no MessageId or no memory, %s for %s dropped", action,
                 ch->name);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(j = new_job(ch, action, urls[i], strdup(body))) || !j->body) {
            job_free(j);
            continue;
        }
        memcpy(j->message_id, id, sizeof id);
        j->index = (int)i + 1;
        j->count = (int)n;
        queue(aa, j);
    }
    free(body);
}

/* The hook: jobs for each action of the change. */
static void on_change(void *ud, const owl_alarm_change *ch)
{
    owl_alarm_actions *aa = ud;
    char *message = NULL;
    for (size_t i = 0; ch->actions && ch->actions[i]; i++) {
        const char *action = ch->actions[i];
        owl_target t;
        job *j;
        if (!message && !(message = payload(ch)))
            break;
        if (owl_target_parse(action, &t, NULL) != OWL_OK) {
            /* kept from before actions were checked (owl_alarm_def_check) */
            if ((j = new_job(ch, action, NULL, NULL))) {
                j->nowhere = "owl calls only webhook URLs and SNS topics mapped to webhooks";
                queue(aa, j);
            }
        } else if (t.kind == OWL_TARGET_SNS) {
            topic_jobs(aa, ch, action, message);
        } else if ((j = new_job(ch, action, action, strdup(message))) && j->body) {
            queue(aa, j);
        } else {
            job_free(j);
        }
    }
    free(message);
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p, (void)ud;
    return size * n;
}

/* headers — the request's headers; a topic's webhook also gets SNS's. NULL when out of
 * memory. */
static struct curl_slist *headers(const job *j)
{
    char id[80], arn[OWL_TARGET_MAX + 32];
    const char *lines[] = {"Content-Type: application/json",
                           "x-amz-sns-message-type: Notification", id, arn};
    size_t n = j->message_id[0] ? OWL_ARRAY_LEN(lines) : 1;
    snprintf(id, sizeof id, "x-amz-sns-message-id: %s", j->message_id);
    snprintf(arn, sizeof arn, "x-amz-sns-topic-arn: %s", j->action);
    struct curl_slist *h = NULL, *more;
    for (size_t k = 0; k < n; k++) {
        if (!(more = curl_slist_append(h, lines[k]))) {
            curl_slist_free_all(h);
            return NULL;
        }
        h = more;
    }
    return h;
}

/* One POST; 0 on a 2xx answer, else fills why. */
static int post(const owl_alarm_actions *aa, const job *j, char *why, size_t whysz)
{
    if (!j->url) {
        snprintf(why, whysz, "%s", j->nowhere);
        return -1;
    }
    CURL *c = curl_easy_init();
    struct curl_slist *h = c ? headers(j) : NULL;
    if (!h) {
        curl_easy_cleanup(c);
        snprintf(why, whysz, "out of memory");
        return -1;
    }
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

/* via — for a topic's webhook, " via webhook 1 of 2, https://host:port/...": the URL only
 * to its host and port. The topics are the operator's (--alarm-topic) and the history is
 * the tenant's to read, while a webhook's path often holds its secret (Slack, Teams). */
static void via(const job *j, char *out, size_t n)
{
    out[0] = '\0';
    if (!j->message_id[0])
        return;
    const char *rest = strstr(j->url, "://") + 3;
    size_t alen = strcspn(rest, "/?#");
    const char *at = memrchr(rest, '@', alen), *host = at ? at + 1 : rest;
    snprintf(out, n, " via webhook %d of %d, %.*s%.*s%s", j->index, j->count,
             (int)(rest - j->url), j->url, (int)(alen - (size_t)(host - rest)), host,
             rest[alen] ? "/..." : "");
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

        char why[300], summary[1024], to[400];
        j->attempt++;
        int ok = post(aa, j, why, sizeof why) == 0;
        int retry = !ok && j->url && j->attempt < aa->opt.max_attempts;
        int64_t backoff = aa->opt.backoff_ms << (j->attempt - 1);
        via(j, to, sizeof to);
        if (ok)
            snprintf(summary, sizeof summary, "Successfully executed action %.400s%.300s", j->action,
                     to);
        else if (retry)
            snprintf(summary, sizeof summary,
                     "Failed to execute action %.400s%.300s (attempt %d): %.200s; retrying in %lld "
                     "ms", j->action, to, j->attempt, why, (long long)backoff);
        else
            snprintf(summary, sizeof summary,
                     "Failed to execute action %.400s%.300s (attempt %d): %.200s; giving up",
                     j->action, to, j->attempt, why);
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
    o->topics = NULL;
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
    if (aa->opt.topics && aa->opt.topics->ntopics)
        owl_info("alarm actions: %zu SNS topics mapped to webhooks", aa->opt.topics->ntopics);
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
