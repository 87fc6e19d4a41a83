/*
 * ratelimit.h — requests-per-minute limits and tokens-per-minute buckets
 * keyed by a string (a key id, a model name), kept in memory for one llmux
 * instance (ratelimit_redis.h shares the same arithmetic through Redis).
 *
 * Each limiter holds one rate (rpm) and one burst for all its keys and runs
 * the generic cell rate algorithm (GCRA, ITU-T I.371): per key it stores a
 * single number, the theoretical arrival time (TAT) of the next request. A
 * request at time t is allowed when t >= TAT - burst × T, where T = 60 s /
 * rpm is the emission interval; allowing it moves TAT to max(TAT, t) + T.
 * That is a token bucket of size burst refilled at rpm per minute, without a
 * timer or a refill step.
 *
 * Tokens per minute use the same state as a token bucket that may go into
 * debt: the bucket holds one minute's tokens (burst = tpm), T = 60 s / tpm
 * is the time one token takes to come back. A request is admitted while at
 * least one token is left (TAT + T <= t + 60 s); its tokens are known only
 * when the answer is done, and are then charged whatever the balance
 * (TAT = max(TAT, t) + tokens × T), so one big answer may leave the bucket
 * in debt and the next requests wait until it has paid off.
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
 * call runs to completion on the loop thread.
 */
#ifndef LX_RATELIMIT_H
#define LX_RATELIMIT_H

#include "../core/str.h"

struct lx_ratelimit;

enum {
    LX_RATELIMIT_MAX_RPM = 1000000,
    LX_RATELIMIT_MAX_TPM = 100000000,
    LX_RATELIMIT_MAX_KEY_LEN = 256, /* longer keys are cut to this many bytes */
    LX_RATELIMIT_DURATION_LEN = 32, /* room for lx_ratelimit_format_duration() */
};

/* One minute, and the most a bucket may be in debt past its window (a
 * day): an absurd usage cannot lock a key out for longer. */
#define LX_RATELIMIT_MINUTE_NS 60000000000ull
#define LX_RATELIMIT_MAX_DEBT_NS 86400000000000ull

/* What one check decided, with the values of OpenAI's headers. */
struct lx_ratelimit_result {
    bool allowed;
    uint32_t limit;          /* x-ratelimit-limit-requests (-tokens): the rpm (tpm) */
    uint32_t remaining;      /* x-ratelimit-remaining-requests (-tokens), after this request */
    uint64_t reset_ms;       /* x-ratelimit-reset-requests (-tokens): until the bucket is full */
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

/* A token limiter of tpm tokens per minute (1 .. LX_RATELIMIT_MAX_TPM),
 * its bucket one minute's worth, holding at most max_keys keys. Use it with
 * the two functions below only. Owned as lx_ratelimit_new()'s. */
struct lx_ratelimit *lx_ratelimit_new_tokens(uint32_t tpm, size_t max_keys);

/* Admission on a token limiter: allowed while key's bucket has at least
 * one token at now_ms (the balance before this request: its own tokens are
 * not known yet). tpm 0: the limiter's, else the key's own. remaining is
 * the balance in whole tokens. Charges nothing; returns LX_OK. */
int lx_ratelimit_tokens_check(struct lx_ratelimit *rl, lx_str key, uint32_t tpm, uint64_t now_ms,
                              struct lx_ratelimit_result *out);

/* Takes tokens (an exchange's actual usage) from key's bucket at now_ms,
 * whatever its balance: the bucket may go into debt (at most
 * LX_RATELIMIT_MAX_DEBT_NS past empty). LX_ERR: out of memory (nothing
 * charged). */
int lx_ratelimit_tokens_charge(struct lx_ratelimit *rl, lx_str key, uint32_t tpm, uint64_t tokens,
                               uint64_t now_ms);

/* The arithmetic of every limit, without state (Redis's script does the
 * same): with TAT tat_ns at now_ns, emission interval interval_ns and
 * window_ns (burst × T), fills *out (all but limit) and returns the new
 * TAT. allowed: TAT' + T <= now + window, TAT' = max(TAT, now). Allowed (or
 * force), cost units are taken: TAT' + cost × T (capped at
 * LX_RATELIMIT_MAX_DEBT_NS past the window); refused, tat_ns is returned as
 * it was. cost 0 is a peek that returns tat_ns. */
uint64_t lx_ratelimit_step(uint64_t tat_ns, uint64_t now_ns, uint64_t interval_ns,
                           uint64_t window_ns, uint64_t cost, bool force,
                           struct lx_ratelimit_result *out);

/* rpm / 6 rounded up, at least 1: the burst when none is configured. */
uint32_t lx_ratelimit_default_burst(uint32_t rpm);

/* Keys held now (for tests and status). */
size_t lx_ratelimit_count(const struct lx_ratelimit *rl);
/* The burst in effect (the default resolved). */
uint32_t lx_ratelimit_burst(const struct lx_ratelimit *rl);

/* Writes ms as OpenAI writes durations in x-ratelimit-reset-*: "0s",
 * "250ms", "1s", "1.5s", "6m0s", "1h2m3s". buf holds at least
 * LX_RATELIMIT_DURATION_LEN bytes; returns buf. */
char *lx_ratelimit_format_duration(uint64_t ms, char *buf);

#endif
