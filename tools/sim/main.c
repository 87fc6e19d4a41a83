/*
 * main.c - llmux-sim: a simulated OpenAI-compatible LLM backend (llama.cpp server or OpenAI
 * dialect) with deterministic output, pacing and fault injection, for the gateway's tests and
 * benchmarks. Parses the command line, runs one libuv loop, exits 0 on SIGINT/SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "sim_app.h"
#include "sim_config.h"
#include "sim_http.h"

struct sim_main {
    uv_loop_t *loop;
    struct sim_http_server *server;
    uv_signal_t sigint, sigterm;
    char *models; /* storage of cfg.models */
};

static void usage(FILE *out)
{
    fputs("usage: llmux-sim [--listen HOST:PORT] [--seed N] [--ttft-ms N] [--tps N]\n"
          "                 [--tokens N] [--style llama|openai] [--models a,b,c]\n"
          "                 [--fault SPEC] [--reasoning] [--repairable] [--echo N] [--quiet]\n"
          "                 [--model-path P] [--model-alias A] [--digest HEX]\n",
          out);
}

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (s[0] == '\0' || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* "HOST:PORT" or "[V6HOST]:PORT". */
static int parse_listen(struct sim_config *cfg, const char *s)
{
    const char *colon = strrchr(s, ':');
    long port = 0;
    if (colon == NULL || parse_long(colon + 1, 1, 65535, &port) != 0)
        return -1;
    const char *h = s;
    size_t n = (size_t)(colon - s);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        h++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof(cfg->host))
        return -1;
    memcpy(cfg->host, h, n);
    cfg->host[n] = '\0';
    cfg->port = (int)port;
    return 0;
}

static int parse_models(struct sim_config *cfg, struct sim_main *m, const char *s)
{
    free(m->models);
    m->models = strdup(s);
    cfg->nmodels = 0;
    for (char *save = NULL, *t = strtok_r(m->models, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        if (cfg->nmodels == SIM_MAX_MODELS)
            return -1;
        cfg->models[cfg->nmodels++] = t;
    }
    return cfg->nmodels > 0 ? 0 : -1;
}

/* Applies one option with its value; returns -1 when either is wrong. */
static int apply_option(struct sim_config *cfg, struct sim_main *m, const char *opt,
                        const char *val)
{
    long v = 0;
    char err[128];
    if (strcmp(opt, "--listen") == 0)
        return parse_listen(cfg, val);
    if (strcmp(opt, "--seed") == 0) {
        char *end = NULL;
        cfg->seed = strtoull(val, &end, 10);
        return *val != '\0' && *end == '\0' ? 0 : -1;
    }
    if (strcmp(opt, "--style") == 0)
        return (cfg->style = sim_style_find(val)) != NULL ? 0 : -1;
    if (strcmp(opt, "--models") == 0)
        return parse_models(cfg, m, val);
    if (strcmp(opt, "--model-path") == 0)
        return (cfg->model_path = val), 0;
    if (strcmp(opt, "--model-alias") == 0)
        return (cfg->model_alias = val), 0;
    if (strcmp(opt, "--digest") == 0)
        return strlen(val) < 80 ? (cfg->digest = val), 0 : -1;
    if (strcmp(opt, "--fault") == 0) {
        if (sim_fault_parse(&cfg->fault, val, strlen(val), err, sizeof(err)) == SIM_OK)
            return 0;
        fprintf(stderr, "llmux-sim: %s\n", err);
        return -1;
    }
    long *field = strcmp(opt, "--ttft-ms") == 0  ? &cfg->ttft_ms
                  : strcmp(opt, "--tps") == 0    ? &cfg->tps
                  : strcmp(opt, "--tokens") == 0 ? &cfg->tokens
                  : strcmp(opt, "--echo") == 0   ? &cfg->echo
                                                 : NULL;
    if (field == NULL ||
        parse_long(val, 0, field == &cfg->tokens ? SIM_MAX_TOKENS : 100000000, &v) != 0)
        return -1;
    *field = v;
    return 0;
}

static int parse_args(struct sim_config *cfg, struct sim_main *m, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--reasoning") == 0) {
            cfg->reasoning = 1;
        } else if (strcmp(opt, "--repairable") == 0) {
            cfg->repairable = 1;
        } else if (strcmp(opt, "--quiet") == 0) {
            cfg->quiet = 1;
        } else if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (i + 1 >= argc || apply_option(cfg, m, opt, argv[i + 1]) != 0) {
            fprintf(stderr, "llmux-sim: bad option or value: %s\n", opt);
            return -1;
        } else {
            i++;
        }
    }
    return 0;
}

static void config_defaults(struct sim_config *cfg, struct sim_main *m)
{
    memset(cfg, 0, sizeof(*cfg));
    strcpy(cfg->host, "127.0.0.1");
    cfg->port = 18080;
    cfg->seed = 1;
    cfg->tokens = 16;
    cfg->style = sim_style_find("llama");
    sim_fault_init(&cfg->fault);
    parse_models(cfg, m, "sim-model");
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct sim_main *m = s->data;
    sim_http_server_close(m->server);
    uv_close((uv_handle_t *)&m->sigint, NULL);
    uv_close((uv_handle_t *)&m->sigterm, NULL);
}

static void watch_signals(struct sim_main *m)
{
    uv_signal_init(m->loop, &m->sigint);
    uv_signal_init(m->loop, &m->sigterm);
    m->sigint.data = m->sigterm.data = m;
    uv_signal_start(&m->sigint, on_signal, SIGINT);
    uv_signal_start(&m->sigterm, on_signal, SIGTERM);
}

int main(int argc, char **argv)
{
    static struct sim_config cfg;
    struct sim_main m = {0};
    int rc = 1;
    signal(SIGPIPE, SIG_IGN);
    config_defaults(&cfg, &m);
    if (parse_args(&cfg, &m, argc, argv) != 0) {
        usage(stderr);
        goto out_models;
    }
    m.loop = uv_default_loop();
    struct sim_app *app = sim_app_new(m.loop, &cfg);
    if (app == NULL)
        goto out_models;
    m.server = sim_http_server_new(m.loop, cfg.host, cfg.port, sim_app_handler(), app);
    if (m.server == NULL)
        goto out_app;
    watch_signals(&m);
    int v6 = strchr(cfg.host, ':') != NULL;
    fprintf(stderr, "llmux-sim listening on http://%s%s%s:%d\n", v6 ? "[" : "", cfg.host,
            v6 ? "]" : "", cfg.port);
    uv_run(m.loop, UV_RUN_DEFAULT);
    sim_http_server_free(m.server);
    rc = 0;
out_app:
    uv_loop_close(m.loop);
    sim_app_free(app);
out_models:
    free(m.models);
    return rc;
}
