/*
 * config.h — the gateway's configuration: YAML file ▶ validated, immutable,
 * refcounted snapshot.
 *
 * A snapshot is built once (from a file, from a string, or from the built-in
 * default), adjusted by command-line flags and environment variables through
 * the lx_config_set_* functions, then published; after that nobody changes
 * it. Whoever holds a pointer holds a reference (lx_config_ref/_unref); the
 * last unref frees it. Every string in it is owned by the snapshot.
 *
 * File format (docs/config.md has the full reference, examples/ has files):
 *
 *   listeners:                       # default: one, 127.0.0.1:LX_CONFIG_DEFAULT_PORT
 *     - address: 127.0.0.1:7711
 *     - address: 0.0.0.0:7443
 *       tls: { cert_file: cert.pem, key_file: key.pem }
 *   limits:
 *     max_body_bytes: 4194304        # request body; larger -> 413
 *     max_json_depth: 64             # nesting; deeper -> 400
 *     max_headers: 64                # request headers; more -> 431
 *     max_stream_buffer_bytes: 262144  # bytes held for a slow client before
 *                                      # the upstream read pauses
 *     max_sse_event_bytes: 1048576   # one upstream SSE event
 *     max_response_bytes: 16777216   # one non-streamed upstream body
 *   drain_timeout_ms: 10000          # SIGTERM: time in-flight requests get
 *   audit:
 *     path: llmux-audit.jsonl        # "" or "off" disables; "-" is stderr
 *     prompt: hash                   # full | hash | off
 *     queue_max: 65536               # lines waiting for the writer thread
 *   auth:
 *     enabled: false                 # true: every path but public_paths needs a key
 *     store: llmux-keys.db           # the SQLite key store (llmux keys create)
 *     public_paths: [/healthz, /readyz]  # exact paths answered without a key
 *   health:
 *     interval_ms: 5000              # GET {url}/models per backend
 *     timeout_ms: 2000
 *   rate_limits:                     # 0 = off
 *     per_key_rpm: 0                 # requests per minute per API key (auth on)
 *     per_model_rpm: 0               # requests per minute per public model name
 *     burst: 0                       # 0: rpm / 6 rounded up, at least 1
 *     per_key_tpm: 0                 # tokens per minute per API key (a key's tpm first)
 *     per_model_tpm: 0               # tokens per minute per public model name
 *     store: memory                  # memory (per instance) | redis (shared)
 *     redis:
 *       url: redis://127.0.0.1:6379/0
 *       key_prefix: "llmux:"
 *       timeout_ms: 50               # a later answer counts as an error
 *       on_error: allow              # allow | deny: when Redis fails or is slow
 *   responses:                       # stored responses (POST /v1/responses, store: true)
 *     store: llmux-responses.db      # SQLite file; "off": nothing is stored
 *     ttl_hours: 720                 # stored responses expire after this; 0 = never
 *     max_stored_bytes: 33554432     # response + input + output of one stored response
 *     reasoning_events: items        # items | openai | open_responses
 *     default_store: true            # what a request without "store" means
 *     encryption_key_env: NAME       # env var with 64 hex digits: the seal key
 *   admin:                           # the admin HTTP API (/admin/keys, /admin/config,
 *                                    # /admin/backends)
 *     enabled: false                 # true: needs the key in key_env at start
 *     key_env: LLMUX_ADMIN_KEY       # name of the variable holding the admin key
 *   policy:
 *     tool_calls: off                # off | flag | reject | repair: check the tool
 *                                    # calls of chat completions (toolcheck.h)
 *     structured_output: off         # off | flag | reject | repair: check content
 *                                    # against response_format's json_schema
 *     repair_attempts: 1             # 1..3: new questions to the model per answer
 *     forbidden_tools: reject        # reject | strip: a request offering a tool
 *                                    # its key or model does not allow (toolallow.h)
 *   redaction:                       # docs/config.md "redaction"
 *     detectors:                     # email|phone|card|iban|ip|ipv4|ipv6|secret
 *       - { name: email, action: pseudonym, direction: both }  # mask|pseudonym|block|tag,
 *                                    # input|output|both (default mask, both)
 *     custom:                        # name [a-z0-9_-]{1,31}, PCRE2 pattern; group 1
 *       - { name: ssn, pattern: '\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b', action: mask }
 *     restore: false                 # restore pseudonyms in answers
 *     max_hold: 16384                # bytes a stream may hold back (64..1048576)
 *     max_pseudonyms: 1024           # per request (1..65536)
 *   backends:
 *     - name: local                  # [A-Za-z0-9._-]+, unique
 *       url: http://127.0.0.1:8080/v1  # base URL, endpoints are appended
 *       dialect: chat                # chat (responses, messages come later)
 *       api_key_env: LLAMA_API_KEY   # name of an environment variable
 *       discover: false              # expose the backend's own /models
 *       max_in_flight: 0             # 0 = no limit
 *       queue: { max: 0,             # requests waiting for a slot; 0 = none
 *                max_wait_ms: 30000 }  # then 429 queue_timeout
 *       forward_headers: [traceparent]  # client headers passed upstream
 *       health_check: true           # false: no active checks of this backend
 *       local: true                  # may take sensitive (tagged) requests; default:
 *                                    # the url's host is loopback or private
 *       circuit: { enabled: true, window: 20, min_requests: 5,
 *                  error_ratio: 0.5, open_ms: 10000 }  # passive health
 *       timeouts: { connect_ms: 5000, first_byte_ms: 120000,
 *                   idle_ms: 60000, total_ms: 600000 }
 *   models:
 *     - name: local-chat             # the public name clients send
 *       backend: local
 *       upstream_model: qwen2.5-7b-instruct-q4_k_m   # pinned upstream id
 *       tools_allowed: [get_weather] # tool names requests may offer; absent: any
 *       fallbacks:                   # deployments tried after it, in order
 *         - { backend: cloud, upstream_model: gpt-4o-mini }
 *       retry: { attempts: 1,        # tries per deployment
 *                on: [connect, timeout, 5xx, 429, incomplete],
 *                backoff_ms: 200, max_backoff_ms: 2000, deadline_ms: 30000 }
 *     - name: pool                   # several deployments instead of backend:
 *       deployments:                 # 1..16, tried in a balanced order
 *         - { backend: gpu1, upstream_model: qwen, weight: 3 }   # weight 1..1000, default 1
 *         - { backend: gpu2, upstream_model: qwen }
 *       balance: least_outstanding   # or weighted
 *       ab: { model: local-chat,     # arm b: a model (or alias)
 *             share: 0.1,            # 0..1 of the traffic
 *             sticky: key }          # key | header:NAME | none
 *   aliases: { default: local-chat, fast: pool }   # to a model or an alias
 *   priority: { header: false }      # honour x-llmux-priority: high|normal|low
 *   routing:                         # docs/config.md "routing"
 *     default_output_tokens: 1024    # cost estimate of a request without max_tokens
 *     rules:                         # in order; a deployment failing one is skipped
 *       - { name: vision, when: { capability: vision }, require: { capability: vision } }
 *       - { name: latency, when: { header: x-llmux-max-ttft-ms }, skip_if_ttft_over_header: true }
 *
 * Backends and deployments also take price: { input_per_mtok: USD,
 * output_per_mtok: USD } (default 0) and capabilities: [tools, json_schema,
 * vision] (default all); backends pin_check: models | props | ollama, and
 * deployments digest: (with pin_check: ollama).
 *
 * Errors (unknown key, wrong type, value out of range, duplicate name,
 * reference to an unknown backend or model, alias cycle, api_key_env naming an unset variable is
 * NOT an error but a warning) are reported as "FILE:LINE:COL: message".
 */
