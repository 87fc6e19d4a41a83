/*
 * admin.h — private to src/api/: the admin HTTP API over the key store.
 *
 *   POST   /admin/keys        create a key; the answer holds its secret, once
 *   GET    /admin/keys        list every key (valid and revoked)
 *   GET    /admin/keys/{id}   one key
 *   PATCH  /admin/keys/{id}   change a valid key's settings
 *   DELETE /admin/keys/{id}   revoke a key
 *
 * Guarded by the admin key (config admin.key_env names the environment
 * variable), sent as "Authorization: Bearer KEY" or "x-api-key: KEY" and
 * compared in constant time through its SHA-256; it is never a virtual key
 * and never logged. Without admin.enabled there is no admin API: every admin path
 * answers 404 like any unknown path, so a scan learns nothing.
 *
 * Bodies are JSON in and out; errors have OpenAI's shape. Store work runs
 * on libuv's thread pool (its own SQLite connection per call), never on the
 * loop; a change then loads a fresh keyring there and hands it to the auth
 * module on the loop, so the next request sees it. Every call writes an
 * audit line (action, key id, status; never a secret).
 */
#ifndef LX_API_ADMIN_H
#define LX_API_ADMIN_H

#include <uv.h>

#include "../config/config.h"
#include "../http/http.h"
#include "../obs/audit.h"
#include "auth.h"

enum {
    LX_API_ADMIN_KEY_MIN = 16,         /* bytes of an admin key, at least */
    LX_API_ADMIN_BODY_MAX = 64 * 1024, /* bytes of an admin request body */
};

struct lx_api_admin;

/* NULL with err "" when the admin API is off; NULL with a message in err
 * when it is on but cannot start (no admin key in the environment). The
 * admin borrows auth (may be NULL) and audit (may be NULL). */
struct lx_api_admin *lx_api_admin_new(uv_loop_t *loop, const struct lx_config *cfg,
                                      struct lx_api_auth *auth, struct lx_audit *audit, char *err,
                                      size_t errlen);
/* The auth module whose keyring a change replaces (NULL: auth is off). */
void lx_api_admin_set_auth(struct lx_api_admin *a, struct lx_api_auth *auth);
/* Frees a once the loop has finished its work (no call in flight). */
void lx_api_admin_free(struct lx_api_admin *a);
/* True when full is an admin path (then the request is answered); false
 * otherwise, and always when a is NULL. secret is what the client sent. */
bool lx_api_admin_handle(struct lx_api_admin *a, struct lx_http_req *req, const char *rid,
                         lx_str full, lx_str secret);

/* True when secret is the admin key (constant time); false when a is NULL. */
bool lx_api_admin_key_ok(const struct lx_api_admin *a, lx_str secret);

struct lx_proxy;
/* The admin API over the running gateway (admin_ops.c), answered on the
 * loop, guarded by the same admin key:
 *
 *   GET  /admin/config                  the last good configs, running one first
 *   POST /admin/config/reload           re-read the config file; 400 with
 *                                       "FILE:LINE:COL: message" when it is invalid
 *   POST /admin/config/rollback         re-apply the previous good config; 409: none
 *   GET  /admin/backends                live state of each backend (as /readyz)
 *   POST /admin/backends/{name}/drain   no new requests; in-flight ones finish
 *   POST /admin/backends/{name}/undrain back in rotation
 *
 * True when full is one of these paths (then the request is answered);
 * false otherwise, and always when a is NULL (admin off: 404 as any path). */
bool lx_api_admin_ops_handle(struct lx_api_admin *a, struct lx_proxy *proxy,
                             struct lx_http_req *req, const char *rid, lx_str full, lx_str secret);

#endif
