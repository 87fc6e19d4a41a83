/*
 * test_redact.c — unit tests for src/policy/redact.c: every detector on
 * positives and negatives, every action, pseudonyms and their restoration,
 * streams cut at every position, limits, and precision/recall per detector
 * on the labelled corpus in tests/unit/redact_corpus/.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/redact.h"

static const char *all_builtins[] = {"email", "phone", "card", "iban", "ipv4", "ipv6", "secret"};

static lx_redact_set *make_set(lx_redact_action action)
{
    lx_redact_set *set = lx_redact_set_new(NULL);
    cr_assert_not_null(set);
    for (size_t i = 0; i < LX_ARRAY_LEN(all_builtins); i++)
        cr_assert_eq(lx_redact_set_add_builtin(set, all_builtins[i], action, NULL), LX_OK);
    return set;
}

/* Redacts text with a fresh context; the caller frees the result. */
static char *redact_with(lx_redact_set *set, const char *text)
{
    lx_redact_ctx *ctx = lx_redact_ctx_new(set);
    lx_buf out;
    lx_buf_init(&out, 1 << 20);
    cr_assert_eq(lx_redact_text(ctx, lx_str_from_cstr(text), &out), LX_OK, "%s", text);
    lx_redact_ctx_free(ctx);
    lx_buf_append(&out, "", 0);
    return lx_buf_detach(&out, NULL);
}

static void expect_redacted(lx_redact_set *set, const char *in, const char *want)
{
    char *got = redact_with(set, in);
    cr_expect_str_eq(got, want, "input: %s", in);
    free(got);
}

/* ---- every detector, positives and negatives -------------------------- */

struct pair {
    const char *in, *want;
};

static void run_pairs(const struct pair *p, size_t n)
{
    lx_redact_set *set = make_set(LX_REDACT_MASK);
    for (size_t i = 0; i < n; i++)
        expect_redacted(set, p[i].in, p[i].want);
    lx_redact_set_free(set);
}

Test(redact_detect, email)
{
    static const struct pair p[] = {
        {"mail a.b+c@example.co.uk now", "mail [REDACTED:EMAIL] now"},
        {"<bob@example.org>.", "<[REDACTED:EMAIL]>."},
        {"icon@2x.png and @handle and user@localhost",
         "icon@2x.png and @handle and user@localhost"},
        {"a..b@example.com", "a..b@example.com"},
        {"npm i pkg@1.2.3", "npm i pkg@1.2.3"},
    };
    run_pairs(p, LX_ARRAY_LEN(p));
}

Test(redact_detect, phone)
{
    static const struct pair p[] = {
        {"call +1 (415) 555-2671.", "call [REDACTED:PHONE]."},
        {"UK 020 7946 0958, FR 01 23 45 67 89", "UK [REDACTED:PHONE], FR [REDACTED:PHONE]"},
        {"DE +49 30 12345678; JP 03-1234-5678", "DE [REDACTED:PHONE]; JP [REDACTED:PHONE]"},
        {"US 415.555.0123", "US [REDACTED:PHONE]"},
        {"on 2024-05-13 at 10:30, order 12345678, 05/06/2024",
         "on 2024-05-13 at 10:30, order 12345678, 05/06/2024"},
        {"SSN 123-45-6789 and +5 points", "SSN 123-45-6789 and +5 points"},
    };
    run_pairs(p, LX_ARRAY_LEN(p));
}

Test(redact_detect, card)
{
    static const struct pair p[] = {
        {"pay 4111 1111 1111 1111 now", "pay [REDACTED:CARD] now"},
        {"amex 3782-822463-10005.", "amex [REDACTED:CARD]."},
        {"mc 5555555555554444", "mc [REDACTED:CARD]"},
        {"bad luhn 4111 1111 1111 1112", "bad luhn 4111 1111 1111 1112"},
        {"no issuer 1234567812345670", "no issuer 1234567812345670"},
        {"ts 1700000000000 and 41111111111111110", "ts 1700000000000 and 41111111111111110"},
    };
    run_pairs(p, LX_ARRAY_LEN(p));
}

