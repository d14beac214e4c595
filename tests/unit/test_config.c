/* test_config.c — server/config.c: defaults, flags (both forms), JSON config keys, precedence
 * defaults < file < flags, every error path (message names the flag or key, config left
 * unchanged), HOST:PORT edge cases, the --alarm-topic mappings (their bounds and look-up),
 * and that --help, man/owld.8 and docs/operations.md mention every option with the table's
 * default and range. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "common/target.h"
#include "server/config.h"

/* The options of the brief, as flags; keys are these with '_' ("config" and the actions
 * have no key). Kept here by hand so a row dropped from the table fails a test. */
static const char *const flags[] = {
    "listen", "data-dir", "workers", "config", "log-level",
    "max-header-bytes", "max-body-bytes", "read-timeout-ms", "idle-timeout-ms",
    "max-connections", "shutdown-grace-ms", "sigv4-max-skew-s", "trust-tls-proxy", "auth-fail-limit",
    "audit-retention-days", "trace-retention-days", "service-graph", "service-graph-ttl",
    "xray-daemon", "xray-daemon-tenant",
    "metrics-raw-hours", "metrics-60s-days", "metrics-300s-days",
    "metrics-3600s-days",
    "wal-sync", "wal-sync-interval-ms", "store-settle-ms", "insights-workers", "insights-concurrency", "insights-timeout-ms",
    "insights-max-mib", "stream-buffer-bytes", "stream-stall-ms",
    "stream-heartbeat-ms", "preauth-body-bytes", "max-buffered-mib", "alarm-topic",
    "help", "version",
};

static bool has_key(const char *flag)
{
    return strcmp(flag, "config") && strcmp(flag, "help") && strcmp(flag, "version");
}

static void to_key(const char *flag, char *out)
{
    for (; *flag; flag++)
        *out++ = *flag == '-' ? '_' : *flag;
    *out = '\0';
}

/* argv helpers: ARGV("--workers", "3") -> {"owld", "--workers", "3", NULL} */
#define ARGV(...) ((char *[]){"owld", __VA_ARGS__, NULL})

static int parse(owl_config *c, char **argv, enum owl_config_action *act, owl_error *e)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    enum owl_config_action dummy;
    return owl_config_parse_args(c, argc, argv, act ? act : &dummy, e);
}

static int json(owl_config *c, const char *text, owl_error *e)
{
    return owl_config_load_json(c, text, strlen(text), e);
}

/* expect_fail — parsing argv fails with OWL_EINVAL, the message contains want, and the
 * config is left exactly as it was. */
static void expect_fail(char **argv, const char *want)
{
    owl_config c, before;
    owl_config_defaults(&c);
    c.workers = 77; /* not a default, so "left unchanged" is distinguishable from reset */
    before = c;
    owl_error e = {0};
    int rc = parse(&c, argv, NULL, &e);
    cr_assert_eq(rc, OWL_EINVAL, "rc %d for %s (%s)", rc, argv[1], e.msg);
    cr_assert(strstr(e.msg, want), "message '%s' lacks '%s'", e.msg, want);
    cr_assert(memcmp(&c, &before, sizeof c) == 0, "config changed on error");
}

static void expect_json_fail(const char *text, const char *want)
{
    owl_config c, before;
    owl_config_defaults(&c);
    c.workers = 77;
    before = c;
    owl_error e = {0};
    int rc = json(&c, text, &e);
    cr_assert_eq(rc, OWL_EINVAL, "rc %d for %s (%s)", rc, text, e.msg);
    cr_assert(strstr(e.msg, want), "message '%s' lacks '%s'", e.msg, want);
    cr_assert(memcmp(&c, &before, sizeof c) == 0, "config changed on error");
}

