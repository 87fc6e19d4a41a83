/*
 * toolallow.c — tool allowlists for requests, whole answers and streams
 * (see toolallow.h).
 */
#include "toolallow.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const verdict_names[] = {"allowed", "not_offered", "not_allowed_by_key",
                                            "not_allowed_by_model", "no_name"};

const char *lx_toolallow_verdict_str(enum lx_toolallow_verdict v)
{
    return (unsigned)v < LX_ARRAY_LEN(verdict_names) ? verdict_names[v] : "?";
}

static bool listed(const struct lx_toolallow_list *l, lx_str name)
{
    if (l == NULL || l->names == NULL)
        return true;
    for (size_t i = 0; i < l->n; i++)
        if (lx_str_eq(l->names[i], name))
            return true;
    return false;
}

enum lx_toolallow_verdict lx_toolallow_offer(lx_str name, const struct lx_toolallow_list *key,
                                             const struct lx_toolallow_list *model)
{
    if (!listed(key, name))
        return LX_TOOLALLOW_DENIED_KEY;
    if (!listed(model, name))
        return LX_TOOLALLOW_DENIED_MODEL;
    return LX_TOOLALLOW_OK;
}

enum lx_toolallow_verdict lx_toolallow_call(lx_str name, const struct lx_toolallow_list *offered,
                                            const struct lx_toolallow_list *key,
                                            const struct lx_toolallow_list *model)
{
    if (name.ptr == NULL || name.len == 0)
        return LX_TOOLALLOW_NO_NAME;
    /* the offered list is explicit: no list means nothing was offered */
    struct lx_toolallow_list none = {(const lx_str *)"", 0};
    if (!listed(offered && offered->names ? offered : &none, name))
        return LX_TOOLALLOW_NOT_OFFERED;
    return lx_toolallow_offer(name, key, model);
}

/* ---- requests ----------------------------------------------------------- */

/* The name of the tool object at token t: function.name, else custom.name
 * (the Responses-style custom tools), else "". */
static lx_str tool_name(const lx_json *j, int t)
{
    static const char *const holders[] = {"function", "custom"};
    if (!lx_json_is_object(j, t))
        return LX_STR_LIT("");
    for (size_t h = 0; h < LX_ARRAY_LEN(holders); h++) {
        int o = lx_json_get(j, t, holders[h]);
        int n = o >= 0 && lx_json_is_object(j, o) ? lx_json_get(j, o, "name") : -1;
        if (n >= 0 && lx_json_is_string(j, n))
            return lx_json_raw(j, n);
    }
    int n = lx_json_get(j, t, "name");
    return n >= 0 && lx_json_is_string(j, n) ? lx_json_raw(j, n) : LX_STR_LIT("");
}

int lx_toolallow_scan(const lx_json *req, int tools, const struct lx_toolallow_list *key,
                      const struct lx_toolallow_list *model, struct lx_toolallow_scan *out)
{
    out->n = out->n_denied = out->n_kept = 0;
    if (tools < 0 || !lx_json_is_array(req, tools))
        return LX_OK;
    int n = lx_json_size(req, tools), t = tools + 1;
    if (n > LX_TOOLALLOW_MAX_TOOLS)
        return LX_ERR;
    for (int k = 0; k < n; k++, t = lx_json_skip(req, t)) {
        lx_str name = tool_name(req, t);
        enum lx_toolallow_verdict v = lx_toolallow_offer(name, key, model);
        out->names[out->n] = name;
        out->denied[out->n++] = v;
        if (v == LX_TOOLALLOW_OK)
            out->kept[out->n_kept++] = name;
        else
            out->n_denied++;
    }
    return LX_OK;
}

/* The byte range of the "tools" member (key, colon, value) and one comma
 * next to it, so that cutting it leaves valid JSON. */
static void member_range(const lx_json *req, int tools, size_t *from, size_t *to)
{
    const char *s = req->src;
    size_t a = (size_t)req->tok[tools - 1].start - 1; /* the key's opening quote */
    size_t b = (size_t)req->tok[tools].end;
    size_t e = b;
    while (e < req->len && (s[e] == ' ' || s[e] == '\n' || s[e] == '\r' || s[e] == '\t'))
        e++;
    if (e < req->len && s[e] == ',') {
        *from = a;
        *to = e + 1;
        return;
    }
    size_t p = a;
    while (p > 0 && (s[p - 1] == ' ' || s[p - 1] == '\n' || s[p - 1] == '\r' || s[p - 1] == '\t'))
        p--;
    *from = p > 0 && s[p - 1] == ',' ? p - 1 : a;
    *to = b;
}

