/*
 * schema.h — JSON Schema (draft 2020-12 subset) validation of tool-call
 * arguments and structured output.
 *
 * A schema is compiled once from JSON text into an opaque lx_schema, then
 * any number of instances are validated against it, from any number of
 * threads at once: validation only reads the compiled schema and keeps its
 * state on the caller's stack and in its own scratch memory. There is no
 * global state.
 *
 * Supported keywords (everything else — title, description, default,
 * examples, $comment, $schema, $id, unknown names — is an annotation and
 * ignored):
 *   type (string or array; "integer" accepts 1.0), enum, const,
 *   properties, patternProperties, additionalProperties, required,
 *   propertyNames, minProperties, maxProperties, dependentRequired,
 *   prefixItems, items, contains, minContains, maxContains, minItems,
 *   maxItems, uniqueItems (structural equality: key order ignored, 1 == 1.0),
 *   allOf, anyOf, oneOf, not, if/then/else,
 *   minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf,
 *   minLength, maxLength (code points of the unescaped string),
 *   pattern (PCRE2, see below), format, $ref, $defs, definitions,
 *   boolean schemas true and false.
 *
 * format is an ASSERTION here (the spec makes it an annotation by default):
 * a gateway enforcing a tool's contract wants "format": "uuid" checked.
 * Checked formats: date-time (RFC 3339 section 5.6, leap second only at
 * 23:59:60 UTC), date (full-date), email (pragmatic: dot-atom or quoted local
 * part of at most 64 bytes, '@', a hostname or a bracketed literal; ASCII
 * only), uri (RFC 3986 absolute URI: scheme ":" then only URI characters and
 * valid %-escapes), uuid (8-4-4-4-12 hex digits). Other formats are ignored.
 *
 * $ref resolves only inside the document: "#", "#/$defs/x",
 * "#/definitions/x", or any JSON pointer into the document (RFC 6901, with
 * URI %-decoding). Remote references, $id-relative references, $anchor and
 * $dynamicRef fail to compile. A cycle of $ref/allOf/anyOf/oneOf/not/if/
 * then/else that returns to a schema without descending into the instance
 * (it would loop forever) fails to compile; recursion through properties or
 * items (a tree) is fine and is bounded by the instance depth.
 *
 * Known-but-unsupported keywords that would change the verdict
 * (unevaluatedProperties, unevaluatedItems, dependentSchemas, $dynamicRef,
 * $recursiveRef) fail to compile rather than being silently ignored.
 *
 * pattern is ECMA-262 in the spec and PCRE2 here, compiled once with
 * PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY | PCRE2_ALT_BSUX (so \uXXXX
 * and \u{X..} work) and JIT, and searched unanchored as the spec says.
 * Differences known: with UCP, \d \w \s \b match Unicode classes (ECMA's \d
 * and \w are ASCII only); ECMA-only syntax such as named groups (?<n>) works
 * but \k<n> back-references and /v-mode set operations may differ; PCRE2
 * features ECMA lacks (possessive quantifiers, atomic groups, \A \z) are
 * accepted. Matching is bounded by a match limit; hitting it makes the
 * validation fail with LX_SCHEMA_ELIMIT, never pass.
 *
 * Numbers compare as integers when both fit int64 and as doubles otherwise.
 */
#ifndef LX_SCHEMA_H
#define LX_SCHEMA_H

#include "../core/core.h"
#include "../json/json.h"

struct lx_schema;

/* Caps on every input. lx_schema_limits_default() fills sane values. */
struct lx_schema_limits {
    size_t max_schema_bytes;     /* schema text length */
    uint32_t max_schema_depth;   /* nesting of the schema JSON */
    uint32_t max_nodes;          /* subschemas compiled */
    size_t max_instance_bytes;   /* instance text length */
    uint32_t max_instance_depth; /* nesting of the instance JSON */
    uint32_t max_eval_depth;     /* nested subschema evaluations */
    uint64_t max_steps;          /* work units per validation (evaluations,
                                    value comparisons) */
    uint32_t regex_match_limit;  /* PCRE2 match limit per pattern match */
};

void lx_schema_limits_default(struct lx_schema_limits *l);

/* Compiles the schema text[0..len) (copied: the caller's bytes may go away
 * afterwards) with limits lim (NULL for the defaults). Returns a new schema
 * that the caller owns and frees with lx_schema_free(), or NULL with a
 * NUL-terminated message such as "at /properties/a/minLength: must be a
 * non-negative integer" in err[0..errlen). */
struct lx_schema *lx_schema_new(const char *text, size_t len, const struct lx_schema_limits *lim,
                                char *err, size_t errlen);
/* Frees a schema and its compiled regexes. NULL is fine. No validation may
 * be running on it. */
void lx_schema_free(struct lx_schema *s);

enum lx_schema_status {
    LX_SCHEMA_VALID = 0,
    LX_SCHEMA_INVALID, /* the instance does not satisfy the schema */
    LX_SCHEMA_EJSON,   /* the instance is not JSON (or too large or deep) */
    LX_SCHEMA_ELIMIT,  /* a validation limit was reached: treat as invalid */
};
const char *lx_schema_strerror(enum lx_schema_status st);

enum { LX_SCHEMA_PTR_MAX = 256, LX_SCHEMA_KEYWORD_MAX = 24, LX_SCHEMA_MSG_MAX = 160 };

/* One validation failure. All strings are NUL-terminated; a pointer longer
 * than the field is cut and ends in "...". */
struct lx_schema_error {
    char instance[LX_SCHEMA_PTR_MAX];    /* JSON pointer into the instance, "" = root */
    char keyword[LX_SCHEMA_KEYWORD_MAX]; /* the failing keyword, e.g. "required" */
    char message[LX_SCHEMA_MSG_MAX];     /* e.g. "expected integer, got string" */
};

/* Validates the JSON text[0..len) against s. Up to max_errs failures are
 * written to errs[] (which may be NULL when max_errs is 0) and their count
 * to *nerrs (may be NULL). Failures under anyOf/oneOf/not/if are not
 * reported one by one: the combinator reports one failure of its own. For
 * LX_SCHEMA_EJSON and LX_SCHEMA_ELIMIT one entry describes the problem.
 * Thread-safe for a shared s. */
enum lx_schema_status lx_schema_validate(const struct lx_schema *s, const char *text, size_t len,
                                         struct lx_schema_error *errs, size_t max_errs,
                                         size_t *nerrs);
/* The same for value token tok of an already parsed document j (which the
 * caller keeps alive for the call; depth was the caller's to limit). */
enum lx_schema_status lx_schema_validate_json(const struct lx_schema *s, const lx_json *j, int tok,
                                              struct lx_schema_error *errs, size_t max_errs,
                                              size_t *nerrs);

#endif
