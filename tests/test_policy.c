/* Per-service policies: the order of the stages, retry, timeouts,
 * classification, stale-if-error, fallbacks, values and their ownership,
 * statistics, metrics, the registry, bad arguments and allocation
 * failures.  Threads (coalescing, bulkhead) are in test_policy_threads.c. */
#include "check_util.h"

#include <resil/cache.h>
#include <resil/metrics.h>
#include <resil/policy.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS RESIL_NS_PER_MS
#define SEC RESIL_NS_PER_SEC

/* A scripted operation: fails with fail_rc for its first fail_calls calls,
 * then gives value (as bytes, or as a counted object). */
struct op {
    int calls;
    int fail_calls;
    int fail_rc;
    const char *value;
    int as_obj;
    int give_on_failure;   /* also give a value when failing */
    int give_nothing;      /* succeed without a value */
    int64_t took_ns;       /* advance the clock by this per call */
    int64_t retry_after;   /* reported on failures, -1 none */
    int64_t deadline;      /* what the last attempt saw */
    uint32_t in_flight;    /* the service's in_flight seen from inside */
    resil_service *svc;    /* for in_flight */
};

/* Objects count their frees so "exactly once" can be checked. */
struct obj {
    char text[32];
};
static int g_frees;

static void obj_free(void *p, void *ctx)
{
    (void)ctx;
    g_frees++;
    free(p);
}

static resil_clock *g_clock;
static struct tu_sleeper g_sl;
static long g_live0;

static void setup(void)
{
    g_live0 = tu_alloc_live();
    g_clock = tu_clock();
    memset(&g_sl, 0, sizeof g_sl);
    g_sl.clock = g_clock;
    g_frees = 0;
}

static void teardown(void)
{
    resil_clock_free(g_clock);
    ck_assert_int_eq(tu_alloc_live(), g_live0);
}

static int give(struct op *op, resil_service_out *out)
{
    if (op->as_obj) {
        struct obj *o = malloc(sizeof *o);
        ck_assert_ptr_nonnull(o);
        snprintf(o->text, sizeof o->text, "%s", op->value);
        int rc = resil_service_out_obj(out, o, sizeof *o);
        if (rc != 0)
            free(o);
        return rc;
    }
    return resil_service_out_bytes(out, op->value, strlen(op->value));
}

static int op_fn(void *arg, resil_attempt *a, resil_service_out *out)
{
    struct op *op = arg;
    op->calls++;
    op->deadline = a->deadline;
    if (op->svc) {
        resil_service_stats st;
        resil_service_stats_get(op->svc, &st);
        op->in_flight = st.in_flight;
    }
    if (op->took_ns)
        resil_clock_manual_advance(g_clock, op->took_ns);
    if (op->calls <= op->fail_calls) {
        if (op->give_on_failure)
            give(op, out);
        a->retry_after_ns = op->retry_after;
        return op->fail_rc;
    }
    if (!op->give_nothing)
        give(op, out); /* a failure here is the service's to see */
    return 0;
}

static void op_init(struct op *op, const char *value)
{
    memset(op, 0, sizeof *op);
    op->value = value;
    op->fail_rc = 503;
    op->retry_after = -1;
}

static void opts_init(resil_service_opts *o, const char *name)
{
    resil_service_opts_init(o);
    o->name = name;
    o->clock = g_clock;
    o->retry.sleep = tu_sleep;
    o->retry.sleep_ctx = &g_sl;
    o->retry.jitter = RESIL_JITTER_NONE;
    o->retry.base_delay_ns = 100 * MS;
    o->breaker.open_jitter = 0;
    o->breaker.open_base_ns = 10 * SEC;
    o->breaker.minimum_calls = 1;
    o->breaker.window_size = 4;
    o->obj_free = obj_free;
}

static resil_service *svc_new(const resil_service_opts *o)
{
    resil_service *s = NULL;
    ck_assert_rc(resil_service_new(o, &s), 0);
    ck_assert_ptr_nonnull(s);
    return s;
}

static resil_service_stats stats(resil_service *s)
{
    resil_service_stats st;
    resil_service_stats_get(s, &st);
    return st;
}

static int call_key(resil_service *s, const char *key, struct op *op, resil_service_result *res)
{
    struct resil_service_call c;
    resil_service_call_init(&c);
    c.key = key;
    c.keylen = key ? strlen(key) : 0;
    return resil_service_call(s, &c, op_fn, op, res);
}

static void assert_value(const resil_service_result *res, const char *want)
{
    ck_assert_uint_eq(res->len, strlen(want));
    ck_assert_ptr_nonnull(res->data);
    ck_assert(memcmp(res->data, want, res->len) == 0);
}

static void assert_message(const resil_service_result *res, const char *part)
{
    ck_assert_msg(strstr(res->message, part) != NULL, "message \"%s\" lacks \"%s\"",
                  res->message, part);
}

/* ---- basics ------------------------------------------------------------- */

START_TEST(plain_call)
{
    resil_service_opts o;
    opts_init(&o, "plain");
    resil_service *s = svc_new(&o);
    struct op op;
    op_init(&op, "hello");
    op.svc = s;
    resil_service_result res;
    ck_assert_rc(resil_service_call(s, NULL, op_fn, &op, &res), 0);
    assert_value(&res, "hello");
    ck_assert_ptr_null(res.obj);
    ck_assert_int_eq(res.stage, RESIL_STAGE_OPERATION);
    ck_assert_int_eq(res.code, 0);
    ck_assert_uint_eq(res.attempts, 1);
    ck_assert_int_eq(res.stale, 0);
    ck_assert_int_eq(res.degraded, 0);
    ck_assert_int_eq(res.retry_after_ns, -1);
    ck_assert_str_eq(res.message, "");
    ck_assert_int_eq(op.deadline, RESIL_TIME_NEVER);
    ck_assert_uint_eq(op.in_flight, 1);
    resil_service_result_release(&res);
    ck_assert_ptr_null(res.data);
    resil_service_result_release(&res); /* twice is harmless */
    resil_service_stats st = stats(s);
    ck_assert_uint_eq(st.calls, 1);
    ck_assert_uint_eq(st.ok, 1);
    ck_assert_uint_eq(st.attempts, 1);
    ck_assert_uint_eq(st.in_flight, 0);
    ck_assert_str_eq(resil_service_name(s), "plain");
    ck_assert_ptr_null(resil_service_breaker(s));
    ck_assert_ptr_null(resil_service_limiter(s));
    ck_assert_ptr_null(resil_service_cache(s));
    resil_service_free(s);
}
END_TEST

START_TEST(empty_value)
{
    resil_service_opts o;
    opts_init(&o, "empty");
    o.use_cache = 1;
    resil_service *s = svc_new(&o);
    struct op op;
    op_init(&op, "unused");
    op.give_nothing = 1;
    resil_service_result res;
    /* without a key: no cache */
    ck_assert_rc(resil_service_call(s, NULL, op_fn, &op, &res), 0);
    ck_assert_uint_eq(res.len, 0);
    ck_assert_ptr_nonnull(res.data);
    resil_service_result_release(&res);
    /* with one: the empty value is cached */
    ck_assert_rc(call_key(s, "k", &op, &res), 0);
    ck_assert_uint_eq(res.len, 0);
    ck_assert_ptr_nonnull(res.data);
    resil_service_result_release(&res);
    ck_assert_rc(call_key(s, "k", &op, &res), 0);
    ck_assert_int_eq(res.stage, RESIL_STAGE_CACHE);
    ck_assert_uint_eq(res.len, 0);
    resil_service_result_release(&res);
    ck_assert_int_eq(op.calls, 2);
    resil_service_free(s);
}
END_TEST

/* ---- the order of the stages ------------------------------------------- */

