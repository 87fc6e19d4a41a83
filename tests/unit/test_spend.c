/*
 * test_spend.c — unit tests for store/spend.h: the running total per key
 * (the larger of the store's value and what was added), and that what was
 * added lands in the key store, summed per key, by the time free returns.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/keys.h"
#include "store/spend.h"

static char dir[] = "/tmp/llmux-test-spend-XXXXXX";
static char path[256];

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/keys.db", dir);
}

static void teardown(void)
{
    unlink(path);
    char side[300];
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
    rmdir(dir);
    strcpy(dir, "/tmp/llmux-test-spend-XXXXXX");
}

static void read_spent(void *data, const struct lx_store_key_info *k)
{
    *(double *)data = k->spent_usd;
}

TestSuite(spend, .init = setup, .fini = teardown);

Test(spend, running_totals_take_the_larger_value_and_grow_by_what_is_added)
{
    char err[256], id[LX_STORE_KEY_ID_LEN + 1], secret[LX_STORE_KEY_SECRET_LEN + 1];
    struct lx_store_keys *keys = lx_store_keys_open(path, err, sizeof(err));
    cr_assert_not_null(keys, "%s", err);
    cr_assert_eq(lx_store_keys_create(keys, "k", NULL, 0, id, secret, err, sizeof(err)), LX_OK);
    struct lx_store_spend *s = lx_store_spend_new(path, err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    cr_assert_float_eq(lx_store_spend_total(s, id), -1, 0); /* not seen yet */
    cr_assert_float_eq(lx_store_spend_seen(s, id, 0.5), 0.5, 0);
    lx_store_spend_add(s, id, 0.25);
    lx_store_spend_add(s, id, 0.125);
    /* the store's value lags: the running total wins */
    cr_assert_float_eq(lx_store_spend_seen(s, id, 0.5), 0.875, 0);
    /* another process spent more: its value wins */
    cr_assert_float_eq(lx_store_spend_seen(s, id, 2.0), 2.0, 0);
    lx_store_spend_add(s, "key_unknown", 1.0); /* not tracked: queued only */
    cr_assert_float_eq(lx_store_spend_total(s, "key_unknown"), -1, 0);
    lx_store_spend_add(s, id, 0);  /* nothing */
    lx_store_spend_add(s, id, -1); /* nothing */
    lx_store_spend_free(s);        /* flushes */
    double spent = -1;
    cr_assert_eq(lx_store_keys_get(keys, id, read_spent, &spent, err, sizeof(err)), LX_OK);
    cr_assert_float_eq(spent, 0.375, 1e-12); /* what was added, not the totals seen */
    lx_store_keys_close(keys);
}

Test(spend, many_requests_of_many_keys_all_land)
{
    char err[256], ids[8][LX_STORE_KEY_ID_LEN + 1], secret[LX_STORE_KEY_SECRET_LEN + 1];
    struct lx_store_keys *keys = lx_store_keys_open(path, err, sizeof(err));
    cr_assert_not_null(keys, "%s", err);
    for (int k = 0; k < 8; k++)
        cr_assert_eq(lx_store_keys_create(keys, "k", NULL, 0, ids[k], secret, err, sizeof(err)),
                     LX_OK);
    struct lx_store_spend *s = lx_store_spend_new(path, err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    for (int i = 0; i < 1000; i++) /* past LX_STORE_SPEND_BATCH many times */
        lx_store_spend_add(s, ids[i % 8], 0.001);
    lx_store_spend_free(s);
    for (int k = 0; k < 8; k++) {
        double spent = -1;
        cr_assert_eq(lx_store_keys_get(keys, ids[k], read_spent, &spent, err, sizeof(err)), LX_OK);
        cr_assert_float_eq(spent, 0.125, 1e-9, "key %d", k);
    }
    lx_store_keys_close(keys);
}

Test(spend, an_unopenable_store_is_an_error)
{
    char err[256] = "";
    cr_assert_null(lx_store_spend_new("/nonexistent-dir/x/keys.db", err, sizeof(err)));
    cr_assert_neq(err[0], '\0');
}
