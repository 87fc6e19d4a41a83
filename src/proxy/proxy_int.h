/*
 * proxy_int.h — what the proxy's files share: the proxy itself and the
 * exchange. Not for other modules.
 */
#ifndef LX_PROXY_INT_H
#define LX_PROXY_INT_H

#include "proxy.h"

#include "../core/arena.h"
#include "../config/history.h"
#include "../core/buf.h"
#include "../dialect/chat.h"
#include "../dialect/responses.h"
#include "../policy/ratelimit.h"
#include "../policy/ratelimit_redis.h"
#include "../policy/toolallow.h"
#include "../policy/toolcheck.h"
#include "../store/seal.h"
#include "../upstream/sse.h"
#include "../upstream/upstream.h"

struct exchange;
struct lx_resp_stream;
struct lx_chat_from_resp;
struct key_slots;
struct lx_proxy_rules;
struct lx_rules_ttft;
struct lx_store_spend;
struct lx_proxy_validate;

/* What the tool allowlists decided for one chat exchange (toolallow.h);
 * in the exchange's arena, made when first needed. */
struct tool_policy {
    struct lx_toolallow_list key, model; /* names == NULL: no list */
    struct lx_toolallow_list offered;    /* what went upstream; valid when scanned */
    bool scanned;
    struct lx_toolallow_scan scan;
    const char
        *offer_action; /* static: "refused" or "stripped" when the request had denied tools */
    struct lx_toolallow_stream gate;
    struct lx_toolallow_result calls; /* calls that did not reach the client */
    const char *call_action;          /* static: "refused" or "removed" */
};

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
    struct lx_ratelimit *key_limit;    /* per_key_rpm, or keys' own rpm; NULL without auth */
    struct lx_ratelimit *model_limit;  /* rate_limits.per_model_rpm; NULL when off */
    struct lx_ratelimit *key_tokens;   /* per_key_tpm, or keys' own tpm; NULL without auth */
    struct lx_ratelimit *model_tokens; /* rate_limits.per_model_tpm; NULL when off */
    struct lx_ratelimit_redis *redis;  /* rate_limits.store redis: instead of the four above */
    uint64_t limit_error_logged_ms;    /* limits.c: the last "store failed" log line */
    struct lx_store_resp *resp_store;  /* stored responses; NULL when off (borrowed) */
    struct key_slots *key_slots;       /* requests in flight per key with max_concurrent */
    struct exchange *spare;            /* freed exchanges kept with their buffers */
    struct proxy_metrics *obs;         /* observe.c; NULL when it could not start */
    struct lx_rules_ttft *ttft;        /* routing.c: recent TTFT per backend */
    struct lx_store_spend *spend;      /* routing.c: key spend accrual; NULL without auth */
    struct lx_seal seal;               /* compaction items' key (compact.c) */
    struct lx_config_history *history; /* reload.c: the last good configs, cfg first */
    lx_proxy_loader loader;            /* reload.c: NULL: nothing to reload from */
    void *loader_data;
    uint32_t n_spare;
    bool health_started; /* lx_proxy_start_health ran: a reload restarts the checks */
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
    uint8_t deployment; /* lx_config_model_deployment index: the set, then the fallbacks */
    uint8_t candidates; /* picked by the balancer among this many; 0: not picked (a
                           fallback, a retry of the same one, a skip) */
    uint16_t weight;    /* when picked: its weight and its backend's outstanding count */
    uint32_t outstanding;
    int16_t status;     /* the backend's HTTP status; 0 when none */
    const char *result; /* static: "done", "connect_failed", ..., "busy", "cancelled", or a
                           skipped deployment: "unhealthy", "circuit_open", "pin_missing" */
    uint32_t ms;        /* from the attempt's start to its end */
};

enum { MAX_ATTEMPTS = 16 };

