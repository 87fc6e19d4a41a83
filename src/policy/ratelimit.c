/* ratelimit.c — GCRA limiters and token buckets in a bounded hash table
 * (see ratelimit.h). */
#include "ratelimit.h"

#include <stdio.h>
#include <stdlib.h>

/* One key's state. Times are in nanoseconds so that T = 60 s / rate stays
 * exact enough at high token rates (tpm 100000000: T = 600 ns). */
struct entry {
    struct entry *next;
    uint64_t tat_ns;      /* theoretical arrival time of the next unit */
    uint64_t interval_ns; /* the T that TAT was computed with */
    uint16_t len;
    char key[];
};

struct lx_ratelimit {
    uint32_t rpm, burst;
    bool tokens;          /* a token bucket: burst = rate, one minute's worth */
    uint64_t interval_ns; /* T */
    uint64_t latest_ms;   /* the latest now_ms seen: time never goes back */
    size_t max_keys, count;
    size_t mask; /* buckets - 1, a power of two minus one */
    struct entry **buckets;
};

static struct lx_ratelimit *limiter_new(uint32_t rate, uint32_t max_rate, uint32_t burst,
                                        size_t max_keys)
{
    if (rate == 0 || rate > max_rate || max_keys == 0)
        return NULL;
    struct lx_ratelimit *rl = calloc(1, sizeof(*rl));
    if (rl == NULL)
        return NULL;
    size_t n = 16;
    while (n < max_keys && n < ((size_t)1 << 20))
        n <<= 1;
    if ((rl->buckets = calloc(n, sizeof(*rl->buckets))) == NULL) {
        free(rl);
        return NULL;
    }
    rl->rpm = rate;
    rl->burst = burst;
    rl->interval_ns = LX_RATELIMIT_MINUTE_NS / rate;
    rl->max_keys = max_keys;
    rl->mask = n - 1;
    return rl;
}

struct lx_ratelimit *lx_ratelimit_new(uint32_t rpm, uint32_t burst, size_t max_keys)
{
    return limiter_new(rpm, LX_RATELIMIT_MAX_RPM, burst ? burst : lx_ratelimit_default_burst(rpm),
                       max_keys);
}

struct lx_ratelimit *lx_ratelimit_new_tokens(uint32_t tpm, size_t max_keys)
{
    struct lx_ratelimit *rl = limiter_new(tpm, LX_RATELIMIT_MAX_TPM, tpm, max_keys);
    if (rl)
        rl->tokens = true;
    return rl;
}

uint32_t lx_ratelimit_default_burst(uint32_t rpm)
{
    return LX_MAX((rpm + 5) / 6, 1u);
}

