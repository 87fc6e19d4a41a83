/*
 * auth.h — private to src/api/: the keyring the api checks API keys
 * against, kept fresh from the key store.
 *
 * At start the store is opened (created when missing) and its valid keys
 * are loaded. Then, every LX_API_AUTH_REFRESH_MS, a libuv worker thread
 * stat()s the store's file and, when it changed, loads a new keyring; the
 * swap happens on the loop. A key created or revoked with `llmux keys`
 * therefore takes effect within about two refresh periods, and no SQLite
 * call ever runs on the event loop after start-up.
 */
#ifndef LX_API_AUTH_H
#define LX_API_AUTH_H

#include <uv.h>

#include "../store/keys.h"

enum { LX_API_AUTH_REFRESH_MS = 1000 };

struct lx_api_auth;

/* Opens the store at path and loads its keys; NULL with a message in err
 * on failure. */
struct lx_api_auth *lx_api_auth_new(uv_loop_t *loop, const char *path, char *err, size_t errlen);
/* Stops the refresh timer (closes its handle); run the loop afterwards. */
void lx_api_auth_stop(struct lx_api_auth *a);
/* Frees a; the loop must have closed its handles and finished its work. */
void lx_api_auth_free(struct lx_api_auth *a);
/* Replaces the keyring by ring (taken over) at once — the admin API's
 * change is seen by the next request. A periodic refresh running now is
 * discarded when it ends (it may have read the store before the change). */
void lx_api_auth_replace(struct lx_api_auth *a, struct lx_store_keyring *ring);
/* The valid key whose secret is secret, or NULL. The key lives until the
 * next refresh: use it within the current callback only. */
const struct lx_store_key *lx_api_auth_find(const struct lx_api_auth *a, lx_str secret);

#endif
