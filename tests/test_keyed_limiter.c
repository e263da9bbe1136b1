/* resil_keyed_limiter: one bucket per key, bounded memory, idle expiry. */
#include "check_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static resil_clock *g_clock;
static long g_live;

static void setup(void)
{
    g_live = tu_alloc_live();
    g_clock = tu_clock();
}

static void teardown(void)
{
    tu_alloc_reset();
    resil_clock_free(g_clock);
    ck_assert_int_eq(tu_alloc_live(), g_live);
}

static resil_keyed_limiter *mk(double rate, uint32_t burst, uint32_t max_keys,
                               int64_t idle_ns)
{
    resil_keyed_limiter_opts o;
    resil_keyed_limiter_opts_init(&o);
    o.rate = rate;
    o.burst = burst;
    o.max_keys = max_keys;
    o.idle_ns = idle_ns;
    o.clock = g_clock;
    resil_keyed_limiter *kl = NULL;
    ck_assert_rc(resil_keyed_limiter_new(&o, &kl), 0);
    ck_assert_ptr_nonnull(kl);
    return kl;
}

static int take(resil_keyed_limiter *kl, const char *key, uint32_t n)
{
    return resil_keyed_limiter_try_acquire(kl, key, strlen(key), n, NULL);
}

static resil_keyed_limiter_stats stats(resil_keyed_limiter *kl)
{
    resil_keyed_limiter_stats st;
    resil_keyed_limiter_stats_get(kl, &st);
    return st;
}

static void advance(int64_t ns)
{
    ck_assert_rc(resil_clock_manual_advance(g_clock, ns), 0);
}

START_TEST(test_opts_init_defaults)
{
    resil_keyed_limiter_opts o;
    memset(&o, 0xff, sizeof o);
    resil_keyed_limiter_opts_init(&o);
    ck_assert(o.rate == 10.0);
    ck_assert_uint_eq(o.burst, 10);
    ck_assert_uint_eq(o.max_keys, 10000);
    ck_assert_int_eq(o.idle_ns, 600 * RESIL_NS_PER_SEC);
    ck_assert_ptr_null(o.clock);
    ck_assert_uint_eq(o.reserved_[7], 0);
    resil_keyed_limiter_opts_init(NULL);
    resil_keyed_limiter *kl = NULL;
    ck_assert_rc(resil_keyed_limiter_new(&o, &kl), 0);
    ck_assert_rc(resil_keyed_limiter_try_acquire(kl, "k", 1, 10, NULL), 0);
    resil_keyed_limiter_free(kl);
}
END_TEST

START_TEST(test_new_bad_args)
{
    resil_keyed_limiter_opts o;
    resil_keyed_limiter_opts_init(&o);
    resil_keyed_limiter *kl = (resil_keyed_limiter *)&o;
    ck_assert_rc(resil_keyed_limiter_new(NULL, &kl), RESIL_EINVAL);
    ck_assert_ptr_null(kl);
    ck_assert_rc(resil_keyed_limiter_new(&o, NULL), RESIL_EINVAL);
    const double bad_rates[] = {0.0, -5.0, 0.0009, 2e9, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad_rates / sizeof bad_rates[0]; i++) {
        resil_keyed_limiter_opts_init(&o);
        o.rate = bad_rates[i];
        ck_assert_rc(resil_keyed_limiter_new(&o, &kl), RESIL_EINVAL);
    }
    resil_keyed_limiter_opts_init(&o);
    o.burst = 0;
    ck_assert_rc(resil_keyed_limiter_new(&o, &kl), RESIL_EINVAL);
    resil_keyed_limiter_opts_init(&o);
    o.max_keys = 0;
    ck_assert_rc(resil_keyed_limiter_new(&o, &kl), RESIL_EINVAL);
    resil_keyed_limiter_opts_init(&o);
    o.idle_ns = -1;
    ck_assert_rc(resil_keyed_limiter_new(&o, &kl), RESIL_EINVAL);
    ck_assert_ptr_null(kl);
    /* idle 0 means "as soon as refilled"; one key is a valid bound */
    o.idle_ns = 0;
    o.max_keys = 1;
    ck_assert_rc(resil_keyed_limiter_new(&o, &kl), 0);
    resil_keyed_limiter_free(kl);
}
END_TEST

