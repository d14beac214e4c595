/* fuzz_composite.c — libFuzzer target for CloudWatch composite alarm rules
 * (analytics/composite.c): any text parses to OK or EINVAL; an error names a character
 * position inside the text (or one past its end); a parsed rule lists at most 100 distinct,
 * non-empty references that it refers to, and evaluates to 0 or 1 whatever its children's
 * states (including ones out of range). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analytics/composite.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static int state_of(void *ud, const char *name)
{
    (void)ud;
    size_t l = strlen(name);
    return l ? (int)((unsigned char)name[0] + l) % 5 - 1 : -1; /* -1..3, 3 out of range */
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (n > 12000)
        return 0;
    char *text = malloc(n + 1);
    memcpy(text, d, n);
    text[n] = '\0';
    owl_crule *r = (owl_crule *)1;
    owl_error err = {0};
    int rc = owl_crule_parse(text, &r, &err);
    if (rc != OWL_OK && rc != OWL_EINVAL)
        abort();
    if (rc == OWL_EINVAL) {
        size_t pos = 0;
        if (r || sscanf(err.msg, "at %zu:", &pos) != 1 || pos == 0 || pos > strlen(text) + 1)
            abort();
    } else {
        const char **names;
        size_t k = owl_crule_refs(r, &names);
        if (k > OWL_CRULE_REFS_MAX)
            abort();
        for (size_t i = 0; i < k; i++)
            if (!owl_crule_refers(r, names[i]) || !names[i][0])
                abort();
        int v = owl_crule_eval(r, state_of, NULL);
        if (v != 0 && v != 1)
            abort();
        owl_crule_free(r);
    }
    free(text);
    return 0;
}
