/* Errors, version, allocator hook and clocks. */
#include "config.h"

#include "check_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int all_codes[] = {
#define CODE_(name, value, msg) RESIL_##name,
    RESIL_ERRNO_MAP(CODE_)
#undef CODE_
};
#define N_CODES (sizeof all_codes / sizeof all_codes[0])

START_TEST(strerror_every_code)
{
    for (size_t i = 0; i < N_CODES; i++) {
        const char *m = resil_strerror(all_codes[i]);
        ck_assert_ptr_nonnull(m);
        ck_assert_str_ne(m, "unknown error");
        ck_assert_str_ne(resil_err_name(all_codes[i]), "UNKNOWN");
        for (size_t j = 0; j < i; j++) {
            ck_assert_int_ne(all_codes[i], all_codes[j]);
            ck_assert_str_ne(m, resil_strerror(all_codes[j]));
        }
    }
    ck_assert_str_eq(resil_strerror(0), "success");
    ck_assert_str_eq(resil_err_name(0), "OK");
}
END_TEST

START_TEST(error_codes_are_stable)
{
    /* Codes are part of the ABI: a renumbering must fail this test. */
    ck_assert_int_eq(RESIL_EINVAL, -1);
    ck_assert_int_eq(RESIL_ENOMEM, -2);
    ck_assert_int_eq(RESIL_EOPEN, -3);
    ck_assert_int_eq(RESIL_ELIMIT, -5);
    ck_assert_int_eq(RESIL_ETIMEDOUT, -6);
    ck_assert_int_eq(RESIL_ESTATE, -18);
    ck_assert_int_eq(RESIL_ENOTSUP, -19);
    ck_assert_str_eq(resil_err_name(RESIL_EOPEN), "EOPEN");
    ck_assert_str_eq(resil_strerror(RESIL_ELIMIT), "rate limit exceeded");
}
END_TEST

START_TEST(unknown_codes)
{
    ck_assert_str_eq(resil_strerror(-9999), "unknown error");
    ck_assert_str_eq(resil_strerror(42), "unknown error");
    ck_assert_str_eq(resil_err_name(-9999), "UNKNOWN");
}
END_TEST

START_TEST(version_matches_package)
{
    ck_assert_str_eq(resil_version(), PACKAGE_VERSION);
    ck_assert_str_eq(resil_version(), RESIL_VERSION_STRING);
    ck_assert_uint_eq(resil_version_num(), RESIL_VERSION_NUM);
    char buf[32];
    snprintf(buf, sizeof buf, "%d.%d.%d", RESIL_VERSION_MAJOR, RESIL_VERSION_MINOR,
             RESIL_VERSION_PATCH);
    ck_assert_str_eq(buf, RESIL_VERSION_STRING);
}
END_TEST

START_TEST(allocator_rejects_null)
{
    ck_assert_rc(resil_set_allocator(NULL, realloc, free), RESIL_EINVAL);
    ck_assert_rc(resil_set_allocator(malloc, NULL, free), RESIL_EINVAL);
    ck_assert_rc(resil_set_allocator(malloc, realloc, NULL), RESIL_EINVAL);
    resil_free(NULL);
}
END_TEST

static long custom_mallocs;
static void *counting_malloc(size_t n)
{
    custom_mallocs++;
    return malloc(n);
}

START_TEST(allocator_hook_is_used)
{
    ck_assert_int_eq(resil_set_allocator(counting_malloc, realloc, free), 0);
    resil_clock *c = NULL;
    ck_assert_int_eq(resil_clock_manual_new(0, &c), 0);
    ck_assert_int_eq(custom_mallocs, 1);
    resil_clock_free(c);
    resil_reset_allocator();
    ck_assert_int_eq(resil_clock_manual_new(0, &c), 0);
    ck_assert_int_eq(custom_mallocs, 1);
    resil_clock_free(c);
    tu_alloc_fail_at(-1); /* back to the counting hook, failing nothing */
}
END_TEST

