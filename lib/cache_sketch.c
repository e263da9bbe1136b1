/* The data structures under the cache (see cache_internal.h): the keyed
 * hash, the TinyLFU frequency sketch, a shard's hash table, recency lists,
 * expiry heap, and the LRU / W-TinyLFU eviction policy.  Every resil__shard
 * function runs with the shard's mutex held by the caller.  At the end, the
 * maintenance half of cache.h, built on them: delete, clear, sweep, the
 * sweeper thread and statistics (cache.c has the rest; the split keeps
 * both files near the size the style asks for).
 *
 * W-TinyLFU follows Einziger, Friedman and Manes, "TinyLFU: A Highly
 * Efficient Cache Admission Policy" (ACM ToS 2017): a 1 % LRU window in
 * front of a segmented-LRU main area (80 % protected, 20 % probation);
 * the entry leaving the window enters the main area only by beating the
 * main area's eviction victim on estimated frequency. */
#include "cache_internal.h"

#include <limits.h>
#include <signal.h>
#include <string.h>

/* ---- hash ---------------------------------------------------------------- */

#define HASH_M1 UINT64_C(0x9e3779b97f4a7c15) /* 2^64 / golden ratio */
#define HASH_M2 UINT64_C(0xc2b2ae3d27d4eb4f) /* an odd constant with good bit spread */

static inline uint64_t rotl64(uint64_t x, unsigned r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t hash_step(uint64_t h, uint64_t w)
{
    h ^= w * HASH_M2;
    return rotl64(h, 31) * HASH_M1;
}

/* MurmurHash3's 64-bit finaliser (its constants are published): every input
 * bit affects every output bit, which the shard (top bits) and bucket (low
 * bits) choices both rely on. */
static inline uint64_t fmix64(uint64_t h)
{
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h;
}

/* Eight bytes a step (the length goes in first, so overlapping reads of
 * short keys cannot make two lengths collide); the per-cache seed makes bucket choices
 * unknowable from outside, so chosen keys cannot easily pile into one chain.  It is not
 * a cryptographic PRF (SipHash would cost the hit path ~15 ns). */
uint64_t resil__cache_hash(uint64_t seed, const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = seed ^ ((uint64_t)len * HASH_M1);
    uint64_t w;

    if (len >= 8) {
        size_t n = len;
        for (; n > 8; n -= 8, p += 8) {
            memcpy(&w, p, 8);
            h = hash_step(h, w);
        }
        /* the last 8 bytes, overlapping what came before when len is not
         * a multiple of 8: no byte-by-byte tail */
        memcpy(&w, (const unsigned char *)key + len - 8, 8);
        h = hash_step(h, w);
    } else if (len >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + len - 4, 4);
        h = hash_step(h, (uint64_t)a << 32 | b);
    } else if (len > 0) {
        w = (uint64_t)p[0] << 16 | (uint64_t)p[len / 2] << 8 | p[len - 1];
        h = hash_step(h, w);
    }
    return fmix64(h ^ (uint64_t)len);
}

/* ---- frequency sketch ------------------------------------------------------ */

#define SKETCH_BLOCK_WORDS RESIL__SKETCH_BLOCK_WORDS
#define SKETCH_MAX 15u
/* Halving every word at once: each nibble shifted right, the bit that fell
 * in from the next nibble masked off. */
#define SKETCH_HALF_MASK UINT64_C(0x7777777777777777)

static size_t next_pow2(size_t n)
{
    size_t p = 1;
    while (p < n && p < (SIZE_MAX >> 1) + 1)
        p <<= 1;
    return p;
}

int resil__sketch_init(resil__sketch *s, size_t capacity)
{
    /* one word (16 counters) per entry, as the TinyLFU paper sizes it: few
     * enough collisions that min-of-4 estimates stay close */
    size_t words =
        next_pow2(capacity < SKETCH_BLOCK_WORDS ? SKETCH_BLOCK_WORDS : capacity);
    s->table = resil__calloc(words, sizeof(uint64_t));
    if (!s->table)
        return RESIL_ENOMEM;
    s->block_mask = words / SKETCH_BLOCK_WORDS - 1;
    size_t sample = capacity < 16 ? 160 : capacity * 10;
    s->sample = sample > (UINT32_C(1) << 30) ? (UINT32_C(1) << 30) : (uint32_t)sample;
    s->additions = 0;
    return 0;
}

