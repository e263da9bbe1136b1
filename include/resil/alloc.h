/* libresil: the allocator hook. */
#ifndef RESIL_ALLOC_H
#define RESIL_ALLOC_H

#include <resil/common.h>

RESIL_BEGIN_DECLS

typedef void *(*resil_malloc_fn)(size_t size);
typedef void *(*resil_realloc_fn)(void *ptr, size_t size);
typedef void (*resil_free_fn)(void *ptr);

/* Replace the allocator used for every object the library makes.  Call it
 * before the first object exists (objects are freed with the allocator that
 * made them only if it is still installed).  All three are required; returns
 * RESIL_EINVAL if one is NULL.  resil_set_allocator(NULL, NULL, NULL) is not
 * accepted: use resil_reset_allocator(). */
RESIL_API int resil_set_allocator(resil_malloc_fn m, resil_realloc_fn r, resil_free_fn f);
/* Restore malloc, realloc and free. */
RESIL_API void resil_reset_allocator(void);
/* Free memory the library handed to the caller (strings, arrays). NULL is a
 * no-op. */
RESIL_API void resil_free(void *ptr);

RESIL_END_DECLS

#endif /* RESIL_ALLOC_H */
