/* Fernet tokens (github.com/fernet/spec, Spec.md), byte-compatible with
 * Python's cryptography.fernet (Fernet and MultiFernet):
 *
 *   0x80 | timestamp, 8 bytes big-endian | IV, 16 bytes |
 *   AES-128-CBC ciphertext of the PKCS#7-padded plaintext |
 *   HMAC-SHA256 over everything before it, 32 bytes
 *
 * base64url-encoded with padding.  A key is 32 bytes: the first 16 sign, the
 * last 16 encrypt.
 *
 * Checks on a token, in this order, each with its own code: base64url
 * (RESIL_ETOKEN_BASE64), length (_SHORT), version (_VERSION), then, only
 * when a TTL is given, age (_EXPIRED) and clock skew (_FUTURE), then the
 * MAC (_MAC), then the padding (_PADDING).  The time checks follow Python
 * exactly (cryptography/fernet.py, _decrypt_data): they run only when the
 * caller passes a TTL, a token is expired when timestamp + ttl < now and
 * from the future when now + 60 < timestamp.  Python rejects every bad
 * token with the one InvalidToken, so the order among the checks before
 * the MAC changes which code a caller sees, never whether a token passes.
 *
 * Thread safety: a resil_fernet never changes after it is made.  It holds
 * the HMAC and AES-128-CBC implementations fetched once (crypto(7),
 * "Performance": explicit fetching, instead of a lookup on every call);
 * fetched algorithms are reference-counted and not modified by use, so any
 * number of threads may share them (openssl-threads(7)).  Each call makes
 * its own EVP_MAC_CTX and EVP_CIPHER_CTX and frees them before it returns,
 * so no context is ever shared. */
#include "config.h"

#include "secrets_internal.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#ifdef RESIL_HAVE_OPENSSL

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#define FERNET_VERSION 0x80
#define TS_OFF 1
#define IV_OFF 9
#define IV_LEN 16
#define HDR_LEN 25 /* version, timestamp, IV */
#define BLOCK 16
#define MAC_LEN 32
#define HALF_KEY 16 /* signing key, then encryption key */
/* The shortest token carries one block (the padding of an empty
 * plaintext); the longest one block more than the longest plaintext. */
#define MIN_RAW ((size_t)HDR_LEN + BLOCK + MAC_LEN)
#define MAX_RAW                                                                          \
    ((size_t)HDR_LEN + RESIL_FERNET_MAX_PLAINTEXT / BLOCK * BLOCK + BLOCK + MAC_LEN)
#define MAX_TOKEN ((MAX_RAW + 2) / 3 * 4)

struct resil_fernet {
    EVP_MAC *hmac;
    EVP_CIPHER *aes;
    size_t nkeys;
    uint8_t keys[RESIL_FERNET_MAX_KEYS][RESIL_FERNET_KEY_LEN];
};

