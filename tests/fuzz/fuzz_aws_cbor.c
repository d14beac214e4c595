/* fuzz_aws_cbor.c — the action layer's RPC v2 CBOR codec (ingest/aws_cbor.c, libcbor's
 * streaming decoder) on hostile bodies. Whatever decodes must encode to CBOR that decodes
 * and re-encodes to the same bytes, and encode as JSON and XML. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "tests/fuzz/strict_doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bson_t doc = BSON_INITIALIZER, again = BSON_INITIALIZER;
    owl_buf c1 = OWL_BUF_INIT, c2 = OWL_BUF_INIT, js = OWL_BUF_INIT, xml = OWL_BUF_INIT;
    owl_error err;
    if (owl_aws_cbor_decode(data, size, &doc, &err) != OWL_OK)
        goto out;
    if (!bson_validate(&doc, BSON_VALIDATE_NONE, NULL))
        abort();
    if (!fuzz_strict_doc(&doc, 0))
        abort(); /* a NUL or a repeated name got through */
    owl_aws_cbor_encode(&doc, &c1);
    if (owl_aws_cbor_decode(c1.data, c1.len, &again, &err) != OWL_OK)
        abort(); /* our own output must read back */
    owl_aws_cbor_encode(&again, &c2);
    if (c1.len != c2.len || memcmp(c1.data, c2.data, c1.len) != 0)
        abort();
    owl_aws_json_encode(&doc, 0, &js);
    owl_aws_xml_encode("Fuzz", NULL, &doc, 0, "id", &xml);
out:
    bson_destroy(&doc);
    bson_destroy(&again);
    owl_buf_free(&c1);
    owl_buf_free(&c2);
    owl_buf_free(&js);
    owl_buf_free(&xml);
    return 0;
}