/* Every stage on, each refusing in turn.  The limiter has one token. */
static void order_opts(resil_service_opts *o, const char *name)
{
    opts_init(o, name);
    o->use_limiter = 1;
    o->limiter.rate = 1;
    o->limiter.burst = 1;
    o->max_concurrent = 1;
    o->use_breaker = 1;
}

START_TEST(limiter_refuses_first)
{
    resil_service_opts o;
    order_opts(&o, "youtube_api");
    resil_service *s = svc_new(&o);
    struct op op;
    op_init(&op, "v");
    resil_service_result res;
    ck_assert_rc(resil_service_call(s, NULL, op_fn, &op, &res), 0);
    resil_service_result_release(&res);
    ck_assert_rc(resil_service_call(s, NULL, op_fn, &op, &res), RESIL_ELIMIT);
    ck_assert_int_eq(res.code, RESIL_ELIMIT);
    ck_assert_int_eq(res.stage, RESIL_STAGE_LIMITER);
    ck_assert_int_eq(res.retry_after_ns, 1 * SEC); /* one token per second */
    ck_assert_uint_eq(res.attempts, 0);
    ck_assert_ptr_null(res.data);
    ck_assert_str_eq(res.message, "youtube_api: rate limit exceeded; retry in 1 s");
    resil_service_result_release(&res);
    /* no op call, no bulkhead slot, no breaker permit */
    ck_assert_int_eq(op.calls, 1);
    resil_breaker_stats bs;
    resil_breaker_stats_get(resil_service_breaker(s), &bs);
    ck_assert_uint_eq(bs.calls, 1);
    ck_assert_uint_eq(bs.rejections, 0);
    resil_service_stats st = stats(s);
    ck_assert_uint_eq(st.in_flight, 0);
    ck_assert_uint_eq(st.rejected[RESIL_STAGE_LIMITER], 1);
    ck_assert_uint_eq(st.calls, 2);
    ck_assert_uint_eq(st.ok, 1);
    ck_assert_uint_eq(st.failed, 0);
    /* a quarter of a second later the wait is 0.75 s */
    resil_clock_manual_advance(g_clock, 250 * MS);
    ck_assert_rc(resil_service_call(s, NULL, op_fn, &op, &res), RESIL_ELIMIT);
    ck_assert_int_eq(res.retry_after_ns, 750 * MS);
    ck_assert_str_eq(res.message, "youtube_api: rate limit exceeded; retry in 0.75 s");
    resil_service_result_release(&res);
    resil_service_free(s);
}
END_TEST

/* The operation calls its own service again: the inner call passes the
 * limiter (it has tokens) and meets the full bulkhead. */
struct nested {
    resil_service *s;
    struct op inner;
    resil_service_result res;
    int rc;
};

static int nesting_op(void *arg, resil_attempt *a, resil_service_out *out)
{
    struct nested *n = arg;
    (void)a;
    n->rc = resil_service_call(n->s, NULL, op_fn, &n->inner, &n->res);
    return resil_service_out_bytes(out, "outer", 5);
}

START_TEST(bulkhead_refuses_second)
{
    resil_service_opts o;
    order_opts(&o, "bulk");
    o.limiter.burst = 5;
    resil_service *s = svc_new(&o);
    struct nested n;
    memset(&n, 0, sizeof n);
    n.s = s;
    op_init(&n.inner, "inner");
    resil_service_result res;
    ck_assert_rc(resil_service_call(s, NULL, nesting_op, &n, &res), 0);
    assert_value(&res, "outer");
    resil_service_result_release(&res);
    ck_assert_rc(n.rc, RESIL_EBUSY);
    ck_assert_int_eq(n.res.stage, RESIL_STAGE_BULKHEAD);
    ck_assert_int_eq(n.res.code, RESIL_EBUSY);
    ck_assert_int_eq(n.inner.calls, 0);
    assert_message(&n.res, "bulk: too many calls in flight (at most 1)");
    resil_service_result_release(&n.res);
    /* the inner call took a token, but no breaker permit */
    resil_limiter_stats ls;
    resil_limiter_stats_get(resil_service_limiter(s), &ls);
    ck_assert_uint_eq(ls.allowed, 2);
    resil_breaker_stats bs;
    resil_breaker_stats_get(resil_service_breaker(s), &bs);
    ck_assert_uint_eq(bs.calls, 1);
    ck_assert_uint_eq(bs.rejections, 0);
    resil_service_stats st = stats(s);
    ck_assert_uint_eq(st.rejected[RESIL_STAGE_BULKHEAD], 1);
    ck_assert_uint_eq(st.in_flight, 0);
    ck_assert_uint_eq(st.calls, 2);
    resil_service_free(s);
}
END_TEST

START_TEST(open_breaker_refuses)
{
    resil_service_opts o;
    order_opts(&o, "pay");
    o.limiter.burst = 5;
    resil_service *s = svc_new(&o);
    struct op op;
    op_init(&op, "v");
    op.fail_calls = 1;
    resil_service_result res;
    /* one failure opens it (minimum_calls 1, failure_rate 0.5) */
    ck_assert_rc(resil_service_call(s, NULL, op_fn, &op, &res), RESIL_EFAILED);
    ck_assert_int_eq(res.stage, RESIL_STAGE_OPERATION);
    ck_assert_int_eq(res.op_rc, 503);
    ck_assert_str_eq(res.message, "pay: the operation failed (code 503)");
    resil_service_result_release(&res);
    ck_assert_int_eq(resil_breaker_state_get(resil_service_breaker(s)), RESIL_BREAKER_OPEN);
    resil_clock_manual_advance(g_clock, 1500 * MS);
    ck_assert_rc(resil_service_call(s, NULL, op_fn, &op, &res), RESIL_EOPEN);
    ck_assert_int_eq(res.stage, RESIL_STAGE_BREAKER);
    ck_assert_int_eq(res.retry_after_ns, 8500 * MS);
    ck_assert_uint_eq(res.attempts, 0);
    ck_assert_str_eq(res.message, "pay: circuit breaker is open; retry in 8.5 s");
    resil_service_result_release(&res);
    ck_assert_int_eq(op.calls, 1);
    resil_service_stats st = stats(s);
    ck_assert_uint_eq(st.rejected[RESIL_STAGE_BREAKER], 1);
    ck_assert_uint_eq(st.failed, 1);
    ck_assert_uint_eq(st.in_flight, 0);
    /* held open by an operator: no time to give */
    resil_breaker_set_mode(resil_service_breaker(s), RESIL_BREAKER_FORCED_OPEN);
    ck_assert_rc(resil_service_call(s, NULL, op_fn, &op, &res), RESIL_EOPEN);
    ck_assert_int_eq(res.retry_after_ns, RESIL_TIME_NEVER);
    assert_message(&res, "held open by an operator");
    resil_service_result_release(&res);
    /* after the open period a probe goes through */
    resil_breaker_set_mode(resil_service_breaker(s), RESIL_BREAKER_NORMAL);
    ck_assert_rc(resil_service_call(s, NULL, op_fn, &op, &res), 0);
    resil_service_result_release(&res);
    ck_assert_int_eq(op.calls, 2);
    resil_service_free(s);
}
END_TEST

