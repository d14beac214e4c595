/* server.h — the public API of server/: the owld process assembled from its parts.
 * owl_server owns the config, the metadata store, the audit trail, the metrics, the router
 * and the HTTP server; owl_server_run serves until SIGTERM/SIGINT and then drains. */
#ifndef OWL_SERVER_H
#define OWL_SERVER_H

#include <stdint.h>

#include "common/common.h"
#include "index/index.h"
#include "server/config.h"
#include "server/http.h"
#include "server/router.h"

struct owl_audit;
struct owl_auth_guard;
struct owl_selfmetrics;
struct owl_tail;
struct owl_logtail;

#define OWL_TENANT_LEN 12          /* tenant ids are 12 digits, like AWS account ids */
#define OWL_KEY_ID_MAX 32
#define OWL_MASTER_KEY_LEN 32

/* The authenticated caller of a request. */
typedef struct owl_principal {
    char tenant[OWL_TENANT_LEN + 1];
    char key_id[OWL_KEY_ID_MAX + 1];
    char *patterns[64];            /* the key's policy, owned */
    size_t npatterns;
    int via_sigv4;
} owl_principal;

typedef struct owl_server {
    owl_config cfg;
    owl_meta *meta;
    owl_store *store;
    struct owl_metrics *metrics;   /* analytics/: CloudWatch metrics over store + meta */
    struct owl_alarms *alarms;     /* analytics/: metric alarms, evaluated every second */
    struct owl_alarm_actions *alarm_actions; /* alarm_actions.c: webhook deliveries */
    struct owl_alarm_tags *alarm_tags; /* analytics/: the alarms' tags, over meta */
    owl_logs *logs;                /* ingest/: CloudWatch Logs groups, streams, events */
    owl_insights *insights;        /* ingest/: Logs Insights queries and their threads */
    owl_traces *traces;            /* ingest/: the spans table, trace lookup and search */
    struct owl_xray_daemon *xray_daemon; /* xraydaemon.c: UDP segments, TCP sampling; or NULL */
    struct owl_sampling *sampling; /* sampling.c: the tenants' X-Ray sampling rules */
    struct owl_audit *audit;
    struct owl_selfmetrics *selfmetrics;
    owl_router router;
    owl_http_server *http;
    struct owl_tail *tail;         /* live audit tail subscribers (tail.c) */
    struct owl_logtail *logtail;   /* live log tail subscribers (logtail.c) */
    struct owl_auth_guard *guard;  /* SigV4 replay cache + failed-auth rate limit (auth.c) */
    unsigned char master_key[OWL_MASTER_KEY_LEN]; /* derives key secrets (keys.c) */
    int first_start;
    _Atomic int64_t disk_checked_ms; /* owld.c disk_low(): when free space was last read */
    _Atomic int disk_low;            /* ... and whether it was under the audit's margin */ /* the data directory is new (owld.c): only then are keys created */
    char admin_tenant[OWL_TENANT_LEN + 1];
} owl_server;

/* owl_server_open — creates the data directory, opens the stores, creates the admin key on
 * first start (writing admin.key and aws-credentials, mode 0600), registers every route
 * table and binds the listening socket. On failure everything opened is closed. */
int owl_server_open(owl_server **out, const owl_config *cfg, owl_error *err);

/* owl_server_run — starts the workers and blocks until SIGTERM or SIGINT (which the caller
 * must have blocked in every thread), then stops accepting, drains and flushes. */
int owl_server_run(owl_server *s, owl_error *err);

/* owl_server_close — frees everything. Accepts NULL. */
void owl_server_close(owl_server *s);

/* owl_principal_free — frees the policy strings. Accepts NULL. */
void owl_principal_free(owl_principal *p);

/* owl_principal_can — 1 when the principal's policy allows action. */
int owl_principal_can(const owl_principal *p, const char *action);

/* The route tables of server/ itself (api.c, keys.c). */
extern const owl_route_table owl_api_routes;
extern const owl_route_table owl_keys_routes;
/* ---- alarm actions (alarm_actions.c): webhooks called on alarm state changes ---- */

typedef struct owl_alarm_actions owl_alarm_actions;

typedef struct owl_alarm_actions_options {
    int threads;         /* deliveries at once (default 4) */
    int timeout_ms;      /* per POST, connect included (default 5000) */
    int max_attempts;    /* tries per action before giving up (default 6) */
    int64_t backoff_ms;  /* wait before the second try; doubled each time (default 1000) */
    size_t max_queued;   /* jobs waiting; more are dropped with a warning (default 10000) */
    const owl_config_topics *topics; /* SNS topics -> webhooks (--alarm-topic), read while
                                      * running: must outlive the actions; NULL = none */
} owl_alarm_actions_options;

void owl_alarm_actions_options_default(owl_alarm_actions_options *o);

/* owl_alarm_actions_start — worker threads, and the alarms' change hook, which queues one
 * delivery per action URL of the new state (when the alarm's actions are enabled) and per
 * webhook of each SNS topic action (opt->topics). */
