/*
 * test_ratelimit.c — unit tests for src/policy/ratelimit: the GCRA steady
 * rate and burst, refusals with Retry-After, the remaining/reset values of
 * OpenAI's headers, the bounded table's eviction, and time that never goes
 * back.
 */
#include <criterion/criterion.h>

#include <stdio.h>

#include "policy/ratelimit.h"

static struct lx_ratelimit_result check(struct lx_ratelimit *rl, const char *key, uint64_t now)
{
    struct lx_ratelimit_result r;
    cr_assert_eq(lx_ratelimit_check(rl, lx_str_from_cstr(key), now, true, &r), LX_OK);
    return r;
}

Test(ratelimit, bad_arguments)
{
    cr_assert_null(lx_ratelimit_new(0, 1, 10));
    cr_assert_null(lx_ratelimit_new(LX_RATELIMIT_MAX_RPM + 1, 1, 10));
    cr_assert_null(lx_ratelimit_new(60, 1, 0));
}

Test(ratelimit, default_burst)
{
    struct lx_ratelimit *rl = lx_ratelimit_new(60, 0, 10);
    cr_assert_eq(lx_ratelimit_burst(rl), 10);
    lx_ratelimit_free(rl);
    rl = lx_ratelimit_new(61, 0, 10);
    cr_assert_eq(lx_ratelimit_burst(rl), 11); /* rounded up */
    lx_ratelimit_free(rl);
    rl = lx_ratelimit_new(1, 0, 10);
    cr_assert_eq(lx_ratelimit_burst(rl), 1); /* at least 1 */
    lx_ratelimit_free(rl);
}

/* 6 rpm, burst 2: T = 10 s; two at once, then one every 10 s. */
Test(ratelimit, burst_then_refusal)
{
    struct lx_ratelimit *rl = lx_ratelimit_new(6, 2, 10);
    uint64_t t0 = 1000000;
    struct lx_ratelimit_result r = check(rl, "m", t0);
    cr_assert(r.allowed);
    cr_assert_eq(r.limit, 6);
    cr_assert_eq(r.remaining, 1);
    cr_assert_eq(r.reset_ms, 10000);
    cr_assert_eq(r.retry_after_ms, 0);
    r = check(rl, "m", t0);
    cr_assert(r.allowed);
    cr_assert_eq(r.remaining, 0);
    cr_assert_eq(r.reset_ms, 20000);
    r = check(rl, "m", t0 + 1);
    cr_assert_not(r.allowed);
    cr_assert_eq(r.remaining, 0);
    cr_assert_eq(r.retry_after_ms, 9999);
    cr_assert_eq(r.reset_ms, 19999);
    /* a refusal costs nothing: the retry time stays put */
    r = check(rl, "m", t0 + 5000);
    cr_assert_not(r.allowed);
    cr_assert_eq(r.retry_after_ms, 5000);
    r = check(rl, "m", t0 + 10000);
    cr_assert(r.allowed);
    cr_assert_eq(r.remaining, 0);
    lx_ratelimit_free(rl);
}

/* At the steady rate every request passes; a little faster does not. */
Test(ratelimit, steady_rate)
{
    struct lx_ratelimit *rl = lx_ratelimit_new(60, 1, 10);
    uint64_t t = 5000;
    for (int i = 0; i < 100; i++, t += 1000)
        cr_assert(check(rl, "k", t).allowed, "request %d", i);
    cr_assert_not(check(rl, "k", t - 1000 + 999).allowed);
    cr_assert(check(rl, "k", t).allowed);
    lx_ratelimit_free(rl);
}

/* After a pause the bucket refills to the burst, never beyond. */
Test(ratelimit, refill_caps_at_burst)
{
    struct lx_ratelimit *rl = lx_ratelimit_new(60, 3, 10);
    for (int i = 0; i < 3; i++)
        cr_assert(check(rl, "k", 0).allowed);
    cr_assert_not(check(rl, "k", 0).allowed);
    struct lx_ratelimit_result r = check(rl, "k", 3600000); /* an hour later */
    cr_assert(r.allowed);
    cr_assert_eq(r.remaining, 2);
    cr_assert(check(rl, "k", 3600000).allowed);
    cr_assert(check(rl, "k", 3600000).allowed);
    cr_assert_not(check(rl, "k", 3600000).allowed);
    lx_ratelimit_free(rl);
}

Test(ratelimit, keys_are_independent)
{
    struct lx_ratelimit *rl = lx_ratelimit_new(6, 1, 10);
    cr_assert(check(rl, "a", 0).allowed);
    cr_assert_not(check(rl, "a", 0).allowed);
    cr_assert(check(rl, "b", 0).allowed);
    cr_assert(check(rl, "ab", 0).allowed);
    cr_assert_eq(lx_ratelimit_count(rl), 3);
    lx_ratelimit_free(rl);
}

