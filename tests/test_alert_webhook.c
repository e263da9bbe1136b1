/* The alert webhook against a real HTTP receiver on 127.0.0.1 (TCase
 * "deliver": bodies, headers, order, retries, Retry-After, failures;
 * "queue": never blocking, overflow, flush, free; "breaker": opening and
 * closing on the manual clock; "args": options, NULLs, allocation failure).
 *
 * Backoff and network waits are real time (the webhook's waits are real by
 * design), kept to a millisecond base delay; the only deliberate wait is the
 * slow receiver's 200 ms client timeout.  Every wait for a condition has a
 * real-time bound (WAIT_MS, FLUSH_NS), and a hang is caught by Check's
 * per-test timeout. */
#include "config.h"

#include "check_util.h"
#include "http_receiver.h"

#include <resil/alert.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if RESIL_HAVE_JANSSON
#include <jansson.h>
#endif

#define MS RESIL_NS_PER_MS
#define SEC RESIL_NS_PER_SEC
#define WAIT_MS 5000u         /* bound on every wait for the receiver */
#define FLUSH_NS (5 * SEC)    /* bound on every flush */

#define NETWORK_TESTS (RESIL_HAVE_CURL && RESIL_HAVE_JANSSON && HR_AVAILABLE)

static void make_event(resil_alert_event *ev, uint64_t seq)
{
    memset(ev, 0, sizeof *ev);
    snprintf(ev->alert.name, sizeof ev->alert.name, "HighCPU");
    snprintf(ev->alert.subject, sizeof ev->alert.subject, "host-1");
    ev->alert.severity = RESIL_ALERT_WARNING;
    ev->alert.state = RESIL_ALERT_FIRING;
    ev->alert.has_value = 1;
    ev->alert.value = 93.5;
    ev->alert.threshold = 80;
    ev->alert.cmp = RESIL_ALERT_GT;
    snprintf(ev->alert.summary, sizeof ev->alert.summary, "HighCPU: value 93.5");
    snprintf(ev->alert.labels[0].name, sizeof ev->alert.labels[0].name, "team");
    snprintf(ev->alert.labels[0].value, sizeof ev->alert.labels[0].value, "infra");
    ev->alert.nlabels = 1;
    ev->from = RESIL_ALERT_PENDING;
    ev->to = RESIL_ALERT_FIRING;
    ev->at_ns = 7 * SEC;
    ev->wall_ns = INT64_C(1700000000) * SEC;
    ev->seq = seq;
}

START_TEST(opts_defaults)
{
    resil_alert_webhook_opts o;
    memset(&o, 0xa5, sizeof o);
    resil_alert_webhook_opts_init(&o);
    ck_assert_ptr_null(o.url);
    ck_assert_ptr_null(o.bearer_token);
    ck_assert_int_eq(o.timeout_ns, 5 * SEC);
    ck_assert_uint_eq(o.max_attempts, 3);
    ck_assert_int_eq(o.retry_base_ns, 200 * MS);
    ck_assert_uint_eq(o.queue_len, 256);
    ck_assert_uint_eq(o.breaker_failures, 5);
    ck_assert_int_eq(o.breaker_open_ns, 30 * SEC);
    ck_assert_ptr_null(o.clock);
    for (size_t i = 0; i < 8; i++)
        ck_assert_uint_eq(o.reserved_[i], 0);
    resil_alert_webhook_opts_init(NULL); /* no crash */
}
END_TEST

