/* admin_ops.c — the admin endpoints over the running gateway: config
 * reload, rollback and history, backend drain (see admin.h). Each is a
 * short call on the loop; the proxy logs, audits and counts what it does
 * (proxy.h), and this file audits the calls it refuses. */
#include "admin.h"

#include <stdio.h>
#include <string.h>

#include "../core/buf.h"
#include "../core/clock.h"
#include "../dialect/chat.h"
#include "../proxy/proxy.h"

enum { NAME_MAX_LEN = 128, ANSWER_MAX = 1024 * 1024 };

static void respond(struct lx_http_req *req, const char *rid, int status, lx_buf *b)
{
    lx_http_header h = {"x-request-id", rid, strlen(rid)};
    lx_http_respond(req, status, "application/json", &h, 1, b->data ? b->data : "{}",
                    b->data ? b->len : 2);
}

/* An error in OpenAI's shape; refusals are audited here, the proxy audits
 * what it ran. */
static void fail(struct lx_proxy *proxy, struct lx_http_req *req, const char *rid, lx_str full,
                 uint64_t t0, int status, const char *message, const char *code, bool audit)
{
    lx_buf b;
    lx_buf_init(&b, ANSWER_MAX);
    lx_chat_error_write(&b, message, lx_chat_error_type(status), NULL, code);
    if (audit) {
        char peer[64], path[96];
        lx_http_req_peer(req, peer, sizeof(peer));
        snprintf(path, sizeof(path), "%.*s", (int)LX_MIN(full.len, sizeof(path) - 1), full.ptr);
        struct lx_proxy_note n = {.request_id = rid,
                                  .peer = peer,
                                  .endpoint = path,
                                  .status = status,
                                  .t_start_us = t0,
                                  .error_type = code,
                                  .error_message = message};
        lx_proxy_write_note(proxy, &n);
    }
    respond(req, rid, status, &b);
    lx_buf_release(&b);
}

static void ok_body(struct lx_http_req *req, const char *rid, const char *body)
{
    lx_buf b;
    lx_buf_init(&b, ANSWER_MAX);
    lx_buf_append(&b, body, strlen(body));
    respond(req, rid, 200, &b);
    lx_buf_release(&b);
}

/* The config history: the answer of GET /admin/config and of a reload or rollback. */
static void answer_history(struct lx_proxy *proxy, struct lx_http_req *req, const char *rid)
{
    lx_buf b;
    lx_buf_init(&b, ANSWER_MAX);
    lx_proxy_write_config_history(proxy, &b);
    respond(req, rid, 200, &b);
    lx_buf_release(&b);
}

static void config_call(struct lx_proxy *proxy, struct lx_http_req *req, const char *rid,
                        lx_str full, lx_str rest, bool get, bool post, uint64_t t0)
{
    char err[1024];
    if (rest.len == 0 && get) {
        answer_history(proxy, req, rid);
    } else if (lx_str_eq_cstr(rest, "/reload") && post) {
        if (lx_proxy_reload(proxy, "admin", err, sizeof(err)) == LX_OK)
            answer_history(proxy, req, rid);
        else
            fail(proxy, req, rid, full, t0, 400, err, "invalid_config", false);
    } else if (lx_str_eq_cstr(rest, "/rollback") && post) {
        if (lx_proxy_rollback(proxy, "admin", err, sizeof(err)) == LX_OK)
            answer_history(proxy, req, rid);
        else
            fail(proxy, req, rid, full, t0, 409, err, "no_previous_config", false);
    } else if (rest.len == 0 || lx_str_eq_cstr(rest, "/reload") ||
               lx_str_eq_cstr(rest, "/rollback")) {
        fail(proxy, req, rid, full, t0, 405, "Method not allowed.", "method_not_allowed", true);
    } else {
        fail(proxy, req, rid, full, t0, 404, "Unknown request URL.", "unknown_url", true);
    }
}

/* rest is "/{name}/drain" or "/{name}/undrain". */
static void backend_call(struct lx_proxy *proxy, struct lx_http_req *req, const char *rid,
                         lx_str full, lx_str rest, bool post, uint64_t t0)
{
    const char *slash = rest.len > 1 ? memchr(rest.ptr + 1, '/', rest.len - 1) : NULL;
    lx_str name = {rest.ptr + 1, slash ? (size_t)(slash - rest.ptr - 1) : 0};
    lx_str verb = {slash, slash ? rest.len - (size_t)(slash - rest.ptr) : 0};
    bool drain = lx_str_eq_cstr(verb, "/drain"), undrain = lx_str_eq_cstr(verb, "/undrain");
    if (name.len == 0 || name.len > NAME_MAX_LEN || !(drain || undrain)) {
        fail(proxy, req, rid, full, t0, 404, "Unknown request URL.", "unknown_url", true);
        return;
    }
    if (!post) {
        fail(proxy, req, rid, full, t0, 405, "Method not allowed.", "method_not_allowed", true);
        return;
    }
    char n[NAME_MAX_LEN + 1];
    memcpy(n, name.ptr, name.len);
    n[name.len] = '\0';
    if (lx_proxy_set_draining(proxy, n, drain, "admin") != LX_OK) {
        fail(proxy, req, rid, full, t0, 404, "No backend with that name.", "backend_not_found",
             true);
        return;
    }
    char body[NAME_MAX_LEN + 64];
    snprintf(body, sizeof(body), "{\"backend\":\"%s\",\"draining\":%s}", n,
             drain ? "true" : "false");
    /* a backend name is [A-Za-z0-9._-]+ (config.h): nothing to escape */
    ok_body(req, rid, body);
}

bool lx_api_admin_ops_handle(struct lx_api_admin *a, struct lx_proxy *proxy,
                             struct lx_http_req *req, const char *rid, lx_str full, lx_str secret)
{
    lx_str cfg_prefix = LX_STR_LIT("/admin/config"), be_prefix = LX_STR_LIT("/admin/backends");
    bool is_cfg = lx_str_starts_with(full, cfg_prefix);
    bool is_be = !is_cfg && lx_str_starts_with(full, be_prefix);
    if (a == NULL || !(is_cfg || is_be))
        return false;
    size_t plen = is_cfg ? cfg_prefix.len : be_prefix.len;
    lx_str rest = {full.ptr + plen, full.len - plen};
    if (rest.len && rest.ptr[0] != '/')
        return false;
    uint64_t t0 = lx_clock_mono_us();
    lx_str method = lx_http_req_method(req);
    bool get = lx_str_eq_cstr(method, "GET"), post = lx_str_eq_cstr(method, "POST");
    if (!lx_api_admin_key_ok(a, secret)) {
        fail(proxy, req, rid, full, t0, 401,
             secret.ptr ? "Incorrect admin key provided." : "You didn't provide an admin key.",
             "invalid_api_key", true);
        return true;
    }
    if (is_cfg) {
        config_call(proxy, req, rid, full, rest, get, post, t0);
    } else if (rest.len == 0) {
        if (!get) {
            fail(proxy, req, rid, full, t0, 405, "Method not allowed.", "method_not_allowed", true);
            return true;
        }
        lx_buf b;
        lx_buf_init(&b, 16 * 1024 * 1024);
        lx_route_write_status(lx_proxy_route(proxy), &b);
        respond(req, rid, 200, &b);
        lx_buf_release(&b);
    } else {
        backend_call(proxy, req, rid, full, rest, post, t0);
    }
    return true;
}
