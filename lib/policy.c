/* Per-service policies: the call path.
 *
 * resil_service_call() runs
 *
 *   cache lookup -> limiter -> bulkhead -> breaker -> retry
 *     -> per-attempt timeout -> the operation
 *
 * and then settles the outcome (stale value, fallback), the statistics and
 * the metrics.  With a cache and a key the stages after the lookup run as
 * the loader of resil_cache_get_or_load(), so concurrent misses of one key
 * coalesce: only the caller that runs the loader takes a token, a bulkhead
 * slot and breaker permits, and a stale entry comes from get_or_load's
 * stale-if-error.
 *
 * Everything one call needs lives in a struct pcall on the caller's stack.
 * The retry policy's hooks (retryable predicate, sleep) get contexts fixed
 * when the policy was made, so they reach the call being run through a
 * thread-local pointer, set around resil_retry_run() and restored after it
 * (an operation may itself call another service).
 *
 * Costs on top of the stages' own: a cache hit takes no lock of ours, no
 * allocation and, without metrics, no clock read; a call that reaches the
 * operation adds two relaxed atomic operations on the in-flight count (a
 * CAS with a bulkhead), two clock reads per attempt (the timeout and the
 * duration for classification and the breaker) and, without a cache, one
 * allocation to hold the value.  Statistics are relaxed atomic adds;
 * metrics are per-thread cells of handles looked up at creation, plus two
 * clock reads per call for the duration histogram. */
#include "policy_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* A value held by a result or an out without a cache: an object or a copy
 * of bytes.  It carries its own free function, so a result may outlive its
 * service. */
struct resil__held {
    void *obj;
    resil_cache_free_fn obj_free;
    void *obj_free_ctx;
    size_t len;
    unsigned char bytes[];
};

struct resil_service_out {
    resil_service *s;
    resil_cache_load *ld;     /* values go into this load, or ... */
    struct resil__held *held; /* ... are held here when ld is NULL */
    bool given;               /* a value was given in this attempt */
    int err;                  /* the last setter's error, 0 after a success */
};

/* One call on its way through the pipeline. */
struct pcall {
    resil_service *s;
    resil_service_fn fn;
    void *arg;
    int64_t deadline; /* the call's, RESIL_TIME_NEVER for none */
    int64_t ttl_ns;
    uint32_t tokens;
    resil_service_out out;
    /* the outcome */
    int code;
    resil_stage stage;
    int op_rc;
    uint32_t attempts; /* operation calls made */
    int64_t retry_after;
    resil_stage refused_by; /* a stage that turned it away (rejections) */
    bool shared;            /* the outcome of another call's load, or a hit */
    /* what the attempts found */
    int brk_rc;        /* the breaker refused an attempt */
    bool brk_opened;   /* the breaker was open after a failure */
    bool timed_out;    /* the last attempt overran its deadline */
    bool deadline_hit; /* no time is left before the call's deadline */
    int local_err;     /* a value could not be kept */
};

/* The call whose retry run is under way on this thread. */
static _Thread_local struct pcall *tls_call;

/* A result holds either a cache reference, tagged with the low bit (an
 * entry is at least pointer-aligned), or a struct resil__held. */
#define REF_TAG ((uintptr_t)1)

/* ---- values -------------------------------------------------------------- */

static struct resil__held *held_new(size_t len)
{
    if (len > SIZE_MAX - sizeof(struct resil__held))
        return NULL;
    struct resil__held *h = resil__malloc(sizeof *h + len);
    if (!h)
        return NULL;
    h->obj = NULL;
    h->obj_free = NULL;
    h->obj_free_ctx = NULL;
    h->len = len;
    return h;
}

static void held_free(struct resil__held *h)
{
    if (!h)
        return;
    if (h->obj && h->obj_free)
        h->obj_free(h->obj, h->obj_free_ctx);
    resil__free(h);
}

/* A value was given: h (own mode; NULL when it went into a load). */
static int out_keep(resil_service_out *out, struct resil__held *h)
{
    if (h) {
        held_free(out->held);
        out->held = h;
    }
    out->given = true;
    out->err = 0;
    return 0;
}

