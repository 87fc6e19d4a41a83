/*
 * test_schema.c — unit tests for src/policy/schema.c: a table of valid and
 * invalid instances for every supported keyword (invalid ones also check
 * the keyword and instance pointer reported), $ref/$defs with recursion and
 * cycles, tool-call schemas as OpenAI clients send them, error collection,
 * limits, and schemas that must fail to compile.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/schema.h"

TestSuite(schema);

struct vcase {
    const char *schema;
    const char *instance;
    bool valid;
    const char *keyword; /* for invalid cases */
    const char *pointer;
};

#define OK(s, i)                                                                                   \
    {                                                                                              \
        s, i, true, NULL, NULL                                                                     \
    }
#define BAD(s, i, kw, ptr)                                                                         \
    {                                                                                              \
        s, i, false, kw, ptr                                                                       \
    }

static void run_table(const struct vcase *c, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        char err[256];
        struct lx_schema *s =
            lx_schema_new(c[k].schema, strlen(c[k].schema), NULL, err, sizeof(err));
        cr_assert_not_null(s, "schema %s: %s", c[k].schema, err);
        struct lx_schema_error e[4];
        size_t ne = 0;
        enum lx_schema_status st =
            lx_schema_validate(s, c[k].instance, strlen(c[k].instance), e, 4, &ne);
        if (c[k].valid) {
            cr_expect_eq(st, LX_SCHEMA_VALID, "schema %s instance %s: %s (%s at '%s': %s)",
                         c[k].schema, c[k].instance, lx_schema_strerror(st), ne ? e[0].keyword : "",
                         ne ? e[0].instance : "", ne ? e[0].message : "");
            cr_expect_eq(ne, 0);
        } else {
            cr_expect_eq(st, LX_SCHEMA_INVALID, "schema %s instance %s: %s", c[k].schema,
                         c[k].instance, lx_schema_strerror(st));
            if (ne > 0) {
                cr_expect_str_eq(e[0].keyword, c[k].keyword, "schema %s instance %s: %s",
                                 c[k].schema, c[k].instance, e[0].message);
                cr_expect_str_eq(e[0].instance, c[k].pointer, "schema %s instance %s", c[k].schema,
                                 c[k].instance);
            } else {
                cr_expect(false, "no error reported for %s / %s", c[k].schema, c[k].instance);
            }
        }
        lx_schema_free(s);
    }
}

#define RUN(cases) run_table(cases, LX_ARRAY_LEN(cases))

Test(schema, type)
{
    static const struct vcase c[] = {
        OK("{\"type\":\"string\"}", "\"x\""),
        BAD("{\"type\":\"string\"}", "1", "type", ""),
        OK("{\"type\":\"integer\"}", "1"),
        OK("{\"type\":\"integer\"}", "1.0"),
        OK("{\"type\":\"integer\"}", "-9223372036854775808"),
        OK("{\"type\":\"integer\"}", "1e3"),
        BAD("{\"type\":\"integer\"}", "1.5", "type", ""),
        BAD("{\"type\":\"integer\"}", "\"1\"", "type", ""),
        OK("{\"type\":\"number\"}", "1.5"),
        OK("{\"type\":\"number\"}", "-1e-300"),
        BAD("{\"type\":\"number\"}", "true", "type", ""),
        OK("{\"type\":\"boolean\"}", "false"),
        BAD("{\"type\":\"boolean\"}", "0", "type", ""),
        OK("{\"type\":\"null\"}", "null"),
        BAD("{\"type\":\"null\"}", "\"null\"", "type", ""),
        OK("{\"type\":\"object\"}", "{}"),
        BAD("{\"type\":\"object\"}", "[]", "type", ""),
        OK("{\"type\":\"array\"}", "[1]"),
        BAD("{\"type\":\"array\"}", "{}", "type", ""),
        OK("{\"type\":[\"string\",\"null\"]}", "null"),
        BAD("{\"type\":[\"string\",\"null\"]}", "3", "type", ""),
        OK("{\"properties\":{\"a\":{\"type\":\"integer\"}}}", "{\"a\":2}"),
        BAD("{\"properties\":{\"a\":{\"type\":\"integer\"}}}", "{\"a\":\"x\"}", "type", "/a"),
    };
    RUN(c);
}

Test(schema, type_message)
{
    char err[128];
    const char *sc = "{\"type\":\"integer\"}";
    struct lx_schema *s = lx_schema_new(sc, strlen(sc), NULL, err, sizeof(err));
    cr_assert_not_null(s);
    struct lx_schema_error e;
    size_t ne;
    cr_assert_eq(lx_schema_validate(s, "\"a\"", 3, &e, 1, &ne), LX_SCHEMA_INVALID);
    cr_expect_str_eq(e.message, "expected integer, got string");
    lx_schema_free(s);
}

