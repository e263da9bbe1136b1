/* TTL cache, the way values go in and out (cache.h): construction, set,
 * get, get-or-load with request coalescing, warming.  The structures, the
 * eviction policy and the maintenance calls (delete, clear, sweep, the
 * sweeper thread, statistics) are in cache_sketch.c; cache_internal.h has
 * the layout.
 *
 * Locking: one mutex per shard guards everything in it, the counters
 * included (so they need no atomics: a hit pays for its lock once and for
 * nothing else).  No user code runs under a shard lock: loaders run
 * unlocked, and entries whose last reference drops under the lock wait on
 * the shard's graveyard until resil__shard_unlock() frees them (obj_free).
 *
 * Entry lifetime: an entry holds one reference for the table while linked,
 * one per resil_cache_ref handed out and one per load record pointing at
 * it.  Increments happen under the shard lock or from a reference already
 * held, so they can be relaxed (nothing is published by them); decrements
 * are acq_rel (see resil__entry_put). */
#include "cache_internal.h"

#include <limits.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#define DEFAULT_MAX_ENTRIES 10000
#define DEFAULT_TTL (5 * 60 * RESIL_NS_PER_SEC)
#define DEFAULT_SHARDS 16u
#define MAX_SHARDS 1024u
#define MIN_AUTO_SHARD_ENTRIES 64
/* so that one value of up to 1 MiB always fits a shard of an auto-sharded
 * cache of 16 MiB or more */
#define MIN_AUTO_SHARD_BYTES ((size_t)1 << 20)
#define MAX_ENTRIES_LIMIT ((size_t)1 << 31)
/* A waiter for another caller's load re-reads the cache clock at least this
 * often, so a deadline on a manual or custom clock is noticed too. */
#define WAIT_SLICE_NS (10 * RESIL_NS_PER_MS)

void resil_cache_opts_init(resil_cache_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->max_entries = DEFAULT_MAX_ENTRIES;
    o->default_ttl_ns = DEFAULT_TTL;
    o->policy = RESIL_CACHE_TINYLFU;
}

/* ---- construction -------------------------------------------------------- */

static bool opts_valid(const resil_cache_opts *o)
{
    if (o->max_entries < 1 || o->max_entries > MAX_ENTRIES_LIMIT)
        return false;
    if (o->default_ttl_ns <= 0 || o->stale_ttl_ns < 0)
        return false;
    if (o->policy != RESIL_CACHE_LRU && o->policy != RESIL_CACHE_TINYLFU)
        return false;
    if (o->shards) {
        if (o->shards > MAX_SHARDS || (o->shards & (o->shards - 1)) != 0)
            return false;
        if (o->shards > o->max_entries)
            return false;
    }
    uint32_t n = o->shards ? o->shards : 1;
    return o->max_bytes == 0 || o->max_bytes >= n;
}

static uint32_t choose_shards(const resil_cache_opts *o)
{
    if (o->shards)
        return o->shards;
    uint32_t n = DEFAULT_SHARDS;
    while (n > 1 && o->max_entries / n < MIN_AUTO_SHARD_ENTRIES)
        n /= 2;
    while (n > 1 && o->max_bytes != 0 && o->max_bytes / n < MIN_AUTO_SHARD_BYTES)
        n /= 2;
    return n;
}

static unsigned log2_u32(uint32_t n)
{
    unsigned b = 0;
    while ((UINT32_C(1) << b) < n)
        b++;
    return b;
}

static int shard_setup(struct resil_cache *c, uint32_t i)
{
    resil__shard *s = &c->shards[i];
    size_t n = c->nshards;
    size_t cap = c->max_entries / n + (i < c->max_entries % n);
    size_t mb = SIZE_MAX;
    if (c->max_bytes)
        mb = c->max_bytes / n + (i < c->max_bytes % n);
    if (resil__shard_init(s, cap, mb, c->policy) != 0)
        return RESIL_ENOMEM;
    if (pthread_mutex_init(&s->mu, NULL) != 0)
        goto out_destroy_shard;
    if (resil__cond_init_monotonic(&s->load_done) != 0)
        goto out_destroy_mutex;
    return 0;

out_destroy_mutex:
    pthread_mutex_destroy(&s->mu);
out_destroy_shard:
    resil__shard_destroy(s);
    return RESIL_ENOMEM;
}

