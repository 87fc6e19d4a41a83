/* test_seal.c — AES-256-GCM seals for client-held state (store/seal.h). */
#define _GNU_SOURCE /* memmem */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "store/seal.h"

static const char KEY_HEX[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

static struct lx_seal key(void)
{
    struct lx_seal s;
    cr_assert_eq(lx_seal_init_hex(&s, KEY_HEX), LX_OK);
    return s;
}

static void seal(const struct lx_seal *s, const char *ctx, const char *plain, lx_buf *out)
{
    lx_buf_init(out, 1 << 22);
    cr_assert_eq(lx_seal_close(s, ctx, lx_str_from_cstr(plain), out), LX_OK);
}

Test(seal, round_trip_and_format)
{
    struct lx_seal s = key();
    const char *plain = "The user wants \"Paris\" — check the weather first.\n";
    lx_buf b, o;
    seal(&s, "reasoning", plain, &b);
    /* base64 of 3 + 12 + len + 16 bytes */
    size_t raw = 31 + strlen(plain);
    cr_assert_eq(b.len, 4 * ((raw + 2) / 3));
    cr_assert(strncmp(b.data, "bHgx", 4) == 0, "starts with base64 of \"lx1\"");
    cr_assert_null(memmem(b.data, b.len, "Paris", 5), "the plaintext does not show");
    lx_buf_init(&o, 1 << 22);
    cr_assert_eq(lx_seal_open(&s, "reasoning", lx_buf_str(&b), &o), LX_OK);
    cr_assert_eq(o.len, strlen(plain));
    cr_assert(memcmp(o.data, plain, o.len) == 0);
    lx_buf_release(&b);
    lx_buf_release(&o);
}

Test(seal, empty_plaintext)
{
    struct lx_seal s = key();
    lx_buf b, o;
    seal(&s, "reasoning", "", &b);
    lx_buf_init(&o, 64);
    cr_assert_eq(lx_seal_open(&s, "reasoning", lx_buf_str(&b), &o), LX_OK);
    cr_assert_eq(o.len, 0);
    lx_buf_release(&b);
    lx_buf_release(&o);
}

Test(seal, each_seal_has_its_own_nonce)
{
    struct lx_seal s = key();
    lx_buf a, b;
    seal(&s, "reasoning", "same text", &a);
    seal(&s, "reasoning", "same text", &b);
    cr_assert_eq(a.len, b.len);
    cr_assert_neq(memcmp(a.data, b.data, a.len), 0);
    lx_buf_release(&a);
    lx_buf_release(&b);
}

Test(seal, refuses_other_context_key_or_any_flipped_byte)
{
    struct lx_seal s = key(), other;
    cr_assert_eq(lx_seal_init_random(&other), LX_OK);
    lx_buf b, o;
    seal(&s, "reasoning", "secret chain of thought", &b);
    lx_buf_init(&o, 1 << 20);
    cr_assert_eq(lx_seal_open(&s, "summary", lx_buf_str(&b), &o), LX_ERR);
    cr_assert_eq(lx_seal_open(&other, "reasoning", lx_buf_str(&b), &o), LX_ERR);
    cr_assert_eq(o.len, 0);
    for (size_t i = 0; i < b.len; i++) {
        char keep = b.data[i];
        if (keep == '=')
            continue;
        b.data[i] = keep == 'A' ? 'B' : 'A';
        int rc = lx_seal_open(&s, "reasoning", lx_buf_str(&b), &o);
        /* a change in the last base64 digit's unused low bits decodes to
         * the same bytes; anything else must fail */
        if (rc == LX_OK) {
            cr_assert_eq(i, b.len - 1 - (b.data[b.len - 1] == '=') - (b.data[b.len - 2] == '='),
                         "byte %zu changed and still opened", i);
            o.len = 0;
        }
        cr_assert_eq(o.len, 0, "no plaintext after a failed open (byte %zu)", i);
        b.data[i] = keep;
    }
    lx_buf_release(&b);
    lx_buf_release(&o);
}

Test(seal, refuses_foreign_and_malformed_input)
{
    struct lx_seal s = key();
    lx_buf o;
    lx_buf_init(&o, 1024);
    const char *bad[] = {
        "",
        "abc",                                      /* not a multiple of 4 */
        "gAAAAABoX2x1c2VyLXN0YXRlLWZyb20tb3BlbmFp", /* Fernet-like, not ours */
        "bHgx",                                     /* magic only */
        "****************************************************",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(lx_seal_open(&s, "reasoning", lx_str_from_cstr(bad[i]), &o), LX_ERR, "%s",
                     bad[i]);
    cr_assert_eq(o.len, 0);
    lx_buf_release(&o);
}

Test(seal, key_from_hex)
{
    struct lx_seal s;
    cr_assert_eq(lx_seal_init_hex(&s, KEY_HEX), LX_OK);
    cr_assert_eq(s.key[0], 0x00);
    cr_assert_eq(s.key[31], 0x1f);
    cr_assert_eq(lx_seal_init_hex(&s, "00"), LX_ERR);
    cr_assert_eq(lx_seal_init_hex(&s, NULL), LX_ERR);
    char bad[65];
    memcpy(bad, KEY_HEX, 65);
    bad[10] = 'g';
    cr_assert_eq(lx_seal_init_hex(&s, bad), LX_ERR);
}

Test(seal, caps)
{
    struct lx_seal s = key();
    size_t n = LX_SEAL_MAX_PLAIN + 1;
    char *big = calloc(1, n);
    lx_buf b;
    lx_buf_init(&b, 1 << 23);
    cr_assert_eq(lx_seal_close(&s, "reasoning", (lx_str){big, n}, &b), LX_ERR);
    lx_buf_release(&b);
    lx_buf_init(&b, 16); /* too small for any seal */
    cr_assert_eq(lx_seal_close(&s, "reasoning", LX_STR_LIT("hello"), &b), LX_ERR);
    lx_buf_release(&b);
    free(big);
}
