/* fuzz_client_config.c — libowl's configuration (client/config.c) on arbitrary bytes: the
 * input is split at '\n' into settings applied in turn to one configuration, each line's first
 * byte picking the name and the rest its value. The contract checked beyond crashes: a refused
 * value (OWL_ERR_INVAL or OWL_ERR_LIMIT only) changes nothing; an accepted one reads back in a
 * form that is itself accepted and reads back the same, in a fresh configuration and set again
 * in the same one; the decoded list entries agree with their count; the sampler's ratio is in
 * [0, 1]. Built from the client's sources alone. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"endpoint", "service.name", "api_key", "headers",
                                    "resource", "sampler", "sampler.arg", "protocol"};
#define NNAMES (sizeof names / sizeof *names)

static void snapshot(const owl_config *c, char *out[NNAMES])
{
    for (size_t i = 0; i < NNAMES; i++)
        if (!(out[i] = strdup(owl_config_get(c, names[i]))))
            abort();
}

static void same_as(const owl_config *c, char *was[NNAMES])
{
    for (size_t i = 0; i < NNAMES; i++) {
        if (strcmp(owl_config_get(c, names[i]), was[i]) != 0)
            abort();
        free(was[i]);
    }
}

/* `name` set to `text` (what owl_config_get gave) in c reads back as text. */
static void reads_back(owl_config *c, const char *name, const char *text)
{
    if (owl_config_set(c, name, text) != 0 || strcmp(owl_config_get(c, name), text) != 0)
        abort();
}

static void check_entries(const owl_config *c)
{
    const char *k, *v;
    size_t n = owl__config_header_count(c);
    for (size_t i = 0; i < n; i++)
        if (owl__config_header_at(c, i, &k, &v) || !*k || !*v)
            abort();
    if (owl__config_header_at(c, n, NULL, NULL) != OWL_ERR_NOTFOUND)
        abort();
    n = owl__config_resource_count(c);
    for (size_t i = 0; i < n; i++)
        if (owl__config_resource_at(c, i, &k, &v) || !*k || !*v || !strcmp(k, "service.name"))
            abort();
    if (owl__config_resource_at(c, n, NULL, NULL) != OWL_ERR_NOTFOUND)
        abort();
}

static void apply(owl_config *c, const char *name, const char *value)
{
    char *before[NNAMES];
    snapshot(c, before);
    int r = owl_config_set(c, name, value);
    if (r != 0) {
        if (r != OWL_ERR_INVAL && r != OWL_ERR_LIMIT)
            abort();
        same_as(c, before);
        return;
    }
    for (size_t i = 0; i < NNAMES; i++)
        free(before[i]);

    char *text = strdup(owl_config_get(c, name));
    owl_config *fresh = owl_config_new();
    if (!text || !fresh)
        abort();
    /* a fresh configuration's list starts empty only without the environment's */
    if (owl_config_set(fresh, name, NULL) != 0)
        abort();
    reads_back(fresh, name, text);
    reads_back(c, name, text);
    owl_config_free(fresh);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), *line = buf;
    owl_config *c = owl_config_new();
    double ratio;

    if (!buf || !c)
        abort();
    memcpy(buf, data, size);
    buf[size] = '\0';
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        apply(c, names[(unsigned char)line[0] % NNAMES], line + 1);
        check_entries(c);
        line = nl ? nl + 1 : NULL;
    }
    if (owl__config_sampler(c, &ratio) > OWL__SAMPLER_XRAY || !(ratio >= 0 && ratio <= 1))
        abort();
    char *url = owl__config_url(c, "traces");
    if (!url)
        abort();
    free(url);
    owl_config_free(c);
    free(buf);
    return 0;
}
