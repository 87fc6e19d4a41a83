/* ratelimit_redis.c — rate limits in Redis through one Lua script (see
 * ratelimit_redis.h). */
#include "ratelimit_redis.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/clock.h"
#include "../core/log.h"

/* KEYS: one per limit. ARGV[1]: "1" to take the costs whatever the
 * balance (a charge), "0" to take them only when every limit allows (a
 * check); then rate, burst, cost per limit. Times in microseconds (Lua
 * numbers are doubles: exact to well under a microsecond here). Returns
 * allowed (0/1), remaining, reset ms, retry-after ms per limit: the same
 * arithmetic as lx_ratelimit_step(). */
static const char SCRIPT[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local force = ARGV[1] == '1'\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local tats, ts, ws, costs, all = {}, {}, {}, {}, true\n"
    "for i = 1, #KEYS do\n"
    "  ts[i] = 60000000 / tonumber(ARGV[3 * i - 1])\n"
    "  ws[i] = tonumber(ARGV[3 * i]) * ts[i]\n"
    "  costs[i] = tonumber(ARGV[3 * i + 1])\n"
    "  tats[i] = math.max(tonumber(redis.call('GET', KEYS[i]) or 0) or 0, now)\n"
    "  if tats[i] + ts[i] > now + ws[i] then all = false end\n"
    "end\n"
    "local out = {}\n"
    "for i = 1, #KEYS do\n"
    "  local tat, tt, w = tats[i], ts[i], ws[i]\n"
    "  local ok = tat + tt <= now + w\n"
    "  local nxt = tat\n"
    "  if (all or force) and costs[i] > 0 then\n"
    "    nxt = math.min(tat + costs[i] * tt, now + w + 86400000000)\n"
    "    redis.call('SET', KEYS[i], string.format('%.3f', nxt), 'PX',\n"
    "               math.ceil((nxt - now) / 1000) + 1000)\n"
    "  end\n"
    "  local rem, retry = 0, 0\n"
    "  if ok and nxt < now + w then rem = math.floor((now + w - nxt) / tt) end\n"
    "  if not ok then retry = math.ceil((tat + tt - w - now) / 1000) end\n"
    "  out[4 * i - 3] = ok and 1 or 0\n"
    "  out[4 * i - 2] = rem\n"
    "  out[4 * i - 1] = math.ceil((nxt - now) / 1000)\n"
    "  out[4 * i] = retry\n"
    "end\n"
    "return out\n";

enum {
    BACKOFF_MIN_MS = 100,
    BACKOFF_MAX_MS = 5000,
    MAX_ARGS = 4 + 4 * LX_RATELIMIT_REDIS_MAX_LIMITS,
    NUM_LEN = 24,
};

/* One command on its way. Linked in the client's list while its caller
 * waits; it is freed when hiredis hands it back (answer, or the
 * connection's end), which may be after its deadline. */
struct op {
    struct op *prev, *next;
    struct lx_ratelimit_redis *r;
    lx_ratelimit_redis_cb cb; /* NULL: a charge, or the caller has had its answer */
    void *data;
    uint64_t deadline_ms;
    bool listed, retried;
    int argc;
    const char *argv[MAX_ARGS];
    size_t argvlen[MAX_ARGS];
    char nums[MAX_ARGS][NUM_LEN];
    char *keys; /* the Redis keys, one after the other */
};

struct lx_ratelimit_redis {
    uv_loop_t *loop;
    redisAsyncContext *ac; /* NULL while disconnected */
    bool connected, closing, logged_down;
    uv_timer_t *reconnect; /* heap: its close outlives the client */
    uv_timer_t *deadline;  /* the first waiting op's deadline */
    uint32_t backoff_ms;
    struct op *head, *tail; /* waiting for an answer, oldest first */
    size_t pending;         /* ops not yet handed back by hiredis */
    char sha[2 * SHA_DIGEST_LENGTH + 1];
    char *host, *prefix;
    uint16_t port;
    uint32_t db, timeout_ms;
};

static void connect_now(struct lx_ratelimit_redis *r);
static void on_deadline(uv_timer_t *t);
static void on_reconnect(uv_timer_t *t);

static uint64_t now_ms(void)
{
    return lx_clock_mono_us() / 1000;
}

static void unlist(struct op *op)
{
    struct lx_ratelimit_redis *r = op->r;
    if (!op->listed)
        return;
    op->listed = false;
    if (op->prev)
        op->prev->next = op->next;
    else
        r->head = op->next;
    if (op->next)
        op->next->prev = op->prev;
    else
        r->tail = op->prev;
    op->prev = op->next = NULL;
}

static void arm_deadline(struct lx_ratelimit_redis *r)
{
    if (r->head == NULL) {
        uv_timer_stop(r->deadline);
        return;
    }
    uint64_t now = now_ms();
    uv_timer_start(r->deadline, on_deadline,
                   r->head->deadline_ms > now ? r->head->deadline_ms - now : 0, 0);
}

/* Gives the caller its answer once (cb cleared), and takes the op off the
 * waiting list. */
static void answer(struct op *op, int rc, const struct lx_ratelimit_result *res, size_t n)
{
    lx_ratelimit_redis_cb cb = op->cb;
    op->cb = NULL;
    unlist(op);
    if (cb)
        cb(op->data, rc, res, n);
}

static void went_down(struct lx_ratelimit_redis *r, const char *why);

static void on_deadline(uv_timer_t *t)
{
    struct lx_ratelimit_redis *r = t->data;
    uint64_t now = now_ms();
    bool expired = false;
    while (r->head && r->head->deadline_ms <= now) {
        answer(r->head, LX_ERR, NULL, 0); /* the late answer will be dropped */
        expired = true;
    }
    if (expired && r->ac && !r->connected) {
        /* a connection still not up after timeout_ms: a connect that may
         * never finish (seen right after Redis restarts): start over. Safe
         * here, outside hiredis's callbacks; it hands the ops back. */
        redisAsyncContext *ac = r->ac;
        r->ac = NULL;
        redisAsyncFree(ac);
        went_down(r, "no connection within timeout_ms");
    }
    arm_deadline(r);
}

static void op_free(struct op *op)
{
    op->r->pending--;
    free(op->keys);
    free(op);
}

/* Reads the script's answer: 4 integers per limit. */
static int read_reply(const redisReply *rep, struct lx_ratelimit_result *res, size_t n)
{
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 4 * n)
        return LX_ERR;
    for (size_t i = 0; i < 4 * n; i++)
        if (rep->element[i]->type != REDIS_REPLY_INTEGER || rep->element[i]->integer < 0)
            return LX_ERR;
    for (size_t i = 0; i < n; i++) {
        redisReply **e = rep->element + 4 * i;
        res[i] = (struct lx_ratelimit_result){
            .allowed = e[0]->integer == 1,
            .remaining = (uint32_t)LX_MIN(e[1]->integer, (long long)UINT32_MAX),
            .reset_ms = (uint64_t)e[2]->integer,
            .retry_after_ms = (uint64_t)e[3]->integer,
        };
    }
    return LX_OK;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct op *op = privdata;
    struct lx_ratelimit_redis *r = op->r;
    redisReply *rep = reply;
    if (rep && rep->type == REDIS_REPLY_ERROR && !op->retried && r->ac == ac && !r->closing &&
        strncmp(rep->str, "NOSCRIPT", 8) == 0) {
        /* Redis lost or never had the script: send it in full, once */
        op->retried = true;
        op->argv[0] = "EVAL";
        op->argvlen[0] = 4;
        op->argv[1] = SCRIPT;
        op->argvlen[1] = sizeof(SCRIPT) - 1;
        if (redisAsyncCommandArgv(ac, on_reply, op, op->argc, op->argv, op->argvlen) == REDIS_OK)
            return;
        rep = NULL;
    }
    size_t n = (size_t)(op->argc - 4) / 4;
    struct lx_ratelimit_result res[LX_RATELIMIT_REDIS_MAX_LIMITS];
    if (rep && rep->type == REDIS_REPLY_ERROR)
        lx_log_warn("rate limits: redis answered an error: %.200s", rep->str);
    if (read_reply(rep, res, n) == LX_OK)
        answer(op, LX_OK, res, n);
    else
        answer(op, LX_ERR, NULL, 0);
    op_free(op);
    if (!r->closing)
        arm_deadline(r);
}

