/* metrics_json.c — the direct reading of owl's native metrics body (POST /api/v1/metrics):
 * one pass over the JSON into datums, with no document in between.
 *
 * It takes the shapes clients send in bulk and leaves everything else to the general path
 * (JSON decoded to a document, then read field by field), which answers every error: any key
 * or type it does not expect, a string with an escape, a control character or a byte past
 * ASCII, a duplicated key, a field name over the decoder's limit, a number the decoder
 * refuses (numbers are read by the decoder's own reader, owl__json_number), anything after
 * the closing brace. So for every body it accepts, the datums are those the general path
 * would read, and for every other body the answer is the general path's. */
#include <stdlib.h>
#include <string.h>

#include "ingest/aws_int.h"

#define NATIVE_FALLBACK OWL_EUNSUPPORTED

typedef struct rd {
    const char *s, *end;
    char *str;      /* next free byte of the string copies */
    owl_native_metrics *m;
    size_t cap_d, cap_v, cap_e;
} rd;

static void ws(rd *r)
{
    while (r->s < r->end && (*r->s == ' ' || *r->s == '\n' || *r->s == '\r' || *r->s == '\t'))
        r->s++;
}

static int lit(rd *r, char c)
{
    ws(r);
    if (r->s < r->end && *r->s == c) {
        r->s++;
        return 1;
    }
    return 0;
}

/* A string of printable ASCII without escapes, copied NUL-terminated; NULL otherwise. */
static const char *string(rd *r)
{
    ws(r);
    if (r->s >= r->end || *r->s != '"')
        return NULL;
    const char *p = ++r->s;
    while (p < r->end && *p != '"') {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c >= 0x7f || c == '\\')
            return NULL;
        p++;
    }
    if (p >= r->end)
        return NULL;
    size_t n = (size_t)(p - r->s);
    char *out = r->str;
    memcpy(out, r->s, n);
    out[n] = '\0';
    r->str += n + 1;
    r->s = p + 1;
    return out;
}

/* A JSON number as the general decoder reads it; anything it refuses: the general path. */
static int number(rd *r, int *is_int, int64_t *iv, double *dv)
{
    ws(r);
    owl__json_num v;
    size_t used;
    if (owl__json_number(r->s, (size_t)(r->end - r->s), &used, &v))
        return NATIVE_FALLBACK;
    r->s += used;
    *is_int = v.is_int;
    *iv = v.i;
    *dv = v.d;
    return OWL_OK;
}

/* A timestamp as the general path takes one: any number, as a double, cut to an integer. */
static int timestamp(rd *r, int64_t *t)
{
    int is_int;
    int64_t iv;
    double dv;
    int rc = number(r, &is_int, &iv, &dv);
    if (rc == OWL_OK)
        *t = is_int ? (int64_t)(double)iv : (int64_t)dv;
    return rc;
}

static int value(rd *r, double *v)
{
    int is_int;
    int64_t iv;
    int rc = number(r, &is_int, &iv, v);
    if (rc == OWL_OK && is_int)
        *v = (double)iv;
    return rc;
}

static owl_datum *new_datum(rd *r)
{
    owl_native_metrics *m = r->m;
    return m->n < r->cap_d ? &m->d[m->n++] : NULL;
}

static double *new_value(rd *r)
{
    owl_native_metrics *m = r->m;
    return m->nvals < r->cap_v ? &m->vals[m->nvals++] : NULL;
}

enum { K_NS = 1, K_NAME = 2, K_UNIT = 4, K_RES = 8, K_DIMS = 16, K_TSS = 32, K_VALS = 64,
       K_TS = 128, K_VAL = 256 };

static int key_bit(const char *k)
{
    static const char *const names[] = {"namespace", "name", "unit", "resolution", "dimensions",
                                        "timestamps", "values", "timestamp", "value"};
    for (int i = 0; i < 9; i++)
        if (strcmp(k, names[i]) == 0)
            return 1 << i;
    return 0;
}

