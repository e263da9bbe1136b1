/* libresil: TTL cache with request coalescing.
 *
 *   static int load(void *ctx, resil_cache_load *ld) {
 *       char *json = fetch(ld->key, ld->keylen);     // the slow remote call
 *       if (!json) return RESIL_EFAILED;
 *       int rc = resil_cache_load_set_bytes(ld, json, strlen(json));
 *       free(json);                                  // the cache made a copy
 *       return rc;
 *   }
 *   resil_cache_ref *r;
 *   if (resil_cache_get_or_load(c, id, idlen, load, NULL, deadline, &r, NULL) == 0) {
 *       size_t n;
 *       const char *json = resil_cache_ref_data(r, &n);
 *       reply(json, n);
 *       resil_cache_ref_release(r);
 *   }
 *
 * Keys are byte strings (any bytes, any length the byte bound allows).  A
 * value is either bytes, which the cache copies, or a caller's object, which
 * the cache owns from the moment it accepts it and frees with the opts'
 * obj_free callback exactly once, when the entry has left the cache and no
 * reference to it is held.
 *
 * Reading never returns a pointer another thread can free: resil_cache_get()
 * copies bytes into the caller's buffer (the fast path: no allocation), and
 * resil_cache_get_ref() / resil_cache_get_or_load() return a counted
 * reference that keeps the value (bytes or object) alive, unchanged, until
 * resil_cache_ref_release(), even if the entry is deleted or replaced in the
 * meantime.
 *
 * The table is split into a power-of-two number of shards, each with its own
 * mutex, and a key's shard is chosen by a hash with a per-cache random seed,
 * so threads working on different keys rarely meet and a hit takes only its
 * shard's lock.  Each shard holds 1/shards of max_entries and max_bytes.
 *
 * Every function is safe to call from many threads on one cache. */
#ifndef RESIL_CACHE_H
#define RESIL_CACHE_H

#include <resil/clock.h>
#include <resil/common.h>

RESIL_BEGIN_DECLS

typedef struct resil_cache resil_cache;
/* A counted reference to one value; see resil_cache_ref_release(). */
typedef struct resil_cache_ref resil_cache_ref;

typedef enum resil_cache_policy {
    /* Evict the least recently used entry. */
    RESIL_CACHE_LRU = 0,
    /* W-TinyLFU (Einziger, Friedman, Manes 2017): new entries enter a small
     * LRU window (1 %); an entry leaving it replaces the main area's victim
     * only if a frequency sketch (count-min, 4-bit counters, halved every
     * 10 x capacity accesses) says it is used more often.  The main area is
     * a segmented LRU (80 % protected).  One-hit scans then cannot flush
     * keys that are used often: a higher hit ratio on skewed traffic. */
    RESIL_CACHE_TINYLFU = 1,
} resil_cache_policy;

/* Frees a caller object the cache owned.  Called exactly once per accepted
 * object, on the thread that dropped the last reference, never with a cache
 * lock held (it may call resil_cache_* on any cache). */
typedef void (*resil_cache_free_fn)(void *obj, void *ctx);

typedef struct resil_cache_opts {
    size_t max_entries;        /* 1..2^31; default 10000.  The hash table,
                                  expiry heap and sketch are allocated up
                                  front: 24 to 40 bytes per entry */
    size_t max_bytes;          /* bound on key + value bytes (objects count
                                  the size given with them); 0 means no
                                  byte bound; default 0.  A value larger
                                  than max_bytes / shards is refused */
    int64_t default_ttl_ns;    /* > 0, or RESIL_TIME_NEVER; default 5 min */
    int64_t stale_ttl_ns;      /* >= 0: how long past its TTL an entry is
                                  kept so get_or_load can serve it when the
                                  loader fails (stale-if-error); default 0 */
    uint32_t shards;           /* a power of two 1..1024, or 0: 16, fewer
                                  for small caches so each shard holds at
                                  least 64 entries and (with a byte bound)
                                  1 MiB; default 0 */
    resil_cache_policy policy; /* default RESIL_CACHE_TINYLFU */
    resil_cache_free_fn obj_free; /* for object values; NULL: objects are
                                     not freed (the caller owns them) */
    void *obj_free_ctx;
    const resil_clock *clock;  /* NULL: monotonic.  resil_clock_coarse()
                                  costs a few ns instead of ~20 on every
                                  access, at a resolution of 1-4 ms */
    uint64_t reserved_[8];     /* zeroed by resil_cache_opts_init() */
} resil_cache_opts;