Test(schema, properties_required_additional)
{
    static const struct vcase c[] = {
        OK("{\"required\":[\"a\"]}", "{\"a\":null}"),
        OK("{\"required\":[\"a\"]}", "[]"), /* applies to objects only */
        BAD("{\"required\":[\"a\",\"b\"]}", "{\"a\":1}", "required", ""),
        OK("{\"required\":[\"\\u00e9\"]}", "{\"\xc3\xa9\":1}"),
        OK("{\"additionalProperties\":false,\"properties\":{\"a\":{}}}", "{\"a\":1}"),
        BAD("{\"additionalProperties\":false,\"properties\":{\"a\":{}}}", "{\"a\":1,\"b\":2}",
            "additionalProperties", "/b"),
        OK("{\"additionalProperties\":{\"type\":\"integer\"}}", "{\"x\":1,\"y\":2}"),
        BAD("{\"additionalProperties\":{\"type\":\"integer\"}}", "{\"x\":1,\"y\":\"2\"}", "type",
            "/y"),
        OK("{\"properties\":{\"a/b\":{\"type\":\"string\"}},\"additionalProperties\":false}",
           "{\"a/b\":\"x\"}"),
        BAD("{\"properties\":{\"a/b\":{\"type\":\"string\"}}}", "{\"a/b\":1}", "type", "/a~1b"),
        BAD("{\"properties\":{\"a~b\":false}}", "{\"a~b\":1}", "properties", "/a~0b"),
        /* keys compare unescaped */
        BAD("{\"properties\":{\"a\":{\"type\":\"string\"}}}", "{\"\\u0061\":1}", "type", "/a"),
        OK("{\"patternProperties\":{\"^x-\":{\"type\":\"string\"}},\"additionalProperties\":false}",
           "{\"x-a\":\"1\"}"),
        BAD("{\"patternProperties\":{\"^x-\":{\"type\":\"string\"}},\"additionalProperties\":"
            "false}",
            "{\"y\":\"1\"}", "additionalProperties", "/y"),
        BAD("{\"patternProperties\":{\"^x-\":{\"type\":\"string\"}}}", "{\"x-a\":1}", "type",
            "/x-a"),
        OK("{\"minProperties\":1,\"maxProperties\":2}", "{\"a\":1}"),
        BAD("{\"minProperties\":1}", "{}", "minProperties", ""),
        BAD("{\"maxProperties\":1}", "{\"a\":1,\"b\":2}", "maxProperties", ""),
        OK("{\"propertyNames\":{\"maxLength\":3}}", "{\"abc\":1}"),
        BAD("{\"propertyNames\":{\"maxLength\":3}}", "{\"abcd\":1}", "maxLength", "/abcd"),
        OK("{\"dependentRequired\":{\"a\":[\"b\"]}}", "{\"c\":1}"),
        BAD("{\"dependentRequired\":{\"a\":[\"b\"]}}", "{\"a\":1}", "dependentRequired", ""),
    };
    RUN(c);
}

Test(schema, items_prefix_items)
{
    static const struct vcase c[] = {
        OK("{\"items\":{\"type\":\"integer\"}}", "[1,2,3]"),
        BAD("{\"items\":{\"type\":\"integer\"}}", "[1,2,\"3\"]", "type", "/2"),
        OK("{\"items\":{\"type\":\"integer\"}}", "{\"a\":\"x\"}"),
        OK("{\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}", "[\"a\",1,null]"),
        BAD("{\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}", "[\"a\",\"b\"]",
            "type", "/1"),
        OK("{\"prefixItems\":[{\"type\":\"string\"}],\"items\":false}", "[\"a\"]"),
        BAD("{\"prefixItems\":[{\"type\":\"string\"}],\"items\":false}", "[\"a\",2]", "items",
            "/1"),
        BAD("{\"prefixItems\":[{},{\"type\":\"integer\"}],\"items\":{\"type\":\"boolean\"}}",
            "[0,1,true,3]", "type", "/3"),
        OK("{\"minItems\":1,\"maxItems\":2}", "[1,2]"),
        BAD("{\"minItems\":1}", "[]", "minItems", ""),
        BAD("{\"maxItems\":2}", "[1,2,3]", "maxItems", ""),
        OK("{\"minItems\":2.0}", "[1,2]"),
        OK("{\"contains\":{\"type\":\"string\"}}", "[1,\"a\"]"),
        BAD("{\"contains\":{\"type\":\"string\"}}", "[1,2]", "contains", ""),
        BAD("{\"contains\":{\"type\":\"string\"},\"maxContains\":1}", "[\"a\",\"b\"]",
            "maxContains", ""),
        OK("{\"contains\":{\"type\":\"string\"},\"minContains\":2}", "[\"a\",\"b\"]"),
    };
    RUN(c);
}