struct exchange {
    struct lx_proxy *p;
    /* The snapshot and registry current when the exchange began, one
     * reference each: it finishes on them across reloads, and gives its
     * slot back to the registry it took it from. */
    struct lx_config *cfg;
    struct lx_route *route;
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
    uint32_t set_tried;                      /* bits of the set's deployments tried or skipped */
    struct lx_route_pick pick;               /* the balancer's last pick ... */
    bool picked;                             /* ... while its deployment is being tried */
    const struct lx_config_model *resolved;  /* the requested model after aliases, before A/B */
    const char *alias;                       /* the alias requested (config's), or NULL */
    char ab_arm;                             /* 'a', 'b', or 0 without a split */
    uint8_t priority;                        /* enum lx_route_priority */
    uint32_t queued_behind, queued_behind_class; /* queue length (all / its class) when it
                                                    last joined a queue */
    uint8_t tries;                               /* attempts made on it so far */
    uint8_t n_attempts;
    bool probe;              /* the current attempt is its backend's half-open circuit probe */
    uint32_t retry_after_ms; /* the last failure's Retry-After (429/503), 0 when none */
    uint64_t t_attempt_us;   /* when the current attempt began */
    struct attempt attempts[MAX_ATTEMPTS];
    lx_str model_raw; /* the requested model as the client wrote it, without quotes */
    /* LX_PROXY_RESPONSES (resp.c) */
    struct lx_ir_request ir;       /* the decoded request */
    struct lx_resp_stream *rs;     /* the stream translator of the current attempt */
    struct lx_resp_meta meta;      /* id, created_at: what the response object says */
    char resp_id[40];              /* "resp_" + 32 hex digits */
    lx_str resp_body;              /* the body with item references resolved (itemref.c) */
    uint8_t resp_kind;             /* enum lx_proxy_resp_kind: create, input_tokens, compact */
    bool compaction_opened;        /* compaction items in ex->ir hold their summary (compact.c) */
    bool passthrough;              /* the attempt's backend speaks Responses itself */
    bool reverse;                  /* a chat client, this attempt's backend speaks only Responses */
    bool rev_decoded;              /* ex->ir holds the chat request (reverse.c) */
    bool rev_include_usage;        /* the chat client asked for the usage chunk */
    struct lx_chat_from_resp *crs; /* reverse: the attempt's stream translator */
    lx_buf *rev_out;               /* reverse: heap, the translated body or chunks */
    bool store_pending;            /* a store operation will call back: keep the exchange */
    bool resp_finishing;           /* the answer is complete and waits for the store */
    bool resp_store;               /* the response is to be stored (store, default_store) */
    lx_buf *resp_out;              /* heap: the answer held until the store has it */
    uint32_t relayed;              /* passthrough: events relayed so far */
    lx_arena arena;                /* request lifetime */
    lx_arena scratch;              /* reset after each stream event */
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
    /* x-ratelimit-*-tokens values of the tightest token limit; "" when none */
    char rlt_limit[12], rlt_remaining[12], rlt_reset[LX_RATELIMIT_DURATION_LEN];
    uint32_t key_tpm;            /* the key's own tpm; 0: rate_limits.per_key_tpm */
    uint32_t key_max_concurrent; /* the key's max_concurrent, for after the limits' check */
    bool limit_pending;          /* limits.c: Redis will call back: keep the exchange */
    void (*limit_resume)(struct exchange *ex); /* ... and then this, when admitted */
    bool limits_admitted;     /* the limits let it in: its tokens are charged at the end */
    const char *rate_limited; /* static: "key" or "model" when refused, else NULL */
    /* key governance (govern.c): the key's tags (in arena) for
     * the record, whether the exchange holds one of its key's concurrency
     * slots, what refused it ("concurrency", "budget"), the tool policy */
    const char **tags;
    size_t n_tags;
    uint32_t key_rpm; /* the key's own rpm; 0: rate_limits.per_key_rpm */
    bool holds_key_slot;
    const char *key_limited;
    struct tool_policy *tools;
    lx_buf held; /* framed stream events the tool gate holds; released in maybe_free */
    /* routing.c: the request's facts for routing.rules (arena; NULL without
     * rules), and the cost of the exchange once known */
    struct lx_proxy_rules *rules;
    double cost_usd;
    bool cost_known;
    struct lx_proxy_validate *valid; /* validate.c: heap; NULL until a check needs it */
};

