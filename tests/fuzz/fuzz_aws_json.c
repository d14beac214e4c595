/* fuzz_aws_json.c — the action layer's JSON codec (ingest/aws_json.c) on hostile bodies.
 * Whatever decodes must re-encode to JSON that decodes to the same text again, survive the
 * trip through CBOR unchanged, and encode as XML. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "tests/fuzz/strict_doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bson_t doc = BSON_INITIALIZER, again = BSON_INITIALIZER, viacbor = BSON_INITIALIZER;
    owl_buf j1 = OWL_BUF_INIT, j2 = OWL_BUF_INIT, j3 = OWL_BUF_INIT, cb = OWL_BUF_INIT,
            xml = OWL_BUF_INIT;
    owl_error err;
    if (owl_aws_json_decode((const char *)data, size, &doc, &err) != OWL_OK)
        goto out;
    if (!bson_validate(&doc, BSON_VALIDATE_NONE, NULL))
        abort();
    if (!fuzz_strict_doc(&doc, 0))
        abort(); /* a NUL or a repeated name got through */
    owl_aws_json_encode(&doc, 0, &j1);
    if (owl_aws_json_decode(j1.data, j1.len, &again, &err) != OWL_OK)
        abort(); /* our own output must read back */
    owl_aws_json_encode(&again, 0, &j2);
    if (j1.len != j2.len || memcmp(j1.data, j2.data, j1.len) != 0)
        abort();
    owl_aws_cbor_encode(&doc, &cb);
    if (owl_aws_cbor_decode(cb.data, cb.len, &viacbor, &err) != OWL_OK)
        abort();
    owl_aws_json_encode(&viacbor, 0, &j3);
    if (j1.len != j3.len || memcmp(j1.data, j3.data, j1.len) != 0)
        abort();
    owl_aws_xml_encode("Fuzz", "urn:x", &doc, 0, "id", &xml);
out:
    bson_destroy(&doc);
    bson_destroy(&again);
    bson_destroy(&viacbor);
    owl_buf_free(&j1);
    owl_buf_free(&j2);
    owl_buf_free(&j3);
    owl_buf_free(&cb);
    owl_buf_free(&xml);
    return 0;
}
