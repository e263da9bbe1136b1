/* Keyed rate limiter: one GCRA bucket (see gcra.h) per key, in a sharded
 * hash table with bounded memory.
 *
 * Shards: up to 64, each a mutex, a chained hash table that grows by
 * doubling, and an LRU list.  A key's shard comes from the high half of its
 * hash, its chain from the low bits.  The per-key work is small (a hash, a
 * lookup, a few additions), so a mutex per shard is simpler than a lock-free
 * table and cheap while contention is spread over the shards.
 *
 * Memory bound: max_keys is split between the shards (the shares sum to
 * max_keys exactly), so the table never holds more than max_keys buckets;
 * a shard that is full evicts its least recently used key even if another
 * shard has room.  There are about max_keys / 16 shards (1..64) so that
 * each share is big enough for LRU order to mean something.
 *
 * Eviction: evicting a bucket that has refilled loses no information (a
 * new bucket is full too); evicting one that has not grants that key a
 * full bucket early.  That is the price of bounded memory: give max_keys
 * room for the keys active within one refill time (burst / rate).
 *
 * Expiry: a key unused for idle_ns (raised to at least the refill time, so
 * its bucket is full again) is dropped.  Each call looks at no more than
 * KL_REAP entries at its shard's LRU tail, the oldest ones: the table is
 * never scanned as a whole, and since each call adds at most one key, the
 * reaping keeps up.
 *
 * Hash: a per-table random 128-bit seed, and per 8-byte word a folded
 * 64x64->128 multiply of (state ^ word) by a seeded factor, so the effect
 * of a word depends on the secret state: a client cannot pick keys that
 * collide without knowing the seed. */
#include "gcra.h"

#include <pthread.h>
#include <string.h>

#define KL_MAX_SHARDS 64
#define KL_KEYS_PER_SHARD 16 /* aim: at least this many keys per shard */
#define KL_REAP 2            /* idle entries examined per call */
#define KL_INITIAL_SLOTS 8

struct kl_entry {
    struct kl_entry *chain; /* next in the hash chain */
    struct kl_entry *older; /* LRU neighbours */
    struct kl_entry *newer;
    uint64_t hash;
    int64_t tat;     /* GCRA state, ticks */
    int64_t last_ns; /* last use, ns on the clock */
    size_t keylen;
    unsigned char key[];
};

struct kl_shard {
    pthread_mutex_t mu;
    struct kl_entry **slots; /* NULL until the first key */
    size_t nslots;           /* a power of two */
    size_t count;
    size_t cap; /* this shard's share of max_keys */
    struct kl_entry *newest;
    struct kl_entry *oldest;
    uint64_t allowed, rejected, evictions, expirations;
};

/* Shards on separate cache lines: their mutexes are written by different
 * threads. */
union kl_line_shard {
    struct kl_shard s;
    unsigned char
        pad[(sizeof(struct kl_shard) + RESIL__LINE - 1) / RESIL__LINE * RESIL__LINE];
};

struct resil_keyed_limiter {
    resil__gcra g;
    const resil_clock *clock;
    int64_t idle_ns;
    uint64_t seed[2];
    size_t nshards;
    union kl_line_shard *shards;
    void *shards_mem;
};

void resil_keyed_limiter_opts_init(resil_keyed_limiter_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->rate = 10.0;
    o->burst = 10;
    o->max_keys = 10000;
    o->idle_ns = 10 * 60 * RESIL_NS_PER_SEC;
}

/* ---- hashing ------------------------------------------------------------ */

static inline uint64_t fold_mul(uint64_t a, uint64_t b)
{
    uint64_t hi, lo;
    resil__mul128(a, b, &hi, &lo);
    return hi ^ lo;
}

static uint64_t kl_hash(const struct resil_keyed_limiter *kl, const unsigned char *p,
                        size_t len)
{
    uint64_t h = kl->seed[0] ^ ((uint64_t)len * UINT64_C(0x9e3779b97f4a7c15));
    uint64_t w;
    while (len >= 8) {
        memcpy(&w, p, 8);
        h = fold_mul(h ^ w, kl->seed[1]);
        p += 8;
        len -= 8;
    }
    w = 0;
    if (len)
        memcpy(&w, p, len);
    h = fold_mul(h ^ w, kl->seed[1]);
    /* finalise so both the high half (shard) and low bits (slot) mix */
    h ^= h >> 32;
    h *= UINT64_C(0xd6e8feb86659fd93);
    return h ^ (h >> 29);
}

static struct kl_shard *kl_shard_of(struct resil_keyed_limiter *kl, uint64_t h)
{
    /* multiply-shift maps the high 32 bits onto 0..nshards-1 */
    size_t i = (size_t)(((h >> 32) * kl->nshards) >> 32);
    return &kl->shards[i].s;
}

/* ---- one shard's table and LRU list (caller holds the mutex) ----------- */

