/*
 * json.h — reading JSON over jsmn tokens, and writing it as a stream.
 *
 * Reading: lx_json_parse() tokenizes a body once with jsmn (strict mode,
 * parent links), then checks what jsmn leaves loose — one value only, valid
 * literals and numbers, keys followed by values, valid UTF-8 — and the
 * nesting depth. Tokens are slices of the caller's bytes: nothing is copied,
 * and an escaped string can be spliced into output verbatim. The token array
 * comes from the caller's arena and lives as long as it.
 *
 * Writing: lx_jw writes a document front to back into an lx_buf with
 * correct escaping and commas; an error (cap reached) is sticky and reported
 * once at the end by lx_jw_ok().
 */
#ifndef LX_JSON_H
#define LX_JSON_H

#define JSMN_HEADER
#include <jsmn.h>
#undef JSMN_HEADER

#include "../core/arena.h"
#include "../core/buf.h"
#include "../core/str.h"

enum lx_json_err {
    LX_JSON_OK = 0,
    LX_JSON_ESYNTAX, /* not JSON */
    LX_JSON_EDEPTH,  /* nested deeper than allowed */
    LX_JSON_EUTF8,   /* invalid UTF-8 in the input */
    LX_JSON_ENOMEM,  /* arena cap reached */
};

typedef struct lx_json {
    const char *src;
    size_t len;
    jsmntok_t *tok;
    int ntok;
} lx_json;

/* Parses src[0..len) as one JSON value nested at most max_depth containers
 * deep. Tokens are allocated from a. Returns LX_JSON_OK or the failure. */
enum lx_json_err lx_json_parse(lx_json *j, const char *src, size_t len, lx_arena *a,
                               uint32_t max_depth);
const char *lx_json_strerror(enum lx_json_err e);

/* Index of the token after the whole subtree rooted at i. */
int lx_json_skip(const lx_json *j, int i);
/* Value token of key in object obj (keys compared on their raw bytes, which
 * equals the text for keys without escapes), or -1. */
int lx_json_get(const lx_json *j, int obj, const char *key);
/* The raw bytes of token i (for strings, without the quotes). */
static inline lx_str lx_json_raw(const lx_json *j, int i)
{
    return (lx_str){j->src + j->tok[i].start, (size_t)(j->tok[i].end - j->tok[i].start)};
}
/* The bytes of token i including a string's quotes: splice-ready JSON. */
lx_str lx_json_value_text(const lx_json *j, int i);

bool lx_json_is_object(const lx_json *j, int i);
bool lx_json_is_array(const lx_json *j, int i);
bool lx_json_is_string(const lx_json *j, int i);
bool lx_json_is_null(const lx_json *j, int i);
bool lx_json_is_bool(const lx_json *j, int i);
bool lx_json_is_number(const lx_json *j, int i);
/* Reads a boolean; LX_ERR when token i is not one. */
int lx_json_bool(const lx_json *j, int i, bool *out);
/* Reads an integer that fits int64; LX_ERR for non-integers. */
int lx_json_int64(const lx_json *j, int i, int64_t *out);
/* Appends the unescaped text of string token i to out (which caps it). */
int lx_json_unescape(const lx_json *j, int i, lx_buf *out);
/* Compares string token i, unescaped, with a C string. */
bool lx_json_str_eq(const lx_json *j, int i, const char *s);
/* Number of elements of an array or keys of an object. */
static inline int lx_json_size(const lx_json *j, int i)
{
    return j->tok[i].size;
}

/* The JSON types a reader may require of a value, for type checks and
 * their error messages ("expected an integer, but got a string"). */
enum lx_json_want {
    LX_JSON_WANT_STRING,
    LX_JSON_WANT_BOOL,
    LX_JSON_WANT_INT, /* a number without fraction or exponent that fits int64 */
    LX_JSON_WANT_NUMBER,
    LX_JSON_WANT_OBJECT,
    LX_JSON_WANT_ARRAY,
    LX_JSON_WANT_STR_OR_OBJ,
    LX_JSON_WANT_STR_OR_ARR,
};
bool lx_json_has_type(const lx_json *j, int i, enum lx_json_want w);
/* "a string", "an integer", ... */
const char *lx_json_want_name(enum lx_json_want w);
/* What token i is: "an object", "an array", "a string", "a boolean",
 * "null" or "a number". */
const char *lx_json_type_name(const lx_json *j, int i);

/* True when p[0..n) is valid UTF-8 (no overlongs, no surrogates). */
bool lx_json_utf8_valid(const char *p, size_t n);

/* Appends s to out as the inside of a JSON string (escaped, no quotes). */
int lx_json_escape(lx_buf *out, const char *s, size_t n);

/* The streaming writer. */
enum { LX_JW_MAX_DEPTH = 64 };
typedef struct lx_jw {
    lx_buf *out;
    int depth;
    bool failed;
    bool need_comma[LX_JW_MAX_DEPTH];
    bool after_key;
} lx_jw;

void lx_jw_init(lx_jw *w, lx_buf *out);
void lx_jw_obj_open(lx_jw *w);
void lx_jw_obj_close(lx_jw *w);
void lx_jw_arr_open(lx_jw *w);
void lx_jw_arr_close(lx_jw *w);
/* Writes a key (escaped like any string). */
void lx_jw_key(lx_jw *w, const char *key);
void lx_jw_str(lx_jw *w, const char *s, size_t n);
void lx_jw_cstr(lx_jw *w, const char *s); /* NULL writes null */
/* Writes already-valid JSON text as one value. */
void lx_jw_raw(lx_jw *w, const char *s, size_t n);
/* key and the raw JSON text v, or nothing when v is empty (absent). */
void lx_jw_member_raw(lx_jw *w, const char *key, lx_str v);
void lx_jw_int(lx_jw *w, int64_t v);
void lx_jw_uint(lx_jw *w, uint64_t v);
void lx_jw_double(lx_jw *w, double v);
void lx_jw_bool(lx_jw *w, bool v);
void lx_jw_null(lx_jw *w);
/* True when everything was written (no cap reached, brackets balanced). */
bool lx_jw_ok(const lx_jw *w);

#endif
