/*
 * main.c — the command line: serve, check, keys, version.
 *
 * `serve` builds the config snapshot (file or built-in default, then
 * environment variables, then flags), starts the gateway on one libuv loop
 * and runs until SIGTERM/SIGINT. On the first signal it stops accepting,
 * lets the requests in flight finish within drain_timeout_ms, cancels what
 * is left, and exits 0; a second signal skips the wait. SIGHUP reloads the
 * config (the proxy validates it first and keeps the running one when it is
 * invalid; docs/config.md "Reload").
 */
#include <curl/curl.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "api/api.h"
#include "config/config.h"
#include "config/history.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/version.h"
#include "http/http.h"
#include "obs/audit.h"
#include "proxy/proxy.h"
#include "route/route.h"
#include "route/rules.h"
#include "store/keys.h"
#include "store/responses.h"

#define LLMUX_VERSION LX_VERSION

static const char usage_main[] =
    "llmux " LLMUX_VERSION " — a gateway for large language models\n"
    "\n"
    "Usage:\n"
    "  llmux serve [options]     run the gateway (see llmux serve --help)\n"
    "  llmux check -c FILE       validate a config file and print the routing table\n"
    "  llmux check -c FILE --explain JSON [--header K:V] [--sensitive]\n"
    "                            which deployment a sample request takes, and why\n"
    "  llmux keys create|list|update|revoke\n"
    "                            manage the virtual API keys (see llmux keys --help)\n"
    "  llmux reload [--rollback] [--url URL]\n"
    "                            reload (or roll back) a running gateway's config\n"
    "                            through its admin API (see llmux reload --help)\n"
    "  llmux version             print the version\n"
    "  llmux --help              this text\n"
    "\n"
    "Clients point their OpenAI SDK at http://127.0.0.1:7711/v1 (the default listener).\n";

static const char usage_serve[] =
    "Usage: llmux serve [options]\n"
    "\n"
    "Runs the gateway. Precedence: flag > environment variable > config file > default.\n"
    "\n"
    "  -c, --config FILE      YAML config (env LLMUX_CONFIG). Without one, a built-in\n"
    "                         default serves whatever OpenAI-compatible servers answer on\n"
    "                         the usual local ports: llama.cpp 8080, vLLM 8000,\n"
    "                         Ollama 11434, LM Studio 1234 (their models are discovered).\n"
    "  -l, --listen HOST:PORT listen address; replaces the config's listeners\n"
    "                         (env LLMUX_LISTEN; default 127.0.0.1:7711)\n"
    "  -u, --upstream URL     add a chat backend at URL (e.g. http://127.0.0.1:9000/v1)\n"
    "                         whose models are discovered (env LLMUX_UPSTREAM)\n"
    "      --audit-log PATH   audit log file, '-' for stderr, 'off' to disable\n"
    "                         (env LLMUX_AUDIT_LOG; default llmux-audit.jsonl)\n"
    "      --audit-prompt M   what the audit log keeps of prompts: full, hash, off\n"
    "                         (env LLMUX_AUDIT_PROMPT; default hash)\n"
    "      --log-level L      debug, info, warn, error (env LLMUX_LOG_LEVEL; default info)\n"
    "  -h, --help             this text\n"
    "\n"
    "With auth.enabled in the config, clients need a key from `llmux keys create`;\n"
    "env LLMUX_AUTH_STORE overrides auth.store (the key store file).\n"
    "Stored responses live in responses.store (env LLMUX_RESPONSES_STORE; 'off' disables).\n"
    "\n"
    "Endpoints: POST /v1/chat/completions, POST /v1/embeddings, GET /v1/models,\n"
    "GET|DELETE /v1/responses/{id}, GET /v1/responses/{id}/input_items,\n"
    "POST /v1/responses/{id}/cancel, GET /healthz, GET /readyz.\n"
    "SIGHUP (or POST /admin/config/reload) reloads the config file; an invalid one\n"
    "is refused and the running config stays.\n"
    "See docs/config.md for the config file.\n";

struct serve_opts {
    const char *config, *listen, *upstream, *audit_log, *audit_prompt, *log_level;
};

struct app {
    uv_loop_t loop;
    struct lx_config *cfg; /* the snapshot at start (reloads: lx_proxy_config) */
    struct serve_opts *opts;
    char hash[LX_CONFIG_HASH_HEX]; /* of the config file at start */
    struct lx_audit *audit;
    struct lx_store_resp *resp_store; /* NULL when responses.store is off */
    struct lx_proxy *proxy;
    struct lx_api *api;
    struct lx_http_server *server;
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t drain_timer, poll_timer;
    bool draining, stopped;
};