/* exchange.c: frees the spare exchanges. */
void lx_proxy_free_spares(struct lx_proxy *p);
/* exchange.c: ends the exchanges whose client left while they waited for
 * the backend (cancelling the backend's work). */
void lx_proxy_watch_clients(struct lx_proxy *p);

/* observe.c: registers the metrics (LX_ERR: out of memory), frees them. */
int lx_proxy_metrics_init(struct lx_proxy *p);
void lx_proxy_metrics_release(struct lx_proxy *p);
/* observe.c: the zero series of every backend of p->cfg (at start and
 * after a reload; series of backends a reload removed keep their values). */
void lx_proxy_metrics_backends(struct lx_proxy *p);
/* observe.c: counts a reload or rollback: result "ok", "invalid", "failed". */
void lx_proxy_observe_reload(struct lx_proxy *p, const char *result);
/* exchange.c <-> reload.c: the snapshot and registry an exchange runs on
 * (one reference each, taken when it begins, dropped when it is freed). */
void lx_proxy_snapshot_take(struct exchange *ex);
void lx_proxy_snapshot_drop(struct exchange *ex);
/* reload.c: frees the config history (with the proxy). */
void lx_proxy_history_free(struct lx_proxy *p);
/* observe.c: counts a finished exchange (called once, with its audit record). */
void lx_proxy_observe(struct lx_proxy *p, const struct exchange *ex);
/* observe.c: an exchange left backend's queue after waiting since since_us
 * (monotonic; 0: it was not queued, nothing is observed). */
void lx_proxy_observe_queue_wait(struct lx_proxy *p, const char *backend, uint64_t since_us);
/* exchange.c: answering the client, for resp.c. */
void lx_ex_respond(struct exchange *ex, int status, const char *body, size_t len);
void lx_ex_respond_error(struct exchange *ex, int status, const char *message, const char *type,
                         const char *param, const char *code);
void lx_ex_client_end(struct exchange *ex);
void lx_ex_note_error(struct exchange *ex, const char *type, const char *message);
void lx_ex_start_attempt(struct exchange *ex);
void lx_ex_maybe_free(struct exchange *ex);

/* resp.c: the Responses front door (POST /v1/responses) over a chat
 * backend. */
/* Decodes the body into ex->ir and names the model; answers 400 and
 * returns LX_ERR on a bad request. */
int lx_proxy_resp_read(struct exchange *ex);
/* Starts a decoded request: loads the previous response's context when
 * previous_response_id is given (asynchronously), checks the tool-call
 * ids, then starts the first attempt. */
void lx_proxy_resp_start(struct exchange *ex);
/* Writes the upstream body of the current attempt into ex->upstream_body. */
int lx_proxy_resp_encode(struct exchange *ex);
/* One SSE event of the backend's chat stream (kind as classified). Returns
 * LX_OK, LX_ERR (stop: the client is gone) or 1 (the stream has ended). */
int lx_proxy_resp_event(struct exchange *ex, enum lx_chat_chunk kind, lx_str data);
/* Passthrough: relays one event of a Responses backend untouched. */
int lx_proxy_resp_relay(struct exchange *ex, const lx_sse_event *ev);
/* One chat chunk that passed the policies: translated and sent. */
int lx_proxy_resp_feed(struct exchange *ex, lx_str data);
/* The backend's stream ended without [DONE]: ends the client's stream. */
void lx_proxy_resp_stream_end(struct exchange *ex);
/* Ends a started stream with error + response.failed. */
void lx_proxy_resp_stream_fail(struct exchange *ex, const char *message, const char *code);
/* validate.c: refuses an answer to a streamed client with error +
 * response.failed, opening the stream (response.created) first when
 * nothing was sent yet. */
