/* Default random source: splitmix64 (Steele, Lea, Flood 2014) applied to a
 * Weyl sequence kept in one atomic word.  One fetch_add per number makes it
 * lock-free and safe to share; it is for jitter, not for secrets. */
#include "internal.h"

#include <sys/random.h>
#include <time.h>

#define GOLDEN UINT64_C(0x9e3779b97f4a7c15)

void resil__rng_seed(resil__rng *r)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed) {
        /* No entropy yet (early boot): the address and the time still make
         * two objects' jitter differ, which is all jitter needs. */
        seed = (uint64_t)(uintptr_t)r ^ (uint64_t)time(NULL) * GOLDEN;
    }
    atomic_init(&r->state, seed);
}

uint64_t resil__rng_next(void *rng)
{
    resil__rng *r = rng;
    /* relaxed: each caller needs a distinct value, not ordering */
    uint64_t z = atomic_fetch_add_explicit(&r->state, GOLDEN, memory_order_relaxed) + GOLDEN;
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

double resil__unit(uint64_t bits)
{
    return (double)(bits >> 11) * 0x1.0p-53;
}