START_TEST(test_bad_args)
{
    resil_keyed_limiter *kl = mk(10, 5, 100, RESIL_NS_PER_SEC);
    int64_t w = 42;
    ck_assert_rc(resil_keyed_limiter_try_acquire(NULL, "a", 1, 1, &w), RESIL_EINVAL);
    ck_assert_rc(resil_keyed_limiter_try_acquire_at(NULL, 0, "a", 1, 1, &w),
                 RESIL_EINVAL);
    ck_assert_rc(resil_keyed_limiter_try_acquire(kl, NULL, 1, 1, &w), RESIL_EINVAL);
    ck_assert_rc(resil_keyed_limiter_try_acquire(kl, "a", 1, 0, &w), RESIL_EINVAL);
    ck_assert_rc(resil_keyed_limiter_try_acquire(kl, "a", 1, 6, &w), RESIL_EINVAL);
    ck_assert_rc(resil_keyed_limiter_try_acquire_at(kl, 0, NULL, 3, 1, &w), RESIL_EINVAL);
    ck_assert_int_eq(w, 42);
    resil_keyed_limiter_stats st = stats(kl);
    ck_assert_uint_eq(st.keys, 0); /* no bucket made for a bad call */
    ck_assert_uint_eq(st.allowed + st.rejected, 0);
    memset(&st, 0xff, sizeof st);
    resil_keyed_limiter_stats_get(NULL, &st);
    ck_assert_uint_eq(st.allowed, 0);
    ck_assert_uint_eq(st.keys, 0);
    resil_keyed_limiter_stats_get(kl, NULL);
    resil_keyed_limiter_free(kl);
    resil_keyed_limiter_free(NULL);
}
END_TEST

START_TEST(test_isolation)
{
    resil_keyed_limiter *kl = mk(10, 3, 100, 60 * RESIL_NS_PER_SEC);
    int64_t w = -1;
    ck_assert_rc(resil_keyed_limiter_try_acquire(kl, "alice", 5, 3, &w), 0);
    ck_assert_int_eq(w, 0);
    ck_assert_rc(resil_keyed_limiter_try_acquire(kl, "alice", 5, 1, &w), RESIL_ELIMIT);
    ck_assert_int_eq(w, 100 * RESIL_NS_PER_MS);
    /* another key, and keys that are prefixes of each other, are separate */
    ck_assert_rc(take(kl, "bob", 3), 0);
    ck_assert_rc(take(kl, "alic", 3), 0);
    ck_assert_rc(take(kl, "alicee", 3), 0);
    ck_assert_rc(take(kl, "bob", 1), RESIL_ELIMIT);
    advance(100 * RESIL_NS_PER_MS);
    ck_assert_rc(take(kl, "alice", 1), 0);
    ck_assert_rc(take(kl, "alice", 1), RESIL_ELIMIT);
    resil_keyed_limiter_stats st = stats(kl);
    ck_assert_uint_eq(st.keys, 4);
    ck_assert_uint_eq(st.allowed, 13);
    ck_assert_uint_eq(st.rejected, 3);
    ck_assert_uint_eq(st.evictions, 0);
    ck_assert_uint_eq(st.expirations, 0);
    resil_keyed_limiter_free(kl);
}
END_TEST