void lx_ratelimit_free(struct lx_ratelimit *rl)
{
    if (rl == NULL)
        return;
    for (size_t i = 0; i <= rl->mask; i++) {
        for (struct entry *e = rl->buckets[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(rl->buckets);
    free(rl);
}

size_t lx_ratelimit_count(const struct lx_ratelimit *rl)
{
    return rl->count;
}

uint32_t lx_ratelimit_burst(const struct lx_ratelimit *rl)
{
    return rl->burst;
}

static uint64_t hash(lx_str key)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < key.len; i++)
        h = (h ^ (unsigned char)key.ptr[i]) * 1099511628211ull;
    return h;
}

static struct entry **find(struct lx_ratelimit *rl, lx_str key)
{
    struct entry **at = &rl->buckets[hash(key) & rl->mask];
    while (*at && !((*at)->len == key.len && memcmp((*at)->key, key.ptr, key.len) == 0))
        at = &(*at)->next;
    return at;
}

/* Makes room for one more entry: drops every idle one (its TAT has passed,
 * so it answers as a new key would); if none was idle, the one nearest to
 * idle. O(entries), and only when the table is full. */
static void make_room(struct lx_ratelimit *rl, uint64_t now_ns)
{
    struct entry **oldest = NULL;
    for (size_t i = 0; i <= rl->mask; i++) {
        for (struct entry **at = &rl->buckets[i]; *at;) {
            struct entry *e = *at;
            if (e->tat_ns <= now_ns) {
                *at = e->next;
                free(e);
                rl->count--;
                continue;
            }
            if (oldest == NULL || e->tat_ns < (*oldest)->tat_ns)
                oldest = at;
            at = &e->next;
        }
    }
    if (rl->count >= rl->max_keys && oldest) {
        struct entry *e = *oldest;
        *oldest = e->next;
        free(e);
        rl->count--;
    }
}

static uint64_t ceil_ms(uint64_t ns)
{
    return (ns + 999999) / 1000000;
}

uint64_t lx_ratelimit_step(uint64_t tat_ns, uint64_t now_ns, uint64_t interval_ns,
                           uint64_t window_ns, uint64_t cost, bool force,
                           struct lx_ratelimit_result *out)
{
    uint64_t t = LX_MAX(interval_ns, 1u), tat = LX_MAX(tat_ns, now_ns);
    out->allowed = tat + t <= now_ns + window_ns;
    out->remaining = 0;
    out->retry_after_ms = 0;
    if (!out->allowed && !force) {
        out->retry_after_ms = ceil_ms(tat + t - window_ns - now_ns);
        out->reset_ms = ceil_ms(tat - now_ns);
        return tat_ns;
    }
    /* a debt is bounded: at most LX_RATELIMIT_MAX_DEBT_NS ahead of the window */
    uint64_t end = now_ns + window_ns + LX_RATELIMIT_MAX_DEBT_NS;
    uint64_t room = end > tat ? end - tat : 0;
    uint64_t add = cost > room / t ? room : cost * t;
    uint64_t next = tat + add;
    if (next < now_ns + window_ns)
        out->remaining = (uint32_t)LX_MIN((now_ns + window_ns - next) / t, (uint64_t)UINT32_MAX);
    out->reset_ms = ceil_ms(next - now_ns);
    if (!out->allowed)
        out->retry_after_ms = ceil_ms(tat + t - window_ns - now_ns);
    return cost ? next : tat_ns;
}

int lx_ratelimit_check(struct lx_ratelimit *rl, lx_str key, uint64_t now_ms, bool charge,
                       struct lx_ratelimit_result *out)
{
    return lx_ratelimit_check_rate(rl, key, 0, now_ms, charge, out);
}

/* The entry for key, made when missing (NULL: out of memory). */
static struct entry *entry_for(struct lx_ratelimit *rl, lx_str key, uint64_t now_ns)
{
    struct entry **at = find(rl, key);
    if (*at)
        return *at;
    if (rl->count >= rl->max_keys) {
        make_room(rl, now_ns);
        at = find(rl, key); /* the sweep may have moved the link */
    }
    struct entry *e = malloc(sizeof(*e) + key.len);
    if (e == NULL)
        return NULL;
    memcpy(e->key, key.ptr, key.len);
    e->len = (uint16_t)key.len;
    e->next = NULL;
    e->tat_ns = 0;
    e->interval_ns = 0;
    *at = e;
    rl->count++;
    return e;
}

/* One check or charge of cost units at rate (0: the limiter's); force
 * takes them even when the bucket is spent (tokens used: a debt); without
 * store nothing is kept (a peek). */
static int run(struct lx_ratelimit *rl, lx_str key, uint32_t rate, uint64_t now_ms, uint64_t cost,
               bool force, bool store, struct lx_ratelimit_result *out)
{
    if (key.len > LX_RATELIMIT_MAX_KEY_LEN)
        key.len = LX_RATELIMIT_MAX_KEY_LEN;
    rate =
        LX_MIN(rate, rl->tokens ? (uint32_t)LX_RATELIMIT_MAX_TPM : (uint32_t)LX_RATELIMIT_MAX_RPM);
    uint32_t burst = rl->tokens ? (rate ? rate : rl->rpm)
                                : (rate ? lx_ratelimit_default_burst(rate) : rl->burst);
    rl->latest_ms = LX_MAX(rl->latest_ms, now_ms);
    uint64_t now_ns = rl->latest_ms * 1000000ull;
    uint64_t t = rate ? LX_RATELIMIT_MINUTE_NS / rate : rl->interval_ns;
    uint64_t window = (uint64_t)burst * t; /* burst × T: how far TAT may run ahead */
    struct entry **at = find(rl, key);
    uint64_t tat = *at ? LX_MAX((*at)->tat_ns, now_ns) : now_ns;
    if (*at && (*at)->interval_ns != t && (*at)->interval_ns) {
        /* the key's rate changed: keep the share of its bucket in use, not the time */
        long double debt = (long double)(tat - now_ns) * t / (*at)->interval_ns;
        tat = now_ns + (uint64_t)debt;
    }
    uint64_t next = lx_ratelimit_step(tat, now_ns, t, window, cost, force, out);
    out->limit = rate ? rate : rl->rpm;
    if (!store || cost == 0 || next == tat)
        return LX_OK;
    struct entry *e = entry_for(rl, key, now_ns);
    if (e == NULL)
        return LX_ERR;
    e->tat_ns = next;
    e->interval_ns = t;
    return LX_OK;
}

int lx_ratelimit_check_rate(struct lx_ratelimit *rl, lx_str key, uint32_t rpm, uint64_t now_ms,
                            bool charge, struct lx_ratelimit_result *out)
{
    /* a peek reports what charging would leave */
    int rc = run(rl, key, rpm, now_ms, 1, false, charge, out);
    if (rc != LX_OK) {
        /* an out-of-memory gateway does not refuse */
        out->allowed = true;
        out->remaining = (rpm ? lx_ratelimit_default_burst(rpm) : rl->burst) - 1;
    }
    return rc;
}

int lx_ratelimit_tokens_check(struct lx_ratelimit *rl, lx_str key, uint32_t tpm, uint64_t now_ms,
                              struct lx_ratelimit_result *out)
{
    return run(rl, key, tpm, now_ms, 0, false, false, out);
}

int lx_ratelimit_tokens_charge(struct lx_ratelimit *rl, lx_str key, uint32_t tpm, uint64_t tokens,
                               uint64_t now_ms)
{
    struct lx_ratelimit_result r;
    if (tokens == 0)
        return LX_OK;
    return run(rl, key, tpm, now_ms, tokens, true, true, &r);
}

char *lx_ratelimit_format_duration(uint64_t ms, char *buf)
{
    const size_t cap = LX_RATELIMIT_DURATION_LEN;
    if (ms < 1000) {
        snprintf(buf, cap, "%ums", (unsigned)ms);
        if (ms == 0)
            snprintf(buf, cap, "0s");
        return buf;
    }
    uint64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, frac = ms % 1000;
    size_t n = 0;
    if (h)
        n += (size_t)snprintf(buf + n, cap - n, "%luh", (unsigned long)h);
    if (h || m)
        n += (size_t)snprintf(buf + n, cap - n, "%lum", (unsigned long)m);
    n += (size_t)snprintf(buf + n, cap - n, "%lu", (unsigned long)s);
    if (frac) {
        char f[8];
        int k = snprintf(f, sizeof(f), ".%03u", (unsigned)frac);
        while (k > 1 && f[k - 1] == '0')
            f[--k] = '\0';
        n += (size_t)snprintf(buf + n, cap - n, "%s", f);
    }
    snprintf(buf + n, cap - n, "s");
    return buf;
}