static void shard_teardown(resil__shard *s)
{
    pthread_cond_destroy(&s->load_done);
    pthread_mutex_destroy(&s->mu);
    resil__shard_destroy(s);
}

static void copy_opts(struct resil_cache *c, const resil_cache_opts *o)
{
    resil__rng rng;
    resil__rng_seed(&rng);
    c->seed = resil__rng_next(&rng);
    c->nshards = choose_shards(o);
    c->shard_shift = 64 - log2_u32(c->nshards);
    c->policy = o->policy;
    c->default_ttl = o->default_ttl_ns;
    c->stale_ttl = o->stale_ttl_ns;
    c->max_entries = o->max_entries;
    c->max_bytes = o->max_bytes;
    c->obj_free = o->obj_free;
    c->obj_free_ctx = o->obj_free_ctx;
    c->clock = o->clock;
    atomic_init(&c->sweep_next, 0);
}

static int shards_alloc(struct resil_cache *c)
{
    /* shards on their own cache lines: the array is over-allocated and
     * aligned by hand, since the allocator hook promises only malloc's
     * alignment */
    size_t align = _Alignof(resil__shard);
    if ((size_t)c->nshards > (SIZE_MAX - align) / sizeof(resil__shard))
        return RESIL_ENOMEM;
    c->shards_mem = resil__calloc(1, c->nshards * sizeof(resil__shard) + align);
    if (!c->shards_mem)
        return RESIL_ENOMEM;
    uintptr_t p = (uintptr_t)c->shards_mem;
    c->shards = (resil__shard *)((p + align - 1) & ~(uintptr_t)(align - 1));
    return 0;
}

static int sweeper_sync_init(struct resil_cache *c)
{
    if (pthread_mutex_init(&c->sweeper_mu, NULL) != 0)
        return RESIL_ENOMEM;
    if (pthread_mutex_init(&c->sweeper_life, NULL) != 0)
        goto out_destroy_mu;
    if (resil__cond_init_monotonic(&c->sweeper_cv) != 0)
        goto out_destroy_life;
    return 0;

out_destroy_life:
    pthread_mutex_destroy(&c->sweeper_life);
out_destroy_mu:
    pthread_mutex_destroy(&c->sweeper_mu);
    return RESIL_ENOMEM;
}

static void sweeper_sync_destroy(struct resil_cache *c)
{
    pthread_cond_destroy(&c->sweeper_cv);
    pthread_mutex_destroy(&c->sweeper_life);
    pthread_mutex_destroy(&c->sweeper_mu);
}

int resil_cache_new(const resil_cache_opts *o, resil_cache **out)
{
    uint32_t done = 0;

    if (!out)
        return RESIL_EINVAL;
    *out = NULL;
    if (!o || !opts_valid(o))
        return RESIL_EINVAL;
    struct resil_cache *c = resil__calloc(1, sizeof *c);
    if (!c)
        return RESIL_ENOMEM;
    copy_opts(c, o);
    if (shards_alloc(c) != 0)
        goto out_free_cache;
    for (; done < c->nshards; done++) {
        if (shard_setup(c, done) != 0)
            goto out_free_shards;
    }
    if (sweeper_sync_init(c) != 0)
        goto out_free_shards;
    *out = c;
    return 0;

out_free_shards:
    while (done > 0)
        shard_teardown(&c->shards[--done]);
    resil__free(c->shards_mem);
out_free_cache:
    resil__free(c);
    return RESIL_ENOMEM;
}

/* ---- destruction ------------------------------------------------------------ */