START_TEST(test_at_variant)
{
    resil_keyed_limiter *kl = mk(2, 2, 100, 60 * RESIL_NS_PER_SEC);
    int64_t w;
    int64_t t = 1000 * RESIL_NS_PER_SEC;
    ck_assert_rc(resil_keyed_limiter_try_acquire_at(kl, t, "k", 1, 2, NULL), 0);
    ck_assert_rc(resil_keyed_limiter_try_acquire_at(kl, t, "k", 1, 2, &w), RESIL_ELIMIT);
    ck_assert_int_eq(w, RESIL_NS_PER_SEC);
    ck_assert_rc(resil_keyed_limiter_try_acquire_at(kl, t + 500 * RESIL_NS_PER_MS - 1,
                                                    "k", 1, 1, &w),
                 RESIL_ELIMIT);
    ck_assert_int_eq(w, 1);
    ck_assert_rc(
        resil_keyed_limiter_try_acquire_at(kl, t + 500 * RESIL_NS_PER_MS, "k", 1, 1, &w),
        0);
    ck_assert_int_eq(w, 0);
    resil_keyed_limiter_free(kl);
}
END_TEST

START_TEST(test_binary_and_empty_keys)
{
    resil_keyed_limiter *kl = mk(1, 1, 100, 60 * RESIL_NS_PER_SEC);
    static const char k1[] = {'a', 0, 'b'}, k2[] = {'a', 0, 'c'}, z2[] = {0, 0};
    ck_assert_rc(resil_keyed_limiter_try_acquire(kl, k1, 3, 1, NULL), 0);
    ck_assert_rc(resil_keyed_limiter_try_acquire(kl, k2, 3, 1, NULL), 0);
    ck_assert_rc(resil_keyed_limiter_try_acquire(kl, k1, 1, 1, NULL), 0); /* "a" */
    ck_assert_rc(resil_keyed_limiter_try_acquire(kl, k1, 2, 1, NULL), 0); /* "a\0" */
    ck_assert_rc(resil_keyed_limiter_try_acquire(kl, z2, 1, 1, NULL), 0);
    ck_assert_rc(resil_keyed_limiter_try_acquire(kl, z2, 2, 1, NULL), 0);
    /* the empty key is a key, whether or not a pointer comes with it */
    ck_assert_rc(resil_keyed_limiter_try_acquire(kl, NULL, 0, 1, NULL), 0);
    ck_assert_rc(resil_keyed_limiter_try_acquire(kl, "x", 0, 1, NULL), RESIL_ELIMIT);
    ck_assert_rc(resil_keyed_limiter_try_acquire(kl, k1, 3, 1, NULL), RESIL_ELIMIT);
    ck_assert_rc(resil_keyed_limiter_try_acquire(kl, z2, 2, 1, NULL), RESIL_ELIMIT);
    ck_assert_uint_eq(stats(kl).keys, 7);
    resil_keyed_limiter_free(kl);
}
END_TEST

START_TEST(test_long_keys)
{
    resil_keyed_limiter *kl = mk(1, 1, 1000, 60 * RESIL_NS_PER_SEC);
    size_t len = 10000;
    char *a = malloc(len), *b = malloc(len);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    memset(a, 'q', len);
    memcpy(b, a, len);
    b[len - 1] = 'r'; /* differs only in the last byte */
    ck_assert_rc(resil_keyed_limiter_try_acquire(kl, a, len, 1, NULL), 0);
    ck_assert_rc(resil_keyed_limiter_try_acquire(kl, b, len, 1, NULL), 0);
    ck_assert_rc(resil_keyed_limiter_try_acquire(kl, a, len, 1, NULL), RESIL_ELIMIT);
    /* the key was copied: the caller's buffer may change */
    memset(a, 'z', len);
    ck_assert_rc(resil_keyed_limiter_try_acquire(kl, a, len, 1, NULL), 0);
    ck_assert_rc(resil_keyed_limiter_try_acquire(kl, b, len, 1, NULL), RESIL_ELIMIT);
    /* every prefix length of one buffer is its own key (tails of 0..7 bytes) */
    for (size_t n = 1; n <= 40; n++)
        ck_assert_rc(resil_keyed_limiter_try_acquire(kl, b, n, 1, NULL), 0);
    ck_assert_uint_eq(stats(kl).keys, 43);
    free(a);
    free(b);
    resil_keyed_limiter_free(kl);
}
END_TEST