START_TEST(cache_hit_takes_no_token)
{
    resil_service_opts o;
    order_opts(&o, "cached");
    o.use_cache = 1;
    resil_service *s = svc_new(&o);
    struct op op;
    op_init(&op, "value");
    resil_service_result res;
    ck_assert_rc(call_key(s, "k", &op, &res), 0);
    ck_assert_int_eq(res.stage, RESIL_STAGE_OPERATION);
    assert_value(&res, "value");
    resil_service_result_release(&res);
    /* the bucket is empty now, yet hits are served */
    for (int i = 0; i < 3; i++) {
        ck_assert_rc(call_key(s, "k", &op, &res), 0);
        ck_assert_int_eq(res.stage, RESIL_STAGE_CACHE);
        ck_assert_int_eq(res.stale, 0);
        ck_assert_uint_eq(res.attempts, 0);
        assert_value(&res, "value");
        resil_service_result_release(&res);
    }
    ck_assert_int_eq(op.calls, 1);
    resil_limiter_stats ls;
    resil_limiter_stats_get(resil_service_limiter(s), &ls);
    ck_assert_uint_eq(ls.allowed, 1);
    ck_assert_uint_eq(ls.rejected, 0);
    /* another key misses and meets the empty bucket */
    ck_assert_rc(call_key(s, "j", &op, &res), RESIL_ELIMIT);
    ck_assert_int_eq(res.stage, RESIL_STAGE_LIMITER);
    resil_service_result_release(&res);
    resil_service_stats st = stats(s);
    ck_assert_uint_eq(st.cache_hits, 3);
    ck_assert_uint_eq(st.ok, 1);
    ck_assert_uint_eq(st.calls, 5);
    ck_assert_uint_eq(st.rejected[RESIL_STAGE_LIMITER], 1);
    ck_assert_ptr_nonnull(resil_service_cache(s));
    resil_service_free(s);
}
END_TEST

/* ---- retry and timeouts --------------------------------------------------- */

START_TEST(retry_then_success)
{
    resil_service_opts o;
    opts_init(&o, "retry");
    o.use_retry = 1;
    o.retry.max_attempts = 4;
    resil_service *s = svc_new(&o);
    struct op op;
    op_init(&op, "third time");
    op.fail_calls = 2;
    resil_service_result res;
    ck_assert_rc(resil_service_call(s, NULL, op_fn, &op, &res), 0);
    assert_value(&res, "third time");
    ck_assert_uint_eq(res.attempts, 3);
    ck_assert_int_eq(res.op_rc, 0);
    resil_service_result_release(&res);
    ck_assert_int_eq(g_sl.n, 2);
    ck_assert_int_eq(g_sl.log[0], 100 * MS);
    ck_assert_int_eq(g_sl.log[1], 200 * MS);
    resil_service_stats st = stats(s);
    ck_assert_uint_eq(st.attempts, 3);
    ck_assert_uint_eq(st.ok, 1);
    resil_service_free(s);
}
END_TEST

START_TEST(retry_exhausted)
{
    resil_service_opts o;
    opts_init(&o, "retry");
    o.use_retry = 1;
    o.retry.max_attempts = 3;
    resil_service *s = svc_new(&o);
    struct op op;
    op_init(&op, "never");
    op.fail_calls = 100;
    op.retry_after = 2 * SEC; /* the remote asks for 2 s each time */
    resil_service_result res;
    ck_assert_rc(resil_service_call(s, NULL, op_fn, &op, &res), RESIL_EEXHAUSTED);
    ck_assert_int_eq(res.stage, RESIL_STAGE_RETRY);
    ck_assert_uint_eq(res.attempts, 3);
    ck_assert_int_eq(res.op_rc, 503);
    ck_assert_int_eq(res.retry_after_ns, 2 * SEC);
    ck_assert_str_eq(res.message,
                     "retry: all 3 attempts failed, the last with code 503; retry in 2 s");
    resil_service_result_release(&res);
    ck_assert_int_eq(g_sl.n, 2);
    ck_assert_int_eq(g_sl.log[0], 2 * SEC); /* Retry-After beat the backoff */
    ck_assert_uint_eq(stats(s).failed, 1);
    ck_assert_uint_eq(stats(s).attempts, 3);
    resil_service_free(s);
}
END_TEST

static int only_5xx(int rc, void *ctx)
{
    (void)ctx;
    return rc >= 500;
}

START_TEST(not_retryable)
{
    resil_service_opts o;
    opts_init(&o, "nr");
    o.use_retry = 1;
    o.retry.retryable = only_5xx;
    resil_service *s = svc_new(&o);
    struct op op;
    op_init(&op, "v");
    op.fail_calls = 1;
    op.fail_rc = 404;
    resil_service_result res;
    ck_assert_rc(resil_service_call(s, NULL, op_fn, &op, &res), RESIL_EFAILED);
    ck_assert_int_eq(res.stage, RESIL_STAGE_OPERATION);
    ck_assert_int_eq(res.op_rc, 404);
    ck_assert_uint_eq(res.attempts, 1);
    ck_assert_int_eq(res.retry_after_ns, -1);
    ck_assert_str_eq(res.message, "nr: the operation failed (code 404)");
    resil_service_result_release(&res);
    ck_assert_int_eq(g_sl.n, 0);
    resil_service_free(s);
}
END_TEST

START_TEST(attempt_timeout)
{
    resil_service_opts o;
    opts_init(&o, "slow");
    o.attempt_timeout_ns = 1 * SEC;
    resil_service *s = svc_new(&o);
    struct op op;
    op_init(&op, "late");
    op.as_obj = 1;
    op.took_ns = 1 * SEC + 1; /* answers, but after its deadline */
    int64_t t0 = resil_clock_now(g_clock);
    resil_service_result res;
    ck_assert_rc(resil_service_call(s, NULL, op_fn, &op, &res), RESIL_ETIMEDOUT);
    ck_assert_int_eq(op.deadline, t0 + 1 * SEC);
    ck_assert_int_eq(res.stage, RESIL_STAGE_TIMEOUT);
    ck_assert_int_eq(res.op_rc, 0);
    ck_assert_uint_eq(res.attempts, 1);
    ck_assert_ptr_null(res.obj);
    assert_message(&res, "slow: the operation timed out");
    resil_service_result_release(&res);
    ck_assert_int_eq(g_frees, 1); /* the late value was dropped */
    /* exactly at the deadline is in time */
    op.took_ns = 1 * SEC;
    ck_assert_rc(resil_service_call(s, NULL, op_fn, &op, &res), 0);
    ck_assert_str_eq(((struct obj *)res.obj)->text, "late");
    resil_service_result_release(&res);
    ck_assert_int_eq(g_frees, 2);
    resil_service_free(s);
}
END_TEST

START_TEST(attempt_timeout_retried)
{
    resil_service_opts o;
    opts_init(&o, "slow");
    o.attempt_timeout_ns = 1 * SEC;
    o.use_retry = 1;
    o.retry.max_attempts = 2;
    resil_service *s = svc_new(&o);
    struct op op;
    op_init(&op, "v");
    op.took_ns = 2 * SEC;
    resil_service_result res;
    ck_assert_rc(resil_service_call(s, NULL, op_fn, &op, &res), RESIL_EEXHAUSTED);
    ck_assert_int_eq(res.stage, RESIL_STAGE_RETRY);
    ck_assert_uint_eq(res.attempts, 2);
    assert_message(&res, "all 2 attempts failed, the last timed out");
    resil_service_result_release(&res);
    resil_service_free(s);
}
END_TEST

START_TEST(call_deadline)
{
    resil_service_opts o;
    opts_init(&o, "dl");
    o.use_retry = 1;
    o.retry.max_attempts = 5;
    o.attempt_timeout_ns = 10 * SEC; /* the call's deadline is tighter */
    resil_service *s = svc_new(&o);
    struct op op;
    op_init(&op, "v");
    op.fail_calls = 100;
    struct resil_service_call c;
    resil_service_call_init(&c);
    ck_assert_int_eq(c.deadline, RESIL_TIME_NEVER);
    int64_t t0 = resil_clock_now(g_clock);
    c.deadline = t0 + 250 * MS;
    resil_service_result res;
    /* 100 ms of backoff fits, the next 200 ms would not */
    ck_assert_rc(resil_service_call(s, &c, op_fn, &op, &res), RESIL_ETIMEDOUT);
    ck_assert_int_eq(res.stage, RESIL_STAGE_RETRY);
    ck_assert_uint_eq(res.attempts, 2);
    ck_assert_int_eq(op.deadline, c.deadline);
    ck_assert_int_eq(g_sl.n, 1);
    assert_message(&res, "dl: deadline exceeded after 2 attempts");
    resil_service_result_release(&res);
    /* a deadline already past: the operation is not called */
    resil_clock_manual_advance(g_clock, 150 * MS);
    ck_assert_rc(resil_service_call(s, &c, op_fn, &op, &res), RESIL_ETIMEDOUT);
    ck_assert_uint_eq(res.attempts, 0);
    ck_assert_int_eq(op.calls, 2);
    resil_service_result_release(&res);
    resil_service_free(s);
}
END_TEST