static const char *env_or(const char *flag, const char *env)
{
    return flag ? flag : getenv(env);
}

/* The config as serve builds it: the file (or the built-in default), then
 * the flags and environment variables that adjust it. hash gets the hex
 * SHA-256 of the file ("" for the default). The proxy calls it again for
 * a reload (lx_proxy_loader). */
static int load_config(void *data, struct lx_config **out, char *hash, char *err, size_t errlen)
{
    const struct serve_opts *o = data;
    struct lx_config *cfg = NULL;
    const char *file = env_or(o->config, "LLMUX_CONFIG");
    hash[0] = '\0';
    *out = NULL;
    if (file && file[0]) {
        if (lx_config_load_file_hashed(file, &cfg, hash, err, errlen) != LX_OK)
            return LX_ERR;
    } else {
        cfg = lx_config_default();
    }
    const char *listen = env_or(o->listen, "LLMUX_LISTEN");
    const char *upstream = env_or(o->upstream, "LLMUX_UPSTREAM");
    const char *audit_log = env_or(o->audit_log, "LLMUX_AUDIT_LOG");
    const char *audit_prompt = env_or(o->audit_prompt, "LLMUX_AUDIT_PROMPT");
    const char *auth_store = getenv("LLMUX_AUTH_STORE");
    const char *resp_store = getenv("LLMUX_RESPONSES_STORE");
    if ((auth_store && lx_config_set_auth_store(cfg, auth_store, err, errlen) != LX_OK) ||
        (resp_store && lx_config_set_responses_store(cfg, resp_store, err, errlen) != LX_OK) ||
        (listen && lx_config_set_listen(cfg, listen, err, errlen) != LX_OK) ||
        (upstream && lx_config_add_upstream(cfg, upstream, err, errlen) != LX_OK) ||
        (audit_log && lx_config_set_audit_path(cfg, audit_log, err, errlen) != LX_OK) ||
        (audit_prompt && lx_config_set_audit_prompt(cfg, audit_prompt, err, errlen) != LX_OK)) {
        lx_config_unref(cfg);
        return LX_ERR;
    }
    *out = cfg;
    return LX_OK;
}

