/*
 * test_config.c — unit tests for src/config/: the YAML reader (every key,
 * every kind of error with its exact line and column), the built-in
 * default, the command-line adjustments, key resolution from the
 * environment, the printed table, and every file in examples/.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

static char err[512];

/* Loads text as "t.yaml"; NULL on failure with the message in err. */
static struct lx_config *load(const char *text)
{
    struct lx_config *c = NULL;
    err[0] = '\0';
    if (lx_config_load_string(text, strlen(text), "t.yaml", &c, err, sizeof(err)) != LX_OK) {
        cr_assert_null(c);
        return NULL;
    }
    cr_assert_not_null(c);
    return c;
}

/* Asserts that text fails to load with exactly this message. */
static void expect_error(const char *text, const char *message)
{
    struct lx_config *c = load(text);
    if (c)
        lx_config_unref(c);
    cr_assert_null(c, "expected an error for:\n%s", text);
    cr_assert_str_eq(err, message);
}

/* ---- a full file --------------------------------------------------------- */

static const char full_yaml[] =
    "listeners:\n"
    "  - address: 127.0.0.1:9000\n"
    "  - address: \"[::1]:9443\"\n"
    "    tls: { cert_file: cert.pem, key_file: key.pem }\n"
    "limits:\n"
    "  max_body_bytes: 1000\n"
    "  max_json_depth: 10\n"
    "  max_headers: 20\n"
    "  max_stream_buffer_bytes: 3000\n"
    "  max_sse_event_bytes: 4000\n"
    "  max_response_bytes: 5000\n"
    "drain_timeout_ms: 1234\n"
    "audit:\n"
    "  path: /var/log/llmux.jsonl\n"
    "  prompt: full\n"
    "  queue_max: 77\n"
    "health:\n"
    "  interval_ms: 111\n"
    "  timeout_ms: 22\n"
    "backends:\n"
    "  - name: local\n"
    "    url: http://127.0.0.1:8080/v1/\n"
    "    dialect: chat\n"
    "    discover: false\n"
    "    max_in_flight: 3\n"
    "    queue: { max: 5, max_wait_ms: 6 }\n"
    "    timeouts: { connect_ms: 1, first_byte_ms: 2, idle_ms: 3, total_ms: 4 }\n"
    "  - name: claude\n"
    "    url: https://api.anthropic.com/v1\n"
    "    dialect: messages\n"
    "    api_key_env: LLMUX_TEST_KEY_FULL\n"
    "    discover: true\n"
    "  - name: resp\n"
    "    url: https://example.com\n"
    "    dialect: responses\n"
    "models:\n"
    "  - name: local-chat\n"
    "    backend: local\n"
    "    upstream_model: qwen2.5-7b-instruct-q4_k_m\n"
    "  - name: sonnet\n"
    "    backend: claude\n";

Test(config_file, full_round_trip)
{
    setenv("LLMUX_TEST_KEY_FULL", "sk-full", 1);
    struct lx_config *c = load(full_yaml);
    cr_assert_not_null(c, "%s", err);
    cr_assert_str_eq(c->source, "t.yaml");
    cr_assert_eq(c->refcount, 1);

    cr_assert_eq(c->n_listeners, 2);
    cr_assert_str_eq(c->listeners[0].address, "127.0.0.1:9000");
    cr_assert_str_eq(c->listeners[0].host, "127.0.0.1");
    cr_assert_eq(c->listeners[0].port, 9000);
    cr_assert_null(c->listeners[0].tls_cert_file);
    cr_assert_null(c->listeners[0].tls_key_file);
    cr_assert_str_eq(c->listeners[1].address, "[::1]:9443");
    cr_assert_str_eq(c->listeners[1].host, "::1");
    cr_assert_eq(c->listeners[1].port, 9443);
    cr_assert_str_eq(c->listeners[1].tls_cert_file, "cert.pem");
    cr_assert_str_eq(c->listeners[1].tls_key_file, "key.pem");

    cr_assert_eq(c->limits.max_body_bytes, 1000);
    cr_assert_eq(c->limits.max_json_depth, 10);
    cr_assert_eq(c->limits.max_headers, 20);
    cr_assert_eq(c->limits.max_stream_buffer_bytes, 3000);
    cr_assert_eq(c->limits.max_sse_event_bytes, 4000);
    cr_assert_eq(c->limits.max_response_bytes, 5000);
    cr_assert_eq(c->drain_timeout_ms, 1234);
    cr_assert_str_eq(c->audit.path, "/var/log/llmux.jsonl");
    cr_assert_eq(c->audit.prompt, LX_AUDIT_PROMPT_FULL);
    cr_assert_eq(c->audit.queue_max, 77);
    cr_assert_eq(c->health.interval_ms, 111);
    cr_assert_eq(c->health.timeout_ms, 22);

    cr_assert_eq(c->n_backends, 3);
    const struct lx_config_backend *b = &c->backends[0];
    cr_assert_str_eq(b->name, "local");
    cr_assert_str_eq(b->url, "http://127.0.0.1:8080/v1", "trailing slash stripped");
    cr_assert_eq(b->dialect, LX_DIALECT_CHAT);
    cr_assert_null(b->api_key_env);
    cr_assert_null(b->api_key);
    cr_assert_eq(b->discover, false);
    cr_assert_eq(b->max_in_flight, 3);
    cr_assert_eq(b->queue.max, 5);
    cr_assert_eq(b->queue.max_wait_ms, 6);
    cr_assert_eq(b->timeouts.connect_ms, 1);
    cr_assert_eq(b->timeouts.first_byte_ms, 2);
    cr_assert_eq(b->timeouts.idle_ms, 3);
    cr_assert_eq(b->timeouts.total_ms, 4);
    b = &c->backends[1];
    cr_assert_str_eq(b->name, "claude");
    cr_assert_eq(b->dialect, LX_DIALECT_MESSAGES);
    cr_assert_str_eq(b->api_key_env, "LLMUX_TEST_KEY_FULL");
    cr_assert_str_eq(b->api_key, "sk-full");
    cr_assert_eq(b->discover, true);
    cr_assert_eq(b->timeouts.connect_ms, 5000, "unset timeouts keep their defaults");
    cr_assert_eq(b->queue.max, 0, "no queue by default");
    cr_assert_eq(b->queue.max_wait_ms, 30000);
    cr_assert_eq(c->backends[2].dialect, LX_DIALECT_RESPONSES);

    cr_assert_eq(c->n_models, 2);
    cr_assert_str_eq(c->models[0].name, "local-chat");
    cr_assert_eq(c->models[0].backend, 0);
    cr_assert_str_eq(c->models[0].upstream_model, "qwen2.5-7b-instruct-q4_k_m");
    cr_assert_str_eq(c->models[1].name, "sonnet");
    cr_assert_eq(c->models[1].backend, 1);
    cr_assert_str_eq(c->models[1].upstream_model, "sonnet", "defaults to the public name");

    cr_assert_eq(lx_config_find_backend(c, "claude"), 1);
    cr_assert_eq(lx_config_find_backend(c, "nope"), -1);
    cr_assert_eq(lx_config_find_model(c, "sonnet"), 1);
    cr_assert_eq(lx_config_find_model(c, "local"), -1);
    lx_config_unref(c);
}

Test(config_file, models_may_come_before_backends)
{
    struct lx_config *c = load("models:\n  - {name: m, backend: b}\n"
                               "backends:\n  - {name: a, url: 'http://a'}\n"
                               "  - {name: b, url: 'http://b'}\n");
    cr_assert_not_null(c, "%s", err);
    cr_assert_eq(c->models[0].backend, 1);
    lx_config_unref(c);
}

Test(config_file, anchors_and_merge_keys)
{
    struct lx_config *c = load("backends:\n"
                               "  - {name: a, url: 'http://a', timeouts: &slow {connect_ms: 9}}\n"
                               "  - {name: b, url: 'http://b', timeouts: {<<: *slow, idle_ms: 7}}\n"
                               "  - {name: c, url: 'http://c', timeouts: *slow}\n");
    cr_assert_not_null(c, "%s", err);
    cr_assert_eq(c->backends[1].timeouts.connect_ms, 9);
    cr_assert_eq(c->backends[1].timeouts.idle_ms, 7);
    cr_assert_eq(c->backends[2].timeouts.connect_ms, 9);
    cr_assert_eq(c->backends[2].timeouts.idle_ms, 60000);
    lx_config_unref(c);
}

Test(config_file, load_file_and_missing_file)
{
    char path[] = "/tmp/llmux-test-config-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs("drain_timeout_ms: 42\nbogus: 1\n", f);
    fclose(f);
    struct lx_config *c = NULL;
    cr_assert_eq(lx_config_load_file(path, &c, err, sizeof(err)), LX_ERR);
    char want[128];
    snprintf(want, sizeof(want), "%s:2:1: unknown key 'bogus' at top level", path);
    cr_assert_str_eq(err, want, "the file name is the path");
    unlink(path);

    cr_assert_eq(lx_config_load_file("/nonexistent/llmux.yaml", &c, err, sizeof(err)), LX_ERR);
    cr_assert_null(c);
    cr_assert(strstr(err, "/nonexistent/llmux.yaml: cannot open") == err, "%s", err);
}

