/*
 * test_itemref.c — item_reference inputs (proxy/itemref.h): the decoder
 * counts and leaves them out, and a gateway item id names its response.
 * Resolution against the store is covered end to end in
 * tests/e2e/responses_itemref.test.mjs.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "dialect/responses.h"
#include "proxy/itemref.h"

static lx_arena arena;

static void setup(void)
{
    lx_arena_init(&arena, 1 << 20);
}

static void teardown(void)
{
    lx_arena_release(&arena);
}

TestSuite(itemref, .init = setup, .fini = teardown);

Test(itemref, decoder_counts_references_and_keeps_the_other_items_in_order)
{
    static const char body[] =
        "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"hi\"},"
        "{\"type\":\"item_reference\",\"id\":\"rs_0123456789abcdef0123456789abcdef_0\"},"
        "{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":\"ok\"},"
        "{\"type\":\"item_reference\",\"id\":\"fc_0123456789abcdef0123456789abcdef_1\"}]}";
    struct lx_ir_request req;
    struct lx_resp_fault f;
    cr_assert_eq(lx_resp_request_decode(&req, body, sizeof(body) - 1, &arena, 64, &f), LX_OK, "%s",
                 f.message);
    cr_expect_eq(req.nrefs, 2);
    cr_assert_eq(req.nitems, 2);
    cr_expect_eq(req.items[0].kind, LX_IR_ITEM_MESSAGE);
    cr_expect_eq(req.items[1].kind, LX_IR_ITEM_FUNCTION_CALL_OUTPUT);
}

Test(itemref, a_request_without_references_has_none)
{
    static const char body[] = "{\"model\":\"m\",\"input\":\"hi\"}";
    struct lx_ir_request req;
    struct lx_resp_fault f;
    cr_assert_eq(lx_resp_request_decode(&req, body, sizeof(body) - 1, &arena, 64, &f), LX_OK);
    cr_expect_eq(req.nrefs, 0);
    cr_expect_eq(req.nitems, 1);
}

Test(itemref, a_reference_needs_a_string_id)
{
    static const char *bodies[] = {
        "{\"model\":\"m\",\"input\":[\"x\",{\"type\":\"item_reference\"}]}",
        "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"a\"},"
        "{\"type\":\"item_reference\",\"id\":7}]}",
    };
    for (size_t k = 0; k < 2; k++) {
        struct lx_ir_request req;
        struct lx_resp_fault f;
        int rc = lx_resp_request_decode(&req, bodies[k], strlen(bodies[k]), &arena, 64, &f);
        cr_expect_eq(rc, LX_ERR, "%s", bodies[k]);
        if (k == 1)
            cr_expect_str_eq(f.param, "input[1].id");
    }
}

static int rid(const char *id, char *out)
{
    return lx_proxy_itemref_response_id((lx_str){id, strlen(id)}, out, 40);
}

Test(itemref, a_gateway_item_id_names_its_response)
{
    char out[40];
    cr_assert_eq(rid("rs_0123456789abcdef0123456789abcdef_0", out), LX_OK);
    cr_expect_str_eq(out, "resp_0123456789abcdef0123456789abcdef");
    cr_assert_eq(rid("msg_ffffffffffffffffffffffffffffffff_12", out), LX_OK);
    cr_expect_str_eq(out, "resp_ffffffffffffffffffffffffffffffff");
    cr_assert_eq(rid("ctc_00000000000000000000000000000000_3", out), LX_OK);
}

Test(itemref, other_ids_name_no_response)
{
    char out[40];
    static const char *bad[] = {
        "",
        "rs_",
        "rs_0123456789abcdef0123456789abcdef",    /* no index */
        "rs_0123456789abcdef0123456789abcdef_",   /* empty index */
        "rs_0123456789abcdef0123456789abcdeF_0",  /* upper case */
        "rs_0123456789abcdef0123456789abcde_0",   /* 31 digits */
        "rs_0123456789abcdef0123456789abcdef0_0", /* 33 digits */
        "rs_0123456789abcdef0123456789abcdef_0x",
        "rs_68b9c1d2e3f4a5b6c7d8e9f00112233445566778", /* OpenAI's shape */
        "msg_c0dex_usr_1",
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
        cr_expect_eq(rid(bad[k], out), LX_ERR, "%s", bad[k]);
    cr_expect_eq(lx_proxy_itemref_response_id((lx_str){"rs_0123456789abcdef0123456789abcdef_0", 37},
                                              out, 37),
                 LX_ERR, "out too small");
}
