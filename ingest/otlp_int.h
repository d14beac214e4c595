/* otlp_int.h — what ingest/'s OTLP decoders share (private to ingest/): one way from a
 * request body in either OTLP encoding to the unpacked protobuf-c message, so metrics
 * (otlp.c) and logs (otlp_logs.c) read JSON and protobuf by the same rules (docs/otlp.md). */
#ifndef OWL_INGEST_OTLP_INT_H
#define OWL_INGEST_OTLP_INT_H

#include <protobuf-c/protobuf-c.h>

#include "ingest/ingest.h"

/* Messages nest at most this deep (an AnyValue may hold arrays of arrays ...): checked on the
 * wire before protobuf-c's recursive unpack runs, so a crafted body cannot exhaust the stack. */
#define OTLP_MAX_DEPTH 32

/* owl_otlp_unpack — body[0..n) in encoding enc as a message of type desc: protobuf as is,
 * JSON (OTLP's mapping: camelCase or proto names, hex trace/span ids, int64 as strings or
 * numbers, enums by name or number) transcoded to the wire format through desc first. The
 * wire bytes are walked for truncation and nesting over OTLP_MAX_DEPTH before unpacking.
 * OWL_OK with *out to free with protobuf_c_message_free_unpacked(*out, NULL); OWL_EINVAL
 * (err says why, *out NULL) for a body that is not such a message. */
int owl_otlp_unpack(const ProtobufCMessageDescriptor *desc, enum owl_otlp_encoding enc,
                    const void *body, size_t n, ProtobufCMessage **out, owl_error *err);

/* owl_otlp_response — appends an Export*ServiceResponse: in JSON {} or
 * {"partialSuccess": {"<field>": "<rejected>", "errorMessage": message}} (field:
 * "rejectedLogRecords", "rejectedDataPoints", ...); in protobuf, resp packed after the caller
 * set its partial_success from rejected and message. OWL_ENOMEM. */
int owl_otlp_response(enum owl_otlp_encoding enc, const char *field, size_t rejected,
                      const char *message, const ProtobufCMessage *resp, owl_buf *out);

#endif
