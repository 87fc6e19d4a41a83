/*
 * history.h — the last good configurations, for rollback.
 *
 * A short ring of published snapshots, newest (the running one) first,
 * each with the SHA-256 of the file bytes it was read from and the wall
 * time it was applied. The ring holds one reference per snapshot; pushing
 * past LX_CONFIG_HISTORY_MAX drops the oldest. Pure bookkeeping: nothing
 * here applies a snapshot (proxy/reload.c does). Not thread-safe.
 */
#ifndef LX_CONFIG_HISTORY_H
#define LX_CONFIG_HISTORY_H

#include "config.h"

enum {
    LX_CONFIG_HISTORY_MAX = 5, /* good configs kept, the running one included */
    LX_CONFIG_HASH_HEX = 65,   /* 64 hex digits of a SHA-256 and the NUL */
};

struct lx_config_history_entry {
    struct lx_config *cfg;         /* one reference, the ring's */
    char hash[LX_CONFIG_HASH_HEX]; /* of the file's bytes; "" for the built-in default */
    uint64_t applied_ms;           /* wall clock (ms since the epoch) when it was applied */
};

struct lx_config_history {
    struct lx_config_history_entry e[LX_CONFIG_HISTORY_MAX]; /* e[0]: the running one */
    size_t n;
};

void lx_config_history_init(struct lx_config_history *h);
/* Drops every reference the ring holds. */
void lx_config_history_release(struct lx_config_history *h);
/* Makes cfg the newest entry (the ring takes a reference of its own);
 * hash may be NULL (""). The oldest entry goes when the ring is full. */
void lx_config_history_push(struct lx_config_history *h, struct lx_config *cfg, const char *hash,
                            uint64_t applied_ms);
/* Drops the newest entry, so the one before it is newest again (a
 * rollback, once that one is applied). LX_ERR, and nothing changes, when
 * fewer than two entries are held. */
int lx_config_history_pop(struct lx_config_history *h);
/* Entry i, 0 being the newest; NULL past the end. */
const struct lx_config_history_entry *lx_config_history_get(const struct lx_config_history *h,
                                                            size_t i);

/* Writes the lowercase hex SHA-256 of len bytes at data into out.
 * LX_ERR (out "") when the digest cannot be computed. */
int lx_config_sha256_hex(const void *data, size_t len, char out[LX_CONFIG_HASH_HEX]);

/* lx_config_load_file that also hashes the bytes it read (hash gets ""
 * when the file could not be read). */
int lx_config_load_file_hashed(const char *path, struct lx_config **out,
                               char hash[LX_CONFIG_HASH_HEX], char *err, size_t errlen);

#endif