Test(redact_detect, iban)
{
    static const struct pair p[] = {
        {"to DE89 3704 0044 0532 0130 00.", "to [REDACTED:IBAN]."},
        {"GB29NWBK60161331926819!", "[REDACTED:IBAN]!"},
        {"BE15 9797 1147 1049 FROM", "[REDACTED:IBAN] FROM"},
        {"bad DE89 3704 0044 0532 0130 01", "bad DE89 3704 0044 0532 0130 01"},
        {"XX12 3456 7890 1234 5678", "XX12 3456 7890 1234 5678"},
    };
    run_pairs(p, LX_ARRAY_LEN(p));
}

Test(redact_detect, ip)
{
    static const struct pair p[] = {
        {"host 192.168.1.20:80", "host [REDACTED:IPV4]:80"},
        {"net 10.0.0.0/8.", "net [REDACTED:IPV4]/8."},
        {"v6 2001:db8::8a2e:370:7334 and ::1", "v6 [REDACTED:IPV6] and [REDACTED:IPV6]"},
        {"[fe80::1]:443", "[[REDACTED:IPV6]]:443"},
        {"version 1.2.3.4, 256.1.1.1, 01.2.3.4, 120.0.6099.109",
         "version 1.2.3.4, 256.1.1.1, 01.2.3.4, 120.0.6099.109"},
        {"std::vector 10:30:45 00:1A:2B:3C:4D:5E dead::beef",
         "std::vector 10:30:45 00:1A:2B:3C:4D:5E dead::beef"},
    };
    run_pairs(p, LX_ARRAY_LEN(p));
}

Test(redact_detect, secret)
{
    static const struct pair p[] = {
        {"key sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z", "key [REDACTED:SECRET]"},
        {"sk-ant-api03-"
         "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCdEf",
         "[REDACTED:SECRET]"},
        {"AKIAIOSFODNN7EXAMPL3 ghp_0123456789abcdefghijABCDEFGHIJ012345",
         "[REDACTED:SECRET] [REDACTED:SECRET]"},
        {"xoxb-1234567890-abcdefABCDEF AIzaSyA1234567890abcdefghijklmnopqrstuv",
         "[REDACTED:SECRET] [REDACTED:SECRET]"},
        {"Authorization: Bearer abc123DEF456ghi789JKL", "Authorization: Bearer [REDACTED:SECRET]"},
        {"jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXZhbHVlLTEyMw x",
         "jwt [REDACTED:SECRET] x"},
        {"a\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5\n"
         "-----END EC PRIVATE KEY-----\nb",
         "a\n[REDACTED:SECRET]\nb"},
        {"sk-learn, risk-assessment-framework-v2, Bearer YOUR_TOKEN_GOES_HERE, xoxo",
         "sk-learn, risk-assessment-framework-v2, Bearer YOUR_TOKEN_GOES_HERE, xoxo"},
        {"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC "
         "KEY-----",
         "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC "
         "KEY-----"},
    };
    run_pairs(p, LX_ARRAY_LEN(p));
}

Test(redact_detect, overlap_leftmost_longest)
{
    /* the IBAN starts first; the phone-like digits inside it are not reported twice */
    static const struct pair p[] = {
        {"DE89 3704 0044 0532 0130 00", "[REDACTED:IBAN]"},
        {"a@b.example 1.2.3.4", "[REDACTED:EMAIL] [REDACTED:IPV4]"},
    };
    run_pairs(p, LX_ARRAY_LEN(p));
}

/* ---- actions ------------------------------------------------------------ */