#ifndef LX_CONFIG_H
#define LX_CONFIG_H

#include <stdio.h>
#include "../core/core.h"

struct lx_redact_set; /* policy/redact.h: compiled detectors */

enum { LX_CONFIG_DEFAULT_PORT = 7711 };

enum lx_dialect { LX_DIALECT_CHAT, LX_DIALECT_RESPONSES, LX_DIALECT_MESSAGES };
enum lx_audit_prompt { LX_AUDIT_PROMPT_OFF, LX_AUDIT_PROMPT_HASH, LX_AUDIT_PROMPT_FULL };
/* What a tool call (or a structured answer) that fails its check becomes:
 * nothing (not checked), a note in the audit record, an error instead of
 * the answer, or a new question to the model with the error appended
 * (policy.repair_attempts times, then an error). */
enum lx_tool_calls_policy {
    LX_TOOL_CALLS_OFF,
    LX_TOOL_CALLS_FLAG,
    LX_TOOL_CALLS_REJECT,
    LX_TOOL_CALLS_REPAIR
};
enum { LX_CONFIG_MAX_REPAIR_ATTEMPTS = 3 };
/* How reasoning text is streamed to a Responses client (RESPONSES.md 6.3,
 * 14.1): as reasoning items only, with OpenAI's response.reasoning_text.*
 * events, or with Open Responses' response.reasoning.* events. */