void resil__sketch_destroy(resil__sketch *s)
{
    resil__free(s->table);
    s->table = NULL;
}

/* Row i of a key's counters is word 2i or 2i + 1 of its block (see
 * resil__sketch_block) and one of that word's 16 nibbles: 5 bits of sel
 * per row. */
static inline unsigned sketch_word(uint64_t sel, unsigned row)
{
    return 2 * row + (unsigned)((sel >> (5 * row)) & 1);
}

static inline unsigned sketch_shift(uint64_t sel, unsigned row)
{
    return (unsigned)((sel >> (5 * row + 1)) & 15) * 4;
}

static void sketch_halve(resil__sketch *s)
{
    size_t words = (s->block_mask + 1) * SKETCH_BLOCK_WORDS;
    for (size_t i = 0; i < words; i++)
        s->table[i] = (s->table[i] >> 1) & SKETCH_HALF_MASK;
    s->additions /= 2;
}

static inline unsigned sketch_get(const uint64_t *b, uint64_t sel, unsigned row)
{
    return (unsigned)(b[sketch_word(sel, row)] >> sketch_shift(sel, row)) & SKETCH_MAX;
}

static inline unsigned min4(unsigned a, unsigned b, unsigned c, unsigned d)
{
    unsigned x = a < b ? a : b;
    unsigned y = c < d ? c : d;
    return x < y ? x : y;
}

/* Conservative update (Estan and Varghese 2002): only the counters at the
 * key's current minimum grow, so keys sharing a counter inflate each
 * other's estimates less.  Written out per row: this runs on every hit. */
void resil__sketch_add(resil__sketch *s, uint64_t hash)
{
    uint64_t z = resil__sketch_mix(hash);
    uint64_t *b = resil__sketch_block(s, z);
    uint64_t sel = z >> 32;
    unsigned v0 = sketch_get(b, sel, 0), v1 = sketch_get(b, sel, 1);
    unsigned v2 = sketch_get(b, sel, 2), v3 = sketch_get(b, sel, 3);
    unsigned min = min4(v0, v1, v2, v3);
    if (min < SKETCH_MAX) {
        b[sketch_word(sel, 0)] += (uint64_t)(v0 == min) << sketch_shift(sel, 0);
        b[sketch_word(sel, 1)] += (uint64_t)(v1 == min) << sketch_shift(sel, 1);
        b[sketch_word(sel, 2)] += (uint64_t)(v2 == min) << sketch_shift(sel, 2);
        b[sketch_word(sel, 3)] += (uint64_t)(v3 == min) << sketch_shift(sel, 3);
    }
    if (++s->additions >= s->sample)
        sketch_halve(s);
}

unsigned resil__sketch_freq(const resil__sketch *s, uint64_t hash)
{
    uint64_t z = resil__sketch_mix(hash);
    const uint64_t *b = resil__sketch_block(s, z);
    uint64_t sel = z >> 32;
    return min4(sketch_get(b, sel, 0), sketch_get(b, sel, 1), sketch_get(b, sel, 2),
                sketch_get(b, sel, 3));
}

/* ---- entries ---------------------------------------------------------------- */

static void entry_destroy(resil__entry *e)
{
    if (e->kind == RESIL__OBJECT && e->obj_free)
        e->obj_free(e->obj, e->obj_ctx);
    resil__free(e);
}

void resil__entry_put(resil__entry *e)
{
    /* acq_rel: release so this holder's reads of the value happen before
     * the free; acquire (on the last drop) to see every other holder's */
    if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1)
        entry_destroy(e);
}