/* NULL handles are no-ops; stats of NULL are zero. */
START_TEST(null_handles)
{
    resil_alert_event ev;
    make_event(&ev, 1);
    resil_alert_webhook_free(NULL, 0);
    resil_alert_webhook_free(NULL, SEC);
    resil_alert_webhook_notify(&ev, NULL);
    resil_alert_webhook_notify(NULL, NULL);
    resil_alert_webhook_stats st;
    memset(&st, 0xa5, sizeof st);
    resil_alert_webhook_stats_get(NULL, &st);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_eq(st.pending, 0);
    ck_assert_uint_eq(st.reserved_[7], 0);
    resil_alert_webhook_stats_get(NULL, NULL);
    ck_assert_rc(resil_alert_webhook_flush(NULL, 0), RESIL_EINVAL);
    resil_alert_webhook *w = (resil_alert_webhook *)&st;
#if RESIL_HAVE_CURL
    ck_assert_rc(resil_alert_webhook_new(NULL, &w), RESIL_EINVAL);
#else
    ck_assert_rc(resil_alert_webhook_new(NULL, &w), RESIL_ENOTSUP);
#endif
    ck_assert_ptr_null(w);
    resil_alert_webhook_opts o;
    resil_alert_webhook_opts_init(&o);
    o.url = "http://127.0.0.1:9/";
    ck_assert_rc(resil_alert_webhook_new(&o, NULL), RESIL_EINVAL);
}
END_TEST

#if !RESIL_HAVE_CURL
START_TEST(without_curl)
{
    resil_alert_webhook_opts o;
    resil_alert_webhook_opts_init(&o);
    o.url = "http://127.0.0.1:9/";
    resil_alert_webhook *w = (resil_alert_webhook *)&o;
    ck_assert_rc(resil_alert_webhook_new(&o, &w), RESIL_ENOTSUP);
    ck_assert_ptr_null(w);
}
END_TEST
#endif

#if RESIL_HAVE_CURL
static int try_new(const resil_alert_webhook_opts *o)
{
    resil_alert_webhook *w = (resil_alert_webhook *)o;
    int rc = resil_alert_webhook_new(o, &w);
    if (rc == 0)
        resil_alert_webhook_free(w, 0);
    else
        ck_assert_ptr_null(w);
    return rc;
}

START_TEST(bad_options)
{
    static const char *const bad_urls[] = {
        "",         "ftp://127.0.0.1/x", "file:///etc/passwd", "127.0.0.1:80/x",
        "http://",  "https://",          "http:///path",       "http://a b/",
        "http://a\r\nX: y", "gopher://h/", "httpx://h/",
    };
    resil_alert_webhook_opts o;
    long live = tu_alloc_live();
    for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
        resil_alert_webhook_opts_init(&o);
        o.url = bad_urls[i];
        ck_assert_msg(try_new(&o) == RESIL_EINVAL, "url \"%s\" accepted", bad_urls[i]);
    }
    resil_alert_webhook_opts_init(&o);
    ck_assert_rc(try_new(&o), RESIL_EINVAL); /* no url */
    const char *url = "http://127.0.0.1:9/hook";
#define BAD(stmt)                                                              \
    do {                                                                       \
        resil_alert_webhook_opts_init(&o);                                     \
        o.url = url;                                                           \
        stmt;                                                                  \
        ck_assert_msg(try_new(&o) == RESIL_EINVAL, "accepted: %s", #stmt);     \
    } while (0)
    BAD(o.queue_len = 0);
    BAD(o.max_attempts = 0);
    BAD(o.timeout_ns = 0);
    BAD(o.timeout_ns = -1);
    BAD(o.retry_base_ns = -1);
    BAD(o.breaker_failures = 0);
    BAD(o.breaker_open_ns = 0);
    BAD(o.bearer_token = "");
    BAD(o.bearer_token = "abc\r\nX-Injected: 1");
    BAD(o.bearer_token = "two words");
#undef BAD
    ck_assert_int_eq(tu_alloc_live(), live);
}
END_TEST

/* Upper-case schemes and https are fine (RFC 3986: schemes are
 * case-insensitive); nothing is sent until an event comes. */
START_TEST(good_urls)
{
    static const char *const urls[] = {"HTTP://127.0.0.1:9/x", "https://example.invalid/hook",
                                       "http://[::1]:9/"};
    long live = tu_alloc_live();
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        resil_alert_webhook_opts o;
        resil_alert_webhook_opts_init(&o);
        o.url = urls[i];
        o.bearer_token = "tok";
        resil_alert_webhook *w = NULL;
        ck_assert_msg(resil_alert_webhook_new(&o, &w) == 0, "url %s refused", urls[i]);
        resil_alert_webhook_stats st;
        resil_alert_webhook_stats_get(w, &st);
        ck_assert_uint_eq(st.attempts, 0);
        ck_assert_rc(resil_alert_webhook_flush(w, 0), 0);
        resil_alert_webhook_free(w, 0);
    }
    ck_assert_int_eq(tu_alloc_live(), live);
}
END_TEST

