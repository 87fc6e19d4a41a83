/* arena.c — see arena.h. Chunks grow geometrically; large requests get their own chunk. */
#include "arena.h"

#include <stdlib.h>

struct lx_arena_chunk {
    struct lx_arena_chunk *next;
    size_t size;
    size_t used;
    _Alignas(16) unsigned char mem[];
};

enum { LX_ARENA_FIRST_CHUNK = 4096 };

void lx_arena_init(lx_arena *a, size_t cap)
{
    a->head = NULL;
    a->used_total = 0;
    a->cap = cap;
}

void lx_arena_release(lx_arena *a)
{
    struct lx_arena_chunk *c = a->head;
    while (c) {
        struct lx_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used_total = 0;
}

void lx_arena_reset(lx_arena *a)
{
    struct lx_arena_chunk *keep = a->head;
    if (keep == NULL)
        return;
    struct lx_arena_chunk *c = keep->next;
    while (c) {
        struct lx_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    keep->next = NULL;
    keep->used = 0;
    a->used_total = keep->size + sizeof(*keep);
}

void *lx_arena_alloc(lx_arena *a, size_t n)
{
    if (n > a->cap)
        return NULL; /* also keeps the rounding and sums below from wrapping */
    n = (n + 15) & ~(size_t)15;
    struct lx_arena_chunk *c = a->head;
    if (c == NULL || c->size - c->used < n) {
        size_t size = c ? c->size * 2 : LX_ARENA_FIRST_CHUNK;
        if (size < n)
            size = n;
        if (size > a->cap - LX_MIN(a->cap, sizeof(*c)))
            size = LX_MAX(n, a->cap - LX_MIN(a->cap, sizeof(*c))); /* a small cap still works */
        if (a->used_total + size + sizeof(*c) > a->cap)
            return NULL;
        c = malloc(sizeof(*c) + size);
        if (c == NULL)
            return NULL;
        c->size = size;
        c->used = 0;
        c->next = a->head;
        a->head = c;
        a->used_total += size + sizeof(*c);
    }
    void *p = c->mem + c->used;
    c->used += n;
    return p;
}

char *lx_arena_strndup(lx_arena *a, const char *s, size_t n)
{
    if (n >= a->cap)
        return NULL;
    char *p = lx_arena_alloc(a, n + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
