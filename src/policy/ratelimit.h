/*
 * ratelimit.h — requests-per-minute limits keyed by a string (a key id, a
 * model name), kept in memory for one llmux instance.
 *
 * Each limiter holds one rate (rpm) and one burst for all its keys and runs
 * the generic cell rate algorithm (GCRA, ITU-T I.371): per key it stores a
 * single number, the theoretical arrival time (TAT) of the next request. A
 * request at time t is allowed when t >= TAT - burst × T, where T = 60 s /
 * rpm is the emission interval; allowing it moves TAT to max(TAT, t) + T.
 * That is a token bucket of size burst refilled at rpm per minute, without a
 * timer or a refill step.
 *
 * Keys live in a hash table with a cap on entries (STYLE.md 10). A key whose
 * TAT has passed is idle — it is exactly as a new key would be — so it can be
 * dropped without changing any answer; when the table is full, idle entries
 * are swept out, and if none is idle the entry nearest to idle is evicted
 * (that key gets a fresh bucket: the cap bounds memory at the price of
 * leniency, never of refusing a caller unfairly).
 *
 * Time is passed in (now_ms, any monotonic millisecond clock), so tests can
 * drive it. Time never goes backwards for a limiter: a now_ms older than one
 * seen before is treated as that latest time.
 *
 * Threading: a limiter belongs to one event loop and takes no locks; every
 * call runs to completion on the loop thread. A shared implementation (Redis,
 * for several llmux instances) would keep these verbs and result, with the
 * check made asynchronous.
 */
#ifndef LX_RATELIMIT_H
#define LX_RATELIMIT_H

#include "../core/str.h"

struct lx_ratelimit;

enum {
    LX_RATELIMIT_MAX_RPM = 1000000,
    LX_RATELIMIT_MAX_KEY_LEN = 256, /* longer keys are cut to this many bytes */
    LX_RATELIMIT_DURATION_LEN = 32, /* room for lx_ratelimit_format_duration() */
};

/* What one check decided, with the values of OpenAI's headers. */
struct lx_ratelimit_result {
    bool allowed;
    uint32_t limit;          /* x-ratelimit-limit-requests: the rpm */
    uint32_t remaining;      /* x-ratelimit-remaining-requests, after this request */
    uint64_t reset_ms;       /* x-ratelimit-reset-requests: until the bucket is full again */
    uint64_t retry_after_ms; /* refused: until a request would be allowed; 0 when allowed */
};

/* A limiter of rpm requests per minute (1 .. LX_RATELIMIT_MAX_RPM) with a
 * burst of burst requests (0: rpm / 6 rounded up, at least 1), holding at
 * most max_keys keys (>= 1). NULL on bad arguments or out of memory. The
 * caller owns it and frees it with lx_ratelimit_free(). */
struct lx_ratelimit *lx_ratelimit_new(uint32_t rpm, uint32_t burst, size_t max_keys);
void lx_ratelimit_free(struct lx_ratelimit *rl);

/* Says whether a request for key at now_ms is within the limit and fills
 * *out either way; with charge, an allowed request is also counted (so a
 * caller checking several limits peeks at all of them first and charges
 * only when all allow). The key's bytes are copied. Returns LX_OK, or
 * LX_ERR when the entry could not be allocated (then the request is allowed
 * and *out describes a full bucket: an out-of-memory gateway does not
 * refuse). */
int lx_ratelimit_check(struct lx_ratelimit *rl, lx_str key, uint64_t now_ms, bool charge,
                       struct lx_ratelimit_result *out);

/* lx_ratelimit_check() at rpm requests per minute for this key (an API
 * key's own limit) instead of the limiter's; rpm 0: the limiter's. The
 * burst is then rpm / 6 rounded up, at least 1. When a key's rate changes,
 * the share of its bucket in use is kept (its TAT's lead over now is
 * scaled by new T / old T), so a raised or lowered limit applies at once. */
int lx_ratelimit_check_rate(struct lx_ratelimit *rl, lx_str key, uint32_t rpm, uint64_t now_ms,
                            bool charge, struct lx_ratelimit_result *out);

/* Keys held now (for tests and status). */
size_t lx_ratelimit_count(const struct lx_ratelimit *rl);
/* The burst in effect (the default resolved). */
uint32_t lx_ratelimit_burst(const struct lx_ratelimit *rl);

/* Writes ms as OpenAI writes durations in x-ratelimit-reset-*: "0s",
 * "250ms", "1s", "1.5s", "6m0s", "1h2m3s". buf holds at least
 * LX_RATELIMIT_DURATION_LEN bytes; returns buf. */
char *lx_ratelimit_format_duration(uint64_t ms, char *buf);

#endif
