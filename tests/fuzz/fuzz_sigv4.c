/* fuzz_sigv4.c — libFuzzer target for server/sigv4.c.
 *
 * Input: NUL-separated fields: Authorization value, path, query, body, then header
 * name/value pairs. The Authorization value goes through the parser; the message goes
 * through canonicalisation and verification with a fixed secret. Oracle: a signature computed
 * with owl_sigv4_sign over owl_sigv4_canonical_request must never be reported as a mismatch
 * by owl_sigv4_verify when the request time is unambiguous (one X-Amz-Date, no payload claim). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/sigv4.h"

#define MAX_FIELDS 40
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (n > 1 << 16)
        return 0;
    char *copy = malloc(n + 1);
    if (!copy)
        return 0;
    memcpy(copy, d, n);
    copy[n] = '\0';

    const char *field[MAX_FIELDS];
    size_t nf = 0;
    for (char *p = copy; nf < MAX_FIELDS;) {
        field[nf++] = p;
        char *z = memchr(p, '\0', (size_t)(copy + n - p));
        if (!z || z == copy + n)
            break;
        p = z + 1;
    }
    while (nf < 4)
        field[nf++] = "";

    owl_sigv4_header hdr[(MAX_FIELDS - 4) / 2];
    size_t nh = 0;
    for (size_t i = 4; i + 1 < nf; i += 2) {
        hdr[nh].name = field[i];
        hdr[nh].value = field[i + 1];
        nh++;
    }
    owl_sigv4_msg msg = {"POST", field[1], field[2], hdr, nh, field[3], strlen(field[3]), 0, 0};

    owl_sigv4_auth auth;
    owl_error err;
    if (owl_sigv4_parse_authorization(field[0], &auth, &err) != OWL_OK) {
        /* Fall back to a well-formed header signing every header name the input carries. */
        memset(&auth, 0, sizeof auth);
        strcpy(auth.access_key, "AKIDEXAMPLE");
        strcpy(auth.date, "20150830");
        strcpy(auth.region, "us-east-1");
        strcpy(auth.service, "service");
        memset(auth.signature, '0', 64);
        size_t len = 0;
        for (size_t i = 0; i < nh; i++) {
            size_t k = strlen(hdr[i].name);
            if (len + k + 2 >= sizeof auth.signed_headers)
                break;
            if (len)
                auth.signed_headers[len++] = ';';
            memcpy(auth.signed_headers + len, hdr[i].name, k);
            len += k;
        }
        auth.signed_headers[len] = '\0';
    }

    /* Pin the scope date and the clock to the request's own X-Amz-Date when it has one. */
    const char *amz = "20150830T123600Z";
    size_t n_amz = 0, n_claim = 0;
    for (size_t i = 0; i < nh; i++) {
        if (strcasecmp(hdr[i].name, "x-amz-date") == 0) {
            amz = hdr[i].value;
            n_amz++;
        }
        if (strcasecmp(hdr[i].name, "x-amz-content-sha256") == 0)
            n_claim++;
    }
    int64_t now = 1440938160;
    int pinned = n_amz == 1 && owl_time_parse_amz(amz, strlen(amz), &now) == OWL_OK;
    if (pinned)
        memcpy(auth.date, amz, 8);

    owl_buf creq = OWL_BUF_INIT, sts = OWL_BUF_INIT;
    (void)owl_sigv4_verify(&msg, &auth, SECRET, now, &err);
    if (owl_sigv4_canonical_request(&msg, &auth, &creq, &err) == OWL_OK &&
        owl_sigv4_string_to_sign(&auth, amz, creq.data, creq.len, &sts, &err) == OWL_OK &&
        owl_sigv4_sign(SECRET, &auth, sts.data, sts.len, auth.signature) == OWL_OK) {
        int rc = owl_sigv4_verify(&msg, &auth, SECRET, now, &err);
        if (pinned && n_claim == 0 && rc == OWL_ESIGNATURE)
            abort();
    }
    owl_buf_free(&creq);
    owl_buf_free(&sts);
    free(copy);
    return 0;
}