Test(redact_action, each_action)
{
    lx_redact_set *set = lx_redact_set_new(NULL);
    cr_assert_eq(lx_redact_set_add_builtin(set, "email", LX_REDACT_PSEUDONYM, NULL), LX_OK);
    cr_assert_eq(lx_redact_set_add_builtin(set, "card", LX_REDACT_MASK, NULL), LX_OK);
    cr_assert_eq(lx_redact_set_add_builtin(set, "ip", LX_REDACT_TAG, NULL), LX_OK);
    cr_assert_eq(lx_redact_set_add_builtin(set, "secret", LX_REDACT_BLOCK, NULL), LX_OK);
    cr_assert_eq(lx_redact_set_count(set), 5);
    cr_assert_str_eq(lx_redact_set_name(set, 3), "ipv6");
    cr_assert_eq(lx_redact_set_action(set, 4), LX_REDACT_BLOCK);

    lx_redact_ctx *ctx = lx_redact_ctx_new(set);
    lx_buf out;
    lx_buf_init(&out, 4096);
    const char *in = "x@example.com paid 4111111111111111 from 10.0.0.1";
    cr_assert_eq(lx_redact_text(ctx, lx_str_from_cstr(in), &out), LX_OK);
    cr_expect_str_eq(out.data, "<EMAIL_1> paid [REDACTED:CARD] from 10.0.0.1");
    cr_expect_eq(lx_redact_ctx_flags(ctx), LX_REDACT_TAGGED);
    lx_buf_reset(&out);
    cr_assert_eq(lx_redact_text(ctx, LX_STR_LIT("key AKIAIOSFODNN7EXAMPL3"), &out), LX_OK);
    cr_expect_str_eq(out.data, "key AKIAIOSFODNN7EXAMPL3");
    cr_expect_eq(lx_redact_ctx_flags(ctx), LX_REDACT_TAGGED | LX_REDACT_BLOCKED);
    cr_expect_eq(lx_redact_ctx_matches(ctx, 0), 1);
    cr_expect_eq(lx_redact_ctx_matches(ctx, 1), 1);
    cr_expect_eq(lx_redact_ctx_matches(ctx, 2), 1);
    cr_expect_eq(lx_redact_ctx_matches(ctx, 3), 0);
    cr_expect_eq(lx_redact_ctx_matches(ctx, 4), 1);
    lx_buf_release(&out);
    lx_redact_ctx_free(ctx);
    lx_redact_set_free(set);
}

Test(redact_action, pseudonyms_stable_and_restored)
{
    lx_redact_set *set = make_set(LX_REDACT_PSEUDONYM);
    lx_redact_ctx *ctx = lx_redact_ctx_new(set);
    lx_buf out, back;
    lx_buf_init(&out, 4096);
    lx_buf_init(&back, 4096);
    const char *in = "a@x.example, b@x.example, a@x.example; 10.0.0.1 and 10.0.0.2, 10.0.0.1";
    cr_assert_eq(lx_redact_text(ctx, lx_str_from_cstr(in), &out), LX_OK);
    cr_expect_str_eq(out.data, "<EMAIL_1>, <EMAIL_2>, <EMAIL_1>; <IPV4_1> and <IPV4_2>, <IPV4_1>");
    /* the same value gets the same token in a later text of the same context */
    lx_buf_reset(&out);
    cr_assert_eq(lx_redact_text(ctx, LX_STR_LIT("again b@x.example"), &out), LX_OK);
    cr_expect_str_eq(out.data, "again <EMAIL_2>");
    /* a model answer using the tokens is restored; unknown tokens stay */
    const char *answer =
        "Wrote to <EMAIL_2> and <EMAIL_1> from <IPV4_2>; <EMAIL_9> <CARD_1> <EMAIL_1";
    cr_assert_eq(lx_redact_restore(ctx, lx_str_from_cstr(answer), &back), LX_OK);
    cr_expect_str_eq(back.data, "Wrote to b@x.example and a@x.example from 10.0.0.2; <EMAIL_9> "
                                "<CARD_1> <EMAIL_1");
    /* a fresh context numbers from 1 again */
    lx_redact_ctx *other = lx_redact_ctx_new(set);
    lx_buf_reset(&out);
    cr_assert_eq(lx_redact_text(other, LX_STR_LIT("b@x.example"), &out), LX_OK);
    cr_expect_str_eq(out.data, "<EMAIL_1>");
    lx_redact_ctx_free(other);
    lx_buf_release(&out);
    lx_buf_release(&back);
    lx_redact_ctx_free(ctx);
    lx_redact_set_free(set);
}

Test(redact_action, full_table_falls_back_to_mask)
{
    lx_redact_limits lim;
    lx_redact_limits_default(&lim);
    lim.max_pseudonyms = 1;
    lx_redact_set *set = lx_redact_set_new(&lim);
    cr_assert_eq(lx_redact_set_add_builtin(set, "email", LX_REDACT_PSEUDONYM, NULL), LX_OK);
    lx_redact_ctx *ctx = lx_redact_ctx_new(set);
    lx_buf out;
    lx_buf_init(&out, 4096);
    cr_assert_eq(lx_redact_text(ctx, LX_STR_LIT("a@x.example b@x.example a@x.example"), &out),
                 LX_OK);
    cr_expect_str_eq(out.data, "<EMAIL_1> [REDACTED:EMAIL] <EMAIL_1>");
    cr_expect(lx_redact_ctx_flags(ctx) & LX_REDACT_TABLE_FULL);
    lx_buf_release(&out);
    lx_redact_ctx_free(ctx);
    lx_redact_set_free(set);
}