Test(schema, unique_items)
{
    static const struct vcase c[] = {
        OK("{\"uniqueItems\":true}", "[1,2,\"1\",[1],{\"a\":1}]"),
        BAD("{\"uniqueItems\":true}", "[1,2,1]", "uniqueItems", ""),
        BAD("{\"uniqueItems\":true}", "[1,1.0]", "uniqueItems", ""),
        BAD("{\"uniqueItems\":true}", "[{\"a\":1,\"b\":2},{\"b\":2,\"a\":1}]", "uniqueItems", ""),
        BAD("{\"uniqueItems\":true}", "[\"\\u0041\",\"A\"]", "uniqueItems", ""),
        BAD("{\"uniqueItems\":true}", "[[1,{\"x\":null}],[1.0,{\"x\":null}]]", "uniqueItems", ""),
        OK("{\"uniqueItems\":true}", "[[1,2],[2,1]]"),
        OK("{\"uniqueItems\":true}", "[{\"a\":1},{\"a\":1,\"b\":1}]"),
        OK("{\"uniqueItems\":true}", "[true,false,null,0,\"\"]"),
        OK("{\"uniqueItems\":false}", "[1,1]"),
        BAD("{\"properties\":{\"t\":{\"uniqueItems\":true}}}", "{\"t\":[0,-0]}", "uniqueItems",
            "/t"),
    };
    RUN(c);
}

Test(schema, enum_const)
{
    static const struct vcase c[] = {
        OK("{\"enum\":[\"a\",\"b\",1]}", "\"b\""),
        OK("{\"enum\":[\"a\",\"b\",1]}", "1.0"),
        BAD("{\"enum\":[\"a\",\"b\",1]}", "\"c\"", "enum", ""),
        BAD("{\"enum\":[\"a\",\"b\",1]}", "true", "enum", ""),
        OK("{\"enum\":[{\"a\":[1,2]},null]}", "{\"a\":[1,2]}"),
        BAD("{\"enum\":[{\"a\":[1,2]},null]}", "{\"a\":[2,1]}", "enum", ""),
        OK("{\"enum\":[\"caf\\u00e9\"]}", "\"caf\xc3\xa9\""),
        OK("{\"const\":42}", "42"),
        OK("{\"const\":42}", "4.2e1"),
        BAD("{\"const\":42}", "43", "const", ""),
        BAD("{\"const\":false}", "0", "const", ""),
        OK("{\"const\":{\"x\":1,\"y\":[true]}}", "{\"y\":[true],\"x\":1}"),
        BAD("{\"const\":{\"x\":1}}", "{\"x\":1,\"y\":2}", "const", ""),
        OK("{\"const\":null}", "null"),
        BAD("{\"properties\":{\"k\":{\"const\":\"v\"}}}", "{\"k\":\"w\"}", "const", "/k"),
    };
    RUN(c);
}

Test(schema, combinators)
{
    static const struct vcase c[] = {
        OK("{\"allOf\":[{\"type\":\"integer\"},{\"minimum\":2}]}", "3"),
        BAD("{\"allOf\":[{\"type\":\"integer\"},{\"minimum\":2}]}", "1", "minimum", ""),
        BAD("{\"allOf\":[{\"type\":\"integer\"},false]}", "1", "allOf", ""),
        OK("{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}", "1"),
        BAD("{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}", "1.5", "anyOf", ""),
        OK("{\"oneOf\":[{\"type\":\"integer\"},{\"type\":\"string\"}]}", "\"a\""),
        BAD("{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":0}]}", "1", "oneOf", ""),
        BAD("{\"oneOf\":[{\"type\":\"integer\"},{\"type\":\"string\"}]}", "null", "oneOf", ""),
        OK("{\"not\":{\"type\":\"string\"}}", "1"),
        BAD("{\"not\":{\"type\":\"string\"}}", "\"a\"", "not", ""),
        BAD("{\"properties\":{\"p\":{\"not\":{}}}}", "{\"p\":1}", "not", "/p"),
        OK("{\"if\":{\"type\":\"string\"},\"then\":{\"minLength\":2},\"else\":{\"minimum\":5}}",
           "\"ab\""),
        OK("{\"if\":{\"type\":\"string\"},\"then\":{\"minLength\":2},\"else\":{\"minimum\":5}}",
           "7"),
        BAD("{\"if\":{\"type\":\"string\"},\"then\":{\"minLength\":2},\"else\":{\"minimum\":5}}",
            "\"a\"", "minLength", ""),
        BAD("{\"if\":{\"type\":\"string\"},\"then\":{\"minLength\":2},\"else\":{\"minimum\":5}}",
            "4", "minimum", ""),
        /* anyOf nested in items reports at the item */
        BAD("{\"items\":{\"anyOf\":[{\"type\":\"null\"},{\"type\":\"boolean\"}]}}", "[null,1]",
            "anyOf", "/1"),
    };
    RUN(c);
}