/* ---- defaults ------------------------------------------------------------- */

static void assert_file_defaults(const struct lx_config *c)
{
    cr_assert_eq(c->n_listeners, 1);
    cr_assert_str_eq(c->listeners[0].address, "127.0.0.1:7711");
    cr_assert_str_eq(c->listeners[0].host, "127.0.0.1");
    cr_assert_eq(c->listeners[0].port, LX_CONFIG_DEFAULT_PORT);
    cr_assert_null(c->listeners[0].tls_cert_file);
    cr_assert_eq(c->limits.max_body_bytes, 4194304);
    cr_assert_eq(c->limits.max_json_depth, 64);
    cr_assert_eq(c->limits.max_headers, 64);
    cr_assert_eq(c->limits.max_stream_buffer_bytes, 262144);
    cr_assert_eq(c->limits.max_sse_event_bytes, 1048576);
    cr_assert_eq(c->limits.max_response_bytes, 16777216);
    cr_assert_eq(c->drain_timeout_ms, 10000);
    cr_assert_str_eq(c->audit.path, "llmux-audit.jsonl");
    cr_assert_eq(c->audit.prompt, LX_AUDIT_PROMPT_HASH);
    cr_assert_eq(c->audit.queue_max, 65536);
    cr_assert_eq(c->health.interval_ms, 5000);
    cr_assert_eq(c->health.timeout_ms, 2000);
}

Test(config_defaults, empty_file)
{
    struct lx_config *c = load("");
    cr_assert_not_null(c, "%s", err);
    assert_file_defaults(c);
    cr_assert_eq(c->n_backends, 0);
    cr_assert_eq(c->n_models, 0);
    lx_config_unref(c);

    c = load("# nothing but a comment\nlimits:\n");
    cr_assert_not_null(c, "%s", err);
    assert_file_defaults(c);
    lx_config_unref(c);
}

Test(config_defaults, backend_defaults)
{
    struct lx_config *c = load("backends:\n  - name: a\n    url: http://h:1\n");
    cr_assert_not_null(c, "%s", err);
    const struct lx_config_backend *b = &c->backends[0];
    cr_assert_eq(b->dialect, LX_DIALECT_CHAT);
    cr_assert_null(b->api_key_env);
    cr_assert_null(b->api_key);
    cr_assert_eq(b->discover, false);
    cr_assert_eq(b->max_in_flight, 0);
    cr_assert_eq(b->timeouts.connect_ms, 5000);
    cr_assert_eq(b->timeouts.first_byte_ms, 120000);
    cr_assert_eq(b->timeouts.idle_ms, 60000);
    cr_assert_eq(b->timeouts.total_ms, 600000);
    lx_config_unref(c);
}

Test(config_defaults, built_in_default)
{
    struct lx_config *c = lx_config_default();
    cr_assert_not_null(c);
    assert_file_defaults(c);
    cr_assert_str_eq(c->source, "<built-in default>");
    const char *names[] = {"llamacpp", "vllm", "ollama", "lmstudio"};
    const char *urls[] = {"http://127.0.0.1:8080/v1", "http://127.0.0.1:8000/v1",
                          "http://127.0.0.1:11434/v1", "http://127.0.0.1:1234/v1"};
    cr_assert_eq(c->n_backends, 4);
    for (size_t i = 0; i < 4; i++) {
        cr_assert_str_eq(c->backends[i].name, names[i]);
        cr_assert_str_eq(c->backends[i].url, urls[i]);
        cr_assert_eq(c->backends[i].dialect, LX_DIALECT_CHAT);
        cr_assert(c->backends[i].discover);
        cr_assert_null(c->backends[i].api_key_env);
        cr_assert_eq(c->backends[i].timeouts.total_ms, 600000);
    }
    cr_assert_eq(c->n_models, 0);
    lx_config_unref(c);
}

Test(config_defaults, audit_off_and_null_values)
{
    struct lx_config *c = load("audit:\n  path: off\n");
    cr_assert_not_null(c, "%s", err);
    cr_assert_null(c->audit.path);
    lx_config_unref(c);
    c = load("audit:\n  path: ''\n");
    cr_assert_null(c->audit.path);
    lx_config_unref(c);
    c = load("audit:\n  path: '-'\n  prompt:\n");
    cr_assert_str_eq(c->audit.path, "-", "stderr");
    cr_assert_eq(c->audit.prompt, LX_AUDIT_PROMPT_HASH, "an empty value keeps the default");
    lx_config_unref(c);
}

/* ---- errors, each at its exact line and column ---------------------------- */

Test(config_errors, unknown_keys)
{
    expect_error("foo: 1\n", "t.yaml:1:1: unknown key 'foo' at top level");
    expect_error("backends:\n  - name: a\n    url: http://x\n    foo: 2\n",
                 "t.yaml:4:5: unknown key 'foo' in backends[0]");
    expect_error("backends:\n  - name: a\n    url: http://x\n    timeouts: {connect: 1}\n",
                 "t.yaml:4:16: unknown key 'connect' in backends[0].timeouts");
    expect_error("listeners:\n  - address: 1.2.3.4:5\n    tls: {cert: a}\n",
                 "t.yaml:3:11: unknown key 'cert' in listeners[0].tls");
    expect_error("limits:\n  max_body: 1\n", "t.yaml:2:3: unknown key 'max_body' in limits");
    expect_error("audit: {file: x}\n", "t.yaml:1:9: unknown key 'file' in audit");
    expect_error("health: {every: 1}\n", "t.yaml:1:10: unknown key 'every' in health");
    expect_error("models:\n  - {name: m, backend: b, model: x}\n",
                 "t.yaml:2:27: unknown key 'model' in models[0]");
}

Test(config_errors, wrong_types)
{
    expect_error("limits:\n  max_headers: abc\n",
                 "t.yaml:2:16: limits.max_headers: expected an integer");
    expect_error("limits:\n  max_headers: '64'\n",
                 "t.yaml:2:16: limits.max_headers: expected an integer");
    expect_error("drain_timeout_ms: [1]\n", "t.yaml:1:19: drain_timeout_ms: expected an integer");
    expect_error("limits: [1]\n", "t.yaml:1:9: limits: expected a mapping");
    expect_error("backends:\n  - name: a\n    url: http://x\n    timeouts: 5\n",
                 "t.yaml:4:15: backends[0].timeouts: expected a mapping");
    expect_error("backends:\n  - just-a-name\n", "t.yaml:2:5: backends[0]: expected a mapping");
    expect_error("backends:\n  name: a\n", "t.yaml:2:3: backends: expected a sequence");
    expect_error("- a\n", "t.yaml:1:1: top level: expected a mapping");
    expect_error("backends:\n  - name: a\n    url: http://x\n    discover: yes\n",
                 "t.yaml:4:15: backends[0].discover: expected true or false");
    expect_error("backends:\n  - name: [a]\n    url: http://x\n",
                 "t.yaml:2:11: backends[0].name: expected a string");
}

Test(config_errors, ranges)
{
    expect_error("backends:\n  - name: a\n    url: http://x\n    timeouts:\n      connect_ms: 0\n",
                 "t.yaml:5:19: backends[0].timeouts.connect_ms: must be between 1 and 86400000");
    expect_error("backends:\n  - {name: a, url: 'http://x', timeouts: {total_ms: 86400001}}\n",
                 "t.yaml:2:53: backends[0].timeouts.total_ms: must be between 1 and 86400000");
    expect_error("backends:\n  - name: a\n    url: http://x\n    queue:\n      max: 1000001\n",
                 "t.yaml:5:12: backends[0].queue.max: must be between 0 and 1000000");
    expect_error("backends:\n  - {name: a, url: 'http://x', queue: {max: 1, max_wait_ms: 0}}\n",
                 "t.yaml:2:61: backends[0].queue.max_wait_ms: must be between 1 and 86400000");
    expect_error("backends:\n  - {name: a, url: 'http://x', queue: {max: -1}}\n",
                 "t.yaml:2:45: backends[0].queue.max: must be between 0 and 1000000");
    expect_error("backends:\n  - {name: a, url: 'http://x', queue: {size: 1}}\n",
                 "t.yaml:2:40: unknown key 'size' in backends[0].queue");
    expect_error("backends:\n  - {name: a, url: 'http://x', queue: 3}\n",
                 "t.yaml:2:39: backends[0].queue: expected a mapping");
    expect_error("limits:\n  max_headers: 101\n",
                 "t.yaml:2:16: limits.max_headers: must be between 1 and 100");
    expect_error("limits:\n  max_json_depth: 1025\n",
                 "t.yaml:2:19: limits.max_json_depth: must be between 1 and 1024");
    expect_error("limits:\n  max_body_bytes: 0\n",
                 "t.yaml:2:19: limits.max_body_bytes: must be between 1 and 1099511627776");
    expect_error("limits:\n  max_sse_event_bytes: -5\n",
                 "t.yaml:2:24: limits.max_sse_event_bytes: must be between 1 and 1099511627776");
    expect_error("audit:\n  queue_max: 0\n",
                 "t.yaml:2:14: audit.queue_max: must be between 1 and 4294967295");
    expect_error("health:\n  timeout_ms: 99999999999999999999999\n",
                 "t.yaml:2:15: health.timeout_ms: must be between 1 and 86400000");
    expect_error("drain_timeout_ms: 0\n",
                 "t.yaml:1:19: drain_timeout_ms: must be between 1 and 86400000");

    struct lx_config *c = load("limits: {max_headers: 100, max_json_depth: 1024}\n"
                               "backends:\n  - {name: a, url: 'http://x', max_in_flight: 0,"
                               " timeouts: {connect_ms: 86400000, idle_ms: 1},"
                               " queue: {max: 1000000, max_wait_ms: 86400000}}\n");
    cr_assert_not_null(c, "the bounds themselves are fine: %s", err);
    cr_assert_eq(c->limits.max_headers, 100);
    cr_assert_eq(c->backends[0].timeouts.connect_ms, 86400000);
    cr_assert_eq(c->backends[0].queue.max, 1000000);
    cr_assert_eq(c->backends[0].queue.max_wait_ms, 86400000);
    lx_config_unref(c);
}

