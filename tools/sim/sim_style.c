/*
 * sim_style.c - llama.cpp and OpenAI chat dialects (see sim_style.h).
 *
 * Key order follows what each server sends, so captures look like the real thing:
 * llama puts "choices" first and "object" last (LLAMA-SERVER.md, chat streaming format).
 */
#include "sim_style.h"

#include <string.h>

#define LLAMA_FINGERPRINT "b0-llmux-sim"
#define OPENAI_FINGERPRINT "fp_11ac5ef0a1"

static void finish_json(struct sim_buf *b, const char *finish)
{
    if (finish == NULL) {
        sim_buf_puts(b, "null");
        return;
    }
    sim_buf_printf(b, "\"%s\"", finish);
}

/* ---- llama ---- */

static void llama_usage(struct sim_buf *b, const struct sim_usage *u)
{
    sim_buf_printf(b,
                   "{\"completion_tokens\":%ld,\"prompt_tokens\":%ld,\"total_tokens\":%ld,"
                   "\"prompt_tokens_details\":{\"cached_tokens\":0}}",
                   u->completion_tokens, u->prompt_tokens, u->prompt_tokens + u->completion_tokens);
}

static double per_second(long n, double ms)
{
    return ms > 0 ? n * 1000.0 / ms : 0.0;
}

static void llama_timings(struct sim_buf *b, const struct sim_reply *r)
{
    long pn = r->usage.prompt_tokens;
    long cn = r->usage.completion_tokens;
    double pms = r->timings.prompt_ms;
    double cms = r->timings.predicted_ms;
    sim_buf_printf(b,
                   ",\"timings\":{\"cache_n\":0,\"prompt_n\":%ld,\"prompt_ms\":%.3f,"
                   "\"prompt_per_token_ms\":%.3f,\"prompt_per_second\":%.3f,",
                   pn, pms, pn > 0 ? pms / pn : 0.0, per_second(pn, pms));
    sim_buf_printf(b,
                   "\"predicted_n\":%ld,\"predicted_ms\":%.3f,\"predicted_per_token_ms\":%.3f,"
                   "\"predicted_per_second\":%.3f}",
                   cn, cms, cn > 0 ? cms / cn : 0.0, per_second(cn, cms));
}

/* "created", "id", "model", "system_fingerprint" and "object", llama order. */
static void llama_envelope(struct sim_buf *b, const struct sim_reply *r, const char *object)
{
    sim_buf_printf(b, ",\"created\":%lld,\"id\":\"%s\",\"model\":", r->created, r->id);
    sim_buf_json_str(b, r->model, strlen(r->model));
    sim_buf_printf(b, ",\"system_fingerprint\":\"" LLAMA_FINGERPRINT "\",\"object\":\"%s\"",
                   object);
}

static void llama_chunk(struct sim_buf *b, const struct sim_reply *r, const char *delta,
                        size_t delta_len, const char *finish, int flags)
{
    sim_buf_puts(b, "{\"choices\":[{\"finish_reason\":");
    finish_json(b, finish);
    sim_buf_puts(b, ",\"index\":0,\"delta\":");
    sim_buf_append(b, delta, delta_len);
    sim_buf_puts(b, "}]");
    llama_envelope(b, r, "chat.completion.chunk");
    if (flags & SIM_CHUNK_TIMINGS)
        llama_timings(b, r);
    sim_buf_puts(b, "}");
}

static void llama_usage_chunk(struct sim_buf *b, const struct sim_reply *r, int flags)
{
    sim_buf_puts(b, "{\"choices\":[]");
    llama_envelope(b, r, "chat.completion.chunk");
    sim_buf_puts(b, ",\"usage\":");
    llama_usage(b, &r->usage);
    if (flags & SIM_CHUNK_TIMINGS)
        llama_timings(b, r);
    sim_buf_puts(b, "}");
}

static void llama_completion(struct sim_buf *b, const struct sim_reply *r, const char *message,
                             size_t message_len, const char *finish)
{
    sim_buf_puts(b, "{\"choices\":[{\"finish_reason\":");
    finish_json(b, finish);
    sim_buf_puts(b, ",\"index\":0,\"message\":");
    sim_buf_append(b, message, message_len);
    sim_buf_printf(b, "}],\"created\":%lld,\"model\":", r->created);
    sim_buf_json_str(b, r->model, strlen(r->model));
    sim_buf_puts(b, ",\"system_fingerprint\":\"" LLAMA_FINGERPRINT
                    "\",\"object\":\"chat.completion\",\"usage\":");
    llama_usage(b, &r->usage);
    sim_buf_printf(b, ",\"id\":\"%s\"", r->id);
    llama_timings(b, r);
    sim_buf_puts(b, "}");
}

/* llama's error types by status (LLAMA-SERVER.md, error body shape). */
static const char *llama_error_type(int status)
{
    switch (status) {
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 501:
        return "not_supported_error";
    case 429:
    case 503:
        return "unavailable_error";
    default:
        return status < 500 ? "invalid_request_error" : "server_error";
    }
}

static void llama_error(struct sim_buf *b, int status, const char *message)
{
    sim_buf_printf(b, "{\"error\":{\"code\":%d,\"message\":", status);
    sim_buf_json_str(b, message, strlen(message));
    sim_buf_printf(b, ",\"type\":\"%s\"}}", llama_error_type(status));
}

/* ---- openai ---- */

