/*
 * test_json.c — unit tests for src/json/: what lx_json_parse() accepts and
 * rejects (RFC 8259 is the reference), the typed accessors, unescaping,
 * UTF-8 validation, escaping and the streaming writer.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"

static lx_arena arena;

static void setup(void)
{
    lx_arena_init(&arena, 16 << 20);
}

static void teardown(void)
{
    lx_arena_release(&arena);
}

TestSuite(json, .init = setup, .fini = teardown);

static enum lx_json_err parse_n(lx_json *j, const char *s, size_t n, uint32_t depth)
{
    return lx_json_parse(j, s, n, &arena, depth);
}

static enum lx_json_err parse(lx_json *j, const char *s)
{
    return parse_n(j, s, strlen(s), 64);
}

/* ---- validity ----------------------------------------------------------- */

struct vcase {
    const char *text;
    enum lx_json_err want;
};

static void check_table(const struct vcase *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        lx_json j;
        enum lx_json_err e = parse(&j, c[i].text);
        cr_expect_eq(e, c[i].want, "input [%s]: got %d (%s), want %d", c[i].text, e,
                     lx_json_strerror(e), c[i].want);
    }
}

Test(json, valid_documents)
{
    static const struct vcase cases[] = {
        {"{}", LX_JSON_OK},
        {"[]", LX_JSON_OK},
        {" \t\r\n{ } \n", LX_JSON_OK},
        {"{\"a\":1}", LX_JSON_OK},
        {"{\"a\":[1,2.5,-3e10,0,-0,0.0,1E+2,1e-2,true,false,null,\"s\"]}", LX_JSON_OK},
        {"[{\"a\":{\"b\":[[]]}},{}]", LX_JSON_OK},
        {"{\"\":\"\"}", LX_JSON_OK},
        {"[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00\"]", LX_JSON_OK},
        {"[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"]", LX_JSON_OK},
        {"[1 ]", LX_JSON_OK},
        {"{\"a\" : 1 , \"b\" : [ 1 , 2 ] }", LX_JSON_OK},
    };
    check_table(cases, LX_ARRAY_LEN(cases));
}

Test(json, invalid_literals_and_numbers)
{
    static const struct vcase cases[] = {
        {"[tru]", LX_JSON_ESYNTAX},       {"[truex]", LX_JSON_ESYNTAX},
        {"[nul]", LX_JSON_ESYNTAX},       {"[fals]", LX_JSON_ESYNTAX},
        {"[True]", LX_JSON_ESYNTAX},      {"[01]", LX_JSON_ESYNTAX},
        {"[-01]", LX_JSON_ESYNTAX},       {"[1.]", LX_JSON_ESYNTAX},
        {"[.5]", LX_JSON_ESYNTAX},        {"[-]", LX_JSON_ESYNTAX},
        {"[1e]", LX_JSON_ESYNTAX},        {"[1e+]", LX_JSON_ESYNTAX},
        {"[1.e5]", LX_JSON_ESYNTAX},      {"[+1]", LX_JSON_ESYNTAX},
        {"[0x10]", LX_JSON_ESYNTAX},      {"[1-2]", LX_JSON_ESYNTAX},
        {"[NaN]", LX_JSON_ESYNTAX},       {"[Infinity]", LX_JSON_ESYNTAX},
        {"[-Infinity]", LX_JSON_ESYNTAX}, {"{\"a\":tru}", LX_JSON_ESYNTAX},
    };
    check_table(cases, LX_ARRAY_LEN(cases));
}

