/*
 * fuzz_json.c — libFuzzer target for src/json/: lx_json_parse() on any
 * bytes, then every accessor on every token of what it accepts, and the
 * escape/unescape round trip of the input as a string.
 */
#include <stdlib.h>
#include <string.h>

#include "json/json.h"

static void walk(const lx_json *j)
{
    if (lx_json_skip(j, 0) != j->ntok)
        abort(); /* one value, whole input */
    lx_buf b;
    lx_buf_init(&b, 1 << 20);
    for (int i = 0; i < j->ntok; i++) {
        int64_t v;
        bool bv;
        lx_str text = lx_json_value_text(j, i);
        if (text.ptr < j->src || text.ptr + text.len > j->src + j->len)
            abort();
        (void)lx_json_int64(j, i, &v);
        (void)lx_json_bool(j, i, &bv);
        (void)lx_json_is_null(j, i);
        (void)lx_json_is_number(j, i);
        if (lx_json_is_object(j, i)) {
            (void)lx_json_get(j, i, "model");
            (void)lx_json_get(j, i, "");
        }
        if (lx_json_is_string(j, i)) {
            lx_buf_reset(&b);
            if (lx_json_unescape(j, i, &b) != LX_OK)
                abort();
            /* the unescaped text is valid UTF-8 (lone surrogates become U+FFFD) */
            if (!lx_json_utf8_valid(b.data ? b.data : "", b.len))
                abort();
            if (memchr(b.data ? b.data : "", '\0', b.len) == NULL &&
                !lx_json_str_eq(j, i, b.data ? b.data : ""))
                abort();
        }
    }
    lx_buf_release(&b);
}

/* Escaping valid UTF-8 text and reading it back gives the same bytes. */
static void round_trip(const uint8_t *data, size_t size)
{
    if (!lx_json_utf8_valid((const char *)data, size))
        return;
    lx_buf b;
    lx_buf_init(&b, size * 6 + 8);
    lx_buf_append(&b, "[\"", 2);
    if (lx_json_escape(&b, (const char *)data, size) != LX_OK)
        abort();
    lx_buf_append(&b, "\"]", 2);
    lx_arena a;
    lx_arena_init(&a, 64 << 20);
    lx_json j;
    if (lx_json_parse(&j, b.data, b.len, &a, 4) != LX_JSON_OK)
        abort();
    lx_buf out;
    lx_buf_init(&out, size + 1);
    if (lx_json_unescape(&j, 1, &out) != LX_OK || out.len != size ||
        (size && memcmp(out.data, data, size) != 0))
        abort();
    lx_buf_release(&out);
    lx_arena_release(&a);
    lx_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lx_arena a;
    lx_arena_init(&a, 64 << 20);
    lx_json j;
    if (lx_json_parse(&j, (const char *)data, size, &a, 32) == LX_JSON_OK)
        walk(&j);
    lx_arena_release(&a);
    round_trip(data, size);
    return 0;
}