/* One entry of metrics[]: its datums appended. */
static int entry(rd *r, int64_t now_ms)
{
    owl_native_metrics *m = r->m;
    owl_datum base = {.time_ms = now_ms};
    owl_dim *dims = m->dims + m->nentries * (OWL_METRIC_MAX_DIMS + 1);
    size_t first = m->n, vfirst = m->nvals, ntimes = 0, nvals = 0;
    int seen = 0;
    double single = 0;
    if (m->nentries >= r->cap_e || !lit(r, '{'))
        return NATIVE_FALLBACK;
    m->nentries++;
    if (lit(r, '}'))
        return NATIVE_FALLBACK; /* no namespace: the general path's error */
    do {
        const char *k = string(r);
        int bit = k ? key_bit(k) : 0;
        if (!bit || (seen & bit) || !lit(r, ':'))
            return NATIVE_FALLBACK;
        seen |= bit;
        int rc = OWL_OK;
        switch (bit) {
        case K_NS:
            rc = (base.id.ns = string(r)) ? OWL_OK : NATIVE_FALLBACK;
            break;
        case K_NAME:
            rc = (base.id.name = string(r)) ? OWL_OK : NATIVE_FALLBACK;
            break;
        case K_UNIT:
            rc = (base.unit = string(r)) ? OWL_OK : NATIVE_FALLBACK;
            break;
        case K_RES: {
            int is_int;
            int64_t iv;
            double dv;
            rc = number(r, &is_int, &iv, &dv);
            if (rc == OWL_OK && !is_int)
                rc = NATIVE_FALLBACK;
            base.resolution = iv < 0 || iv > 1000000 ? 2 : (int)iv;
            break;
        }
        case K_DIMS:
            if (!lit(r, '{'))
                return NATIVE_FALLBACK;
            if (lit(r, '}'))
                break;
            do {
                const char *dn = string(r), *dv;
                if (!dn || strlen(dn) > OWL_AWS_MAX_KEY || !lit(r, ':') || !(dv = string(r)) ||
                    base.id.ndims == OWL_METRIC_MAX_DIMS)
                    return NATIVE_FALLBACK;
                for (size_t j = 0; j < base.id.ndims; j++)
                    if (strcmp(dims[j].name, dn) == 0)
                        return NATIVE_FALLBACK; /* a duplicated key */
                dims[base.id.ndims++] = (owl_dim){dn, dv};
            } while (lit(r, ','));
            if (!lit(r, '}'))
                return NATIVE_FALLBACK;
            break;
        case K_TSS: /* a datum a timestamp; values fill in after */
            if (!lit(r, '['))
                return NATIVE_FALLBACK;
            if (lit(r, ']'))
                return NATIVE_FALLBACK;
            do {
                owl_datum *x = new_datum(r);
                if (!x)
                    return NATIVE_FALLBACK;
                if ((rc = timestamp(r, &x->time_ms)) != OWL_OK)
                    return rc;
                ntimes++;
            } while (lit(r, ','));
            if (!lit(r, ']'))
                return NATIVE_FALLBACK;
            break;
        case K_VALS:
            if (!lit(r, '['))
                return NATIVE_FALLBACK;
            if (lit(r, ']'))
                return NATIVE_FALLBACK;
            do {
                double *v = new_value(r);
                if (!v)
                    return NATIVE_FALLBACK;
                if ((rc = value(r, v)) != OWL_OK)
                    return rc;
                nvals++;
            } while (lit(r, ','));
            if (!lit(r, ']'))
                return NATIVE_FALLBACK;
            break;
        case K_TS:
            rc = timestamp(r, &base.time_ms);
            break;
        case K_VAL:
            rc = value(r, &single);
            break;
        }
        if (rc != OWL_OK)
            return rc;
    } while (lit(r, ','));
    if (!lit(r, '}') || !(seen & K_NS) || !(seen & K_NAME))
        return NATIVE_FALLBACK;
    base.id.dims = dims;
    if (seen & K_TSS) { /* the bulk form: timestamps and values of one length, nothing else */
        if ((seen & (K_TS | K_VAL)) || !(seen & K_VALS) || ntimes != nvals)
            return NATIVE_FALLBACK;
        for (size_t i = 0; i < ntimes; i++) {
            owl_datum *x = &m->d[first + i];
            int64_t t = x->time_ms;
            *x = base;
            x->time_ms = t;
            x->values = &m->vals[vfirst + i];
            x->nvalues = 1;
        }
        return OWL_OK;
    }
    if (!(seen & K_VAL) || (seen & K_VALS)) /* values alone: the general path */
        return NATIVE_FALLBACK;
    owl_datum *x = new_datum(r);
    double *v = new_value(r);
    if (!x || !v)
        return NATIVE_FALLBACK;
    *v = single;
    *x = base;
    x->values = v;
    x->nvalues = 1;
    return OWL_OK;
}

int owl_native_metrics_parse(const char *body, size_t len, size_t max_points, int64_t now_ms,
                             owl_native_metrics *out)
{
    memset(out, 0, sizeof *out);
    /* room for everything the body could hold: a datum and a value per comma (plus one), an
     * entry per brace, the strings in no more bytes than the body */
    size_t commas = 1, braces = 1;
    for (size_t i = 0; i < len; i++) {
        commas += body[i] == ',';
        braces += body[i] == '{';
    }
    rd r = {.s = body, .end = body + len, .m = out, .cap_d = commas + 1, .cap_v = commas + 1,
            .cap_e = braces};
    out->d = malloc(r.cap_d * sizeof *out->d);
    out->vals = malloc(r.cap_v * sizeof *out->vals);
    out->dims = malloc(r.cap_e * (OWL_METRIC_MAX_DIMS + 1) * sizeof *out->dims);
    out->strs = malloc(len + 1);
    if (!out->d || !out->vals || !out->dims || !out->strs) {
        owl_native_metrics_free(out);
        return OWL_ENOMEM;
    }
    r.str = out->strs;
    int rc = NATIVE_FALLBACK;
    const char *k;
    if (lit(&r, '{') && (k = string(&r)) && strcmp(k, "metrics") == 0 && lit(&r, ':') &&
        lit(&r, '[') && !lit(&r, ']')) {
        do
            rc = entry(&r, now_ms);
        while (rc == OWL_OK && lit(&r, ','));
        if (rc == OWL_OK && !(lit(&r, ']') && lit(&r, '}')))
            rc = NATIVE_FALLBACK;
        ws(&r);
        if (rc == OWL_OK && (r.s != r.end || out->n > max_points))
            rc = NATIVE_FALLBACK;
    }
    if (rc != OWL_OK)
        owl_native_metrics_free(out);
    return rc;
}

void owl_native_metrics_free(owl_native_metrics *m)
{
    free(m->d);
    free(m->vals);
    free(m->dims);
    free(m->strs);
    memset(m, 0, sizeof *m);
}