enum lx_reasoning_events {
    LX_REASONING_EVENTS_ITEMS,
    LX_REASONING_EVENTS_OPENAI,
    LX_REASONING_EVENTS_OPEN_RESPONSES
};
/* What a request offering a forbidden tool gets: 403 tool_not_allowed, or
 * the tool removed before the request goes upstream. */
enum lx_forbidden_tools_policy { LX_FORBIDDEN_TOOLS_REJECT, LX_FORBIDDEN_TOOLS_STRIP };

/* Where rate-limit state lives: this process, or a Redis server. */
enum lx_rate_store { LX_RATE_STORE_MEMORY, LX_RATE_STORE_REDIS };

/* A Redis server (rate_limits.redis): url redis://host[:port][/db], read
 * into host, port and db. */
struct lx_config_redis {
    char *url;
    char *host;
    uint16_t port;
    uint32_t db;
    char *key_prefix;    /* before every key llmux writes */
    uint32_t timeout_ms; /* an answer later than this is an error */
    bool deny_on_error;  /* on_error: deny (503) instead of allow */
};

struct lx_config_listener {
    char *address; /* as written, "host:port" ("[::1]:7711" for IPv6) */
    char *host;    /* without brackets */
    uint16_t port;
    char *tls_cert_file; /* NULL when plain HTTP */
    char *tls_key_file;
};

struct lx_config_timeouts {
    uint32_t connect_ms;
    uint32_t first_byte_ms;
    uint32_t idle_ms;
    uint32_t total_ms;
};

/* A backend's admission queue: requests that wait for a slot when it is at
 * max_in_flight. */
struct lx_config_queue {
    uint32_t max;         /* waiters; 0 = no queue (a full backend answers 429) */
    uint32_t max_wait_ms; /* past it a waiter gets 429 queue_timeout */
};

/* A backend's circuit breaker (passive health): the outcomes of the last
 * `window` attempts on it; when at least min_requests are known and the
 * share of failures reaches error_ratio, it gets no traffic for open_ms,
 * then one probe request decides (route.h). */
struct lx_config_circuit {
    bool enabled;
    uint32_t window;       /* attempts remembered, 1..1000 */
    uint32_t min_requests; /* no opening on fewer, 1..window */
    double error_ratio;    /* (0, 1] */
    uint32_t open_ms;
};

/* What a deployment can do (routing rules match requests against it). */
enum {
    LX_CAP_TOOLS = 1 << 0,       /* the request offers tools */
    LX_CAP_JSON_SCHEMA = 1 << 1, /* response_format / text.format json_schema */
    LX_CAP_VISION = 1 << 2,      /* image input */
    LX_CAP_ALL = (1 << 3) - 1,
};
/* "tools", "json_schema", "vision" for one LX_CAP_* bit; NULL otherwise. */
const char *lx_config_cap_name(uint32_t bit);

/* US dollars per million tokens; 0 (the default) costs nothing. */
struct lx_config_price {
    double input_per_mtok, output_per_mtok;
};

/* How health checks verify a backend's pinned models: its /v1/models list
 * (always), plus llama.cpp's GET /props (model_path, model_alias) or
 * Ollama's GET /api/tags (the digest of deployments that give one). */
enum lx_pin_check { LX_PIN_CHECK_MODELS, LX_PIN_CHECK_PROPS, LX_PIN_CHECK_OLLAMA };

struct lx_config_backend {
    char *name;
    char *url; /* base URL without trailing slash, e.g. http://127.0.0.1:8080/v1 */
    enum lx_dialect dialect;
    char *api_key_env; /* NULL when none */
    char *api_key;     /* resolved from the environment at load; NULL when unset. Never print it. */
    bool discover;
    uint32_t max_in_flight;
    struct lx_config_queue queue;
    bool health_check; /* active checks (GET {url}/models); false: never checked */
    struct lx_config_circuit circuit;
    struct lx_config_timeouts timeouts;
    char **forward_headers; /* client request headers passed on as they are (lowercase) */
    size_t n_forward_headers;
    /* whether the backend honours tool_choice objects ({"type":"function",
     * ...}); when not, a Responses request's object is emulated (only that
     * tool, "required"). 0: auto (true for api.openai.com only), 1: false,
     * 2: true */
    uint8_t tool_choice_objects;
    bool local; /* may serve requests redaction tagged sensitive; default: the url's host
                   is a loopback or private address (lx_config_url_is_local) */
    struct lx_config_price price; /* default of its deployments */
    uint32_t capabilities;        /* LX_CAP_* bits, default of its deployments (LX_CAP_ALL) */
    enum lx_pin_check pin_check;
};

