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
    char **tools, **tags; /* what settings' lists point to */
    struct lx_store_key_settings settings;
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

/* Version 2: the per-key settings. Each statement runs once, when the
 * store's user_version is below 2; a store written by an older llmux gets
 * the columns with their defaults and keeps working. */
static const char *const migrate_v2[] = {
    "ALTER TABLE keys ADD COLUMN allowed_tools TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE keys ADD COLUMN rpm INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE keys ADD COLUMN tpm INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE keys ADD COLUMN max_concurrent INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE keys ADD COLUMN budget_usd REAL NOT NULL DEFAULT 0",
    "ALTER TABLE keys ADD COLUMN spent_usd REAL NOT NULL DEFAULT 0",
    "ALTER TABLE keys ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal'",
    "ALTER TABLE keys ADD COLUMN tags TEXT NOT NULL DEFAULT ''",
};
enum { SCHEMA_VERSION = 2 };

static const char *const priority_names[] = {"normal", "high", "low"};

const char *lx_store_key_priority_name(enum lx_store_key_priority p)
{
    return (unsigned)p < LX_ARRAY_LEN(priority_names) ? priority_names[p] : "normal";
}

int lx_store_key_priority_parse(const char *s)
{
    for (size_t i = 0; s && i < LX_ARRAY_LEN(priority_names); i++)
        if (strcmp(s, priority_names[i]) == 0)
            return (int)i;
    return -1;
}

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

