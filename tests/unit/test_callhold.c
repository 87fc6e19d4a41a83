/*
 * test_callhold.c — unit tests for src/policy/callhold.c: a streamed tool
 * call is held until complete (the next index, the finish, the end), its
 * arguments put together exactly whatever the split, and its chunks let go
 * byte for byte in order; content is held to the finish for structured
 * output; observe mode holds nothing; the cap and bad deltas stop it.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "policy/callhold.h"

TestSuite(callhold);

enum { CAP = 1 << 16, DEPTH = 32 };

static lx_arena scratch;

static void setup(void)
{
    lx_arena_init(&scratch, 1 << 20);
}

static void teardown(void)
{
    lx_arena_release(&scratch);
}

/* What a release emitted, one chunk per line. */
static char emitted[8192];

static int collect(void *arg, lx_str data)
{
    (void)arg;
    size_t n = strlen(emitted);
    snprintf(emitted + n, sizeof(emitted) - n, "%.*s\n", (int)data.len, data.ptr);
    return 0;
}

static enum lx_callhold_step feed(struct lx_callhold *h, const char *chunk, size_t *n)
{
    lx_arena_reset(&scratch);
    return lx_callhold_chunk(h, lx_str_from_cstr(chunk), &scratch, DEPTH, n);
}

/* The JSON string escape of s[0..n) (quotes and backslashes only: the test
 * texts have no control characters). */
static void escape(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 3 < cap; i++) {
        if (s[i] == '"' || s[i] == '\\')
            out[o++] = '\\';
        out[o++] = s[i];
    }
    out[o] = '\0';
}

static void args_chunk(char *out, size_t cap, int index, const char *part, size_t n)
{
    char esc[256];
    escape(part, n, esc, sizeof(esc));
    snprintf(out, cap,
             "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":%d,\"function\":{"
             "\"arguments\":\"%s\"}}]},\"finish_reason\":null}]}",
             index, esc);
}

#define CONTENT                                                                                    \
    "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi \"},\"finish_reason\":null}]}"
#define HEAD0                                                                                      \
    "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_a\","        \
    "\"type\":\"function\",\"function\":{\"name\":\"book\",\"arguments\":\"\"}}]},"                \
    "\"finish_reason\":null}]}"
#define HEAD1                                                                                      \
    "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\","        \
    "\"type\":\"function\",\"function\":{\"name\":\"ping\",\"arguments\":\"{}\"}}]},"              \
    "\"finish_reason\":null}]}"
#define FINISH "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}"
#define USAGE "{\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}"

static void expect_call(const struct lx_callhold *h, size_t k, const char *name, const char *id,
                        const char *args)
{
    struct lx_callhold_item it;
    lx_callhold_completed(h, k, &it);
    cr_assert_not(it.is_content);
    cr_assert(lx_str_eq(it.name, lx_str_from_cstr(name)), "name %.*s", (int)it.name.len,
              it.name.ptr);
    cr_assert(lx_str_eq(it.id, lx_str_from_cstr(id)));
    cr_assert(lx_str_eq(it.text, lx_str_from_cstr(args)), "args [%.*s] want [%s]", (int)it.text.len,
              it.text.ptr, args);
}

/* Two calls, the first one's arguments split in two at every byte. */
Test(callhold, split_at_every_boundary, .init = setup, .fini = teardown)
{
    static const char args[] = "{\"seats\":5,\"note\":\"a \\\"b\\\" c\"}";
    size_t len = strlen(args), n;
    for (size_t cut = 0; cut <= len; cut++) {
        struct lx_callhold *h = lx_callhold_new(CAP, true, false);
        char a[512], b[512], want[4096];
        args_chunk(a, sizeof(a), 0, args, cut);
        args_chunk(b, sizeof(b), 0, args + cut, len - cut);
        cr_assert_eq(feed(h, CONTENT, &n), LX_CALLHOLD_PASS, "content before a call passes");
        cr_assert_eq(n, 0);
        cr_assert_eq(feed(h, HEAD0, &n), LX_CALLHOLD_HOLD);
        cr_assert_eq(feed(h, a, &n), LX_CALLHOLD_HOLD);
        cr_assert_eq(feed(h, b, &n), LX_CALLHOLD_HOLD);
        cr_assert_eq(n, 0, "cut %zu: not complete before the next index", cut);
        cr_assert_eq(feed(h, HEAD1, &n), LX_CALLHOLD_HOLD);
        cr_assert_eq(n, 1, "cut %zu", cut);
        expect_call(h, 0, "book", "call_a", args);
        emitted[0] = '\0';
        cr_assert_eq(lx_callhold_release(h, collect, NULL), 0);
        snprintf(want, sizeof(want), "%s\n%s\n%s\n", HEAD0, a, b);
        cr_assert_str_eq(emitted, want, "cut %zu: the first call's chunks, in order", cut);
        cr_assert(lx_callhold_holding(h), "the second call's head stays held");
        cr_assert_eq(feed(h, FINISH, &n), LX_CALLHOLD_HOLD);
        cr_assert_eq(n, 1);
        expect_call(h, 0, "ping", "call_b", "{}");
        emitted[0] = '\0';
        lx_callhold_release(h, collect, NULL);
        cr_assert_str_eq(emitted, HEAD1 "\n" FINISH "\n");
        cr_assert_not(lx_callhold_holding(h));
        cr_assert_eq(lx_callhold_released_calls(h), 2);
        cr_assert(lx_callhold_content_passed(h));
        cr_assert_eq(feed(h, USAGE, &n), LX_CALLHOLD_PASS, "after the finish nothing is held");
        cr_assert_eq(lx_callhold_end(h), 0);
        lx_callhold_free(h);
    }
}