/* write_tmp — a temporary file with text; the path is written to path (64 bytes). */
static void write_tmp(char *path, const char *text)
{
    strcpy(path, "/tmp/owl-test-config-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    size_t n = strlen(text);
    cr_assert_eq(write(fd, text, n), (ssize_t)n);
    close(fd);
}

/* ---- defaults ---- */

static void check_defaults(const owl_config *c)
{
    cr_assert_str_eq(c->listen_host, "127.0.0.1");
    cr_assert_eq(c->listen_port, 4318);
    cr_assert_str_eq(c->data_dir, "./owl-data");
    cr_assert_eq(c->workers, 0);
    cr_assert_eq(c->log_level, OWL_LOG_INFO);
    cr_assert_eq(c->max_header_bytes, 16384);
    cr_assert_eq(c->max_body_bytes, 16 * 1024 * 1024);
    cr_assert_eq(c->read_timeout_ms, 30000);
    cr_assert_eq(c->idle_timeout_ms, 60000);
    cr_assert_eq(c->max_connections, 4096);
    cr_assert_eq(c->shutdown_grace_ms, 4000);
    cr_assert_eq(c->sigv4_max_skew_s, 900);
    cr_assert_eq(c->audit_retention_days, 90);
    cr_assert_eq(c->preauth_body_bytes, 64 * 1024);
    cr_assert_eq(c->max_buffered_mib, 256);
}

Test(config, defaults)
{
    owl_config c;
    memset(&c, 0xAB, sizeof c);
    owl_config_defaults(&c);
    check_defaults(&c);
}

Test(config, no_flags_gives_defaults_and_run)
{
    owl_config c;
    memset(&c, 0xAB, sizeof c);
    enum owl_config_action act = OWL_CONFIG_HELP;
    char *argv[] = {"owld", NULL};
    cr_assert_eq(parse(&c, argv, &act, NULL), OWL_OK);
    cr_assert_eq(act, OWL_CONFIG_RUN);
    check_defaults(&c);
}

/* ---- flags ---- */

Test(config, flags_each_type_space_form)
{
    owl_config c;
    owl_error e = {0};
    int rc = parse(&c,
                   ARGV("--listen", "0.0.0.0:9000", "--data-dir", "/var/lib/owl", "--workers", "8", "--log-level", "debug",
                        "--max-body-bytes", "1048576", "--shutdown-grace-ms", "0"),
                   NULL, &e);
    cr_assert_eq(rc, OWL_OK, "%s", e.msg);
    cr_assert_str_eq(c.listen_host, "0.0.0.0");
    cr_assert_eq(c.listen_port, 9000);
    cr_assert_str_eq(c.data_dir, "/var/lib/owl");
    cr_assert_eq(c.workers, 8);
    cr_assert_eq(c.log_level, OWL_LOG_DEBUG);
    cr_assert_eq(c.max_body_bytes, 1048576);
    cr_assert_eq(c.shutdown_grace_ms, 0);
    cr_assert_eq(c.max_header_bytes, 16384, "untouched options keep their defaults");
}

Test(config, flags_each_type_equals_form)
{
    owl_config c;
    owl_error e = {0};
    int rc = parse(&c,
                   ARGV("--listen=[::1]:4319", "--data-dir=d=x",
                        "--workers=256", "--log-level=off", "--max-header-bytes=1048576",
                        "--max-body-bytes=1024",
                        "--read-timeout-ms=100", "--idle-timeout-ms=86400000",
                        "--max-connections=1", "--sigv4-max-skew-s=86400",
                        "--audit-retention-days=36500"),
                   NULL, &e);
    cr_assert_eq(rc, OWL_OK, "%s", e.msg);
    cr_assert_str_eq(c.listen_host, "::1", "brackets are not part of the host");
    cr_assert_eq(c.listen_port, 4319);
    cr_assert_str_eq(c.data_dir, "d=x", "only the first '=' splits");
    cr_assert_eq(c.workers, 256);
    cr_assert_eq(c.log_level, OWL_LOG_OFF);
    cr_assert_eq(c.max_header_bytes, 1048576);
    cr_assert_eq(c.max_body_bytes, 1024);
    cr_assert_eq(c.read_timeout_ms, 100);
    cr_assert_eq(c.idle_timeout_ms, 86400000);
    cr_assert_eq(c.max_connections, 1);
    cr_assert_eq(c.sigv4_max_skew_s, 86400);
    cr_assert_eq(c.audit_retention_days, 36500);
}

Test(config, every_log_level)
{
    const char *names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < 5; i++) {
        owl_config c;
        cr_assert_eq(parse(&c, ARGV("--log-level", (char *)names[i]), NULL, NULL), OWL_OK);
        cr_assert_eq(c.log_level, i);
    }
}

Test(config, later_flag_wins_and_negative_values_parse)
{
    owl_config c;
    cr_assert_eq(parse(&c, ARGV("--workers", "3", "--workers=5"), NULL, NULL), OWL_OK);
    cr_assert_eq(c.workers, 5);
    cr_assert_eq(parse(&c, ARGV("--workers", "007"), NULL, NULL), OWL_OK);
    cr_assert_eq(c.workers, 7);
    expect_fail(ARGV("--workers", "-1"), "--workers: must be between 0 and 256");
}

/* The X-Ray daemon endpoint's address: HOST:PORT or off, default 127.0.0.1:2000; an empty
 * value is refused; the tenant is a free string checked when the endpoint starts. */
Test(config, xray_daemon)
{
    owl_config c;
    owl_config_defaults(&c);
    cr_assert_str_eq(c.xray_daemon, "127.0.0.1:2000");
    cr_assert_str_eq(c.xray_daemon_tenant, "admin");
    cr_assert_eq(parse(&c, ARGV("--xray-daemon", "off"), NULL, NULL), OWL_OK);
    cr_assert_str_eq(c.xray_daemon, "off");
    cr_assert_eq(parse(&c, ARGV("--xray-daemon", "127.0.0.1:0"), NULL, NULL), OWL_OK);
    cr_assert_str_eq(c.xray_daemon, "127.0.0.1:0");
    expect_fail(ARGV("--xray-daemon="), "--xray-daemon: must not be empty");
    expect_fail(ARGV("--listen="), "--listen: ");
}

/* Whether the address was given (a flag or the file, even naming the default address) or is
 * the default: owld refuses to start on the first when it cannot bind, warns on the second. */
Test(config, xray_daemon_given)
{
    owl_config c;
    owl_config_defaults(&c);
    cr_assert_eq(c.xray_daemon_given, 0);
    cr_assert_eq(parse(&c, ARGV("--workers", "2"), NULL, NULL), OWL_OK);
    cr_assert_eq(c.xray_daemon_given, 0);
    cr_assert_eq(parse(&c, ARGV("--xray-daemon", "127.0.0.1:2000"), NULL, NULL), OWL_OK);
    cr_assert_eq(c.xray_daemon_given, 1);
    owl_config_defaults(&c);
    owl_error e = {0};
    cr_assert_eq(json(&c, "{\"xray_daemon\": \"127.0.0.1:2000\"}", &e), OWL_OK, "%s", e.msg);
    cr_assert_eq(c.xray_daemon_given, 1);
}

Test(config, help_and_version)
{
    owl_config c;
    enum owl_config_action act;
    cr_assert_eq(parse(&c, ARGV("--help"), &act, NULL), OWL_OK);
    cr_assert_eq(act, OWL_CONFIG_HELP);
    cr_assert_eq(parse(&c, ARGV("-h"), &act, NULL), OWL_OK);
    cr_assert_eq(act, OWL_CONFIG_HELP);
    cr_assert_eq(parse(&c, ARGV("--version"), &act, NULL), OWL_OK);
    cr_assert_eq(act, OWL_CONFIG_VERSION);
    cr_assert_eq(parse(&c, ARGV("-V"), &act, NULL), OWL_OK);
    cr_assert_eq(act, OWL_CONFIG_VERSION);
    /* the first one asked for wins; neither reads the config file nor checks values */
    cr_assert_eq(parse(&c, ARGV("-V", "--help", "--config", "/nonexistent/owl.json",
                                "--workers", "999"), &act, NULL), OWL_OK);
    cr_assert_eq(act, OWL_CONFIG_VERSION);
    check_defaults(&c);
}