Test(json, invalid_structure)
{
    static const struct vcase cases[] = {
        {"", LX_JSON_ESYNTAX},
        {"   ", LX_JSON_ESYNTAX},
        {"{", LX_JSON_ESYNTAX},
        {"[1", LX_JSON_ESYNTAX},
        {"{\"a\":1", LX_JSON_ESYNTAX},
        {"}", LX_JSON_ESYNTAX},
        {"[1]]", LX_JSON_ESYNTAX},
        {"[[1]", LX_JSON_ESYNTAX},
        {"{}{}", LX_JSON_ESYNTAX},
        {"{} {}", LX_JSON_ESYNTAX},
        {"[1] 2", LX_JSON_ESYNTAX},
        {"[1]x", LX_JSON_ESYNTAX},
        {"x[1]", LX_JSON_ESYNTAX},
        {"{\"a\"}", LX_JSON_ESYNTAX},
        {"{\"a\":}", LX_JSON_ESYNTAX},
        {"{\"a\" 1}", LX_JSON_ESYNTAX},
        {"{\"a\":1:2}", LX_JSON_ESYNTAX},
        {"{\"a\":\"b\":1}", LX_JSON_ESYNTAX},
        {"{1:2}", LX_JSON_ESYNTAX},
        {"{a:1}", LX_JSON_ESYNTAX},
        {"['a']", LX_JSON_ESYNTAX},
        {"[\"a\":1]", LX_JSON_ESYNTAX},
        {"{\"a\":1 \"b\":2}", LX_JSON_ESYNTAX},
        {"{\"a\":{}\"b\":1}", LX_JSON_ESYNTAX},
    };
    check_table(cases, LX_ARRAY_LEN(cases));
}

/* Commas and colons: jsmn does not check them; lx_json_parse must. */
Test(json, invalid_commas)
{
    static const struct vcase cases[] = {
        {"[1,]", LX_JSON_ESYNTAX},   {"{\"a\":1,}", LX_JSON_ESYNTAX},
        {"[,1]", LX_JSON_ESYNTAX},   {"{,\"a\":1}", LX_JSON_ESYNTAX},
        {"[1,,2]", LX_JSON_ESYNTAX}, {"{\"a\":1,,\"b\":2}", LX_JSON_ESYNTAX},
        {"[1 2]", LX_JSON_ESYNTAX},  {"[\"a\" \"b\"]", LX_JSON_ESYNTAX},
        {"[{}{}]", LX_JSON_ESYNTAX}, {"[[][]]", LX_JSON_ESYNTAX},
        {"[,]", LX_JSON_ESYNTAX},    {"{:\"a\":1}", LX_JSON_ESYNTAX},
        {"[:1]", LX_JSON_ESYNTAX},   {"{\"a\"::1}", LX_JSON_ESYNTAX},
    };
    check_table(cases, LX_ARRAY_LEN(cases));
}

/* RFC 8259 §2: a JSON text is any value, not only an object or array. */
Test(json, scalar_roots)
{
    static const struct vcase cases[] = {
        {"1", LX_JSON_OK},         {"1 ", LX_JSON_OK},       {"-2.5e3", LX_JSON_OK},
        {"true", LX_JSON_OK},      {"null", LX_JSON_OK},     {"\"abc\"", LX_JSON_OK},
        {" \"abc\" ", LX_JSON_OK}, {"\"\"", LX_JSON_OK},     {"tru", LX_JSON_ESYNTAX},
        {"01 ", LX_JSON_ESYNTAX},  {"1 2", LX_JSON_ESYNTAX}, {"\"a\" \"b\"", LX_JSON_ESYNTAX},
    };
    check_table(cases, LX_ARRAY_LEN(cases));
}

Test(json, invalid_strings)
{
    static const struct vcase cases[] = {
        {"[\"abc]", LX_JSON_ESYNTAX},     {"[\"abc", LX_JSON_ESYNTAX},
        {"{\"a:1}", LX_JSON_ESYNTAX},     {"[\"\\x\"]", LX_JSON_ESYNTAX},
        {"[\"\\a\"]", LX_JSON_ESYNTAX},   {"[\"\\'\"]", LX_JSON_ESYNTAX},
        {"[\"\\u12\"]", LX_JSON_ESYNTAX}, {"[\"\\u12g4\"]", LX_JSON_ESYNTAX},
        {"[\"\\\"]", LX_JSON_ESYNTAX},    {"[\"abc\\", LX_JSON_ESYNTAX},
    };
    check_table(cases, LX_ARRAY_LEN(cases));
}

/* RFC 8259 §7: U+0000..U+001F must be escaped inside strings. jsmn lets raw
 * control bytes through; lx_json_parse() must not, or they get spliced into
 * output (error messages, forwarded bodies) that strict clients reject. */