Test(config_errors, enumerations)
{
    expect_error("backends:\n  - name: a\n    url: http://x\n    dialect: completions\n",
                 "t.yaml:4:14: backends[0].dialect: expected chat, responses or messages");
    expect_error("audit: {prompt: maybe}\n",
                 "t.yaml:1:17: audit.prompt: expected full, hash or off");
    expect_error("policy:\n  tool_calls: block\n",
                 "t.yaml:2:15: policy.tool_calls: expected off, flag, reject or repair");
    expect_error("policy:\n  repair_attempts: 4\n",
                 "t.yaml:2:20: policy.repair_attempts: must be between 1 and 3");
    expect_error("policy:\n  structured_output: on\n",
                 "t.yaml:2:22: policy.structured_output: expected off, flag, reject or repair");
    expect_error("policy: {tool_call: flag}\n", "t.yaml:1:10: unknown key 'tool_call' in policy");
}

Test(config_file, policy_tool_calls)
{
    static const char *const names[] = {"off", "flag", "reject", "repair"};
    struct lx_config *c = load("");
    cr_assert_eq(c->policy.tool_calls, LX_TOOL_CALLS_OFF, "off by default");
    cr_assert_eq(c->policy.structured_output, LX_TOOL_CALLS_OFF, "off by default");
    cr_assert_eq(c->policy.repair_attempts, 1);
    lx_config_unref(c);
    c = load("policy: {structured_output: repair, repair_attempts: 3}\n");
    cr_assert_not_null(c, "%s", err);
    cr_assert_eq(c->policy.structured_output, LX_TOOL_CALLS_REPAIR);
    cr_assert_eq(c->policy.repair_attempts, 3);
    lx_config_unref(c);
    for (int i = 0; i < 4; i++) {
        char text[64];
        snprintf(text, sizeof(text), "policy:\n  tool_calls: %s\n", names[i]);
        c = load(text);
        cr_assert_not_null(c, "%s", err);
        cr_assert_eq(c->policy.tool_calls, (enum lx_tool_calls_policy)i);
        lx_config_unref(c);
    }
}

Test(config_errors, urls)
{
    expect_error("backends:\n  - name: a\n    url: ftp://x\n",
                 "t.yaml:3:10: backends[0].url: url must start with http:// or https://");
    expect_error("backends:\n  - name: a\n    url: 127.0.0.1:8080\n",
                 "t.yaml:3:10: backends[0].url: url must start with http:// or https://");
    expect_error("backends:\n  - name: a\n    url: http://\n",
                 "t.yaml:3:10: backends[0].url: url has no host");
    expect_error("backends:\n  - name: a\n    url: 'http://x/v1?a=b'\n",
                 "t.yaml:3:10: backends[0].url: url must not have a query or fragment");
    expect_error("backends:\n  - name: a\n    url: 'http://x y'\n",
                 "t.yaml:3:10: backends[0].url: url must not contain spaces or control characters");

    struct lx_config *c = load("backends:\n  - {name: a, url: 'https://x:1/v1//'}\n");
    cr_assert_not_null(c, "%s", err);
    cr_assert_str_eq(c->backends[0].url, "https://x:1/v1");
    lx_config_unref(c);
}

Test(config_errors, names_and_references)
{
    expect_error("backends:\n  - {name: a, url: 'http://x'}\n  - {name: a, url: 'http://y'}\n",
                 "t.yaml:3:12: backends[1].name: duplicate backend name 'a'");
    expect_error("backends:\n  - {name: a, url: 'http://x'}\n"
                 "models:\n  - {name: m, backend: a}\n  - {name: m, backend: a}\n",
                 "t.yaml:5:12: models[1].name: duplicate model name 'm'");
    expect_error("backends:\n  - {name: a, url: 'http://x'}\n"
                 "models:\n  - name: m\n    backend: nope\n",
                 "t.yaml:5:14: models[0].backend: unknown backend 'nope'");
    expect_error("backends:\n  - {name: 'a b', url: 'http://x'}\n",
                 "t.yaml:2:12: backends[0].name: a backend name is 1 to 128 of A-Z a-z 0-9 . _ -");
    expect_error("backends:\n  - name: a\n", "t.yaml:2:5: backends[0]: missing key 'url'");
    expect_error("backends:\n  - url: http://x\n", "t.yaml:2:5: backends[0]: missing key 'name'");
    expect_error("backends:\n  - {}\n", "t.yaml:2:5: backends[0]: missing key 'name'");
    expect_error("models:\n  - name: m\n", "t.yaml:2:5: models[0]: missing key 'backend'");
    expect_error("backends:\n  - {name: a, url: 'http://x', api_key_env: 'not-a-var'}\n",
                 "t.yaml:2:45: backends[0].api_key_env: 'not-a-var' is not an environment "
                 "variable name");
}

Test(config_errors, listeners)
{
    expect_error("listeners:\n  - address: 1.2.3.4:80\n    tls: {cert_file: a}\n",
                 "t.yaml:3:10: listeners[0].tls: missing key_file (tls needs cert_file and "
                 "key_file)");
    expect_error("listeners:\n  - address: 1.2.3.4:80\n    tls: {key_file: a}\n",
                 "t.yaml:3:10: listeners[0].tls: missing cert_file (tls needs cert_file and "
                 "key_file)");
    expect_error("listeners: []\n", "t.yaml:1:12: listeners: at least one listener is needed");
    expect_error("listeners:\n  - tls: {cert_file: a, key_file: b}\n",
                 "t.yaml:2:5: listeners[0]: missing key 'address'");
    expect_error("listeners:\n  - address: localhost\n",
                 "t.yaml:2:14: listeners[0].address: invalid address 'localhost': expected "
                 "HOST:PORT");
    expect_error("listeners:\n  - address: 'h:1'\n  - address: 'h:1'\n",
                 "t.yaml:3:14: listeners[1].address: duplicate listener address 'h:1'");
}

Test(config_errors, yaml_syntax)
{
    expect_error("a: [1\n", "t.yaml:2:1: flow sequence without a closing bracket");
    expect_error("limits:\n  max_headers: 1\n  max_headers: 2\n", "t.yaml:3:3: duplicate key");
    expect_error("limits: {}\n---\nlimits: {}\n",
                 "t.yaml:2:1: expected one YAML document, found more");
}

/* ---- command-line adjustments --------------------------------------------- */

