/* Time sources.  The built-in clocks are immutable statics, so no global
 * state is initialised at run time. */
#include "internal.h"

#include <errno.h>
#include <time.h>

enum clock_kind {
    CLOCK_KIND_MONO,
    CLOCK_KIND_COARSE,
    CLOCK_KIND_REALTIME,
    CLOCK_KIND_MANUAL,
    CLOCK_KIND_CUSTOM,
};

struct resil_clock {
    enum clock_kind kind;
    _Atomic int64_t manual_ns;
    resil_clock_fn fn;
    void *ctx;
};

static const struct resil_clock g_mono = {.kind = CLOCK_KIND_MONO};
static const struct resil_clock g_coarse = {.kind = CLOCK_KIND_COARSE};
static const struct resil_clock g_real = {.kind = CLOCK_KIND_REALTIME};

const resil_clock *resil_clock_monotonic(void)
{
    return &g_mono;
}

const resil_clock *resil_clock_coarse(void)
{
    return &g_coarse;
}

const resil_clock *resil_clock_realtime(void)
{
    return &g_real;
}

static int64_t read_posix(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * RESIL_NS_PER_SEC + ts.tv_nsec;
}

int64_t resil_clock_now(const resil_clock *c)
{
    if (!c)
        return read_posix(CLOCK_MONOTONIC);
    switch (c->kind) {
    case CLOCK_KIND_COARSE:
        return read_posix(CLOCK_MONOTONIC_COARSE);
    case CLOCK_KIND_REALTIME:
        return read_posix(CLOCK_REALTIME);
    case CLOCK_KIND_MANUAL:
        /* acquire pairs with the release in set/advance so a thread that
         * sees the new time also sees what the test did before moving it */
        return atomic_load_explicit(&((struct resil_clock *)c)->manual_ns,
                                    memory_order_acquire);
    case CLOCK_KIND_CUSTOM:
        return c->fn(c->ctx);
    case CLOCK_KIND_MONO:
    default:
        return read_posix(CLOCK_MONOTONIC);
    }
}

int resil_clock_manual_new(int64_t start_ns, resil_clock **out)
{
    if (!out)
        return RESIL_EINVAL;
    *out = NULL;
    struct resil_clock *c = resil__calloc(1, sizeof *c);
    if (!c)
        return RESIL_ENOMEM;
    c->kind = CLOCK_KIND_MANUAL;
    atomic_init(&c->manual_ns, start_ns);
    *out = c;
    return 0;
}

int resil_clock_manual_set(resil_clock *c, int64_t ns)
{
    if (!c || c->kind != CLOCK_KIND_MANUAL)
        return RESIL_EINVAL;
    int64_t cur = atomic_load_explicit(&c->manual_ns, memory_order_relaxed);
    do {
        if (ns < cur)
            return RESIL_EINVAL;
    } while (!atomic_compare_exchange_weak_explicit(&c->manual_ns, &cur, ns,
                                                    memory_order_release,
                                                    memory_order_relaxed));
    return 0;
}

int resil_clock_manual_advance(resil_clock *c, int64_t delta_ns)
{
    if (!c || c->kind != CLOCK_KIND_MANUAL || delta_ns < 0)
        return RESIL_EINVAL;
    int64_t cur = atomic_load_explicit(&c->manual_ns, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&c->manual_ns, &cur,
                                                  resil__add_sat(cur, delta_ns),
                                                  memory_order_release,
                                                  memory_order_relaxed))
        ;
    return 0;
}

int resil_clock_custom_new(resil_clock_fn fn, void *ctx, resil_clock **out)
{
    if (!out)
        return RESIL_EINVAL;
    *out = NULL;
    if (!fn)
        return RESIL_EINVAL;
    struct resil_clock *c = resil__calloc(1, sizeof *c);
    if (!c)
        return RESIL_ENOMEM;
    c->kind = CLOCK_KIND_CUSTOM;
    c->fn = fn;
    c->ctx = ctx;
    *out = c;
    return 0;
}

void resil_clock_free(resil_clock *c)
{
    if (!c || c == &g_mono || c == &g_coarse || c == &g_real)
        return;
    resil__free(c);
}

void resil_clock_sleep(const resil_clock *c, int64_t ns)
{
    if (ns <= 0)
        return;
    if (c && c->kind == CLOCK_KIND_MANUAL) {
        resil_clock_manual_advance((resil_clock *)c, ns);
        return;
    }
    struct timespec ts = {.tv_sec = ns / RESIL_NS_PER_SEC, .tv_nsec = ns % RESIL_NS_PER_SEC};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int resil__cond_init_monotonic(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    int rc = pthread_condattr_init(&a);
    if (rc != 0)
        return rc;
    rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
    return rc;
}
