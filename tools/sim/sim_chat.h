/*
 * sim_chat.h - what a simulated chat completion says, and how it is rendered.
 *
 * sim_chat_new() reads a /v1/chat/completions request and decides the whole reply up front:
 * optional reasoning words, then either text words, a JSON document (response_format) or tool
 * calls, split into the delta chunks a stream would carry. The reply is then rendered either
 * frame by frame (SSE, pulled by the caller) or as one chat.completion object. Content depends
 * only on --seed and the request's messages, so a streamed and a non-streamed request for the
 * same conversation say the same thing.
 */
#ifndef SIM_CHAT_H
#define SIM_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "sim_buf.h"
#include "sim_config.h"

struct sim_chat;

/* Builds the reply to req (a parsed request body, borrowed for the call only). id_seed makes
 * the ids of this reply unique. Returns a heap object (sim_chat_free), or NULL with a client
 * error message in err (answer 400). */
struct sim_chat *sim_chat_new(const struct sim_config *cfg, const cJSON *req, uint64_t id_seed,
                              char *err, size_t errlen);
void sim_chat_free(struct sim_chat *c);

/* Returns non-zero when the request asked for "stream": true. */
int sim_chat_is_stream(const struct sim_chat *c);
/* Delta chunks between the role chunk and the finish chunk. */
size_t sim_chat_pieces(const struct sim_chat *c);
/* SSE frames of the stream: role, pieces, finish, usage when asked for, [DONE]. */
size_t sim_chat_frames(const struct sim_chat *c);
/* Appends SSE frame i ("data: ...\n\n") to out. t: timings so far (llama's last chunk). */
void sim_chat_frame(struct sim_chat *c, size_t i, const struct sim_timings *t, struct sim_buf *out);
/* Appends the non-streamed chat.completion object to out. */
void sim_chat_full(struct sim_chat *c, const struct sim_timings *t, struct sim_buf *out);

#endif