Test(config_set, listen)
{
    struct lx_config *c = load("listeners:\n  - address: 1.1.1.1:1\n  - address: 2.2.2.2:2\n");
    cr_assert_eq(lx_config_set_listen(c, "0.0.0.0:8080", err, sizeof(err)), LX_OK, "%s", err);
    cr_assert_eq(c->n_listeners, 1, "replaces all listeners");
    cr_assert_str_eq(c->listeners[0].address, "0.0.0.0:8080");
    cr_assert_str_eq(c->listeners[0].host, "0.0.0.0");
    cr_assert_eq(c->listeners[0].port, 8080);
    cr_assert_null(c->listeners[0].tls_cert_file);

    cr_assert_eq(lx_config_set_listen(c, "[::]:7711", err, sizeof(err)), LX_OK, "%s", err);
    cr_assert_str_eq(c->listeners[0].host, "::");
    cr_assert_eq(c->listeners[0].port, 7711);
    cr_assert_eq(lx_config_set_listen(c, "[fe80::1]:65535", err, sizeof(err)), LX_OK);
    cr_assert_str_eq(c->listeners[0].host, "fe80::1");
    cr_assert_eq(c->listeners[0].port, 65535);
    cr_assert_eq(lx_config_set_listen(c, "localhost:1", err, sizeof(err)), LX_OK);
    cr_assert_str_eq(c->listeners[0].host, "localhost");

    static const struct {
        const char *in, *why;
    } bad[] = {
        {"", "expected HOST:PORT"},
        {"8080", "expected HOST:PORT"},
        {":8080", "missing host"},
        {"host:", "port must be a number between 1 and 65535"},
        {"host:0", "port must be a number between 1 and 65535"},
        {"host:65536", "port must be a number between 1 and 65535"},
        {"host:80x", "port must be a number between 1 and 65535"},
        {"host:-1", "port must be a number between 1 and 65535"},
        {"::1:8080", "an IPv6 address needs brackets, as in [::1]:7711"},
        {"[::1:8080", "missing ']' after the IPv6 address"},
        {"[::1]", "expected ':PORT' after ']'"},
        {"[::1]8080", "expected ':PORT' after ']'"},
        {"[nothex]:80", "invalid IPv6 address"},
        {"[]:80", "missing host"},
        {"bad host:80", "invalid host name"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char want[160];
        cr_assert_eq(lx_config_set_listen(c, bad[i].in, err, sizeof(err)), LX_ERR, "%s", bad[i].in);
        snprintf(want, sizeof(want), "invalid listen address '%s': %s", bad[i].in, bad[i].why);
        cr_assert_str_eq(err, want);
    }
    cr_assert_str_eq(c->listeners[0].address, "localhost:1", "a refused value changes nothing");
    lx_config_unref(c);
}

Test(config_set, add_upstream_naming)
{
    struct lx_config *c = load("backends:\n  - {name: upstream2, url: 'http://taken'}\n");
    cr_assert_eq(lx_config_add_upstream(c, "http://127.0.0.1:8080/v1/", err, sizeof(err)), LX_OK);
    cr_assert_eq(lx_config_add_upstream(c, "https://a.example/v1", err, sizeof(err)), LX_OK);
    cr_assert_eq(lx_config_add_upstream(c, "http://b", err, sizeof(err)), LX_OK);
    cr_assert_eq(c->n_backends, 4);
    cr_assert_str_eq(c->backends[1].name, "upstream");
    cr_assert_str_eq(c->backends[1].url, "http://127.0.0.1:8080/v1");
    cr_assert_str_eq(c->backends[2].name, "upstream3", "upstream2 is taken");
    cr_assert_str_eq(c->backends[3].name, "upstream4");
    for (size_t i = 1; i < 4; i++) {
        const struct lx_config_backend *b = &c->backends[i];
        cr_assert(b->discover);
        cr_assert_eq(b->dialect, LX_DIALECT_CHAT);
        cr_assert_null(b->api_key_env);
        cr_assert_eq(b->max_in_flight, 0);
        cr_assert_eq(b->timeouts.connect_ms, 5000);
        cr_assert_eq(b->timeouts.first_byte_ms, 120000);
        cr_assert_eq(b->timeouts.idle_ms, 60000);
        cr_assert_eq(b->timeouts.total_ms, 600000);
    }
    cr_assert_eq(lx_config_add_upstream(c, "localhost:8080", err, sizeof(err)), LX_ERR);
    cr_assert_str_eq(err, "invalid upstream url 'localhost:8080': url must start with http:// or "
                          "https://");
    cr_assert_eq(c->n_backends, 4);
    lx_config_unref(c);

    c = load("");
    cr_assert_eq(lx_config_add_upstream(c, "http://x", err, sizeof(err)), LX_OK);
    cr_assert_str_eq(c->backends[0].name, "upstream");
    lx_config_unref(c);
}

Test(config_set, audit)
{
    struct lx_config *c = load("");
    cr_assert_eq(lx_config_set_audit_path(c, "/tmp/a.jsonl", err, sizeof(err)), LX_OK);
    cr_assert_str_eq(c->audit.path, "/tmp/a.jsonl");
    cr_assert_eq(lx_config_set_audit_path(c, "off", err, sizeof(err)), LX_OK);
    cr_assert_null(c->audit.path);
    cr_assert_eq(lx_config_set_audit_path(c, "-", err, sizeof(err)), LX_OK);
    cr_assert_str_eq(c->audit.path, "-");
    cr_assert_eq(lx_config_set_audit_path(c, "", err, sizeof(err)), LX_OK);
    cr_assert_null(c->audit.path);

    cr_assert_eq(lx_config_set_audit_prompt(c, "full", err, sizeof(err)), LX_OK);
    cr_assert_eq(c->audit.prompt, LX_AUDIT_PROMPT_FULL);
    cr_assert_eq(lx_config_set_audit_prompt(c, "off", err, sizeof(err)), LX_OK);
    cr_assert_eq(c->audit.prompt, LX_AUDIT_PROMPT_OFF);
    cr_assert_eq(lx_config_set_audit_prompt(c, "hash", err, sizeof(err)), LX_OK);
    cr_assert_eq(c->audit.prompt, LX_AUDIT_PROMPT_HASH);
    cr_assert_eq(lx_config_set_audit_prompt(c, "FULL", err, sizeof(err)), LX_ERR);
    cr_assert_str_eq(err, "invalid audit prompt mode 'FULL': expected full, hash or off");
    cr_assert_eq(c->audit.prompt, LX_AUDIT_PROMPT_HASH);
    lx_config_unref(c);
}

/* ---- keys from the environment, and printing -------------------------------- */

static const char key_yaml[] = "backends:\n"
                               "  - {name: cloud, url: 'https://c', api_key_env: LLMUX_TEST_KEY}\n"
                               "  - {name: local, url: 'http://l'}\n";

Test(config_env, key_set, .init = cr_redirect_stderr)
{
    setenv("LLMUX_TEST_KEY", "sk-very-secret", 1);
    struct lx_config *c = load(key_yaml);
    cr_assert_str_eq(c->backends[0].api_key, "sk-very-secret");
    cr_assert_null(c->backends[1].api_key);
    fflush(stderr);
    cr_assert_stderr_eq_str("", "no warning when the variable is set");

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    lx_config_print(c, out);
    fclose(out);
    cr_assert(strstr(text, "key            from $LLMUX_TEST_KEY (set)"), "%s", text);
    cr_assert(strstr(text, "key            none"), "%s", text);
    cr_assert_null(strstr(text, "sk-very-secret"), "the key is never printed");
    free(text);
    lx_config_unref(c);
}

Test(config_env, key_unset_warns, .init = cr_redirect_stderr)
{
    unsetenv("LLMUX_TEST_KEY");
    struct lx_config *c = load(key_yaml);
    cr_assert_not_null(c, "an unset variable is not an error: %s", err);
    cr_assert_str_eq(c->backends[0].api_key_env, "LLMUX_TEST_KEY");
    cr_assert_null(c->backends[0].api_key);
    fflush(stderr);
    cr_assert_stderr_eq_str(
        "llmux: warning: backend 'cloud': environment variable LLMUX_TEST_KEY is not set\n");

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    lx_config_print(c, out);
    fclose(out);
    cr_assert(strstr(text, "key            from $LLMUX_TEST_KEY (NOT SET)"), "%s", text);
    free(text);
    lx_config_unref(c);
}

Test(config_print, table)
{
    setenv("LLMUX_TEST_KEY_FULL", "sk-full", 1);
    struct lx_config *c = load(full_yaml);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    lx_config_print(c, out);
    fclose(out);
    static const char *const expected[] = {
        "config: t.yaml\n",
        "  127.0.0.1:9000           http\n",
        "  [::1]:9443               https (cert cert.pem, key key.pem)\n",
        "  max_body_bytes           1000\n",
        "  max_headers              20\n",
        "  drain_timeout_ms         1234\n",
        "  path       /var/log/llmux.jsonl\n",
        "  prompt     full\n",
        "  interval   111 ms\n",
        "backends (3):\n  local\n    url            http://127.0.0.1:8080/v1\n",
        "    dialect        messages\n",
        "    discover       no\n",
        "    max_in_flight  3\n",
        "    queue          5 waiting at most, for at most 6 ms\n",
        "    queue          none (a full backend answers 429)\n",
        "    timeouts       connect 1 ms, first byte 2 ms, idle 3 ms, total 4 ms\n",
        "models (2):\n",
        "  local-chat               -> local / qwen2.5-7b-instruct-q4_k_m\n",
        "  sonnet                   -> claude / sonnet\n",
    };
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
        cr_assert(strstr(text, expected[i]), "missing %s in:\n%s", expected[i], text);
    free(text);
    lx_config_unref(c);
}

/* ---- lifecycle and names ---------------------------------------------------- */

Test(config_lifecycle, ref_unref)
{
    setenv("LLMUX_TEST_KEY_FULL", "sk-full", 1);
    struct lx_config *c = load(full_yaml);
    cr_assert_eq(lx_config_ref(c), c);
    cr_assert_eq(c->refcount, 2);
    lx_config_unref(c);
    cr_assert_eq(c->refcount, 1, "still alive after the first unref");
    cr_assert_str_eq(c->backends[0].name, "local");
    lx_config_unref(c);
    lx_config_unref(NULL);
}

Test(config_lifecycle, dialect_names)
{
    cr_assert_str_eq(lx_dialect_name(LX_DIALECT_CHAT), "chat");
    cr_assert_str_eq(lx_dialect_name(LX_DIALECT_RESPONSES), "responses");
    cr_assert_str_eq(lx_dialect_name(LX_DIALECT_MESSAGES), "messages");
}

/* ---- every file in examples/ loads ------------------------------------------- */

/* Writes REPO/rel into out: __FILE__ is REPO/tests/unit/test_config.c (an
 * absolute path under CMake; relative to the working directory otherwise). */
static void repo_path(char *out, size_t outlen, const char *rel)
{
    const char *file = __FILE__, *suffix = "tests/unit/test_config.c";
    size_t n = strlen(file) - strlen(suffix);
    cr_assert(strcmp(file + n, suffix) == 0, "unexpected __FILE__ %s", file);
    snprintf(out, outlen, "%.*s%s", (int)n, file, rel);
}

Test(config_examples, all_load, .init = cr_redirect_stderr)
{
    char dir[4096];
    repo_path(dir, sizeof(dir), "examples");
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "cannot open %s", dir);
    static const char *const wanted[] = {"llamacpp.yaml", "ollama.yaml", "vllm.yaml", "openai.yaml",
                                         "mixed.yaml"};
    size_t found = 0, loaded = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".yaml") != 0)
            continue;
        char path[8192];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct lx_config *c = NULL;
        cr_assert_eq(lx_config_load_file(path, &c, err, sizeof(err)), LX_OK, "%s", err);
        cr_assert_geq(c->n_backends, 1, "%s", path);
        lx_config_unref(c);
        loaded++;
        for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++)
            found += strcmp(e->d_name, wanted[i]) == 0;
    }
    closedir(d);
    cr_assert_eq(found, 5, "all five documented examples exist");
    cr_assert_geq(loaded, 5);
}

