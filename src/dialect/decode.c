/* decode.c — what the request decoders share (see decode_int.h). */
#include "decode_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Fault paths are built by nesting snprintf; a path that does not fit is
 * truncated, which only shortens the param of an error message. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

int lx_dec_fail(struct lx_dec *d, const char *code, const char *param, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->f->message, sizeof(d->f->message), fmt, ap);
    va_end(ap);
    snprintf(d->f->param, sizeof(d->f->param), "%s", param ? param : "");
    d->f->code = code;
    return LX_ERR;
}

int lx_dec_type_fail(struct lx_dec *d, int tok, const char *param, enum lx_json_want w)
{
    return lx_dec_fail(d, "invalid_type", param,
                       "Invalid type for '%s': expected %s, but got %s instead.", param,
                       lx_json_want_name(w), lx_json_type_name(d->j, tok));
}

int lx_dec_missing(struct lx_dec *d, const char *param)
{
    return lx_dec_fail(d, "missing_required_parameter", param, "Missing required parameter: '%s'.",
                       param);
}

int lx_dec_no_memory(struct lx_dec *d)
{
    return lx_dec_fail(d, NULL, NULL, "The request is too large.");
}

int lx_dec_want(struct lx_dec *d, int tok, const char *param, enum lx_json_want w, bool required,
                bool *present)
{
    *present = false;
    if (tok < 0 || (lx_json_is_null(d->j, tok) && !required))
        return required && tok < 0 ? lx_dec_missing(d, param) : LX_OK;
    if (!lx_json_has_type(d->j, tok, w))
        return lx_dec_type_fail(d, tok, param, w);
    *present = true;
    return LX_OK;
}

int lx_dec_member_tok(struct lx_dec *d, int obj, const char *key, const char *path,
                      enum lx_json_want w, bool required, int *out)
{
    char param[96];
    snprintf(param, sizeof(param), "%s%s%s", path, path[0] ? "." : "", key);
    int tok = lx_json_get(d->j, obj, key);
    bool present;
    *out = -1;
    if (lx_dec_want(d, tok, param, w, required, &present) != LX_OK)
        return LX_ERR;
    if (present)
        *out = tok;
    return LX_OK;
}

int lx_dec_member(struct lx_dec *d, int obj, const char *key, const char *path, enum lx_json_want w,
                  bool required, lx_str *out)
{
    int tok;
    int rc = lx_dec_member_tok(d, obj, key, path, w, required, &tok);
    *out = tok >= 0 ? lx_json_value_text(d->j, tok) : LX_STR_NULL;
    return rc;
}

void *lx_dec_alloc(struct lx_dec *d, size_t n, size_t size)
{
    void *p = n ? lx_arena_alloc(d->a, n * size) : NULL;
    if (p)
        memset(p, 0, n * size);
    return p;
}

/* An unknown root key rides along: unescaped and NUL-terminated (a key
 * holding \u0000 or too long to unescape is dropped). */
static int add_extra(struct lx_dec *d, int key, struct lx_ir_request *req)
{
    if (req->nextras >= LX_IR_MAX_EXTRAS)
        return lx_dec_fail(d, "too_many_parameters", NULL,
                           "Too many unknown parameters (at most %d).", LX_IR_MAX_EXTRAS);
    lx_buf b;
    lx_buf_init(&b, 4096);
    int rc = lx_json_unescape(d->j, key, &b);
    char *name = NULL;
    if (rc == LX_OK && strlen(b.data ? b.data : "") == b.len)
        name = lx_arena_strndup(d->a, b.data ? b.data : "", b.len);
    lx_buf_release(&b);
    if (!name)
        return LX_OK;
    req->extras[req->nextras++] = (struct lx_ir_extra){name, lx_json_value_text(d->j, key + 1)};
    return LX_OK;
}

int lx_dec_scan_root(struct lx_dec *d, const struct lx_dec_key *keys, int nkeys, int *slot,
                     struct lx_ir_request *req)
{
    const lx_json *j = d->j;
    for (int k = 0; k < nkeys; k++)
        slot[k] = -1;
    req->extras = lx_arena_alloc(d->a, LX_IR_MAX_EXTRAS * sizeof(*req->extras));
    if (!req->extras)
        return lx_dec_no_memory(d);
    int n = lx_json_size(j, 0), i = 1;
    for (int k = 0; k < n; k++, i = lx_json_skip(j, i + 1)) {
        int m = 0;
        while (m < nkeys && !lx_json_str_eq(j, i, keys[m].name))
            m++;
        if (m == nkeys) {
            if (add_extra(d, i, req) != LX_OK)
                return LX_ERR;
            continue;
        }
        const char *name = keys[m].name;
        if (slot[m] >= 0)
            return lx_dec_fail(d, "duplicate_key", name, "Duplicate key '%s' in the request.",
                               name);
        bool present;
        if (lx_dec_want(d, i + 1, name, keys[m].want, false, &present) != LX_OK)
            return LX_ERR;
        if (present)
            slot[m] = i + 1;
    }
    return LX_OK;
}

lx_str lx_dec_text_of(const lx_json *j, int tok)
{
    return tok >= 0 ? lx_json_value_text(j, tok) : LX_STR_NULL;
}

int lx_dec_choice_mode(struct lx_dec *d, int tok, struct lx_ir_tool_choice *c)
{
    static const char *const modes[] = {"none", "auto", "required"};
    for (size_t m = 0; m < LX_ARRAY_LEN(modes); m++)
        if (lx_json_str_eq(d->j, tok, modes[m])) {
            c->kind = (enum lx_ir_choice_kind)(LX_IR_CHOICE_NONE + m);
            return LX_OK;
        }
    return lx_dec_fail(d, "invalid_value", "tool_choice",
                       "Invalid value for 'tool_choice': expected 'none', 'auto' or 'required'.");
}

int lx_dec_begin(struct lx_dec *d, struct lx_ir_request *req, const char *body, size_t len,
                 lx_arena *a, uint32_t max_depth, struct lx_resp_fault *f)
{
    *req = (struct lx_ir_request){
        .parallel_tool_calls = LX_IR_UNSET, .store = LX_IR_UNSET, .background = LX_IR_UNSET};
    f->message[0] = '\0';
    f->param[0] = '\0';
    f->code = NULL;
    lx_json *j = lx_arena_alloc(a, sizeof(*j));
    *d = (struct lx_dec){j, a, f};
    if (!j)
        return lx_dec_no_memory(d);
    enum lx_json_err e = lx_json_parse(j, body, len, a, max_depth);
    if (e != LX_JSON_OK)
        return lx_dec_fail(d, NULL, NULL, "We could not parse the JSON body of your request: %s.",
                           lx_json_strerror(e));
    if (!lx_json_is_object(j, 0))
        return lx_dec_fail(d, NULL, NULL, "The request body must be a JSON object.");
    return LX_OK;
}