/* ---- flag errors ---- */

Test(config, unknown_option)
{
    expect_fail(ARGV("--foo"), "unknown option --foo");
    expect_fail(ARGV("--foo=1"), "unknown option --foo");
    expect_fail(ARGV("--data_dir", "x"), "unknown option --data_dir");
    expect_fail(ARGV("--work", "1"), "unknown option --work"); /* no abbreviations */
    expect_fail(ARGV("-x"), "unknown option -x");
    expect_fail(ARGV("-hV"), "unknown option -hV");
    expect_fail(ARGV("--"), "unknown option --");
    expect_fail(ARGV("--workers", "1", "--bogus"), "unknown option --bogus");
}

Test(config, operand_rejected)
{
    expect_fail(ARGV("serve"), "unexpected argument 'serve'");
    expect_fail(ARGV("-"), "unexpected argument '-'");
}

Test(config, missing_value)
{
    expect_fail(ARGV("--workers"), "--workers: missing value");
    expect_fail(ARGV("--listen"), "--listen: missing value");
    expect_fail(ARGV("--log-level", "info", "--config"), "--config: missing value");
}

Test(config, action_takes_no_value)
{
    expect_fail(ARGV("--help=yes"), "--help takes no value");
    expect_fail(ARGV("--version=1"), "--version takes no value");
}

Test(config, bad_number)
{
    expect_fail(ARGV("--workers", "abc"), "--workers: 'abc' is not a number");
    expect_fail(ARGV("--workers="), "--workers: '' is not a number");
    expect_fail(ARGV("--workers", "4x"), "--workers: '4x' is not a number");
    expect_fail(ARGV("--workers", " 4"), "--workers: ' 4' is not a number");
    expect_fail(ARGV("--workers", "+4"), "--workers: '+4' is not a number");
    expect_fail(ARGV("--max-body-bytes", "1e6"), "--max-body-bytes: '1e6' is not a number");
    expect_fail(ARGV("--max-body-bytes", "0x100"), "--max-body-bytes: '0x100' is not a number");
    expect_fail(ARGV("--workers", "-"), "--workers: '-' is not a number");
}

Test(config, out_of_range)
{
    expect_fail(ARGV("--workers", "257"), "--workers: must be between 0 and 256");
    expect_fail(ARGV("--max-header-bytes", "1023"),
                "--max-header-bytes: must be between 1024 and 1048576");
    expect_fail(ARGV("--max-body-bytes=1073741825"),
                "--max-body-bytes: must be between 1024 and 1073741824");
    expect_fail(ARGV("--read-timeout-ms", "99"), "--read-timeout-ms: must be between 100 and");
    expect_fail(ARGV("--idle-timeout-ms", "86400001"), "--idle-timeout-ms: must be between");
    expect_fail(ARGV("--max-connections", "0"), "--max-connections: must be between 1 and");
    expect_fail(ARGV("--shutdown-grace-ms", "60001"), "--shutdown-grace-ms: must be between 0");
    expect_fail(ARGV("--sigv4-max-skew-s", "0"), "--sigv4-max-skew-s: must be between 1 and");
    expect_fail(ARGV("--audit-retention-days", "-1"), "--audit-retention-days: must be between 0");
    /* beyond 64 bits is out of range too, not "not a number" and not wrapped */
    expect_fail(ARGV("--workers", "99999999999999999999"), "--workers: must be between 0 and 256");
    expect_fail(ARGV("--workers", "-99999999999999999999"), "--workers: must be between");
    expect_fail(ARGV("--workers", "4294967297"), "--workers: must be between 0 and 256");
}

Test(config, bad_strings_and_levels)
{
    expect_fail(ARGV("--log-level", "loud"), "--log-level: 'loud' is not one of debug");
    expect_fail(ARGV("--log-level", "INFO"), "--log-level: 'INFO'");
    expect_fail(ARGV("--data-dir", ""), "--data-dir: must not be empty");
    char longdir[5000];
    memset(longdir, 'a', sizeof longdir - 1);
    longdir[sizeof longdir - 1] = '\0';
    expect_fail(ARGV("--data-dir", longdir), "--data-dir: longer than 4095 bytes");
}

Test(config, bad_hostport_flags)
{
    expect_fail(ARGV("--listen", "4318"), "--listen: '4318' is not HOST:PORT");
    expect_fail(ARGV("--listen", ":4318"), "--listen: ':4318' is not HOST:PORT: empty host");
    expect_fail(ARGV("--listen", "host:65536"), "--listen: 'host:65536' is not HOST:PORT");
    expect_fail(ARGV("--listen", "[::1]"), "--listen: '[::1]' is not HOST:PORT");
    expect_fail(ARGV("--listen", "::1:2000"), "--listen:");
}

/* ---- HOST:PORT ---- */

static void hp_ok(const char *s, const char *host, int port)
{
    char h[256] = "unchanged";
    int p = -1;
    owl_error e = {0};
    int rc = owl_config_parse_hostport(s, h, sizeof h, &p, &e);
    cr_assert_eq(rc, OWL_OK, "'%s': %s", s, e.msg);
    cr_assert_str_eq(h, host, "'%s'", s);
    cr_assert_eq(p, port, "'%s'", s);
}

static void hp_bad(const char *s, const char *why)
{
    char h[256] = "unchanged";
    int p = -1;
    owl_error e = {0};
    int rc = owl_config_parse_hostport(s, h, sizeof h, &p, &e);
    cr_assert_eq(rc, OWL_EINVAL, "'%s' accepted", s);
    cr_assert(strstr(e.msg, why), "'%s': message '%s' lacks '%s'", s, e.msg, why);
    cr_assert_str_eq(h, "unchanged", "host written on error for '%s'", s);
    cr_assert_eq(p, -1, "port written on error for '%s'", s);
}