Test(config_examples, openai_and_mixed)
{
    char path[4096];
    repo_path(path, sizeof(path), "examples/openai.yaml");
    setenv("OPENAI_API_KEY", "sk-example", 1);
    struct lx_config *c = NULL;
    cr_assert_eq(lx_config_load_file(path, &c, err, sizeof(err)), LX_OK, "%s", err);
    int b = lx_config_find_backend(c, "openai");
    cr_assert_geq(b, 0);
    cr_assert_str_eq(c->backends[b].url, "https://api.openai.com/v1");
    cr_assert_str_eq(c->backends[b].api_key_env, "OPENAI_API_KEY");
    cr_assert_str_eq(c->backends[b].api_key, "sk-example");
    lx_config_unref(c);

    repo_path(path, sizeof(path), "examples/mixed.yaml");
    cr_assert_eq(lx_config_load_file(path, &c, err, sizeof(err)), LX_OK, "%s", err);
    int local = lx_config_find_backend(c, "local"), cloud = lx_config_find_backend(c, "openai");
    cr_assert(local >= 0 && cloud >= 0);
    cr_assert(strncmp(c->backends[local].url, "http://127.0.0.1", 16) == 0);
    cr_assert(strncmp(c->backends[cloud].url, "https://", 8) == 0);
    lx_config_unref(c);
}

/* ---- forward_headers ------------------------------------------------------ */

Test(config_file, forward_headers)
{
    struct lx_config *c = load("backends:\n"
                               "  - name: a\n"
                               "    url: http://127.0.0.1:1/v1\n"
                               "    forward_headers: [traceparent, X-Tenant]\n");
    cr_assert_not_null(c, "%s", err);
    cr_assert_eq(c->backends[0].n_forward_headers, 2);
    cr_assert_str_eq(c->backends[0].forward_headers[0], "traceparent");
    cr_assert_str_eq(c->backends[0].forward_headers[1], "x-tenant", "stored lowercase");
    lx_config_unref(c);
}

Test(config_errors, forward_headers)
{
    expect_error("backends:\n"
                 "  - name: a\n"
                 "    url: http://127.0.0.1:1/v1\n"
                 "    forward_headers: traceparent\n",
                 "t.yaml:4:22: backends[0].forward_headers: expected a sequence of header names");
    expect_error("backends:\n"
                 "  - name: a\n"
                 "    url: http://127.0.0.1:1/v1\n"
                 "    forward_headers: [ok, \"bad header\"]\n",
                 "t.yaml:4:27: backends[0].forward_headers: not a header name");
}

Test(config_errors, not_text)
{
    /* libfyaml 0.7.12 loops forever on this one (found by fuzz_config) */
    static const char hang[] = "listeners:\n  - ad11\n%im\xff\xff_ \0\x04\xabpody_bs:\n";
    struct lx_config *c = NULL;
    cr_assert_eq(lx_config_load_string(hang, sizeof(hang) - 1, "t.yaml", &c, err, sizeof(err)),
                 LX_ERR);
    cr_assert_str_eq(err, "t.yaml:3:8: control character 0x00: a config file is text");
    expect_error("a: \xc3\x28\n", "t.yaml:1:1: the file is not valid UTF-8");
}

/* ---- fallbacks and retry policies ----------------------------------------- */

static const char chain_yaml[] =
    "models:\n"
    "  - name: m\n"
    "    backend: local\n"
    "    upstream_model: small\n"
    "    fallbacks:\n"
    "      - { backend: cloud, upstream_model: gpt-x }\n"
    "      - backend: local\n"
    "    retry: { attempts: 3, on: [5xx, connect], backoff_ms: 50, max_backoff_ms: 400,\n"
    "             deadline_ms: 9000 }\n"
    "  - name: plain\n"
    "    backend: cloud\n"
    "backends:\n"
    "  - { name: local, url: 'http://127.0.0.1:8080/v1' }\n"
    "  - { name: cloud, url: 'https://api.example.com/v1' }\n";

Test(config_retry, fallbacks_and_policy)
{
    struct lx_config *c = load(chain_yaml);
    cr_assert_not_null(c, "%s", err);
    const struct lx_config_model *m = &c->models[0];
    cr_assert_eq(m->backend, 0);
    cr_assert_eq(m->n_fallbacks, 2);
    cr_assert_eq(m->fallbacks[0].backend, 1, "resolved although backends come later");
    cr_assert_str_eq(m->fallbacks[0].upstream_model, "gpt-x");
    cr_assert_eq(m->fallbacks[1].backend, 0);
    cr_assert_str_eq(m->fallbacks[1].upstream_model, "m", "defaults to the public name");
    cr_assert_eq(m->retry.attempts, 3);
    cr_assert_eq(m->retry.on, LX_RETRY_5XX | LX_RETRY_CONNECT);
    cr_assert_eq(m->retry.backoff_ms, 50);
    cr_assert_eq(m->retry.max_backoff_ms, 400);
    cr_assert_eq(m->retry.deadline_ms, 9000);

    const struct lx_config_model *p = &c->models[1];
    cr_assert_eq(p->n_fallbacks, 0);
    cr_assert_eq(p->retry.attempts, 1, "no retry by default");
    cr_assert_eq(p->retry.on, LX_RETRY_ALL);
    cr_assert_eq(p->retry.backoff_ms, 200);
    cr_assert_eq(p->retry.max_backoff_ms, 2000);
    cr_assert_eq(p->retry.deadline_ms, 30000);

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    lx_config_print(c, out);
    fclose(out);
    cr_assert(strstr(text, "then cloud / gpt-x"), "%s", text);
    cr_assert(strstr(text, "then local / m"), "%s", text);
    cr_assert(strstr(text, "retry 3 attempts per deployment on connect 5xx, backoff 50-400 ms, "
                           "deadline 9000 ms"),
              "%s", text);
    free(text);
    lx_config_unref(c);
}

#define MODEL_HEAD                                                                                 \
    "backends:\n  - {name: a, url: 'http://x'}\nmodels:\n  - name: m\n    backend: a\n"

Test(config_retry, errors)
{
    expect_error(MODEL_HEAD "    fallbacks:\n      - {backend: nope}\n",
                 "t.yaml:7:19: models[0].fallbacks[0].backend: unknown backend 'nope'");
    expect_error(MODEL_HEAD "    fallbacks:\n      - {upstream_model: x}\n",
                 "t.yaml:7:9: models[0].fallbacks[0]: missing key 'backend'");
    expect_error(MODEL_HEAD "    fallbacks:\n      - {backend: a, weight: 2}\n",
                 "t.yaml:7:22: unknown key 'weight' in models[0].fallbacks[0]");
    expect_error(MODEL_HEAD "    fallbacks: a\n",
                 "t.yaml:6:16: models[0].fallbacks: expected a sequence");
    expect_error(MODEL_HEAD
                 "    fallbacks: [{backend: a}, {backend: a}, {backend: a}, {backend: a},"
                 " {backend: a}, {backend: a}, {backend: a}, {backend: a}, {backend: a}]\n",
                 "t.yaml:6:16: models[0].fallbacks: too many fallbacks (at most 8)");
    expect_error(MODEL_HEAD "    retry: {attempts: 0}\n",
                 "t.yaml:6:23: models[0].retry.attempts: must be between 1 and 10");
    expect_error(MODEL_HEAD "    retry: {on: [5xx, 404]}\n",
                 "t.yaml:6:23: models[0].retry.on: expected connect, timeout, 5xx, 429 or "
                 "incomplete");
    expect_error(MODEL_HEAD "    retry: {on: 5xx}\n",
                 "t.yaml:6:17: models[0].retry.on: expected a sequence of failure classes");
    expect_error(MODEL_HEAD "    retry: {backoff_ms: 500, max_backoff_ms: 100}\n",
                 "t.yaml:6:12: models[0].retry: max_backoff_ms (100) is below backoff_ms (500)");
    expect_error(MODEL_HEAD "    retry: {deadline_ms: 0}\n",
                 "t.yaml:6:26: models[0].retry.deadline_ms: must be between 1 and 86400000");
    expect_error(MODEL_HEAD "    retry: {tries: 2}\n",
                 "t.yaml:6:13: unknown key 'tries' in models[0].retry");
}

