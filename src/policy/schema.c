/*
 * schema.c — JSON Schema (draft 2020-12 subset): compile once, validate many.
 *
 * Compiling walks the schema document (tokens from src/json, kept alive by
 * the schema's arena) and turns every subschema into a node. Nodes are
 * memoised by token index, so a $ref target compiled twice is one node and
 * recursive schemas are plain pointer cycles. $ref targets are compiled from
 * a work list rather than recursively, so compile recursion is bounded by
 * the document depth. A final pass looks for cycles along the edges that
 * stay at the same instance location ($ref, allOf, anyOf, oneOf, not, if,
 * then, else): such a cycle would never terminate (2020-12 core section
 * 9.4.1 leaves it to the implementation), so it is a compile error.
 *
 * Validation walks the instance tokens and the node graph together. Errors
 * under anyOf/oneOf/not/if are evaluated "quietly" (first failure stops the
 * branch, nothing is reported); elsewhere up to N failures are collected.
 * A step budget and an evaluation depth bound the work any input can cause.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "schema.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

enum {
    T_NULL = 1 << 0,
    T_BOOLEAN = 1 << 1,
    T_OBJECT = 1 << 2,
    T_ARRAY = 1 << 3,
    T_NUMBER = 1 << 4,
    T_STRING = 1 << 5,
    T_INTEGER = 1 << 6,
};

static const char *const type_names[] = {"null",   "boolean", "object", "array",
                                         "number", "string",  "integer"};

enum format { F_NONE, F_DATE_TIME, F_DATE, F_EMAIL, F_URI, F_UUID };

enum {
    N_MIN = 1 << 0,
    N_MAX = 1 << 1,
    N_XMIN = 1 << 2,
    N_XMAX = 1 << 3,
    N_MULT = 1 << 4,
};

struct num {
    bool is_int; /* i is exact */
    int64_t i;
    double d;
};

struct list {
    struct node **v;
    int n;
};

struct prop {
    lx_str name; /* raw JSON string contents in the schema text */
    struct node *schema;
};

struct pprop {
    pcre2_code *re;
    struct node *schema;
};

struct depreq {
    lx_str name;
    int tok; /* array of names in the schema document */
};

struct node {
    int tok;     /* schema token, for messages */
    int boolean; /* -1: an object schema; 0/1: the schema false/true */
    unsigned types;
    int ref_tok;
    struct node *ref;
    struct list all_of, any_of, one_of, prefix;
    struct node *not_, *if_, *then_, *else_;
    struct node *additional, *items, *contains, *prop_names;
    struct prop *props;
    int nprops;
    struct pprop *pprops;
    int npprops;
    int required_tok, enum_tok, const_tok;
    struct depreq *deps;
    int ndeps;
    unsigned nflags;
    struct num minimum, maximum, xmin, xmax, mult;
    int64_t min_len, max_len, min_items, max_items, min_props, max_props;
    int64_t min_contains, max_contains;
    bool unique;
    pcre2_code *pattern;
    enum format format;
    /* compile-time bookkeeping */
    struct node *next_all, *next_pending;
    int color; /* cycle search: 0 new, 1 on the path, 2 done */
};

struct re_link {
    pcre2_code *re;
    struct re_link *next;
};

struct lx_schema {
    lx_arena arena; /* owns the text copy, the tokens and every node */
    lx_json doc;
    struct node *root;
    struct re_link *regexes; /* compiled patterns, freed by lx_schema_free */
    pcre2_match_context *mctx;
    struct lx_schema_limits lim;
};

void lx_schema_limits_default(struct lx_schema_limits *l)
{
    l->max_schema_bytes = 1 << 20;
    l->max_schema_depth = 64;
    l->max_nodes = 20000;
    l->max_instance_bytes = 4 << 20;
    l->max_instance_depth = 128;
    l->max_eval_depth = 512;
    l->max_steps = 4u << 20;
    l->regex_match_limit = 1000000;
}

/* ---- strings: raw JSON string contents, decoded one code point at a time */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool hex4_at(const char *p, size_t left, uint32_t *out)
{
    if (left < 4)
        return false;
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(p[k]);
        if (h < 0)
            return false;
        v = (v << 4) | (uint32_t)h;
    }
    *out = v;
    return true;
}

/* Decodes one UTF-8 sequence (the input is known valid; a bad byte is
 * returned marked so it never equals a code point). */
static uint32_t next_utf8(const char *s, size_t n, size_t *i)
{
    const unsigned char *p = (const unsigned char *)s + *i;
    size_t left = n - *i, need;
    uint32_t c = p[0];
    if (c < 0x80)
        need = 0;
    else if ((c & 0xe0) == 0xc0)
        need = 1, c &= 0x1f;
    else if ((c & 0xf0) == 0xe0)
        need = 2, c &= 0x0f;
    else if ((c & 0xf8) == 0xf0)
        need = 3, c &= 0x07;
    else
        need = left; /* force the error path */
    if (need >= left) {
        (*i)++;
        return 0x80000000u | p[0];
    }
    for (size_t k = 1; k <= need; k++)
        c = (c << 6) | (p[k] & 0x3f);
    *i += need + 1;
    return c;
}

/* Decodes one code point of raw JSON string contents s[*i..), escapes
 * included; lone surrogates read as U+FFFD like lx_json_unescape(). */
static uint32_t next_cp(lx_str s, size_t *i)
{
    if (s.ptr[*i] != '\\')
        return next_utf8(s.ptr, s.len, i);
    if (*i + 1 >= s.len) {
        (*i)++;
        return 0xfffd;
    }
    char c = s.ptr[*i + 1];
    *i += 2;
    switch (c) {
    case 'n':
        return '\n';
    case 't':
        return '\t';
    case 'r':
        return '\r';
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'u':
        break;
    default:
        return (unsigned char)c;
    }
    uint32_t hi, lo;
    if (!hex4_at(s.ptr + *i, s.len - *i, &hi))
        return 0xfffd;
    *i += 4;
    if (hi >= 0xdc00 && hi <= 0xdfff)
        return 0xfffd;
    if (hi < 0xd800 || hi > 0xdbff)
        return hi;
    if (s.len - *i >= 6 && s.ptr[*i] == '\\' && s.ptr[*i + 1] == 'u' &&
        hex4_at(s.ptr + *i + 2, s.len - *i - 2, &lo) && lo >= 0xdc00 && lo <= 0xdfff) {
        *i += 6;
        return 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
    }
    return 0xfffd;
}

static bool has_backslash(lx_str s)
{
    return memchr(s.ptr, '\\', s.len) != NULL;
}

/* Equality of two raw JSON string contents, escapes decoded. */
static bool raw_eq(lx_str a, lx_str b)
{
    if (!has_backslash(a) && !has_backslash(b))
        return lx_str_eq(a, b);
    size_t i = 0, k = 0;
    while (i < a.len && k < b.len)
        if (next_cp(a, &i) != next_cp(b, &k))
            return false;
    return i == a.len && k == b.len;
}

/* Equality of raw JSON string contents with plain UTF-8 bytes. */
static bool raw_eq_plain(lx_str raw, lx_str plain)
{
    if (!has_backslash(raw))
        return lx_str_eq(raw, plain);
    size_t i = 0, k = 0;
    while (i < raw.len && k < plain.len)
        if (next_cp(raw, &i) != next_utf8(plain.ptr, plain.len, &k))
            return false;
    return i == raw.len && k == plain.len;
}

static int64_t cp_count(lx_str raw)
{
    int64_t n = 0;
    for (size_t i = 0; i < raw.len; n++)
        next_cp(raw, &i);
    return n;
}

/* ---- numbers ------------------------------------------------------------- */

/* A number token. Tokens are followed by a delimiter in the source (the
 * parser pads a bare top-level number), so strtod stops at the end. */
static struct num num_read(const lx_json *j, int t)
{
    struct num v = {0};
    v.is_int = lx_json_int64(j, t, &v.i) == LX_OK;
    v.d = v.is_int ? (double)v.i : strtod(j->src + j->tok[t].start, NULL);
    return v;
}

static int num_cmp(struct num a, struct num b)
{
    if (a.is_int && b.is_int)
        return (a.i > b.i) - (a.i < b.i);
    return (a.d > b.d) - (a.d < b.d);
}

static bool num_is_integer(struct num v)
{
    return v.is_int || (isfinite(v.d) && v.d == floor(v.d));
}

