/*
 * keys.h — virtual API keys: the SQLite table that holds them and the
 * in-memory keyring the request path checks against.
 *
 * A key's secret is "llmux-sk-" followed by 32 base62 characters drawn from
 * OpenSSL's RAND_bytes (about 190 bits). The store keeps only its SHA-256,
 * never the secret; the secret is handed to the caller once, at creation.
 * Each key has a short public id ("key_" + 8 hex digits) that names it in
 * lists, revocations and audit records.
 *
 * Table `keys` (created when missing):
 *   id              TEXT PRIMARY KEY      "key_ab12cd34"
 *   name            TEXT NOT NULL         what the operator called it
 *   secret_sha256   BLOB NOT NULL UNIQUE  32 bytes
 *   created_at      TEXT NOT NULL         RFC 3339 UTC
 *   revoked_at      TEXT                  NULL while the key is valid
 *   allowed_models  TEXT NOT NULL         a JSON array of public model names;
 *                                         "" allows every model
 *   -- schema version 2 (PRAGMA user_version; added to older stores on open):
 *   allowed_tools   TEXT NOT NULL ''      a JSON array of tool names; "" = any
 *   rpm, tpm        INTEGER NOT NULL 0    requests / tokens per minute; 0 = the
 *                                         config's per-key limit (or none)
 *   max_concurrent  INTEGER NOT NULL 0    requests in flight at once; 0 = no cap
 *   budget_usd      REAL NOT NULL 0       spend budget; 0 = none
 *   spent_usd       REAL NOT NULL 0       spent so far
 *   priority        TEXT NOT NULL 'normal'  high | normal | low
 *   tags            TEXT NOT NULL ''      a JSON array of strings; "" = none
 *
 * The store (lx_store_keys) does blocking SQLite I/O: use it from the
 * command line, at start-up, or on a worker thread, never on the event
 * loop. The keyring (lx_store_keyring) is an immutable snapshot of the
 * valid keys; looking a secret up in it does no I/O.
 */
#ifndef LX_STORE_KEYS_H
#define LX_STORE_KEYS_H

#include "../core/str.h"

#define LX_STORE_KEY_PREFIX "llmux-sk-"
enum {
    LX_STORE_KEY_SECRET_LEN = 9 + 32,   /* the prefix and 32 base62 characters */
    LX_STORE_KEY_ID_LEN = 12,           /* "key_" and 8 hex digits */
    LX_STORE_KEY_MAX_MODELS = 256,      /* allowed models per key */
    LX_STORE_KEY_MAX_NAME = 128,        /* bytes of a key's name or a model name */
    LX_STORE_KEYRING_MAX = 100000,      /* valid keys loaded into a keyring */
    LX_STORE_KEY_MAX_TOOLS = 256,       /* allowed tools per key */
    LX_STORE_KEY_MAX_TAGS = 32,         /* tags per key */
    LX_STORE_KEY_MAX_LIMIT = 100000000, /* rpm, tpm, max_concurrent */
};

enum lx_store_key_priority {
    LX_STORE_KEY_PRIORITY_NORMAL,
    LX_STORE_KEY_PRIORITY_HIGH,
    LX_STORE_KEY_PRIORITY_LOW,
};
/* "normal", "high", "low"; and back (-1 for anything else). */
const char *lx_store_key_priority_name(enum lx_store_key_priority p);
int lx_store_key_priority_parse(const char *s);

/* Which fields of struct lx_store_key_fields a create or update sets. */
enum {
    LX_STORE_KEY_F_MODELS = 1u << 0,
    LX_STORE_KEY_F_TOOLS = 1u << 1,
    LX_STORE_KEY_F_RPM = 1u << 2,
    LX_STORE_KEY_F_TPM = 1u << 3,
    LX_STORE_KEY_F_MAX_CONCURRENT = 1u << 4,
    LX_STORE_KEY_F_BUDGET = 1u << 5,
    LX_STORE_KEY_F_PRIORITY = 1u << 6,
    LX_STORE_KEY_F_TAGS = 1u << 7,
    LX_STORE_KEY_F_NAME = 1u << 8,
};

/* A key's settings as given to create or update; the caller owns every
 * string. A list of 0 names clears it (every model, any tool, no tags). */
struct lx_store_key_fields {
    unsigned set; /* LX_STORE_KEY_F_* bits; create treats unset fields as defaults */
    const char *name;
    const char *const *models;
    size_t n_models;
    const char *const *tools;
    size_t n_tools;
    const char *const *tags;
    size_t n_tags;
    uint32_t rpm, tpm, max_concurrent; /* 0 .. LX_STORE_KEY_MAX_LIMIT */
    double budget_usd;                 /* >= 0; 0 = none */
    enum lx_store_key_priority priority;
};

struct lx_store_keys;

/* Opens (creating the file and table when missing) the key store at path.
 * Returns NULL with a message in err on failure. Close with
 * lx_store_keys_close(). */