Test(config, hostport_valid)
{
    hp_ok("127.0.0.1:4318", "127.0.0.1", 4318);
    hp_ok("[::1]:4318", "::1", 4318);
    hp_ok("localhost:0", "localhost", 0);
    hp_ok("0.0.0.0:65535", "0.0.0.0", 65535);
    hp_ok("[::]:80", "::", 80);
    hp_ok("[fe80::1%eth0]:8080", "fe80::1%eth0", 8080);
    hp_ok("[::ffff:10.0.0.1]:1", "::ffff:10.0.0.1", 1);
    hp_ok("my-host.example_1.com:00080", "my-host.example_1.com", 80);
}

Test(config, hostport_invalid)
{
    hp_bad("", "missing :PORT");
    hp_bad("localhost", "missing :PORT");
    hp_bad(":80", "empty host");
    hp_bad("host:", "port must be a number");
    hp_bad("host:65536", "port must be a number from 0 to 65535");
    hp_bad("host:-1", "port must be a number");
    hp_bad("host:+1", "port must be a number");
    hp_bad("host:1x", "port must be a number");
    hp_bad("host:123456", "port must be a number");
    hp_bad("host: 80", "port must be a number");
    hp_bad("::1:80", "brackets");
    hp_bad("[::1]", "no :PORT after ']'");
    hp_bad("[::1]80", "no :PORT after ']'");
    hp_bad("[::1:80", "missing ']'");
    hp_bad("[]:80", "bad IPv6 address");
    hp_bad("[localhost]:80", "bad IPv6 address");
    hp_bad("[fe80::1%]:80", "bad IPv6 address");
    hp_bad("[fe80::1%e/0]:80", "bad IPv6 address");
    hp_bad("[1.2.3.4]:80", "bad IPv6 address");
    hp_bad("ho st:80", "bad character in host");
    hp_bad("host/x:80", "bad character in host");
    hp_bad("[::1]:", "port must be a number");
}

Test(config, hostport_host_too_long)
{
    char h[8] = "x";
    int p = -1;
    owl_error e = {0};
    cr_assert_eq(owl_config_parse_hostport("abcdefgh:1", h, sizeof h, &p, &e), OWL_EINVAL);
    cr_assert(strstr(e.msg, "host longer than 7 bytes"), "%s", e.msg);
    cr_assert_eq(owl_config_parse_hostport("abcdefg:1", h, sizeof h, &p, &e), OWL_OK);
    cr_assert_str_eq(h, "abcdefg");
}

/* ---- JSON ---- */

Test(config, json_each_type)
{
    owl_config c;
    owl_config_defaults(&c);
    owl_error e = {0};
    int rc = json(&c,
                  "{\"listen\": \"[::]:8080\", \"data_dir\": \"/srv/owl\",\n"
                  " \"workers\": 4, \"log_level\": \"warn\",\n"
                  " \"max_header_bytes\": 2048.0, \"max_body_bytes\": 1e6,\n"
                  " \"max_connections\": {\"$numberLong\": \"5000\"},\n"
                  " \"read_timeout_ms\": 1000, \"idle_timeout_ms\": 2000,\n"
                  " \"shutdown_grace_ms\": 0, \"sigv4_max_skew_s\": 60,\n"
                  " \"audit_retention_days\": 30}",
                  &e);
    cr_assert_eq(rc, OWL_OK, "%s", e.msg);
    cr_assert_str_eq(c.listen_host, "::");
    cr_assert_eq(c.listen_port, 8080);
    cr_assert_str_eq(c.data_dir, "/srv/owl");
    cr_assert_eq(c.workers, 4);
    cr_assert_eq(c.log_level, OWL_LOG_WARN);
    cr_assert_eq(c.max_header_bytes, 2048, "double with integral value");
    cr_assert_eq(c.max_body_bytes, 1000000, "exponent form");
    cr_assert_eq(c.max_connections, 5000, "int64");
    cr_assert_eq(c.read_timeout_ms, 1000);
    cr_assert_eq(c.idle_timeout_ms, 2000);
    cr_assert_eq(c.shutdown_grace_ms, 0);
    cr_assert_eq(c.sigv4_max_skew_s, 60);
    cr_assert_eq(c.audit_retention_days, 30);
}

Test(config, json_applies_on_top)
{
    owl_config c;
    owl_config_defaults(&c);
    c.workers = 9;
    cr_assert_eq(json(&c, "{\"log_level\": \"error\"}", NULL), OWL_OK);
    cr_assert_eq(c.workers, 9, "keys not in the file keep their value");
    cr_assert_eq(c.log_level, OWL_LOG_ERROR);
    cr_assert_eq(json(&c, " \n\t{ }\n", NULL), OWL_OK, "empty object is fine");
    cr_assert_eq(json(&c, "{\"workers\": 1, \"workers\": 2}", NULL), OWL_OK);
    cr_assert_eq(c.workers, 2, "a repeated key: the last one wins");
}

Test(config, json_unknown_key)
{
    expect_json_fail("{\"foo\": 1}", "config: unknown key 'foo'");
    expect_json_fail("{\"workers\": 1, \"bar\": \"x\"}", "config: unknown key 'bar'");
    expect_json_fail("{\"data-dir\": \"x\"}", "unknown key 'data-dir' (did you mean 'data_dir'?)");
    expect_json_fail("{\"config\": \"other.json\"}", "config: unknown key 'config'");
    expect_json_fail("{\"help\": true}", "config: unknown key 'help'");
    expect_json_fail("{\"Workers\": 1}", "config: unknown key 'Workers'");
}