static struct lx_config *build_config(const struct serve_opts *o, char *hash)
{
    char err[512];
    struct lx_config *cfg = NULL;
    if (load_config((void *)o, &cfg, hash, err, sizeof(err)) != LX_OK) {
        fprintf(stderr, "llmux: %s\n", err);
        return NULL;
    }
    return cfg;
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* The last step, once no connection is open: release h2o's context and
 * the loop's own handles, after which the loop ends. */
static void stop(struct app *a)
{
    a->stopped = true;
    close_handle((uv_handle_t *)&a->sig_term);
    close_handle((uv_handle_t *)&a->sig_int);
    close_handle((uv_handle_t *)&a->sig_hup);
    /* the exit is under way: a late signal must not turn it into a kill */
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    close_handle((uv_handle_t *)&a->drain_timer);
    close_handle((uv_handle_t *)&a->poll_timer);
    lx_api_stop(a->api);
    lx_http_server_dispose(a->server);
    lx_log_info("stopped");
}

/* Shutdown steps, checked every 10 ms: wait for the exchanges in flight,
 * then release the proxy and close the idle connections, then stop. */
static void on_poll(uv_timer_t *t)
{
    struct app *a = t->data;
    if (a->proxy) {
        if (lx_proxy_in_flight(a->proxy) > 0 || lx_api_in_flight(a->api) > 0)
            return;
        lx_proxy_free(a->proxy);
        a->proxy = NULL;
        lx_http_server_close_connections(a->server);
    }
    if (!a->stopped && lx_http_server_connections(a->server) == 0)
        stop(a);
}

static void on_drain_timeout(uv_timer_t *t)
{
    struct app *a = t->data;
    if (a->proxy == NULL) {
        lx_http_server_close_connections(a->server); /* a client that ignored the close */
        return;
    }
    lx_log_warn("drain timeout: cancelling %u requests in flight", lx_proxy_in_flight(a->proxy));
    lx_proxy_cancel_all(a->proxy);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct app *a = s->data;
    if (a->draining) {
        lx_log_warn("second signal: cancelling what is in flight");
        if (a->proxy)
            lx_proxy_cancel_all(a->proxy);
        return;
    }
    a->draining = true;
    lx_log_info("signal %d: draining %u requests in flight (at most %u ms)", signum,
                lx_proxy_in_flight(a->proxy), a->cfg->drain_timeout_ms);
    lx_http_server_shutdown(a->server);
    uv_timer_start(&a->drain_timer, on_drain_timeout, a->cfg->drain_timeout_ms, 0);
    uv_timer_start(&a->poll_timer, on_poll, 0, 10);
}

/* SIGHUP: reload the config (the proxy logs and audits the outcome). */
static void on_hup(uv_signal_t *s, int signum)
{
    struct app *a = s->data;
    char err[512];
    if (a->draining || a->proxy == NULL)
        return; /* shutting down: nothing to reload into */
    lx_proxy_reload(a->proxy, "sighup", err, sizeof(err));
}

static int start(struct app *a)
{
    char err[512];
    const struct lx_config *c = a->cfg;
    if (c->audit.path) {
        a->audit = lx_audit_new(c->audit.path, c->audit.queue_max, err, sizeof(err));
        if (a->audit == NULL) {
            fprintf(stderr, "llmux: %s\n", err);
            return LX_ERR;
        }
    }
    if (c->responses.store) {
        if (lx_store_resp_open(c->responses.store, c->responses.ttl_hours,
                               c->responses.max_stored_bytes, &a->resp_store, err,
                               sizeof(err)) != LX_OK) {
            fprintf(stderr, "llmux: %s\n", err);
            return LX_ERR;
        }
        lx_log_info("responses: stored in %s", c->responses.store);
    }
    a->proxy = lx_proxy_new(&a->loop, a->cfg, a->audit);
    if (a->proxy == NULL) {
        fprintf(stderr, "llmux: out of memory\n");
        return LX_ERR;
    }
    lx_proxy_set_resp_store(a->proxy, a->resp_store);
    lx_proxy_set_loader(a->proxy, load_config, a->opts, a->hash);
    a->api = lx_api_new(&a->loop, a->proxy, a->cfg, err, sizeof(err));
    if (a->api == NULL) {
        fprintf(stderr, "llmux: %s\n", err);
        return LX_ERR;
    }
    struct lx_http_server_opts ho = {.max_body_bytes = c->limits.max_body_bytes,
                                     .error_body = lx_api_server_error};
    a->server = a->api ? lx_http_server_new(&a->loop, &ho, lx_api_handle, a->api) : NULL;
    if (a->server == NULL) {
        fprintf(stderr, "llmux: out of memory\n");
        return LX_ERR;
    }
    for (size_t i = 0; i < c->n_listeners; i++) {
        const struct lx_config_listener *l = &c->listeners[i];
        if (lx_http_server_listen(a->server, l->host, l->port, l->tls_cert_file, l->tls_key_file,
                                  err, sizeof(err)) != LX_OK) {
            fprintf(stderr, "llmux: %s\n", err);
            return LX_ERR;
        }
        lx_log_info("listening on %s://%s", l->tls_cert_file ? "https" : "http", l->address);
    }
    for (size_t i = 0; i < c->n_backends; i++)
        lx_log_info("backend '%s' at %s (%s)", c->backends[i].name, c->backends[i].url,
                    lx_dialect_name(c->backends[i].dialect));
    lx_proxy_start_health(a->proxy);
    return LX_OK;
}

static void close_any(uv_handle_t *h, void *arg)
{
    close_handle(h);
}

static void teardown(struct app *a)
{
    if (a->proxy) { /* start failed before the loop ran */
        lx_proxy_free(a->proxy);
        a->proxy = NULL;
        if (a->server) {
            lx_http_server_shutdown(a->server);
            lx_http_server_dispose(a->server); /* no connection was accepted yet */
        }
        close_handle((uv_handle_t *)&a->sig_term);
        close_handle((uv_handle_t *)&a->sig_int);
        close_handle((uv_handle_t *)&a->sig_hup);
        close_handle((uv_handle_t *)&a->drain_timer);
        close_handle((uv_handle_t *)&a->poll_timer);
        lx_api_stop(a->api);
        uv_run(&a->loop, UV_RUN_DEFAULT);
    }
    lx_http_server_free(a->server);
    uv_run(&a->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&a->loop) == UV_EBUSY) {
        uv_walk(&a->loop, close_any, NULL);
        uv_run(&a->loop, UV_RUN_DEFAULT);
        uv_loop_close(&a->loop);
    }
    lx_api_free(a->api);
    lx_store_resp_close(a->resp_store); /* the loop has delivered every callback */
    lx_audit_free(a->audit);
    lx_config_unref(a->cfg);
}