/* A clock that steps back is read as the latest time seen: no key gets
 * its requests back by it. */
Test(ratelimit, time_goes_forward_only)
{
    struct lx_ratelimit *rl = lx_ratelimit_new(6, 1, 10);
    cr_assert(check(rl, "k", 100000).allowed);
    struct lx_ratelimit_result r = check(rl, "k", 0);
    cr_assert_not(r.allowed);
    cr_assert_eq(r.retry_after_ms, 10000);
    cr_assert(check(rl, "other", 0).allowed);
    cr_assert(check(rl, "k", 110000).allowed);
    lx_ratelimit_free(rl);
}

/* A full table drops idle keys first (no answer changes), else the one
 * nearest to idle; it never holds more than max_keys. */
Test(ratelimit, eviction)
{
    struct lx_ratelimit *rl = lx_ratelimit_new(6, 1, 3);
    cr_assert(check(rl, "a", 0).allowed);     /* busy until 10 s */
    cr_assert(check(rl, "b", 5000).allowed);  /* until 15 s */
    cr_assert(check(rl, "c", 12000).allowed); /* until 22 s; a is idle now */
    cr_assert(check(rl, "d", 12000).allowed); /* a swept out */
    cr_assert_eq(lx_ratelimit_count(rl), 3);
    cr_assert_not(check(rl, "b", 12000).allowed); /* b kept its state */
    cr_assert_not(check(rl, "c", 12000).allowed);
    /* none idle at 13 s: the nearest to idle (b) goes */
    cr_assert(check(rl, "e", 13000).allowed);
    cr_assert_eq(lx_ratelimit_count(rl), 3);
    cr_assert(check(rl, "b", 13000).allowed, "evicted: a fresh bucket");
    cr_assert_eq(lx_ratelimit_count(rl), 3);
    cr_assert_not(check(rl, "e", 13000).allowed);
    lx_ratelimit_free(rl);
}

Test(ratelimit, long_keys_are_cut)
{
    char a[600], b[600];
    memset(a, 'x', sizeof(a) - 1), a[sizeof(a) - 1] = '\0';
    memcpy(b, a, sizeof(b));
    b[590] = 'y'; /* differs only past LX_RATELIMIT_MAX_KEY_LEN */
    struct lx_ratelimit *rl = lx_ratelimit_new(6, 1, 10);
    cr_assert(check(rl, a, 0).allowed);
    cr_assert_not(check(rl, b, 0).allowed);
    lx_ratelimit_free(rl);
}

Test(ratelimit, many_keys_under_cap)
{
    struct lx_ratelimit *rl = lx_ratelimit_new(1000, 0, 100);
    char key[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        cr_assert(check(rl, key, (uint64_t)i).allowed);
        cr_assert_leq(lx_ratelimit_count(rl), 100);
    }
    lx_ratelimit_free(rl);
}

Test(ratelimit, duration_format)
{
    char b[LX_RATELIMIT_DURATION_LEN];
    cr_assert_str_eq(lx_ratelimit_format_duration(0, b), "0s");
    cr_assert_str_eq(lx_ratelimit_format_duration(17, b), "17ms");
    cr_assert_str_eq(lx_ratelimit_format_duration(1000, b), "1s");
    cr_assert_str_eq(lx_ratelimit_format_duration(1500, b), "1.5s");
    cr_assert_str_eq(lx_ratelimit_format_duration(8640, b), "8.64s");
    cr_assert_str_eq(lx_ratelimit_format_duration(360000, b), "6m0s");
    cr_assert_str_eq(lx_ratelimit_format_duration(90001, b), "1m30.001s");
    cr_assert_str_eq(lx_ratelimit_format_duration(3723000, b), "1h2m3s");
    cr_assert_str_eq(lx_ratelimit_format_duration(3600000, b), "1h0m0s");
}

/* A look without charge (the proxy checks the key's and the model's limits
 * before charging either) tells the same answer and costs nothing. */
Test(ratelimit, peek_does_not_charge)
{
    struct lx_ratelimit *rl = lx_ratelimit_new(6, 2, 10);
    struct lx_ratelimit_result r;
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(lx_ratelimit_check(rl, lx_str_from_cstr("k"), 1000, false, &r), LX_OK);
        cr_assert(r.allowed);
        cr_assert_eq(r.remaining, 1);
    }
    cr_assert_eq(lx_ratelimit_count(rl), 0, "a look stores nothing");
    cr_assert(check(rl, "k", 1000).allowed);
    cr_assert(check(rl, "k", 1000).allowed);
    cr_assert_eq(lx_ratelimit_check(rl, lx_str_from_cstr("k"), 1000, false, &r), LX_OK);
    cr_assert_not(r.allowed, "the burst of 2 was spent by the two charged checks");
    cr_assert_gt(r.retry_after_ms, 0);
    lx_ratelimit_free(rl);
}