static bool num_multiple_of(struct num v, struct num m)
{
    if (v.is_int && m.is_int)
        return m.i == -1 || v.i % m.i == 0;
    double q = v.d / m.d;
    if (!isfinite(q))
        return false;
    return fabs(q - nearbyint(q)) <= 1e-9 * LX_MAX(1.0, fabs(q));
}

static void num_format(struct num v, char *out, size_t n)
{
    if (v.is_int)
        snprintf(out, n, "%lld", (long long)v.i);
    else
        snprintf(out, n, "%.17g", v.d);
}

/* ---- the kind of a token ---------------------------------------------------- */

static unsigned kind_of(const lx_json *j, int t)
{
    switch (j->tok[t].type) {
    case JSMN_OBJECT:
        return T_OBJECT;
    case JSMN_ARRAY:
        return T_ARRAY;
    case JSMN_STRING:
        return T_STRING;
    default:
        break;
    }
    if (lx_json_is_null(j, t))
        return T_NULL;
    if (lx_json_is_bool(j, t))
        return T_BOOLEAN;
    return T_NUMBER;
}

static const char *kind_name(const lx_json *j, int t)
{
    unsigned k = kind_of(j, t);
    for (size_t b = 0; b < LX_ARRAY_LEN(type_names); b++)
        if (k == 1u << b)
            return type_names[b];
    return "?";
}

/* ---- structural equality and hashing (enum, const, uniqueItems) ---------- */

