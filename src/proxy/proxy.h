/*
 * proxy.h — the exchange: one client request from decode to the last byte.
 *
 * The proxy ties the stages together for each request — read the body,
 * resolve the model, splice the edits, send it upstream, relay the answer
 * (streamed event by event with backpressure, or whole), normalise errors,
 * write the audit record — and owns the exchange's lifetime: an exchange
 * ends when both the client side and the upstream side are done, whichever
 * finishes first. It also runs the backends' health checks.
 *
 * One proxy per event loop; not thread-safe.
 */
#ifndef LX_PROXY_H
#define LX_PROXY_H

#include <uv.h>

#include "../config/config.h"
#include "../http/http.h"
#include "../obs/audit.h"
#include "../route/route.h"

struct lx_proxy;

/* Creates the proxy for cfg (it takes a reference). audit may be NULL (no
 * audit log); the proxy borrows it and it must outlive the proxy. */
struct lx_proxy *lx_proxy_new(uv_loop_t *loop, struct lx_config *cfg, struct lx_audit *audit);
/* Frees the proxy. Exchanges still running are cancelled first. Run the
 * loop afterwards until its handles are closed. */
void lx_proxy_free(struct lx_proxy *p);

/* Starts the periodic health checks (the first one at once). */
void lx_proxy_start_health(struct lx_proxy *p);

/* LX_PROXY_RESP_INPUT_TOKENS and LX_PROXY_RESP_COMPACT are POST
 * /v1/responses/input_tokens and /v1/responses/compact: Responses
 * exchanges with their own answer (compact.c). */
enum lx_proxy_endpoint {
    LX_PROXY_CHAT,
    LX_PROXY_EMBEDDINGS,
    LX_PROXY_RESPONSES,
    LX_PROXY_RESP_INPUT_TOKENS,
    LX_PROXY_RESP_COMPACT,
};

/* Handles one request to an endpoint. request_id is copied. */
void lx_proxy_handle(struct lx_proxy *p, enum lx_proxy_endpoint ep, struct lx_http_req *req,
                     const char *request_id);

/* Who sent a request, as the api authenticated it. */
struct lx_proxy_caller {
    const char *key_id; /* public id, copied into the audit record */
    /* Whether the caller may use the public model name model; called once,
     * during lx_proxy_handle_as(), with key as its first argument. A refusal
     * is answered 403 model_not_allowed. */
    bool (*model_allowed)(const void *key, lx_str model);
    const void *key;
    /* The key's admission class (enum lx_route_priority: 1 low, 2 normal,
     * 3 high); 0 = unset (normal, or the x-llmux-priority header when
     * priority.header is on). The header may lower a key's class, never
     * raise it. */
    uint8_t priority;
    /* The key's settings (store/keys.h); the proxy copies what it keeps.
     * tools NULL: any tool; tags: recorded in the audit record. */
    const char *const *tools;
    size_t n_tools;
    const char *const *tags;
    size_t n_tags;
    uint32_t max_concurrent;      /* 0: no cap; else 429 concurrency_limit_exceeded */
    uint32_t rpm;                 /* 0: rate_limits.per_key_rpm; else the key's own rpm */
    uint32_t tpm;                 /* 0: rate_limits.per_key_tpm; else the key's own tpm */
    double budget_usd, spent_usd; /* budget 0: none; spent >= budget: 429 insufficient_quota */
};
/* lx_proxy_handle() for an authenticated caller (NULL: none). caller and
 * what it points to need to live only during the call. */
void lx_proxy_handle_as(struct lx_proxy *p, enum lx_proxy_endpoint ep, struct lx_http_req *req,
                        const char *request_id, const struct lx_proxy_caller *caller);

/* Answers with OpenAI's error shape and records the request in the audit
 * log (for errors found before an exchange exists: bad path, limits). */
void lx_proxy_reject(struct lx_proxy *p, struct lx_http_req *req, const char *request_id,
                     int status, const char *message, const char *type, const char *code);

/* Exchanges in progress (for the drain on shutdown). */
uint32_t lx_proxy_in_flight(const struct lx_proxy *p);
/* Cancels every exchange in progress (drain timeout). */
void lx_proxy_cancel_all(struct lx_proxy *p);

struct lx_route *lx_proxy_route(struct lx_proxy *p);
/* The running snapshot (new requests start on it; borrowed: take a
 * reference to keep it past the next reload). */
struct lx_config *lx_proxy_config(struct lx_proxy *p);