void resil_cache_free(resil_cache *c)
{
    if (!c)
        return;
    resil_cache_sweeper_stop(c);
    for (uint32_t i = 0; i < c->nshards; i++) {
        resil__shard *s = &c->shards[i];
        resil__shard_lock(s);
        resil__shard_drop_all(s);
        resil__shard_unlock(s);
        shard_teardown(s);
    }
    sweeper_sync_destroy(c);
    resil__free(c->shards_mem);
    resil__free(c);
}

/* ---- entries ---------------------------------------------------------------- */

static bool ttl_valid(int64_t ttl)
{
    return ttl >= 0;
}

static int64_t expiry_of(const struct resil_cache *c, int64_t now, int64_t ttl)
{
    if (ttl == 0)
        ttl = c->default_ttl;
    return ttl == RESIL_TIME_NEVER ? INT64_MAX : resil__add_sat(now, ttl);
}

static resil__entry *entry_new(const struct resil_cache *c, uint64_t h, const void *key,
                               size_t keylen, size_t valbytes)
{
    if (valbytes > SIZE_MAX - sizeof(resil__entry) - keylen)
        return NULL;
    resil__entry *e = resil__malloc(sizeof *e + keylen + valbytes);
    if (!e)
        return NULL;
    memset(e, 0, sizeof *e);
    atomic_init(&e->refs, 1);
    e->hash = h;
    e->keylen = (uint32_t)keylen;
    e->region = RESIL__DETACHED;
    e->kind = RESIL__BYTES;
    e->obj_free = c->obj_free;
    e->obj_ctx = c->obj_free_ctx;
    if (keylen)
        memcpy(e->data, key, keylen);
    return e;
}

/* Free up to two dead entries at the top of the expiry heap: inserts
 * reclaim expired space before they evict anything live, and the work per
 * insert stays bounded. */
static void reap_some(struct resil_cache *c, resil__shard *s, int64_t now)
{
    for (int i = 0; i < 2; i++) {
        resil__entry *top = resil__shard_heap_top(s);
        if (!top || now < resil__dead_at(c, top))
            return;
        resil__shard_unlink(s, top);
        s->st.expirations++;
    }
}

/* Under the lock: put e (carrying a reference for the table) in the table,
 * replacing the key's entry, then evict to the bounds.  RESIL_ERANGE (e
 * untouched) if it can never fit. */
static int store_locked(struct resil_cache *c, resil__shard *s, resil__entry *e,
                        int64_t now)
{
    if (resil__entry_charge(e) > s->max_bytes)
        return RESIL_ERANGE;
    resil__entry *old = resil__shard_find(s, e->hash, e->data, e->keylen);
    resil__shard_link(s, e, old);
    s->st.inserts++;
    reap_some(c, s, now);
    s->st.evictions += resil__shard_make_room(s, c->policy, e);
    return 0;
}

static int set_entry(struct resil_cache *c, resil__entry *e, int64_t now)
{
    resil__shard *s = resil__shard_of(c, e->hash);
    resil__shard_lock(s);
    resil__invalidate_loads(s, e->hash, e->data, e->keylen, false);
    int rc = store_locked(c, s, e, now);
    resil__shard_unlock(s);
    return rc;
}

/* The checks and the allocation of both set functions. */
static int set_prepare(struct resil_cache *c, const void *key, size_t keylen,
                       size_t valbytes, size_t charge, int64_t ttl, resil__entry **out)
{
    *out = NULL;
    if (!c || !resil__key_valid(key, keylen) || !ttl_valid(ttl))
        return RESIL_EINVAL;
    uint64_t h = resil__cache_hash(c->seed, key, keylen);
    if (charge > SIZE_MAX - keylen || keylen + charge > resil__shard_of(c, h)->max_bytes)
        return RESIL_ERANGE;
    resil__entry *e = entry_new(c, h, key, keylen, valbytes);
    if (!e)
        return RESIL_ENOMEM;
    e->vlen = charge;
    *out = e;
    return 0;
}

