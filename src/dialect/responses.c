/*
 * responses.c — the Responses dialect over the IR (see responses.h).
 *
 * Decoding checks types as the OpenAI API does and reports the first fault
 * with a path to it; every string kept is a literal view into the body
 * (ir.h), so text is never unescaped or copied. Section numbers cite
 * shared/spec/RESPONSES.md.
 */
#include "responses.h"
#include "decode_int.h"
#include "responses_int.h"

#include <stdio.h>

/* Fault paths are built by nesting snprintf; a path that does not fit is
 * truncated, which only shortens the param of an error message. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

/* ---- content parts (3.1, 3.3, 3.4) ------------------------------------ */

static int decode_part(struct lx_dec *d, int tok, const char *path, struct lx_ir_part *p)
{
    const lx_json *j = d->j;
    char param[96];
    if (!lx_json_is_object(j, tok))
        return lx_dec_type_fail(d, tok, path, LX_JSON_WANT_OBJECT);
    int type = lx_json_get(j, tok, "type");
    snprintf(param, sizeof(param), "%s.type", path);
    if (type < 0)
        return lx_dec_missing(d, param);
    if (!lx_json_is_string(j, type))
        return lx_dec_type_fail(d, type, param, LX_JSON_WANT_STRING);
    *p = (struct lx_ir_part){0};
    static const struct {
        const char *name;
        enum lx_ir_part_kind kind;
        const char *text_key;
    } kinds[] = {
        {"input_text", LX_IR_PART_INPUT_TEXT, "text"},
        {"output_text", LX_IR_PART_OUTPUT_TEXT, "text"},
        {"refusal", LX_IR_PART_REFUSAL, "refusal"},
        {"reasoning_text", LX_IR_PART_REASONING_TEXT, "text"},
        {"summary_text", LX_IR_PART_SUMMARY_TEXT, "text"},
    };
    for (size_t k = 0; k < LX_ARRAY_LEN(kinds); k++)
        if (lx_json_str_eq(j, type, kinds[k].name)) {
            p->kind = kinds[k].kind;
            return lx_dec_member(d, tok, kinds[k].text_key, path, LX_JSON_WANT_STRING, true,
                                 &p->text);
        }
    if (lx_json_str_eq(j, type, "input_image")) {
        p->kind = LX_IR_PART_INPUT_IMAGE;
        lx_str file_id;
        if (lx_dec_member(d, tok, "file_id", path, LX_JSON_WANT_STRING, false, &file_id) != LX_OK ||
            lx_dec_member(d, tok, "image_url", path, LX_JSON_WANT_STRING, false, &p->image_url) !=
                LX_OK ||
            lx_dec_member(d, tok, "detail", path, LX_JSON_WANT_STRING, false, &p->detail) != LX_OK)
            return LX_ERR;
        snprintf(param, sizeof(param), "%s.file_id", path);
        if (file_id.len)
            return lx_dec_fail(d, "unsupported_value", param,
                               "Image parts given by 'file_id' are not supported by this backend.");
        snprintf(param, sizeof(param), "%s.image_url", path);
        if (!p->image_url.len)
            return lx_dec_missing(d, param);
        return LX_OK;
    }
    return lx_dec_fail(d, "unsupported_value", param,
                       "Content part type %.*s is not supported here.",
                       (int)lx_json_value_text(j, type).len, lx_json_value_text(j, type).ptr);
}

/* A string (one text part of kind text_kind) or an array of parts. */
static int decode_content(struct lx_dec *d, int tok, const char *path,
                          enum lx_ir_part_kind text_kind, struct lx_ir_item *it)
{
    const lx_json *j = d->j;
    if (tok < 0)
        return lx_dec_missing(d, path);
    if (lx_json_is_string(j, tok)) {
        it->content_is_string = true;
        it->parts = lx_arena_alloc(d->a, sizeof(*it->parts));
        if (!it->parts)
            return lx_dec_no_memory(d);
        it->parts[0] = (struct lx_ir_part){.kind = text_kind, .text = lx_json_value_text(j, tok)};
        it->nparts = 1;
        return LX_OK;
    }
    if (!lx_json_is_array(j, tok))
        return lx_dec_type_fail(d, tok, path, LX_JSON_WANT_STR_OR_ARR);
    int n = lx_json_size(j, tok);
    if (n > LX_IR_MAX_PARTS)
        return lx_dec_fail(d, "array_above_max_length", path, "Too many content parts in '%s'.",
                           path);
    it->parts = lx_dec_alloc(d, (size_t)n, sizeof(*it->parts));
    if (n && !it->parts)
        return lx_dec_no_memory(d);
    int i = tok + 1;
    for (int k = 0; k < n; k++, i = lx_json_skip(j, i)) {
        char param[96];
        snprintf(param, sizeof(param), "%s[%d]", path, k);
        if (decode_part(d, i, param, &it->parts[k]) != LX_OK)
            return LX_ERR;
    }
    it->nparts = (uint32_t)n;
    return LX_OK;
}

/* An optional array of parts of one kind (reasoning summary/content). */
static int decode_part_list(struct lx_dec *d, int obj, const char *key, const char *path,
                            enum lx_ir_part_kind kind, struct lx_ir_part **parts, uint32_t *n)
{
    char param[96];
    snprintf(param, sizeof(param), "%s.%s", path, key);
    int tok = lx_json_get(d->j, obj, key);
    bool present;
    if (lx_dec_want(d, tok, param, LX_JSON_WANT_ARRAY, false, &present) != LX_OK)
        return LX_ERR;
    if (!present)
        return LX_OK;
    struct lx_ir_item tmp = {0};
    if (decode_content(d, tok, param, kind, &tmp) != LX_OK)
        return LX_ERR;
    for (uint32_t k = 0; k < tmp.nparts; k++)
        if (tmp.parts[k].kind != kind) {
            snprintf(param, sizeof(param), "%s.%s[%u].type", path, key, k);
            return lx_dec_fail(d, "invalid_value", param, "Invalid part type in '%s.%s'.", path,
                               key);
        }
    *parts = tmp.parts;
    *n = tmp.nparts;
    return LX_OK;
}

/* ---- items (section 3) ------------------------------------------------- */

static int decode_status(struct lx_dec *d, int obj, const char *path, enum lx_ir_status *out)
{
    lx_str s;
    if (lx_dec_member(d, obj, "status", path, LX_JSON_WANT_STRING, false, &s) != LX_OK)
        return LX_ERR;
    *out = LX_IR_STATUS_NONE;
    if (lx_ir_lit_eq(s, "in_progress"))
        *out = LX_IR_STATUS_IN_PROGRESS;
    else if (lx_ir_lit_eq(s, "completed"))
        *out = LX_IR_STATUS_COMPLETED;
    else if (lx_ir_lit_eq(s, "incomplete"))
        *out = LX_IR_STATUS_INCOMPLETE;
    return LX_OK;
}