static int serve(struct serve_opts *o)
{
    const char *level = env_or(o->log_level, "LLMUX_LOG_LEVEL");
    if (level) {
        int l = lx_log_parse_level(level);
        if (l < 0) {
            fprintf(stderr, "llmux: unknown log level '%s'\n", level);
            return 2;
        }
        lx_log_set_level((enum lx_log_level)l);
    }
    struct app a;
    memset(&a, 0, sizeof(a));
    a.opts = o;
    if ((a.cfg = build_config(o, a.hash)) == NULL)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    uv_loop_init(&a.loop);
    uv_signal_init(&a.loop, &a.sig_term);
    uv_signal_init(&a.loop, &a.sig_int);
    uv_signal_init(&a.loop, &a.sig_hup);
    uv_timer_init(&a.loop, &a.drain_timer);
    uv_timer_init(&a.loop, &a.poll_timer);
    a.sig_term.data = a.sig_int.data = a.sig_hup.data = a.drain_timer.data = a.poll_timer.data = &a;
    int rc = start(&a);
    if (rc == LX_OK) {
        uv_signal_start(&a.sig_term, on_signal, SIGTERM);
        uv_signal_start(&a.sig_int, on_signal, SIGINT);
        uv_signal_start(&a.sig_hup, on_hup, SIGHUP);
        uv_run(&a.loop, UV_RUN_DEFAULT);
    }
    teardown(&a);
    curl_global_cleanup();
    return rc == LX_OK ? 0 : 1;
}