static int out_fail(resil_service_out *out, int rc)
{
    out->err = rc;
    return rc;
}

/* Forget what a failed attempt gave.  In a load, the cache drops it when
 * the load fails, or the next successful attempt replaces it. */
static void out_drop(resil_service_out *out)
{
    held_free(out->held);
    out->held = NULL;
}

int resil_service_out_bytes(resil_service_out *out, const void *data, size_t len)
{
    if (!out)
        return RESIL_EINVAL;
    if (!data && len)
        return out_fail(out, RESIL_EINVAL);
    if (out->ld) {
        int rc = resil_cache_load_set_bytes(out->ld, data, len);
        return rc ? out_fail(out, rc) : out_keep(out, NULL);
    }
    struct resil__held *h = held_new(len);
    if (!h)
        return out_fail(out, RESIL_ENOMEM);
    if (len)
        memcpy(h->bytes, data, len);
    return out_keep(out, h);
}

int resil_service_out_obj(resil_service_out *out, void *obj, size_t size)
{
    if (!out)
        return RESIL_EINVAL;
    if (!obj)
        return out_fail(out, RESIL_EINVAL);
    if (out->ld) {
        int rc = resil_cache_load_set_obj(out->ld, obj, size);
        return rc ? out_fail(out, rc) : out_keep(out, NULL);
    }
    struct resil__held *h = held_new(0);
    if (!h)
        return out_fail(out, RESIL_ENOMEM); /* obj is not taken */
    h->obj = obj;
    h->len = size;
    h->obj_free = out->s->obj_free;
    h->obj_free_ctx = out->s->obj_free_ctx;
    return out_keep(out, h);
}

/* After an operation returned 0: the error of a setter that failed last
 * (the value the operation meant to give is not there), else 0.  An
 * attempt that gave nothing gave the empty value; in a load it must also
 * replace what an earlier, failed attempt gave. */
static int out_settle(resil_service_out *out)
{
    if (out->err)
        return out->err;
    if (!out->given && out->ld)
        return resil_cache_load_set_bytes(out->ld, NULL, 0);
    return 0;
}

/* ---- results ------------------------------------------------------------- */

static void result_take_ref(resil_service_result *res, resil_cache_ref *ref)
{
    res->obj = resil_cache_ref_obj(ref);
    res->data = resil_cache_ref_data(ref, &res->len);
    res->internal_ = (void *)((uintptr_t)ref | REF_TAG);
}

/* h NULL: the empty value, which needs no storage. */
static void result_take_held(resil_service_result *res, struct resil__held *h)
{
    if (!h) {
        res->data = "";
        res->len = 0;
        return;
    }
    res->internal_ = h;
    res->len = h->len;
    if (h->obj)
        res->obj = h->obj;
    else
        res->data = h->bytes;
}

void resil_service_result_release(resil_service_result *res)
{
    if (!res)
        return;
    uintptr_t p = (uintptr_t)res->internal_;
    if (p & REF_TAG)
        resil_cache_ref_release((resil_cache_ref *)(p & ~REF_TAG));
    else
        held_free((struct resil__held *)p);
    res->internal_ = NULL;
    res->data = NULL;
    res->obj = NULL;
    res->len = 0;
}

/* ---- messages ------------------------------------------------------------ */

struct msg {
    char *buf;
    size_t cap;
    size_t len;
};

