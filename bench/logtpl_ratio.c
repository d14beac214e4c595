/* logtpl_ratio.c — what the LOGTPL message encoding stores for the Loghub samples, compared with
 * `zstd -19` of the whole file, and how fast it decodes. One row per file: raw bytes, zstd -19
 * bytes (ZSTD_compress of the whole file, = `zstd -19` minus its 4-byte frame checksum), the
 * message column (one row per line, "\n" / "\r\n" dropped, as the importer does) as STR + zstd,
 * as LOGTPL + zstd and as LOGTPL-T (given the row times) + zstd at levels 3/9/19, each file being
 * one block like a part's 8192-row block; the time column (owl_enc_i64 of the times parsed from
 * each line, packed at the same level); the ratios raw / (message + time); then geometric means
 * and the decode speed (MB/s of message bytes per CPU second, with and without the zstd unpack).
 *
 * Build (from the repository top):
 *   gcc -std=gnu11 -O2 -D_GNU_SOURCE -I. -o /tmp/logtpl_ratio bench/logtpl_ratio.c index/logtpl.c \
 *       index/encode.c index/bloom.c common/[a-z]*.c -lzstd -lpthread -lm
 * Run (from the repository top): /tmp/logtpl_ratio [LOGHUB_DIR]
 *   (default $OWL_TEST_DATA/loghub, else ../shared/data/loghub) */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "common/common.h"
#include "common/logtime.h"
#include "index/encode.h"
#include "index/logtpl.h"

#define NLEVELS 3
static const int LEVELS[NLEVELS] = {3, 9, 19};

struct lines {
    char *buf;
    size_t size, n;
    owl_strref *v;
    int64_t *t;
    size_t dated, msg_bytes;
};

static void die(const char *what)
{
    fprintf(stderr, "logtpl_ratio: %s\n", what);
    exit(1);
}

/* Rows as the importer makes them: one per line, without "\n" or "\r\n". */
static void split(struct lines *L)
{
    size_t cap = 1024;
    L->v = malloc(cap * sizeof *L->v);
    L->t = malloc(cap * sizeof *L->t);
    int64_t now = 1700000000000, last = now;
    size_t i = 0;
    while (i < L->size) {
        char *nl = memchr(L->buf + i, '\n', L->size - i);
        size_t e = nl ? (size_t)(nl - L->buf) : L->size, len = e - i;
        if (len && L->buf[i + len - 1] == '\r')
            len--;
        if (L->n == cap) {
            cap *= 2;
            L->v = realloc(L->v, cap * sizeof *L->v);
            L->t = realloc(L->t, cap * sizeof *L->t);
        }
        int64_t ms;
        /* the time need not open the line (OpenStack, HPC): try each field of the first 80 bytes */
        for (size_t at = 0; at < len && at < 80; at++) {
            if ((at == 0 || L->buf[i + at - 1] == ' ') &&
                owl_logtime_parse(L->buf + i + at, len - at, now, &ms) >= 0) {
                last = ms;
                L->dated++;
                break;
            }
        }
        L->t[L->n] = last;
        L->v[L->n++] = (owl_strref){L->buf + i, (uint32_t)len};
        L->msg_bytes += len;
        i = e + 1;
    }
}

static size_t packed(const owl_buf *enc, int level)
{
    owl_buf z = OWL_BUF_INIT;
    if (owl_chunk_pack(enc->data, enc->len, level, &z) != OWL_OK)
        die("chunk_pack");
    size_t n = z.len;
    owl_buf_free(&z);
    return n;
}

/* Thread CPU seconds: the figure does not depend on what else the machine runs. */
static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* MB/s of message bytes: decoding the LOGTPL bytes alone, and unpacking the level-3 chunk too
 * (times: the row times the chunk was made with, or NULL). */
