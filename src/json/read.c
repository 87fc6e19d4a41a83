/*
 * read.c — JSON reading over jsmn tokens: parse, validate, typed access.
 *
 * jsmn's strict mode still accepts a few non-JSON inputs (bad literals such
 * as "tru", numbers such as "01" or "1.", several top-level values, a key
 * with no value), so lx_json_parse() checks every token once after
 * tokenizing. This is the only JSMN implementation unit of the program.
 */
#include <jsmn.h> /* the implementation: no JSMN_HEADER here */

#include "json.h"

#include <stdlib.h>

static const char *const err_names[] = {
    [LX_JSON_OK] = "ok",
    [LX_JSON_ESYNTAX] = "malformed JSON",
    [LX_JSON_EDEPTH] = "JSON nested too deeply",
    [LX_JSON_EUTF8] = "invalid UTF-8 in JSON",
    [LX_JSON_ENOMEM] = "JSON too large",
};

const char *lx_json_strerror(enum lx_json_err e)
{
    return err_names[e];
}

bool lx_json_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        /* ASCII fast path, 8 bytes at a time */
        while (end - p >= 8) {
            uint64_t v;
            memcpy(&v, p, 8);
            if (v & 0x8080808080808080u)
                break;
            p += 8;
        }
        if (p >= end)
            break;
        unsigned c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t need;
        unsigned min;
        if ((c & 0xe0) == 0xc0) {
            need = 1, min = 0x80, c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            need = 2, min = 0x800, c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            need = 3, min = 0x10000, c &= 0x07;
        } else {
            return false;
        }
        if ((size_t)(end - p) <= need)
            return false;
        for (size_t k = 1; k <= need; k++) {
            if ((p[k] & 0xc0) != 0x80)
                return false;
            c = (c << 6) | (p[k] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return false;
        p += need + 1;
    }
    return true;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* JSON number grammar: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)? */
static bool number_valid(const char *p, size_t n)
{
    size_t i = 0;
    if (i < n && p[i] == '-')
        i++;
    if (i >= n)
        return false;
    if (p[i] == '0') {
        i++;
    } else if (is_digit(p[i])) {
        while (i < n && is_digit(p[i]))
            i++;
    } else {
        return false;
    }
    if (i < n && p[i] == '.') {
        size_t start = ++i;
        while (i < n && is_digit(p[i]))
            i++;
        if (i == start)
            return false;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        size_t start = i;
        while (i < n && is_digit(p[i]))
            i++;
        if (i == start)
            return false;
    }
    return i == n;
}

static bool primitive_valid(lx_str s)
{
    return lx_str_eq_cstr(s, "true") || lx_str_eq_cstr(s, "false") || lx_str_eq_cstr(s, "null") ||
           number_valid(s.ptr, s.len);
}

int lx_json_skip(const lx_json *j, int i)
{
    int pending = 1;
    while (pending > 0 && i < j->ntok) {
        pending += j->tok[i].size - 1;
        i++;
    }
    return i;
}

/* The bytes a token covers in the input, a string's quotes included. */
static int outer_start(const lx_json *j, int i)
{
    return j->tok[i].start - (j->tok[i].type == JSMN_STRING ? 1 : 0);
}

