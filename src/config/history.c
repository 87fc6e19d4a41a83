/* history.c — the ring of good configurations and the file hash (see
 * history.h). */
#include "history.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

void lx_config_history_init(struct lx_config_history *h)
{
    memset(h, 0, sizeof(*h));
}

void lx_config_history_release(struct lx_config_history *h)
{
    for (size_t i = 0; i < h->n; i++)
        lx_config_unref(h->e[i].cfg);
    memset(h, 0, sizeof(*h));
}

void lx_config_history_push(struct lx_config_history *h, struct lx_config *cfg, const char *hash,
                            uint64_t applied_ms)
{
    if (h->n == LX_CONFIG_HISTORY_MAX)
        lx_config_unref(h->e[--h->n].cfg);
    memmove(&h->e[1], &h->e[0], h->n * sizeof(h->e[0]));
    struct lx_config_history_entry *e = &h->e[0];
    e->cfg = lx_config_ref(cfg);
    snprintf(e->hash, sizeof(e->hash), "%s", hash ? hash : "");
    e->applied_ms = applied_ms;
    h->n++;
}

int lx_config_history_pop(struct lx_config_history *h)
{
    if (h->n < 2)
        return LX_ERR;
    lx_config_unref(h->e[0].cfg);
    h->n--;
    memmove(&h->e[0], &h->e[1], h->n * sizeof(h->e[0]));
    memset(&h->e[h->n], 0, sizeof(h->e[0]));
    return LX_OK;
}

const struct lx_config_history_entry *lx_config_history_get(const struct lx_config_history *h,
                                                            size_t i)
{
    return i < h->n ? &h->e[i] : NULL;
}

int lx_config_sha256_hex(const void *data, size_t len, char out[LX_CONFIG_HASH_HEX])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    out[0] = '\0';
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return LX_ERR;
    for (unsigned int i = 0; i < mdlen; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return LX_OK;
}
