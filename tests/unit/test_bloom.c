/* test_bloom.c — index/bloom.c: owl_hash64 mixing quality, bloom sizing, no false negatives,
 * the measured false-positive rate against the target, the serialized form and its corrupt
 * variants, and the tokenizer. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "index/bloom.h"

static uint64_t rng_state = 0x13198a2e03707344ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

/* ---- hash ---- */

Test(hash, deterministic_and_seeded)
{
    const char *s = "trace-1-5f84c7a1-abcdef";
    cr_assert_eq(owl_hash64(s, strlen(s), 0), owl_hash64(s, strlen(s), 0));
    cr_assert_neq(owl_hash64(s, strlen(s), 0), owl_hash64(s, strlen(s), 1));
    /* trailing zero bytes and lengths are told apart */
    cr_assert_neq(owl_hash64("a", 1, 0), owl_hash64("a\0", 2, 0));
    cr_assert_neq(owl_hash64("", 0, 0), owl_hash64("\0", 1, 0));
    cr_assert_neq(owl_hash64("abcdefgh", 8, 0), owl_hash64("abcdefgh\0", 9, 0));
    /* no collisions among every string of length 0..3 over a small alphabet */
    enum { A = 20 };
    size_t total = 1 + A + A * A + A * A * A;
    uint64_t *h = malloc(total * sizeof *h);
    size_t k = 0;
    h[k++] = owl_hash64("", 0, 0);
    for (int len = 1; len <= 3; len++) {
        int lim = len == 1 ? A : len == 2 ? A * A : A * A * A;
        for (int x = 0; x < lim; x++) {
            char b[3];
            int y = x;
            for (int j = 0; j < len; j++, y /= A)
                b[j] = (char)('a' + y % A);
            h[k++] = owl_hash64(b, (size_t)len, 0);
        }
    }
    for (size_t i = 0; i < total; i++)
        for (size_t j = i + 1; j < total; j++)
            cr_assert_neq(h[i], h[j], "collision %zu %zu", i, j);
    free(h);
}

/* Flipping any single input bit should flip about half of the output bits, for every input
 * length class (1-3, 4-7, whole words, words plus a tail). */
Test(hash, avalanche)
{
    static const size_t lens[] = {1, 3, 4, 7, 8, 16, 21, 64};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        size_t len = lens[li];
        uint8_t buf[64];
        double sum = 0;
        int worst_lo = 64, worst_hi = 0;
        size_t trials = 0;
        for (int t = 0; t < 200; t++) {
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)rnd();
            uint64_t base = owl_hash64(buf, len, 0);
            for (size_t bit = 0; bit < len * 8; bit++) {
                buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                int d = __builtin_popcountll(base ^ owl_hash64(buf, len, 0));
                buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                sum += d;
                trials++;
                worst_lo = d < worst_lo ? d : worst_lo;
                worst_hi = d > worst_hi ? d : worst_hi;
            }
        }
        double mean = sum / (double)trials;
        cr_assert(mean > 31.0 && mean < 33.0, "len %zu: mean flipped bits %.2f", len, mean);
        cr_assert(worst_lo > 8 && worst_hi < 56, "len %zu: %d..%d", len, worst_lo, worst_hi);
    }
}

/* Every output bit should be set about half the time over sequential keys (the hardest
 * case for weak mixers). */
Test(hash, output_bits_balanced)
{
    enum { N = 100000 };
    int counts[64] = {0};
    for (uint64_t i = 0; i < N; i++) {
        uint64_t h = owl_hash64(&i, sizeof i, 0);
        for (int b = 0; b < 64; b++)
            counts[b] += (int)((h >> b) & 1);
    }
    for (int b = 0; b < 64; b++)
        cr_assert(counts[b] > N / 2 - 1500 && counts[b] < N / 2 + 1500, "bit %d: %d", b,
                  counts[b]);
}

/* ---- sizing ---- */

