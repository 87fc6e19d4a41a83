/*
 * arena.h — a region allocator: one per request, freed all at once.
 *
 * Allocations come from chunks that are freed together by lx_arena_release().
 * There is no per-allocation free. An arena has a cap on its total size so a
 * request cannot take unbounded memory; past it lx_arena_alloc() returns NULL.
 */
#ifndef LX_ARENA_H
#define LX_ARENA_H

#include "core.h"
#include "str.h"

struct lx_arena_chunk;

typedef struct lx_arena {
    struct lx_arena_chunk *head;
    size_t used_total; /* bytes handed out plus chunk overhead */
    size_t cap;
} lx_arena;

void lx_arena_init(lx_arena *a, size_t cap);
/* Frees every allocation made from the arena. */
void lx_arena_release(lx_arena *a);
/* Forgets every allocation but keeps the newest chunk for reuse: a
 * scratch arena reset per event allocates nothing in the steady state. */
void lx_arena_reset(lx_arena *a);
/* Returns n bytes aligned to 16, or NULL past the cap. */
void *lx_arena_alloc(lx_arena *a, size_t n);
/* Copies s into the arena, NUL-terminated. NULL past the cap. */
char *lx_arena_strndup(lx_arena *a, const char *s, size_t n);

#endif
