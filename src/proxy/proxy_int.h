/*
 * proxy_int.h — what the proxy's files share: the proxy itself and the
 * exchange. Not for other modules.
 */
#ifndef LX_PROXY_INT_H
#define LX_PROXY_INT_H

#include "proxy.h"

#include "../core/arena.h"
#include "../core/buf.h"
#include "../dialect/chat.h"
#include "../policy/ratelimit.h"
#include "../policy/toolcheck.h"
#include "../upstream/sse.h"
#include "../upstream/upstream.h"

struct exchange;

struct lx_proxy {
    uv_loop_t *loop;
    struct lx_config *cfg;
    struct lx_route *route;
    struct lx_upstream *upstream;
    struct lx_audit *audit;
    uv_timer_t *health_timer;    /* heap: its close outlives the proxy */
    uv_timer_t *watch_timer;     /* checks that waiting clients are still there */
    struct health_check *checks; /* one per backend while a round runs */
    struct exchange *exchanges;  /* doubly linked, for drain and cancel */
    uint32_t n_exchanges;
    struct lx_ratelimit *key_limit;   /* rate_limits.per_key_rpm; NULL when off */
    struct lx_ratelimit *model_limit; /* rate_limits.per_model_rpm; NULL when off */
    struct exchange *spare;           /* freed exchanges kept with their buffers */
    uint32_t n_spare;
    bool closing;
};

enum mode { MODE_NONE, MODE_WHOLE, MODE_SSE };

/* Where an exchange stands on its backend's admission queue. */
enum admission {
    ADMIT_NONE,    /* not waiting: never queued, or its upstream has started */
    ADMIT_QUEUED,  /* in the queue; start_handle runs the max_wait_ms timeout */
    ADMIT_GRANTED, /* handed a slot; start_handle (0 ms) starts the upstream */
    ADMIT_BACKOFF, /* between attempts; start_handle starts the next one */
};

/* One try of one deployment, for the audit record. */
struct attempt {
    uint16_t backend;   /* index into cfg->backends */
    uint8_t deployment; /* 0: the model's first, k: its fallbacks[k - 1] */
    int16_t status;     /* the backend's HTTP status; 0 when none */
    const char *result; /* static: "done", "connect_failed", ..., "busy", "cancelled", or a
                           skipped deployment: "unhealthy", "circuit_open", "pin_missing" */
    uint32_t ms;        /* from the attempt's start to its end */
};

enum { MAX_ATTEMPTS = 16 };

struct exchange {
    struct lx_proxy *p;
    struct exchange *prev, *next;
    struct lx_http_req *req;    /* NULL once the client side ended */
    struct lx_upstream_req *up; /* NULL once the upstream side ended */
    uv_timer_t free_handle;     /* closing it frees the exchange at a safe point */
    uv_timer_t start_handle;    /* queue timeout, deferred start when granted, backoff */
    uint8_t open_handles;       /* of the two above; the exchange is freed at 0 */
    enum admission admit;
    struct lx_route_waiter waiter;
    uint64_t t_queued_us, queue_us;          /* when it joined the queue; how long it stayed */
    const struct lx_config_model *model_cfg; /* NULL for a discovered id: one deployment */
    struct lx_chat_request cr;               /* the client's request (tokens in arena) */
    uint8_t deployment;                      /* the one being tried, as in struct attempt */
    uint8_t tries;                           /* attempts made on it so far */
    uint8_t n_attempts;
    bool probe;              /* the current attempt is its backend's half-open circuit probe */
    uint32_t retry_after_ms; /* the last failure's Retry-After (429/503), 0 when none */
    uint64_t t_attempt_us;   /* when the current attempt began */
    struct attempt attempts[MAX_ATTEMPTS];
    lx_arena arena;   /* request lifetime */
    lx_arena scratch; /* reset after each stream event */
    lx_buf upstream_body;
    lx_buf whole;  /* a non-streamed upstream body */
    lx_buf prompt; /* what the audit record keeps of the prompt */
    lx_sse_reader sse;
    struct lx_chat_tally tally;
    struct lx_toolcheck_result toolcheck; /* policy.tool_calls: what the check found */
    struct lx_proxy_redaction *redaction; /* redaction.c; NULL when none is configured */
    enum lx_proxy_endpoint endpoint;
    enum mode mode;
    size_t backend_index;
    bool acquired, stream, usage_asked, freeing;
    bool client_started, client_finished, client_gone, paused, saw_done;
    int upstream_status;
    int status; /* what the client got */
    uint64_t t_start_us, t_first_token_us, t_end_us;
    char request_id[132];
    char peer[64];
    char path[96];
    char model[128];
    char backend[128];
    char upstream_model[256];
    char error_type[40];
    char error_message[256];
    char upstream_result[24];
    char key_id[24]; /* the caller's public key id, "" without auth */
    /* x-ratelimit-* values of the tightest rate limit that applied; "" when none */
    char rl_limit[12], rl_remaining[12], rl_reset[LX_RATELIMIT_DURATION_LEN];
    const char *rate_limited; /* static: "key" or "model" when refused, else NULL */
};

/* exchange.c: frees the spare exchanges. */
void lx_proxy_free_spares(struct lx_proxy *p);
/* exchange.c: ends the exchanges whose client left while they waited for
 * the backend (cancelling the backend's work). */
void lx_proxy_watch_clients(struct lx_proxy *p);

/* redaction.c: the hooks that apply config.redaction to a chat exchange.
 * Each is a no-op (LX_OK) when redaction is not configured. */
/* Redacts the prompt in place of the request: the exchange's cr is re-read
 * over the redacted body. LX_OK; LX_AGAIN when a block detector matched
 * (msg names its kind, never the value: answer 400 content_blocked);
 * LX_ERR when the redacted body is over its cap (msg says so). */
int lx_proxy_redact_request(struct exchange *ex, char *msg, size_t msglen);
/* True when backend b may serve the exchange: always, unless redaction
 * tagged the request sensitive and b is not `local`. */
bool lx_proxy_redact_backend_ok(const struct exchange *ex, size_t b);
/* True when redaction tagged the request sensitive. */
bool lx_proxy_redact_sensitive(const struct exchange *ex);
/* Redacts and restores a whole 2xx chat answer; *body becomes the text to
 * send (owned by the exchange until the next call). */
int lx_proxy_redact_response(struct exchange *ex, lx_str *body);
/* The same for one stream chunk's data; *data becomes the text to send. */
int lx_proxy_redact_chunk(struct exchange *ex, lx_str *data);
/* The chunk with the text still held back at the end of a stream; an
 * empty *chunk when there is none. */
int lx_proxy_redact_stream_end(struct exchange *ex, lx_str *chunk);
/* A new attempt: forgets the previous attempt's stream state. */
void lx_proxy_redact_reset_attempt(struct exchange *ex);
/* Frees the exchange's redaction state. */
void lx_proxy_redact_release(struct exchange *ex);
/* record.c: the "redaction" member of the audit record (kinds, actions and
 * counts per direction, never a value); nothing when none ran. */
void lx_proxy_redact_record(const struct exchange *ex, lx_jw *w);

/* health.c */
void lx_proxy_health_cancel(struct lx_proxy *p);

/* record.c: the audit line of an exchange. */
void lx_proxy_write_record(struct lx_proxy *p, const struct exchange *ex);
/* Fills ex->prompt from the request's messages per the audit setting. */
void lx_proxy_capture_prompt(struct lx_proxy *p, struct exchange *ex, lx_str messages);

#endif