int resil_cache_set(resil_cache *c, const void *key, size_t keylen, const void *val,
                    size_t vallen, int64_t ttl_ns)
{
    resil__entry *e;
    if (!val && vallen)
        return RESIL_EINVAL;
    int rc = set_prepare(c, key, keylen, vallen, vallen, ttl_ns, &e);
    if (rc != 0)
        return rc;
    if (vallen)
        memcpy(e->data + keylen, val, vallen);
    int64_t now = resil_clock_now(c->clock);
    e->expires = expiry_of(c, now, ttl_ns);
    rc = set_entry(c, e, now);
    if (rc != 0)
        resil__entry_put(e);
    return rc;
}

int resil_cache_set_obj(resil_cache *c, const void *key, size_t keylen, void *obj,
                        size_t size, int64_t ttl_ns)
{
    resil__entry *e;
    int rc = set_prepare(c, key, keylen, 0, size, ttl_ns, &e);
    if (rc != 0)
        return rc;
    e->kind = RESIL__OBJECT;
    e->obj = obj;
    int64_t now = resil_clock_now(c->clock);
    e->expires = expiry_of(c, now, ttl_ns);
    rc = set_entry(c, e, now);
    if (rc != 0) {
        e->kind = RESIL__BYTES; /* not accepted: the caller keeps obj */
        resil__entry_put(e);
    }
    return rc;
}

/* ---- lookups ------------------------------------------------------------------ */

/* Under the lock: the fresh entry of key, or NULL.  A dead entry met on the
 * way is reclaimed; one within stale_ttl is kept for stale-if-error.  quiet
 * lookups (warming) count nothing and leave the sketch alone. */
static resil__entry *lookup_locked(struct resil_cache *c, resil__shard *s, uint64_t h,
                                   const void *key, size_t keylen, int64_t now,
                                   bool quiet)
{
    resil__entry *e = resil__shard_find(s, h, key, keylen);
    if (!quiet && c->policy == RESIL_CACHE_TINYLFU)
        resil__sketch_add(&s->sketch, h);
    if (e && now >= e->expires) {
        if (now >= resil__dead_at(c, e)) {
            resil__shard_unlink(s, e);
            s->st.expirations++;
        }
        e = NULL;
    }
    if (!e) {
        s->st.misses += !quiet;
        return NULL;
    }
    s->st.hits += !quiet;
    resil__shard_touch(s, e);
    return e;
}

int resil_cache_get(resil_cache *c, const void *key, size_t keylen, void *buf, size_t cap,
                    size_t *len)
{
    int rc = 0;
    size_t n = 0;

    if (len)
        *len = 0;
    if (!c || !resil__key_valid(key, keylen) || (!buf && cap))
        return RESIL_EINVAL;
    uint64_t h = resil__cache_hash(c->seed, key, keylen);
    resil__shard *s = resil__shard_of(c, h);
    resil__shard_prefetch(s, h);
    int64_t now = resil_clock_now(c->clock);
    resil__shard_lock(s);
    resil__entry *e = lookup_locked(c, s, h, key, keylen, now, false);
    if (!e) {
        rc = RESIL_ENOENT;
    } else if (e->kind != RESIL__BYTES) {
        rc = RESIL_EINVAL;
    } else {
        n = e->vlen;
        if (n > cap)
            rc = RESIL_ERANGE;
        else if (n)
            memcpy(buf, resil__entry_value(e), n);
    }
    resil__shard_unlock(s);
    if (len)
        *len = n;
    return rc;
}

