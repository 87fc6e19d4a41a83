/*
 * test_store.c — unit tests for src/store/keys: the secret's format, create
 * and lookup, revocation, allowed models, the file-change check, and that
 * the SQLite file holds the hash and never the secret.
 */
#define _GNU_SOURCE /* memmem */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/keys.h"

static char dir[] = "/tmp/llmux-test-store-XXXXXX";
static char path[256];
static struct lx_store_keys *store;

static void setup(void)
{
    char err[256];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/keys.db", dir);
    store = lx_store_keys_open(path, err, sizeof(err));
    cr_assert_not_null(store, "%s", err);
}

static void teardown(void)
{
    lx_store_keys_close(store);
    unlink(path);
    rmdir(dir);
    strcpy(dir, "/tmp/llmux-test-store-XXXXXX");
}

TestSuite(store_keys, .init = setup, .fini = teardown);

static void create(const char *name, const char *const *models, size_t n, char *id, char *secret)
{
    char err[256];
    cr_assert_eq(lx_store_keys_create(store, name, models, n, id, secret, err, 256), LX_OK, "%s",
                 err);
}

static struct lx_store_keyring *load(void)
{
    char err[256];
    struct lx_store_keyring *r = lx_store_keyring_load(store, err, sizeof(err));
    cr_assert_not_null(r, "%s", err);
    return r;
}