void lx_proxy_resp_stream_refuse(struct exchange *ex, const char *message, const char *code);
/* validate.c: one chat chunk the validation let go: through the allowlist
 * gate, then translated and sent. LX_OK, or not: the stream has ended. */
int lx_proxy_resp_pass(struct exchange *ex, lx_str data);
/* A whole 2xx chat.completion: answers with the response object. */
void lx_proxy_resp_whole(struct exchange *ex, lx_str body);
/* Frees the per-attempt stream state. */
void lx_proxy_resp_reset(struct exchange *ex);
/* compact.c: POST /v1/responses/input_tokens and /v1/responses/compact,
 * and compaction items. */
/* Maps *ep to the exchange kind it runs as (LX_PROXY_RESPONSES for both)
 * and returns the exchange's resp_kind. */
uint8_t lx_proxy_resp_kind_of(enum lx_proxy_endpoint *ep);
/* The path a Responses backend gets the exchange on (passthrough). */
const char *lx_proxy_resp_path(const struct exchange *ex);
/* Opens the compaction items of ex->ir (once per exchange): LX_OK, or
 * LX_AGAIN after answering 400 invalid_encrypted_content. */
int lx_proxy_compact_open(struct exchange *ex);
/* The chat body of an input_tokens or compact attempt into
 * ex->upstream_body. LX_OK or LX_ERR (a cap). */
int lx_proxy_compact_encode(struct exchange *ex, const struct lx_resp_chat_opts *o);
/* A whole 2xx chat answer of an input_tokens or compact exchange:
 * answers and returns true; false for POST /v1/responses. */
bool lx_proxy_compact_whole(struct exchange *ex, lx_str body);
/* respcache.c: WebSocket mode's connection-local cache (proxy.h). */
struct lx_store_resp_rec;
/* The entry for id made under key_id, or NULL; valid until the next put
 * or evict. */
const struct lx_store_resp_rec *lx_proxy_resp_cache_get(struct lx_proxy_resp_cache *c,
                                                        const char *id, const char *key_id);
/* Keeps a copy of rec's id, key_id, input and output. */
int lx_proxy_resp_cache_put(struct lx_proxy_resp_cache *c, const struct lx_store_resp_rec *rec);
/* govern.c: per-key governance and tool allowlists in the exchange. */
int lx_proxy_key_slots_new(struct lx_proxy *p);
void lx_proxy_key_slots_free(struct lx_proxy *p);
/* Takes a concurrency slot for ex's key when its key has max_concurrent;
 * LX_ERR after answering 429 concurrency_limit_exceeded. */
int lx_proxy_key_slot_take(struct exchange *ex, uint32_t max_concurrent);
/* Gives the slot back (every end of an exchange comes through here once). */
void lx_proxy_key_slot_give(struct exchange *ex);
/* Copies the caller's tags and tool list; refuses a spent budget (429
 * insufficient_quota). LX_ERR when it answered. */
int lx_proxy_key_settings(struct exchange *ex, const struct lx_proxy_caller *caller);
/* /v1/responses: redacts the IR's texts (instructions, message parts,
 * call arguments and outputs) with the input detectors, once the whole
 * context is in; LX_AGAIN with a message when a block detector matched. */
int lx_proxy_redact_ir(struct exchange *ex, char *msg, size_t msglen);
/* Checks the request's tools against the key's and the model's
 * allowlists: 403 tool_not_allowed, or strips them (policy.forbidden_tools).
 * LX_ERR when it answered. */
int lx_proxy_tools_check_request(struct exchange *ex);
/* A whole 2xx chat answer: LX_OK with *body unchanged or pointing at an
 * edited copy (failing calls removed), or LX_ERR after answering 502. */
int lx_proxy_tools_check_answer(struct exchange *ex, lx_str *body);
/* One stream event's data: LX_OK to send it now (after the held ones),
 * LX_AGAIN when it was held, LX_ERR after ending the stream. */
int lx_proxy_tools_gate(struct exchange *ex, lx_str data);
/* The stream ends: LX_ERR after ending it when a held call never got a name. */
int lx_proxy_tools_gate_end(struct exchange *ex);

