/* TTL cache: every edge on a manual clock (threads only where coalescing
 * needs them, and then synchronised by the test, never by sleeping). */
#include "check_util.h"

#include <resil/cache.h>

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC RESIL_NS_PER_SEC

/* ---- fixture ------------------------------------------------------------- */

static resil_clock *g_clock;
static resil_cache *g_cache;
static long g_live;

/* Objects handed to the cache: frees[i] counts obj_free calls for objs[i]. */
#define NOBJ 64
static int objs[NOBJ];
static int frees[NOBJ];

static void obj_free(void *obj, void *ctx)
{
    ck_assert_ptr_eq(ctx, frees);
    frees[(int *)obj - objs]++;
}

static void opts_base(resil_cache_opts *o)
{
    resil_cache_opts_init(o);
    o->clock = g_clock;
    o->obj_free = obj_free;
    o->obj_free_ctx = frees;
}

static resil_cache *mk(const resil_cache_opts *o)
{
    resil_cache *c = NULL;
    ck_assert_rc(resil_cache_new(o, &c), 0);
    ck_assert_ptr_nonnull(c);
    return c;
}

/* A one-shard cache of max entries, so eviction order is exact. */
static resil_cache *mk_small(size_t max, resil_cache_policy p)
{
    resil_cache_opts o;
    opts_base(&o);
    o.max_entries = max;
    o.shards = 1;
    o.policy = p;
    return mk(&o);
}

static void setup(void)
{
    g_live = tu_alloc_live();
    g_clock = tu_clock();
    memset(frees, 0, sizeof frees);
    resil_cache_opts o;
    opts_base(&o);
    o.default_ttl_ns = 10 * SEC;
    g_cache = mk(&o);
}

static void teardown(void)
{
    resil_cache_free(g_cache);
    g_cache = NULL;
    resil_clock_free(g_clock);
    ck_assert_int_eq(tu_alloc_live(), g_live);
}

static int put(resil_cache *c, const char *k, const char *v, int64_t ttl)
{
    return resil_cache_set(c, k, strlen(k), v, strlen(v), ttl);
}

/* 1 if k holds v now. */
static int has(resil_cache *c, const char *k, const char *v)
{
    char buf[256];
    size_t n;
    if (resil_cache_get(c, k, strlen(k), buf, sizeof buf, &n) != 0)
        return 0;
    ck_assert_uint_eq(n, strlen(v));
    ck_assert_int_eq(memcmp(buf, v, n), 0);
    return 1;
}

static int present(resil_cache *c, const char *k)
{
    resil_cache_ref *r;
    int rc = resil_cache_get_ref(c, k, strlen(k), &r);
    resil_cache_ref_release(r);
    return rc == 0;
}

static resil_cache_stats stats(resil_cache *c)
{
    resil_cache_stats st;
    resil_cache_stats_get(c, &st);
    return st;
}

static void advance(int64_t ns)
{
    ck_assert_rc(resil_clock_manual_advance(g_clock, ns), 0);
}

/* ---- options and arguments -------------------------------------------------- */

START_TEST(opts_defaults)
{
    resil_cache_opts o;
    memset(&o, 0xff, sizeof o);
    resil_cache_opts_init(&o);
    ck_assert_uint_eq(o.max_entries, 10000);
    ck_assert_uint_eq(o.max_bytes, 0);
    ck_assert_int_eq(o.default_ttl_ns, 300 * SEC);
    ck_assert_int_eq(o.stale_ttl_ns, 0);
    ck_assert_uint_eq(o.shards, 0);
    ck_assert_int_eq(o.policy, RESIL_CACHE_TINYLFU);
    ck_assert_ptr_null(o.clock);
    ck_assert_ptr_null((void *)o.obj_free);
    for (size_t i = 0; i < 8; i++)
        ck_assert_uint_eq(o.reserved_[i], 0);
    resil_cache_opts_init(NULL);
}
END_TEST

static void bad_opts(void (*edit)(resil_cache_opts *))
{
    resil_cache_opts o;
    opts_base(&o);
    edit(&o);
    resil_cache *c = (resil_cache *)&o;
    ck_assert_rc(resil_cache_new(&o, &c), RESIL_EINVAL);
    ck_assert_ptr_null(c);
}

static void e_entries0(resil_cache_opts *o)
{
    o->max_entries = 0;
}
static void e_ttl0(resil_cache_opts *o)
{
    o->default_ttl_ns = 0;
}
static void e_ttlneg(resil_cache_opts *o)
{
    o->default_ttl_ns = -5;
}
static void e_stale(resil_cache_opts *o)
{
    o->stale_ttl_ns = -1;
}
static void e_policy(resil_cache_opts *o)
{
    o->policy = (resil_cache_policy)7;
}
static void e_shards3(resil_cache_opts *o)
{
    o->shards = 3;
}
static void e_shards_big(resil_cache_opts *o)
{
    o->shards = 2048;
}
static void e_shards_gt(resil_cache_opts *o)
{
    o->max_entries = 4;
    o->shards = 8;
}
static void e_bytes(resil_cache_opts *o)
{
    o->shards = 8;
    o->max_bytes = 7;
}

