/* test_client_clock.c — client/clock.c: owl__now_ns stays within 100 us of
 * clock_gettime(CLOCK_REALTIME) before, at and after its first scale and across rescales (two
 * seconds, four threads), never goes back more than that, uses the CPU's counter exactly
 * where the kernel's clocksource is "tsc" on an invariant-TSC x86-64, not under
 * OWL_CLOCK=system, and is sane in a forked child. Each Criterion test runs in its own
 * process, so each starts with the clock unscaled. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client/client_int.h"

#define TOLERANCE_NS 100000 /* 100 us: far above a scale's error, far below a span's use */

static uint64_t real_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int kernel_uses_tsc(void)
{
    char name[32] = "";
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    if (f) {
        if (!fgets(name, sizeof name, f))
            name[0] = 0;
        fclose(f);
    }
    return !strcmp(name, "tsc\n");
}

/* Reads owl__now_ns between two clock_gettime readings for ms milliseconds; the worst
 * distance outside [before, after] and the worst step back, in ns. */
typedef struct {
    long ms;
    uint64_t worst_out, worst_back, reads;
} track;

static void *follow(void *arg)
{
    track *k = arg;
    uint64_t end = real_ns() + (uint64_t)k->ms * 1000000u, last = 0;
    while (real_ns() < end) {
        uint64_t a = real_ns(), v = owl__now_ns(), b = real_ns();
        uint64_t out = v < a ? a - v : v > b ? v - b : 0;
        if (out > k->worst_out)
            k->worst_out = out;
        if (last > v && last - v > k->worst_back)
            k->worst_back = last - v;
        last = v;
        k->reads++;
    }
    return NULL;
}

Test(client_clock, follows_realtime_through_scales)
{
    track k = {.ms = 2300}; /* the first scale at 50 ms, rescales at ~1 s and ~2 s */
    follow(&k);
    cr_log_info("counter %d, %llu reads, worst %llu ns outside, %llu ns back",
                owl__clock_counter(), (unsigned long long)k.reads,
                (unsigned long long)k.worst_out, (unsigned long long)k.worst_back);
    cr_expect_gt(k.reads, 1000);
    cr_expect_leq(k.worst_out, TOLERANCE_NS, "owl__now_ns %llu ns off CLOCK_REALTIME",
                  (unsigned long long)k.worst_out);
    cr_expect_leq(k.worst_back, TOLERANCE_NS, "owl__now_ns went back %llu ns",
                  (unsigned long long)k.worst_back);
}

Test(client_clock, threads_while_rescaling)
{
    pthread_t th[4];
    track k[4];
    for (int i = 0; i < 4; i++) {
        k[i] = (track){.ms = 1300};
        cr_assert_eq(pthread_create(&th[i], NULL, follow, &k[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_expect_gt(k[i].reads, 100);
        cr_expect_leq(k[i].worst_out, TOLERANCE_NS, "thread %d: %llu ns off", i,
                      (unsigned long long)k[i].worst_out);
        cr_expect_leq(k[i].worst_back, TOLERANCE_NS);
    }
}

Test(client_clock, counter_exactly_where_the_kernel_trusts_it)
{
    owl__now_ns();
    usleep(60000);
    owl__now_ns(); /* the first scale */
#if defined(__x86_64__)
    unsigned a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000007u), "c"(0));
    int want = kernel_uses_tsc() && (d & (1u << 8));
#else
    int want = 0;
#endif
    cr_expect_eq(owl__clock_counter(), want, "counter %d, kernel tsc %d", owl__clock_counter(),
                 kernel_uses_tsc());
}

Test(client_clock, system_clock_when_asked)
{
    setenv("OWL_CLOCK", "system", 1);
    owl__now_ns();
    usleep(60000);
    uint64_t a = real_ns(), v = owl__now_ns(), b = real_ns();
    cr_expect_eq(owl__clock_counter(), 0);
    cr_expect(v >= a && v <= b);
}

Test(client_clock, forked_child)
{
    owl__now_ns();
    usleep(60000);
    owl__now_ns();
    pid_t p = fork();
    cr_assert_geq(p, 0);
    if (p == 0) {
        owl__clock_atfork_child(); /* span.c's handler does this in a real fork */
        track k = {.ms = 200};
        follow(&k);
        _exit(k.worst_out <= TOLERANCE_NS && k.worst_back <= TOLERANCE_NS ? 0 : 1);
    }
    int st = 0;
    cr_assert_eq(waitpid(p, &st, 0), p);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child's clock was off");
}