Test(schema, numbers)
{
    static const struct vcase c[] = {
        OK("{\"minimum\":1}", "1"),
        BAD("{\"minimum\":1}", "0.999", "minimum", ""),
        OK("{\"maximum\":1.5}", "1.5"),
        BAD("{\"maximum\":1.5}", "1.50001", "maximum", ""),
        OK("{\"exclusiveMinimum\":0}", "0.0001"),
        BAD("{\"exclusiveMinimum\":0}", "0", "exclusiveMinimum", ""),
        OK("{\"exclusiveMaximum\":10}", "9"),
        BAD("{\"exclusiveMaximum\":10}", "10.0", "exclusiveMaximum", ""),
        OK("{\"minimum\":1}", "\"0\""), /* applies to numbers only */
        /* exact int64 comparison beyond 2^53 */
        BAD("{\"maximum\":9007199254740992}", "9007199254740993", "maximum", ""),
        OK("{\"minimum\":-9223372036854775808}", "-9223372036854775808"),
        OK("{\"multipleOf\":3}", "9"),
        BAD("{\"multipleOf\":3}", "10", "multipleOf", ""),
        OK("{\"multipleOf\":0.01}", "19.99"),
        BAD("{\"multipleOf\":0.01}", "19.999", "multipleOf", ""),
        OK("{\"type\":\"integer\",\"minimum\":1,\"maximum\":10}", "10"),
    };
    RUN(c);
}

Test(schema, strings)
{
    static const struct vcase c[] = {
        OK("{\"minLength\":2}", "\"ab\""), BAD("{\"minLength\":2}", "\"a\"", "minLength", ""),
        /* code points, not bytes: two 2-byte and one 4-byte character */
        OK("{\"maxLength\":2}", "\"\xc3\xa9\xc3\xa9\""),
        OK("{\"maxLength\":1}", "\"\xf0\x9f\x98\x80\""),
        OK("{\"maxLength\":1}", "\"\\ud83d\\ude00\""), /* an escaped surrogate pair */
        BAD("{\"maxLength\":2}", "\"abc\"", "maxLength", ""), OK("{\"maxLength\":2}", "\"\\n\\t\""),
        BAD("{\"minLength\":3}", "\"\xc3\xa9\xc3\xa9\"", "minLength", ""),
        OK("{\"maxLength\":0}", "5"), OK("{\"pattern\":\"^[a-z]+$\"}", "\"abc\""),
        BAD("{\"pattern\":\"^[a-z]+$\"}", "\"abC\"", "pattern", ""),
        BAD("{\"pattern\":\"^[a-z]+$\"}", "\"abc\\n\"", "pattern", ""), /* $ is end only */
        OK("{\"pattern\":\"b\"}", "\"abc\""),                           /* unanchored */
        OK("{\"pattern\":\"^.$\"}", "\"\xc3\xa9\""),                    /* UTF mode */
        OK("{\"pattern\":\"^\\\\u0041\\\\d{2}$\"}", "\"A12\""),         /* ECMA \u escape */
        OK("{\"pattern\":\"^\\\\p{L}+$\"}", "\"\xc3\xa9t\xc3\xa9\""),
        BAD("{\"properties\":{\"id\":{\"pattern\":\"^[0-9]+$\"}}}", "{\"id\":\"12a\"}", "pattern",
            "/id"),
        OK("{\"pattern\":\"^a\\\\\\\"b$\"}", "\"a\\\"b\""), /* escapes unescaped on both sides */
    };
    RUN(c);
}

