/*
 * fuzz_sse.c — libFuzzer target for src/upstream/sse.c: the events read
 * from any bytes are the same whether they arrive whole, in two pieces cut
 * at a position taken from the input, or one byte at a time.
 */
#include <stdlib.h>
#include <string.h>

#include "upstream/sse.h"

static int record(void *data, const lx_sse_event *ev)
{
    lx_buf *log = data;
    char kind = ev->kind == LX_SSE_COMMENT ? 'C' : 'E';
    /* lengths make the log unambiguous whatever the bytes */
    if (lx_buf_printf(log, "%c%zu:%zu:", kind, ev->event.len, ev->data.len) != LX_OK ||
        lx_buf_append_str(log, ev->event) != LX_OK || lx_buf_append_str(log, ev->data) != LX_OK)
        return 99;
    return LX_OK;
}

/* Feeds data in pieces of at most step bytes (0: one piece cut at cut). */
static int run(const char *p, size_t n, size_t cut, size_t step, lx_buf *log)
{
    lx_sse_reader r;
    lx_sse_init(&r, 256);
    int rc = LX_OK;
    if (step == 0) {
        rc = lx_sse_feed(&r, p, cut, record, log);
        if (rc == LX_OK)
            rc = lx_sse_feed(&r, p + cut, n - cut, record, log);
    } else {
        for (size_t i = 0; i < n && rc == LX_OK; i += step)
            rc = lx_sse_feed(&r, p + i, LX_MIN(step, n - i), record, log);
    }
    lx_sse_release(&r);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t cut = data[0] % size;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    if (cut > n)
        cut = n;
    lx_buf whole, split, bytes;
    lx_buf_init(&whole, 1 << 20);
    lx_buf_init(&split, 1 << 20);
    lx_buf_init(&bytes, 1 << 20);
    int r1 = run(p, n, n, 0, &whole);
    int r2 = run(p, n, cut, 0, &split);
    int r3 = run(p, n, 0, 1, &bytes);
    if (r3 == LX_OK) {
        /* byte by byte holds every line in the capped line buffer, so it is
         * the strictest way: when it passes, the others pass with the same
         * events. (Whole lines of ignored fields skip that buffer: the cap
         * can depend on the split, see test_sse.c.) */
        if (r1 != LX_OK || r2 != LX_OK)
            abort();
        if (!lx_str_eq(lx_buf_str(&whole), lx_buf_str(&split)) ||
            !lx_str_eq(lx_buf_str(&whole), lx_buf_str(&bytes)))
            abort();
    }
    lx_buf_release(&whole);
    lx_buf_release(&split);
    lx_buf_release(&bytes);
    return 0;
}
