/*
 * upstream.h — outgoing HTTP requests on the event loop (libcurl multi on
 * libuv), with the four timeouts, pause/resume and cancel.
 *
 * One engine per loop keeps curl's connection pool, so requests to a
 * backend reuse keep-alive connections. A request reports, in order:
 * on_head once (status and content type, when the response headers are
 * complete), on_data for each piece of the body, and on_done exactly once
 * with the outcome — unless it is cancelled, after which nothing is called.
 *
 * Timeouts: connect and total are curl's; time to first byte runs from the
 * start until the response headers; idle runs between body pieces and is
 * suspended while the request is paused by its consumer.
 */
#ifndef LX_UPSTREAM_H
#define LX_UPSTREAM_H

#include <uv.h>

#include "../core/core.h"
#include "../core/str.h"

struct lx_upstream;     /* the engine */
struct lx_upstream_req; /* one request */

enum lx_upstream_result {
    LX_UPSTREAM_DONE = 0,       /* the whole response was received */
    LX_UPSTREAM_CONNECT_FAILED, /* could not reach the backend */
    LX_UPSTREAM_TIMEOUT_CONNECT,
    LX_UPSTREAM_TIMEOUT_FIRST_BYTE,
    LX_UPSTREAM_TIMEOUT_IDLE,
    LX_UPSTREAM_TIMEOUT_TOTAL,
    LX_UPSTREAM_BROKEN,  /* connection reset or truncated response */
    LX_UPSTREAM_ABORTED, /* the consumer refused the data (on_data error) */
};

const char *lx_upstream_result_str(enum lx_upstream_result r);
/* True for the timeout results. */
bool lx_upstream_result_is_timeout(enum lx_upstream_result r);

/* What on_data returns: LX_OK when it took the bytes, LX_AGAIN to pause
 * (the same bytes are delivered again after lx_upstream_resume()), LX_ERR
 * to abort (on_done follows with LX_UPSTREAM_ABORTED). */
struct lx_upstream_cbs {
    void (*on_head)(void *data, int status, lx_str content_type);
    int (*on_data)(void *data, const char *p, size_t n);
    void (*on_done)(void *data, enum lx_upstream_result result, const char *detail);
};

struct lx_upstream_opts {
    const char *method;         /* "GET" or "POST" */
    const char *url;            /* NUL-terminated */
    const char *const *headers; /* "name: value" lines, NULL-terminated; copied */
    const char *body;           /* borrowed: must outlive the request */
    size_t body_len;
    uint32_t connect_ms, first_byte_ms, idle_ms, total_ms;
};

struct lx_upstream *lx_upstream_new(uv_loop_t *loop);
/* Cancels every request still running and frees the engine; call with the
 * loop alive, then run it until its handles are closed. */
void lx_upstream_free(struct lx_upstream *u);

/* Starts a request. Returns NULL when curl refuses (out of memory). */
struct lx_upstream_req *lx_upstream_start(struct lx_upstream *u,
                                          const struct lx_upstream_opts *opts,
                                          const struct lx_upstream_cbs *cbs, void *data);
void lx_upstream_resume(struct lx_upstream_req *r);
/* The response's Retry-After header in seconds (delay-seconds form only),
 * 0 when it has none. Meaningful from on_head on. */
uint32_t lx_upstream_retry_after(const struct lx_upstream_req *r);
/* Stops the request at once; no callback follows. Safe to call from any
 * callback of this request except from within on_data (return LX_ERR there). */
void lx_upstream_cancel(struct lx_upstream_req *r);

#endif