static int decode_message(struct lx_dec *d, int tok, const char *path, struct lx_ir_item *it)
{
    const lx_json *j = d->j;
    char param[96];
    snprintf(param, sizeof(param), "%s.role", path);
    int role = lx_json_get(j, tok, "role");
    if (role < 0)
        return lx_dec_missing(d, param);
    if (!lx_json_is_string(j, role))
        return lx_dec_type_fail(d, role, param, LX_JSON_WANT_STRING);
    static const char *const roles[] = {"user", "system", "developer", "assistant"};
    size_t r = 0;
    while (r < LX_ARRAY_LEN(roles) && !lx_json_str_eq(j, role, roles[r]))
        r++;
    if (r == LX_ARRAY_LEN(roles))
        return lx_dec_fail(
            d, "invalid_value", param,
            "Invalid value for '%s': expected one of 'user', 'system', 'developer' or "
            "'assistant'.",
            param);
    it->kind = LX_IR_ITEM_MESSAGE;
    it->role = (enum lx_ir_role)r;
    snprintf(param, sizeof(param), "%s.content", path);
    enum lx_ir_part_kind text_kind =
        it->role == LX_IR_ROLE_ASSISTANT ? LX_IR_PART_OUTPUT_TEXT : LX_IR_PART_INPUT_TEXT;
    return decode_content(d, lx_json_get(j, tok, "content"), param, text_kind, it);
}

/* A function_call, or a custom_tool_call (free-form input instead of
 * arguments); both may name a namespace (OAI). */
static int decode_call(struct lx_dec *d, int tok, const char *path, bool custom,
                       struct lx_ir_item *it)
{
    it->kind = custom ? LX_IR_ITEM_CUSTOM_TOOL_CALL : LX_IR_ITEM_FUNCTION_CALL;
    if (lx_dec_member(d, tok, "call_id", path, LX_JSON_WANT_STRING, true, &it->call_id) != LX_OK ||
        lx_dec_member(d, tok, "name", path, LX_JSON_WANT_STRING, true, &it->name) != LX_OK ||
        lx_dec_member(d, tok, "namespace", path, LX_JSON_WANT_STRING, false, &it->ns) != LX_OK)
        return LX_ERR;
    if (custom)
        return lx_dec_member(d, tok, "input", path, LX_JSON_WANT_STRING, true, &it->input);
    return lx_dec_member(d, tok, "arguments", path, LX_JSON_WANT_STRING, true, &it->arguments);
}

static int decode_call_output(struct lx_dec *d, int tok, const char *path, bool custom,
                              struct lx_ir_item *it)
{
    char param[96];
    it->kind = custom ? LX_IR_ITEM_CUSTOM_TOOL_CALL_OUTPUT : LX_IR_ITEM_FUNCTION_CALL_OUTPUT;
    if (lx_dec_member(d, tok, "call_id", path, LX_JSON_WANT_STRING, true, &it->call_id) != LX_OK)
        return LX_ERR;
    snprintf(param, sizeof(param), "%s.output", path);
    return decode_content(d, lx_json_get(d->j, tok, "output"), param, LX_IR_PART_INPUT_TEXT, it);
}

static int decode_reasoning(struct lx_dec *d, int tok, const char *path, struct lx_ir_item *it)
{
    it->kind = LX_IR_ITEM_REASONING;
    if (decode_part_list(d, tok, "summary", path, LX_IR_PART_SUMMARY_TEXT, &it->summary,
                         &it->nsummary) != LX_OK ||
        decode_part_list(d, tok, "content", path, LX_IR_PART_REASONING_TEXT, &it->parts,
                         &it->nparts) != LX_OK)
        return LX_ERR;
    return lx_dec_member(d, tok, "encrypted_content", path, LX_JSON_WANT_STRING, false,
                         &it->encrypted_content);
}

/* {type:"compaction", encrypted_content, id?} (3.5): kept opaque; the
 * gateway opens it before a chat backend sees the request (ir.h). */
static int decode_compaction(struct lx_dec *d, int tok, const char *path, struct lx_ir_item *it)
{
    it->kind = LX_IR_ITEM_COMPACTION;
    return lx_dec_member(d, tok, "encrypted_content", path, LX_JSON_WANT_STRING, true,
                         &it->encrypted_content);
}

static int decode_item(struct lx_dec *d, int tok, int k, struct lx_ir_item *it)
{
    const lx_json *j = d->j;
    char path[96], param[96];
    snprintf(path, sizeof(path), "input[%d]", k);
    if (!lx_json_is_object(j, tok))
        return lx_dec_type_fail(d, tok, path, LX_JSON_WANT_OBJECT);
    *it = (struct lx_ir_item){0};
    if (lx_dec_member(d, tok, "id", path, LX_JSON_WANT_STRING, false, &it->id) != LX_OK ||
        decode_status(d, tok, path, &it->status) != LX_OK)
        return LX_ERR;
    int type = lx_json_get(j, tok, "type");
    snprintf(param, sizeof(param), "%s.type", path);
    if (type >= 0 && !lx_json_is_null(j, type) && !lx_json_is_string(j, type))
        return lx_dec_type_fail(d, type, param, LX_JSON_WANT_STRING);
    /* A message may omit type (OAI EasyInputMessage, 3). */
    if (type < 0 || lx_json_is_null(j, type) || lx_json_str_eq(j, type, "message"))
        return decode_message(d, tok, path, it);
    if (lx_json_str_eq(j, type, "function_call"))
        return decode_call(d, tok, path, false, it);
    if (lx_json_str_eq(j, type, "custom_tool_call"))
        return decode_call(d, tok, path, true, it);
    if (lx_json_str_eq(j, type, "function_call_output"))
        return decode_call_output(d, tok, path, false, it);
    if (lx_json_str_eq(j, type, "custom_tool_call_output"))
        return decode_call_output(d, tok, path, true, it);
    if (lx_json_str_eq(j, type, "reasoning"))
        return decode_reasoning(d, tok, path, it);
    if (lx_json_str_eq(j, type, "compaction"))
        return decode_compaction(d, tok, path, it);
    lx_str t = lx_json_value_text(j, type);
    return lx_dec_fail(d, "unsupported_value", param, "Input items of type %.*s are not supported.",
                       (int)LX_MIN(t.len, 64), t.ptr);
}

/* 1 when input[k] is an item_reference (OAI: {"type":"item_reference",
 * "id"}), which the gateway resolves from its store before translation
 * (RESPONSES.md 3; proxy/itemref.c) and the decoder leaves out; 0 for any
 * other item; -1 (with the fault set) for a reference without a string id. */
static int is_item_reference(struct lx_dec *d, int tok, int k)
{
    const lx_json *j = d->j;
    if (!lx_json_is_object(j, tok) ||
        !lx_json_str_eq(j, lx_json_get(j, tok, "type"), "item_reference"))
        return 0;
    char path[96];
    lx_str id;
    snprintf(path, sizeof(path), "input[%d]", k);
    return lx_dec_member(d, tok, "id", path, LX_JSON_WANT_STRING, true, &id) == LX_OK ? 1 : -1;
}

