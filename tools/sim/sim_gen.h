/*
 * sim_gen.h - deterministic generation: FNV-1a hashing, an xorshift PRNG, a vocabulary of
 * ordinary English words, random ids, and JSON values built from a JSON Schema.
 *
 * Everything here is a pure function of the PRNG state, so the simulator's output is a
 * function of --seed and the request. No allocation except into the caller's buffers.
 */
#ifndef SIM_GEN_H
#define SIM_GEN_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "sim_buf.h"

#define SIM_FNV_INIT 0xcbf29ce484222325ULL

struct sim_rng {
    uint64_t s;
};

/* Folds n bytes into an FNV-1a hash h (start from SIM_FNV_INIT). */
uint64_t sim_gen_fnv1a(uint64_t h, const void *p, size_t n);
/* Seeds r from the process seed and a hash of the input. */
void sim_rng_seed(struct sim_rng *r, uint64_t seed, uint64_t hash);
uint64_t sim_rng_next(struct sim_rng *r);
/* Returns a number in [0, n); n > 0. */
uint32_t sim_rng_below(struct sim_rng *r, uint32_t n);
/* Writes n random letters and digits and a NUL into out (n + 1 bytes). */
void sim_gen_alnum(struct sim_rng *r, char *out, size_t n);
/* Returns a word from the vocabulary (static storage). */
const char *sim_gen_word(struct sim_rng *r);
/* Counts whitespace-separated words in s[0..n). */
size_t sim_gen_count_words(const char *s, size_t n);
/* Appends a JSON value that satisfies the simple parts of schema (type, enum, const,
 * properties/required, anyOf/oneOf): strings are words, numbers small, booleans true,
 * arrays empty. A NULL or non-object schema gives {}. With valid non-zero (--repairable's
 * second try), numbers sit on the schema's minimum / exclusiveMinimum / maximum and strings
 * with examples take examples[0], so bounds and patterns are met. */
void sim_gen_schema_value(struct sim_rng *r, const cJSON *schema, struct sim_buf *out, int valid);

#endif