Test(ratelimit, a_keys_own_rate_overrides_the_limiters)
{
    /* the limiter allows 600/min (burst 100); key "slow" has its own 6/min (burst 1) */
    struct lx_ratelimit *rl = lx_ratelimit_new(600, 0, 16);
    struct lx_ratelimit_result r;
    lx_str slow = LX_STR_LIT("slow"), fast = LX_STR_LIT("fast");
    cr_assert_eq(lx_ratelimit_check_rate(rl, slow, 6, 1000, true, &r), LX_OK);
    cr_expect(r.allowed);
    cr_expect_eq(r.limit, 6);
    cr_expect_eq(r.remaining, 0);
    lx_ratelimit_check_rate(rl, slow, 6, 1001, true, &r);
    cr_expect(!r.allowed);
    cr_expect_eq(r.retry_after_ms, 9999); /* T = 10 s after the first */
    lx_ratelimit_check_rate(rl, slow, 6, 11000, true, &r);
    cr_expect(r.allowed);
    /* raised to 600/min: the 10 s of debt are 0.1 s now, within the new burst */
    lx_ratelimit_check_rate(rl, slow, 600, 11001, true, &r);
    cr_expect(r.allowed);
    cr_expect_eq(r.limit, 600);
    /* rpm 0: the limiter's own rate */
    lx_ratelimit_check_rate(rl, fast, 0, 1000, true, &r);
    cr_expect(r.allowed);
    cr_expect_eq(r.limit, 600);
    cr_expect_eq(r.remaining, 99);
    lx_ratelimit_free(rl);
}

/* ---- the shared arithmetic and tokens per minute ------------------------ */

#define S_NS 1000000000ull

/* lx_ratelimit_step() alone: 6 units a minute (T = 10 s), a window of 2. */
Test(ratelimit_step, admit_take_refuse)
{
    struct lx_ratelimit_result r;
    uint64_t t = 10 * S_NS, w = 20 * S_NS, now = 1000 * S_NS;
    uint64_t tat = lx_ratelimit_step(0, now, t, w, 1, false, &r); /* new key */
    cr_assert(r.allowed);
    cr_assert_eq(tat, now + t);
    cr_assert_eq(r.remaining, 1);
    cr_assert_eq(r.reset_ms, 10000);
    tat = lx_ratelimit_step(tat, now, t, w, 1, false, &r);
    cr_assert(r.allowed);
    cr_assert_eq(tat, now + 2 * t);
    cr_assert_eq(r.remaining, 0);
    uint64_t again = lx_ratelimit_step(tat, now + S_NS, t, w, 1, false, &r);
    cr_assert_not(r.allowed);
    cr_assert_eq(again, tat, "a refusal changes nothing");
    cr_assert_eq(r.retry_after_ms, 9000);
    cr_assert_eq(r.reset_ms, 19000);
    /* a peek (cost 0) answers without moving TAT */
    cr_assert_eq(lx_ratelimit_step(tat, now + 10 * S_NS, t, w, 0, false, &r), tat);
    cr_assert(r.allowed);
    cr_assert_eq(r.remaining, 1);
}

/* A charge (force) takes its cost even from an empty bucket: a debt that
 * delays the next admission by cost × T. */
Test(ratelimit_step, force_makes_a_debt)
{
    struct lx_ratelimit_result r;
    uint64_t t = S_NS, w = 60 * S_NS, now = 5000 * S_NS; /* 60 tokens a minute */
    uint64_t tat = lx_ratelimit_step(0, now, t, w, 100, true, &r);
    cr_assert_eq(tat, now + 100 * t);
    cr_assert(r.allowed, "the bucket was full when the charge came");
    cr_assert_eq(r.remaining, 0);
    lx_ratelimit_step(tat, now, t, w, 0, false, &r);
    cr_assert_not(r.allowed);
    cr_assert_eq(r.retry_after_ms, 41000); /* 100 - 60 + 1 tokens at 1 s */
    lx_ratelimit_step(tat, now + 41 * S_NS, t, w, 0, false, &r);
    cr_assert(r.allowed);
    cr_assert_eq(r.remaining, 1);
}

