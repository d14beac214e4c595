/* clock.c — the wall clock of spans, events, log records and metric points (owl__now_ns,
 * docs/client.md "Time"). On x86-64 with an invariant TSC that the kernel itself uses as its
 * clocksource, a reading is the CPU's time-stamp counter scaled onto CLOCK_REALTIME (one
 * rdtsc, a multiply: 12 ns where clock_gettime takes 29 on the machine of bench/RESULTS.md);
 * elsewhere, and until the scale is known, it is clock_gettime(CLOCK_REALTIME).
 * Invariants: the scale (base counter, base ns, ns a tick in 32.32 fixed point) changes only
 * under the seqlock `seq` (odd while written), by whichever thread first sees the base a
 * second old; the rate comes from CLOCK_MONOTONIC (NTP-slewed like REALTIME, never stepped)
 * over the last interval, the base from REALTIME, so a reading is never more than one interval
 * of slew (microseconds) from clock_gettime's, and a step of the system clock is followed
 * within a second. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>
#endif

#include "client_int.h"

#define CALIBRATE_NS 50000000u   /* first scale after 50 ms of counting */
#define RESCALE_NS 1000000000u   /* then a new base every second */
#define PAIR_TRIES 4             /* readings of (counter, clocks) kept when not interrupted */

enum mode { M_UNKNOWN, M_SYSTEM, M_TSC };

static struct {
    _Atomic int mode;
    _Atomic int busy;            /* a thread is (re)scaling */
    _Atomic unsigned seq;        /* seqlock over base_tsc, base_ns, mult: odd while written */
    _Atomic uint64_t base_tsc, base_ns, mult;
    _Atomic uint64_t start_real;  /* REALTIME when counting began: the first scale's due time */
    _Atomic uint64_t last_tsc, last_mono; /* the last scale's counter and CLOCK_MONOTONIC */
} ck;

static pthread_once_t ck_once = PTHREAD_ONCE_INIT;

static uint64_t sys_ns(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

#if defined(__x86_64__)
static uint64_t ticks(void)
{
    return __rdtsc();
}

/* 1 when the counter may stand for time: CPUID's invariant TSC (it runs at one rate in every
 * power state) and the kernel's clocksource "tsc" (the kernel checked it is in step across
 * CPUs and kept it). OWL_CLOCK=system turns it off. */
static int tsc_usable(void)
{
    const char *env = getenv("OWL_CLOCK");
    if (env && !strcmp(env, "system"))
        return 0;
    unsigned a, b, c, d;
    if (!__get_cpuid(0x80000007, &a, &b, &c, &d) || !(d & (1u << 8)))
        return 0;
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "re");
    char name[32] = "";
    if (f) {
        if (!fgets(name, sizeof name, f))
            name[0] = 0;
        fclose(f);
    }
    return !strcmp(name, "tsc\n");
}
#else
static uint64_t ticks(void)
{
    return 0;
}

static int tsc_usable(void)
{
    return 0;
}
#endif

/* The counter read with CLOCK_MONOTONIC and CLOCK_REALTIME: the tightest of PAIR_TRIES
 * readings (the counter at the clocks' midpoint), so a preemption in between is not kept. */
static void pair(uint64_t *tsc, uint64_t *mono, uint64_t *real)
{
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < PAIR_TRIES; i++) {
        uint64_t t0 = ticks(), m = sys_ns(CLOCK_MONOTONIC), r = sys_ns(CLOCK_REALTIME), t1 = ticks();
        if (t1 - t0 < best) {
            best = t1 - t0;
            *tsc = t0 + (t1 - t0) / 2;
            *mono = m;
            *real = r;
        }
    }
}

static void init_once(void)
{
    if (!tsc_usable()) {
        atomic_store(&ck.mode, M_SYSTEM);
        return;
    }
    uint64_t tsc, mono, real;
    pair(&tsc, &mono, &real);
    atomic_store(&ck.last_tsc, tsc);
    atomic_store(&ck.last_mono, mono);
    atomic_store(&ck.start_real, real);
    atomic_store_explicit(&ck.mode, M_TSC, memory_order_release); /* mult 0: not scaled yet */
}

/* Takes a new base and rate, by one thread at a time (another finding it busy returns: its
 * caller reads the system clock); not before CALIBRATE_NS since the last. A rate outside
 * 0.1-20 ticks a ns, or a counter gone backwards, turns the counter off for the process. */
