#include "check_util.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static void *tu_malloc(size_t n);
static void *tu_realloc(void *p, size_t n);
static void tu_freefn(void *p);

int tu_run(Suite *s)
{
    /* Every suite allocates through the counting hook, so any test can
     * assert tu_alloc_live() and the failure loop can be used anywhere. */
    resil_set_allocator(tu_malloc, tu_realloc, tu_freefn);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

resil_clock *tu_clock(void)
{
    resil_clock *c = NULL;
    ck_assert_int_eq(resil_clock_manual_new(RESIL_NS_PER_SEC, &c), 0);
    return c;
}

/* Each block carries a header so the harness can count live blocks. */
static atomic_long g_fail_at = -1;
static atomic_long g_calls;
static atomic_long g_live;
#define HDR 16

static void *tu_malloc(size_t n)
{
    long call = atomic_fetch_add(&g_calls, 1);
    long at = atomic_load(&g_fail_at);
    if (at >= 0 && call >= at)
        return NULL;
    char *p = malloc(n + HDR);
    if (!p)
        return NULL;
    atomic_fetch_add(&g_live, 1);
    return p + HDR;
}

static void tu_freefn(void *p)
{
    if (!p)
        return;
    atomic_fetch_sub(&g_live, 1);
    free((char *)p - HDR);
}

static void *tu_realloc(void *p, size_t n)
{
    if (!p)
        return tu_malloc(n);
    long call = atomic_fetch_add(&g_calls, 1);
    long at = atomic_load(&g_fail_at);
    if (at >= 0 && call >= at)
        return NULL;
    char *q = realloc((char *)p - HDR, n + HDR);
    return q ? q + HDR : NULL;
}

void tu_alloc_fail_at(long n)
{
    atomic_store(&g_calls, 0);
    atomic_store(&g_fail_at, n);
    resil_set_allocator(tu_malloc, tu_realloc, tu_freefn);
}

void tu_alloc_reset(void)
{
    atomic_store(&g_fail_at, -1);
}

long tu_alloc_live(void)
{
    return atomic_load(&g_live);
}

long tu_alloc_calls(void)
{
    return atomic_load(&g_calls);
}

uint64_t tu_rand_fixed(void *ctx)
{
    return *(const uint64_t *)ctx;
}

void tu_sleep(int64_t ns, void *ctx)
{
    struct tu_sleeper *s = ctx;
    if (s->n < (int)(sizeof s->log / sizeof s->log[0]))
        s->log[s->n] = ns;
    s->n++;
    s->total += ns;
    s->last = ns;
    if (s->clock)
        resil_clock_manual_advance(s->clock, ns);
}
