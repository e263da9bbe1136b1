/* Fernet: the specification's vectors (tests/data/fernet), round trips,
 * key rings and rotation, every RESIL_ETOKEN_* code from a hand-made bad
 * token, the time rules at their edges, argument checks, allocation
 * failures, threads, and the wiping functions. */
#define _DEFAULT_SOURCE /* timegm(3) */

#include "config.h"

#include "check_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef RESIL_HAVE_JANSSON
#include <jansson.h>
#endif

/* The secret of every spec vector. */
#define SPEC_KEY "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="
#define KEY_A "ZmVybmV0LWtleS1hLTAxMjM0NTY3ODlhYmNkZWYwMTI="
#define KEY_B "ZmVybmV0LWtleS1iLTAxMjM0NTY3ODlhYmNkZWYwMTI="
#define T0 INT64_C(1700000000)

START_TEST(wipe_and_free)
{
    char buf[33];
    memset(buf, 'A', sizeof buf);
    resil_secret_wipe(buf, 32);
    for (size_t i = 0; i < 32; i++)
        ck_assert_int_eq(buf[i], 0);
    ck_assert_int_eq(buf[32], 'A'); /* exactly len bytes */
    resil_secret_wipe(NULL, 10);
    resil_secret_wipe(buf, 0);
    long live = tu_alloc_live();
    resil_secret_free(NULL, 10);
    /* Through the library's allocator: a token is one such block. */
    resil_fernet *f = NULL;
    char *tok = NULL;
    const char *keys[] = {KEY_A};
    if (resil_fernet_new(keys, 1, &f, NULL) == 0) {
        ck_assert_rc(resil_fernet_encrypt(f, "x", 1, &tok, NULL), 0);
        resil_secret_free(tok, strlen(tok));
        resil_fernet_free(f);
    }
    ck_assert_int_eq(tu_alloc_live(), live);
}
END_TEST

#ifdef RESIL_HAVE_OPENSSL

/* ---- helpers ---------------------------------------------------------------- */

static resil_fernet *ring(const char *k1, const char *k2)
{
    const char *keys[] = {k1, k2};
    resil_fernet *f = NULL;
    ck_assert_rc(resil_fernet_new(keys, k2 ? 2 : 1, &f, NULL), 0);
    return f;
}

