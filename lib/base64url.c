/* base64url with padding (RFC 4648 section 5), as Fernet writes keys and
 * tokens.
 *
 * No table lookups and no branches on the data: Fernet keys pass through
 * here, and a table indexed by key characters would leak them through the
 * cache to a neighbour on the same core (the reason libsodium's sodium_bin2base64
 * computes instead of looking up).  Branches depend on lengths and on where
 * the "=" are, which are the same for every key. */
#include "secrets_internal.h"

#include <stdint.h>

/* 1 when a >= b, else 0, for a, b < 2^31, computed without a branch. */
static unsigned ge(unsigned a, unsigned b)
{
    return ((b - 1u - a) >> 31) & 1u;
}

/* 1 when lo <= c <= hi, else 0 (c, lo, hi < 256). */
static unsigned in_range(unsigned c, unsigned lo, unsigned hi)
{
    return ge(c, lo) & ge(hi, c);
}

/* The character for a 6-bit value: offsets from 'A' that switch at 26
 * ('a'), 52 ('0'), 62 ('-') and 63 ('_'). */
static char enc6(unsigned v)
{
    unsigned c = v + 'A';
    c += ge(v, 26) * 6u;
    c -= ge(v, 52) * 75u;
    c -= ge(v, 62) * 13u;
    c += ge(v, 63) * 49u;
    return (char)c;
}

/* The 6-bit value of c; *bad gets all ones when c is outside the alphabet. */
static unsigned dec6(unsigned c, unsigned *bad)
{
    unsigned up = 0u - in_range(c, 'A', 'Z');
    unsigned lo = 0u - in_range(c, 'a', 'z');
    unsigned dg = 0u - in_range(c, '0', '9');
    unsigned da = 0u - in_range(c, '-', '-');
    unsigned us = 0u - in_range(c, '_', '_');
    unsigned v = (up & (c - 'A')) | (lo & (c - 'a' + 26u)) | (dg & (c - '0' + 52u)) |
                 (da & 62u) | (us & 63u);
    *bad |= ~(up | lo | dg | da | us);
    return v & 63u;
}

size_t resil__b64url_encoded_len(size_t n)
{
    if (n > SIZE_MAX / 4 * 3 - 2)
        return SIZE_MAX;
    return (n + 2) / 3 * 4;
}

size_t resil__b64url_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = enc6(w >> 18);
        out[o++] = enc6((w >> 12) & 63u);
        out[o++] = enc6((w >> 6) & 63u);
        out[o++] = enc6(w & 63u);
    }
    if (n - i == 1) {
        uint32_t w = (uint32_t)in[i] << 16;
        out[o++] = enc6(w >> 18);
        out[o++] = enc6((w >> 12) & 63u);
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = enc6(w >> 18);
        out[o++] = enc6((w >> 12) & 63u);
        out[o++] = enc6((w >> 6) & 63u);
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

/* The number of "=" at the end of a length-checked, non-empty input. */
static size_t pad_count(const char *in, size_t len)
{
    if (in[len - 1] != '=')
        return 0;
    return in[len - 2] == '=' ? 2 : 1;
}

int resil__b64url_decode(const char *in, size_t len, uint8_t *out, size_t *outlen)
{
    *outlen = 0;
    if (len % 4 != 0)
        return RESIL_EPARSE;
    if (len == 0)
        return 0;
    size_t npad = pad_count(in, len);
    size_t nchars = len - npad; /* "=" elsewhere fails dec6 */
    unsigned bad = 0;
    uint32_t acc = 0;
    size_t o = 0;
    for (size_t i = 0; i < nchars; i++) {
        acc = acc << 6 | dec6((unsigned char)in[i], &bad);
        if (i % 4 == 3) {
            out[o++] = (uint8_t)(acc >> 16);
            out[o++] = (uint8_t)(acc >> 8);
            out[o++] = (uint8_t)acc;
            acc = 0;
        }
    }
    /* A final group of 3 characters carries 2 bytes and 2 unused bits, one
     * of 2 characters carries 1 byte and 4 unused bits: RFC 4648 section
     * 3.5 lets a decoder insist they are zero, which keeps one string per
     * byte sequence. */
    if (npad == 1) {
        bad |= acc & 3u;
        out[o++] = (uint8_t)(acc >> 10);
        out[o++] = (uint8_t)(acc >> 2);
    } else if (npad == 2) {
        bad |= acc & 15u;
        out[o++] = (uint8_t)(acc >> 4);
    }
    if (bad != 0)
        return RESIL_EPARSE;
    *outlen = o;
    return 0;
}