/* ---- classification and the breaker --------------------------------------- */

static resil_outcome not_found_ignored(int rc, int64_t took, void *ctx)
{
    (void)took;
    (*(int *)ctx)++;
    if (rc == 404)
        return RESIL_OUTCOME_IGNORED;
    return rc == 0 ? RESIL_OUTCOME_SUCCESS : RESIL_OUTCOME_FAILURE;
}

START_TEST(classify_ignored)
{
    int classified = 0;
    resil_service_opts o;
    opts_init(&o, "cls");
    o.use_breaker = 1;
    o.classify = not_found_ignored;
    o.classify_ctx = &classified;
    resil_service *s = svc_new(&o);
    struct op op;
    op_init(&op, "v");
    op.fail_calls = 3;
    op.fail_rc = 404;
    resil_service_result res;
    for (int i = 0; i < 3; i++) {
        ck_assert_rc(resil_service_call(s, NULL, op_fn, &op, &res), RESIL_EFAILED);
        ck_assert_int_eq(res.op_rc, 404);
        resil_service_result_release(&res);
    }
    ck_assert_int_eq(classified, 3);
    resil_breaker *b = resil_service_breaker(s);
    resil_breaker_stats bs;
    resil_breaker_stats_get(b, &bs);
    ck_assert_uint_eq(bs.ignored, 3);
    ck_assert_uint_eq(bs.failures, 0);
    ck_assert_int_eq(bs.state, RESIL_BREAKER_CLOSED);
    /* a 503 is a failure and opens it */
    op.fail_calls = 4;
    op.fail_rc = 503;
    ck_assert_rc(resil_service_call(s, NULL, op_fn, &op, &res), RESIL_EFAILED);
    resil_service_result_release(&res);
    ck_assert_int_eq(resil_breaker_state_get(b), RESIL_BREAKER_OPEN);
    resil_service_free(s);
}
END_TEST

START_TEST(breaker_stops_retries)
{
    resil_service_opts o;
    opts_init(&o, "brk");
    o.use_breaker = 1;
    o.use_retry = 1;
    o.retry.max_attempts = 5;
    resil_service *s = svc_new(&o);
    struct op op;
    op_init(&op, "v");
    op.fail_calls = 100;
    resil_service_result res;
    /* the first failure opens the breaker: no sleep, no second attempt */
    ck_assert_rc(resil_service_call(s, NULL, op_fn, &op, &res), RESIL_EOPEN);
    ck_assert_int_eq(res.stage, RESIL_STAGE_BREAKER);
    ck_assert_uint_eq(res.attempts, 1);
    ck_assert_int_eq(res.retry_after_ns, 10 * SEC);
    ck_assert_str_eq(res.message, "brk: the operation failed (code 503) and the circuit "
                                  "breaker opened; retry in 10 s");
    resil_service_result_release(&res);
    ck_assert_int_eq(g_sl.n, 0);
    ck_assert_int_eq(op.calls, 1);
    resil_service_stats st = stats(s);
    ck_assert_uint_eq(st.failed, 1);
    ck_assert_uint_eq(st.rejected[RESIL_STAGE_BREAKER], 0);
    /* now refused before any attempt */
    ck_assert_rc(resil_service_call(s, NULL, op_fn, &op, &res), RESIL_EOPEN);
    ck_assert_uint_eq(res.attempts, 0);
    resil_service_result_release(&res);
    ck_assert_int_eq(op.calls, 1);
    ck_assert_uint_eq(stats(s).rejected[RESIL_STAGE_BREAKER], 1);
    resil_service_free(s);
}
END_TEST

START_TEST(half_open_probe)
{
    resil_service_opts o;
    opts_init(&o, "probe");
    o.use_breaker = 1;
    o.breaker.half_open_probes = 1;
    resil_service *s = svc_new(&o);
    struct nested n;
    memset(&n, 0, sizeof n);
    n.s = s;
    op_init(&n.inner, "inner");
    resil_breaker_set_mode(resil_service_breaker(s), RESIL_BREAKER_FORCED_OPEN);
    resil_breaker_set_mode(resil_service_breaker(s), RESIL_BREAKER_NORMAL);
    /* open it, wait it out, then the probe's op calls the service again */
    struct op op;
    op_init(&op, "v");
    op.fail_calls = 1;
    resil_service_result res;
    ck_assert_rc(resil_service_call(s, NULL, op_fn, &op, &res), RESIL_EFAILED);
    resil_service_result_release(&res);
    resil_clock_manual_advance(g_clock, 10 * SEC);
    ck_assert_rc(resil_service_call(s, NULL, nesting_op, &n, &res), 0);
    resil_service_result_release(&res);
    ck_assert_rc(n.rc, RESIL_EPROBES);
    ck_assert_int_eq(n.res.stage, RESIL_STAGE_BREAKER);
    ck_assert_int_eq(n.res.retry_after_ns, 0);
    ck_assert_str_eq(n.res.message, "probe: circuit breaker is half-open and all probe calls "
                                    "are taken; retry shortly");
    resil_service_result_release(&n.res);
    ck_assert_int_eq(resil_breaker_state_get(resil_service_breaker(s)), RESIL_BREAKER_CLOSED);
    resil_service_free(s);
}
END_TEST

/* ---- stale values and fallbacks --------------------------------------------- */

START_TEST(stale_if_error)
{
    resil_service_opts o;
    opts_init(&o, "stale");
    o.use_cache = 1;
    o.cache.default_ttl_ns = 1 * SEC;
    o.cache.stale_ttl_ns = 10 * SEC;
    resil_service *s = svc_new(&o);
    struct op op;
    op_init(&op, "v1");
    resil_service_result res;
    ck_assert_rc(call_key(s, "k", &op, &res), 0);
    resil_service_result_release(&res);
    resil_clock_manual_advance(g_clock, 2 * SEC);
    op.fail_calls = 100;
    op.value = "v2";
    ck_assert_rc(call_key(s, "k", &op, &res), 0);
    ck_assert_int_eq(op.calls, 2);
    ck_assert_int_eq(res.stale, 1);
    ck_assert_int_eq(res.degraded, 0);
    ck_assert_int_eq(res.stage, RESIL_STAGE_CACHE);
    ck_assert_int_eq(res.code, 0);
    ck_assert_uint_eq(res.attempts, 1);
    ck_assert_int_eq(res.op_rc, 503);
    assert_value(&res, "v1");
    ck_assert_str_eq(res.message,
                     "stale: the operation failed (code 503); served a stale cached value");
    resil_service_result_release(&res);
    /* past the stale window: the failure shows */
    resil_clock_manual_advance(g_clock, 10 * SEC);
    ck_assert_rc(call_key(s, "k", &op, &res), RESIL_EFAILED);
    ck_assert_int_eq(res.stale, 0);
    ck_assert_ptr_null(res.data);
    resil_service_result_release(&res);
    resil_service_stats st = stats(s);
    ck_assert_uint_eq(st.stale, 1);
    ck_assert_uint_eq(st.failed, 1);
    ck_assert_uint_eq(st.ok, 1);
    resil_service_free(s);
}
END_TEST