static int decode_input(struct lx_dec *d, int tok, struct lx_ir_request *req)
{
    const lx_json *j = d->j;
    if (lx_json_is_string(j, tok)) {
        req->input_is_string = true;
        req->items = lx_arena_alloc(d->a, sizeof(*req->items));
        struct lx_ir_part *part = lx_arena_alloc(d->a, sizeof(*part));
        if (!req->items || !part)
            return lx_dec_no_memory(d);
        *part =
            (struct lx_ir_part){.kind = LX_IR_PART_INPUT_TEXT, .text = lx_json_value_text(j, tok)};
        req->items[0] = (struct lx_ir_item){.kind = LX_IR_ITEM_MESSAGE,
                                            .role = LX_IR_ROLE_USER,
                                            .content_is_string = true,
                                            .parts = part,
                                            .nparts = 1};
        req->nitems = 1;
        return LX_OK;
    }
    int n = lx_json_size(j, tok);
    if (n > LX_IR_MAX_ITEMS)
        return lx_dec_fail(d, "array_above_max_length", "input",
                           "Too many input items (at most %d).", LX_IR_MAX_ITEMS);
    req->items = lx_dec_alloc(d, (size_t)n, sizeof(*req->items));
    if (n && !req->items)
        return lx_dec_no_memory(d);
    int i = tok + 1;
    uint32_t m = 0;
    for (int k = 0; k < n; k++, i = lx_json_skip(j, i)) {
        int rc = is_item_reference(d, i, k);
        if (rc < 0)
            return LX_ERR;
        if (rc > 0) {
            req->nrefs++;
            continue;
        }
        if (decode_item(d, i, k, &req->items[m++]) != LX_OK)
            return LX_ERR;
    }
    req->nitems = m;
    return LX_OK;
}

/* ---- tools and tool_choice -------------------------------------------- */

/* One function, custom or hosted tool, at the top level or inside a
 * namespace. Hosted tools are kept as LX_IR_TOOL_OTHER with their type
 * name, for the caller's warning. */
static int decode_tool_entry(struct lx_dec *d, int tok, const char *path, struct lx_ir_tool *t)
{
    if (!lx_json_is_object(d->j, tok))
        return lx_dec_type_fail(d, tok, path, LX_JSON_WANT_OBJECT);
    *t = (struct lx_ir_tool){.raw = lx_json_value_text(d->j, tok)};
    if (lx_dec_member(d, tok, "type", path, LX_JSON_WANT_STRING, true, &t->type) != LX_OK)
        return LX_ERR;
    if (lx_ir_lit_eq(t->type, "function")) {
        t->kind = LX_IR_TOOL_FUNCTION;
        if (lx_dec_member(d, tok, "name", path, LX_JSON_WANT_STRING, true, &t->name) != LX_OK ||
            lx_dec_member(d, tok, "description", path, LX_JSON_WANT_STRING, false,
                          &t->description) != LX_OK ||
            lx_dec_member(d, tok, "parameters", path, LX_JSON_WANT_OBJECT, false, &t->parameters) !=
                LX_OK ||
            lx_dec_member(d, tok, "strict", path, LX_JSON_WANT_BOOL, false, &t->strict) != LX_OK)
            return LX_ERR;
        t->chat_name = t->name;
        return LX_OK;
    }
    if (lx_ir_lit_eq(t->type, "custom")) {
        t->kind = LX_IR_TOOL_CUSTOM;
        if (lx_dec_member(d, tok, "name", path, LX_JSON_WANT_STRING, true, &t->name) != LX_OK ||
            lx_dec_member(d, tok, "description", path, LX_JSON_WANT_STRING, false,
                          &t->description) != LX_OK ||
            lx_dec_member(d, tok, "format", path, LX_JSON_WANT_OBJECT, false, &t->format) != LX_OK)
            return LX_ERR;
        t->chat_name = t->name;
        int f = lx_json_get(d->j, tok, "format");
        if (!t->format.len || !lx_json_str_eq(d->j, lx_json_get(d->j, f, "type"), "grammar"))
            return LX_OK;
        char fpath[96];
        snprintf(fpath, sizeof(fpath), "%s.format", path);
        return lx_dec_member(d, f, "syntax", fpath, LX_JSON_WANT_STRING, true, &t->syntax) ==
                           LX_OK &&
                       lx_dec_member(d, f, "definition", fpath, LX_JSON_WANT_STRING, true,
                                     &t->definition) == LX_OK
                   ? LX_OK
                   : LX_ERR;
    }
    t->kind = LX_IR_TOOL_OTHER;
    t->type_name = lx_arena_strndup(d->a, t->type.ptr + 1, t->type.len - 2);
    return t->type_name ? LX_OK : lx_dec_no_memory(d);
}

static bool is_namespace(const lx_json *j, int tok)
{
    return lx_json_is_object(j, tok) && lx_json_str_eq(j, lx_json_get(j, tok, "type"), "namespace");
}

/* A namespace's tools flattened into t[0..n), named "<ns>__<name>" for
 * chat (ir.h). *n is how many entries were used. */
static int decode_namespace(struct lx_dec *d, int tok, const char *path, struct lx_ir_tool *t,
                            uint32_t room, uint32_t *n)
{
    const lx_json *j = d->j;
    char param[96];
    lx_str ns;
    if (lx_dec_member(d, tok, "name", path, LX_JSON_WANT_STRING, true, &ns) != LX_OK)
        return LX_ERR;
    snprintf(param, sizeof(param), "%s.tools", path);
    int tools = lx_json_get(j, tok, "tools");
    bool present;
    if (lx_dec_want(d, tools, param, LX_JSON_WANT_ARRAY, true, &present) != LX_OK)
        return LX_ERR;
    int count = present ? lx_json_size(j, tools) : 0;
    if (count < 1)
        return lx_dec_fail(d, "invalid_value", param, "A namespace needs at least one tool.");
    if ((uint32_t)count > room)
        return lx_dec_fail(d, "array_above_max_length", "tools", "Too many tools (at most %d).",
                           LX_IR_MAX_TOOLS);
    int i = tools + 1;
    for (int k = 0; k < count; k++, i = lx_json_skip(j, i)) {
        char inner[96];
        snprintf(inner, sizeof(inner), "%s[%d]", param, k);
        if (decode_tool_entry(d, i, inner, &t[k]) != LX_OK)
            return LX_ERR;
        t[k].ns = ns;
        if (t[k].kind != LX_IR_TOOL_OTHER) {
            lx_str parts[3] = {ns, LX_STR_LIT("\"__\""), t[k].name};
            t[k].chat_name = lx_ir_lit_join(d->a, parts, 3);
            if (!t[k].chat_name.len)
                return lx_dec_no_memory(d);
        }
    }
    t[0].ns_first = true;
    t[0].ns_raw = lx_json_value_text(j, tok);
    *n = (uint32_t)count;
    return LX_OK;
}