/* Every allocation the constructor makes may fail: a clean RESIL_ENOMEM,
 * nothing left behind, until it succeeds. */
START_TEST(alloc_failure)
{
    resil_alert_webhook_opts o;
    resil_alert_webhook_opts_init(&o);
    o.url = "http://127.0.0.1:9/hook";
    o.bearer_token = "secret-token";
    long live = tu_alloc_live();
    int rc = RESIL_ENOMEM;
    long n = 0;
    for (; n < 100 && rc != 0; n++) {
        resil_alert_webhook *w = (resil_alert_webhook *)&o;
        tu_alloc_fail_at(n);
        rc = resil_alert_webhook_new(&o, &w);
        tu_alloc_reset();
        if (rc == 0) {
            resil_alert_webhook_free(w, 0);
        } else {
            ck_assert_rc(rc, RESIL_ENOMEM);
            ck_assert_ptr_null(w);
        }
        ck_assert_int_eq(tu_alloc_live(), live);
    }
    ck_assert_rc(rc, 0);
    ck_assert_int_gt(n, 3); /* the ring, the token, the breaker, the retry */
}
END_TEST
#endif /* RESIL_HAVE_CURL */

#if NETWORK_TESTS

static hr_receiver *g_rx;
static char g_url[128];
static resil_clock *g_clock;
static long g_live;

static void setup(void)
{
    /* a proxy from the environment must not carry loopback traffic */
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("ALL_PROXY");
    unsetenv("all_proxy");
    g_rx = hr_start();
    ck_assert_ptr_nonnull(g_rx);
    hr_url(g_rx, "/hook", g_url, sizeof g_url);
    g_clock = tu_clock();
    g_live = tu_alloc_live();
}

static void teardown(void)
{
    hr_stop(g_rx);
    g_rx = NULL;
    resil_clock_free(g_clock);
    g_clock = NULL;
}

static void opts_for_tests(resil_alert_webhook_opts *o)
{
    resil_alert_webhook_opts_init(o);
    o->url = g_url;
    o->timeout_ns = 3 * SEC;
    o->retry_base_ns = 1 * MS;
    o->clock = g_clock;
}

static resil_alert_webhook *webhook(const resil_alert_webhook_opts *o)
{
    resil_alert_webhook *w = NULL;
    ck_assert_rc(resil_alert_webhook_new(o, &w), 0);
    ck_assert_ptr_nonnull(w);
    return w;
}

static void send_seq(resil_alert_webhook *w, uint64_t seq)
{
    resil_alert_event ev;
    make_event(&ev, seq);
    resil_alert_webhook_notify(&ev, w);
}

static resil_alert_webhook_stats stats(resil_alert_webhook *w)
{
    resil_alert_webhook_stats st;
    resil_alert_webhook_stats_get(w, &st);
    return st;
}

static void done(resil_alert_webhook *w)
{
    resil_alert_webhook_free(w, 0);
    ck_assert_int_eq(tu_alloc_live(), g_live);
}

/* Wait (bounded, polling) until the webhook has finished n POSTs. */
static bool wait_attempts(resil_alert_webhook *w, uint64_t n)
{
    struct timespec tick = {0, 1000000L}; /* 1 ms between looks */
    for (unsigned i = 0; i < WAIT_MS; i++) {
        if (stats(w).attempts >= n)
            return true;
        nanosleep(&tick, NULL);
    }
    return false;
}

/* The "seq" of the i-th request's body; -1 if it is not JSON. */
static json_int_t body_seq(size_t i)
{
    hr_request q;
    ck_assert(hr_get(g_rx, i, &q));
    json_t *j = json_loads(q.body ? q.body : "", 0, NULL);
    hr_request_clear(&q);
    json_int_t seq = j ? json_integer_value(json_object_get(j, "seq")) : -1;
    json_decref(j);
    return seq;
}

