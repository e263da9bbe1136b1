/* A Zipf(s) key generator for the cache benchmarks: rank k in [0, n) is
 * drawn with probability proportional to 1 / (k + 1)^s.
 *
 * The same sequence comes out of bench/node/bench_cache.js, so C and
 * Node.js caches see the same trace: the generator is Marsaglia's xorshift32
 * (shifts 13, 17, 5; "Xorshift RNGs", J. Stat. Softw. 2003), two outputs
 * make one 53-bit uniform double (27 + 26 bits, the usual construction),
 * and the rank is found by binary search in the table of cumulative
 * weights.  Every step is exact in IEEE double arithmetic except pow(),
 * which Node.js and libm may round differently in the last place: for
 * s = 1 the traces are identical, for other s a handful of draws in
 * millions may land on a neighbouring rank (bench_cache prints a checksum
 * of the first million ranks so the two can be compared). */
#ifndef BENCH_ZIPF_H
#define BENCH_ZIPF_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct zipf_gen {
    double *cdf; /* cdf[k] = sum of weights of ranks 0..k */
    uint32_t n;
    uint32_t state; /* xorshift32, never 0 */
} zipf_gen;

static inline uint32_t zipf_xorshift32(uint32_t *x)
{
    uint32_t v = *x;
    v ^= v << 13;
    v ^= v >> 17;
    v ^= v << 5;
    *x = v;
    return v;
}

/* A uniform double in [0, 1) with 53 random bits. */
static inline double zipf_unit(uint32_t *x)
{
    uint32_t a = zipf_xorshift32(x) >> 5;
    uint32_t b = zipf_xorshift32(x) >> 6;
    return ((double)a * 67108864.0 + (double)b) / 9007199254740992.0;
}

/* 0, or -1 if the table (8 bytes per rank) cannot be allocated. */
static inline int zipf_init(zipf_gen *z, uint32_t n, double s, uint32_t seed)
{
    z->n = n;
    z->state = seed ? seed : 1;
    z->cdf = malloc((size_t)n * sizeof *z->cdf);
    if (!z->cdf)
        return -1;
    double sum = 0;
    for (uint32_t k = 0; k < n; k++) {
        /* 1/x for s = 1 keeps the two languages bit-identical */
        double w = s == 1.0 ? 1.0 / (double)(k + 1) : pow((double)(k + 1), -s);
        sum += w;
        z->cdf[k] = sum;
    }
    return 0;
}

static inline uint32_t zipf_next(zipf_gen *z)
{
    double u = zipf_unit(&z->state) * z->cdf[z->n - 1];
    uint32_t lo = 0, hi = z->n - 1;
    while (lo < hi) { /* the first rank whose cumulative weight passes u */
        uint32_t mid = lo + (hi - lo) / 2;
        if (z->cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static inline void zipf_free(zipf_gen *z)
{
    free(z->cdf);
    z->cdf = NULL;
}

#endif /* BENCH_ZIPF_H */
