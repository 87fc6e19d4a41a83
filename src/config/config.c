/*
 * config.c — see config.h.
 *
 * Three parts: the snapshot itself (defaults, lifecycle, the lx_config_set_*
 * adjustments), the YAML reader, and the printer behind `llmux check`.
 *
 * The reader walks a libfyaml document with one table of fields per mapping
 * (struct field), so every section rejects unknown keys, checks types and
 * ranges the same way, and names the offending key with its line and
 * column. libfyaml 0.7.12 has no fy_node_get_start_mark(): a scalar's
 * position comes from its token, a mapping's or sequence's from replaying
 * the document as events (node_position()), which only happens on the way
 * to an error.
 */
#include "config.h"
#include "config_int.h"
#include "history.h"

#include <ctype.h>
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libfyaml.h>

#include "../json/json.h"
/* policy/ sits above config/ (DESIGN.md), but redact.h needs only core/:
 * the snapshot owns the compiled detector sets so requests only read them. */
#include "../policy/redact.h"

static const char *const dialect_names[] = {"chat", "responses", "messages"};
static const char *const audit_prompt_names[] = {"off", "hash", "full"};
static const char *const tool_calls_names[] = {"off", "flag", "reject", "repair"};
static const char *const reasoning_events_names[] = {"items", "openai", "open_responses"};
static const char *const balance_names[] = {"least_outstanding", "weighted"};
static const char *const forbidden_tools_names[] = {"reject", "strip"};
static const char *const cap_names[] = {"tools", "json_schema", "vision"};
static const char *const pin_check_names[] = {"models", "props", "ollama"};

/* ---- small helpers ---------------------------------------------------- */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static char *dup_str(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

static bool has_space_or_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* Backend names appear in logs, metrics labels and URLs: [A-Za-z0-9._-]+. */
static bool valid_backend_name(const char *s)
{
    if (!*s || strlen(s) > LX_CONFIG_MAX_NAME_LEN)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return false;
    return true;
}

/* Model ids are freer ("org/model", "qwen2.5:7b"): printable, no spaces. */
static bool valid_model_id(const char *s)
{
    return *s && strlen(s) <= LX_CONFIG_MAX_NAME_LEN && !has_space_or_control(s);
}

static bool valid_env_name(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

/* ---- addresses and URLs ------------------------------------------------ */

static int parse_port(const char *p, uint16_t *port, char *err, size_t errlen)
{
    unsigned long v = 0;
    size_t n = 0;
    for (; p[n]; n++) {
        if (p[n] < '0' || p[n] > '9' || n == 5) {
            set_err(err, errlen, "port must be a number between 1 and 65535");
            return LX_ERR;
        }
        v = v * 10 + (unsigned long)(p[n] - '0');
    }
    if (n == 0 || v == 0 || v > 65535) {
        set_err(err, errlen, "port must be a number between 1 and 65535");
        return LX_ERR;
    }
    *port = (uint16_t)v;
    return LX_OK;
}

static bool valid_host_name(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '-' || s[i] == '_'))
            return false;
    return true;
}

/* Splits "host:port" or "[v6]:port" into a new host string (caller frees)
 * and a port in 1..65535; the reason for a refusal goes to err. */
static int parse_address(const char *a, char **host, uint16_t *port, char *err, size_t errlen)
{
    const char *hb = a, *he, *ps;
    bool v6 = a[0] == '[';
    if (v6) {
        hb = a + 1;
        he = strchr(hb, ']');
        if (!he) {
            set_err(err, errlen, "missing ']' after the IPv6 address");
            return LX_ERR;
        }
        if (he[1] != ':') {
            set_err(err, errlen, "expected ':PORT' after ']'");
            return LX_ERR;
        }
        ps = he + 2;
    } else {
        he = strrchr(a, ':');
        if (!he) {
            set_err(err, errlen, "expected HOST:PORT");
            return LX_ERR;
        }
        if (memchr(a, ':', (size_t)(he - a))) {
            set_err(err, errlen, "an IPv6 address needs brackets, as in [::1]:%d",
                    LX_CONFIG_DEFAULT_PORT);
            return LX_ERR;
        }
        ps = he + 1;
    }
    size_t hlen = (size_t)(he - hb);
    if (hlen == 0 || hlen > 255) {
        set_err(err, errlen, "missing host");
        return LX_ERR;
    }
    if (parse_port(ps, port, err, errlen) != LX_OK)
        return LX_ERR;
    char *h = malloc(hlen + 1);
    if (!h) {
        set_err(err, errlen, "out of memory");
        return LX_ERR;
    }
    memcpy(h, hb, hlen);
    h[hlen] = '\0';
    unsigned char scratch[16];
    if (v6 ? inet_pton(AF_INET6, h, scratch) != 1 : !valid_host_name(h, hlen)) {
        set_err(err, errlen, v6 ? "invalid IPv6 address" : "invalid host name");
        free(h);
        return LX_ERR;
    }
    *host = h;
    return LX_OK;
}

/* Checks a backend base URL and returns a new copy without trailing
 * slashes (caller frees), or NULL with the reason in err. Endpoint paths
 * ("/chat/completions") are appended to it, so a query or fragment would
 * end up in the wrong place and is refused. */
static char *clean_url(const char *url, char *err, size_t errlen)
{
    size_t scheme;
    if (strncmp(url, "http://", 7) == 0)
        scheme = 7;
    else if (strncmp(url, "https://", 8) == 0)
        scheme = 8;
    else {
        set_err(err, errlen, "url must start with http:// or https://");
        return NULL;
    }
    if (has_space_or_control(url)) {
        set_err(err, errlen, "url must not contain spaces or control characters");
        return NULL;
    }
    if (strpbrk(url, "?#")) {
        set_err(err, errlen, "url must not have a query or fragment");
        return NULL;
    }
    if (url[scheme] == '\0' || url[scheme] == '/') {
        set_err(err, errlen, "url has no host");
        return NULL;
    }
    char *copy = dup_str(url);
    if (!copy) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    size_t n = strlen(copy);
    while (n > scheme && copy[n - 1] == '/')
        copy[--n] = '\0';
    return copy;
}

/* ---- the snapshot ------------------------------------------------------ */

static void listener_release(struct lx_config_listener *l)
{
    free(l->address);
    free(l->host);
    free(l->tls_cert_file);
    free(l->tls_key_file);
}

static void backend_release(struct lx_config_backend *b)
{
    free(b->name);
    free(b->url);
    free(b->api_key_env);
    for (size_t i = 0; i < b->n_forward_headers; i++)
        free(b->forward_headers[i]);
    free(b->forward_headers);
    if (b->api_key)
        explicit_bzero(b->api_key, strlen(b->api_key));
    free(b->api_key);
}

static void deployments_release(struct lx_config_deployment *d, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        free(d[k].upstream_model);
        free(d[k].digest);
    }
    free(d);
}

static void config_free(struct lx_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_listeners; i++)
        listener_release(&c->listeners[i]);
    free(c->listeners);
    for (size_t i = 0; i < c->n_backends; i++)
        backend_release(&c->backends[i]);
    free(c->backends);
    for (size_t i = 0; i < c->n_models; i++) {
        struct lx_config_model *m = &c->models[i];
        free(m->name);
        free(m->upstream_model);
        deployments_release(m->deployments, m->n_deployments);
        deployments_release(m->fallbacks, m->n_fallbacks);
        free(m->ab.header);
        for (size_t k = 0; k < m->n_tools_allowed; k++)
            free(m->tools_allowed[k]);
        free(m->tools_allowed);
    }
    free(c->admin.key_env);
    free(c->responses.encryption_key_env);
    free(c->models);
    for (size_t i = 0; i < c->n_aliases; i++) {
        free(c->aliases[i].name);
        free(c->aliases[i].target);
    }
    free(c->aliases);
    free(c->audit.path);
    free(c->auth.store);
    for (size_t i = 0; i < c->auth.n_public_paths; i++)
        free(c->auth.public_paths[i]);
    free(c->auth.public_paths);
    free(c->responses.store);
    for (size_t i = 0; i < c->routing.n_rules; i++) {
        free(c->routing.rules[i].name);
        free(c->routing.rules[i].when_header);
    }
    free(c->routing.rules);
    free(c->rate_limits.redis.url);
    free(c->rate_limits.redis.host);
    free(c->rate_limits.redis.key_prefix);
    lx_redact_set_free(c->redaction.input);
    lx_redact_set_free(c->redaction.output);
    free(c->source);
    free(c);
}

static const char *const default_public_paths[] = {"/healthz", "/readyz"};

/* Replaces auth.public_paths by copies of the n paths. */
static int set_public_paths(struct lx_config *c, const char *const *paths, size_t n)
{
    char **copy = calloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; copy && i < n; i++)
        if (!(copy[i] = dup_str(paths[i]))) {
            while (i--)
                free(copy[i]);
            free(copy);
            copy = NULL;
        }
    if (!copy)
        return LX_ERR;
    for (size_t i = 0; i < c->auth.n_public_paths; i++)
        free(c->auth.public_paths[i]);
    free(c->auth.public_paths);
    c->auth.public_paths = copy;
    c->auth.n_public_paths = n;
    return LX_OK;
}

/* A snapshot with every default except listeners (none yet). */
static struct lx_config *config_new(const char *source)
{
    struct lx_config *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->refcount = 1;
    c->source = dup_str(source);
    c->limits = (struct lx_config_limits){
        .max_body_bytes = LX_CONFIG_DEFAULT_MAX_BODY,
        .max_json_depth = LX_CONFIG_DEFAULT_MAX_JSON_DEPTH,
        .max_headers = LX_CONFIG_DEFAULT_MAX_HEADERS,
        .max_stream_buffer_bytes = LX_CONFIG_DEFAULT_MAX_STREAM_BUFFER,
        .max_sse_event_bytes = LX_CONFIG_DEFAULT_MAX_SSE_EVENT,
        .max_response_bytes = LX_CONFIG_DEFAULT_MAX_RESPONSE,
    };
    c->drain_timeout_ms = LX_CONFIG_DEFAULT_DRAIN_MS;
    c->routing.default_output_tokens = LX_CONFIG_DEFAULT_OUTPUT_TOKENS;
    c->audit.path = dup_str(LX_CONFIG_DEFAULT_AUDIT_PATH);
    /* hash by default: a digest lets an operator see that the same prompt
     * came back (abuse, retries, cache misses) without the log holding
     * anybody's private text. */
    c->audit.prompt = LX_AUDIT_PROMPT_HASH;
    c->audit.queue_max = LX_CONFIG_DEFAULT_QUEUE_MAX;
    c->health.interval_ms = LX_CONFIG_DEFAULT_HEALTH_INTERVAL_MS;
    c->health.timeout_ms = LX_CONFIG_DEFAULT_HEALTH_TIMEOUT_MS;
    c->auth.store = dup_str(LX_CONFIG_DEFAULT_AUTH_STORE);
    c->responses.store = dup_str(LX_CONFIG_DEFAULT_RESPONSES_STORE);
    c->responses.ttl_hours = LX_CONFIG_DEFAULT_RESPONSES_TTL_HOURS;
    c->policy.repair_attempts = 1;
    c->responses.max_stored_bytes = LX_CONFIG_DEFAULT_RESPONSES_MAX_BYTES;
    c->responses.reasoning_events = LX_REASONING_EVENTS_ITEMS;
    c->responses.default_store = true;                         /* as OpenAI (RESPONSES.md 8) */
    c->responses.websocket.max_connection_ms = 60 * 60 * 1000; /* OpenAI's and OR's limit */
    c->responses.websocket.max_queued = 16;
    c->responses.websocket.max_cached = 16;
    c->responses.websocket.max_message_bytes = 0; /* 0: limits.max_body_bytes */
    c->admin.key_env = dup_str("LLMUX_ADMIN_KEY");
    c->rate_limits.redis = (struct lx_config_redis){
        .url = dup_str("redis://127.0.0.1:6379/0"),
        .host = dup_str("127.0.0.1"),
        .port = 6379,
        .key_prefix = dup_str("llmux:"),
        .timeout_ms = 50,
    };
    if (c->auth.store && c->responses.store && c->admin.key_env &&
        set_public_paths(c, default_public_paths, LX_ARRAY_LEN(default_public_paths)) != LX_OK) {
        config_free(c);
        return NULL;
    }
    if (!c->source || !c->audit.path || !c->auth.store || !c->responses.store) {
        config_free(c);
        return NULL;
    }
    return c;
}

static void backend_defaults(struct lx_config_backend *b)
{
    *b = (struct lx_config_backend){
        .dialect = LX_DIALECT_CHAT,
        .queue = {0, LX_CONFIG_DEFAULT_BACKEND_QUEUE_WAIT_MS},
        .health_check = true,
        .circuit = {true, LX_CONFIG_DEFAULT_CIRCUIT_WINDOW, LX_CONFIG_DEFAULT_CIRCUIT_MIN_REQUESTS,
                    LX_CONFIG_DEFAULT_CIRCUIT_ERROR_RATIO, LX_CONFIG_DEFAULT_CIRCUIT_OPEN_MS},
        .timeouts = {LX_CONFIG_DEFAULT_CONNECT_MS, LX_CONFIG_DEFAULT_FIRST_BYTE_MS,
                     LX_CONFIG_DEFAULT_IDLE_MS, LX_CONFIG_DEFAULT_TOTAL_MS},
        .capabilities = LX_CAP_ALL,
    };
}

/* Builds a plain listener at address into l (zeroed by the caller). */
static int listener_init(struct lx_config_listener *l, const char *address, char *err,
                         size_t errlen)
{
    if (parse_address(address, &l->host, &l->port, err, errlen) != LX_OK)
        return LX_ERR;
    l->address = dup_str(address);
    if (!l->address) {
        set_err(err, errlen, "out of memory");
        return LX_ERR;
    }
    return LX_OK;
}

/* Appends a discovering chat backend; takes over url (heap; NULL fails). */
static int backend_append(struct lx_config *c, const char *name, char *url)
{
    struct lx_config_backend *grown =
        url ? realloc(c->backends, (c->n_backends + 1) * sizeof(*grown)) : NULL;
    if (!grown) {
        free(url);
        return LX_ERR;
    }
    c->backends = grown;
    struct lx_config_backend *b = &c->backends[c->n_backends];
    backend_defaults(b);
    if (!(b->name = dup_str(name))) {
        free(url);
        return LX_ERR;
    }
    b->url = url;
    b->discover = true;
    b->local = lx_config_url_is_local(url);
    c->n_backends++;
    return LX_OK;
}

struct lx_config *lx_config_default(void)
{
    static const char *const locals[][2] = {
        {"llamacpp", "http://127.0.0.1:8080/v1"},
        {"vllm", "http://127.0.0.1:8000/v1"},
        {"ollama", "http://127.0.0.1:11434/v1"},
        {"lmstudio", "http://127.0.0.1:1234/v1"},
    };
    char addr[32];
    struct lx_config *c = config_new("<built-in default>");
    if (!c)
        return NULL;
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", LX_CONFIG_DEFAULT_PORT);
    if (lx_config_set_listen(c, addr, NULL, 0) != LX_OK)
        goto fail;
    for (size_t i = 0; i < LX_ARRAY_LEN(locals); i++)
        if (backend_append(c, locals[i][0], dup_str(locals[i][1])) != LX_OK)
            goto fail;
    return c;
fail:
    config_free(c);
    return NULL;
}

int lx_config_set_listen(struct lx_config *c, const char *address, char *err, size_t errlen)
{
    char why[128];
    struct lx_config_listener *l = calloc(1, sizeof(*l));
    if (!l) {
        set_err(err, errlen, "out of memory");
        return LX_ERR;
    }
    if (listener_init(l, address, why, sizeof(why)) != LX_OK) {
        set_err(err, errlen, "invalid listen address '%s': %s", address, why);
        listener_release(l);
        free(l);
        return LX_ERR;
    }
    for (size_t i = 0; i < c->n_listeners; i++)
        listener_release(&c->listeners[i]);
    free(c->listeners);
    c->listeners = l;
    c->n_listeners = 1;
    return LX_OK;
}