static int decode_tools(struct lx_dec *d, int tok, struct lx_ir_request *req)
{
    const lx_json *j = d->j;
    int n = lx_json_size(j, tok);
    size_t total = 0;
    int i = tok + 1;
    for (int k = 0; k < n; k++, i = lx_json_skip(j, i)) {
        int inner = is_namespace(j, i) ? lx_json_get(j, i, "tools") : -1;
        total += lx_json_is_array(j, inner) ? (size_t)lx_json_size(j, inner) : 1;
    }
    if (total > LX_IR_MAX_TOOLS)
        return lx_dec_fail(d, "array_above_max_length", "tools", "Too many tools (at most %d).",
                           LX_IR_MAX_TOOLS);
    req->tools = lx_dec_alloc(d, total, sizeof(*req->tools));
    if (total && !req->tools)
        return lx_dec_no_memory(d);
    uint32_t used = 0;
    i = tok + 1;
    for (int k = 0; k < n; k++, i = lx_json_skip(j, i)) {
        char path[96];
        snprintf(path, sizeof(path), "tools[%d]", k);
        uint32_t got = 1;
        int rc = is_namespace(j, i)
                     ? decode_namespace(d, i, path, &req->tools[used], (uint32_t)total - used, &got)
                     : decode_tool_entry(d, i, path, &req->tools[used]);
        if (rc != LX_OK)
            return LX_ERR;
        used += got;
    }
    req->ntools = used;
    for (uint32_t k = 0; k < used; k++)
        req->nother_tools += req->tools[k].kind == LX_IR_TOOL_OTHER;
    return LX_OK;
}

static int decode_allowed(struct lx_dec *d, int tok, struct lx_ir_tool_choice *c)
{
    const lx_json *j = d->j;
    c->kind = LX_IR_CHOICE_ALLOWED_TOOLS;
    if (lx_dec_member(d, tok, "mode", "tool_choice", LX_JSON_WANT_STRING, true, &c->mode) != LX_OK)
        return LX_ERR;
    if (!lx_ir_lit_eq(c->mode, "auto") && !lx_ir_lit_eq(c->mode, "required") &&
        !lx_ir_lit_eq(c->mode, "none"))
        return lx_dec_fail(d, "invalid_value", "tool_choice.mode",
                           "Invalid value for 'tool_choice.mode': expected 'auto', 'required' or "
                           "'none'.");
    int tools = lx_json_get(j, tok, "tools");
    bool present;
    if (lx_dec_want(d, tools, "tool_choice.tools", LX_JSON_WANT_ARRAY, true, &present) != LX_OK)
        return LX_ERR;
    if (!present)
        return lx_dec_missing(d, "tool_choice.tools");
    int n = lx_json_size(j, tools);
    if (n > LX_IR_MAX_TOOLS)
        return lx_dec_fail(d, "array_above_max_length", "tool_choice.tools",
                           "Too many allowed tools.");
    c->names = lx_dec_alloc(d, (size_t)n, sizeof(*c->names));
    if (n && !c->names)
        return lx_dec_no_memory(d);
    int i = tools + 1;
    for (int k = 0; k < n; k++, i = lx_json_skip(j, i)) {
        char path[96];
        snprintf(path, sizeof(path), "tool_choice.tools[%d]", k);
        if (!lx_json_is_object(j, i))
            return lx_dec_type_fail(d, i, path, LX_JSON_WANT_OBJECT);
        if (lx_dec_member(d, i, "name", path, LX_JSON_WANT_STRING, true, &c->names[k]) != LX_OK)
            return LX_ERR;
    }
    c->nnames = (uint32_t)n;
    return LX_OK;
}

static int decode_tool_choice(struct lx_dec *d, int tok, struct lx_ir_tool_choice *c)
{
    const lx_json *j = d->j;
    c->raw = lx_json_value_text(j, tok);
    if (lx_json_is_string(j, tok))
        return lx_dec_choice_mode(d, tok, c);
    lx_str type;
    if (lx_dec_member(d, tok, "type", "tool_choice", LX_JSON_WANT_STRING, true, &type) != LX_OK)
        return LX_ERR;
    if (lx_ir_lit_eq(type, "function") || lx_ir_lit_eq(type, "custom")) {
        c->kind = LX_IR_CHOICE_FUNCTION;
        return lx_dec_member(d, tok, "name", "tool_choice", LX_JSON_WANT_STRING, true, &c->name);
    }
    if (lx_ir_lit_eq(type, "allowed_tools"))
        return decode_allowed(d, tok, c);
    return lx_dec_fail(d, "unsupported_value", "tool_choice.type",
                       "tool_choice of type %.*s is not supported.", (int)LX_MIN(type.len, 64),
                       type.ptr);
}

/* ---- text, reasoning, include ----------------------------------------- */

static int decode_text(struct lx_dec *d, int tok, struct lx_ir_request *req)
{
    const lx_json *j = d->j;
    struct lx_ir_format *fm = &req->format;
    if (lx_dec_member(d, tok, "verbosity", "text", LX_JSON_WANT_STRING, false, &req->verbosity) !=
        LX_OK)
        return LX_ERR;
    int f = lx_json_get(j, tok, "format");
    bool present;
    if (lx_dec_want(d, f, "text.format", LX_JSON_WANT_OBJECT, false, &present) != LX_OK)
        return LX_ERR;
    if (!present)
        return LX_OK;
    fm->raw = lx_json_value_text(j, f);
    lx_str type;
    if (lx_dec_member(d, f, "type", "text.format", LX_JSON_WANT_STRING, true, &type) != LX_OK)
        return LX_ERR;
    if (lx_ir_lit_eq(type, "text"))
        fm->kind = LX_IR_FORMAT_TEXT;
    else if (lx_ir_lit_eq(type, "json_object"))
        fm->kind = LX_IR_FORMAT_JSON_OBJECT;
    else if (lx_ir_lit_eq(type, "json_schema"))
        fm->kind = LX_IR_FORMAT_JSON_SCHEMA;
    else
        return lx_dec_fail(
            d, "invalid_value", "text.format.type",
            "Invalid value for 'text.format.type': expected 'text', 'json_object' or "
            "'json_schema'.");
    if (fm->kind != LX_IR_FORMAT_JSON_SCHEMA)
        return LX_OK;
    if (lx_dec_member(d, f, "name", "text.format", LX_JSON_WANT_STRING, true, &fm->name) != LX_OK ||
        lx_dec_member(d, f, "schema", "text.format", LX_JSON_WANT_OBJECT, true, &fm->schema) !=
            LX_OK ||
        lx_dec_member(d, f, "description", "text.format", LX_JSON_WANT_STRING, false,
                      &fm->description) != LX_OK ||
        lx_dec_member(d, f, "strict", "text.format", LX_JSON_WANT_BOOL, false, &fm->strict) !=
            LX_OK)
        return LX_ERR;
    return LX_OK;
}

