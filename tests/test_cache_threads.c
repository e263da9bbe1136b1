/* TTL cache under concurrent use (run under TSan in CI): mixed operations on
 * overlapping keys with bounded iterations, then invariants -- bounds held,
 * statistics add up, every object freed once, no torn values. */
#include "check_util.h"

#include <resil/cache.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 4
#define ITERS 20000
#define NKEYS 200
#define MAX_ENTRIES 64
#define MAX_BYTES (MAX_ENTRIES * 40)
#define OBJ_MAGIC 0x0b1ec7u

static resil_clock *g_clock;
static resil_cache *g_cache;
static atomic_long g_obj_made;
static atomic_long g_obj_freed;
static atomic_long g_loader_calls;
static atomic_long g_loader_fails;
static atomic_long g_lookups;
static atomic_long g_bad;

struct obj {
    atomic_uint magic;
    unsigned key;
};

static void obj_free(void *p, void *ctx)
{
    struct obj *o = p;
    if (ctx != &g_obj_freed || atomic_exchange(&o->magic, 0) != OBJ_MAGIC)
        atomic_fetch_add(&g_bad, 1); /* freed twice, or not ours */
    atomic_fetch_add(&g_obj_freed, 1);
    free(o);
}

/* The value of key k is always the same bytes, whoever writes it, so a
 * reader can check that what it got is whole. */
static size_t value_of(unsigned k, char *buf)
{
    size_t n = 4 + k % 29;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)('a' + (k + i) % 26);
    return n;
}

static int value_ok(unsigned k, const char *v, size_t n)
{
    char want[64];
    size_t wn = value_of(k, want);
    return n == wn && memcmp(v, want, n) == 0;
}

static size_t key_of(unsigned k, char *buf)
{
    return (size_t)snprintf(buf, 16, "key-%u", k);
}

static unsigned key_num(const void *key, size_t len)
{
    char tmp[16];
    memcpy(tmp, key, len);
    tmp[len] = 0;
    return (unsigned)strtoul(tmp + 4, NULL, 10);
}

static int loader(void *ctx, resil_cache_load *ld)
{
    (void)ctx;
    atomic_fetch_add(&g_loader_calls, 1);
    unsigned k = key_num(ld->key, ld->keylen);
    if (k % 7 == 0) { /* some keys' loads fail: stale-if-error paths */
        atomic_fetch_add(&g_loader_fails, 1);
        return RESIL_EFAILED;
    }
    char v[64];
    size_t n = value_of(k, v);
    return resil_cache_load_set_bytes(ld, v, n);
}