int owl_alarm_actions_start(struct owl_alarms *alarms, const owl_alarm_actions_options *opt,
                            owl_alarm_actions **out, owl_error *err);
void owl_alarm_actions_stop(owl_alarm_actions *aa); /* accepts NULL; drops what waits */

extern const owl_route_table owl_cloudwatch_routes; /* cloudwatch.c: CloudWatch metrics + native */
extern const owl_route_table owl_otlp_routes; /* otlp.c: POST /v1/metrics */

/* ---- what every OTLP/HTTP route shares (otlp.c) ---- */

/* google.rpc.Status codes OTLP's errors carry (google/rpc/code.proto). */
enum { OWL_RPC_INVALID_ARGUMENT = 3, OWL_RPC_INTERNAL = 13, OWL_RPC_UNAVAILABLE = 14 };

/* owl_otlp_encoding_of — the OTLP encoding of a Content-Type by its media type alone
 * ("application/json; charset=utf-8" -> JSON), or 0 when it is neither of OTLP's. */
enum owl_otlp_encoding owl_otlp_encoding_of(const char *content_type);

/* owl_otlp_media_type — "application/json" or "application/x-protobuf". */
const char *owl_otlp_media_type(enum owl_otlp_encoding enc);

/* owl_otlp_reply_status — answers call with HTTP status http and a google.rpc.Status
 * {code, message} in encoding enc, recording label as the audit's error code. */
int owl_otlp_reply_status(owl_call *call, enum owl_otlp_encoding enc, int http, int code,
                          const char *label, const char *message);
extern const owl_route_table owl_logs_routes; /* logs.c: CloudWatch Logs (JSON 1.1) */

/* owl_logs_event_doc — appends to d a log event's owl-native form (logs.c; docs/api/logs.md):
 * time, ingested, group (when with_group), stream, message, then severity, trace_id and
 * span_id (hex) and attrs when the event has them, then event_id. GET /api/v1/logs/events
 * and GET /api/v1/traces/{id}/logs both answer with it. Cannot fail (libbson aborts on OOM). */
void owl_logs_event_doc(bson_t *d, const owl_logs_event *e, int with_group);
extern const owl_route_table owl_servicemap_routes; /* servicemap.c: map, bottlenecks, root cause */
extern const owl_route_table owl_traces_routes; /* traces.c: span ingest, trace queries */
extern const owl_route_table owl_xray_routes;   /* xray.c: the X-Ray API (REST-JSON) */

/* ---- the X-Ray daemon endpoint (xraydaemon.c, docs/api/xray-daemon.md) ---- */
typedef struct owl_xray_daemon owl_xray_daemon;

/* owl_xray_daemon_start — binds cfg.xray_daemon (UDP and TCP on one port; port 0 = a free one)
 * and starts the UDP reader and the sampling HTTP server. *out NULL (OWL_OK) when the option
 * is "off", or when the default address (the option not given) cannot be bound (a warning
 * is logged); an address given explicitly, even the default one, that cannot be bound is an
 * error. s->traces must be open. */
int owl_xray_daemon_start(owl_server *s, owl_xray_daemon **out, owl_error *err);

/* owl_xray_daemon_port — the port bound (0 for NULL). */
int owl_xray_daemon_port(const owl_xray_daemon *d);

/* What the endpoint counted since it started (GET /metrics). */
typedef struct owl_xray_daemon_stats {
    uint64_t datagrams;    /* UDP datagrams read */
    uint64_t refused;      /* ... not decoded (no header, bad JSON, a bad id, too large) */
    uint64_t spans;        /* spans stored (those older than the retention not counted) */
    uint64_t puts;         /* owl_traces_put calls that stored them */
    uint64_t put_failures; /* puts that failed: their spans are lost */
} owl_xray_daemon_stats;

/* owl_xray_daemon_stats_get — fills *st (zeros for NULL). Thread-safe. */
void owl_xray_daemon_stats_get(owl_xray_daemon *d, owl_xray_daemon_stats *st);

/* owl_xray_daemon_stop — stops the sampling server, stores what the socket still holds,
 * stops the reader and frees. Accepts NULL. */
void owl_xray_daemon_stop(owl_xray_daemon *d);

/* ---- service maps (servicemap.c) ---- */

/* owl_servicemap_from_statistics — adds to m the nodes and edges of tenant's owl/ServiceGraph
 * statistics of [start_ms, end_ms) (whole minutes: start rounded down, end up).
 * owl_servicemap_build — adds those of the window's traces matching filter (NULL = all).
 * OWL_EINVAL (a window too long), OWL_EIO, OWL_ENOMEM; err says why. */
int owl_servicemap_from_statistics(owl_server *srv, const char *tenant, int64_t start_ms,
                                   int64_t end_ms, owl_svcmap *m, owl_error *err);
int owl_servicemap_build(owl_server *srv, const char *tenant, const owl_xf *filter,
                         int64_t start_ms, int64_t end_ms, owl_svcmap *m, owl_error *err);

#endif
