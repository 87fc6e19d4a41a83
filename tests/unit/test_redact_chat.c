/*
 * test_redact_chat.c — golden tests for src/policy/redact_chat.c: exact
 * bytes in, exact bytes out, for requests, whole answers and stream chunks
 * (values split across chunks at every byte position included).
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "json/json.h"
#include "policy/redact_chat.h"

static lx_redact_set *set_of(const char *names, lx_redact_action a)
{
    lx_redact_set *s = lx_redact_set_new(NULL);
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", names);
    for (char *save, *n = strtok_r(buf, ",", &save); n; n = strtok_r(NULL, ",", &save))
        cr_assert_eq(lx_redact_set_add_builtin(s, n, a, NULL), LX_OK, "%s", n);
    return s;
}

static lx_arena arena;
static lx_buf out;

static void setup(void)
{
    lx_arena_init(&arena, 1u << 24);
    lx_buf_init(&out, 1u << 20);
}

static void teardown(void)
{
    lx_arena_release(&arena);
    lx_buf_release(&out);
}

TestSuite(redact_chat, .init = setup, .fini = teardown);

static void request_golden(lx_redact_ctx *ctx, const char *in, const char *want)
{
    lx_buf_reset(&out);
    lx_arena_reset(&arena);
    cr_assert_eq(lx_redact_chat_request(ctx, in, strlen(in), &arena, 64, &out), LX_OK);
    cr_assert_str_eq(out.data, want);
}

Test(redact_chat, request_string_content_with_escapes)
{
    lx_redact_set *s = set_of("email", LX_REDACT_MASK);
    lx_redact_ctx *ctx = lx_redact_ctx_new(s);
    request_golden(
        ctx,
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Mail \\\"Zo\\u00e9\\\" at "
        "zoe@example.com\\nthanks\"}],\"temperature\":0.5}",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Mail \\\"Zo\xc3\xa9\\\" "
        "at "
        "[REDACTED:EMAIL]\\nthanks\"}],\"temperature\":0.5}");
    cr_assert_eq(lx_redact_ctx_matches(ctx, 0), 1);
    lx_redact_ctx_free(ctx);
    lx_redact_set_free(s);
}

Test(redact_chat, request_unchanged_strings_keep_their_bytes)
{
    lx_redact_set *s = set_of("email", LX_REDACT_MASK);
    lx_redact_ctx *ctx = lx_redact_ctx_new(s);
    const char *in = "{ \"messages\" : [ {\"role\":\"user\", \"content\":\"caf\\u00e9 \\/ ok\"} ],"
                     "\"model\":\"a@b.example.com\"}";
    request_golden(ctx, in, in); /* the model is not a prompt text */
    lx_redact_ctx_free(ctx);
    lx_redact_set_free(s);
}

Test(redact_chat, request_parts_tool_calls_and_tool_results)
{
    lx_redact_set *s = set_of("email,card", LX_REDACT_PSEUDONYM);
    lx_redact_ctx *ctx = lx_redact_ctx_new(s);
    request_golden(
        ctx,
        "{\"model\":\"m\",\"messages\":["
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"me: a@x.org, b@x.org\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"http://a@x.org/\"}}]},"
        "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
        "\"function\":{\"name\":\"pay\",\"arguments\":\"{\\\"card\\\":\\\"4111 1111 1111 "
        "1111\\\",\\\"to\\\":\\\"a@x.org\\\"}\"}}],\"content\":null},"
        "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"paid by a@x.org\"}]}",
        "{\"model\":\"m\",\"messages\":["
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"me: <EMAIL_1>, <EMAIL_2>\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"http://a@x.org/\"}}]},"
        "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
        "\"function\":{\"name\":\"pay\",\"arguments\":\"{\\\"card\\\":\\\"<CARD_1>\\\","
        "\\\"to\\\":\\\"<EMAIL_1>\\\"}\"}}],\"content\":null},"
        "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"paid by <EMAIL_1>\"}]}");
    lx_redact_ctx_free(ctx);
    lx_redact_set_free(s);
}