void resil__entry_put_locked(resil__shard *s, resil__entry *e)
{
    /* acq_rel: as resil__entry_put */
    if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1) {
        e->hnext = s->graveyard;
        s->graveyard = e;
    }
}

void resil__graveyard_free(resil__entry *list)
{
    while (list) {
        resil__entry *next = list->hnext;
        entry_destroy(list);
        list = next;
    }
}

/* ---- lists ------------------------------------------------------------------ */

static void list_init(resil__link *h)
{
    h->prev = h;
    h->next = h;
}

static void list_insert_after(resil__link *at, resil__link *n)
{
    n->prev = at;
    n->next = at->next;
    at->next->prev = n;
    at->next = n;
}

static void list_remove(resil__link *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n;
    n->next = n;
}

/* The least recently used entry of a region, skipping up to two entries
 * that must stay; NULL if none. */
static resil__entry *region_tail(resil__shard *s, int r, const resil__entry *skip1,
                                 const resil__entry *skip2)
{
    for (resil__link *l = s->lists[r].prev; l != &s->lists[r]; l = l->prev) {
        resil__entry *e = resil__entry_of(l);
        if (e != skip1 && e != skip2)
            return e;
    }
    return NULL;
}

/* Make e the most recently used entry of region r. */
static void move_to(resil__shard *s, resil__entry *e, int r)
{
    list_remove(&e->lru);
    s->region_n[e->region]--;
    e->region = (uint8_t)r;
    s->region_n[r]++;
    list_insert_after(&s->lists[r], &e->lru);
}

/* ---- expiry heap ------------------------------------------------------------- */

static void heap_set(resil__shard *s, size_t i, resil__entry *e)
{
    s->heap[i] = e;
    e->heap_idx = (uint32_t)i;
}

static void heap_up(resil__shard *s, size_t i)
{
    resil__entry *e = s->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (s->heap[p]->expires <= e->expires)
            break;
        heap_set(s, i, s->heap[p]);
        i = p;
    }
    heap_set(s, i, e);
}

static void heap_down(resil__shard *s, size_t i)
{
    resil__entry *e = s->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->heap_n)
            break;
        if (c + 1 < s->heap_n && s->heap[c + 1]->expires < s->heap[c]->expires)
            c++;
        if (e->expires <= s->heap[c]->expires)
            break;
        heap_set(s, i, s->heap[c]);
        i = c;
    }
    heap_set(s, i, e);
}

/* Put e in slot i (a new last slot, or the slot of an entry it replaces)
 * and restore the heap order. */
static void heap_place(resil__shard *s, size_t i, resil__entry *e)
{
    heap_set(s, i, e);
    heap_up(s, i);
    heap_down(s, e->heap_idx);
}

static void heap_remove(resil__shard *s, resil__entry *e)
{
    size_t i = e->heap_idx;
    resil__entry *last = s->heap[--s->heap_n];
    if (last != e)
        heap_place(s, i, last);
}

/* ---- shard -------------------------------------------------------------------- */

int resil__shard_init(resil__shard *s, size_t cap, size_t max_bytes, int policy)
{
    size_t nb = next_pow2(cap);

    s->buckets = resil__calloc(nb, sizeof *s->buckets);
    if (!s->buckets)
        goto out;
    s->bucket_mask = nb - 1;
    /* one spare slot: an insert links before it evicts */
    s->heap = resil__calloc(cap + 1, sizeof *s->heap);
    if (!s->heap)
        goto out_free_buckets;
    if (policy == RESIL_CACHE_TINYLFU && resil__sketch_init(&s->sketch, cap) != 0)
        goto out_free_heap;
    for (int r = 0; r < RESIL__NREGIONS; r++)
        list_init(&s->lists[r]);
    s->cap = cap;
    s->max_bytes = max_bytes;
    if (policy == RESIL_CACHE_TINYLFU) {
        s->window_cap = cap / 100 ? cap / 100 : 1;
        s->protected_cap = (cap - s->window_cap) / 5 * 4;
    } else {
        s->window_cap = cap;
    }
    return 0;

out_free_heap:
    resil__free(s->heap);
    s->heap = NULL;
out_free_buckets:
    resil__free(s->buckets);
    s->buckets = NULL;
out:
    return RESIL_ENOMEM;
}