Test(bloom, init_sizes_and_rejects)
{
    owl_bloom b;
    cr_assert_eq(owl_bloom_init(&b, 100, 0.0), OWL_EINVAL);
    cr_assert_eq(owl_bloom_init(&b, 100, 1.0), OWL_EINVAL);
    cr_assert_eq(owl_bloom_init(&b, 100, -0.5), OWL_EINVAL);
    cr_assert_eq(owl_bloom_init(&b, 100, __builtin_nan("")), OWL_EINVAL);
    cr_assert_null(b.words);
    owl_bloom_free(&b);
    owl_bloom_free(NULL);

    cr_assert_eq(owl_bloom_init(&b, 0, 0.01), OWL_OK);
    cr_assert_eq(b.nwords, 1);
    cr_assert(b.k >= 1 && b.k <= 16);
    owl_bloom_free(&b);

    /* 10,000 items at 1%: 95,851 bits -> 1,498 words (exact: version 2, no power of two) */
    cr_assert_eq(owl_bloom_init(&b, 10000, 0.01), OWL_OK);
    cr_assert_eq(b.nwords, 1498);
    cr_assert(b.exact);
    cr_assert_eq(b.k, 7, "k from the real size: round(95872/10000*ln2) = 7, got %d", b.k);
    owl_bloom_free(&b);

    cr_assert_eq(owl_bloom_init(&b, 1000, 1e-12), OWL_OK);
    cr_assert_eq(b.k, 16, "clamped");
    owl_bloom_free(&b);
    cr_assert_eq(owl_bloom_init(&b, 1000, 0.9), OWL_OK);
    cr_assert_eq(b.k, 1, "clamped");
    owl_bloom_free(&b);

    cr_assert_eq(owl_bloom_init(&b, SIZE_MAX / 2, 0.01), OWL_ENOMEM);
    cr_assert_null(b.words);
    owl_bloom_free(&b);
}

/* Adds `items` random 16-byte ids, checks each is found, and returns the observed false-
 * positive rate over `probes` ids never added. */
static double measure(size_t items, double fp, size_t probes)
{
    owl_bloom b;
    cr_assert_eq(owl_bloom_init(&b, items, fp), OWL_OK);
    uint8_t (*ids)[16] = malloc(items * sizeof *ids);
    for (size_t i = 0; i < items; i++) {
        uint64_t a = rnd(), c = rnd();
        memcpy(ids[i], &a, 8);
        memcpy(ids[i] + 8, &c, 8);
        owl_bloom_add(&b, ids[i], 16);
    }
    for (size_t i = 0; i < items; i++)
        cr_assert(owl_bloom_maybe(&b, ids[i], 16), "false negative at %zu", i);
    size_t hits = 0;
    for (size_t i = 0; i < probes; i++) {
        /* different length from every added id: certainly never added */
        char tok[32];
        int n = snprintf(tok, sizeof tok, "absent-%zu", i);
        hits += (size_t)owl_bloom_maybe(&b, tok, (size_t)n);
    }
    free(ids);
    owl_bloom_free(&b);
    return (double)hits / (double)probes;
}

Test(bloom, no_false_negatives_100k)
{
    double r = measure(100000, 0.01, 100000);
    printf("bloom: 100k items at fp 0.01 -> observed %.4f\n", r);
    cr_assert_lt(r, 0.02);
}

Test(bloom, false_positive_rate_near_target)
{
    static const double targets[] = {0.1, 0.01, 0.001};
    for (size_t i = 0; i < 3; i++) {
        double r = measure(10000, targets[i], 200000);
        printf("bloom: 10k items at fp %.3f -> observed %.5f\n", targets[i], r);
        cr_assert_lt(r, 2 * targets[i], "fp %.3f observed %.5f", targets[i], r);
    }
}

Test(bloom, hash_api_matches_bytes_api)
{
    owl_bloom b;
    cr_assert_eq(owl_bloom_init(&b, 100, 0.01), OWL_OK);
    owl_bloom_add_hash(&b, owl_hash64("checkout", 8, 0));
    cr_assert(owl_bloom_maybe(&b, "checkout", 8));
    owl_bloom_add(&b, "payment", 7);
    cr_assert(owl_bloom_maybe_hash(&b, owl_hash64("payment", 7, 0)));
    owl_bloom_free(&b);
}

/* ---- serialized form ---- */