/* One place a model is served: a backend and the exact id it is asked for. */
struct lx_config_deployment {
    size_t backend; /* index into backends */
    char *upstream_model;
    bool pinned;     /* upstream_model was written in the file (not the public name by default):
                        health checks verify the backend lists it */
    uint32_t weight; /* in a model's balanced set: its share under balance: weighted, and the
                        tie-break of least_outstanding (higher first); 1 for fallbacks */
    struct lx_config_price price; /* its own, else its backend's */
    bool price_set;               /* price: was written on the deployment */
    uint32_t capabilities;        /* LX_CAP_* bits; its own, else its backend's */
    char *digest; /* pin_check: ollama: the model digest /api/tags must report (prefix
                     match, "sha256:" optional), or NULL */
};

/* A routing rule (routing.rules): when its conditions hold for a request,
 * every deployment that fails its test is skipped (and recorded with the
 * rule's name). Conditions left out always hold. */
struct lx_config_rule {
    char *name;                    /* [a-z0-9_-]{1,31} */
    int when_sensitive;            /* -1: any; 0/1: redaction tagged it (not) sensitive */
    char *when_header;             /* lowercase; the request carries it; NULL: any */
    uint32_t when_capability;      /* LX_CAP_* bit the request needs; 0: any */
    bool require_local;            /* the deployment's backend is local */
    uint32_t require_capability;   /* LX_CAP_* bit the deployment must have; 0: none */
    bool skip_if_ttft_over_header; /* recent TTFT (ms) > when_header's value */
    bool skip_if_cost_over_header; /* estimated cost (USD) > when_header's value */
};

/* How a request picks among the healthy deployments of a model's set. */
enum lx_balance {
    LX_BALANCE_LEAST_OUTSTANDING, /* fewest in flight + queued; ties: higher weight, then order */
    LX_BALANCE_WEIGHTED,          /* random, in proportion to the weights */
};

/* How an A/B split keeps a caller on one arm. */
enum lx_ab_sticky {
    LX_AB_STICKY_KEY,    /* hash of the caller's API key id (random without one) */
    LX_AB_STICKY_HEADER, /* hash of a request header's value (random without it) */
    LX_AB_STICKY_NONE,   /* a fresh draw per request */
};

/* A model's A/B split: share of its traffic is served by model b instead. */
struct lx_config_ab {
    bool enabled;
    size_t model; /* index into models: arm "b" (its own ab is not followed) */
    double share; /* 0..1 */
    enum lx_ab_sticky sticky;
    char *header; /* lowercase header name for LX_AB_STICKY_HEADER, else NULL */
};

/* Another public name for a model: aliases: {fast: local-chat}. */
struct lx_config_alias {
    char *name;
    char *target; /* as written: a model or another alias */
    size_t model; /* index into models, the end of the chain */
};

/* Failure classes a retry policy names (bits of lx_config_retry.on). Only
 * failures before any byte reached the client are ever retried. */
enum {
    LX_RETRY_CONNECT = 1 << 0,    /* could not connect (or connect timed out) */
    LX_RETRY_TIMEOUT = 1 << 1,    /* no response head within first_byte_ms */
    LX_RETRY_5XX = 1 << 2,        /* the backend answered 500-599 */
    LX_RETRY_429 = 1 << 3,        /* the backend answered 429 */
    LX_RETRY_INCOMPLETE = 1 << 4, /* the answer ended (or broke) before anything was relayed */
    LX_RETRY_ALL = (1 << 5) - 1,
};

/* A model's retry policy: how often each deployment is tried and how long
 * to wait between tries (exponential from backoff_ms, full jitter, capped
 * by max_backoff_ms; a larger Retry-After of the backend wins). */