void resil__shard_destroy(resil__shard *s)
{
    resil__sketch_destroy(&s->sketch);
    resil__free(s->heap);
    resil__free(s->buckets);
    s->heap = NULL;
    s->buckets = NULL;
}

resil__entry *resil__shard_find(resil__shard *s, uint64_t h, const void *key,
                                size_t keylen)
{
    for (resil__entry *e = s->buckets[h & s->bucket_mask]; e; e = e->hnext) {
        if (e->hash == h && e->keylen == keylen &&
            (keylen == 0 || memcmp(e->data, key, keylen) == 0))
            return e;
    }
    return NULL;
}

static void chain_remove(resil__shard *s, resil__entry *e)
{
    resil__entry **pp = &s->buckets[e->hash & s->bucket_mask];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    e->hnext = NULL;
}

void resil__shard_link(resil__shard *s, resil__entry *e, resil__entry *old)
{
    resil__entry **b = &s->buckets[e->hash & s->bucket_mask];

    if (old) {
        /* the new value keeps the old one's standing (a hot key that is
         * rewritten stays protected); only recency moves */
        chain_remove(s, old);
        e->region = old->region;
        list_remove(&old->lru);
        list_insert_after(&s->lists[e->region], &e->lru);
        heap_place(s, old->heap_idx, e);
        s->bytes -= resil__entry_charge(old);
        old->region = RESIL__DETACHED;
        resil__entry_put_locked(s, old);
    } else {
        e->region = RESIL__WINDOW;
        list_insert_after(&s->lists[RESIL__WINDOW], &e->lru);
        s->region_n[RESIL__WINDOW]++;
        s->heap_n++;
        heap_place(s, s->heap_n - 1, e);
        s->count++;
    }
    e->hnext = *b;
    *b = e;
    s->bytes += resil__entry_charge(e);
}

void resil__shard_unlink(resil__shard *s, resil__entry *e)
{
    chain_remove(s, e);
    list_remove(&e->lru);
    s->region_n[e->region]--;
    e->region = RESIL__DETACHED;
    heap_remove(s, e);
    s->count--;
    s->bytes -= resil__entry_charge(e);
    resil__entry_put_locked(s, e);
}

void resil__shard_touch(resil__shard *s, resil__entry *e)
{
    if (e->region != RESIL__PROBATION) {
        move_to(s, e, e->region);
        return;
    }
    /* hit again while on probation: the main area keeps it longer */
    move_to(s, e, RESIL__PROTECTED);
    if (s->region_n[RESIL__PROTECTED] > s->protected_cap) {
        resil__entry *d = region_tail(s, RESIL__PROTECTED, NULL, NULL);
        move_to(s, d, RESIL__PROBATION);
    }
}

static bool over_bounds(const resil__shard *s)
{
    return s->count > s->cap || s->bytes > s->max_bytes;
}

/* The next entry to evict: probation's LRU end, then protected's, then
 * the window's, never keep or cand. */
static resil__entry *pick_victim(resil__shard *s, const resil__entry *keep,
                                 const resil__entry *cand)
{
    static const int order[] = {RESIL__PROBATION, RESIL__PROTECTED, RESIL__WINDOW};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        resil__entry *v = region_tail(s, order[i], keep, cand);
        if (v)
            return v;
    }
    return NULL;
}