Test(json, raw_control_characters_in_strings)
{
    static const char *const cases[] = {"[\"a\x01"
                                        "b\"]",
                                        "[\"a\nb\"]", "[\"\t\"]", "{\"k\x1f\":1}", "[\"\x7f ok\"]"};
    for (size_t i = 0; i < 4; i++) {
        lx_json j;
        cr_expect_eq(parse(&j, cases[i]), LX_JSON_ESYNTAX, "raw control byte in case %zu", i);
    }
    lx_json j; /* DEL is not a control character in JSON */
    cr_expect_eq(parse(&j, cases[4]), LX_JSON_OK);
}

Test(json, nul_byte_in_input)
{
    static const char a[] = "{\"a\":1}\0garbage";
    static const char b[] = "{\"a\":\"x\0y\"}";
    lx_json j;
    cr_assert_eq(parse_n(&j, a, sizeof(a) - 1, 64), LX_JSON_ESYNTAX);
    cr_assert_eq(parse_n(&j, b, sizeof(b) - 1, 64), LX_JSON_ESYNTAX);
    cr_assert_eq(parse_n(&j, a, 7, 64), LX_JSON_OK);
}

Test(json, invalid_utf8)
{
    static const char *const cases[] = {
        "[\"\x80\"]",             /* lone continuation */
        "[\"\xc3\"]",             /* truncated 2-byte */
        "[\"\xe2\x82\"]",         /* truncated 3-byte */
        "[\"\xc0\xaf\"]",         /* overlong '/' */
        "[\"\xc1\xbf\"]",         /* overlong */
        "[\"\xe0\x80\xaf\"]",     /* overlong 3-byte */
        "[\"\xf0\x80\x80\xaf\"]", /* overlong 4-byte */
        "[\"\xed\xa0\x80\"]",     /* U+D800 surrogate */
        "[\"\xed\xbf\xbf\"]",     /* U+DFFF surrogate */
        "[\"\xf4\x90\x80\x80\"]", /* > U+10FFFF */
        "[\"\xf8\x88\x80\x80\x80\"]",
        "[\"\xff\"]",
        "[\"\xfe\"]",
        "[\"ab\xe2\x82\"]",
        "{\"\xc3\x28\":1}",
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(cases); i++) {
        lx_json j;
        cr_expect_eq(parse(&j, cases[i]), LX_JSON_EUTF8, "case %zu", i);
    }
    /* boundaries that are valid */
    static const char *const ok[] = {"[\"\xc2\x80\"]",     "[\"\xed\x9f\xbf\"]",
                                     "[\"\xee\x80\x80\"]", "[\"\xf4\x8f\xbf\xbf\"]",
                                     "[\"\xef\xbf\xbf\"]", "[\"\xf0\x90\x80\x80\"]"};
    for (size_t i = 0; i < LX_ARRAY_LEN(ok); i++) {
        lx_json j;
        cr_expect_eq(parse(&j, ok[i]), LX_JSON_OK, "ok case %zu", i);
    }
}

Test(json, utf8_valid_at_every_length)
{
    /* the 8-byte ASCII fast path must not skip a multibyte tail */
    char s[40];
    for (size_t pre = 0; pre < 20; pre++) {
        memset(s, 'a', pre);
        memcpy(s + pre, "\xe2\x82", 2); /* truncated at the end */
        cr_assert_not(lx_json_utf8_valid(s, pre + 2), "prefix %zu", pre);
        memcpy(s + pre, "\xe2\x82\xac", 3);
        cr_assert(lx_json_utf8_valid(s, pre + 3), "prefix %zu", pre);
        s[pre + 3] = '\x80';
        cr_assert_not(lx_json_utf8_valid(s, pre + 4), "prefix %zu", pre);
    }
    cr_assert(lx_json_utf8_valid("", 0));
}

static char *nest(int depth)
{
    char *s = malloc((size_t)depth * 2 + 1);
    for (int i = 0; i < depth; i++) {
        s[i] = '[';
        s[depth * 2 - 1 - i] = ']';
    }
    s[depth * 2] = '\0';
    return s;
}