/* ---- custom patterns and errors ------------------------------------------ */

Test(redact_custom, pattern_and_group)
{
    lx_redact_set *set = lx_redact_set_new(NULL);
    lx_buf err;
    lx_buf_init(&err, 512);
    cr_assert_eq(
        lx_redact_set_add_custom(set, "employee-id", "EMP-[0-9]{6}", LX_REDACT_PSEUDONYM, &err),
        LX_OK);
    cr_assert_eq(
        lx_redact_set_add_custom(set, "passwd", "password[=:] *([^ ]{4,64})", LX_REDACT_MASK, &err),
        LX_OK);
    cr_assert_eq(lx_redact_set_find(set, "passwd"), 1);
    expect_redacted(set, "EMP-123456 set password=hunter22 and EMP-123456",
                    "<EMPLOYEE_ID_1> set password=[REDACTED:PASSWD] and <EMPLOYEE_ID_1>");
    cr_expect_eq(lx_redact_set_add_custom(set, "bad", "([a-z", LX_REDACT_MASK, &err), LX_ERR);
    cr_expect(strstr(err.data, "bad") != NULL);
    cr_expect_eq(lx_redact_set_add_custom(set, "empty", "a*", LX_REDACT_MASK, NULL), LX_ERR);
    cr_expect_eq(lx_redact_set_add_custom(set, "k", "foo\\Kbar", LX_REDACT_MASK, NULL), LX_ERR);
    cr_expect_eq(lx_redact_set_add_custom(set, "Upper", "x", LX_REDACT_MASK, NULL), LX_ERR);
    cr_expect_eq(lx_redact_set_add_custom(set, "email", "x", LX_REDACT_MASK, NULL), LX_ERR);
    cr_expect_eq(lx_redact_set_add_custom(set, "passwd", "y", LX_REDACT_MASK, NULL), LX_ERR);
    cr_expect_eq(lx_redact_set_add_custom(set, "lb", "(?<=.{40})x", LX_REDACT_MASK, NULL), LX_ERR);
    cr_expect_eq(lx_redact_set_add_builtin(set, "ssn", LX_REDACT_MASK, NULL), LX_ERR);
    lx_buf_release(&err);
    lx_redact_set_free(set);
}

Test(redact_limits, caps)
{
    lx_redact_limits lim;
    lx_redact_limits_default(&lim);
    lim.max_detectors = 2;
    lim.max_text = 64;
    lx_redact_set *set = lx_redact_set_new(&lim);
    cr_assert_eq(lx_redact_set_add_builtin(set, "email", LX_REDACT_MASK, NULL), LX_OK);
    cr_assert_eq(lx_redact_set_add_builtin(set, "card", LX_REDACT_MASK, NULL), LX_OK);
    cr_expect_eq(lx_redact_set_add_builtin(set, "iban", LX_REDACT_MASK, NULL), LX_ERR);
    lx_redact_ctx *ctx = lx_redact_ctx_new(set);
    lx_buf out;
    lx_buf_init(&out, 8);
    char big[100];
    memset(big, 'a', sizeof big);
    cr_expect_eq(lx_redact_text(ctx, (lx_str){big, sizeof big}, &out), LX_ERR);
    cr_expect_eq(lx_redact_text(ctx, LX_STR_LIT("mail a@example.com"), &out), LX_ERR);
    lx_buf_release(&out);
    lx_redact_ctx_free(ctx);
    lx_redact_set_free(set);
}

/* ---- streaming ------------------------------------------------------------ */

static const char *stream_texts[] = {
    "Mail alice.martin@example.com or call +1 (415) 555-2671 today.",
    "Card 4111 1111 1111 1111 2025, IBAN DE89 3704 0044 0532 0130 00 and GB29NWBK60161331926819",
    "Hosts 192.168.1.20, 2001:db8::8a2e:370:7334 and ::1 but not version 1.2.3.4 or 10:30:45",
    "Authorization: Bearer abc123DEF456ghi789JKL then sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z "
    "AKIAIOSFODNN7EXAMPL3 eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXZhbHVlLTEyMw",
    "k\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5\n"
    "-----END EC PRIVATE KEY-----\n",
    "x@y.example x@y.example 4111111111111112 BE15 9797 1147 1049 FROM 020 7946 0958.",
    "a@b.co",
    "",
};