__attribute__((format(printf, 3, 4))) static void set_err(resil_error *err, int code,
                                                          const char *fmt, ...)
{
    if (!err)
        return;
    err->code = code;
    err->line = 0;
    err->column = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* ---- keys ---------------------------------------------------------------- */

int resil_fernet_keygen(char out[RESIL_FERNET_KEY_B64_LEN + 1])
{
    if (!out)
        return RESIL_EINVAL;
    uint8_t raw[RESIL_FERNET_KEY_LEN];
    int rc = 0;
    /* The private DRBG: key material never comes from the generator that
     * also makes public values such as IVs (RAND_priv_bytes(3)). */
    if (RAND_priv_bytes(raw, sizeof raw) == 1)
        resil__b64url_encode(raw, sizeof raw, out);
    else
        rc = RESIL_ECRYPTO;
    OPENSSL_cleanse(raw, sizeof raw);
    if (rc != 0)
        out[0] = '\0';
    return rc;
}

/* One key, named by its 1-based position in messages (never its value). */
static int decode_key(const char *b64, size_t pos, uint8_t out[RESIL_FERNET_KEY_LEN],
                      resil_error *err)
{
    if (!b64) {
        set_err(err, RESIL_EINVAL, "key %zu is NULL", pos);
        return RESIL_EINVAL;
    }
    size_t len = 0;
    while (len <= RESIL_FERNET_KEY_B64_LEN && b64[len] != '\0')
        len++;
    if (len != RESIL_FERNET_KEY_B64_LEN) {
        if (len > RESIL_FERNET_KEY_B64_LEN)
            set_err(err, RESIL_EINVAL,
                    "key %zu is longer than 44 characters: a Fernet "
                    "key is 44 characters of base64url",
                    pos);
        else
            set_err(err, RESIL_EINVAL,
                    "key %zu is %zu characters long: a Fernet key is "
                    "44 characters of base64url",
                    pos, len);
        return RESIL_EINVAL;
    }
    uint8_t tmp[RESIL_FERNET_KEY_B64_LEN / 4 * 3];
    size_t n = 0;
    int rc = resil__b64url_decode(b64, len, tmp, &n);
    if (rc != 0)
        set_err(err, RESIL_EINVAL, "key %zu is not canonical base64url", pos);
    else if (n != RESIL_FERNET_KEY_LEN)
        set_err(err, RESIL_EINVAL, "key %zu decodes to %zu bytes, not 32", pos, n);
    else
        memcpy(out, tmp, RESIL_FERNET_KEY_LEN);
    OPENSSL_cleanse(tmp, sizeof tmp);
    return rc == 0 && n == RESIL_FERNET_KEY_LEN ? 0 : RESIL_EINVAL;
}

int resil_fernet_new(const char *const *keys_b64, size_t nkeys, resil_fernet **out,
                     resil_error *err)
{
    if (out)
        *out = NULL;
    set_err(err, 0, "%s", "");
    if (!out || !keys_b64) {
        set_err(err, RESIL_EINVAL, "%s is NULL", out ? "keys_b64" : "out");
        return RESIL_EINVAL;
    }
    if (nkeys == 0 || nkeys > RESIL_FERNET_MAX_KEYS) {
        set_err(err, RESIL_EINVAL, "%zu keys: a key ring holds 1 to %d", nkeys,
                RESIL_FERNET_MAX_KEYS);
        return RESIL_EINVAL;
    }
    uint8_t raw[RESIL_FERNET_MAX_KEYS * RESIL_FERNET_KEY_LEN];
    int rc = 0;
    for (size_t i = 0; i < nkeys && rc == 0; i++)
        rc = decode_key(keys_b64[i], i + 1, raw + i * RESIL_FERNET_KEY_LEN, err);
    if (rc == 0)
        rc = resil_fernet_new_raw(raw, nkeys, out);
    if (rc == RESIL_ENOMEM || rc == RESIL_ECRYPTO)
        set_err(err, rc, "cannot make the key ring: %s", resil_strerror(rc));
    OPENSSL_cleanse(raw, sizeof raw);
    return rc;
}

int resil_fernet_new_raw(const uint8_t *keys, size_t nkeys, resil_fernet **out)
{
    if (out)
        *out = NULL;
    if (!out || !keys || nkeys == 0 || nkeys > RESIL_FERNET_MAX_KEYS)
        return RESIL_EINVAL;
    resil_fernet *f = resil__calloc(1, sizeof *f);
    if (!f)
        return RESIL_ENOMEM;
    f->nkeys = nkeys;
    memcpy(f->keys, keys, nkeys * RESIL_FERNET_KEY_LEN);
    f->hmac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
    f->aes = EVP_CIPHER_fetch(NULL, "AES-128-CBC", NULL);
    if (!f->hmac || !f->aes) {
        resil_fernet_free(f);
        return RESIL_ECRYPTO;
    }
    *out = f;
    return 0;
}

void resil_fernet_free(resil_fernet *f)
{
    if (!f)
        return;
    OPENSSL_cleanse(f->keys, sizeof f->keys);
    EVP_MAC_free(f->hmac);
    EVP_CIPHER_free(f->aes);
    resil__free(f);
}

size_t resil_fernet_key_count(const resil_fernet *f)
{
    return f ? f->nkeys : 0;
}

/* ---- primitives ----------------------------------------------------------- */

static int hmac_sha256(const resil_fernet *f, const uint8_t *key, const uint8_t *data,
                       size_t n, uint8_t tag[MAC_LEN])
{
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(f->hmac);
    if (!ctx)
        return RESIL_ECRYPTO;
    size_t taglen = 0;
    bool ok = EVP_MAC_init(ctx, key, HALF_KEY, params) == 1 &&
              EVP_MAC_update(ctx, data, n) == 1 &&
              EVP_MAC_final(ctx, tag, &taglen, MAC_LEN) == 1 && taglen == MAC_LEN;
    EVP_MAC_CTX_free(ctx); /* cleanses the keyed state */
    return ok ? 0 : RESIL_ECRYPTO;
}

/* AES-128-CBC over n bytes (a multiple of the block), in place when
 * in == out.  OpenSSL's padding is off: we pad ourselves, so that a bad
 * padding (a token's fault, RESIL_ETOKEN_PADDING) is told apart from a
 * failing library (RESIL_ECRYPTO), which EVP_DecryptFinal_ex reports
 * alike. */
static int aes_cbc(const resil_fernet *f, int enc, const uint8_t *key, const uint8_t *iv,
                   const uint8_t *in, size_t n, uint8_t *out)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return RESIL_ECRYPTO;
    int outl = 0;
    int finl = 0;
    bool ok = EVP_CipherInit_ex2(ctx, f->aes, key, iv, enc, NULL) == 1 &&
              EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
              EVP_CipherUpdate(ctx, out, &outl, in, (int)n) == 1 &&
              EVP_CipherFinal_ex(ctx, out + outl, &finl) == 1 &&
              (size_t)outl + (size_t)finl == n;
    EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
    return ok ? 0 : RESIL_ECRYPTO;
}

