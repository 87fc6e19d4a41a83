/*
 * keys.c — the key table on SQLite and the in-memory keyring (see keys.h).
 */
#include "keys.h"

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "../core/clock.h"

enum { SHA256_LEN = 32, BUSY_TIMEOUT_MS = 5000 };

struct lx_store_keys {
    sqlite3 *db;
    char *path;
    struct stat seen; /* the file as lx_store_keys_changed() last saw it */
    bool seen_valid;
};

struct lx_store_key {
    char id[LX_STORE_KEY_ID_LEN + 1];
    unsigned char hash[SHA256_LEN];
    char **models; /* NULL: every model */
    size_t n_models;
};

struct lx_store_keyring {
    struct lx_store_key *keys;
    size_t n;
};

static const char schema[] = "CREATE TABLE IF NOT EXISTS keys ("
                             " id TEXT PRIMARY KEY,"
                             " name TEXT NOT NULL,"
                             " secret_sha256 BLOB NOT NULL UNIQUE,"
                             " created_at TEXT NOT NULL,"
                             " revoked_at TEXT,"
                             " allowed_models TEXT NOT NULL DEFAULT '')";

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int sha256(const char *p, size_t n, unsigned char out[SHA256_LEN])
{
    unsigned int len = 0;
    return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == SHA256_LEN ? LX_OK
                                                                                     : LX_ERR;
}

/* ---- the store ---------------------------------------------------------- */

struct lx_store_keys *lx_store_keys_open(const char *path, char *err, size_t errlen)
{
    struct lx_store_keys *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->path = strdup(path)) == NULL) {
        set_err(err, errlen, "out of memory");
        goto fail;
    }
    struct stat st;
    bool existed = stat(path, &st) == 0;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        set_err(err, errlen, "key store %s: %s", path,
                s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    /* hashes only, but nobody else needs to read them */
    if (!existed)
        chmod(path, 0600);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    if (sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
        set_err(err, errlen, "key store %s: %s", path, sqlite3_errmsg(s->db));
        goto fail;
    }
    return s;
fail:
    lx_store_keys_close(s);
    return NULL;
}