static int cmd_serve(int argc, char **argv)
{
    enum { O_AUDIT_LOG = 1000, O_AUDIT_PROMPT, O_LOG_LEVEL };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"upstream", required_argument, NULL, 'u'},
        {"audit-log", required_argument, NULL, O_AUDIT_LOG},
        {"audit-prompt", required_argument, NULL, O_AUDIT_PROMPT},
        {"log-level", required_argument, NULL, O_LOG_LEVEL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct serve_opts o = {0};
    int c;
    while ((c = getopt_long(argc, argv, "c:l:u:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o.config = optarg;
            break;
        case 'l':
            o.listen = optarg;
            break;
        case 'u':
            o.upstream = optarg;
            break;
        case O_AUDIT_LOG:
            o.audit_log = optarg;
            break;
        case O_AUDIT_PROMPT:
            o.audit_prompt = optarg;
            break;
        case O_LOG_LEVEL:
            o.log_level = optarg;
            break;
        case 'h':
            fputs(usage_serve, stdout);
            return 0;
        default:
            fputs(usage_serve, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "llmux serve: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return serve(&o);
}

static const char usage_check[] =
    "Usage: llmux check -c FILE [--explain JSON [--header NAME:VALUE]... [--sensitive]]\n";

/* --explain: the routing decision for a sample request (route/rules.h). */
static int explain(struct lx_config *cfg, const char *sample, const struct lx_rules_header *h,
                   size_t nh, bool sensitive)
{
    struct lx_route *r = lx_route_new(cfg);
    if (r == NULL) {
        fprintf(stderr, "llmux check: out of memory\n");
        return 1;
    }
    int rc = lx_rules_explain(r, lx_str_from_cstr(sample), h, nh, sensitive, stdout);
    lx_route_free(r);
    return rc == LX_ERR ? 1 : 0;
}

/* "Name: value" into h (name lowercased in place); false when malformed. */
static bool parse_header_arg(char *arg, struct lx_rules_header *h)
{
    char *colon = strchr(arg, ':');
    if (colon == NULL || colon == arg)
        return false;
    *colon = '\0';
    for (char *p = arg; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    char *v = colon + 1;
    while (*v == ' ')
        v++;
    h->name = arg;
    h->value = v;
    return true;
}

static int cmd_check(int argc, char **argv)
{
    enum { MAX_HEADERS = 16 };
    const char *file = NULL, *sample = NULL;
    struct lx_rules_header headers[MAX_HEADERS];
    size_t nh = 0;
    bool sensitive = false;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            file = argv[++i];
        else if (strcmp(argv[i], "--explain") == 0 && i + 1 < argc)
            sample = argv[++i];
        else if (strcmp(argv[i], "--header") == 0 && i + 1 < argc && nh < MAX_HEADERS &&
                 parse_header_arg(argv[i + 1], &headers[nh]))
            nh++, i++;
        else if (strcmp(argv[i], "--sensitive") == 0)
            sensitive = true;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("%s\nValidates FILE and prints the resolved routing table. With --explain, "
                   "prints instead which deployment the sample request would take and why "
                   "(each routing rule's verdict per deployment); --sensitive stands for "
                   "redaction's tag. Exit status 0 when valid, 1 when not.\n",
                   usage_check);
            return 0;
        } else {
            fputs(usage_check, stderr);
            return 2;
        }
    }
    if (file == NULL)
        file = getenv("LLMUX_CONFIG");
    if (file == NULL) {
        fputs(usage_check, stderr);
        return 2;
    }
    char err[512];
    struct lx_config *cfg;
    if (lx_config_load_file(file, &cfg, err, sizeof(err)) != LX_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int rc = 0;
    if (sample)
        rc = explain(cfg, sample, headers, nh, sensitive);
    else
        lx_config_print(cfg, stdout);
    lx_config_unref(cfg);
    return rc;
}

static const char usage_keys[] =
    "Usage:\n"
    "  llmux keys create --name NAME [settings] [options]\n"
    "                         create a key; its secret is printed once, on stdout,\n"
    "                         and stored nowhere (the store keeps its SHA-256)\n"
    "  llmux keys list [options]\n"
    "                         id, name, created, revoked and settings of every key\n"
    "  llmux keys update ID [settings] [options]\n"
    "                         change a valid key's settings (a running gateway sees\n"
    "                         them within 2 s)\n"
    "  llmux keys revoke ID [options]\n"
    "                         revoke a key; a running gateway refuses it within 2 s\n"
    "\n"
    "Settings:\n"
    "  -n, --name NAME        the key's name (create; update renames)\n"
    "  -m, --models LIST      comma-separated public model names the key may use\n"
    "                         (default: every model; \"\" on update: every model)\n"
    "      --tools LIST       comma-separated tool names its requests may offer and\n"
    "                         the model may call (default: any; \"\" on update: any)\n"
    "      --rpm N            requests per minute (0: the config's per_key_rpm)\n"
    "      --tpm N            tokens per minute (0: rate_limits.per_key_tpm)\n"
    "      --max-concurrent N requests in flight at once (0: no cap)\n"
    "      --budget USD       spend budget in US dollars (0: none)\n"
    "      --priority P       high, normal (default) or low\n"
    "      --tag T            a tag for the audit record; repeat for more (on update\n"
    "                         the tags given replace the old ones; --tag \"\" clears)\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE      read auth.store from FILE (env LLMUX_CONFIG)\n"
    "  -s, --store PATH       the key store (env LLMUX_AUTH_STORE; default llmux-keys.db)\n"
    "  -h, --help             this text\n"
    "\n"
    "Clients send the key as \"Authorization: Bearer KEY\" or \"x-api-key: KEY\".\n";

enum { KEYS_LIST_BYTES = 8192 };

struct keys_opts {
    const char *config, *store, *name, *models, *tools;
    const char *tags[LX_STORE_KEY_MAX_TAGS + 1];
    size_t n_tags;
    bool clear_tags;
    struct lx_store_key_fields f;
    /* split copies of --models and --tools, and the lists they point into */
    char models_buf[KEYS_LIST_BYTES], tools_buf[KEYS_LIST_BYTES];
    const char *model_list[LX_STORE_KEY_MAX_MODELS], *tool_list[LX_STORE_KEY_MAX_TOOLS];
};

/* The store path: --store > LLMUX_AUTH_STORE > the config's auth.store >
 * the default. Writes it into out. */
static int keys_store_path(const struct keys_opts *o, char *out, size_t outlen)
{
    const char *p = env_or(o->store, "LLMUX_AUTH_STORE");
    const char *file = env_or(o->config, "LLMUX_CONFIG");
    char err[512];
    struct lx_config *cfg = NULL;
    if (!p && file && file[0]) {
        if (lx_config_load_file(file, &cfg, err, sizeof(err)) != LX_OK) {
            fprintf(stderr, "llmux: %s\n", err);
            return LX_ERR;
        }
        p = cfg->auth.store;
    }
    snprintf(out, outlen, "%s", p ? p : "llmux-keys.db");
    lx_config_unref(cfg);
    return LX_OK;
}

/* Splits "a,b" in place into at most max names; -1 on an empty name. "" is
 * an empty list (0). */
static int split_models(char *list, const char **out, size_t max)
{
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        size_t len = strlen(t);
        while (len && t[len - 1] == ' ')
            t[--len] = '\0';
        if (!len || n == max)
            return -1;
        out[n++] = t;
    }
    return (int)n;
}

/* Splits one --models/--tools value into buf and list; 2 (usage) on error. */
static int keys_split(const char *what, const char *value, char *buf, const char **list, size_t max,
                      size_t *n)
{
    snprintf(buf, KEYS_LIST_BYTES, "%s", value);
    int k = strlen(value) < KEYS_LIST_BYTES ? split_models(buf, list, max) : -1;
    if (k < 0) {
        fprintf(stderr, "llmux keys: --%s is a comma-separated list of names\n", what);
        return 2;
    }
    *n = (size_t)k;
    return 0;
}

/* Fills o->f from the flags. 0, or 2 after a usage message. */
static int keys_fields(struct keys_opts *o)
{
    struct lx_store_key_fields *f = &o->f;
    if (o->name) {
        f->set |= LX_STORE_KEY_F_NAME;
        f->name = o->name;
    }
    if (o->models) {
        f->set |= LX_STORE_KEY_F_MODELS;
        f->models = o->model_list;
        if (keys_split("models", o->models, o->models_buf, o->model_list, LX_STORE_KEY_MAX_MODELS,
                       &f->n_models))
            return 2;
    }
    if (o->tools) {
        f->set |= LX_STORE_KEY_F_TOOLS;
        f->tools = o->tool_list;
        if (keys_split("tools", o->tools, o->tools_buf, o->tool_list, LX_STORE_KEY_MAX_TOOLS,
                       &f->n_tools))
            return 2;
    }
    if (o->n_tags || o->clear_tags) {
        f->set |= LX_STORE_KEY_F_TAGS;
        f->tags = o->tags;
        f->n_tags = o->n_tags;
    }
    return 0;
}

static int keys_create(struct lx_store_keys *s, struct keys_opts *o)
{
    char id[LX_STORE_KEY_ID_LEN + 1], secret[LX_STORE_KEY_SECRET_LEN + 1], err[512];
    if (o->name == NULL) {
        fprintf(stderr, "llmux keys create: --name is required\n");
        return 2;
    }
    if (keys_fields(o) != 0)
        return 2;
    if (lx_store_keys_create_with(s, &o->f, id, secret, err, sizeof(err)) != LX_OK) {
        fprintf(stderr, "llmux: %s\n", err);
        return 1;
    }
    fprintf(stderr, "created key %s (%s); the secret below is shown only this once:\n", id,
            o->name);
    printf("%s\n", secret);
    fflush(stdout);
    explicit_bzero(secret, sizeof(secret));
    return 0;
}

static int keys_update(struct lx_store_keys *s, struct keys_opts *o, const char *id)
{
    char err[512];
    if (keys_fields(o) != 0)
        return 2;
    if (o->f.set == 0) {
        fprintf(stderr, "llmux keys update: nothing to change\n");
        return 2;
    }
    int r = lx_store_keys_update(s, id, &o->f, err, sizeof(err));
    if (r == LX_OK)
        printf("updated %s\n", id);
    else if (r == LX_AGAIN)
        fprintf(stderr, "llmux: no valid key with id '%s'\n", id);
    else
        fprintf(stderr, "llmux: %s\n", err);
    return r == LX_OK ? 0 : 1;
}

static void print_key(void *data, const struct lx_store_key_info *k)
{
    (void)data;
    printf("%-14s %-24s %-26s %-26s %s\n", k->id, k->name, k->created_at,
           k->revoked_at ? k->revoked_at : "-", k->allowed_models[0] ? k->allowed_models : "*");
    printf("    tools=%s rpm=%u tpm=%u max_concurrent=%u budget_usd=%.4f spent_usd=%.4f "
           "priority=%s tags=%s\n",
           k->allowed_tools[0] ? k->allowed_tools : "*", k->rpm, k->tpm, k->max_concurrent,
           k->budget_usd, k->spent_usd, k->priority, k->tags[0] ? k->tags : "[]");
}

static int keys_run(const char *sub, const char *arg, struct keys_opts *o)
{
    char path[4096], err[512];
    if (keys_store_path(o, path, sizeof(path)) != LX_OK)
        return 1;
    struct lx_store_keys *s = lx_store_keys_open(path, err, sizeof(err));
    if (s == NULL) {
        fprintf(stderr, "llmux: %s\n", err);
        return 1;
    }
    int rc = 0;
    if (strcmp(sub, "create") == 0) {
        rc = keys_create(s, o);
    } else if (strcmp(sub, "update") == 0) {
        rc = keys_update(s, o, arg);
    } else if (strcmp(sub, "list") == 0) {
        printf("%-14s %-24s %-26s %-26s %s\n", "ID", "NAME", "CREATED", "REVOKED", "MODELS");
        if (lx_store_keys_list(s, print_key, NULL, err, sizeof(err)) != LX_OK) {
            fprintf(stderr, "llmux: %s\n", err);
            rc = 1;
        }
    } else {
        int r = lx_store_keys_revoke(s, arg, err, sizeof(err));
        if (r == LX_OK)
            printf("revoked %s\n", arg);
        else if (r == LX_AGAIN)
            fprintf(stderr, "llmux: no valid key with id '%s'\n", arg);
        else
            fprintf(stderr, "llmux: %s\n", err);
        rc = r == LX_OK ? 0 : 1;
    }
    lx_store_keys_close(s);
    return rc;
}

/* A whole number 0 .. LX_STORE_KEY_MAX_LIMIT from a flag; false if not. */
static bool keys_number(const char *flag, const char *v, uint32_t *out)
{
    char *end = NULL;
    unsigned long long n = strtoull(v, &end, 10);
    if (!*v || *end || v[0] == '-' || n > LX_STORE_KEY_MAX_LIMIT) {
        fprintf(stderr, "llmux keys: --%s takes a whole number from 0 to %d\n", flag,
                LX_STORE_KEY_MAX_LIMIT);
        return false;
    }
    *out = (uint32_t)n;
    return true;
}

enum { OPT_TOOLS = 1000, OPT_RPM, OPT_TPM, OPT_MAX_CONCURRENT, OPT_BUDGET, OPT_PRIORITY, OPT_TAG };

/* One setting flag (not -c, -s, -h) into o. False on a bad value. */
static bool keys_flag(struct keys_opts *o, int c, const char *v)
{
    struct lx_store_key_fields *f = &o->f;
    char *end = NULL;
    switch (c) {
    case 'n':
        o->name = v;
        return true;
    case 'm':
        o->models = v;
        return true;
    case OPT_TOOLS:
        o->tools = v;
        return true;
    case OPT_RPM:
        f->set |= LX_STORE_KEY_F_RPM;
        return keys_number("rpm", v, &f->rpm);
    case OPT_TPM:
        f->set |= LX_STORE_KEY_F_TPM;
        return keys_number("tpm", v, &f->tpm);
    case OPT_MAX_CONCURRENT:
        f->set |= LX_STORE_KEY_F_MAX_CONCURRENT;
        return keys_number("max-concurrent", v, &f->max_concurrent);
    case OPT_BUDGET:
        f->set |= LX_STORE_KEY_F_BUDGET;
        f->budget_usd = strtod(v, &end);
        if (!*v || *end || !(f->budget_usd >= 0 && f->budget_usd <= 1e12)) {
            fprintf(stderr, "llmux keys: --budget takes US dollars, 0 or more\n");
            return false;
        }
        return true;
    case OPT_PRIORITY: {
        int p = lx_store_key_priority_parse(v);
        f->set |= LX_STORE_KEY_F_PRIORITY;
        f->priority = p < 0 ? LX_STORE_KEY_PRIORITY_NORMAL : (enum lx_store_key_priority)p;
        if (p < 0)
            fprintf(stderr, "llmux keys: --priority is high, normal or low\n");
        return p >= 0;
    }
    case OPT_TAG:
        if (!*v) {
            o->clear_tags = true;
            return true;
        }
        if (o->n_tags == LX_STORE_KEY_MAX_TAGS) {
            fprintf(stderr, "llmux keys: at most %d tags\n", LX_STORE_KEY_MAX_TAGS);
            return false;
        }
        o->tags[o->n_tags++] = v;
        return true;
    }
    return false;
}

static int cmd_keys(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"store", required_argument, NULL, 's'},
        {"name", required_argument, NULL, 'n'},
        {"models", required_argument, NULL, 'm'},
        {"tools", required_argument, NULL, OPT_TOOLS},
        {"rpm", required_argument, NULL, OPT_RPM},
        {"tpm", required_argument, NULL, OPT_TPM},
        {"max-concurrent", required_argument, NULL, OPT_MAX_CONCURRENT},
        {"budget", required_argument, NULL, OPT_BUDGET},
        {"priority", required_argument, NULL, OPT_PRIORITY},
        {"tag", required_argument, NULL, OPT_TAG},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static struct keys_opts o; /* big: not on the stack */
    memset(&o, 0, sizeof(o));
    int c;
    while ((c = getopt_long(argc, argv, "c:s:n:m:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o.config = optarg;
            break;
        case 's':
            o.store = optarg;
            break;
        case 'h':
            fputs(usage_keys, stdout);
            return 0;
        case '?':
            fputs(usage_keys, stderr);
            return 2;
        default:
            if (!keys_flag(&o, c, optarg))
                return 2;
        }
    }
    const char *sub = optind < argc ? argv[optind] : NULL;
    int want = sub && (strcmp(sub, "revoke") == 0 || strcmp(sub, "update") == 0) ? 2 : 1;
    bool known = sub && (strcmp(sub, "create") == 0 || strcmp(sub, "list") == 0 ||
                         strcmp(sub, "revoke") == 0 || strcmp(sub, "update") == 0);
    if (!known || argc - optind != want) {
        fputs(usage_keys, stderr);
        return 2;
    }
    return keys_run(sub, want == 2 ? argv[optind + 1] : NULL, &o);
}

/* --- llmux reload ---------------------------------------------------------
 * A thin client of POST /admin/config/reload (or /rollback): the admin API
 * works for a gateway on another machine and answers with the reason when
 * the file is invalid, which a bare SIGHUP cannot. */

static const char usage_reload[] =
    "Usage: llmux reload [--rollback] [--url URL] [--key-env NAME]\n"
    "\n"
    "Asks a running gateway to reload its config file (POST /admin/config/reload),\n"
    "or with --rollback to re-apply the previous good one. The gateway needs\n"
    "admin.enabled; the admin key is read from the environment variable NAME\n"
    "(default LLMUX_ADMIN_KEY). URL defaults to http://127.0.0.1:7711.\n"
    "Prints the gateway's answer; exit status 0 when it applied the config, 1 when\n"
    "it refused (an invalid file: the message says FILE:LINE:COL), 2 on usage.\n"
    "`kill -HUP PID` reloads too, with the outcome in the gateway's log.\n";

enum { RELOAD_ANSWER_MAX = 1 << 20 };

static size_t reload_collect(char *p, size_t size, size_t n, void *data)
{
    lx_buf *b = data;
    return lx_buf_append(b, p, size * n) == LX_OK ? size * n : 0;
}

static int cmd_reload(int argc, char **argv)
{
    const char *url = "http://127.0.0.1:7711", *key_env = "LLMUX_ADMIN_KEY";
    bool rollback = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
            url = argv[++i];
        else if (strcmp(argv[i], "--key-env") == 0 && i + 1 < argc)
            key_env = argv[++i];
        else if (strcmp(argv[i], "--rollback") == 0)
            rollback = true;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage_reload, stdout);
            return 0;
        } else {
            fputs(usage_reload, stderr);
            return 2;
        }
    }
    const char *key = getenv(key_env);
    if (key == NULL || key[0] == '\0') {
        fprintf(stderr, "llmux: the admin key variable %s is not set\n", key_env);
        return 2;
    }
    char target[2048], auth[1024];
    snprintf(target, sizeof(target), "%s/admin/config/%s", url, rollback ? "rollback" : "reload");
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, auth);
    lx_buf body;
    lx_buf_init(&body, RELOAD_ANSWER_MAX);
    long status = 0;
    CURLcode rc = CURLE_FAILED_INIT;
    if (c && h) {
        curl_easy_setopt(c, CURLOPT_URL, target);
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, reload_collect);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
        rc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    OPENSSL_cleanse(auth, sizeof(auth));
    if (rc != CURLE_OK)
        fprintf(stderr, "llmux: %s: %s\n", target, curl_easy_strerror(rc));
    else
        printf("%.*s\n", (int)body.len, body.data ? body.data : "");
    lx_buf_release(&body);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    curl_global_cleanup();
    return rc == CURLE_OK && status == 200 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (strcmp(cmd, "keys") == 0)
        return cmd_keys(argc - 1, argv + 1);
    if (strcmp(cmd, "reload") == 0)
        return cmd_reload(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        puts("llmux " LLMUX_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_main, stdout);
        return 0;
    }
    fprintf(stderr, "llmux: unknown command '%s'\n\n%s", cmd, usage_main);
    return 2;
}