struct lx_store_keys *lx_store_keys_open(const char *path, char *err, size_t errlen);
void lx_store_keys_close(struct lx_store_keys *s);

/* Creates a key named name, allowed to use the n_models models (0: every
 * model). Writes its id (NUL-terminated) into id and its secret into secret;
 * the secret exists nowhere else afterwards. Returns LX_OK, or LX_ERR with a
 * message in err. */
int lx_store_keys_create(struct lx_store_keys *s, const char *name, const char *const *models,
                         size_t n_models, char id[LX_STORE_KEY_ID_LEN + 1],
                         char secret[LX_STORE_KEY_SECRET_LEN + 1], char *err, size_t errlen);

/* lx_store_keys_create() with every setting (f->name is the name). */
int lx_store_keys_create_with(struct lx_store_keys *s, const struct lx_store_key_fields *f,
                              char id[LX_STORE_KEY_ID_LEN + 1],
                              char secret[LX_STORE_KEY_SECRET_LEN + 1], char *err, size_t errlen);

/* Changes the fields f->set names of the valid key id. Returns LX_OK,
 * LX_AGAIN when no valid key has that id, LX_ERR with a message in err
 * (bad values included). */
int lx_store_keys_update(struct lx_store_keys *s, const char *id,
                         const struct lx_store_key_fields *f, char *err, size_t errlen);

/* Adds usd (>= 0) to the key's spent_usd. LX_AGAIN when id is unknown. */
int lx_store_keys_add_spend(struct lx_store_keys *s, const char *id, double usd, char *err,
                            size_t errlen);

/* Marks the key id revoked. Returns LX_OK, LX_AGAIN when no valid key has
 * that id (unknown or already revoked), LX_ERR with a message in err. */
int lx_store_keys_revoke(struct lx_store_keys *s, const char *id, char *err, size_t errlen);

/* One row as lx_store_keys_list() shows it: never the hash. The strings are
 * valid during the callback only; revoked_at is NULL for a valid key;
 * allowed_models, allowed_tools and tags are JSON array text ("" = every
 * model, any tool, no tags). */
struct lx_store_key_info {
    const char *id, *name, *created_at, *revoked_at, *allowed_models;
    const char *allowed_tools, *tags, *priority;
    uint32_t rpm, tpm, max_concurrent;
    double budget_usd, spent_usd;
};
typedef void (*lx_store_key_fn)(void *data, const struct lx_store_key_info *k);
/* Calls fn for every key, oldest first. */
int lx_store_keys_list(struct lx_store_keys *s, lx_store_key_fn fn, void *data, char *err,
                       size_t errlen);
/* Calls fn for the key id (valid or revoked). LX_AGAIN when there is none. */
int lx_store_keys_get(struct lx_store_keys *s, const char *id, lx_store_key_fn fn, void *data,
                      char *err, size_t errlen);

/* True when the store's file changed (modification time, size or inode)
 * since the last call (the first call returns true). A stat(), no SQL. */
bool lx_store_keys_changed(struct lx_store_keys *s);

/* True when s has the shape of a secret (prefix, length, alphabet). */
bool lx_store_key_secret_valid(lx_str s);

struct lx_store_keyring;
struct lx_store_key;

/* Loads the valid (not revoked) keys into a new keyring. Returns NULL with
 * a message in err on failure. Free it with lx_store_keyring_free(). */
struct lx_store_keyring *lx_store_keyring_load(struct lx_store_keys *s, char *err, size_t errlen);
void lx_store_keyring_free(struct lx_store_keyring *r);
size_t lx_store_keyring_count(const struct lx_store_keyring *r);

/* The key whose secret is secret, or NULL. Hashes secret once and compares
 * the digest with every key's in constant time (CRYPTO_memcmp, no early
 * exit), so timing tells nothing about how close a guess came. The key
 * belongs to the keyring and lives as long as it. */
const struct lx_store_key *lx_store_keyring_find(const struct lx_store_keyring *r, lx_str secret);

/* The key's public id ("key_..."), NUL-terminated, owned by the keyring. */
const char *lx_store_key_id(const struct lx_store_key *k);
/* True when the key may use the public model name model. */
bool lx_store_key_allows(const struct lx_store_key *k, lx_str model);

/* A key's settings as the request path reads them; owned by the keyring,
 * valid as long as the key. tools is NULL when any tool is allowed (a
 * non-NULL list of 0 allows none); tags has n_tags strings. */
struct lx_store_key_settings {
    const char *const *tools;
    size_t n_tools;
    const char *const *tags;
    size_t n_tags;
    uint32_t rpm, tpm, max_concurrent; /* 0 = not set */
    double budget_usd, spent_usd;      /* budget 0 = none */
    enum lx_store_key_priority priority;
};
const struct lx_store_key_settings *lx_store_key_settings(const struct lx_store_key *k);
/* The key's priority class (for the admission queue). */
enum lx_store_key_priority lx_store_key_priority(const struct lx_store_key *k);

#endif