Test(config, json_wrong_type)
{
    expect_json_fail("{\"workers\": \"4\"}", "config: workers: expected an integer, got a string");
    expect_json_fail("{\"workers\": 1.5}", "config: workers: expected an integer, got 1.5");
    expect_json_fail("{\"workers\": true}", "config: workers: expected an integer, got a boolean");
    expect_json_fail("{\"workers\": null}", "config: workers: expected an integer, got null");
    expect_json_fail("{\"workers\": [1]}", "config: workers: expected an integer, got an array");
    expect_json_fail("{\"workers\": {\"$numberDouble\": \"NaN\"}}",
                     "config: workers: expected an integer, got nan");
    expect_json_fail("{\"workers\": {\"$numberDouble\": \"Infinity\"}}",
                     "config: workers: expected an integer, got inf");
    expect_json_fail("{\"data_dir\": 5}", "config: data_dir: expected a string, got a number");
    expect_json_fail("{\"listen\": {\"host\": \"x\", \"port\": 1}}",
                     "config: listen: expected a string, got an object");
    expect_json_fail("{\"log_level\": 1}", "config: log_level: expected a string, got a number");
    expect_json_fail("{\"data_dir\": {\"$oid\": \"5f84c7a1e4b0a1b2c3d4e5f6\"}}",
                     "config: data_dir: expected a string, got an extended JSON value");
    expect_json_fail("{\"data_dir\": \"a\\u0000b\"}", "config: data_dir: string contains a NUL");
}

Test(config, json_bad_values)
{
    expect_json_fail("{\"workers\": 300}", "config: workers: must be between 0 and 256");
    expect_json_fail("{\"max_body_bytes\": 3000000000000}",
                     "config: max_body_bytes: must be between 1024 and 1073741824");
    expect_json_fail("{\"workers\": 1e300}", "config: workers: must be between 0 and 256");
    expect_json_fail("{\"workers\": -1e300}", "config: workers: must be between 0 and 256");
    expect_json_fail("{\"listen\": \"nope\"}", "config: listen: 'nope' is not HOST:PORT");
    expect_json_fail("{\"listen\": \"\"}", "config: listen: '' is not HOST:PORT");
    expect_json_fail("{\"log_level\": \"verbose\"}", "config: log_level: 'verbose' is not one of");
    expect_json_fail("{\"data_dir\": \"\"}", "config: data_dir: must not be empty");
    /* an earlier good key is not applied when a later one fails */
    expect_json_fail("{\"log_level\": \"debug\", \"workers\": 999}", "config: workers:");
}

Test(config, json_big_integers_not_wrapped)
{
    /* libbson 1.23 reads 2^64+1 as 1; config.c must refuse it rather than run with 1 */
    expect_json_fail("{\"workers\": 18446744073709551617}", "is too large");
    expect_json_fail("{\"workers\": -18446744073709551617}", "is too large");
    expect_json_fail("{\"workers\": 9223372036854775808}", "config: invalid JSON");
    owl_config c;
    owl_config_defaults(&c);
    cr_assert_eq(json(&c, "{\"workers\": 1.8e1, \"data_dir\": \"123456789012345678901234\"}",
                      NULL), OWL_OK, "digits in strings and exponents are not big integers");
    cr_assert_eq(c.workers, 18);
}

Test(config, json_syntax_errors)
{
    expect_json_fail("", "config: expected a JSON object");
    expect_json_fail("   ", "config: expected a JSON object");
    expect_json_fail("[1, 2]", "config: expected a JSON object");
    expect_json_fail("\"workers\"", "config: expected a JSON object");
    expect_json_fail("{", "config: invalid JSON");
    expect_json_fail("{\"workers\": 1,}", "config: invalid JSON");
    expect_json_fail("{\"workers\": 1} x", "config: invalid JSON");
    expect_json_fail("{} {}", "config: invalid JSON: text after the object");
    expect_json_fail("{'workers': 1}", "config: invalid JSON");
    expect_json_fail("{\"workers\": 01}", "config: invalid JSON");
}

Test(config, json_with_nul_inside_length)
{
    owl_config c;
    owl_config_defaults(&c);
    owl_error e = {0};
    static const char text[] = "{\"workers\": 3}\0{\"workers\": 4}";
    cr_assert_eq(owl_config_load_json(&c, text, sizeof text - 1, &e), OWL_EINVAL);
    cr_assert_eq(c.workers, 0);
    cr_assert_eq(owl_config_load_json(&c, text, strlen(text), &e), OWL_OK, "%s", e.msg);
    cr_assert_eq(c.workers, 3);
}

/* ---- config file and precedence ---- */

Test(config, file_then_flags)
{
    char path[64];
    write_tmp(path, "{\"workers\": 4, \"log_level\": \"debug\", \"listen\": \"0.0.0.0:1\"}");
    owl_config c;
    owl_error e = {0};
    /* --workers comes before --config on the command line and still wins */
    int rc = parse(&c, ARGV("--workers", "8", "--config", path, "--listen=127.0.0.1:2"), NULL, &e);
    unlink(path);
    cr_assert_eq(rc, OWL_OK, "%s", e.msg);
    cr_assert_eq(c.workers, 8, "flag beats file");
    cr_assert_eq(c.log_level, OWL_LOG_DEBUG, "file beats default");
    cr_assert_eq(c.listen_port, 2);
    cr_assert_eq(c.max_connections, 4096, "default where neither says");
}

Test(config, file_last_config_flag_wins)
{
    char a[64], b[64];
    write_tmp(a, "{\"workers\": 1}");
    write_tmp(b, "{\"workers\": 2}");
    owl_config c;
    int rc = parse(&c, ARGV("--config", a, "--config=", "--config", b), NULL, NULL);
    unlink(a);
    unlink(b);
    cr_assert_eq(rc, OWL_OK);
    cr_assert_eq(c.workers, 2);
}

Test(config, file_load_direct)
{
    char path[64];
    write_tmp(path, "{\"sigv4_max_skew_s\": 300}\n");
    owl_config c;
    owl_config_defaults(&c);
    owl_error e = {0};
    int rc = owl_config_load_file(&c, path, &e);
    unlink(path);
    cr_assert_eq(rc, OWL_OK, "%s", e.msg);
    cr_assert_eq(c.sigv4_max_skew_s, 300);
}