static void schedule_reconnect(struct lx_ratelimit_redis *r)
{
    if (r->closing)
        return;
    uint32_t wait = r->backoff_ms;
    r->backoff_ms = LX_MIN(r->backoff_ms * 2, (uint32_t)BACKOFF_MAX_MS);
    uv_timer_start(r->reconnect, on_reconnect, wait, 0);
}

static void on_reconnect(uv_timer_t *t)
{
    connect_now(t->data);
}

static void went_down(struct lx_ratelimit_redis *r, const char *why)
{
    r->ac = NULL;
    r->connected = false;
    if (!r->logged_down && !r->closing)
        lx_log_warn("rate limits: redis at %s:%u is unavailable (%s); retrying", r->host,
                    (unsigned)r->port, why);
    r->logged_down = true;
    schedule_reconnect(r);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct lx_ratelimit_redis *r = ac->data;
    if (r == NULL || r->ac != ac)
        return;
    if (status != REDIS_OK) {
        went_down(r, ac->errstr);
        return;
    }
    r->connected = true;
    r->backoff_ms = BACKOFF_MIN_MS;
    if (r->logged_down)
        lx_log_info("rate limits: redis at %s:%u is back", r->host, (unsigned)r->port);
    r->logged_down = false;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct lx_ratelimit_redis *r = ac->data;
    if (r == NULL || r->ac != ac)
        return;
    went_down(r, status == REDIS_OK ? "closed" : ac->errstr);
}