Test(bloom, encode_decode_round_trip)
{
    owl_bloom b, d;
    cr_assert_eq(owl_bloom_init(&b, 500, 0.01), OWL_OK);
    char tok[32];
    for (int i = 0; i < 500; i++) {
        int n = snprintf(tok, sizeof tok, "tok%d", i);
        owl_bloom_add(&b, tok, (size_t)n);
    }
    owl_buf e = OWL_BUF_INIT, e2 = OWL_BUF_INIT;
    cr_assert_eq(owl_bloom_encode(&b, &e), OWL_OK);
    cr_assert_eq(e.len, 6 + 8 * (size_t)b.nwords);
    cr_assert_eq((uint8_t)e.data[0], 2);
    cr_assert_eq((uint8_t)e.data[1], b.k);
    /* decode from an unaligned, exact-size copy */
    uint8_t *c = malloc(e.len + 1);
    memcpy(c + 1, e.data, e.len);
    cr_assert_eq(owl_bloom_decode(c + 1, e.len, &d), OWL_OK);
    cr_assert(d.exact);
    cr_assert_eq(d.nwords, b.nwords);
    cr_assert_eq(d.k, b.k);
    cr_assert(d.owned);
    cr_assert_eq(memcmp(d.words, b.words, 8 * (size_t)b.nwords), 0);
    for (int i = 0; i < 500; i++) {
        int n = snprintf(tok, sizeof tok, "tok%d", i);
        cr_assert(owl_bloom_maybe(&d, tok, (size_t)n));
    }
    cr_assert_eq(owl_bloom_encode(&d, &e2), OWL_OK);
    cr_assert_eq(e2.len, e.len);
    cr_assert_eq(memcmp(e2.data, e.data, e.len), 0);
    /* the little-endian word layout is fixed: bit 0 of word 0 is the low bit of byte 6 */
    owl_bloom one = {.words = (uint64_t[1]){0x0102030405060708ull}, .nwords = 1, .k = 3};
    owl_buf_reset(&e2);
    cr_assert_eq(owl_bloom_encode(&one, &e2), OWL_OK);
    cr_assert_eq(memcmp(e2.data, "\x01\x03\x01\x00\x00\x00\x08\x07\x06\x05\x04\x03\x02\x01", 14),
                 0);
    free(c);
    owl_buf_free(&e);
    owl_buf_free(&e2);
    owl_bloom_free(&b);
    owl_bloom_free(&d);
}

Test(bloom, corrupt_forms_rejected)
{
    owl_bloom b;
    uint8_t ok[6 + 16] = {1, 4, 2, 0, 0, 0};
    cr_assert_eq(owl_bloom_decode(ok, sizeof ok, &b), OWL_OK);
    owl_bloom_free(&b);

    uint8_t v[sizeof ok];
    memcpy(v, ok, sizeof ok);
    v[0] = 3; /* version */
    cr_assert_eq(owl_bloom_decode(v, sizeof v, &b), OWL_ECORRUPT);
    v[0] = 0;
    cr_assert_eq(owl_bloom_decode(v, sizeof v, &b), OWL_ECORRUPT);
    cr_assert_null(b.words);
    memcpy(v, ok, sizeof ok);
    v[1] = 0; /* k */
    cr_assert_eq(owl_bloom_decode(v, sizeof v, &b), OWL_ECORRUPT);
    v[1] = 17;
    cr_assert_eq(owl_bloom_decode(v, sizeof v, &b), OWL_ECORRUPT);
    memcpy(v, ok, sizeof ok);
    v[2] = 0; /* zero words */
    cr_assert_eq(owl_bloom_decode(v, 6, &b), OWL_ECORRUPT);
    /* three words: not a power of two, so no version 1 filter; version 2 takes any count */
    uint8_t three[6 + 24] = {1, 4, 3, 0, 0, 0};
    cr_assert_eq(owl_bloom_decode(three, sizeof three, &b), OWL_ECORRUPT);
    three[0] = 2;
    cr_assert_eq(owl_bloom_decode(three, sizeof three, &b), OWL_OK);
    cr_assert_eq(b.nwords, 3);
    owl_bloom_free(&b);
    /* a word count whose byte size would overflow, or that exceeds the cap */
    uint8_t huge[6] = {1, 4, 0, 0, 0, 0x80};
    cr_assert_eq(owl_bloom_decode(huge, sizeof huge, &b), OWL_ECORRUPT);
    /* every truncation, and one byte too many */
    for (size_t t = 0; t < sizeof ok; t++) {
        uint8_t *c = malloc(t ? t : 1);
        memcpy(c, ok, t);
        cr_assert_eq(owl_bloom_decode(c, t, &b), OWL_ECORRUPT, "truncate %zu", t);
        free(c);
    }
    uint8_t longer[sizeof ok + 1] = {1, 4, 2, 0, 0, 0};
    cr_assert_eq(owl_bloom_decode(longer, sizeof longer, &b), OWL_ECORRUPT);
    /* every header flip decodes or fails cleanly */
    for (size_t i = 0; i < 6; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(v, ok, sizeof ok);
            v[i] ^= (uint8_t)(1u << bit);
            int rc = owl_bloom_decode(v, sizeof v, &b);
            cr_assert(rc == OWL_OK || rc == OWL_ECORRUPT);
            owl_bloom_free(&b);
        }
    }
}

