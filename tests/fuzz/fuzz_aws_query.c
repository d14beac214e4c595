/* fuzz_aws_query.c — the action layer's query-protocol decoder (ingest/aws_query.c: form
 * parsing, list/map/nesting rules, limits) and the REST binding's URI matcher on hostile
 * input. Whatever decodes must be valid BSON, encode as XML and JSON, and its JSON must read
 * back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "tests/fuzz/strict_doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bson_t doc = BSON_INITIALIZER, again = BSON_INITIALIZER, labels = BSON_INITIALIZER;
    owl_buf xml = OWL_BUF_INIT, js = OWL_BUF_INIT;
    owl_error err;
    char *path = malloc(size + 1);
    if (!path)
        return 0;
    memcpy(path, data, size);
    path[size] = '\0';
    owl_aws_uri_match("/api/v1/keys/{id}/x/{Name}", path, &labels);
    if (owl_aws_query_decode((const char *)data, size, &doc, &err) != OWL_OK)
        goto out;
    if (!bson_validate(&doc, BSON_VALIDATE_NONE, NULL))
        abort();
    if (!fuzz_strict_doc(&doc, 0))
        abort(); /* a NUL or a repeated name got through */
    owl_aws_xml_encode("Fuzz", "urn:x", &doc, 0, "id", &xml);
    owl_aws_json_encode(&doc, 1, &js);
    if (owl_aws_json_decode(js.data, js.len, &again, &err) != OWL_OK)
        abort();
out:
    bson_destroy(&doc);
    bson_destroy(&again);
    bson_destroy(&labels);
    owl_buf_free(&xml);
    owl_buf_free(&js);
    free(path);
    return 0;
}