static int decode_reasoning_opts(struct lx_dec *d, int tok, struct lx_ir_request *req)
{
    req->has_reasoning = true;
    if (lx_dec_member(d, tok, "effort", "reasoning", LX_JSON_WANT_STRING, false,
                      &req->reasoning_effort) != LX_OK ||
        lx_dec_member(d, tok, "summary", "reasoning", LX_JSON_WANT_STRING, false,
                      &req->reasoning_summary) != LX_OK)
        return LX_ERR;
    return LX_OK;
}

static int decode_include(struct lx_dec *d, int tok, struct lx_ir_request *req)
{
    const lx_json *j = d->j;
    int n = lx_json_size(j, tok), i = tok + 1;
    for (int k = 0; k < n; k++, i = lx_json_skip(j, i)) {
        if (!lx_json_is_string(j, i)) {
            char path[32];
            snprintf(path, sizeof(path), "include[%d]", k);
            return lx_dec_type_fail(d, i, path, LX_JSON_WANT_STRING);
        }
        if (lx_json_str_eq(j, i, "message.output_text.logprobs"))
            req->want_logprobs = true;
    }
    return LX_OK;
}

/* ---- the root object ---------------------------------------------------- */

enum root_key {
    K_MODEL,
    K_INPUT,
    K_INSTRUCTIONS,
    K_PREVIOUS,
    K_STORE,
    K_STREAM,
    K_STREAM_OPTIONS,
    K_BACKGROUND,
    K_TOOLS,
    K_TOOL_CHOICE,
    K_PARALLEL,
    K_MAX_TOOL_CALLS,
    K_TEXT,
    K_REASONING,
    K_MAX_OUTPUT,
    K_TEMPERATURE,
    K_TOP_P,
    K_PRESENCE,
    K_FREQUENCY,
    K_TOP_LOGPROBS,
    K_INCLUDE,
    K_TRUNCATION,
    K_METADATA,
    K_SERVICE_TIER,
    K_USER,
    K_SAFETY,
    K_CACHE_KEY,
    K_CONVERSATION,
    K_PROMPT,
    K_COUNT
};

static const struct lx_dec_key root_keys[K_COUNT] = {
    [K_MODEL] = {"model", LX_JSON_WANT_STRING},
    [K_INPUT] = {"input", LX_JSON_WANT_STR_OR_ARR},
    [K_INSTRUCTIONS] = {"instructions", LX_JSON_WANT_STRING},
    [K_PREVIOUS] = {"previous_response_id", LX_JSON_WANT_STRING},
    [K_STORE] = {"store", LX_JSON_WANT_BOOL},
    [K_STREAM] = {"stream", LX_JSON_WANT_BOOL},
    [K_STREAM_OPTIONS] = {"stream_options", LX_JSON_WANT_OBJECT},
    [K_BACKGROUND] = {"background", LX_JSON_WANT_BOOL},
    [K_TOOLS] = {"tools", LX_JSON_WANT_ARRAY},
    [K_TOOL_CHOICE] = {"tool_choice", LX_JSON_WANT_STR_OR_OBJ},
    [K_PARALLEL] = {"parallel_tool_calls", LX_JSON_WANT_BOOL},
    [K_MAX_TOOL_CALLS] = {"max_tool_calls", LX_JSON_WANT_INT},
    [K_TEXT] = {"text", LX_JSON_WANT_OBJECT},
    [K_REASONING] = {"reasoning", LX_JSON_WANT_OBJECT},
    [K_MAX_OUTPUT] = {"max_output_tokens", LX_JSON_WANT_INT},
    [K_TEMPERATURE] = {"temperature", LX_JSON_WANT_NUMBER},
    [K_TOP_P] = {"top_p", LX_JSON_WANT_NUMBER},
    [K_PRESENCE] = {"presence_penalty", LX_JSON_WANT_NUMBER},
    [K_FREQUENCY] = {"frequency_penalty", LX_JSON_WANT_NUMBER},
    [K_TOP_LOGPROBS] = {"top_logprobs", LX_JSON_WANT_INT},
    [K_INCLUDE] = {"include", LX_JSON_WANT_ARRAY},
    [K_TRUNCATION] = {"truncation", LX_JSON_WANT_STRING},
    [K_METADATA] = {"metadata", LX_JSON_WANT_OBJECT},
    [K_SERVICE_TIER] = {"service_tier", LX_JSON_WANT_STRING},
    [K_USER] = {"user", LX_JSON_WANT_STRING},
    [K_SAFETY] = {"safety_identifier", LX_JSON_WANT_STRING},
    [K_CACHE_KEY] = {"prompt_cache_key", LX_JSON_WANT_STRING},
    [K_CONVERSATION] = {"conversation", LX_JSON_WANT_STR_OR_OBJ},
    [K_PROMPT] = {"prompt", LX_JSON_WANT_OBJECT},
};

static enum lx_ir_bool tri(const lx_json *j, int tok)
{
    bool v;
    if (tok < 0 || lx_json_bool(j, tok, &v) != LX_OK)
        return LX_IR_UNSET;
    return v ? LX_IR_TRUE : LX_IR_FALSE;
}

static void read_scalars(const lx_json *j, const int *s, struct lx_ir_request *req)
{
    req->model = lx_dec_text_of(j, s[K_MODEL]);
    req->instructions = lx_dec_text_of(j, s[K_INSTRUCTIONS]);
    req->previous_response_id = lx_dec_text_of(j, s[K_PREVIOUS]);
    req->store = tri(j, s[K_STORE]);
    req->stream = tri(j, s[K_STREAM]) == LX_IR_TRUE;
    req->background = tri(j, s[K_BACKGROUND]);
    req->parallel_tool_calls = tri(j, s[K_PARALLEL]);
    req->max_tool_calls = lx_dec_text_of(j, s[K_MAX_TOOL_CALLS]);
    req->max_output_tokens = lx_dec_text_of(j, s[K_MAX_OUTPUT]);
    req->temperature = lx_dec_text_of(j, s[K_TEMPERATURE]);
    req->top_p = lx_dec_text_of(j, s[K_TOP_P]);
    req->presence_penalty = lx_dec_text_of(j, s[K_PRESENCE]);
    req->frequency_penalty = lx_dec_text_of(j, s[K_FREQUENCY]);
    req->top_logprobs = lx_dec_text_of(j, s[K_TOP_LOGPROBS]);
    req->include = lx_dec_text_of(j, s[K_INCLUDE]);
    req->truncation = lx_dec_text_of(j, s[K_TRUNCATION]);
    req->metadata = lx_dec_text_of(j, s[K_METADATA]);
    req->service_tier = lx_dec_text_of(j, s[K_SERVICE_TIER]);
    req->user = lx_dec_text_of(j, s[K_USER]);
    req->safety_identifier = lx_dec_text_of(j, s[K_SAFETY]);
    req->prompt_cache_key = lx_dec_text_of(j, s[K_CACHE_KEY]);
}

