/* libresil: Fernet tokens and an encrypted secrets store.
 *
 *   char key[RESIL_FERNET_KEY_B64_LEN + 1];
 *   resil_fernet_keygen(key);
 *   resil_fernet *f;
 *   const char *keys[] = {key};
 *   resil_fernet_new(keys, 1, &f);
 *   char *tok; size_t toklen;
 *   resil_fernet_encrypt(f, "hunter2", 7, &tok, &toklen);
 *   uint8_t *pt; size_t ptlen;
 *   resil_fernet_decrypt(f, tok, toklen, 0, &pt, &ptlen);
 *   resil_secret_free(pt, ptlen);       // wiped, then freed
 *   resil_free(tok);
 *   resil_fernet_free(f);               // keys wiped
 *
 * Tokens are byte-compatible with the Fernet specification
 * (github.com/fernet/spec, Spec.md) and Python's cryptography.fernet:
 * 0x80 | 64-bit big-endian Unix time | 16-byte IV | AES-128-CBC ciphertext
 * with PKCS#7 padding | HMAC-SHA256 over all of that, base64url with
 * padding.  Keys are 32 bytes (signing key, then encryption key) written as
 * 44 characters of base64url.  Decryption checks, in this order: base64url,
 * length, version, with a TTL the age and clock skew
 * (RESIL_FERNET_MAX_CLOCK_SKEW), MAC
 * (constant time), then decrypts and unpads: each bad token gets its own
 * RESIL_ETOKEN_* code.
 *
 * A resil_fernet holds one key or several (rotation, as Python's
 * MultiFernet): it encrypts with the first and decrypts with any.
 *
 * Key material is wiped (OPENSSL_cleanse) when released; plaintexts the
 * library returns must be released with resil_secret_free(), which wipes
 * them.  No function puts a key, a token's plaintext or a secret value in
 * an error message.
 *
 * Built without OpenSSL (--without-openssl), every Fernet and store
 * function returns RESIL_ENOTSUP; the strength checks, check_file,
 * write_file and the environment side of lookup still work.  Every object is safe to use from many threads. */
#ifndef RESIL_SECRETS_H
#define RESIL_SECRETS_H

#include <resil/alloc.h> /* resil_free() for tokens */
#include <resil/common.h>
#include <resil/error.h>

RESIL_BEGIN_DECLS

typedef struct resil_fernet resil_fernet;
typedef struct resil_secrets resil_secrets;

#define RESIL_FERNET_KEY_LEN 32     /* raw key bytes */
#define RESIL_FERNET_KEY_B64_LEN 44 /* base64url characters of a key */
/* Seconds a token's timestamp may be ahead of now (the spec's and
 * Python's bound). */
#define RESIL_FERNET_MAX_CLOCK_SKEW 60
/* Keys in one resil_fernet. */
#define RESIL_FERNET_MAX_KEYS 16
/* Plaintext bytes per token (tokens are meant for secrets, not files). */
#define RESIL_FERNET_MAX_PLAINTEXT (16u << 20)

/* ---- Fernet ------------------------------------------------------------- */
/* A new key from the OS random source (getrandom(2) through OpenSSL's
 * RAND_priv_bytes), written as base64url plus a NUL into out.
 * RESIL_EINVAL, RESIL_ECRYPTO. */
RESIL_API int resil_fernet_keygen(char out[RESIL_FERNET_KEY_B64_LEN + 1]);
/* A key ring from nkeys (1..RESIL_FERNET_MAX_KEYS) base64url keys; the
 * first encrypts.  Each key must decode to exactly 32 bytes: RESIL_EINVAL
 * otherwise (err says which key, by position), RESIL_ENOMEM.  err may be
 * NULL. */
RESIL_API int resil_fernet_new(const char *const *keys_b64, size_t nkeys,
                               resil_fernet **out, resil_error *err);
/* The same from raw 32-byte keys, nkeys * 32 bytes. */
RESIL_API int resil_fernet_new_raw(const uint8_t *keys, size_t nkeys, resil_fernet **out);
/* Wipes the keys.  NULL is a no-op. */
RESIL_API void resil_fernet_free(resil_fernet *f);
RESIL_API size_t resil_fernet_key_count(const resil_fernet *f);

/* Encrypt len bytes (0..RESIL_FERNET_MAX_PLAINTEXT) under the first key at
 * the current time with a random IV.  *token is NUL-terminated base64url,
 * to release with resil_free(); *toklen (may be NULL) its length.
 * RESIL_EINVAL, RESIL_ERANGE, RESIL_ECRYPTO, RESIL_ENOMEM. */
RESIL_API int resil_fernet_encrypt(resil_fernet *f, const void *pt, size_t len,
                                   char **token, size_t *toklen);