Test(json, depth_limit)
{
    lx_json j;
    char *at = nest(10), *over = nest(11);
    cr_assert_eq(parse_n(&j, at, strlen(at), 10), LX_JSON_OK);
    cr_assert_eq(parse_n(&j, over, strlen(over), 10), LX_JSON_EDEPTH);
    cr_assert_eq(parse_n(&j, over, strlen(over), 11), LX_JSON_OK);
    free(at);
    free(over);
    static const char objs[] = "{\"a\":{\"b\":{\"c\":1}}}";
    cr_assert_eq(parse_n(&j, objs, strlen(objs), 3), LX_JSON_OK);
    cr_assert_eq(parse_n(&j, objs, strlen(objs), 2), LX_JSON_EDEPTH);
    cr_assert_eq(parse_n(&j, "[]", 2, 0), LX_JSON_EDEPTH);
    /* deep nesting far past the limit fails cleanly */
    char *deep = nest(100000);
    cr_assert_eq(parse_n(&j, deep, strlen(deep), 64), LX_JSON_EDEPTH);
    free(deep);
}

Test(json, arena_cap_reported)
{
    lx_arena small;
    lx_arena_init(&small, 8192);
    lx_buf b;
    lx_buf_init(&b, 1 << 20);
    lx_buf_append_char(&b, '[');
    for (int i = 0; i < 5000; i++)
        lx_buf_append_cstr(&b, i ? ",1" : "1");
    lx_buf_append_char(&b, ']');
    lx_json j;
    cr_assert_eq(lx_json_parse(&j, b.data, b.len, &small, 64), LX_JSON_ENOMEM);
    /* many tokens grow the token array */
    cr_assert_eq(parse_n(&j, b.data, b.len, 64), LX_JSON_OK);
    cr_assert_eq(j.ntok, 5001);
    cr_assert_eq(lx_json_size(&j, 0), 5000);
    lx_buf_release(&b);
    lx_arena_release(&small);
    for (int e = LX_JSON_OK; e <= LX_JSON_ENOMEM; e++)
        cr_assert_not_null(lx_json_strerror(e));
}

/* ---- access ------------------------------------------------------------- */

static const char doc[] = "{\"a\":{\"x\":[1,{\"y\":2}],\"z\":null},\"b\":\"str\",\"c\":true,"
                          "\"d\":false,\"e\":-12,\"f\":1.5,\"k\\u0065y\":1,\"g\":[]}";

Test(json, get_and_skip)
{
    lx_json j;
    cr_assert_eq(parse(&j, doc), LX_JSON_OK);
    int a = lx_json_get(&j, 0, "a");
    cr_assert(lx_json_is_object(&j, a));
    cr_assert_eq(lx_json_size(&j, a), 2);
    int x = lx_json_get(&j, a, "x");
    cr_assert(lx_json_is_array(&j, x));
    cr_assert_eq(lx_json_skip(&j, x), lx_json_get(&j, a, "z") - 1);
    cr_assert(lx_json_is_null(&j, lx_json_get(&j, a, "z")));
    int b = lx_json_get(&j, 0, "b");
    cr_assert(lx_json_is_string(&j, b));
    cr_assert(lx_str_eq_cstr(lx_json_raw(&j, b), "str"));
    cr_assert(lx_str_eq_cstr(lx_json_value_text(&j, b), "\"str\""));
    cr_assert(lx_str_eq_cstr(lx_json_value_text(&j, x), "[1,{\"y\":2}]"));
    cr_assert(lx_str_eq_cstr(lx_json_value_text(&j, a), "{\"x\":[1,{\"y\":2}],\"z\":null}"));
    /* a key of a nested object is not found at the top */
    cr_assert_eq(lx_json_get(&j, 0, "x"), -1);
    cr_assert_eq(lx_json_get(&j, 0, "y"), -1);
    cr_assert_eq(lx_json_get(&j, 0, "missing"), -1);
    /* keys compare on raw bytes */
    cr_assert_eq(lx_json_get(&j, 0, "key"), -1);
    cr_assert_geq(lx_json_get(&j, 0, "k\\u0065y"), 0);
    /* get on a non-object or a bad index */
    cr_assert_eq(lx_json_get(&j, b, "a"), -1);
    cr_assert_eq(lx_json_get(&j, -1, "a"), -1);
    cr_assert_eq(lx_json_get(&j, j.ntok, "a"), -1);
    cr_assert_eq(lx_json_skip(&j, 0), j.ntok);
    int g = lx_json_get(&j, 0, "g");
    cr_assert_eq(lx_json_skip(&j, g), g + 1);
    cr_assert_eq(lx_json_size(&j, g), 0);
}