static int outer_end(const lx_json *j, int i)
{
    return j->tok[i].end + (j->tok[i].type == JSMN_STRING ? 1 : 0);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* True when src[from..to) is whitespace around exactly one sep (or
 * whitespace only when sep is 0). jsmn does not check separators at all. */
static bool gap_ok(const lx_json *j, int from, int to, char sep)
{
    bool seen = sep == 0;
    for (int k = from; k < to; k++) {
        char c = j->src[k];
        if (is_space(c))
            continue;
        if (c != sep || seen)
            return false;
        seen = true;
    }
    return seen;
}

/* Checks the separators inside container i: "," between members, ":"
 * between a key and its value, nothing else between the tokens. */
static bool container_ok(const lx_json *j, int i)
{
    bool object = j->tok[i].type == JSMN_OBJECT;
    int n = j->tok[i].size, child = i + 1, pos = j->tok[i].start + 1;
    for (int k = 0; k < n; k++) {
        if (!gap_ok(j, pos, outer_start(j, child), k == 0 ? 0 : ','))
            return false;
        pos = outer_end(j, child);
        if (object) {
            int value = child + 1;
            if (value >= j->ntok || !gap_ok(j, pos, outer_start(j, value), ':'))
                return false;
            pos = outer_end(j, value);
        }
        child = lx_json_skip(j, child);
    }
    return gap_ok(j, pos, j->tok[i].end - 1, 0);
}

/* JSON strings may not hold raw control characters (RFC 8259 section 7). */
static bool string_ok(lx_str s)
{
    for (size_t k = 0; k < s.len; k++)
        if ((unsigned char)s.ptr[k] < 0x20)
            return false;
    return true;
}

/* Checks each token and the depth; tokens are in document order, so a
 * parent always comes before its children. */
static enum lx_json_err validate(lx_json *j, lx_arena *a, uint32_t max_depth)
{
    uint16_t *depth = lx_arena_alloc(a, sizeof(uint16_t) * (size_t)j->ntok);
    if (depth == NULL)
        return LX_JSON_ENOMEM;
    for (int i = 0; i < j->ntok; i++) {
        const jsmntok_t *t = &j->tok[i];
        int parent = t->parent;
        bool container = t->type == JSMN_OBJECT || t->type == JSMN_ARRAY;
        uint32_t d = (parent >= 0 ? depth[parent] : 0) + (container ? 1 : 0);
        if (d > max_depth)
            return LX_JSON_EDEPTH;
        depth[i] = (uint16_t)d;
        if (t->type == JSMN_PRIMITIVE && !primitive_valid(lx_json_raw(j, i)))
            return LX_JSON_ESYNTAX;
        if (t->type == JSMN_STRING && !string_ok(lx_json_raw(j, i)))
            return LX_JSON_ESYNTAX;
        if (container && !container_ok(j, i))
            return LX_JSON_ESYNTAX;
        if (parent >= 0 && j->tok[parent].type == JSMN_OBJECT) {
            /* a direct child of an object is a key: a string with one value */
            if (t->type != JSMN_STRING || t->size != 1)
                return LX_JSON_ESYNTAX;
        } else if (t->type == JSMN_STRING && t->size != 0) {
            return LX_JSON_ESYNTAX;
        }
    }
    return LX_JSON_OK;
}

static bool only_space(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_space(p[i]))
            return false;
    return true;
}

/* In strict mode jsmn wants a delimiter after a primitive, so a document
 * that is a bare number or literal ends "early": give it one trailing space. */
static const char *with_trailing_space(const char *src, size_t len, lx_arena *a)
{
    char *copy = lx_arena_alloc(a, len + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, src, len);
    copy[len] = ' ';
    return copy;
}

enum lx_json_err lx_json_parse(lx_json *j, const char *src, size_t len, lx_arena *a,
                               uint32_t max_depth)
{
    j->src = src;
    j->len = len;
    j->tok = NULL;
    j->ntok = 0;
    if (!lx_json_utf8_valid(src, len))
        return LX_JSON_EUTF8;
    if (max_depth > 65000)
        max_depth = 65000;
    unsigned cap = (unsigned)(len / 8 + 16);
    jsmntok_t *tok = lx_arena_alloc(a, sizeof(*tok) * cap);
    if (tok == NULL)
        return LX_JSON_ENOMEM;
    jsmn_parser p;
    jsmn_init(&p);
    int r;
    while ((r = jsmn_parse(&p, src, len, tok, cap)) == JSMN_ERROR_NOMEM) {
        jsmntok_t *bigger = lx_arena_alloc(a, sizeof(*tok) * cap * 2);
        if (bigger == NULL)
            return LX_JSON_ENOMEM;
        memcpy(bigger, tok, sizeof(*tok) * cap);
        tok = bigger;
        cap *= 2;
    }
    if (r == JSMN_ERROR_PART && p.toksuper == -1 && p.toknext == 0) {
        const char *padded = with_trailing_space(src, len, a);
        if (padded == NULL)
            return LX_JSON_ENOMEM;
        jsmn_init(&p);
        r = jsmn_parse(&p, padded, len + 1, tok, cap);
        j->src = src = padded;
        j->len = ++len;
    }
    if (r <= 0)
        return LX_JSON_ESYNTAX;
    j->tok = tok;
    j->ntok = r;
    if (lx_json_skip(j, 0) != r || !only_space(src, (size_t)outer_start(j, 0)) ||
        !only_space(src + outer_end(j, 0), len - (size_t)outer_end(j, 0)))
        return LX_JSON_ESYNTAX;
    return validate(j, a, max_depth);
}

