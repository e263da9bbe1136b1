/* Internals of the TTL cache (cache.c, cache_sketch.c); not installed.
 *
 * Each shard is a small cache of its own: a chained hash table, the policy's
 * recency lists, a min-heap of entries ordered by expiry and (TinyLFU) a
 * frequency sketch, all guarded by the shard's mutex.  Nothing in a shard is
 * shared with another shard, so the only state two threads on different
 * shards touch in common is the read-only resil_cache header. */
#ifndef RESIL_CACHE_INTERNAL_H
#define RESIL_CACHE_INTERNAL_H

#include "internal.h"

/* until resil.h includes it */
#include <resil/cache.h>

#include <pthread.h>
#include <time.h>

/* An intrusive doubly linked list node; a list is a circular sentinel. */
typedef struct resil__link {
    struct resil__link *prev;
    struct resil__link *next;
} resil__link;

enum resil__region {
    RESIL__WINDOW = 0,    /* LRU: the only list; TinyLFU: the admission window */
    RESIL__PROBATION = 1, /* TinyLFU main area, seen once there */
    RESIL__PROTECTED = 2, /* TinyLFU main area, hit again while in probation */
    RESIL__NREGIONS = 3,
    RESIL__DETACHED = 255 /* not in the table (a load's uncached result) */
};

enum resil__kind { RESIL__BYTES = 0, RESIL__OBJECT = 1 };

/* An entry; a resil_cache_ref is a pointer to one.  key, value, kind, size
 * and the object fields never change after creation, so a holder of a
 * reference may read them without a lock; everything else is the shard's
 * and guarded by its mutex. */
struct resil_cache_ref {
    struct resil_cache_ref *hnext; /* hash chain */
    resil__link lru;
    uint64_t hash;
    int64_t expires; /* absolute, cache clock; INT64_MAX: never */
    size_t vlen;     /* bytes: value length; object: its size */
    /* One for the table (while linked) plus one per handed-out reference
     * and per load record holding it. */
    _Atomic uint32_t refs;
    uint32_t keylen;
    uint32_t heap_idx;
    uint8_t region;
    uint8_t kind;
    void *obj;
    resil_cache_free_fn obj_free;
    void *obj_ctx;
    unsigned char data[]; /* key, then (bytes) the value */
};

typedef struct resil_cache_ref resil__entry;

static inline resil__entry *resil__entry_of(resil__link *l)
{
    return (resil__entry *)(void *)((char *)l - offsetof(resil__entry, lru));
}

static inline const unsigned char *resil__entry_value(const resil__entry *e)
{
    return e->data + e->keylen;
}

static inline size_t resil__entry_charge(const resil__entry *e)
{
    return (size_t)e->keylen + e->vlen;
}

/* Count-min sketch of 4-bit counters in 64-byte blocks (one block per key,
 * so an access touches one cache line), halved every `sample` additions so
 * old popularity fades. */
typedef struct resil__sketch {
    uint64_t *table;
    size_t block_mask; /* blocks - 1; a block is 8 words */
    uint32_t additions;
    uint32_t sample;
} resil__sketch;

#define RESIL__SKETCH_BLOCK_WORDS 8

/* A key's block comes from the low bits of a remix of its hash (the hash's
 * own bits choose shard and bucket); the high 32 bits choose the counters
 * in the block. */
static inline uint64_t resil__sketch_mix(uint64_t hash)
{
    uint64_t z = (hash ^ (hash >> 29)) * UINT64_C(0xbf58476d1ce4e5b9);
    return z ^ (z >> 32);
}

static inline uint64_t *resil__sketch_block(const resil__sketch *s, uint64_t z)
{
    return s->table + (size_t)(z & s->block_mask) * RESIL__SKETCH_BLOCK_WORDS;
}

int resil__sketch_init(resil__sketch *s, size_t capacity);
void resil__sketch_destroy(resil__sketch *s);
void resil__sketch_add(resil__sketch *s, uint64_t hash);
unsigned resil__sketch_freq(const resil__sketch *s, uint64_t hash);

/* The 64-bit keyed hash of the cache's table. */
uint64_t resil__cache_hash(uint64_t seed, const void *key, size_t len);

/* A get_or_load in progress: the first caller to miss makes it and runs the
 * loader; later callers for the same key wait on the shard's condvar until
 * `done`.  It lives while waiters > 0 (the runner counts as one). */
typedef struct resil__loadrec {
    struct resil__loadrec *next;
    uint64_t hash;
    const void *key; /* the runner's; valid while the record is linked */
    size_t keylen;
    uint32_t waiters;
    bool done;
    bool invalidated;     /* set/delete/clear came during the load */
    bool stale;           /* result is a stale entry served on error */
    int rc;               /* outcome for everyone: 0 or a RESIL_E* code */
    int load_rc;          /* the loader's own return value */
    resil__entry *result; /* holds one reference, or NULL */
} resil__loadrec;

typedef struct resil__shard_counters {
    uint64_t hits, misses, stale_hits, coalesced, loads, load_failures;
    uint64_t inserts, evictions, expirations;
} resil__shard_counters;