Test(json, type_predicates)
{
    lx_json j;
    cr_assert_eq(parse(&j, doc), LX_JSON_OK);
    int c = lx_json_get(&j, 0, "c"), e = lx_json_get(&j, 0, "e"), f = lx_json_get(&j, 0, "f"),
        z = lx_json_get(&j, lx_json_get(&j, 0, "a"), "z");
    cr_assert(lx_json_is_bool(&j, c));
    cr_assert_not(lx_json_is_number(&j, c));
    cr_assert(lx_json_is_number(&j, e));
    cr_assert(lx_json_is_number(&j, f));
    cr_assert_not(lx_json_is_bool(&j, z));
    cr_assert_not(lx_json_is_number(&j, z));
    cr_assert_not(lx_json_is_string(&j, -1));
    cr_assert_not(lx_json_is_object(&j, -1));
    cr_assert_not(lx_json_is_array(&j, -1));
    cr_assert_not(lx_json_is_null(&j, -1));
    cr_assert_not(lx_json_is_bool(&j, -1));
    cr_assert_not(lx_json_is_number(&j, -1));
}

Test(json, bool_reader)
{
    lx_json j;
    cr_assert_eq(parse(&j, doc), LX_JSON_OK);
    bool v = false;
    cr_assert_eq(lx_json_bool(&j, lx_json_get(&j, 0, "c"), &v), LX_OK);
    cr_assert(v);
    cr_assert_eq(lx_json_bool(&j, lx_json_get(&j, 0, "d"), &v), LX_OK);
    cr_assert_not(v);
    v = true;
    cr_assert_eq(lx_json_bool(&j, lx_json_get(&j, 0, "e"), &v), LX_ERR);
    cr_assert_eq(lx_json_bool(&j, lx_json_get(&j, 0, "b"), &v), LX_ERR);
    cr_assert_eq(lx_json_bool(&j, -1, &v), LX_ERR);
    cr_assert(v, "unchanged on error");
}

static int int64_of(const char *text, int64_t *out)
{
    lx_json j;
    cr_assert_eq(parse(&j, text), LX_JSON_OK, "%s", text);
    return lx_json_int64(&j, 1, out);
}

Test(json, int64_reader)
{
    int64_t v = 0;
    cr_assert_eq(int64_of("[0]", &v), LX_OK);
    cr_assert_eq(v, 0);
    cr_assert_eq(int64_of("[-12]", &v), LX_OK);
    cr_assert_eq(v, -12);
    cr_assert_eq(int64_of("[9223372036854775807]", &v), LX_OK);
    cr_assert_eq(v, INT64_MAX);
    cr_assert_eq(int64_of("[-9223372036854775807]", &v), LX_OK);
    cr_assert_eq(v, -INT64_MAX);
    v = 7;
    cr_assert_eq(int64_of("[9223372036854775808]", &v), LX_ERR);
    cr_assert_eq(int64_of("[18446744073709551616]", &v), LX_ERR);
    cr_assert_eq(int64_of("[99999999999999999999999]", &v), LX_ERR);
    cr_assert_eq(int64_of("[-9223372036854775809]", &v), LX_ERR);
    cr_assert_eq(int64_of("[1.5]", &v), LX_ERR);
    cr_assert_eq(int64_of("[1.0]", &v), LX_ERR);
    cr_assert_eq(int64_of("[1e3]", &v), LX_ERR);
    cr_assert_eq(int64_of("[\"12\"]", &v), LX_ERR);
    cr_assert_eq(int64_of("[true]", &v), LX_ERR);
    cr_assert_eq(int64_of("[null]", &v), LX_ERR);
    cr_assert_eq(v, 7, "unchanged on error");
}

/* INT64_MIN fits int64, so the header's contract says it reads. */
Test(json, int64_min)
{
    int64_t v = 0;
    cr_expect_eq(int64_of("[-9223372036854775808]", &v), LX_OK);
    cr_expect_eq(v, INT64_MIN);
}

