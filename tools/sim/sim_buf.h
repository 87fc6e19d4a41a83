/*
 * sim_buf.h - the simulator's one growable byte buffer.
 *
 * A buffer has a hard cap given at init: an append that would pass it fails, the buffer keeps
 * what it had and remembers the failure (sticky), so a writer can append many pieces and check
 * once with sim_buf_failed(). The buffer owns its storage; sim_buf_release() frees it and
 * sim_buf_detach() hands it to the caller.
 */
#ifndef SIM_BUF_H
#define SIM_BUF_H

#include <stddef.h>

#define SIM_OK 0
#define SIM_ERR (-1)

struct sim_buf {
    char *data; /* NUL-terminated when len > 0 */
    size_t len;
    size_t cap;
    size_t max; /* hard cap on len */
    int failed; /* an append was refused */
};

/* Makes an empty buffer that may grow to max bytes. Allocates nothing yet. */
void sim_buf_init(struct sim_buf *b, size_t max);
/* Frees the storage; the buffer is empty and usable again. */
void sim_buf_release(struct sim_buf *b);
/* Forgets the content but keeps the storage and the cap; clears the failure flag. */
void sim_buf_reset(struct sim_buf *b);
/* Appends n bytes. Returns SIM_OK, or SIM_ERR (and sets failed) past the cap or out of memory. */
int sim_buf_append(struct sim_buf *b, const void *p, size_t n);
/* Appends a NUL-terminated string. */
int sim_buf_puts(struct sim_buf *b, const char *s);
/* Appends printf-formatted text. */
int sim_buf_printf(struct sim_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s[0..n) as a quoted JSON string, escaping quotes, backslashes and control bytes. */
int sim_buf_json_str(struct sim_buf *b, const char *s, size_t n);
/* Appends s[0..n) escaped for the inside of a JSON string (no quotes). */
int sim_buf_json_esc(struct sim_buf *b, const char *s, size_t n);
/* Returns non-zero when an append was refused since init/reset. */
int sim_buf_failed(const struct sim_buf *b);
/* Hands the storage to the caller (free() it); the buffer is left empty. May return NULL. */
char *sim_buf_detach(struct sim_buf *b, size_t *len);

#endif