int lx_config_add_upstream(struct lx_config *c, const char *url, char *err, size_t errlen)
{
    char why[128], name[32] = "upstream";
    char *clean = clean_url(url, why, sizeof(why));
    if (!clean) {
        set_err(err, errlen, "invalid upstream url '%s': %s", url, why);
        return LX_ERR;
    }
    for (unsigned i = 2; lx_config_find_backend(c, name) >= 0; i++)
        snprintf(name, sizeof(name), "upstream%u", i);
    if (backend_append(c, name, clean) != LX_OK) {
        set_err(err, errlen, "out of memory");
        return LX_ERR;
    }
    return LX_OK;
}

/* "" and "off" disable the audit log; *out is NULL then. */
static int audit_path_value(const char *path, char **out)
{
    *out = NULL;
    if (path[0] == '\0' || strcmp(path, "off") == 0)
        return LX_OK;
    *out = dup_str(path);
    return *out ? LX_OK : LX_ERR;
}

int lx_config_set_audit_path(struct lx_config *c, const char *path, char *err, size_t errlen)
{
    char *value;
    if (!path || audit_path_value(path, &value) != LX_OK) {
        set_err(err, errlen, path ? "out of memory" : "missing audit log path");
        return LX_ERR;
    }
    free(c->audit.path);
    c->audit.path = value;
    return LX_OK;
}

static int audit_prompt_value(const char *mode, enum lx_audit_prompt *out)
{
    for (size_t i = 0; i < LX_ARRAY_LEN(audit_prompt_names); i++)
        if (strcmp(mode, audit_prompt_names[i]) == 0) {
            *out = (enum lx_audit_prompt)i;
            return LX_OK;
        }
    return LX_ERR;
}

int lx_config_set_audit_prompt(struct lx_config *c, const char *mode, char *err, size_t errlen)
{
    if (!mode || audit_prompt_value(mode, &c->audit.prompt) != LX_OK) {
        set_err(err, errlen, "invalid audit prompt mode '%s': expected full, hash or off",
                mode ? mode : "");
        return LX_ERR;
    }
    return LX_OK;
}

int lx_config_set_auth_store(struct lx_config *c, const char *path, char *err, size_t errlen)
{
    if (!path || !*path) {
        set_err(err, errlen, "missing auth store path");
        return LX_ERR;
    }
    char *copy = dup_str(path);
    if (!copy) {
        set_err(err, errlen, "out of memory");
        return LX_ERR;
    }
    free(c->auth.store);
    c->auth.store = copy;
    return LX_OK;
}

/* "off" disables the store (*out NULL); "" is refused. */
static int responses_store_value(const char *path, char **out)
{
    *out = NULL;
    if (!*path)
        return LX_AGAIN;
    if (strcmp(path, "off") == 0)
        return LX_OK;
    return (*out = dup_str(path)) ? LX_OK : LX_ERR;
}

int lx_config_set_responses_store(struct lx_config *c, const char *path, char *err, size_t errlen)
{
    char *value;
    int rc = path ? responses_store_value(path, &value) : LX_AGAIN;
    if (rc != LX_OK) {
        set_err(err, errlen, rc == LX_AGAIN ? "missing responses store path" : "out of memory");
        return LX_ERR;
    }
    free(c->responses.store);
    c->responses.store = value;
    return LX_OK;
}

const char *lx_config_reasoning_events_name(enum lx_reasoning_events e)
{
    return (size_t)e < LX_ARRAY_LEN(reasoning_events_names) ? reasoning_events_names[e] : "?";
}

bool lx_config_path_public(const struct lx_config *c, const char *path, size_t len)
{
    if (!c->auth.enabled)
        return true;
    for (size_t i = 0; i < c->auth.n_public_paths; i++)
        if (strlen(c->auth.public_paths[i]) == len &&
            memcmp(c->auth.public_paths[i], path, len) == 0)
            return true;
    return false;
}

int lx_config_find_backend(const struct lx_config *c, const char *name)
{
    for (size_t i = 0; i < c->n_backends; i++)
        if (strcmp(c->backends[i].name, name) == 0)
            return (int)i;
    return -1;
}

int lx_config_find_model(const struct lx_config *c, const char *name)
{
    for (size_t i = 0; i < c->n_models; i++)
        if (strcmp(c->models[i].name, name) == 0)
            return (int)i;
    return -1;
}

const struct lx_config_alias *lx_config_find_alias(const struct lx_config *c, const char *name,
                                                   size_t len)
{
    for (size_t i = 0; i < c->n_aliases; i++)
        if (strlen(c->aliases[i].name) == len && memcmp(c->aliases[i].name, name, len) == 0)
            return &c->aliases[i];
    return NULL;
}

size_t lx_config_model_n_deployments(const struct lx_config_model *m)
{
    return m->n_deployments + m->n_fallbacks;
}

const struct lx_config_deployment *lx_config_model_deployment(const struct lx_config_model *m,
                                                              size_t d)
{
    return d < m->n_deployments ? &m->deployments[d] : &m->fallbacks[d - m->n_deployments];
}

const char *lx_balance_name(enum lx_balance b)
{
    return (unsigned)b < LX_ARRAY_LEN(balance_names) ? balance_names[b] : "unknown";
}

const char *lx_config_cap_name(uint32_t bit)
{
    for (size_t i = 0; i < LX_ARRAY_LEN(cap_names); i++)
        if (bit == 1u << i)
            return cap_names[i];
    return NULL;
}

const char *lx_dialect_name(enum lx_dialect d)
{
    return (unsigned)d < LX_ARRAY_LEN(dialect_names) ? dialect_names[d] : "unknown";
}

struct lx_config *lx_config_ref(struct lx_config *c)
{
    if (c)
        __atomic_add_fetch(&c->refcount, 1, __ATOMIC_RELAXED);
    return c;
}

void lx_config_unref(struct lx_config *c)
{
    if (c && __atomic_sub_fetch(&c->refcount, 1, __ATOMIC_ACQ_REL) == 0)
        config_free(c);
}

/* ---- the YAML reader: positions and errors ----------------------------- */

/* A backend named before the backends may have been read: where the index
 * goes, the node (for the error's position) and the key path. */
struct pending_backend {
    size_t *dst;
    struct fy_node *node;
    char path[96];
};

struct loader {
    const char *file;
    struct fy_document *fyd;
    struct lx_config *c;
    struct fy_node *key;             /* last key read: fallback position */
    struct fy_node **model_backends; /* models[i].backend value, resolved at the end */
    struct pending_backend *pending; /* fallbacks' backend values, resolved at the end */
    struct fy_node **ab_models;      /* models[i].ab.model value, resolved at the end */
    struct fy_node **alias_keys;     /* aliases[i]: its key and value, for errors */
    struct fy_node **alias_values;
    size_t n_pending, cap_pending;
    bool local_given;                   /* the backend being read has `local:` */
    struct fy_node *red_detectors;      /* redaction.detectors, read after the limits */
    struct fy_node *red_custom;         /* redaction.custom */
    struct lx_redact_limits red_limits; /* redaction.max_hold, max_pseudonyms */
    char path[256];                     /* "backends[0].timeouts" */
    size_t path_len;
    char *err;
    size_t errlen;
};

/* Position of a mapping or sequence: replay the document as events, which
 * carry the original tokens and come in the same depth-first order as the
 * nodes, until the event that starts fyn. */
static int collection_position(struct fy_document *fyd, struct fy_node *fyn, int *line, int *col)
{
    int rc = LX_ERR;
    struct fy_document_iterator *events = fy_document_iterator_create();
    struct fy_document_iterator *nodes = fy_document_iterator_create();
    struct fy_event *ev;
    if (!events || !nodes)
        goto destroy_iterators;
    if ((ev = fy_document_iterator_stream_start(events)))
        fy_document_iterator_event_free(events, ev);
    if (!(ev = fy_document_iterator_document_start(events, fyd)))
        goto destroy_iterators;
    fy_document_iterator_event_free(events, ev);
    fy_document_iterator_node_start(nodes, fy_document_root(fyd));
    while (rc != LX_OK && (ev = fy_document_iterator_body_next(events))) {
        bool starts_node = ev->type == FYET_SCALAR || ev->type == FYET_ALIAS ||
                           ev->type == FYET_MAPPING_START || ev->type == FYET_SEQUENCE_START;
        if (starts_node && fy_document_iterator_node_next(nodes) == fyn) {
            const struct fy_mark *m = fy_event_start_mark(ev);
            if (m) {
                *line = m->line + 1;
                *col = m->column + 1;
                rc = LX_OK;
            }
        }
        fy_document_iterator_event_free(events, ev);
    }
destroy_iterators:
    if (events)
        fy_document_iterator_destroy(events);
    if (nodes)
        fy_document_iterator_destroy(nodes);
    return rc;
}

/* 1-based line and column of fyn; nodes made by resolving an alias have
 * none, and stand at the key that holds them. */
static void node_position(struct loader *ld, struct fy_node *fyn, int *line, int *col)
{
    const struct fy_mark *m = NULL;
    if (fyn && fy_node_is_scalar(fyn)) {
        struct fy_token *t = fy_node_get_scalar_token(fyn);
        m = t ? fy_token_start_mark(t) : NULL;
    }
    if (m) {
        /* A quoted scalar's token starts after its opening quote. */
        enum fy_node_style style = fy_node_get_style(fyn);
        bool quoted = style == FYNS_SINGLE_QUOTED || style == FYNS_DOUBLE_QUOTED;
        *line = m->line + 1;
        *col = m->column + (quoted && m->column > 0 ? 0 : 1);
        return;
    }
    if (fyn && collection_position(ld->fyd, fyn, line, col) == LX_OK)
        return;
    if (ld->key && ld->key != fyn) {
        node_position(ld, ld->key, line, col);
        return;
    }
    *line = 1;
    *col = 1;
}

/* Writes "FILE:LINE:COL: message" for node at; returns LX_ERR. */
static int fail(struct loader *ld, struct fy_node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct loader *ld, struct fy_node *at, const char *fmt, ...)
{
    char msg[512];
    int line, col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    node_position(ld, at, &line, &col);
    set_err(ld->err, ld->errlen, "%s:%d:%d: %s", ld->file, line, col, msg);
    return LX_ERR;
}

static const char *where(const struct loader *ld)
{
    return ld->path_len ? ld->path : "top level";
}

static size_t path_push_key(struct loader *ld, const char *key)
{
    size_t saved = ld->path_len;
    int n = snprintf(ld->path + saved, sizeof(ld->path) - saved, "%s%s", saved ? "." : "", key);
    ld->path_len = LX_MIN(saved + (size_t)LX_MAX(n, 0), sizeof(ld->path) - 1);
    return saved;
}

static size_t path_push_index(struct loader *ld, size_t i)
{
    size_t saved = ld->path_len;
    int n = snprintf(ld->path + saved, sizeof(ld->path) - saved, "[%zu]", i);
    ld->path_len = LX_MIN(saved + (size_t)LX_MAX(n, 0), sizeof(ld->path) - 1);
    return saved;
}

static void path_pop(struct loader *ld, size_t saved)
{
    ld->path_len = saved;
    ld->path[saved] = '\0';
}

/* ---- the YAML reader: scalars ------------------------------------------ */

/* A plain empty, "~" or "null" scalar: the key is as good as absent. */
static bool is_null(struct fy_node *n)
{
    if (!n)
        return true;
    if (!fy_node_is_scalar(n) || fy_node_get_style(n) != FYNS_PLAIN)
        return false;
    const char *s = fy_node_get_scalar0(n);
    return !s || !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

/* Decimal integers only, written plain ("64", not "'64'" nor "0x40"). */
static int read_integer(struct loader *ld, struct fy_node *n, uint64_t min, uint64_t max,
                        uint64_t *out)
{
    const char *s =
        fy_node_is_scalar(n) && fy_node_get_style(n) == FYNS_PLAIN ? fy_node_get_scalar0(n) : NULL;
    bool negative = s && *s == '-';
    const char *digits = negative ? s + 1 : s;
    if (!digits || !*digits || strspn(digits, "0123456789") != strlen(digits))
        return fail(ld, n, "%s: expected an integer", where(ld));
    errno = 0;
    unsigned long long v = strtoull(digits, NULL, 10);
    if (negative || errno == ERANGE || v < min || v > max)
        return fail(ld, n, "%s: must be between %" PRIu64 " and %" PRIu64, where(ld), min, max);
    *out = v;
    return LX_OK;
}

static int read_bool(struct loader *ld, struct fy_node *n, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE"}, *const no[] = {"false", "False",
                                                                              "FALSE"};
    const char *s =
        fy_node_is_scalar(n) && fy_node_get_style(n) == FYNS_PLAIN ? fy_node_get_scalar0(n) : NULL;
    for (size_t i = 0; s && i < LX_ARRAY_LEN(yes); i++) {
        if (strcmp(s, yes[i]) == 0 || strcmp(s, no[i]) == 0) {
            *out = strcmp(s, yes[i]) == 0;
            return LX_OK;
        }
    }
    return fail(ld, n, "%s: expected true or false", where(ld));
}

/* Replaces *out by a copy of the scalar; a null leaves *out as it is. */
static int read_string(struct loader *ld, struct fy_node *n, char **out)
{
    if (is_null(n))
        return LX_OK;
    const char *s = fy_node_is_scalar(n) ? fy_node_get_scalar0(n) : NULL;
    if (!s)
        return fail(ld, n, "%s: expected a string", where(ld));
    char *copy = dup_str(s);
    if (!copy)
        return fail(ld, n, "out of memory");
    free(*out);
    *out = copy;
    return LX_OK;
}

/* ---- the YAML reader: mappings by table -------------------------------- */

enum field_kind { FIELD_U32, FIELD_SIZE, FIELD_BOOL, FIELD_STRING, FIELD_CUSTOM };

/* One key of a mapping: where its value goes in the target struct and
 * which values it takes. FIELD_CUSTOM calls read(). */
struct field {
    const char *key;
    enum field_kind kind;
    size_t offset;
    uint64_t min, max;
    int (*read)(struct loader *ld, struct fy_node *value, void *target);
    bool required; /* an empty value is an error, not "keep the default" */
};

/* Rows of the tables below. */
#define FIELD_NUM(k, kind_, type, member, lo, hi)                                                  \
    {                                                                                              \
        .key = (k), .kind = (kind_), .offset = offsetof(type, member), .min = (lo), .max = (hi)    \
    }
#define FIELD_AT(k, kind_, type, member)                                                           \
    {                                                                                              \
        .key = (k), .kind = (kind_), .offset = offsetof(type, member)                              \
    }
#define FIELD_FN(k, fn)                                                                            \
    {                                                                                              \
        .key = (k), .kind = FIELD_CUSTOM, .read = (fn)                                             \
    }
#define FIELD_REQUIRED(k, fn)                                                                      \
    {                                                                                              \
        .key = (k), .kind = FIELD_CUSTOM, .read = (fn), .required = true                           \
    }

static int read_field(struct loader *ld, const struct field *f, struct fy_node *value, void *target)
{
    char *p = (char *)target + f->offset;
    uint64_t v = 0;
    switch (f->kind) {
    case FIELD_U32:
    case FIELD_SIZE:
        if (read_integer(ld, value, f->min, f->max, &v) != LX_OK)
            return LX_ERR;
        if (f->kind == FIELD_U32)
            *(uint32_t *)(void *)p = (uint32_t)v;
        else
            *(size_t *)(void *)p = (size_t)v;
        return LX_OK;
    case FIELD_BOOL:
        return read_bool(ld, value, (bool *)(void *)p);
    case FIELD_STRING:
        return read_string(ld, value, (char **)(void *)p);
    case FIELD_CUSTOM:
        return f->read(ld, value, target);
    }
    return LX_ERR;
}

