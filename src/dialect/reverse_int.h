/*
 * reverse_int.h — what chat_out.c shares with chat_stream.c (see
 * reverse.h); not for other modules.
 */
#ifndef LX_REVERSE_INT_H
#define LX_REVERSE_INT_H

#include "reverse.h"

/* Writes "usage": {...} the Chat Completions way (RESPONSES.md 10; 12
 * read backwards) with both detail objects. */
void lx_chat_ir_usage_write(lx_jw *w, const struct lx_ir_usage *u);

/* Reads a Responses usage object (4, 5) into u; nothing when usage is not
 * an object. */
void lx_resp_ir_usage_read(struct lx_ir_usage *u, const lx_json *j, int usage);

#endif
