/* Every constructor fails cleanly when allocation N fails, for every N
 * (jansson's test_chaos, curl's torture mode): RESIL_ENOMEM, *out NULL, and
 * nothing leaked.  The loop stops at the first N that succeeds, which proves
 * every allocation before it was reached. */
#include "check_util.h"

#include <string.h>

typedef int (*ctor_fn)(void **out);
typedef void (*dtor_fn)(void *obj);

static void exercise(const char *what, ctor_fn ctor, dtor_fn dtor)
{
    long live = tu_alloc_live();
    for (long n = 0;; n++) {
        ck_assert_msg(n < 1000, "%s: still failing after 1000 allocations", what);
        void *obj = (void *)1;
        tu_alloc_fail_at(n);
        int rc = ctor(&obj);
        tu_alloc_reset();
        if (rc == 0) {
            ck_assert_ptr_nonnull(obj);
            dtor(obj);
            ck_assert_msg(tu_alloc_live() == live, "%s: leak after success", what);
            return;
        }
        ck_assert_msg(rc == RESIL_ENOMEM, "%s: allocation %ld failed: got %s", what,
                      n, resil_err_name(rc));
        ck_assert_msg(obj == NULL, "%s: *out not NULL after failure %ld", what, n);
        ck_assert_msg(tu_alloc_live() == live, "%s: leak when allocation %ld fails",
                      what, n);
    }
}

static int manual_clock(void **out)
{
    return resil_clock_manual_new(0, (resil_clock **)out);
}

static int64_t zero_now(void *ctx)
{
    (void)ctx;
    return 0;
}

static int custom_clock(void **out)
{
    return resil_clock_custom_new(zero_now, NULL, (resil_clock **)out);
}

static void clock_free(void *o)
{
    resil_clock_free(o);
}

static int breaker_count(void **out)
{
    resil_breaker_opts o;
    resil_breaker_opts_init(&o);
    o.name = "youtube_api";
    return resil_breaker_new(&o, (resil_breaker **)out);
}

static int breaker_time(void **out)
{
    resil_breaker_opts o;
    resil_breaker_opts_init(&o);
    o.window = RESIL_WINDOW_TIME;
    o.window_size = 60;
    return resil_breaker_new(&o, (resil_breaker **)out);
}

static void breaker_free(void *o)
{
    resil_breaker_free(o);
}

static int limiter(void **out)
{
    resil_limiter_opts o;
    resil_limiter_opts_init(&o);
    return resil_limiter_new(&o, (resil_limiter **)out);
}

static void limiter_free(void *o)
{
    resil_limiter_free(o);
}

static int keyed(void **out)
{
    resil_keyed_limiter_opts o;
    resil_keyed_limiter_opts_init(&o);
    o.max_keys = 100;
    return resil_keyed_limiter_new(&o, (resil_keyed_limiter **)out);
}

static void keyed_free(void *o)
{
    resil_keyed_limiter_free(o);
}

static int retry(void **out)
{
    resil_retry_opts o;
    resil_retry_opts_init(&o);
    return resil_retry_new(&o, (resil_retry **)out);
}

static void retry_free(void *o)
{
    resil_retry_free(o);
}

static int budget(void **out)
{
    resil_retry_budget_opts o;
    resil_retry_budget_opts_init(&o);
    return resil_retry_budget_new(&o, (resil_retry_budget **)out);
}

static void budget_free(void *o)
{
    resil_retry_budget_free(o);
}

START_TEST(constructors)
{
    exercise("resil_clock_manual_new", manual_clock, clock_free);
    exercise("resil_clock_custom_new", custom_clock, clock_free);
    exercise("resil_breaker_new (count window)", breaker_count, breaker_free);
    exercise("resil_breaker_new (time window)", breaker_time, breaker_free);
    exercise("resil_limiter_new", limiter, limiter_free);
    exercise("resil_keyed_limiter_new", keyed, keyed_free);
    exercise("resil_retry_new", retry, retry_free);
    exercise("resil_retry_budget_new", budget, budget_free);
}
END_TEST

/* A new key needs memory: when it cannot be had the caller hears ENOMEM and
 * the limiter keeps working for the keys it has. */
START_TEST(keyed_new_key_without_memory)
{
    long live = tu_alloc_live();
    resil_keyed_limiter *kl = NULL;
    ck_assert_int_eq(keyed((void **)&kl), 0);
    ck_assert_int_eq(resil_keyed_limiter_try_acquire(kl, "a", 1, 1, NULL), 0);
    tu_alloc_fail_at(0);
    ck_assert_rc(resil_keyed_limiter_try_acquire(kl, "b", 1, 1, NULL), RESIL_ENOMEM);
    ck_assert_int_eq(resil_keyed_limiter_try_acquire(kl, "a", 1, 1, NULL), 0);
    tu_alloc_reset();
    ck_assert_int_eq(resil_keyed_limiter_try_acquire(kl, "b", 1, 1, NULL), 0);
    resil_keyed_limiter_free(kl);
    ck_assert_int_eq(tu_alloc_live(), live);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("alloc_fail");
    TCase *t = tcase_create("constructors");
    tcase_add_test(t, constructors);
    tcase_add_test(t, keyed_new_key_without_memory);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
