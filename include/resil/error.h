/* libresil: error codes.  Functions return 0 on success or a negative
 * RESIL_E* code.  Codes are never renumbered: new ones are appended. */
#ifndef RESIL_ERROR_H
#define RESIL_ERROR_H

#include <resil/common.h>

/* X(NAME, value, message) */
#define RESIL_ERRNO_MAP(X)                                                     \
    X(EINVAL, -1, "invalid argument")                                          \
    X(ENOMEM, -2, "out of memory")                                             \
    X(EOPEN, -3, "circuit breaker is open")                                    \
    X(EPROBES, -4, "circuit breaker is half-open and all probe calls are taken") \
    X(ELIMIT, -5, "rate limit exceeded")                                       \
    X(ETIMEDOUT, -6, "deadline exceeded")                                      \
    X(EBUDGET, -7, "retry budget exhausted")                                   \
    X(EEXHAUSTED, -8, "all attempts failed")                                   \
    X(EFAILED, -9, "operation failed and is not retryable")                    \
    X(ERANGE, -10, "value out of range")                                       \
    X(EPARSE, -11, "malformed input")                                          \
    X(ESYS, -12, "system call failed")                                         \
    X(ENOENT, -13, "no such entry")                                            \
    X(EEXIST, -14, "entry already exists")                                     \
    X(EBUSY, -15, "resource busy")                                             \
    X(ECANCELED, -16, "operation canceled")                                    \
    X(EFULL, -17, "capacity exhausted")                                        \
    X(ESTATE, -18, "operation not valid in the current state")                \
    X(ENOTSUP, -19, "not supported by this build of libresil")               \
    X(ETOKEN_BASE64, -20, "token is not valid base64url")                     \
    X(ETOKEN_SHORT, -21, "token is too short or its length is invalid")       \
    X(ETOKEN_VERSION, -22, "token has an unknown version byte")               \
    X(ETOKEN_MAC, -23, "token signature does not verify (wrong key or tampered)") \
    X(ETOKEN_PADDING, -24, "token plaintext has invalid padding")            \
    X(ETOKEN_EXPIRED, -25, "token is older than its time to live")           \
    X(ETOKEN_FUTURE, -26, "token timestamp is too far in the future")        \
    X(EPERM, -27, "file has unsafe permissions or owner")                     \
    X(EWEAK, -28, "secret is too weak or a known placeholder")               \
    X(ECRYPTO, -29, "cryptographic library failure")

RESIL_BEGIN_DECLS

typedef enum resil_errno {
    RESIL_OK = 0,
#define RESIL_ERRNO_ENUM_(name, value, msg) RESIL_##name = value,
    RESIL_ERRNO_MAP(RESIL_ERRNO_ENUM_)
#undef RESIL_ERRNO_ENUM_
} resil_errno;

/* Detail for calls that can fail for many reasons (a file, a key, a
 * secret): the code, where (line and column for parsers, 0 otherwise) and
 * a message naming the object and the fix, e.g. "key file /etc/x.key is
 * readable by group or others: run chmod 600 /etc/x.key".  Messages never
 * contain secret values.  Functions that take a resil_error * accept NULL;
 * on success they set code 0 and text "" (or a warning, see secrets.h). */
#define RESIL_ERROR_TEXT_LEN 512
typedef struct resil_error {
    int code;   /* a RESIL_E* code, 0 for none */
    int line;   /* 1-based, 0 when not applicable */
    int column; /* 1-based, 0 when not applicable */
    char text[RESIL_ERROR_TEXT_LEN];
} resil_error;

/* A human-readable message for a code; never NULL, "unknown error" for codes
 * this version does not know. */
RESIL_API const char *resil_strerror(int err);
/* The code's name without the RESIL_ prefix ("EINVAL"), or "UNKNOWN". */
RESIL_API const char *resil_err_name(int err);

RESIL_END_DECLS

#endif /* RESIL_ERROR_H */