START_TEST(deliver_one)
{
    resil_alert_webhook_opts o;
    opts_for_tests(&o);
    o.bearer_token = "tok-123.abc";
    resil_alert_webhook *w = webhook(&o);
    resil_alert_event ev;
    make_event(&ev, 42);
    resil_alert_webhook_notify(&ev, w);
    ck_assert_rc(resil_alert_webhook_flush(w, FLUSH_NS), 0);
    ck_assert_uint_eq(hr_count(g_rx), 1);

    hr_request q;
    ck_assert(hr_get(g_rx, 0, &q));
    ck_assert_str_eq(q.method, "POST");
    ck_assert_str_eq(q.path, "/hook");
    ck_assert_str_eq(q.content_type, "application/json");
    ck_assert_str_eq(q.authorization, "Bearer tok-123.abc");
    ck_assert(!q.truncated);
    char *want = NULL;
    size_t wlen = 0;
    ck_assert_rc(resil_alert_event_json(&ev, &want, &wlen), 0);
    ck_assert_uint_eq(q.body_len, wlen);
    json_t *got_j = json_loads(q.body, 0, NULL);
    json_t *want_j = json_loads(want, 0, NULL);
    ck_assert_ptr_nonnull(got_j);
    ck_assert(json_equal(got_j, want_j));
    ck_assert_int_eq(json_integer_value(json_object_get(got_j, "seq")), 42);
    ck_assert_str_eq(json_string_value(json_object_get(got_j, "alert")), "HighCPU");
    json_decref(got_j);
    json_decref(want_j);
    resil_free(want);
    hr_request_clear(&q);

    resil_alert_webhook_stats st = stats(w);
    ck_assert_uint_eq(st.queued, 1);
    ck_assert_uint_eq(st.sent, 1);
    ck_assert_uint_eq(st.attempts, 1);
    ck_assert_uint_eq(st.failed + st.dropped + st.rejected + st.pending, 0);
    done(w);
}
END_TEST

START_TEST(no_token_no_header)
{
    resil_alert_webhook_opts o;
    opts_for_tests(&o);
    resil_alert_webhook *w = webhook(&o);
    send_seq(w, 1);
    ck_assert_rc(resil_alert_webhook_flush(w, FLUSH_NS), 0);
    hr_request q;
    ck_assert(hr_get(g_rx, 0, &q));
    ck_assert_str_eq(q.authorization, "");
    hr_request_clear(&q);
    done(w);
}
END_TEST

START_TEST(in_order)
{
    resil_alert_webhook_opts o;
    opts_for_tests(&o);
    resil_alert_webhook *w = webhook(&o);
    for (uint64_t s = 1; s <= 6; s++)
        send_seq(w, s);
    ck_assert_rc(resil_alert_webhook_flush(w, FLUSH_NS), 0);
    ck_assert_uint_eq(hr_count(g_rx), 6);
    for (size_t i = 0; i < 6; i++)
        ck_assert_int_eq(body_seq(i), (json_int_t)i + 1);
    resil_alert_webhook_stats st = stats(w);
    ck_assert_uint_eq(st.queued, 6);
    ck_assert_uint_eq(st.sent, 6);
    ck_assert_uint_eq(st.attempts, 6);
    done(w);
}
END_TEST

START_TEST(retry_500_then_200)
{
    hr_push(g_rx, 500, NULL);
    hr_push(g_rx, 503, NULL);
    resil_alert_webhook_opts o;
    opts_for_tests(&o);
    resil_alert_webhook *w = webhook(&o);
    send_seq(w, 9);
    ck_assert_rc(resil_alert_webhook_flush(w, FLUSH_NS), 0);
    ck_assert_uint_eq(hr_count(g_rx), 3);
    for (size_t i = 0; i < 3; i++)
        ck_assert_int_eq(body_seq(i), 9); /* the same event each time */
    resil_alert_webhook_stats st = stats(w);
    ck_assert_uint_eq(st.sent, 1);
    ck_assert_uint_eq(st.failed, 0);
    ck_assert_uint_eq(st.attempts, 3);
    done(w);
}
END_TEST