/* ---- health: circuit, health_check, pins -------------------------------- */

Test(config_health, circuit_defaults_and_values)
{
    struct lx_config *c = load("backends:\n"
                               "  - {name: a, url: 'http://h:1'}\n"
                               "  - name: b\n"
                               "    url: http://h:2\n"
                               "    health_check: false\n"
                               "    circuit: {window: 10, min_requests: 10, error_ratio: 0.25,"
                               " open_ms: 50}\n"
                               "  - {name: c, url: 'http://h:3', circuit: {enabled: false}}\n"
                               "models:\n"
                               "  - {name: m, backend: a, fallbacks: [{backend: b},"
                               " {backend: c, upstream_model: x}]}\n"
                               "  - {name: n, backend: a, upstream_model: y}\n");
    cr_assert_not_null(c, "%s", err);
    const struct lx_config_circuit *a = &c->backends[0].circuit, *b = &c->backends[1].circuit;
    cr_assert(c->backends[0].health_check);
    cr_assert(a->enabled);
    cr_assert_eq(a->window, 20);
    cr_assert_eq(a->min_requests, 5);
    cr_assert_float_eq(a->error_ratio, 0.5, 1e-9);
    cr_assert_eq(a->open_ms, 10000);
    cr_assert_not(c->backends[1].health_check);
    cr_assert(b->enabled);
    cr_assert_eq(b->window, 10);
    cr_assert_eq(b->min_requests, 10);
    cr_assert_float_eq(b->error_ratio, 0.25, 1e-9);
    cr_assert_eq(b->open_ms, 50);
    cr_assert_not(c->backends[2].circuit.enabled);
    /* only a written upstream_model is a pin */
    cr_assert_not(c->models[0].pinned);
    cr_assert_not(c->models[0].fallbacks[0].pinned);
    cr_assert(c->models[0].fallbacks[1].pinned);
    cr_assert(c->models[1].pinned);
    lx_config_unref(c);
}

Test(config_health, circuit_errors)
{
    expect_error("backends:\n  - {name: a, url: 'http://h:1', circuit: {error_ratio: 0}}\n",
                 "t.yaml:2:57: backends[0].circuit.error_ratio: expected a number greater than 0 "
                 "and at most 1");
    expect_error("backends:\n  - {name: a, url: 'http://h:1', circuit: {error_ratio: 1.5}}\n",
                 "t.yaml:2:57: backends[0].circuit.error_ratio: expected a number greater than 0 "
                 "and at most 1");
    expect_error("backends:\n  - {name: a, url: 'http://h:1', circuit: {window: 3, "
                 "min_requests: 4}}\n",
                 "t.yaml:2:43: backends[0].circuit: min_requests (4) is larger than window (3)");
    expect_error("backends:\n  - {name: a, url: 'http://h:1', circuit: {window: 0}}\n",
                 "t.yaml:2:52: backends[0].circuit.window: must be between 1 and 1000");
}

/* ---- auth ------------------------------------------------------------------ */

Test(config_auth, defaults_and_values)
{
    struct lx_config *c = load("");
    cr_assert_not_null(c, "%s", err);
    cr_assert_not(c->auth.enabled);
    cr_assert_str_eq(c->auth.store, "llmux-keys.db");
    cr_assert_eq(c->auth.n_public_paths, 2);
    cr_assert(lx_config_path_public(c, "/v1/models", 10), "auth off: everything is public");
    lx_config_unref(c);

    c = load("auth:\n  enabled: true\n  store: /var/lib/llmux/keys.db\n"
             "  public_paths: [/healthz, /v1/models]\n");
    cr_assert_not_null(c, "%s", err);
    cr_assert(c->auth.enabled);
    cr_assert_str_eq(c->auth.store, "/var/lib/llmux/keys.db");
    cr_assert(lx_config_path_public(c, "/v1/models", 10));
    cr_assert(lx_config_path_public(c, "/healthz", 8));
    cr_assert_not(lx_config_path_public(c, "/readyz", 7));
    cr_assert_not(lx_config_path_public(c, "/v1/chat/completions", 20));
    char e[64];
    cr_assert_eq(lx_config_set_auth_store(c, "other.db", e, sizeof(e)), LX_OK);
    cr_assert_str_eq(c->auth.store, "other.db");
    lx_config_unref(c);

    c = load("auth: {enabled: true, public_paths: []}\n");
    cr_assert_not_null(c, "%s", err);
    cr_assert_eq(c->auth.n_public_paths, 0);
    cr_assert_not(lx_config_path_public(c, "/healthz", 8));
    lx_config_unref(c);
}

Test(config_auth, errors)
{
    expect_error("auth: {enable: true}\n", "t.yaml:1:8: unknown key 'enable' in auth");
    expect_error("auth: {enabled: yes}\n", "t.yaml:1:17: auth.enabled: expected true or false");
    expect_error("auth: {store: ''}\n", "t.yaml:1:15: auth.store: expected a file path");
    expect_error("auth: {public_paths: [healthz]}\n",
                 "t.yaml:1:23: auth.public_paths: a public path starts with / and has no spaces "
                 "or query");
    expect_error("auth: {public_paths: /healthz}\n",
                 "t.yaml:1:22: auth.public_paths: expected a sequence");
}

Test(config_rate_limits, defaults_values_and_print)
{
    struct lx_config *c = load("listeners: [{address: 127.0.0.1:9000}]\n");
    cr_assert_eq(c->rate_limits.per_key_rpm, 0);
    cr_assert_eq(c->rate_limits.per_model_rpm, 0);
    cr_assert_eq(c->rate_limits.burst, 0);
    lx_config_unref(c);
    c = load("rate_limits: {per_key_rpm: 60, per_model_rpm: 6, burst: 2}\n");
    cr_assert_eq(c->rate_limits.per_key_rpm, 60);
    cr_assert_eq(c->rate_limits.per_model_rpm, 6);
    cr_assert_eq(c->rate_limits.burst, 2);
    lx_config_unref(c);
    c = load("rate_limits: {per_key_rpm: 61}\n");
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    lx_config_print(c, out);
    fclose(out);
    cr_assert(strstr(text, "rate_limits:\n  per_key    61 per minute, burst 11\n"
                           "  per_model  off\n"),
              "%s", text);
    free(text);
    lx_config_unref(c);
}

Test(config_rate_limits, errors)
{
    expect_error("rate_limits: {per_key: 5}\n",
                 "t.yaml:1:15: unknown key 'per_key' in rate_limits");
    expect_error("rate_limits: {per_model_rpm: six}\n",
                 "t.yaml:1:30: rate_limits.per_model_rpm: expected an integer");
    expect_error("rate_limits: {per_key_rpm: 1000001}\n",
                 "t.yaml:1:28: rate_limits.per_key_rpm: must be between 0 and 1000000");
    expect_error("rate_limits: 5\n", "t.yaml:1:14: rate_limits: expected a mapping");
}

/* ---- responses ------------------------------------------------------------- */

Test(config_responses, defaults_and_values)
{
    struct lx_config *c = load("");
    cr_assert_not_null(c, "%s", err);
    cr_assert_str_eq(c->responses.store, "llmux-responses.db");
    cr_assert_eq(c->responses.ttl_hours, 720);
    cr_assert_eq(c->responses.max_stored_bytes, 33554432);
    cr_assert_eq(c->responses.reasoning_events, LX_REASONING_EVENTS_ITEMS);
    cr_assert(c->responses.default_store);
    lx_config_unref(c);
    c = lx_config_default();
    cr_assert_str_eq(c->responses.store, "llmux-responses.db");
    cr_assert(c->responses.default_store);
    lx_config_unref(c);

    c = load("responses:\n  store: /var/lib/llmux/r.db\n  ttl_hours: 0\n"
             "  max_stored_bytes: 1024\n  reasoning_events: open_responses\n"
             "  default_store: false\n");
    cr_assert_not_null(c, "%s", err);
    cr_assert_str_eq(c->responses.store, "/var/lib/llmux/r.db");
    cr_assert_eq(c->responses.ttl_hours, 0);
    cr_assert_eq(c->responses.max_stored_bytes, 1024);
    cr_assert_eq(c->responses.reasoning_events, LX_REASONING_EVENTS_OPEN_RESPONSES);
    cr_assert_not(c->responses.default_store);
    char e[64];
    cr_assert_eq(lx_config_set_responses_store(c, "off", e, sizeof(e)), LX_OK);
    cr_assert_null(c->responses.store);
    cr_assert_eq(lx_config_set_responses_store(c, "x.db", e, sizeof(e)), LX_OK);
    cr_assert_str_eq(c->responses.store, "x.db");
    cr_assert_eq(lx_config_set_responses_store(c, "", e, sizeof(e)), LX_ERR);
    cr_assert_str_eq(e, "missing responses store path");
    cr_assert_str_eq(c->responses.store, "x.db");
    lx_config_unref(c);

    c = load("responses: {store: off, reasoning_events: openai}\n");
    cr_assert_not_null(c, "%s", err);
    cr_assert_null(c->responses.store);
    cr_assert_eq(c->responses.reasoning_events, LX_REASONING_EVENTS_OPENAI);
    cr_assert_str_eq(lx_config_reasoning_events_name(c->responses.reasoning_events), "openai");
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    lx_config_print(c, out);
    fclose(out);
    cr_assert(strstr(text, "responses:\n  store      off (nothing is stored)\n"
                           "  ttl        720 h\n  max_bytes  33554432\n"
                           "  reasoning  openai\n  default    store\n"),
              "%s", text);
    free(text);
    lx_config_unref(c);
}