/* The same at a given Unix time and, when iv is not NULL, with that IV
 * (for test vectors; never reuse an IV in production). */
RESIL_API int resil_fernet_encrypt_at_time(resil_fernet *f, const void *pt, size_t len,
                                           int64_t unix_time, const uint8_t iv[16],
                                           char **token, size_t *toklen);
/* Decrypt a token made under any of the keys.  ttl_s > 0 rejects tokens
 * older than ttl_s seconds (RESIL_ETOKEN_EXPIRED) and tokens more than
 * RESIL_FERNET_MAX_CLOCK_SKEW seconds in the future (RESIL_ETOKEN_FUTURE);
 * with 0 no time rule applies (Python's decrypt without a ttl).  *pt (NUL-terminated for convenience, the NUL not
 * counted in *ptlen) is released with resil_secret_free(*pt, *ptlen).
 * RESIL_ETOKEN_BASE64, _SHORT, _VERSION, _MAC, _PADDING, _EXPIRED,
 * _FUTURE, RESIL_EINVAL, RESIL_ECRYPTO, RESIL_ENOMEM. */
RESIL_API int resil_fernet_decrypt(resil_fernet *f, const char *token, size_t toklen,
                                   int64_t ttl_s, uint8_t **pt, size_t *ptlen);
RESIL_API int resil_fernet_decrypt_at_time(resil_fernet *f, const char *token,
                                           size_t toklen, int64_t ttl_s, int64_t now_unix,
                                           uint8_t **pt, size_t *ptlen);
/* Python's MultiFernet.rotate: decrypt under any key (no TTL), encrypt
 * again under the first key with a fresh IV, keeping the original
 * timestamp.  Errors as decrypt and encrypt. */
RESIL_API int resil_fernet_rotate(resil_fernet *f, const char *token, size_t toklen,
                                  char **out, size_t *outlen);
/* The timestamp of a token that verifies under one of the keys (Python's
 * extract_timestamp).  Errors as decrypt, without TTL checks;
 * RESIL_ETOKEN_FUTURE for a timestamp beyond INT64_MAX. */
RESIL_API int resil_fernet_token_time(resil_fernet *f, const char *token, size_t toklen,
                                      int64_t *unix_time);

/* Wipe len bytes at p, then resil_free(p).  NULL is a no-op. */
RESIL_API void resil_secret_free(void *p, size_t len);
/* Wipe len bytes at p in a way the compiler cannot drop. */
RESIL_API void resil_secret_wipe(void *p, size_t len);

/* ---- secret strength ---------------------------------------------------- */
typedef struct resil_secret_policy {
    size_t min_len;          /* bytes; default 16 */
    size_t min_distinct;     /* distinct byte values; default 8 */
    int refuse;              /* nonzero (default): a weak secret is an error;
                                zero: accepted with a warning in err */
    const char *const *extra_placeholders; /* refused besides the built-in
                                              list ("changeme", "password",
                                              "secret", "your-api-key", ...),
                                              compared case-insensitively */
    size_t nextra;
    uint64_t reserved_[8];   /* zeroed by resil_secret_policy_init() */
} resil_secret_policy;

RESIL_API void resil_secret_policy_init(resil_secret_policy *p);
/* Judge a secret.  0 when strong.  Weak: RESIL_EWEAK when p->refuse, else
 * 0 with err->code RESIL_EWEAK and the warning in err->text.  The text
 * names the rule broken ("shorter than 16 bytes", "a known placeholder",
 * "only 3 distinct characters") and what (label, e.g. an environment
 * variable's name), never the value.  p NULL: the defaults. */
RESIL_API int resil_secret_check(const void *value, size_t len, const char *label,
                                 const resil_secret_policy *p, resil_error *err);
/* getenv(name), judged by resil_secret_check().  *value is a copy to
 * release with resil_secret_free(*value, *len).  RESIL_ENOENT when unset
 * or empty, RESIL_EWEAK, RESIL_ENOMEM. */
RESIL_API int resil_secret_from_env(const char *name, const resil_secret_policy *p,
                                    char **value, size_t *len, resil_error *err);

/* ---- the secrets store -------------------------------------------------- */
/* Two files.  The key file holds one base64url Fernet key per line, the
 * first the one that encrypts ("#" lines are comments).  The secrets file
 * holds "resil-secrets 1" on its first line, then one "NAME TOKEN" line per
 * secret, sorted by name; names are [A-Za-z0-9_.-], 1..128 bytes.
 *
 * Both must be regular files owned by the running user and not readable or
 * writable by group or others: opening refuses anything else with
 * RESIL_EPERM and a message with the fix ("run chmod 600 PATH").  Every
 * write goes to a temporary file in the same directory (mode 0600), is
 * fsync'd, renamed over the old file, and the directory fsync'd: a crash
 * leaves the old file or the new one, never a mix.  Writers in several
 * processes are serialised by an flock(2) on the secrets file's directory
 * lock file (PATH.lock); readers never need it. */