/* Feeds text in the given cuts (offsets, increasing, ending at len). */
static void stream_pieces(lx_redact_set *set, const char *text, const size_t *cuts, size_t ncuts,
                          lx_buf *out, bool restore_too)
{
    lx_redact_ctx *ctx = lx_redact_ctx_new(set);
    lx_redact_stream *st = lx_redact_stream_new(ctx, false);
    size_t from = 0;
    for (size_t i = 0; i < ncuts; i++) {
        cr_assert_eq(lx_redact_stream_feed(st, (lx_str){text + from, cuts[i] - from}, out), LX_OK);
        from = cuts[i];
    }
    cr_assert_eq(lx_redact_stream_flush(st, out), LX_OK);
    lx_redact_stream_free(st);
    lx_redact_ctx_free(ctx);
}

static void whole(lx_redact_set *set, const char *text, lx_buf *out)
{
    lx_redact_ctx *ctx = lx_redact_ctx_new(set);
    cr_assert_eq(lx_redact_text(ctx, lx_str_from_cstr(text), out), LX_OK);
    lx_redact_ctx_free(ctx);
}

static void check_stream_equivalence(lx_redact_action action)
{
    lx_redact_set *set = make_set(action);
    lx_buf want, got;
    lx_buf_init(&want, 1 << 16);
    lx_buf_init(&got, 1 << 16);
    for (size_t t = 0; t < LX_ARRAY_LEN(stream_texts); t++) {
        const char *text = stream_texts[t];
        size_t len = strlen(text);
        lx_buf_reset(&want);
        whole(set, text, &want);
        for (size_t cut = 0; cut <= len; cut++) {
            size_t cuts[2] = {cut, len};
            lx_buf_reset(&got);
            stream_pieces(set, text, cuts, 2, &got, false);
            cr_assert_eq(got.len, want.len, "text %zu cut %zu: %s", t, cut, got.data);
            cr_assert(memcmp(got.data, want.data, want.len) == 0, "text %zu cut %zu", t, cut);
        }
        size_t *bytes = malloc((len + 1) * sizeof *bytes);
        for (size_t i = 0; i < len; i++)
            bytes[i] = i + 1;
        lx_buf_reset(&got);
        stream_pieces(set, text, bytes, len, &got, false);
        free(bytes);
        cr_assert_eq(got.len, want.len, "text %zu bytewise: %s", t, got.data);
        cr_assert(got.len == 0 || memcmp(got.data, want.data, want.len) == 0);
    }
    lx_buf_release(&want);
    lx_buf_release(&got);
    lx_redact_set_free(set);
}

Test(redact_stream, every_cut_mask)
{
    check_stream_equivalence(LX_REDACT_MASK);
}

Test(redact_stream, every_cut_pseudonym)
{
    check_stream_equivalence(LX_REDACT_PSEUDONYM);
}

Test(redact_stream, every_cut_tag_passes_text)
{
    check_stream_equivalence(LX_REDACT_TAG);
}

Test(redact_stream, holds_back_only_a_small_tail)
{
    lx_redact_set *set = make_set(LX_REDACT_MASK);
    lx_redact_ctx *ctx = lx_redact_ctx_new(set);
    lx_redact_stream *st = lx_redact_stream_new(ctx, false);
    lx_buf out;
    lx_buf_init(&out, 4096);
    cr_assert_eq(lx_redact_stream_feed(st, LX_STR_LIT("Write to alice.mar"), &out), LX_OK);
    cr_expect_str_eq(out.data, "Write to ");
    cr_expect_eq(lx_redact_stream_held(st), 9);
    cr_assert_eq(lx_redact_stream_feed(st, LX_STR_LIT("tin@example.com now. "), &out), LX_OK);
    cr_expect_str_eq(out.data, "Write to [REDACTED:EMAIL] now. ");
    cr_assert_eq(lx_redact_stream_flush(st, &out), LX_OK);
    cr_expect_eq(lx_redact_ctx_matches(ctx, 0), 1);
    lx_buf_release(&out);
    lx_redact_stream_free(st);
    lx_redact_ctx_free(ctx);
    lx_redact_set_free(set);
}