struct lx_config_retry {
    uint32_t attempts; /* tries per deployment, >= 1 */
    uint32_t on;       /* LX_RETRY_* bits */
    uint32_t backoff_ms;
    uint32_t max_backoff_ms;
    uint32_t deadline_ms; /* no new attempt this long after the request started */
};

/* A model: a balanced set of deployments (one for the short form "backend:
 * upstream_model:"), then fallbacks tried in order. Retries move to another
 * healthy deployment of the set before the first fallback. */
struct lx_config_model {
    char *name;
    size_t backend;                           /* deployments[0].backend */
    char *upstream_model;                     /* a copy of deployments[0].upstream_model */
    bool pinned;                              /* deployments[0].pinned */
    struct lx_config_deployment *deployments; /* the balanced set, 1..LX_CONFIG_MAX_DEPLOYMENTS */
    size_t n_deployments;
    enum lx_balance balance;
    struct lx_config_deployment *fallbacks; /* tried in order after the set */
    size_t n_fallbacks;
    struct lx_config_retry retry;
    struct lx_config_ab ab;
    char **tools_allowed; /* NULL: any tool; else n_tools_allowed names */
    size_t n_tools_allowed;
};

/* The deployments of m in try order: index 0..n_deployments-1 is the
 * balanced set, then the fallbacks. */
size_t lx_config_model_n_deployments(const struct lx_config_model *m);
const struct lx_config_deployment *lx_config_model_deployment(const struct lx_config_model *m,
                                                              size_t d);

struct lx_config_limits {
    size_t max_body_bytes;
    uint32_t max_json_depth;
    uint32_t max_headers;
    size_t max_stream_buffer_bytes;
    size_t max_sse_event_bytes;
    size_t max_response_bytes;
};

struct lx_config {
    int refcount;
    char *source; /* file path, or "<built-in default>" */
    struct lx_config_listener *listeners;
    size_t n_listeners;
    struct lx_config_limits limits;
    uint32_t drain_timeout_ms;
    struct {
        char *path; /* NULL when disabled */
        enum lx_audit_prompt prompt;
        uint32_t queue_max;
    } audit;
    struct {
        bool enabled;
        char *store;         /* path of the SQLite key store */
        char **public_paths; /* exact request paths that need no key */
        size_t n_public_paths;
    } auth;
    struct {
        uint32_t interval_ms;
        uint32_t timeout_ms;
    } health;
    /* Requests and tokens per minute per API key and per public model name
     * (0 = no limit); burst 0 means rpm / 6 rounded up, at least 1, per
     * limit. Kept in memory, or in Redis shared by several instances. */
    struct {
        uint32_t per_key_rpm;
        uint32_t per_model_rpm;
        uint32_t burst;
        uint32_t per_key_tpm;
        uint32_t per_model_tpm;
        enum lx_rate_store store;
        struct lx_config_redis redis;
    } rate_limits;
    struct {
        enum lx_tool_calls_policy tool_calls;
        enum lx_forbidden_tools_policy forbidden_tools;
        enum lx_tool_calls_policy structured_output; /* response_format json_schema */
        uint32_t repair_attempts;                    /* 1..3, default 1 */
    } policy;
    /* The Responses API's state (store/responses.h). */
    struct {
        char *store;        /* SQLite file; NULL when "off" (nothing is persisted) */
        uint32_t ttl_hours; /* 0: never expire */
        size_t max_stored_bytes;
        enum lx_reasoning_events reasoning_events;
        bool default_store; /* a request without "store" is stored */
        /* the variable holding the seal key (64 hex digits) for compaction
         * items; NULL: a random key per process (store/seal.h) */
        char *encryption_key_env;
        /* WebSocket mode on /v1/responses (api/ws_api.h) */
        struct {
            uint32_t max_connection_ms; /* a connection is closed after this */
            uint32_t max_queued;        /* response.create frames waiting behind one */
            uint32_t max_cached;        /* store:false responses kept per connection */
            size_t max_message_bytes;   /* a bigger client frame closes the connection */
        } websocket;
    } responses;
    struct {
        bool enabled;
        char *key_env; /* the variable's name, never the key */
    } admin;
    /* redaction: detectors compiled at load, read-only afterwards, freed
     * with the snapshot. input applies to prompts, output to answers (a
     * block or tag detector acts there as mask: an answer cannot be
     * refused after the fact; so does pseudonym with restore, whose tokens
     * restoration would mistake for the prompt's); NULL when no detector
     * has that direction. */
    struct {
        struct lx_redact_set *input;
        struct lx_redact_set *output;
        bool restore; /* pseudonyms in answers become the original values again */
    } redaction;
    struct lx_config_backend *backends;
    size_t n_backends;
    struct lx_config_model *models;
    size_t n_models;
    struct lx_config_alias *aliases;
    size_t n_aliases;
    struct {
        bool header; /* honour the x-llmux-priority request header */
    } priority;
    /* routing rules, in order (route/rules.h evaluates them) */
    struct {
        struct lx_config_rule *rules;
        size_t n_rules;
        uint32_t default_output_tokens; /* cost estimate without max_tokens */
    } routing;
};