static bool json_eq(const lx_json *ja, int a, const lx_json *jb, int b, uint64_t *steps)
{
    (*steps)++;
    unsigned ka = kind_of(ja, a), kb = kind_of(jb, b);
    if (ka != kb)
        return false;
    switch (ka) {
    case T_NUMBER:
        return num_cmp(num_read(ja, a), num_read(jb, b)) == 0;
    case T_STRING:
        return raw_eq(lx_json_raw(ja, a), lx_json_raw(jb, b));
    case T_NULL:
        return true;
    case T_BOOLEAN:
        return ja->src[ja->tok[a].start] == jb->src[jb->tok[b].start];
    default:
        break;
    }
    int n = ja->tok[a].size;
    if (n != jb->tok[b].size)
        return false;
    if (ka == T_ARRAY) {
        for (int k = 0, x = a + 1, y = b + 1; k < n; k++) {
            if (!json_eq(ja, x, jb, y, steps))
                return false;
            x = lx_json_skip(ja, x), y = lx_json_skip(jb, y);
        }
        return true;
    }
    for (int k = 0, x = a + 1; k < n; k++, x = lx_json_skip(ja, x + 1)) {
        bool found = false;
        for (int m = 0, y = b + 1; m < n && !found; m++, y = lx_json_skip(jb, y + 1)) {
            (*steps)++;
            found = raw_eq(lx_json_raw(ja, x), lx_json_raw(jb, y)) &&
                    json_eq(ja, x + 1, jb, y + 1, steps);
        }
        if (!found)
            return false;
    }
    return true;
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

/* A hash consistent with json_eq(): equal values hash equal. */
static uint64_t json_hash(const lx_json *j, int t)
{
    unsigned k = kind_of(j, t);
    uint64_t h = k;
    if (k == T_NUMBER) {
        double d = num_read(j, t).d;
        if (d == 0)
            d = 0; /* -0 == 0 */
        uint64_t bits;
        memcpy(&bits, &d, sizeof(bits));
        return mix(h ^ bits);
    }
    if (k == T_STRING) {
        lx_str s = lx_json_raw(j, t);
        h = 0xcbf29ce484222325ULL;
        for (size_t i = 0; i < s.len;)
            h = (h ^ next_cp(s, &i)) * 0x100000001b3ULL;
        return mix(h);
    }
    if (k == T_BOOLEAN)
        return mix(h ^ (uint64_t)j->src[j->tok[t].start]);
    if (k == T_ARRAY) {
        for (int n = 0, x = t + 1; n < j->tok[t].size; n++, x = lx_json_skip(j, x))
            h = mix(h * 31 + json_hash(j, x));
        return h;
    }
    if (k == T_OBJECT) {
        uint64_t sum = 0; /* order-independent */
        for (int n = 0, x = t + 1; n < j->tok[t].size; n++, x = lx_json_skip(j, x + 1))
            sum += mix(json_hash(j, x) * 7 + json_hash(j, x + 1));
        return mix(h ^ sum);
    }
    return mix(h);
}

/* ---- compiling ------------------------------------------------------------ */

struct cc {
    struct lx_schema *s;
    const lx_json *j;
    struct node **memo; /* by token index */
    struct node *all, *pending;
    uint32_t nnodes;
    char *err;
    size_t errlen;
    bool failed;
};

/* Writes the JSON pointer of schema token t into b. */
static void token_pointer(const lx_json *j, int t, lx_buf *b)
{
    if (t <= 0)
        return;
    int p = j->tok[t].parent;
    if (p >= 0 && j->tok[p].type == JSMN_STRING) { /* t is a value, p its key */
        token_pointer(j, j->tok[p].parent, b);
        lx_buf_append_char(b, '/');
        lx_str raw = lx_json_raw(j, p);
        for (size_t i = 0; i < raw.len;) {
            uint32_t c = next_cp(raw, &i);
            if (c == '~' || c == '/')
                lx_buf_append_cstr(b, c == '~' ? "~0" : "~1");
            else if (c < 0x80)
                lx_buf_append_char(b, (char)c);
            else
                lx_buf_append_char(b, '?'); /* messages stay ASCII */
        }
    } else if (p >= 0) { /* an array element */
        token_pointer(j, p, b);
        int idx = 0;
        for (int x = p + 1; x < t; x = lx_json_skip(j, x))
            idx++;
        lx_buf_printf(b, "/%d", idx);
    }
}

static struct node *cc_fail(struct cc *c, int tok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static struct node *cc_fail(struct cc *c, int tok, const char *fmt, ...)
{
    if (c->failed || c->errlen == 0) {
        c->failed = true;
        return NULL;
    }
    c->failed = true;
    lx_buf b;
    lx_buf_init(&b, LX_SCHEMA_PTR_MAX);
    if (tok >= 0)
        token_pointer(c->j, tok, &b);
    int n = snprintf(c->err, c->errlen, "at %s: ", b.len ? b.data : "(root)");
    lx_buf_release(&b);
    if (n >= 0 && (size_t)n < c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return NULL;
}

static struct node *compile(struct cc *c, int tok);

static void *cc_alloc(struct cc *c, size_t n)
{
    void *p = lx_arena_alloc(&c->s->arena, n ? n : 1);
    if (p == NULL)
        cc_fail(c, -1, "schema too large");
    else
        memset(p, 0, n);
    return p;
}

/* A non-negative integer keyword value (2.0 counts, per 2020-12). */
static int get_count(struct cc *c, int v, int64_t *out)
{
    if (!lx_json_is_number(c->j, v))
        goto bad;
    struct num n = num_read(c->j, v);
    if (!num_is_integer(n) || n.d < 0)
        goto bad;
    *out = n.is_int ? n.i : (n.d > 9.2e18 ? INT64_MAX : (int64_t)n.d);
    return LX_OK;
bad:
    cc_fail(c, v, "must be a non-negative integer");
    return LX_ERR;
}

static int get_list(struct cc *c, int v, struct list *out, bool nonempty)
{
    if (!lx_json_is_array(c->j, v) || (nonempty && lx_json_size(c->j, v) == 0)) {
        cc_fail(c, v, "must be a %sarray of schemas", nonempty ? "non-empty " : "");
        return LX_ERR;
    }
    out->n = lx_json_size(c->j, v);
    out->v = cc_alloc(c, sizeof(*out->v) * (size_t)out->n);
    if (out->v == NULL)
        return LX_ERR;
    for (int k = 0, x = v + 1; k < out->n; k++, x = lx_json_skip(c->j, x))
        if ((out->v[k] = compile(c, x)) == NULL)
            return LX_ERR;
    return LX_OK;
}

static int get_schema(struct cc *c, int v, struct node **out)
{
    *out = compile(c, v);
    return *out ? LX_OK : LX_ERR;
}

static int get_number(struct cc *c, int v, struct num *out)
{
    if (!lx_json_is_number(c->j, v)) {
        cc_fail(c, v, "must be a number");
        return LX_ERR;
    }
    *out = num_read(c->j, v);
    return LX_OK;
}

static int get_string_array(struct cc *c, int v)
{
    if (!lx_json_is_array(c->j, v))
        goto bad;
    for (int k = 0, x = v + 1; k < lx_json_size(c->j, v); k++, x = lx_json_skip(c->j, x))
        if (!lx_json_is_string(c->j, x))
            goto bad;
    return LX_OK;
bad:
    cc_fail(c, v, "must be an array of strings");
    return LX_ERR;
}

static pcre2_code *compile_regex(struct cc *c, int v)
{
    if (!lx_json_is_string(c->j, v)) {
        cc_fail(c, v, "must be a string (a regular expression)");
        return NULL;
    }
    lx_buf b;
    lx_buf_init(&b, c->j->len + 1);
    if (lx_json_unescape(c->j, v, &b) != LX_OK) {
        lx_buf_release(&b);
        cc_fail(c, v, "pattern too large");
        return NULL;
    }
    int code;
    PCRE2_SIZE off;
    pcre2_compile_context *cctx = pcre2_compile_context_create(NULL);
    if (cctx)
        pcre2_set_compile_extra_options(cctx, PCRE2_EXTRA_ALT_BSUX);
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY | PCRE2_ALT_BSUX;
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)(b.data ? b.data : ""), b.len, opts, &code, &off, cctx);
    pcre2_compile_context_free(cctx);
    lx_buf_release(&b);
    if (re == NULL) {
        PCRE2_UCHAR msg[120];
        pcre2_get_error_message(code, msg, sizeof(msg));
        cc_fail(c, v, "bad regular expression at offset %zu: %s", (size_t)off, (char *)msg);
        return NULL;
    }
    struct re_link *l = cc_alloc(c, sizeof(*l));
    if (l == NULL) {
        pcre2_code_free(re);
        return NULL;
    }
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
    l->re = re;
    l->next = c->s->regexes;
    c->s->regexes = l;
    return re;
}

/* One step of a JSON pointer: the member name or array index seg of tok. */
static int pointer_step(const lx_json *j, int tok, lx_str seg)
{
    if (lx_json_is_object(j, tok)) {
        for (int k = 0, x = tok + 1; k < lx_json_size(j, tok); k++, x = lx_json_skip(j, x + 1))
            if (raw_eq_plain(lx_json_raw(j, x), seg))
                return x + 1;
        return -1;
    }
    if (!lx_json_is_array(j, tok) || seg.len == 0 || seg.len > 9 ||
        (seg.len > 1 && seg.ptr[0] == '0'))
        return -1;
    int idx = 0;
    for (size_t r = 0; r < seg.len; r++) {
        if (seg.ptr[r] < '0' || seg.ptr[r] > '9')
            return -1;
        idx = idx * 10 + (seg.ptr[r] - '0');
    }
    if (idx >= lx_json_size(j, tok))
        return -1;
    int x = tok + 1;
    while (idx-- > 0)
        x = lx_json_skip(j, x);
    return x;
}

/* Resolves a same-document reference ("#" + JSON pointer, RFC 6901 with
 * the URI fragment's %-encoding) to a token, or fails. */
static int resolve_ref(struct cc *c, int v)
{
    lx_buf b;
    lx_buf_init(&b, c->j->len + 1);
    int tok = -1;
    if (lx_json_unescape(c->j, v, &b) != LX_OK || b.len == 0 || b.data[0] != '#') {
        cc_fail(c, v, "only same-document references (\"#...\") are supported");
        goto release;
    }
    size_t w = 0;
    for (size_t r = 1; r < b.len; r++) {
        if (b.data[r] == '%' && r + 2 < b.len && hexval(b.data[r + 1]) >= 0 &&
            hexval(b.data[r + 2]) >= 0) {
            b.data[w++] = (char)(hexval(b.data[r + 1]) * 16 + hexval(b.data[r + 2]));
            r += 2;
        } else {
            b.data[w++] = b.data[r];
        }
    }
    if (w > 0 && b.data[0] != '/') {
        cc_fail(c, v, "$anchor references are not supported");
        goto release;
    }
    tok = 0;
    for (size_t i = 0; i < w && tok >= 0;) {
        size_t start = ++i, end = start;
        while (end < w && b.data[end] != '/')
            end++;
        char *seg = b.data + start;
        size_t sl = 0;
        for (size_t r = start; r < end; r++) {
            if (b.data[r] == '~' && r + 1 < end && (b.data[r + 1] == '0' || b.data[r + 1] == '1'))
                seg[sl++] = b.data[++r] == '0' ? '~' : '/';
            else
                seg[sl++] = b.data[r];
        }
        tok = pointer_step(c->j, tok, (lx_str){seg, sl});
        i = end;
    }
    if (tok < 0)
        cc_fail(c, v, "$ref target not found in the document");
release:
    lx_buf_release(&b);
    return tok;
}

/* ---- keyword handlers: each reads value token v into node n ------------- */

typedef int (*kw_fn)(struct cc *c, struct node *n, int v);

static int kw_type(struct cc *c, struct node *n, int v)
{
    int count = lx_json_is_array(c->j, v) ? lx_json_size(c->j, v) : 1;
    int x = lx_json_is_array(c->j, v) ? v + 1 : v;
    for (int k = 0; k < count; k++, x = lx_json_skip(c->j, x)) {
        size_t b = 0;
        while (b < LX_ARRAY_LEN(type_names) && !lx_json_str_eq(c->j, x, type_names[b]))
            b++;
        if (!lx_json_is_string(c->j, x) || b == LX_ARRAY_LEN(type_names)) {
            cc_fail(c, x,
                    "unknown type (want null, boolean, object, array, number, string, "
                    "integer)");
            return LX_ERR;
        }
        n->types |= 1u << b;
    }
    if (count == 0) {
        cc_fail(c, v, "must not be empty");
        return LX_ERR;
    }
    return LX_OK;
}

static int kw_properties(struct cc *c, struct node *n, int v)
{
    if (!lx_json_is_object(c->j, v)) {
        cc_fail(c, v, "must be an object of schemas");
        return LX_ERR;
    }
    n->nprops = lx_json_size(c->j, v);
    n->props = cc_alloc(c, sizeof(*n->props) * (size_t)n->nprops);
    if (n->props == NULL)
        return LX_ERR;
    for (int k = 0, x = v + 1; k < n->nprops; k++, x = lx_json_skip(c->j, x + 1)) {
        n->props[k].name = lx_json_raw(c->j, x);
        if ((n->props[k].schema = compile(c, x + 1)) == NULL)
            return LX_ERR;
    }
    return LX_OK;
}

static int kw_pattern_properties(struct cc *c, struct node *n, int v)
{
    if (!lx_json_is_object(c->j, v)) {
        cc_fail(c, v, "must be an object of schemas");
        return LX_ERR;
    }
    n->npprops = lx_json_size(c->j, v);
    n->pprops = cc_alloc(c, sizeof(*n->pprops) * (size_t)n->npprops);
    if (n->pprops == NULL)
        return LX_ERR;
    for (int k = 0, x = v + 1; k < n->npprops; k++, x = lx_json_skip(c->j, x + 1)) {
        if ((n->pprops[k].re = compile_regex(c, x)) == NULL ||
            (n->pprops[k].schema = compile(c, x + 1)) == NULL)
            return LX_ERR;
    }
    return LX_OK;
}

static int kw_defs(struct cc *c, struct node *n, int v)
{
    if (!lx_json_is_object(c->j, v)) {
        cc_fail(c, v, "must be an object of schemas");
        return LX_ERR;
    }
    /* compiled now so that a broken definition is reported even unused */
    for (int k = 0, x = v + 1; k < lx_json_size(c->j, v); k++, x = lx_json_skip(c->j, x + 1))
        if (compile(c, x + 1) == NULL)
            return LX_ERR;
    return LX_OK;
}

static int kw_dependent_required(struct cc *c, struct node *n, int v)
{
    if (!lx_json_is_object(c->j, v)) {
        cc_fail(c, v, "must be an object of string arrays");
        return LX_ERR;
    }
    n->ndeps = lx_json_size(c->j, v);
    n->deps = cc_alloc(c, sizeof(*n->deps) * (size_t)n->ndeps);
    if (n->deps == NULL)
        return LX_ERR;
    for (int k = 0, x = v + 1; k < n->ndeps; k++, x = lx_json_skip(c->j, x + 1)) {
        if (get_string_array(c, x + 1) != LX_OK)
            return LX_ERR;
        n->deps[k] = (struct depreq){lx_json_raw(c->j, x), x + 1};
    }
    return LX_OK;
}

static int kw_required(struct cc *c, struct node *n, int v)
{
    n->required_tok = v;
    return get_string_array(c, v);
}

static int kw_ref(struct cc *c, struct node *n, int v)
{
    if (!lx_json_is_string(c->j, v)) {
        cc_fail(c, v, "must be a string");
        return LX_ERR;
    }
    if ((n->ref_tok = resolve_ref(c, v)) < 0)
        return LX_ERR;
    n->next_pending = c->pending; /* compiled from the work list */
    c->pending = n;
    return LX_OK;
}

static int kw_format(struct cc *c, struct node *n, int v)
{
    static const struct {
        const char *name;
        enum format f;
    } formats[] = {{"date-time", F_DATE_TIME},
                   {"date", F_DATE},
                   {"email", F_EMAIL},
                   {"uri", F_URI},
                   {"uuid", F_UUID}};
    if (!lx_json_is_string(c->j, v)) {
        cc_fail(c, v, "must be a string");
        return LX_ERR;
    }
    for (size_t k = 0; k < LX_ARRAY_LEN(formats); k++)
        if (lx_json_str_eq(c->j, v, formats[k].name))
            n->format = formats[k].f;
    return LX_OK; /* other formats are annotations */
}

static int kw_unique(struct cc *c, struct node *n, int v)
{
    if (lx_json_bool(c->j, v, &n->unique) != LX_OK) {
        cc_fail(c, v, "must be a boolean");
        return LX_ERR;
    }
    return LX_OK;
}

static int kw_unsupported(struct cc *c, struct node *n, int v)
{
    cc_fail(c, v, "keyword not supported by this validator");
    return LX_ERR;
}

static int kw_enum(struct cc *c, struct node *n, int v)
{
    if (!lx_json_is_array(c->j, v)) {
        cc_fail(c, v, "must be an array");
        return LX_ERR;
    }
    n->enum_tok = v;
    return LX_OK;
}

static int kw_const(struct cc *c, struct node *n, int v)
{
    n->const_tok = v;
    return LX_OK;
}

#define KW_SCHEMA(fn, field)                                                                       \
    static int fn(struct cc *c, struct node *n, int v)                                             \
    {                                                                                              \
        return get_schema(c, v, &n->field);                                                        \
    }
KW_SCHEMA(kw_additional, additional)
KW_SCHEMA(kw_items, items)
KW_SCHEMA(kw_contains, contains)
KW_SCHEMA(kw_property_names, prop_names)
KW_SCHEMA(kw_not, not_)
KW_SCHEMA(kw_if, if_)
KW_SCHEMA(kw_then, then_)
KW_SCHEMA(kw_else, else_)

#define KW_LIST(fn, field, nonempty)                                                               \
    static int fn(struct cc *c, struct node *n, int v)                                             \
    {                                                                                              \
        return get_list(c, v, &n->field, nonempty);                                                \
    }
KW_LIST(kw_all_of, all_of, true)
KW_LIST(kw_any_of, any_of, true)
KW_LIST(kw_one_of, one_of, true)
KW_LIST(kw_prefix_items, prefix, false)

#define KW_COUNT(fn, field)                                                                        \
    static int fn(struct cc *c, struct node *n, int v)                                             \
    {                                                                                              \
        return get_count(c, v, &n->field);                                                         \
    }
KW_COUNT(kw_min_length, min_len)
KW_COUNT(kw_max_length, max_len)
KW_COUNT(kw_min_items, min_items)
KW_COUNT(kw_max_items, max_items)
KW_COUNT(kw_min_props, min_props)
KW_COUNT(kw_max_props, max_props)
KW_COUNT(kw_min_contains, min_contains)
KW_COUNT(kw_max_contains, max_contains)

#define KW_NUM(fn, field, flag)                                                                    \
    static int fn(struct cc *c, struct node *n, int v)                                             \
    {                                                                                              \
        n->nflags |= flag;                                                                         \
        return get_number(c, v, &n->field);                                                        \
    }
KW_NUM(kw_minimum, minimum, N_MIN)
KW_NUM(kw_maximum, maximum, N_MAX)
KW_NUM(kw_xmin, xmin, N_XMIN)
KW_NUM(kw_xmax, xmax, N_XMAX)

static int kw_multiple_of(struct cc *c, struct node *n, int v)
{
    n->nflags |= N_MULT;
    if (get_number(c, v, &n->mult) != LX_OK)
        return LX_ERR;
    if (!(n->mult.d > 0)) {
        cc_fail(c, v, "must be greater than 0");
        return LX_ERR;
    }
    return LX_OK;
}

static int kw_pattern(struct cc *c, struct node *n, int v)
{
    return (n->pattern = compile_regex(c, v)) ? LX_OK : LX_ERR;
}

static const struct {
    const char *name;
    kw_fn fn;
} keywords[] = {
    {"type", kw_type},
    {"properties", kw_properties},
    {"patternProperties", kw_pattern_properties},
    {"additionalProperties", kw_additional},
    {"required", kw_required},
    {"propertyNames", kw_property_names},
    {"minProperties", kw_min_props},
    {"maxProperties", kw_max_props},
    {"dependentRequired", kw_dependent_required},
    {"prefixItems", kw_prefix_items},
    {"items", kw_items},
    {"contains", kw_contains},
    {"minContains", kw_min_contains},
    {"maxContains", kw_max_contains},
    {"minItems", kw_min_items},
    {"maxItems", kw_max_items},
    {"uniqueItems", kw_unique},
    {"enum", kw_enum},
    {"const", kw_const},
    {"allOf", kw_all_of},
    {"anyOf", kw_any_of},
    {"oneOf", kw_one_of},
    {"not", kw_not},
    {"if", kw_if},
    {"then", kw_then},
    {"else", kw_else},
    {"minimum", kw_minimum},
    {"maximum", kw_maximum},
    {"exclusiveMinimum", kw_xmin},
    {"exclusiveMaximum", kw_xmax},
    {"multipleOf", kw_multiple_of},
    {"minLength", kw_min_length},
    {"maxLength", kw_max_length},
    {"pattern", kw_pattern},
    {"format", kw_format},
    {"$ref", kw_ref},
    {"$defs", kw_defs},
    {"definitions", kw_defs},
    {"unevaluatedProperties", kw_unsupported},
    {"unevaluatedItems", kw_unsupported},
    {"dependentSchemas", kw_unsupported},
    {"$dynamicRef", kw_unsupported},
    {"$recursiveRef", kw_unsupported},
};

static struct node *node_new(struct cc *c, int tok)
{
    if (++c->nnodes > c->s->lim.max_nodes)
        return cc_fail(c, tok, "more than %u subschemas", c->s->lim.max_nodes);
    struct node *n = cc_alloc(c, sizeof(*n));
    if (n == NULL)
        return NULL;
    n->tok = tok;
    n->boolean = -1;
    n->ref_tok = n->required_tok = n->enum_tok = n->const_tok = -1;
    n->min_len = n->min_items = n->min_props = 0;
    n->max_len = n->max_items = n->max_props = n->max_contains = INT64_MAX;
    n->min_contains = 1;
    n->next_all = c->all;
    c->all = n;
    c->memo[tok] = n;
    return n;
}

/* Compiles the subschema at token tok (memoised). NULL on failure. */
static struct node *compile(struct cc *c, int tok)
{
    if (c->failed)
        return NULL;
    if (c->memo[tok])
        return c->memo[tok];
    bool b;
    if (lx_json_bool(c->j, tok, &b) == LX_OK) {
        struct node *n = node_new(c, tok);
        if (n)
            n->boolean = b;
        return n;
    }
    if (!lx_json_is_object(c->j, tok))
        return cc_fail(c, tok, "a schema must be an object or a boolean, not %s",
                       kind_name(c->j, tok));
    struct node *n = node_new(c, tok);
    if (n == NULL)
        return NULL;
    for (int k = 0, x = tok + 1; k < lx_json_size(c->j, tok); k++, x = lx_json_skip(c->j, x + 1)) {
        lx_str key = lx_json_raw(c->j, x);
        for (size_t w = 0; w < LX_ARRAY_LEN(keywords); w++) {
            if (raw_eq_plain(key, lx_str_from_cstr(keywords[w].name))) {
                if (keywords[w].fn(c, n, x + 1) != LX_OK)
                    return NULL;
                break;
            }
        }
    }
    return n;
}

/* The k-th subschema applied at the same instance location, or NULL. */
static struct node *inplace_child(const struct node *n, int k)
{
    const struct list *lists[] = {&n->all_of, &n->any_of, &n->one_of};
    struct node *singles[] = {n->ref, n->not_, n->if_, n->then_, n->else_};
    for (size_t s = 0; s < LX_ARRAY_LEN(singles); s++)
        if (k-- == 0)
            return singles[s];
    for (size_t l = 0; l < LX_ARRAY_LEN(lists); l++) {
        if (k < lists[l]->n)
            return lists[l]->v[k];
        k -= lists[l]->n;
    }
    return NULL;
}

static int inplace_count(const struct node *n)
{
    return 5 + n->all_of.n + n->any_of.n + n->one_of.n;
}

/* Depth-first search for a cycle among in-place edges, with an explicit
 * stack (ref chains can be as long as the node count). */
static int check_cycles(struct cc *c)
{
    struct frame {
        struct node *n;
        int next;
    } *stack = cc_alloc(c, sizeof(*stack) * (c->nnodes + 1));
    if (stack == NULL)
        return LX_ERR;
    for (struct node *start = c->all; start; start = start->next_all) {
        if (start->color != 0)
            continue;
        int sp = 0;
        stack[0] = (struct frame){start, 0};
        start->color = 1;
        while (sp >= 0) {
            struct frame *f = &stack[sp];
            if (f->next == inplace_count(f->n)) {
                f->n->color = 2;
                sp--;
                continue;
            }
            struct node *ch = inplace_child(f->n, f->next++);
            if (ch == NULL || ch->color == 2)
                continue;
            if (ch->color == 1) {
                cc_fail(c, ch->tok,
                        "schema refers to itself without consuming input (a $ref loop)");
                return LX_ERR;
            }
            ch->color = 1;
            stack[++sp] = (struct frame){ch, 0};
        }
    }
    return LX_OK;
}

static int compile_all(struct cc *c)
{
    if ((c->s->root = compile(c, 0)) == NULL)
        return LX_ERR;
    while (c->pending) {
        struct node *n = c->pending;
        c->pending = n->next_pending;
        if ((n->ref = compile(c, n->ref_tok)) == NULL)
            return LX_ERR;
    }
    return check_cycles(c);
}

struct lx_schema *lx_schema_new(const char *text, size_t len, const struct lx_schema_limits *lim,
                                char *err, size_t errlen)
{
    if (errlen)
        err[0] = '\0';
    struct lx_schema *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (lim)
        s->lim = *lim;
    else
        lx_schema_limits_default(&s->lim);
    lx_arena_init(&s->arena, s->lim.max_schema_bytes * 48 + (1 << 20));
    struct cc c = {.s = s, .err = err, .errlen = errlen};
    if (len > s->lim.max_schema_bytes) {
        snprintf(err, errlen, "schema larger than %zu bytes", s->lim.max_schema_bytes);
        goto fail;
    }
    char *copy = lx_arena_strndup(&s->arena, text, len);
    enum lx_json_err je =
        copy ? lx_json_parse(&s->doc, copy, len, &s->arena, s->lim.max_schema_depth)
             : LX_JSON_ENOMEM;
    if (je != LX_JSON_OK) {
        snprintf(err, errlen, "schema is not valid JSON: %s", lx_json_strerror(je));
        goto fail;
    }
    c.j = &s->doc;
    c.memo = cc_alloc(&c, sizeof(*c.memo) * (size_t)s->doc.ntok);
    if (c.memo == NULL || compile_all(&c) != LX_OK)
        goto fail;
    s->mctx = pcre2_match_context_create(NULL);
    if (s->mctx == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    pcre2_set_match_limit(s->mctx, s->lim.regex_match_limit);
    pcre2_set_depth_limit(s->mctx, s->lim.regex_match_limit);
    return s;
fail:
    lx_schema_free(s);
    return NULL;
}

void lx_schema_free(struct lx_schema *s)
{
    if (s == NULL)
        return;
    for (struct re_link *l = s->regexes; l; l = l->next)
        pcre2_code_free(l->re);
    pcre2_match_context_free(s->mctx);
    lx_arena_release(&s->arena);
    free(s);
}

/* ---- formats ---------------------------------------------------------------- */

static bool digits(const char *p, size_t n, int count, int *out)
{
    if ((size_t)count > n)
        return false;
    int v = 0;
    for (int k = 0; k < count; k++) {
        if (p[k] < '0' || p[k] > '9')
            return false;
        v = v * 10 + (p[k] - '0');
    }
    *out = v;
    return true;
}

/* full-date (RFC 3339 section 5.6): YYYY-MM-DD, day valid for the month. */
static bool is_full_date(const char *p, size_t n)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d;
    if (n != 10 || !digits(p, n, 4, &y) || p[4] != '-' || !digits(p + 5, 2, 2, &m) || p[7] != '-' ||
        !digits(p + 8, 2, 2, &d) || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return !(m == 2 && d == 29 && !leap);
}

/* date-time (RFC 3339 section 5.6): full-date "T" partial-time time-offset.
 * A leap second (:60) is only valid at 23:59 UTC. */
static bool is_date_time(const char *p, size_t n)
{
    int h, mi, s, oh = 0, om = 0;
    if (n < 20 || !is_full_date(p, 10) || (p[10] != 'T' && p[10] != 't'))
        return false;
    const char *t = p + 11;
    size_t left = n - 11;
    if (!digits(t, left, 2, &h) || t[2] != ':' || !digits(t + 3, left - 3, 2, &mi) || t[5] != ':' ||
        !digits(t + 6, left - 6, 2, &s) || h > 23 || mi > 59 || s > 60)
        return false;
    size_t i = 8;
    if (i < left && t[i] == '.') {
        size_t start = ++i;
        while (i < left && t[i] >= '0' && t[i] <= '9')
            i++;
        if (i == start)
            return false;
    }
    if (i >= left)
        return false;
    int sign = 0;
    if (t[i] == 'Z' || t[i] == 'z') {
        i++;
    } else if (t[i] == '+' || t[i] == '-') {
        sign = t[i] == '+' ? 1 : -1;
        if (left - i != 6 || !digits(t + i + 1, 2, 2, &oh) || t[i + 3] != ':' ||
            !digits(t + i + 4, 2, 2, &om) || oh > 23 || om > 59)
            return false;
        i += 6;
    } else {
        return false;
    }
    if (i != left)
        return false;
    if (s == 60) {
        int utc = ((h * 60 + mi - sign * (oh * 60 + om)) % 1440 + 1440) % 1440;
        return utc == 23 * 60 + 59;
    }
    return true;
}

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* A DNS hostname: dot-separated labels of letters, digits and inner '-'. */
static bool is_hostname(const char *p, size_t n)
{
    if (n == 0 || n > 253)
        return false;
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || p[i] == '.') {
            if (label == 0 || label > 63 || p[i - 1] == '-')
                return false;
            label = 0;
        } else if (is_alnum(p[i]) || (p[i] == '-' && label > 0)) {
            label++;
        } else {
            return false;
        }
    }
    return true;
}