void lx_store_keys_close(struct lx_store_keys *s)
{
    if (s == NULL)
        return;
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

/* n characters of [0-9A-Za-z], uniform: bytes of 248 and above are drawn
 * again so that "% 62" has no bias (248 = 4 * 62). */
static int random_base62(char *out, size_t n)
{
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    unsigned char pool[64];
    size_t have = 0, used = 0;
    for (size_t i = 0; i < n;) {
        if (used == have) {
            if (RAND_bytes(pool, sizeof(pool)) != 1)
                return LX_ERR;
            have = sizeof(pool);
            used = 0;
        }
        unsigned char b = pool[used++];
        if (b < 248)
            out[i++] = alphabet[b % 62];
    }
    OPENSSL_cleanse(pool, sizeof(pool));
    return LX_OK;
}

static int random_id(char id[LX_STORE_KEY_ID_LEN + 1])
{
    unsigned char r[4];
    if (RAND_bytes(r, sizeof(r)) != 1)
        return LX_ERR;
    snprintf(id, LX_STORE_KEY_ID_LEN + 1, "key_%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
    return LX_OK;
}

bool lx_store_key_secret_valid(lx_str s)
{
    lx_str prefix = LX_STR_LIT(LX_STORE_KEY_PREFIX);
    if (s.len != LX_STORE_KEY_SECRET_LEN || !lx_str_starts_with(s, prefix))
        return false;
    for (size_t i = prefix.len; i < s.len; i++) {
        char c = s.ptr[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
            return false;
    }
    return true;
}

/* The JSON array text of the models, "" for none; NULL when out of memory. */
static char *models_json(const char *const *models, size_t n)
{
    if (n == 0)
        return strdup("");
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *s = cJSON_CreateString(models[i]);
        if (s == NULL || !cJSON_AddItemToArray(arr, s)) {
            cJSON_Delete(s);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    char *text = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    return text;
}

static int check_new_key(const char *name, const char *const *models, size_t n_models, char *err,
                         size_t errlen)
{
    if (name == NULL || !*name || strlen(name) > LX_STORE_KEY_MAX_NAME) {
        set_err(err, errlen, "a key name is 1 to %d bytes", LX_STORE_KEY_MAX_NAME);
        return LX_ERR;
    }
    if (n_models > LX_STORE_KEY_MAX_MODELS) {
        set_err(err, errlen, "at most %d models per key", LX_STORE_KEY_MAX_MODELS);
        return LX_ERR;
    }
    for (size_t i = 0; i < n_models; i++)
        if (!*models[i] || strlen(models[i]) > LX_STORE_KEY_MAX_NAME) {
            set_err(err, errlen, "a model name is 1 to %d bytes", LX_STORE_KEY_MAX_NAME);
            return LX_ERR;
        }
    return LX_OK;
}

/* Inserts one row; LX_AGAIN when the random id or hash collided. */
static int insert_key(struct lx_store_keys *s, const char *id, const char *name,
                      const unsigned char hash[SHA256_LEN], const char *models, char *err,
                      size_t errlen)
{
    static const char sql[] = "INSERT INTO keys (id, name, secret_sha256, created_at, "
                              "allowed_models) VALUES (?, ?, ?, ?, ?)";
    char created[32];
    lx_clock_format_rfc3339(lx_clock_wall_ms(), created);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, hash, SHA256_LEN, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, created, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, models, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return LX_OK;
    if (rc == SQLITE_CONSTRAINT)
        return LX_AGAIN;
    set_err(err, errlen, "key store %s: %s", s->path, sqlite3_errmsg(s->db));
    return LX_ERR;
}

int lx_store_keys_create(struct lx_store_keys *s, const char *name, const char *const *models,
                         size_t n_models, char id[LX_STORE_KEY_ID_LEN + 1],
                         char secret[LX_STORE_KEY_SECRET_LEN + 1], char *err, size_t errlen)
{
    if (check_new_key(name, models, n_models, err, errlen) != LX_OK)
        return LX_ERR;
    char *json = models_json(models, n_models);
    if (json == NULL) {
        set_err(err, errlen, "out of memory");
        return LX_ERR;
    }
    size_t plen = strlen(LX_STORE_KEY_PREFIX);
    unsigned char hash[SHA256_LEN];
    int rc = LX_AGAIN;
    for (int tries = 0; rc == LX_AGAIN && tries < 8; tries++) {
        memcpy(secret, LX_STORE_KEY_PREFIX, plen);
        if (random_base62(secret + plen, LX_STORE_KEY_SECRET_LEN - plen) != LX_OK ||
            random_id(id) != LX_OK || sha256(secret, LX_STORE_KEY_SECRET_LEN, hash) != LX_OK) {
            set_err(err, errlen, "no random bytes from OpenSSL");
            rc = LX_ERR;
            break;
        }
        secret[LX_STORE_KEY_SECRET_LEN] = '\0';
        rc = insert_key(s, id, name, hash, json, err, errlen);
    }
    if (rc == LX_AGAIN)
        set_err(err, errlen, "could not draw a unique key id");
    if (rc != LX_OK)
        OPENSSL_cleanse(secret, LX_STORE_KEY_SECRET_LEN + 1);
    free(json);
    return rc == LX_OK ? LX_OK : LX_ERR;
}

int lx_store_keys_revoke(struct lx_store_keys *s, const char *id, char *err, size_t errlen)
{
    static const char sql[] = "UPDATE keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL";
    char now[32];
    lx_clock_format_rfc3339(lx_clock_wall_ms(), now);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        set_err(err, errlen, "key store %s: %s", s->path, sqlite3_errmsg(s->db));
        return LX_ERR;
    }
    return sqlite3_changes(s->db) == 1 ? LX_OK : LX_AGAIN;
}

static const char *column_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : NULL;
}

int lx_store_keys_list(struct lx_store_keys *s, lx_store_key_fn fn, void *data, char *err,
                       size_t errlen)
{
    static const char sql[] = "SELECT id, name, created_at, revoked_at, allowed_models FROM keys "
                              "ORDER BY created_at, id";
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct lx_store_key_info k = {column_text(st, 0), column_text(st, 1), column_text(st, 2),
                                      column_text(st, 3), column_text(st, 4)};
        if (!k.allowed_models)
            k.allowed_models = "";
        fn(data, &k);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        set_err(err, errlen, "key store %s: %s", s->path, sqlite3_errmsg(s->db));
        return LX_ERR;
    }
    return LX_OK;
}

bool lx_store_keys_changed(struct lx_store_keys *s)
{
    struct stat st;
    if (stat(s->path, &st) != 0)
        return false;
    bool same = s->seen_valid && st.st_ino == s->seen.st_ino && st.st_size == s->seen.st_size &&
                st.st_mtim.tv_sec == s->seen.st_mtim.tv_sec &&
                st.st_mtim.tv_nsec == s->seen.st_mtim.tv_nsec;
    s->seen = st;
    s->seen_valid = true;
    return !same;
}

/* ---- the keyring -------------------------------------------------------- */

void lx_store_keyring_free(struct lx_store_keyring *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++) {
        for (size_t m = 0; m < r->keys[i].n_models; m++)
            free(r->keys[i].models[m]);
        free(r->keys[i].models);
    }
    free(r->keys);
    free(r);
}