Test(redact_stream, restore_every_cut)
{
    lx_redact_set *set = make_set(LX_REDACT_PSEUDONYM);
    lx_redact_ctx *ctx = lx_redact_ctx_new(set);
    lx_buf tmp, want, got;
    lx_buf_init(&tmp, 4096);
    lx_buf_init(&want, 4096);
    lx_buf_init(&got, 4096);
    cr_assert_eq(lx_redact_text(ctx, LX_STR_LIT("a@x.example 10.0.0.1"), &tmp), LX_OK);
    const char *answer = "<EMAIL_1> said <<IPV4_1>> and <EMAIL_7> <b>x</b> <IPV4_1";
    cr_assert_eq(lx_redact_restore(ctx, lx_str_from_cstr(answer), &want), LX_OK);
    cr_expect_str_eq(want.data, "a@x.example said <10.0.0.1> and <EMAIL_7> <b>x</b> <IPV4_1");
    size_t len = strlen(answer);
    for (size_t cut = 0; cut <= len; cut++) {
        lx_redact_stream *st = lx_redact_stream_new(ctx, true);
        lx_buf_reset(&got);
        cr_assert_eq(lx_redact_stream_feed(st, (lx_str){answer, cut}, &got), LX_OK);
        cr_assert_eq(lx_redact_stream_feed(st, (lx_str){answer + cut, len - cut}, &got), LX_OK);
        cr_assert_eq(lx_redact_stream_flush(st, &got), LX_OK);
        cr_assert_str_eq(got.data, want.data, "cut %zu", cut);
        lx_redact_stream_free(st);
    }
    lx_buf_release(&tmp);
    lx_buf_release(&want);
    lx_buf_release(&got);
    lx_redact_ctx_free(ctx);
    lx_redact_set_free(set);
}

Test(redact_stream, hold_overflow_is_bounded)
{
    lx_redact_limits lim;
    lx_redact_limits_default(&lim);
    lim.max_hold = 32;
    lx_redact_set *set = lx_redact_set_new(&lim);
    cr_assert_eq(lx_redact_set_add_custom(set, "aab", "a+b", LX_REDACT_MASK, NULL), LX_OK);
    lx_redact_ctx *ctx = lx_redact_ctx_new(set);
    lx_redact_stream *st = lx_redact_stream_new(ctx, false);
    lx_buf out;
    lx_buf_init(&out, 4096);
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(lx_redact_stream_feed(st, LX_STR_LIT("aaaaaaaaaa"), &out), LX_OK);
        cr_assert_leq(lx_redact_stream_held(st), 32);
    }
    cr_expect(lx_redact_ctx_flags(ctx) & LX_REDACT_HOLD_OVERFLOW);
    cr_assert_eq(lx_redact_stream_flush(st, &out), LX_OK);
    cr_expect_eq(out.len, 100);
    lx_buf_release(&out);
    lx_redact_stream_free(st);
    lx_redact_ctx_free(ctx);
    lx_redact_set_free(set);
}

/* ---- precision and recall on the labelled corpus ------------------------- */

struct label {
    size_t det, start, end;
    bool found;
};

struct score {
    size_t tp, fp, fn;
};

struct corpus_run {
    struct label labels[64];
    size_t nlabels;
    struct score *score;
    const char *line; /* for messages */
};

static int on_match(void *data, size_t det, size_t start, size_t end)
{
    struct corpus_run *r = data;
    for (size_t i = 0; i < r->nlabels; i++) {
        struct label *l = &r->labels[i];
        if (!l->found && l->det == det && l->start == start && l->end == end) {
            l->found = true;
            r->score[det].tp++;
            return 0;
        }
    }
    r->score[det].fp++;
    cr_log_info("FP %zu [%zu,%zu) in: %s", det, start, end, r->line);
    return 0;
}