int resil_cache_get_ref(resil_cache *c, const void *key, size_t keylen,
                        resil_cache_ref **ref)
{
    if (ref)
        *ref = NULL;
    if (!c || !ref || !resil__key_valid(key, keylen))
        return RESIL_EINVAL;
    uint64_t h = resil__cache_hash(c->seed, key, keylen);
    resil__shard *s = resil__shard_of(c, h);
    resil__shard_prefetch(s, h);
    int64_t now = resil_clock_now(c->clock);
    resil__shard_lock(s);
    resil__entry *e = lookup_locked(c, s, h, key, keylen, now, false);
    if (e)
        resil__ref_get(e);
    resil__shard_unlock(s);
    *ref = e;
    return e ? 0 : RESIL_ENOENT;
}

const void *resil_cache_ref_data(const resil_cache_ref *ref, size_t *len)
{
    if (!ref) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = ref->vlen;
    return ref->kind == RESIL__BYTES ? resil__entry_value(ref) : NULL;
}

void *resil_cache_ref_obj(const resil_cache_ref *ref)
{
    return ref && ref->kind == RESIL__OBJECT ? ref->obj : NULL;
}

void resil_cache_ref_release(resil_cache_ref *ref)
{
    if (ref)
        resil__entry_put(ref);
}

/* ---- get-or-load ------------------------------------------------------------------ */

/* Behind resil_cache_load.internal_: what the loader has given so far. */
struct load_ctx {
    struct resil_cache *c;
    uint64_t hash;
    const void *key;
    size_t keylen;
    resil__entry *entry; /* one reference, or NULL */
};

static void load_give(struct load_ctx *lc, resil__entry *e)
{
    if (lc->entry)
        resil__entry_put(lc->entry); /* replaced: no lock held here */
    lc->entry = e;
}

int resil_cache_load_set_bytes(resil_cache_load *ld, const void *data, size_t len)
{
    if (!ld || !ld->internal_ || (!data && len))
        return RESIL_EINVAL;
    struct load_ctx *lc = ld->internal_;
    resil__entry *e = entry_new(lc->c, lc->hash, lc->key, lc->keylen, len);
    if (!e)
        return RESIL_ENOMEM;
    e->vlen = len;
    if (len)
        memcpy(e->data + lc->keylen, data, len);
    load_give(lc, e);
    return 0;
}

int resil_cache_load_set_obj(resil_cache_load *ld, void *obj, size_t size)
{
    if (!ld || !ld->internal_)
        return RESIL_EINVAL;
    struct load_ctx *lc = ld->internal_;
    if (size > SIZE_MAX - lc->keylen)
        return RESIL_EINVAL;
    resil__entry *e = entry_new(lc->c, lc->hash, lc->key, lc->keylen, 0);
    if (!e)
        return RESIL_ENOMEM;
    e->kind = RESIL__OBJECT;
    e->obj = obj;
    e->vlen = size;
    load_give(lc, e);
    return 0;
}

static resil__loadrec *find_rec(resil__shard *s, uint64_t h, const void *key,
                                size_t keylen)
{
    for (resil__loadrec *r = s->loads; r; r = r->next) {
        if (r->hash == h && r->keylen == keylen &&
            (keylen == 0 || memcmp(r->key, key, keylen) == 0))
            return r;
    }
    return NULL;
}

static void unlink_rec(resil__shard *s, resil__loadrec *rec)
{
    resil__loadrec **pp = &s->loads;
    while (*pp != rec)
        pp = &(*pp)->next;
    *pp = rec->next;
}

/* Under the lock: one user of rec is done with it; the last frees it. */
static void leave_rec(resil__shard *s, resil__loadrec *rec)
{
    if (--rec->waiters > 0)
        return;
    if (rec->result)
        resil__entry_put_locked(s, rec->result);
    resil__free(rec);
}

/* Under the lock: a reference to rec's outcome for one caller. */
static int take_result(resil__shard *s, resil__loadrec *rec, resil_cache_ref **ref,
                       resil_cache_info *info, bool quiet)
{
    resil__entry *e = rec->result;
    if (e) {
        resil__ref_get(e);
        *ref = e;
        if (rec->stale && !quiet)
            s->st.stale_hits++;
        if (info) {
            info->stale = rec->stale;
            info->expires_at = e->expires;
        }
    }
    if (info)
        info->load_rc = rec->load_rc;
    int rc = rec->rc;
    leave_rec(s, rec);
    return rc;
}

