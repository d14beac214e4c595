/* client_renamed.h — client/client_int.h for a test that also includes the server's headers:
 * owl/owl.h and common/log.h (through ingest/ingest.h) both name a type owl_span, an enum
 * owl_span_kind, a function owl_log and its levels, so the client's are renamed here to
 * owl_client_span, owl_client_span_kind, owl_client_log and OWL_CLIENT_LOG_*. Include it
 * before the server's headers. */
#ifndef OWL_TEST_CLIENT_RENAMED_H
#define OWL_TEST_CLIENT_RENAMED_H

#define owl_span owl_client_span
#define owl_span_kind owl_client_span_kind
#define owl_log owl_client_log
#define OWL_LOG_DEBUG OWL_CLIENT_LOG_DEBUG
#define OWL_LOG_INFO OWL_CLIENT_LOG_INFO
#define OWL_LOG_WARN OWL_CLIENT_LOG_WARN
#define OWL_LOG_ERROR OWL_CLIENT_LOG_ERROR
#include "client/client_int.h"
#undef owl_span
#undef owl_span_kind
#undef owl_log
#undef OWL_LOG_DEBUG
#undef OWL_LOG_INFO
#undef OWL_LOG_WARN
#undef OWL_LOG_ERROR

#endif
