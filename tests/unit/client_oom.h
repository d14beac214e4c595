/* client_oom.h — what the client encoders' out-of-memory tests share (test_client_otlp,
 * test_client_log, test_client_metrics): the process's address space capped a few MB above
 * what it uses while an encode runs, so that its allocations fail part way. */
#ifndef OWL_TEST_CLIENT_OOM_H
#define OWL_TEST_CLIENT_OOM_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/resource.h>

/* The process's virtual size in bytes (/proc/self/status VmSize), 0 when unknown. */
static inline size_t oom_vm_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[128];
    size_t kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %zu kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb * 1024;
}

/* oom_cap — caps RLIMIT_AS 4 MB above the process's size; *old keeps the limit that held, for
 * oom_uncap. */
static inline void oom_cap(struct rlimit *old)
{
    struct rlimit lim;
    cr_assert_eq(getrlimit(RLIMIT_AS, old), 0);
    lim = *old;
    lim.rlim_cur = oom_vm_bytes() + ((size_t)4 << 20);
    cr_assert_eq(setrlimit(RLIMIT_AS, &lim), 0);
}

static inline void oom_uncap(const struct rlimit *old)
{
    setrlimit(RLIMIT_AS, old);
}

#endif
