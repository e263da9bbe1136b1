/* Health registry under concurrent use (run under TSan in CI): while the
 * scheduler runs checks every millisecond, threads add and remove checks,
 * start runs, tick, and read snapshots, reports and the aggregate.  Then
 * exact invariants: no check lost or duplicated, every call of every check
 * counted once as a completed run, every result whole, every ctx released
 * once and only after its check's last call. */
#include "check_util.h"

#include <resil/health.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS RESIL_NS_PER_MS
#define SEC RESIL_NS_PER_SEC
#define NCHURN 2   /* threads adding and removing their own checks */
#define NSLOTS 6   /* names per churn thread */
#define NPERM 4    /* checks there from start to end */
#define ITERS 400  /* operations per thread */
#define CTX_MAGIC 0x4ea17bu

static resil_health *g_h;
static atomic_long g_ctx_made;
static atomic_long g_ctx_freed;
static atomic_long g_bad;

struct ctx {
    atomic_uint magic;
    atomic_long calls;
    int reenter; /* reads the registry from inside the check */
};

static int check_fn(void *p, int64_t deadline, resil_health_result *r)
{
    (void)deadline;
    struct ctx *c = p;
    if (atomic_load(&c->magic) != CTX_MAGIC)
        atomic_fetch_add(&g_bad, 1); /* called after its ctx was freed */
    long n = atomic_fetch_add(&c->calls, 1) + 1;
    if (c->reenter) {
        resil_health_status st = resil_health_status_get(g_h, RESIL_HEALTH_BOTH);
        if (st > RESIL_HEALTH_FAIL)
            atomic_fetch_add(&g_bad, 1);
    }
    /* value and output say the same thing, so a torn copy shows */
    r->status = n % 3 == 0 ? RESIL_HEALTH_WARN : RESIL_HEALTH_PASS;
    r->observed_value = (double)n;
    strcpy(r->observed_unit, "calls");
    snprintf(r->output, sizeof r->output, "call %ld", n);
    return 0;
}

static void ctx_free(void *p)
{
    struct ctx *c = p;
    if (atomic_exchange(&c->magic, 0) != CTX_MAGIC)
        atomic_fetch_add(&g_bad, 1); /* freed twice */
    atomic_fetch_add(&g_ctx_freed, 1);
    free(c);
}