/* exchange.c, for govern.c: answer with an error (status, OpenAI's shape,
 * extra may be NULL); end a started stream with an error chunk; write to
 * a started stream. */
void lx_proxy_refuse(struct exchange *ex, int status, const char *message, const char *type,
                     const char *param, const char *code, const lx_http_header *extra);
void lx_proxy_stream_fail(struct exchange *ex, const char *message, const char *code);
int lx_proxy_client_write(struct exchange *ex, const char *p, size_t n);
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

/* exchange.c, for reverse.c: one chat chunk through the chat client's
 * pipeline (classify, count, redact, gate, relay). As an SSE callback. */
int lx_ex_chat_event(struct exchange *ex, lx_str data);
/* exchange.c, for validate.c: one chunk the validation let go, through the
 * allowlist gate to the client (LX_OK, or not: the stream ended); the
 * next attempt, started from start_handle (never inside a callback). */
int lx_ex_pass_event(struct exchange *ex, lx_str data);
void lx_ex_schedule_attempt(struct exchange *ex);

/* validate.c: policy.tool_calls and policy.structured_output on chat
 * exchanges (whole and streamed answers) and repair. Each is a no-op
 * (LX_OK / false) when both policies are off. */
/* One stream chunk: LX_OK to send it now, LX_AGAIN when it was held (or a
 * repair waits for the stream's end), LX_ERR after ending the stream. */
int lx_proxy_validate_chunk(struct exchange *ex, lx_str data);
/* The stream ends: checks and lets go what is held. LX_ERR when the stream
 * was ended or a repair waits. */
int lx_proxy_validate_end(struct exchange *ex);
/* A whole 2xx chat answer: LX_OK to send it; LX_ERR after answering (502
 * invalid_tool_call / invalid_structured_output) or after scheduling a
 * repair attempt. Fills ex->toolcheck. */
int lx_proxy_validate_whole(struct exchange *ex, lx_str body);
/* A stream's invalid answer waits for its upstream's end to be repaired. */
bool lx_proxy_repair_pending(const struct exchange *ex);
/* Schedules the pending repair (lx_ex_schedule_attempt). */
void lx_proxy_repair_start(struct exchange *ex);
/* The attempts from now on are repairs (their body is lx_proxy_repair_encode's). */
bool lx_proxy_repair_wanted(const struct exchange *ex);
/* Writes the repair request into ex->upstream_body: non-streamed, with the
 * invalid message and the error appended. LX_AGAIN after answering. */
int lx_proxy_repair_encode(struct exchange *ex);
/* Sends a checked whole answer to a streamed client as chunks, [DONE];
 * for /v1/responses, feeds the chunks to the translator and ends the
 * stream with response.completed. */
void lx_proxy_repair_stream(struct exchange *ex, lx_str body);
/* /v1/responses over a chat backend: reads the attempt's chat body
 * (ex->upstream_body, just encoded) into ex->cr so the checks and the
 * repair body use its tools and response_format; for a repair attempt,
 * rewrites ex->upstream_body as the repair request. No-op when both
 * policies are off. LX_OK, LX_ERR (a cap) or LX_AGAIN after answering. */
int lx_proxy_validate_resp_body(struct exchange *ex);
/* A new attempt: forgets the stream holder. */
void lx_proxy_validate_reset_attempt(struct exchange *ex);
/* Frees the exchange's validation state. */
void lx_proxy_validate_release(struct exchange *ex);
/* record.c: "repairs" and "structured_output" of the audit record. */
void lx_proxy_validate_record(const struct exchange *ex, lx_jw *w);

/* reverse.c: calls fn on the data of each "data: X\n\n" chunk of chunks
 * (the gateway's own held or translated chunks), in order; stops at the
 * first result that is not LX_OK and returns it (LX_ERR on a malformed
 * chunk). */
int lx_proxy_each_chunk(struct exchange *ex, lx_str chunks,
                        int (*fn)(struct exchange *ex, lx_str data));