static struct kl_entry *kl_find(struct kl_shard *s, uint64_t h, const void *key,
                                size_t keylen)
{
    if (!s->slots)
        return NULL;
    struct kl_entry *e = s->slots[h & (s->nslots - 1)];
    for (; e; e = e->chain) {
        if (e->hash == h && e->keylen == keylen &&
            (keylen == 0 || !memcmp(e->key, key, keylen)))
            return e;
    }
    return NULL;
}

static void lru_unlink(struct kl_shard *s, struct kl_entry *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        s->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        s->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void lru_push_newest(struct kl_shard *s, struct kl_entry *e)
{
    e->older = s->newest;
    e->newer = NULL;
    if (s->newest)
        s->newest->newer = e;
    else
        s->oldest = e;
    s->newest = e;
}

static void kl_link(struct kl_shard *s, struct kl_entry *e)
{
    struct kl_entry **slot = &s->slots[e->hash & (s->nslots - 1)];
    e->chain = *slot;
    *slot = e;
    lru_push_newest(s, e);
    s->count++;
}

static void kl_remove(struct kl_shard *s, struct kl_entry *e)
{
    struct kl_entry **link = &s->slots[e->hash & (s->nslots - 1)];
    while (*link != e)
        link = &(*link)->chain;
    *link = e->chain;
    lru_unlink(s, e);
    s->count--;
    resil__free(e);
}

/* Doubles the slot array when the load passes 1; best effort: if memory is
 * short, chains just get longer. */
static void kl_maybe_grow(struct kl_shard *s)
{
    if (s->count < s->nslots || s->nslots >= s->cap)
        return;
    size_t n = s->nslots * 2;
    struct kl_entry **slots = resil__calloc(n, sizeof *slots);
    if (!slots)
        return;
    for (struct kl_entry *e = s->oldest; e; e = e->newer) {
        struct kl_entry **slot = &slots[e->hash & (n - 1)];
        e->chain = *slot;
        *slot = e;
    }
    resil__free(s->slots);
    s->slots = slots;
    s->nslots = n;
}

/* Drops up to KL_REAP idle, refilled entries from the LRU tail. */
static void kl_reap(const struct resil_keyed_limiter *kl, struct kl_shard *s, int64_t now,
                    int64_t now_t)
{
    for (int i = 0; i < KL_REAP && s->oldest; i++) {
        struct kl_entry *e = s->oldest;
        if (resil__add_sat(e->last_ns, kl->idle_ns) > now || e->tat > now_t)
            return;
        kl_remove(s, e);
        s->expirations++;
    }
}

/* A new full bucket for the key, in the table; evicts the LRU entry when
 * the shard is at its bound.  Allocates before evicting, so a failure
 * changes nothing. */
static int kl_insert(struct kl_shard *s, uint64_t h, const void *key, size_t keylen,
                     struct kl_entry **out)
{
    if (keylen > SIZE_MAX - sizeof(struct kl_entry))
        return RESIL_ENOMEM;
    if (!s->slots) {
        s->slots = resil__calloc(KL_INITIAL_SLOTS, sizeof *s->slots);
        if (!s->slots)
            return RESIL_ENOMEM;
        s->nslots = KL_INITIAL_SLOTS;
    }
    struct kl_entry *e = resil__malloc(sizeof *e + keylen);
    if (!e)
        return RESIL_ENOMEM;
    memset(e, 0, sizeof *e);
    e->hash = h;
    e->tat = RESIL__GCRA_FULL_TAT;
    e->keylen = keylen;
    if (keylen)
        memcpy(e->key, key, keylen);
    if (s->count >= s->cap) {
        kl_remove(s, s->oldest);
        s->evictions++;
    }
    kl_maybe_grow(s);
    kl_link(s, e);
    *out = e;
    return 0;
}

/* ---- public API ---------------------------------------------------------- */

static int kl_shards_init(struct resil_keyed_limiter *kl, uint32_t max_keys)
{
    size_t n = max_keys / KL_KEYS_PER_SHARD;
    n = n < 1 ? 1 : n > KL_MAX_SHARDS ? KL_MAX_SHARDS : n;
    kl->shards = resil__alloc_line(n * sizeof *kl->shards, &kl->shards_mem);
    if (!kl->shards)
        return RESIL_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        struct kl_shard *s = &kl->shards[i].s;
        if (pthread_mutex_init(&s->mu, NULL) != 0)
            goto out_destroy;
        s->cap = max_keys / n + (i < max_keys % n ? 1 : 0);
        kl->nshards = i + 1;
    }
    return 0;
out_destroy:
    for (size_t i = 0; i < kl->nshards; i++)
        pthread_mutex_destroy(&kl->shards[i].s.mu);
    resil__free(kl->shards_mem);
    kl->shards = NULL;
    return RESIL_ENOMEM;
}

static int64_t kl_idle_ns(const resil__gcra *g, int64_t idle_ns)
{
    /* never drop a bucket that has not refilled: at least burst / rate */
    double refill = (double)g->tau * g->ns_per_tick;
    if (refill >= 0x1p63)
        return INT64_MAX;
    int64_t r = (int64_t)refill;
    if ((double)r < refill)
        r++;
    return idle_ns > r ? idle_ns : r;
}

