/*
 * audit.h — the audit log: one JSON line per request, written by a thread
 * of its own so that the event loop never waits on the disk.
 *
 * The loop hands over finished lines; the writer thread appends them to
 * the file in batches. The queue has a cap in lines: when the disk cannot
 * keep up, new lines are dropped and counted rather than blocking a
 * request (lx_audit_dropped()).
 */
#ifndef LX_AUDIT_H
#define LX_AUDIT_H

#include "../core/core.h"

struct lx_audit;

/* Opens (appends to) path — "-" is stderr — and starts the writer thread.
 * NULL on failure, with a message in err. */
struct lx_audit *lx_audit_new(const char *path, uint32_t queue_max, char *err, size_t errlen);
/* Queues a copy of line (len bytes, without the trailing newline). */
void lx_audit_submit(struct lx_audit *a, const char *line, size_t len);
/* Lines dropped because the queue was full. */
uint64_t lx_audit_dropped(const struct lx_audit *a);
/* Writes what is queued, stops the thread, closes the file, frees a. */
void lx_audit_free(struct lx_audit *a);

#endif