Test(store_keys, secret_format)
{
    char id[LX_STORE_KEY_ID_LEN + 1], s1[LX_STORE_KEY_SECRET_LEN + 1], s2[sizeof(s1)];
    create("a", NULL, 0, id, s1);
    create("b", NULL, 0, id, s2);
    cr_assert_eq(strlen(s1), 41);
    cr_assert_eq(strncmp(s1, "llmux-sk-", 9), 0);
    cr_assert_eq(strspn(s1 + 9, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
                 32);
    cr_assert_str_neq(s1, s2);
    cr_assert(lx_store_key_secret_valid(lx_str_from_cstr(s1)));
    cr_assert_eq(strlen(id), 12);
    cr_assert_eq(strncmp(id, "key_", 4), 0);
    cr_assert_eq(strspn(id + 4, "0123456789abcdef"), 8);
    cr_assert_not(lx_store_key_secret_valid(LX_STR_LIT("llmux-sk-short")));
    cr_assert_not(
        lx_store_key_secret_valid(LX_STR_LIT("sk-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")));
    cr_assert_not(
        lx_store_key_secret_valid(LX_STR_LIT("llmux-sk-aaaaaaaaaaaaaaaa-aaaaaaaaaaaaaaa")));
}

Test(store_keys, create_then_find)
{
    char id[LX_STORE_KEY_ID_LEN + 1], secret[LX_STORE_KEY_SECRET_LEN + 1], other[sizeof(secret)];
    create("alice", NULL, 0, id, secret);
    create("bob", NULL, 0, other, other);
    struct lx_store_keyring *r = load();
    cr_assert_eq(lx_store_keyring_count(r), 2);
    const struct lx_store_key *k = lx_store_keyring_find(r, lx_str_from_cstr(secret));
    cr_assert_not_null(k);
    cr_assert_str_eq(lx_store_key_id(k), id);
    cr_assert(lx_store_key_allows(k, LX_STR_LIT("any-model")));
    /* one character off, or a valid-looking stranger: not found */
    secret[20] = secret[20] == 'a' ? 'b' : 'a';
    cr_assert_null(lx_store_keyring_find(r, lx_str_from_cstr(secret)));
    cr_assert_null(
        lx_store_keyring_find(r, LX_STR_LIT("llmux-sk-00000000000000000000000000000000")));
    cr_assert_null(lx_store_keyring_find(r, LX_STR_LIT("")));
    lx_store_keyring_free(r);
}

Test(store_keys, revoke)
{
    char id[LX_STORE_KEY_ID_LEN + 1], secret[LX_STORE_KEY_SECRET_LEN + 1], err[256];
    create("alice", NULL, 0, id, secret);
    cr_assert_eq(lx_store_keys_revoke(store, id, err, sizeof(err)), LX_OK, "%s", err);
    cr_assert_eq(lx_store_keys_revoke(store, id, err, sizeof(err)), LX_AGAIN);
    cr_assert_eq(lx_store_keys_revoke(store, "key_00000000", err, sizeof(err)), LX_AGAIN);
    struct lx_store_keyring *r = load();
    cr_assert_eq(lx_store_keyring_count(r), 0);
    cr_assert_null(lx_store_keyring_find(r, lx_str_from_cstr(secret)));
    lx_store_keyring_free(r);
}

Test(store_keys, allowed_models)
{
    const char *models[] = {"small", "big"};
    char id[LX_STORE_KEY_ID_LEN + 1], secret[LX_STORE_KEY_SECRET_LEN + 1];
    create("limited", models, 2, id, secret);
    struct lx_store_keyring *r = load();
    const struct lx_store_key *k = lx_store_keyring_find(r, lx_str_from_cstr(secret));
    cr_assert_not_null(k);
    cr_assert(lx_store_key_allows(k, LX_STR_LIT("small")));
    cr_assert(lx_store_key_allows(k, LX_STR_LIT("big")));
    cr_assert_not(lx_store_key_allows(k, LX_STR_LIT("bigger")));
    cr_assert_not(lx_store_key_allows(k, LX_STR_LIT("")));
    lx_store_keyring_free(r);
}

Test(store_keys, bad_input_refused)
{
    const char *empty[] = {""};
    char id[LX_STORE_KEY_ID_LEN + 1], secret[LX_STORE_KEY_SECRET_LEN + 1], err[256];
    cr_assert_eq(lx_store_keys_create(store, "", NULL, 0, id, secret, err, 256), LX_ERR);
    cr_assert_eq(lx_store_keys_create(store, "x", empty, 1, id, secret, err, 256), LX_ERR);
}

struct seen {
    int n;
    char ids[4][LX_STORE_KEY_ID_LEN + 1];
    bool revoked[4];
};

static void collect(void *data, const struct lx_store_key_info *k)
{
    struct seen *s = data;
    snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", k->id);
    s->revoked[s->n++] = k->revoked_at != NULL;
}

Test(store_keys, list_shows_revoked)
{
    char a[LX_STORE_KEY_ID_LEN + 1], b[sizeof(a)], secret[LX_STORE_KEY_SECRET_LEN + 1], err[256];
    create("a", NULL, 0, a, secret);
    create("b", NULL, 0, b, secret);
    cr_assert_eq(lx_store_keys_revoke(store, b, err, sizeof(err)), LX_OK);
    struct seen s = {0};
    cr_assert_eq(lx_store_keys_list(store, collect, &s, err, sizeof(err)), LX_OK);
    cr_assert_eq(s.n, 2);
    cr_assert(s.revoked[0] != s.revoked[1]);
}

/* The file holds the SHA-256 and never the secret, in any spelling. */
Test(store_keys, file_holds_hash_only)
{
    char id[LX_STORE_KEY_ID_LEN + 1], secret[LX_STORE_KEY_SECRET_LEN + 1];
    create("alice", NULL, 0, id, secret);
    lx_store_keys_close(store);
    store = NULL;
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    static char data[1 << 20];
    size_t n = fread(data, 1, sizeof(data), f);
    fclose(f);
    cr_assert_gt(n, 0);
    cr_assert_null(memmem(data, n, secret, strlen(secret)));
    cr_assert_null(memmem(data, n, secret + 9, 32), "the random part is not stored either");
    cr_assert_not_null(memmem(data, n, id, strlen(id)));
    char err[256];
    store = lx_store_keys_open(path, err, sizeof(err));
    cr_assert_not_null(store);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 077, 0, "the store is private to its owner");
}

Test(store_keys, changed_after_write)
{
    char id[LX_STORE_KEY_ID_LEN + 1], secret[LX_STORE_KEY_SECRET_LEN + 1];
    cr_assert(lx_store_keys_changed(store));
    cr_assert_not(lx_store_keys_changed(store));
    create("alice", NULL, 0, id, secret);
    cr_assert(lx_store_keys_changed(store));
    cr_assert_not(lx_store_keys_changed(store));
}