START_TEST(stale_after_refusal)
{
    resil_service_opts o;
    opts_init(&o, "stale");
    o.use_cache = 1;
    o.cache.default_ttl_ns = 1 * SEC;
    o.cache.stale_ttl_ns = 10 * SEC;
    o.use_limiter = 1;
    o.limiter.rate = 0.001;
    o.limiter.burst = 1;
    resil_service *s = svc_new(&o);
    struct op op;
    op_init(&op, "v1");
    resil_service_result res;
    ck_assert_rc(call_key(s, "k", &op, &res), 0);
    resil_service_result_release(&res);
    resil_clock_manual_advance(g_clock, 2 * SEC);
    ck_assert_rc(call_key(s, "k", &op, &res), 0);
    ck_assert_int_eq(res.stale, 1);
    assert_value(&res, "v1");
    assert_message(&res, "stale: rate limit exceeded; retry in ");
    resil_service_result_release(&res);
    ck_assert_int_eq(op.calls, 1);
    resil_service_stats st = stats(s);
    ck_assert_uint_eq(st.stale, 1);
    ck_assert_uint_eq(st.rejected[RESIL_STAGE_LIMITER], 1);
    resil_service_free(s);
}
END_TEST

struct fb {
    int calls;
    int decline;
    int as_obj;
    int code_seen;
    resil_stage stage_seen;
    char message_seen[192];
};

static int fallback_fn(void *ctx, const resil_service_result *res, resil_service_out *out)
{
    struct fb *fb = ctx;
    fb->calls++;
    fb->code_seen = res->code;
    fb->stage_seen = res->stage;
    snprintf(fb->message_seen, sizeof fb->message_seen, "%s", res->message);
    if (fb->decline)
        return -1;
    if (fb->as_obj) {
        struct obj *o = malloc(sizeof *o);
        ck_assert_ptr_nonnull(o);
        snprintf(o->text, sizeof o->text, "degraded");
        ck_assert_rc(resil_service_out_obj(out, o, sizeof *o), 0);
        return 0;
    }
    return resil_service_out_bytes(out, "degraded", 8);
}

START_TEST(fallback_gives_value)
{
    struct fb fb;
    memset(&fb, 0, sizeof fb);
    resil_service_opts o;
    opts_init(&o, "fb");
    o.use_cache = 1;
    o.fallback = fallback_fn;
    o.fallback_ctx = &fb;
    resil_service *s = svc_new(&o);
    struct op op;
    op_init(&op, "v");
    op.fail_calls = 100;
    resil_service_result res;
    ck_assert_rc(call_key(s, "k", &op, &res), 0);
    ck_assert_int_eq(fb.calls, 1);
    ck_assert_int_eq(fb.code_seen, RESIL_EFAILED);
    ck_assert_int_eq(fb.stage_seen, RESIL_STAGE_OPERATION);
    ck_assert_str_eq(fb.message_seen, "fb: the operation failed (code 503)");
    ck_assert_int_eq(res.degraded, 1);
    ck_assert_int_eq(res.stale, 0);
    ck_assert_int_eq(res.stage, RESIL_STAGE_FALLBACK);
    ck_assert_int_eq(res.code, 0);
    ck_assert_int_eq(res.op_rc, 503);
    assert_value(&res, "degraded");
    assert_message(&res, "served the fallback's value");
    resil_service_result_release(&res);
    /* the degraded value was not cached */
    ck_assert_rc(call_key(s, "k", &op, &res), 0);
    ck_assert_int_eq(op.calls, 2);
    resil_service_result_release(&res);
    /* an object from the fallback is freed once */
    fb.as_obj = 1;
    ck_assert_rc(call_key(s, "k", &op, &res), 0);
    ck_assert_str_eq(((struct obj *)res.obj)->text, "degraded");
    ck_assert_ptr_null(res.data);
    ck_assert_uint_eq(res.len, sizeof(struct obj));
    resil_service_result_release(&res);
    ck_assert_int_eq(g_frees, 1);
    ck_assert_uint_eq(stats(s).fallbacks, 3);
    ck_assert_uint_eq(stats(s).failed, 0);
    resil_service_free(s);
}
END_TEST

START_TEST(fallback_declines)
{
    struct fb fb;
    memset(&fb, 0, sizeof fb);
    fb.decline = 1;
    resil_service_opts o;
    order_opts(&o, "fbd");
    o.fallback = fallback_fn;
    o.fallback_ctx = &fb;
    resil_service *s = svc_new(&o);
    struct op op;
    op_init(&op, "v");
    resil_service_result res;
    ck_assert_rc(resil_service_call(s, NULL, op_fn, &op, &res), 0);
    resil_service_result_release(&res);
    ck_assert_int_eq(fb.calls, 0);
    ck_assert_rc(resil_service_call(s, NULL, op_fn, &op, &res), RESIL_ELIMIT);
    ck_assert_int_eq(fb.calls, 1);
    ck_assert_int_eq(fb.stage_seen, RESIL_STAGE_LIMITER);
    ck_assert_int_eq(res.degraded, 0);
    ck_assert_int_eq(res.stage, RESIL_STAGE_LIMITER);
    ck_assert_ptr_null(res.data);
    ck_assert_str_eq(res.message, "fbd: rate limit exceeded; retry in 1 s");
    resil_service_result_release(&res);
    resil_service_stats st = stats(s);
    ck_assert_uint_eq(st.fallbacks, 0);
    ck_assert_uint_eq(st.calls, 2);
    ck_assert_uint_eq(st.rejected[RESIL_STAGE_LIMITER], 1);
    resil_service_free(s);
}
END_TEST

/* ---- values ----------------------------------------------------------------- */

START_TEST(objects_freed_once)
{
    resil_service_opts o;
    opts_init(&o, "objs");
    o.use_cache = 1;
    o.use_retry = 1;
    o.retry.max_attempts = 2;
    resil_service *s = svc_new(&o);
    struct op op;
    op_init(&op, "first");
    op.as_obj = 1;
    op.give_on_failure = 1;
    op.fail_calls = 1; /* attempt 1 gives an object and fails */
    resil_service_result res;
    ck_assert_rc(call_key(s, "k", &op, &res), 0);
    ck_assert_ptr_nonnull(res.obj);
    ck_assert_ptr_null(res.data);
    ck_assert_uint_eq(res.len, sizeof(struct obj));
    ck_assert_str_eq(((struct obj *)res.obj)->text, "first");
    ck_assert_int_eq(g_frees, 1); /* attempt 1's object, replaced */
    resil_service_result hit;
    ck_assert_rc(call_key(s, "k", &op, &hit), 0);
    ck_assert_ptr_eq(hit.obj, res.obj);
    resil_service_result_release(&hit);
    resil_service_result_release(&res);
    ck_assert_int_eq(g_frees, 1); /* still cached */
    /* without a key: the result owns it */
    op.calls = 0;
    ck_assert_rc(resil_service_call(s, NULL, op_fn, &op, &res), 0);
    ck_assert_int_eq(g_frees, 2); /* attempt 1's object, dropped */
    resil_service_result_release(&res);
    ck_assert_int_eq(g_frees, 3);
    resil_service_free(s);
    ck_assert_int_eq(g_frees, 4); /* the cached one */
}
END_TEST

/* Gives two values; the second replaces the first. */
static int twice_op(void *arg, resil_attempt *a, resil_service_out *out)
{
    (void)a;
    (void)arg;
    struct obj *o = malloc(sizeof *o);
    ck_assert_ptr_nonnull(o);
    snprintf(o->text, sizeof o->text, "one");
    ck_assert_rc(resil_service_out_obj(out, o, sizeof *o), 0);
    return resil_service_out_bytes(out, "two", 3);
}