static int decode_root(struct lx_dec *d, struct lx_ir_request *req)
{
    const lx_json *j = d->j;
    int s[K_COUNT];
    if (lx_dec_scan_root(d, root_keys, K_COUNT, s, req) != LX_OK)
        return LX_ERR;
    if (s[K_MODEL] < 0 || lx_json_raw(j, s[K_MODEL]).len == 0)
        return lx_dec_fail(d, "missing_required_parameter", "model",
                           "You must provide a model parameter.");
    if (s[K_CONVERSATION] >= 0)
        return lx_dec_fail(d, "unsupported_parameter", "conversation",
                           "The 'conversation' parameter is not supported; use "
                           "'previous_response_id'.");
    if (s[K_PROMPT] >= 0)
        return lx_dec_fail(d, "unsupported_parameter", "prompt",
                           "Stored prompts are not supported.");
    if (s[K_INPUT] < 0 && s[K_PREVIOUS] < 0)
        return lx_dec_missing(d, "input");
    read_scalars(j, s, req);
    if (s[K_INPUT] >= 0 && decode_input(d, s[K_INPUT], req) != LX_OK)
        return LX_ERR;
    if (s[K_TOOLS] >= 0 && decode_tools(d, s[K_TOOLS], req) != LX_OK)
        return LX_ERR;
    if (s[K_TOOL_CHOICE] >= 0 && decode_tool_choice(d, s[K_TOOL_CHOICE], &req->tool_choice))
        return LX_ERR;
    if (s[K_TEXT] >= 0 && decode_text(d, s[K_TEXT], req) != LX_OK)
        return LX_ERR;
    if (s[K_REASONING] >= 0 && decode_reasoning_opts(d, s[K_REASONING], req) != LX_OK)
        return LX_ERR;
    if (s[K_INCLUDE] >= 0 && decode_include(d, s[K_INCLUDE], req) != LX_OK)
        return LX_ERR;
    return LX_OK;
}

int lx_resp_request_decode(struct lx_ir_request *req, const char *body, size_t len, lx_arena *a,
                           uint32_t max_depth, struct lx_resp_fault *f)
{
    struct lx_dec d;
    if (lx_dec_begin(&d, req, body, len, a, max_depth, f) != LX_OK)
        return LX_ERR;
    return decode_root(&d, req);
}

/* ---- IR result -> Responses `response` object (sections 4, 5, 9) ------- */

/* Writes key: the literal or raw value, or fallback (raw JSON) when absent. */
static void jw_or(lx_jw *w, const char *key, lx_str value, const char *fallback)
{
    lx_jw_key(w, key);
    if (value.len)
        lx_jw_raw(w, value.ptr, value.len);
    else
        lx_jw_raw(w, fallback, strlen(fallback));
}

static void write_text_part(lx_jw *w, const char *type, const char *key, lx_str text)
{
    lx_jw_obj_open(w);
    lx_jw_key(w, "type");
    lx_jw_cstr(w, type);
    jw_or(w, key, text, "\"\"");
    lx_jw_obj_close(w);
}

/* An input part as the input_items listing shows it (3.1). */
static void write_input_part(lx_jw *w, const struct lx_ir_part *p)
{
    if (p->kind != LX_IR_PART_INPUT_IMAGE) {
        write_text_part(w, "input_text", "text", p->text);
        return;
    }
    lx_jw_obj_open(w);
    lx_jw_key(w, "type");
    lx_jw_cstr(w, "input_image");
    jw_or(w, "image_url", p->image_url, "null");
    /* absent means "auto" (3.1); left absent so the chat request stays the same */
    if (p->detail.len)
        jw_or(w, "detail", p->detail, "null");
    lx_jw_obj_close(w);
}

void lx_resp__write_part(lx_jw *w, const struct lx_ir_part *p)
{
    switch (p->kind) {
    case LX_IR_PART_INPUT_TEXT:
    case LX_IR_PART_INPUT_IMAGE:
        write_input_part(w, p);
        return;
    case LX_IR_PART_REFUSAL:
        write_text_part(w, "refusal", "refusal", p->text);
        return;
    case LX_IR_PART_REASONING_TEXT:
        write_text_part(w, "reasoning_text", "text", p->text);
        return;
    case LX_IR_PART_SUMMARY_TEXT:
        write_text_part(w, "summary_text", "text", p->text);
        return;
    case LX_IR_PART_OUTPUT_TEXT:
        /* OAI requires annotations and logprobs, OR annotations (5) */
        lx_jw_obj_open(w);
        lx_jw_key(w, "type");
        lx_jw_cstr(w, "output_text");
        jw_or(w, "text", p->text, "\"\"");
        lx_jw_key(w, "annotations");
        lx_jw_raw(w, "[]", 2);
        lx_jw_key(w, "logprobs");
        lx_jw_raw(w, "[]", 2);
        lx_jw_obj_close(w);
        return;
    }
}

/* role and content of a message item: assistant text as output_text, other
 * roles' as input parts. */
static void write_message_content(lx_jw *w, const struct lx_ir_item *it)
{
    lx_jw_key(w, "role");
    lx_jw_cstr(w, lx_ir_role_name(it->role));
    lx_jw_key(w, "content");
    lx_jw_arr_open(w);
    for (uint32_t k = 0; k < it->nparts; k++) {
        struct lx_ir_part p = it->parts[k];
        if (p.kind == LX_IR_PART_INPUT_TEXT || p.kind == LX_IR_PART_OUTPUT_TEXT)
            p.kind =
                it->role == LX_IR_ROLE_ASSISTANT ? LX_IR_PART_OUTPUT_TEXT : LX_IR_PART_INPUT_TEXT;
        lx_resp__write_part(w, &p);
    }
    lx_jw_arr_close(w);
}

static void write_output_reasoning(lx_jw *w, const struct lx_ir_item *it)
{
    /* summary is required (use []); encrypted_content only when held (5) */
    lx_jw_key(w, "summary");
    lx_jw_arr_open(w);
    for (uint32_t k = 0; k < it->nsummary; k++)
        write_text_part(w, "summary_text", "text", it->summary[k].text);
    lx_jw_arr_close(w);
    lx_jw_key(w, "content");
    lx_jw_arr_open(w);
    for (uint32_t k = 0; k < it->nparts; k++)
        write_text_part(w, "reasoning_text", "text", it->parts[k].text);
    lx_jw_arr_close(w);
    if (it->encrypted_content.len)
        jw_or(w, "encrypted_content", it->encrypted_content, "null");
}

/* A tool call's output: the string as given, or its parts. */
static void write_call_output(lx_jw *w, const struct lx_ir_item *it)
{
    if (it->content_is_string && it->nparts) {
        jw_or(w, "output", it->parts[0].text, "\"\"");
        return;
    }
    lx_jw_key(w, "output");
    lx_jw_arr_open(w);
    for (uint32_t k = 0; k < it->nparts; k++)
        write_input_part(w, &it->parts[k]);
    lx_jw_arr_close(w);
}

