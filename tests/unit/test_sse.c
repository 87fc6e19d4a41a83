/*
 * test_sse.c — unit tests for src/upstream/sse.c: the incremental SSE
 * reader must give the same events whatever the split of its input.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "upstream/sse.h"

/* Events are recorded as "E|name|data" or "C|text", one per line of log. */
struct rec {
    lx_buf log;
    int n;
    int stop_at; /* return stop_code on this event (1-based), 0 = never */
    int stop_code;
};

static int record(void *data, const lx_sse_event *ev)
{
    struct rec *r = data;
    r->n++;
    if (ev->kind == LX_SSE_COMMENT) {
        lx_buf_append_cstr(&r->log, "C|");
    } else {
        lx_buf_append_cstr(&r->log, "E|");
        lx_buf_append_str(&r->log, ev->event);
        lx_buf_append_char(&r->log, '|');
    }
    lx_buf_append_str(&r->log, ev->data);
    lx_buf_append_char(&r->log, '\n');
    if (r->stop_at && r->n == r->stop_at)
        return r->stop_code;
    return LX_OK;
}

static void rec_init(struct rec *r)
{
    lx_buf_init(&r->log, 1 << 20);
    r->n = 0;
    r->stop_at = 0;
    r->stop_code = 0;
}

/* Feeds s in pieces at the given cut points; returns the log. */
static char *feed_split(const char *s, size_t n, const size_t *cuts, size_t ncuts, int *rc_out)
{
    lx_sse_reader rd;
    lx_sse_init(&rd, 4096);
    struct rec r;
    rec_init(&r);
    size_t pos = 0;
    int rc = LX_OK;
    for (size_t k = 0; k <= ncuts && rc == LX_OK; k++) {
        size_t end = k < ncuts ? cuts[k] : n;
        rc = lx_sse_feed(&rd, s + pos, end - pos, record, &r);
        pos = end;
    }
    if (rc_out)
        *rc_out = rc;
    lx_sse_release(&rd);
    char *out = r.log.data ? strdup(r.log.data) : strdup("");
    lx_buf_release(&r.log);
    return out;
}

static char *feed_whole(const char *s)
{
    return feed_split(s, strlen(s), NULL, 0, NULL);
}

static const char stream[] = "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n"
                             "\n"
                             ": keep-alive\n"
                             "\n"
                             "event: response.output_text.delta\n"
                             "data: {\"delta\":\"x\"}\n"
                             "\n"
                             "id: 7\r\n"
                             "retry: 100\r\n"
                             "data:line1\r\n"
                             "data: line2\r\n"
                             "data\r\n"
                             "\r\n"
                             "event: lonely\n"
                             "\n"
                             "data: after lonely\n"
                             "\n"
                             "data: [DONE]\n"
                             "\n";

static const char stream_log[] = "E||{\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n"
                                 "C| keep-alive\n"
                                 "E|response.output_text.delta|{\"delta\":\"x\"}\n"
                                 "E||line1\nline2\n\n"
                                 "E||after lonely\n"
                                 "E||[DONE]\n";

Test(sse, whole_stream)
{
    char *log = feed_whole(stream);
    cr_assert_str_eq(log, stream_log);
    free(log);
}

Test(sse, every_single_split_point)
{
    size_t n = strlen(stream);
    for (size_t cut = 0; cut <= n; cut++) {
        char *log = feed_split(stream, n, &cut, 1, NULL);
        cr_assert_str_eq(log, stream_log, "split at %zu", cut);
        free(log);
    }
}

Test(sse, one_byte_at_a_time)
{
    size_t n = strlen(stream);
    size_t *cuts = malloc(sizeof(size_t) * n);
    for (size_t i = 0; i < n; i++)
        cuts[i] = i;
    char *log = feed_split(stream, n, cuts, n, NULL);
    cr_assert_str_eq(log, stream_log);
    free(log);
    free(cuts);
}

