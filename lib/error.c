/* Error strings, generated from the one list in error.h. */
#include "internal.h"

const char *resil_strerror(int err)
{
    switch (err) {
    case RESIL_OK:
        return "success";
#define RESIL_ERRNO_STR_(name, value, msg)                                     \
    case value:                                                                \
        return msg;
        RESIL_ERRNO_MAP(RESIL_ERRNO_STR_)
#undef RESIL_ERRNO_STR_
    default:
        return "unknown error";
    }
}

const char *resil_err_name(int err)
{
    switch (err) {
    case RESIL_OK:
        return "OK";
#define RESIL_ERRNO_NAME_(name, value, msg)                                    \
    case value:                                                                \
        return #name;
        RESIL_ERRNO_MAP(RESIL_ERRNO_NAME_)
#undef RESIL_ERRNO_NAME_
    default:
        return "UNKNOWN";
    }
}
