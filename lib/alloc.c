/* The allocator hook.  The three pointers are read on every allocation and
 * written only by resil_set_allocator(), before objects exist (documented),
 * so relaxed atomics are enough: they only keep the accesses tear-free. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static _Atomic(resil_malloc_fn) g_malloc = malloc;
static _Atomic(resil_realloc_fn) g_realloc = realloc;
static _Atomic(resil_free_fn) g_free = free;

int resil_set_allocator(resil_malloc_fn m, resil_realloc_fn r, resil_free_fn f)
{
    if (!m || !r || !f)
        return RESIL_EINVAL;
    atomic_store_explicit(&g_malloc, m, memory_order_relaxed);
    atomic_store_explicit(&g_realloc, r, memory_order_relaxed);
    atomic_store_explicit(&g_free, f, memory_order_relaxed);
    return 0;
}

void resil_reset_allocator(void)
{
    resil_set_allocator(malloc, realloc, free);
}

void *resil__malloc(size_t size)
{
    return atomic_load_explicit(&g_malloc, memory_order_relaxed)(size ? size : 1);
}

void *resil__calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = resil__malloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void *resil__realloc(void *p, size_t size)
{
    return atomic_load_explicit(&g_realloc, memory_order_relaxed)(p, size ? size : 1);
}

void resil__free(void *p)
{
    if (p)
        atomic_load_explicit(&g_free, memory_order_relaxed)(p);
}

void resil_free(void *ptr)
{
    resil__free(ptr);
}

char *resil__strdup(const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen(s) + 1;
    char *d = resil__malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}