Test(ratelimit_step, debt_is_capped)
{
    struct lx_ratelimit_result r;
    uint64_t t = S_NS, w = 60 * S_NS, now = 1;
    uint64_t tat = lx_ratelimit_step(0, now, t, w, UINT64_MAX, true, &r);
    cr_assert_eq(tat, now + w + LX_RATELIMIT_MAX_DEBT_NS);
    tat = lx_ratelimit_step(tat, now, t, w, 1000, true, &r);
    cr_assert_eq(tat, now + w + LX_RATELIMIT_MAX_DEBT_NS, "no further past the cap");
}

/* 60 tokens a minute: admitted on the balance, charged after. */
Test(ratelimit_tokens, admission_then_charge)
{
    struct lx_ratelimit *rl = lx_ratelimit_new_tokens(60, 10);
    cr_assert_eq(lx_ratelimit_burst(rl), 60);
    lx_str k = lx_str_from_cstr("key_1");
    uint64_t t0 = 1000000;
    struct lx_ratelimit_result r;
    cr_assert_eq(lx_ratelimit_tokens_check(rl, k, 0, t0, &r), LX_OK);
    cr_assert(r.allowed);
    cr_assert_eq(r.limit, 60);
    cr_assert_eq(r.remaining, 60);
    cr_assert_eq(r.reset_ms, 0);
    cr_assert_eq(lx_ratelimit_count(rl), 0, "a check stores nothing");
    cr_assert_eq(lx_ratelimit_tokens_charge(rl, k, 0, 45, t0), LX_OK);
    lx_ratelimit_tokens_check(rl, k, 0, t0, &r);
    cr_assert(r.allowed);
    cr_assert_eq(r.remaining, 15);
    cr_assert_eq(r.reset_ms, 45000);
    /* a big answer: 30 more than the balance, the next request waits 31 s */
    lx_ratelimit_tokens_charge(rl, k, 0, 45, t0 + 500);
    lx_ratelimit_tokens_check(rl, k, 0, t0 + 500, &r);
    cr_assert_not(r.allowed);
    cr_assert_eq(r.remaining, 0);
    cr_assert_eq(r.retry_after_ms, 30500);
    cr_assert_eq(r.reset_ms, 89500);
    lx_ratelimit_tokens_check(rl, k, 0, t0 + 31000, &r);
    cr_assert(r.allowed);
    cr_assert_eq(r.remaining, 1);
    /* the bucket refills to one minute's worth, no more */
    lx_ratelimit_tokens_check(rl, k, 0, t0 + 600000, &r);
    cr_assert_eq(r.remaining, 60);
    cr_assert_eq(lx_ratelimit_tokens_charge(rl, k, 0, 0, t0), LX_OK);
    lx_ratelimit_free(rl);
}

/* A key's own tpm replaces the limiter's; other keys keep theirs. */
Test(ratelimit_tokens, own_rate_and_independent_keys)
{
    struct lx_ratelimit *rl = lx_ratelimit_new_tokens(600, 10);
    lx_str a = lx_str_from_cstr("a"), b = lx_str_from_cstr("b");
    struct lx_ratelimit_result r;
    lx_ratelimit_tokens_charge(rl, a, 6, 7, 1000); /* 6 tpm: T = 10 s */
    lx_ratelimit_tokens_check(rl, a, 6, 1000, &r);
    cr_assert_not(r.allowed);
    cr_assert_eq(r.limit, 6);
    cr_assert_eq(r.retry_after_ms, 20000);
    lx_ratelimit_tokens_check(rl, b, 0, 1000, &r);
    cr_assert(r.allowed);
    cr_assert_eq(r.limit, 600);
    cr_assert_eq(r.remaining, 600);
    cr_assert_null(lx_ratelimit_new_tokens(0, 10));
    cr_assert_null(lx_ratelimit_new_tokens(LX_RATELIMIT_MAX_TPM + 1, 10));
    lx_ratelimit_free(rl);
}

/* The top rate stays exact: 100000000 tpm is 600 ns a token. */
Test(ratelimit_tokens, high_rate)
{
    struct lx_ratelimit *rl = lx_ratelimit_new_tokens(LX_RATELIMIT_MAX_TPM, 10);
    lx_str k = lx_str_from_cstr("k");
    struct lx_ratelimit_result r;
    lx_ratelimit_tokens_charge(rl, k, 0, 50000000, 1000);
    lx_ratelimit_tokens_check(rl, k, 0, 1000, &r);
    cr_assert(r.allowed);
    cr_assert_eq(r.remaining, 50000000);
    cr_assert_eq(r.reset_ms, 30000);
    lx_ratelimit_free(rl);
}