Test(redact_chat, request_block_and_tag_raise_flags_and_keep_text)
{
    lx_redact_set *s = lx_redact_set_new(NULL);
    lx_redact_set_add_builtin(s, "card", LX_REDACT_BLOCK, NULL);
    lx_redact_set_add_builtin(s, "email", LX_REDACT_TAG, NULL);
    lx_redact_ctx *ctx = lx_redact_ctx_new(s);
    const char *in = "{\"messages\":[{\"role\":\"user\",\"content\":\"x@y.org\"}]}";
    request_golden(ctx, in, in);
    cr_assert_eq(lx_redact_ctx_flags(ctx), LX_REDACT_TAGGED);
    in = "{\"messages\":[{\"role\":\"user\",\"content\":\"5500 0000 0000 0004\"}]}";
    request_golden(ctx, in, in);
    cr_assert(lx_redact_ctx_flags(ctx) & LX_REDACT_BLOCKED);
    lx_redact_ctx_free(ctx);
    lx_redact_set_free(s);
}

Test(redact_chat, request_not_json_fails)
{
    lx_redact_set *s = set_of("email", LX_REDACT_MASK);
    lx_redact_ctx *ctx = lx_redact_ctx_new(s);
    cr_assert_eq(lx_redact_chat_request(ctx, "{\"messages\":[", 13, &arena, 64, &out), LX_ERR);
    lx_redact_ctx_free(ctx);
    lx_redact_set_free(s);
}

Test(redact_chat, response_redacts_then_restores)
{
    lx_redact_set *in = set_of("email", LX_REDACT_PSEUDONYM);
    lx_redact_set *os = set_of("card", LX_REDACT_MASK);
    lx_redact_ctx *ictx = lx_redact_ctx_new(in), *octx = lx_redact_ctx_new(os);
    request_golden(ictx, "{\"messages\":[{\"role\":\"user\",\"content\":\"z@q.io\"}]}",
                   "{\"messages\":[{\"role\":\"user\",\"content\":\"<EMAIL_1>\"}]}");
    const char *body =
        "{\"id\":\"c\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
        "\"content\":\"Hi <EMAIL_1>, card 4111111111111111 \\u00e9\",\"tool_calls\":[{\"id\":\"t\","
        "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"to\\\":\\\"<EMAIL_"
        "1>"
        "\\\",\\\"x\\\":\\\"<EMAIL_9>\\\"}\"}}]},\"finish_reason\":\"stop\"}],\"usage\":{}}";
    lx_buf_reset(&out);
    cr_assert_eq(lx_redact_chat_response(octx, ictx, body, strlen(body), &arena, 64, &out), LX_OK);
    cr_assert_str_eq(
        out.data,
        "{\"id\":\"c\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
        "\"content\":\"Hi z@q.io, card [REDACTED:CARD] \xc3\xa9\",\"tool_calls\":[{\"id\":\"t\","
        "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"to\\\":\\\"z@q.io"
        "\\\",\\\"x\\\":\\\"<EMAIL_9>\\\"}\"}}]},\"finish_reason\":\"stop\"}],\"usage\":{}}");
    lx_redact_ctx_free(ictx);
    lx_redact_ctx_free(octx);
    lx_redact_set_free(in);
    lx_redact_set_free(os);
}

/* ---- streams ------------------------------------------------------------- */

static const char chunk_head[] =
    "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":7,"
    "\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{";
static const char chunk_tail[] = "},\"finish_reason\":null}]}";

/* A content chunk with text (already JSON-escaped). */
static void content_chunk(char *dst, size_t n, const char *escaped)
{
    snprintf(dst, n, "%s\"content\":\"%s\"%s", chunk_head, escaped, chunk_tail);
}

static void feed(lx_redact_chat_stream *st, const char *data, const char *want)
{
    lx_buf_reset(&out);
    lx_arena_reset(&arena);
    cr_assert_eq(lx_redact_chat_stream_chunk(st, lx_str_from_cstr(data), &arena, 64, &out), LX_OK,
                 "%s", data);
    if (want)
        cr_assert_str_eq(out.data, want);
}

