/* libresil: time sources.
 *
 * Every time-based object takes an optional const resil_clock *; NULL means
 * resil_clock_monotonic().  Times are int64_t nanoseconds on the clock's own
 * timeline (not wall-clock time).  Tests use a manual clock and never sleep:
 * resil_clock_sleep() on a manual clock advances it instead of waiting. */
#ifndef RESIL_CLOCK_H
#define RESIL_CLOCK_H

#include <resil/common.h>

RESIL_BEGIN_DECLS

typedef struct resil_clock resil_clock;

/* A caller-supplied time source: returns nanoseconds, never decreasing. */
typedef int64_t (*resil_clock_fn)(void *ctx);

#define RESIL_NS_PER_US INT64_C(1000)
#define RESIL_NS_PER_MS INT64_C(1000000)
#define RESIL_NS_PER_SEC INT64_C(1000000000)
/* "No deadline". */
#define RESIL_TIME_NEVER INT64_MAX

/* CLOCK_MONOTONIC: precise (ns), ~20 ns to read through the vDSO. */
RESIL_API const resil_clock *resil_clock_monotonic(void);
/* CLOCK_MONOTONIC_COARSE: a few ns to read, resolution of one kernel tick
 * (1-4 ms).  Good enough for breaker windows and rate limits of up to a few
 * hundred per second; see libresil(7). */
RESIL_API const resil_clock *resil_clock_coarse(void);

/* CLOCK_REALTIME: nanoseconds since the Unix epoch.  Not for measuring
 * durations; objects that print wall-clock times (health reports, alerts)
 * take it as a second clock so tests can pass a manual one instead. */
RESIL_API const resil_clock *resil_clock_realtime(void);

/* A manual clock for tests, starting at start_ns.  Thread-safe. */
RESIL_API int resil_clock_manual_new(int64_t start_ns, resil_clock **out);
/* Set a manual clock; RESIL_EINVAL if c is not manual or ns would move it
 * backwards. */
RESIL_API int resil_clock_manual_set(resil_clock *c, int64_t ns);
/* Advance a manual clock by delta_ns >= 0. */
RESIL_API int resil_clock_manual_advance(resil_clock *c, int64_t delta_ns);

/* Wrap a caller's time source. */
RESIL_API int resil_clock_custom_new(resil_clock_fn fn, void *ctx, resil_clock **out);

/* Free a clock made by resil_clock_manual_new() or resil_clock_custom_new().
 * NULL and the built-in clocks are no-ops. */
RESIL_API void resil_clock_free(resil_clock *c);

/* The clock's current time in ns; c == NULL reads resil_clock_monotonic(). */
RESIL_API int64_t resil_clock_now(const resil_clock *c);

/* Let ns pass on the clock: sleeps on real clocks (restarting after signals),
 * advances a manual clock, and for custom clocks sleeps in real time.
 * ns <= 0 returns at once. */
RESIL_API void resil_clock_sleep(const resil_clock *c, int64_t ns);

RESIL_END_DECLS

#endif /* RESIL_CLOCK_H */