/* Strips {{kind:value}} marks from line into text, recording the labels. */
static void parse_line(lx_redact_set *set, const char *line, lx_buf *text, struct corpus_run *r)
{
    const char *p = line;
    r->nlabels = 0;
    while (*p) {
        if (p[0] == '\\' && p[1] == 'n') {
            lx_buf_append_char(text, '\n');
            p += 2;
        } else if (p[0] == '{' && p[1] == '{') {
            const char *colon = strchr(p, ':');
            cr_assert_not_null(colon, "bad label in %s", line);
            char kind[16] = {0};
            memcpy(kind, p + 2, LX_MIN((size_t)(colon - p - 2), sizeof kind - 1));
            int det = lx_redact_set_find(set, kind);
            cr_assert_geq(det, 0, "unknown kind %s", kind);
            cr_assert_lt(r->nlabels, LX_ARRAY_LEN(r->labels));
            struct label *l = &r->labels[r->nlabels++];
            l->det = (size_t)det;
            l->start = text->len;
            l->found = false;
            p = colon + 1;
            while (*p && !(p[0] == '}' && p[1] == '}')) {
                if (p[0] == '\\' && p[1] == 'n') {
                    lx_buf_append_char(text, '\n');
                    p += 2;
                } else {
                    lx_buf_append_char(text, *p++);
                }
            }
            cr_assert(*p, "unclosed label in %s", line);
            l->end = text->len;
            p += 2;
        } else {
            lx_buf_append_char(text, *p++);
        }
    }
}

static void score_file(lx_redact_set *set, lx_redact_ctx *ctx, const char *path,
                       struct score *score, size_t *nsamples)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char line[4096];
    lx_buf text;
    lx_buf_init(&text, sizeof line);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '\0' || line[0] == '#')
            continue;
        struct corpus_run r = {.score = score, .line = line};
        lx_buf_reset(&text);
        parse_line(set, line, &text, &r);
        cr_assert_eq(lx_redact_scan(ctx, lx_buf_str(&text), on_match, &r), LX_OK);
        for (size_t i = 0; i < r.nlabels; i++)
            if (!r.labels[i].found) {
                score[r.labels[i].det].fn++;
                cr_log_info("FN %zu in: %s", r.labels[i].det, line);
            }
        (*nsamples)++;
    }
    lx_buf_release(&text);
    fclose(f);
}

static void corpus_dir(char *dir, size_t n)
{
    const char *slash = strrchr(__FILE__, '/');
    int k = slash ? (int)(slash - __FILE__ + 1) : 0;
    snprintf(dir, n, "%.*sredact_corpus", k, __FILE__);
}

/* Floors set from the measured numbers (see the report printed by the
 * test), a little below them so that a regression fails and noise does not. */
static const struct {
    const char *name;
    double precision, recall;
} floors[] = {
    {"email", 0.95, 0.90}, {"phone", 0.95, 0.85}, {"card", 1.00, 1.00},   {"iban", 1.00, 0.90},
    {"ipv4", 0.80, 0.95},  {"ipv6", 1.00, 1.00},  {"secret", 1.00, 0.85},
};

Test(redact_corpus, precision_recall)
{
    lx_redact_set *set = make_set(LX_REDACT_TAG);
    lx_redact_ctx *ctx = lx_redact_ctx_new(set);
    struct score score[16] = {0};
    size_t nsamples = 0, nfiles = 0;
    char dir[1024], path[1400];
    corpus_dir(dir, sizeof dir);
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".txt") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        score_file(set, ctx, path, score, &nsamples);
        nfiles++;
    }
    closedir(d);
    cr_assert_geq(nfiles, 7);
    printf("redaction corpus: %zu samples in %zu files\n", nsamples, nfiles);
    printf("%-8s %4s %4s %4s %9s %7s\n", "detector", "tp", "fp", "fn", "precision", "recall");
    for (size_t i = 0; i < LX_ARRAY_LEN(floors); i++) {
        int det = lx_redact_set_find(set, floors[i].name);
        struct score *s = &score[det];
        double prec = s->tp + s->fp ? (double)s->tp / (double)(s->tp + s->fp) : 1.0;
        double rec = s->tp + s->fn ? (double)s->tp / (double)(s->tp + s->fn) : 1.0;
        printf("%-8s %4zu %4zu %4zu %9.3f %7.3f\n", floors[i].name, s->tp, s->fp, s->fn, prec, rec);
        cr_expect_gt(s->tp, 0, "%s has no positives in the corpus", floors[i].name);
        cr_expect_geq(prec, floors[i].precision, "%s precision %.3f", floors[i].name, prec);
        cr_expect_geq(rec, floors[i].recall, "%s recall %.3f", floors[i].name, rec);
    }
    fflush(stdout);
    lx_redact_ctx_free(ctx);
    lx_redact_set_free(set);
}
