/*
 * test_core.c — unit tests for src/core/: the capped byte buffer, the
 * arena, string views, request ids and the RFC 3339 clock format.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/id.h"
#include "core/str.h"

/* ---- lx_buf ------------------------------------------------------------- */

Test(buf, append_within_cap_is_nul_terminated)
{
    lx_buf b;
    lx_buf_init(&b, 16);
    cr_assert_eq(lx_buf_append_cstr(&b, "hello"), LX_OK);
    cr_assert_eq(lx_buf_append_char(&b, ' '), LX_OK);
    cr_assert_eq(lx_buf_append_str(&b, LX_STR_LIT("world")), LX_OK);
    cr_assert_eq(b.len, 11);
    cr_assert_str_eq(b.data, "hello world");
    lx_buf_release(&b);
    cr_assert_null(b.data);
    cr_assert_eq(b.len, 0);
}

Test(buf, append_exactly_to_cap_succeeds)
{
    lx_buf b;
    lx_buf_init(&b, 8);
    cr_assert_eq(lx_buf_append(&b, "12345678", 8), LX_OK);
    cr_assert_eq(b.len, 8);
    cr_assert_str_eq(b.data, "12345678");
    lx_buf_release(&b);
}

Test(buf, append_past_cap_fails_and_leaves_content)
{
    lx_buf b;
    lx_buf_init(&b, 8);
    cr_assert_eq(lx_buf_append_cstr(&b, "12345"), LX_OK);
    cr_assert_eq(lx_buf_append_cstr(&b, "6789"), LX_ERR);
    cr_assert_eq(b.len, 5);
    cr_assert_str_eq(b.data, "12345");
    cr_assert_eq(lx_buf_append_char(&b, 'x'), LX_OK);
    cr_assert_eq(lx_buf_append_cstr(&b, "yz"), LX_OK);
    cr_assert_eq(lx_buf_append_char(&b, '!'), LX_ERR);
    cr_assert_str_eq(b.data, "12345xyz");
    cr_assert_eq(lx_buf_reserve(&b, 1), LX_ERR);
    cr_assert_eq(lx_buf_reserve(&b, 0), LX_OK);
    lx_buf_release(&b);
}

Test(buf, huge_append_does_not_overflow)
{
    lx_buf b;
    lx_buf_init(&b, 64);
    cr_assert_eq(lx_buf_append_cstr(&b, "ab"), LX_OK);
    cr_assert_eq(lx_buf_reserve(&b, SIZE_MAX), LX_ERR);
    cr_assert_eq(lx_buf_reserve(&b, SIZE_MAX - 1), LX_ERR);
    cr_assert_str_eq(b.data, "ab");
    lx_buf_release(&b);
}

Test(buf, zero_cap_holds_nothing)
{
    lx_buf b;
    lx_buf_init(&b, 0);
    cr_assert_eq(lx_buf_append(&b, "", 0), LX_OK);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(lx_buf_append_char(&b, 'a'), LX_ERR);
    lx_buf_release(&b);
}

Test(buf, printf_formats_and_appends)
{
    lx_buf b;
    lx_buf_init(&b, 64);
    cr_assert_eq(lx_buf_append_cstr(&b, "n="), LX_OK);
    cr_assert_eq(lx_buf_printf(&b, "%d,%s,%05.1f", 42, "x", 3.25), LX_OK);
    cr_assert_str_eq(b.data, "n=42,x,003.2");
    cr_assert_eq(b.len, strlen("n=42,x,003.2"));
    lx_buf_release(&b);
}

Test(buf, printf_past_cap_fails_and_leaves_content)
{
    lx_buf b;
    lx_buf_init(&b, 10);
    cr_assert_eq(lx_buf_printf(&b, "%s", "abcdef"), LX_OK);
    cr_assert_eq(lx_buf_printf(&b, "%d", 12345), LX_ERR);
    cr_assert_eq(b.len, 6);
    cr_assert_str_eq(b.data, "abcdef");
    cr_assert_eq(lx_buf_printf(&b, "%d", 1234), LX_OK);
    cr_assert_str_eq(b.data, "abcdef1234");
    lx_buf_release(&b);
}

Test(buf, grows_across_many_appends)
{
    lx_buf b;
    lx_buf_init(&b, 5000);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(lx_buf_append(&b, "abcde", 5), LX_OK);
    cr_assert_eq(b.len, 5000);
    cr_assert_eq(lx_buf_append_char(&b, 'z'), LX_ERR);
    for (size_t i = 0; i < b.len; i++)
        cr_assert_eq(b.data[i], "abcde"[i % 5]);
    cr_assert_eq(b.data[b.len], '\0');
    lx_buf_release(&b);
}