int lx_json_get(const lx_json *j, int obj, const char *key)
{
    if (obj < 0 || obj >= j->ntok || j->tok[obj].type != JSMN_OBJECT)
        return -1;
    size_t klen = strlen(key);
    int n = j->tok[obj].size;
    int i = obj + 1;
    for (int k = 0; k < n; k++) {
        const jsmntok_t *t = &j->tok[i];
        if ((size_t)(t->end - t->start) == klen && memcmp(j->src + t->start, key, klen) == 0)
            return i + 1;
        i = lx_json_skip(j, i + 1);
    }
    return -1;
}

lx_str lx_json_value_text(const lx_json *j, int i)
{
    const jsmntok_t *t = &j->tok[i];
    if (t->type == JSMN_STRING)
        return (lx_str){j->src + t->start - 1, (size_t)(t->end - t->start) + 2};
    return lx_json_raw(j, i);
}

bool lx_json_is_object(const lx_json *j, int i)
{
    return i >= 0 && j->tok[i].type == JSMN_OBJECT;
}

bool lx_json_is_array(const lx_json *j, int i)
{
    return i >= 0 && j->tok[i].type == JSMN_ARRAY;
}

bool lx_json_is_string(const lx_json *j, int i)
{
    return i >= 0 && j->tok[i].type == JSMN_STRING;
}

static char first_char(const lx_json *j, int i)
{
    return j->src[j->tok[i].start];
}

bool lx_json_is_null(const lx_json *j, int i)
{
    return i >= 0 && j->tok[i].type == JSMN_PRIMITIVE && first_char(j, i) == 'n';
}

bool lx_json_is_bool(const lx_json *j, int i)
{
    return i >= 0 && j->tok[i].type == JSMN_PRIMITIVE &&
           (first_char(j, i) == 't' || first_char(j, i) == 'f');
}

bool lx_json_is_number(const lx_json *j, int i)
{
    if (i < 0 || j->tok[i].type != JSMN_PRIMITIVE)
        return false;
    char c = first_char(j, i);
    return c == '-' || is_digit(c);
}

int lx_json_bool(const lx_json *j, int i, bool *out)
{
    if (!lx_json_is_bool(j, i))
        return LX_ERR;
    *out = first_char(j, i) == 't';
    return LX_OK;
}

int lx_json_int64(const lx_json *j, int i, int64_t *out)
{
    if (!lx_json_is_number(j, i))
        return LX_ERR;
    lx_str s = lx_json_raw(j, i);
    size_t k = 0;
    bool neg = false;
    if (s.ptr[0] == '-')
        neg = true, k = 1;
    uint64_t v = 0;
    for (; k < s.len; k++) {
        if (!is_digit(s.ptr[k]))
            return LX_ERR; /* fraction or exponent: not an integer */
        uint64_t d = (uint64_t)(s.ptr[k] - '0');
        uint64_t limit = UINT64_C(9223372036854775807) + (neg ? 1 : 0);
        if (v > (limit - d) / 10)
            return LX_ERR;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return LX_OK;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return LX_ERR;
    }
    *out = v;
    return LX_OK;
}

static int put_utf8(lx_buf *out, unsigned cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6)), b[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12)), b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
    } else {
        b[0] = (char)(0xf0 | (cp >> 18)), b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), b[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
    }
    return lx_buf_append(out, b, n);
}

/* Decodes \uXXXX (and a following low surrogate) at p; returns bytes read. */
static size_t unicode_escape(const char *p, const char *end, unsigned *cp)
{
    unsigned hi;
    if (end - p < 6 || hex4(p + 2, &hi) != LX_OK) {
        *cp = 0xfffd;
        return 2;
    }
    if (hi >= 0xd800 && hi <= 0xdbff) {
        unsigned lo;
        if (end - p >= 12 && p[6] == '\\' && p[7] == 'u' && hex4(p + 8, &lo) == LX_OK &&
            lo >= 0xdc00 && lo <= 0xdfff) {
            *cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
            return 12;
        }
        *cp = 0xfffd; /* lone high surrogate */
        return 6;
    }
    *cp = (hi >= 0xdc00 && hi <= 0xdfff) ? 0xfffd : hi;
    return 6;
}

