/* libresil: rate limiting.
 *
 * resil_limiter is a token bucket of `burst` tokens refilled at `rate` tokens
 * per second, kept as one atomic word (GCRA: the "theoretical arrival time"),
 * so try_acquire is a clock read, one compare-and-swap and one relaxed atomic
 * add for the statistics.  Time is kept in exact fractions of a token
 * interval relative to the limiter's creation, so rates up to 1e9/s do not
 * drift; times passed to the _at variants must lie within 18 years of it.
 *
 * resil_keyed_limiter keeps one such bucket per key (client, API key) in a
 * table bounded by max_keys; keys idle for idle_ns are dropped.  A bucket
 * that has refilled completely carries no information, so dropping it never
 * grants a client more than a fresh bucket would.  max_keys is split evenly
 * between internal shards, so a full shard may evict while others have room.
 *
 * Every function is safe to call from many threads on one limiter. */
#ifndef RESIL_LIMITER_H
#define RESIL_LIMITER_H

#include <resil/clock.h>
#include <resil/common.h>

RESIL_BEGIN_DECLS

typedef struct resil_limiter resil_limiter;
typedef struct resil_keyed_limiter resil_keyed_limiter;

typedef struct resil_limiter_opts {
    double rate;               /* tokens per second, in [0.001, 1e9]; default 10 */
    uint32_t burst;            /* bucket size >= 1; default 10 */
    const resil_clock *clock;  /* NULL: monotonic */
    uint64_t reserved_[8];
} resil_limiter_opts;

typedef struct resil_limiter_stats {
    uint64_t allowed;          /* tokens granted */
    uint64_t rejected;         /* tokens refused (waiting inside
                                  resil_limiter_acquire does not count; only
                                  its RESIL_ETIMEDOUT does) */
    double available;          /* tokens in the bucket now, 0..burst */
    double utilisation;        /* 1 - available / burst */
    uint64_t reserved_[8];
} resil_limiter_stats;

RESIL_API void resil_limiter_opts_init(resil_limiter_opts *o);
RESIL_API int resil_limiter_new(const resil_limiter_opts *o, resil_limiter **out);
RESIL_API void resil_limiter_free(resil_limiter *l);

/* Take n tokens (1 <= n <= burst) if they are there: 0 (and *wait_ns = 0),
 * or RESIL_ELIMIT and *wait_ns (if not NULL) set to the exact time until they
 * would be.  n > burst can never succeed: RESIL_EINVAL. */
RESIL_API int resil_limiter_try_acquire(resil_limiter *l, uint32_t n, int64_t *wait_ns);
RESIL_API int resil_limiter_try_acquire_at(resil_limiter *l, int64_t now, uint32_t n,
                                           int64_t *wait_ns);
/* Take n tokens, sleeping on the limiter's clock until they are there, unless
 * that would pass deadline (an absolute time on the limiter's clock, or
 * RESIL_TIME_NEVER): then RESIL_ETIMEDOUT at once, without sleeping and
 * without taking anything. */
RESIL_API int resil_limiter_acquire(resil_limiter *l, uint32_t n, int64_t deadline);
RESIL_API void resil_limiter_stats_get(resil_limiter *l, resil_limiter_stats *st);

typedef struct resil_keyed_limiter_opts {
    double rate;               /* per key, as resil_limiter_opts */
    uint32_t burst;
    uint32_t max_keys;         /* bound on buckets held, >= 1; default 10000 */
    int64_t idle_ns;           /* drop a key unused this long; default 10 min;
                                  raised to the time a bucket takes to refill,
                                  so 0 means "as soon as refilled" */
    const resil_clock *clock;
    uint64_t reserved_[8];
} resil_keyed_limiter_opts;

typedef struct resil_keyed_limiter_stats {
    uint64_t allowed;
    uint64_t rejected;
    uint64_t keys;             /* buckets held now */
    uint64_t evictions;        /* buckets dropped to stay under max_keys */
    uint64_t expirations;      /* buckets dropped for being idle */
    uint64_t reserved_[8];
} resil_keyed_limiter_stats;

RESIL_API void resil_keyed_limiter_opts_init(resil_keyed_limiter_opts *o);
RESIL_API int resil_keyed_limiter_new(const resil_keyed_limiter_opts *o,
                                      resil_keyed_limiter **out);
RESIL_API void resil_keyed_limiter_free(resil_keyed_limiter *kl);
/* As resil_limiter_try_acquire for the bucket of key[0..keylen).  The key is
 * copied; keylen 0 is the empty key (key may then be NULL).  RESIL_ENOMEM if a new key's bucket cannot be made. */
RESIL_API int resil_keyed_limiter_try_acquire(resil_keyed_limiter *kl, const void *key,
                                              size_t keylen, uint32_t n,
                                              int64_t *wait_ns);
RESIL_API int resil_keyed_limiter_try_acquire_at(resil_keyed_limiter *kl, int64_t now,
                                                 const void *key, size_t keylen,
                                                 uint32_t n, int64_t *wait_ns);
RESIL_API void resil_keyed_limiter_stats_get(resil_keyed_limiter *kl,
                                             resil_keyed_limiter_stats *st);

RESIL_END_DECLS

#endif /* RESIL_LIMITER_H */