static int read_fields(struct loader *ld, struct fy_node *map, const struct field *fields,
                       size_t n_fields, void *target)
{
    if (!fy_node_is_mapping(map))
        return fail(ld, map, "%s: expected a mapping", where(ld));
    void *iter = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(map, &iter))) {
        struct fy_node *key = fy_node_pair_key(pair), *value = fy_node_pair_value(pair);
        const char *name = key && fy_node_is_scalar(key) ? fy_node_get_scalar0(key) : NULL;
        if (!name)
            return fail(ld, key ? key : map, "%s: expected a key name", where(ld));
        const struct field *f = NULL;
        for (size_t i = 0; i < n_fields && !f; i++)
            if (strcmp(fields[i].key, name) == 0)
                f = &fields[i];
        if (!f)
            return fail(ld, key, "unknown key '%s' %s%s", name, ld->path_len ? "in " : "at ",
                        where(ld));
        ld->key = key;
        size_t saved = path_push_key(ld, name);
        /* An empty value ("timeouts:", "~") leaves the defaults. */
        int rc = LX_OK;
        if (!is_null(value))
            rc = read_field(ld, f, value, target);
        else if (f->required)
            rc = fail(ld, value, "%s: expected a string", where(ld));
        path_pop(ld, saved);
        if (rc != LX_OK)
            return LX_ERR;
    }
    return LX_OK;
}

/* Checks a sequence of at most max items and returns its length in *n;
 * a null value counts as absent (*n = 0, returns LX_AGAIN). */
static int sequence_length(struct loader *ld, struct fy_node *seq, size_t max, const char *what,
                           size_t *n)
{
    *n = 0;
    if (is_null(seq))
        return LX_AGAIN;
    if (!fy_node_is_sequence(seq))
        return fail(ld, seq, "%s: expected a sequence", where(ld));
    int count = fy_node_sequence_item_count(seq);
    if (count < 0 || (size_t)count > max)
        return fail(ld, seq, "%s: too many %s (at most %zu)", where(ld), what, max);
    *n = (size_t)count;
    return LX_OK;
}

/* ---- sections ----------------------------------------------------------- */

static int read_listener_address(struct loader *ld, struct fy_node *value, void *target)
{
    struct lx_config_listener *l = target;
    char why[128];
    const char *s = fy_node_is_scalar(value) ? fy_node_get_scalar0(value) : NULL;
    if (!s || is_null(value))
        return fail(ld, value, "%s: expected a string", where(ld));
    free(l->address);
    free(l->host);
    l->address = l->host = NULL;
    if (listener_init(l, s, why, sizeof(why)) != LX_OK)
        return fail(ld, value, "%s: invalid address '%s': %s", where(ld), s, why);
    for (struct lx_config_listener *o = ld->c->listeners; o < l; o++)
        if (o->port == l->port && strcmp(o->host, l->host) == 0)
            return fail(ld, value, "%s: duplicate listener address '%s'", where(ld), s);
    return LX_OK;
}

static int read_listener_tls(struct loader *ld, struct fy_node *value, void *target)
{
    static const struct field tls_fields[] = {
        FIELD_AT("cert_file", FIELD_STRING, struct lx_config_listener, tls_cert_file),
        FIELD_AT("key_file", FIELD_STRING, struct lx_config_listener, tls_key_file),
    };
    struct lx_config_listener *l = target;
    if (is_null(value))
        return LX_OK;
    if (read_fields(ld, value, tls_fields, LX_ARRAY_LEN(tls_fields), l) != LX_OK)
        return LX_ERR;
    if (!l->tls_cert_file || !*l->tls_cert_file)
        return fail(ld, value, "%s: missing cert_file (tls needs cert_file and key_file)",
                    where(ld));
    if (!l->tls_key_file || !*l->tls_key_file)
        return fail(ld, value, "%s: missing key_file (tls needs cert_file and key_file)",
                    where(ld));
    return LX_OK;
}

static int read_listeners(struct loader *ld, struct fy_node *seq, void *target)
{
    static const struct field listener_fields[] = {
        FIELD_REQUIRED("address", read_listener_address),
        FIELD_FN("tls", read_listener_tls),
    };
    struct lx_config *c = ld->c;
    size_t n;
    int rc = sequence_length(ld, seq, LX_CONFIG_MAX_LISTENERS, "listeners", &n);
    if (rc != LX_OK)
        return rc == LX_AGAIN ? LX_OK : LX_ERR;
    if (n == 0)
        return fail(ld, seq, "%s: at least one listener is needed", where(ld));
    if (!(c->listeners = calloc(n, sizeof(*c->listeners))))
        return fail(ld, seq, "out of memory");
    void *iter = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(seq, &iter))) {
        struct lx_config_listener *l = &c->listeners[c->n_listeners++];
        size_t saved = path_push_index(ld, c->n_listeners - 1);
        rc = read_fields(ld, item, listener_fields, LX_ARRAY_LEN(listener_fields), l);
        if (rc == LX_OK && !l->address)
            rc = fail(ld, item, "%s: missing key 'address'", where(ld));
        path_pop(ld, saved);
        if (rc != LX_OK)
            return LX_ERR;
    }
    return LX_OK;
}

static int read_limits(struct loader *ld, struct fy_node *value, void *target)
{
    /* Sizes stop at 1 TiB: larger is a typo, and it keeps products in range. */
    const uint64_t big = (uint64_t)1 << 40;
    const struct field fields[] = {
        FIELD_NUM("max_body_bytes", FIELD_SIZE, struct lx_config, limits.max_body_bytes, 1, big),
        FIELD_NUM("max_json_depth", FIELD_U32, struct lx_config, limits.max_json_depth, 1, 1024),
        /* h2o keeps at most 100 request headers (H2O_MAX_HEADERS). */
        FIELD_NUM("max_headers", FIELD_U32, struct lx_config, limits.max_headers, 1, 100),
        FIELD_NUM("max_stream_buffer_bytes", FIELD_SIZE, struct lx_config,
                  limits.max_stream_buffer_bytes, 1, big),
        FIELD_NUM("max_sse_event_bytes", FIELD_SIZE, struct lx_config, limits.max_sse_event_bytes,
                  1, big),
        FIELD_NUM("max_response_bytes", FIELD_SIZE, struct lx_config, limits.max_response_bytes, 1,
                  big),
    };
    return read_fields(ld, value, fields, LX_ARRAY_LEN(fields), target);
}

static int read_audit_path(struct loader *ld, struct fy_node *value, void *target)
{
    char *s = NULL, *path;
    if (is_null(value))
        return LX_OK;
    if (read_string(ld, value, &s) != LX_OK)
        return LX_ERR;
    int rc = audit_path_value(s, &path);
    free(s);
    if (rc != LX_OK)
        return fail(ld, value, "out of memory");
    free(ld->c->audit.path);
    ld->c->audit.path = path;
    return LX_OK;
}

static int read_audit_prompt(struct loader *ld, struct fy_node *value, void *target)
{
    const char *s = fy_node_is_scalar(value) ? fy_node_get_scalar0(value) : NULL;
    if (is_null(value))
        return LX_OK;
    if (!s || audit_prompt_value(s, &ld->c->audit.prompt) != LX_OK)
        return fail(ld, value, "%s: expected full, hash or off", where(ld));
    return LX_OK;
}

static int read_audit(struct loader *ld, struct fy_node *value, void *target)
{
    static const struct field fields[] = {
        FIELD_FN("path", read_audit_path),
        FIELD_FN("prompt", read_audit_prompt),
        FIELD_NUM("queue_max", FIELD_U32, struct lx_config, audit.queue_max, 1, UINT32_MAX),
    };
    return read_fields(ld, value, fields, LX_ARRAY_LEN(fields), target);
}

static int read_auth_store(struct loader *ld, struct fy_node *value, void *target)
{
    if (read_string(ld, value, &ld->c->auth.store) != LX_OK)
        return LX_ERR;
    if (!*ld->c->auth.store)
        return fail(ld, value, "%s: expected a file path", where(ld));
    return LX_OK;
}

/* An exact request path: "/" then printable characters, no query. */
static bool valid_public_path(const char *s)
{
    if (s[0] != '/' || strlen(s) > LX_CONFIG_MAX_PATH_LEN)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7f || *s == '?' || *s == '#')
            return false;
    return true;
}

static int read_auth_public_paths(struct loader *ld, struct fy_node *seq, void *target)
{
    size_t n;
    if (sequence_length(ld, seq, LX_CONFIG_MAX_PUBLIC_PATHS, "paths", &n) == LX_ERR)
        return LX_ERR;
    if (set_public_paths(ld->c, NULL, 0) != LX_OK)
        return fail(ld, seq, "out of memory");
    char **paths = n ? realloc(ld->c->auth.public_paths, n * sizeof(char *)) : NULL;
    if (n && !paths)
        return fail(ld, seq, "out of memory");
    if (n)
        ld->c->auth.public_paths = paths;
    void *iter = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(seq, &iter))) {
        char *p = NULL;
        if (read_string(ld, item, &p) != LX_OK)
            return LX_ERR;
        if (!p || !valid_public_path(p)) {
            free(p);
            return fail(ld, item, "%s: a public path starts with / and has no spaces or query",
                        where(ld));
        }
        ld->c->auth.public_paths[ld->c->auth.n_public_paths++] = p;
    }
    return LX_OK;
}

static int read_auth(struct loader *ld, struct fy_node *value, void *target)
{
    static const struct field fields[] = {
        FIELD_AT("enabled", FIELD_BOOL, struct lx_config, auth.enabled),
        FIELD_FN("store", read_auth_store),
        FIELD_FN("public_paths", read_auth_public_paths),
    };
    return read_fields(ld, value, fields, LX_ARRAY_LEN(fields), target);
}

static int read_health(struct loader *ld, struct fy_node *value, void *target)
{
    static const struct field fields[] = {
        FIELD_NUM("interval_ms", FIELD_U32, struct lx_config, health.interval_ms, 1,
                  LX_CONFIG_MAX_TIMEOUT_MS),
        FIELD_NUM("timeout_ms", FIELD_U32, struct lx_config, health.timeout_ms, 1,
                  LX_CONFIG_MAX_TIMEOUT_MS),
    };
    return read_fields(ld, value, fields, LX_ARRAY_LEN(fields), target);
}

/* Reads a scalar that must be one of the n names; *out gets its index. The
 * error lists them ("expected a, b or c"). */
static int read_choice(struct loader *ld, struct fy_node *value, const char *const *names, size_t n,
                       int *out)
{
    const char *s = fy_node_is_scalar(value) ? fy_node_get_scalar0(value) : NULL;
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (int)i;
            return LX_OK;
        }
    char list[256];
    size_t used = 0;
    for (size_t i = 0; i < n && used < sizeof(list); i++) {
        int w = snprintf(list + used, sizeof(list) - used, "%s%s",
                         i == 0       ? ""
                         : i + 1 == n ? " or "
                                      : ", ",
                         names[i]);
        used += w > 0 ? (size_t)w : 0;
    }
    return fail(ld, value, "%s: expected %s", where(ld), list);
}

static const char *const rate_store_names[] = {"memory", "redis"};

static int read_rate_store(struct loader *ld, struct fy_node *value, void *target)
{
    int k;
    if (read_choice(ld, value, rate_store_names, LX_ARRAY_LEN(rate_store_names), &k) != LX_OK)
        return LX_ERR;
    ld->c->rate_limits.store = (enum lx_rate_store)k;
    return LX_OK;
}

static int read_redis_on_error(struct loader *ld, struct fy_node *value, void *target)
{
    const char *s = fy_node_is_scalar(value) ? fy_node_get_scalar0(value) : "";
    if (strcmp(s, "allow") != 0 && strcmp(s, "deny") != 0)
        return fail(ld, value, "%s: expected allow or deny", where(ld));
    ld->c->rate_limits.redis.deny_on_error = s[0] == 'd';
    return LX_OK;
}

/* redis://host[:port][/db]: no user or password (llmux sends no AUTH), a
 * host name or IPv4 address (an IPv6 one in brackets), db 0 .. 15. */
static int parse_redis_url(const char *url, struct lx_config_redis *r)
{
    const char *p = url, *scheme = "redis://";
    if (strncmp(p, scheme, strlen(scheme)) != 0)
        return LX_ERR;
    p += strlen(scheme);
    const char *host = p, *host_end;
    if (*p == '[') {
        host = ++p;
        if ((host_end = strchr(p, ']')) == NULL)
            return LX_ERR;
        p = host_end + 1;
    } else {
        host_end = p + strcspn(p, ":/@");
        p = host_end;
    }
    if (*p == '@' || host_end == host || host_end - host > 255)
        return LX_ERR;
    unsigned long port = 6379, db = 0;
    char *end;
    if (*p == ':') {
        port = strtoul(p + 1, &end, 10);
        if (end == p + 1 || port == 0 || port > 65535)
            return LX_ERR;
        p = end;
    }
    if (*p == '/' && p[1]) {
        db = strtoul(p + 1, &end, 10);
        if (end == p + 1 || *end || db > LX_CONFIG_MAX_REDIS_DB)
            return LX_ERR;
        p = end;
    } else if (*p == '/') {
        p++;
    }
    if (*p)
        return LX_ERR;
    char *h = strndup(host, (size_t)(host_end - host));
    if (h == NULL)
        return LX_ERR;
    free(r->host);
    r->host = h;
    r->port = (uint16_t)port;
    r->db = (uint32_t)db;
    return LX_OK;
}

static int read_redis(struct loader *ld, struct fy_node *value, void *target)
{
    static const struct field fields[] = {
        FIELD_AT("url", FIELD_STRING, struct lx_config, rate_limits.redis.url),
        FIELD_AT("key_prefix", FIELD_STRING, struct lx_config, rate_limits.redis.key_prefix),
        FIELD_NUM("timeout_ms", FIELD_U32, struct lx_config, rate_limits.redis.timeout_ms, 1,
                  LX_CONFIG_MAX_REDIS_TIMEOUT_MS),
        FIELD_FN("on_error", read_redis_on_error),
    };
    struct lx_config_redis *r = &ld->c->rate_limits.redis;
    if (read_fields(ld, value, fields, LX_ARRAY_LEN(fields), target) != LX_OK)
        return LX_ERR;
    if (parse_redis_url(r->url, r) != LX_OK)
        return fail(ld, value, "%s: url: expected redis://host[:port][/db] (db 0..%d)", where(ld),
                    LX_CONFIG_MAX_REDIS_DB);
    if (strlen(r->key_prefix) > LX_CONFIG_MAX_REDIS_PREFIX)
        return fail(ld, value, "%s: key_prefix: at most %d bytes", where(ld),
                    LX_CONFIG_MAX_REDIS_PREFIX);
    return LX_OK;
}

static int read_rate_limits(struct loader *ld, struct fy_node *value, void *target)
{
    static const struct field fields[] = {
        FIELD_NUM("per_key_rpm", FIELD_U32, struct lx_config, rate_limits.per_key_rpm, 0,
                  LX_CONFIG_MAX_RPM),
        FIELD_NUM("per_model_rpm", FIELD_U32, struct lx_config, rate_limits.per_model_rpm, 0,
                  LX_CONFIG_MAX_RPM),
        FIELD_NUM("burst", FIELD_U32, struct lx_config, rate_limits.burst, 0, LX_CONFIG_MAX_RPM),
        FIELD_NUM("per_key_tpm", FIELD_U32, struct lx_config, rate_limits.per_key_tpm, 0,
                  LX_CONFIG_MAX_TPM),
        FIELD_NUM("per_model_tpm", FIELD_U32, struct lx_config, rate_limits.per_model_tpm, 0,
                  LX_CONFIG_MAX_TPM),
        FIELD_FN("store", read_rate_store),
        FIELD_FN("redis", read_redis),
    };
    return read_fields(ld, value, fields, LX_ARRAY_LEN(fields), target);
}