/* PKCS#7: the last byte p is 1..16 and the last p bytes all equal p.  Every
 * byte of the last block is looked at whatever p is.  (The MAC has been
 * verified by now, so there is no padding oracle to guard against; this
 * only keeps the time independent of the plaintext.) */
static int unpad(const uint8_t *buf, size_t n, size_t *len)
{
    unsigned pad = buf[n - 1];
    unsigned bad = (unsigned)(pad == 0) | (unsigned)(pad > BLOCK);
    for (unsigned i = 1; i <= BLOCK; i++) {
        unsigned in_pad = (unsigned)(i <= pad);
        bad |= in_pad & (unsigned)(buf[n - i] != pad);
    }
    if (bad)
        return RESIL_ETOKEN_PADDING;
    *len = n - pad;
    return 0;
}

/* ---- encrypting ----------------------------------------------------------- */

/* The token for len bytes at pt under the first key.  The plaintext is
 * copied into the token buffer and encrypted in place, so no other copy of
 * it exists; the buffer is wiped before it is freed either way. */
static int seal(const resil_fernet *f, const void *pt, size_t len, uint64_t ts,
                const uint8_t *iv, char **token, size_t *toklen)
{
    size_t padded = len / BLOCK * BLOCK + BLOCK;
    size_t n = HDR_LEN + padded + MAC_LEN;
    uint8_t *raw = resil__malloc(n);
    if (!raw)
        return RESIL_ENOMEM;
    int rc = 0;
    raw[0] = FERNET_VERSION;
    put_be64(raw + TS_OFF, ts);
    if (iv)
        memcpy(raw + IV_OFF, iv, IV_LEN);
    else if (RAND_bytes(raw + IV_OFF, IV_LEN) != 1)
        rc = RESIL_ECRYPTO;
    if (rc != 0)
        goto out_free_raw;
    if (len > 0)
        memcpy(raw + HDR_LEN, pt, len);
    memset(raw + HDR_LEN + len, (int)(padded - len), padded - len);
    const uint8_t *key = f->keys[0];
    rc =
        aes_cbc(f, 1, key + HALF_KEY, raw + IV_OFF, raw + HDR_LEN, padded, raw + HDR_LEN);
    if (rc == 0)
        rc = hmac_sha256(f, key, raw, HDR_LEN + padded, raw + HDR_LEN + padded);
    if (rc != 0)
        goto out_free_raw;
    size_t elen = resil__b64url_encoded_len(n);
    char *s = resil__malloc(elen + 1);
    if (!s) {
        rc = RESIL_ENOMEM;
        goto out_free_raw;
    }
    resil__b64url_encode(raw, n, s);
    *token = s;
    if (toklen)
        *toklen = elen;
out_free_raw:
    OPENSSL_cleanse(raw, n);
    resil__free(raw);
    return rc;
}