typedef struct resil_secrets_opts {
    const char *path;     /* the secrets file; required; copied */
    const char *key_path; /* the key file; required; copied */
    int create;           /* nonzero: make missing files (a new key, an
                             empty store); default 0 */
    uint64_t reserved_[8]; /* zeroed by resil_secrets_opts_init() */
} resil_secrets_opts;

RESIL_API void resil_secrets_opts_init(resil_secrets_opts *o);
/* Open (and check) both files and decrypt nothing yet.  RESIL_ENOENT for a
 * missing file without create, RESIL_EPERM, RESIL_EPARSE (err has the file
 * and line), RESIL_EINVAL, RESIL_ESYS (err has the path and strerror),
 * RESIL_ENOMEM.  err may be NULL. */
RESIL_API int resil_secrets_open(const resil_secrets_opts *o, resil_secrets **out,
                                 resil_error *err);
/* Wipes keys and cached state.  NULL is a no-op. */
RESIL_API void resil_secrets_close(resil_secrets *s);

/* The value of NAME, decrypted, to release with resil_secret_free(*value,
 * *len); NUL-terminated (not counted).  RESIL_EINVAL for a bad name,
 * RESIL_ENOENT, token errors. */
RESIL_API int resil_secrets_get(resil_secrets *s, const char *name, char **value,
                                size_t *len, resil_error *err);
/* Add or replace NAME and write the store (re-reading both files first
 * under the lock, so errors as open too).  RESIL_EINVAL for a bad name,
 * RESIL_ERANGE past RESIL_FERNET_MAX_PLAINTEXT, RESIL_ESYS, RESIL_ENOMEM.  (Strength is the caller's business:
 * resil_secret_check().) */
RESIL_API int resil_secrets_set(resil_secrets *s, const char *name, const void *value,
                                size_t len, resil_error *err);
/* RESIL_ENOENT, RESIL_ESYS, errors as open. */
RESIL_API int resil_secrets_delete(resil_secrets *s, const char *name, resil_error *err);
/* Names, sorted, in an array of pointers into one block: release the array
 * with resil_free() (*out is NULL when *n is 0).  RESIL_ENOMEM. */
RESIL_API int resil_secrets_list(resil_secrets *s, char ***out, size_t *n);
/* Re-read both files (another process wrote them).  Errors as open. */
RESIL_API int resil_secrets_reload(resil_secrets *s, resil_error *err);

/* Rotate: write the key file with new_key (NULL: a generated one) in
 * front of the old keys, re-encrypt every entry under it (timestamps
 * kept), write the store, then write the key file with only the new key.
 * Every file state along the way can be read, so a reader never fails and
 * a crash midway leaves a usable store (run rotate again to finish).
 * RESIL_EINVAL for a bad key, RESIL_ERANGE when the key file already holds
 * RESIL_FERNET_MAX_KEYS keys, token errors for an entry that does not
 * decrypt (nothing is changed then), RESIL_ESYS, RESIL_ENOMEM, errors as
 * open. */
RESIL_API int resil_secrets_rotate(resil_secrets *s, const char *new_key_b64,
                                   resil_error *err);

/* A secret for a service: the store entry NAME if s is not NULL and has
 * it, else the environment variable env_name (if not NULL), judged by p.
 * *source (may be NULL) is set to "store" or "env".  RESIL_ENOENT when
 * neither has it; other errors as above. */
RESIL_API int resil_secrets_lookup(resil_secrets *s, const char *name,
                                   const char *env_name, const resil_secret_policy *p,
                                   char **value, size_t *len, const char **source,
                                   resil_error *err);

/* Check a file the way the store does: a regular file owned by the
 * running user, no group or other bits.  0, RESIL_EPERM with the fix in
 * err, RESIL_ENOENT, RESIL_ESYS. */
RESIL_API int resil_secrets_check_file(const char *path, resil_error *err);
/* Write len bytes to path atomically with mode 0600 (temporary file,
 * fsync, rename, directory fsync).  RESIL_EINVAL, RESIL_ESYS with the path
 * in err (it allocates nothing, so never RESIL_ENOMEM). */
RESIL_API int resil_secrets_write_file(const char *path, const void *data, size_t len,
                                       resil_error *err);

RESIL_END_DECLS

#endif /* RESIL_SECRETS_H */