/* 429 is retryable and "Retry-After: 0" lets the next attempt go. */
START_TEST(retry_after_zero)
{
    hr_push(g_rx, 429, "0");
    resil_alert_webhook_opts o;
    opts_for_tests(&o);
    resil_alert_webhook *w = webhook(&o);
    send_seq(w, 1);
    ck_assert_rc(resil_alert_webhook_flush(w, FLUSH_NS), 0);
    resil_alert_webhook_stats st = stats(w);
    ck_assert_uint_eq(st.sent, 1);
    ck_assert_uint_eq(st.attempts, 2);
    ck_assert_uint_eq(hr_count(g_rx), 2);
    done(w);
}
END_TEST

/* A Retry-After beyond timeout_ns ends the delivery at once (the retry
 * policy's max_retry_after_ns): proof that the header is read. */
START_TEST(retry_after_too_long)
{
    hr_set_default(g_rx, 503, "3600");
    resil_alert_webhook_opts o;
    opts_for_tests(&o);
    resil_alert_webhook *w = webhook(&o);
    send_seq(w, 1);
    ck_assert_rc(resil_alert_webhook_flush(w, FLUSH_NS), 0);
    resil_alert_webhook_stats st = stats(w);
    ck_assert_uint_eq(st.failed, 1);
    ck_assert_uint_eq(st.attempts, 1);
    ck_assert_uint_eq(hr_count(g_rx), 1);
    done(w);
}
END_TEST

START_TEST(client_error_not_retried)
{
    static const int codes[] = {400, 401, 404, 302};
    resil_alert_webhook_opts o;
    opts_for_tests(&o);
    resil_alert_webhook *w = webhook(&o);
    for (size_t i = 0; i < 4; i++) {
        hr_push(g_rx, codes[i], NULL);
        send_seq(w, i + 1);
        ck_assert_rc(resil_alert_webhook_flush(w, FLUSH_NS), 0);
        ck_assert_uint_eq(hr_count(g_rx), i + 1);
    }
    resil_alert_webhook_stats st = stats(w);
    ck_assert_uint_eq(st.failed, 4);
    ck_assert_uint_eq(st.attempts, 4);
    ck_assert_uint_eq(st.sent, 0);
    done(w);
}
END_TEST

/* A connection closed without an answer is a transport error: retried. */
START_TEST(closed_without_answer)
{
    hr_push(g_rx, HR_CLOSE, NULL);
    resil_alert_webhook_opts o;
    opts_for_tests(&o);
    resil_alert_webhook *w = webhook(&o);
    send_seq(w, 1);
    ck_assert_rc(resil_alert_webhook_flush(w, FLUSH_NS), 0);
    resil_alert_webhook_stats st = stats(w);
    ck_assert_uint_eq(st.sent, 1);
    ck_assert_uint_eq(st.attempts, 2);
    done(w);
}
END_TEST

/* Nobody listens on the port (a receiver started and stopped there). */
START_TEST(receiver_down)
{
    hr_receiver *gone = hr_start();
    ck_assert_ptr_nonnull(gone);
    char url[128];
    hr_url(gone, "/hook", url, sizeof url);
    hr_stop(gone);
    resil_alert_webhook_opts o;
    opts_for_tests(&o);
    o.url = url;
    resil_alert_webhook *w = webhook(&o);
    send_seq(w, 1);
    ck_assert_rc(resil_alert_webhook_flush(w, FLUSH_NS), 0);
    resil_alert_webhook_stats st = stats(w);
    ck_assert_uint_eq(st.failed, 1);
    ck_assert_uint_eq(st.attempts, 3); /* max_attempts */
    ck_assert_uint_eq(st.sent, 0);
    done(w);
}
END_TEST

/* SLOW receiver: answers after 2 s, the webhook gives up after 200 ms. */
START_TEST(slow_receiver_times_out)
{
    hr_set_delay_ms(g_rx, 2000);
    resil_alert_webhook_opts o;
    opts_for_tests(&o);
    o.timeout_ns = 200 * MS;
    o.max_attempts = 1;
    resil_alert_webhook *w = webhook(&o);
    send_seq(w, 1);
    ck_assert_rc(resil_alert_webhook_flush(w, FLUSH_NS), 0);
    resil_alert_webhook_stats st = stats(w);
    ck_assert_uint_eq(st.failed, 1);
    ck_assert_uint_eq(st.attempts, 1);
    ck_assert_uint_eq(hr_count(g_rx), 1);
    done(w); /* and teardown's hr_stop() ends the receiver's delay */
}
END_TEST

