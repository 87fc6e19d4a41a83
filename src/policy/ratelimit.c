/* ratelimit.c — GCRA limiters in a bounded hash table (see ratelimit.h). */
#include "ratelimit.h"

#include <stdio.h>
#include <stdlib.h>

/* One key's state. Times are in microseconds so that T = 60 s / rpm stays
 * exact enough at high rates (rpm 1000000: T = 60 us). */
struct entry {
    struct entry *next;
    uint64_t tat_us;      /* theoretical arrival time of the next request */
    uint64_t interval_us; /* the T that TAT was computed with */
    uint16_t len;
    char key[];
};

struct lx_ratelimit {
    uint32_t rpm, burst;
    uint64_t interval_us; /* T */
    uint64_t latest_ms;   /* the latest now_ms seen: time never goes back */
    size_t max_keys, count;
    size_t mask; /* buckets - 1, a power of two minus one */
    struct entry **buckets;
};

struct lx_ratelimit *lx_ratelimit_new(uint32_t rpm, uint32_t burst, size_t max_keys)
{
    if (rpm == 0 || rpm > LX_RATELIMIT_MAX_RPM || max_keys == 0)
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
    rl->rpm = rpm;
    rl->burst = burst ? burst : LX_MAX((rpm + 5) / 6, 1u);
    rl->interval_us = 60000000ull / rpm;
    rl->max_keys = max_keys;
    rl->mask = n - 1;
    return rl;
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
static void make_room(struct lx_ratelimit *rl, uint64_t now_us)
{
    struct entry **oldest = NULL;
    for (size_t i = 0; i <= rl->mask; i++) {
        for (struct entry **at = &rl->buckets[i]; *at;) {
            struct entry *e = *at;
            if (e->tat_us <= now_us) {
                *at = e->next;
                free(e);
                rl->count--;
                continue;
            }
            if (oldest == NULL || e->tat_us < (*oldest)->tat_us)
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

static uint64_t ceil_ms(uint64_t us)
{
    return (us + 999) / 1000;
}

int lx_ratelimit_check(struct lx_ratelimit *rl, lx_str key, uint64_t now_ms, bool charge,
                       struct lx_ratelimit_result *out)
{
    return lx_ratelimit_check_rate(rl, key, 0, now_ms, charge, out);
}

int lx_ratelimit_check_rate(struct lx_ratelimit *rl, lx_str key, uint32_t rpm, uint64_t now_ms,
                            bool charge, struct lx_ratelimit_result *out)
{
    if (key.len > LX_RATELIMIT_MAX_KEY_LEN)
        key.len = LX_RATELIMIT_MAX_KEY_LEN;
    rpm = LX_MIN(rpm, (uint32_t)LX_RATELIMIT_MAX_RPM);
    uint32_t burst = rpm ? LX_MAX((rpm + 5) / 6, 1u) : rl->burst;
    rl->latest_ms = LX_MAX(rl->latest_ms, now_ms);
    uint64_t now_us = rl->latest_ms * 1000, t = rpm ? 60000000ull / rpm : rl->interval_us;
    uint64_t window = (uint64_t)burst * t; /* burst × T: how far TAT may run ahead */
    struct entry **at = find(rl, key);
    uint64_t tat = *at ? LX_MAX((*at)->tat_us, now_us) : now_us;
    if (*at && (*at)->interval_us != t && (*at)->interval_us) {
        /* the key's rate changed: keep the share of its bucket in use, not the time */
        long double debt = (long double)(tat - now_us) * t / (*at)->interval_us;
        tat = now_us + (uint64_t)debt;
    }
    uint64_t next = tat + t;
    *out = (struct lx_ratelimit_result){.limit = rpm ? rpm : rl->rpm};
    if (next > now_us + window) {
        out->retry_after_ms = ceil_ms(next - window - now_us);
        out->reset_ms = ceil_ms(tat - now_us);
        return LX_OK;
    }
    out->allowed = true;
    out->remaining = (uint32_t)((now_us + window - next) / t);
    out->reset_ms = ceil_ms(next - now_us);
    if (!charge)
        return LX_OK;
    if (*at == NULL) {
        if (rl->count >= rl->max_keys) {
            make_room(rl, now_us);
            at = find(rl, key); /* the sweep may have moved the link */
        }
        struct entry *e = malloc(sizeof(*e) + key.len);
        if (e == NULL) {
            out->remaining = burst - 1;
            return LX_ERR;
        }
        memcpy(e->key, key.ptr, key.len);
        e->len = (uint16_t)key.len;
        e->next = NULL;
        *at = e;
        rl->count++;
    }
    (*at)->tat_us = next;
    (*at)->interval_us = t;
    return LX_OK;
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