/* --- reload, rollback, drain (reload.c; docs/config.md "Reload") ---------
 *
 * A reload replaces the running snapshot and the routing registry for new
 * requests; exchanges in flight finish on the snapshot and registry they
 * began with. Backends that keep their name and url keep their live state
 * (route.h lx_route_new_from). Listeners, auth, admin, audit, stored
 * responses, rate limits and drain_timeout_ms keep their start values (a
 * reload that changes them says so in the log). Every reload and rollback
 * writes an audit line and counts in llmux_config_reloads_total{result}. */

/* Reads the configuration again as at start (the file, then the flags and
 * environment variables that adjust it). LX_OK: *out is a new validated
 * snapshot (refcount 1) and hash the hex SHA-256 of the file's bytes;
 * LX_ERR: "FILE:LINE:COL: message" in err. */
typedef int (*lx_proxy_loader)(void *data, struct lx_config **out, char *hash, char *err,
                               size_t errlen);
/* Gives the proxy its loader (data is borrowed and must outlive the
 * proxy) and the hash of the file the running snapshot came from ("" or
 * NULL: the built-in default); the running snapshot becomes the first
 * entry of the history. Without a loader a reload fails. */
void lx_proxy_set_loader(struct lx_proxy *p, lx_proxy_loader load, void *data, const char *hash);
/* Loads the configuration through the loader and, when it is valid,
 * applies it. trigger ("sighup", "admin") goes to the log and the audit
 * line. LX_ERR with the reason in err: the running config is untouched. */
int lx_proxy_reload(struct lx_proxy *p, const char *trigger, char *err, size_t errlen);
/* Applies the previous good configuration again (the same path as a
 * reload) and drops the current one from the history. LX_ERR with the
 * reason in err when there is none (or it cannot be applied). */
int lx_proxy_rollback(struct lx_proxy *p, const char *trigger, char *err, size_t errlen);
/* Writes {"object":"list","data":[{"current","sha256","applied_at",
 * "source","backends","models"}]}, the running config first. */
int lx_proxy_write_config_history(struct lx_proxy *p, lx_buf *out);
/* Drains (draining true) or undrains the backend named name: a draining
 * backend gets no new requests, those in flight or queued on it finish
 * (route.h lx_route_set_draining). LX_ERR when no backend has that name. */
int lx_proxy_set_draining(struct lx_proxy *p, const char *name, bool draining, const char *trigger);
/* The audit log the proxy writes to (NULL when off), for the api's own
 * records (admin calls). */
struct lx_audit *lx_proxy_audit(struct lx_proxy *p);
/* Requests of the key key_id in flight now (those counted against its
 * max_concurrent). */
uint32_t lx_proxy_key_in_flight(const struct lx_proxy *p, const char *key_id);

struct lx_store_resp;
/* Gives the proxy the stored-responses store (NULL: storing is off). The
 * proxy borrows it: whoever opened it (main.c) closes it after the proxy
 * is freed. */
void lx_proxy_set_resp_store(struct lx_proxy *p, struct lx_store_resp *s);
struct lx_store_resp *lx_proxy_resp_store(const struct lx_proxy *p);

/* A request the api answered without an exchange (the stored-responses
 * endpoints): what its audit record says. Strings may be NULL (null in the
 * record) and need to live only during the call. */
struct lx_proxy_note {
    const char *request_id, *peer, *key_id, *endpoint, *model;
    int status;
    uint64_t t_start_us;                    /* lx_clock_mono_us() when it arrived */
    const char *error_type, *error_message; /* NULL when it succeeded */
};
/* Writes the audit record of such a request (nothing when audit is off). */
void lx_proxy_write_note(struct lx_proxy *p, const struct lx_proxy_note *n);
/* Appends the gateway's metrics in Prometheus' text format 0.0.4 (served
 * as text/plain; version=0.0.4) to out; live gauges are read now.
 * LX_ERR when out's cap is reached. */
int lx_proxy_write_metrics(struct lx_proxy *p, lx_buf *out);

/* The connection-local cache of WebSocket mode (RESPONSES.md 8): the
 * store:false responses of one connection, so previous_response_id chains
 * work without the store. The api makes one per connection and hands it to
 * the http module (lx_http_ws_opts.conn_cache); the Responses exchange
 * finds it with lx_http_req_conn_cache(). Holds at most max_entries (the
 * oldest goes first); each entry is a copy. */
struct lx_proxy_resp_cache;
struct lx_proxy_resp_cache *lx_proxy_resp_cache_new(uint32_t max_entries);
void lx_proxy_resp_cache_free(struct lx_proxy_resp_cache *c);
/* Forgets the response id (a failed continuation evicts what it named). */
void lx_proxy_resp_cache_evict(struct lx_proxy_resp_cache *c, lx_str id);
/* Entries held now. */
uint32_t lx_proxy_resp_cache_count(const struct lx_proxy_resp_cache *c);

#endif
