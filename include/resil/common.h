/* libresil: shared macros and types used by every public header. */
#ifndef RESIL_COMMON_H
#define RESIL_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define RESIL_BEGIN_DECLS extern "C" {
#define RESIL_END_DECLS }
#else
#define RESIL_BEGIN_DECLS
#define RESIL_END_DECLS
#endif

/* Every public function carries RESIL_API; the library is built with
 * -fvisibility=hidden and a version script, so nothing else is exported. */
#if defined(__GNUC__) || defined(__clang__)
#define RESIL_API __attribute__((visibility("default")))
#else
#define RESIL_API
#endif

RESIL_BEGIN_DECLS

/* A source of 64 random bits.  Objects that jitter (breaker open time, retry
 * delays) take one so tests can make them deterministic.  It may be called
 * from several threads at once: make it thread-safe or give each object its
 * own context. */
typedef uint64_t (*resil_rand_fn)(void *ctx);

RESIL_END_DECLS

#endif /* RESIL_COMMON_H */
