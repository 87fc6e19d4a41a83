/*
 * ir.c — helpers over the intermediate representation (see ir.h).
 */
#include "ir.h"

#include "../core/buf.h"

bool lx_ir_lit_eq(lx_str lit, const char *s)
{
    size_t n = strlen(s);
    return lit.len == n + 2 && lit.ptr[0] == '"' && memcmp(lit.ptr + 1, s, n) == 0;
}

lx_str lx_ir_lit_join(lx_arena *a, const lx_str *lits, size_t n)
{
    if (n == 0)
        return LX_STR_NULL;
    if (n == 1)
        return lits[0];
    size_t total = 2;
    for (size_t k = 0; k < n; k++)
        total += lits[k].len - 2;
    char *p = lx_arena_alloc(a, total);
    if (!p)
        return LX_STR_NULL;
    size_t at = 0;
    p[at++] = '"';
    for (size_t k = 0; k < n; k++) {
        memcpy(p + at, lits[k].ptr + 1, lits[k].len - 2);
        at += lits[k].len - 2;
    }
    p[at++] = '"';
    return (lx_str){p, at};
}

lx_str lx_ir_lit_make(lx_arena *a, const char *s, size_t n)
{
    lx_buf b;
    lx_buf_init(&b, 6 * n + 2);
    lx_str out = LX_STR_NULL;
    if (lx_buf_append_char(&b, '"') == LX_OK && lx_json_escape(&b, s, n) == LX_OK &&
        lx_buf_append_char(&b, '"') == LX_OK) {
        char *p = lx_arena_alloc(a, b.len);
        if (p) {
            memcpy(p, b.data, b.len);
            out = (lx_str){p, b.len};
        }
    }
    lx_buf_release(&b);
    return out;
}

const char *lx_ir_role_name(enum lx_ir_role r)
{
    static const char *const names[] = {"user", "system", "developer", "assistant"};
    return names[r];
}

const char *lx_ir_status_name(enum lx_ir_status s)
{
    static const char *const names[] = {"completed", "in_progress", "completed", "incomplete"};
    return names[s];
}

const struct lx_ir_tool *lx_ir_tool_find(const struct lx_ir_request *req, lx_str chat_name)
{
    for (uint32_t k = 0; k < req->ntools; k++)
        if (req->tools[k].kind != LX_IR_TOOL_OTHER && lx_str_eq(req->tools[k].chat_name, chat_name))
            return &req->tools[k];
    return NULL;
}

size_t lx_ir_dropped_tools(const struct lx_ir_request *req, const char **types, size_t max)
{
    size_t n = 0;
    for (uint32_t k = 0; k < req->ntools; k++) {
        if (req->tools[k].kind != LX_IR_TOOL_OTHER)
            continue;
        if (n < max)
            types[n] = req->tools[k].type_name ? req->tools[k].type_name : "";
        n++;
    }
    return n;
}
