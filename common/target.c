/* target.c — the syntax of alarm action targets (target.h): webhook URLs and SNS topic ARNs.
 * Only the shape is checked here; whether a topic is mapped to a webhook is owld's
 * configuration (server/config.c), looked up when an action is delivered. */
#include "target.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

static bool topic_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

int owl_target_topic_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > OWL_TARGET_TOPIC_MAX)
        return 0;
    if (n > 5 && strcmp(name + n - 5, ".fifo") == 0)
        n -= 5;
    for (size_t i = 0; i < n; i++)
        if (!topic_char(name[i]))
            return 0;
    return 1;
}

/* url — s after its scheme: [userinfo@]host[:port] up to '/', '?', '#' or the end. */
static int url(const char *rest, owl_error *err)
{
    size_t alen = strcspn(rest, "/?#");
    const char *at = memrchr(rest, '@', alen), *host = at ? at + 1 : rest;
    size_t hlen = alen - (size_t)(host - rest);
    const char *port = NULL;
    if (hlen && host[0] == '[') {
        const char *close = memchr(host, ']', hlen);
        if (!close || close == host + 1)
            return owl_error_set(err, OWL_EINVAL, "a URL with a bad [IPv6] host");
        if (close + 1 < host + hlen) {
            if (close[1] != ':')
                return owl_error_set(err, OWL_EINVAL, "a URL with a bad [IPv6] host");
            port = close + 2;
        }
    } else {
        const char *colon = memchr(host, ':', hlen);
        if (colon == host || hlen == 0)
            return owl_error_set(err, OWL_EINVAL, "a URL without a host");
        port = colon ? colon + 1 : NULL;
    }
    size_t plen = port ? (size_t)(host + hlen - port) : 0;
    if (port && (plen < 1 || plen > 5 || strspn(port, "0123456789") < plen))
        return owl_error_set(err, OWL_EINVAL, "a URL whose port is not a number");
    return OWL_OK;
}

/* field — copies the text of s up to the next ':' into out (size n); the position after the
 * ':' in *next. false when there is no ':' or the field does not fit. */
static bool field(const char *s, char *out, size_t n, const char **next)
{
    const char *colon = strchr(s, ':');
    if (!colon || (size_t)(colon - s) >= n)
        return false;
    memcpy(out, s, (size_t)(colon - s));
    out[colon - s] = '\0';
    *next = colon + 1;
    return true;
}

static bool lower_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
            return false;
    return true;
}

static int arn(const char *s, owl_target *t, owl_error *err)
{
    char service[32];
    const char *p = s + 4;
    if (!field(p, t->partition, sizeof t->partition, &p) ||
        !field(p, service, sizeof service, &p) || !field(p, t->region, sizeof t->region, &p) ||
        !field(p, t->account, sizeof t->account, &p) || !lower_name(t->partition) ||
        !lower_name(service))
        return owl_error_set(err, OWL_EINVAL,
                             "not an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)");
    if (strcmp(service, "sns") != 0)
        return owl_error_set(err, OWL_EINVAL, "owl supports webhook URLs and SNS topic ARNs "
                             "as alarm actions, not %s ARNs", service);
    if (!lower_name(t->region))
        return owl_error_set(err, OWL_EINVAL, "an SNS topic ARN needs a region");
    if (strlen(t->account) != 12 || strspn(t->account, "0123456789") != 12)
        return owl_error_set(err, OWL_EINVAL, "the account of an SNS topic ARN is 12 digits");
    if (!owl_target_topic_name_ok(p))
        return owl_error_set(err, OWL_EINVAL, "not an SNS topic name (1-256 letters, digits, "
                             "'_' or '-', optionally ending .fifo)");
    memcpy(t->topic, p, strlen(p) + 1);
    t->kind = OWL_TARGET_SNS;
    return OWL_OK;
}

int owl_target_parse(const char *s, owl_target *t, owl_error *err)
{
    memset(t, 0, sizeof *t);
    if (strlen(s) > OWL_TARGET_MAX)
        return owl_error_set(err, OWL_EINVAL, "longer than %d characters", OWL_TARGET_MAX);
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p > '~')
            return owl_error_set(err, OWL_EINVAL, "holds a space, a control or a non-ASCII "
                                 "character");
    if (strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0) {
        t->kind = OWL_TARGET_URL;
        return url(strstr(s, "//") + 2, err);
    }
    if (strncmp(s, "arn:", 4) == 0)
        return arn(s, t, err);
    return owl_error_set(err, OWL_EINVAL, "owl supports webhook URLs (http://, https://) and "
                         "SNS topic ARNs (arn:aws:sns:REGION:ACCOUNT:TOPIC) as alarm actions");
}