static int read_policy_tool_calls(struct loader *ld, struct fy_node *value, void *target)
{
    if (is_null(value))
        return LX_OK;
    int k;
    if (read_choice(ld, value, tool_calls_names, LX_ARRAY_LEN(tool_calls_names), &k) != LX_OK)
        return LX_ERR;
    ld->c->policy.tool_calls = (enum lx_tool_calls_policy)k;
    return LX_OK;
}

static int read_policy_structured_output(struct loader *ld, struct fy_node *value, void *target)
{
    if (is_null(value))
        return LX_OK;
    int k;
    if (read_choice(ld, value, tool_calls_names, LX_ARRAY_LEN(tool_calls_names), &k) != LX_OK)
        return LX_ERR;
    ld->c->policy.structured_output = (enum lx_tool_calls_policy)k;
    return LX_OK;
}

static int read_policy_forbidden_tools(struct loader *ld, struct fy_node *value, void *target)
{
    if (is_null(value))
        return LX_OK;
    int k;
    if (read_choice(ld, value, forbidden_tools_names, LX_ARRAY_LEN(forbidden_tools_names), &k) !=
        LX_OK)
        return LX_ERR;
    ld->c->policy.forbidden_tools = (enum lx_forbidden_tools_policy)k;
    return LX_OK;
}

static int read_admin_key_env(struct loader *ld, struct fy_node *value, void *target)
{
    char *name = NULL;
    if (read_string(ld, value, &name) != LX_OK)
        return LX_ERR;
    if (!name || !*name || strlen(name) > LX_CONFIG_MAX_NAME_LEN) {
        free(name);
        return fail(ld, value, "%s: expected the name of an environment variable", where(ld));
    }
    free(ld->c->admin.key_env);
    ld->c->admin.key_env = name;
    return LX_OK;
}

static int read_admin(struct loader *ld, struct fy_node *value, void *target)
{
    static const struct field fields[] = {
        FIELD_AT("enabled", FIELD_BOOL, struct lx_config, admin.enabled),
        FIELD_FN("key_env", read_admin_key_env),
    };
    return read_fields(ld, value, fields, LX_ARRAY_LEN(fields), target);
}

/* models[].tools_allowed: tool names, [A-Za-z0-9_-] as every dialect
 * allows. An empty list allows no tool. */
static int read_model_tools_allowed(struct loader *ld, struct fy_node *seq, void *target)
{
    struct lx_config_model *m = target;
    size_t n;
    int rc = sequence_length(ld, seq, LX_CONFIG_MAX_TOOLS_ALLOWED, "tools", &n);
    if (rc != LX_OK)
        return rc == LX_AGAIN ? LX_OK : LX_ERR;
    if (!(m->tools_allowed = calloc(n + 1, sizeof(char *))))
        return fail(ld, seq, "out of memory");
    void *iter = NULL;
    struct fy_node *item;
    while (rc == LX_OK && (item = fy_node_sequence_iterate(seq, &iter))) {
        char *t = NULL;
        if (read_string(ld, item, &t) != LX_OK)
            return LX_ERR;
        bool ok = t && *t && strlen(t) <= 64;
        for (const char *p = t; ok && *p; p++)
            ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 *p == '_' || *p == '-';
        if (!ok) {
            free(t);
            return fail(ld, item, "%s: a tool name is 1 to 64 of A-Z a-z 0-9 _ -", where(ld));
        }
        m->tools_allowed[m->n_tools_allowed++] = t;
    }
    return LX_OK;
}

static int read_policy(struct loader *ld, struct fy_node *value, void *target)
{
    static const struct field fields[] = {
        FIELD_FN("tool_calls", read_policy_tool_calls),
        FIELD_FN("forbidden_tools", read_policy_forbidden_tools),
        FIELD_FN("structured_output", read_policy_structured_output),
        FIELD_NUM("repair_attempts", FIELD_U32, struct lx_config, policy.repair_attempts, 1,
                  LX_CONFIG_MAX_REPAIR_ATTEMPTS),
    };
    return read_fields(ld, value, fields, LX_ARRAY_LEN(fields), target);
}

static int read_responses_store(struct loader *ld, struct fy_node *value, void *target)
{
    char *s = NULL, *path;
    if (read_string(ld, value, &s) != LX_OK)
        return LX_ERR;
    int rc = responses_store_value(s, &path);
    free(s);
    if (rc == LX_AGAIN)
        return fail(ld, value, "%s: expected a file path or off", where(ld));
    if (rc != LX_OK)
        return fail(ld, value, "out of memory");
    free(ld->c->responses.store);
    ld->c->responses.store = path;
    return LX_OK;
}

static int read_responses_reasoning(struct loader *ld, struct fy_node *value, void *target)
{
    int k;
    if (read_choice(ld, value, reasoning_events_names, LX_ARRAY_LEN(reasoning_events_names), &k) !=
        LX_OK)
        return LX_ERR;
    ld->c->responses.reasoning_events = (enum lx_reasoning_events)k;
    return LX_OK;
}

static int read_responses_key_env(struct loader *ld, struct fy_node *value, void *target)
{
    char *name = NULL;
    if (read_string(ld, value, &name) != LX_OK)
        return LX_ERR;
    if (!name || !valid_env_name(name) || strlen(name) > LX_CONFIG_MAX_NAME_LEN) {
        free(name);
        return fail(ld, value, "%s: expected the name of an environment variable", where(ld));
    }
    free(ld->c->responses.encryption_key_env);
    ld->c->responses.encryption_key_env = name;
    return LX_OK;
}

static int read_responses_websocket(struct loader *ld, struct fy_node *value, void *target)
{
    static const struct field fields[] = {
        FIELD_NUM("max_connection_ms", FIELD_U32, struct lx_config,
                  responses.websocket.max_connection_ms, 1, UINT32_MAX),
        FIELD_NUM("max_queued", FIELD_U32, struct lx_config, responses.websocket.max_queued, 0,
                  1024),
        FIELD_NUM("max_cached", FIELD_U32, struct lx_config, responses.websocket.max_cached, 1,
                  1024),
        FIELD_NUM("max_message_bytes", FIELD_SIZE, struct lx_config,
                  responses.websocket.max_message_bytes, 1024, (uint64_t)1 << 30),
    };
    return read_fields(ld, value, fields, LX_ARRAY_LEN(fields), target);
}

static int read_responses(struct loader *ld, struct fy_node *value, void *target)
{
    static const struct field fields[] = {
        FIELD_FN("store", read_responses_store),
        FIELD_NUM("ttl_hours", FIELD_U32, struct lx_config, responses.ttl_hours, 0,
                  LX_CONFIG_MAX_RESPONSES_TTL_HOURS),
        /* at least 1 KiB: a response object alone takes several hundred bytes */
        FIELD_NUM("max_stored_bytes", FIELD_SIZE, struct lx_config, responses.max_stored_bytes,
                  1024, (uint64_t)1 << 40),
        FIELD_FN("reasoning_events", read_responses_reasoning),
        FIELD_AT("default_store", FIELD_BOOL, struct lx_config, responses.default_store),
        FIELD_FN("encryption_key_env", read_responses_key_env),
        FIELD_FN("websocket", read_responses_websocket),
    };
    return read_fields(ld, value, fields, LX_ARRAY_LEN(fields), target);
}

static int read_priority(struct loader *ld, struct fy_node *value, void *target)
{
    static const struct field fields[] = {
        FIELD_AT("header", FIELD_BOOL, struct lx_config, priority.header),
    };
    return read_fields(ld, value, fields, LX_ARRAY_LEN(fields), target);
}

/* ---- redaction ------------------------------------------------------------ */

static const char *const redact_action_names[] = {"mask", "pseudonym", "block", "tag"};
enum { DIR_INPUT = 1, DIR_OUTPUT = 2, DIR_BOTH = 3 };

/* One rule of redaction.detectors or redaction.custom as read. */
struct redact_rule {
    char *name, *pattern; /* pattern NULL for a built-in */
    int action;           /* -1 until read */
    int direction;
    struct fy_node *name_node, *pattern_node;
};

static int read_rule_name(struct loader *ld, struct fy_node *value, void *target)
{
    struct redact_rule *r = target;
    r->name_node = value;
    return read_string(ld, value, &r->name);
}

static int read_rule_pattern(struct loader *ld, struct fy_node *value, void *target)
{
    struct redact_rule *r = target;
    r->pattern_node = value;
    return read_string(ld, value, &r->pattern);
}

static int read_rule_action(struct loader *ld, struct fy_node *value, void *target)
{
    struct redact_rule *r = target;
    int k;
    if (read_choice(ld, value, redact_action_names, LX_ARRAY_LEN(redact_action_names), &k) != LX_OK)
        return LX_ERR;
    r->action = (int)k;
    return LX_OK;
}

static int read_rule_direction(struct loader *ld, struct fy_node *value, void *target)
{
    struct redact_rule *r = target;
    const char *s = fy_node_is_scalar(value) ? fy_node_get_scalar0(value) : "";
    r->direction = strcmp(s, "input") == 0    ? DIR_INPUT
                   : strcmp(s, "output") == 0 ? DIR_OUTPUT
                   : strcmp(s, "both") == 0   ? DIR_BOTH
                                              : 0;
    return r->direction ? LX_OK : fail(ld, value, "%s: expected input, output or both", where(ld));
}

/* Adds rule r to the set of its direction, creating the set on first use.
 * In output a block or tag detector masks (config.h). */
static int add_rule(struct loader *ld, struct fy_node *item, const struct redact_rule *r)
{
    struct lx_redact_set **sets[2] = {&ld->c->redaction.input, &ld->c->redaction.output};
    for (int k = 0; k < 2; k++) {
        if (!(r->direction & (k ? DIR_OUTPUT : DIR_INPUT)))
            continue;
        if (*sets[k] == NULL && !(*sets[k] = lx_redact_set_new(&ld->red_limits)))
            return fail(ld, item, "out of memory");
        lx_redact_action a = (lx_redact_action)r->action;
        /* with restore, an answer's own <LABEL_N> would be read as the
         * prompt's pseudonym N and "restored" to another value: mask */
        if (k == 1 && (a == LX_REDACT_BLOCK || a == LX_REDACT_TAG ||
                       (a == LX_REDACT_PSEUDONYM && ld->c->redaction.restore)))
            a = LX_REDACT_MASK;
        char why[256] = "";
        lx_buf err;
        lx_buf_init(&err, sizeof(why) - 1);
        int rc = r->pattern ? lx_redact_set_add_custom(*sets[k], r->name, r->pattern, a, &err)
                            : lx_redact_set_add_builtin(*sets[k], r->name, a, &err);
        if (err.len)
            snprintf(why, sizeof(why), "%s", err.data);
        lx_buf_release(&err);
        if (rc != LX_OK)
            return fail(ld,
                        r->pattern && (strstr(why, "offset") || strstr(why, "pattern"))
                            ? r->pattern_node
                            : r->name_node,
                        "%s: %s", where(ld), why);
    }
    return LX_OK;
}

/* redaction.detectors (custom false) or redaction.custom (custom true). */
static int read_redact_rules(struct loader *ld, struct fy_node *seq, bool custom)
{
    static const struct field builtin_fields[] = {
        FIELD_REQUIRED("name", read_rule_name),
        FIELD_FN("action", read_rule_action),
        FIELD_FN("direction", read_rule_direction),
    };
    static const struct field custom_fields[] = {
        FIELD_REQUIRED("name", read_rule_name),
        FIELD_REQUIRED("pattern", read_rule_pattern),
        FIELD_FN("action", read_rule_action),
        FIELD_FN("direction", read_rule_direction),
    };
    size_t n, i = 0;
    int rc = sequence_length(ld, seq, LX_CONFIG_MAX_REDACT_RULES, "detectors", &n);
    if (rc != LX_OK)
        return rc == LX_AGAIN ? LX_OK : LX_ERR;
    size_t saved_key = path_push_key(ld, custom ? "custom" : "detectors");
    void *iter = NULL;
    struct fy_node *item;
    while (rc == LX_OK && (item = fy_node_sequence_iterate(seq, &iter))) {
        struct redact_rule r = {.action = LX_REDACT_MASK, .direction = DIR_BOTH};
        size_t saved = path_push_index(ld, i++);
        rc = custom ? read_fields(ld, item, custom_fields, LX_ARRAY_LEN(custom_fields), &r)
                    : read_fields(ld, item, builtin_fields, LX_ARRAY_LEN(builtin_fields), &r);
        if (rc == LX_OK && (!r.name || (custom && !r.pattern)))
            rc = fail(ld, item, "%s: missing key '%s'", where(ld), r.name ? "pattern" : "name");
        if (rc == LX_OK)
            rc = add_rule(ld, item, &r);
        path_pop(ld, saved);
        free(r.name);
        free(r.pattern);
    }
    path_pop(ld, saved_key);
    return rc;
}

static int keep_detectors(struct loader *ld, struct fy_node *value, void *target)
{
    ld->red_detectors = value;
    return LX_OK;
}

static int keep_custom(struct loader *ld, struct fy_node *value, void *target)
{
    ld->red_custom = value;
    return LX_OK;
}

static int read_redaction(struct loader *ld, struct fy_node *value, void *target)
{
    static const struct field fields[] = {
        FIELD_FN("detectors", keep_detectors),
        FIELD_FN("custom", keep_custom),
        FIELD_AT("restore", FIELD_BOOL, struct lx_config, redaction.restore),
        FIELD_NUM("max_hold", FIELD_SIZE, struct lx_redact_limits, max_hold, 64, 1u << 20),
        FIELD_NUM("max_pseudonyms", FIELD_SIZE, struct lx_redact_limits, max_pseudonyms, 1, 65536),
    };
    /* restore goes to the snapshot, the limits to the loader; the rules are
     * read last, so their sets are made with the final limits */
    lx_redact_limits_default(&ld->red_limits);
    if (!fy_node_is_mapping(value))
        return fail(ld, value, "%s: expected a mapping", where(ld));
    void *iter = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(value, &iter))) {
        const char *k = fy_node_get_scalar0(fy_node_pair_key(pair));
        struct fy_node *v = fy_node_pair_value(pair);
        const struct field *f = NULL;
        for (size_t i = 0; k && i < LX_ARRAY_LEN(fields) && !f; i++)
            if (strcmp(fields[i].key, k) == 0)
                f = &fields[i];
        if (!f)
            return fail(ld, fy_node_pair_key(pair), "unknown key '%s' in %s", k ? k : "?",
                        where(ld));
        void *dst = f->kind == FIELD_BOOL ? (void *)ld->c : (void *)&ld->red_limits;
        ld->key = fy_node_pair_key(pair);
        size_t saved = path_push_key(ld, k);
        int rc = is_null(v) ? LX_OK : read_field(ld, f, v, dst);
        path_pop(ld, saved);
        if (rc != LX_OK)
            return LX_ERR;
    }
    if (read_redact_rules(ld, ld->red_detectors, false) != LX_OK ||
        read_redact_rules(ld, ld->red_custom, true) != LX_OK)
        return LX_ERR;
    return LX_OK;
}

static int read_backend_name(struct loader *ld, struct fy_node *value, void *target)
{
    struct lx_config_backend *b = target;
    if (read_string(ld, value, &b->name) != LX_OK)
        return LX_ERR;
    if (!b->name || !valid_backend_name(b->name))
        return fail(ld, value, "%s: a backend name is 1 to %d of A-Z a-z 0-9 . _ -", where(ld),
                    LX_CONFIG_MAX_NAME_LEN);
    for (struct lx_config_backend *o = ld->c->backends; o < b; o++)
        if (strcmp(o->name, b->name) == 0)
            return fail(ld, value, "%s: duplicate backend name '%s'", where(ld), b->name);
    return LX_OK;
}

