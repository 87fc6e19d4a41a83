/*
 * decode_int.h — what the request decoders share (responses.c decodes
 * Responses requests, chat_in.c chat requests, both into the IR): a
 * decoding context, faults in OpenAI's wording with a param path, typed
 * member access, and the one-pass scan of a request's root keys. Not for
 * other modules.
 */
#ifndef LX_DECODE_INT_H
#define LX_DECODE_INT_H

#include "responses.h"

struct lx_dec {
    const lx_json *j;
    lx_arena *a;
    struct lx_resp_fault *f;
};

/* Starts decoding body into req: req cleared (tri-states unset), f
 * cleared, the body parsed into d (tokens from a) and checked to be an
 * object. LX_OK, or LX_ERR with the fault in f. */
int lx_dec_begin(struct lx_dec *d, struct lx_ir_request *req, const char *body, size_t len,
                 lx_arena *a, uint32_t max_depth, struct lx_resp_fault *f);

/* Fills d->f (message from fmt, param, static code) and returns LX_ERR. */
int lx_dec_fail(struct lx_dec *d, const char *code, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "Invalid type for 'param': expected W, but got T instead." */
int lx_dec_type_fail(struct lx_dec *d, int tok, const char *param, enum lx_json_want w);
/* "Missing required parameter: 'param'." */
int lx_dec_missing(struct lx_dec *d, const char *param);
/* The arena's cap was reached: "The request is too large." */
int lx_dec_no_memory(struct lx_dec *d);

/* Checks that tok (or -1: absent) has type w. Absent is fine unless
 * required; null is fine unless required. *present tells the caller. */
int lx_dec_want(struct lx_dec *d, int tok, const char *param, enum lx_json_want w, bool required,
                bool *present);
/* The value token of member key of object obj (path: where obj is, for
 * the param), type-checked; -1 when absent or null (and on a fault). */
int lx_dec_member_tok(struct lx_dec *d, int obj, const char *key, const char *path,
                      enum lx_json_want w, bool required, int *out);
/* Reads member key of object obj (path: where obj is, for the param) as a
 * literal or raw value into *out; absent or null: an empty view. */
int lx_dec_member(struct lx_dec *d, int obj, const char *key, const char *path, enum lx_json_want w,
                  bool required, lx_str *out);
/* n zeroed elements of size bytes from the arena; NULL for n 0 or a full
 * arena. */
void *lx_dec_alloc(struct lx_dec *d, size_t n, size_t size);

/* A root key a decoder knows, and the type its value must have. */
struct lx_dec_key {
    const char *name;
    enum lx_json_want want;
};

/* One pass over the root object: slot[k] gets the value token of keys[k]
 * (-1 when absent or null), each known key at most once (a duplicate is a
 * fault, so the gateway and a backend never read different values), every
 * known value's type is checked, and unknown keys become req's extras. */
int lx_dec_scan_root(struct lx_dec *d, const struct lx_dec_key *keys, int nkeys, int *slot,
                     struct lx_ir_request *req);

/* tool_choice given as a string (token tok): none, auto or required into
 * c->kind; anything else is a fault in OpenAI's wording. */
int lx_dec_choice_mode(struct lx_dec *d, int tok, struct lx_ir_tool_choice *c);

/* The text of token tok (quotes included for strings), or an empty view
 * for -1. */
lx_str lx_dec_text_of(const lx_json *j, int tok);

#endif