START_TEST(test_max_keys_bound)
{
    resil_keyed_limiter *kl = mk(10, 1, 100, 600 * RESIL_NS_PER_SEC);
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "client-%d", i);
        ck_assert_rc(take(kl, key, 1), 0); /* a new key always has its burst */
        resil_keyed_limiter_stats st = stats(kl);
        ck_assert_uint_le(st.keys, 100);
        ck_assert_uint_eq(st.keys + st.evictions, (uint64_t)i + 1);
    }
    resil_keyed_limiter_stats st = stats(kl);
    /* shares of the bound are per shard; with 1000 keys over them all
     * are full but for astronomically unlikely hash luck */
    ck_assert_uint_ge(st.keys, 90);
    ck_assert_uint_eq(st.expirations, 0);
    ck_assert_uint_eq(st.allowed, 1000);
    resil_keyed_limiter_free(kl);
}
END_TEST

START_TEST(test_lru_eviction)
{
    /* max_keys < 16: one shard, so the LRU order is exact */
    resil_keyed_limiter *kl = mk(1, 2, 3, 600 * RESIL_NS_PER_SEC);
    ck_assert_rc(take(kl, "A", 2), 0);
    ck_assert_rc(take(kl, "B", 2), 0);
    ck_assert_rc(take(kl, "C", 2), 0);
    ck_assert_rc(take(kl, "A", 1), RESIL_ELIMIT); /* a refused call is a use */
    ck_assert_rc(take(kl, "D", 2), 0);            /* evicts B, the LRU */
    resil_keyed_limiter_stats st = stats(kl);
    ck_assert_uint_eq(st.keys, 3);
    ck_assert_uint_eq(st.evictions, 1);
    ck_assert_rc(take(kl, "A", 1), RESIL_ELIMIT); /* A kept its state */
    /* B comes back with a full bucket, evicting C */
    ck_assert_rc(take(kl, "B", 2), 0);
    ck_assert_rc(take(kl, "D", 1), RESIL_ELIMIT); /* D kept */
    ck_assert_rc(take(kl, "C", 2), 0);            /* C fresh: evicts A */
    ck_assert_rc(take(kl, "A", 2), 0);            /* A fresh: evicts B */
    st = stats(kl);
    ck_assert_uint_eq(st.keys, 3);
    ck_assert_uint_eq(st.evictions, 4);
    ck_assert_uint_eq(st.expirations, 0);
    resil_keyed_limiter_free(kl);
}
END_TEST

START_TEST(test_single_key_table)
{
    resil_keyed_limiter *kl = mk(1, 1, 1, 600 * RESIL_NS_PER_SEC);
    ck_assert_rc(take(kl, "A", 1), 0);
    ck_assert_rc(take(kl, "A", 1), RESIL_ELIMIT);
    ck_assert_rc(take(kl, "B", 1), 0);
    ck_assert_rc(take(kl, "A", 1), 0); /* evicted, so fresh */
    resil_keyed_limiter_stats st = stats(kl);
    ck_assert_uint_eq(st.keys, 1);
    ck_assert_uint_eq(st.evictions, 2);
    resil_keyed_limiter_free(kl);
}
END_TEST

START_TEST(test_idle_expiry)
{
    resil_keyed_limiter *kl = mk(10, 1, 10, RESIL_NS_PER_SEC);
    ck_assert_rc(take(kl, "A", 1), 0);
    advance(500 * RESIL_NS_PER_MS);
    ck_assert_rc(take(kl, "B", 1), 0); /* A idle 0.5 s: kept */
    resil_keyed_limiter_stats st = stats(kl);
    ck_assert_uint_eq(st.keys, 2);
    ck_assert_uint_eq(st.expirations, 0);
    advance(500 * RESIL_NS_PER_MS - 1);
    ck_assert_rc(take(kl, "B", 1), 0); /* A idle 1 s - 1 ns: kept */
    ck_assert_uint_eq(stats(kl).expirations, 0);
    advance(1);
    ck_assert_rc(take(kl, "B", 1), RESIL_ELIMIT); /* A idle 1 s: dropped */
    st = stats(kl);
    ck_assert_uint_eq(st.keys, 1);
    ck_assert_uint_eq(st.expirations, 1);
    ck_assert_uint_eq(st.evictions, 0);
    resil_keyed_limiter_free(kl);
}
END_TEST