Test(buf, consume_drops_prefix)
{
    lx_buf b;
    lx_buf_init(&b, 64);
    lx_buf_append_cstr(&b, "data: x\n\nrest");
    lx_buf_consume(&b, 9);
    cr_assert_eq(b.len, 4);
    cr_assert_str_eq(b.data, "rest");
    lx_buf_consume(&b, 0);
    cr_assert_str_eq(b.data, "rest");
    lx_buf_consume(&b, 4);
    cr_assert_eq(b.len, 0);
    cr_assert_str_eq(b.data, "");
    /* consuming frees room under the cap */
    lx_buf_release(&b);
    lx_buf_init(&b, 4);
    lx_buf_append_cstr(&b, "abcd");
    cr_assert_eq(lx_buf_append_char(&b, 'e'), LX_ERR);
    lx_buf_consume(&b, 2);
    cr_assert_eq(lx_buf_append_cstr(&b, "ef"), LX_OK);
    cr_assert_str_eq(b.data, "cdef");
    lx_buf_release(&b);
}

Test(buf, reset_keeps_memory)
{
    lx_buf b;
    lx_buf_init(&b, 64);
    lx_buf_reset(&b); /* on an empty buffer: no crash */
    lx_buf_append_cstr(&b, "abc");
    char *before = b.data;
    lx_buf_reset(&b);
    cr_assert_eq(b.len, 0);
    cr_assert_str_eq(b.data, "");
    cr_assert_eq(lx_buf_append_cstr(&b, "x"), LX_OK);
    cr_assert_eq(b.data, before);
    lx_buf_release(&b);
}

Test(buf, detach_hands_over_bytes)
{
    lx_buf b;
    lx_buf_init(&b, 64);
    lx_buf_append_cstr(&b, "owned");
    size_t len = 0;
    char *p = lx_buf_detach(&b, &len);
    cr_assert_not_null(p);
    cr_assert_eq(len, 5);
    cr_assert_str_eq(p, "owned");
    cr_assert_null(b.data);
    cr_assert_eq(b.len, 0);
    /* the buffer is reusable with its cap */
    cr_assert_eq(lx_buf_append_cstr(&b, "again"), LX_OK);
    cr_assert_str_eq(b.data, "again");
    cr_assert_neq(b.data, p);
    free(p);
    lx_buf_release(&b);
    cr_assert_null(lx_buf_detach(&b, NULL));
}

/* ---- lx_arena ----------------------------------------------------------- */

Test(arena, allocations_are_16_aligned_and_distinct)
{
    lx_arena a;
    lx_arena_init(&a, 1 << 20);
    char *prev = NULL;
    for (size_t n = 1; n < 200; n += 7) {
        char *p = lx_arena_alloc(&a, n);
        cr_assert_not_null(p);
        cr_assert_eq((uintptr_t)p % 16, 0, "size %zu not aligned", n);
        memset(p, 0xab, n); /* ASan catches an overlap with the chunk header */
        if (prev)
            cr_assert_neq(p, prev);
        prev = p;
    }
    lx_arena_release(&a);
}

Test(arena, large_allocation_gets_its_own_chunk)
{
    lx_arena a;
    lx_arena_init(&a, 1 << 20);
    char *small = lx_arena_alloc(&a, 10);
    char *big = lx_arena_alloc(&a, 100000);
    cr_assert_not_null(small);
    cr_assert_not_null(big);
    cr_assert_eq((uintptr_t)big % 16, 0);
    memset(big, 1, 100000);
    memset(small, 2, 10);
    cr_assert_eq(big[0], 1);
    cr_assert_eq(big[99999], 1);
    lx_arena_release(&a);
}

Test(arena, cap_returns_null_and_stays_usable)
{
    lx_arena a;
    lx_arena_init(&a, 64 * 1024);
    cr_assert_null(lx_arena_alloc(&a, 128 * 1024));
    void *p = lx_arena_alloc(&a, 100);
    cr_assert_not_null(p);
    size_t total = 100;
    while (lx_arena_alloc(&a, 1000) != NULL) {
        total += 1000;
        cr_assert_leq(total, 64 * 1024);
    }
    cr_assert_leq(a.used_total, a.cap);
    cr_assert_null(lx_arena_alloc(&a, 50000));
    lx_arena_release(&a);
    cr_assert_eq(a.used_total, 0);
    cr_assert_not_null(lx_arena_alloc(&a, 1000));
    lx_arena_release(&a);
}

Test(arena, size_overflow_returns_null)
{
    lx_arena a;
    lx_arena_init(&a, 1 << 20);
    /* rounding to 16 must not wrap to a tiny allocation */
    cr_expect_null(lx_arena_alloc(&a, SIZE_MAX), "alloc(SIZE_MAX) must fail");
    cr_expect_null(lx_arena_alloc(&a, SIZE_MAX - 15), "alloc(SIZE_MAX-15) must fail");
    cr_expect_null(lx_arena_strndup(&a, "x", SIZE_MAX), "strndup(SIZE_MAX) must fail");
    lx_arena_release(&a);
}