static void connect_now(struct lx_ratelimit_redis *r)
{
    if (r->closing || r->ac)
        return;
    redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);
    if (ac == NULL) {
        went_down(r, "out of memory");
        return;
    }
    if (ac->err) {
        char why[128];
        snprintf(why, sizeof(why), "%s", ac->errstr);
        redisAsyncFree(ac);
        went_down(r, why);
        return;
    }
    ac->data = r;
    r->ac = ac;
    if (redisLibuvAttach(ac, r->loop) != REDIS_OK) {
        r->ac = NULL;
        redisAsyncFree(ac);
        went_down(r, "could not attach to the loop");
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    if (r->db) {
        char db[16];
        snprintf(db, sizeof(db), "%u", (unsigned)r->db);
        redisAsyncCommand(ac, NULL, NULL, "SELECT %s", db); /* before any other command */
    }
}

struct lx_ratelimit_redis *lx_ratelimit_redis_new(uv_loop_t *loop,
                                                  const struct lx_config_redis *cfg)
{
    struct lx_ratelimit_redis *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->loop = loop;
    r->host = strdup(cfg->host);
    r->prefix = strdup(cfg->key_prefix);
    r->reconnect = malloc(sizeof(*r->reconnect));
    r->deadline = malloc(sizeof(*r->deadline));
    if (!r->host || !r->prefix || !r->reconnect || !r->deadline) {
        free(r->host);
        free(r->prefix);
        free(r->reconnect);
        free(r->deadline);
        free(r);
        return NULL;
    }
    r->port = cfg->port;
    r->db = cfg->db;
    r->timeout_ms = cfg->timeout_ms;
    r->backoff_ms = BACKOFF_MIN_MS;
    uv_timer_init(loop, r->reconnect);
    uv_timer_init(loop, r->deadline);
    r->reconnect->data = r->deadline->data = r;
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)SCRIPT, sizeof(SCRIPT) - 1, md);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(r->sha + 2 * i, 3, "%02x", md[i]);
    connect_now(r);
    return r;
}

