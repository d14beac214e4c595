/* log_rows.c — turns a file of log lines into rows for a peer database, with the timestamp
 * owl-store import gives each line: one TabSeparated row "PARTITION \t TIME_MS \t MESSAGE" per
 * line (ClickHouse's escaping: '\\' -> "\\\\", TAB -> "\\t"), where MESSAGE is the line without
 * its "\n" / "\r\n" and TIME_MS comes from owl_logtime_parse, or the start time of this run for
 * lines without a known timestamp — exactly what index/owl-store.c does on import.
 *
 * Build (the bench scripts do it in their temp dir; from the repository top):
 *   cc -std=gnu11 -O2 -I. -o log_rows bench/datasets/log_rows.c common/logtime.c common/clock.c
 * Run: log_rows PARTITION [FILE]   (FILE defaults to standard input; rows go to stdout) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/logtime.h"

static void put_escaped(const char *s, size_t n, FILE *out)
{
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' && s[i] != '\t')
            continue;
        fwrite(s + from, 1, i - from, out);
        fputs(s[i] == '\\' ? "\\\\" : "\\t", out);
        from = i + 1;
    }
    fwrite(s + from, 1, n - from, out);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3 || strchr(argv[1], '\t') || strchr(argv[1], '\\')) {
        fprintf(stderr, "usage: log_rows PARTITION [FILE]\n");
        return 2;
    }
    FILE *in = argc == 3 && strcmp(argv[2], "-") ? fopen(argv[2], "r") : stdin;
    if (!in) {
        perror(argv[2]);
        return 1;
    }
    int rc = 0;
    char *line = NULL;
    size_t cap = 0, rows = 0, dated = 0;
    ssize_t len;
    int64_t now = owl_now_ms();
    while ((len = getline(&line, &cap, in)) >= 0) {
        if (len && line[len - 1] == '\n')
            len--;
        if (len && line[len - 1] == '\r')
            len--;
        int64_t ts = now;
        if (owl_logtime_parse(line, (size_t)len, now, &ts) >= 0)
            dated++;
        printf("%s\t%lld\t", argv[1], (long long)ts);
        put_escaped(line, (size_t)len, stdout);
        putchar('\n');
        rows++;
    }
    if (ferror(in) || fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "log_rows: read or write error\n");
        rc = 1;
    }
    fprintf(stderr, "log_rows: %zu rows (%zu with their own timestamp)\n", rows, dated);
    free(line);
    if (in != stdin)
        fclose(in);
    return rc;
}