Test(sse, random_splits)
{
    size_t n = strlen(stream);
    srand(12345);
    for (int round = 0; round < 500; round++) {
        size_t cuts[16], nc = 0, pos = 0;
        while (nc < 16) {
            pos += (size_t)(rand() % 24);
            if (pos > n)
                break;
            cuts[nc++] = pos;
        }
        char *log = feed_split(stream, n, cuts, nc, NULL);
        cr_assert_str_eq(log, stream_log, "round %d", round);
        free(log);
    }
}

Test(sse, empty_feed_and_pending)
{
    lx_sse_reader rd;
    lx_sse_init(&rd, 1024);
    struct rec r;
    rec_init(&r);
    cr_assert_eq(lx_sse_feed(&rd, "", 0, record, &r), LX_OK);
    cr_assert_not(lx_sse_pending(&rd));
    cr_assert_eq(lx_sse_feed(&rd, "data: a", 7, record, &r), LX_OK);
    cr_assert(lx_sse_pending(&rd), "partial line held");
    cr_assert_eq(lx_sse_feed(&rd, "\n", 1, record, &r), LX_OK);
    cr_assert(lx_sse_pending(&rd), "data without its blank line");
    cr_assert_eq(r.n, 0);
    cr_assert_eq(lx_sse_feed(&rd, "\n", 1, record, &r), LX_OK);
    cr_assert_not(lx_sse_pending(&rd));
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.log.data, "E||a\n");
    lx_sse_release(&rd);
    lx_buf_release(&r.log);
}

Test(sse, space_after_colon_is_optional_and_only_one_dropped)
{
    char *log = feed_whole("data:a\n\ndata: b\n\ndata:  c\n\nevent:e\ndata:x\n\n");
    cr_assert_str_eq(log, "E||a\nE||b\nE|| c\nE|e|x\n");
    free(log);
}

Test(sse, crlf_and_lf_mixed)
{
    char *log = feed_whole("data: a\r\ndata: b\n\r\nevent: n\r\ndata: c\r\n\r\n");
    cr_assert_str_eq(log, "E||a\nb\nE|n|c\n");
    free(log);
}

Test(sse, multiline_data_joined_with_lf)
{
    char *log = feed_whole("data: {\n data: \"a\":1\ndata: }\n\n");
    /* " data:" begins with a space: an unknown field, ignored */
    cr_assert_str_eq(log, "E||{\n}\n");
    free(log);
    log = feed_whole("data: 1\ndata: 2\ndata: 3\n\n");
    cr_assert_str_eq(log, "E||1\n2\n3\n");
    free(log);
}

Test(sse, event_name_applies_to_one_event)
{
    char *log = feed_whole("event: first\ndata: 1\n\ndata: 2\n\nevent: a\nevent: b\ndata: 3\n\n");
    cr_assert_str_eq(log, "E|first|1\nE||2\nE|b|3\n");
    free(log);
}

Test(sse, comments_reported)
{
    char *log = feed_whole(":\n: ping\n:x\n\ndata: d\n: inside\n\n");
    cr_assert_str_eq(log, "C|\nC| ping\nC|x\nC| inside\nE||d\n");
    free(log);
}

Test(sse, blank_lines_without_data_dispatch_nothing)
{
    char *log = feed_whole("\n\n\r\n\nid: 1\n\nretry: 5\n\n");
    cr_assert_str_eq(log, "");
    free(log);
}

Test(sse, unterminated_event_not_dispatched)
{
    char *log = feed_whole("data: a\n\ndata: b\n");
    cr_assert_str_eq(log, "E||a\n");
    free(log);
}