START_TEST(manual_clock)
{
    resil_clock *c = NULL;
    ck_assert_int_eq(resil_clock_manual_new(100, &c), 0);
    ck_assert_int_eq(resil_clock_now(c), 100);
    ck_assert_int_eq(resil_clock_manual_advance(c, 50), 0);
    ck_assert_int_eq(resil_clock_now(c), 150);
    ck_assert_int_eq(resil_clock_manual_set(c, 150), 0);
    ck_assert_int_eq(resil_clock_manual_set(c, 1000), 0);
    ck_assert_int_eq(resil_clock_now(c), 1000);
    ck_assert_rc(resil_clock_manual_set(c, 999), RESIL_EINVAL);
    ck_assert_rc(resil_clock_manual_advance(c, -1), RESIL_EINVAL);
    ck_assert_int_eq(resil_clock_now(c), 1000);
    /* sleeping on a manual clock moves it instead of waiting */
    resil_clock_sleep(c, 5 * RESIL_NS_PER_SEC);
    ck_assert_int_eq(resil_clock_now(c), 1000 + 5 * RESIL_NS_PER_SEC);
    resil_clock_sleep(c, -7);
    ck_assert_int_eq(resil_clock_now(c), 1000 + 5 * RESIL_NS_PER_SEC);
    /* advancing saturates instead of wrapping */
    ck_assert_int_eq(resil_clock_manual_advance(c, INT64_MAX), 0);
    ck_assert_int_eq(resil_clock_now(c), INT64_MAX);
    resil_clock_free(c);
}
END_TEST

static int64_t fake_now(void *ctx)
{
    return *(int64_t *)ctx;
}

START_TEST(custom_clock)
{
    int64_t t = 42;
    resil_clock *c = NULL;
    ck_assert_rc(resil_clock_custom_new(NULL, &t, &c), RESIL_EINVAL);
    ck_assert_ptr_null(c);
    ck_assert_rc(resil_clock_custom_new(fake_now, &t, NULL), RESIL_EINVAL);
    ck_assert_int_eq(resil_clock_custom_new(fake_now, &t, &c), 0);
    ck_assert_int_eq(resil_clock_now(c), 42);
    t = 77;
    ck_assert_int_eq(resil_clock_now(c), 77);
    /* a custom clock is not manual */
    ck_assert_rc(resil_clock_manual_set(c, 100), RESIL_EINVAL);
    ck_assert_rc(resil_clock_manual_advance(c, 1), RESIL_EINVAL);
    resil_clock_free(c);
}
END_TEST

START_TEST(builtin_clocks)
{
    const resil_clock *m = resil_clock_monotonic();
    const resil_clock *k = resil_clock_coarse();
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(k);
    ck_assert_ptr_ne(m, k);
    int64_t a = resil_clock_now(m), b = resil_clock_now(NULL), d = resil_clock_now(m);
    ck_assert_int_gt(a, 0);
    ck_assert_int_le(a, b);
    ck_assert_int_le(b, d);
    int64_t c1 = resil_clock_now(k), c2 = resil_clock_now(k);
    ck_assert_int_gt(c1, 0);
    ck_assert_int_le(c1, c2);
    /* the built-ins are not manual and freeing them is a no-op */
    ck_assert_rc(resil_clock_manual_advance((resil_clock *)m, 1), RESIL_EINVAL);
    resil_clock_free((resil_clock *)m);
    resil_clock_free((resil_clock *)k);
    resil_clock_free(NULL);
    ck_assert_rc(resil_clock_manual_new(0, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_clock_manual_set(NULL, 1), RESIL_EINVAL);
}
END_TEST

START_TEST(real_sleep_zero_returns)
{
    /* Only non-positive durations: the real clocks must not wait for them. */
    int64_t before = resil_clock_now(NULL);
    resil_clock_sleep(NULL, 0);
    resil_clock_sleep(resil_clock_coarse(), -1);
    ck_assert_int_ge(resil_clock_now(NULL), before);
}
END_TEST

START_TEST(clock_alloc_failure)
{
    long live = tu_alloc_live();
    resil_clock *c = (resil_clock *)1;
    tu_alloc_fail_at(0);
    ck_assert_rc(resil_clock_manual_new(0, &c), RESIL_ENOMEM);
    ck_assert_ptr_null(c);
    c = (resil_clock *)1;
    ck_assert_rc(resil_clock_custom_new(fake_now, NULL, &c), RESIL_ENOMEM);
    ck_assert_ptr_null(c);
    tu_alloc_reset();
    ck_assert_int_eq(tu_alloc_live(), live);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("core");
    TCase *t = tcase_create("errors");
    tcase_add_test(t, strerror_every_code);
    tcase_add_test(t, error_codes_are_stable);
    tcase_add_test(t, unknown_codes);
    tcase_add_test(t, version_matches_package);
    suite_add_tcase(s, t);
    t = tcase_create("alloc");
    tcase_add_test(t, allocator_rejects_null);
    tcase_add_test(t, allocator_hook_is_used);
    suite_add_tcase(s, t);
    t = tcase_create("clock");
    tcase_add_test(t, manual_clock);
    tcase_add_test(t, custom_clock);
    tcase_add_test(t, builtin_clocks);
    tcase_add_test(t, real_sleep_zero_returns);
    tcase_add_test(t, clock_alloc_failure);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