static int64_t realtime_s(void)
{
    return resil_clock_now(resil_clock_realtime()) / RESIL_NS_PER_SEC;
}

int resil_fernet_encrypt_at_time(resil_fernet *f, const void *pt, size_t len,
                                 int64_t unix_time, const uint8_t iv[16], char **token,
                                 size_t *toklen)
{
    if (token)
        *token = NULL;
    if (toklen)
        *toklen = 0;
    if (!f || !token || (!pt && len > 0))
        return RESIL_EINVAL;
    /* Python writes the time as an unsigned integer and cannot write a
     * negative one either. */
    if (len > RESIL_FERNET_MAX_PLAINTEXT || unix_time < 0)
        return RESIL_ERANGE;
    return seal(f, pt, len, (uint64_t)unix_time, iv, token, toklen);
}

int resil_fernet_encrypt(resil_fernet *f, const void *pt, size_t len, char **token,
                         size_t *toklen)
{
    return resil_fernet_encrypt_at_time(f, pt, len, realtime_s(), NULL, token, toklen);
}

/* ---- decrypting ----------------------------------------------------------- */

/* base64url, length and version; *raw (to free) holds the n decoded bytes. */
static int parse_token(const char *token, size_t toklen, uint8_t **raw, size_t *n)
{
    *raw = NULL;
    /* Longer than any token of RESIL_FERNET_MAX_PLAINTEXT bytes: refused
     * before a byte is read or allocated. */
    if (toklen > MAX_TOKEN)
        return RESIL_ETOKEN_SHORT;
    uint8_t *buf = resil__malloc(resil__b64url_decoded_max(toklen));
    if (!buf)
        return RESIL_ENOMEM;
    int rc = 0;
    if (resil__b64url_decode(token, toklen, buf, n) != 0)
        rc = RESIL_ETOKEN_BASE64;
    else if (*n < MIN_RAW || (*n - HDR_LEN - MAC_LEN) % BLOCK != 0)
        rc = RESIL_ETOKEN_SHORT;
    else if (buf[0] != FERNET_VERSION)
        rc = RESIL_ETOKEN_VERSION;
    if (rc != 0) {
        resil__free(buf);
        return rc;
    }
    *raw = buf;
    return 0;
}

/* Python's two rules, in its order, on unbounded integers: the timestamp
 * is unsigned 64-bit, now any int64, ttl > 0. */
static int check_time(uint64_t ts, int64_t ttl, int64_t now)
{
    if (now > ttl && ts < (uint64_t)(now - ttl)) /* ts + ttl < now */
        return RESIL_ETOKEN_EXPIRED;
    if (now < -RESIL_FERNET_MAX_CLOCK_SKEW)
        return RESIL_ETOKEN_FUTURE; /* now + 60 < 0 <= ts */
    uint64_t bound = now >= 0 ? (uint64_t)now + RESIL_FERNET_MAX_CLOCK_SKEW
                              : (uint64_t)(now + RESIL_FERNET_MAX_CLOCK_SKEW);
    if (ts > bound) /* now + 60 < ts */
        return RESIL_ETOKEN_FUTURE;
    return 0;
}

static int mac_matches(const resil_fernet *f, const uint8_t *key, const uint8_t *raw,
                       size_t n, bool *ok)
{
    uint8_t tag[MAC_LEN];
    int rc = hmac_sha256(f, key, raw, n - MAC_LEN, tag);
    *ok = rc == 0 && CRYPTO_memcmp(tag, raw + n - MAC_LEN, MAC_LEN) == 0;
    OPENSSL_cleanse(tag, sizeof tag);
    return rc;
}