int resil_keyed_limiter_new(const resil_keyed_limiter_opts *o, resil_keyed_limiter **out)
{
    if (!out)
        return RESIL_EINVAL;
    *out = NULL;
    if (!o || o->max_keys < 1 || o->idle_ns < 0)
        return RESIL_EINVAL;
    resil__gcra g;
    int rc = resil__gcra_init(&g, o->rate, o->burst, resil_clock_now(o->clock));
    if (rc)
        return rc;
    struct resil_keyed_limiter *kl = resil__calloc(1, sizeof *kl);
    if (!kl)
        return RESIL_ENOMEM;
    kl->g = g;
    kl->clock = o->clock;
    kl->idle_ns = kl_idle_ns(&g, o->idle_ns);
    resil__rng rng;
    resil__rng_seed(&rng);
    kl->seed[0] = resil__rng_next(&rng);
    kl->seed[1] = resil__rng_next(&rng) | 1; /* never the degenerate 0 */
    rc = kl_shards_init(kl, o->max_keys);
    if (rc)
        goto out_free_kl;
    *out = kl;
    return 0;
out_free_kl:
    resil__free(kl);
    return rc;
}

void resil_keyed_limiter_free(resil_keyed_limiter *kl)
{
    if (!kl)
        return;
    for (size_t i = 0; i < kl->nshards; i++) {
        struct kl_shard *s = &kl->shards[i].s;
        struct kl_entry *e = s->oldest;
        while (e) {
            struct kl_entry *next = e->newer;
            resil__free(e);
            e = next;
        }
        resil__free(s->slots);
        pthread_mutex_destroy(&s->mu);
    }
    resil__free(kl->shards_mem);
    resil__free(kl);
}

static void kl_touch(struct kl_shard *s, struct kl_entry *e, int64_t now)
{
    lru_unlink(s, e);
    lru_push_newest(s, e);
    if (now > e->last_ns)
        e->last_ns = now;
}

/* The GCRA step for the key's bucket (made if new); caller holds s->mu.
 * The entry is touched before reaping, so the reaper never takes it. */
static int kl_take(const struct resil_keyed_limiter *kl, struct kl_shard *s, uint64_t h,
                   const void *key, size_t keylen, int64_t now, uint32_t n,
                   int64_t *excess)
{
    int64_t now_t = resil__gcra_ticks(&kl->g, now);
    struct kl_entry *e = kl_find(s, h, key, keylen);
    if (e) {
        kl_touch(s, e, now);
        kl_reap(kl, s, now, now_t);
    } else {
        kl_reap(kl, s, now, now_t); /* may make room before evicting */
        int rc = kl_insert(s, h, key, keylen, &e);
        if (rc)
            return rc;
        e->last_ns = now;
    }
    int64_t next = resil__gcra_next(&kl->g, e->tat, now_t, n);
    int64_t over = resil__gcra_excess(&kl->g, next, now_t);
    if (over > 0) {
        s->rejected += n;
        *excess = over;
        return RESIL_ELIMIT;
    }
    e->tat = next;
    s->allowed += n;
    return 0;
}

int resil_keyed_limiter_try_acquire_at(resil_keyed_limiter *kl, int64_t now,
                                       const void *key, size_t keylen, uint32_t n,
                                       int64_t *wait_ns)
{
    if (!kl || (!key && keylen > 0) || n == 0 || n > kl->g.burst)
        return RESIL_EINVAL;
    uint64_t h = kl_hash(kl, key, keylen);
    struct kl_shard *s = kl_shard_of(kl, h);
    int64_t excess = 0;
    pthread_mutex_lock(&s->mu);
    int rc = kl_take(kl, s, h, key, keylen, now, n, &excess);
    pthread_mutex_unlock(&s->mu);
    if (wait_ns && rc == 0)
        *wait_ns = 0;
    else if (wait_ns && rc == RESIL_ELIMIT)
        *wait_ns = resil__gcra_wait_ns(&kl->g, now, excess);
    return rc;
}

int resil_keyed_limiter_try_acquire(resil_keyed_limiter *kl, const void *key,
                                    size_t keylen, uint32_t n, int64_t *wait_ns)
{
    if (!kl)
        return RESIL_EINVAL;
    return resil_keyed_limiter_try_acquire_at(kl, resil_clock_now(kl->clock), key, keylen,
                                              n, wait_ns);
}

void resil_keyed_limiter_stats_get(resil_keyed_limiter *kl, resil_keyed_limiter_stats *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof *st);
    if (!kl)
        return;
    for (size_t i = 0; i < kl->nshards; i++) {
        struct kl_shard *s = &kl->shards[i].s;
        pthread_mutex_lock(&s->mu);
        st->allowed += s->allowed;
        st->rejected += s->rejected;
        st->keys += s->count;
        st->evictions += s->evictions;
        st->expirations += s->expirations;
        pthread_mutex_unlock(&s->mu);
    }
}