/* ---- tokenizer ---- */

struct toks {
    char out[16][32];
    int n, stop_after;
};

static int collect(void *ud, const char *tok, size_t n)
{
    struct toks *t = ud;
    cr_assert_lt(t->n, 16);
    cr_assert_lt(n, 32);
    memcpy(t->out[t->n], tok, n);
    t->out[t->n][n] = '\0';
    t->n++;
    return t->stop_after && t->n == t->stop_after ? 7 : 0;
}

Test(tokenize, log_line)
{
    const char *line = "GET /api/v1 200 1.5ms user_id=42 na\xc3\xafve";
    struct toks t = {0};
    cr_assert_eq(owl_tokenize(line, strlen(line), collect, &t), 0);
    static const char *want[] = {"GET", "api", "v1", "200", "1", "5ms", "user_id", "42",
                                 "na\xc3\xafve"};
    cr_assert_eq(t.n, 9);
    for (int i = 0; i < 9; i++)
        cr_assert_str_eq(t.out[i], want[i]);
}

Test(tokenize, edges)
{
    struct toks t = {0};
    cr_assert_eq(owl_tokenize("", 0, collect, &t), 0);
    cr_assert_eq(owl_tokenize(" \t-/:=.,[]{}\"'\n", 15, collect, &t), 0);
    cr_assert_eq(t.n, 0);
    /* embedded NUL separates; case is kept; a lone high byte is a token */
    cr_assert_eq(owl_tokenize("Ab\0cD \xff", 7, collect, &t), 0);
    cr_assert_eq(t.n, 3);
    cr_assert_str_eq(t.out[0], "Ab");
    cr_assert_str_eq(t.out[1], "cD");
    cr_assert_str_eq(t.out[2], "\xff");
    /* the length bounds the scan: nothing past n is read */
    t.n = 0;
    cr_assert_eq(owl_tokenize("abc def", 5, collect, &t), 0);
    cr_assert_eq(t.n, 2);
    cr_assert_str_eq(t.out[1], "d");
    t.n = 0;
    cr_assert_eq(owl_tokenize("_x_ __", 6, collect, &t), 0);
    cr_assert_eq(t.n, 2);
    cr_assert_str_eq(t.out[0], "_x_");
}

Test(tokenize, early_stop)
{
    const char *line = "one two three four";
    struct toks t = {.stop_after = 2};
    cr_assert_eq(owl_tokenize(line, strlen(line), collect, &t), 7);
    cr_assert_eq(t.n, 2);
    cr_assert_str_eq(t.out[1], "two");
}

/* The tokens of u[0..n) both ways: owl_token_next's byte loop and the walk over
 * owl_token_masks must find the same tokens, with the same digit flags, in the same order. */
static void same_tokens(const uint8_t *u, size_t n)
{
    size_t nw = (n + 63) / 64;
    uint64_t *tok = malloc((nw ? nw : 1) * 2 * sizeof *tok);
    cr_assert(tok);
    /* bits from n on are 0, whatever the words held before */
    memset(tok, 0xa5, (nw ? nw : 1) * 2 * sizeof *tok);
    owl_token_masks(u, n, tok, tok + nw);
    owl_token_walk k;
    owl_token_walk_init(&k, tok, tok + nw, n);
    size_t i = 0, start, ws, wl, found = 0;
    unsigned digits, wd;
    while (owl_token_next(u, n, &i, &start, &digits)) {
        cr_assert(owl_token_walk_next(&k, &ws, &wl, &wd), "n %zu: the walk ended before the "
                  "token at %zu", n, start);
        cr_assert(ws == start && wl == i - start && wd == digits,
                  "n %zu: token %zu+%zu (digits %u) walked as %zu+%zu (digits %u)", n, start,
                  i - start, digits, ws, wl, wd);
        found++;
    }
    cr_assert_not(owl_token_walk_next(&k, &ws, &wl, &wd), "n %zu: the walk found a token more "
                  "at %zu after %zu", n, ws, found);
    if (nw && n % 64)
        cr_assert_eq(tok[nw - 1] >> (n % 64), 0, "n %zu: bits past the end", n);
    free(tok);
}