Test(config_responses, websocket)
{
    struct lx_config *c = load("");
    cr_assert_not_null(c, "%s", err);
    cr_assert_eq(c->responses.websocket.max_connection_ms, 3600000);
    cr_assert_eq(c->responses.websocket.max_queued, 16);
    cr_assert_eq(c->responses.websocket.max_cached, 16);
    cr_assert_eq(c->responses.websocket.max_message_bytes, 0);
    lx_config_unref(c);
    c = load("responses:\n  websocket: {max_connection_ms: 250, max_queued: 0, max_cached: 3,"
             " max_message_bytes: 2048}\n");
    cr_assert_not_null(c, "%s", err);
    cr_assert_eq(c->responses.websocket.max_connection_ms, 250);
    cr_assert_eq(c->responses.websocket.max_queued, 0);
    cr_assert_eq(c->responses.websocket.max_cached, 3);
    cr_assert_eq(c->responses.websocket.max_message_bytes, 2048);
    lx_config_unref(c);
    expect_error("responses: {websocket: {max_queued: 2000}}\n",
                 "t.yaml:1:37: responses.websocket.max_queued: must be between 0 and 1024");
    expect_error("responses: {websocket: {max_connection_ms: 0}}\n",
                 "t.yaml:1:44: responses.websocket.max_connection_ms: must be between 1 and "
                 "4294967295");
    expect_error("responses: {websocket: {max_cach: 1}}\n",
                 "t.yaml:1:25: unknown key 'max_cach' in responses.websocket");
}

Test(config_responses, errors)
{
    expect_error("responses: {stor: x}\n", "t.yaml:1:13: unknown key 'stor' in responses");
    expect_error("responses: {store: ''}\n",
                 "t.yaml:1:20: responses.store: expected a file path or off");
    expect_error("responses: {store: [a]}\n", "t.yaml:1:20: responses.store: expected a string");
    expect_error("responses: {ttl_hours: -1}\n",
                 "t.yaml:1:24: responses.ttl_hours: must be between 0 and 87600");
    expect_error("responses: {max_stored_bytes: 10}\n",
                 "t.yaml:1:31: responses.max_stored_bytes: must be between 1024 and "
                 "1099511627776");
    expect_error("responses:\n  reasoning_events: summary\n",
                 "t.yaml:2:21: responses.reasoning_events: expected items, openai or "
                 "open_responses");
    expect_error("responses: {default_store: 1}\n",
                 "t.yaml:1:28: responses.default_store: expected true or false");
}

Test(config_responses, encryption_key_env)
{
    struct lx_config *c = load("");
    cr_assert_not_null(c, "%s", err);
    cr_expect_null(c->responses.encryption_key_env, "unset: a random key per process");
    lx_config_unref(c);
    unsetenv("LX_TEST_SEAL_KEY");
    expect_error("responses: {encryption_key_env: LX_TEST_SEAL_KEY}\n",
                 "t.yaml: responses.encryption_key_env: environment variable LX_TEST_SEAL_KEY is "
                 "not set");
    setenv("LX_TEST_SEAL_KEY", "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcde",
           1); /* 63 digits */
    expect_error("responses: {encryption_key_env: LX_TEST_SEAL_KEY}\n",
                 "t.yaml: responses.encryption_key_env: environment variable LX_TEST_SEAL_KEY "
                 "does not hold 64 hex digits");
    setenv("LX_TEST_SEAL_KEY", "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdeg",
           1);
    expect_error("responses: {encryption_key_env: LX_TEST_SEAL_KEY}\n",
                 "t.yaml: responses.encryption_key_env: environment variable LX_TEST_SEAL_KEY "
                 "does not hold 64 hex digits");
    setenv("LX_TEST_SEAL_KEY", "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef",
           1);
    c = load("responses: {encryption_key_env: LX_TEST_SEAL_KEY}\n");
    cr_assert_not_null(c, "%s", err);
    cr_expect_str_eq(c->responses.encryption_key_env, "LX_TEST_SEAL_KEY");
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    lx_config_print(c, out);
    fclose(out);
    cr_expect(strstr(text, "  seal_key   from $LX_TEST_SEAL_KEY\n"), "%s", text);
    cr_expect_null(strstr(text, "0123456789abcdef"), "the key is never printed");
    free(text);
    lx_config_unref(c);
    unsetenv("LX_TEST_SEAL_KEY");
    expect_error("responses: {encryption_key_env: 'NOT A NAME'}\n",
                 "t.yaml:1:33: responses.encryption_key_env: expected the name of an environment "
                 "variable");
}

Test(config_file, governance_keys)
{
    struct lx_config *c = load("");
    cr_assert_eq(c->policy.forbidden_tools, LX_FORBIDDEN_TOOLS_REJECT, "reject by default");
    cr_assert(!c->admin.enabled);
    cr_assert_str_eq(c->admin.key_env, "LLMUX_ADMIN_KEY");
    lx_config_unref(c);
    c = load("policy: {forbidden_tools: strip}\nadmin: {enabled: true, key_env: ADM}\n"
             "backends: [{name: b, url: 'http://x'}]\n"
             "models:\n  - {name: m, backend: b, tools_allowed: [get_weather, get-time]}\n"
             "  - {name: n, backend: b, tools_allowed: []}\n  - {name: o, backend: b}\n");
    cr_assert_not_null(c, "%s", err);
    cr_assert_eq(c->policy.forbidden_tools, LX_FORBIDDEN_TOOLS_STRIP);
    cr_assert(c->admin.enabled);
    cr_assert_str_eq(c->admin.key_env, "ADM");
    cr_assert_eq(c->models[0].n_tools_allowed, 2);
    cr_assert_str_eq(c->models[0].tools_allowed[1], "get-time");
    cr_assert_not_null(c->models[1].tools_allowed, "[] allows none: a list of 0");
    cr_assert_eq(c->models[1].n_tools_allowed, 0);
    cr_assert_null(c->models[2].tools_allowed, "absent: any tool");
    lx_config_unref(c);
    expect_error("policy: {forbidden_tools: drop}\n",
                 "t.yaml:1:27: policy.forbidden_tools: expected reject or strip");
    expect_error("backends: [{name: b, url: 'http://x'}]\n"
                 "models: [{name: m, backend: b, tools_allowed: ['rm -rf']}]\n",
                 "t.yaml:2:48: models[0].tools_allowed: a tool name is 1 to 64 of A-Z a-z 0-9 _ -");
    expect_error("admin: {key_env: ''}\n",
                 "t.yaml:1:18: admin.key_env: expected the name of an environment variable");
}

/* ---- redaction ----------------------------------------------------------- */

#include "policy/redact.h"

Test(config_redaction, sets_by_direction)
{
    struct lx_config *c = load("redaction: {}\n");
    cr_assert_null(c->redaction.input, "no detector, no set");
    cr_assert_null(c->redaction.output);
    lx_config_unref(c);
    c = load("redaction:\n"
             "  restore: true\n"
             "  max_hold: 100\n"
             "  detectors:\n"
             "    - { name: email, action: pseudonym }\n"
             "    - { name: card, action: block, direction: both }\n"
             "    - { name: ip, direction: input }\n"
             "    - { name: secret, action: tag, direction: input }\n"
             "  custom:\n"
             "    - name: ssn\n"
             "      pattern: '\\b([0-9]{3}-[0-9]{2}-[0-9]{4})\\b'\n"
             "      direction: output\n");
    cr_assert_not_null(c, "%s", err);
    cr_assert(c->redaction.restore);
    const lx_redact_set *in = c->redaction.input, *out = c->redaction.output;
    cr_assert_eq(lx_redact_set_count(in), 5); /* email card ipv4 ipv6 secret */
    cr_assert_eq(lx_redact_set_action(in, 0), LX_REDACT_PSEUDONYM);
    cr_assert_eq(lx_redact_set_action(in, 1), LX_REDACT_BLOCK);
    cr_assert_eq(lx_redact_set_action(in, 4), LX_REDACT_TAG);
    cr_assert_eq(lx_redact_set_count(out), 3); /* email card ssn */
    cr_assert_eq(lx_redact_set_action(out, 0), LX_REDACT_MASK, "pseudonym masks with restore");
    cr_assert_eq(lx_redact_set_action(out, 1), LX_REDACT_MASK, "block masks in output");
    cr_assert_str_eq(lx_redact_set_name(out, 2), "ssn");
    lx_config_unref(c);
}