/* Structured output: the content, split in two at every byte, is held to
 * the finish and put together exactly. */
Test(callhold, content_held_to_the_finish, .init = setup, .fini = teardown)
{
    static const char doc[] = "{\"n\":5,\"s\":\"x\\\"y\"}";
    size_t len = strlen(doc), n;
    for (size_t cut = 0; cut <= len; cut++) {
        struct lx_callhold *h = lx_callhold_new(CAP, true, true);
        char a[512], b[512], ea[256], eb[256], want[2048];
        escape(doc, cut, ea, sizeof(ea));
        escape(doc + cut, len - cut, eb, sizeof(eb));
        snprintf(a, sizeof(a), "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"}}]}", ea);
        snprintf(b, sizeof(b), "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"}}]}", eb);
        cr_assert_eq(feed(h, a, &n), LX_CALLHOLD_HOLD);
        cr_assert_eq(feed(h, b, &n), LX_CALLHOLD_HOLD);
        cr_assert_eq(n, 0);
        cr_assert_eq(
            feed(h, "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}", &n),
            LX_CALLHOLD_HOLD);
        cr_assert_eq(n, 1);
        struct lx_callhold_item it;
        lx_callhold_completed(h, 0, &it);
        cr_assert(it.is_content);
        cr_assert(lx_str_eq(it.text, lx_str_from_cstr(doc)), "cut %zu: [%.*s]", cut,
                  (int)it.text.len, it.text.ptr);
        emitted[0] = '\0';
        lx_callhold_release(h, collect, NULL);
        snprintf(want, sizeof(want),
                 "%s\n%s\n{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n",
                 a, b);
        cr_assert_str_eq(emitted, want);
        lx_callhold_free(h);
    }
}

Test(callhold, observe_mode_holds_nothing, .init = setup, .fini = teardown)
{
    struct lx_callhold *h = lx_callhold_new(CAP, false, false);
    size_t n;
    char a[256];
    args_chunk(a, sizeof(a), 0, "{\"x\":1}", 7);
    cr_assert_eq(feed(h, HEAD0, &n), LX_CALLHOLD_PASS);
    cr_assert_eq(feed(h, a, &n), LX_CALLHOLD_PASS);
    cr_assert_eq(feed(h, FINISH, &n), LX_CALLHOLD_PASS);
    cr_assert_eq(n, 1, "the call is still put together for the audit");
    expect_call(h, 0, "book", "call_a", "{\"x\":1}");
    cr_assert_not(lx_callhold_holding(h));
    lx_callhold_free(h);
}

Test(callhold, end_completes_a_call_without_finish, .init = setup, .fini = teardown)
{
    struct lx_callhold *h = lx_callhold_new(CAP, true, false);
    size_t n;
    char a[256];
    args_chunk(a, sizeof(a), 0, "{}", 2);
    feed(h, HEAD0, &n);
    feed(h, a, &n);
    cr_assert_eq(lx_callhold_end(h), 1);
    expect_call(h, 0, "book", "call_a", "{}");
    emitted[0] = '\0';
    lx_callhold_release(h, collect, NULL);
    char want[1024];
    snprintf(want, sizeof(want), "%s\n%s\n", HEAD0, a);
    cr_assert_str_eq(emitted, want);
    lx_callhold_free(h);
}

/* One chunk that ends call 0 and starts call 1 stays held with call 1. */
Test(callhold, two_calls_in_one_chunk, .init = setup, .fini = teardown)
{
    struct lx_callhold *h = lx_callhold_new(CAP, true, false);
    size_t n;
    static const char both[] =
        "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{"
        "\"arguments\":\"{}\"}},{\"index\":1,\"id\":\"call_b\",\"function\":{\"name\":\"ping\","
        "\"arguments\":\"{\\\"a\\\"\"}}]}}]}";
    feed(h, HEAD0, &n);
    cr_assert_eq(feed(h, both, &n), LX_CALLHOLD_HOLD);
    cr_assert_eq(n, 1);
    expect_call(h, 0, "book", "call_a", "{}");
    emitted[0] = '\0';
    lx_callhold_release(h, collect, NULL);
    cr_assert_str_eq(emitted, HEAD0 "\n");
    cr_assert(lx_callhold_holding(h));
    cr_assert_eq(lx_callhold_end(h), 1);
    expect_call(h, 0, "ping", "call_b", "{\"a\"");
    lx_callhold_free(h);
}

Test(callhold, cap_and_bad_deltas, .init = setup, .fini = teardown)
{
    size_t n;
    struct lx_callhold *h = lx_callhold_new(64, true, false);
    cr_assert_eq(feed(h, HEAD0, &n), LX_CALLHOLD_FULL, "a chunk over the cap");
    lx_callhold_free(h);
    h = lx_callhold_new(CAP, true, false);
    cr_assert_eq(feed(h,
                      "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":16,\"function\":{"
                      "\"name\":\"x\"}}]}}]}",
                      &n),
                 LX_CALLHOLD_ERROR, "an index past the limit");
    cr_assert_eq(feed(h, "{\"choices\":[{\"delta\":{\"tool_calls\":[7]}}]}", &n),
                 LX_CALLHOLD_ERROR);
    cr_assert_eq(feed(h, "not json", &n), LX_CALLHOLD_PASS, "not JSON: the caller's to judge");
    lx_callhold_free(h);
}