static void speed(const struct lines *L, const owl_buf *enc, const int64_t *times, double *dec_mbs,
                  double *full_mbs)
{
    owl_strref *out = malloc(L->n * sizeof *out);
    owl_buf arena = OWL_BUF_INIT, z = OWL_BUF_INIT, raw = OWL_BUF_INIT;
    if (owl_chunk_pack(enc->data, enc->len, 3, &z) != OWL_OK)
        die("pack");
    for (int pass = 0; pass < 2; pass++) {
        size_t iters = 0;
        double t0 = cpu_s(), t;
        do {
            for (int k = 0; k < 20; k++, iters++) {
                const uint8_t *p = (const uint8_t *)enc->data;
                size_t len = enc->len;
                if (pass == 1) {
                    owl_buf_reset(&raw);
                    if (owl_chunk_unpack((const uint8_t *)z.data, z.len, 1u << 30, &raw) != OWL_OK)
                        die("unpack");
                    p = (const uint8_t *)raw.data;
                    len = raw.len;
                }
                if (owl_dec_logtpl_time(p, len, L->n, times, out, &arena) != OWL_OK)
                    die("decode");
            }
            t = cpu_s() - t0;
        } while (t < 0.3);
        double mbs = (double)L->msg_bytes * (double)iters / t / 1e6;
        *(pass ? full_mbs : dec_mbs) = mbs;
    }
    free(out);
    owl_buf_free(&arena);
    owl_buf_free(&z);
    owl_buf_free(&raw);
}

