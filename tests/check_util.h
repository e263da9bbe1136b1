/* Helpers shared by every Check suite (jansson's util.h idea). */
#ifndef RESIL_TESTS_CHECK_UTIL_H
#define RESIL_TESTS_CHECK_UTIL_H

#include <check.h>
#include <resil/resil.h>

/* Run one suite; returns the process exit status.  CK_FORK from the
 * environment is honoured (valgrind runs set CK_FORK=no). */
int tu_run(Suite *s);

/* A manual clock starting at 1 s (0 is avoided so "time 0" bugs show). */
resil_clock *tu_clock(void);

/* Allocation-failure harness: after tu_alloc_fail_at(n) the n-th allocation
 * from now (0-based) and every later one fail until tu_alloc_reset().
 * tu_alloc_live() counts blocks allocated through the hook and not freed. */
void tu_alloc_fail_at(long n);
void tu_alloc_reset(void);
long tu_alloc_live(void);
long tu_alloc_calls(void);

/* A resil_rand_fn returning *(uint64_t *)ctx every time. */
uint64_t tu_rand_fixed(void *ctx);

/* A resil_sleep_fn that records each request and advances the manual clock
 * in ctx (a struct tu_sleeper). */
struct tu_sleeper {
    resil_clock *clock;
    int n;
    int64_t total;
    int64_t last;
    int64_t log[64];
};
void tu_sleep(int64_t ns, void *ctx);

#define ck_assert_rc(expr, want)                                               \
    do {                                                                       \
        int ck_rc_ = (expr);                                                   \
        ck_assert_msg(ck_rc_ == (want), "%s: got %d (%s), want %d (%s)",       \
                      #expr, ck_rc_, resil_err_name(ck_rc_), (int)(want),      \
                      resil_err_name(want));                                   \
    } while (0)

#endif
