/* fuzz_router.c — the router's parsers on hostile input: path matching with parameters,
 * query strings, AWS query-protocol form bodies, X-Amz-Target and the Smithy CBOR path, over
 * owld's real route tables; plus the line-timestamp recogniser (common/logtime.c).
 * Input: method byte, then path, query, body and a header value separated by NUL bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/logtime.h"
#include "server/router.h"
#include "server/server.h"

static const char *const methods[] = {"GET", "POST", "DELETE", "HEAD", "PUT"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int64_t ms;
    owl_logtime_parse((const char *)data, size, 1795239096123LL, &ms);

    char *copy = malloc(size + 5);
    if (!copy)
        return 0;
    memcpy(copy, data + 1, size - 1);
    memset(copy + size - 1, 0, 6);
    char *field[4] = {copy, "", "", ""};
    size_t nf = 1;
    for (size_t i = 0; i + 1 < size && nf < 4; i++)
        if (copy[i] == '\0')
            field[nf++] = copy + i + 1;

    owl_router router;
    memset(&router, 0, sizeof router);
    owl_router_add(&router, &owl_api_routes);
    owl_router_add(&router, &owl_keys_routes);

    owl_http_header hdrs[3] = {
        {"content-type", "application/x-www-form-urlencoded"},
        {"x-amz-target", field[3]},
        {"authorization", field[3]},
    };
    owl_http_req req;
    memset(&req, 0, sizeof req);
    req.method = methods[data[0] % 5];
    req.path = field[0];
    req.query = field[1];
    req.headers = hdrs;
    req.nheaders = (data[0] & 8) ? 3 : 1;
    if ((data[0] & 16) == 0)
        req.nheaders = 0;
    owl_buf_puts(&req.body, field[2]);
    strcpy(req.request_id, "00000000-0000-4000-8000-000000000000");

    owl_http_resp resp;
    memset(&resp, 0, sizeof resp);
    owl_call call;
    memset(&call, 0, sizeof call);
    call.req = &req;
    call.resp = &resp;
    owl_match m;
    owl_error err;
    if (owl_router_match(&router, &req, &call, &m, &err) == OWL_OK) {
        call.proto = m.proto;
        owl_call_error(&call, 400, "Fuzz", "%s", field[0]);
        for (size_t i = 0; i < call.nparams; i++)
            (void)owl_call_param(&call, call.params[i].key);
    }
    char v[64];
    owl_query_param(field[1], "limit", v, sizeof v);
    owl_call_cleanup(&call);
    owl_buf_free(&req.body);
    owl_buf_free(&resp.body);
    owl_buf_free(&resp.headers);
    free(copy);
    return 0;
}