Test(schema, formats)
{
    static const struct vcase c[] = {
        OK("{\"format\":\"date-time\"}", "\"1985-04-12T23:20:50.52Z\""),
        OK("{\"format\":\"date-time\"}", "\"1996-12-19T16:39:57-08:00\""),
        OK("{\"format\":\"date-time\"}", "\"1990-12-31T23:59:60Z\""),
        OK("{\"format\":\"date-time\"}", "\"1990-12-31T15:59:60-08:00\""),
        OK("{\"format\":\"date-time\"}", "\"2024-02-29t10:00:00z\""),
        BAD("{\"format\":\"date-time\"}", "\"2023-02-29T10:00:00Z\"", "format", ""),
        BAD("{\"format\":\"date-time\"}", "\"1990-12-31T22:59:60Z\"", "format", ""),
        BAD("{\"format\":\"date-time\"}", "\"2024-01-01 10:00:00Z\"", "format", ""),
        BAD("{\"format\":\"date-time\"}", "\"2024-01-01T10:00:00\"", "format", ""),
        BAD("{\"format\":\"date-time\"}", "\"2024-13-01T10:00:00Z\"", "format", ""),
        BAD("{\"format\":\"date-time\"}", "\"2024-01-01T24:00:00Z\"", "format", ""),
        BAD("{\"format\":\"date-time\"}", "\"2024-01-01T10:00:00.Z\"", "format", ""),
        BAD("{\"format\":\"date-time\"}", "\"2024-01-01T10:00:00+0100\"", "format", ""),
        OK("{\"format\":\"date\"}", "\"2000-02-29\""),
        BAD("{\"format\":\"date\"}", "\"1900-02-29\"", "format", ""),
        OK("{\"format\":\"email\"}", "\"joe.bloggs@example.com\""),
        OK("{\"format\":\"email\"}", "\"a+tag@sub.example.co.uk\""),
        OK("{\"format\":\"email\"}", "\"\\\"joe bloggs\\\"@example.com\""),
        OK("{\"format\":\"email\"}", "\"joe@[127.0.0.1]\""),
        BAD("{\"format\":\"email\"}", "\"joe\"", "format", ""),
        BAD("{\"format\":\"email\"}", "\"joe@\"", "format", ""),
        BAD("{\"format\":\"email\"}", "\".joe@example.com\"", "format", ""),
        BAD("{\"format\":\"email\"}", "\"jo..e@example.com\"", "format", ""),
        BAD("{\"format\":\"email\"}", "\"joe@-example.com\"", "format", ""),
        BAD("{\"format\":\"email\"}", "\"jo e@example.com\"", "format", ""),
        OK("{\"format\":\"uri\"}", "\"https://example.com/a?b=c#d\""),
        OK("{\"format\":\"uri\"}", "\"urn:isbn:0451450523\""),
        OK("{\"format\":\"uri\"}", "\"mailto:joe@example.com\""),
        OK("{\"format\":\"uri\"}", "\"http://[::1]:80/%20x\""),
        BAD("{\"format\":\"uri\"}", "\"/relative/path\"", "format", ""),
        BAD("{\"format\":\"uri\"}", "\"http://exa mple.com\"", "format", ""),
        BAD("{\"format\":\"uri\"}", "\"http://example.com/%zz\"", "format", ""),
        BAD("{\"format\":\"uri\"}", "\"1http://x\"", "format", ""),
        OK("{\"format\":\"uuid\"}", "\"123e4567-e89b-12d3-a456-426614174000\""),
        OK("{\"format\":\"uuid\"}", "\"123E4567-E89B-12D3-A456-426614174000\""),
        BAD("{\"format\":\"uuid\"}", "\"123e4567e89b12d3a456426614174000\"", "format", ""),
        BAD("{\"format\":\"uuid\"}", "\"123e4567-e89b-12d3-a456-42661417400g\"", "format", ""),
        OK("{\"format\":\"hostname\"}", "\"not checked\""), /* unknown formats are annotations */
        OK("{\"format\":\"uuid\"}", "42"),
    };
    RUN(c);
}

Test(schema, boolean_schemas_and_annotations)
{
    static const struct vcase c[] = {
        OK("true", "{\"anything\":[1]}"),
        BAD("false", "null", "false", ""),
        OK("{}", "1"),
        OK("{\"title\":\"T\",\"description\":\"D\",\"default\":3,\"examples\":[1],\"x-vendor\":{"
           "\"type\":\"string\"},\"$schema\":\"https://json-schema.org/draft/2020-12/schema\"}",
           "1"),
        BAD("{\"properties\":{\"a\":false}}", "{\"a\":1}", "properties", "/a"),
    };
    RUN(c);
}