/* ---- schema v2: migration and per-key settings --------------------------- */

#include <sqlite3.h>

static void note_info(void *data, const struct lx_store_key_info *k)
{
    struct lx_store_key_info *out = data;
    *out = *k;
    /* the strings live during the callback only: keep copies */
    out->allowed_tools = strdup(k->allowed_tools);
    out->tags = strdup(k->tags);
    out->priority = strdup(k->priority);
    out->allowed_models = strdup(k->allowed_models);
}

static void free_info(struct lx_store_key_info *k)
{
    free((char *)k->allowed_tools);
    free((char *)k->tags);
    free((char *)k->priority);
    free((char *)k->allowed_models);
}

Test(store_keys, migrates_a_version_1_store)
{
    char p1[300], err[256];
    snprintf(p1, sizeof(p1), "%s/old.db", dir);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(p1, &db), SQLITE_OK);
    /* the table as the first llmux wrote it, with one key */
    cr_assert_eq(sqlite3_exec(db,
                              "CREATE TABLE keys (id TEXT PRIMARY KEY, name TEXT NOT NULL,"
                              " secret_sha256 BLOB NOT NULL UNIQUE, created_at TEXT NOT NULL,"
                              " revoked_at TEXT, allowed_models TEXT NOT NULL DEFAULT '');"
                              "INSERT INTO keys VALUES ('key_0000abcd', 'old', zeroblob(32),"
                              " '2026-01-01T00:00:00.000Z', NULL, '[\"chat\"]');",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    for (int round = 0; round < 2; round++) { /* a second open must not migrate again */
        struct lx_store_keys *s = lx_store_keys_open(p1, err, sizeof(err));
        cr_assert_not_null(s, "%s", err);
        struct lx_store_key_info k = {0};
        cr_assert_eq(lx_store_keys_get(s, "key_0000abcd", note_info, &k, err, sizeof(err)), LX_OK);
        cr_expect_str_eq(k.allowed_models, "[\"chat\"]");
        cr_expect_str_eq(k.allowed_tools, "");
        cr_expect_str_eq(k.priority, "normal");
        cr_expect_eq(k.rpm + k.tpm + k.max_concurrent, 0);
        cr_expect(k.budget_usd == 0 && k.spent_usd == 0);
        free_info(&k);
        struct lx_store_keyring *r = lx_store_keyring_load(s, err, sizeof(err));
        cr_assert_not_null(r, "%s", err);
        cr_expect_eq(lx_store_keyring_count(r), (size_t)1 + (size_t)round);
        lx_store_keyring_free(r);
        /* and it takes new keys with settings */
        char id[LX_STORE_KEY_ID_LEN + 1], secret[LX_STORE_KEY_SECRET_LEN + 1];
        struct lx_store_key_fields f = {.set = LX_STORE_KEY_F_RPM, .name = "new", .rpm = 9};
        cr_expect_eq(lx_store_keys_create_with(s, &f, id, secret, err, sizeof(err)), LX_OK, "%s",
                     err);
        lx_store_keys_close(s);
    }
    cr_assert_eq(sqlite3_open(p1, &db), SQLITE_OK);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_expect_eq(sqlite3_column_int(st, 0), 2);
    sqlite3_finalize(st);
    sqlite3_close(db);
    unlink(p1);
}

Test(store_keys, settings_create_update_keyring)
{
    char id[LX_STORE_KEY_ID_LEN + 1], secret[LX_STORE_KEY_SECRET_LEN + 1], err[256];
    const char *tools[] = {"get_weather", "get_time"}, *tags[] = {"team-a"};
    struct lx_store_key_fields f = {
        .set = LX_STORE_KEY_F_TOOLS | LX_STORE_KEY_F_RPM | LX_STORE_KEY_F_TPM |
               LX_STORE_KEY_F_MAX_CONCURRENT | LX_STORE_KEY_F_BUDGET | LX_STORE_KEY_F_PRIORITY |
               LX_STORE_KEY_F_TAGS,
        .name = "svc",
        .tools = tools,
        .n_tools = 2,
        .tags = tags,
        .n_tags = 1,
        .rpm = 60,
        .tpm = 1000,
        .max_concurrent = 4,
        .budget_usd = 2.5,
        .priority = LX_STORE_KEY_PRIORITY_HIGH,
    };
    cr_assert_eq(lx_store_keys_create_with(store, &f, id, secret, err, sizeof(err)), LX_OK, "%s",
                 err);
    cr_assert_eq(lx_store_keys_add_spend(store, id, 0.75, err, sizeof(err)), LX_OK);
    struct lx_store_keyring *r = load();
    const struct lx_store_key *k = lx_store_keyring_find(r, lx_str_from_cstr(secret));
    cr_assert_not_null(k);
    const struct lx_store_key_settings *ks = lx_store_key_settings(k);
    cr_expect_eq(ks->n_tools, 2);
    cr_expect_str_eq(ks->tools[1], "get_time");
    cr_expect_eq(ks->n_tags, 1);
    cr_expect_str_eq(ks->tags[0], "team-a");
    cr_expect_eq(ks->rpm, 60);
    cr_expect_eq(ks->tpm, 1000);
    cr_expect_eq(ks->max_concurrent, 4);
    cr_expect(ks->budget_usd == 2.5 && ks->spent_usd == 0.75);
    cr_expect_eq(lx_store_key_priority(k), LX_STORE_KEY_PRIORITY_HIGH);
    lx_store_keyring_free(r);

    /* update: only the named fields change; an empty list clears */
    struct lx_store_key_fields u = {.set = LX_STORE_KEY_F_TOOLS | LX_STORE_KEY_F_PRIORITY,
                                    .priority = LX_STORE_KEY_PRIORITY_LOW};
    cr_assert_eq(lx_store_keys_update(store, id, &u, err, sizeof(err)), LX_OK, "%s", err);
    r = load();
    ks = lx_store_key_settings(lx_store_keyring_find(r, lx_str_from_cstr(secret)));
    cr_expect_null(ks->tools, "no list: any tool");
    cr_expect_eq(ks->rpm, 60);
    cr_expect_eq(ks->priority, LX_STORE_KEY_PRIORITY_LOW);
    lx_store_keyring_free(r);

    /* bad values, unknown and revoked ids */
    struct lx_store_key_fields bad = {.set = LX_STORE_KEY_F_RPM, .rpm = LX_STORE_KEY_MAX_LIMIT + 1};
    cr_expect_eq(lx_store_keys_update(store, id, &bad, err, sizeof(err)), LX_ERR);
    bad = (struct lx_store_key_fields){.set = LX_STORE_KEY_F_BUDGET, .budget_usd = -1};
    cr_expect_eq(lx_store_keys_update(store, id, &bad, err, sizeof(err)), LX_ERR);
    const char *empty[] = {""};
    bad = (struct lx_store_key_fields){.set = LX_STORE_KEY_F_TAGS, .tags = empty, .n_tags = 1};
    cr_expect_eq(lx_store_keys_update(store, id, &bad, err, sizeof(err)), LX_ERR);
    cr_expect_eq(lx_store_keys_update(store, "key_00000000", &u, err, sizeof(err)), LX_AGAIN);
    cr_assert_eq(lx_store_keys_revoke(store, id, err, sizeof(err)), LX_OK);
    cr_expect_eq(lx_store_keys_update(store, id, &u, err, sizeof(err)), LX_AGAIN);
    struct lx_store_key_info info = {0};
    cr_assert_eq(lx_store_keys_get(store, id, note_info, &info, err, sizeof(err)), LX_OK);
    cr_expect_not_null(info.revoked_at);
    cr_expect_str_eq(info.priority, "low");
    cr_expect_str_eq(info.tags, "[\"team-a\"]");
    free_info(&info);
    cr_expect_eq(lx_store_keys_get(store, "key_00000000", note_info, &info, err, sizeof(err)),
                 LX_AGAIN);
    cr_expect_str_eq(lx_store_key_priority_name(LX_STORE_KEY_PRIORITY_HIGH), "high");
    cr_expect_eq(lx_store_key_priority_parse("low"), LX_STORE_KEY_PRIORITY_LOW);
    cr_expect_eq(lx_store_key_priority_parse("urgent"), -1);
}