/* Decrypt and unpad a verified token into a new NUL-terminated buffer. */
static int open_with_key(const resil_fernet *f, const uint8_t *key, const uint8_t *raw,
                         size_t n, uint8_t **pt, size_t *ptlen)
{
    size_t ctlen = n - HDR_LEN - MAC_LEN;
    uint8_t *buf = resil__malloc(ctlen + 1);
    if (!buf)
        return RESIL_ENOMEM;
    size_t len = 0;
    int rc = aes_cbc(f, 0, key + HALF_KEY, raw + IV_OFF, raw + HDR_LEN, ctlen, buf);
    if (rc == 0)
        rc = unpad(buf, ctlen, &len);
    if (rc != 0) {
        OPENSSL_cleanse(buf, ctlen);
        resil__free(buf);
        return rc;
    }
    buf[len] = '\0'; /* the padding bytes behind it are not secret */
    *pt = buf;
    *ptlen = len;
    return 0;
}

/* The common path of decrypt, rotate and token_time: ttl 0 skips the time
 * checks; pt NULL stops after the MAC (Python's extract_timestamp).  Keys
 * are tried in order, as MultiFernet does, including going on to the next
 * key when a key's MAC verifies but its padding does not. */
static int open_token(const resil_fernet *f, const char *token, size_t toklen,
                      int64_t ttl, int64_t now, uint8_t **pt, size_t *ptlen, uint64_t *ts)
{
    uint8_t *raw;
    size_t n = 0;
    int rc = parse_token(token, toklen, &raw, &n);
    if (rc != 0)
        return rc;
    *ts = get_be64(raw + TS_OFF);
    if (ttl > 0)
        rc = check_time(*ts, ttl, now);
    if (rc != 0)
        goto out_free_raw;
    rc = RESIL_ETOKEN_MAC;
    for (size_t k = 0; k < f->nkeys; k++) {
        bool ok = false;
        int mrc = mac_matches(f, f->keys[k], raw, n, &ok);
        if (mrc != 0) {
            rc = mrc;
            break;
        }
        if (!ok)
            continue;
        rc = pt ? open_with_key(f, f->keys[k], raw, n, pt, ptlen) : 0;
        if (rc != RESIL_ETOKEN_PADDING)
            break;
    }
out_free_raw:
    resil__free(raw); /* ciphertext only: nothing to wipe */
    return rc;
}

int resil_fernet_decrypt_at_time(resil_fernet *f, const char *token, size_t toklen,
                                 int64_t ttl_s, int64_t now_unix, uint8_t **pt,
                                 size_t *ptlen)
{
    if (pt)
        *pt = NULL;
    if (ptlen)
        *ptlen = 0;
    if (!f || !token || !pt || !ptlen || ttl_s < 0)
        return RESIL_EINVAL;
    uint64_t ts;
    return open_token(f, token, toklen, ttl_s, now_unix, pt, ptlen, &ts);
}

int resil_fernet_decrypt(resil_fernet *f, const char *token, size_t toklen, int64_t ttl_s,
                         uint8_t **pt, size_t *ptlen)
{
    int64_t now = ttl_s > 0 ? realtime_s() : 0; /* no clock read without a TTL */
    return resil_fernet_decrypt_at_time(f, token, toklen, ttl_s, now, pt, ptlen);
}

int resil_fernet_rotate(resil_fernet *f, const char *token, size_t toklen, char **out,
                        size_t *outlen)
{
    if (out)
        *out = NULL;
    if (outlen)
        *outlen = 0;
    if (!f || !token || !out)
        return RESIL_EINVAL;
    uint8_t *pt = NULL;
    size_t len = 0;
    uint64_t ts;
    int rc = open_token(f, token, toklen, 0, 0, &pt, &len, &ts);
    if (rc != 0)
        return rc;
    /* The original timestamp as it was, all 64 bits of it (Python's
     * MultiFernet.rotate). */
    rc = seal(f, pt, len, ts, NULL, out, outlen);
    resil_secret_free(pt, len);
    return rc;
}