START_TEST(test_idle_waits_for_refill)
{
    /* idle 1 s, but the bucket takes 10 s to refill: it is kept that long */
    resil_keyed_limiter *kl = mk(1, 10, 10, RESIL_NS_PER_SEC);
    ck_assert_rc(take(kl, "A", 10), 0);
    advance(5 * RESIL_NS_PER_SEC);
    ck_assert_rc(take(kl, "B", 1), 0);
    ck_assert_uint_eq(stats(kl).expirations, 0);
    advance(5 * RESIL_NS_PER_SEC - 1);
    ck_assert_rc(take(kl, "B", 1), 0);
    ck_assert_uint_eq(stats(kl).expirations, 0);
    ck_assert_rc(take(kl, "A", 10), RESIL_ELIMIT); /* state kept: 9.99.. tokens */
    ck_assert_rc(take(kl, "A", 9), 0);
    resil_keyed_limiter_free(kl);
    /* the idle time is raised to the refill time for every key, even one
     * whose bucket refilled sooner */
    kl = mk(1, 10, 10, RESIL_NS_PER_SEC);
    ck_assert_rc(take(kl, "C", 1), 0); /* full again in 1 s */
    advance(2 * RESIL_NS_PER_SEC);
    ck_assert_rc(take(kl, "B", 1), 0);
    ck_assert_uint_eq(stats(kl).keys, 2);
    ck_assert_uint_eq(stats(kl).expirations, 0);
    advance(8 * RESIL_NS_PER_SEC); /* 10 s after C's last use */
    ck_assert_rc(take(kl, "B", 1), 0);
    ck_assert_uint_eq(stats(kl).expirations, 1);
    resil_keyed_limiter_free(kl);
}
END_TEST

START_TEST(test_expiry_is_incremental)
{
    resil_keyed_limiter *kl = mk(10, 1, 15, RESIL_NS_PER_SEC);
    char key[32];
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "old%d", i);
        ck_assert_rc(take(kl, key, 1), 0);
    }
    advance(2 * RESIL_NS_PER_SEC);
    /* each call looks at no more than two entries at the LRU tail */
    for (int call = 1; call <= 5; call++) {
        take(kl, "new", 1);
        resil_keyed_limiter_stats st = stats(kl);
        ck_assert_uint_eq(st.expirations, 2 * (uint64_t)call);
        ck_assert_uint_eq(st.keys, 11 - 2 * (uint64_t)call);
    }
    take(kl, "new", 1);
    ck_assert_uint_eq(stats(kl).expirations, 10);
    /* an expired key returns with a full bucket */
    ck_assert_rc(take(kl, "old3", 1), 0);
    resil_keyed_limiter_free(kl);
}
END_TEST

START_TEST(test_many_keys_grow)
{
    /* enough keys for every shard to grow its table several times */
    resil_keyed_limiter *kl = mk(10, 2, 40000, 600 * RESIL_NS_PER_SEC);
    char key[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "%d", i);
        ck_assert_rc(take(kl, key, 2), 0);
    }
    for (int i = 0; i < 20000; i += 7) {
        snprintf(key, sizeof key, "%d", i);
        ck_assert_rc(take(kl, key, 1), RESIL_ELIMIT);
    }
    resil_keyed_limiter_stats st = stats(kl);
    ck_assert_uint_eq(st.keys, 20000);
    ck_assert_uint_eq(st.evictions, 0);
    ck_assert_uint_eq(st.allowed, 40000);
    resil_keyed_limiter_free(kl);
}
END_TEST

