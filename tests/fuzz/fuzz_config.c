/* fuzz_config.c — libFuzzer target for server/config.c. The input is read twice: as the
 * text of a JSON config file (owl_config_load_json), and split at NUL bytes into argv
 * (owl_config_parse_args). Beyond crashes and sanitizer reports it checks the contract:
 * a failed parse leaves the config untouched and says why; a successful one leaves every
 * field in its documented range. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

/* --config may only name this file: fuzzed paths must not make the target read arbitrary
 * files (or block on a FIFO). */
static char config_path[64];

static void remove_config(void)
{
    unlink(config_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char text[] = "{\"workers\": 2, \"log_level\": \"warn\", \"listen\": \"[::1]:0\"}";
    strcpy(config_path, "/tmp/owl-fuzz-config-XXXXXX");
    int fd = mkstemp(config_path);
    if (fd < 0 || write(fd, text, sizeof text - 1) != (ssize_t)(sizeof text - 1))
        abort();
    close(fd);
    atexit(remove_config);
    return 0;
}

static int in_range(int64_t v, int64_t lo, int64_t hi)
{
    return v >= lo && v <= hi;
}

static void check_sane(const owl_config *c)
{
    int ok = strnlen(c->listen_host, sizeof c->listen_host) < sizeof c->listen_host &&
             c->listen_host[0] && in_range(c->listen_port, 0, 65535) &&
             strnlen(c->data_dir, sizeof c->data_dir) < sizeof c->data_dir && c->data_dir[0] &&
             in_range(c->workers, 0, 256) && in_range(c->log_level, OWL_LOG_DEBUG, OWL_LOG_OFF) &&
             in_range(c->max_header_bytes, 1024, 1048576) &&
             in_range(c->max_body_bytes, 1024, 1073741824) &&
             in_range(c->read_timeout_ms, 100, 3600000) &&
             in_range(c->idle_timeout_ms, 100, 86400000) &&
             in_range(c->max_connections, 1, 1000000) &&
             in_range(c->shutdown_grace_ms, 0, 60000) &&
             in_range(c->sigv4_max_skew_s, 1, 86400) &&
             in_range(c->audit_retention_days, 0, 36500) &&
             c->alarm_topic.len <= sizeof c->alarm_topic.text &&
             c->alarm_topic.ntopics <= OWL_CONFIG_TOPICS_MAX &&
             (c->alarm_topic.len == 0 || c->alarm_topic.text[c->alarm_topic.len - 1] == '\0');
    if (!ok)
        abort();
}

static void check_result(int rc, const owl_error *err, const owl_config *c,
                         const owl_config *before)
{
    if (rc == OWL_OK)
        check_sane(c);
    else if (err->code != rc || !err->msg[0] || memcmp(c, before, sizeof *c) != 0)
        abort();
}

static void fuzz_json(const uint8_t *d, size_t n)
{
    owl_config c, before;
    owl_error err = {0};
    owl_config_defaults(&c);
    before = c;
    int rc = owl_config_load_json(&c, (const char *)d, n, &err);
    check_result(rc, &err, &c, &before);
}

static void fuzz_args(const uint8_t *d, size_t n)
{
    char *text = malloc(n + 1);
    char **argv = NULL;
    if (!text)
        return;
    memcpy(text, d, n);
    text[n] = '\0';
    size_t pieces = 1;
    for (size_t i = 0; i < n; i++)
        pieces += d[i] == '\0';
    /* room for "owld", each piece, a path after each "--config" piece, and NULL */
    argv = calloc(2 * pieces + 2, sizeof *argv);
    if (!argv)
        goto out;
    int argc = 0;
    argv[argc++] = "owld";
    for (char *p = text; p <= text + n; p += strlen(p) + 1) {
        if (strncmp(p, "--config", 8) == 0 && (p[8] == '\0' || p[8] == '='))
            argv[argc++] = p[8] == '=' ? "--config=/nonexistent/owl-fuzz.json" : "--config";
        else
            argv[argc++] = p;
        /* "--config" with its value as the next piece: that value becomes our file */
        if (strcmp(argv[argc - 1], "--config") == 0)
            argv[argc++] = config_path;
    }
    owl_config c, before;
    owl_error err = {0};
    enum owl_config_action action = OWL_CONFIG_RUN;
    memset(&c, 0x5a, sizeof c);
    before = c;
    int rc = owl_config_parse_args(&c, argc, argv, &action, &err);
    check_result(rc, &err, &c, &before);
    if (rc == OWL_OK && action != OWL_CONFIG_RUN && action != OWL_CONFIG_HELP &&
        action != OWL_CONFIG_VERSION)
        abort();
out:
    free(argv);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    fuzz_json(d, n);
    fuzz_args(d, n);
    return 0;
}