static char *seal_at(resil_fernet *f, const void *pt, size_t len, int64_t t)
{
    static const uint8_t iv[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    char *tok = NULL;
    ck_assert_rc(resil_fernet_encrypt_at_time(f, pt, len, t, iv, &tok, NULL), 0);
    return tok;
}

/* Decrypt at now with ttl and compare with want; returns the code. */
static int open_at(resil_fernet *f, const char *tok, int64_t ttl, int64_t now,
                   const char *want)
{
    uint8_t *pt = (uint8_t *)1;
    size_t len = 99;
    int rc = resil_fernet_decrypt_at_time(f, tok, strlen(tok), ttl, now, &pt, &len);
    if (rc != 0) {
        ck_assert_ptr_null(pt);
        ck_assert_uint_eq(len, 0);
        return rc;
    }
    if (want) {
        ck_assert_uint_eq(len, strlen(want));
        ck_assert_mem_eq(pt, want, len);
    }
    ck_assert_int_eq(pt[len], 0);
    resil_secret_free(pt, len);
    return 0;
}

/* A plain base64url codec for taking tokens apart (not constant time). */
#define B64_ALPHABET "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
static const char B64[] = B64_ALPHABET;

static size_t unb64(const char *s, uint8_t *out)
{
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (; *s && *s != '='; s++) {
        acc = acc << 6 | (uint32_t)(strchr(B64, *s) - B64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return n;
}

static void b64(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t w = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            w |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            w |= in[i + 2];
        out[o++] = B64[w >> 18];
        out[o++] = B64[(w >> 12) & 63];
        out[o++] = i + 1 < n ? B64[(w >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? B64[w & 63] : '=';
    }
    out[o] = '\0';
}

/* ---- vectors ------------------------------------------------------------------ */

#ifdef RESIL_HAVE_JANSSON

/* RFC 3339 with a numeric offset or Z, to Unix time. */
static int64_t rfc3339(const char *s)
{
    struct tm tm = {0};
    int off_h = 0;
    int off_m = 0;
    char sign = 'Z';
    int n =
        sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c%2d:%2d", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &sign, &off_h, &off_m);
    ck_assert_msg(n == 7 || n == 9, "bad time %s", s);
    ck_assert_msg(sign == 'Z' || sign == '+' || sign == '-', "bad offset in %s", s);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int64_t off = (int64_t)off_h * 3600 + off_m * 60;
    /* 01:20-07:00 is 08:20Z: subtract the offset. */
    return (int64_t)timegm(&tm) - (sign == '-' ? -off : sign == '+' ? off : 0);
}

START_TEST(time_parser)
{
    ck_assert_int_eq(rfc3339("1970-01-01T00:00:00Z"), 0);
    ck_assert_int_eq(rfc3339("1970-01-01T01:00:00+01:00"), 0);
    ck_assert_int_eq(rfc3339("1985-10-26T01:20:00-07:00"), 499162800);
}
END_TEST

static json_t *vectors(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.json", FERNET_DATA_DIR, name);
    json_error_t jerr;
    json_t *v = json_load_file(path, 0, &jerr);
    ck_assert_msg(v != NULL, "%s:%d: %s", path, jerr.line, jerr.text);
    ck_assert(json_is_array(v) && json_array_size(v) > 0);
    return v;
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    ck_assert_msg(s != NULL, "vector without %s", k);
    return s;
}

START_TEST(spec_generate)
{
    json_t *all = vectors("generate");
    for (size_t i = 0; i < json_array_size(all); i++) {
        json_t *v = json_array_get(all, i);
        uint8_t iv[16];
        json_t *ivs = json_object_get(v, "iv");
        ck_assert_uint_eq(json_array_size(ivs), 16);
        for (size_t j = 0; j < 16; j++)
            iv[j] = (uint8_t)json_integer_value(json_array_get(ivs, j));
        resil_fernet *f = ring(str(v, "secret"), NULL);
        const char *src = str(v, "src");
        char *tok = NULL;
        size_t toklen = 0;
        ck_assert_rc(resil_fernet_encrypt_at_time(
                         f, src, strlen(src), rfc3339(str(v, "now")), iv, &tok, &toklen),
                     0);
        ck_assert_str_eq(tok, str(v, "token"));
        ck_assert_uint_eq(toklen, strlen(tok));
        resil_free(tok);
        resil_fernet_free(f);
    }
    json_decref(all);
}
END_TEST

START_TEST(spec_verify)
{
    json_t *all = vectors("verify");
    for (size_t i = 0; i < json_array_size(all); i++) {
        json_t *v = json_array_get(all, i);
        resil_fernet *f = ring(str(v, "secret"), NULL);
        int64_t ttl = json_integer_value(json_object_get(v, "ttl_sec"));
        ck_assert_int_gt(ttl, 0);
        ck_assert_rc(
            open_at(f, str(v, "token"), ttl, rfc3339(str(v, "now")), str(v, "src")), 0);
        resil_fernet_free(f);
    }
    json_decref(all);
}
END_TEST

/* Every kind of invalid vector has its own code; a kind this table does
 * not know fails the test, so new vectors are looked at. */
static int invalid_code(const char *desc)
{
    static const struct {
        const char *desc;
        int code;
    } map[] = {
        {"incorrect mac", RESIL_ETOKEN_MAC},
        {"too short", RESIL_ETOKEN_SHORT},
        {"invalid base64", RESIL_ETOKEN_BASE64},
        /* the length check comes before the MAC */
        {"payload size not multiple of block size", RESIL_ETOKEN_SHORT},
        {"payload padding error", RESIL_ETOKEN_PADDING},
        {"far-future TS (unacceptable clock skew)", RESIL_ETOKEN_FUTURE},
        {"expired TTL", RESIL_ETOKEN_EXPIRED},
        /* the MAC holds; CBC with another IV changes the last block's padding */
        {"incorrect IV (causes padding error)", RESIL_ETOKEN_PADDING},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].desc, desc) == 0)
            return map[i].code;
    ck_abort_msg("invalid vector of an unknown kind: %s", desc);
    return 0;
}

START_TEST(spec_invalid)
{
    json_t *all = vectors("invalid");
    for (size_t i = 0; i < json_array_size(all); i++) {
        json_t *v = json_array_get(all, i);
        const char *desc = str(v, "desc");
        resil_fernet *f = ring(str(v, "secret"), NULL);
        int64_t ttl = json_integer_value(json_object_get(v, "ttl_sec"));
        int rc = open_at(f, str(v, "token"), ttl, rfc3339(str(v, "now")), NULL);
        ck_assert_msg(rc == invalid_code(desc), "%s: got %s", desc, resil_err_name(rc));
        /* Without a TTL no time rule applies (Python's decrypt(ttl=None)). */
        rc = open_at(f, str(v, "token"), 0, rfc3339(str(v, "now")), NULL);
        if (invalid_code(desc) == RESIL_ETOKEN_EXPIRED ||
            invalid_code(desc) == RESIL_ETOKEN_FUTURE)
            ck_assert_msg(rc == 0, "%s without TTL: got %s", desc, resil_err_name(rc));
        else
            ck_assert_msg(rc == invalid_code(desc), "%s without TTL: got %s", desc,
                          resil_err_name(rc));
        resil_fernet_free(f);
    }
    json_decref(all);
}
END_TEST

#endif /* RESIL_HAVE_JANSSON */

/* ---- round trips ----------------------------------------------------------- */

static void round_trip(resil_fernet *f, size_t len)
{
    uint8_t *src = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        src[i] = (uint8_t)(i * 131 + 7); /* NULs and bytes >= 0x80 too */
    char *tok = NULL;
    size_t toklen = 0;
    ck_assert_rc(resil_fernet_encrypt(f, src, len, &tok, &toklen), 0);
    ck_assert_uint_eq(toklen, strlen(tok));
    ck_assert_uint_eq(toklen, (57 + len / 16 * 16 + 16 + 2) / 3 * 4);
    ck_assert_uint_eq(strspn(tok, B64_ALPHABET "="), toklen);
    uint8_t *pt = NULL;
    size_t ptlen = 0;
    ck_assert_rc(resil_fernet_decrypt(f, tok, toklen, 0, &pt, &ptlen), 0);
    ck_assert_uint_eq(ptlen, len);
    ck_assert(len == 0 || memcmp(pt, src, len) == 0);
    ck_assert_int_eq(pt[len], 0);
    resil_secret_free(pt, ptlen);
    /* With a TTL, through the real clock: made just now. */
    ck_assert_rc(resil_fernet_decrypt(f, tok, toklen, 3600, &pt, &ptlen), 0);
    resil_secret_free(pt, ptlen);
    resil_free(tok);
    free(src);
}

START_TEST(round_trips)
{
    long live = tu_alloc_live();
    resil_fernet *f = ring(KEY_A, NULL);
    static const size_t sizes[] = {0, 1, 15, 16, 17, 31, 32, 33, 1000, 1u << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        round_trip(f, sizes[i]);
    /* A fresh IV every time. */
    char *t1 = NULL;
    char *t2 = NULL;
    ck_assert_rc(resil_fernet_encrypt_at_time(f, "same", 4, T0, NULL, &t1, NULL), 0);
    ck_assert_rc(resil_fernet_encrypt_at_time(f, "same", 4, T0, NULL, &t2, NULL), 0);
    ck_assert_str_ne(t1, t2);
    resil_free(t1);
    resil_free(t2);
    resil_fernet_free(f);
    ck_assert_int_eq(tu_alloc_live(), live);
}
END_TEST

START_TEST(keygen)
{
    char k1[RESIL_FERNET_KEY_B64_LEN + 1];
    char k2[RESIL_FERNET_KEY_B64_LEN + 1];
    ck_assert_rc(resil_fernet_keygen(k1), 0);
    ck_assert_rc(resil_fernet_keygen(k2), 0);
    ck_assert_uint_eq(strlen(k1), RESIL_FERNET_KEY_B64_LEN);
    ck_assert_int_eq(k1[43], '=');
    ck_assert_str_ne(k1, k2);
    resil_fernet *f = ring(k1, k2);
    ck_assert_uint_eq(resil_fernet_key_count(f), 2);
    resil_fernet_free(f);
    ck_assert_rc(resil_fernet_keygen(NULL), RESIL_EINVAL);
}
END_TEST

/* ---- key rings and rotation ---------------------------------------------- */

START_TEST(multi_key)
{
    resil_fernet *a = ring(KEY_A, NULL);
    resil_fernet *b = ring(KEY_B, NULL);
    resil_fernet *ba = ring(KEY_B, KEY_A);
    char *ta = seal_at(a, "old", 3, T0);
    char *tba = seal_at(ba, "new", 3, T0);
    ck_assert_rc(open_at(ba, ta, 0, T0, "old"), 0); /* any key decrypts */
    ck_assert_rc(open_at(ba, tba, 0, T0, "new"), 0);
    ck_assert_rc(open_at(b, tba, 0, T0, "new"), 0); /* the first key encrypts */
    ck_assert_rc(open_at(a, tba, 0, T0, NULL), RESIL_ETOKEN_MAC);
    ck_assert_rc(open_at(b, ta, 0, T0, NULL), RESIL_ETOKEN_MAC);
    resil_free(ta);
    resil_free(tba);
    resil_fernet_free(a);
    resil_fernet_free(b);
    resil_fernet_free(ba);
}
END_TEST

START_TEST(rotate)
{
    long live = tu_alloc_live();
    resil_fernet *a = ring(KEY_A, NULL);
    resil_fernet *b = ring(KEY_B, NULL);
    resil_fernet *ba = ring(KEY_B, KEY_A);
    char *old = seal_at(a, "rotate me", 9, T0);
    char *tok = NULL;
    size_t toklen = 0;
    ck_assert_rc(resil_fernet_rotate(ba, old, strlen(old), &tok, &toklen), 0);
    ck_assert_uint_eq(toklen, strlen(tok));
    ck_assert_str_ne(tok, old);
    /* Only the new key opens it, and the time is the original one, even
     * long after the original TTL would have run out. */
    ck_assert_rc(open_at(b, tok, 0, T0 + 86400, "rotate me"), 0);
    ck_assert_rc(open_at(a, tok, 0, T0, NULL), RESIL_ETOKEN_MAC);
    ck_assert_rc(open_at(b, tok, 60, T0 + 61, NULL), RESIL_ETOKEN_EXPIRED);
    int64_t t = 0;
    ck_assert_rc(resil_fernet_token_time(b, tok, toklen, &t), 0);
    ck_assert_int_eq(t, T0);
    /* A token the ring cannot open is not rotated. */
    char *out = (char *)1;
    ck_assert_rc(resil_fernet_rotate(a, tok, toklen, &out, NULL), RESIL_ETOKEN_MAC);
    ck_assert_ptr_null(out);
    ck_assert_rc(resil_fernet_rotate(a, "gAAA", 4, &out, NULL), RESIL_ETOKEN_SHORT);
    resil_free(tok);
    resil_free(old);
    resil_fernet_free(a);
    resil_fernet_free(b);
    resil_fernet_free(ba);
    ck_assert_int_eq(tu_alloc_live(), live);
}
END_TEST

START_TEST(token_time)
{
    resil_fernet *a = ring(KEY_A, NULL);
    resil_fernet *b = ring(KEY_B, NULL);
    char *tok = seal_at(a, "t", 1, 0);
    int64_t t = -1;
    ck_assert_rc(resil_fernet_token_time(a, tok, strlen(tok), &t), 0);
    ck_assert_int_eq(t, 0);
    resil_free(tok);
    tok = seal_at(a, "t", 1, INT64_MAX);
    ck_assert_rc(resil_fernet_token_time(a, tok, strlen(tok), &t), 0);
    ck_assert_int_eq(t, INT64_MAX);
    /* No TTL rules for the timestamp, but the MAC must hold. */
    t = -1;
    ck_assert_rc(resil_fernet_token_time(b, tok, strlen(tok), &t), RESIL_ETOKEN_MAC);
    ck_assert_int_eq(t, 0);
    ck_assert_rc(resil_fernet_token_time(a, tok, 3, &t), RESIL_ETOKEN_BASE64);
    resil_free(tok);
    resil_fernet_free(a);
    resil_fernet_free(b);
}
END_TEST

/* ---- bad tokens ---------------------------------------------------------------- */

enum edit {
    ED_NOTHING,
    ED_FLIP_MAC,
    ED_FLIP_CT,
    ED_FLIP_TS,
    ED_VERSION,
    ED_CUT_BYTE,
    ED_ADD_BYTE,
    ED_CUT_BLOCK
};

/* tok's bytes changed, encoded again, then opened at T0. */
static int open_edited(resil_fernet *f, const char *tok, enum edit e)
{
    uint8_t raw[256];
    size_t n = unb64(tok, raw);
    if (e == ED_FLIP_MAC)
        raw[n - 1] ^= 1;
    else if (e == ED_FLIP_CT)
        raw[n - 33] ^= 0x80;
    else if (e == ED_FLIP_TS)
        raw[8] ^= 1;
    else if (e == ED_VERSION)
        raw[0] = 0x81;
    else if (e == ED_CUT_BYTE)
        n--; /* 16k + 56 bytes: not whole blocks */
    else if (e == ED_ADD_BYTE)
        raw[n++] = 0;
    else if (e == ED_CUT_BLOCK)
        n -= 16; /* 57 bytes: no block at all */
    char s[400];
    b64(raw, n, s);
    return open_at(f, s, 0, T0, NULL);
}

/* The unused low bits of the last character before the "=" must be zero
 * (Python ignores them; no encoder sets them). */
static void unused_bits(resil_fernet *f, const char *tok)
{
    size_t len = strlen(tok);
    size_t last = len - 1 - (tok[len - 1] == '=') - (tok[len - 2] == '=');
    ck_assert_uint_lt(last, len - 1);
    char s[200];
    memcpy(s, tok, len + 1);
    s[last] = B64[(strchr(B64, s[last]) - B64) ^ 1];
    ck_assert_rc(open_at(f, s, 0, T0, NULL), RESIL_ETOKEN_BASE64);
    ck_assert_rc(open_at(f, tok, 0, T0, NULL), 0);
}

START_TEST(bad_tokens)
{
    resil_fernet *f = ring(KEY_A, NULL);
    char *tok = seal_at(f, "hello, world", 12, T0);
    ck_assert_rc(open_edited(f, tok, ED_NOTHING), 0); /* the codec above is right */
    ck_assert_rc(open_edited(f, tok, ED_FLIP_MAC), RESIL_ETOKEN_MAC);
    ck_assert_rc(open_edited(f, tok, ED_FLIP_CT), RESIL_ETOKEN_MAC);
    ck_assert_rc(open_edited(f, tok, ED_FLIP_TS), RESIL_ETOKEN_MAC);
    /* The version is checked before the MAC. */
    ck_assert_rc(open_edited(f, tok, ED_VERSION), RESIL_ETOKEN_VERSION);
    ck_assert_rc(open_edited(f, tok, ED_CUT_BYTE), RESIL_ETOKEN_SHORT);
    ck_assert_rc(open_edited(f, tok, ED_ADD_BYTE), RESIL_ETOKEN_SHORT);
    ck_assert_rc(open_edited(f, tok, ED_CUT_BLOCK), RESIL_ETOKEN_SHORT);

    size_t len = strlen(tok);
    char s[200];
    uint8_t *pt = NULL;
    size_t ptlen = 0;
    int64_t t;
    static const char bad_chars[] = {'*', '+', '/', ' ', '\n', '=', '\0', (char)0xc3};
    for (size_t i = 0; i < sizeof bad_chars; i++) {
        memcpy(s, tok, len + 1);
        s[10] = bad_chars[i];
        ck_assert_rc(resil_fernet_decrypt(f, s, len, 0, &pt, &ptlen),
                     RESIL_ETOKEN_BASE64);
        ck_assert_rc(resil_fernet_token_time(f, s, len, &t), RESIL_ETOKEN_BASE64);
    }
    /* 12 bytes of plaintext: 73 bytes, 100 characters ending in "==". */
    ck_assert_uint_eq(len, 100);
    ck_assert_int_eq(tok[len - 2], '=');
    ck_assert_rc(resil_fernet_decrypt(f, tok, len - 1, 0, &pt, &ptlen),
                 RESIL_ETOKEN_BASE64);
    ck_assert_rc(resil_fernet_decrypt(f, tok, len - 2, 0, &pt, &ptlen),
                 RESIL_ETOKEN_BASE64);
    memcpy(s, tok, len);
    memcpy(s + len, "====", 5);
    ck_assert_rc(resil_fernet_decrypt(f, s, len + 4, 0, &pt, &ptlen),
                 RESIL_ETOKEN_BASE64);
    memcpy(s, tok, len + 1);
    s[len - 1] = 'A'; /* "=" then a letter */
    ck_assert_rc(resil_fernet_decrypt(f, s, len, 0, &pt, &ptlen), RESIL_ETOKEN_BASE64);
    unused_bits(f, tok);
    char *tok2 = seal_at(f, "twenty bytes of text", 20, T0); /* 89 bytes: one "=" */
    unused_bits(f, tok2);
    resil_free(tok2);
    /* Truncated by a whole group of 4 characters: 3 bytes short. */
    ck_assert_rc(resil_fernet_decrypt(f, tok, len - 4, 0, &pt, &ptlen),
                 RESIL_ETOKEN_SHORT);
    ck_assert_rc(resil_fernet_decrypt(f, tok, 0, 0, &pt, &ptlen), RESIL_ETOKEN_SHORT);
    /* Longer than any token: refused without reading it. */
    ck_assert_rc(resil_fernet_decrypt(f, tok, SIZE_MAX, 0, &pt, &ptlen),
                 RESIL_ETOKEN_SHORT);
    ck_assert_ptr_null(pt);
    resil_free(tok);
    resil_fernet_free(f);
}
END_TEST

/* A key that shares the signing half of KEY_A: its MAC holds on KEY_A's
 * tokens, its decryption gives garbage with (for this plaintext and IV)
 * a bad padding.  MultiFernet goes on to the next key then, and so do we. */
START_TEST(bad_padding)
{
    uint8_t raw[64];
    unb64(KEY_A, raw);
    raw[31] ^= 1; /* the encryption half */
    char other[64];
    b64(raw, 32, other);
    resil_fernet *a = ring(KEY_A, NULL);
    resil_fernet *o = ring(other, NULL);
    resil_fernet *oa = ring(other, KEY_A);
    char *tok = seal_at(a, "padding", 7, T0);
    ck_assert_rc(open_at(o, tok, 0, T0, NULL), RESIL_ETOKEN_PADDING);
    ck_assert_rc(open_at(oa, tok, 0, T0, "padding"), 0);
    int64_t t;
    ck_assert_rc(resil_fernet_token_time(o, tok, strlen(tok), &t), 0); /* MAC only */
    char *out = NULL;
    ck_assert_rc(resil_fernet_rotate(o, tok, strlen(tok), &out, NULL),
                 RESIL_ETOKEN_PADDING);
    resil_free(tok);
    resil_fernet_free(a);
    resil_fernet_free(o);
    resil_fernet_free(oa);
}
END_TEST

/* Python: expired when timestamp + ttl < now, from the future when
 * now + 60 < timestamp, both only with a TTL. */
START_TEST(time_edges)
{
    resil_fernet *f = ring(KEY_A, NULL);
    char *tok = seal_at(f, "x", 1, T0);
    ck_assert_rc(open_at(f, tok, 60, T0 + 60, "x"), 0);
    ck_assert_rc(open_at(f, tok, 60, T0 + 61, NULL), RESIL_ETOKEN_EXPIRED);
    ck_assert_rc(open_at(f, tok, 1, T0 + 2, NULL), RESIL_ETOKEN_EXPIRED);
    ck_assert_rc(open_at(f, tok, 60, T0 - 60, "x"), 0);
    ck_assert_rc(open_at(f, tok, 60, T0 - 61, NULL), RESIL_ETOKEN_FUTURE);
    ck_assert_rc(open_at(f, tok, 0, T0 + 1000000, "x"), 0);
    ck_assert_rc(open_at(f, tok, 0, T0 - 1000000, "x"), 0);
    ck_assert_rc(open_at(f, tok, INT64_MAX, INT64_MAX, "x"), 0);
    ck_assert_rc(open_at(f, tok, 1, INT64_MAX, NULL), RESIL_ETOKEN_EXPIRED);
    ck_assert_rc(open_at(f, tok, 1, INT64_MIN, NULL), RESIL_ETOKEN_FUTURE);
    ck_assert_rc(open_at(f, tok, 1, -1, NULL), RESIL_ETOKEN_FUTURE);
    /* Time checks come before the MAC: a stale token under a wrong key. */
    resil_fernet *b = ring(KEY_B, NULL);
    ck_assert_rc(open_at(b, tok, 60, T0 + 61, NULL), RESIL_ETOKEN_EXPIRED);
    ck_assert_rc(open_at(b, tok, 60, T0, NULL), RESIL_ETOKEN_MAC);
    resil_free(tok);
    tok = seal_at(f, "x", 1, 30);
    ck_assert_rc(open_at(f, tok, 100, -30, "x"), 0);
    ck_assert_rc(open_at(f, tok, 100, -31, NULL), RESIL_ETOKEN_FUTURE);
    resil_free(tok);
    tok = seal_at(f, "x", 1, INT64_MAX);
    ck_assert_rc(open_at(f, tok, 1, INT64_MAX - 60, "x"), 0);
    ck_assert_rc(open_at(f, tok, 1, INT64_MAX - 61, NULL), RESIL_ETOKEN_FUTURE);
    resil_free(tok);
    resil_fernet_free(b);
    resil_fernet_free(f);
}
END_TEST

/* ---- arguments and keys ---------------------------------------------------- */

static int new1(const char *key, resil_error *err)
{
    const char *keys[] = {KEY_A, key};
    resil_fernet *f = (resil_fernet *)1;
    int rc = resil_fernet_new(keys, 2, &f, err);
    ck_assert_ptr_null(f);
    return rc;
}

START_TEST(good_key_clears_err)
{
    resil_error err;
    memset(&err, 'x', sizeof err);
    const char *keys[] = {SPEC_KEY};
    resil_fernet *f = NULL;
    ck_assert_rc(resil_fernet_new(keys, 1, &f, &err), 0);
    ck_assert_int_eq(err.code, 0);
    ck_assert_str_eq(err.text, "");
    resil_fernet_free(f);
}
END_TEST

START_TEST(bad_key_values)
{
    static const char *const bad[] = {
        "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4",   /* 43: no padding */
        "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4==", /* 45 */
        "cw_0x689RpI+jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=",  /* standard alphabet */
        "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e5=",  /* unused bits set */
        "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4 ",  /* a blank */
        "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e==",  /* 31 bytes */
        "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4A",  /* 33 bytes */
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        resil_error err;
        ck_assert_rc(new1(bad[i], &err), RESIL_EINVAL);
        ck_assert_int_eq(err.code, RESIL_EINVAL);
        ck_assert_msg(strstr(err.text, "key 2 ") != NULL, "%s", err.text);
        ck_assert_msg(strstr(err.text, "cw_0x") == NULL, "the key leaked: %s", err.text);
        ck_assert_rc(new1(bad[i], NULL), RESIL_EINVAL);
    }
    resil_error err;
    ck_assert_rc(new1(NULL, &err), RESIL_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.text, "key 2 "));
}
END_TEST

START_TEST(bad_ring_args)
{
    const char *keys[RESIL_FERNET_MAX_KEYS + 1];
    for (size_t i = 0; i <= RESIL_FERNET_MAX_KEYS; i++)
        keys[i] = i % 2 ? KEY_A : KEY_B;
    resil_fernet *f = (resil_fernet *)1;
    ck_assert_rc(resil_fernet_new(keys, 0, &f, NULL), RESIL_EINVAL);
    ck_assert_ptr_null(f);
    ck_assert_rc(resil_fernet_new(keys, RESIL_FERNET_MAX_KEYS + 1, &f, NULL),
                 RESIL_EINVAL);
    ck_assert_rc(resil_fernet_new(NULL, 1, &f, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_fernet_new(keys, 1, NULL, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_fernet_new(keys, RESIL_FERNET_MAX_KEYS, &f, NULL), 0);
    ck_assert_uint_eq(resil_fernet_key_count(f), RESIL_FERNET_MAX_KEYS);
    resil_fernet_free(f);
    uint8_t raw[64] = {0};
    ck_assert_rc(resil_fernet_new_raw(NULL, 1, &f), RESIL_EINVAL);
    ck_assert_rc(resil_fernet_new_raw(raw, 0, &f), RESIL_EINVAL);
    ck_assert_rc(resil_fernet_new_raw(raw, 17, &f), RESIL_EINVAL);
    ck_assert_rc(resil_fernet_new_raw(raw, 1, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_fernet_new_raw(raw, 2, &f), 0);
    ck_assert_uint_eq(resil_fernet_key_count(f), 2);
    ck_assert_uint_eq(resil_fernet_key_count(NULL), 0);
    resil_fernet_free(f);
    resil_fernet_free(NULL);
}
END_TEST

/* The same key raw and in base64url makes the same tokens. */
START_TEST(raw_keys)
{
    uint8_t raw[64];
    ck_assert_uint_eq(unb64(SPEC_KEY, raw), 32);
    resil_fernet *r = NULL;
    ck_assert_rc(resil_fernet_new_raw(raw, 1, &r), 0);
    resil_fernet *b = ring(SPEC_KEY, NULL);
    char *t1 = seal_at(r, "same", 4, T0);
    char *t2 = seal_at(b, "same", 4, T0);
    ck_assert_str_eq(t1, t2);
    resil_free(t1);
    resil_free(t2);
    resil_fernet_free(r);
    resil_fernet_free(b);
}
END_TEST

START_TEST(bad_call_args)
{
    resil_fernet *f = ring(KEY_A, NULL);
    char *tok = (char *)1;
    size_t toklen = 9;
    ck_assert_rc(resil_fernet_encrypt(NULL, "x", 1, &tok, &toklen), RESIL_EINVAL);
    ck_assert_ptr_null(tok);
    ck_assert_uint_eq(toklen, 0);
    ck_assert_rc(resil_fernet_encrypt(f, "x", 1, NULL, &toklen), RESIL_EINVAL);
    ck_assert_rc(resil_fernet_encrypt(f, NULL, 1, &tok, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_fernet_encrypt_at_time(f, "x", 1, -1, NULL, &tok, NULL),
                 RESIL_ERANGE);
    ck_assert_rc(resil_fernet_encrypt(f, "x", RESIL_FERNET_MAX_PLAINTEXT + 1, &tok, NULL),
                 RESIL_ERANGE);
    ck_assert_rc(resil_fernet_encrypt(f, NULL, 0, &tok, NULL), 0); /* empty */
    uint8_t *pt = (uint8_t *)1;
    size_t ptlen = 9;
    size_t n = strlen(tok);
    ck_assert_rc(resil_fernet_decrypt(NULL, tok, n, 0, &pt, &ptlen), RESIL_EINVAL);
    ck_assert_ptr_null(pt);
    ck_assert_uint_eq(ptlen, 0);
    ck_assert_rc(resil_fernet_decrypt(f, NULL, n, 0, &pt, &ptlen), RESIL_EINVAL);
    ck_assert_rc(resil_fernet_decrypt(f, tok, n, 0, NULL, &ptlen), RESIL_EINVAL);
    ck_assert_rc(resil_fernet_decrypt(f, tok, n, 0, &pt, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_fernet_decrypt(f, tok, n, -1, &pt, &ptlen), RESIL_EINVAL);
    ck_assert_rc(resil_fernet_decrypt_at_time(f, tok, n, -5, T0, &pt, &ptlen),
                 RESIL_EINVAL);
    char *out = (char *)1;
    ck_assert_rc(resil_fernet_rotate(NULL, tok, n, &out, NULL), RESIL_EINVAL);
    ck_assert_ptr_null(out);
    ck_assert_rc(resil_fernet_rotate(f, NULL, n, &out, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_fernet_rotate(f, tok, n, NULL, NULL), RESIL_EINVAL);
    int64_t t = 5;
    ck_assert_rc(resil_fernet_token_time(NULL, tok, n, &t), RESIL_EINVAL);
    ck_assert_int_eq(t, 0);
    ck_assert_rc(resil_fernet_token_time(f, NULL, n, &t), RESIL_EINVAL);
    ck_assert_rc(resil_fernet_token_time(f, tok, n, NULL), RESIL_EINVAL);
    resil_free(tok);
    resil_fernet_free(f);
}
END_TEST

/* ---- allocation failures ------------------------------------------------------- */

enum af_kind { AF_RING, AF_TOKEN, AF_PLAIN, AF_NONE };

struct af {
    resil_fernet *f;
    const char *tok;
    void *out;
    size_t outlen;
};

typedef int (*af_op)(struct af *a);

static int af_new(struct af *a)
{
    const char *keys[] = {KEY_A, KEY_B};
    return resil_fernet_new(keys, 2, (resil_fernet **)&a->out, NULL);
}
static int af_new_raw(struct af *a)
{
    static const uint8_t raw[64] = {1};
    return resil_fernet_new_raw(raw, 2, (resil_fernet **)&a->out);
}
static int af_encrypt(struct af *a)
{
    return resil_fernet_encrypt(a->f, "secret", 6, (char **)&a->out, &a->outlen);
}
static int af_decrypt(struct af *a)
{
    return resil_fernet_decrypt(a->f, a->tok, strlen(a->tok), 0, (uint8_t **)&a->out,
                                &a->outlen);
}
static int af_rotate(struct af *a)
{
    return resil_fernet_rotate(a->f, a->tok, strlen(a->tok), (char **)&a->out,
                               &a->outlen);
}
static int af_time(struct af *a)
{
    int64_t t = 0;
    a->out = NULL;
    return resil_fernet_token_time(a->f, a->tok, strlen(a->tok), &t);
}

static void af_release(struct af *a, enum af_kind kind)
{
    if (kind == AF_RING)
        resil_fernet_free(a->out);
    else if (kind == AF_TOKEN)
        resil_free(a->out);
    else if (kind == AF_PLAIN)
        resil_secret_free(a->out, a->outlen);
}

/* Allocation n fails, for n = 0, 1, ... until the call succeeds: each
 * failure is RESIL_ENOMEM with nothing returned and nothing leaked.
 * Returns how many allocations the call makes. */
static long af_loop(const char *what, struct af *a, af_op op, enum af_kind kind)
{
    long live = tu_alloc_live();
    for (long n = 0;; n++) {
        ck_assert_msg(n < 50, "%s: still failing after 50 allocations", what);
        a->out = (void *)1;
        tu_alloc_fail_at(n);
        int rc = op(a);
        tu_alloc_reset();
        if (rc == 0) {
            af_release(a, kind);
            ck_assert_msg(tu_alloc_live() == live, "%s: leak after success", what);
            return n;
        }
        ck_assert_msg(rc == RESIL_ENOMEM, "%s: allocation %ld failed: got %s", what, n,
                      resil_err_name(rc));
        ck_assert_msg(a->out == NULL, "%s: output set after failure %ld", what, n);
        ck_assert_msg(tu_alloc_live() == live, "%s: leak when allocation %ld fails", what,
                      n);
    }
}

START_TEST(alloc_failures)
{
    struct af a = {0};
    ck_assert_int_eq(af_loop("new", &a, af_new, AF_RING), 1);
    ck_assert_int_eq(af_loop("new_raw", &a, af_new_raw, AF_RING), 1);
    a.f = ring(KEY_A, KEY_B);
    char *tok = seal_at(a.f, "secret", 6, T0);
    a.tok = tok;
    ck_assert_int_eq(af_loop("encrypt", &a, af_encrypt, AF_TOKEN), 2);
    ck_assert_int_eq(af_loop("decrypt", &a, af_decrypt, AF_PLAIN), 2);
    ck_assert_int_eq(af_loop("rotate", &a, af_rotate, AF_TOKEN), 4);
    ck_assert_int_eq(af_loop("token_time", &a, af_time, AF_NONE), 1);
    resil_free(tok);
    resil_fernet_free(a.f);
}
END_TEST

/* ---- threads ---------------------------------------------------------------- */

#define THREADS 4
#define ROUNDS 100

struct worker {
    resil_fernet *f;
    int id;
    int bad;
};

static void *work(void *p)
{
    struct worker *w = p;
    for (int i = 0; i < ROUNDS; i++) {
        char msg[64];
        int len = snprintf(msg, sizeof msg, "thread %d round %d", w->id, i);
        char *tok = NULL;
        uint8_t *pt = NULL;
        size_t ptlen = 0;
        if (resil_fernet_encrypt(w->f, msg, (size_t)len, &tok, NULL) != 0 ||
            resil_fernet_decrypt(w->f, tok, strlen(tok), 0, &pt, &ptlen) != 0 ||
            ptlen != (size_t)len || memcmp(pt, msg, ptlen) != 0)
            w->bad++;
        resil_secret_free(pt, ptlen);
        resil_free(tok);
    }
    return NULL;
}

/* One ring used by several threads at once: every round trip works (and
 * TSan sees no race on the shared OpenSSL objects). */
START_TEST(threads)
{
    resil_fernet *f = ring(KEY_A, KEY_B);
    pthread_t t[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.f = f, .id = i, .bad = 0};
        ck_assert_int_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
        ck_assert_int_eq(w[i].bad, 0);
    }
    resil_fernet_free(f);
}
END_TEST

#else /* !RESIL_HAVE_OPENSSL */

START_TEST(not_supported)
{
    char key[RESIL_FERNET_KEY_B64_LEN + 1] = "x";
    ck_assert_rc(resil_fernet_keygen(key), RESIL_ENOTSUP);
    const char *keys[] = {KEY_A};
    resil_fernet *f = (resil_fernet *)1;
    resil_error err;
    ck_assert_rc(resil_fernet_new(keys, 1, &f, &err), RESIL_ENOTSUP);
    ck_assert_ptr_null(f);
    ck_assert_int_eq(err.code, RESIL_ENOTSUP);
    uint8_t raw[32] = {0};
    f = (resil_fernet *)1;
    ck_assert_rc(resil_fernet_new_raw(raw, 1, &f), RESIL_ENOTSUP);
    ck_assert_ptr_null(f);
    char *tok = (char *)1;
    ck_assert_rc(resil_fernet_encrypt(NULL, "x", 1, &tok, NULL), RESIL_ENOTSUP);
    ck_assert_ptr_null(tok);
    ck_assert_rc(resil_fernet_encrypt_at_time(NULL, "x", 1, 0, NULL, &tok, NULL),
                 RESIL_ENOTSUP);
    uint8_t *pt = (uint8_t *)1;
    size_t n;
    ck_assert_rc(resil_fernet_decrypt(NULL, "x", 1, 0, &pt, &n), RESIL_ENOTSUP);
    ck_assert_ptr_null(pt);
    ck_assert_rc(resil_fernet_decrypt_at_time(NULL, "x", 1, 0, 0, &pt, &n),
                 RESIL_ENOTSUP);
    ck_assert_rc(resil_fernet_rotate(NULL, "x", 1, &tok, NULL), RESIL_ENOTSUP);
    int64_t t;
    ck_assert_rc(resil_fernet_token_time(NULL, "x", 1, &t), RESIL_ENOTSUP);
    ck_assert_uint_eq(resil_fernet_key_count(NULL), 0);
    resil_fernet_free(NULL);
}
END_TEST

#endif /* RESIL_HAVE_OPENSSL */

static Suite *suite(void)
{
    Suite *s = suite_create("fernet");
    TCase *t = tcase_create("fernet");
    tcase_add_test(t, wipe_and_free);
#ifdef RESIL_HAVE_OPENSSL
#ifdef RESIL_HAVE_JANSSON
    tcase_add_test(t, time_parser);
    tcase_add_test(t, spec_generate);
    tcase_add_test(t, spec_verify);
    tcase_add_test(t, spec_invalid);
#endif
    tcase_add_test(t, round_trips);
    tcase_add_test(t, keygen);
    tcase_add_test(t, multi_key);
    tcase_add_test(t, rotate);
    tcase_add_test(t, token_time);
    tcase_add_test(t, bad_tokens);
    tcase_add_test(t, bad_padding);
    tcase_add_test(t, time_edges);
    tcase_add_test(t, good_key_clears_err);
    tcase_add_test(t, bad_key_values);
    tcase_add_test(t, bad_ring_args);
    tcase_add_test(t, raw_keys);
    tcase_add_test(t, bad_call_args);
    tcase_add_test(t, alloc_failures);
    tcase_add_test(t, threads);
#else
    tcase_add_test(t, not_supported);
#endif
    tcase_set_timeout(t, 60);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