Test(redact_chat, stream_golden_chunks)
{
    lx_redact_set *s = set_of("email", LX_REDACT_MASK);
    lx_redact_ctx *ctx = lx_redact_ctx_new(s);
    lx_redact_chat_stream *st = lx_redact_chat_stream_new(ctx, NULL);
    char in[512], want[512];
    /* the role chunk passes as it is */
    snprintf(in, sizeof(in), "%s\"role\":\"assistant\",\"content\":null%s", chunk_head, chunk_tail);
    feed(st, in, in);
    /* plain words are decided at once */
    content_chunk(in, sizeof(in), "Write \\\"to\\\"\\n");
    feed(st, in, in);
    /* "jo" may start an address: held, sent as "" */
    content_chunk(in, sizeof(in), "jo");
    content_chunk(want, sizeof(want), "");
    feed(st, in, want);
    content_chunk(in, sizeof(in), "\\u00e9@ex");
    feed(st, in, want);
    /* "bye" could still begin an address */
    content_chunk(in, sizeof(in), "ample.com, bye");
    content_chunk(want, sizeof(want), "[REDACTED:EMAIL], ");
    feed(st, in, want);
    /* the finish chunk carries what is still held, as a new content key */
    content_chunk(in, sizeof(in), " x@y.");
    content_chunk(want, sizeof(want), "bye ");
    feed(st, in, want);
    feed(st, "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}",
         "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x@y.\"},"
         "\"finish_reason\":\"stop\"}]}");
    /* the usage chunk has no choices */
    feed(st, "{\"choices\":[],\"usage\":{\"prompt_tokens\":1}}",
         "{\"choices\":[],\"usage\":{\"prompt_tokens\":1}}");
    lx_buf_reset(&out);
    cr_assert_eq(lx_redact_chat_stream_end(st, &out), LX_OK);
    cr_assert_eq(out.len, 0);
    lx_redact_chat_stream_free(st);
    lx_redact_ctx_free(ctx);
    lx_redact_set_free(s);
}

Test(redact_chat, stream_end_without_finish_sends_held_text)
{
    lx_redact_set *s = set_of("email", LX_REDACT_MASK);
    lx_redact_ctx *ctx = lx_redact_ctx_new(s);
    lx_redact_chat_stream *st = lx_redact_chat_stream_new(ctx, NULL);
    char in[512];
    content_chunk(in, sizeof(in), "mail me@ex");
    feed(st, in, NULL);
    lx_buf_reset(&out);
    cr_assert_eq(lx_redact_chat_stream_end(st, &out), LX_OK);
    cr_assert_str_eq(out.data, "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":7,"
                               "\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
                               "\"me@ex\"},\"finish_reason\":null}]}");
    lx_redact_chat_stream_free(st);
    lx_redact_ctx_free(ctx);
    lx_redact_set_free(s);
}

Test(redact_chat, stream_null_content_in_finish_chunk_takes_held_text)
{
    lx_redact_set *s = set_of("card", LX_REDACT_MASK);
    lx_redact_ctx *ctx = lx_redact_ctx_new(s);
    lx_redact_chat_stream *st = lx_redact_chat_stream_new(ctx, NULL);
    char in[512];
    content_chunk(in, sizeof(in), "n 4111");
    feed(st, in, NULL);
    feed(st,
         "{\"choices\":[{\"delta\":{\"content\":null,\"role\":\"assistant\"},\"index\":0,"
         "\"finish_reason\":\"length\"}]}",
         "{\"choices\":[{\"delta\":{\"content\":\"4111\",\"role\":\"assistant\"},\"index\":0,"
         "\"finish_reason\":\"length\"}]}");
    lx_redact_chat_stream_free(st);
    lx_redact_ctx_free(ctx);
    lx_redact_set_free(s);
}

/* Appends the content of every chunk in out (one JSON object) to text. */
static void collect_content(lx_buf *text)
{
    lx_json j;
    cr_assert_eq(lx_json_parse(&j, out.data, out.len, &arena, 64), LX_JSON_OK, "%s", out.data);
    int ch = lx_json_get(&j, 0, "choices");
    int c0 = ch + 1, delta = lx_json_get(&j, c0, "delta");
    int content = delta >= 0 ? lx_json_get(&j, delta, "content") : -1;
    if (content >= 0 && lx_json_is_string(&j, content))
        cr_assert_eq(lx_json_unescape(&j, content, text), LX_OK);
}