/* Under the lock, the loader having given e: store it (unless invalidated)
 * and make it the outcome; one that cannot be stored is still handed out. */
static void publish_value(struct resil_cache *c, resil__shard *s, resil__loadrec *rec,
                          resil__entry *e, int64_t now)
{
    if (!rec->invalidated) {
        resil__ref_get(e); /* the table's */
        if (store_locked(c, s, e, now) != 0)
            resil__entry_put_locked(s, e);
    }
    rec->result = e; /* the load's reference moves to the record */
    rec->rc = 0;
}

/* Under the lock, the loader having failed: serve the key's entry if it is
 * still servable (stale-if-error; or fresh, if set during the load). */
static void publish_failure(struct resil_cache *c, resil__shard *s, resil__loadrec *rec,
                            int lrc, int64_t now)
{
    s->st.load_failures++;
    rec->rc = lrc < 0 ? lrc : RESIL_EFAILED;
    resil__entry *old = resil__shard_find(s, rec->hash, rec->key, rec->keylen);
    if (old && now < resil__dead_at(c, old)) {
        resil__ref_get(old);
        rec->result = old;
        rec->stale = now >= old->expires;
        rec->rc = 0;
    }
}

static int run_load(struct resil_cache *c, resil__shard *s, resil__loadrec *rec,
                    resil_cache_loader loader, void *ctx, int64_t deadline,
                    resil_cache_ref **ref, resil_cache_info *info, bool quiet)
{
    struct load_ctx lc = {c, rec->hash, rec->key, rec->keylen, NULL};
    resil_cache_load ld;
    memset(&ld, 0, sizeof ld);
    ld.key = rec->key;
    ld.keylen = rec->keylen;
    ld.deadline = deadline;
    ld.internal_ = &lc;

    int lrc = loader(ctx, &ld);
    int64_t now = resil_clock_now(c->clock);
    resil__shard_lock(s);
    unlink_rec(s, rec);
    rec->load_rc = lrc;
    if (lrc == 0 && lc.entry && ttl_valid(ld.ttl_ns)) {
        lc.entry->expires = expiry_of(c, now, ld.ttl_ns);
        publish_value(c, s, rec, lc.entry, now);
    } else {
        if (lc.entry)
            resil__entry_put_locked(s, lc.entry);
        publish_failure(c, s, rec, lrc, now);
    }
    rec->done = true;
    pthread_cond_broadcast(&s->load_done);
    if (info)
        info->loaded = 1;
    int rc = take_result(s, rec, ref, info, quiet);
    resil__shard_unlock(s);
    return rc;
}

/* One wait on the shard's condvar, at most WAIT_SLICE_NS of real time;
 * false once the deadline (cache clock) has passed. */
static bool wait_slice(struct resil_cache *c, resil__shard *s, int64_t deadline)
{
    if (deadline == RESIL_TIME_NEVER) {
        pthread_cond_wait(&s->load_done, &s->mu);
        return true;
    }
    int64_t now = resil_clock_now(c->clock);
    if (now >= deadline)
        return false;
    uint64_t left = (uint64_t)deadline - (uint64_t)now;
    struct timespec ts =
        resil__real_deadline(left < WAIT_SLICE_NS ? (int64_t)left : WAIT_SLICE_NS);
    pthread_cond_timedwait(&s->load_done, &s->mu, &ts);
    return true;
}

/* Entered with the lock held, returns with it released. */
static int wait_for_load(struct resil_cache *c, resil__shard *s, resil__loadrec *rec,
                         int64_t deadline, resil_cache_ref **ref, resil_cache_info *info,
                         bool quiet)
{
    rec->waiters++;
    s->st.coalesced += !quiet;
    if (info)
        info->coalesced = 1;
    while (!rec->done) {
        if (!wait_slice(c, s, deadline)) {
            leave_rec(s, rec); /* the runner still holds it: not the last */
            resil__shard_unlock(s);
            return RESIL_ETIMEDOUT;
        }
    }
    int rc = take_result(s, rec, ref, info, quiet);
    resil__shard_unlock(s);
    return rc;
}

