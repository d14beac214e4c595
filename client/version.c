/* version.c — libowl's version and error texts: the linked library's OWL_VERSION_* (which may
 * differ from the header a program was compiled with) and owl_client_strerror over the
 * OWL_CLIENT_ERRORS table of owl/owl.h. */
#include "client_int.h"

OWL_API const char *owl_version(void)
{
    return OWL_VERSION_STRING;
}

OWL_API int owl_version_number(void)
{
    return OWL_VERSION_NUMBER;
}

OWL_API const char *owl_client_strerror(int code)
{
    switch (code) {
#define OWL_CLIENT_ERROR_TEXT(name, value, text) \
    case name:                                   \
        return text;
        OWL_CLIENT_ERRORS(OWL_CLIENT_ERROR_TEXT)
#undef OWL_CLIENT_ERROR_TEXT
    }
    return "unknown error";
}