static int read_backend_url(struct loader *ld, struct fy_node *value, void *target)
{
    struct lx_config_backend *b = target;
    char *raw = NULL, why[128];
    if (read_string(ld, value, &raw) != LX_OK)
        return LX_ERR;
    if (!raw)
        return fail(ld, value, "%s: expected a string", where(ld));
    free(b->url);
    b->url = clean_url(raw, why, sizeof(why));
    free(raw);
    return b->url ? LX_OK : fail(ld, value, "%s: %s", where(ld), why);
}

static int read_backend_dialect(struct loader *ld, struct fy_node *value, void *target)
{
    struct lx_config_backend *b = target;
    int k;
    if (read_choice(ld, value, dialect_names, LX_ARRAY_LEN(dialect_names), &k) != LX_OK)
        return LX_ERR;
    b->dialect = (enum lx_dialect)k;
    return LX_OK;
}

static int read_backend_key_env(struct loader *ld, struct fy_node *value, void *target)
{
    struct lx_config_backend *b = target;
    if (read_string(ld, value, &b->api_key_env) != LX_OK)
        return LX_ERR;
    if (b->api_key_env && !valid_env_name(b->api_key_env))
        return fail(ld, value, "%s: '%s' is not an environment variable name", where(ld),
                    b->api_key_env);
    return LX_OK;
}

/* A header name as RFC 9110 allows (token characters), stored lowercase. */
static bool valid_header_name(const char *s)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (*s == '\0' || strlen(s) > 128)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
            return false;
    return true;
}

static int read_backend_forward_headers(struct loader *ld, struct fy_node *value, void *target)
{
    struct lx_config_backend *b = target;
    if (!fy_node_is_sequence(value))
        return fail(ld, value, "%s: expected a sequence of header names", where(ld));
    int n = fy_node_sequence_item_count(value);
    if (n > 64)
        return fail(ld, value, "%s: at most 64 headers", where(ld));
    if (n > 0 && !(b->forward_headers = calloc((size_t)n, sizeof(char *))))
        return fail(ld, value, "out of memory");
    void *iter = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(value, &iter))) {
        char *name = NULL;
        if (read_string(ld, item, &name) != LX_OK)
            return LX_ERR;
        if (!name || !valid_header_name(name)) {
            free(name);
            return fail(ld, item, "%s: not a header name", where(ld));
        }
        for (char *c = name; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        b->forward_headers[b->n_forward_headers++] = name;
    }
    return LX_OK;
}

static int read_backend_timeouts(struct loader *ld, struct fy_node *value, void *target)
{
    static const struct field fields[] = {
        FIELD_NUM("connect_ms", FIELD_U32, struct lx_config_timeouts, connect_ms, 1,
                  LX_CONFIG_MAX_TIMEOUT_MS),
        FIELD_NUM("first_byte_ms", FIELD_U32, struct lx_config_timeouts, first_byte_ms, 1,
                  LX_CONFIG_MAX_TIMEOUT_MS),
        FIELD_NUM("idle_ms", FIELD_U32, struct lx_config_timeouts, idle_ms, 1,
                  LX_CONFIG_MAX_TIMEOUT_MS),
        FIELD_NUM("total_ms", FIELD_U32, struct lx_config_timeouts, total_ms, 1,
                  LX_CONFIG_MAX_TIMEOUT_MS),
    };
    struct lx_config_backend *b = target;
    return read_fields(ld, value, fields, LX_ARRAY_LEN(fields), &b->timeouts);
}

static int read_backend_queue(struct loader *ld, struct fy_node *value, void *target)
{
    static const struct field fields[] = {
        FIELD_NUM("max", FIELD_U32, struct lx_config_queue, max, 0, LX_CONFIG_MAX_BACKEND_QUEUE),
        FIELD_NUM("max_wait_ms", FIELD_U32, struct lx_config_queue, max_wait_ms, 1,
                  LX_CONFIG_MAX_TIMEOUT_MS),
    };
    struct lx_config_backend *b = target;
    return read_fields(ld, value, fields, LX_ARRAY_LEN(fields), &b->queue);
}

/* A ratio in (0, 1], written plain ("0.5", "1"). */
static int read_circuit_ratio(struct loader *ld, struct fy_node *value, void *target)
{
    struct lx_config_circuit *c = target;
    const char *s = fy_node_is_scalar(value) && fy_node_get_style(value) == FYNS_PLAIN
                        ? fy_node_get_scalar0(value)
                        : NULL;
    char *end = NULL;
    errno = 0;
    double v = s && *s && strspn(s, "0123456789.") == strlen(s) ? strtod(s, &end) : -1;
    if (errno || end == NULL || *end || !(v > 0 && v <= 1))
        return fail(ld, value, "%s: expected a number greater than 0 and at most 1", where(ld));
    c->error_ratio = v;
    return LX_OK;
}

static int read_backend_circuit(struct loader *ld, struct fy_node *value, void *target)
{
    static const struct field fields[] = {
        FIELD_AT("enabled", FIELD_BOOL, struct lx_config_circuit, enabled),
        FIELD_NUM("window", FIELD_U32, struct lx_config_circuit, window, 1,
                  LX_CONFIG_MAX_CIRCUIT_WINDOW),
        FIELD_NUM("min_requests", FIELD_U32, struct lx_config_circuit, min_requests, 1,
                  LX_CONFIG_MAX_CIRCUIT_WINDOW),
        FIELD_FN("error_ratio", read_circuit_ratio),
        FIELD_NUM("open_ms", FIELD_U32, struct lx_config_circuit, open_ms, 1,
                  LX_CONFIG_MAX_TIMEOUT_MS),
    };
    struct lx_config_backend *b = target;
    if (read_fields(ld, value, fields, LX_ARRAY_LEN(fields), &b->circuit) != LX_OK)
        return LX_ERR;
    if (b->circuit.min_requests > b->circuit.window)
        return fail(ld, value, "%s: min_requests (%" PRIu32 ") is larger than window (%" PRIu32 ")",
                    where(ld), b->circuit.min_requests, b->circuit.window);
    return LX_OK;
}

/* The host of an http(s) URL into host (brackets removed). */
static bool url_host(const char *url, char *host, size_t n)
{
    const char *p = strstr(url, "://");
    if (!p)
        return false;
    p += 3;
    const char *at = strpbrk(p, "@/");
    if (at && *at == '@')
        p = at + 1;
    size_t len = p[0] == '[' ? strcspn(p + 1, "]") : strcspn(p, ":/");
    if (p[0] == '[')
        p++;
    if (len == 0 || len >= n)
        return false;
    memcpy(host, p, len);
    host[len] = '\0';
    return true;
}

bool lx_config_url_is_local(const char *url)
{
    char host[256];
    unsigned char a[16];
    if (!url || !url_host(url, host, sizeof(host)))
        return false;
    if (strcasecmp(host, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, host, a) == 1)
        return a[0] == 127 || a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
               (a[0] == 192 && a[1] == 168);
    if (inet_pton(AF_INET6, host, a) == 1) {
        static const unsigned char loop[16] = {[15] = 1};
        return memcmp(a, loop, 16) == 0 || (a[0] & 0xfe) == 0xfc;
    }
    return false;
}

static int read_backend_tool_choice(struct loader *ld, struct fy_node *value, void *target)
{
    bool v;
    if (read_bool(ld, value, &v) != LX_OK)
        return LX_ERR;
    ((struct lx_config_backend *)target)->tool_choice_objects = v ? 2 : 1;
    return LX_OK;
}

static int read_backend_local(struct loader *ld, struct fy_node *value, void *target)
{
    struct lx_config_backend *b = target;
    ld->local_given = true;
    return read_bool(ld, value, &b->local);
}

/* A price in US dollars per million tokens: a plain number, 0 to 1e6. */
static int read_usd(struct loader *ld, struct fy_node *value, double *out)
{
    const char *s = fy_node_is_scalar(value) && fy_node_get_style(value) == FYNS_PLAIN
                        ? fy_node_get_scalar0(value)
                        : NULL;
    char *end = NULL;
    errno = 0;
    double v = s && *s && strspn(s, "0123456789.eE+-") == strlen(s) ? strtod(s, &end) : -1;
    if (errno || end == NULL || *end || !(v >= 0 && v <= 1e6))
        return fail(ld, value, "%s: expected a number of US dollars from 0 to 1000000", where(ld));
    *out = v;
    return LX_OK;
}

static int read_price_input(struct loader *ld, struct fy_node *value, void *target)
{
    return read_usd(ld, value, &((struct lx_config_price *)target)->input_per_mtok);
}

static int read_price_output(struct loader *ld, struct fy_node *value, void *target)
{
    return read_usd(ld, value, &((struct lx_config_price *)target)->output_per_mtok);
}

static int read_price(struct loader *ld, struct fy_node *value, struct lx_config_price *p)
{
    static const struct field fields[] = {
        FIELD_FN("input_per_mtok", read_price_input),
        FIELD_FN("output_per_mtok", read_price_output),
    };
    return read_fields(ld, value, fields, LX_ARRAY_LEN(fields), p);
}

/* One capability name into its LX_CAP_* bit. */
static int read_cap(struct loader *ld, struct fy_node *value, uint32_t *bit)
{
    const char *s = fy_node_is_scalar(value) ? fy_node_get_scalar0(value) : NULL;
    for (size_t i = 0; s && i < LX_ARRAY_LEN(cap_names); i++)
        if (strcmp(s, cap_names[i]) == 0) {
            *bit = 1u << i;
            return LX_OK;
        }
    return fail(ld, value, "%s: expected tools, json_schema or vision", where(ld));
}

/* capabilities: [tools, json_schema, vision]; [] means none of them. */
static int read_caps(struct loader *ld, struct fy_node *seq, uint32_t *out)
{
    if (!fy_node_is_sequence(seq))
        return fail(ld, seq, "%s: expected a list of tools, json_schema, vision", where(ld));
    uint32_t caps = 0;
    void *iter = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(seq, &iter))) {
        uint32_t bit = 0;
        if (read_cap(ld, item, &bit) != LX_OK)
            return LX_ERR;
        caps |= bit;
    }
    *out = caps | (1u << 31); /* marks "given", cleared when deployments are completed */
    return LX_OK;
}

static int read_backend_price(struct loader *ld, struct fy_node *value, void *target)
{
    return read_price(ld, value, &((struct lx_config_backend *)target)->price);
}

static int read_backend_caps(struct loader *ld, struct fy_node *value, void *target)
{
    struct lx_config_backend *b = target;
    if (read_caps(ld, value, &b->capabilities) != LX_OK)
        return LX_ERR;
    b->capabilities &= LX_CAP_ALL;
    return LX_OK;
}

static int read_backend_pin_check(struct loader *ld, struct fy_node *value, void *target)
{
    struct lx_config_backend *b = target;
    int k;
    if (read_choice(ld, value, pin_check_names, LX_ARRAY_LEN(pin_check_names), &k) != LX_OK)
        return LX_ERR;
    b->pin_check = (enum lx_pin_check)k;
    return LX_OK;
}

static int read_backends(struct loader *ld, struct fy_node *seq, void *target)
{
    static const struct field backend_fields[] = {
        FIELD_REQUIRED("name", read_backend_name),
        FIELD_REQUIRED("url", read_backend_url),
        FIELD_FN("dialect", read_backend_dialect),
        FIELD_FN("api_key_env", read_backend_key_env),
        FIELD_AT("discover", FIELD_BOOL, struct lx_config_backend, discover),
        FIELD_NUM("max_in_flight", FIELD_U32, struct lx_config_backend, max_in_flight, 0,
                  UINT32_MAX),
        FIELD_FN("queue", read_backend_queue),
        FIELD_AT("health_check", FIELD_BOOL, struct lx_config_backend, health_check),
        FIELD_FN("circuit", read_backend_circuit),
        FIELD_FN("timeouts", read_backend_timeouts),
        FIELD_FN("forward_headers", read_backend_forward_headers),
        FIELD_FN("local", read_backend_local),
        FIELD_FN("tool_choice_objects", read_backend_tool_choice),
        FIELD_FN("price", read_backend_price),
        FIELD_FN("capabilities", read_backend_caps),
        FIELD_FN("pin_check", read_backend_pin_check),
    };
    struct lx_config *c = ld->c;
    size_t n;
    int rc = sequence_length(ld, seq, LX_CONFIG_MAX_BACKENDS, "backends", &n);
    if (rc != LX_OK)
        return rc == LX_AGAIN ? LX_OK : LX_ERR;
    if (n && !(c->backends = calloc(n, sizeof(*c->backends))))
        return fail(ld, seq, "out of memory");
    void *iter = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(seq, &iter))) {
        struct lx_config_backend *b = &c->backends[c->n_backends++];
        backend_defaults(b);
        ld->local_given = false;
        size_t saved = path_push_index(ld, c->n_backends - 1);
        rc = read_fields(ld, item, backend_fields, LX_ARRAY_LEN(backend_fields), b);
        if (rc == LX_OK && (!b->name || !b->url))
            rc = fail(ld, item, "%s: missing key '%s'", where(ld), b->name ? "url" : "name");
        if (rc == LX_OK && !ld->local_given)
            b->local = lx_config_url_is_local(b->url);
        path_pop(ld, saved);
        if (rc != LX_OK)
            return LX_ERR;
    }
    return LX_OK;
}

static int read_model_name(struct loader *ld, struct fy_node *value, void *target)
{
    struct lx_config_model *m = target;
    if (read_string(ld, value, &m->name) != LX_OK)
        return LX_ERR;
    if (!m->name || !valid_model_id(m->name))
        return fail(ld, value, "%s: a model name is 1 to %d characters without spaces", where(ld),
                    LX_CONFIG_MAX_NAME_LEN);
    for (struct lx_config_model *o = ld->c->models; o < m; o++)
        if (strcmp(o->name, m->name) == 0)
            return fail(ld, value, "%s: duplicate model name '%s'", where(ld), m->name);
    return LX_OK;
}

/* Backends may come after models in the file: keep the node, resolve later. */
static int read_model_backend(struct loader *ld, struct fy_node *value, void *target)
{
    struct lx_config_model *m = target;
    if (!fy_node_is_scalar(value) || is_null(value))
        return fail(ld, value, "%s: expected a string", where(ld));
    ld->model_backends[m - ld->c->models] = value;
    return LX_OK;
}

static int read_model_upstream(struct loader *ld, struct fy_node *value, void *target)
{
    struct lx_config_model *m = target;
    if (read_string(ld, value, &m->upstream_model) != LX_OK)
        return LX_ERR;
    if (m->upstream_model && !valid_model_id(m->upstream_model))
        return fail(ld, value, "%s: a model id is 1 to %d characters without spaces", where(ld),
                    LX_CONFIG_MAX_NAME_LEN);
    return LX_OK;
}

static int read_deployment_backend(struct loader *ld, struct fy_node *value, void *target)
{
    struct lx_config_deployment *d = target;
    if (!fy_node_is_scalar(value) || is_null(value))
        return fail(ld, value, "%s: expected a string", where(ld));
    if (ld->n_pending == ld->cap_pending) {
        size_t cap = ld->cap_pending ? ld->cap_pending * 2 : 16;
        struct pending_backend *p = realloc(ld->pending, cap * sizeof(*p));
        if (!p)
            return fail(ld, value, "out of memory");
        ld->pending = p;
        ld->cap_pending = cap;
    }
    struct pending_backend *p = &ld->pending[ld->n_pending++];
    p->dst = &d->backend;
    p->node = value;
    snprintf(p->path, sizeof(p->path), "%.*s", (int)sizeof(p->path) - 1, where(ld));
    return LX_OK;
}

