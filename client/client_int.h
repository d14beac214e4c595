/* client_int.h — what libowl's files share and do not export (docs/client.md). client/ is
 * self-contained C11 + libc: it includes nothing of the server's folders. Public functions
 * (declared in owl/owl.h) carry OWL_API on their definitions, as the library is built with
 * -fvisibility=hidden; functions shared between client files are owl__-prefixed here. */
#ifndef OWL_CLIENT_INT_H
#define OWL_CLIENT_INT_H

#include "owl/owl.h"

#define OWL_API __attribute__((visibility("default")))

#endif