static void unescape_is(const char *json_array, const char *want, size_t want_len)
{
    lx_json j;
    cr_assert_eq(parse(&j, json_array), LX_JSON_OK, "%s", json_array);
    lx_buf b;
    lx_buf_init(&b, 1024);
    cr_assert_eq(lx_json_unescape(&j, 1, &b), LX_OK);
    cr_assert_eq(b.len, want_len, "%s: length %zu, want %zu", json_array, b.len, want_len);
    if (want_len)
        cr_assert_eq(memcmp(b.data, want, want_len), 0, "%s: got [%s]", json_array, b.data);
    lx_buf_release(&b);
}

#define UNESCAPE_IS(in, want) unescape_is(in, want, sizeof(want) - 1)

Test(json, unescape)
{
    UNESCAPE_IS("[\"plain\"]", "plain");
    UNESCAPE_IS("[\"\"]", "");
    UNESCAPE_IS("[\"a\\\"b\\\\c\\/d\"]", "a\"b\\c/d");
    UNESCAPE_IS("[\"\\b\\f\\n\\r\\t\"]", "\b\f\n\r\t");
    UNESCAPE_IS("[\"\\u0041\\u00e9\\u20AC\"]", "A\xc3\xa9\xe2\x82\xac");
    UNESCAPE_IS("[\"\\u0000x\"]", "\0x");
    UNESCAPE_IS("[\"\\uD83D\\uDE00\"]", "\xf0\x9f\x98\x80"); /* surrogate pair */
    UNESCAPE_IS("[\"\\ud83d\\ude00!\"]", "\xf0\x9f\x98\x80!");
    UNESCAPE_IS("[\"\\uDBFF\\uDFFF\"]", "\xf4\x8f\xbf\xbf"); /* U+10FFFF */
    UNESCAPE_IS("[\"\\uD83Dx\"]", "\xef\xbf\xbdx");          /* lone high */
    UNESCAPE_IS("[\"\\uD83D\"]", "\xef\xbf\xbd");            /* lone high at end */
    UNESCAPE_IS("[\"\\uDE00x\"]", "\xef\xbf\xbdx");          /* lone low */
    UNESCAPE_IS("[\"\\uD83D\\u0041\"]", "\xef\xbf\xbd"
                                        "A"); /* high + non-low */
    UNESCAPE_IS("[\"\\uD83D\\uD83D\\uDE00\"]", "\xef\xbf\xbd\xf0\x9f\x98\x80");
    UNESCAPE_IS("[\"\\uDE00\\uD83D\"]", "\xef\xbf\xbd\xef\xbf\xbd");
    UNESCAPE_IS("[\"caf\xc3\xa9\\n\"]", "caf\xc3\xa9\n");
}

Test(json, unescape_respects_cap)
{
    lx_json j;
    cr_assert_eq(parse(&j, "[\"abcdef\\nghij\"]"), LX_JSON_OK);
    lx_buf b;
    lx_buf_init(&b, 5);
    cr_assert_eq(lx_json_unescape(&j, 1, &b), LX_ERR);
    cr_assert_leq(b.len, 5);
    lx_buf_release(&b);
}

Test(json, str_eq)
{
    lx_json j;
    cr_assert_eq(parse(&j, "[\"abc\",\"a\\\"b\",\"\\u0061bc\",\"\\uD83D\\uDE00\",\"\",1,"
                           "\"caf\\u00e9\"]"),
                 LX_JSON_OK);
    cr_assert(lx_json_str_eq(&j, 1, "abc"));
    cr_assert_not(lx_json_str_eq(&j, 1, "ab"));
    cr_assert_not(lx_json_str_eq(&j, 1, "abcd"));
    cr_assert(lx_json_str_eq(&j, 2, "a\"b"));
    cr_assert_not(lx_json_str_eq(&j, 2, "a\\\"b"));
    cr_assert(lx_json_str_eq(&j, 3, "abc"));
    cr_assert(lx_json_str_eq(&j, 4, "\xf0\x9f\x98\x80"));
    cr_assert(lx_json_str_eq(&j, 5, ""));
    cr_assert_not(lx_json_str_eq(&j, 6, "1"));
    cr_assert(lx_json_str_eq(&j, 7, "caf\xc3\xa9"));
    cr_assert_not(lx_json_str_eq(&j, -1, ""));
}

