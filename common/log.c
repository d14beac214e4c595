/* log.c — one formatted line per call, written with a single write(2) so lines never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "clock.h"

static volatile int min_level = OWL_LOG_INFO;
const char *const owl_log_level_names[] = {"debug", "info", "warn", "error", "off", NULL};

void owl_log_set_level(enum owl_log_level level)
{
    min_level = level;
}

void owl_log(enum owl_log_level level, const char *fmt, ...)
{
    if ((int)level < min_level || level >= OWL_LOG_OFF)
        return;
    char line[2048];
    size_t n = owl_time_format_rfc3339(owl_now_ms(), line, sizeof line);
    n += (size_t)snprintf(line + n, sizeof line - n, " %-5s ", owl_log_level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += (size_t)m < sizeof line - n - 1 ? (size_t)m : sizeof line - n - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}