Test(sse, cap_exceeded_fails)
{
    lx_sse_reader rd;
    lx_sse_init(&rd, 16);
    struct rec r;
    rec_init(&r);
    /* fits: 16 bytes of data */
    cr_assert_eq(lx_sse_feed(&rd, "data: 0123456789abcdef\n\n", 24, record, &r), LX_OK);
    cr_assert_eq(r.n, 1);
    /* one long line without its end */
    lx_sse_reader rd2;
    lx_sse_init(&rd2, 16);
    cr_assert_eq(lx_sse_feed(&rd2, "data: 0123456789abcdefXYZ", 25, record, &r), LX_ERR);
    lx_sse_release(&rd2);
    /* many data lines that together pass the cap */
    lx_sse_reader rd3;
    lx_sse_init(&rd3, 16);
    int rc = LX_OK;
    for (int i = 0; i < 10 && rc == LX_OK; i++)
        rc = lx_sse_feed(&rd3, "data: 0123\n", 11, record, &r);
    cr_assert_eq(rc, LX_ERR);
    lx_sse_release(&rd3);
    /* a long line split across feeds */
    lx_sse_reader rd4;
    lx_sse_init(&rd4, 16);
    rc = LX_OK;
    for (int i = 0; i < 10 && rc == LX_OK; i++)
        rc = lx_sse_feed(&rd4, "abcd", 4, record, &r);
    cr_assert_eq(rc, LX_ERR);
    lx_sse_release(&rd4);
    cr_assert_eq(r.n, 1);
    lx_sse_release(&rd);
    lx_buf_release(&r.log);
}

Test(sse, callback_stop_code_propagates)
{
    lx_sse_reader rd;
    lx_sse_init(&rd, 1024);
    struct rec r;
    rec_init(&r);
    r.stop_at = 2;
    r.stop_code = 42;
    const char *s = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    cr_assert_eq(lx_sse_feed(&rd, s, strlen(s), record, &r), 42);
    cr_assert_eq(r.n, 2, "no event after the stop");
    lx_sse_release(&rd);
    lx_buf_release(&r.log);

    /* a comment callback can stop too */
    lx_sse_init(&rd, 1024);
    rec_init(&r);
    r.stop_at = 1;
    r.stop_code = LX_ERR;
    cr_assert_eq(lx_sse_feed(&rd, ": c\ndata: 1\n\n", 13, record, &r), LX_ERR);
    cr_assert_eq(r.n, 1);
    lx_sse_release(&rd);
    lx_buf_release(&r.log);
}

Test(sse, reader_reusable_after_release)
{
    lx_sse_reader rd;
    lx_sse_init(&rd, 64);
    struct rec r;
    rec_init(&r);
    lx_sse_feed(&rd, "data: x", 7, record, &r);
    lx_sse_release(&rd);
    lx_sse_init(&rd, 64);
    cr_assert_eq(lx_sse_feed(&rd, "data: y\n\n", 9, record, &r), LX_OK);
    cr_assert_str_eq(r.log.data, "E||y\n");
    lx_sse_release(&rd);
    lx_buf_release(&r.log);
}

/* Whether a feed passes the cap must not depend on how TCP cut the bytes:
 * a long line of an ignored field (id:, a comment) passes when it arrives
 * whole but fails when split, because only a split line is buffered. */
Test(sse, cap_does_not_depend_on_split)
{
    char s[400];
    memcpy(s, "id: ", 4);
    memset(s + 4, 'x', 300);
    memcpy(s + 304, "\ndata: y\n\n", 10);
    size_t n = 314;
    for (size_t cut = 0; cut <= n; cut += 50) {
        lx_sse_reader whole, split;
        lx_sse_init(&whole, 256);
        lx_sse_init(&split, 256);
        struct rec r;
        rec_init(&r);
        int rw = lx_sse_feed(&whole, s, n, record, &r);
        int rs = lx_sse_feed(&split, s, cut, record, &r);
        if (rs == LX_OK)
            rs = lx_sse_feed(&split, s + cut, n - cut, record, &r);
        cr_expect_eq(rw, rs, "cut at %zu: whole %d, split %d", cut, rw, rs);
        lx_sse_release(&whole);
        lx_sse_release(&split);
        lx_buf_release(&r.log);
    }
}