static int bad_value_op(void *arg, resil_attempt *a, resil_service_out *out)
{
    (void)a;
    (void)arg;
    ck_assert_rc(resil_service_out_bytes(out, NULL, 5), RESIL_EINVAL);
    ck_assert_rc(resil_service_out_obj(out, NULL, 5), RESIL_EINVAL);
    return 0; /* claims success without a value */
}

START_TEST(value_replaced_and_local_errors)
{
    resil_service_opts o;
    opts_init(&o, "vals");
    o.use_cache = 1;
    o.use_breaker = 1;
    resil_service *s = svc_new(&o);
    resil_service_result res;
    ck_assert_rc(resil_service_call(s, NULL, twice_op, NULL, &res), 0);
    assert_value(&res, "two");
    ck_assert_int_eq(g_frees, 1);
    resil_service_result_release(&res);
    struct resil_service_call c;
    resil_service_call_init(&c);
    c.key = "k";
    c.keylen = 1;
    ck_assert_rc(resil_service_call(s, &c, twice_op, NULL, &res), 0);
    assert_value(&res, "two");
    ck_assert_int_eq(g_frees, 2);
    resil_service_result_release(&res);
    /* a value that could not be given fails the call, not the remote */
    ck_assert_rc(resil_service_call(s, NULL, bad_value_op, NULL, &res), RESIL_EINVAL);
    ck_assert_int_eq(res.stage, RESIL_STAGE_OPERATION);
    assert_message(&res, "could not be kept");
    resil_service_result_release(&res);
    c.key = "j";
    ck_assert_rc(resil_service_call(s, &c, bad_value_op, NULL, &res), RESIL_EINVAL);
    resil_service_result_release(&res);
    resil_breaker_stats bs;
    resil_breaker_stats_get(resil_service_breaker(s), &bs);
    ck_assert_uint_eq(bs.ignored, 2);
    ck_assert_uint_eq(bs.failures, 0);
    ck_assert_rc(resil_service_out_bytes(NULL, "x", 1), RESIL_EINVAL);
    ck_assert_rc(resil_service_out_obj(NULL, &c, 1), RESIL_EINVAL);
    resil_service_free(s);
}
END_TEST

START_TEST(ttl_per_call)
{
    resil_service_opts o;
    opts_init(&o, "ttl");
    o.use_cache = 1;
    o.cache.default_ttl_ns = 100 * SEC;
    resil_service *s = svc_new(&o);
    struct op op;
    op_init(&op, "v");
    struct resil_service_call c;
    resil_service_call_init(&c);
    c.key = "k";
    c.keylen = 1;
    c.ttl_ns = 1 * SEC;
    resil_service_result res;
    ck_assert_rc(resil_service_call(s, &c, op_fn, &op, &res), 0);
    resil_service_result_release(&res);
    resil_clock_manual_advance(g_clock, 1 * SEC);
    ck_assert_rc(resil_service_call(s, &c, op_fn, &op, &res), 0);
    ck_assert_int_eq(res.stage, RESIL_STAGE_OPERATION);
    resil_service_result_release(&res);
    ck_assert_int_eq(op.calls, 2);
    resil_service_free(s);
}
END_TEST

/* ---- metrics ------------------------------------------------------------------ */

static void assert_line(const char *text, const char *line)
{
    const char *p = text;
    size_t n = strlen(line);
    while ((p = strstr(p, line)) != NULL) {
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return;
        p += n;
    }
    ck_abort_msg("no line \"%s\" in:\n%s", line, text);
}

static void metrics_calls(resil_service *s)
{
    struct op op;
    op_init(&op, "v");
    resil_service_result res;
    ck_assert_rc(call_key(s, "k", &op, &res), 0);
    resil_service_result_release(&res);
    ck_assert_rc(call_key(s, "k", &op, &res), 0); /* hit */
    resil_service_result_release(&res);
    op.fail_calls = 100;
    ck_assert_rc(call_key(s, "j", &op, &res), RESIL_EFAILED);
    resil_service_result_release(&res);
    ck_assert_rc(call_key(s, "i", &op, &res), RESIL_ELIMIT);
    resil_service_result_release(&res);
}

START_TEST(metrics_exported)
{
    resil_metrics_opts mo;
    resil_metrics_opts_init(&mo);
    mo.clock = g_clock;
    resil_metrics *m = NULL;
    ck_assert_rc(resil_metrics_new(&mo, &m), 0);
    resil_service_opts o;
    opts_init(&o, "yt");
    o.use_cache = 1;
    o.use_limiter = 1;
    o.limiter.burst = 2;
    o.limiter.rate = 1;
    o.use_breaker = 1;
    o.breaker.minimum_calls = 10;
    o.metrics = m;
    resil_service *s = svc_new(&o);
    opts_init(&o, "other"); /* shares the families */
    o.metrics = m;
    o.use_cache = 1;
    resil_service *s2 = svc_new(&o);
    metrics_calls(s);
    char *text = NULL;
    ck_assert_rc(resil_metrics_export(m, RESIL_METRICS_PROMETHEUS, &text, NULL), 0);
    assert_line(text, "resil_service_calls_total{service=\"yt\",result=\"ok\"} 1");
    assert_line(text, "resil_service_calls_total{service=\"yt\",result=\"cache_hit\"} 1");
    assert_line(text, "resil_service_calls_total{service=\"yt\",result=\"failed\"} 1");
    assert_line(text, "resil_service_calls_total{service=\"yt\",result=\"rejected\"} 1");
    assert_line(text, "resil_service_calls_total{service=\"yt\",result=\"stale\"} 0");
    assert_line(text, "resil_service_calls_total{service=\"other\",result=\"ok\"} 0");
    assert_line(text, "resil_service_rejections_total{service=\"yt\",stage=\"limiter\"} 1");
    assert_line(text, "resil_service_rejections_total{service=\"yt\",stage=\"breaker\"} 0");
    assert_line(text, "resil_service_attempts_total{service=\"yt\"} 2");
    assert_line(text, "resil_service_duration_seconds_count{service=\"yt\"} 4");
    assert_line(text, "resil_service_in_flight{service=\"yt\"} 0");
    assert_line(text, "resil_service_cache_hits_total{service=\"yt\"} 1");
    assert_line(text, "resil_service_cache_misses_total{service=\"yt\"} 3");
    assert_line(text, "resil_service_cache_stale_hits_total{service=\"yt\"} 0");
    assert_line(text, "resil_service_cache_evictions_total{service=\"yt\"} 0");
    assert_line(text, "resil_service_cache_entries{service=\"yt\"} 1");
    assert_line(text, "resil_breaker_state{service=\"yt\"} 0");
    assert_line(text, "resil_breaker_failures_total{service=\"yt\"} 1");
    assert_line(text, "resil_limiter_allowed_total{service=\"yt\"} 2");
    assert_line(text, "resil_limiter_rejected_total{service=\"yt\"} 1");
    resil_free(text);
    /* failures per minute, for alerting */
    resil_metrics_family *f = NULL;
    ck_assert_rc(resil_metrics_family_find(m, "resil_service_calls_total", &f), 0);
    resil_metrics_counter *failed = NULL;
    const char *v[] = {"yt", "failed"};
    ck_assert_rc(resil_metrics_counter_get(f, v, &failed), 0);
    resil_metrics_rate r;
    ck_assert_rc(resil_metrics_counter_rate(failed, 60 * SEC, &r), 0);
    ck_assert_uint_eq(r.events, 1);
    /* freed services no longer run collectors; their series stay */
    resil_service_free(s);
    resil_service_free(s2);
    ck_assert_rc(resil_metrics_export(m, RESIL_METRICS_PROMETHEUS, &text, NULL), 0);
    assert_line(text, "resil_service_calls_total{service=\"yt\",result=\"ok\"} 1");
    resil_free(text);
    resil_metrics_stats ms;
    resil_metrics_stats_get(m, &ms);
    ck_assert_uint_eq(ms.collector_errors, 0);
    resil_metrics_free(m);
}
END_TEST