Test(config, file_errors_name_file_and_key)
{
    char path[64];
    write_tmp(path, "{\"max_conections\": 10}");
    owl_config c, before;
    owl_config_defaults(&c);
    before = c;
    owl_error e = {0};
    int rc = parse(&c, ARGV("--config", path), NULL, &e);
    cr_assert_eq(rc, OWL_EINVAL);
    cr_assert(strstr(e.msg, path), "%s", e.msg);
    cr_assert(strstr(e.msg, "unknown key 'max_conections'"), "%s", e.msg);
    cr_assert(memcmp(&c, &before, sizeof c) == 0);
    unlink(path);

    write_tmp(path, "{\"workers\": ");
    rc = owl_config_load_file(&c, path, &e);
    unlink(path);
    cr_assert_eq(rc, OWL_EINVAL);
    cr_assert(strstr(e.msg, "invalid JSON"), "%s", e.msg);
}

Test(config, file_not_found)
{
    owl_config c, before;
    owl_config_defaults(&c);
    before = c;
    owl_error e = {0};
    int rc = parse(&c, ARGV("--config", "/nonexistent/owl.json"), NULL, &e);
    cr_assert_eq(rc, OWL_ENOTFOUND, "%d %s", rc, e.msg);
    cr_assert(strstr(e.msg, "/nonexistent/owl.json"), "%s", e.msg);
    cr_assert(memcmp(&c, &before, sizeof c) == 0);
    rc = parse(&c, ARGV("--config="), NULL, &e);
    cr_assert_eq(rc, OWL_EINVAL);
    cr_assert(strstr(e.msg, "--config: empty file name"), "%s", e.msg);
}

Test(config, file_too_big)
{
    char path[64];
    write_tmp(path, "");
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs("{\"data_dir\": \"", f);
    for (int i = 0; i < 1024 * 1024; i++)
        fputc('a', f);
    fputs("\"}", f);
    fclose(f);
    owl_config c;
    owl_config_defaults(&c);
    owl_error e = {0};
    int rc = owl_config_load_file(&c, path, &e);
    unlink(path);
    cr_assert_eq(rc, OWL_ETOOBIG, "%d %s", rc, e.msg);
}

/* ---- usage and docs ---- */

Test(config, usage_mentions_every_option)
{
    owl_buf b = OWL_BUF_INIT;
    owl_config_usage(&b);
    cr_assert(b.len > 0);
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        char want[128], key[64];
        snprintf(want, sizeof want, "--%s", flags[i]);
        cr_assert(strstr(b.data, want), "usage lacks %s", want);
        if (has_key(flags[i])) {
            to_key(flags[i], key);
            snprintf(want, sizeof want, "key %s,", key);
            cr_assert(strstr(b.data, want), "usage lacks '%s'", want);
        }
    }
    cr_assert(strstr(b.data, "-h, --help") && strstr(b.data, "-V, --version"));
    cr_assert(strstr(b.data, "default 16777216, 1024..1073741824"), "%s", b.data);
    for (const char *line = b.data; *line;) {
        size_t n = strcspn(line, "\n");
        cr_assert(n <= 80, "usage line longer than 80 columns: %.*s", (int)n, line);
        cr_assert(n == 0 || line[n - 1] != ' ', "trailing space: %.*s", (int)n, line);
        line += line[n] ? n + 1 : n;
    }
    /* every flag the usage text lists is one the parser takes */
    for (const char *p = strstr(b.data, "\n  -"); p; p = strstr(p + 1, "\n  -")) {
        const char *f = strstr(p + 3, "--");
        char name[64];
        cr_assert(f && sscanf(f, "--%63[a-z0-9-]", name) == 1);
        bool known = false;
        for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
            known = known || strcmp(flags[i], name) == 0;
        cr_assert(known, "usage lists --%s, which the test does not know", name);
    }
    owl_buf_free(&b);
}

/* src_path — a file of the source tree: $OWL_SRCDIR (set by `make check`), else the
 * directory this test was compiled from. */
static void src_path(const char *rel, char *out, size_t n)
{
    const char *dir = getenv("OWL_SRCDIR");
    if (dir) {
        snprintf(out, n, "%s/%s", dir, rel);
        return;
    }
    const char *me = __FILE__, *tail = strstr(me, "tests/unit/test_config.c");
    snprintf(out, n, "%.*s%s", tail ? (int)(tail - me) : 0, me, rel);
}

/* read_doc — a doc file with roff's "\-" turned into "-" so flags read the same in both. */
__attribute__((noinline)) static char *read_doc(const char *rel)
{
    char path[4096];
    src_path(rel, path, sizeof path);
    char *text = NULL;
    size_t n = 0;
    owl_error e = {0};
    cr_assert_eq(owl_read_file(path, 1 << 20, &text, &n, &e), OWL_OK, "%s", e.msg);
    char *w = text;
    for (const char *r = text; *r; r++)
        if (!(r[0] == '\\' && r[1] == '-'))
            *w++ = *r;
    *w = '\0';
    return text;
}

/* The defaults and ranges the docs state come from --help, i.e. from the option table:
 * lines "  --NAME ARG   key KEY, default DEF[, MIN..MAX]". */
static void check_doc(const char *rel, bool rows)
{
    char *doc = read_doc(rel);
    owl_buf b = OWL_BUF_INIT;
    owl_config_usage(&b);
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        char want[128];
        snprintf(want, sizeof want, "--%s", flags[i]);
        cr_assert(strstr(doc, want), "%s lacks %s", rel, want);
        if (!has_key(flags[i]))
            continue;
        char key[64], line[256], def[64] = "", range[64] = "";
        to_key(flags[i], key);
        snprintf(want, sizeof want, " key %s, ", key);
        const char *u = strstr(b.data, want);
        cr_assert(u);
        sscanf(u + strlen(want), "default %63[^,\n], %63[0-9.-]", def, range);
        if (!rows) {
            cr_assert(strstr(doc, key), "%s lacks key %s", rel, key);
            continue;
        }
        /* operations.md: the config table row for the key carries default and range */
        snprintf(want, sizeof want, "\n| `%s` |", key);
        const char *row = strstr(doc, want);
        cr_assert(row, "%s has no table row for `%s`", rel, key);
        snprintf(line, sizeof line, "%.*s", (int)strcspn(row + 1, "\n"), row + 1);
        if (strncmp(def, "\"\"", 2) != 0)
            cr_assert(strstr(line, def), "%s row for %s lacks default %s: %s", rel, key, def,
                      line);
        if (range[0])
            cr_assert(strstr(line, range), "%s row for %s lacks range %s: %s", rel, key, range,
                      line);
    }
    owl_buf_free(&b);
    free(doc);
}