Test(config_redaction, output_pseudonym_without_restore)
{
    struct lx_config *c = load("redaction:\n"
                               "  detectors: [{ name: email, action: pseudonym }]\n");
    cr_assert_not_null(c, "%s", err);
    cr_assert_not(c->redaction.restore);
    cr_assert_eq(lx_redact_set_action(c->redaction.input, 0), LX_REDACT_PSEUDONYM);
    cr_assert_eq(lx_redact_set_action(c->redaction.output, 0), LX_REDACT_PSEUDONYM);
    lx_config_unref(c);
}

Test(config_redaction, errors)
{
    expect_error("redaction:\n  detectors:\n    - { name: passport }\n",
                 "t.yaml:3:15: redaction.detectors[0]: unknown detector passport");
    expect_error("redaction:\n  detectors:\n    - { name: email, action: drop }\n",
                 "t.yaml:3:30: redaction.detectors[0].action: expected mask, pseudonym, block or "
                 "tag");
    expect_error("redaction:\n  detectors:\n    - { name: email, direction: in }\n",
                 "t.yaml:3:33: redaction.detectors[0].direction: expected input, output or both");
    expect_error("redaction:\n  detectors:\n    - { name: email }\n    - { name: email }\n",
                 "t.yaml:4:15: redaction.detectors[1]: detector email: defined twice");
    expect_error("redaction:\n  custom:\n    - { name: id, pattern: 'a(b' }\n",
                 "t.yaml:3:28: redaction.custom[0]: detector id: missing closing "
                 "parenthesis at offset 3");
    expect_error("redaction:\n  custom:\n    - { name: id }\n",
                 "t.yaml:3:7: redaction.custom[0]: missing key 'pattern'");
    expect_error("redaction:\n  custom:\n    - { name: Bad, pattern: x }\n",
                 "t.yaml:3:15: redaction.custom[0]: bad detector name Bad");
    expect_error("redaction:\n  max_hold: 1\n",
                 "t.yaml:2:13: redaction.max_hold: must be between 64 and 1048576");
    expect_error("redaction:\n  mask: true\n", "t.yaml:2:3: unknown key 'mask' in redaction");
}

Test(config_redaction, backend_local_default_and_value)
{
    struct lx_config *c = load("backends:\n"
                               "  - { name: a, url: http://127.0.0.1:8080/v1 }\n"
                               "  - { name: b, url: 'http://[::1]:8080/v1' }\n"
                               "  - { name: c, url: http://192.168.1.20/v1 }\n"
                               "  - { name: d, url: https://api.openai.com/v1 }\n"
                               "  - { name: e, url: http://10.0.0.1/v1, local: false }\n"
                               "  - { name: f, url: https://gpu.example.com/v1, local: true }\n"
                               "  - { name: g, url: http://172.32.0.1/v1 }\n"
                               "  - { name: h, url: http://localhost:1234/v1 }\n");
    cr_assert_not_null(c, "%s", err);
    const bool want[] = {true, true, true, false, false, true, false, true};
    for (size_t i = 0; i < 8; i++)
        cr_assert_eq(c->backends[i].local, want[i], "backend %zu", i);
    lx_config_unref(c);
    cr_assert(lx_config_url_is_local("http://172.16.5.5:80/v1"));
    cr_assert(lx_config_url_is_local("http://[fd00::1]/v1"));
    cr_assert_not(lx_config_url_is_local("http://[2001:db8::1]/v1"));
    cr_assert_not(lx_config_url_is_local("http://127.0.0.1.evil.com/v1"));
    expect_error("backends:\n  - { name: a, url: http://x/v1, local: yes }\n",
                 "t.yaml:2:41: backends[0].local: expected true or false");
}

Test(config_redaction, printed)
{
    struct lx_config *c = load("redaction:\n"
                               "  restore: true\n"
                               "  detectors: [{ name: ip, action: tag, direction: input },\n"
                               "              { name: card, direction: output }]\n"
                               "backends:\n"
                               "  - { name: gpu, url: http://10.1.2.3/v1 }\n"
                               "  - { name: cloud, url: https://api.example.com/v1 }\n");
    cr_assert_not_null(c, "%s", err);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    lx_config_print(c, f);
    fclose(f);
    cr_assert_not_null(strstr(text, "\nredaction:\n"
                                    "  input     ipv4:tag, ipv6:tag\n"
                                    "  output    card:mask\n"
                                    "  restore   true\n"
                                    "  local     gpu\n\n"),
                       "%s", text);
    free(text);
    lx_config_unref(c);
}

Test(config_rate_limits, tokens_and_redis)
{
    struct lx_config *c = load("listeners: [{address: 127.0.0.1:9000}]\n");
    cr_assert_eq(c->rate_limits.per_key_tpm, 0);
    cr_assert_eq(c->rate_limits.per_model_tpm, 0);
    cr_assert_eq(c->rate_limits.store, LX_RATE_STORE_MEMORY);
    cr_assert_str_eq(c->rate_limits.redis.url, "redis://127.0.0.1:6379/0");
    cr_assert_str_eq(c->rate_limits.redis.host, "127.0.0.1");
    cr_assert_eq(c->rate_limits.redis.port, 6379);
    cr_assert_eq(c->rate_limits.redis.db, 0);
    cr_assert_str_eq(c->rate_limits.redis.key_prefix, "llmux:");
    cr_assert_eq(c->rate_limits.redis.timeout_ms, 50);
    cr_assert_not(c->rate_limits.redis.deny_on_error);
    lx_config_unref(c);
    c = load("rate_limits:\n  per_key_tpm: 100000000\n  per_model_tpm: 5\n  store: redis\n"
             "  redis: {url: 'redis://cache.local:7000/3', key_prefix: 'a:', timeout_ms: 7,"
             " on_error: deny}\n");
    cr_assert_eq(c->rate_limits.per_key_tpm, 100000000);
    cr_assert_eq(c->rate_limits.per_model_tpm, 5);
    cr_assert_eq(c->rate_limits.store, LX_RATE_STORE_REDIS);
    cr_assert_str_eq(c->rate_limits.redis.host, "cache.local");
    cr_assert_eq(c->rate_limits.redis.port, 7000);
    cr_assert_eq(c->rate_limits.redis.db, 3);
    cr_assert_str_eq(c->rate_limits.redis.key_prefix, "a:");
    cr_assert_eq(c->rate_limits.redis.timeout_ms, 7);
    cr_assert(c->rate_limits.redis.deny_on_error);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    lx_config_print(c, out);
    fclose(out);
    cr_assert(strstr(text, "  per_key    100000000 tokens per minute\n"
                           "  per_model  5 tokens per minute\n"
                           "  store      redis cache.local:7000 db 3, prefix \"a:\", timeout 7 ms,"
                           " on error deny\n"),
              "%s", text);
    free(text);
    lx_config_unref(c);
    c = load("rate_limits: {redis: {url: 'redis://[::1]'}}\n");
    cr_assert_str_eq(c->rate_limits.redis.host, "::1");
    cr_assert_eq(c->rate_limits.redis.port, 6379);
    lx_config_unref(c);
}

Test(config_rate_limits, redis_errors)
{
    const char *bad_url = "t.yaml:1:22: rate_limits.redis: url: expected "
                          "redis://host[:port][/db] (db 0..15)";
    expect_error("rate_limits: {redis: {url: 'http://x'}}\n", bad_url);
    expect_error("rate_limits: {redis: {url: 'redis://:secret@x'}}\n", bad_url);
    expect_error("rate_limits: {redis: {url: 'redis://u:p@x:1'}}\n", bad_url);
    expect_error("rate_limits: {redis: {url: 'redis://x:0'}}\n", bad_url);
    expect_error("rate_limits: {redis: {url: 'redis://x:65536'}}\n", bad_url);
    expect_error("rate_limits: {redis: {url: 'redis://x/16'}}\n", bad_url);
    expect_error("rate_limits: {redis: {url: 'redis://x/1a'}}\n", bad_url);
    expect_error("rate_limits: {redis: {url: 'redis://'}}\n", bad_url);
    expect_error("rate_limits: {store: disk}\n",
                 "t.yaml:1:22: rate_limits.store: expected memory or redis");
    expect_error("rate_limits: {redis: {on_error: maybe}}\n",
                 "t.yaml:1:33: rate_limits.redis.on_error: expected allow or deny");
    expect_error("rate_limits: {redis: {timeout_ms: 0}}\n",
                 "t.yaml:1:35: rate_limits.redis.timeout_ms: must be between 1 and 10000");
    expect_error("rate_limits: {per_model_tpm: 100000001}\n",
                 "t.yaml:1:30: rate_limits.per_model_tpm: must be between 0 and 100000000");
}