/* Loads and validates a YAML file. On success *out holds a new snapshot
 * (refcount 1). On failure returns LX_ERR and writes "FILE:LINE:COL: msg"
 * (NUL-terminated, truncated to errlen) into err. */
int lx_config_load_file(const char *path, struct lx_config **out, char *err, size_t errlen);
/* The same from text in memory; name stands in for the file name in errors. */
int lx_config_load_string(const char *text, size_t len, const char *name, struct lx_config **out,
                          char *err, size_t errlen);
/* The built-in default used when no file is given: one listener on
 * 127.0.0.1:LX_CONFIG_DEFAULT_PORT and four discovering chat backends on the
 * well-known local ports: llamacpp http://127.0.0.1:8080/v1, vllm
 * http://127.0.0.1:8000/v1, ollama http://127.0.0.1:11434/v1, lmstudio
 * http://127.0.0.1:1234/v1. No models: they are discovered. */
struct lx_config *lx_config_default(void);

/* Adjustments before publishing (flags and environment variables). Each
 * returns LX_ERR with a message in err when the value is invalid. */
/* Replaces all listeners by one plain listener at "HOST:PORT". */
int lx_config_set_listen(struct lx_config *c, const char *address, char *err, size_t errlen);
/* Adds a discovering chat backend named "upstream" (or "upstream2", ...) at url. */
int lx_config_add_upstream(struct lx_config *c, const char *url, char *err, size_t errlen);
/* "path" as audit.path ("" or "off" disables); prompt as "full|hash|off". */
int lx_config_set_audit_path(struct lx_config *c, const char *path, char *err, size_t errlen);
int lx_config_set_audit_prompt(struct lx_config *c, const char *mode, char *err, size_t errlen);
/* "path" as auth.store (env LLMUX_AUTH_STORE). */
int lx_config_set_auth_store(struct lx_config *c, const char *path, char *err, size_t errlen);
/* "path" as responses.store (env LLMUX_RESPONSES_STORE); "off" disables. */
int lx_config_set_responses_store(struct lx_config *c, const char *path, char *err, size_t errlen);
/* "items", "openai" or "open_responses" for e. */
const char *lx_config_reasoning_events_name(enum lx_reasoning_events e);
/* True when auth is off or path is one of auth.public_paths. */
bool lx_config_path_public(const struct lx_config *c, const char *path, size_t len);

/* The failure class names of lx_config_retry.on, "connect" ... "incomplete",
 * for the bit b (one of LX_RETRY_*); NULL for anything else. */
const char *lx_config_retry_class_name(uint32_t bit);

/* Index of the backend or model with that name, or -1. */
int lx_config_find_backend(const struct lx_config *c, const char *name);
int lx_config_find_model(const struct lx_config *c, const char *name);
/* The alias named name (len bytes), or NULL. */
const struct lx_config_alias *lx_config_find_alias(const struct lx_config *c, const char *name,
                                                   size_t len);
const char *lx_balance_name(enum lx_balance b);

/* Prints the resolved routing table (listeners, backends with their
 * timeouts and whether their key variable is set — never the key —, and
 * models with backend and pinned upstream id) in a human-readable form. */
void lx_config_print(const struct lx_config *c, FILE *out);

const char *lx_dialect_name(enum lx_dialect d);

/* True when url's host ("http://HOST[:PORT]/...") is "localhost", a
 * loopback address (127.0.0.0/8, ::1) or a private one (10/8, 172.16/12,
 * 192.168/16, fc00::/7): the default of a backend's `local`. */
bool lx_config_url_is_local(const char *url);

struct lx_config *lx_config_ref(struct lx_config *c);
void lx_config_unref(struct lx_config *c);

#endif