Test(tokenize, masks_walk_finds_what_token_next_finds)
{
    /* every byte value alone and between separators, at each offset of a 64-byte word */
    uint8_t buf[300];
    for (unsigned c = 0; c < 256; c++)
        for (size_t at = 0; at < 70; at += 7) {
            memset(buf, ' ', sizeof buf);
            buf[at] = (uint8_t)c;
            same_tokens(buf, at + 1);
            same_tokens(buf, at + 2);
        }
    /* runs of token bytes that end, start and cross word boundaries, to the last byte */
    for (size_t n = 0; n <= 260; n++) {
        memset(buf, 'a', n);
        same_tokens(buf, n);
        memset(buf, '7', n);
        same_tokens(buf, n);
        for (size_t cut = 0; cut < n; cut += 13) {
            buf[cut] = '.';
            same_tokens(buf, n);
        }
    }
    /* random text from an alphabet of every class: letters, digits, '_', separators, NUL,
     * bytes >= 0x80; lengths to 300 */
    static const uint8_t alpha[] = "aZ_09 .-:=\"/\0\x80\xc3\xa9\xffqQ5";
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(rnd() % 300);
        unsigned dense = (unsigned)(rnd() % 4);
        for (size_t i = 0; i < n; i++) {
            uint64_t r = rnd();
            /* dense rounds make long tokens and long numbers */
            buf[i] = dense == 0 ? alpha[r % (sizeof alpha - 1)]
                     : dense == 1 ? (uint8_t)(r % 13 ? '0' + r % 10 : ' ')
                     : dense == 2 ? (uint8_t)(r % 29 ? 'a' + r % 26 : ',')
                                  : (uint8_t)r;
        }
        same_tokens(buf, n);
    }
}

/* ---- throughput (printed, not asserted) ---- */

static int add_tok(void *ud, const char *tok, size_t n)
{
    owl_bloom_add(ud, tok, n);
    return 0;
}

Test(bench, tokenize_and_bloom)
{
    enum { LINES = 200000 };
    owl_bloom b;
    cr_assert_eq(owl_bloom_init(&b, LINES * 4, 0.01), OWL_OK);
    char line[160];
    size_t bytes = 0;
    int64_t t0 = owl_mono_ns();
    for (int i = 0; i < LINES; i++) {
        int n = snprintf(line, sizeof line,
                         "2024-05-01T12:00:%02d GET /api/v1/orders/%d 200 %d.%dms user_id=%d "
                         "trace=%016llx",
                         i % 60, i, i % 900, i % 10, i % 5000, (unsigned long long)rnd());
        bytes += (size_t)n;
        owl_tokenize(line, (size_t)n, add_tok, &b);
    }
    int64_t t1 = owl_mono_ns();
    printf("bench bloom: tokenize+add %.0f MB/s of log text (%.2f M lines/s)\n",
           (double)bytes / ((double)(t1 - t0) / 1e9) / 1e6,
           LINES / ((double)(t1 - t0) / 1e9) / 1e6);
    owl_bloom_free(&b);
}

/* A version 1 filter (power of two, mask probes) still answers as it was built: decoding the
 * bytes of one and querying gives no false negative, and the two probe mappings differ. */
Test(bloom, version1_still_read)
{
    owl_bloom v1 = {.words = calloc(64, 8), .nwords = 64, .k = 5, .owned = 1};
    char tok[32];
    for (int i = 0; i < 300; i++) {
        int n = snprintf(tok, sizeof tok, "item-%d", i);
        owl_bloom_add(&v1, tok, (size_t)n);
    }
    owl_buf e = OWL_BUF_INIT;
    cr_assert_eq(owl_bloom_encode(&v1, &e), OWL_OK);
    cr_assert_eq((uint8_t)e.data[0], 1);
    owl_bloom d;
    cr_assert_eq(owl_bloom_decode((const uint8_t *)e.data, e.len, &d), OWL_OK);
    cr_assert(!d.exact);
    for (int i = 0; i < 300; i++) {
        int n = snprintf(tok, sizeof tok, "item-%d", i);
        cr_assert(owl_bloom_maybe(&d, tok, (size_t)n), "false negative for %s", tok);
    }
    /* read as version 2 the same bits would miss items: the version matters */
    d.exact = 1;
    int missed = 0;
    for (int i = 0; i < 300; i++) {
        int n = snprintf(tok, sizeof tok, "item-%d", i);
        missed += !owl_bloom_maybe(&d, tok, (size_t)n);
    }
    cr_assert_gt(missed, 0);
    owl_bloom_free(&d);
    owl_bloom_free(&v1);
    owl_buf_free(&e);
}