START_TEST(metrics_name_clash)
{
    resil_metrics *m = NULL;
    ck_assert_rc(resil_metrics_new(NULL, &m), 0);
    resil_metrics_gauge *g = NULL;
    ck_assert_rc(resil_metrics_gauge_new(m, "resil_service_in_flight", "taken", &g), 0);
    resil_service_opts o;
    opts_init(&o, "clash");
    o.metrics = m;
    o.use_breaker = 1;
    resil_service *s = (resil_service *)&o;
    ck_assert_rc(resil_service_new(&o, &s), RESIL_EEXIST);
    ck_assert_ptr_null(s);
    resil_metrics_free(m);
}
END_TEST

/* ---- the registry ----------------------------------------------------------------- */

struct seen {
    char names[8][16];
    int n;
    int stop_at;
};

static int visit(resil_service *s, void *ctx)
{
    struct seen *v = ctx;
    snprintf(v->names[v->n], sizeof v->names[0], "%s", resil_service_name(s));
    v->n++;
    return v->n == v->stop_at ? 42 : 0;
}

START_TEST(registry)
{
    resil_services *reg = NULL;
    ck_assert_rc(resil_services_new(&reg), 0);
    ck_assert_uint_eq(resil_services_count(reg), 0);
    resil_service_opts o;
    const char *names[] = {"m.svc", "a-svc", "z_svc", "B"};
    resil_service *made[4];
    for (int i = 0; i < 4; i++) {
        opts_init(&o, names[i]);
        ck_assert_rc(resil_services_add(reg, &o, &made[i]), 0);
        ck_assert_ptr_nonnull(made[i]);
    }
    opts_init(&o, "a-svc");
    resil_service *dup = (resil_service *)&o;
    ck_assert_rc(resil_services_add(reg, &o, &dup), RESIL_EEXIST);
    ck_assert_ptr_null(dup);
    opts_init(&o, "bad name");
    ck_assert_rc(resil_services_add(reg, &o, NULL), RESIL_EINVAL);
    opts_init(&o, "badopts");
    o.use_limiter = 1;
    o.limiter.rate = 0;
    ck_assert_rc(resil_services_add(reg, &o, NULL), RESIL_EINVAL);
    ck_assert_uint_eq(resil_services_count(reg), 4);
    resil_service *got = NULL;
    ck_assert_rc(resil_services_get(reg, "z_svc", &got), 0);
    ck_assert_ptr_eq(got, made[2]);
    ck_assert_rc(resil_services_get(reg, "nope", &got), RESIL_ENOENT);
    ck_assert_ptr_null(got);
    ck_assert_rc(resil_services_get(reg, NULL, &got), RESIL_EINVAL);
    struct seen v;
    memset(&v, 0, sizeof v);
    ck_assert_rc(resil_services_foreach(reg, visit, &v), 0);
    ck_assert_int_eq(v.n, 4);
    ck_assert_str_eq(v.names[0], "B");
    ck_assert_str_eq(v.names[1], "a-svc");
    ck_assert_str_eq(v.names[2], "m.svc");
    ck_assert_str_eq(v.names[3], "z_svc");
    memset(&v, 0, sizeof v);
    v.stop_at = 2;
    ck_assert_int_eq(resil_services_foreach(reg, visit, &v), 42);
    ck_assert_int_eq(v.n, 2);
    ck_assert_rc(resil_services_foreach(reg, NULL, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_services_foreach(NULL, visit, &v), RESIL_EINVAL);
    ck_assert_rc(resil_services_add(NULL, &o, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_services_add(reg, NULL, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_services_new(NULL), RESIL_EINVAL);
    ck_assert_uint_eq(resil_services_count(NULL), 0);
    /* more than the first allocation holds */
    char name[32];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "s%02d", 19 - i);
        opts_init(&o, name);
        ck_assert_rc(resil_services_add(reg, &o, NULL), 0);
    }
    ck_assert_uint_eq(resil_services_count(reg), 24);
    ck_assert_rc(resil_services_get(reg, "s07", &got), 0);
    ck_assert_str_eq(resil_service_name(got), "s07");
    resil_services_free(reg);
    resil_services_free(NULL);
}
END_TEST

/* ---- names and arguments ------------------------------------------------------------ */

START_TEST(stage_names)
{
    ck_assert_str_eq(resil_stage_name(RESIL_STAGE_NONE), "none");
    ck_assert_str_eq(resil_stage_name(RESIL_STAGE_CACHE), "cache");
    ck_assert_str_eq(resil_stage_name(RESIL_STAGE_LIMITER), "limiter");
    ck_assert_str_eq(resil_stage_name(RESIL_STAGE_BULKHEAD), "bulkhead");
    ck_assert_str_eq(resil_stage_name(RESIL_STAGE_BREAKER), "breaker");
    ck_assert_str_eq(resil_stage_name(RESIL_STAGE_RETRY), "retry");
    ck_assert_str_eq(resil_stage_name(RESIL_STAGE_TIMEOUT), "timeout");
    ck_assert_str_eq(resil_stage_name(RESIL_STAGE_OPERATION), "operation");
    ck_assert_str_eq(resil_stage_name(RESIL_STAGE_FALLBACK), "fallback");
    ck_assert_str_eq(resil_stage_name((resil_stage)9), "unknown");
    ck_assert_str_eq(resil_stage_name((resil_stage)-1), "unknown");
}
END_TEST

static void assert_bad_opts(resil_service_opts *o)
{
    resil_service *s = (resil_service *)o;
    ck_assert_rc(resil_service_new(o, &s), RESIL_EINVAL);
    ck_assert_ptr_null(s);
}

START_TEST(bad_options)
{
    resil_service_opts o;
    resil_service *s = NULL;
    opts_init(&o, "ok");
    ck_assert_rc(resil_service_new(&o, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_service_new(NULL, &s), RESIL_EINVAL);
    const char *bad[] = {NULL, "", "has space", "slash/", "ünï",
                         "x12345678901234567890123456789012345678901234567890123456789012345"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        opts_init(&o, bad[i]);
        assert_bad_opts(&o);
    }
    /* 64 characters are fine */
    opts_init(&o, "x123456789012345678901234567890123456789012345678901234567890123");
    s = svc_new(&o);
    resil_service_free(s);
    opts_init(&o, "ok");
    o.attempt_timeout_ns = -1;
    assert_bad_opts(&o);
    opts_init(&o, "ok");
    o.use_limiter = 1;
    o.limiter.burst = 0;
    assert_bad_opts(&o);
    opts_init(&o, "ok");
    o.use_breaker = 1;
    o.breaker.failure_rate = 2;
    assert_bad_opts(&o);
    opts_init(&o, "ok");
    o.use_retry = 1;
    o.retry.max_attempts = 0;
    assert_bad_opts(&o);
    opts_init(&o, "ok");
    o.use_cache = 1;
    o.cache.max_entries = 0;
    assert_bad_opts(&o);
    /* a disabled stage's options are not looked at */
    opts_init(&o, "ok");
    o.limiter.burst = 0;
    o.retry.max_attempts = 0;
    s = svc_new(&o);
    resil_service_free(s);
    resil_service_free(NULL);
    resil_service_opts_init(NULL);
}
END_TEST

START_TEST(bad_calls)
{
    resil_service_opts o;
    opts_init(&o, "args");
    o.use_limiter = 1;
    o.limiter.burst = 2;
    resil_service *s = svc_new(&o);
    struct op op;
    op_init(&op, "v");
    resil_service_result res;
    ck_assert_rc(resil_service_call(s, NULL, op_fn, &op, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_service_call(NULL, NULL, op_fn, &op, &res), RESIL_EINVAL);
    ck_assert_int_eq(res.code, RESIL_EINVAL);
    ck_assert_int_eq(res.retry_after_ns, -1);
    resil_service_result_release(&res);
    ck_assert_rc(resil_service_call(s, NULL, NULL, &op, &res), RESIL_EINVAL);
    ck_assert_str_eq(res.message, "args: invalid argument");
    resil_service_result_release(&res);
    struct resil_service_call c;
    resil_service_call_init(&c);
    c.keylen = 3; /* without a key */
    ck_assert_rc(resil_service_call(s, &c, op_fn, &op, &res), RESIL_EINVAL);
    resil_service_result_release(&res);
    resil_service_call_init(&c);
    c.ttl_ns = -5;
    ck_assert_rc(resil_service_call(s, &c, op_fn, &op, &res), RESIL_EINVAL);
    resil_service_result_release(&res);
    /* more tokens than the burst can never be had */
    resil_service_call_init(&c);
    c.tokens = 3;
    ck_assert_rc(resil_service_call(s, &c, op_fn, &op, &res), RESIL_EINVAL);
    ck_assert_int_eq(res.stage, RESIL_STAGE_LIMITER);
    resil_service_result_release(&res);
    c.tokens = 2;
    ck_assert_rc(resil_service_call(s, &c, op_fn, &op, &res), 0);
    resil_service_result_release(&res);
    ck_assert_int_eq(op.calls, 1);
    resil_service_call_init(NULL);
    resil_service_result_release(NULL);
    resil_service_result zero;
    memset(&zero, 0, sizeof zero);
    resil_service_result_release(&zero);
    resil_service_stats st;
    memset(&st, 0xff, sizeof st);
    resil_service_stats_get(NULL, &st);
    ck_assert_uint_eq(st.calls, 0);
    resil_service_stats_get(s, NULL);
    ck_assert_str_eq(resil_service_name(NULL), "");
    ck_assert_ptr_null(resil_service_breaker(NULL));
    ck_assert_ptr_null(resil_service_limiter(NULL));
    ck_assert_ptr_null(resil_service_cache(NULL));
    resil_service_free(s);
}
END_TEST

/* ---- allocation failures -------------------------------------------------------------- */

static void full_opts(resil_service_opts *o, resil_metrics *m, const char *name)
{
    opts_init(o, name);
    o->use_cache = 1;
    o->cache.max_entries = 64;
    o->use_limiter = 1;
    o->use_breaker = 1;
    o->use_retry = 1;
    o->max_concurrent = 4;
    o->metrics = m;
}

START_TEST(alloc_fail_new)
{
    resil_metrics *m = NULL;
    ck_assert_rc(resil_metrics_new(NULL, &m), 0);
    resil_service_opts o;
    full_opts(&o, m, "af");
    long n;
    for (n = 0;; n++) {
        ck_assert_msg(n < 1000, "still failing after 1000 allocations");
        resil_service *s = (resil_service *)&o;
        tu_alloc_fail_at(n);
        int rc = resil_service_new(&o, &s);
        tu_alloc_reset();
        if (rc == 0) {
            resil_service_free(s);
            break;
        }
        ck_assert_rc(rc, RESIL_ENOMEM);
        ck_assert_ptr_null(s);
    }
    ck_assert_int_gt(n, 5);
    resil_metrics_stats ms;
    resil_metrics_stats_get(m, &ms);
    ck_assert_uint_eq(ms.collector_errors, 0);
    char *text = NULL; /* no collector of a failed service is left behind */
    ck_assert_rc(resil_metrics_export(m, RESIL_METRICS_PROMETHEUS, &text, NULL), 0);
    resil_free(text);
    resil_metrics_free(m);
}
END_TEST

START_TEST(alloc_fail_registry)
{
    resil_services *reg = NULL;
    tu_alloc_fail_at(0);
    ck_assert_rc(resil_services_new(&reg), RESIL_ENOMEM);
    tu_alloc_reset();
    ck_assert_ptr_null(reg);
    ck_assert_rc(resil_services_new(&reg), 0);
    resil_service_opts o;
    full_opts(&o, NULL, "reg");
    for (long n = 0;; n++) {
        ck_assert_msg(n < 1000, "still failing after 1000 allocations");
        resil_service *s = (resil_service *)&o;
        tu_alloc_fail_at(n);
        int rc = resil_services_add(reg, &o, &s);
        tu_alloc_reset();
        if (rc == 0)
            break;
        ck_assert_rc(rc, RESIL_ENOMEM);
        ck_assert_ptr_null(s);
        ck_assert_uint_eq(resil_services_count(reg), 0);
    }
    ck_assert_uint_eq(resil_services_count(reg), 1);
    resil_services_free(reg);
}
END_TEST

/* Calls under allocation failure: every one ends cleanly, with a value or
 * an error, and nothing leaks (teardown checks). */
START_TEST(alloc_fail_call)
{
    resil_service_opts o;
    full_opts(&o, NULL, "afc");
    resil_service *s = svc_new(&o);
    struct op op;
    op_init(&op, "value");
    char key[32];
    for (long n = 0; n < 6; n++) {
        for (int keyed = 0; keyed < 2; keyed++) {
            resil_service_result res;
            snprintf(key, sizeof key, "k%ld", n);
            resil_clock_manual_advance(g_clock, 1 * SEC); /* tokens for every call */
            tu_alloc_fail_at(n);
            int rc = keyed ? call_key(s, key, &op, &res)
                           : resil_service_call(s, NULL, op_fn, &op, &res);
            tu_alloc_reset();
            if (n == 0) /* the value's holder, or the cache's load record */
                ck_assert_rc(rc, RESIL_ENOMEM);
            ck_assert_msg(rc == 0 || rc == RESIL_ENOMEM, "rc %d", rc);
            if (rc == 0)
                assert_value(&res, "value");
            else
                ck_assert_ptr_null(res.data);
            resil_service_result_release(&res);
        }
    }
    resil_service_free(s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("policy");
    TCase *t = tcase_create("policy");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 30);
    tcase_add_test(t, plain_call);
    tcase_add_test(t, empty_value);
    tcase_add_test(t, limiter_refuses_first);
    tcase_add_test(t, bulkhead_refuses_second);
    tcase_add_test(t, open_breaker_refuses);
    tcase_add_test(t, cache_hit_takes_no_token);
    tcase_add_test(t, retry_then_success);
    tcase_add_test(t, retry_exhausted);
    tcase_add_test(t, not_retryable);
    tcase_add_test(t, attempt_timeout);
    tcase_add_test(t, attempt_timeout_retried);
    tcase_add_test(t, call_deadline);
    tcase_add_test(t, classify_ignored);
    tcase_add_test(t, breaker_stops_retries);
    tcase_add_test(t, half_open_probe);
    tcase_add_test(t, stale_if_error);
    tcase_add_test(t, stale_after_refusal);
    tcase_add_test(t, fallback_gives_value);
    tcase_add_test(t, fallback_declines);
    tcase_add_test(t, objects_freed_once);
    tcase_add_test(t, value_replaced_and_local_errors);
    tcase_add_test(t, ttl_per_call);
    tcase_add_test(t, metrics_exported);
    tcase_add_test(t, metrics_name_clash);
    tcase_add_test(t, registry);
    tcase_add_test(t, stage_names);
    tcase_add_test(t, bad_options);
    tcase_add_test(t, bad_calls);
    tcase_add_test(t, alloc_fail_new);
    tcase_add_test(t, alloc_fail_registry);
    tcase_add_test(t, alloc_fail_call);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
