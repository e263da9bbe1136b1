/* libresil internals of the secrets module (Fernet, the store, the strength
 * policy, the audit); not installed. */
#ifndef RESIL_LIB_SECRETS_INTERNAL_H
#define RESIL_LIB_SECRETS_INTERNAL_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>

/* ---- base64url (lib/base64url.c) ------------------------------------------
 * RFC 4648 section 5 ("-" and "_" for "+" and "/") with "=" padding, the
 * form Fernet keys and tokens use.  Both directions run in time that depends
 * on the length only, not on the bytes, because keys go through them. */

/* Characters encode writes for n bytes (the NUL not counted), or SIZE_MAX
 * when that would not fit in a size_t. */
size_t resil__b64url_encoded_len(size_t n);
/* Write the encoding of in[0..n) and a NUL to out, which must have room for
 * resil__b64url_encoded_len(n) + 1 characters; returns the length. */
size_t resil__b64url_encode(const uint8_t *in, size_t n, char *out);

/* Bytes decode may write for len characters (an upper bound). */
static inline size_t resil__b64url_decoded_max(size_t len)
{
    return len / 4 * 3;
}
/* Decode exactly the canonical encoding, as strict as a careful reader of
 * RFC 4648 is: len a multiple of 4; only A-Z a-z 0-9 - _; "=" only as the
 * last one or two characters; the unused low bits of the last character
 * zero.  (Python's base64.urlsafe_b64decode also insists on the padding but
 * skips characters outside the alphabet and ignores the unused bits: every
 * string this accepts it accepts with the same bytes, never the reverse.)
 * out needs resil__b64url_decoded_max(len) bytes; *outlen gets the count.
 * 0, or RESIL_EPARSE, after which out holds garbage (wipe it if it may hold
 * part of a key). */
int resil__b64url_decode(const char *in, size_t len, uint8_t *out, size_t *outlen);

#endif

/* store */
/* ---- the store, the strength policy and the audit ------------------------
 * (lib/secret_policy.c, lib/secrets_file.c, lib/secrets_store.c,
 * lib/audit.c) */
#ifndef RESIL_LIB_SECRETS_STORE_INTERNAL_H
#define RESIL_LIB_SECRETS_STORE_INTERNAL_H

#include "internal.h"

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

/* Fill err (may be NULL) with a code, a line (0: none) and a message. */
void resil__secret_err(resil_error *err, int code, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void resil__secret_err_clear(resil_error *err);

/* The first strength rule a value breaks (secret_policy.c). */
typedef enum resil__secret_rule {
    RESIL__SECRET_OK = 0,
    RESIL__SECRET_EMPTY,
    RESIL__SECRET_PLACEHOLDER,
    RESIL__SECRET_REPEATED,
    RESIL__SECRET_SHORT,
    RESIL__SECRET_FEW_DISTINCT,
} resil__secret_rule;
/* 0, or RESIL_EINVAL for extra placeholders that are NULL. */
int resil__secret_policy_valid(const resil_secret_policy *p);
/* p must be valid (resil__secret_policy_valid). */
resil__secret_rule resil__secret_judge(const void *value, size_t len,
                                       const resil_secret_policy *p, size_t *distinct);
/* "LABEL is a known placeholder, not a secret", without the value. */
void resil__secret_describe(resil__secret_rule rule, const char *label,
                            const resil_secret_policy *p, size_t distinct,
                            char *buf, size_t size);

/* Files (secrets_file.c).  Store files are at most this large. */
#define RESIL__SF_MAX_SIZE ((size_t)16 << 20)
/* What is wrong with a file the store would read, as bits. */
enum {
    RESIL__SF_SYMLINK = 1u << 0,
    RESIL__SF_NOT_REGULAR = 1u << 1,
    RESIL__SF_OWNER = 1u << 2,
    RESIL__SF_MODE = 1u << 3,
};
unsigned resil__sf_problems(const struct stat *st, uid_t euid);
/* "readable by group or others", "writable by group or others", ... */
const char *resil__sf_mode_words(mode_t mode);
/* Read a whole store file ("key file", "secrets file") through an fd opened
 * with O_NOFOLLOW and checked with fstat.  *buf is NUL-terminated, *len
 * excludes the NUL; release with resil_secret_free(*buf, *len + 1).  *id
 * (may be NULL) gets the opened file's identity.  RESIL_ENOENT,
 * RESIL_EPERM, RESIL_EPARSE (too large), RESIL_ESYS, RESIL_ENOMEM. */
typedef struct resil__sf_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
} resil__sf_id;
int resil__sf_read(const char *path, const char *what, char **buf, size_t *len,
                   resil__sf_id *id, resil_error *err);
/* The identity of path now (lstat); 0 or -1. */
int resil__sf_stat_id(const char *path, resil__sf_id *id);
bool resil__sf_id_eq(const resil__sf_id *a, const resil__sf_id *b);
/* Atomic replace (temporary file, fsync, rename, directory fsync). */
int resil__sf_write(const char *path, const char *what, const void *data, size_t len,
                    resil_error *err);
/* Take / drop the writers' flock on PATH.lock. */
int resil__sf_lock(const char *path, int *fd, resil_error *err);
void resil__sf_unlock(int fd);

/* The formats.  A secrets file: RESIL__SF_HEADER, then "NAME TOKEN" lines. */
#define RESIL__SF_HEADER "resil-secrets 1"
#define RESIL__SF_NAME_MAX 128
bool resil__sf_name_ok(const char *s, size_t len);
/* 44 base64url characters decoding to a 32-byte Fernet key. */
bool resil__sf_key_ok(const char *s, size_t len);

/* A key file read and parsed in place ("#" comments and blank lines
 * skipped, keys in file order).  Release with resil__sf_keyring_free. */
typedef struct resil__sf_keyring {
    char *buf;
    size_t buflen;
    const char *keys[RESIL_FERNET_MAX_KEYS];
    size_t n;
} resil__sf_keyring;
int resil__sf_read_keys(const char *path, resil__sf_keyring *kr, resil__sf_id *id,
                        resil_error *err);
void resil__sf_keyring_free(resil__sf_keyring *kr);

/* One "NAME TOKEN" line of a secrets file, pointing into its buffer. */
typedef struct resil__sf_entry {
    const char *name;
    const char *token;
    size_t toklen;
    int line;
} resil__sf_entry;
/* Lines in buf: an upper bound on the entries a parse can produce. */
size_t resil__sf_count_lines(const char *buf, size_t len);
/* Parse a secrets file in place (NULs written) into e (cap entries),
 * sorted by name.  RESIL_EPARSE with the line in err. */
int resil__sf_parse_secrets(char *buf, size_t len, const char *path, resil__sf_entry *e,
                            size_t cap, size_t *n, resil_error *err);

#endif /* RESIL_LIB_SECRETS_STORE_INTERNAL_H */