static int add_check(const char *name, int reenter)
{
    struct ctx *c = calloc(1, sizeof *c);
    ck_assert_ptr_nonnull(c);
    atomic_init(&c->magic, CTX_MAGIC);
    c->reenter = reenter;
    resil_health_check_opts o;
    resil_health_check_opts_init(&o);
    o.name = name;
    o.fn = check_fn;
    o.ctx = c;
    o.ctx_free = ctx_free;
    o.kind = (resil_health_kind)(1 + (name[0] + name[1]) % 3);
    o.interval_ns = MS;
    o.timeout_ns = 60 * SEC; /* no run may time out, even under TSan */
    int rc = resil_health_add(g_h, &o);
    if (rc == 0)
        atomic_fetch_add(&g_ctx_made, 1);
    else
        free(c);
    return rc;
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void slot_name(char *buf, size_t cap, int t, int k)
{
    snprintf(buf, cap, "churn%d:slot%d", t, k);
}

struct churn {
    int t;
    int have[NSLOTS];
};

static void *churn_main(void *arg)
{
    struct churn *c = arg;
    uint64_t seed = 0x9e3779b97f4a7c15u * (uint64_t)(c->t + 1);
    char name[RESIL_HEALTH_MAX_NAME];
    for (int i = 0; i < ITERS; i++) {
        int k = (int)(next_rand(&seed) % NSLOTS);
        slot_name(name, sizeof name, c->t, k);
        int rc = c->have[k] ? resil_health_remove(g_h, name) : add_check(name, 0);
        if (rc != 0)
            atomic_fetch_add(&g_bad, 1);
        c->have[k] = !c->have[k];
    }
    return NULL;
}

static void *runner_main(void *arg)
{
    (void)arg;
    uint64_t seed = 12345;
    char name[RESIL_HEALTH_MAX_NAME];
    for (int i = 0; i < ITERS; i++) {
        uint64_t r = next_rand(&seed);
        if (r % 4 == 0) {
            snprintf(name, sizeof name, "perm:c%d", (int)(r / 4 % NPERM));
            int rc = resil_health_run(g_h, name);
            if (rc != 0 && rc != RESIL_EBUSY)
                atomic_fetch_add(&g_bad, 1);
        } else if (r % 4 == 1) {
            slot_name(name, sizeof name, (int)(r / 4 % NCHURN), (int)(r / 8 % NSLOTS));
            int rc = resil_health_run(g_h, name);
            if (rc != 0 && rc != RESIL_EBUSY && rc != RESIL_ENOENT)
                atomic_fetch_add(&g_bad, 1);
        } else if (r % 4 == 2) {
            if (resil_health_tick(g_h) < 0)
                atomic_fetch_add(&g_bad, 1);
        } else {
            int rc = resil_health_wait(g_h, NULL, MS);
            if (rc != 0 && rc != RESIL_ETIMEDOUT)
                atomic_fetch_add(&g_bad, 1);
        }
    }
    return NULL;
}

/* A snapshot is a consistent moment: sorted, unique, counters sane. */
static void check_snapshot(void)
{
    resil_health_check_info *s;
    size_t n;
    if (resil_health_snapshot(g_h, RESIL_HEALTH_BOTH, &s, &n) != 0) {
        atomic_fetch_add(&g_bad, 1);
        return;
    }
    if (n < NPERM || n > NPERM + NCHURN * NSLOTS)
        atomic_fetch_add(&g_bad, 1);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(s[i - 1].name, s[i].name) >= 0)
            atomic_fetch_add(&g_bad, 1);
        if (s[i].failures != 0 || s[i].timeouts != 0)
            atomic_fetch_add(&g_bad, 1);
        char want[64];
        snprintf(want, sizeof want, "call %.0f", s[i].observed_value);
        if (s[i].runs > 0 && strcmp(s[i].output, want) != 0)
            atomic_fetch_add(&g_bad, 1);
    }
    resil_free(s);
}

static void *reader_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < ITERS; i++) {
        check_snapshot();
        char *json = NULL;
        int rc = resil_health_render(g_h, (resil_health_kind)(1 + i % 3), &json, NULL);
        if (rc == 0 ? json == NULL || json[0] != '{' : rc != RESIL_ENOTSUP)
            atomic_fetch_add(&g_bad, 1);
        resil_free(json);
        if (resil_health_status_get(g_h, (resil_health_kind)(1 + i % 3)) > RESIL_HEALTH_FAIL)
            atomic_fetch_add(&g_bad, 1);
        resil_health_check_info in;
        if (resil_health_check_get(g_h, "perm:c0", &in) != 0)
            atomic_fetch_add(&g_bad, 1);
    }
    return NULL;
}

/* After everything has stopped: the table holds exactly the permanent
 * checks and what each churn thread last added, and each check's runs are
 * exactly the calls its function saw. */
static void check_final(const struct churn *ch)
{
    resil_health_check_info *s;
    size_t n;
    ck_assert_int_eq(resil_health_snapshot(g_h, RESIL_HEALTH_BOTH, &s, &n), 0);
    size_t want = NPERM;
    for (int t = 0; t < NCHURN; t++) {
        for (int k = 0; k < NSLOTS; k++) {
            char name[RESIL_HEALTH_MAX_NAME];
            slot_name(name, sizeof name, t, k);
            resil_health_check_info in;
            int rc = resil_health_check_get(g_h, name, &in);
            ck_assert_int_eq(rc, ch[t].have[k] ? 0 : RESIL_ENOENT);
            want += (size_t)ch[t].have[k];
        }
    }
    ck_assert_uint_eq(n, want);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(s[i].running, 0);
        ck_assert_uint_eq(s[i].failures, 0);
        ck_assert_uint_eq(s[i].timeouts, 0);
        if (s[i].runs > 0) {
            char out[64];
            snprintf(out, sizeof out, "call %llu", (unsigned long long)s[i].runs);
            ck_assert_str_eq(s[i].output, out); /* the last call's result */
            ck_assert(s[i].observed_value == (double)s[i].runs);
            ck_assert_str_eq(s[i].observed_unit, "calls");
        }
    }
    resil_free(s);
    /* every permanent check was run at least once by the scheduler */
    for (int p = 0; p < NPERM; p++) {
        char name[32];
        snprintf(name, sizeof name, "perm:c%d", p);
        resil_health_check_info in;
        ck_assert_int_eq(resil_health_check_get(g_h, name, &in), 0);
        ck_assert_uint_ge(in.runs, 1);
    }
}