/* Exact sizing keeps its promise: at 2% the measured false-positive rate stays near 2%. */
Test(bloom, exact_sizing_fp_rate)
{
    owl_bloom b;
    cr_assert_eq(owl_bloom_init(&b, 5000, 0.02), OWL_OK);
    char tok[32];
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(tok, sizeof tok, "in-%d", i);
        owl_bloom_add(&b, tok, (size_t)n);
    }
    int fp = 0;
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(tok, sizeof tok, "out-%d", i);
        fp += owl_bloom_maybe(&b, tok, (size_t)n);
    }
    cr_assert(fp > 1000 && fp < 3000, "false positives %d of 100000 at 2%%", fp);
    owl_bloom_free(&b);
}

/* A salt changes which bits an item sets: no item is lost under any salt, and two filters of
 * the same items with different salts give false positives on different absent items. */
Test(bloom, salts_decorrelate_false_positives)
{
    owl_bloom a, b;
    cr_assert_eq(owl_bloom_init(&a, 2000, 0.05), OWL_OK);
    cr_assert_eq(owl_bloom_init(&b, 2000, 0.05), OWL_OK);
    a.salt = 0x1234567890abcdefull;
    b.salt = 0x0fedcba987654321ull;
    char tok[32];
    for (int i = 0; i < 2000; i++) {
        int n = snprintf(tok, sizeof tok, "same-%d", i);
        owl_bloom_add(&a, tok, (size_t)n);
        owl_bloom_add(&b, tok, (size_t)n);
    }
    for (int i = 0; i < 2000; i++) {
        int n = snprintf(tok, sizeof tok, "same-%d", i);
        cr_assert(owl_bloom_maybe(&a, tok, (size_t)n) && owl_bloom_maybe(&b, tok, (size_t)n));
    }
    int fa = 0, fb = 0, both = 0;
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(tok, sizeof tok, "absent-%d", i);
        int x = owl_bloom_maybe(&a, tok, (size_t)n), y = owl_bloom_maybe(&b, tok, (size_t)n);
        fa += x, fb += y, both += x && y;
    }
    /* independent: about 5% each, about 0.25% both (the same salt would give 5% both) */
    cr_assert(fa > 3500 && fa < 6500 && fb > 3500 && fb < 6500, "fp %d and %d", fa, fb);
    cr_assert_lt(both, 600, "%d absent items pass both filters", both);
    owl_bloom_free(&a);
    owl_bloom_free(&b);
}

/* A view answers exactly as the decoded copy, reading the words in place at any alignment,
 * and refuses what decode refuses. */
Test(bloom, view_reads_in_place)
{
    owl_bloom b, d, v;
    cr_assert_eq(owl_bloom_init(&b, 700, 0.01), OWL_OK);
    b.salt = 77;
    char tok[32];
    for (int i = 0; i < 700; i++) {
        int n = snprintf(tok, sizeof tok, "w%d", i);
        owl_bloom_add(&b, tok, (size_t)n);
    }
    owl_buf e = OWL_BUF_INIT;
    cr_assert_eq(owl_bloom_encode(&b, &e), OWL_OK);
    uint8_t *odd = malloc(e.len + 3);
    memcpy(odd + 3, e.data, e.len);
    cr_assert_eq(owl_bloom_decode(odd + 3, e.len, &d), OWL_OK);
    cr_assert_eq(owl_bloom_view(odd + 3, e.len, &v), OWL_OK);
    cr_assert_null(v.words);
    d.salt = v.salt = 77;
    for (int i = 0; i < 20000; i++) {
        int n = snprintf(tok, sizeof tok, "w%d", i);
        cr_assert_eq(owl_bloom_maybe(&v, tok, (size_t)n), owl_bloom_maybe(&d, tok, (size_t)n));
        if (i < 700)
            cr_assert(owl_bloom_maybe(&v, tok, (size_t)n));
    }
    owl_bloom_add(&v, "x", 1); /* a no-op on a view */
    owl_buf e2 = OWL_BUF_INIT;
    cr_assert_eq(owl_bloom_encode(&v, &e2), OWL_OK);
    cr_assert_eq(e2.len, e.len);
    cr_assert_eq(memcmp(e2.data, e.data, e.len), 0);
    cr_assert_eq(owl_bloom_view(odd + 3, e.len - 1, &v), OWL_ECORRUPT);
    owl_bloom_free(&v); /* nothing owned: must not free the bytes */
    owl_bloom_free(&d);
    owl_bloom_free(&b);
    free(odd);
    owl_buf_free(&e);
    owl_buf_free(&e2);
}