typedef struct resil_cache_stats {
    /* Lookups: every get, get_ref and get_or_load is a hit (fresh entry
     * found) or a miss, so hits + misses counts them all.  Warming is not
     * counted here. */
    uint64_t hits;
    uint64_t misses;
    uint64_t stale_hits;       /* misses answered with a stale entry
                                  because the loader failed */
    uint64_t coalesced;        /* misses that waited for another caller's
                                  load instead of running the loader */
    uint64_t loads;            /* loader runs (get_or_load and warming) */
    uint64_t load_failures;    /* loader runs that returned an error */
    uint64_t inserts;          /* entries added by set, set_obj or a load,
                                  replacements included */
    uint64_t evictions;        /* entries removed to respect the bounds */
    uint64_t expirations;      /* entries removed for being past their TTL
                                  (plus stale_ttl), on access or by a sweep */
    uint64_t entries;          /* held now */
    uint64_t bytes;            /* key + value bytes held now */
    uint64_t max_entries;
    uint64_t max_bytes;        /* 0: no byte bound */
    double hit_rate;           /* hits / (hits + misses); 0 when both are 0 */
    uint64_t reserved_[8];
} resil_cache_stats;

RESIL_API void resil_cache_opts_init(resil_cache_opts *o);
/* RESIL_EINVAL for out-of-range options, RESIL_ENOMEM. */
RESIL_API int resil_cache_new(const resil_cache_opts *o, resil_cache **out);
/* Stops the sweeper thread if one runs, then drops every entry (objects
 * still referenced are freed when their last reference is released). */
RESIL_API void resil_cache_free(resil_cache *c);

/* Store a copy of val[0..vallen) under key[0..keylen), replacing any entry.
 * ttl_ns: 0 for the default TTL, > 0, or RESIL_TIME_NEVER.  key (val) may
 * be NULL only when keylen (vallen) is 0.  RESIL_ERANGE if the key and
 * value are larger than one shard's byte bound, RESIL_ENOMEM (the cache is
 * unchanged).  Evicts entries when a bound is passed. */
RESIL_API int resil_cache_set(resil_cache *c, const void *key, size_t keylen,
                              const void *val, size_t vallen, int64_t ttl_ns);
/* Store a caller's object, charged as `size` bytes.  On success the cache
 * owns obj (see resil_cache_free_fn); on failure it does not, and obj_free
 * is not called. */
RESIL_API int resil_cache_set_obj(resil_cache *c, const void *key, size_t keylen,
                                  void *obj, size_t size, int64_t ttl_ns);

/* Copy a fresh bytes value into buf[0..cap).  0 and *len = its length;
 * RESIL_ERANGE and *len = the length needed (buf untouched) if cap is too
 * small; RESIL_ENOENT if absent or expired (*len = 0); RESIL_EINVAL if the
 * value is an object (use resil_cache_get_ref()).  buf may be NULL when cap
 * is 0. */
RESIL_API int resil_cache_get(resil_cache *c, const void *key, size_t keylen,
                              void *buf, size_t cap, size_t *len);
/* A reference to a fresh value, bytes or object: 0, or RESIL_ENOENT
 * (*ref = NULL). */
RESIL_API int resil_cache_get_ref(resil_cache *c, const void *key, size_t keylen,
                                  resil_cache_ref **ref);

/* The bytes of a referenced value and (if len is not NULL) their length;
 * NULL for an object value (then *len is the object's size).  Valid until
 * the reference is released; never modify them. */
RESIL_API const void *resil_cache_ref_data(const resil_cache_ref *ref, size_t *len);
/* The object of a referenced value, NULL for a bytes value.  It stays
 * alive until the reference is released; other threads may be reading it
 * too, so treat it as read-only. */
RESIL_API void *resil_cache_ref_obj(const resil_cache_ref *ref);
/* Drop a reference (NULL is a no-op).  Each one must be released exactly
 * once; a reference may outlive its cache. */
RESIL_API void resil_cache_ref_release(resil_cache_ref *ref);

/* What a loader sees and fills in. */
typedef struct resil_cache_load {
    const void *key;           /* the key to load */
    size_t keylen;
    int64_t deadline;          /* the caller's deadline on the cache clock,
                                  or RESIL_TIME_NEVER: honour it */
    int64_t ttl_ns;            /* out: TTL of the value; 0 (the preset)
                                  for the default, > 0 or RESIL_TIME_NEVER */
    void *internal_;           /* the library's; do not touch */
    uint64_t reserved_[4];
} resil_cache_load;

/* Fetch the value of ld->key: give it with resil_cache_load_set_bytes() or
 * resil_cache_load_set_obj() and return 0, or return an error (a negative
 * RESIL_E* code, or any nonzero value) and the caller may be served a stale
 * entry.  It runs without any cache lock held and may use this cache, but
 * a get_or_load of the same key would wait for itself. */
typedef int (*resil_cache_loader)(void *ctx, resil_cache_load *ld);

/* Give the loaded value as a copy of data[0..len) (the loader may free data
 * at once).  RESIL_ENOMEM, RESIL_EINVAL.  A second call replaces the value
 * the first gave. */