/* While the worker is stuck in a POST the receiver holds, notify still
 * returns and the queue accounts for every event. */
START_TEST(notify_never_blocks)
{
    hr_hold(g_rx);
    resil_alert_webhook_opts o;
    opts_for_tests(&o);
    resil_alert_webhook *w = webhook(&o);
    send_seq(w, 1);
    ck_assert(hr_wait(g_rx, 1, WAIT_MS)); /* the worker is inside the POST */
    for (uint64_t s = 2; s <= 5; s++)
        send_seq(w, s);
    resil_alert_webhook_stats st = stats(w);
    ck_assert_uint_eq(st.queued, 5);
    ck_assert_uint_eq(st.pending, 4);
    ck_assert_uint_eq(st.attempts, 0); /* counted when over */
    ck_assert_uint_eq(st.sent, 0);
    ck_assert_uint_eq(hr_answered(g_rx), 0);
    ck_assert_rc(resil_alert_webhook_flush(w, 0), RESIL_ETIMEDOUT);
    hr_release(g_rx);
    ck_assert_rc(resil_alert_webhook_flush(w, FLUSH_NS), 0);
    st = stats(w);
    ck_assert_uint_eq(st.sent, 5);
    ck_assert_uint_eq(st.pending, 0);
    for (size_t i = 0; i < 5; i++)
        ck_assert_int_eq(body_seq(i), (json_int_t)i + 1);
    done(w);
}
END_TEST

#define NOTIFIERS 4
#define PER_NOTIFIER 25

static void *notify_many(void *arg)
{
    resil_alert_webhook *w = arg;
    for (uint64_t s = 1; s <= PER_NOTIFIER; s++)
        send_seq(w, s);
    return NULL;
}

/* Several threads notify one webhook at once (the TSan build checks the
 * locking): every event is accounted for and delivered. */
START_TEST(notify_from_threads)
{
    resil_alert_webhook_opts o;
    opts_for_tests(&o);
    resil_alert_webhook *w = webhook(&o);
    pthread_t th[NOTIFIERS];
    for (size_t i = 0; i < NOTIFIERS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, notify_many, w), 0);
    for (size_t i = 0; i < NOTIFIERS; i++)
        pthread_join(th[i], NULL);
    ck_assert_rc(resil_alert_webhook_flush(w, FLUSH_NS), 0);
    resil_alert_webhook_stats st = stats(w);
    ck_assert_uint_eq(st.queued, NOTIFIERS * PER_NOTIFIER);
    ck_assert_uint_eq(st.sent, NOTIFIERS * PER_NOTIFIER);
    ck_assert_uint_eq(hr_count(g_rx), NOTIFIERS * PER_NOTIFIER);
    done(w);
}
END_TEST

/* queue_len 2: the oldest waiting event makes room and is counted. */
START_TEST(queue_overflow_drops_oldest)
{
    hr_hold(g_rx);
    resil_alert_webhook_opts o;
    opts_for_tests(&o);
    o.queue_len = 2;
    resil_alert_webhook *w = webhook(&o);
    send_seq(w, 1);
    ck_assert(hr_wait(g_rx, 1, WAIT_MS)); /* 1 is out of the queue */
    send_seq(w, 2);
    send_seq(w, 3);
    send_seq(w, 4); /* drops 2 */
    send_seq(w, 5); /* drops 3 */
    resil_alert_webhook_stats st = stats(w);
    ck_assert_uint_eq(st.queued, 5);
    ck_assert_uint_eq(st.dropped, 2);
    ck_assert_uint_eq(st.pending, 2);
    hr_release(g_rx);
    ck_assert_rc(resil_alert_webhook_flush(w, FLUSH_NS), 0);
    ck_assert_uint_eq(hr_count(g_rx), 3);
    ck_assert_int_eq(body_seq(0), 1);
    ck_assert_int_eq(body_seq(1), 4);
    ck_assert_int_eq(body_seq(2), 5);
    st = stats(w);
    ck_assert_uint_eq(st.sent, 3);
    done(w);
}
END_TEST