/* reverse.c: a chat client over a backend that speaks only Responses
 * (RESPONSES.md 13). */
/* True when the current attempt's backend is such a backend. */
bool lx_proxy_rev_wanted(struct exchange *ex);
/* Writes the Responses body of the attempt; LX_AGAIN after answering 400
 * when the chat request has no Responses form. */
int lx_proxy_rev_encode(struct exchange *ex);
/* A whole 2xx Responses body: *body becomes the chat.completion, or
 * LX_ERR after answering. */
int lx_proxy_rev_whole(struct exchange *ex, lx_str *body);
/* One Responses event: its chat chunks go to lx_ex_chat_event. */
int lx_proxy_rev_event(struct exchange *ex, const lx_sse_event *ev);
/* The backend's stream ended before its terminal event. */
void lx_proxy_rev_stream_end(struct exchange *ex);
/* Frees the attempt's translator (and, with all, the held buffer). */
void lx_proxy_rev_reset(struct exchange *ex, bool all);

/* routing.c: routing rules, cost and spend (route/rules.h, store/spend.h). */
/* The TTFT table and (with auth) the spend writer; LX_ERR when they could
 * not start. Release frees them (flushing pending spend). */
int lx_proxy_routing_init(struct lx_proxy *p);
void lx_proxy_routing_release(struct lx_proxy *p);
/* Reads the request's facts for the rules once (nothing without rules);
 * LX_ERR after answering 400 invalid_routing_header. */
int lx_proxy_rules_prepare(struct exchange *ex);
/* Why deployment d (NULL: a discovered id) on backend may not serve the
 * exchange: "not_local" (redaction tagged it sensitive), the name of the
 * first routing rule that skips it (arena), or NULL when it may. */
const char *lx_proxy_rules_skip(struct exchange *ex, size_t backend,
                                const struct lx_config_deployment *d);
/* When a routing rule skipped a deployment of the exchange: answers 503
 * no_deployment_for_rules naming it (why lists the skips) and returns true. */
bool lx_proxy_rules_refuse(struct exchange *ex, const char *why);
/* The exchange ends: notes its backend's TTFT, computes cost_usd from its
 * usage and the deployment's price, accrues it to its key. Once, before
 * its record is written. */
void lx_proxy_rules_end(struct exchange *ex);
/* What key_id has spent as far as this process knows: the larger of the
 * store's value and the running total (store/spend.h). */
double lx_proxy_spent_usd(struct lx_proxy *p, const char *key_id, double store_spent);

/* health.c */
void lx_proxy_health_cancel(struct lx_proxy *p);

/* record.c: the audit line of an exchange. */
void lx_proxy_write_record(struct lx_proxy *p, const struct exchange *ex);
/* Fills ex->prompt from the request's messages per the audit setting. */
void lx_proxy_capture_prompt(struct lx_proxy *p, struct exchange *ex, lx_str messages);

/* limits.c: the rate limits (rate_limits), in memory or in Redis. new:
 * LX_ERR when out of memory; free: NULL-safe parts. */
int lx_proxy_limits_new(struct lx_proxy *p);
void lx_proxy_limits_free(struct lx_proxy *p);
/* limits.c: checks ex against every limit that applies. LX_OK: admitted,
 * go on now; LX_ERR: answered (429, or 503 with on_error deny); LX_AGAIN:
 * Redis will answer — ex->limit_pending keeps the exchange, and once the
 * answer is in, resume(ex) runs when admitted and the client is still
 * there (else the refusal is answered), then lx_ex_maybe_free(ex). */
int lx_proxy_limits_admit(struct exchange *ex, void (*resume)(struct exchange *ex));
/* limits.c: charges the exchange's tokens (prompt + completion, as the
 * backend reported them) to its token limits; once, when it ends. */
void lx_proxy_limits_charge(struct exchange *ex);
/* observe.c: a rate-limit store error, by the action taken ("allow",
 * "deny"). */
void lx_proxy_observe_limit_error(struct lx_proxy *p, const char *action);

#endif
