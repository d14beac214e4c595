/* client_xray.c — t_client_xray.sh's program: libowl with sampler = xray against owld (built
 * from client/ alone, so it may read the sampler's state through client_int.h).
 *   client_xray rate ENDPOINT KEY RULE N PATH   N root HTTP spans on PATH once RULE is
 *                                               fetched: "sampled S of N"
 *   client_xray burst ENDPOINT KEY RULE PATH K  once RULE has its quota, K one-second bursts
 *                                               of 200 spans: "quota Q per-second a b c"
 *   client_xray fork ENDPOINT KEY RULE PATH     once RULE is fetched, a child's first span on
 *                                               PATH restarts the poller there, which gets
 *                                               RULE's quota: "child quota Q"
 *   client_xray away ENDPOINT N                 owld away: N roots, "sampled S start_ms T
 *                                               shutdown_ms U"
 * Exits 2 when the rule or its quota does not come within 10 s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client_int.h"

static double ms_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void init(const char *endpoint, const char *key)
{
    owl_config *c = owl_config_new();
    if (!c || owl_config_set(c, "sampler", "xray") || owl_config_set(c, "endpoint", endpoint) ||
        (key && owl_config_set(c, "api_key", key)) ||
        owl_config_set(c, "service.name", "xray-client") || owl_init(c)) {
        fprintf(stderr, "set-up failed\n");
        exit(1);
    }
    owl_config_free(c);
}

/* Waits up to 10 s for rule to be fetched (and, want_quota, to have a target's quota). */
static int64_t await(const char *rule, int want_quota)
{
    int64_t q = -1;
    for (int i = 0; i < 1000; i++) {
        if (owl__xray_status(rule, &q) == 0 && (!want_quota || q >= 0))
            return q;
        usleep(10000);
    }
    fprintf(stderr, "rule %s %s within 10 s\n", rule, want_quota ? "got no quota" : "not fetched");
    exit(2);
}

static int span(const char *path)
{
    owl_span *s = owl_span_start_http(OWL_KIND_SERVER, "GET", path, "shop.example", NULL,
                                      OWL_SPAN_ROOT | OWL_SPAN_DETACHED);
    int yes = owl_span_sampled(s);
    owl_span_end(s);
    return yes;
}

int main(int argc, char **argv)
{
    if (argc == 7 && strcmp(argv[1], "rate") == 0) {
        init(argv[2], argv[3]);
        await(argv[4], 0);
        int n = atoi(argv[5]), yes = 0;
        for (int i = 0; i < n; i++)
            yes += span(argv[6]);
        printf("sampled %d of %d\n", yes, n);
        return owl_shutdown(5000) ? 1 : 0; /* reports the counts */
    }
    if (argc == 7 && strcmp(argv[1], "burst") == 0) {
        init(argv[2], argv[3]);
        await(argv[4], 0);
        span(argv[5]); /* the rule's first match: its first target is asked for early */
        int64_t q = await(argv[4], 1);
        printf("quota %lld per-second", (long long)q);
        for (int k = atoi(argv[6]); k > 0; k--) {
            time_t sec = time(NULL);
            while (time(NULL) == sec) /* a second's start: the burst stays within it */
                usleep(1000);
            int yes = 0;
            for (int i = 0; i < 200; i++)
                yes += span(argv[5]);
            printf(" %d", yes);
        }
        printf("\n");
        return owl_shutdown(5000) ? 1 : 0;
    }
    if (argc == 6 && strcmp(argv[1], "fork") == 0) {
        init(argv[2], argv[3]);
        await(argv[4], 0);
        pid_t pid = fork();
        if (pid == 0) {
            span(argv[5]); /* the child's first decision starts its poller */
            printf("child quota %lld\n", (long long)await(argv[4], 1));
            fflush(stdout);
            _exit(owl_shutdown(5000) ? 1 : 0);
        }
        int st;
        if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
            return 1;
        return owl_shutdown(1000) || WEXITSTATUS(st);
    }
    if (argc == 4 && strcmp(argv[1], "away") == 0) {
        init(argv[2], NULL);
        int n = atoi(argv[3]), yes = 0;
        time_t sec = time(NULL);
        while (time(NULL) == sec) /* one second holds the whole run */
            usleep(1000);
        double t0 = ms_now();
        for (int i = 0; i < n; i++)
            yes += span("/anything");
        double t1 = ms_now();
        /* the exporter cannot deliver the sampled spans to an absent owld: its shutdown ends
         * at the deadline with OWL_ERR_TIMEOUT, the spans counted dropped */
        int rc = owl_shutdown(2000);
        printf("sampled %d start_ms %.0f shutdown_ms %.0f\n", yes, t1 - t0, ms_now() - t1);
        return rc == 0 || rc == OWL_ERR_TIMEOUT ? 0 : 1;
    }
    fprintf(stderr, "usage: client_xray rate|burst|fork|away ...\n");
    return 64;
}