Test(config, man_page_mentions_every_option)
{
    check_doc("man/owld.8", false);
}

Test(config, operations_doc_matches_table)
{
    check_doc("docs/operations.md", true);
}

Test(config, wal_sync_choice)
{
    owl_config c;
    owl_error e;
    owl_config_defaults(&c);
    cr_assert_eq(c.wal_sync, 0);
    cr_assert_eq(owl_config_load_json(&c, "{\"wal_sync\": \"interval\", "
                                          "\"wal_sync_interval_ms\": 250}", 53, &e), OWL_OK,
                 "%s", e.msg);
    cr_assert_eq(c.wal_sync, 1);
    cr_assert_eq(c.wal_sync_interval_ms, 250);
    cr_assert_eq(owl_config_load_json(&c, "{\"wal_sync\": \"sometimes\"}", 25, &e),
                 OWL_EINVAL);
    cr_assert(strstr(e.msg, "is not one of always, interval, none") != NULL, "%s", e.msg);
    cr_assert_eq(c.wal_sync, 1, "unchanged after an error");
}

/* ---- --alarm-topic / alarm_topic ---- */

#define OPS "arn:aws:sns:us-east-1:123456789012:ops"

/* urls_of — the URLs arn is delivered to, joined with ' ' ("" when none). */
static const char *urls_of(const owl_config *c, const char *arn)
{
    static char out[4096];
    const char *urls[OWL_CONFIG_TOPIC_URLS_MAX];
    size_t n = owl_config_topic_urls(&c->alarm_topic, arn, urls, OWL_CONFIG_TOPIC_URLS_MAX);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", i ? " " : "", urls[i]);
    return out;
}

Test(config, alarm_topic_flags_add_up_and_look_up)
{
    owl_config c;
    owl_error e = {0};
    cr_assert_eq(parse(&c, ARGV("--alarm-topic", OPS "=http://a/1", "--alarm-topic=ops=http://b/2",
                                "--alarm-topic", OPS "=https://a/3?x=y", "--alarm-topic",
                                "pager.fifo=http://p"), NULL, &e), OWL_OK, "%s", e.msg);
    cr_assert_eq(c.alarm_topic.ntopics, 3);
    /* the ARN's own entries win over its bare name's */
    cr_assert_str_eq(urls_of(&c, OPS), "http://a/1 https://a/3?x=y");
    /* a bare name stands for the topic in any region and account */
    cr_assert_str_eq(urls_of(&c, "arn:aws:sns:eu-west-1:999999999999:ops"), "http://b/2");
    cr_assert_str_eq(urls_of(&c, "arn:aws:sns:us-east-1:123456789012:pager.fifo"), "http://p");
    cr_assert_str_eq(urls_of(&c, "arn:aws:sns:us-east-1:123456789012:pager"), "");
    cr_assert_str_eq(urls_of(&c, "arn:aws:sns:us-east-1:123456789012:nobody"), "");
    const char *one[1];
    cr_assert_eq(owl_config_topic_urls(&c.alarm_topic, OPS, one, 1), 1, "at most max");
    owl_config_defaults(&c);
    cr_assert_eq(c.alarm_topic.len, 0, "none by default");
    cr_assert_str_eq(urls_of(&c, OPS), "");
}

Test(config, alarm_topic_bad_flags)
{
    expect_fail(ARGV("--alarm-topic", "ops"), "--alarm-topic: 'ops' is not TOPIC=URL");
    expect_fail(ARGV("--alarm-topic", "=http://a"), "is not TOPIC=URL");
    expect_fail(ARGV("--alarm-topic", "ops="), "is not TOPIC=URL");
    expect_fail(ARGV("--alarm-topic", "ops=ftp://a"), "'ftp://a' is not a webhook URL");
    expect_fail(ARGV("--alarm-topic", "ops=http://"), "is not a webhook URL: a URL without a host");
    expect_fail(ARGV("--alarm-topic", "ops=" OPS), "is not a webhook URL: give an http://");
    expect_fail(ARGV("--alarm-topic", "a.b=http://a"), "'a.b' is not an SNS topic ARN or name");
    expect_fail(ARGV("--alarm-topic", "arn:aws:sqs:us-east-1:123456789012:q=http://a"),
                "not sqs ARNs");
    expect_fail(ARGV("--alarm-topic", "arn:aws:sns:us-east-1:1:q=http://a"), "12 digits");
    expect_fail(ARGV("--alarm-topic", "ops=http://a", "--alarm-topic", "ops=http://a"),
                "--alarm-topic: topic ops is mapped to http://a twice");
    /* the same URL under two topics is two mappings */
    owl_config c;
    owl_error e = {0};
    cr_assert_eq(parse(&c, ARGV("--alarm-topic", "a=http://x", "--alarm-topic", "b=http://x"),
                       NULL, &e), OWL_OK, "%s", e.msg);
    char *long_topic = malloc(OWL_TARGET_MAX + 64);
    memset(long_topic, 'a', OWL_TARGET_MAX + 1);
    strcpy(long_topic + OWL_TARGET_MAX + 1, "=http://a");
    expect_fail(ARGV("--alarm-topic", long_topic), "is longer than 1024 bytes");
    free(long_topic);
}

/* topic_argv — "owld" and n --alarm-topic flags: flag i maps topic t<i / per_topic> to a URL
 * of url_len + about 15 bytes. */