int lx_toolallow_strip_request(const lx_json *req, int tools, const struct lx_toolallow_scan *sc,
                               lx_buf *out)
{
    size_t from = (size_t)req->tok[tools].start, to = (size_t)req->tok[tools].end;
    int rc = LX_OK;
    if (sc->n_kept == 0)
        member_range(req, tools, &from, &to);
    rc |= lx_buf_append(out, req->src, from);
    if (sc->n_kept > 0) {
        rc |= lx_buf_append_char(out, '[');
        int t = tools + 1;
        bool first = true;
        for (size_t k = 0; k < sc->n; k++, t = lx_json_skip(req, t)) {
            if (sc->denied[k] != LX_TOOLALLOW_OK)
                continue;
            if (!first)
                rc |= lx_buf_append_char(out, ',');
            first = false;
            rc |= lx_buf_append_str(out, lx_json_value_text(req, t));
        }
        rc |= lx_buf_append_char(out, ']');
    }
    rc |= lx_buf_append(out, req->src + to, req->len - to);
    return rc == LX_OK ? LX_OK : LX_ERR;
}

/* ---- whole answers ------------------------------------------------------ */

static void note(struct lx_toolallow_result *res, lx_str name, enum lx_toolallow_verdict v)
{
    res->n_bad++;
    if (res->n >= LX_TOOLALLOW_MAX_CALLS)
        return;
    struct lx_toolallow_finding *f = &res->f[res->n++];
    snprintf(f->name, sizeof(f->name), "%.*s", (int)LX_MIN(name.len, sizeof(f->name) - 1),
             name.ptr ? name.ptr : "");
    f->verdict = v;
}

/* Checks the calls of one message; removes the failing ones when edit. */
static void check_message(cJSON *msg, cJSON *choice, const struct lx_toolallow_list *offered,
                          const struct lx_toolallow_list *key,
                          const struct lx_toolallow_list *model, struct lx_toolallow_result *res,
                          bool edit)
{
    cJSON *calls = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");
    if (!cJSON_IsArray(calls))
        return;
    for (cJSON *c = calls->child, *next; c; c = next) {
        next = c->next;
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(c, "function");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
        lx_str s = cJSON_IsString(name) ? lx_str_from_cstr(name->valuestring) : LX_STR_NULL;
        enum lx_toolallow_verdict v = lx_toolallow_call(s, offered, key, model);
        if (v == LX_TOOLALLOW_OK)
            continue;
        note(res, s, v);
        if (edit)
            cJSON_Delete(cJSON_DetachItemViaPointer(calls, c));
    }
    if (!edit || cJSON_GetArraySize(calls) > 0)
        return;
    cJSON_DeleteItemFromObjectCaseSensitive(msg, "tool_calls");
    const cJSON *fr = cJSON_GetObjectItemCaseSensitive(choice, "finish_reason");
    if (cJSON_IsString(fr) && strcmp(fr->valuestring, "tool_calls") == 0)
        cJSON_ReplaceItemInObjectCaseSensitive(choice, "finish_reason", cJSON_CreateString("stop"));
}

int lx_toolallow_response(lx_str body, const struct lx_toolallow_list *offered,
                          const struct lx_toolallow_list *key,
                          const struct lx_toolallow_list *model, struct lx_toolallow_result *res,
                          lx_buf *out)
{
    *res = (struct lx_toolallow_result){0};
    cJSON *doc = cJSON_ParseWithLength(body.ptr, body.len);
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        return LX_ERR;
    }
    for (int pass = 0; pass < 2; pass++) {
        /* pass 0 only looks; pass 1 edits, and runs only when something failed */
        bool edit = pass == 1;
        if (edit && (res->n_bad == 0 || out == NULL))
            break;
        if (edit)
            *res = (struct lx_toolallow_result){0};
        cJSON *choices = cJSON_GetObjectItemCaseSensitive(doc, "choices"), *c;
        cJSON_ArrayForEach(c, choices)
        {
            cJSON *msg = cJSON_GetObjectItemCaseSensitive(c, "message");
            if (cJSON_IsObject(msg))
                check_message(msg, c, offered, key, model, res, edit);
        }
    }
    int rc = LX_OK;
    if (res->n_bad && out) {
        char *text = cJSON_PrintUnformatted(doc);
        rc = text && lx_buf_append_cstr(out, text) == LX_OK ? LX_OK : LX_ERR;
        free(text);
    }
    cJSON_Delete(doc);
    return rc;
}