START_TEST(flush_bounds)
{
    resil_alert_webhook_opts o;
    opts_for_tests(&o);
    resil_alert_webhook *w = webhook(&o);
    ck_assert_rc(resil_alert_webhook_flush(w, 0), 0); /* idle */
    ck_assert_rc(resil_alert_webhook_flush(w, -1), RESIL_EINVAL);
    hr_hold(g_rx);
    send_seq(w, 1);
    ck_assert(hr_wait(g_rx, 1, WAIT_MS));
    ck_assert_rc(resil_alert_webhook_flush(w, 0), RESIL_ETIMEDOUT);
    ck_assert_rc(resil_alert_webhook_flush(w, 5 * MS), RESIL_ETIMEDOUT);
    hr_release(g_rx);
    ck_assert_rc(resil_alert_webhook_flush(w, FLUSH_NS), 0);
    ck_assert_uint_eq(stats(w).sent, 1);
    done(w);
}
END_TEST

/* free() while the receiver holds a POST: the POST is aborted, free()
 * returns although the receiver has not answered (and would not for the
 * whole 60 s timeout), and the queued events are released. */
START_TEST(free_aborts_post)
{
    hr_hold(g_rx);
    resil_alert_webhook_opts o;
    opts_for_tests(&o);
    o.timeout_ns = 60 * SEC;
    resil_alert_webhook *w = webhook(&o);
    send_seq(w, 1);
    ck_assert(hr_wait(g_rx, 1, WAIT_MS));
    send_seq(w, 2);
    send_seq(w, 3);
    resil_alert_webhook_free(w, 0);
    ck_assert_uint_eq(hr_answered(g_rx), 0);
    ck_assert_uint_eq(hr_count(g_rx), 1);
    ck_assert_int_eq(tu_alloc_live(), g_live);
}
END_TEST

/* free() during a backoff does not wait for it (a 60 s base delay): once
 * the first POST is counted the worker goes to its backoff, and a backoff
 * that ignored free() would outlast the test's timeout. */
START_TEST(free_interrupts_backoff)
{
    hr_set_default(g_rx, 500, NULL);
    resil_alert_webhook_opts o;
    opts_for_tests(&o);
    o.retry_base_ns = 60 * SEC;
    resil_alert_webhook *w = webhook(&o);
    send_seq(w, 1);
    ck_assert(wait_attempts(w, 1));
    resil_alert_webhook_free(w, 0);
    ck_assert_uint_eq(hr_count(g_rx), 1); /* no second attempt was made */
    ck_assert_int_eq(tu_alloc_live(), g_live);
}
END_TEST

START_TEST(free_drains)
{
    resil_alert_webhook_opts o;
    opts_for_tests(&o);
    resil_alert_webhook *w = webhook(&o);
    for (uint64_t s = 1; s <= 4; s++)
        send_seq(w, s);
    resil_alert_webhook_free(w, FLUSH_NS);
    ck_assert_uint_eq(hr_count(g_rx), 4);
    ck_assert_int_eq(tu_alloc_live(), g_live);
}
END_TEST

/* breaker_failures failed deliveries in a row open the breaker; while open
 * events are rejected without a POST; after breaker_open_ns on the manual
 * clock one probe delivery closes it again. */