START_TEST(test_alloc_failure_new)
{
    resil_keyed_limiter_opts o;
    resil_keyed_limiter_opts_init(&o);
    o.clock = g_clock;
    int rc = RESIL_ENOMEM;
    long n;
    for (n = 0; rc != 0 && n < 100; n++) {
        resil_keyed_limiter *kl = (resil_keyed_limiter *)&o;
        long live = tu_alloc_live();
        tu_alloc_fail_at(n);
        rc = resil_keyed_limiter_new(&o, &kl);
        tu_alloc_reset();
        if (rc == 0) {
            resil_keyed_limiter_free(kl);
            break;
        }
        ck_assert_rc(rc, RESIL_ENOMEM);
        ck_assert_ptr_null(kl);
        ck_assert_int_eq(tu_alloc_live(), live);
    }
    ck_assert_int_gt(n, 0);
    ck_assert_rc(rc, 0);
}
END_TEST

START_TEST(test_alloc_failure_keys)
{
    resil_keyed_limiter *kl = mk(10, 1, 15, 600 * RESIL_NS_PER_SEC);
    ck_assert_rc(take(kl, "a", 1), 0);
    tu_alloc_fail_at(0);
    /* a new key cannot be made; an existing one still works */
    ck_assert_rc(take(kl, "b", 1), RESIL_ENOMEM);
    ck_assert_rc(take(kl, "a", 1), RESIL_ELIMIT);
    tu_alloc_reset();
    resil_keyed_limiter_stats st = stats(kl);
    ck_assert_uint_eq(st.keys, 1);
    ck_assert_uint_eq(st.allowed, 1);
    ck_assert_uint_eq(st.rejected, 1);
    /* growing the table is best effort: the 9th key fills the initial 8
     * slots' load and the growth fails, yet the key goes in */
    char key[32];
    for (int i = 0; i < 7; i++) {
        snprintf(key, sizeof key, "k%d", i);
        ck_assert_rc(take(kl, key, 1), 0);
    }
    tu_alloc_fail_at(1); /* the entry succeeds, the larger table fails */
    ck_assert_rc(take(kl, "ninth", 1), 0);
    tu_alloc_reset();
    ck_assert_uint_eq(stats(kl).keys, 9);
    for (int i = 0; i < 7; i++) {
        snprintf(key, sizeof key, "k%d", i);
        ck_assert_rc(take(kl, key, 1), RESIL_ELIMIT);
    }
    ck_assert_rc(take(kl, "ninth", 1), RESIL_ELIMIT);
    /* and a full shard does not evict when the new entry cannot be made */
    resil_keyed_limiter_free(kl);
    kl = mk(10, 1, 1, 600 * RESIL_NS_PER_SEC);
    ck_assert_rc(take(kl, "a", 1), 0);
    tu_alloc_fail_at(0);
    ck_assert_rc(take(kl, "b", 1), RESIL_ENOMEM);
    tu_alloc_reset();
    ck_assert_uint_eq(stats(kl).evictions, 0);
    ck_assert_rc(take(kl, "a", 1), RESIL_ELIMIT);
    resil_keyed_limiter_free(kl);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("keyed_limiter");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_opts_init_defaults);
    tcase_add_test(tc, test_new_bad_args);
    tcase_add_test(tc, test_bad_args);
    tcase_add_test(tc, test_isolation);
    tcase_add_test(tc, test_at_variant);
    tcase_add_test(tc, test_binary_and_empty_keys);
    tcase_add_test(tc, test_long_keys);
    tcase_add_test(tc, test_max_keys_bound);
    tcase_add_test(tc, test_lru_eviction);
    tcase_add_test(tc, test_single_key_table);
    tcase_add_test(tc, test_idle_expiry);
    tcase_add_test(tc, test_idle_waits_for_refill);
    tcase_add_test(tc, test_expiry_is_incremental);
    tcase_add_test(tc, test_many_keys_grow);
    tcase_add_test(tc, test_alloc_failure_new);
    tcase_add_test(tc, test_alloc_failure_keys);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
