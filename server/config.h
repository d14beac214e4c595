/* config.h — owld's settings: one option table drives the command-line flags, the JSON
 * config file keys, the defaults, the range checks and the --help text.
 * Precedence: defaults < config file (--config FILE) < command-line flags. */
#ifndef OWL_CONFIG_H
#define OWL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* --alarm-topic / alarm_topic: the SNS topics alarm actions may name, each mapped to the
 * webhooks its notifications are POSTed to. text holds one record per (topic, URL) pair, in
 * the order given, so that owl_config stays a plain value (copied, compared with memcmp):
 *   TOPIC '\0' URL '\0'    TOPIC: an SNS topic ARN, or a topic name (any region and account)
 *                          URL: an http:// or https:// URL, as common/target.h takes them
 * Read it with owl_config_topic_urls. */
#define OWL_CONFIG_TOPICS_MAX 100     /* topics */
#define OWL_CONFIG_TOPIC_URLS_MAX 10  /* URLs of one topic */
#define OWL_CONFIG_TOPICS_BYTES 65536 /* all the records */

typedef struct owl_config_topics {
    size_t len;     /* bytes of text in use */
    size_t ntopics; /* distinct topics */
    char text[OWL_CONFIG_TOPICS_BYTES];
} owl_config_topics;

typedef struct owl_config {
    char listen_host[256];   /* "127.0.0.1" */
    int listen_port;         /* 4318 */
    char data_dir[4096];     /* "./owl-data" */
    int workers;             /* 0 = one per online CPU */
    int log_level;           /* enum owl_log_level; default info */
    /* limits */
    int64_t max_header_bytes;    /* 16384 */
    int64_t max_body_bytes;      /* 16 MiB */
    int64_t read_timeout_ms;     /* 30000 */
    int64_t idle_timeout_ms;     /* 60000 */
    int64_t max_connections;     /* 4096 */
    int64_t shutdown_grace_ms;   /* 4000 */
    int64_t stream_buffer_bytes; /* 262144: per-stream queue bound */
    int64_t stream_stall_ms;     /* 30000: slow stream reader dropped */
    int64_t stream_heartbeat_ms; /* 15000: SSE keepalive; 0 = off */
    int64_t preauth_body_bytes;  /* 65536: body of a request without credentials */
    int64_t max_buffered_mib;    /* 256: MiB of request bodies buffered across connections */
    int64_t sigv4_max_skew_s;    /* 900 (AWS's 15 minutes) */
    int trust_tls_proxy;         /* 0: SigV4 bodies must be signed (UNSIGNED-PAYLOAD refused) */
    int64_t auth_fail_limit;     /* 100 failed authentications per source per minute, then 429 */
    int64_t audit_retention_days; /* days the audit table keeps events; 0 = forever (90) */
    int64_t trace_retention_days; /* days spans are kept; 0 = forever (30) */
    int service_graph;            /* 1 (default): the live service graph; 0: none */
    int64_t service_graph_ttl;    /* seconds a span waits to be paired in the live graph (30) */
    char xray_daemon[300];        /* X-Ray daemon address "HOST:PORT" or "off" */
    int xray_daemon_given;        /* 1: set by a flag or the config file, not the default
                                   * (an explicit address that cannot be bound is fatal) */
    char xray_daemon_tenant[32];  /* tenant of what the daemon receives; "admin" = the admin's */
    int64_t metrics_raw_hours;  /* 3: raw datapoints answer queries this long */
    int64_t metrics_60s_days;   /* 15 */
    int64_t metrics_300s_days;  /* 63 */
    int64_t metrics_3600s_days; /* 455 */
    int wal_sync;                 /* enum owl_sync_policy: 0 always (default), 1 interval, 2 none */
    int64_t wal_sync_interval_ms; /* 1000 */
    int64_t insights_workers;     /* 2: threads running Logs Insights queries */
    int64_t insights_concurrency; /* 30: queries a tenant may have scheduled or running */
    int64_t insights_timeout_ms;  /* 3600000: a query's running time at most */
    int64_t insights_max_mib;     /* 256: the state one query may hold */
    int64_t store_settle_ms;      /* 3600000: a day without appends this long is rewritten
                                   * once at the compaction level */
    owl_config_topics alarm_topic; /* none */
} owl_config;

/* owl_config_defaults — fills every field with its default. */
void owl_config_defaults(owl_config *c);

/* What owl_config_parse_args found besides settings. */
enum owl_config_action { OWL_CONFIG_RUN, OWL_CONFIG_HELP, OWL_CONFIG_VERSION };

/* owl_config_parse_args — applies defaults, then the file named by --config (if any),
 * then the other flags (--name VALUE or --name=VALUE). *action tells whether --help or
 * --version was asked for. Errors (OWL_EINVAL) name the flag or key: unknown flag,
 * missing value, bad number, out of range, bad HOST:PORT, bad TOPIC=URL, unknown config
 * key; reading the --config file may also fail with OWL_ENOTFOUND, OWL_ETOOBIG or OWL_EIO.
 * On failure c is left unchanged. With --help or --version (the first one given wins) c gets the
 * defaults, the config file is not read and other flags' values are not checked.
 * --alarm-topic may repeat: its mappings add up, and together replace the file's. */
int owl_config_parse_args(owl_config *c, int argc, char **argv, enum owl_config_action *action,
                          owl_error *err);

/* owl_config_load_json — applies the settings in a JSON object text (n bytes) on top of c.
 * Keys are the flag names with '_' for '-' ("data_dir", "max_body_bytes"); unknown keys,
 * wrong types and out-of-range values fail with OWL_EINVAL naming the key. alarm_topic is an
 * object {"TOPIC": "URL" or ["URL", ...]} that replaces c's mappings. On failure c is left
 * unchanged. */
int owl_config_load_json(owl_config *c, const char *json, size_t n, owl_error *err);

/* owl_config_load_file — reads path (at most 1 MiB) and calls owl_config_load_json; its
 * messages start "config PATH:". OWL_ENOTFOUND, OWL_ETOOBIG, OWL_EIO from reading. */
int owl_config_load_file(owl_config *c, const char *path, owl_error *err);

/* owl_config_topic_urls — the webhooks an alarm action naming the SNS topic ARN arn is
 * delivered to: the URLs mapped to arn itself or, when it has none, those mapped to its topic
 * name (the text after its last ':'). Sets urls[0..max) to them (pointers into m, valid as
 * long as m) and returns their count, 0 when the topic is not mapped. Only reads m. */
size_t owl_config_topic_urls(const owl_config_topics *m, const char *arn, const char **urls,
                             size_t max);

/* owl_config_usage — the --help text (every flag and config key with default and meaning). */
void owl_config_usage(owl_buf *out);

#define OWL_XRAY_DAEMON_DEFAULT "127.0.0.1:2000"

/* owl_config_parse_hostport — "HOST:PORT" or "[v6]:PORT" into host/port; host is stored
 * without the brackets, port is 0..65535, an empty host is invalid. OWL_EINVAL (host and
 * port untouched) on anything else, including a host that does not fit in hostsz. */
int owl_config_parse_hostport(const char *s, char *host, size_t hostsz, int *port,
                              owl_error *err);

#endif
