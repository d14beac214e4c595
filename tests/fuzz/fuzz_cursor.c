/* fuzz_cursor.c — libFuzzer target for owl_scan_cursor_parse (index/scan.c), which reads the
 * audit trail's next_token from the network. Beyond crashes and sanitizer reports it checks the
 * contract: OK or EINVAL, and a token it accepts formats back to the very same text (one
 * spelling per cursor). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "index/index.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    char text[64], back[OWL_SCAN_CURSOR_TEXT];
    if (n >= sizeof text)
        return 0;
    memcpy(text, d, n);
    text[n] = '\0';
    owl_scan_cursor c;
    int rc = owl_scan_cursor_parse(text, &c);
    if (rc != OWL_OK && rc != OWL_EINVAL)
        abort();
    if (rc == OWL_OK) {
        owl_scan_cursor_format(&c, back);
        if (strcmp(back, text) != 0)
            abort();
    }
    return 0;
}