static int user_version(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Brings the table to SCHEMA_VERSION in one transaction (two processes
 * opening an old store at once: the second waits, then sees version 2). */
static int migrate(struct lx_store_keys *s)
{
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return LX_ERR;
    int v = user_version(s->db), rc = v < 0 ? SQLITE_ERROR : SQLITE_OK;
    for (size_t i = 0; rc == SQLITE_OK && v < SCHEMA_VERSION && i < LX_ARRAY_LEN(migrate_v2); i++)
        rc = sqlite3_exec(s->db, migrate_v2[i], NULL, NULL, NULL);
    if (rc == SQLITE_OK && v < SCHEMA_VERSION)
        rc = sqlite3_exec(s->db, "PRAGMA user_version = 2", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return LX_ERR;
    }
    return sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? LX_OK : LX_ERR;
}

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
    if (sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK || migrate(s) != LX_OK) {
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

/* The JSON array text of the names, "" for none; NULL when out of memory. */
static char *names_json(const char *const *models, size_t n)
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

static int check_names(const char *what, const char *const *names, size_t n, size_t max, char *err,
                       size_t errlen)
{
    if (n > max) {
        set_err(err, errlen, "at most %zu %ss per key", max, what);
        return LX_ERR;
    }
    for (size_t i = 0; i < n; i++)
        if (names[i] == NULL || !*names[i] || strlen(names[i]) > LX_STORE_KEY_MAX_NAME) {
            set_err(err, errlen, "a %s name is 1 to %d bytes", what, LX_STORE_KEY_MAX_NAME);
            return LX_ERR;
        }
    return LX_OK;
}

/* Checks the fields f->set names. */
static int check_fields(const struct lx_store_key_fields *f, char *err, size_t errlen)
{
    const char *name = f->name;
    if ((f->set & LX_STORE_KEY_F_NAME) &&
        (name == NULL || !*name || strlen(name) > LX_STORE_KEY_MAX_NAME)) {
        set_err(err, errlen, "a key name is 1 to %d bytes", LX_STORE_KEY_MAX_NAME);
        return LX_ERR;
    }
    if (((f->set & LX_STORE_KEY_F_MODELS) &&
         check_names("model", f->models, f->n_models, LX_STORE_KEY_MAX_MODELS, err, errlen)) ||
        ((f->set & LX_STORE_KEY_F_TOOLS) &&
         check_names("tool", f->tools, f->n_tools, LX_STORE_KEY_MAX_TOOLS, err, errlen)) ||
        ((f->set & LX_STORE_KEY_F_TAGS) &&
         check_names("tag", f->tags, f->n_tags, LX_STORE_KEY_MAX_TAGS, err, errlen)))
        return LX_ERR;
    if (f->rpm > LX_STORE_KEY_MAX_LIMIT || f->tpm > LX_STORE_KEY_MAX_LIMIT ||
        f->max_concurrent > LX_STORE_KEY_MAX_LIMIT) {
        set_err(err, errlen, "rpm, tpm and max_concurrent are 0 to %d", LX_STORE_KEY_MAX_LIMIT);
        return LX_ERR;
    }
    if (!(f->budget_usd >= 0 && f->budget_usd <= 1e12)) {
        set_err(err, errlen, "budget_usd is a number from 0 to 1e12");
        return LX_ERR;
    }
    if ((unsigned)f->priority >= LX_ARRAY_LEN(priority_names)) {
        set_err(err, errlen, "priority is high, normal or low");
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
    /* the other settings are written by lx_store_keys_update() right after */
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
    struct lx_store_key_fields f = {.set = LX_STORE_KEY_F_NAME | LX_STORE_KEY_F_MODELS,
                                    .name = name,
                                    .models = models,
                                    .n_models = n_models};
    return lx_store_keys_create_with(s, &f, id, secret, err, errlen);
}

int lx_store_keys_create_with(struct lx_store_keys *s, const struct lx_store_key_fields *f,
                              char id[LX_STORE_KEY_ID_LEN + 1],
                              char secret[LX_STORE_KEY_SECRET_LEN + 1], char *err, size_t errlen)
{
    struct lx_store_key_fields all = *f;
    all.set |= LX_STORE_KEY_F_NAME;
    if (check_fields(&all, err, errlen) != LX_OK)
        return LX_ERR;
    char *json = names_json(f->set & LX_STORE_KEY_F_MODELS ? f->models : NULL,
                            f->set & LX_STORE_KEY_F_MODELS ? f->n_models : 0);
    if (json == NULL) {
        set_err(err, errlen, "out of memory");
        return LX_ERR;
    }
    size_t plen = strlen(LX_STORE_KEY_PREFIX);
    unsigned char hash[SHA256_LEN];
    int rc = LX_AGAIN;
    /* one transaction: the row and its settings appear together */
    sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    for (int tries = 0; rc == LX_AGAIN && tries < 8; tries++) {
        memcpy(secret, LX_STORE_KEY_PREFIX, plen);
        if (random_base62(secret + plen, LX_STORE_KEY_SECRET_LEN - plen) != LX_OK ||
            random_id(id) != LX_OK || sha256(secret, LX_STORE_KEY_SECRET_LEN, hash) != LX_OK) {
            set_err(err, errlen, "no random bytes from OpenSSL");
            rc = LX_ERR;
            break;
        }
        secret[LX_STORE_KEY_SECRET_LEN] = '\0';
        rc = insert_key(s, id, f->name, hash, json, err, errlen);
    }
    if (rc == LX_AGAIN)
        set_err(err, errlen, "could not draw a unique key id");
    all.set &= ~(unsigned)(LX_STORE_KEY_F_NAME | LX_STORE_KEY_F_MODELS);
    if (rc == LX_OK && all.set && (rc = lx_store_keys_update(s, id, &all, err, errlen)) == LX_AGAIN)
        rc = LX_ERR;
    sqlite3_exec(s->db, rc == LX_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
    if (rc != LX_OK)
        OPENSSL_cleanse(secret, LX_STORE_KEY_SECRET_LEN + 1);
    free(json);
    return rc == LX_OK ? LX_OK : LX_ERR;
}

/* Appends ", col = ?" to sql for each field set. */
static void update_sql(unsigned set, char *sql, size_t len)
{
    static const struct {
        unsigned bit;
        const char *col;
    } cols[] = {
        {LX_STORE_KEY_F_NAME, "name"},
        {LX_STORE_KEY_F_MODELS, "allowed_models"},
        {LX_STORE_KEY_F_TOOLS, "allowed_tools"},
        {LX_STORE_KEY_F_RPM, "rpm"},
        {LX_STORE_KEY_F_TPM, "tpm"},
        {LX_STORE_KEY_F_MAX_CONCURRENT, "max_concurrent"},
        {LX_STORE_KEY_F_BUDGET, "budget_usd"},
        {LX_STORE_KEY_F_PRIORITY, "priority"},
        {LX_STORE_KEY_F_TAGS, "tags"},
    };
    size_t used = (size_t)snprintf(sql, len, "UPDATE keys SET id = id");
    for (size_t i = 0; i < LX_ARRAY_LEN(cols); i++)
        if (set & cols[i].bit)
            used += (size_t)snprintf(sql + used, len - used, ", %s = ?", cols[i].col);
    snprintf(sql + used, len - used, " WHERE id = ? AND revoked_at IS NULL");
}

/* Binds the values in the order update_sql() wrote the columns. */
static int update_bind(sqlite3_stmt *st, const struct lx_store_key_fields *f, const char *id,
                       char *lists[3])
{
    int i = 1;
    if (f->set & LX_STORE_KEY_F_NAME)
        sqlite3_bind_text(st, i++, f->name, -1, SQLITE_STATIC);
    if (f->set & LX_STORE_KEY_F_MODELS)
        sqlite3_bind_text(st, i++, lists[0], -1, SQLITE_STATIC);
    if (f->set & LX_STORE_KEY_F_TOOLS)
        sqlite3_bind_text(st, i++, lists[1], -1, SQLITE_STATIC);
    if (f->set & LX_STORE_KEY_F_RPM)
        sqlite3_bind_int64(st, i++, f->rpm);
    if (f->set & LX_STORE_KEY_F_TPM)
        sqlite3_bind_int64(st, i++, f->tpm);
    if (f->set & LX_STORE_KEY_F_MAX_CONCURRENT)
        sqlite3_bind_int64(st, i++, f->max_concurrent);
    if (f->set & LX_STORE_KEY_F_BUDGET)
        sqlite3_bind_double(st, i++, f->budget_usd);
    if (f->set & LX_STORE_KEY_F_PRIORITY)
        sqlite3_bind_text(st, i++, lx_store_key_priority_name(f->priority), -1, SQLITE_STATIC);
    if (f->set & LX_STORE_KEY_F_TAGS)
        sqlite3_bind_text(st, i++, lists[2], -1, SQLITE_STATIC);
    return sqlite3_bind_text(st, i, id, -1, SQLITE_STATIC);
}

int lx_store_keys_update(struct lx_store_keys *s, const char *id,
                         const struct lx_store_key_fields *f, char *err, size_t errlen)
{
    if (check_fields(f, err, errlen) != LX_OK)
        return LX_ERR;
    char *lists[3] = {names_json(f->models, f->n_models), names_json(f->tools, f->n_tools),
                      names_json(f->tags, f->n_tags)};
    char sql[512];
    sqlite3_stmt *st = NULL;
    int rc = SQLITE_NOMEM;
    if (lists[0] && lists[1] && lists[2]) {
        update_sql(f->set, sql, sizeof(sql));
        rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    }
    if (rc == SQLITE_OK) {
        update_bind(st, f, id, lists);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    for (int i = 0; i < 3; i++)
        free(lists[i]);
    if (rc != SQLITE_DONE) {
        set_err(err, errlen, "key store %s: %s", s->path,
                rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(s->db));
        return LX_ERR;
    }
    return sqlite3_changes(s->db) == 1 ? LX_OK : LX_AGAIN;
}

int lx_store_keys_add_spend(struct lx_store_keys *s, const char *id, double usd, char *err,
                            size_t errlen)
{
    static const char sql[] = "UPDATE keys SET spent_usd = spent_usd + ? WHERE id = ?";
    if (!(usd >= 0 && usd <= 1e12)) {
        set_err(err, errlen, "a spend is a number from 0 to 1e12");
        return LX_ERR;
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_double(st, 1, usd);
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

#define INFO_COLUMNS                                                                               \
    "id, name, created_at, revoked_at, allowed_models, allowed_tools, tags, priority, rpm, tpm, "  \
    "max_concurrent, budget_usd, spent_usd FROM keys "

static const char *text_or_empty(sqlite3_stmt *st, int i)
{
    const char *t = column_text(st, i);
    return t ? t : "";
}

static uint32_t column_u32(sqlite3_stmt *st, int i)
{
    sqlite3_int64 v = sqlite3_column_int64(st, i);
    return v < 0 ? 0 : v > LX_STORE_KEY_MAX_LIMIT ? LX_STORE_KEY_MAX_LIMIT : (uint32_t)v;
}

/* Runs a prepared SELECT INFO_COLUMNS and calls fn for each row; the
 * number of rows in *rows. Finalizes st. */
static int each_info(struct lx_store_keys *s, sqlite3_stmt *st, int rc, lx_store_key_fn fn,
                     void *data, size_t *rows, char *err, size_t errlen)
{
    *rows = 0;
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct lx_store_key_info k = {
            .id = column_text(st, 0),
            .name = column_text(st, 1),
            .created_at = column_text(st, 2),
            .revoked_at = column_text(st, 3),
            .allowed_models = text_or_empty(st, 4),
            .allowed_tools = text_or_empty(st, 5),
            .tags = text_or_empty(st, 6),
            .priority = text_or_empty(st, 7),
            .rpm = column_u32(st, 8),
            .tpm = column_u32(st, 9),
            .max_concurrent = column_u32(st, 10),
            .budget_usd = sqlite3_column_double(st, 11),
            .spent_usd = sqlite3_column_double(st, 12),
        };
        fn(data, &k);
        (*rows)++;
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        set_err(err, errlen, "key store %s: %s", s->path, sqlite3_errmsg(s->db));
        return LX_ERR;
    }
    return LX_OK;
}

int lx_store_keys_list(struct lx_store_keys *s, lx_store_key_fn fn, void *data, char *err,
                       size_t errlen)
{
    static const char sql[] = "SELECT " INFO_COLUMNS "ORDER BY created_at, id";
    sqlite3_stmt *st = NULL;
    size_t rows;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    return each_info(s, st, rc, fn, data, &rows, err, errlen);
}

int lx_store_keys_get(struct lx_store_keys *s, const char *id, lx_store_key_fn fn, void *data,
                      char *err, size_t errlen)
{
    static const char sql[] = "SELECT " INFO_COLUMNS "WHERE id = ?";
    sqlite3_stmt *st = NULL;
    size_t rows;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (each_info(s, st, rc, fn, data, &rows, err, errlen) != LX_OK)
        return LX_ERR;
    return rows ? LX_OK : LX_AGAIN;
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

static void free_names(char **names, size_t n);

void lx_store_keyring_free(struct lx_store_keyring *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++) {
        struct lx_store_key *k = &r->keys[i];
        free_names(k->models, k->n_models);
        free_names(k->tools, k->settings.n_tools);
        free_names(k->tags, k->settings.n_tags);
    }
    free(r->keys);
    free(r);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

/* Parses the JSON array text json (NULL or "" = no list: *out stays NULL)
 * into at most max strings. An empty array gives a non-NULL list of 0. */
static int parse_names(const char *json, size_t max, char ***out, size_t *n_out)
{
    if (json == NULL || *json == '\0')
        return LX_OK;
    cJSON *arr = cJSON_Parse(json);
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1;
    int rc = LX_ERR;
    if (n < 0 || (size_t)n > max)
        goto done;
    if ((*out = calloc((size_t)n + 1, sizeof(char *))) == NULL)
        goto done;
    const cJSON *item;
    cJSON_ArrayForEach(item, arr)
    {
        if (!cJSON_IsString(item) || ((*out)[*n_out] = strdup(item->valuestring)) == NULL)
            goto done;
        (*n_out)++;
    }
    rc = LX_OK;
done:
    cJSON_Delete(arr);
    return rc;
}

/* Columns 3.. of the keyring query: the key's settings. */
static int parse_settings(struct lx_store_key *k, sqlite3_stmt *st)
{
    struct lx_store_key_settings *ks = &k->settings;
    if (parse_names(column_text(st, 2), LX_STORE_KEY_MAX_MODELS, &k->models, &k->n_models) !=
            LX_OK ||
        parse_names(column_text(st, 3), LX_STORE_KEY_MAX_TOOLS, &k->tools, &ks->n_tools) != LX_OK ||
        parse_names(column_text(st, 4), LX_STORE_KEY_MAX_TAGS, &k->tags, &ks->n_tags) != LX_OK)
        return LX_ERR;
    ks->tools = (const char *const *)k->tools;
    ks->tags = (const char *const *)k->tags;
    ks->rpm = column_u32(st, 5);
    ks->tpm = column_u32(st, 6);
    ks->max_concurrent = column_u32(st, 7);
    ks->budget_usd = sqlite3_column_double(st, 8);
    ks->spent_usd = sqlite3_column_double(st, 9);
    int p = lx_store_key_priority_parse(column_text(st, 10));
    ks->priority = p < 0 ? LX_STORE_KEY_PRIORITY_NORMAL : (enum lx_store_key_priority)p;
    return LX_OK;
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
    return parse_settings(k, st);
}

struct lx_store_keyring *lx_store_keyring_load(struct lx_store_keys *s, char *err, size_t errlen)
{
    static const char sql[] =
        "SELECT id, secret_sha256, allowed_models, allowed_tools, tags, rpm, tpm, max_concurrent, "
        "budget_usd, spent_usd, priority FROM keys WHERE revoked_at IS NULL LIMIT ?";
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
            set_err(err, errlen, "key store %s: out of memory or a bad list value", s->path);
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

const struct lx_store_key_settings *lx_store_key_settings(const struct lx_store_key *k)
{
    return &k->settings;
}

enum lx_store_key_priority lx_store_key_priority(const struct lx_store_key *k)
{
    return k->settings.priority;
}