/* email: a pragmatic subset of RFC 5321 section 4.1.2. */
static bool is_email(const char *p, size_t n)
{
    const char *at = NULL;
    for (size_t i = n; i > 0; i--)
        if (p[i - 1] == '@') {
            at = p + i - 1;
            break;
        }
    if (at == NULL || at == p || at - p > 64)
        return false;
    size_t ln = (size_t)(at - p);
    if (p[0] == '"') { /* quoted local part */
        if (ln < 2 || p[ln - 1] != '"')
            return false;
        for (size_t i = 1; i < ln - 1; i++)
            if (p[i] < 0x20 || p[i] == 0x7f || (unsigned char)p[i] >= 0x80 ||
                (p[i] == '"' || p[i] == '\\'))
                return false;
    } else {
        if (p[0] == '.' || p[ln - 1] == '.')
            return false;
        for (size_t i = 0; i < ln; i++) {
            if (p[i] == '.' && p[i + 1] == '.')
                return false;
            if (!is_alnum(p[i]) && !strchr(".!#$%&'*+/=?^_`{|}~-", p[i]))
                return false;
        }
    }
    const char *d = at + 1;
    size_t dn = n - ln - 1;
    if (dn >= 2 && d[0] == '[' && d[dn - 1] == ']') {
        for (size_t i = 1; i < dn - 1; i++)
            if (!is_alnum(d[i]) && d[i] != '.' && d[i] != ':')
                return false;
        return dn > 2;
    }
    return is_hostname(d, dn);
}

