/*
 * responses_int.h — what the Responses codec files share between them
 * (responses.c, chat_ir.c, resp_stream.c) and nobody else uses.
 */
#ifndef LX_RESPONSES_INT_H
#define LX_RESPONSES_INT_H

#include "responses.h"

/* Writes one item as it appears in a response's `output` (and in the
 * input_items listing): the one writer of items, so streamed and
 * non-streamed responses agree byte for byte. */
void lx_resp__write_item(lx_jw *w, const struct lx_ir_item *it);

/* Fills a chat tool call's output item (kind, name, ns, and for a custom
 * tool the input taken from the arguments) from the request's tools:
 * chat_name and arguments are literals as the backend sent them; it->id
 * gets "fc_..." or "ctc_<id_base>_<n>". Returns LX_OK or LX_ERR (arena). */
int lx_resp__call_item(struct lx_ir_item *it, const struct lx_ir_request *req, lx_str chat_name,
                       lx_str arguments, const char *id_base, uint32_t n, lx_arena *a);

/* Writes one content part (output_text with its empty annotations and
 * logprobs arrays, refusal, reasoning_text, ...), as inside an item. */
void lx_resp__write_part(lx_jw *w, const struct lx_ir_part *p);

/* A custom tool call's input from chat arguments (a literal): the string
 * member "input" of the object they hold, else the arguments as they are.
 * Views into a. */
lx_str lx_resp__custom_input(lx_str arguments, lx_arena *a);

/* Reads a chat usage object (token usage, or -1: nothing) into u. */
void lx_resp__read_usage(struct lx_ir_usage *u, const lx_json *j, int usage);

/* "<prefix>_<base>_<n>" as a literal from a. */
lx_str lx_resp__make_id(lx_arena *a, const char *prefix, const char *base, uint32_t n);

#endif
