/*
 * sim_style.h - the wire dialects the simulator speaks: "llama" (llama.cpp's server, see
 * /work/shared/spec/LLAMA-SERVER.md) and "openai" (api.openai.com). A style is a codec: a
 * table of constants and functions that wrap a delta or message into the dialect's chunk,
 * completion and error objects. Styles are static; callers never free them.
 */
#ifndef SIM_STYLE_H
#define SIM_STYLE_H

#include <stddef.h>

#include "sim_buf.h"

struct sim_usage {
    long prompt_tokens;
    long completion_tokens;
};

struct sim_timings {
    double prompt_ms;
    double predicted_ms;
};

/* What every chunk of one reply shares. Strings are borrowed. */
struct sim_reply {
    const char *id;
    const char *model;
    long long created;
    struct sim_usage usage;
    struct sim_timings timings;
    int include_usage; /* stream_options.include_usage was true */
};

#define SIM_CHUNK_TIMINGS 1 /* this chunk is the stream's last: llama adds `timings` */

struct sim_style {
    const char *name;
    const char *first_delta;        /* the delta of the role chunk */
    const char *tool_id_prefix;     /* before the random part of a tool call id */
    size_t tool_id_len;             /* random characters in a tool call id */
    size_t chat_id_len;             /* random characters after "chatcmpl-" */
    const char *tools_only_content; /* message content when there are only tool calls */
    const char *message_extra;      /* ",..." members appended to a non-streamed message */
    /* Appends a chat.completion.chunk object around delta; finish is NULL or a reason. */
    void (*chunk)(struct sim_buf *b, const struct sim_reply *r, const char *delta, size_t delta_len,
                  const char *finish, int flags);
    /* Appends the include_usage chunk (empty choices). */
    void (*usage_chunk)(struct sim_buf *b, const struct sim_reply *r, int flags);
    /* Appends a chat.completion object around a message object. */
    void (*completion)(struct sim_buf *b, const struct sim_reply *r, const char *message,
                       size_t message_len, const char *finish);
    /* Appends an error body for HTTP status. */
    void (*error)(struct sim_buf *b, int status, const char *message);
};

/* Returns the style called name, or NULL. */
const struct sim_style *sim_style_find(const char *name);

#endif