START_TEST(breaker_opens_and_closes)
{
    hr_set_default(g_rx, 500, NULL);
    resil_alert_webhook_opts o;
    opts_for_tests(&o);
    o.max_attempts = 1;
    o.breaker_failures = 2;
    o.breaker_open_ns = 30 * SEC;
    resil_alert_webhook *w = webhook(&o);
    for (uint64_t s = 1; s <= 2; s++) {
        send_seq(w, s);
        ck_assert_rc(resil_alert_webhook_flush(w, FLUSH_NS), 0);
    }
    ck_assert_uint_eq(stats(w).failed, 2);
    for (uint64_t s = 3; s <= 5; s++)
        send_seq(w, s);
    ck_assert_rc(resil_alert_webhook_flush(w, FLUSH_NS), 0);
    resil_alert_webhook_stats st = stats(w);
    ck_assert_uint_eq(st.rejected, 3);
    ck_assert_uint_eq(st.queued, 2);
    ck_assert_uint_eq(st.attempts, 2);
    ck_assert_uint_eq(hr_count(g_rx), 2);

    hr_set_default(g_rx, 200, NULL); /* the receiver is back */
    resil_clock_manual_advance(g_clock, 30 * SEC - 1);
    send_seq(w, 6);
    ck_assert_uint_eq(stats(w).rejected, 4); /* not yet */
    resil_clock_manual_advance(g_clock, 1);
    send_seq(w, 7); /* the half-open probe */
    ck_assert_rc(resil_alert_webhook_flush(w, FLUSH_NS), 0);
    send_seq(w, 8); /* closed again */
    ck_assert_rc(resil_alert_webhook_flush(w, FLUSH_NS), 0);
    st = stats(w);
    ck_assert_uint_eq(st.sent, 2);
    ck_assert_uint_eq(st.rejected, 4);
    ck_assert_uint_eq(hr_count(g_rx), 4);
    ck_assert_int_eq(body_seq(2), 7);
    ck_assert_int_eq(body_seq(3), 8);
    done(w);
}
END_TEST

/* A success in between resets the count: failures must be consecutive. */
START_TEST(breaker_needs_consecutive_failures)
{
    resil_alert_webhook_opts o;
    opts_for_tests(&o);
    o.max_attempts = 1;
    o.breaker_failures = 2;
    resil_alert_webhook *w = webhook(&o);
    static const int answers[] = {500, 200, 500, 200, 500};
    for (size_t i = 0; i < 5; i++) {
        hr_push(g_rx, answers[i], NULL);
        send_seq(w, i + 1);
        ck_assert_rc(resil_alert_webhook_flush(w, FLUSH_NS), 0);
    }
    resil_alert_webhook_stats st = stats(w);
    ck_assert_uint_eq(st.failed, 3);
    ck_assert_uint_eq(st.sent, 2);
    ck_assert_uint_eq(st.rejected, 0);
    done(w);
}
END_TEST

#endif /* NETWORK_TESTS */

static Suite *suite(void)
{
    Suite *s = suite_create("test_alert_webhook");
    TCase *tc = tcase_create("args");
    tcase_add_test(tc, opts_defaults);
    tcase_add_test(tc, null_handles);
#if RESIL_HAVE_CURL
    tcase_add_test(tc, bad_options);
    tcase_add_test(tc, good_urls);
    tcase_add_test(tc, alloc_failure);
#else
    tcase_add_test(tc, without_curl);
#endif
    suite_add_tcase(s, tc);
#if NETWORK_TESTS
    tc = tcase_create("deliver");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, deliver_one);
    tcase_add_test(tc, no_token_no_header);
    tcase_add_test(tc, in_order);
    tcase_add_test(tc, retry_500_then_200);
    tcase_add_test(tc, retry_after_zero);
    tcase_add_test(tc, retry_after_too_long);
    tcase_add_test(tc, client_error_not_retried);
    tcase_add_test(tc, closed_without_answer);
    tcase_add_test(tc, receiver_down);
    tcase_add_test(tc, slow_receiver_times_out);
    suite_add_tcase(s, tc);
    tc = tcase_create("queue");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, notify_never_blocks);
    tcase_add_test(tc, notify_from_threads);
    tcase_add_test(tc, queue_overflow_drops_oldest);
    tcase_add_test(tc, flush_bounds);
    tcase_add_test(tc, free_aborts_post);
    tcase_add_test(tc, free_interrupts_backoff);
    tcase_add_test(tc, free_drains);
    suite_add_tcase(s, tc);
    tc = tcase_create("breaker");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, breaker_opens_and_closes);
    tcase_add_test(tc, breaker_needs_consecutive_failures);
    suite_add_tcase(s, tc);
#endif
    return s;
}

int main(void)
{
    return tu_run(suite());
}