/* ---- streams ------------------------------------------------------------ */

/* One tool_calls[] delta: notes its name, decides it. LX_AGAIN when the
 * call has no name yet; LX_ERR on a refusal (in *bad). */
static int stream_delta(struct lx_toolallow_stream *st, const lx_json *j, int call, int fallback,
                        const struct lx_toolallow_list *offered,
                        const struct lx_toolallow_list *key, const struct lx_toolallow_list *model,
                        struct lx_toolallow_finding *bad)
{
    int64_t index = fallback;
    if (!lx_json_is_object(j, call))
        return LX_OK;
    lx_json_int64(j, lx_json_get(j, call, "index"), &index);
    int fn = lx_json_get(j, call, "function");
    int name = fn >= 0 && lx_json_is_object(j, fn) ? lx_json_get(j, fn, "name") : -1;
    if (index < 0 || index >= LX_TOOLALLOW_MAX_CALLS) {
        snprintf(bad->name, sizeof(bad->name), "%s", "");
        bad->verdict = LX_TOOLALLOW_NO_NAME; /* more calls than the gate tracks */
        return LX_ERR;
    }
    st->seen[index] = true;
    if (name >= 0 && lx_json_is_string(j, name)) {
        lx_str s = lx_json_raw(j, name);
        enum lx_toolallow_verdict v = lx_toolallow_call(s, offered, key, model);
        snprintf(st->names[index], LX_TOOLALLOW_NAME_MAX, "%.*s",
                 (int)LX_MIN(s.len, LX_TOOLALLOW_NAME_MAX - 1), s.ptr);
        st->named[index] = true;
        if (v != LX_TOOLALLOW_OK) {
            snprintf(bad->name, sizeof(bad->name), "%s", st->names[index]);
            bad->verdict = v;
            return LX_ERR;
        }
    }
    return st->named[index] ? LX_OK : LX_AGAIN;
}

enum lx_toolallow_gate lx_toolallow_stream_chunk(struct lx_toolallow_stream *st, lx_str data,
                                                 lx_arena *scratch, uint32_t max_depth,
                                                 const struct lx_toolallow_list *offered,
                                                 const struct lx_toolallow_list *key,
                                                 const struct lx_toolallow_list *model,
                                                 struct lx_toolallow_finding *bad)
{
    lx_json j;
    bool unnamed = false;
    if (lx_json_parse(&j, data.ptr, data.len, scratch, max_depth) != LX_JSON_OK ||
        !lx_json_is_object(&j, 0))
        return st->holding ? LX_TOOLALLOW_HOLD : LX_TOOLALLOW_PASS;
    int choices = lx_json_get(&j, 0, "choices");
    int nc = choices >= 0 && lx_json_is_array(&j, choices) ? lx_json_size(&j, choices) : 0;
    int c = choices + 1;
    for (int k = 0; k < nc; k++, c = lx_json_skip(&j, c)) {
        int d = lx_json_is_object(&j, c) ? lx_json_get(&j, c, "delta") : -1;
        int calls = d >= 0 && lx_json_is_object(&j, d) ? lx_json_get(&j, d, "tool_calls") : -1;
        if (calls < 0 || !lx_json_is_array(&j, calls))
            continue;
        int n = lx_json_size(&j, calls), i = calls + 1;
        for (int m = 0; m < n; m++, i = lx_json_skip(&j, i)) {
            int rc = stream_delta(st, &j, i, m, offered, key, model, bad);
            if (rc == LX_ERR)
                return LX_TOOLALLOW_REFUSE;
            unnamed |= rc == LX_AGAIN;
        }
    }
    /* held chunks go out once no call seen so far lacks a name */
    if (unnamed || st->holding) {
        st->holding = false;
        for (size_t i = 0; i < LX_TOOLALLOW_MAX_CALLS; i++)
            st->holding |= st->seen[i] && !st->named[i];
    }
    return st->holding ? LX_TOOLALLOW_HOLD : LX_TOOLALLOW_PASS;
}

enum lx_toolallow_gate lx_toolallow_stream_end(const struct lx_toolallow_stream *st,
                                               struct lx_toolallow_finding *bad)
{
    if (!st->holding)
        return LX_TOOLALLOW_PASS;
    bad->name[0] = '\0';
    bad->verdict = LX_TOOLALLOW_NO_NAME;
    return LX_TOOLALLOW_REFUSE;
}