static int read_deployment_upstream(struct loader *ld, struct fy_node *value, void *target)
{
    struct lx_config_deployment *d = target;
    if (read_string(ld, value, &d->upstream_model) != LX_OK)
        return LX_ERR;
    if (d->upstream_model && !valid_model_id(d->upstream_model))
        return fail(ld, value, "%s: a model id is 1 to %d characters without spaces", where(ld),
                    LX_CONFIG_MAX_NAME_LEN);
    return LX_OK;
}

static int read_deployment_price(struct loader *ld, struct fy_node *value, void *target)
{
    struct lx_config_deployment *d = target;
    d->price_set = true;
    return read_price(ld, value, &d->price);
}

static int read_deployment_caps(struct loader *ld, struct fy_node *value, void *target)
{
    return read_caps(ld, value, &((struct lx_config_deployment *)target)->capabilities);
}

/* A model digest: "sha256:" optional, then 12 to 64 hex digits. */
static int read_deployment_digest(struct loader *ld, struct fy_node *value, void *target)
{
    struct lx_config_deployment *d = target;
    if (read_string(ld, value, &d->digest) != LX_OK)
        return LX_ERR;
    const char *h = d->digest && strncmp(d->digest, "sha256:", 7) == 0 ? d->digest + 7 : d->digest;
    size_t n = h ? strlen(h) : 0;
    if (n < 12 || n > 64 || strspn(h, "0123456789abcdef") != n)
        return fail(ld, value, "%s: expected a digest of 12 to 64 lowercase hex digits", where(ld));
    return LX_OK;
}

/* A sequence of deployments into *list (at most max); weighted: the items
 * may carry a weight (a balanced set), else not (fallbacks). */
static int read_deployment_list(struct loader *ld, struct fy_node *seq, bool weighted, size_t max,
                                const char *what, struct lx_config_deployment **list,
                                size_t *n_list)
{
    static const struct field fields[] = {
        FIELD_REQUIRED("backend", read_deployment_backend),
        FIELD_FN("upstream_model", read_deployment_upstream),
        FIELD_FN("price", read_deployment_price),
        FIELD_FN("capabilities", read_deployment_caps),
        FIELD_FN("digest", read_deployment_digest),
        FIELD_NUM("weight", FIELD_U32, struct lx_config_deployment, weight, 1,
                  LX_CONFIG_MAX_WEIGHT), /* last: fallbacks take all but it */
    };
    size_t n;
    int rc = sequence_length(ld, seq, max, what, &n);
    if (rc != LX_OK)
        return rc == LX_AGAIN ? LX_OK : LX_ERR;
    if (*list)
        return fail(ld, seq, "%s: given twice", where(ld));
    if (n && !(*list = calloc(n, sizeof(**list))))
        return fail(ld, seq, "out of memory");
    void *iter = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(seq, &iter))) {
        struct lx_config_deployment *d = &(*list)[(*n_list)++];
        d->weight = 1;
        size_t saved = path_push_index(ld, *n_list - 1);
        size_t pending = ld->n_pending; /* read_deployment_backend adds one */
        rc = read_fields(ld, item, fields, LX_ARRAY_LEN(fields) - (weighted ? 0 : 1), d);
        if (rc == LX_OK && ld->n_pending == pending)
            rc = fail(ld, item, "%s: missing key 'backend'", where(ld));
        path_pop(ld, saved);
        if (rc != LX_OK)
            return LX_ERR;
    }
    return LX_OK;
}

static int read_model_fallbacks(struct loader *ld, struct fy_node *seq, void *target)
{
    struct lx_config_model *m = target;
    return read_deployment_list(ld, seq, false, LX_CONFIG_MAX_FALLBACKS, "fallbacks", &m->fallbacks,
                                &m->n_fallbacks);
}

static int read_model_deployments(struct loader *ld, struct fy_node *seq, void *target)
{
    struct lx_config_model *m = target;
    if (read_deployment_list(ld, seq, true, LX_CONFIG_MAX_DEPLOYMENTS, "deployments",
                             &m->deployments, &m->n_deployments) != LX_OK)
        return LX_ERR;
    if (m->n_deployments == 0)
        return fail(ld, seq, "%s: needs at least one deployment", where(ld));
    return LX_OK;
}

static int read_model_balance(struct loader *ld, struct fy_node *value, void *target)
{
    struct lx_config_model *m = target;
    int k;
    if (read_choice(ld, value, balance_names, LX_ARRAY_LEN(balance_names), &k) != LX_OK)
        return LX_ERR;
    m->balance = (enum lx_balance)k;
    return LX_OK;
}

/* The A/B arm is a model (or alias) that may come later: resolved at the end. */
static int read_ab_model(struct loader *ld, struct fy_node *value, void *target)
{
    struct lx_config_model *m = target;
    if (!fy_node_is_scalar(value))
        return fail(ld, value, "%s: expected a string", where(ld));
    ld->ab_models[m - ld->c->models] = value;
    return LX_OK;
}

/* A share in [0, 1], written plain ("0.1", "1", "0"). */
static int read_ab_share(struct loader *ld, struct fy_node *value, void *target)
{
    struct lx_config_model *m = target;
    const char *s = fy_node_is_scalar(value) && fy_node_get_style(value) == FYNS_PLAIN
                        ? fy_node_get_scalar0(value)
                        : NULL;
    char *end = NULL;
    errno = 0;
    double v = s && *s && strspn(s, "0123456789.") == strlen(s) ? strtod(s, &end) : -1;
    if (errno || end == NULL || *end || !(v >= 0 && v <= 1))
        return fail(ld, value, "%s: expected a number from 0 to 1", where(ld));
    m->ab.share = v;
    return LX_OK;
}

static bool valid_header_name(const char *s);

static int read_ab_sticky(struct loader *ld, struct fy_node *value, void *target)
{
    struct lx_config_model *m = target;
    const char *s = fy_node_is_scalar(value) ? fy_node_get_scalar0(value) : NULL;
    if (s && strcmp(s, "key") == 0) {
        m->ab.sticky = LX_AB_STICKY_KEY;
        return LX_OK;
    }
    if (s && strcmp(s, "none") == 0) {
        m->ab.sticky = LX_AB_STICKY_NONE;
        return LX_OK;
    }
    if (s && strncmp(s, "header:", 7) == 0 && valid_header_name(s + 7)) {
        free(m->ab.header);
        if (!(m->ab.header = dup_str(s + 7)))
            return fail(ld, value, "out of memory");
        for (char *p = m->ab.header; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        m->ab.sticky = LX_AB_STICKY_HEADER;
        return LX_OK;
    }
    return fail(ld, value, "%s: expected key, none or header:NAME", where(ld));
}

static int read_model_ab(struct loader *ld, struct fy_node *value, void *target)
{
    static const struct field fields[] = {
        FIELD_REQUIRED("model", read_ab_model),
        FIELD_FN("share", read_ab_share),
        FIELD_FN("sticky", read_ab_sticky),
    };
    struct lx_config_model *m = target;
    m->ab.share = -1;
    if (read_fields(ld, value, fields, LX_ARRAY_LEN(fields), m) != LX_OK)
        return LX_ERR;
    if (!ld->ab_models[m - ld->c->models])
        return fail(ld, value, "%s: missing key 'model'", where(ld));
    if (m->ab.share < 0)
        return fail(ld, value, "%s: missing key 'share'", where(ld));
    m->ab.enabled = true;
    return LX_OK;
}

static const char *const retry_class_names[] = {"connect", "timeout", "5xx", "429", "incomplete"};

const char *lx_config_retry_class_name(uint32_t bit)
{
    for (size_t i = 0; i < LX_ARRAY_LEN(retry_class_names); i++)
        if (bit == 1u << i)
            return retry_class_names[i];
    return NULL;
}

static int read_retry_on(struct loader *ld, struct fy_node *seq, void *target)
{
    struct lx_config_retry *r = target;
    if (!fy_node_is_sequence(seq))
        return fail(ld, seq, "%s: expected a sequence of failure classes", where(ld));
    r->on = 0;
    void *iter = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(seq, &iter))) {
        const char *s = fy_node_is_scalar(item) ? fy_node_get_scalar0(item) : NULL;
        uint32_t bit = 0;
        for (size_t i = 0; s && i < LX_ARRAY_LEN(retry_class_names) && !bit; i++)
            if (strcmp(s, retry_class_names[i]) == 0)
                bit = 1u << i;
        if (!bit)
            return fail(ld, item, "%s: expected connect, timeout, 5xx, 429 or incomplete",
                        where(ld));
        r->on |= bit;
    }
    return LX_OK;
}

static int read_model_retry(struct loader *ld, struct fy_node *value, void *target)
{
    static const struct field fields[] = {
        FIELD_NUM("attempts", FIELD_U32, struct lx_config_retry, attempts, 1,
                  LX_CONFIG_MAX_ATTEMPTS),
        FIELD_FN("on", read_retry_on),
        FIELD_NUM("backoff_ms", FIELD_U32, struct lx_config_retry, backoff_ms, 0,
                  LX_CONFIG_MAX_TIMEOUT_MS),
        FIELD_NUM("max_backoff_ms", FIELD_U32, struct lx_config_retry, max_backoff_ms, 0,
                  LX_CONFIG_MAX_TIMEOUT_MS),
        FIELD_NUM("deadline_ms", FIELD_U32, struct lx_config_retry, deadline_ms, 1,
                  LX_CONFIG_MAX_TIMEOUT_MS),
    };
    struct lx_config_model *m = target;
    if (read_fields(ld, value, fields, LX_ARRAY_LEN(fields), &m->retry) != LX_OK)
        return LX_ERR;
    if (m->retry.max_backoff_ms < m->retry.backoff_ms)
        return fail(ld, value, "%s: max_backoff_ms (%" PRIu32 ") is below backoff_ms (%" PRIu32 ")",
                    where(ld), m->retry.max_backoff_ms, m->retry.backoff_ms);
    return LX_OK;
}

static void retry_defaults(struct lx_config_retry *r)
{
    *r = (struct lx_config_retry){
        .attempts = 1,
        .on = LX_RETRY_ALL,
        .backoff_ms = LX_CONFIG_DEFAULT_RETRY_BACKOFF_MS,
        .max_backoff_ms = LX_CONFIG_DEFAULT_RETRY_MAX_BACKOFF_MS,
        .deadline_ms = LX_CONFIG_DEFAULT_RETRY_DEADLINE_MS,
    };
}

static int read_models(struct loader *ld, struct fy_node *seq, void *target)
{
    static const struct field model_fields[] = {
        FIELD_REQUIRED("name", read_model_name),
        FIELD_FN("backend", read_model_backend),
        FIELD_FN("upstream_model", read_model_upstream),
        FIELD_FN("fallbacks", read_model_fallbacks),
        FIELD_FN("retry", read_model_retry),
        FIELD_FN("deployments", read_model_deployments),
        FIELD_FN("balance", read_model_balance),
        FIELD_FN("ab", read_model_ab),
        FIELD_FN("tools_allowed", read_model_tools_allowed),
    };
    struct lx_config *c = ld->c;
    size_t n;
    int rc = sequence_length(ld, seq, LX_CONFIG_MAX_MODELS, "models", &n);
    if (rc != LX_OK)
        return rc == LX_AGAIN ? LX_OK : LX_ERR;
    if (n && (!(c->models = calloc(n, sizeof(*c->models))) ||
              !(ld->model_backends = calloc(n, sizeof(*ld->model_backends))) ||
              !(ld->ab_models = calloc(n, sizeof(*ld->ab_models)))))
        return fail(ld, seq, "out of memory");
    void *iter = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(seq, &iter))) {
        struct lx_config_model *m = &c->models[c->n_models++];
        size_t saved = path_push_index(ld, c->n_models - 1);
        retry_defaults(&m->retry);
        rc = read_fields(ld, item, model_fields, LX_ARRAY_LEN(model_fields), m);
        bool short_form = ld->model_backends[c->n_models - 1] != NULL;
        if (rc == LX_OK && (!m->name || (!short_form && !m->deployments)))
            rc = fail(ld, item, "%s: missing key '%s'", where(ld), m->name ? "backend" : "name");
        if (rc == LX_OK && short_form && m->deployments)
            rc = fail(ld, item, "%s: give either backend (and upstream_model) or deployments",
                      where(ld));
        if (rc == LX_OK && !short_form && m->upstream_model)
            rc = fail(ld, item,
                      "%s: upstream_model goes with backend; with deployments, give it "
                      "per deployment",
                      where(ld));
        /* Without upstream_model the public name is sent upstream as is;
         * only a written one is a pin that health checks verify. */
        m->pinned = m->upstream_model != NULL;
        if (rc == LX_OK && short_form && !m->upstream_model &&
            !(m->upstream_model = dup_str(m->name)))
            rc = fail(ld, item, "out of memory");
        for (size_t k = 0; rc == LX_OK && k < lx_config_model_n_deployments(m); k++) {
            struct lx_config_deployment *d =
                (struct lx_config_deployment *)lx_config_model_deployment(m, k);
            d->pinned = d->upstream_model != NULL;
            if (!d->upstream_model && !(d->upstream_model = dup_str(m->name)))
                rc = fail(ld, item, "out of memory");
        }
        path_pop(ld, saved);
        if (rc != LX_OK)
            return LX_ERR;
    }
    return LX_OK;
}

static int resolve_model_backends(struct loader *ld)
{
    struct lx_config *c = ld->c;
    for (size_t i = 0; i < c->n_models; i++) {
        if (!ld->model_backends[i])
            continue; /* the deployments form */
        const char *name = fy_node_get_scalar0(ld->model_backends[i]);
        int b = name ? lx_config_find_backend(c, name) : -1;
        if (b < 0) {
            char path[48];
            snprintf(path, sizeof(path), "models[%zu].backend", i);
            return fail(ld, ld->model_backends[i], "%s: unknown backend '%s'", path,
                        name ? name : "");
        }
        c->models[i].backend = (size_t)b;
    }
    for (size_t i = 0; i < ld->n_pending; i++) {
        const struct pending_backend *p = &ld->pending[i];
        const char *name = fy_node_get_scalar0(p->node);
        int b = name ? lx_config_find_backend(c, name) : -1;
        if (b < 0)
            return fail(ld, p->node, "%s: unknown backend '%s'", p->path, name ? name : "");
        *p->dst = (size_t)b;
    }
    return LX_OK;
}

/* Gives every model its balanced set: the short form becomes a set of one,
 * and the first deployment of a set is also the model's backend and
 * upstream_model. */
static int complete_deployments(struct lx_config *c)
{
    for (size_t i = 0; i < c->n_models; i++) {
        struct lx_config_model *m = &c->models[i];
        if (m->n_deployments == 0) {
            if (!(m->deployments = calloc(1, sizeof(*m->deployments))) ||
                !(m->deployments[0].upstream_model = dup_str(m->upstream_model)))
                return LX_ERR;
            m->n_deployments = 1;
            m->deployments[0].backend = m->backend;
            m->deployments[0].pinned = m->pinned;
            m->deployments[0].weight = 1;
        } else if (!m->upstream_model) {
            if (!(m->upstream_model = dup_str(m->deployments[0].upstream_model)))
                return LX_ERR;
            m->backend = m->deployments[0].backend;
            m->pinned = m->deployments[0].pinned;
        }
        for (size_t k = 0; k < m->n_fallbacks; k++)
            m->fallbacks[k].weight = 1;
        for (size_t k = 0; k < lx_config_model_n_deployments(m); k++) {
            struct lx_config_deployment *d =
                (struct lx_config_deployment *)lx_config_model_deployment(m, k);
            const struct lx_config_backend *b = &c->backends[d->backend];
            if (!d->price_set)
                d->price = b->price;
            d->capabilities = d->capabilities ? d->capabilities & LX_CAP_ALL : b->capabilities;
        }
    }
    return LX_OK;
}