void lx_ratelimit_redis_free(struct lx_ratelimit_redis *r)
{
    if (r == NULL)
        return;
    r->closing = true;
    while (r->head)
        answer(r->head, LX_ERR, NULL, 0);
    uv_close((uv_handle_t *)r->reconnect, (uv_close_cb)free);
    uv_close((uv_handle_t *)r->deadline, (uv_close_cb)free);
    if (r->ac) {
        redisAsyncContext *ac = r->ac;
        r->ac = NULL;
        redisAsyncFree(ac); /* hands every op back (on_reply with NULL) */
    }
    free(r->host);
    free(r->prefix);
    free(r);
}

bool lx_ratelimit_redis_connected(const struct lx_ratelimit_redis *r)
{
    return r && r->connected;
}

/* Builds and sends one EVALSHA; cb NULL for a charge. */
static int send_op(struct lx_ratelimit_redis *r, const struct lx_ratelimit_limit *limits, size_t n,
                   bool force, lx_ratelimit_redis_cb cb, void *data)
{
    /* while connecting, hiredis holds the command until the socket is up */
    if (r->ac == NULL || n == 0 || n > LX_RATELIMIT_REDIS_MAX_LIMITS ||
        r->pending >= LX_RATELIMIT_REDIS_MAX_PENDING)
        return LX_ERR;
    struct op *op = calloc(1, sizeof(*op));
    size_t plen = strlen(r->prefix), total = 0;
    for (size_t i = 0; i < n; i++)
        total += plen + strlen(limits[i].scope) +
                 LX_MIN(limits[i].name.len, (size_t)LX_RATELIMIT_MAX_KEY_LEN);
    if (op == NULL || (op->keys = malloc(total + 1)) == NULL) {
        free(op);
        return LX_ERR;
    }
    op->r = r;
    op->argv[0] = "EVALSHA";
    op->argv[1] = r->sha;
    snprintf(op->nums[2], NUM_LEN, "%zu", n);
    op->argv[2] = op->nums[2];
    char *k = op->keys;
    int a = 3;
    for (size_t i = 0; i < n; i++, a++) {
        size_t nl = LX_MIN(limits[i].name.len, (size_t)LX_RATELIMIT_MAX_KEY_LEN);
        size_t sl = strlen(limits[i].scope);
        op->argv[a] = k;
        memcpy(k, r->prefix, plen);
        memcpy(k + plen, limits[i].scope, sl);
        memcpy(k + plen + sl, limits[i].name.ptr, nl);
        op->argvlen[a] = plen + sl + nl;
        k += op->argvlen[a];
    }
    op->argv[a++] = force ? "1" : "0";
    for (size_t i = 0; i < n; i++) {
        uint64_t v[3] = {LX_MAX(limits[i].rate, 1u), LX_MAX(limits[i].burst, 1u), limits[i].cost};
        for (int j = 0; j < 3; j++, a++) {
            snprintf(op->nums[a], NUM_LEN, "%llu", (unsigned long long)v[j]);
            op->argv[a] = op->nums[a];
        }
    }
    op->argc = a;
    for (int i = 0; i < a; i++)
        if (i < 3 || i >= 3 + (int)n)
            op->argvlen[i] = strlen(op->argv[i]);
    if (redisAsyncCommandArgv(r->ac, on_reply, op, op->argc, op->argv, op->argvlen) != REDIS_OK) {
        free(op->keys);
        free(op);
        return LX_ERR;
    }
    r->pending++;
    op->cb = cb;
    op->data = data;
    if (cb) {
        op->deadline_ms = now_ms() + r->timeout_ms;
        op->listed = true;
        op->prev = r->tail;
        if (r->tail)
            r->tail->next = op;
        else
            r->head = op;
        r->tail = op;
        if (r->head == op)
            arm_deadline(r);
    }
    return LX_OK;
}

int lx_ratelimit_redis_check(struct lx_ratelimit_redis *r, const struct lx_ratelimit_limit *limits,
                             size_t n, lx_ratelimit_redis_cb cb, void *data)
{
    return cb ? send_op(r, limits, n, false, cb, data) : LX_ERR;
}

int lx_ratelimit_redis_charge(struct lx_ratelimit_redis *r, const struct lx_ratelimit_limit *limits,
                              size_t n)
{
    return send_op(r, limits, n, true, NULL, NULL);
}