/* ---- escaping and writing ----------------------------------------------- */

Test(json, escape_control_and_quotes)
{
    lx_buf b;
    lx_buf_init(&b, 1024);
    static const char in[] = "a\"b\\c\n\r\t\b\f\x01\x1f\x7f/\xc3\xa9";
    cr_assert_eq(lx_json_escape(&b, in, sizeof(in) - 1), LX_OK);
    cr_assert_str_eq(b.data, "a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\x7f/\xc3\xa9");
    lx_buf_reset(&b);
    static const char nul[] = "x\0y";
    cr_assert_eq(lx_json_escape(&b, nul, 3), LX_OK);
    cr_assert_str_eq(b.data, "x\\u0000y");
    lx_buf_release(&b);
}

Test(json, escape_round_trips_through_unescape)
{
    /* every byte value that can appear in valid UTF-8 text, plus multibyte */
    char in[160];
    size_t n = 0;
    for (int c = 0; c < 128; c++)
        in[n++] = (char)c;
    memcpy(in + n, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
    n += 9;
    lx_buf b;
    lx_buf_init(&b, 4096);
    lx_buf_append_char(&b, '[');
    lx_buf_append_char(&b, '"');
    cr_assert_eq(lx_json_escape(&b, in, n), LX_OK);
    lx_buf_append_cstr(&b, "\"]");
    lx_json j;
    cr_assert_eq(parse_n(&j, b.data, b.len, 64), LX_JSON_OK, "%s", b.data);
    lx_buf out;
    lx_buf_init(&out, 4096);
    cr_assert_eq(lx_json_unescape(&j, 1, &out), LX_OK);
    cr_assert_eq(out.len, n);
    cr_assert_eq(memcmp(out.data, in, n), 0);
    lx_buf_release(&out);
    lx_buf_release(&b);
}

Test(json, escape_respects_cap)
{
    lx_buf b;
    lx_buf_init(&b, 4);
    cr_assert_eq(lx_json_escape(&b, "ab\n", 3), LX_OK); /* a b \ n */
    cr_assert_str_eq(b.data, "ab\\n");
    cr_assert_eq(lx_json_escape(&b, "x", 1), LX_ERR);
    lx_buf_release(&b);
}

Test(json, writer_document)
{
    lx_buf b;
    lx_buf_init(&b, 4096);
    lx_jw w;
    lx_jw_init(&w, &b);
    lx_jw_obj_open(&w);
    lx_jw_key(&w, "s");
    lx_jw_cstr(&w, "q\"\\\n\x01");
    lx_jw_key(&w, "n");
    lx_jw_cstr(&w, NULL);
    lx_jw_key(&w, "i");
    lx_jw_int(&w, INT64_MIN);
    lx_jw_key(&w, "u");
    lx_jw_uint(&w, UINT64_MAX);
    lx_jw_key(&w, "d");
    lx_jw_double(&w, 0.5);
    lx_jw_key(&w, "inf");
    lx_jw_double(&w, 1.0 / 0.0);
    lx_jw_key(&w, "b");
    lx_jw_bool(&w, true);
    lx_jw_key(&w, "f");
    lx_jw_bool(&w, false);
    lx_jw_key(&w, "a");
    lx_jw_arr_open(&w);
    lx_jw_int(&w, 1);
    lx_jw_arr_open(&w);
    lx_jw_arr_close(&w);
    lx_jw_obj_open(&w);
    lx_jw_obj_close(&w);
    lx_jw_raw(&w, "{\"r\":1}", 7);
    lx_jw_str(&w, "x\0y", 3);
    lx_jw_arr_close(&w);
    lx_jw_key(&w, "k\"ey");
    lx_jw_null(&w);
    lx_jw_obj_close(&w);
    cr_assert(lx_jw_ok(&w));
    cr_assert_str_eq(b.data, "{\"s\":\"q\\\"\\\\\\n\\u0001\",\"n\":null,"
                             "\"i\":-9223372036854775808,\"u\":18446744073709551615,"
                             "\"d\":0.5,\"inf\":null,\"b\":true,\"f\":false,"
                             "\"a\":[1,[],{},{\"r\":1},\"x\\u0000y\"],\"k\\\"ey\":null}");
    lx_json j;
    cr_assert_eq(parse_n(&j, b.data, b.len, 64), LX_JSON_OK);
    lx_buf_release(&b);
}

Test(json, writer_top_level_sequence)
{
    lx_buf b;
    lx_buf_init(&b, 64);
    lx_jw w;
    lx_jw_init(&w, &b);
    lx_jw_arr_open(&w);
    lx_jw_arr_close(&w);
    cr_assert(lx_jw_ok(&w));
    cr_assert_str_eq(b.data, "[]");
    lx_buf_release(&b);
}

Test(json, writer_cap_failure_is_sticky)
{
    lx_buf b;
    lx_buf_init(&b, 10);
    lx_jw w;
    lx_jw_init(&w, &b);
    lx_jw_arr_open(&w);
    lx_jw_cstr(&w, "0123456789abc"); /* does not fit */
    cr_assert_not(lx_jw_ok(&w));
    size_t len = b.len;
    lx_jw_int(&w, 1); /* would fit, but the writer already failed */
    lx_jw_arr_close(&w);
    cr_assert_not(lx_jw_ok(&w));
    cr_assert_eq(b.len, len, "nothing written after the failure");
    lx_buf_release(&b);
}

Test(json, writer_unbalanced_fails)
{
    lx_buf b;
    lx_buf_init(&b, 64);
    lx_jw w;
    lx_jw_init(&w, &b);
    lx_jw_obj_close(&w);
    cr_assert_not(lx_jw_ok(&w));
    lx_buf_reset(&b);
    lx_jw_init(&w, &b);
    lx_jw_obj_open(&w);
    cr_assert_not(lx_jw_ok(&w), "an open object is not ok");
    lx_jw_obj_close(&w);
    cr_assert(lx_jw_ok(&w));
    lx_jw_arr_close(&w);
    cr_assert_not(lx_jw_ok(&w));
    lx_buf_release(&b);
}

Test(json, writer_depth_limit)
{
    lx_buf b;
    lx_buf_init(&b, 4096);
    lx_jw w;
    lx_jw_init(&w, &b);
    for (int i = 0; i < LX_JW_MAX_DEPTH + 5; i++)
        lx_jw_arr_open(&w);
    for (int i = 0; i < LX_JW_MAX_DEPTH + 5; i++)
        lx_jw_arr_close(&w);
    cr_assert_not(lx_jw_ok(&w));
    lx_buf_reset(&b);
    lx_jw_init(&w, &b);
    for (int i = 0; i < LX_JW_MAX_DEPTH - 1; i++)
        lx_jw_arr_open(&w);
    for (int i = 0; i < LX_JW_MAX_DEPTH - 1; i++)
        lx_jw_arr_close(&w);
    cr_assert(lx_jw_ok(&w));
    lx_buf_release(&b);
}

Test(json, writer_doubles_parse_back)
{
    static const double vals[] = {0.0, -1.25, 1e300, 3.141592653589793, -0.0, 1e-7};
    lx_buf b;
    lx_buf_init(&b, 1024);
    lx_jw w;
    lx_jw_init(&w, &b);
    lx_jw_arr_open(&w);
    for (size_t i = 0; i < LX_ARRAY_LEN(vals); i++)
        lx_jw_double(&w, vals[i]);
    lx_jw_double(&w, 0.0 / 0.0);
    lx_jw_arr_close(&w);
    cr_assert(lx_jw_ok(&w));
    lx_json j;
    cr_assert_eq(parse_n(&j, b.data, b.len, 64), LX_JSON_OK, "%s", b.data);
    for (size_t i = 0; i < LX_ARRAY_LEN(vals); i++)
        cr_assert_eq(strtod(lx_json_raw(&j, 1 + (int)i).ptr, NULL), vals[i]);
    cr_assert(lx_json_is_null(&j, 7));
    lx_buf_release(&b);
}