static void verify(const struct lines *L, const owl_buf *enc, const int64_t *times)
{
    owl_strref *out = malloc(L->n * sizeof *out);
    owl_buf arena = OWL_BUF_INIT;
    if (owl_dec_logtpl_time((const uint8_t *)enc->data, enc->len, L->n, times, out, &arena) != OWL_OK)
        die("decode failed");
    for (size_t i = 0; i < L->n; i++)
        if (out[i].n != L->v[i].n || memcmp(out[i].p, L->v[i].p, out[i].n) != 0)
            die("round trip differs");
    free(out);
    owl_buf_free(&arena);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    const char *data = getenv("OWL_TEST_DATA");
    char defroot[4096];
    snprintf(defroot, sizeof defroot, "%s/loghub", data && *data ? data : "../shared/data");
    const char *root = argc > 1 ? argv[1] : defroot;
    DIR *dir = opendir(root);
    if (!dir)
        die("cannot open the loghub directory");
    char *names[64];
    size_t nf = 0;
    struct dirent *de;
    while ((de = readdir(dir)) && nf < 64) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s/%s_2k.log", root, de->d_name, de->d_name);
        FILE *f = de->d_name[0] != '.' ? fopen(path, "rb") : NULL;
        if (f) {
            fclose(f);
            names[nf++] = strdup(de->d_name);
        }
    }
    closedir(dir);
    qsort(names, nf, sizeof *names, cmp_names);

    double g_z19 = 0, g_str[NLEVELS] = {0}, g_tpl[NLEVELS] = {0}, g_tplt[NLEVELS] = {0};
    double g_hint[NLEVELS] = {0};
    double sum_dec = 0, sum_full = 0, sum_hint = 0, min_dec = 1e30, min_full = 1e30, min_hint = 1e30;
    size_t all_bytes = 0;
    printf("bytes stored per file (each file is one block); rN = raw / (LOGTPL chunk + time chunk) at "
           "level N,\nrTN the same with LOGTPL-T (row times given as a hint); dec = MB/s of message bytes "
           "per CPU second\n");
    printf("%-11s %6s %6s %5s | %5s %5s %5s | %5s %5s %5s | %5s %5s %5s | %4s %4s %4s | %5s %5s %5s "
           "%5s | %5s %5s %5s\n",
           "file", "raw", "zstd19", "ratio", "str3", "str9", "str19", "tpl3", "tpl9", "tpl19", "tplT3",
           "tplT9", "tpT19", "tim3", "tim9", "ti19", "r3", "r19", "rT3", "rT19", "dec", "+zstd", "decT");
    for (size_t fi = 0; fi < nf; fi++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s/%s_2k.log", root, names[fi], names[fi]);
        struct lines L = {0};
        if (owl_read_file(path, 1u << 30, &L.buf, &L.size, NULL) != OWL_OK)
            die("read");
        split(&L);
        size_t zb = ZSTD_compressBound(L.size);
        void *zd = malloc(zb);
        size_t z19 = ZSTD_compress(zd, zb, L.buf, L.size, 19);
        if (ZSTD_isError(z19))
            die("zstd");
        free(zd);
        owl_buf s = OWL_BUF_INIT, t = OWL_BUF_INIT, th = OWL_BUF_INIT, tm = OWL_BUF_INIT;
        if (owl_enc_str(L.v, L.n, 1, &s) != OWL_OK || owl_enc_logtpl(L.v, L.n, &t) != OWL_OK ||
            owl_enc_logtpl_time(L.v, L.t, L.n, &th) != OWL_OK || owl_enc_i64(L.t, L.n, &tm) != OWL_OK)
            die("encode");
        verify(&L, &t, NULL);
        verify(&L, &th, L.t);
        size_t str[NLEVELS], tpl[NLEVELS], hint[NLEVELS], tim[NLEVELS];
        for (int l = 0; l < NLEVELS; l++) {
            str[l] = packed(&s, LEVELS[l]);
            tpl[l] = packed(&t, LEVELS[l]);
            hint[l] = packed(&th, LEVELS[l]);
            tim[l] = packed(&tm, LEVELS[l]);
        }
        double dec, full, dech, fullh;
        speed(&L, &t, NULL, &dec, &full);
        speed(&L, &th, L.t, &dech, &fullh);
        double raw = (double)L.size;
        printf("%-11s %6zu %6zu %5.2f | %5zu %5zu %5zu | %5zu %5zu %5zu | %5zu %5zu %5zu | %4zu %4zu %4zu | "
               "%5.2f %5.2f %5.2f %5.2f | %5.0f %5.0f %5.0f\n",
               names[fi], L.size, z19, raw / (double)z19, str[0], str[1], str[2], tpl[0], tpl[1], tpl[2],
               hint[0], hint[1], hint[2], tim[0], tim[1], tim[2], raw / (double)(tpl[0] + tim[0]),
               raw / (double)(tpl[2] + tim[2]), raw / (double)(hint[0] + tim[0]),
               raw / (double)(hint[2] + tim[2]), dec, full, dech);
        if (L.dated != L.n)
            printf("%-11s   (time parsed on %zu of %zu lines; the rest repeat the previous time)\n", "",
                   L.dated, L.n);
        g_z19 += log(raw / (double)z19);
        for (int l = 0; l < NLEVELS; l++) {
            g_str[l] += log(raw / (double)(str[l] + tim[l]));
            g_tpl[l] += log(raw / (double)tpl[l]);
            g_tplt[l] += log(raw / (double)(tpl[l] + tim[l]));
            g_hint[l] += log(raw / (double)(hint[l] + tim[l]));
        }
        sum_dec += (double)L.msg_bytes / dec;
        sum_full += (double)L.msg_bytes / full;
        sum_hint += (double)L.msg_bytes / dech;
        all_bytes += L.msg_bytes;
        min_dec = dec < min_dec ? dec : min_dec;
        min_full = full < min_full ? full : min_full;
        min_hint = dech < min_hint ? dech : min_hint;
        owl_buf_free(&s);
        owl_buf_free(&t);
        owl_buf_free(&th);
        owl_buf_free(&tm);
        free(L.buf);
        free(L.v);
        free(L.t);
        free(names[fi]);
    }
    double k = (double)nf, z = exp(g_z19 / k);
    printf("\ngeometric mean of raw/stored over %zu files (zstd -19 on the whole file: %.2f):\n", nf, z);
    for (int l = 0; l < NLEVELS; l++)
        printf("  level %2d: STR+time %5.2f (%.2fx)  LOGTPL alone %5.2f  LOGTPL+time %5.2f (%.2fx)  "
               "LOGTPL-T+time %5.2f (%.2fx)\n",
               LEVELS[l], exp(g_str[l] / k), exp(g_str[l] / k) / z, exp(g_tpl[l] / k), exp(g_tplt[l] / k),
               exp(g_tplt[l] / k) / z, exp(g_hint[l] / k), exp(g_hint[l] / k) / z);
    printf("decode, MB/s of message bytes per CPU second (all files together, slowest file):\n"
           "  LOGTPL %.0f (%.0f), LOGTPL + zstd unpack %.0f (%.0f), LOGTPL-T %.0f (%.0f)\n",
           (double)all_bytes / sum_dec, min_dec, (double)all_bytes / sum_full, min_full,
           (double)all_bytes / sum_hint, min_hint);
    return 0;
}
