/*
 * fuzz_callhold.c — libFuzzer target for src/policy/callhold.c: the input
 * is a stream of chunks, one per line (the first byte picks the mode).
 * Whatever the chunks, what passes and what is released is every chunk
 * fed, once each and in order, as long as the holder never said FULL or
 * ERROR; completed items are always readable.
 */
#include <stdlib.h>
#include <string.h>

#include "policy/callhold.h"

static int append(void *arg, lx_str data)
{
    lx_buf *out = arg;
    return lx_buf_append_str(out, data) != LX_OK || lx_buf_append_char(out, '\n') != LX_OK;
}

/* Reads every completed item's bytes (ASan checks the views). */
static void read_items(const struct lx_callhold *h, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        struct lx_callhold_item it;
        lx_callhold_completed(h, k, &it);
        volatile unsigned char sum = 0;
        for (size_t i = 0; i < it.text.len; i++)
            sum += (unsigned char)it.text.ptr[i];
        for (size_t i = 0; i < it.name.len; i++)
            sum += (unsigned char)it.name.ptr[i];
        for (size_t i = 0; i < it.id.len; i++)
            sum += (unsigned char)it.id.ptr[i];
        (void)sum;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool hold = data[0] & 1, content = data[0] & 2;
    size_t cap = data[0] & 4 ? 256 : 1 << 16;
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    struct lx_callhold *h = lx_callhold_new(cap, hold, content);
    lx_arena scratch;
    lx_arena_init(&scratch, 1 << 20);
    lx_buf fed, out;
    lx_buf_init(&fed, 1 << 20);
    lx_buf_init(&out, 1 << 20);
    bool broken = false;
    while (p < end && !broken) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        lx_str chunk = {p, nl ? (size_t)(nl - p) : (size_t)(end - p)};
        p = nl ? nl + 1 : end;
        append(&fed, chunk);
        size_t n = 0;
        lx_arena_reset(&scratch);
        enum lx_callhold_step s = lx_callhold_chunk(h, chunk, &scratch, 16, &n);
        if (s == LX_CALLHOLD_FULL || s == LX_CALLHOLD_ERROR) {
            broken = true;
            break;
        }
        read_items(h, n);
        lx_callhold_release(h, append, &out);
        if (s == LX_CALLHOLD_PASS)
            append(&out, chunk);
    }
    if (!broken) {
        read_items(h, lx_callhold_end(h));
        lx_callhold_release(h, append, &out);
        if (fed.len != out.len || (fed.len && memcmp(fed.data, out.data, fed.len) != 0))
            abort(); /* a chunk lost, doubled or out of order */
    }
    lx_buf_release(&fed);
    lx_buf_release(&out);
    lx_arena_release(&scratch);
    lx_callhold_free(h);
    return 0;
}