/* Splits text at every byte position (between characters) into two content chunks, then a
 * finish chunk: the client must always read want, and no chunk may show
 * the value. */
static void every_split(lx_redact_set *s, lx_redact_ctx *restore, const char *text,
                        const char *want, const char *secret)
{
    size_t n = strlen(text);
    for (size_t cut = 0; cut <= n; cut++) {
        if (cut < n && ((unsigned char)text[cut] & 0xc0) == 0x80)
            continue; /* JSON text is UTF-8: a backend cannot cut inside a character */
        lx_redact_ctx *ctx = lx_redact_ctx_new(s);
        lx_redact_chat_stream *st = lx_redact_chat_stream_new(ctx, restore);
        lx_buf got;
        lx_buf_init(&got, 4096);
        char part[256], in[512];
        for (int k = 0; k < 2; k++) {
            lx_buf esc;
            lx_buf_init(&esc, 1024);
            const char *p = k ? text + cut : text;
            size_t len = k ? n - cut : cut;
            lx_json_escape(&esc, p, len);
            snprintf(part, sizeof(part), "%s", esc.data ? esc.data : "");
            lx_buf_release(&esc);
            content_chunk(in, sizeof(in), part);
            feed(st, in, NULL);
            if (secret)
                cr_assert_null(strstr(out.data, secret), "cut %zu: %s", cut, out.data);
            collect_content(&got);
        }
        feed(st, "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}", NULL);
        collect_content(&got);
        cr_assert_str_eq(got.data, want, "cut at %zu", cut);
        lx_buf_release(&got);
        lx_redact_chat_stream_free(st);
        lx_redact_ctx_free(ctx);
    }
}

Test(redact_chat, stream_card_split_at_every_byte)
{
    lx_redact_set *s = set_of("card,email", LX_REDACT_MASK);
    every_split(s, NULL, "Pay with 4111 1111 1111 1111 today.\n\"ok\"",
                "Pay with [REDACTED:CARD] today.\n\"ok\"", "1111 1111");
    lx_redact_set_free(s);
}

Test(redact_chat, stream_email_with_accent_split_at_every_byte)
{
    lx_redact_set *s = set_of("email", LX_REDACT_MASK);
    every_split(s, NULL, "\xc3\xa9t\xc3\xa9: ana@example.org!",
                "\xc3\xa9t\xc3\xa9: [REDACTED:EMAIL]!", "ana@");
    lx_redact_set_free(s);
}

Test(redact_chat, stream_pseudonym_restored_at_every_split)
{
    lx_redact_set *in = set_of("email", LX_REDACT_PSEUDONYM);
    lx_redact_ctx *ictx = lx_redact_ctx_new(in);
    request_golden(ictx, "{\"messages\":[{\"role\":\"user\",\"content\":\"ana@example.org\"}]}",
                   "{\"messages\":[{\"role\":\"user\",\"content\":\"<EMAIL_1>\"}]}");
    lx_redact_set *none = lx_redact_set_new(NULL);
    /* no output detector: only restoration; unknown tokens pass as they are */
    every_split(none, ictx, "Dear <EMAIL_1>, not <EMAIL_2> <b>",
                "Dear ana@example.org, not <EMAIL_2> <b>", NULL);
    lx_redact_set_free(none);
    lx_redact_ctx_free(ictx);
    lx_redact_set_free(in);
}

Test(redact_chat, stream_choice_index_past_cap_fails)
{
    lx_redact_set *s = set_of("email", LX_REDACT_MASK);
    lx_redact_ctx *ctx = lx_redact_ctx_new(s);
    lx_redact_chat_stream *st = lx_redact_chat_stream_new(ctx, NULL);
    const char *in = "{\"choices\":[{\"index\":8,\"delta\":{\"content\":\"a\"}}]}";
    cr_assert_eq(lx_redact_chat_stream_chunk(st, lx_str_from_cstr(in), &arena, 64, &out), LX_ERR);
    lx_redact_chat_stream_free(st);
    lx_redact_ctx_free(ctx);
    lx_redact_set_free(s);
}