void lx_resp__write_item(lx_jw *w, const struct lx_ir_item *it)
{
    static const char *const types[] = {"message",   "function_call",    "function_call_output",
                                        "reasoning", "custom_tool_call", "custom_tool_call_output",
                                        "compaction"};
    lx_jw_obj_open(w);
    lx_jw_key(w, "type");
    lx_jw_cstr(w, types[it->kind]);
    jw_or(w, "id", it->id, "\"\"");
    switch (it->kind) {
    case LX_IR_ITEM_MESSAGE:
        lx_jw_key(w, "status");
        lx_jw_cstr(w, lx_ir_status_name(it->status));
        write_message_content(w, it);
        break;
    case LX_IR_ITEM_FUNCTION_CALL:
    case LX_IR_ITEM_CUSTOM_TOOL_CALL:
        jw_or(w, "call_id", it->call_id, "\"\"");
        jw_or(w, "name", it->name, "\"\"");
        if (it->ns.len)
            jw_or(w, "namespace", it->ns, "null");
        if (it->kind == LX_IR_ITEM_FUNCTION_CALL)
            jw_or(w, "arguments", it->arguments, "\"\"");
        else
            jw_or(w, "input", it->input, "\"\"");
        lx_jw_key(w, "status");
        lx_jw_cstr(w, lx_ir_status_name(it->status));
        break;
    case LX_IR_ITEM_FUNCTION_CALL_OUTPUT:
    case LX_IR_ITEM_CUSTOM_TOOL_CALL_OUTPUT:
        jw_or(w, "call_id", it->call_id, "\"\"");
        write_call_output(w, it);
        lx_jw_key(w, "status");
        lx_jw_cstr(w, lx_ir_status_name(it->status));
        break;
    case LX_IR_ITEM_REASONING:
        write_output_reasoning(w, it);
        lx_jw_key(w, "status");
        lx_jw_cstr(w, lx_ir_status_name(it->status));
        break;
    case LX_IR_ITEM_COMPACTION:
        /* no status: neither spec's compaction item has one (5); the
         * opened summary is never written back */
        jw_or(w, "encrypted_content", it->encrypted_content, "\"\"");
        break;
    }
    lx_jw_obj_close(w);
}

/* Function tools echoed with all of type, name, description, parameters,
 * strict (null when absent; 4); custom and namespace tools as sent. Hosted
 * tools (web_search, ...) dropped for a chat backend are left out: `tools`
 * lists what the model had, and Open Responses' Tool union (function tools
 * only) rejects them, so echoing them would fail that spec for a tool the
 * model never saw (issue 3, validator test). */
static void write_tools_echo(lx_jw *w, const struct lx_ir_request *req)
{
    lx_jw_key(w, "tools");
    lx_jw_arr_open(w);
    for (uint32_t k = 0; k < req->ntools; k++) {
        const struct lx_ir_tool *t = &req->tools[k];
        if (t->ns.len) {
            /* a namespace is echoed once, as sent */
            if (t->ns_first)
                lx_jw_raw(w, t->ns_raw.ptr, t->ns_raw.len);
            continue;
        }
        if (t->kind == LX_IR_TOOL_OTHER)
            continue;
        if (t->kind != LX_IR_TOOL_FUNCTION) {
            lx_jw_raw(w, t->raw.ptr, t->raw.len);
            continue;
        }
        lx_jw_obj_open(w);
        lx_jw_key(w, "type");
        lx_jw_cstr(w, "function");
        jw_or(w, "name", t->name, "\"\"");
        jw_or(w, "description", t->description, "null");
        jw_or(w, "parameters", t->parameters, "null");
        jw_or(w, "strict", t->strict, "null");
        lx_jw_obj_close(w);
    }
    lx_jw_arr_close(w);
}

static void write_text_echo(lx_jw *w, const struct lx_ir_request *req)
{
    lx_jw_key(w, "text");
    lx_jw_obj_open(w);
    jw_or(w, "format", req->format.raw, "{\"type\":\"text\"}");
    if (req->verbosity.len)
        jw_or(w, "verbosity", req->verbosity, "null");
    lx_jw_obj_close(w);
}

static void write_reasoning_echo(lx_jw *w, const struct lx_ir_request *req)
{
    lx_jw_key(w, "reasoning");
    if (!req->has_reasoning) {
        lx_jw_null(w);
        return;
    }
    lx_jw_obj_open(w);
    jw_or(w, "effort", req->reasoning_effort, "null");
    jw_or(w, "summary", req->reasoning_summary, "null");
    lx_jw_obj_close(w);
}

/* usage: null while in progress, and in a failed response that got none
 * (6.3, 14.7); an object (zeros when the backend sent none) otherwise. */
static void write_usage(lx_jw *w, const struct lx_ir_result *res)
{
    const struct lx_ir_usage *u = &res->usage;
    lx_jw_key(w, "usage");
    if (res->status == LX_IR_RESULT_IN_PROGRESS ||
        (res->status == LX_IR_RESULT_FAILED && !u->present)) {
        lx_jw_null(w);
        return;
    }
    lx_jw_obj_open(w);
    lx_jw_key(w, "input_tokens");
    lx_jw_int(w, u->input_tokens);
    lx_jw_key(w, "input_tokens_details");
    lx_jw_obj_open(w);
    lx_jw_key(w, "cached_tokens");
    lx_jw_int(w, u->cached_tokens);
    lx_jw_key(w, "cache_write_tokens");
    lx_jw_int(w, 0);
    lx_jw_obj_close(w);
    lx_jw_key(w, "output_tokens");
    lx_jw_int(w, u->output_tokens);
    lx_jw_key(w, "output_tokens_details");
    lx_jw_obj_open(w);
    lx_jw_key(w, "reasoning_tokens");
    lx_jw_int(w, u->reasoning_tokens);
    lx_jw_obj_close(w);
    lx_jw_key(w, "total_tokens");
    lx_jw_int(w, u->total_tokens);
    lx_jw_obj_close(w);
}

static void write_bool_or(lx_jw *w, const char *key, enum lx_ir_bool v, bool fallback)
{
    lx_jw_key(w, key);
    lx_jw_bool(w, v == LX_IR_UNSET ? fallback : v == LX_IR_TRUE);
}

static void write_error(lx_jw *w, const struct lx_ir_result *res)
{
    lx_jw_key(w, "error");
    if (res->status != LX_IR_RESULT_FAILED) {
        lx_jw_null(w);
        return;
    }
    lx_jw_obj_open(w);
    lx_jw_key(w, "code");
    lx_jw_cstr(w, res->error_code ? res->error_code : "server_error");
    lx_jw_key(w, "message");
    lx_jw_cstr(w, res->error_message ? res->error_message : "");
    lx_jw_obj_close(w);
}