static void openai_usage(struct sim_buf *b, const struct sim_usage *u)
{
    sim_buf_printf(b,
                   "{\"prompt_tokens\":%ld,\"completion_tokens\":%ld,\"total_tokens\":%ld,"
                   "\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},",
                   u->prompt_tokens, u->completion_tokens, u->prompt_tokens + u->completion_tokens);
    sim_buf_puts(b, "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
                    "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}");
}

/* "id", "object", "created", "model", "service_tier", "system_fingerprint", OpenAI order. */
static void openai_envelope(struct sim_buf *b, const struct sim_reply *r, const char *object)
{
    sim_buf_printf(b, "{\"id\":\"%s\",\"object\":\"%s\",\"created\":%lld,\"model\":", r->id, object,
                   r->created);
    sim_buf_json_str(b, r->model, strlen(r->model));
    sim_buf_puts(b,
                 ",\"service_tier\":\"default\",\"system_fingerprint\":\"" OPENAI_FINGERPRINT "\"");
}

static void openai_chunk(struct sim_buf *b, const struct sim_reply *r, const char *delta,
                         size_t delta_len, const char *finish, int flags)
{
    openai_envelope(b, r, "chat.completion.chunk");
    sim_buf_puts(b, ",\"choices\":[{\"index\":0,\"delta\":");
    sim_buf_append(b, delta, delta_len);
    sim_buf_puts(b, ",\"logprobs\":null,\"finish_reason\":");
    finish_json(b, finish);
    sim_buf_puts(b, r->include_usage ? "}],\"usage\":null}" : "}]}");
}

static void openai_usage_chunk(struct sim_buf *b, const struct sim_reply *r, int flags)
{
    openai_envelope(b, r, "chat.completion.chunk");
    sim_buf_puts(b, ",\"choices\":[],\"usage\":");
    openai_usage(b, &r->usage);
    sim_buf_puts(b, "}");
}

static void openai_completion(struct sim_buf *b, const struct sim_reply *r, const char *message,
                              size_t message_len, const char *finish)
{
    sim_buf_printf(b, "{\"id\":\"%s\",\"object\":\"chat.completion\",\"created\":%lld,\"model\":",
                   r->id, r->created);
    sim_buf_json_str(b, r->model, strlen(r->model));
    sim_buf_puts(b, ",\"choices\":[{\"index\":0,\"message\":");
    sim_buf_append(b, message, message_len);
    sim_buf_puts(b, ",\"logprobs\":null,\"finish_reason\":");
    finish_json(b, finish);
    sim_buf_puts(b, "}],\"usage\":");
    openai_usage(b, &r->usage);
    sim_buf_puts(b, ",\"service_tier\":\"default\",\"system_fingerprint\":\"" OPENAI_FINGERPRINT
                    "\"}");
}

struct openai_error_kind {
    int status;
    const char *type;
    const char *code; /* NULL: JSON null */
};

static const struct openai_error_kind openai_errors[] = {
    {400, "invalid_request_error", NULL},
    {401, "invalid_request_error", "invalid_api_key"},
    {403, "invalid_request_error", "permission_denied"},
    {404, "invalid_request_error", NULL},
    {408, "timeout", "timeout"},
    {413, "invalid_request_error", "request_too_large"},
    {429, "requests", "rate_limit_exceeded"},
    {503, "server_error", "service_unavailable"},
    {504, "timeout", "timeout"},
};

static void openai_error(struct sim_buf *b, int status, const char *message)
{
    const char *type = status < 500 ? "invalid_request_error" : "server_error";
    const char *code = status < 500 ? "invalid_request" : "server_error";
    for (size_t i = 0; i < sizeof(openai_errors) / sizeof(openai_errors[0]); i++) {
        if (openai_errors[i].status == status) {
            type = openai_errors[i].type;
            code = openai_errors[i].code;
        }
    }
    sim_buf_puts(b, "{\"error\":{\"message\":");
    sim_buf_json_str(b, message, strlen(message));
    sim_buf_printf(b, ",\"type\":\"%s\",\"param\":null,\"code\":", type);
    if (code != NULL)
        sim_buf_printf(b, "\"%s\"}}", code);
    else
        sim_buf_puts(b, "null}}");
}

static const struct sim_style styles[] = {
    {
        .name = "llama",
        .first_delta = "{\"role\":\"assistant\",\"content\":null}",
        .tool_id_prefix = "",
        .tool_id_len = 32,
        .chat_id_len = 32,
        .tools_only_content = "\"\"",
        .message_extra = "",
        .chunk = llama_chunk,
        .usage_chunk = llama_usage_chunk,
        .completion = llama_completion,
        .error = llama_error,
    },
    {
        .name = "openai",
        .first_delta = "{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}",
        .tool_id_prefix = "call_",
        .tool_id_len = 24,
        .chat_id_len = 29,
        .tools_only_content = "null",
        .message_extra = ",\"refusal\":null,\"annotations\":[]",
        .chunk = openai_chunk,
        .usage_chunk = openai_usage_chunk,
        .completion = openai_completion,
        .error = openai_error,
    },
};

const struct sim_style *sim_style_find(const char *name)
{
    for (size_t i = 0; i < sizeof(styles) / sizeof(styles[0]); i++) {
        if (strcmp(styles[i].name, name) == 0)
            return &styles[i];
    }
    return NULL;
}
