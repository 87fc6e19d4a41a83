/*
 * spend.h — what API keys spend (issue 5 item 6): each request's cost is
 * added to its key's spent_usd in the key store, in batches on a writer
 * thread (never on the event loop), and a running total per key is kept in
 * memory so that a spent budget is refused on the very next request, before
 * the write lands.
 *
 * The writer wakes every LX_STORE_SPEND_FLUSH_MS, or at once when
 * LX_STORE_SPEND_BATCH amounts wait; amounts of one key within a batch are
 * summed into one UPDATE. Free flushes what is pending.
 *
 * Threads: lx_store_spend_add, _seen and _total are for the one thread
 * that owns the object (the event loop); only the pending batch is shared
 * with the writer, under a mutex.
 */
#ifndef LX_STORE_SPEND_H
#define LX_STORE_SPEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    LX_STORE_SPEND_FLUSH_MS = 500,
    LX_STORE_SPEND_BATCH = 64,
    LX_STORE_SPEND_MAX_PENDING = 4096, /* distinct keys waiting; more are dropped (logged) */
    LX_STORE_SPEND_MAX_TRACKED = 65536 /* keys with a running total in memory */
};

struct lx_store_spend;

/* Opens the key store at path for the writer and starts its thread. NULL
 * with a message in err on failure. */
struct lx_store_spend *lx_store_spend_new(const char *path, char *err, size_t errlen);
/* Writes what is pending, stops the thread, closes the store. */
void lx_store_spend_free(struct lx_store_spend *s);

/* A request of key_id is admitted knowing the store said spent_usd: the
 * running total becomes the larger of the two (the store's value grows
 * only, and may include spends of other llmux processes). Returns the
 * running total, which is what a budget is compared with. Keys past
 * LX_STORE_SPEND_MAX_TRACKED are not tracked: spent_usd is returned. */
double lx_store_spend_seen(struct lx_store_spend *s, const char *key_id, double spent_usd);
/* Adds usd (> 0) to key_id's running total (when tracked) and queues it
 * for the store. */
void lx_store_spend_add(struct lx_store_spend *s, const char *key_id, double usd);
/* The running total of key_id, or -1 when it is not tracked. */
double lx_store_spend_total(const struct lx_store_spend *s, const char *key_id);

#endif