START_TEST(test_concurrent_use)
{
    long live0 = tu_alloc_live();
    atomic_store(&g_ctx_made, 0);
    atomic_store(&g_ctx_freed, 0);
    atomic_store(&g_bad, 0);
    ck_assert_int_eq(resil_health_new(NULL, &g_h), 0);
    for (int p = 0; p < NPERM; p++) {
        char name[32];
        snprintf(name, sizeof name, "perm:c%d", p);
        ck_assert_int_eq(add_check(name, p == 0), 0);
    }
    ck_assert_int_eq(resil_health_start(g_h), 0);

    struct churn ch[NCHURN];
    pthread_t t[NCHURN + 2];
    memset(ch, 0, sizeof ch);
    for (int i = 0; i < NCHURN; i++) {
        ch[i].t = i;
        ck_assert_int_eq(pthread_create(&t[i], NULL, churn_main, &ch[i]), 0);
    }
    ck_assert_int_eq(pthread_create(&t[NCHURN], NULL, runner_main, NULL), 0);
    ck_assert_int_eq(pthread_create(&t[NCHURN + 1], NULL, reader_main, NULL), 0);
    for (int i = 0; i < NCHURN + 2; i++)
        pthread_join(t[i], NULL);

    ck_assert_int_eq(resil_health_stop(g_h), 0);
    ck_assert_int_eq(resil_health_wait(g_h, NULL, 30 * SEC), 0);
    ck_assert_int_eq(atomic_load(&g_bad), 0);
    check_final(ch);
    /* removed checks released their ctx, the others still hold theirs */
    resil_health_check_info *s;
    size_t n;
    ck_assert_int_eq(resil_health_snapshot(g_h, RESIL_HEALTH_BOTH, &s, &n), 0);
    resil_free(s);
    ck_assert_int_eq(atomic_load(&g_ctx_made) - atomic_load(&g_ctx_freed), (long)n);

    resil_health_free(g_h);
    g_h = NULL;
    ck_assert_int_eq(atomic_load(&g_ctx_freed), atomic_load(&g_ctx_made));
    ck_assert_int_eq(atomic_load(&g_bad), 0);
    ck_assert_int_eq(tu_alloc_live(), live0);
}
END_TEST

/* Free while the scheduler runs and other threads keep starting runs
 * until just before: no run outlives its registry. */
START_TEST(test_free_under_load)
{
    long live0 = tu_alloc_live();
    atomic_store(&g_ctx_made, 0);
    atomic_store(&g_ctx_freed, 0);
    atomic_store(&g_bad, 0);
    for (int round = 0; round < 5; round++) {
        ck_assert_int_eq(resil_health_new(NULL, &g_h), 0);
        for (int p = 0; p < NPERM; p++) {
            char name[32];
            snprintf(name, sizeof name, "perm:c%d", p);
            ck_assert_int_eq(add_check(name, p == 1), 0);
        }
        ck_assert_int_eq(resil_health_start(g_h), 0);
        for (int p = 0; p < NPERM; p++) {
            char name[32];
            snprintf(name, sizeof name, "perm:c%d", p);
            int rc = resil_health_run(g_h, name);
            ck_assert(rc == 0 || rc == RESIL_EBUSY);
        }
        resil_health_free(g_h);
        g_h = NULL;
    }
    ck_assert_int_eq(atomic_load(&g_ctx_freed), atomic_load(&g_ctx_made));
    ck_assert_int_eq(atomic_load(&g_bad), 0);
    ck_assert_int_eq(tu_alloc_live(), live0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("health_threads");
    TCase *tc = tcase_create("concurrent");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_concurrent_use);
    tcase_add_test(tc, test_free_under_load);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