typedef struct resil__shard {
    /* each shard starts a cache line, and so ends before the next one's:
     * no false sharing between the locks and counters of neighbours */
    _Alignas(64) pthread_mutex_t mu;
    pthread_cond_t load_done; /* broadcast when a load of this shard ends */
    resil__entry **buckets;
    size_t bucket_mask;
    resil__link lists[RESIL__NREGIONS];
    size_t region_n[RESIL__NREGIONS];
    size_t count;
    size_t bytes;
    size_t cap;       /* entries */
    size_t max_bytes; /* SIZE_MAX: no byte bound */
    size_t window_cap;
    size_t protected_cap;
    resil__entry **heap; /* min-heap on expires, cap slots */
    size_t heap_n;
    resil__sketch sketch; /* TinyLFU only */
    resil__loadrec *loads;
    resil__shard_counters st;
    /* a dead list of entries whose last reference was dropped under mu:
     * freed (and obj_free called) after the unlock */
    resil__entry *graveyard;
} resil__shard;

struct resil_cache {
    resil__shard *shards;
    void *shards_mem; /* the unaligned allocation */
    uint32_t nshards;
    unsigned shard_shift; /* 64 - log2(nshards); 64 when one shard */
    int policy;
    uint64_t seed;
    int64_t default_ttl;
    int64_t stale_ttl;
    size_t max_entries;
    size_t max_bytes;
    resil_cache_free_fn obj_free;
    void *obj_free_ctx;
    const resil_clock *clock;
    _Atomic uint32_t sweep_next;  /* shard the next sweep starts at */
    pthread_mutex_t sweeper_life; /* serialises sweeper start and stop */
    pthread_mutex_t sweeper_mu;   /* guards the sweeper fields */
    pthread_cond_t sweeper_cv;
    pthread_t sweeper;
    bool sweeper_running;
    bool sweeper_stop;
    int64_t sweeper_interval;
    size_t sweeper_batch;
};

static inline resil__shard *resil__shard_of(const struct resil_cache *c, uint64_t h)
{
    /* the top bits choose the shard, the low bits the bucket, so the two
     * are independent */
    return &c->shards[c->shard_shift >= 64 ? 0 : h >> c->shard_shift];
}

/* Start loading the lines a lookup of h will touch (its bucket, its sketch
 * block) before the lock is taken, so the misses overlap the lock and the
 * clock read.  Only pointers fixed at creation are read: no lock needed. */
static inline void resil__shard_prefetch(const resil__shard *s, uint64_t h)
{
    __builtin_prefetch(&s->buckets[h & s->bucket_mask]);
    if (s->sketch.table)
        __builtin_prefetch(resil__sketch_block(&s->sketch, resil__sketch_mix(h)), 1);
}

/* Policy and structure operations on a locked shard (cache_sketch.c). */
int resil__shard_init(resil__shard *s, size_t cap, size_t max_bytes, int policy);
void resil__shard_destroy(resil__shard *s);
resil__entry *resil__shard_find(resil__shard *s, uint64_t h, const void *key,
                                size_t keylen);
/* Link a new entry (not in the table) as most recently used, replacing
 * `old` (the entry with the same key, or NULL) in place. */
void resil__shard_link(resil__shard *s, resil__entry *e, resil__entry *old);
/* Unlink e and drop the table's reference. */
void resil__shard_unlink(resil__shard *s, resil__entry *e);
/* A hit: record recency. */
void resil__shard_touch(resil__shard *s, resil__entry *e);
/* Evict until the shard is within its bounds; returns the count evicted. */
size_t resil__shard_make_room(resil__shard *s, int policy, const resil__entry *keep);
/* Mark loads under way of this key (or, all, of every key) as not to be
 * stored. */
void resil__invalidate_loads(resil__shard *s, uint64_t h, const void *key, size_t keylen,
                             bool all);
/* Unlink every entry. */
void resil__shard_drop_all(resil__shard *s);
/* The entry expiring first, or NULL. */
static inline resil__entry *resil__shard_heap_top(const resil__shard *s)
{
    return s->heap_n ? s->heap[0] : NULL;
}

/* Drop one reference; the last one frees the entry (and its object). */
void resil__entry_put(resil__entry *e);
/* Drop the table's reference under the shard lock: an entry that dies is
 * parked on the graveyard so user callbacks run after the unlock. */
void resil__entry_put_locked(resil__shard *s, resil__entry *e);
/* Free a graveyard list (with no lock held). */
void resil__graveyard_free(resil__entry *list);

static inline void resil__ref_get(resil__entry *e)
{
    /* relaxed: the caller holds the shard lock or a reference, so e is
     * alive; the increment publishes nothing */
    atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
}

static inline void resil__shard_lock(resil__shard *s)
{
    pthread_mutex_lock(&s->mu);
}

/* Unlock, then free what died under the lock: obj_free may take time or
 * use the cache, so it never runs with the lock held. */
static inline void resil__shard_unlock(resil__shard *s)
{
    resil__entry *dead = s->graveyard;
    s->graveyard = NULL;
    pthread_mutex_unlock(&s->mu);
    resil__graveyard_free(dead);
}

/* A key may be NULL only when empty; keylen is stored in 32 bits. */
static inline bool resil__key_valid(const void *key, size_t keylen)
{
    return (key || keylen == 0) && keylen <= UINT32_MAX;
}

/* When e stops being servable even as stale. */
static inline int64_t resil__dead_at(const struct resil_cache *c, const resil__entry *e)
{
    return e->expires == INT64_MAX ? INT64_MAX : resil__add_sat(e->expires, c->stale_ttl);
}

/* CLOCK_MONOTONIC now + ns, for timed waits on condvars made with
 * pthread_condattr_setclock(CLOCK_MONOTONIC). */
struct timespec resil__real_deadline(int64_t ns);

#endif /* RESIL_CACHE_INTERNAL_H */