/* uri: RFC 3986 absolute URI — a scheme, ':', and only URI characters. */
static bool is_uri(const char *p, size_t n)
{
    size_t i = 0;
    if (n == 0 || !((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z')))
        return false;
    while (i < n && (is_alnum(p[i]) || p[i] == '+' || p[i] == '-' || p[i] == '.'))
        i++;
    if (i >= n || p[i] != ':')
        return false;
    for (i++; i < n; i++) {
        if (p[i] == '%') {
            if (i + 2 >= n || hexval(p[i + 1]) < 0 || hexval(p[i + 2]) < 0)
                return false;
            i += 2;
        } else if (!is_alnum(p[i]) && !strchr("-._~:/?#[]@!$&'()*+,;=", p[i])) {
            return false;
        }
    }
    return true;
}

static bool is_uuid(const char *p, size_t n)
{
    if (n != 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? p[i] != '-' : hexval(p[i]) < 0)
            return false;
    }
    return true;
}

static bool format_ok(enum format f, lx_str s)
{
    switch (f) {
    case F_DATE_TIME:
        return is_date_time(s.ptr, s.len);
    case F_DATE:
        return is_full_date(s.ptr, s.len);
    case F_EMAIL:
        return is_email(s.ptr, s.len);
    case F_URI:
        return is_uri(s.ptr, s.len);
    case F_UUID:
        return is_uuid(s.ptr, s.len);
    default:
        return true;
    }
}

static const char *format_name(enum format f)
{
    static const char *const names[] = {"", "date-time", "date", "email", "uri", "uuid"};
    return names[f];
}

/* ---- validating ------------------------------------------------------------- */

struct vc {
    const struct lx_schema *s;
    const lx_json *j;
    struct lx_schema_error *errs;
    size_t max_errs, nerrs;
    int quiet;      /* > 0 inside anyOf/oneOf/not/if: stop at the first failure */
    bool full;      /* errs[] is full: stop */
    bool limit;     /* a limit was hit: the verdict is ELIMIT */
    uint32_t depth; /* nested evaluations */
    uint64_t steps; /* work done */
    char path[LX_SCHEMA_PTR_MAX];
    size_t plen; /* may exceed the field: then the pointer was cut */
    lx_buf text; /* an unescaped string */
    pcre2_match_data *md;
};

static bool stop(const struct vc *v)
{
    return v->quiet > 0 || v->full || v->limit;
}

static void record(struct vc *v, const char *keyword, const char *msg)
{
    struct lx_schema_error *e = &v->errs[v->nerrs++];
    size_t n = LX_MIN(v->plen, sizeof(e->instance) - 1);
    memcpy(e->instance, v->path, n);
    e->instance[n] = '\0';
    if (v->plen >= sizeof(e->instance))
        memcpy(e->instance + sizeof(e->instance) - 4, "...", 4);
    snprintf(e->keyword, sizeof(e->keyword), "%s", keyword);
    snprintf(e->message, sizeof(e->message), "%s", msg);
    if (v->nerrs == v->max_errs)
        v->full = true;
}

static bool fail(struct vc *v, const char *keyword, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reports a failure (unless quiet) and returns false. */
static bool fail(struct vc *v, const char *keyword, const char *fmt, ...)
{
    if (v->quiet > 0 || v->limit)
        return false;
    if (v->nerrs < v->max_errs) {
        char msg[LX_SCHEMA_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        record(v, keyword, msg);
    } else {
        v->full = true;
    }
    return false;
}

static bool hit_limit(struct vc *v, const char *what)
{
    if (!v->limit && v->max_errs > 0) {
        v->nerrs = 0;
        v->plen = 0;
        record(v, "", what);
    }
    v->limit = true;
    return false;
}

/* Appends "/" + segment (escaped per RFC 6901) to the instance pointer. */
static void path_put(struct vc *v, char c)
{
    if (v->plen < sizeof(v->path))
        v->path[v->plen] = c;
    v->plen++;
}

static size_t path_push_key(struct vc *v, lx_str raw)
{
    size_t saved = v->plen;
    path_put(v, '/');
    for (size_t i = 0; i < raw.len && v->plen < sizeof(v->path);) {
        size_t from = i;
        uint32_t c = next_cp(raw, &i);
        if (c == '~' || c == '/') {
            path_put(v, '~');
            path_put(v, c == '~' ? '0' : '1');
        } else if (raw.ptr[from] != '\\' || c < 0x80) {
            if (raw.ptr[from] == '\\')
                path_put(v, (char)c);
            else
                for (size_t k = from; k < i; k++)
                    path_put(v, raw.ptr[k]);
        } else {
            char b[4];
            size_t n = 0;
            if (c < 0x800) {
                b[n++] = (char)(0xc0 | (c >> 6));
            } else if (c < 0x10000) {
                b[n++] = (char)(0xe0 | (c >> 12));
                b[n++] = (char)(0x80 | ((c >> 6) & 0x3f));
            } else {
                b[n++] = (char)(0xf0 | (c >> 18));
                b[n++] = (char)(0x80 | ((c >> 12) & 0x3f));
                b[n++] = (char)(0x80 | ((c >> 6) & 0x3f));
            }
            b[n++] = (char)(0x80 | (c & 0x3f));
            for (size_t k = 0; k < n; k++)
                path_put(v, b[k]);
        }
    }
    return saved;
}

static size_t path_push_index(struct vc *v, int idx)
{
    size_t saved = v->plen;
    char b[16];
    int n = snprintf(b, sizeof(b), "/%d", idx);
    for (int k = 0; k < n; k++)
        path_put(v, b[k]);
    return saved;
}

static bool validate(struct vc *v, const struct node *n, int t);

/* Validates t against sub, where sub is the value of keyword kw: a false
 * schema is reported under that keyword. */
static bool validate_sub(struct vc *v, const struct node *sub, int t, const char *kw)
{
    if (sub->boolean == 0)
        return fail(v, kw, "no value is allowed here (\"%s\": false)", kw);
    return validate(v, sub, t);
}

/* Runs sub quietly: true when t is valid against it. Check v->limit after. */
static bool probe(struct vc *v, const struct node *sub, int t)
{
    v->quiet++;
    bool ok = validate(v, sub, t);
    v->quiet--;
    return ok;
}

static void type_list(unsigned types, char *out, size_t n)
{
    size_t w = 0;
    out[0] = '\0';
    for (size_t b = 0; b < LX_ARRAY_LEN(type_names); b++)
        if (types & (1u << b))
            w +=
                (size_t)snprintf(out + w, n - LX_MIN(w, n), "%s%s", w ? " or " : "", type_names[b]);
}

static bool check_type(struct vc *v, const struct node *n, int t)
{
    unsigned k = kind_of(v->j, t);
    if (n->types & k)
        return true;
    if (k == T_NUMBER && (n->types & T_INTEGER) && num_is_integer(num_read(v->j, t)))
        return true;
    char want[80];
    type_list(n->types, want, sizeof(want));
    const char *got = kind_name(v->j, t);
    if (k == T_NUMBER && (n->types & T_INTEGER))
        got = "number with a fraction";
    return fail(v, "type", "expected %s, got %s", want, got);
}

static bool check_enum_const(struct vc *v, const struct node *n, int t)
{
    const lx_json *sj = &v->s->doc;
    bool ok = true;
    if (n->const_tok >= 0 && !json_eq(v->j, t, sj, n->const_tok, &v->steps)) {
        lx_str want = lx_json_value_text(sj, n->const_tok);
        ok = fail(v, "const", "expected the constant %.*s", (int)LX_MIN(want.len, 80), want.ptr);
        if (stop(v))
            return false;
    }
    if (n->enum_tok >= 0) {
        int x = n->enum_tok + 1;
        for (int k = 0; k < lx_json_size(sj, n->enum_tok); k++, x = lx_json_skip(sj, x))
            if (json_eq(v->j, t, sj, x, &v->steps))
                return ok;
        lx_str all = lx_json_value_text(sj, n->enum_tok);
        ok = fail(v, "enum", "value is not one of %.*s%s", (int)LX_MIN(all.len, 100), all.ptr,
                  all.len > 100 ? "..." : "");
    }
    return ok;
}

static bool check_number(struct vc *v, const struct node *n, int t)
{
    struct num x = num_read(v->j, t);
    char b[40];
    bool ok = true;
    if ((n->nflags & N_MIN) && num_cmp(x, n->minimum) < 0) {
        num_format(n->minimum, b, sizeof(b));
        if (!(ok = fail(v, "minimum", "must be >= %s", b)) && stop(v))
            return false;
    }
    if ((n->nflags & N_MAX) && num_cmp(x, n->maximum) > 0) {
        num_format(n->maximum, b, sizeof(b));
        if (!(ok = fail(v, "maximum", "must be <= %s", b)) && stop(v))
            return false;
    }
    if ((n->nflags & N_XMIN) && num_cmp(x, n->xmin) <= 0) {
        num_format(n->xmin, b, sizeof(b));
        if (!(ok = fail(v, "exclusiveMinimum", "must be > %s", b)) && stop(v))
            return false;
    }
    if ((n->nflags & N_XMAX) && num_cmp(x, n->xmax) >= 0) {
        num_format(n->xmax, b, sizeof(b));
        if (!(ok = fail(v, "exclusiveMaximum", "must be < %s", b)) && stop(v))
            return false;
    }
    if ((n->nflags & N_MULT) && !num_multiple_of(x, n->mult)) {
        num_format(n->mult, b, sizeof(b));
        ok = fail(v, "multipleOf", "must be a multiple of %s", b);
    }
    return ok;
}

/* The unescaped text of string token t (valid until the next call). */
static lx_str string_text(struct vc *v, int t)
{
    lx_str raw = lx_json_raw(v->j, t);
    if (!has_backslash(raw))
        return raw;
    lx_buf_reset(&v->text);
    if (lx_json_unescape(v->j, t, &v->text) != LX_OK)
        return LX_STR_NULL;
    return lx_buf_str(&v->text);
}

/* 1 match, 0 no match, -1 limit or error. */
static int regex_search(struct vc *v, pcre2_code *re, lx_str s)
{
    int rc = pcre2_match(re, (PCRE2_SPTR)(s.ptr ? s.ptr : ""), s.len, 0, 0, v->md, v->s->mctx);
    if (rc >= 0)
        return 1;
    return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

static bool check_string(struct vc *v, const struct node *n, int t)
{
    bool ok = true;
    if (n->min_len > 0 || n->max_len < INT64_MAX) {
        int64_t len = cp_count(lx_json_raw(v->j, t));
        if (len < n->min_len &&
            !(ok = fail(v, "minLength", "shorter than %lld characters", (long long)n->min_len)) &&
            stop(v))
            return false;
        if (len > n->max_len &&
            !(ok = fail(v, "maxLength", "longer than %lld characters", (long long)n->max_len)) &&
            stop(v))
            return false;
    }
    if (n->pattern == NULL && n->format == F_NONE)
        return ok;
    lx_str s = string_text(v, t);
    if (s.ptr == NULL && lx_json_raw(v->j, t).len > 0)
        return hit_limit(v, "string too long to check");
    if (n->pattern) {
        int m = regex_search(v, n->pattern, s);
        if (m < 0)
            return hit_limit(v, "pattern match limit reached");
        if (m == 0) {
            lx_str p = lx_json_raw(&v->s->doc, lx_json_get(&v->s->doc, n->tok, "pattern"));
            if (!(ok = fail(v, "pattern", "does not match the pattern %.*s", (int)LX_MIN(p.len, 80),
                            p.ptr)) &&
                stop(v))
                return false;
        }
    }
    if (n->format != F_NONE && !format_ok(n->format, s))
        ok = fail(v, "format", "not a valid %s", format_name(n->format));
    return ok;
}

static bool is_required_missing(const lx_json *j, int obj, lx_str name)
{
    for (int k = 0, x = obj + 1; k < lx_json_size(j, obj); k++, x = lx_json_skip(j, x + 1))
        if (raw_eq(lx_json_raw(j, x), name))
            return false;
    return true;
}

static bool check_required(struct vc *v, const struct node *n, int t)
{
    const lx_json *sj = &v->s->doc;
    bool ok = true;
    for (int k = 0, x = n->required_tok + 1; k < lx_json_size(sj, n->required_tok);
         k++, x = lx_json_skip(sj, x)) {
        v->steps += (uint64_t)lx_json_size(v->j, t) + 1;
        lx_str name = lx_json_raw(sj, x);
        if (is_required_missing(v->j, t, name) &&
            !(ok = fail(v, "required", "missing required property \"%.*s\"",
                        (int)LX_MIN(name.len, 64), name.ptr)) &&
            stop(v))
            return false;
    }
    return ok;
}

static bool check_dependent(struct vc *v, const struct node *n, int t)
{
    const lx_json *sj = &v->s->doc;
    bool ok = true;
    for (int d = 0; d < n->ndeps; d++) {
        if (is_required_missing(v->j, t, n->deps[d].name))
            continue;
        int arr = n->deps[d].tok;
        for (int k = 0, x = arr + 1; k < lx_json_size(sj, arr); k++, x = lx_json_skip(sj, x)) {
            lx_str name = lx_json_raw(sj, x);
            if (is_required_missing(v->j, t, name) &&
                !(ok = fail(v, "dependentRequired",
                            "missing property \"%.*s\", required by \"%.*s\"",
                            (int)LX_MIN(name.len, 64), name.ptr,
                            (int)LX_MIN(n->deps[d].name.len, 64), n->deps[d].name.ptr)) &&
                stop(v))
                return false;
        }
    }
    return ok;
}

/* One member (key token x, value x+1) against properties,
 * patternProperties, additionalProperties and propertyNames. */
static bool check_member(struct vc *v, const struct node *n, int x)
{
    lx_str key = lx_json_raw(v->j, x);
    bool ok = true, matched = false;
    size_t saved = path_push_key(v, key);
    for (int p = 0; p < n->nprops; p++) {
        v->steps++;
        if (raw_eq(key, n->props[p].name)) {
            matched = true;
            ok = validate_sub(v, n->props[p].schema, x + 1, "properties") && ok;
            break;
        }
    }
    if (n->npprops > 0 && !(stop(v) && !ok)) {
        lx_str text = string_text(v, x);
        for (int p = 0; p < n->npprops && !(stop(v) && !ok); p++) {
            int m = regex_search(v, n->pprops[p].re, text);
            if (m < 0) {
                ok = hit_limit(v, "patternProperties match limit reached");
                break;
            }
            if (m == 1) {
                matched = true;
                ok = validate_sub(v, n->pprops[p].schema, x + 1, "patternProperties") && ok;
                text = string_text(v, x); /* the scratch buffer may have been reused */
            }
        }
    }
    if (!matched && n->additional && !(stop(v) && !ok)) {
        if (n->additional->boolean == 0)
            ok = fail(v, "additionalProperties", "property \"%.*s\" is not allowed",
                      (int)LX_MIN(key.len, 64), key.ptr);
        else
            ok = validate(v, n->additional, x + 1) && ok;
    }
    if (n->prop_names && !(stop(v) && !ok))
        ok = validate_sub(v, n->prop_names, x, "propertyNames") && ok;
    v->plen = saved;
    return ok;
}

static bool check_object(struct vc *v, const struct node *n, int t)
{
    bool ok = true;
    int size = lx_json_size(v->j, t);
    if (size < n->min_props &&
        !(ok = fail(v, "minProperties", "fewer than %lld properties", (long long)n->min_props)) &&
        stop(v))
        return false;
    if (size > n->max_props &&
        !(ok = fail(v, "maxProperties", "more than %lld properties", (long long)n->max_props)) &&
        stop(v))
        return false;
    if (n->required_tok >= 0 && !check_required(v, n, t) && !(ok = false) && stop(v))
        return false;
    if (n->ndeps > 0 && !check_dependent(v, n, t) && !(ok = false) && stop(v))
        return false;
    if (n->nprops == 0 && n->npprops == 0 && n->additional == NULL && n->prop_names == NULL)
        return ok;
    for (int k = 0, x = t + 1; k < size; k++, x = lx_json_skip(v->j, x + 1))
        if (!check_member(v, n, x) && !(ok = false) && stop(v))
            return false;
    return ok;
}

struct hashed {
    uint64_t h;
    int tok, idx;
};

static int hashed_cmp(const void *a, const void *b)
{
    const struct hashed *x = a, *y = b;
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    return x->idx - y->idx;
}

/* uniqueItems in O(n log n): sort by a structural hash, compare equal runs. */
static bool check_unique(struct vc *v, int t)
{
    int size = lx_json_size(v->j, t);
    if (size < 2)
        return true;
    struct hashed *h = malloc(sizeof(*h) * (size_t)size);
    if (h == NULL)
        return hit_limit(v, "out of memory");
    for (int k = 0, x = t + 1; k < size; k++, x = lx_json_skip(v->j, x))
        h[k] = (struct hashed){json_hash(v->j, x), x, k};
    v->steps += (uint64_t)size;
    qsort(h, (size_t)size, sizeof(*h), hashed_cmp);
    int dup_a = -1, dup_b = -1;
    for (int a = 0; a < size && dup_a < 0 && v->steps <= v->s->lim.max_steps; a++)
        for (int b = a + 1; b < size && h[b].h == h[a].h && dup_a < 0; b++)
            if (json_eq(v->j, h[a].tok, v->j, h[b].tok, &v->steps))
                dup_a = h[a].idx, dup_b = h[b].idx;
    free(h);
    if (dup_a < 0)
        return true;
    return fail(v, "uniqueItems", "items %d and %d are equal", dup_a, dup_b);
}

static bool check_items(struct vc *v, const struct node *n, int t)
{
    bool ok = true;
    int size = lx_json_size(v->j, t), matches = 0;
    for (int k = 0, x = t + 1; k < size; k++, x = lx_json_skip(v->j, x)) {
        const struct node *sub = k < n->prefix.n ? n->prefix.v[k] : n->items;
        if (sub) {
            size_t saved = path_push_index(v, k);
            bool good = sub->boolean == 0 ? fail(v, k < n->prefix.n ? "prefixItems" : "items",
                                                 "no item is allowed at index %d", k)
                                          : validate(v, sub, x);
            v->plen = saved;
            if (!good && !(ok = false) && stop(v))
                return false;
        }
        if (n->contains) {
            matches += probe(v, n->contains, x);
            if (v->limit)
                return false;
        }
    }
    if (n->contains && matches < n->min_contains)
        ok = fail(v, "contains", "fewer than %lld items match \"contains\"",
                  (long long)n->min_contains);
    else if (n->contains && matches > n->max_contains)
        ok = fail(v, "maxContains", "more than %lld items match \"contains\"",
                  (long long)n->max_contains);
    return ok;
}

static bool check_array(struct vc *v, const struct node *n, int t)
{
    bool ok = true;
    int size = lx_json_size(v->j, t);
    if (size < n->min_items &&
        !(ok = fail(v, "minItems", "fewer than %lld items", (long long)n->min_items)) && stop(v))
        return false;
    if (size > n->max_items &&
        !(ok = fail(v, "maxItems", "more than %lld items", (long long)n->max_items)) && stop(v))
        return false;
    if (n->unique && !check_unique(v, t) && !(ok = false) && stop(v))
        return false;
    if (n->prefix.n > 0 || n->items || n->contains)
        ok = check_items(v, n, t) && ok;
    return ok;
}

static bool check_combinators(struct vc *v, const struct node *n, int t)
{
    bool ok = true;
    for (int k = 0; k < n->all_of.n; k++)
        if (!validate_sub(v, n->all_of.v[k], t, "allOf") && !(ok = false) && stop(v))
            return false;
    if (n->any_of.n > 0) {
        bool any = false;
        for (int k = 0; k < n->any_of.n && !any && !v->limit; k++)
            any = probe(v, n->any_of.v[k], t);
        if (!any &&
            !(ok = fail(v, "anyOf", "matches none of the %d allowed schemas", n->any_of.n)) &&
            stop(v))
            return false;
    }
    if (n->one_of.n > 0) {
        int first = -1, second = -1;
        for (int k = 0; k < n->one_of.n && second < 0 && !v->limit; k++)
            if (probe(v, n->one_of.v[k], t))
                *(first < 0 ? &first : &second) = k;
        if (first < 0)
            ok = fail(v, "oneOf", "matches none of the %d schemas", n->one_of.n);
        else if (second >= 0)
            ok = fail(v, "oneOf", "matches more than one schema (%d and %d)", first, second);
        if (!ok && stop(v))
            return false;
    }
    if (n->not_ && probe(v, n->not_, t) && !v->limit &&
        !(ok = fail(v, "not", "matches a schema it must not match")) && stop(v))
        return false;
    if (n->if_ && (n->then_ || n->else_)) {
        bool cond = probe(v, n->if_, t);
        const struct node *branch = cond ? n->then_ : n->else_;
        if (branch && !v->limit)
            ok = validate_sub(v, branch, t, cond ? "then" : "else") && ok;
    }
    return ok && !v->limit;
}

/* Validates instance token t against node n; false when invalid. */
static bool validate(struct vc *v, const struct node *n, int t)
{
    if (++v->steps > v->s->lim.max_steps)
        return hit_limit(v, "validation step limit reached");
    if (n->boolean >= 0)
        return n->boolean ? true : fail(v, "false", "no value is allowed here (false schema)");
    if (++v->depth > v->s->lim.max_eval_depth) {
        v->depth--;
        return hit_limit(v, "schema evaluation nested too deeply");
    }
    bool ok = true;
    unsigned k = kind_of(v->j, t);
    if (n->types && !check_type(v, n, t) && !(ok = false) && stop(v))
        goto out;
    if ((n->const_tok >= 0 || n->enum_tok >= 0) && !check_enum_const(v, n, t) && !(ok = false) &&
        stop(v))
        goto out;
    if (k == T_NUMBER && n->nflags && !check_number(v, n, t) && !(ok = false) && stop(v))
        goto out;
    if (k == T_STRING && !check_string(v, n, t) && !(ok = false) && stop(v))
        goto out;
    if (k == T_OBJECT && !check_object(v, n, t) && !(ok = false) && stop(v))
        goto out;
    if (k == T_ARRAY && !check_array(v, n, t) && !(ok = false) && stop(v))
        goto out;
    if (n->ref && !validate_sub(v, n->ref, t, "$ref") && !(ok = false) && stop(v))
        goto out;
    ok = check_combinators(v, n, t) && ok;
out:
    v->depth--;
    return ok && !v->limit;
}

static const char *const status_names[] = {
    [LX_SCHEMA_VALID] = "valid",
    [LX_SCHEMA_INVALID] = "does not match the schema",
    [LX_SCHEMA_EJSON] = "not valid JSON",
    [LX_SCHEMA_ELIMIT] = "validation limit reached",
};

const char *lx_schema_strerror(enum lx_schema_status st)
{
    return (unsigned)st < LX_ARRAY_LEN(status_names) ? status_names[st] : "?";
}

enum lx_schema_status lx_schema_validate_json(const struct lx_schema *s, const lx_json *j, int tok,
                                              struct lx_schema_error *errs, size_t max_errs,
                                              size_t *nerrs)
{
    struct vc v = {.s = s, .j = j, .errs = errs, .max_errs = errs ? max_errs : 0};
    enum lx_schema_status st = LX_SCHEMA_ELIMIT;
    lx_buf_init(&v.text, j->len + 1);
    v.md = pcre2_match_data_create(1, NULL);
    if (v.md == NULL)
        hit_limit(&v, "out of memory");
    else if (validate(&v, s->root, tok))
        st = LX_SCHEMA_VALID;
    else if (!v.limit)
        st = LX_SCHEMA_INVALID;
    pcre2_match_data_free(v.md);
    lx_buf_release(&v.text);
    if (nerrs)
        *nerrs = v.nerrs;
    return st;
}

enum lx_schema_status lx_schema_validate(const struct lx_schema *s, const char *text, size_t len,
                                         struct lx_schema_error *errs, size_t max_errs,
                                         size_t *nerrs)
{
    if (nerrs)
        *nerrs = 0;
    struct vc v = {.s = s, .errs = errs, .max_errs = errs ? max_errs : 0};
    if (len > s->lim.max_instance_bytes) {
        hit_limit(&v, "instance too large");
        if (nerrs)
            *nerrs = v.nerrs;
        return LX_SCHEMA_EJSON;
    }
    lx_arena a;
    lx_arena_init(&a, len * 32 + (64 << 10)); /* tokens and their regrowth */
    lx_json j;
    enum lx_json_err je = lx_json_parse(&j, text, len, &a, s->lim.max_instance_depth);
    enum lx_schema_status st;
    if (je != LX_JSON_OK) {
        hit_limit(&v, lx_json_strerror(je));
        if (nerrs)
            *nerrs = v.nerrs;
        st = LX_SCHEMA_EJSON;
    } else {
        st = lx_schema_validate_json(s, &j, 0, errs, max_errs, nerrs);
    }
    lx_arena_release(&a);
    return st;
}