int resil_fernet_token_time(resil_fernet *f, const char *token, size_t toklen,
                            int64_t *unix_time)
{
    if (unix_time)
        *unix_time = 0;
    if (!f || !token || !unix_time)
        return RESIL_EINVAL;
    uint64_t ts;
    int rc = open_token(f, token, toklen, 0, 0, NULL, NULL, &ts);
    if (rc != 0)
        return rc;
    /* Only a key holder can make a token past year 292e9; an int64_t
     * cannot say when that is. */
    if (ts > (uint64_t)INT64_MAX)
        return RESIL_ETOKEN_FUTURE;
    *unix_time = (int64_t)ts;
    return 0;
}

#else /* !RESIL_HAVE_OPENSSL: every function says so. */

int resil_fernet_keygen(char out[RESIL_FERNET_KEY_B64_LEN + 1])
{
    if (out)
        out[0] = '\0';
    return RESIL_ENOTSUP;
}

int resil_fernet_new(const char *const *keys_b64, size_t nkeys, resil_fernet **out,
                     resil_error *err)
{
    RESIL__UNUSED(keys_b64);
    RESIL__UNUSED(nkeys);
    if (out)
        *out = NULL;
    if (err) {
        err->code = RESIL_ENOTSUP;
        err->line = 0;
        err->column = 0;
        snprintf(err->text, sizeof err->text, "%s",
                 "Fernet needs OpenSSL: libresil was built --without-openssl");
    }
    return RESIL_ENOTSUP;
}

int resil_fernet_new_raw(const uint8_t *keys, size_t nkeys, resil_fernet **out)
{
    RESIL__UNUSED(keys);
    RESIL__UNUSED(nkeys);
    if (out)
        *out = NULL;
    return RESIL_ENOTSUP;
}

void resil_fernet_free(resil_fernet *f)
{
    RESIL__UNUSED(f);
}

size_t resil_fernet_key_count(const resil_fernet *f)
{
    RESIL__UNUSED(f);
    return 0;
}

int resil_fernet_encrypt_at_time(resil_fernet *f, const void *pt, size_t len,
                                 int64_t unix_time, const uint8_t iv[16], char **token,
                                 size_t *toklen)
{
    RESIL__UNUSED(f);
    RESIL__UNUSED(pt);
    RESIL__UNUSED(len);
    RESIL__UNUSED(unix_time);
    RESIL__UNUSED(iv);
    if (token)
        *token = NULL;
    if (toklen)
        *toklen = 0;
    return RESIL_ENOTSUP;
}

int resil_fernet_encrypt(resil_fernet *f, const void *pt, size_t len, char **token,
                         size_t *toklen)
{
    return resil_fernet_encrypt_at_time(f, pt, len, 0, NULL, token, toklen);
}

int resil_fernet_decrypt_at_time(resil_fernet *f, const char *token, size_t toklen,
                                 int64_t ttl_s, int64_t now_unix, uint8_t **pt,
                                 size_t *ptlen)
{
    RESIL__UNUSED(f);
    RESIL__UNUSED(token);
    RESIL__UNUSED(toklen);
    RESIL__UNUSED(ttl_s);
    RESIL__UNUSED(now_unix);
    if (pt)
        *pt = NULL;
    if (ptlen)
        *ptlen = 0;
    return RESIL_ENOTSUP;
}

int resil_fernet_decrypt(resil_fernet *f, const char *token, size_t toklen, int64_t ttl_s,
                         uint8_t **pt, size_t *ptlen)
{
    return resil_fernet_decrypt_at_time(f, token, toklen, ttl_s, 0, pt, ptlen);
}

int resil_fernet_rotate(resil_fernet *f, const char *token, size_t toklen, char **out,
                        size_t *outlen)
{
    RESIL__UNUSED(f);
    RESIL__UNUSED(token);
    RESIL__UNUSED(toklen);
    if (out)
        *out = NULL;
    if (outlen)
        *outlen = 0;
    return RESIL_ENOTSUP;
}

int resil_fernet_token_time(resil_fernet *f, const char *token, size_t toklen,
                            int64_t *unix_time)
{
    RESIL__UNUSED(f);
    RESIL__UNUSED(token);
    RESIL__UNUSED(toklen);
    if (unix_time)
        *unix_time = 0;
    return RESIL_ENOTSUP;
}

#endif /* RESIL_HAVE_OPENSSL */