RESIL_API int resil_cache_load_set_bytes(resil_cache_load *ld, const void *data,
                                         size_t len);
/* Give the loaded value as an object charged as `size` bytes; the cache owns
 * it from a successful call on, even if the loader then fails (it is freed
 * then).  RESIL_ENOMEM (obj not taken), RESIL_EINVAL. */
RESIL_API int resil_cache_load_set_obj(resil_cache_load *ld, void *obj, size_t size);

/* What happened in a get_or_load. */
typedef struct resil_cache_info {
    int stale;                 /* 1: the value is past its TTL, served
                                  because the loader failed */
    int loaded;                /* 1: this call ran the loader */
    int coalesced;             /* 1: this call waited for another caller's
                                  load and shares its outcome */
    int load_rc;               /* the loader's return value, 0 if it was not
                                  run or succeeded */
    int64_t expires_at;        /* the value's expiry on the cache clock
                                  (RESIL_TIME_NEVER: none); 0 on error */
    uint64_t reserved_[4];
} resil_cache_info;

/* A reference to the fresh value of key, loading it on a miss.  Concurrent
 * misses on one key run the loader once: the other callers wait for its
 * outcome, each until its own deadline (absolute, on the cache clock, or
 * RESIL_TIME_NEVER), and share it.  The loaded value is stored (unless a
 * set, delete or clear of the key came during the load) and returned even
 * if it could not be stored.
 *
 * 0 and *ref on success, also when the loader failed but an entry less than
 * stale_ttl past its TTL was there (info->stale = 1).  Otherwise *ref = NULL
 * and: the loader's negative code, or RESIL_EFAILED if it returned a
 * positive value or no value; RESIL_ETIMEDOUT if the deadline passed while
 * waiting for another caller's load; RESIL_ENOMEM.  info may be NULL. */
RESIL_API int resil_cache_get_or_load(resil_cache *c, const void *key, size_t keylen,
                                      resil_cache_loader loader, void *ctx,
                                      int64_t deadline, resil_cache_ref **ref,
                                      resil_cache_info *info);

/* 0, or RESIL_ENOENT if the key was not there.  A load of the key under way
 * is not stored when it ends. */
RESIL_API int resil_cache_delete(resil_cache *c, const void *key, size_t keylen);
/* Drop every entry (not counted as evictions); loads under way are not
 * stored.  Each shard is cleared under its own lock, one after the other. */
RESIL_API void resil_cache_clear(resil_cache *c);

/* Remove up to max_entries entries that are past their TTL plus stale_ttl,
 * oldest first.  Each shard keeps its entries in a heap ordered by expiry,
 * so the work is proportional to what is removed (plus one look per
 * shard), never a scan.  Returns how many were removed, or RESIL_EINVAL. */
RESIL_API int resil_cache_sweep(resil_cache *c, size_t max_entries);

/* Start a thread that calls resil_cache_sweep(c, batch) at once and then
 * every interval_ns of real time (not the cache clock) until
 * resil_cache_sweeper_stop() or resil_cache_free().  RESIL_ESTATE if one
 * runs already, RESIL_ESYS if the thread cannot be made. */
RESIL_API int resil_cache_sweeper_start(resil_cache *c, int64_t interval_ns,
                                        size_t batch);
/* Stop and join it; RESIL_ESTATE if none runs. */
RESIL_API int resil_cache_sweeper_stop(resil_cache *c);

/* A key for resil_cache_warm(). */
typedef struct resil_cache_key {
    const void *data;
    size_t len;
} resil_cache_key;

typedef struct resil_cache_warm_report {
    size_t loaded;             /* loaded and stored by this warm */
    size_t present;            /* fresh already, or loaded by another caller */
    size_t failed;             /* the loader failed */
    size_t skipped;            /* not tried: the deadline had passed */
    uint64_t reserved_[4];
} resil_cache_warm_report;

/* Load keys[0..n) in order through the loader, as get_or_load would (a key
 * being loaded by someone else is waited for), stopping once the cache
 * clock reaches deadline.  Warming's lookups are not counted as hits or
 * misses and do not feed the TinyLFU sketch.  0 if every key is now
 * cached; RESIL_ETIMEDOUT if keys were skipped, else RESIL_EFAILED if a
 * load failed.  report may be NULL. */
RESIL_API int resil_cache_warm(resil_cache *c, const resil_cache_key *keys, size_t n,
                               resil_cache_loader loader, void *ctx, int64_t deadline,
                               resil_cache_warm_report *report);

/* A snapshot: each shard is read under its lock, one after the other, so
 * counters of different shards may be from slightly different moments. */
RESIL_API void resil_cache_stats_get(resil_cache *c, resil_cache_stats *st);

RESIL_END_DECLS

#endif /* RESIL_CACHE_H */