START_TEST(new_bad_args)
{
    resil_cache_opts o;
    resil_cache *c = (resil_cache *)&o;
    opts_base(&o);
    ck_assert_rc(resil_cache_new(&o, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_cache_new(NULL, &c), RESIL_EINVAL);
    ck_assert_ptr_null(c);
    bad_opts(e_entries0);
    bad_opts(e_ttl0);
    bad_opts(e_ttlneg);
    bad_opts(e_stale);
    bad_opts(e_policy);
    bad_opts(e_shards3);
    bad_opts(e_shards_big);
    bad_opts(e_shards_gt);
    bad_opts(e_bytes);
}
END_TEST

static int ok_loader(void *ctx, resil_cache_load *ld)
{
    (void)ctx;
    return resil_cache_load_set_bytes(ld, "v", 1);
}

START_TEST(null_and_bad_args)
{
    resil_cache *c = g_cache;
    char buf[4];
    size_t n = 99;
    resil_cache_ref *r = (resil_cache_ref *)buf;
    resil_cache_stats st;
    resil_cache_key k = {NULL, 3};

    resil_cache_free(NULL);
    ck_assert_rc(resil_cache_set(NULL, "k", 1, "v", 1, 0), RESIL_EINVAL);
    ck_assert_rc(resil_cache_set(c, NULL, 1, "v", 1, 0), RESIL_EINVAL);
    ck_assert_rc(resil_cache_set(c, "k", 1, NULL, 1, 0), RESIL_EINVAL);
    ck_assert_rc(resil_cache_set(c, "k", 1, "v", 1, -1), RESIL_EINVAL);
    ck_assert_rc(resil_cache_set_obj(NULL, "k", 1, &objs[0], 1, 0), RESIL_EINVAL);
    ck_assert_rc(resil_cache_set_obj(c, "k", 1, &objs[0], 1, -2), RESIL_EINVAL);
    ck_assert_rc(resil_cache_get(NULL, "k", 1, buf, 4, &n), RESIL_EINVAL);
    ck_assert_uint_eq(n, 0);
    ck_assert_rc(resil_cache_get(c, NULL, 1, buf, 4, &n), RESIL_EINVAL);
    ck_assert_rc(resil_cache_get(c, "k", 1, NULL, 4, &n), RESIL_EINVAL);
    ck_assert_rc(resil_cache_get_ref(NULL, "k", 1, &r), RESIL_EINVAL);
    ck_assert_ptr_null(r);
    ck_assert_rc(resil_cache_get_ref(c, "k", 1, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_cache_get_or_load(NULL, "k", 1, ok_loader, NULL, RESIL_TIME_NEVER,
                                         &r, NULL),
                 RESIL_EINVAL);
    ck_assert_rc(
        resil_cache_get_or_load(c, "k", 1, NULL, NULL, RESIL_TIME_NEVER, &r, NULL),
        RESIL_EINVAL);
    ck_assert_rc(
        resil_cache_get_or_load(c, "k", 1, ok_loader, NULL, RESIL_TIME_NEVER, NULL, NULL),
        RESIL_EINVAL);
    ck_assert_rc(resil_cache_load_set_bytes(NULL, "v", 1), RESIL_EINVAL);
    ck_assert_rc(resil_cache_load_set_obj(NULL, &objs[0], 1), RESIL_EINVAL);
    ck_assert_rc(resil_cache_delete(NULL, "k", 1), RESIL_EINVAL);
    ck_assert_rc(resil_cache_delete(c, NULL, 1), RESIL_EINVAL);
    ck_assert_rc(resil_cache_sweep(NULL, 10), RESIL_EINVAL);
    ck_assert_rc(resil_cache_sweeper_start(NULL, SEC, 10), RESIL_EINVAL);
    ck_assert_rc(resil_cache_sweeper_start(c, 0, 10), RESIL_EINVAL);
    ck_assert_rc(resil_cache_sweeper_start(c, SEC, 0), RESIL_EINVAL);
    ck_assert_rc(resil_cache_sweeper_stop(NULL), RESIL_EINVAL);
    ck_assert_rc(resil_cache_warm(NULL, &k, 0, ok_loader, NULL, RESIL_TIME_NEVER, NULL),
                 RESIL_EINVAL);
    ck_assert_rc(resil_cache_warm(c, NULL, 1, ok_loader, NULL, RESIL_TIME_NEVER, NULL),
                 RESIL_EINVAL);
    ck_assert_rc(resil_cache_warm(c, &k, 1, ok_loader, NULL, RESIL_TIME_NEVER, NULL),
                 RESIL_EINVAL);
    ck_assert_rc(resil_cache_warm(c, &k, 1, NULL, NULL, RESIL_TIME_NEVER, NULL),
                 RESIL_EINVAL);
    resil_cache_clear(NULL);
    memset(&st, 0xff, sizeof st);
    resil_cache_stats_get(NULL, &st);
    ck_assert_uint_eq(st.hits + st.entries + st.max_entries, 0);
    resil_cache_stats_get(c, NULL);
    ck_assert_ptr_null(resil_cache_ref_data(NULL, &n));
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(resil_cache_ref_obj(NULL));
    resil_cache_ref_release(NULL);
    ck_assert_uint_eq(stats(c).entries, 0);
}
END_TEST

/* ---- get and set ------------------------------------------------------------- */

START_TEST(set_get_buffer)
{
    resil_cache *c = g_cache;
    char buf[8] = "xxxxxxx";
    size_t n = 0;

    ck_assert_rc(put(c, "key", "value", 0), 0);
    ck_assert_rc(resil_cache_get(c, "key", 3, buf, 4, &n), RESIL_ERANGE);
    ck_assert_uint_eq(n, 5);
    ck_assert_str_eq(buf, "xxxxxxx"); /* untouched when too small */
    ck_assert_rc(resil_cache_get(c, "key", 3, NULL, 0, &n), RESIL_ERANGE);
    ck_assert_uint_eq(n, 5);
    ck_assert_rc(resil_cache_get(c, "key", 3, buf, 5, &n), 0); /* exactly fits */
    ck_assert_uint_eq(n, 5);
    ck_assert_int_eq(memcmp(buf, "valuexx", 7), 0);
    ck_assert_rc(resil_cache_get(c, "key", 3, buf, sizeof buf, NULL), 0);
    ck_assert_rc(resil_cache_get(c, "nope", 4, buf, sizeof buf, &n), RESIL_ENOENT);
    ck_assert_uint_eq(n, 0);
    ck_assert_rc(resil_cache_get(c, "ke", 2, buf, sizeof buf, &n), RESIL_ENOENT);
    /* empty value, empty key */
    ck_assert_rc(resil_cache_set(c, "e", 1, NULL, 0, 0), 0);
    ck_assert_rc(resil_cache_get(c, "e", 1, NULL, 0, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_rc(resil_cache_set(c, NULL, 0, "empty", 5, 0), 0);
    ck_assert(has(c, "", "empty"));
    resil_cache_stats st = stats(c);
    ck_assert_uint_eq(st.entries, 3);
    ck_assert_uint_eq(st.bytes, 3 + 5 + 1 + 0 + 0 + 5);
    ck_assert_uint_eq(st.inserts, 3);
}
END_TEST

START_TEST(overwrite_replaces)
{
    resil_cache *c = g_cache;
    ck_assert_rc(put(c, "k", "one", 0), 0);
    ck_assert_rc(put(c, "k", "three", 0), 0);
    ck_assert(has(c, "k", "three"));
    resil_cache_stats st = stats(c);
    ck_assert_uint_eq(st.entries, 1);
    ck_assert_uint_eq(st.bytes, 6);
    ck_assert_uint_eq(st.evictions, 0);
    ck_assert_uint_eq(st.inserts, 2);
}
END_TEST

START_TEST(object_values)
{
    resil_cache *c = g_cache;
    resil_cache_ref *r = NULL;
    size_t n = 0;
    char buf[4];

    ck_assert_rc(resil_cache_set_obj(c, "o", 1, &objs[1], 100, 0), 0);
    ck_assert_rc(resil_cache_get(c, "o", 1, buf, sizeof buf, &n), RESIL_EINVAL);
    ck_assert_rc(resil_cache_get_ref(c, "o", 1, &r), 0);
    ck_assert_ptr_eq(resil_cache_ref_obj(r), &objs[1]);
    ck_assert_ptr_null(resil_cache_ref_data(r, &n));
    ck_assert_uint_eq(n, 100);
    ck_assert_uint_eq(stats(c).bytes, 101);
    /* deleted while referenced: freed at the release, not before */
    ck_assert_rc(resil_cache_delete(c, "o", 1), 0);
    ck_assert_int_eq(frees[1], 0);
    ck_assert_ptr_eq(resil_cache_ref_obj(r), &objs[1]);
    resil_cache_ref_release(r);
    ck_assert_int_eq(frees[1], 1);
    ck_assert_uint_eq(stats(c).bytes, 0);
}
END_TEST

START_TEST(bytes_ref_outlives_entry)
{
    resil_cache *c = g_cache;
    resil_cache_ref *r = NULL;
    size_t n = 0;

    ck_assert_rc(put(c, "k", "old value", 0), 0);
    ck_assert_rc(resil_cache_get_ref(c, "k", 1, &r), 0);
    ck_assert_ptr_null(resil_cache_ref_obj(r));
    ck_assert_rc(put(c, "k", "new", 0), 0);
    resil_cache_clear(c);
    const char *d = resil_cache_ref_data(r, &n);
    ck_assert_uint_eq(n, 9);
    ck_assert_int_eq(memcmp(d, "old value", 9), 0);
    ck_assert_ptr_eq(resil_cache_ref_data(r, NULL), d);
    resil_cache_ref_release(r);
    ck_assert_rc(resil_cache_get_ref(c, "k", 1, &r), RESIL_ENOENT);
    ck_assert_ptr_null(r);
}
END_TEST

START_TEST(large_and_binary_keys)
{
    resil_cache *c = g_cache;
    size_t big = 1 << 20;
    unsigned char *k = calloc(1, big);
    char buf[8];
    size_t n;

    ck_assert_ptr_nonnull(k);
    for (size_t i = 0; i < big; i += 7)
        k[i] = (unsigned char)(i * 31);
    ck_assert_rc(resil_cache_set(c, k, big, "big", 3, 0), 0);
    k[big - 1] ^= 1; /* differs in the last byte only */
    ck_assert_rc(resil_cache_get(c, k, big, buf, sizeof buf, &n), RESIL_ENOENT);
    k[big - 1] ^= 1;
    ck_assert_rc(resil_cache_get(c, k, big, buf, sizeof buf, &n), 0);
    ck_assert_int_eq(memcmp(buf, "big", 3), 0);
    ck_assert_uint_eq(stats(c).bytes, big + 3);
    free(k);
    /* embedded NULs, prefixes */
    static const unsigned char a[] = {0, 0, 1}, b[] = {0, 0}, d[] = {0, 0, 2};
    ck_assert_rc(resil_cache_set(c, a, 3, "a", 1, 0), 0);
    ck_assert_rc(resil_cache_set(c, b, 2, "b", 1, 0), 0);
    ck_assert_rc(resil_cache_get(c, d, 3, buf, sizeof buf, &n), RESIL_ENOENT);
    ck_assert_rc(resil_cache_get(c, a, 3, buf, sizeof buf, &n), 0);
    ck_assert_int_eq(buf[0], 'a');
    ck_assert_rc(resil_cache_get(c, b, 2, buf, sizeof buf, &n), 0);
    ck_assert_int_eq(buf[0], 'b');
}
END_TEST

/* ---- TTL ------------------------------------------------------------------------ */

START_TEST(ttl_exact_boundary)
{
    resil_cache *c = g_cache;
    ck_assert_rc(put(c, "k", "v", 100), 0);
    advance(99);
    ck_assert(has(c, "k", "v")); /* 1 ns before expiry */
    advance(1);
    ck_assert(!has(c, "k", "v")); /* exactly at expiry */
    resil_cache_stats st = stats(c);
    ck_assert_uint_eq(st.entries, 0); /* reclaimed on access */
    ck_assert_uint_eq(st.expirations, 1);
}
END_TEST

START_TEST(ttl_default_and_per_entry)
{
    resil_cache *c = g_cache; /* default 10 s */
    ck_assert_rc(put(c, "dflt", "v", 0), 0);
    ck_assert_rc(put(c, "short", "v", SEC), 0);
    ck_assert_rc(put(c, "never", "v", RESIL_TIME_NEVER), 0);
    ck_assert_rc(put(c, "long", "v", 100 * SEC), 0);
    advance(SEC - 1);
    ck_assert(present(c, "short"));
    advance(1);
    ck_assert(!present(c, "short"));
    ck_assert(present(c, "dflt"));
    advance(9 * SEC - 1);
    ck_assert(present(c, "dflt"));
    advance(1);
    ck_assert(!present(c, "dflt"));
    ck_assert(present(c, "long"));
    advance(INT64_C(1) << 62);
    ck_assert(present(c, "never"));
    ck_assert(!present(c, "long"));
}
END_TEST

START_TEST(ttl_never_default)
{
    resil_cache_opts o;
    opts_base(&o);
    o.default_ttl_ns = RESIL_TIME_NEVER;
    resil_cache *c = mk(&o);
    ck_assert_rc(put(c, "k", "v", 0), 0);
    advance(INT64_C(1) << 62);
    ck_assert(has(c, "k", "v"));
    resil_cache_free(c);
}
END_TEST

START_TEST(sweep_is_bounded)
{
    resil_cache_opts o;
    opts_base(&o);
    o.shards = 16;
    resil_cache *c = mk(&o);
    char k[16];
    for (int i = 0; i < 300; i++) {
        snprintf(k, sizeof k, "k%d", i);
        ck_assert_rc(put(c, k, "v", i < 200 ? SEC : 3 * SEC), 0);
    }
    ck_assert_int_eq(resil_cache_sweep(c, 1000), 0); /* nothing due yet */
    advance(2 * SEC);
    ck_assert_int_eq(resil_cache_sweep(c, 0), 0);
    ck_assert_int_eq(resil_cache_sweep(c, 5), 5);
    ck_assert_uint_eq(stats(c).entries, 295);
    ck_assert_int_eq(resil_cache_sweep(c, 50), 50);
    ck_assert_int_eq(resil_cache_sweep(c, 1000), 145);
    resil_cache_stats st = stats(c);
    ck_assert_uint_eq(st.entries, 100);
    ck_assert_uint_eq(st.expirations, 200);
    ck_assert_int_eq(resil_cache_sweep(c, 1000), 0);
    advance(SEC);
    ck_assert_int_eq(resil_cache_sweep(c, (size_t)-1), 100);
    resil_cache_free(c);
}
END_TEST

START_TEST(expired_objects_freed)
{
    resil_cache *c = mk_small(10, RESIL_CACHE_TINYLFU);
    ck_assert_rc(resil_cache_set_obj(c, "a", 1, &objs[0], 1, SEC), 0);
    ck_assert_rc(resil_cache_set_obj(c, "b", 1, &objs[1], 1, SEC), 0);
    advance(SEC);
    ck_assert(!present(c, "a")); /* on access */
    ck_assert_int_eq(frees[0], 1);
    ck_assert_int_eq(resil_cache_sweep(c, 10), 1); /* by a sweep */
    ck_assert_int_eq(frees[1], 1);
    /* an insert reclaims dead entries before it evicts live ones */
    ck_assert_rc(resil_cache_set_obj(c, "c", 1, &objs[2], 1, SEC), 0);
    advance(SEC);
    ck_assert_rc(put(c, "d", "v", 0), 0);
    ck_assert_int_eq(frees[2], 1);
    ck_assert_uint_eq(stats(c).expirations, 3);
    resil_cache_free(c);
}
END_TEST

START_TEST(sweeper_thread)
{
    resil_cache *c = g_cache;
    ck_assert_rc(resil_cache_sweeper_stop(c), RESIL_ESTATE);
    ck_assert_rc(put(c, "a", "v", SEC), 0);
    ck_assert_rc(put(c, "b", "v", 5 * SEC), 0);
    advance(SEC);
    /* it sweeps once at start, so start + stop is one sweep */
    ck_assert_rc(resil_cache_sweeper_start(c, 3600 * SEC, 100), 0);
    ck_assert_rc(resil_cache_sweeper_start(c, SEC, 100), RESIL_ESTATE);
    ck_assert_rc(resil_cache_sweeper_stop(c), 0);
    ck_assert_rc(resil_cache_sweeper_stop(c), RESIL_ESTATE);
    resil_cache_stats st = stats(c);
    ck_assert_uint_eq(st.entries, 1);
    ck_assert_uint_eq(st.expirations, 1);
    /* free stops a running sweeper */
    ck_assert_rc(resil_cache_sweeper_start(c, SEC, 1), 0);
}
END_TEST

/* ---- bounds and policies ------------------------------------------------------- */

START_TEST(lru_order_and_entry_bound)
{
    resil_cache *c = mk_small(4, RESIL_CACHE_LRU);
    ck_assert_rc(put(c, "a", "1", 0), 0);
    ck_assert_rc(put(c, "b", "2", 0), 0);
    ck_assert_rc(put(c, "c", "3", 0), 0);
    ck_assert_rc(put(c, "d", "4", 0), 0);
    ck_assert(has(c, "a", "1")); /* a is now the most recent */
    ck_assert_rc(put(c, "e", "5", 0), 0);
    ck_assert(!present(c, "b"));
    ck_assert_rc(put(c, "c", "33", 0), 0); /* a write is a use */
    ck_assert_rc(put(c, "f", "6", 0), 0);
    ck_assert(!present(c, "d"));
    ck_assert(has(c, "a", "1"));
    ck_assert(has(c, "c", "33"));
    ck_assert(has(c, "e", "5"));
    ck_assert(has(c, "f", "6"));
    resil_cache_stats st = stats(c);
    ck_assert_uint_eq(st.entries, 4);
    ck_assert_uint_eq(st.evictions, 2);
    resil_cache_free(c);
}
END_TEST

START_TEST(byte_bound)
{
    resil_cache_opts o;
    opts_base(&o);
    o.max_bytes = 100;
    o.shards = 1;
    o.policy = RESIL_CACHE_LRU;
    resil_cache *c = mk(&o);
    char v[128];
    memset(v, 'x', sizeof v);
    ck_assert_rc(resil_cache_set(c, "k1", 2, v, 30, 0), 0);
    ck_assert_rc(resil_cache_set(c, "k2", 2, v, 30, 0), 0);
    ck_assert_rc(resil_cache_set(c, "k3", 2, v, 30, 0), 0);
    ck_assert_uint_eq(stats(c).bytes, 96);
    ck_assert(present(c, "k1"));
    ck_assert_rc(resil_cache_set(c, "k4", 2, v, 30, 0), 0);
    ck_assert(!present(c, "k2"));                           /* least recently used */
    ck_assert_rc(resil_cache_set(c, "k5", 2, v, 64, 0), 0); /* 66: two must go */
    resil_cache_stats st = stats(c);
    ck_assert_uint_le(st.bytes, 100);
    ck_assert_uint_eq(st.evictions, 3);
    ck_assert_uint_eq(st.entries, 2);
    ck_assert(present(c, "k5"));
    /* too big ever to fit: refused, nothing evicted, object not taken */
    ck_assert_rc(resil_cache_set(c, "k6", 2, v, 99, 0), RESIL_ERANGE);
    ck_assert_rc(resil_cache_set_obj(c, "k7", 2, &objs[7], 99, 0), RESIL_ERANGE);
    ck_assert_int_eq(frees[7], 0);
    ck_assert_uint_eq(stats(c).entries, 2);
    ck_assert_rc(resil_cache_set(c, "k8", 2, v, 98, 0), 0); /* exactly 100 */
    ck_assert_uint_eq(stats(c).bytes, 100);
    resil_cache_free(c);
}
END_TEST

static int scan_survivors(resil_cache_policy p)
{
    resil_cache *c = mk_small(100, p);
    char k[16];
    int kept = 0;
    for (int i = 0; i < 50; i++) {
        snprintf(k, sizeof k, "hot%d", i);
        ck_assert_rc(put(c, k, "v", 0), 0);
        for (int j = 0; j < 5; j++)
            ck_assert(present(c, k));
    }
    for (int i = 0; i < 500; i++) { /* a scan: every key seen once */
        snprintf(k, sizeof k, "scan%d", i);
        ck_assert(!present(c, k));
        ck_assert_rc(put(c, k, "v", 0), 0);
    }
    for (int i = 0; i < 50; i++) {
        snprintf(k, sizeof k, "hot%d", i);
        kept += present(c, k);
    }
    ck_assert_uint_le(stats(c).entries, 100);
    resil_cache_free(c);
    return kept;
}

START_TEST(tinylfu_resists_scan)
{
    /* Not exactly 50: a scan key whose four sketch counters all collide
     * with hot keys' can look hotter than the oldest hot key (a few runs
     * in a hundred lose one or two; the hash seed is random). */
    ck_assert_int_ge(scan_survivors(RESIL_CACHE_TINYLFU), 45);
    ck_assert_int_eq(scan_survivors(RESIL_CACHE_LRU), 0);
}
END_TEST

START_TEST(tinylfu_admits_by_frequency)
{
    resil_cache *c = mk_small(100, RESIL_CACHE_TINYLFU);
    char k[16];
    for (int i = 0; i < 100; i++) { /* fill with keys nobody reads */
        snprintf(k, sizeof k, "cold%d", i);
        ck_assert_rc(put(c, k, "v", 0), 0);
    }
    for (int j = 0; j < 6; j++) /* wanted: six misses before it arrives */
        ck_assert(!present(c, "wanted"));
    ck_assert_rc(put(c, "wanted", "v", 0), 0);
    ck_assert_rc(put(c, "pusher1", "v", 0), 0); /* pushes it out of the window */
    ck_assert_rc(put(c, "unread", "v", 0), 0);
    ck_assert_rc(put(c, "pusher2", "v", 0), 0);
    ck_assert(present(c, "wanted"));  /* beat a cold victim */
    ck_assert(!present(c, "unread")); /* lost the tie to an incumbent */
    ck_assert_uint_eq(stats(c).entries, 100);
    resil_cache_free(c);
}
END_TEST

START_TEST(free_callback_once_everywhere)
{
    resil_cache *c = mk_small(2, RESIL_CACHE_LRU);
    ck_assert_rc(resil_cache_set_obj(c, "a", 1, &objs[0], 1, 0), 0);
    ck_assert_rc(resil_cache_delete(c, "a", 1), 0); /* delete */
    ck_assert_int_eq(frees[0], 1);
    ck_assert_rc(resil_cache_delete(c, "a", 1), RESIL_ENOENT);
    ck_assert_rc(resil_cache_set_obj(c, "b", 1, &objs[1], 1, 0), 0);
    ck_assert_rc(resil_cache_set_obj(c, "b", 1, &objs[2], 1, 0), 0); /* overwrite */
    ck_assert_int_eq(frees[1], 1);
    ck_assert_rc(resil_cache_set_obj(c, "c", 1, &objs[3], 1, 0), 0);
    ck_assert_rc(resil_cache_set_obj(c, "d", 1, &objs[4], 1, 0), 0); /* evicts b */
    ck_assert_int_eq(frees[2], 1);
    resil_cache_clear(c); /* clear */
    ck_assert_int_eq(frees[3], 1);
    ck_assert_int_eq(frees[4], 1);
    ck_assert_uint_eq(stats(c).entries, 0);
    ck_assert_rc(resil_cache_set_obj(c, "e", 1, &objs[5], 1, 0), 0);
    resil_cache_free(c); /* free */
    ck_assert_int_eq(frees[5], 1);
    for (int i = 0; i < NOBJ; i++)
        ck_assert_int_le(frees[i], 1);
}
END_TEST

/* ---- stats ------------------------------------------------------------------------- */

START_TEST(stats_and_hit_rate)
{
    resil_cache *c = g_cache;
    resil_cache_stats st = stats(c);
    ck_assert(st.hit_rate == 0.0);
    ck_assert_uint_eq(st.max_entries, 10000);
    ck_assert_rc(put(c, "a", "12345", 0), 0);
    ck_assert(present(c, "a"));
    ck_assert(present(c, "a"));
    ck_assert(has(c, "a", "12345"));
    ck_assert(!present(c, "b"));
    st = stats(c);
    ck_assert_uint_eq(st.hits, 3);
    ck_assert_uint_eq(st.misses, 1);
    ck_assert(st.hit_rate == 0.75);
    ck_assert_uint_eq(st.entries, 1);
    ck_assert_uint_eq(st.bytes, 6);
    ck_assert_uint_eq(st.inserts, 1);
    ck_assert_uint_eq(st.loads + st.load_failures + st.stale_hits + st.coalesced, 0);
}
END_TEST

/* ---- get-or-load ---------------------------------------------------------------------
 */

struct ldr {
    int calls;
    int rc;            /* returned */
    const char *value; /* given with set_bytes when not NULL */
    int obj;           /* >= 0: give &objs[obj] */
    int64_t ttl;
    int64_t advance; /* moves the manual clock during the load */
    int64_t seen_deadline;
};

static int test_loader(void *ctx, resil_cache_load *ld)
{
    struct ldr *l = ctx;
    l->calls++;
    l->seen_deadline = ld->deadline;
    if (l->advance)
        advance(l->advance);
    if (l->value)
        ck_assert_rc(resil_cache_load_set_bytes(ld, l->value, strlen(l->value)), 0);
    if (l->obj >= 0)
        ck_assert_rc(resil_cache_load_set_obj(ld, &objs[l->obj], 8), 0);
    ld->ttl_ns = l->ttl;
    return l->rc;
}

static int load(resil_cache *c, const char *k, struct ldr *l, resil_cache_ref **r,
                resil_cache_info *info)
{
    return resil_cache_get_or_load(c, k, strlen(k), test_loader, l, RESIL_TIME_NEVER, r,
                                   info);
}

START_TEST(get_or_load_basic)
{
    resil_cache *c = g_cache;
    struct ldr l = {.value = "loaded", .obj = -1, .ttl = 2 * SEC};
    resil_cache_ref *r = NULL;
    resil_cache_info info;
    size_t n;

    ck_assert_rc(load(c, "k", &l, &r, &info), 0);
    ck_assert_int_eq(l.calls, 1);
    ck_assert_int_eq(l.seen_deadline, RESIL_TIME_NEVER);
    ck_assert_int_eq(info.loaded, 1);
    ck_assert_int_eq(info.stale + info.coalesced + info.load_rc, 0);
    ck_assert_int_eq(info.expires_at, resil_clock_now(g_clock) + 2 * SEC);
    ck_assert_int_eq(memcmp(resil_cache_ref_data(r, &n), "loaded", 6), 0);
    resil_cache_ref_release(r);
    ck_assert_rc(load(c, "k", &l, &r, &info), 0); /* a hit */
    ck_assert_int_eq(l.calls, 1);
    ck_assert_int_eq(info.loaded, 0);
    resil_cache_ref_release(r);
    advance(2 * SEC); /* the loader's TTL, not the default */
    ck_assert(!present(c, "k"));
    resil_cache_stats st = stats(c);
    ck_assert_uint_eq(st.loads, 1);
    ck_assert_uint_eq(st.hits, 1);
    ck_assert_uint_eq(st.misses, 2);
}
END_TEST

START_TEST(get_or_load_object_and_replace)
{
    resil_cache *c = g_cache;
    struct ldr l = {.value = "first", .obj = 9};
    resil_cache_ref *r = NULL;
    ck_assert_rc(load(c, "k", &l, &r, NULL), 0); /* bytes replaced by the object */
    ck_assert_ptr_eq(resil_cache_ref_obj(r), &objs[9]);
    resil_cache_ref_release(r);
    ck_assert_uint_eq(stats(c).bytes, 1 + 8);
    ck_assert_int_eq(frees[9], 0);
    /* the loader gives an object, then fails: it is freed, nothing stored */
    struct ldr bad = {.obj = 10, .rc = -42};
    ck_assert_rc(load(c, "x", &bad, &r, NULL), -42);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(frees[10], 1);
    ck_assert(!present(c, "x"));
}
END_TEST

START_TEST(loader_failure_codes)
{
    resil_cache *c = g_cache;
    resil_cache_ref *r = NULL;
    resil_cache_info info;
    struct ldr neg = {.obj = -1, .rc = RESIL_ENOENT};
    struct ldr pos = {.obj = -1, .rc = 7};
    struct ldr none = {.obj = -1};
    struct ldr badttl = {.value = "v", .obj = -1, .ttl = -1};

    ck_assert_rc(load(c, "k", &neg, &r, &info), RESIL_ENOENT);
    ck_assert_int_eq(info.load_rc, RESIL_ENOENT);
    ck_assert_int_eq(info.stale, 0);
    ck_assert_int_eq(info.expires_at, 0);
    ck_assert_ptr_null(r);
    ck_assert_rc(load(c, "k", &pos, &r, &info), RESIL_EFAILED);
    ck_assert_int_eq(info.load_rc, 7);
    ck_assert_rc(load(c, "k", &none, &r, &info), RESIL_EFAILED);
    ck_assert_rc(load(c, "k", &badttl, &r, &info), RESIL_EFAILED);
    resil_cache_stats st = stats(c);
    ck_assert_uint_eq(st.loads, 4);
    ck_assert_uint_eq(st.load_failures, 4);
    ck_assert_uint_eq(st.entries, 0);
}
END_TEST

START_TEST(loaded_value_too_big_is_handed_out)
{
    resil_cache_opts o;
    opts_base(&o);
    o.max_bytes = 100;
    o.shards = 1;
    resil_cache *c = mk(&o);
    char big[121];
    memset(big, 'x', 120);
    big[120] = 0;
    struct ldr l = {.value = big, .obj = -1};
    resil_cache_ref *r = NULL;
    size_t n;
    ck_assert_rc(load(c, "k", &l, &r, NULL), 0);
    ck_assert_ptr_nonnull(resil_cache_ref_data(r, &n));
    ck_assert_uint_eq(n, 120);
    resil_cache_ref_release(r);
    ck_assert(!present(c, "k")); /* not stored: it cannot fit */
    ck_assert_uint_eq(stats(c).bytes, 0);
    ck_assert_rc(load(c, "k", &l, &r, NULL), 0); /* so it loads again */
    resil_cache_ref_release(r);
    ck_assert_int_eq(l.calls, 2);
    resil_cache_free(c);
}
END_TEST

static resil_cache *mk_stale(int64_t ttl, int64_t stale)
{
    resil_cache_opts o;
    opts_base(&o);
    o.default_ttl_ns = ttl;
    o.stale_ttl_ns = stale;
    return mk(&o);
}

START_TEST(stale_if_error)
{
    resil_cache *c = mk_stale(SEC, 10 * SEC);
    resil_cache_ref *r = NULL;
    resil_cache_info info;
    struct ldr fail = {.obj = -1, .rc = RESIL_ETIMEDOUT};
    size_t n;

    ck_assert_rc(put(c, "k", "old", 0), 0);
    advance(SEC + 5 * SEC);                 /* 5 s past the TTL, within stale_ttl */
    ck_assert(!present(c, "k"));            /* plain reads never serve stale */
    ck_assert_uint_eq(stats(c).entries, 1); /* but it is kept */
    ck_assert_rc(load(c, "k", &fail, &r, &info), 0);
    ck_assert_int_eq(info.stale, 1);
    ck_assert_int_eq(info.loaded, 1);
    ck_assert_int_eq(info.load_rc, RESIL_ETIMEDOUT);
    ck_assert_int_eq(memcmp(resil_cache_ref_data(r, &n), "old", 3), 0);
    resil_cache_ref_release(r);
    resil_cache_stats st = stats(c);
    ck_assert_uint_eq(st.stale_hits, 1);
    ck_assert_uint_eq(st.load_failures, 1);
    ck_assert_int_eq(resil_cache_sweep(c, 10), 0); /* not dead yet */
    advance(5 * SEC - 1);
    ck_assert_rc(load(c, "k", &fail, &r, &info), 0); /* 1 ns before dead */
    resil_cache_ref_release(r);
    advance(1); /* exactly ttl + stale_ttl: dead */
    ck_assert_rc(load(c, "k", &fail, &r, &info), RESIL_ETIMEDOUT);
    ck_assert_int_eq(info.stale, 0);
    ck_assert_ptr_null(r);
    ck_assert_uint_eq(stats(c).entries, 0);
    /* and a loader that succeeds replaces a stale entry */
    struct ldr ok = {.value = "new", .obj = -1};
    ck_assert_rc(put(c, "j", "old", 0), 0);
    advance(2 * SEC);
    ck_assert_rc(load(c, "j", &ok, &r, &info), 0);
    ck_assert_int_eq(info.stale, 0);
    resil_cache_ref_release(r);
    ck_assert(has(c, "j", "new"));
    resil_cache_free(c);
}
END_TEST

/* Loads that block until the test lets them go. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered;
    int open;
    int calls;
    int fail;
};

static int gated_loader(void *ctx, resil_cache_load *ld)
{
    struct gate *g = ctx;
    pthread_mutex_lock(&g->mu);
    g->calls++;
    g->entered = 1;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    int fail = g->fail;
    pthread_mutex_unlock(&g->mu);
    if (fail)
        return RESIL_EFAILED;
    return resil_cache_load_set_bytes(ld, "shared", 6);
}

static void gate_init(struct gate *g)
{
    memset(g, 0, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
}

static void gate_wait_entered(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    while (!g->entered)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void gate_destroy(struct gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

struct caller {
    pthread_t t;
    struct gate *g;
    resil_cache *c;
    const char *key;
    int64_t deadline;
    int rc;
    resil_cache_info info;
    char got[8];
};

static void *caller_main(void *arg)
{
    struct caller *w = arg;
    resil_cache_ref *r = NULL;
    w->rc = resil_cache_get_or_load(w->c, w->key, strlen(w->key), gated_loader, w->g,
                                    w->deadline, &r, &w->info);
    size_t n = 0;
    const char *d = resil_cache_ref_data(r, &n);
    if (d && n < sizeof w->got)
        memcpy(w->got, d, n);
    resil_cache_ref_release(r);
    return NULL;
}

static void start_caller(struct caller *w, struct gate *g, const char *key,
                         int64_t deadline)
{
    memset(w, 0, sizeof *w);
    w->g = g;
    w->c = g_cache;
    w->key = key;
    w->deadline = deadline;
    ck_assert_int_eq(pthread_create(&w->t, NULL, caller_main, w), 0);
}

/* Wait (yielding, not sleeping) until n callers are parked on a load. */
static void wait_coalesced(uint64_t n)
{
    while (stats(g_cache).coalesced < n)
        sched_yield();
}

#define NCALLERS 8

START_TEST(coalescing_runs_loader_once)
{
    struct gate g;
    struct caller w[NCALLERS];
    gate_init(&g);
    start_caller(&w[0], &g, "k", RESIL_TIME_NEVER);
    gate_wait_entered(&g);
    for (int i = 1; i < NCALLERS; i++)
        start_caller(&w[i], &g, "k",
                     i % 2 ? RESIL_TIME_NEVER : resil_clock_now(g_clock) + SEC);
    wait_coalesced(NCALLERS - 1);
    gate_open(&g);
    for (int i = 0; i < NCALLERS; i++) {
        pthread_join(w[i].t, NULL);
        ck_assert_rc(w[i].rc, 0);
        ck_assert_str_eq(w[i].got, "shared");
        ck_assert_int_eq(w[i].info.loaded, i == 0);
        ck_assert_int_eq(w[i].info.coalesced, i != 0);
    }
    ck_assert_int_eq(g.calls, 1);
    resil_cache_stats st = stats(g_cache);
    ck_assert_uint_eq(st.loads, 1);
    ck_assert_uint_eq(st.misses, NCALLERS);
    ck_assert_uint_eq(st.coalesced, NCALLERS - 1);
    ck_assert(has(g_cache, "k", "shared"));
    gate_destroy(&g);
}
END_TEST

START_TEST(coalesced_failure_and_stale)
{
    resil_cache_free(g_cache);
    g_cache = mk_stale(SEC, 10 * SEC);
    struct gate g;
    struct caller w[3];
    gate_init(&g);
    g.fail = 1;
    ck_assert_rc(put(g_cache, "s", "stale", 0), 0);
    advance(2 * SEC);
    start_caller(&w[0], &g, "s", RESIL_TIME_NEVER);
    gate_wait_entered(&g);
    start_caller(&w[1], &g, "s", RESIL_TIME_NEVER);
    start_caller(&w[2], &g, "s", RESIL_TIME_NEVER);
    wait_coalesced(2);
    gate_open(&g);
    for (int i = 0; i < 3; i++) {
        pthread_join(w[i].t, NULL);
        ck_assert_rc(w[i].rc, 0);
        ck_assert_int_eq(w[i].info.stale, 1);
        ck_assert_int_eq(w[i].info.load_rc, RESIL_EFAILED);
        ck_assert_str_eq(w[i].got, "stale");
    }
    ck_assert_int_eq(g.calls, 1);
    ck_assert_uint_eq(stats(g_cache).stale_hits, 3);
    gate_destroy(&g);
}
END_TEST

START_TEST(waiter_deadline)
{
    struct gate g;
    struct caller runner, waiter;
    gate_init(&g);
    start_caller(&runner, &g, "k", RESIL_TIME_NEVER);
    gate_wait_entered(&g);
    start_caller(&waiter, &g, "k", resil_clock_now(g_clock) + SEC);
    wait_coalesced(1);
    advance(SEC); /* the waiter notices within one wait slice */
    pthread_join(waiter.t, NULL);
    ck_assert_rc(waiter.rc, RESIL_ETIMEDOUT);
    ck_assert_int_eq(waiter.info.coalesced, 1);
    gate_open(&g);
    pthread_join(runner.t, NULL);
    ck_assert_rc(runner.rc, 0);
    ck_assert_int_eq(g.calls, 1);
    gate_destroy(&g);
}
END_TEST

START_TEST(delete_during_load_not_stored)
{
    struct gate g;
    struct caller runner;
    gate_init(&g);
    start_caller(&runner, &g, "k", RESIL_TIME_NEVER);
    gate_wait_entered(&g);
    ck_assert_rc(resil_cache_delete(g_cache, "k", 1), RESIL_ENOENT);
    gate_open(&g);
    pthread_join(runner.t, NULL);
    ck_assert_rc(runner.rc, 0);
    ck_assert_str_eq(runner.got, "shared"); /* the caller still gets it */
    ck_assert(!present(g_cache, "k"));
    /* a set during the load wins over the loaded value */
    gate_destroy(&g);
    gate_init(&g);
    start_caller(&runner, &g, "j", RESIL_TIME_NEVER);
    gate_wait_entered(&g);
    ck_assert_rc(put(g_cache, "j", "newer", 0), 0);
    gate_open(&g);
    pthread_join(runner.t, NULL);
    ck_assert(has(g_cache, "j", "newer"));
    ck_assert_str_eq(runner.got, "shared");
    gate_destroy(&g);
}
END_TEST

/* ---- warming ------------------------------------------------------------------------
 */

static int warm_loader(void *ctx, resil_cache_load *ld)
{
    struct ldr *l = ctx;
    l->calls++;
    advance(l->advance);
    if (ld->keylen && ((const char *)ld->key)[0] == 'x')
        return RESIL_EFAILED;
    return resil_cache_load_set_bytes(ld, ld->key, ld->keylen);
}

START_TEST(warm_with_deadline)
{
    resil_cache *c = g_cache;
    resil_cache_key keys[10];
    char names[10][16];
    for (int i = 0; i < 10; i++) {
        snprintf(names[i], sizeof names[i], "k%d", i);
        keys[i] = (resil_cache_key){names[i], strlen(names[i])};
    }
    struct ldr l = {.advance = SEC};
    resil_cache_warm_report rep;
    int64_t t0 = resil_clock_now(g_clock);
    /* tries at t0, +1, +2, +3 s; at +4 s the deadline (+3.5 s) has passed */
    ck_assert_rc(
        resil_cache_warm(c, keys, 10, warm_loader, &l, t0 + 3 * SEC + SEC / 2, &rep),
        RESIL_ETIMEDOUT);
    ck_assert_uint_eq(rep.loaded, 4);
    ck_assert_uint_eq(rep.skipped, 6);
    ck_assert_uint_eq(rep.failed + rep.present, 0);
    ck_assert_int_eq(l.calls, 4);
    ck_assert(has(c, "k3", "k3"));
    ck_assert(!present(c, "k4"));
    /* again without a deadline: four present, one failing key */
    names[9][0] = 'x';
    l.advance = 0;
    ck_assert_rc(resil_cache_warm(c, keys, 10, warm_loader, &l, RESIL_TIME_NEVER, &rep),
                 RESIL_EFAILED);
    ck_assert_uint_eq(rep.present, 4);
    ck_assert_uint_eq(rep.loaded, 5);
    ck_assert_uint_eq(rep.failed, 1);
    ck_assert_uint_eq(rep.skipped, 0);
    ck_assert_rc(resil_cache_warm(c, keys, 9, warm_loader, &l, RESIL_TIME_NEVER, NULL),
                 0);
    ck_assert_rc(resil_cache_warm(c, keys, 0, warm_loader, &l, t0, &rep), 0);
    resil_cache_stats st = stats(c);
    ck_assert_uint_eq(st.loads, 10);
    ck_assert_uint_eq(st.load_failures, 1);
    ck_assert_uint_eq(st.hits, 1);   /* has() above; warming counts none */
    ck_assert_uint_eq(st.misses, 1); /* present() above */
}
END_TEST

/* ---- allocation failure -------------------------------------------------------------
 */

static void new_fails_cleanly(uint32_t shards, resil_cache_policy p)
{
    resil_cache_opts o;
    opts_base(&o);
    o.shards = shards;
    o.policy = p;
    for (long n = 0;; n++) {
        ck_assert_msg(n < 1000, "still failing after 1000 allocations");
        resil_cache *c = (resil_cache *)&o;
        tu_alloc_fail_at(n);
        int rc = resil_cache_new(&o, &c);
        tu_alloc_reset();
        if (rc == 0) {
            resil_cache_free(c);
            break;
        }
        ck_assert_rc(rc, RESIL_ENOMEM);
        ck_assert_ptr_null(c);
        ck_assert_int_eq(tu_alloc_live(), g_live + 1); /* only g_clock */
    }
}

START_TEST(alloc_fail_new)
{
    resil_cache_free(g_cache);
    g_cache = NULL;
    new_fails_cleanly(0, RESIL_CACHE_TINYLFU);
    new_fails_cleanly(1, RESIL_CACHE_LRU);
    new_fails_cleanly(64, RESIL_CACHE_TINYLFU);
}
END_TEST

START_TEST(alloc_fail_set_and_load)
{
    resil_cache *c = g_cache;
    resil_cache_ref *r = NULL;
    struct ldr l = {.value = "v", .obj = -1};
    ck_assert_rc(put(c, "k", "old", 0), 0);
    tu_alloc_fail_at(0);
    ck_assert_rc(put(c, "k", "new", 0), RESIL_ENOMEM);
    ck_assert_rc(put(c, "j", "new", 0), RESIL_ENOMEM);
    ck_assert_rc(resil_cache_set_obj(c, "o", 1, &objs[0], 1, 0), RESIL_ENOMEM);
    ck_assert_rc(load(c, "m", &l, &r, NULL), RESIL_ENOMEM); /* the load record */
    tu_alloc_reset();
    ck_assert_int_eq(frees[0], 0);
    ck_assert(has(c, "k", "old"));
    resil_cache_stats st = stats(c);
    ck_assert_uint_eq(st.entries, 1);
    ck_assert_uint_eq(st.bytes, 4);
    /* the record allocates, the value does not: the loader sees ENOMEM */
    tu_alloc_fail_at(1);
    ck_assert_rc(
        resil_cache_get_or_load(c, "m", 1, ok_loader, NULL, RESIL_TIME_NEVER, &r, NULL),
        RESIL_ENOMEM);
    tu_alloc_reset();
    ck_assert_ptr_null(r);
    ck_assert_uint_eq(stats(c).entries, 1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cache");
    TCase *t = tcase_create("cache");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 30);
    tcase_add_test(t, opts_defaults);
    tcase_add_test(t, new_bad_args);
    tcase_add_test(t, null_and_bad_args);
    tcase_add_test(t, set_get_buffer);
    tcase_add_test(t, overwrite_replaces);
    tcase_add_test(t, object_values);
    tcase_add_test(t, bytes_ref_outlives_entry);
    tcase_add_test(t, large_and_binary_keys);
    tcase_add_test(t, ttl_exact_boundary);
    tcase_add_test(t, ttl_default_and_per_entry);
    tcase_add_test(t, ttl_never_default);
    tcase_add_test(t, sweep_is_bounded);
    tcase_add_test(t, expired_objects_freed);
    tcase_add_test(t, sweeper_thread);
    tcase_add_test(t, lru_order_and_entry_bound);
    tcase_add_test(t, byte_bound);
    tcase_add_test(t, tinylfu_resists_scan);
    tcase_add_test(t, tinylfu_admits_by_frequency);
    tcase_add_test(t, free_callback_once_everywhere);
    tcase_add_test(t, stats_and_hit_rate);
    tcase_add_test(t, get_or_load_basic);
    tcase_add_test(t, get_or_load_object_and_replace);
    tcase_add_test(t, loader_failure_codes);
    tcase_add_test(t, loaded_value_too_big_is_handed_out);
    tcase_add_test(t, stale_if_error);
    tcase_add_test(t, coalescing_runs_loader_once);
    tcase_add_test(t, coalesced_failure_and_stale);
    tcase_add_test(t, waiter_deadline);
    tcase_add_test(t, delete_during_load_not_stored);
    tcase_add_test(t, warm_with_deadline);
    tcase_add_test(t, alloc_fail_new);
    tcase_add_test(t, alloc_fail_set_and_load);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