static void write_status(lx_jw *w, const struct lx_ir_result *res, const struct lx_resp_meta *m)
{
    static const char *const names[] = {"completed", "incomplete", "in_progress", "failed"};
    bool done = res->status == LX_IR_RESULT_COMPLETED;
    lx_jw_key(w, "completed_at");
    if (done)
        lx_jw_int(w, m->completed_at);
    else
        lx_jw_null(w);
    lx_jw_key(w, "status");
    lx_jw_cstr(w, names[res->status]);
    write_error(w, res);
    lx_jw_key(w, "incomplete_details");
    if (res->status != LX_IR_RESULT_INCOMPLETE) {
        lx_jw_null(w);
        return;
    }
    lx_jw_obj_open(w);
    lx_jw_key(w, "reason");
    lx_jw_cstr(w, res->reason == LX_IR_INCOMPLETE_CONTENT_FILTER ? "content_filter"
                                                                 : "max_output_tokens");
    lx_jw_obj_close(w);
}

/* The request's settings echoed with the effective defaults (4, 9). */
static void write_settings(lx_jw *w, const struct lx_ir_request *req)
{
    write_tools_echo(w, req);
    jw_or(w, "tool_choice", req->tool_choice.raw, "\"auto\"");
    write_bool_or(w, "parallel_tool_calls", req->parallel_tool_calls, true);
    write_text_echo(w, req);
    jw_or(w, "temperature", req->temperature, "1");
    jw_or(w, "top_p", req->top_p, "1");
    jw_or(w, "presence_penalty", req->presence_penalty, "0");
    jw_or(w, "frequency_penalty", req->frequency_penalty, "0");
    jw_or(w, "top_logprobs", req->top_logprobs, "0");
    jw_or(w, "truncation", req->truncation, "\"disabled\"");
    write_reasoning_echo(w, req);
    jw_or(w, "max_output_tokens", req->max_output_tokens, "null");
    jw_or(w, "max_tool_calls", req->max_tool_calls, "null");
    write_bool_or(w, "store", req->store, true);
    write_bool_or(w, "background", req->background, false);
    /* the tier actually used, never null (OR) */
    lx_jw_key(w, "service_tier");
    lx_jw_cstr(w, "default");
    jw_or(w, "metadata", req->metadata, "{}");
    jw_or(w, "safety_identifier", req->safety_identifier, "null");
    jw_or(w, "prompt_cache_key", req->prompt_cache_key, "null");
}

static void write_output(lx_jw *w, const struct lx_ir_result *res)
{
    lx_jw_arr_open(w);
    for (uint32_t k = 0; k < res->nitems; k++)
        lx_resp__write_item(w, &res->items[k]);
    lx_jw_arr_close(w);
}

int lx_resp_response_write(const struct lx_ir_request *req, const struct lx_ir_result *res,
                           const struct lx_resp_meta *m, lx_buf *out)
{
    lx_jw w;
    lx_jw_init(&w, out);
    lx_jw_obj_open(&w);
    lx_jw_key(&w, "id");
    lx_jw_cstr(&w, m->id);
    lx_jw_key(&w, "object");
    lx_jw_cstr(&w, "response");
    lx_jw_key(&w, "created_at");
    lx_jw_int(&w, m->created_at);
    write_status(&w, res, m);
    jw_or(&w, "model", req->model, "\"\"");
    jw_or(&w, "previous_response_id", req->previous_response_id, "null");
    jw_or(&w, "instructions", req->instructions, "null");
    lx_jw_key(&w, "output");
    write_output(&w, res);
    write_settings(&w, req);
    write_usage(&w, res);
    lx_jw_obj_close(&w);
    return lx_jw_ok(&w) ? LX_OK : LX_ERR;
}

int lx_resp_output_write(const struct lx_ir_result *res, lx_buf *out)
{
    lx_jw w;
    lx_jw_init(&w, out);
    write_output(&w, res);
    return lx_jw_ok(&w) ? LX_OK : LX_ERR;
}

/* ---- stored input items (the input_items listing) ------------------------ */

static const char *input_id_prefix(enum lx_ir_item_kind k)
{
    static const char *const prefixes[] = {"msg", "fc", "fco", "rs", "ctc", "ctco", "cmp"};
    return prefixes[k];
}

int lx_resp_input_write(const struct lx_ir_request *req, const char *id_base, lx_buf *out)
{
    lx_jw w;
    lx_jw_init(&w, out);
    lx_jw_arr_open(&w);
    for (uint32_t k = 0; k < req->nitems; k++) {
        struct lx_ir_item it = req->items[k];
        char id[160];
        if (!it.id.len) {
            /* ids are [A-Za-z0-9_]: no escaping needed inside the quotes */
            int n = snprintf(id, sizeof(id), "\"%s_%s_%u\"", input_id_prefix(it.kind), id_base, k);
            it.id = (lx_str){id, (size_t)LX_MIN(n, (int)sizeof(id) - 1)};
        }
        /* a string becomes one input_text part, as the listing shows it */
        if (it.kind == LX_IR_ITEM_MESSAGE)
            it.content_is_string = false;
        lx_resp__write_item(&w, &it);
    }
    lx_jw_arr_close(&w);
    return lx_jw_ok(&w) ? LX_OK : LX_ERR;
}

/* ---- /responses/compact and /responses/input_tokens (1) ------------------ */

int lx_resp_compaction_write(const struct lx_ir_result *res, const struct lx_resp_meta *m,
                             lx_buf *out)
{
    lx_jw w;
    lx_jw_init(&w, out);
    lx_jw_obj_open(&w);
    lx_jw_key(&w, "id");
    lx_jw_cstr(&w, m->id);
    lx_jw_key(&w, "object");
    lx_jw_cstr(&w, "response.compaction");
    lx_jw_key(&w, "output");
    lx_jw_arr_open(&w);
    for (uint32_t k = 0; k < res->nitems; k++) {
        struct lx_ir_item it = res->items[k];
        if (it.kind == LX_IR_ITEM_MESSAGE)
            it.content_is_string = false;
        lx_resp__write_item(&w, &it);
    }
    lx_jw_arr_close(&w);
    lx_jw_key(&w, "created_at");
    lx_jw_int(&w, m->created_at);
    struct lx_ir_result done = *res;
    done.status = LX_IR_RESULT_COMPLETED; /* usage is always an object here */
    write_usage(&w, &done);
    lx_jw_obj_close(&w);
    return lx_jw_ok(&w) ? LX_OK : LX_ERR;
}

int lx_resp_input_tokens_write(int64_t input_tokens, lx_buf *out)
{
    lx_jw w;
    lx_jw_init(&w, out);
    lx_jw_obj_open(&w);
    lx_jw_key(&w, "object");
    lx_jw_cstr(&w, "response.input_tokens");
    lx_jw_key(&w, "input_tokens");
    lx_jw_int(&w, input_tokens);
    lx_jw_obj_close(&w);
    return lx_jw_ok(&w) ? LX_OK : LX_ERR;
}