static int get_or_load(struct resil_cache *c, const void *key, size_t keylen,
                       resil_cache_loader loader, void *ctx, int64_t deadline,
                       resil_cache_ref **ref, resil_cache_info *info, bool quiet)
{
    uint64_t h = resil__cache_hash(c->seed, key, keylen);
    resil__shard *s = resil__shard_of(c, h);
    resil__shard_prefetch(s, h);
    int64_t now = resil_clock_now(c->clock);
    resil__shard_lock(s);
    resil__entry *e = lookup_locked(c, s, h, key, keylen, now, quiet);
    if (e) {
        resil__ref_get(e);
        *ref = e;
        if (info)
            info->expires_at = e->expires;
        resil__shard_unlock(s);
        return 0;
    }
    resil__loadrec *rec = find_rec(s, h, key, keylen);
    if (rec)
        return wait_for_load(c, s, rec, deadline, ref, info, quiet);
    rec = resil__calloc(1, sizeof *rec);
    if (!rec) {
        resil__shard_unlock(s);
        return RESIL_ENOMEM;
    }
    rec->hash = h;
    rec->key = key;
    rec->keylen = keylen;
    rec->waiters = 1; /* the runner */
    rec->next = s->loads;
    s->loads = rec;
    s->st.loads++;
    resil__shard_unlock(s);
    return run_load(c, s, rec, loader, ctx, deadline, ref, info, quiet);
}

int resil_cache_get_or_load(resil_cache *c, const void *key, size_t keylen,
                            resil_cache_loader loader, void *ctx, int64_t deadline,
                            resil_cache_ref **ref, resil_cache_info *info)
{
    if (ref)
        *ref = NULL;
    if (info)
        memset(info, 0, sizeof *info);
    if (!c || !ref || !loader || !resil__key_valid(key, keylen))
        return RESIL_EINVAL;
    return get_or_load(c, key, keylen, loader, ctx, deadline, ref, info, false);
}

/* ---- warming ------------------------------------------------------------------ */

static void warm_one(struct resil_cache *c, const resil_cache_key *k,
                     resil_cache_loader loader, void *ctx, int64_t deadline,
                     resil_cache_warm_report *rep)
{
    resil_cache_ref *r = NULL;
    resil_cache_info info;
    memset(&info, 0, sizeof info);
    int rc = get_or_load(c, k->data, k->len, loader, ctx, deadline, &r, &info, true);
    if (rc != 0 || info.stale)
        rep->failed++;
    else if (info.loaded)
        rep->loaded++;
    else
        rep->present++;
    resil_cache_ref_release(r);
}

int resil_cache_warm(resil_cache *c, const resil_cache_key *keys, size_t n,
                     resil_cache_loader loader, void *ctx, int64_t deadline,
                     resil_cache_warm_report *report)
{
    resil_cache_warm_report rep;
    size_t i;

    memset(&rep, 0, sizeof rep);
    if (report)
        *report = rep;
    if (!c || !loader || (!keys && n))
        return RESIL_EINVAL;
    for (i = 0; i < n; i++) {
        if (!resil__key_valid(keys[i].data, keys[i].len))
            return RESIL_EINVAL;
    }
    for (i = 0; i < n; i++) {
        if (resil_clock_now(c->clock) >= deadline)
            break;
        warm_one(c, &keys[i], loader, ctx, deadline, &rep);
    }
    rep.skipped = n - i;
    if (report)
        *report = rep;
    if (rep.skipped)
        return RESIL_ETIMEDOUT;
    return rep.failed ? RESIL_EFAILED : 0;
}
