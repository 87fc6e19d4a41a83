/* spend.c — see spend.h. The running totals are an open-addressing table
 * of key ids (loop thread only); the pending batch is a small array of
 * (key id, amount) under the mutex, swapped out whole by the writer. */
#include "spend.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/core.h"
#include "../core/log.h"
#include "keys.h"

enum { KEY_ID_MAX = 32 };

struct amount {
    char id[KEY_ID_MAX];
    double usd;
};

struct total {
    char id[KEY_ID_MAX]; /* "" = free slot */
    double usd;
};

struct lx_store_spend {
    struct lx_store_keys *store; /* the writer's */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct amount *pending; /* LX_STORE_SPEND_MAX_PENDING */
    size_t n_pending;
    bool stopping;
    uint64_t dropped;     /* amounts lost to a full batch (under lock) */
    struct total *totals; /* 2 * LX_STORE_SPEND_MAX_TRACKED slots */
    size_t n_totals;
};

enum { TOTAL_SLOTS = 2 * LX_STORE_SPEND_MAX_TRACKED };

static uint64_t hash_id(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The slot of id, or the free slot where it would go (NULL: table full). */
static struct total *find_total(const struct lx_store_spend *s, const char *id)
{
    for (size_t i = hash_id(id) % TOTAL_SLOTS, n = 0; n < TOTAL_SLOTS;
         i = (i + 1) % TOTAL_SLOTS, n++) {
        struct total *t = &s->totals[i];
        if (t->id[0] == '\0' || strcmp(t->id, id) == 0)
            return t;
    }
    return NULL;
}

static void write_batch(struct lx_store_spend *s, struct amount *batch, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char err[256];
        if (lx_store_keys_add_spend(s->store, batch[i].id, batch[i].usd, err, sizeof(err)) ==
            LX_ERR)
            lx_log_warn("spend: could not record %.6f USD for key %s: %s", batch[i].usd,
                        batch[i].id, err);
    }
}

static void *writer(void *arg)
{
    struct lx_store_spend *s = arg;
    struct amount *batch = malloc(LX_STORE_SPEND_MAX_PENDING * sizeof(*batch));
    pthread_mutex_lock(&s->lock);
    for (;;) {
        if (!s->stopping && s->n_pending < LX_STORE_SPEND_BATCH) {
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_nsec += LX_STORE_SPEND_FLUSH_MS * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->cond, &s->lock, &until);
        }
        size_t n = batch ? s->n_pending : 0;
        if (n)
            memcpy(batch, s->pending, n * sizeof(*batch));
        s->n_pending = 0;
        bool stop = s->stopping;
        pthread_mutex_unlock(&s->lock);
        write_batch(s, batch, n);
        if (stop)
            break;
        pthread_mutex_lock(&s->lock);
    }
    free(batch);
    return NULL;
}

struct lx_store_spend *lx_store_spend_new(const char *path, char *err, size_t errlen)
{
    struct lx_store_spend *s = calloc(1, sizeof(*s));
    if (s == NULL || !(s->pending = calloc(LX_STORE_SPEND_MAX_PENDING, sizeof(*s->pending))) ||
        !(s->totals = calloc(TOTAL_SLOTS, sizeof(*s->totals)))) {
        snprintf(err, errlen, "out of memory");
        goto fail_alloc;
    }
    if ((s->store = lx_store_keys_open(path, err, errlen)) == NULL)
        goto fail_alloc;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&s->thread, NULL, writer, s) != 0) {
        snprintf(err, errlen, "cannot start the spend writer thread");
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->cond);
        lx_store_keys_close(s->store);
        goto fail_alloc;
    }
    return s;
fail_alloc:
    if (s) {
        free(s->pending);
        free(s->totals);
    }
    free(s);
    return NULL;
}

void lx_store_spend_free(struct lx_store_spend *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    if (s->dropped)
        lx_log_warn("spend: %llu amounts were not recorded (batch full)",
                    (unsigned long long)s->dropped);
    lx_store_keys_close(s->store);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s->pending);
    free(s->totals);
    free(s);
}

double lx_store_spend_seen(struct lx_store_spend *s, const char *key_id, double spent_usd)
{
    if (strlen(key_id) >= KEY_ID_MAX)
        return spent_usd;
    struct total *t = find_total(s, key_id);
    if (t == NULL || (t->id[0] == '\0' && s->n_totals >= LX_STORE_SPEND_MAX_TRACKED))
        return spent_usd;
    if (t->id[0] == '\0') {
        snprintf(t->id, sizeof(t->id), "%s", key_id);
        t->usd = spent_usd;
        s->n_totals++;
    } else if (spent_usd > t->usd) {
        t->usd = spent_usd;
    }
    return t->usd;
}

double lx_store_spend_total(const struct lx_store_spend *s, const char *key_id)
{
    const struct total *t = strlen(key_id) < KEY_ID_MAX ? find_total(s, key_id) : NULL;
    return t && t->id[0] ? t->usd : -1;
}

void lx_store_spend_add(struct lx_store_spend *s, const char *key_id, double usd)
{
    if (!(usd > 0) || key_id[0] == '\0' || strlen(key_id) >= KEY_ID_MAX)
        return;
    struct total *t = find_total(s, key_id);
    if (t && t->id[0])
        t->usd += usd;
    pthread_mutex_lock(&s->lock);
    size_t i = 0;
    while (i < s->n_pending && strcmp(s->pending[i].id, key_id) != 0)
        i++;
    if (i == s->n_pending && i == LX_STORE_SPEND_MAX_PENDING) {
        s->dropped++;
    } else {
        if (i == s->n_pending) {
            snprintf(s->pending[i].id, sizeof(s->pending[i].id), "%s", key_id);
            s->pending[i].usd = 0;
            s->n_pending++;
        }
        s->pending[i].usd += usd;
        if (s->n_pending == LX_STORE_SPEND_BATCH)
            pthread_cond_signal(&s->cond);
    }
    pthread_mutex_unlock(&s->lock);
}
