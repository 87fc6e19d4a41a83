/*
 * fuzz_redact.c — libFuzzer target for src/policy/redact.c: redacting any
 * bytes whole, in two pieces cut at a position taken from the input, or one
 * byte at a time gives the same output, and restoring pseudonyms does not
 * crash. The first byte picks the cut, the second the action.
 */
#include <stdlib.h>
#include <string.h>

#include "policy/redact.h"

static const char *names[] = {"email", "phone", "card", "iban", "ipv4", "ipv6", "secret"};

static lx_redact_set *make_set(lx_redact_action action)
{
    lx_redact_set *set = lx_redact_set_new(NULL);
    for (size_t i = 0; set && i < LX_ARRAY_LEN(names); i++)
        if (lx_redact_set_add_builtin(set, names[i], action, NULL) != LX_OK)
            abort();
    if (set && lx_redact_set_add_custom(set, "ticket", "TCK-([0-9]{3,8})", action, NULL) != LX_OK)
        abort();
    return set;
}

/* Feeds p in pieces of at most step bytes (0: one cut at cut). */
static int streamed(lx_redact_set *set, const char *p, size_t n, size_t cut, size_t step,
                    lx_buf *out)
{
    lx_redact_ctx *ctx = lx_redact_ctx_new(set);
    lx_redact_stream *st = lx_redact_stream_new(ctx, false);
    int rc = LX_OK;
    if (step == 0) {
        rc = lx_redact_stream_feed(st, (lx_str){p, cut}, out);
        if (rc == LX_OK)
            rc = lx_redact_stream_feed(st, (lx_str){p + cut, n - cut}, out);
    } else {
        for (size_t i = 0; i < n && rc == LX_OK; i += step)
            rc = lx_redact_stream_feed(st, (lx_str){p + i, LX_MIN(step, n - i)}, out);
    }
    if (rc == LX_OK)
        rc = lx_redact_stream_flush(st, out);
    lx_redact_stream_free(st);
    lx_redact_ctx_free(ctx);
    return rc;
}

static void same(const lx_buf *a, const lx_buf *b)
{
    if (a->len != b->len || (a->len && memcmp(a->data, b->data, a->len) != 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lx_redact_set *sets[4];
    if (size < 2 || size > 8192)
        return 0;
    lx_redact_action action = (lx_redact_action)(data[1] % 4);
    if (sets[action] == NULL)
        sets[action] = make_set(action);
    lx_redact_set *set = sets[action];
    const char *p = (const char *)data + 2;
    size_t n = size - 2, cut = n ? data[0] % (n + 1) : 0;

    lx_buf whole, split, bytes, back;
    lx_buf_init(&whole, 1 << 20);
    lx_buf_init(&split, 1 << 20);
    lx_buf_init(&bytes, 1 << 20);
    lx_buf_init(&back, 1 << 20);
    lx_redact_ctx *ctx = lx_redact_ctx_new(set);
    int rc = lx_redact_text(ctx, (lx_str){p, n}, &whole);
    if (rc == LX_OK) {
        if (streamed(set, p, n, cut, 0, &split) != LX_OK ||
            streamed(set, p, n, 0, 1, &bytes) != LX_OK)
            abort();
        same(&whole, &split);
        same(&whole, &bytes);
        /* restoring a pseudonymised text gives back the input */
        if (lx_redact_restore(ctx, lx_buf_str(&whole), &back) != LX_OK)
            abort();
        if (action == LX_REDACT_PSEUDONYM && !(lx_redact_ctx_flags(ctx) & LX_REDACT_TABLE_FULL) &&
            n > 0 && memchr(p, '<', n) == NULL && (back.len != n || memcmp(back.data, p, n) != 0))
            abort();
    }
    lx_redact_ctx_free(ctx);
    lx_buf_release(&whole);
    lx_buf_release(&split);
    lx_buf_release(&bytes);
    lx_buf_release(&back);
    return 0;
}