static uint32_t next_rand(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static void check_ref(unsigned k, resil_cache_ref *r)
{
    size_t n;
    const char *d = resil_cache_ref_data(r, &n);
    if (d) {
        if (!value_ok(k, d, n))
            atomic_fetch_add(&g_bad, 1);
        return;
    }
    struct obj *o = resil_cache_ref_obj(r);
    if (!o || atomic_load(&o->magic) != OBJ_MAGIC || o->key != k)
        atomic_fetch_add(&g_bad, 1);
}

static void op_get(unsigned k, const char *key, size_t kl)
{
    char buf[64];
    size_t n;
    atomic_fetch_add(&g_lookups, 1);
    int rc = resil_cache_get(g_cache, key, kl, buf, sizeof buf, &n);
    if (rc == 0 && !value_ok(k, buf, n))
        atomic_fetch_add(&g_bad, 1);
    if (rc != 0 && rc != RESIL_ENOENT && rc != RESIL_EINVAL) /* EINVAL: an object */
        atomic_fetch_add(&g_bad, 1);
}

static void op_ref(unsigned k, const char *key, size_t kl)
{
    resil_cache_ref *r;
    atomic_fetch_add(&g_lookups, 1);
    if (resil_cache_get_ref(g_cache, key, kl, &r) == 0) {
        check_ref(k, r);
        resil_cache_ref_release(r);
    }
}

static void op_load(unsigned k, const char *key, size_t kl)
{
    resil_cache_ref *r;
    resil_cache_info info;
    atomic_fetch_add(&g_lookups, 1);
    int rc = resil_cache_get_or_load(g_cache, key, kl, loader, NULL, RESIL_TIME_NEVER, &r,
                                     &info);
    if (rc == 0) {
        check_ref(k, r);
        resil_cache_ref_release(r);
    } else if (rc != RESIL_EFAILED || k % 7 != 0) {
        atomic_fetch_add(&g_bad, 1);
    }
}

static void op_set(unsigned k, const char *key, size_t kl, uint32_t rnd)
{
    if (rnd % 4 == 0) {
        struct obj *o = malloc(sizeof *o);
        ck_assert_ptr_nonnull(o);
        atomic_init(&o->magic, OBJ_MAGIC);
        o->key = k;
        if (resil_cache_set_obj(g_cache, key, kl, o, 16, 0) == 0) {
            atomic_fetch_add(&g_obj_made, 1);
        } else {
            atomic_fetch_add(&g_bad, 1);
            free(o);
        }
        return;
    }
    char v[64];
    size_t n = value_of(k, v);
    if (resil_cache_set(g_cache, key, kl, v, n, (int64_t)(rnd % 3) * RESIL_NS_PER_MS) !=
        0)
        atomic_fetch_add(&g_bad, 1);
}

static void check_bounds(void)
{
    resil_cache_stats st;
    resil_cache_stats_get(g_cache, &st);
    if (st.entries > MAX_ENTRIES || st.bytes > MAX_BYTES)
        atomic_fetch_add(&g_bad, 1);
}

static void *worker(void *arg)
{
    uint32_t x = (uint32_t)(uintptr_t)arg * 2654435761u + 1;
    for (int i = 0; i < ITERS; i++) {
        uint32_t r = next_rand(&x);
        unsigned k = (r >> 8) % NKEYS;
        char key[16];
        size_t kl = key_of(k, key);
        unsigned op = r % 100;
        if (op < 35)
            op_get(k, key, kl);
        else if (op < 50)
            op_ref(k, key, kl);
        else if (op < 70)
            op_load(k, key, kl);
        else if (op < 88)
            op_set(k, key, kl, r >> 20);
        else if (op < 95)
            resil_cache_delete(g_cache, key, kl);
        else if (op < 97)
            resil_cache_sweep(g_cache, 8);
        else if (op < 99)
            resil_clock_manual_advance(g_clock, RESIL_NS_PER_MS / 2);
        else
            check_bounds();
        if (i == ITERS / 2 && (uintptr_t)arg == 0)
            resil_cache_clear(g_cache);
    }
    return NULL;
}

static void run_workers(void)
{
    pthread_t t[NTHREADS];
    for (uintptr_t i = 0; i < NTHREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, worker, (void *)i), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
}

static void reset_counters(void)
{
    /* CK_FORK=no runs every test in one process */
    atomic_store(&g_obj_made, 0);
    atomic_store(&g_obj_freed, 0);
    atomic_store(&g_loader_calls, 0);
    atomic_store(&g_loader_fails, 0);
    atomic_store(&g_lookups, 0);
    atomic_store(&g_bad, 0);
}

START_TEST(mixed_operations_keep_invariants)
{
    long live = tu_alloc_live();
    reset_counters();
    g_clock = tu_clock();
    resil_cache_opts o;
    resil_cache_opts_init(&o);
    o.max_entries = MAX_ENTRIES;
    o.max_bytes = MAX_BYTES;
    o.shards = 4;
    o.default_ttl_ns = 5 * RESIL_NS_PER_MS;
    o.stale_ttl_ns = 5 * RESIL_NS_PER_MS;
    o.policy = _i ? RESIL_CACHE_LRU : RESIL_CACHE_TINYLFU;
    o.clock = g_clock;
    o.obj_free = obj_free;
    o.obj_free_ctx = &g_obj_freed;
    ck_assert_rc(resil_cache_new(&o, &g_cache), 0);
    /* a sweeper thread in real time alongside the callers' own sweeps */
    ck_assert_rc(resil_cache_sweeper_start(g_cache, RESIL_NS_PER_MS, 16), 0);

    run_workers();

    ck_assert_rc(resil_cache_sweeper_stop(g_cache), 0);
    ck_assert_int_eq(atomic_load(&g_bad), 0);
    resil_cache_stats st;
    resil_cache_stats_get(g_cache, &st);
    ck_assert_uint_le(st.entries, MAX_ENTRIES);
    ck_assert_uint_le(st.bytes, MAX_BYTES);
    ck_assert_uint_eq(st.hits + st.misses, (uint64_t)atomic_load(&g_lookups));
    ck_assert_uint_eq(st.loads, (uint64_t)atomic_load(&g_loader_calls));
    ck_assert_uint_eq(st.load_failures, (uint64_t)atomic_load(&g_loader_fails));
    ck_assert_uint_le(st.coalesced + st.loads, st.misses);
    ck_assert_uint_le(st.stale_hits, st.load_failures * NTHREADS);
    ck_assert(st.hits > 0 && st.misses > 0 && st.evictions > 0 && st.expirations > 0);
    /* everything left expires; a sweep takes it all and the byte count
     * comes back to exactly zero */
    resil_clock_manual_advance(g_clock, RESIL_NS_PER_SEC);
    ck_assert_int_eq(resil_cache_sweep(g_cache, (size_t)-1), (int)st.entries);
    resil_cache_stats_get(g_cache, &st);
    ck_assert_uint_eq(st.entries, 0);
    ck_assert_uint_eq(st.bytes, 0);
    resil_cache_free(g_cache);
    ck_assert_int_eq(atomic_load(&g_obj_freed), atomic_load(&g_obj_made));
    ck_assert_int_eq(atomic_load(&g_bad), 0);
    resil_clock_free(g_clock);
    ck_assert_int_eq(tu_alloc_live(), live);
}
END_TEST

/* ---- coalescing under contention --------------------------------------- */

#define ROUNDS 300
static atomic_int g_calls_per_key[ROUNDS];
static pthread_barrier_t g_round;

static int counting_loader(void *ctx, resil_cache_load *ld)
{
    (void)ctx;
    unsigned k = key_num(ld->key, ld->keylen);
    atomic_fetch_add(&g_calls_per_key[k], 1);
    char v[64];
    size_t n = value_of(k, v);
    return resil_cache_load_set_bytes(ld, v, n);
}

static void *round_worker(void *arg)
{
    (void)arg;
    for (unsigned k = 0; k < ROUNDS; k++) {
        char key[16];
        size_t kl = key_of(k, key);
        resil_cache_ref *r;
        pthread_barrier_wait(&g_round); /* all ask for key k at once */
        if (resil_cache_get_or_load(g_cache, key, kl, counting_loader, NULL,
                                    RESIL_TIME_NEVER, &r, NULL) != 0) {
            atomic_fetch_add(&g_bad, 1);
            continue;
        }
        check_ref(k, r);
        resil_cache_ref_release(r);
    }
    return NULL;
}

START_TEST(each_key_loaded_once)
{
    long live = tu_alloc_live();
    resil_cache_opts o;
    resil_cache_opts_init(&o);
    o.default_ttl_ns = RESIL_TIME_NEVER; /* nothing expires or is evicted */
    ck_assert_rc(resil_cache_new(&o, &g_cache), 0);
    reset_counters();
    pthread_barrier_init(&g_round, NULL, NTHREADS);
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, round_worker, NULL), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&g_round);
    ck_assert_int_eq(atomic_load(&g_bad), 0);
    for (int k = 0; k < ROUNDS; k++)
        ck_assert_int_eq(atomic_load(&g_calls_per_key[k]), 1);
    resil_cache_stats st;
    resil_cache_stats_get(g_cache, &st);
    ck_assert_uint_eq(st.loads, ROUNDS);
    ck_assert_uint_eq(st.hits + st.misses, (uint64_t)ROUNDS * NTHREADS);
    ck_assert_uint_eq(st.misses, ROUNDS + st.coalesced);
    ck_assert_uint_eq(st.entries, ROUNDS);
    resil_cache_free(g_cache);
    ck_assert_int_eq(tu_alloc_live(), live);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cache_threads");
    TCase *t = tcase_create("cache_threads");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, mixed_operations_keep_invariants, 0, 2);
    tcase_add_test(t, each_key_loaded_once);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