/* Fills k->models from the JSON array text (NULL or "" = every model). */
static int parse_models(struct lx_store_key *k, const char *json)
{
    if (json == NULL || *json == '\0')
        return LX_OK;
    cJSON *arr = cJSON_Parse(json);
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1;
    int rc = LX_ERR;
    if (n < 0 || n > LX_STORE_KEY_MAX_MODELS)
        goto done;
    /* an empty array allows nothing: keep a non-NULL list */
    if ((k->models = calloc((size_t)n + 1, sizeof(char *))) == NULL)
        goto done;
    const cJSON *item;
    cJSON_ArrayForEach(item, arr)
    {
        if (!cJSON_IsString(item) || (k->models[k->n_models] = strdup(item->valuestring)) == NULL)
            goto done;
        k->n_models++;
    }
    rc = LX_OK;
done:
    cJSON_Delete(arr);
    return rc;
}

static int keyring_add(struct lx_store_keyring *r, size_t *cap, sqlite3_stmt *st)
{
    const char *id = column_text(st, 0);
    const void *hash = sqlite3_column_blob(st, 1);
    if (id == NULL || strlen(id) > LX_STORE_KEY_ID_LEN || hash == NULL ||
        sqlite3_column_bytes(st, 1) != SHA256_LEN)
        return LX_AGAIN; /* not a row this code wrote: skip it */
    if (r->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct lx_store_key *nk = realloc(r->keys, ncap * sizeof(*nk));
        if (nk == NULL)
            return LX_ERR;
        r->keys = nk;
        *cap = ncap;
    }
    struct lx_store_key *k = &r->keys[r->n];
    memset(k, 0, sizeof(*k));
    snprintf(k->id, sizeof(k->id), "%s", id);
    memcpy(k->hash, hash, SHA256_LEN);
    r->n++; /* counted before parsing so that a failure frees what it holds */
    return parse_models(k, column_text(st, 2));
}

struct lx_store_keyring *lx_store_keyring_load(struct lx_store_keys *s, char *err, size_t errlen)
{
    static const char sql[] =
        "SELECT id, secret_sha256, allowed_models FROM keys WHERE revoked_at IS NULL LIMIT ?";
    struct lx_store_keyring *r = calloc(1, sizeof(*r));
    size_t cap = 0;
    sqlite3_stmt *st = NULL;
    if (r == NULL) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        sqlite3_bind_int(st, 1, LX_STORE_KEYRING_MAX);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int added = keyring_add(r, &cap, st);
        if (added == LX_ERR) {
            set_err(err, errlen, "key store %s: out of memory or a bad allowed_models value",
                    s->path);
            goto fail;
        }
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_DONE) {
        set_err(err, errlen, "key store %s: %s", s->path, sqlite3_errmsg(s->db));
        goto fail;
    }
    sqlite3_finalize(st);
    return r;
fail:
    sqlite3_finalize(st);
    lx_store_keyring_free(r);
    return NULL;
}

size_t lx_store_keyring_count(const struct lx_store_keyring *r)
{
    return r ? r->n : 0;
}

const struct lx_store_key *lx_store_keyring_find(const struct lx_store_keyring *r, lx_str secret)
{
    unsigned char h[SHA256_LEN];
    if (r == NULL || !lx_store_key_secret_valid(secret) ||
        sha256(secret.ptr, secret.len, h) != LX_OK)
        return NULL;
    const struct lx_store_key *found = NULL;
    for (size_t i = 0; i < r->n; i++)
        if (CRYPTO_memcmp(h, r->keys[i].hash, SHA256_LEN) == 0)
            found = &r->keys[i];
    OPENSSL_cleanse(h, sizeof(h));
    return found;
}

const char *lx_store_key_id(const struct lx_store_key *k)
{
    return k->id;
}

bool lx_store_key_allows(const struct lx_store_key *k, lx_str model)
{
    if (k->models == NULL)
        return true;
    for (size_t i = 0; i < k->n_models; i++)
        if (lx_str_eq_cstr(model, k->models[i]))
            return true;
    return false;
}
