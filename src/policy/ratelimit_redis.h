/*
 * ratelimit_redis.h — rate limits kept in a Redis server, so that several
 * llmux processes sharing it enforce one limit, not one each.
 *
 * The state and arithmetic are ratelimit.h's (GCRA for requests, a token
 * bucket that may go into debt for tokens: one number per key, its TAT),
 * run by a Lua script inside Redis so that reading, deciding and writing
 * are one atomic step whoever else asks at the same moment; the clock is
 * Redis's (TIME), so the processes need not agree on theirs. The script is
 * sent by its SHA-1 (EVALSHA) and, when Redis does not know it yet
 * (NOSCRIPT, e.g. after a restart), in full (EVAL) once. A key's TAT
 * expires when its bucket is full again, so idle keys cost Redis nothing.
 *
 * The client is asynchronous on the caller's libuv loop (hiredis with its
 * libuv adapter): a check never blocks the loop. Each command has a
 * deadline (timeout_ms); past it the caller gets an error and the late
 * answer is dropped. While the connection is down, checks fail at once and
 * the client reconnects in the background with a backoff (100 ms doubling
 * to 5 s). What an error means (allow or deny) is the caller's choice.
 *
 * Threading: one client belongs to one loop; no locks.
 */
#ifndef LX_RATELIMIT_REDIS_H
#define LX_RATELIMIT_REDIS_H

#include <uv.h>

#include "../config/config.h"
#include "../core/str.h"
#include "ratelimit.h"

struct lx_ratelimit_redis;

enum {
    LX_RATELIMIT_REDIS_MAX_LIMITS = 8,      /* limits in one check */
    LX_RATELIMIT_REDIS_MAX_PENDING = 65536, /* commands waiting for an answer */
};

/* One limit of a check or a charge. The Redis key is key_prefix + scope +
 * name (name cut to LX_RATELIMIT_MAX_KEY_LEN bytes). */
struct lx_ratelimit_limit {
    const char *scope; /* e.g. "rpm:key:"; static */
    lx_str name;       /* a key id, a model name; copied */
    uint32_t rate;     /* units per minute, >= 1 */
    uint32_t burst;    /* units the bucket holds: burst for requests, rate for tokens */
    uint64_t cost;     /* units taken: 1 for a request, 0 to only look, n tokens */
};

/* Called once per lx_ratelimit_redis_check() that returned LX_OK: rc
 * LX_OK with one result per limit, in order (limit not set: the caller
 * knows it); LX_ERR when Redis failed, answered nonsense or was later than
 * timeout_ms (results NULL). Never called from inside the check. */
typedef void (*lx_ratelimit_redis_cb)(void *data, int rc, const struct lx_ratelimit_result *results,
                                      size_t n);

/* A client for the server cfg names (host, port, db, key_prefix,
 * timeout_ms are copied), connecting at once in the background. NULL when
 * out of memory. The caller owns it; lx_ratelimit_redis_free() releases it
 * and the loop must run afterwards so its handles close. */
struct lx_ratelimit_redis *lx_ratelimit_redis_new(uv_loop_t *loop,
                                                  const struct lx_config_redis *cfg);

/* Closes the connection; commands still waiting get their callback with
 * LX_ERR first. NULL is fine. */
void lx_ratelimit_redis_free(struct lx_ratelimit_redis *r);

/* Looks at n limits (1 .. LX_RATELIMIT_REDIS_MAX_LIMITS) at once and, when
 * every one of them allows (at least one unit left), takes each one's cost;
 * when any refuses, takes nothing. Returns LX_OK and calls cb(data, ...)
 * later exactly once; LX_ERR (cb is not called) when not connected, too
 * many commands wait, or out of memory. */
int lx_ratelimit_redis_check(struct lx_ratelimit_redis *r, const struct lx_ratelimit_limit *limits,
                             size_t n, lx_ratelimit_redis_cb cb, void *data);

/* Takes each limit's cost whatever its balance (tokens used: a debt), without
 * an answer to anyone. LX_ERR when it could not be sent (as above). */
int lx_ratelimit_redis_charge(struct lx_ratelimit_redis *r, const struct lx_ratelimit_limit *limits,
                              size_t n);

/* Whether the connection is up now. */
bool lx_ratelimit_redis_connected(const struct lx_ratelimit_redis *r);

#endif
