/* libresil internals shared by lib/ sources; not installed. */
#ifndef RESIL_INTERNAL_H
#define RESIL_INTERNAL_H

#include <resil/resil.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Allocation through the hook of resil_set_allocator().  calloc checks the
 * multiplication for overflow. */
void *resil__malloc(size_t size);
void *resil__calloc(size_t n, size_t size);
void *resil__realloc(void *p, size_t size);
void resil__free(void *p);
/* Copy of s (NULL gives a copy of ""). */
char *resil__strdup(const char *s);

/* The default random source: splitmix64 over a per-object atomic counter
 * seeded from the OS, so it is lock-free and thread-safe. */
typedef struct resil__rng {
    _Atomic uint64_t state;
} resil__rng;
void resil__rng_seed(resil__rng *r);
uint64_t resil__rng_next(void *rng); /* matches resil_rand_fn */
/* A double uniform in [0, 1) from 64 random bits. */
double resil__unit(uint64_t bits);

/* Saturating int64 helpers for time arithmetic. */
static inline int64_t resil__add_sat(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

#define RESIL__UNUSED(x) (void)(x)

/* A condition variable whose timed waits run on CLOCK_MONOTONIC, so that a
 * step of the wall clock neither stalls nor hurries them (clock.c).
 * 0 or the pthread error. */
int resil__cond_init_monotonic(pthread_cond_t *cv);

/* Hand out text that jansson allocated (json_dumps) as a copy in memory
 * resil_free() releases, freeing the original with jansson's allocator,
 * which the program may have replaced (metrics_json.c; jansson builds
 * only).  *len (len may be NULL) gets its length.  0 or RESIL_ENOMEM. */
int resil__json_hand_out(char *text, char **out, size_t *len);

#endif /* RESIL_INTERNAL_H */