static int read_aliases(struct loader *ld, struct fy_node *map, void *target)
{
    struct lx_config *c = target;
    if (!fy_node_is_mapping(map))
        return fail(ld, map, "%s: expected a mapping of alias: model", where(ld));
    int count = fy_node_mapping_item_count(map);
    if (count < 0 || count > LX_CONFIG_MAX_ALIASES)
        return fail(ld, map, "%s: too many aliases (at most %d)", where(ld), LX_CONFIG_MAX_ALIASES);
    if (c->aliases)
        return fail(ld, map, "%s: given twice", where(ld));
    if (count && (!(c->aliases = calloc((size_t)count, sizeof(*c->aliases))) ||
                  !(ld->alias_keys = calloc((size_t)count, sizeof(*ld->alias_keys))) ||
                  !(ld->alias_values = calloc((size_t)count, sizeof(*ld->alias_values)))))
        return fail(ld, map, "out of memory");
    void *iter = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(map, &iter))) {
        struct fy_node *key = fy_node_pair_key(pair), *value = fy_node_pair_value(pair);
        const char *name = key && fy_node_is_scalar(key) ? fy_node_get_scalar0(key) : NULL;
        const char *to = value && fy_node_is_scalar(value) && !is_null(value)
                             ? fy_node_get_scalar0(value)
                             : NULL;
        if (!name || !valid_model_id(name))
            return fail(ld, key ? key : map, "%s: an alias is 1 to %d characters without spaces",
                        where(ld), LX_CONFIG_MAX_NAME_LEN);
        if (!to)
            return fail(ld, key, "%s.%s: expected a model name", where(ld), name);
        struct lx_config_alias *a = &c->aliases[c->n_aliases];
        ld->alias_keys[c->n_aliases] = key;
        ld->alias_values[c->n_aliases] = value;
        c->n_aliases++;
        if (!(a->name = dup_str(name)) || !(a->target = dup_str(to)))
            return fail(ld, key, "out of memory");
    }
    return LX_OK;
}

/* The model at the end of alias i's chain; a missing target or a cycle is
 * an error at the alias's value. */
static int resolve_alias(struct loader *ld, size_t i)
{
    struct lx_config *c = ld->c;
    struct lx_config_alias *a = &c->aliases[i];
    if (lx_config_find_model(c, a->name) >= 0)
        return fail(ld, ld->alias_keys[i], "aliases.%s: a model has that name already", a->name);
    const char *to = a->target;
    for (size_t hops = 0; hops <= c->n_aliases; hops++) {
        int m = lx_config_find_model(c, to);
        if (m >= 0) {
            a->model = (size_t)m;
            return LX_OK;
        }
        const struct lx_config_alias *next = lx_config_find_alias(c, to, strlen(to));
        if (!next)
            return fail(ld, ld->alias_values[i], "aliases.%s: unknown model '%s'", a->name, to);
        to = next->target;
    }
    return fail(ld, ld->alias_values[i], "aliases.%s: the aliases form a cycle", a->name);
}

/* A model or alias name as a model index, or -1. */
static int find_model_or_alias(const struct lx_config *c, const char *name)
{
    int m = lx_config_find_model(c, name);
    const struct lx_config_alias *a = m < 0 ? lx_config_find_alias(c, name, strlen(name)) : NULL;
    return a ? (int)a->model : m;
}

static int resolve_names(struct loader *ld)
{
    struct lx_config *c = ld->c;
    for (size_t i = 0; i < c->n_aliases; i++)
        if (resolve_alias(ld, i) != LX_OK)
            return LX_ERR;
    for (size_t i = 0; i < c->n_models; i++) {
        struct fy_node *n = ld->ab_models ? ld->ab_models[i] : NULL;
        if (!n)
            continue;
        const char *name = fy_node_get_scalar0(n);
        int m = name ? find_model_or_alias(c, name) : -1;
        if (m < 0)
            return fail(ld, n, "models[%zu].ab.model: unknown model '%s'", i, name ? name : "");
        if ((size_t)m == i)
            return fail(ld, n, "models[%zu].ab.model: the model itself cannot be its B arm", i);
        c->models[i].ab.model = (size_t)m;
    }
    return complete_deployments(c) == LX_OK ? LX_OK : fail(ld, NULL, "out of memory");
}

/* Copies each backend's key from its variable. An unset variable is a
 * warning, not an error: the backend may not need a key (local servers),
 * and `llmux check` must still show the rest. The value is never printed. */
static int resolve_api_keys(struct lx_config *c)
{
    for (size_t i = 0; i < c->n_backends; i++) {
        struct lx_config_backend *b = &c->backends[i];
        if (!b->api_key_env)
            continue;
        const char *v = getenv(b->api_key_env);
        if (!v || !*v) {
            fprintf(stderr, "llmux: warning: backend '%s': environment variable %s is %s\n",
                    b->name, b->api_key_env, v ? "empty" : "not set");
            continue;
        }
        if (!(b->api_key = dup_str(v)))
            return LX_ERR;
    }
    return LX_OK;
}

/* ---- routing rules ------------------------------------------------------- */

static int read_rule_name_(struct loader *ld, struct fy_node *value, void *target)
{
    struct lx_config_rule *r = target;
    if (read_string(ld, value, &r->name) != LX_OK)
        return LX_ERR;
    size_t n = r->name ? strlen(r->name) : 0;
    if (n == 0 || n > 31 || strspn(r->name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n)
        return fail(ld, value, "%s: a rule name is 1 to 31 of a-z 0-9 _ -", where(ld));
    for (struct lx_config_rule *o = ld->c->routing.rules; o < r; o++)
        if (strcmp(o->name, r->name) == 0)
            return fail(ld, value, "%s: duplicate rule name '%s'", where(ld), r->name);
    return LX_OK;
}

static int read_when_sensitive(struct loader *ld, struct fy_node *value, void *target)
{
    bool v;
    if (read_bool(ld, value, &v) != LX_OK)
        return LX_ERR;
    ((struct lx_config_rule *)target)->when_sensitive = v;
    return LX_OK;
}

static int read_when_header(struct loader *ld, struct fy_node *value, void *target)
{
    struct lx_config_rule *r = target;
    if (read_string(ld, value, &r->when_header) != LX_OK)
        return LX_ERR;
    if (!r->when_header || !valid_header_name(r->when_header))
        return fail(ld, value, "%s: expected a header name", where(ld));
    for (char *p = r->when_header; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return LX_OK;
}

static int read_when_capability(struct loader *ld, struct fy_node *value, void *target)
{
    return read_cap(ld, value, &((struct lx_config_rule *)target)->when_capability);
}

static int read_rule_when(struct loader *ld, struct fy_node *value, void *target)
{
    static const struct field fields[] = {
        FIELD_FN("sensitive", read_when_sensitive),
        FIELD_FN("header", read_when_header),
        FIELD_FN("capability", read_when_capability),
    };
    return read_fields(ld, value, fields, LX_ARRAY_LEN(fields), target);
}

static int read_require_capability(struct loader *ld, struct fy_node *value, void *target)
{
    return read_cap(ld, value, &((struct lx_config_rule *)target)->require_capability);
}

static int read_rule_require(struct loader *ld, struct fy_node *value, void *target)
{
    static const struct field fields[] = {
        FIELD_AT("local", FIELD_BOOL, struct lx_config_rule, require_local),
        FIELD_FN("capability", read_require_capability),
    };
    return read_fields(ld, value, fields, LX_ARRAY_LEN(fields), target);
}

/* Checks what a rule read in full says: it tests something, and a header
 * comparison has its header. */
static int check_rule(struct loader *ld, struct fy_node *item, const struct lx_config_rule *r)
{
    if (!r->name)
        return fail(ld, item, "%s: missing key 'name'", where(ld));
    if (!r->require_local && !r->require_capability && !r->skip_if_ttft_over_header &&
        !r->skip_if_cost_over_header)
        return fail(ld, item,
                    "%s: rule '%s' tests nothing: give require: {local|capability} or "
                    "skip_if_ttft_over_header / skip_if_cost_over_header",
                    where(ld), r->name);
    if ((r->skip_if_ttft_over_header || r->skip_if_cost_over_header) && !r->when_header)
        return fail(ld, item, "%s: rule '%s' compares with a header: give when: {header: NAME}",
                    where(ld), r->name);
    return LX_OK;
}

static int read_routing_rules(struct loader *ld, struct fy_node *seq, void *target)
{
    static const struct field fields[] = {
        FIELD_FN("name", read_rule_name_),
        FIELD_FN("when", read_rule_when),
        FIELD_FN("require", read_rule_require),
        FIELD_AT("skip_if_ttft_over_header", FIELD_BOOL, struct lx_config_rule,
                 skip_if_ttft_over_header),
        FIELD_AT("skip_if_cost_over_header", FIELD_BOOL, struct lx_config_rule,
                 skip_if_cost_over_header),
    };
    struct lx_config *c = target;
    size_t n;
    int rc = sequence_length(ld, seq, LX_CONFIG_MAX_RULES, "rules", &n);
    if (rc != LX_OK)
        return rc == LX_AGAIN ? LX_OK : LX_ERR;
    if (c->routing.rules)
        return fail(ld, seq, "%s: given twice", where(ld));
    if (n && !(c->routing.rules = calloc(n, sizeof(*c->routing.rules))))
        return fail(ld, seq, "out of memory");
    void *iter = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(seq, &iter))) {
        struct lx_config_rule *r = &c->routing.rules[c->routing.n_rules++];
        r->when_sensitive = -1;
        size_t saved = path_push_index(ld, c->routing.n_rules - 1);
        rc = read_fields(ld, item, fields, LX_ARRAY_LEN(fields), r);
        if (rc == LX_OK)
            rc = check_rule(ld, item, r);
        path_pop(ld, saved);
        if (rc != LX_OK)
            return LX_ERR;
    }
    return LX_OK;
}

static int read_routing(struct loader *ld, struct fy_node *value, void *target)
{
    static const struct field fields[] = {
        FIELD_FN("rules", read_routing_rules),
        FIELD_NUM("default_output_tokens", FIELD_U32, struct lx_config,
                  routing.default_output_tokens, 0, 10000000),
    };
    return read_fields(ld, value, fields, LX_ARRAY_LEN(fields), target);
}

/* responses.encryption_key_env must name a variable holding exactly 64
 * hex digits: a key that is missing or malformed would silently become a
 * random one and compaction items would stop opening after a restart. The
 * value is never printed. */
static int check_encryption_key(const struct lx_config *c, char *err, size_t errlen)
{
    const char *name = c->responses.encryption_key_env;
    if (!name)
        return LX_OK;
    const char *v = getenv(name);
    size_t n = v ? strspn(v, "0123456789abcdefABCDEF") : 0;
    if (v && n == 64 && v[n] == '\0')
        return LX_OK;
    set_err(err, errlen, "%s: responses.encryption_key_env: environment variable %s %s", c->source,
            name, !v || !*v ? "is not set" : "does not hold 64 hex digits");
    return LX_ERR;
}

static int read_document(struct loader *ld, struct fy_node *root)
{
    static const struct field top_fields[] = {
        FIELD_FN("listeners", read_listeners),
        FIELD_FN("limits", read_limits),
        FIELD_NUM("drain_timeout_ms", FIELD_U32, struct lx_config, drain_timeout_ms, 1,
                  LX_CONFIG_MAX_TIMEOUT_MS),
        FIELD_FN("audit", read_audit),
        FIELD_FN("auth", read_auth),
        FIELD_FN("health", read_health),
        FIELD_FN("rate_limits", read_rate_limits),
        FIELD_FN("policy", read_policy),
        FIELD_FN("responses", read_responses),
        FIELD_FN("admin", read_admin),
        FIELD_FN("redaction", read_redaction),
        FIELD_FN("backends", read_backends),
        FIELD_FN("models", read_models),
        FIELD_FN("aliases", read_aliases),
        FIELD_FN("priority", read_priority),
        FIELD_FN("routing", read_routing),
    };
    if (!is_null(root) &&
        read_fields(ld, root, top_fields, LX_ARRAY_LEN(top_fields), ld->c) != LX_OK)
        return LX_ERR;
    if (resolve_model_backends(ld) != LX_OK || resolve_names(ld) != LX_OK)
        return LX_ERR;
    if (ld->c->n_listeners == 0) {
        char addr[32];
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", LX_CONFIG_DEFAULT_PORT);
        if (lx_config_set_listen(ld->c, addr, ld->err, ld->errlen) != LX_OK)
            return LX_ERR;
    }
    return LX_OK;
}

/* ---- loading ------------------------------------------------------------- */

/* The first error libfyaml collected, as "FILE:LINE:COL: message". */
static void syntax_error(struct fy_diag *diag, const char *name, char *err, size_t errlen)
{
    void *iter = NULL;
    struct fy_diag_error *e;
    while ((e = fy_diag_errors_iterate(diag, &iter)))
        if (e->type >= FYET_ERROR) {
            set_err(err, errlen, "%s:%d:%d: %s", name, e->line, e->column, e->msg);
            return;
        }
    set_err(err, errlen, "%s: invalid YAML", name);
}

/* Parses exactly one YAML document (or none: *fyd NULL). */
static int parse_yaml(struct fy_parser *fyp, struct fy_diag *diag, const char *name,
                      struct fy_document **fyd, char *err, size_t errlen)
{
    *fyd = fy_parse_load_document(fyp);
    if (!*fyd)
        goto check_errors;
    struct fy_document *extra = fy_parse_load_document(fyp);
    if (extra) {
        const struct fy_mark *m =
            fy_document_state_start_mark(fy_document_get_document_state(extra));
        set_err(err, errlen, "%s:%d:%d: expected one YAML document, found more", name,
                m ? m->line + 1 : 1, m ? m->column + 1 : 1);
        fy_parse_document_destroy(fyp, extra);
        return LX_ERR;
    }
check_errors:
    if (fy_diag_got_error(diag)) {
        syntax_error(diag, name, err, errlen);
        return LX_ERR;
    }
    return LX_OK;
}

/* YAML text is printable UTF-8 (YAML 1.2, 5.1). Checked before libfyaml
 * sees it: its 0.7.12 scanner loops forever on some control characters in
 * a directive (found by tests/fuzz/fuzz_config.c). */
static int check_text(const char *text, size_t len, const char *name, char *err, size_t errlen)
{
    unsigned line = 1, col = 1;
    for (size_t i = 0; i < len; i++, col++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n') {
            line++;
            col = 0;
        } else if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) {
            snprintf(err, errlen, "%s:%u:%u: control character 0x%02x: a config file is text", name,
                     line, col, c);
            return LX_ERR;
        }
    }
    if (!lx_json_utf8_valid(text, len)) {
        snprintf(err, errlen, "%s:1:1: the file is not valid UTF-8", name);
        return LX_ERR;
    }
    return LX_OK;
}