int lx_json_unescape(const lx_json *j, int i, lx_buf *out)
{
    lx_str s = lx_json_raw(j, i);
    const char *p = s.ptr, *end = s.ptr + s.len;
    while (p < end) {
        const char *bs = memchr(p, '\\', (size_t)(end - p));
        if (bs == NULL)
            return lx_buf_append(out, p, (size_t)(end - p));
        if (lx_buf_append(out, p, (size_t)(bs - p)) != LX_OK || bs + 1 >= end)
            return LX_ERR;
        char c = bs[1], r;
        switch (c) {
        case 'n':
            r = '\n';
            break;
        case 't':
            r = '\t';
            break;
        case 'r':
            r = '\r';
            break;
        case 'b':
            r = '\b';
            break;
        case 'f':
            r = '\f';
            break;
        case 'u': {
            unsigned cp;
            size_t used = unicode_escape(bs, end, &cp);
            if (put_utf8(out, cp) != LX_OK)
                return LX_ERR;
            p = bs + used;
            continue;
        }
        default:
            r = c;
            break; /* \" \\ \/ */
        }
        if (lx_buf_append_char(out, r) != LX_OK)
            return LX_ERR;
        p = bs + 2;
    }
    return LX_OK;
}

bool lx_json_str_eq(const lx_json *j, int i, const char *s)
{
    if (!lx_json_is_string(j, i))
        return false;
    lx_str raw = lx_json_raw(j, i);
    if (memchr(raw.ptr, '\\', raw.len) == NULL)
        return lx_str_eq_cstr(raw, s);
    lx_buf b;
    lx_buf_init(&b, raw.len + 1);
    bool eq = lx_json_unescape(j, i, &b) == LX_OK && lx_str_eq_cstr(lx_buf_str(&b), s);
    lx_buf_release(&b);
    return eq;
}

bool lx_json_has_type(const lx_json *j, int i, enum lx_json_want w)
{
    int64_t v;
    switch (w) {
    case LX_JSON_WANT_STRING:
        return lx_json_is_string(j, i);
    case LX_JSON_WANT_BOOL:
        return lx_json_is_bool(j, i);
    case LX_JSON_WANT_INT:
        return lx_json_int64(j, i, &v) == LX_OK;
    case LX_JSON_WANT_NUMBER:
        return lx_json_is_number(j, i);
    case LX_JSON_WANT_OBJECT:
        return lx_json_is_object(j, i);
    case LX_JSON_WANT_ARRAY:
        return lx_json_is_array(j, i);
    case LX_JSON_WANT_STR_OR_OBJ:
        return lx_json_is_string(j, i) || lx_json_is_object(j, i);
    case LX_JSON_WANT_STR_OR_ARR:
        return lx_json_is_string(j, i) || lx_json_is_array(j, i);
    }
    return false;
}

const char *lx_json_want_name(enum lx_json_want w)
{
    static const char *const names[] = {
        [LX_JSON_WANT_STRING] = "a string",
        [LX_JSON_WANT_BOOL] = "a boolean",
        [LX_JSON_WANT_INT] = "an integer",
        [LX_JSON_WANT_NUMBER] = "a number",
        [LX_JSON_WANT_OBJECT] = "an object",
        [LX_JSON_WANT_ARRAY] = "an array",
        [LX_JSON_WANT_STR_OR_OBJ] = "a string or an object",
        [LX_JSON_WANT_STR_OR_ARR] = "a string or an array",
    };
    return names[w];
}

const char *lx_json_type_name(const lx_json *j, int i)
{
    if (lx_json_is_object(j, i))
        return "an object";
    if (lx_json_is_array(j, i))
        return "an array";
    if (lx_json_is_string(j, i))
        return "a string";
    if (lx_json_is_bool(j, i))
        return "a boolean";
    if (lx_json_is_null(j, i))
        return "null";
    return "a number";
}