static void rescale(void)
{
    if (atomic_exchange_explicit(&ck.busy, 1, memory_order_acquire))
        return;
    uint64_t tsc, mono, real;
    pair(&tsc, &mono, &real);
    uint64_t dt = tsc - atomic_load_explicit(&ck.last_tsc, memory_order_relaxed);
    uint64_t dm = mono - atomic_load_explicit(&ck.last_mono, memory_order_relaxed);
    if (dm < CALIBRATE_NS) { /* not long enough to know the rate: keep counting */
        atomic_store_explicit(&ck.busy, 0, memory_order_release);
        return;
    }
    if ((int64_t)dt <= 0 || dt / 20 > dm || dt < dm / 10) {
        atomic_store(&ck.mode, M_SYSTEM);
        atomic_store_explicit(&ck.busy, 0, memory_order_release);
        return;
    }
    uint64_t mult = (uint64_t)(((unsigned __int128)dm << 32) / dt);
    unsigned s = atomic_load_explicit(&ck.seq, memory_order_relaxed);
    /* release stores (not a fence: ThreadSanitizer has none): a reader acquiring any new
     * field sees the odd seq written before it and retries */
    atomic_store_explicit(&ck.seq, s + 1, memory_order_relaxed);
    atomic_store_explicit(&ck.base_tsc, tsc, memory_order_release);
    atomic_store_explicit(&ck.base_ns, real, memory_order_release);
    atomic_store_explicit(&ck.mult, mult, memory_order_release);
    atomic_store_explicit(&ck.seq, s + 2, memory_order_release);
    atomic_store_explicit(&ck.last_tsc, tsc, memory_order_relaxed);
    atomic_store_explicit(&ck.last_mono, mono, memory_order_relaxed);
    atomic_store_explicit(&ck.busy, 0, memory_order_release);
}

/* The counter's reading as ns since the epoch into *ns: 1, or 0 when the system clock is to
 * be read instead (not scaled yet, being rescaled now, or the counter behind the base). */
static int tsc_now(uint64_t *ns)
{
    unsigned s = atomic_load_explicit(&ck.seq, memory_order_acquire);
    if (s & 1)
        return 0;
    /* acquire loads (plain loads on x86): the seq read after them cannot move before */
    uint64_t bt = atomic_load_explicit(&ck.base_tsc, memory_order_acquire);
    uint64_t bn = atomic_load_explicit(&ck.base_ns, memory_order_acquire);
    uint64_t mult = atomic_load_explicit(&ck.mult, memory_order_acquire);
    if (atomic_load_explicit(&ck.seq, memory_order_relaxed) != s || !mult)
        return 0;
    int64_t d = (int64_t)(ticks() - bt);
    if (d < 0)
        return 0;
    uint64_t since = (uint64_t)(((unsigned __int128)(uint64_t)d * mult) >> 32);
    if (__builtin_expect(since >= RESCALE_NS, 0)) {
        /* the scale is stale (after an idle hour, an hour of NTP's slew): a new one, and the
         * system clock for this reading */
        rescale();
        return 0;
    }
    *ns = bn + since;
    return 1;
}

uint64_t owl__now_ns(void)
{
    int mode = atomic_load_explicit(&ck.mode, memory_order_acquire);
    if (__builtin_expect(mode == M_TSC, 1)) {
        uint64_t ns;
        if (tsc_now(&ns))
            return ns;
        ns = sys_ns(CLOCK_REALTIME);
        if (!atomic_load_explicit(&ck.mult, memory_order_relaxed) &&
            ns - atomic_load_explicit(&ck.start_real, memory_order_relaxed) >= CALIBRATE_NS)
            rescale(); /* the first scale */
        return ns;
    }
    if (mode == M_UNKNOWN)
        pthread_once(&ck_once, init_once);
    return sys_ns(CLOCK_REALTIME);
}

void owl__clock_atfork_child(void)
{
    /* a thread the child does not have may have been rescaling: the scale is not trusted
     * (the system clock until the next one) and the next one is free to happen */
    atomic_store(&ck.mult, 0);
    atomic_store(&ck.start_real, 0);
    unsigned s = atomic_load(&ck.seq);
    atomic_store(&ck.seq, (s + 1) & ~1u);
    atomic_store(&ck.busy, 0);
}

int owl__clock_counter(void)
{
    pthread_once(&ck_once, init_once);
    return atomic_load(&ck.mode) == M_TSC;
}