size_t resil__shard_make_room(resil__shard *s, int policy, const resil__entry *keep)
{
    resil__entry *cand = NULL;
    size_t evicted = 0;

    if (policy == RESIL_CACHE_TINYLFU) {
        /* the window's overflow moves to probation and has to earn its
         * place there against the main area's victim */
        while (s->region_n[RESIL__WINDOW] > s->window_cap) {
            resil__entry *e = region_tail(s, RESIL__WINDOW, keep, NULL);
            if (!e)
                break;
            move_to(s, e, RESIL__PROBATION);
            cand = e;
        }
    }
    while (over_bounds(s)) {
        resil__entry *victim = pick_victim(s, keep, cand);
        if (!victim) {
            if (!cand)
                break;
            victim = cand;
            cand = NULL;
        } else if (cand && victim->region != RESIL__WINDOW &&
                   resil__sketch_freq(&s->sketch, cand->hash) <=
                       resil__sketch_freq(&s->sketch, victim->hash)) {
            /* ties go to the incumbent: a one-hit key must not push out a
             * key of the same (low) frequency that was there first */
            victim = cand;
            cand = NULL;
        }
        resil__shard_unlink(s, victim);
        evicted++;
    }
    return evicted;
}

/* ---- delete, clear, sweeping, statistics (cache.h) ---------------------------- */

/* Loads of this key (or, key NULL, of every key) under way end unstored:
 * their value was fetched before this change and may be older than it. */
void resil__invalidate_loads(resil__shard *s, uint64_t h, const void *key, size_t keylen,
                             bool all)
{
    for (resil__loadrec *r = s->loads; r; r = r->next) {
        if (all || (r->hash == h && r->keylen == keylen &&
                    (keylen == 0 || memcmp(r->key, key, keylen) == 0)))
            r->invalidated = true;
    }
}

void resil__shard_drop_all(resil__shard *s)
{
    for (int r = 0; r < RESIL__NREGIONS; r++) {
        while (s->lists[r].next != &s->lists[r]) {
            resil__link *l = s->lists[r].next;
            resil__shard_unlink(s, resil__entry_of(l));
        }
    }
}

int resil_cache_delete(resil_cache *c, const void *key, size_t keylen)
{
    if (!c || !resil__key_valid(key, keylen))
        return RESIL_EINVAL;
    uint64_t h = resil__cache_hash(c->seed, key, keylen);
    resil__shard *s = resil__shard_of(c, h);
    resil__shard_lock(s);
    resil__invalidate_loads(s, h, key, keylen, false);
    resil__entry *e = resil__shard_find(s, h, key, keylen);
    if (e)
        resil__shard_unlink(s, e);
    resil__shard_unlock(s);
    return e ? 0 : RESIL_ENOENT;
}

void resil_cache_clear(resil_cache *c)
{
    if (!c)
        return;
    for (uint32_t i = 0; i < c->nshards; i++) {
        resil__shard *s = &c->shards[i];
        resil__shard_lock(s);
        resil__invalidate_loads(s, 0, NULL, 0, true);
        resil__shard_drop_all(s);
        resil__shard_unlock(s);
    }
}

/* Reclaim dead entries of one shard from the top of its heap. */
static size_t sweep_shard(struct resil_cache *c, resil__shard *s, int64_t now,
                          size_t budget)
{
    size_t n = 0;
    resil__shard_lock(s);
    while (n < budget) {
        resil__entry *top = resil__shard_heap_top(s);
        if (!top || now < resil__dead_at(c, top))
            break;
        resil__shard_unlink(s, top);
        n++;
    }
    s->st.expirations += n;
    resil__shard_unlock(s);
    return n;
}

int resil_cache_sweep(resil_cache *c, size_t max_entries)
{
    if (!c)
        return RESIL_EINVAL;
    size_t budget = max_entries > INT_MAX ? INT_MAX : max_entries;
    size_t removed = 0;
    int64_t now = resil_clock_now(c->clock);
    /* relaxed: only spreads successive sweeps over the shards */
    uint32_t start = atomic_fetch_add_explicit(&c->sweep_next, 1, memory_order_relaxed);
    for (uint32_t i = 0; i < c->nshards && removed < budget; i++) {
        resil__shard *s = &c->shards[(start + i) & (c->nshards - 1)];
        removed += sweep_shard(c, s, now, budget - removed);
    }
    return (int)removed;
}