Test(redact_chat, request_parsed_equals_request)
{
    lx_redact_set *s = set_of("email,phone", LX_REDACT_PSEUDONYM);
    lx_redact_ctx *a = lx_redact_ctx_new(s), *b = lx_redact_ctx_new(s);
    const char *in = "{\"messages\":[{\"role\":\"user\",\"content\":\"call +44 20 7946 0958 or "
                     "x@y.org\\t\\u0041\"}],\"n\":1}";
    lx_json j;
    cr_assert_eq(lx_json_parse(&j, in, strlen(in), &arena, 64), LX_JSON_OK);
    lx_buf via_tokens;
    lx_buf_init(&via_tokens, 4096);
    cr_assert_eq(lx_redact_chat_request_parsed(a, &j, &via_tokens), LX_OK);
    request_golden(b, in,
                   "{\"messages\":[{\"role\":\"user\",\"content\":\"call <PHONE_1> or "
                   "<EMAIL_1>\\tA\"}],\"n\":1}");
    cr_assert_str_eq(via_tokens.data, out.data);
    lx_buf_release(&via_tokens);
    lx_redact_ctx_free(a);
    lx_redact_ctx_free(b);
    lx_redact_set_free(s);
}

/* ---- streamed tool-call arguments ---------------------------------------- */

static const char tool_head[] =
    "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
    "\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
    "\"send\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}";

/* A chunk with an arguments piece (already escaped) for tool index i. */
static void args_chunk(char *dst, size_t n, int i, const char *escaped)
{
    snprintf(dst, n,
             "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":%d,\"function\":"
             "{\"arguments\":\"%s\"}}]},\"finish_reason\":null}]}",
             i, escaped);
}

Test(redact_chat, stream_tool_arguments_golden)
{
    lx_redact_set *s = set_of("email", LX_REDACT_MASK);
    lx_redact_ctx *ctx = lx_redact_ctx_new(s);
    lx_redact_chat_stream *st = lx_redact_chat_stream_new(ctx, NULL);
    char in[512], want[512];
    feed(st, tool_head, tool_head);
    args_chunk(in, sizeof(in), 0, "{\\\"to\\\":\\\"ana@ex");
    args_chunk(want, sizeof(want), 0, "{\\\"to\\\":\\\"");
    feed(st, in, want);
    args_chunk(in, sizeof(in), 0, "ample.org\\\",\\\"cc\\\":\\\"bo");
    args_chunk(want, sizeof(want), 0, "[REDACTED:EMAIL]\\\",\\\"cc\\\":\\\"");
    feed(st, in, want);
    /* finish with an empty delta: the held "bo" comes as a new tool_calls element */
    feed(st, "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}",
         "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{"
         "\"arguments\":\"bo\"}}]},\"finish_reason\":\"tool_calls\"}]}");
    lx_redact_chat_stream_free(st);
    lx_redact_ctx_free(ctx);
    lx_redact_set_free(s);
}

Test(redact_chat, stream_tool_arguments_two_calls_and_content_at_finish)
{
    lx_redact_set *s = set_of("card", LX_REDACT_MASK);
    lx_redact_ctx *ctx = lx_redact_ctx_new(s);
    lx_redact_chat_stream *st = lx_redact_chat_stream_new(ctx, NULL);
    char in[512];
    content_chunk(in, sizeof(in), "n 5500");
    feed(st, in, NULL);
    args_chunk(in, sizeof(in), 1, "5500");
    feed(st, in, NULL);
    /* the finish chunk names call 0 only: call 1's held text is an extra
     * element, placed first in the array; content gets a key of its own */
    feed(
        st,
        "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{"
        "\"arguments\":\"x\"}}]},\"finish_reason\":\"stop\"}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"5500\",\"tool_calls\":[{\"index\":1,"
        "\"function\":{\"arguments\":\"5500\"}},{\"index\":0,\"function\":{\"arguments\":\"x\"}}]},"
        "\"finish_reason\":\"stop\"}]}");
    lx_redact_chat_stream_free(st);
    lx_redact_ctx_free(ctx);
    lx_redact_set_free(s);
}