static char **topic_argv(int n, int per_topic, size_t url_len)
{
    char **argv = calloc((size_t)(2 * n + 2), sizeof *argv);
    argv[0] = "owld";
    for (int i = 0; i < n; i++) {
        char *v = malloc(64 + url_len);
        int k = snprintf(v, 64, "t%d=http://h/%d/", i / per_topic, i);
        memset(v + k, 'p', url_len);
        v[k + url_len] = '\0';
        argv[1 + 2 * i] = "--alarm-topic";
        argv[2 + 2 * i] = v;
    }
    return argv;
}

static void topic_argv_free(char **argv, int n)
{
    for (int i = 0; i < n; i++)
        free(argv[2 + 2 * i]);
    free(argv);
}

static int parse_n(char **argv, int n, owl_error *e)
{
    owl_config c;
    enum owl_config_action act;
    return owl_config_parse_args(&c, 1 + 2 * n, argv, &act, e);
}

Test(config, alarm_topic_bounds)
{
    owl_error e = {0};
    /* 100 topics of 10 URLs each fit, as long as they fit in 64 KiB */
    char **argv = topic_argv(1000, 10, 0);
    cr_assert_eq(parse_n(argv, 1000, &e), OWL_OK, "%s", e.msg);
    topic_argv_free(argv, 1000);
    argv = topic_argv(101, 1, 0);
    cr_assert_eq(parse_n(argv, 101, &e), OWL_EINVAL);
    cr_assert(strstr(e.msg, "--alarm-topic: more than 100 topics"), "%s", e.msg);
    topic_argv_free(argv, 101);
    argv = topic_argv(11, 11, 0);
    cr_assert_eq(parse_n(argv, 11, &e), OWL_EINVAL);
    cr_assert(strstr(e.msg, "--alarm-topic: topic t0 has more than 10 URLs"), "%s", e.msg);
    topic_argv_free(argv, 11);
    argv = topic_argv(100, 1, 1000);
    cr_assert_eq(parse_n(argv, 100, &e), OWL_EINVAL);
    cr_assert(strstr(e.msg, "--alarm-topic: the topic mappings take more than 65536 bytes"),
              "%s", e.msg);
    topic_argv_free(argv, 100);
}

Test(config, alarm_topic_json)
{
    owl_config c;
    owl_error e = {0};
    owl_config_defaults(&c);
    cr_assert_eq(json(&c, "{\"alarm_topic\": {\"ops\": \"http://b/2\", \"" OPS "\": "
                          "[\"http://a/1\", \"http://a/2\"]}}", &e), OWL_OK, "%s", e.msg);
    cr_assert_str_eq(urls_of(&c, OPS), "http://a/1 http://a/2");
    cr_assert_str_eq(urls_of(&c, "arn:aws:sns:us-east-1:123456789012:ops.x"), "");
    cr_assert_str_eq(urls_of(&c, "arn:aws:sns:ap-south-1:123456789012:ops"), "http://b/2");
    /* a key replaces the mappings before it; {} clears them */
    cr_assert_eq(json(&c, "{\"alarm_topic\": {\"x\": \"http://x\"}}", &e), OWL_OK, "%s", e.msg);
    cr_assert_str_eq(urls_of(&c, OPS), "");
    cr_assert_eq(c.alarm_topic.ntopics, 1);
    cr_assert_eq(json(&c, "{\"alarm_topic\": {}}", &e), OWL_OK, "%s", e.msg);
    cr_assert_eq(c.alarm_topic.len, 0);
    expect_json_fail("{\"alarm_topic\": \"ops=http://a\"}",
                     "config: alarm_topic: expected an object, got a string");
    expect_json_fail("{\"alarm_topic\": [\"http://a\"]}", "expected an object, got an array");
    expect_json_fail("{\"alarm_topic\": {\"ops\": 1}}",
                     "config: alarm_topic: ops: expected a URL, got a number");
    expect_json_fail("{\"alarm_topic\": {\"ops\": [\"http://a\", null]}}",
                     "ops: expected a URL, got null");
    expect_json_fail("{\"alarm_topic\": {\"ops\": []}}", "config: alarm_topic: ops: no URL");
    expect_json_fail("{\"alarm_topic\": {\"ops\": {\"u\": \"http://a\"}}}",
                     "ops: expected a URL, got an object");
    expect_json_fail("{\"alarm_topic\": {\"ops\": \"mailto:me\"}}",
                     "config: alarm_topic: 'mailto:me' is not a webhook URL");
    expect_json_fail("{\"alarm_topic\": {\"a b\": \"http://a\"}}",
                     "'a b' is not an SNS topic ARN or name");
    expect_json_fail("{\"alarm_topic\": {\"ops\": [\"http://a\", \"http://a\"]}}", "twice");
    expect_json_fail("{\"alarm-topic\": {}}", "did you mean 'alarm_topic'?");
}

/* The file's mappings hold unless a flag maps topics: the flags replace them all. */
Test(config, alarm_topic_flags_replace_the_files)
{
    char path[64];
    write_tmp(path, "{\"alarm_topic\": {\"filed\": \"http://file\"}}");
    owl_config c;
    owl_error e = {0};
    cr_assert_eq(parse(&c, ARGV("--config", path), NULL, &e), OWL_OK, "%s", e.msg);
    cr_assert_str_eq(urls_of(&c, "arn:aws:sns:us-east-1:123456789012:filed"), "http://file");
    cr_assert_eq(parse(&c, ARGV("--alarm-topic", "flagged=http://flag", "--config", path,
                                "--alarm-topic", "flagged=http://flag2"), NULL, &e), OWL_OK,
                 "%s", e.msg);
    unlink(path);
    cr_assert_str_eq(urls_of(&c, "arn:aws:sns:us-east-1:123456789012:filed"), "");
    cr_assert_str_eq(urls_of(&c, "arn:aws:sns:us-east-1:123456789012:flagged"),
                     "http://flag http://flag2");
}