Test(arena, reset_keeps_working)
{
    lx_arena a;
    lx_arena_init(&a, 1 << 20);
    for (int round = 0; round < 50; round++) {
        for (int k = 0; k < 20; k++) {
            char *p = lx_arena_alloc(&a, 1000);
            cr_assert_not_null(p, "round %d", round);
            cr_assert_eq((uintptr_t)p % 16, 0);
            memset(p, round, 1000);
        }
        lx_arena_reset(&a);
        cr_assert_leq(a.used_total, a.cap);
    }
    /* steady state: one chunk kept, its memory reused */
    char *first = lx_arena_alloc(&a, 16);
    lx_arena_reset(&a);
    cr_assert_eq(lx_arena_alloc(&a, 16), first);
    lx_arena_release(&a);
    lx_arena_reset(&a); /* reset of an empty arena is harmless */
    cr_assert_not_null(lx_arena_alloc(&a, 16));
    lx_arena_release(&a);
}

Test(arena, strndup_copies_and_terminates)
{
    lx_arena a;
    lx_arena_init(&a, 1 << 16);
    char *s = lx_arena_strndup(&a, "hello world", 5);
    cr_assert_str_eq(s, "hello");
    char *e = lx_arena_strndup(&a, "", 0);
    cr_assert_str_eq(e, "");
    lx_arena_release(&a);
}

/* ---- lx_str ------------------------------------------------------------- */

Test(str, views_compare)
{
    lx_str a = LX_STR_LIT("abc");
    cr_assert(lx_str_eq(a, lx_str_from_cstr("abc")));
    cr_assert_not(lx_str_eq(a, LX_STR_LIT("abd")));
    cr_assert_not(lx_str_eq(a, LX_STR_LIT("ab")));
    cr_assert(lx_str_eq(LX_STR_NULL, LX_STR_LIT("")));
    cr_assert(lx_str_eq_cstr(a, "abc"));
    cr_assert_eq(lx_str_from_cstr(NULL).len, 0);
    cr_assert(lx_str_starts_with(a, LX_STR_LIT("ab")));
    cr_assert(lx_str_starts_with(a, LX_STR_LIT("")));
    cr_assert_not(lx_str_starts_with(LX_STR_LIT("a"), LX_STR_LIT("ab")));
}

/* ---- ids ---------------------------------------------------------------- */

Test(id, request_id_format)
{
    char a[LX_ID_REQUEST_LEN + 1], b[LX_ID_REQUEST_LEN + 1];
    lx_id_request(a);
    lx_id_request(b);
    cr_assert_eq(strlen(a), 28);
    cr_assert_eq(strncmp(a, "req_", 4), 0);
    for (int i = 4; i < 28; i++)
        cr_assert(strchr("0123456789abcdef", a[i]) != NULL && a[i] != '\0', "char %d: %c", i, a[i]);
    cr_assert_str_neq(a, b);
    cr_assert(lx_id_request_valid(lx_str_from_cstr(a)));
}

Test(id, random64_varies)
{
    uint64_t x = lx_id_random64(), y = lx_id_random64(), z = lx_id_random64();
    cr_assert(x != y || y != z);
}

Test(id, request_valid_table)
{
    static const struct {
        const char *id;
        bool valid;
    } cases[] = {
        {"a", true},           {"req_0123abcdef", true},
        {"A-Z.a_z:09", true},  {"trace-id:1234.5_6", true},
        {"", false},           {"has space", false},
        {"slash/no", false},   {"quote\"", false},
        {"new\nline", false},  {"tab\t", false},
        {"semi;colon", false}, {"caf\xc3\xa9", false},
        {"plus+", false},      {"pct%20", false},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(cases); i++)
        cr_expect_eq(lx_id_request_valid(lx_str_from_cstr(cases[i].id)), cases[i].valid, "%s",
                     cases[i].id);
    char long_id[130];
    memset(long_id, 'x', sizeof(long_id));
    cr_assert(lx_id_request_valid((lx_str){long_id, 128}));
    cr_assert_not(lx_id_request_valid((lx_str){long_id, 129}));
    cr_assert_not(lx_id_request_valid((lx_str){"a\0b", 3}));
}

/* ---- clock -------------------------------------------------------------- */

Test(clock, rfc3339_fixed_times)
{
    char out[32];
    lx_clock_format_rfc3339(0, out);
    cr_assert_str_eq(out, "1970-01-01T00:00:00.000Z");
    lx_clock_format_rfc3339(1700000000123u, out);
    cr_assert_str_eq(out, "2023-11-14T22:13:20.123Z");
    lx_clock_format_rfc3339(951782400999u, out); /* leap day 2000 */
    cr_assert_str_eq(out, "2000-02-29T00:00:00.999Z");
    lx_clock_format_rfc3339(4102444799001u, out);
    cr_assert_str_eq(out, "2099-12-31T23:59:59.001Z");
    cr_assert_eq(strlen(out), 24);
}

Test(clock, monotonic_and_wall_move_forward)
{
    uint64_t m1 = lx_clock_mono_us(), w1 = lx_clock_wall_ms();
    uint64_t m2 = lx_clock_mono_us(), w2 = lx_clock_wall_ms();
    cr_assert_geq(m2, m1);
    cr_assert_geq(w2, w1);
    cr_assert_gt(w1, 1600000000000u); /* after 2020 */
}
