/* err.c — tables behind owl_strerror/owl_errname and the owl_error helpers. */
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

const char *owl_strerror(int code)
{
    switch (code) {
    case OWL_OK:
        return "success";
#define OWL__ERR_TEXT(name, c, text) \
    case c:                          \
        return text;
        OWL_ERRORS(OWL__ERR_TEXT)
#undef OWL__ERR_TEXT
    }
    return "unknown error";
}

const char *owl_errname(int code)
{
    switch (code) {
    case OWL_OK:
        return "OK";
#define OWL__ERR_NAME(name, c, text) \
    case c:                          \
        return #name;
        OWL_ERRORS(OWL__ERR_NAME)
#undef OWL__ERR_NAME
    }
    return "UNKNOWN";
}

int owl_error_set(owl_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void owl_error_clear(owl_error *err)
{
    if (err) {
        err->code = OWL_OK;
        err->msg[0] = '\0';
    }
}

int owl_err_from_errno(int errnum)
{
    switch (errnum) {
    case 0:
        return OWL_OK;
    case ENOMEM:
        return OWL_ENOMEM;
    case ENOSPC:
    case EDQUOT:
        return OWL_ENOSPC;
    case ENOENT:
        return OWL_ENOTFOUND;
    case EEXIST:
        return OWL_EEXISTS;
    case EACCES:
    case EPERM:
        return OWL_EDENIED;
    case EAGAIN:
        return OWL_EAGAIN;
    case EINVAL:
        return OWL_EINVAL;
    case ETIMEDOUT:
        return OWL_ETIMEOUT;
    default:
        return OWL_EIO;
    }
}
