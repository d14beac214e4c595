/* target.h — what an alarm action may name in owl, and its syntax: an http:// or https://
 * webhook URL, or an SNS topic ARN (arn:PARTITION:sns:REGION:ACCOUNT:TOPIC) that owld maps
 * to webhooks (--alarm-topic). The alarm API (analytics/alarms.c), the config parser and
 * the delivery of actions (server/) all read actions with owl_target_parse, so what an alarm
 * accepts is exactly what can be delivered. */
#ifndef OWL_TARGET_H
#define OWL_TARGET_H

#include "err.h"

#define OWL_TARGET_MAX 1024       /* characters in one action, as CloudWatch */
#define OWL_TARGET_TOPIC_MAX 256  /* characters in an SNS topic name, ".fifo" included */

enum owl_target_kind { OWL_TARGET_URL, OWL_TARGET_SNS };

/* An action, classified. The SNS fields are set for OWL_TARGET_SNS only. */
typedef struct owl_target {
    enum owl_target_kind kind;
    char partition[32], region[32], account[13];
    char topic[OWL_TARGET_TOPIC_MAX + 1];
} owl_target;

/* owl_target_parse — classifies s. A URL: "http://" or "https://" (either case), a host
 * (a name, an address or a [v6] address) with an optional :PORT of digits, no byte outside
 * '!'..'~'. An SNS ARN: partition and region of [a-z0-9-] (1-31), a 12-digit account, a
 * topic name owl_target_topic_name_ok takes. OWL_EINVAL when s is neither or longer than
 * OWL_TARGET_MAX; err's message is the reason only (without s), short enough to follow a
 * quoted value in a 256-byte message. Thread-safe. */
int owl_target_parse(const char *s, owl_target *t, owl_error *err);

/* owl_target_topic_name_ok — 1 when name is an SNS topic name: 1 to 256 letters, digits,
 * '_' and '-', where the last five may be ".fifo" (a FIFO topic). */
int owl_target_topic_name_ok(const char *name);

#endif
