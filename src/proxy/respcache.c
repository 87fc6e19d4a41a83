/*
 * respcache.c — the connection-local cache of WebSocket mode (proxy.h).
 *
 * A short list, newest first: a connection chains a few responses at a
 * time, so a linear search over max_entries (16 by default) is cheaper
 * than any index. Entries own copies of the id, key id, input and output
 * arrays; a lookup hands out a record that points into the entry and
 * stays valid until the next put or evict.
 */
#include "proxy_int.h"

#include <stdlib.h>
#include <string.h>

#include "../store/responses.h"

struct entry {
    struct entry *next;
    struct lx_store_resp_rec rec;
};

struct lx_proxy_resp_cache {
    struct entry *head;
    uint32_t n, max;
};

struct lx_proxy_resp_cache *lx_proxy_resp_cache_new(uint32_t max_entries)
{
    struct lx_proxy_resp_cache *c = calloc(1, sizeof(*c));
    if (c)
        c->max = max_entries ? max_entries : 1;
    return c;
}

static void entry_free(struct entry *e)
{
    free(e->rec.id);
    free(e->rec.key_id);
    free(e->rec.input);
    free(e->rec.output);
    free(e);
}

void lx_proxy_resp_cache_free(struct lx_proxy_resp_cache *c)
{
    if (c == NULL)
        return;
    for (struct entry *e = c->head, *next; e; e = next) {
        next = e->next;
        entry_free(e);
    }
    free(c);
}

uint32_t lx_proxy_resp_cache_count(const struct lx_proxy_resp_cache *c)
{
    return c ? c->n : 0;
}

void lx_proxy_resp_cache_evict(struct lx_proxy_resp_cache *c, lx_str id)
{
    for (struct entry **at = &c->head; *at; at = &(*at)->next) {
        if (lx_str_eq_cstr(id, (*at)->rec.id)) {
            struct entry *e = *at;
            *at = e->next;
            c->n--;
            entry_free(e);
            return;
        }
    }
}

const struct lx_store_resp_rec *lx_proxy_resp_cache_get(struct lx_proxy_resp_cache *c,
                                                        const char *id, const char *key_id)
{
    for (struct entry *e = c->head; e; e = e->next)
        if (strcmp(e->rec.id, id) == 0)
            return strcmp(e->rec.key_id, key_id) == 0 ? &e->rec : NULL;
    return NULL;
}

static char *copy(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

int lx_proxy_resp_cache_put(struct lx_proxy_resp_cache *c, const struct lx_store_resp_rec *rec)
{
    struct entry *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return LX_ERR;
    e->rec.id = copy(rec->id, strlen(rec->id));
    e->rec.key_id = copy(rec->key_id, strlen(rec->key_id));
    e->rec.input = copy(rec->input, rec->input_len);
    e->rec.output = copy(rec->output, rec->output_len);
    e->rec.input_len = rec->input_len;
    e->rec.output_len = rec->output_len;
    if (!e->rec.id || !e->rec.key_id || !e->rec.input || !e->rec.output) {
        entry_free(e);
        return LX_ERR;
    }
    e->next = c->head;
    c->head = e;
    if (++c->n > c->max) { /* drop the oldest */
        struct entry **at = &c->head;
        while ((*at)->next)
            at = &(*at)->next;
        entry_free(*at);
        *at = NULL;
        c->n--;
    }
    return LX_OK;
}