Test(schema, refs)
{
    static const struct vcase c[] = {
        OK("{\"$defs\":{\"pos\":{\"type\":\"integer\",\"minimum\":1}},\"$ref\":\"#/$defs/pos\"}",
           "3"),
        BAD("{\"$defs\":{\"pos\":{\"type\":\"integer\",\"minimum\":1}},\"$ref\":\"#/$defs/pos\"}",
            "0", "minimum", ""),
        BAD("{\"definitions\":{\"s\":{\"type\":\"string\"}},\"properties\":{\"a\":{\"$ref\":\"#/"
            "definitions/s\"}}}",
            "{\"a\":1}", "type", "/a"),
        /* a pointer into properties, ~1 and %25 decoding */
        OK("{\"properties\":{\"a/b\":{\"type\":\"string\"},\"c\":{\"$ref\":\"#/properties/"
           "a~1b\"}}}",
           "{\"c\":\"x\"}"),
        BAD("{\"properties\":{\"a%b\":{\"type\":\"string\"},\"c\":{\"$ref\":\"#/properties/"
            "a%25b\"}}}",
            "{\"c\":1}", "type", "/c"),
        BAD("{\"prefixItems\":[{\"type\":\"null\"},{\"$ref\":\"#/prefixItems/0\"}]}", "[null,1]",
            "type", "/1"),
        /* $ref with siblings: both apply (2020-12) */
        BAD("{\"$defs\":{\"i\":{\"type\":\"integer\"}},\"$ref\":\"#/$defs/i\",\"maximum\":5}", "6",
            "maximum", ""),
        /* a recursive tree */
        OK("{\"$defs\":{\"node\":{\"type\":\"object\",\"required\":[\"v\"],\"properties\":{\"v\":{"
           "\"type\":\"integer\"},\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/"
           "node\"}}},\"additionalProperties\":false}},\"$ref\":\"#/$defs/node\"}",
           "{\"v\":1,\"kids\":[{\"v\":2},{\"v\":3,\"kids\":[{\"v\":4,\"kids\":[]}]}]}"),
        BAD("{\"$defs\":{\"node\":{\"type\":\"object\",\"required\":[\"v\"],\"properties\":{\"v\":{"
            "\"type\":\"integer\"},\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/"
            "node\"}}},\"additionalProperties\":false}},\"$ref\":\"#/$defs/node\"}",
            "{\"v\":1,\"kids\":[{\"v\":2},{\"v\":3,\"kids\":[{\"v\":\"4\"}]}]}", "type",
            "/kids/1/kids/0/v"),
        /* recursion through the root */
        OK("{\"type\":[\"array\",\"integer\"],\"items\":{\"$ref\":\"#\"}}", "[1,[2,[3,[]]]]"),
        BAD("{\"type\":[\"array\",\"integer\"],\"items\":{\"$ref\":\"#\"}}", "[1,[2,[\"3\"]]]",
            "type", "/1/1/0"),
        /* a linked list through anyOf */
        OK("{\"$defs\":{\"l\":{\"anyOf\":[{\"type\":\"null\"},{\"type\":\"object\","
           "\"properties\":{\"next\":{\"$ref\":\"#/$defs/l\"}}}]}},\"$ref\":\"#/$defs/l\"}",
           "{\"next\":{\"next\":null}}"),
    };
    RUN(c);
}

static void expect_compile_error(const char *schema, const char *fragment)
{
    char err[256];
    struct lx_schema *s = lx_schema_new(schema, strlen(schema), NULL, err, sizeof(err));
    cr_expect_null(s, "schema %s compiled", schema);
    cr_expect(strstr(err, fragment) != NULL, "schema %s: error [%s] lacks [%s]", schema, err,
              fragment);
    lx_schema_free(s);
}

Test(schema, ref_cycles_rejected)
{
    expect_compile_error("{\"$ref\":\"#\"}", "without consuming input");
    expect_compile_error("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{\"$ref\":\"#/$defs/"
                         "a\"}},\"$ref\":\"#/$defs/a\"}",
                         "without consuming input");
    expect_compile_error("{\"anyOf\":[{\"type\":\"null\"},{\"$ref\":\"#\"}]}",
                         "without consuming input");
    expect_compile_error("{\"$defs\":{\"a\":{\"not\":{\"$ref\":\"#/$defs/a\"}}}}",
                         "without consuming input");
    expect_compile_error("{\"$defs\":{\"a\":{\"allOf\":[{\"$ref\":\"#/$defs/a\"}]}}}",
                         "at /$defs/a");
}