int lx_config_load_string(const char *text, size_t len, const char *name, struct lx_config **out,
                          char *err, size_t errlen)
{
    int rc = LX_ERR;
    *out = NULL;
    if (check_text(text, len, name, err, errlen) != LX_OK)
        return LX_ERR;
    struct fy_diag_cfg dcfg;
    struct fy_document *fyd = NULL;
    struct fy_parser *fyp = NULL;
    struct loader ld = {.file = name, .err = err, .errlen = errlen};

    *out = NULL;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.colorize = false;
    struct fy_diag *diag = fy_diag_create(&dcfg);
    if (!diag)
        goto out_of_memory;
    fy_diag_set_collect_errors(diag, true);
    struct fy_parse_cfg pcfg = {.flags = FYPCF_QUIET | FYPCF_RESOLVE_DOCUMENT, .diag = diag};
    if (!(fyp = fy_parser_create(&pcfg)) || fy_parser_set_string(fyp, text, len) != 0)
        goto out_of_memory;
    if (parse_yaml(fyp, diag, name, &fyd, err, errlen) != LX_OK)
        goto destroy_parser;
    if (!(ld.c = config_new(name)))
        goto out_of_memory;
    ld.fyd = fyd;
    if (read_document(&ld, fyd ? fy_document_root(fyd) : NULL) != LX_OK)
        goto destroy_parser;
    if (resolve_api_keys(ld.c) != LX_OK)
        goto out_of_memory;
    if (check_encryption_key(ld.c, err, errlen) != LX_OK)
        goto destroy_parser;
    *out = ld.c;
    ld.c = NULL;
    rc = LX_OK;
    goto destroy_parser;
out_of_memory:
    set_err(err, errlen, "%s: out of memory", name);
destroy_parser:
    config_free(ld.c);
    free(ld.model_backends);
    free(ld.ab_models);
    free(ld.alias_keys);
    free(ld.alias_values);
    free(ld.pending);
    if (fyd)
        fy_parse_document_destroy(fyp, fyd);
    if (fyp)
        fy_parser_destroy(fyp);
    if (diag)
        fy_diag_destroy(diag);
    return rc;
}

int lx_config_load_file(const char *path, struct lx_config **out, char *err, size_t errlen)
{
    char hash[LX_CONFIG_HASH_HEX];
    return lx_config_load_file_hashed(path, out, hash, err, errlen);
}

int lx_config_load_file_hashed(const char *path, struct lx_config **out,
                               char hash[LX_CONFIG_HASH_HEX], char *err, size_t errlen)
{
    int rc = LX_ERR;
    *out = NULL;
    hash[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) {
        set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return LX_ERR;
    }
    char *text = malloc(LX_CONFIG_MAX_FILE_BYTES + 1);
    if (!text) {
        set_err(err, errlen, "%s: out of memory", path);
        goto close_file;
    }
    size_t len = fread(text, 1, LX_CONFIG_MAX_FILE_BYTES + 1, f);
    if (ferror(f))
        set_err(err, errlen, "%s: cannot read: %s", path, strerror(errno));
    else if (len > LX_CONFIG_MAX_FILE_BYTES)
        set_err(err, errlen, "%s: larger than %d bytes", path, LX_CONFIG_MAX_FILE_BYTES);
    else if (lx_config_sha256_hex(text, len, hash) != LX_OK)
        set_err(err, errlen, "%s: cannot hash the file", path);
    else
        rc = lx_config_load_string(text, len, path, out, err, errlen);
    free(text);
close_file:
    fclose(f);
    return rc;
}

/* ---- printing ------------------------------------------------------------ */

static void print_backend(const struct lx_config_backend *b, FILE *out)
{
    fprintf(out, "  %s\n", b->name);
    fprintf(out, "    url            %s\n", b->url);
    fprintf(out, "    dialect        %s\n", lx_dialect_name(b->dialect));
    if (b->api_key_env)
        fprintf(out, "    key            from $%s (%s)\n", b->api_key_env,
                b->api_key ? "set" : "NOT SET");
    else
        fprintf(out, "    key            none\n");
    fprintf(out, "    discover       %s\n", b->discover ? "yes" : "no");
    for (size_t i = 0; i < b->n_forward_headers; i++)
        fprintf(out, "    forwards       %s\n", b->forward_headers[i]);
    if (b->max_in_flight)
        fprintf(out, "    max_in_flight  %" PRIu32 "\n", b->max_in_flight);
    else
        fprintf(out, "    max_in_flight  0 (no limit)\n");
    if (b->queue.max)
        fprintf(out, "    queue          %" PRIu32 " waiting at most, for at most %" PRIu32 " ms\n",
                b->queue.max, b->queue.max_wait_ms);
    else
        fprintf(out, "    queue          none (a full backend answers 429)\n");
    fprintf(out, "    health_check   %s\n", b->health_check ? "yes" : "no");
    if (b->circuit.enabled)
        fprintf(out,
                "    circuit        opens at %g errors over %" PRIu32 " attempts (at least %" PRIu32
                ") for %" PRIu32 " ms\n",
                b->circuit.error_ratio, b->circuit.window, b->circuit.min_requests,
                b->circuit.open_ms);
    else
        fprintf(out, "    circuit        off\n");
    fprintf(out,
            "    timeouts       connect %" PRIu32 " ms, first byte %" PRIu32 " ms, idle %" PRIu32
            " ms, total %" PRIu32 " ms\n",
            b->timeouts.connect_ms, b->timeouts.first_byte_ms, b->timeouts.idle_ms,
            b->timeouts.total_ms);
}

static void print_rpm(const char *what, uint32_t rpm, uint32_t burst, FILE *out)
{
    if (rpm == 0)
        fprintf(out, "  %-10s off\n", what);
    else
        fprintf(out, "  %-10s %" PRIu32 " per minute, burst %" PRIu32 "\n", what, rpm,
                burst ? burst : LX_MAX((rpm + 5) / 6, 1u));
}

static void print_rate_limits(const struct lx_config *c, FILE *out)
{
    fprintf(out, "\nrate_limits:\n");
    print_rpm("per_key", c->rate_limits.per_key_rpm, c->rate_limits.burst, out);
    print_rpm("per_model", c->rate_limits.per_model_rpm, c->rate_limits.burst, out);
    const uint32_t tpm[2] = {c->rate_limits.per_key_tpm, c->rate_limits.per_model_tpm};
    for (int i = 0; i < 2; i++) {
        if (tpm[i])
            fprintf(out, "  %-10s %" PRIu32 " tokens per minute\n", i ? "per_model" : "per_key",
                    tpm[i]);
    }
    const struct lx_config_redis *r = &c->rate_limits.redis;
    if (c->rate_limits.store == LX_RATE_STORE_REDIS)
        fprintf(out,
                "  store      redis %s:%u db %" PRIu32 ", prefix \"%s\", timeout %" PRIu32
                " ms, on error %s\n",
                r->host, (unsigned)r->port, r->db, r->key_prefix, r->timeout_ms,
                r->deny_on_error ? "deny" : "allow");
    else
        fprintf(out, "  store      memory\n");
}

static void print_retry(const struct lx_config_retry *r, FILE *out)
{
    fprintf(out, "  %-24s    retry %" PRIu32 " attempt%s per deployment on", "", r->attempts,
            r->attempts == 1 ? "" : "s");
    for (uint32_t bit = 1; bit <= LX_RETRY_ALL; bit <<= 1)
        if (r->on & bit)
            fprintf(out, " %s", lx_config_retry_class_name(bit));
    if (!r->on)
        fprintf(out, " nothing");
    fprintf(out, ", backoff %" PRIu32 "-%" PRIu32 " ms, deadline %" PRIu32 " ms\n", r->backoff_ms,
            r->max_backoff_ms, r->deadline_ms);
}

static void print_model(const struct lx_config *c, const struct lx_config_model *m, FILE *out)
{
    if (m->n_deployments == 1) {
        fprintf(out, "  %-24s -> %s / %s\n", m->name, c->backends[m->backend].name,
                m->upstream_model);
    } else {
        fprintf(out, "  %-24s -> %zu deployments, balance %s\n", m->name, m->n_deployments,
                lx_balance_name(m->balance));
        for (size_t k = 0; k < m->n_deployments; k++)
            fprintf(out, "  %-24s    %s / %s  weight %" PRIu32 "\n", "",
                    c->backends[m->deployments[k].backend].name, m->deployments[k].upstream_model,
                    m->deployments[k].weight);
    }
    for (size_t k = 0; k < m->n_fallbacks; k++)
        fprintf(out, "  %-24s    then %s / %s\n", "", c->backends[m->fallbacks[k].backend].name,
                m->fallbacks[k].upstream_model);
    print_retry(&m->retry, out);
    if (m->ab.enabled)
        fprintf(out, "  %-24s    ab %g of the traffic to %s, sticky %s%s\n", "", m->ab.share,
                c->models[m->ab.model].name,
                m->ab.sticky == LX_AB_STICKY_KEY      ? "key"
                : m->ab.sticky == LX_AB_STICKY_HEADER ? "header:"
                                                      : "none",
                m->ab.header ? m->ab.header : "");
}

static void print_redact_set(const char *dir, const struct lx_redact_set *s, FILE *out)
{
    fprintf(out, "  %-9s ", dir);
    for (size_t i = 0; s && i < lx_redact_set_count(s); i++)
        fprintf(out, "%s%s:%s", i ? ", " : "", lx_redact_set_name(s, i),
                redact_action_names[lx_redact_set_action(s, i)]);
    fprintf(out, "%s\n", s ? "" : "(none)");
}

/* Only when a detector is configured: the table stays as it was without. */
static void print_redaction(const struct lx_config *c, FILE *out)
{
    if (!c->redaction.input && !c->redaction.output)
        return;
    fprintf(out, "\nredaction:\n");
    print_redact_set("input", c->redaction.input, out);
    print_redact_set("output", c->redaction.output, out);
    fprintf(out, "  restore   %s\n  local     ", c->redaction.restore ? "true" : "false");
    size_t n = 0;
    for (size_t i = 0; i < c->n_backends; i++)
        if (c->backends[i].local)
            fprintf(out, "%s%s", n++ ? ", " : "", c->backends[i].name);
    fprintf(out, "%s\n", n ? "" : "(no backend: tagged requests get 503)");
}

/* Prices, capabilities and pin checks that differ from the defaults, then
 * the routing rules (nothing when there are none of either). */
static void print_routing(const struct lx_config *c, FILE *out)
{
    bool any = c->routing.n_rules > 0;
    for (size_t i = 0; i < c->n_backends && !any; i++) {
        const struct lx_config_backend *b = &c->backends[i];
        any = b->price.input_per_mtok || b->price.output_per_mtok ||
              b->capabilities != LX_CAP_ALL || b->pin_check != LX_PIN_CHECK_MODELS;
    }
    if (!any)
        return;
    fprintf(out, "\nrouting:\n");
    for (size_t i = 0; i < c->n_backends; i++) {
        const struct lx_config_backend *b = &c->backends[i];
        fprintf(out, "  backend %-16s price %g/%g USD per Mtok, caps", b->name,
                b->price.input_per_mtok, b->price.output_per_mtok);
        for (uint32_t bit = 1; bit & LX_CAP_ALL; bit <<= 1)
            if (b->capabilities & bit)
                fprintf(out, " %s", lx_config_cap_name(bit));
        fprintf(out, "%s, pin_check %s\n", b->capabilities ? "" : " none",
                pin_check_names[b->pin_check]);
    }
    for (size_t i = 0; i < c->routing.n_rules; i++) {
        const struct lx_config_rule *r = &c->routing.rules[i];
        fprintf(out, "  rule %zu %s:", i + 1, r->name);
        if (r->when_sensitive >= 0)
            fprintf(out, " when sensitive=%s", r->when_sensitive ? "true" : "false");
        if (r->when_header)
            fprintf(out, " when header %s", r->when_header);
        if (r->when_capability)
            fprintf(out, " when needs %s", lx_config_cap_name(r->when_capability));
        if (r->require_local)
            fprintf(out, " require local");
        if (r->require_capability)
            fprintf(out, " require %s", lx_config_cap_name(r->require_capability));
        if (r->skip_if_ttft_over_header)
            fprintf(out, " skip if ttft > header");
        if (r->skip_if_cost_over_header)
            fprintf(out, " skip if cost > header");
        fputc('\n', out);
    }
}

void lx_config_print(const struct lx_config *c, FILE *out)
{
    fprintf(out, "config: %s\n\nlisteners:\n", c->source);
    for (size_t i = 0; i < c->n_listeners; i++) {
        const struct lx_config_listener *l = &c->listeners[i];
        if (l->tls_cert_file)
            fprintf(out, "  %-24s https (cert %s, key %s)\n", l->address, l->tls_cert_file,
                    l->tls_key_file);
        else
            fprintf(out, "  %-24s http\n", l->address);
    }
    const struct lx_config_limits *lim = &c->limits;
    fprintf(out, "\nlimits:\n");
    fprintf(out, "  max_body_bytes           %zu\n", lim->max_body_bytes);
    fprintf(out, "  max_json_depth           %" PRIu32 "\n", lim->max_json_depth);
    fprintf(out, "  max_headers              %" PRIu32 "\n", lim->max_headers);
    fprintf(out, "  max_stream_buffer_bytes  %zu\n", lim->max_stream_buffer_bytes);
    fprintf(out, "  max_sse_event_bytes      %zu\n", lim->max_sse_event_bytes);
    fprintf(out, "  max_response_bytes       %zu\n", lim->max_response_bytes);
    fprintf(out, "  drain_timeout_ms         %" PRIu32 "\n", c->drain_timeout_ms);
    fprintf(out, "\naudit:\n  path       %s\n  prompt     %s\n  queue_max  %" PRIu32 "\n",
            c->audit.path ? c->audit.path : "off (disabled)", audit_prompt_names[c->audit.prompt],
            c->audit.queue_max);
    fprintf(out, "\nauth:\n  enabled    %s\n  store      %s\n  public    ",
            c->auth.enabled ? "true" : "false", c->auth.store);
    for (size_t i = 0; i < c->auth.n_public_paths; i++)
        fprintf(out, " %s", c->auth.public_paths[i]);
    fprintf(out, "%s\n", c->auth.n_public_paths ? "" : " (none)");
    fprintf(out, "\nhealth:\n  interval   %" PRIu32 " ms\n  timeout    %" PRIu32 " ms\n",
            c->health.interval_ms, c->health.timeout_ms);
    print_rate_limits(c, out);
    fprintf(out, "\npolicy:\n  tool_calls %s%s\n", tool_calls_names[c->policy.tool_calls],
            c->policy.tool_calls ? " (chat completions, whole and streamed)" : "");
    fprintf(out, "  structured_output %s\n", tool_calls_names[c->policy.structured_output]);
    fprintf(out, "  repair_attempts %u\n", c->policy.repair_attempts);
    fprintf(out, "  forbidden_tools %s\n", forbidden_tools_names[c->policy.forbidden_tools]);
    fprintf(out, "\nadmin:\n  enabled    %s\n  key_env    %s (%s)\n",
            c->admin.enabled ? "true" : "false", c->admin.key_env,
            getenv(c->admin.key_env) && *getenv(c->admin.key_env) ? "set" : "not set");
    fprintf(out,
            "\nresponses:\n  store      %s\n  ttl        %" PRIu32 " h%s\n  max_bytes  %zu\n"
            "  reasoning  %s\n  default    %s\n",
            c->responses.store ? c->responses.store : "off (nothing is stored)",
            c->responses.ttl_hours, c->responses.ttl_hours ? "" : " (never expire)",
            c->responses.max_stored_bytes, reasoning_events_names[c->responses.reasoning_events],
            c->responses.default_store ? "store" : "do not store");
    if (c->responses.encryption_key_env)
        fprintf(out, "  seal_key   from $%s\n", c->responses.encryption_key_env);
    else
        fprintf(out, "  seal_key   random per process (compactions do not survive a restart)\n");
    print_redaction(c, out);
    fprintf(out, "\nbackends (%zu):\n", c->n_backends);
    for (size_t i = 0; i < c->n_backends; i++)
        print_backend(&c->backends[i], out);
    fprintf(out, "\nmodels (%zu):\n", c->n_models);
    for (size_t i = 0; i < c->n_models; i++)
        print_model(c, &c->models[i], out);
    if (c->n_aliases) {
        fprintf(out, "\naliases (%zu):\n", c->n_aliases);
        for (size_t i = 0; i < c->n_aliases; i++)
            fprintf(out, "  %-24s -> %s\n", c->aliases[i].name,
                    c->models[c->aliases[i].model].name);
    }
    fprintf(out, "\npriority:\n  header     %s\n",
            c->priority.header ? "true (x-llmux-priority: high|normal|low)" : "false");
    print_routing(c, out);
}
