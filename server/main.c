/* main.c — owld's entry point: parse flags and config, block the stop signals so that only
 * owl_server_run receives them, raise the open-file limit, and serve.
 * Exit status: 0 after a clean stop, 1 on a runtime error, 2 on a usage or config error. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>

#include "server/server.h"

/* LeakSanitizer's default suppressions (read only in a sanitizer build): fontconfig, which
 * Graphviz loads to render service maps as SVG, keeps its font caches for the process's life
 * (docs/api/service-map.md "SVG"). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libfontconfig.so\n";
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    owl_config cfg;
    owl_error err = {0};
    enum owl_config_action action;
    if (owl_config_parse_args(&cfg, argc, argv, &action, &err) != OWL_OK) {
        fprintf(stderr, "owld: %s\nTry 'owld --help'.\n", err.msg);
        return 2;
    }
    if (action != OWL_CONFIG_RUN) {
        owl_buf usage = OWL_BUF_INIT;
        if (action == OWL_CONFIG_HELP)
            owl_config_usage(&usage);
        else
            owl_buf_printf(&usage, "owld (owl) %s\n", PACKAGE_VERSION);
        fputs(usage.data ? usage.data : "", stdout);
        owl_buf_free(&usage);
        return 0;
    }
    owl_log_set_level(cfg.log_level);
    /* Requests, memtables and merges take and give back buffers of megabytes all the time:
     * keep freed memory for the next one rather than return it to the kernel and fault in
     * fresh zeroed pages again (a third of the ingest's time went to that). */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();

    owl_server *s = NULL;
    if (owl_server_open(&s, &cfg, &err) != OWL_OK) {
        fprintf(stderr, "owld: %s\n", err.msg);
        return 1;
    }
    int rc = owl_server_run(s, &err);
    if (rc != OWL_OK)
        fprintf(stderr, "owld: %s\n", err.msg);
    owl_server_close(s);
    return rc == OWL_OK ? 0 : 1;
}