Test(redact_chat, stream_tool_arguments_held_at_end_without_finish)
{
    lx_redact_set *s = set_of("email", LX_REDACT_MASK);
    lx_redact_ctx *ctx = lx_redact_ctx_new(s);
    lx_redact_chat_stream *st = lx_redact_chat_stream_new(ctx, NULL);
    char in[512];
    args_chunk(in, sizeof(in), 2, "to jo");
    feed(st, in, NULL);
    lx_buf_reset(&out);
    cr_assert_eq(lx_redact_chat_stream_end(st, &out), LX_OK);
    cr_assert_str_eq(out.data, "{\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
                               "\"delta\":{\"tool_calls\":[{\"index\":2,\"function\":{"
                               "\"arguments\":\"jo\"}}]},\"finish_reason\":null}]}");
    lx_redact_chat_stream_free(st);
    lx_redact_ctx_free(ctx);
    lx_redact_set_free(s);
}

Test(redact_chat, stream_tool_index_twice_in_a_chunk_fails)
{
    lx_redact_set *s = set_of("email", LX_REDACT_MASK);
    lx_redact_ctx *ctx = lx_redact_ctx_new(s);
    lx_redact_chat_stream *st = lx_redact_chat_stream_new(ctx, NULL);
    const char *in = "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":["
                     "{\"index\":0,\"function\":{\"arguments\":\"a\"}},"
                     "{\"index\":0,\"function\":{\"arguments\":\"b\"}}]}}]}";
    cr_assert_eq(lx_redact_chat_stream_chunk(st, lx_str_from_cstr(in), &arena, 64, &out), LX_ERR);
    lx_redact_chat_stream_free(st);
    lx_redact_ctx_free(ctx);
    lx_redact_set_free(s);
}

/* Appends the arguments of tool index 0 in out (one chunk) to text. */
static void collect_arguments(lx_buf *text)
{
    lx_json j;
    cr_assert_eq(lx_json_parse(&j, out.data, out.len, &arena, 64), LX_JSON_OK, "%s", out.data);
    int c0 = lx_json_get(&j, 0, "choices") + 1, delta = lx_json_get(&j, c0, "delta");
    int calls = delta >= 0 ? lx_json_get(&j, delta, "tool_calls") : -1;
    if (calls < 0)
        return;
    int n = lx_json_size(&j, calls), e = calls + 1;
    for (int k = 0; k < n; k++, e = lx_json_skip(&j, e)) {
        int fn = lx_json_get(&j, e, "function");
        int args = lx_json_get(&j, fn, "arguments");
        if (args >= 0)
            cr_assert_eq(lx_json_unescape(&j, args, text), LX_OK);
    }
}

Test(redact_chat, stream_tool_arguments_split_at_every_byte)
{
    lx_redact_set *s = set_of("card,email", LX_REDACT_MASK);
    const char *text = "{\"card\":\"4111 1111 1111 1111\",\"mail\":\"ana@example.org\"}";
    const char *want = "{\"card\":\"[REDACTED:CARD]\",\"mail\":\"[REDACTED:EMAIL]\"}";
    size_t n = strlen(text);
    for (size_t cut = 0; cut <= n; cut++) {
        lx_redact_ctx *ctx = lx_redact_ctx_new(s);
        lx_redact_chat_stream *st = lx_redact_chat_stream_new(ctx, NULL);
        lx_buf got;
        lx_buf_init(&got, 4096);
        char in[512];
        feed(st, tool_head, NULL);
        for (int k = 0; k < 2; k++) {
            lx_buf esc;
            lx_buf_init(&esc, 1024);
            lx_json_escape(&esc, k ? text + cut : text, k ? n - cut : cut);
            args_chunk(in, sizeof(in), 0, esc.data ? esc.data : "");
            lx_buf_release(&esc);
            feed(st, in, NULL);
            cr_assert_null(strstr(out.data, "1111 1111"), "cut %zu: %s", cut, out.data);
            collect_arguments(&got);
        }
        feed(st, "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}",
             NULL);
        collect_arguments(&got);
        cr_assert_str_eq(got.data, want, "cut at %zu", cut);
        lx_buf_release(&got);
        lx_redact_chat_stream_free(st);
        lx_redact_ctx_free(ctx);
    }
    lx_redact_set_free(s);
}