__attribute__((format(printf, 2, 3))) static void msg_add(struct msg *m, const char *fmt,
                                                          ...)
{
    if (m->len + 1 >= m->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(m->buf + m->len, m->cap - m->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    m->len += (size_t)n < m->cap - m->len ? (size_t)n : m->cap - m->len - 1;
}

/* A wait for humans: "0.25 s", "4.2 s", "300 s"; never below 1 ms, so a
 * tiny wait does not read as "0". */
static void msg_seconds(struct msg *m, int64_t ns)
{
    double sec = (double)ns / 1e9;
    if (sec >= 100)
        msg_add(m, "%.0f s", sec);
    else if (sec >= 0.001)
        msg_add(m, "%.3g s", sec);
    else
        msg_add(m, "0.001 s");
}

static void msg_retry_reason(struct msg *m, const struct pcall *pc)
{
    switch (pc->code) {
    case RESIL_EEXHAUSTED:
        msg_add(m, "all %u attempts failed", (unsigned)pc->attempts);
        if (pc->timed_out)
            msg_add(m, ", the last timed out");
        else
            msg_add(m, ", the last with code %d", pc->op_rc);
        break;
    case RESIL_EBUDGET:
        msg_add(m, "retry budget exhausted after %u attempts", (unsigned)pc->attempts);
        break;
    default:
        if (pc->attempts)
            msg_add(m, "deadline exceeded after %u attempts", (unsigned)pc->attempts);
        else
            msg_add(m, "deadline exceeded before the first attempt");
        break;
    }
}

static void msg_reason(struct msg *m, const struct pcall *pc)
{
    if (pc->shared) {
        /* another call ran the pipeline; only its code reached us */
        msg_add(m, "%s", resil_strerror(pc->code));
        return;
    }
    switch (pc->stage) {
    case RESIL_STAGE_LIMITER:
        msg_add(m, "%s",
                pc->code == RESIL_ELIMIT ? "rate limit exceeded"
                                         : "the call needs more tokens than the "
                                           "rate limiter's burst");
        break;
    case RESIL_STAGE_BULKHEAD:
        msg_add(m, "too many calls in flight (at most %u)",
                (unsigned)pc->s->max_concurrent);
        break;
    case RESIL_STAGE_BREAKER:
        if (pc->code == RESIL_EPROBES)
            msg_add(m, "circuit breaker is half-open and all probe calls are taken");
        else if (!pc->brk_rc)
            msg_add(m, "the operation failed (code %d) and the circuit breaker opened",
                    pc->op_rc);
        else
            msg_add(m, "circuit breaker is open");
        break;
    case RESIL_STAGE_TIMEOUT:
        msg_add(m, "the operation timed out (attempt %u)", (unsigned)pc->attempts);
        break;
    case RESIL_STAGE_RETRY:
        msg_retry_reason(m, pc);
        break;
    case RESIL_STAGE_OPERATION:
        if (pc->local_err)
            msg_add(m, "the operation's value could not be kept (%s)",
                    resil_strerror(pc->local_err));
        else
            msg_add(m, "the operation failed (code %d)", pc->op_rc);
        break;
    default:
        msg_add(m, "%s", resil_strerror(pc->code));
        break;
    }
}

/* When trying again may work. */
static void msg_when(struct msg *m, const struct pcall *pc)
{
    int64_t ra = pc->retry_after;
    if (pc->stage == RESIL_STAGE_BREAKER && ra == RESIL_TIME_NEVER) {
        msg_add(m, "; it is held open by an operator");
    } else if (ra > 0) {
        msg_add(m, "; retry in ");
        msg_seconds(m, ra);
    } else if (ra == 0 || pc->stage == RESIL_STAGE_BULKHEAD) {
        msg_add(m, "; retry shortly");
    } else if (pc->stage != RESIL_STAGE_OPERATION && pc->stage != RESIL_STAGE_NONE &&
               pc->code != RESIL_EINVAL) {
        msg_add(m, "; retry later");
    }
}

/* res gets the pipeline's outcome; a failure gets its sentence. */
static void describe(const struct pcall *pc, resil_service_result *res)
{
    res->code = pc->code;
    res->stage = pc->stage;
    res->op_rc = pc->op_rc;
    res->attempts = pc->attempts;
    res->retry_after_ns = pc->code ? pc->retry_after : -1;
    if (pc->code == 0)
        return;
    struct msg m = {res->message, sizeof res->message, 0};
    msg_add(&m, "%s: ", pc->s->name);
    msg_reason(&m, pc);
    msg_when(&m, pc);
}

static void append_message(resil_service_result *res, const char *text)
{
    struct msg m = {res->message, sizeof res->message, strlen(res->message)};
    msg_add(&m, "%s", text);
}

/* ---- attempts ------------------------------------------------------------ */

static int conclude(struct pcall *pc, int code, resil_stage stage)
{
    pc->code = code;
    pc->stage = stage;
    return code;
}

static resil_outcome classify(const resil_service *s, int rc, int64_t took)
{
    if (s->classify) {
        resil_outcome o = s->classify(rc, took, s->classify_ctx);
        if ((unsigned)o <= (unsigned)RESIL_OUTCOME_IGNORED)
            return o;
    }
    return rc == 0 ? RESIL_OUTCOME_SUCCESS : RESIL_OUTCOME_FAILURE;
}

/* The tightest of the call's deadline, the retry run's and the attempt
 * timeout. */
static int64_t attempt_deadline(const struct pcall *pc, int64_t run_deadline,
                                int64_t start)
{
    int64_t d = pc->deadline < run_deadline ? pc->deadline : run_deadline;
    if (pc->s->attempt_timeout_ns > 0) {
        int64_t t = resil__add_sat(start, pc->s->attempt_timeout_ns);
        if (t < d)
            d = t;
    }
    return d;
}

/* Call the operation once, admitted by the breaker (ticket), and judge
 * it.  Returns 0 or the attempt's failure as the retry run sees it: the
 * operation's code, RESIL_ETIMEDOUT for an overrun, or a local error. */
static int run_op(struct pcall *pc, resil_attempt *a, int64_t start,
                  resil_breaker_ticket ticket)
{
    resil_service *s = pc->s;
    pc->out.given = false;
    pc->out.err = 0;
    int rc = pc->fn(pc->arg, a, &pc->out);
    int64_t end = resil_clock_now(s->clock);
    int64_t took = end > start ? end - start : 0;
    pc->attempts++;
    pc->op_rc = rc;
    pc->retry_after = a->retry_after_ns;
    pc->timed_out = a->deadline != RESIL_TIME_NEVER && end > a->deadline;
    if (end >= pc->deadline)
        pc->deadline_hit = true;
    int eff = pc->timed_out ? RESIL_ETIMEDOUT : rc;
    if (eff == 0)
        pc->local_err = out_settle(&pc->out);
    /* a value we could not keep says nothing about the remote's health */
    resil_outcome outcome =
        pc->local_err ? RESIL_OUTCOME_IGNORED : classify(s, eff, took);
    if (pc->local_err)
        eff = pc->local_err;
    if (s->breaker)
        resil_breaker_record_at(s->breaker, end, ticket, outcome, took);
    if (eff != 0)
        out_drop(&pc->out);
    return eff;
}

/* One attempt, as resil_retry_run() calls it. */
static int attempt_fn(void *arg, resil_attempt *a)
{
    struct pcall *pc = arg;
    resil_service *s = pc->s;
    if (pc->deadline_hit)
        return RESIL_ETIMEDOUT; /* the backoff would have reached the deadline */
    int64_t start = resil_clock_now(s->clock);
    if (start >= pc->deadline) {
        pc->deadline_hit = true;
        return RESIL_ETIMEDOUT;
    }
    resil_breaker_ticket ticket = 0;
    if (s->breaker) {
        int brc = resil_breaker_acquire_at(s->breaker, start, &ticket);
        if (brc != 0) {
            pc->brk_rc = brc;
            return brc;
        }
    }
    a->deadline = attempt_deadline(pc, a->deadline, start);
    return run_op(pc, a, start, ticket);
}

int resil__svc_retryable(int rc, void *service)
{
    resil_service *s = service;
    struct pcall *pc = tls_call;
    if (pc && (pc->brk_rc || pc->deadline_hit || pc->local_err))
        return 0;
    if (s->retryable && !s->retryable(rc, s->retryable_ctx))
        return 0;
    /* retrying into an open breaker would only sleep to be refused */
    if (pc && s->breaker && resil_breaker_state_get(s->breaker) == RESIL_BREAKER_OPEN) {
        pc->brk_opened = true;
        return 0;
    }
    return 1;
}

void resil__svc_sleep(int64_t ns, void *service)
{
    resil_service *s = service;
    struct pcall *pc = tls_call;
    if (pc && pc->deadline != RESIL_TIME_NEVER &&
        resil__add_sat(resil_clock_now(s->clock), ns) >= pc->deadline) {
        /* waking at the deadline would leave the next attempt no time:
         * skip the wait; the next attempt_fn ends the run */
        pc->deadline_hit = true;
        pc->timed_out = false;
        return;
    }
    if (s->sleep)
        s->sleep(ns, s->sleep_ctx);
    else
        resil_clock_sleep(s->clock, ns);
}

/* Turn how the attempts ended (rrc: the retry run's code, or for a single
 * attempt 0 / RESIL_EFAILED) into the call's code and stage. */
static int settle_attempts(struct pcall *pc, int rrc)
{
    resil_service *s = pc->s;
    if (rrc == 0)
        return conclude(pc, 0, RESIL_STAGE_OPERATION);
    if (pc->brk_rc || pc->brk_opened) {
        if (pc->brk_rc)
            pc->refused_by = RESIL_STAGE_BREAKER;
        pc->retry_after = resil_breaker_retry_in(s->breaker);
        return conclude(pc, pc->brk_rc ? pc->brk_rc : RESIL_EOPEN, RESIL_STAGE_BREAKER);
    }
    if (pc->local_err)
        return conclude(pc, pc->local_err, RESIL_STAGE_OPERATION);
    resil_stage late = pc->timed_out ? RESIL_STAGE_TIMEOUT : RESIL_STAGE_RETRY;
    if (pc->deadline_hit || rrc == RESIL_ETIMEDOUT)
        return conclude(pc, RESIL_ETIMEDOUT, late);
    if (rrc == RESIL_EFAILED && pc->timed_out)
        return conclude(pc, RESIL_ETIMEDOUT, RESIL_STAGE_TIMEOUT);
    if (rrc == RESIL_EFAILED)
        return conclude(pc, RESIL_EFAILED, RESIL_STAGE_OPERATION);
    return conclude(pc, rrc, RESIL_STAGE_RETRY); /* EEXHAUSTED, EBUDGET */
}

static int run_attempts(struct pcall *pc)
{
    resil_service *s = pc->s;
    int rrc;
    if (!s->retry) {
        resil_attempt a = {
            .number = 1, .deadline = RESIL_TIME_NEVER, .retry_after_ns = -1};
        rrc = attempt_fn(pc, &a) == 0 ? 0 : RESIL_EFAILED;
    } else {
        struct pcall *outer = tls_call;
        tls_call = pc;
        rrc = resil_retry_run(s->retry, attempt_fn, pc, NULL);
        tls_call = outer;
    }
    return settle_attempts(pc, rrc);
}

/* ---- the pipeline after the cache ------------------------------------------ */

static int limiter_stage(struct pcall *pc)
{
    resil_limiter *l = pc->s->limiter;
    if (!l)
        return 0;
    int64_t wait = -1;
    int rc = resil_limiter_try_acquire(l, pc->tokens, &wait);
    if (rc == 0)
        return 0;
    if (rc == RESIL_ELIMIT) {
        pc->refused_by = RESIL_STAGE_LIMITER;
        pc->retry_after = wait;
    }
    return conclude(pc, rc, RESIL_STAGE_LIMITER);
}

/* Take a place among the calls in flight.  Acquire on success pairs with
 * the release in bulkhead_leave(): the call that frees a slot has finished
 * its operation before the one that takes the slot starts its own. */
static int bulkhead_enter(struct pcall *pc)
{
    resil_service *s = pc->s;
    uint32_t max = s->max_concurrent;
    if (max == 0) {
        atomic_fetch_add_explicit(&s->in_flight, 1, memory_order_relaxed);
        return 0;
    }
    uint32_t n = atomic_load_explicit(&s->in_flight, memory_order_relaxed);
    do {
        if (n >= max) {
            pc->refused_by = RESIL_STAGE_BULKHEAD;
            return conclude(pc, RESIL_EBUSY, RESIL_STAGE_BULKHEAD);
        }
    } while (!atomic_compare_exchange_weak_explicit(
        &s->in_flight, &n, n + 1, memory_order_acquire, memory_order_relaxed));
    return 0;
}

static void bulkhead_leave(resil_service *s)
{
    atomic_fetch_sub_explicit(&s->in_flight, 1, memory_order_release);
}

static int run_pipeline(struct pcall *pc)
{
    int rc = limiter_stage(pc);
    if (rc == 0)
        rc = bulkhead_enter(pc);
    if (rc != 0)
        return rc;
    rc = run_attempts(pc);
    bulkhead_leave(pc->s);
    return rc;
}

static int load_cb(void *ctx, resil_cache_load *ld)
{
    struct pcall *pc = ctx;
    ld->ttl_ns = pc->ttl_ns;
    pc->out.ld = ld;
    return run_pipeline(pc);
}

/* ---- one call ---------------------------------------------------------------- */

static resil_stage stage_of_code(int code)
{
    switch (code) {
    case RESIL_ELIMIT:
        return RESIL_STAGE_LIMITER;
    case RESIL_EBUSY:
        return RESIL_STAGE_BULKHEAD;
    case RESIL_EOPEN:
    case RESIL_EPROBES:
        return RESIL_STAGE_BREAKER;
    case RESIL_EEXHAUSTED:
    case RESIL_EBUDGET:
    case RESIL_ETIMEDOUT:
        return RESIL_STAGE_RETRY;
    case RESIL_EFAILED:
        return RESIL_STAGE_OPERATION;
    default:
        return RESIL_STAGE_NONE;
    }
}

static enum resil__svc_result failure_kind(const struct pcall *pc)
{
    bool refusal = pc->code == RESIL_ELIMIT || pc->code == RESIL_EBUSY ||
                   pc->code == RESIL_EOPEN || pc->code == RESIL_EPROBES;
    return refusal && pc->attempts == 0 ? RESIL__RES_REJECTED : RESIL__RES_FAILED;
}

static enum resil__svc_result call_direct(struct pcall *pc, resil_service_result *res)
{
    int rc = run_pipeline(pc);
    describe(pc, res);
    if (rc != 0)
        return failure_kind(pc);
    result_take_held(res, pc->out.held);
    pc->out.held = NULL;
    return RESIL__RES_OK;
}

/* A hit, or the outcome of a load another caller ran: only its code is
 * known here. */
static void adopt_shared(struct pcall *pc, int rc)
{
    pc->shared = true;
    pc->code = rc;
    pc->stage = rc == 0 ? RESIL_STAGE_CACHE : stage_of_code(rc);
    if (rc == RESIL_EOPEN && pc->s->breaker)
        pc->retry_after = resil_breaker_retry_in(pc->s->breaker);
}

static enum resil__svc_result call_cached(struct pcall *pc,
                                          const struct resil_service_call *call,
                                          resil_service_result *res)
{
    resil_cache_ref *ref = NULL;
    resil_cache_info info;
    int rc = resil_cache_get_or_load(pc->s->cache, call->key, call->keylen, load_cb, pc,
                                     pc->deadline, &ref, &info);
    if (!info.loaded)
        adopt_shared(pc, rc);
    describe(pc, res);
    if (rc != 0)
        return failure_kind(pc);
    result_take_ref(res, ref);
    if (info.loaded && pc->code == 0)
        return RESIL__RES_OK;
    res->code = 0;
    res->stage = RESIL_STAGE_CACHE;
    res->retry_after_ns = -1;
    if (!info.stale) {
        /* a fresh entry: a hit, a coalesced load, or one set meanwhile */
        res->message[0] = '\0';
        return RESIL__RES_CACHE_HIT;
    }
    res->stale = 1;
    if (pc->shared) { /* another caller's load failed; its reason is not here */
        append_message(res, pc->s->name);
        append_message(res, ": the load of this key failed");
    }
    append_message(res, "; served a stale cached value");
    return RESIL__RES_STALE;
}

static enum resil__svc_result try_fallback(resil_service *s, resil_service_result *res,
                                           enum resil__svc_result kind)
{
    if (!s->fallback)
        return kind;
    resil_service_out out = {.s = s};
    int frc = s->fallback(s->fallback_ctx, res, &out);
    if (frc != 0 || out.err) {
        out_drop(&out);
        return kind;
    }
    result_take_held(res, out.held);
    res->code = 0;
    res->stage = RESIL_STAGE_FALLBACK;
    res->degraded = 1;
    append_message(res, "; served the fallback's value");
    return RESIL__RES_FALLBACK;
}

static void account(resil_service *s, const struct pcall *pc, enum resil__svc_result kind,
                    int64_t t0)
{
    /* relaxed: independent counts, read as a snapshot */
    atomic_fetch_add_explicit(&s->results[kind], 1, memory_order_relaxed);
    if (pc->refused_by != RESIL_STAGE_NONE)
        atomic_fetch_add_explicit(&s->rejected[pc->refused_by], 1, memory_order_relaxed);
    if (pc->attempts)
        atomic_fetch_add_explicit(&s->attempts, pc->attempts, memory_order_relaxed);
    if (!s->mx.m)
        return;
    resil_metrics_counter_add(s->mx.calls[kind], 1);
    if (pc->refused_by != RESIL_STAGE_NONE)
        resil_metrics_counter_add(s->mx.rejections[pc->refused_by], 1);
    if (pc->attempts)
        resil_metrics_counter_add(s->mx.attempts, pc->attempts);
    resil_metrics_histogram_record_ns(s->mx.duration, resil_clock_now(s->clock) - t0);
}

static void result_init(resil_service_result *res)
{
    memset(res, 0, sizeof *res);
    res->retry_after_ns = -1;
}

static bool call_valid(const struct resil_service_call *call)
{
    return !call || ((call->key || call->keylen == 0) && call->ttl_ns >= 0);
}

static void pcall_init(struct pcall *pc, resil_service *s,
                       const struct resil_service_call *call, resil_service_fn fn,
                       void *arg)
{
    memset(pc, 0, sizeof *pc);
    pc->s = s;
    pc->fn = fn;
    pc->arg = arg;
    pc->deadline = call ? call->deadline : RESIL_TIME_NEVER;
    pc->ttl_ns = call ? call->ttl_ns : 0;
    pc->tokens = call && call->tokens ? call->tokens : 1;
    pc->out.s = s;
    pc->retry_after = -1;
}

int resil_service_call(resil_service *s, const struct resil_service_call *call,
                       resil_service_fn fn, void *arg, resil_service_result *res)
{
    if (!res)
        return RESIL_EINVAL;
    result_init(res);
    if (!s || !fn || !call_valid(call)) {
        res->code = RESIL_EINVAL;
        snprintf(res->message, sizeof res->message, "%s: invalid argument",
                 s ? s->name : "resil_service_call");
        return RESIL_EINVAL;
    }
    struct pcall pc;
    pcall_init(&pc, s, call, fn, arg);
    int64_t t0 = s->mx.m ? resil_clock_now(s->clock) : 0;
    enum resil__svc_result kind;
    if (s->cache && call && call->key)
        kind = call_cached(&pc, call, res);
    else
        kind = call_direct(&pc, res);
    if (kind == RESIL__RES_FAILED || kind == RESIL__RES_REJECTED)
        kind = try_fallback(s, res, kind);
    account(s, &pc, kind, t0);
    return res->code;
}

void resil_service_call_init(struct resil_service_call *c)
{
    if (!c)
        return;
    memset(c, 0, sizeof *c);
    c->deadline = RESIL_TIME_NEVER;
}

const char *resil_stage_name(resil_stage stage)
{
    static const char *const names[RESIL__STAGE_COUNT] = {
        "none",  "cache",   "limiter",   "bulkhead", "breaker",
        "retry", "timeout", "operation", "fallback",
    };
    if ((unsigned)stage >= RESIL__STAGE_COUNT)
        return "unknown";
    return names[stage];
}