static void add_counters(resil_cache_stats *st, const resil__shard *s)
{
    st->hits += s->st.hits;
    st->misses += s->st.misses;
    st->stale_hits += s->st.stale_hits;
    st->coalesced += s->st.coalesced;
    st->loads += s->st.loads;
    st->load_failures += s->st.load_failures;
    st->inserts += s->st.inserts;
    st->evictions += s->st.evictions;
    st->expirations += s->st.expirations;
    st->entries += s->count;
    st->bytes += s->bytes;
}

void resil_cache_stats_get(resil_cache *c, resil_cache_stats *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof *st);
    if (!c)
        return;
    for (uint32_t i = 0; i < c->nshards; i++) {
        resil__shard *s = &c->shards[i];
        resil__shard_lock(s);
        add_counters(st, s);
        resil__shard_unlock(s);
    }
    st->max_entries = c->max_entries;
    st->max_bytes = c->max_bytes;
    uint64_t lookups = st->hits + st->misses;
    st->hit_rate = lookups ? (double)st->hits / (double)lookups : 0.0;
}

struct timespec resil__real_deadline(int64_t ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ns / RESIL_NS_PER_SEC);
    ts.tv_nsec += (long)(ns % RESIL_NS_PER_SEC);
    if (ts.tv_nsec >= RESIL_NS_PER_SEC) {
        ts.tv_sec++;
        ts.tv_nsec -= RESIL_NS_PER_SEC;
    }
    return ts;
}

static void *sweeper_main(void *arg)
{
    struct resil_cache *c = arg;
    pthread_mutex_lock(&c->sweeper_mu);
    /* the first sweep happens at once, even if a stop is already asked */
    for (;;) {
        size_t batch = c->sweeper_batch;
        int64_t interval = c->sweeper_interval;
        pthread_mutex_unlock(&c->sweeper_mu);
        resil_cache_sweep(c, batch);
        pthread_mutex_lock(&c->sweeper_mu);
        if (c->sweeper_stop)
            break;
        /* a spurious wakeup only makes one sweep come early */
        struct timespec ts = resil__real_deadline(interval);
        pthread_cond_timedwait(&c->sweeper_cv, &c->sweeper_mu, &ts);
        if (c->sweeper_stop)
            break;
    }
    pthread_mutex_unlock(&c->sweeper_mu);
    return NULL;
}

static int sweeper_spawn(struct resil_cache *c)
{
    sigset_t all, old;
    /* the thread inherits a full mask: the program's signals go to its own
     * threads, never to the library's */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&c->sweeper, NULL, sweeper_main, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc == 0 ? 0 : RESIL_ESYS;
}

int resil_cache_sweeper_start(resil_cache *c, int64_t interval_ns, size_t batch)
{
    if (!c || interval_ns <= 0 || batch == 0)
        return RESIL_EINVAL;
    int rc = 0;
    pthread_mutex_lock(&c->sweeper_life);
    if (c->sweeper_running) {
        rc = RESIL_ESTATE;
    } else {
        pthread_mutex_lock(&c->sweeper_mu);
        c->sweeper_stop = false;
        c->sweeper_interval = interval_ns;
        c->sweeper_batch = batch;
        pthread_mutex_unlock(&c->sweeper_mu);
        rc = sweeper_spawn(c);
        c->sweeper_running = rc == 0;
    }
    pthread_mutex_unlock(&c->sweeper_life);
    return rc;
}

int resil_cache_sweeper_stop(resil_cache *c)
{
    if (!c)
        return RESIL_EINVAL;
    int rc = 0;
    pthread_mutex_lock(&c->sweeper_life);
    if (!c->sweeper_running) {
        rc = RESIL_ESTATE;
    } else {
        pthread_mutex_lock(&c->sweeper_mu);
        c->sweeper_stop = true;
        pthread_cond_signal(&c->sweeper_cv);
        pthread_mutex_unlock(&c->sweeper_mu);
        pthread_join(c->sweeper, NULL);
        c->sweeper_running = false;
    }
    pthread_mutex_unlock(&c->sweeper_life);
    return rc;
}