Test(schema, deep_recursion_bounded)
{
    /* a valid recursive schema against a deep instance stays within limits */
    const char *sc = "{\"items\":{\"$ref\":\"#\"}}";
    char err[128];
    struct lx_schema_limits lim;
    lx_schema_limits_default(&lim);
    lim.max_instance_depth = 10000;
    lim.max_eval_depth = 50;
    struct lx_schema *s = lx_schema_new(sc, strlen(sc), &lim, err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    char inst[400];
    memset(inst, '[', 200);
    memset(inst + 200, ']', 200);
    struct lx_schema_error e;
    size_t ne;
    cr_expect_eq(lx_schema_validate(s, inst, sizeof(inst), &e, 1, &ne), LX_SCHEMA_ELIMIT);
    cr_expect_eq(ne, 1);
    cr_expect(strstr(e.message, "nested too deeply") != NULL, "%s", e.message);
    cr_expect_eq(lx_schema_validate(s, inst + 180, 40, &e, 1, &ne), LX_SCHEMA_VALID);
    lx_schema_free(s);
}

Test(schema, malformed_schemas)
{
    expect_compile_error("{\"type\":", "not valid JSON");
    expect_compile_error("42", "a schema must be an object or a boolean");
    expect_compile_error("{\"type\":\"strnig\"}", "at /type: unknown type");
    expect_compile_error("{\"type\":[]}", "must not be empty");
    expect_compile_error("{\"properties\":{\"a\":{\"minLength\":-1}}}",
                         "at /properties/a/minLength: must be a non-negative integer");
    expect_compile_error("{\"minItems\":1.5}", "non-negative integer");
    expect_compile_error("{\"required\":\"a\"}", "at /required: must be an array of strings");
    expect_compile_error("{\"required\":[1]}", "must be an array of strings");
    expect_compile_error("{\"properties\":[]}", "must be an object of schemas");
    expect_compile_error("{\"items\":[{}]}", "at /items: a schema must be an object");
    expect_compile_error("{\"anyOf\":[]}", "non-empty array");
    expect_compile_error("{\"allOf\":{}}", "array of schemas");
    expect_compile_error("{\"enum\":1}", "must be an array");
    expect_compile_error("{\"minimum\":\"1\"}", "must be a number");
    expect_compile_error("{\"multipleOf\":0}", "greater than 0");
    expect_compile_error("{\"pattern\":\"(\"}", "at /pattern: bad regular expression");
    expect_compile_error("{\"pattern\":5}", "must be a string");
    expect_compile_error("{\"uniqueItems\":1}", "must be a boolean");
    expect_compile_error("{\"$ref\":\"#/$defs/missing\"}", "target not found");
    expect_compile_error("{\"$ref\":\"https://example.com/s.json\"}", "same-document");
    expect_compile_error("{\"$ref\":\"#anchor\"}", "$anchor");
    expect_compile_error("{\"unevaluatedProperties\":false}", "not supported");
    expect_compile_error("{\"$defs\":{\"unused\":{\"type\":7}}}", "at /$defs/unused/type");
}

Test(schema, compile_limits)
{
    struct lx_schema_limits lim;
    lx_schema_limits_default(&lim);
    lim.max_nodes = 3;
    char err[128];
    const char *sc = "{\"properties\":{\"a\":{},\"b\":{},\"c\":{}}}";
    cr_expect_null(lx_schema_new(sc, strlen(sc), &lim, err, sizeof(err)));
    cr_expect(strstr(err, "more than 3 subschemas") != NULL, "%s", err);
    lx_schema_limits_default(&lim);
    lim.max_schema_depth = 2;
    sc = "{\"properties\":{\"a\":{\"properties\":{}}}}";
    cr_expect_null(lx_schema_new(sc, strlen(sc), &lim, err, sizeof(err)));
    cr_expect(strstr(err, "nested too deeply") != NULL, "%s", err);
    lim.max_schema_bytes = 4;
    cr_expect_null(lx_schema_new(sc, strlen(sc), &lim, err, sizeof(err)));
    cr_expect(strstr(err, "larger than") != NULL, "%s", err);
}

/* The shape the OpenAI SDKs send as tools[].function.parameters (strict
 * mode: every property required, additionalProperties false, nullable as a
 * type union, $defs from Pydantic). */
static const char tool_schema[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"location\":{\"type\":\"string\",\"description\":\"City\"},"
    "\"unit\":{\"type\":[\"string\",\"null\"],\"enum\":[\"celsius\",\"fahrenheit\",null]},"
    "\"days\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":14},"
    "\"stops\":{\"type\":\"array\",\"maxItems\":3,\"items\":{\"$ref\":\"#/$defs/Stop\"}},"
    "\"when\":{\"type\":\"string\",\"format\":\"date-time\"}"
    "},\"required\":[\"location\",\"unit\",\"days\",\"stops\"],\"additionalProperties\":false,"
    "\"$defs\":{\"Stop\":{\"type\":\"object\",\"title\":\"Stop\",\"properties\":{"
    "\"name\":{\"type\":\"string\",\"minLength\":1},"
    "\"coords\":{\"type\":\"object\",\"properties\":{\"lat\":{\"type\":\"number\",\"minimum\":-90,"
    "\"maximum\":90},\"lon\":{\"type\":\"number\"}},\"required\":[\"lat\",\"lon\"],"
    "\"additionalProperties\":false}},\"required\":[\"name\"],\"additionalProperties\":false}}}";

Test(schema, tool_call_arguments)
{
    static const struct vcase c[] = {
        OK(tool_schema, "{\"location\":\"Paris\",\"unit\":null,\"days\":3,\"stops\":[]}"),
        OK(tool_schema, "{\"location\":\"Paris\",\"unit\":\"celsius\",\"days\":3,\"stops\":[{"
                        "\"name\":\"Lyon\",\"coords\":{\"lat\":45.7,\"lon\":4.8}}],\"when\":"
                        "\"2025-06-01T08:00:00Z\"}"),
        BAD(tool_schema, "{\"location\":\"Paris\",\"unit\":\"kelvin\",\"days\":3,\"stops\":[]}",
            "enum", "/unit"),
        BAD(tool_schema, "{\"location\":\"Paris\",\"unit\":null,\"days\":3}", "required", ""),
        BAD(tool_schema, "{\"location\":\"Paris\",\"unit\":null,\"days\":3.5,\"stops\":[]}", "type",
            "/days"),
        BAD(tool_schema, "{\"location\":\"Paris\",\"unit\":null,\"days\":30,\"stops\":[]}",
            "maximum", "/days"),
        BAD(tool_schema,
            "{\"location\":\"Paris\",\"unit\":null,\"days\":3,\"stops\":[],\"verbose\":true}",
            "additionalProperties", "/verbose"),
        BAD(tool_schema,
            "{\"location\":\"Paris\",\"unit\":null,\"days\":3,\"stops\":[{\"name\":"
            "\"A\"},{\"name\":\"B\",\"coords\":{\"lat\":91,\"lon\":0}}]}",
            "maximum", "/stops/1/coords/lat"),
        BAD(tool_schema,
            "{\"location\":\"Paris\",\"unit\":null,\"days\":3,\"stops\":[{\"name\":"
            "\"\"}]}",
            "minLength", "/stops/0/name"),
        BAD(tool_schema,
            "{\"location\":\"Paris\",\"unit\":null,\"days\":3,\"stops\":[{\"name\":"
            "\"A\",\"extra\":1}]}",
            "additionalProperties", "/stops/0/extra"),
        BAD(tool_schema,
            "{\"location\":\"Paris\",\"unit\":null,\"days\":3,\"stops\":[],\"when\":"
            "\"tomorrow\"}",
            "format", "/when"),
        BAD(tool_schema, "[\"Paris\"]", "type", ""),
    };
    RUN(c);
}

Test(schema, collects_several_errors)
{
    char err[128];
    struct lx_schema *s = lx_schema_new(tool_schema, strlen(tool_schema), NULL, err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    const char *inst = "{\"unit\":\"k\",\"days\":0,\"stops\":[{\"name\":1}],\"x\":1}";
    struct lx_schema_error e[10];
    size_t ne = 0;
    cr_assert_eq(lx_schema_validate(s, inst, strlen(inst), e, 10, &ne), LX_SCHEMA_INVALID);
    cr_expect_eq(ne, 5, "got %zu errors", ne);
    cr_expect_str_eq(e[0].keyword, "required"); /* location */
    cr_expect_str_eq(e[1].instance, "/unit");
    cr_expect_str_eq(e[2].instance, "/days");
    cr_expect_str_eq(e[3].instance, "/stops/0/name");
    cr_expect_str_eq(e[4].instance, "/x");
    /* max_errs 1 stops at the first; 0 just gives the verdict */
    cr_expect_eq(lx_schema_validate(s, inst, strlen(inst), e, 1, &ne), LX_SCHEMA_INVALID);
    cr_expect_eq(ne, 1);
    cr_expect_eq(lx_schema_validate(s, inst, strlen(inst), NULL, 0, &ne), LX_SCHEMA_INVALID);
    cr_expect_eq(ne, 0);
    lx_schema_free(s);
}

Test(schema, instance_errors_and_prepared_json)
{
    char err[128];
    const char *sc = "{\"type\":\"object\"}";
    struct lx_schema *s = lx_schema_new(sc, strlen(sc), NULL, err, sizeof(err));
    cr_assert_not_null(s);
    struct lx_schema_error e;
    size_t ne;
    cr_expect_eq(lx_schema_validate(s, "{\"a\":", 5, &e, 1, &ne), LX_SCHEMA_EJSON);
    cr_expect_eq(ne, 1);
    cr_expect_str_eq(e.message, "malformed JSON");
    /* an instance inside a bigger document the caller already parsed */
    lx_arena a;
    lx_arena_init(&a, 1 << 20);
    lx_json j;
    const char *doc = "{\"arguments\":{\"x\":1},\"other\":2}";
    cr_assert_eq(lx_json_parse(&j, doc, strlen(doc), &a, 16), LX_JSON_OK);
    cr_expect_eq(lx_schema_validate_json(s, &j, lx_json_get(&j, 0, "arguments"), &e, 1, &ne),
                 LX_SCHEMA_VALID);
    cr_expect_eq(lx_schema_validate_json(s, &j, lx_json_get(&j, 0, "other"), &e, 1, &ne),
                 LX_SCHEMA_INVALID);
    lx_arena_release(&a);
    lx_schema_free(s);
}

Test(schema, regex_limit_fails_closed)
{
    char err[128];
    struct lx_schema_limits lim;
    lx_schema_limits_default(&lim);
    lim.regex_match_limit = 1000;
    const char *sc = "{\"pattern\":\"^(a|aa)+$\"}";
    struct lx_schema *s = lx_schema_new(sc, strlen(sc), &lim, err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    char inst[80];
    inst[0] = '"';
    memset(inst + 1, 'a', 70);
    inst[71] = 'b';
    inst[72] = '"';
    struct lx_schema_error e;
    size_t ne;
    cr_expect_eq(lx_schema_validate(s, inst, 73, &e, 1, &ne), LX_SCHEMA_ELIMIT);
    lx_schema_free(s);
}
