/*
 * redact.c — see redact.h.
 *
 * One engine serves whole texts and streams: run() walks a subject from a
 * position, asks every detector for its next match (cached per call), takes
 * the leftmost-longest and acts on it. In a stream, a detector may answer
 * "partial" (PCRE2_PARTIAL_HARD: the end of the bytes was reached while a
 * match was still possible); run() then stops before the earliest partial
 * start, so every decision it makes is one the whole text would make too.
 * The bytes before the position stay in the subject as left context for
 * lookbehinds (at most LEFT_CONTEXT bytes).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "redact.h"

#include <arpa/inet.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>

#define LEFT_CONTEXT 64 /* bytes kept before a stream's position */
#define MAX_LOOKBEHIND 32
#define NAME_MAX_LEN 31
#define TOKEN_MAX 48 /* "<" label "_" number ">" */

typedef bool (*check_fn)(const char *p, size_t n, size_t *keep);

struct detector {
    char name[NAME_MAX_LEN + 1];
    char label[NAME_MAX_LEN + 1]; /* the name in capitals */
    lx_redact_action action;
    pcre2_code *code;
    check_fn check;   /* NULL: the regex alone decides */
    bool value_group; /* redact capture group 1 when it took part */
};

struct lx_redact_set {
    lx_redact_limits lim;
    struct detector *det;
    size_t n;
};

enum { C_UNKNOWN, C_NONE, C_HIT, C_PARTIAL };

struct cand {
    int state;
    size_t s, e;   /* the whole match, or the partial start in s */
    size_t vs, ve; /* the part to redact */
};

struct entry {
    uint32_t det, num, hash;
    size_t off, len; /* into lx_redact_ctx.values */
};

struct lx_redact_ctx {
    const lx_redact_set *set;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    struct cand *cand;   /* one per detector, valid during one run() */
    size_t *matches;     /* per detector */
    uint32_t *next_num;  /* per detector: the last pseudonym number issued */
    struct entry *table; /* max_pseudonyms entries */
    size_t nentries;
    lx_buf values; /* original values, cap max_table_bytes */
    unsigned flags;
};

struct lx_redact_stream {
    lx_redact_ctx *ctx;
    lx_buf in; /* [0, pos) done (left context), [pos, len) held */
    size_t pos;
    bool restore;
    bool failed;
};

/* Where run() sends its results: text to out, or matches to fn. */
struct sink {
    lx_buf *out;
    lx_redact_match_fn fn;
    void *data;
    int fn_rc;
};

/* ---- validators ------------------------------------------------------ */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static size_t digits_of(const char *p, size_t n, char *d, size_t dmax)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (is_digit(p[i])) {
            if (k < dmax)
                d[k] = p[i];
            k++;
        }
    return k;
}

/* "icon@2x.png": an image name with a density suffix, not an address. */
static bool check_email(const char *p, size_t n, size_t *keep)
{
    const char *at = memchr(p, '@', n);
    if (at == NULL || at[-1] == '.' || p[0] == '.')
        return false;
    for (const char *q = p; q + 1 < at; q++)
        if (q[0] == '.' && q[1] == '.')
            return false;
    const char *d = at + 1;
    size_t i = 0;
    while (d + i < p + n && is_digit(d[i]))
        i++;
    if (i > 0 && d + i + 1 < p + n && (d[i] == 'x' || d[i] == 'X') && d[i + 1] == '.')
        return false;
    return true;
}

static bool check_phone(const char *p, size_t n, size_t *keep)
{
    char d[32];
    size_t k = digits_of(p, n, d, sizeof d);
    int open = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '(') {
            open++;
        } else if (p[i] == ')' && --open < 0) {
            if (i + 1 < n)
                return false;
            *keep = n - 1; /* "(call +1 415 555 0134)": the ')' closes the prose */
            open = 0;
        }
    }
    if (open != 0)
        return false;
    if (p[0] == '+')
        return k >= 8 && k <= 15;
    return k >= 9 && k <= 12;
}

static bool luhn_ok(const char *d, size_t n)
{
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned v = (unsigned)(d[n - 1 - i] - '0');
        if (i % 2 == 1) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
    }
    return sum % 10 == 0;
}

/* Issuer prefixes and lengths of the card schemes in wide use. */
static bool card_scheme_ok(const char *d, size_t n)
{
    int p2 = (d[0] - '0') * 10 + (d[1] - '0');
    int p3 = p2 * 10 + (d[2] - '0');
    int p4 = p3 * 10 + (d[3] - '0');
    if (d[0] == '4')
        return n == 13 || n == 16 || n == 19;
    if (p2 == 34 || p2 == 37)
        return n == 15;
    if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720))
        return n == 16;
    if (p2 == 36 || p2 == 38 || p2 == 39 || (p3 >= 300 && p3 <= 305))
        return n >= 14 && n <= 16;
    if ((p4 >= 3528 && p4 <= 3589) || p4 == 6011 || (p3 >= 644 && p3 <= 649) || p2 == 65 ||
        p2 == 62)
        return n >= 16 && n <= 19;
    if (p2 == 50 || (p2 >= 56 && p2 <= 58) || p2 == 67 || p4 == 6304)
        return n >= 13 && n <= 19; /* Maestro */
    return false;
}

static bool check_card(const char *p, size_t n, size_t *keep)
{
    char d[24];
    size_t k = digits_of(p, n, d, sizeof d);
    return k >= 13 && k <= 19 && card_scheme_ok(d, k) && luhn_ok(d, k);
}

struct iban_country {
    char cc[3];
    unsigned char len;
};

/* Lengths from the IBAN registry (ISO 13616) for the countries that use it. */
static const struct iban_country iban_countries[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
    {"BH", 22}, {"BR", 29}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DK", 18},
    {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22},
    {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22},
    {"IL", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32},
    {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19},
    {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NL", 18}, {"NO", 15}, {"PK", 24}, {"PL", 28}, {"PS", 29},
    {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"SA", 24}, {"SC", 31}, {"SE", 24}, {"SI", 19},
    {"SK", 24}, {"SM", 27}, {"ST", 25}, {"SV", 28}, {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29},
    {"VA", 22}, {"VG", 24}, {"XK", 20},
};

static size_t iban_length(const char *cc)
{
    for (size_t i = 0; i < LX_ARRAY_LEN(iban_countries); i++)
        if (iban_countries[i].cc[0] == cc[0] && iban_countries[i].cc[1] == cc[1])
            return iban_countries[i].len;
    return 0;
}

/* ISO 13616 check: the four leading characters moved to the end, letters as
 * 10..35, the number modulo 97 is 1. */
static bool iban_mod97_ok(const char *c, size_t n)
{
    unsigned r = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = c[(i + 4) % n];
        if (is_digit(ch))
            r = (r * 10 + (unsigned)(ch - '0')) % 97;
        else
            r = (r * 100 + (unsigned)(ch - 'A' + 10)) % 97;
    }
    return r == 1;
}

/* The regex may take a trailing word in capitals for one more group; the
 * country's length says where the IBAN ends, so keep just that much. */
static bool check_iban(const char *p, size_t n, size_t *keep)
{
    size_t want = iban_length(p), k = 0, i = 0;
    char c[40];
    if (want == 0)
        return false;
    for (; i < n && k < want; i++)
        if (p[i] != ' ')
            c[k++] = p[i];
    if (k < want || (i < n && p[i] != ' '))
        return false;
    if (!iban_mod97_ok(c, k))
        return false;
    *keep = i;
    return true;
}

static bool check_ipv4(const char *p, size_t n, size_t *keep)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++, i++) {
        size_t start = i;
        unsigned v = 0;
        while (i < n && is_digit(p[i]))
            v = v * 10 + (unsigned)(p[i++] - '0');
        if (i == start || v > 255 || (p[start] == '0' && i - start > 1))
            return false;
    }
    return true;
}

/* inet_pton decides the syntax; "dead::beef" or "add::" from prose or code
 * are refused unless the text also has a decimal digit or 3+ groups. */
static bool check_ipv6(const char *p, size_t n, size_t *keep)
{
    char tmp[64];
    unsigned char addr[16];
    if (n >= sizeof tmp)
        return false;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    if (inet_pton(AF_INET6, tmp, addr) != 1)
        return false;
    size_t groups = 0, dec = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_digit(p[i]))
            dec++;
        if (p[i] != ':' && (i == 0 || p[i - 1] == ':'))
            groups++;
    }
    return dec > 0 || groups >= 3;
}

/* sk- keys and bearer tokens must look random: a letter and a digit, which
 * placeholders such as "sk-your-key-here" or "Bearer YOUR_TOKEN" lack. */
static bool check_secret(const char *p, size_t n, size_t *keep)
{
    static const char *fixed[] = {"sk-ant-", "AKIA", "ASIA", "gh",   "github_pat_",
                                  "xox",     "AIza", "eyJ",  "-----"};
    bool letter = false, digit = false;
    for (size_t i = 0; i < LX_ARRAY_LEN(fixed); i++)
        if (lx_str_starts_with((lx_str){p, n}, lx_str_from_cstr(fixed[i])))
            return true;
    for (size_t i = 0; i < n; i++) {
        digit |= is_digit(p[i]);
        letter |= is_alnum(p[i]) && !is_digit(p[i]);
    }
    return letter && digit;
}

/* ---- built-in patterns --------------------------------------------------- */

static const char pat_email[] =
    "(?<![A-Za-z0-9._%+\\x80-\\xff-])[A-Za-z0-9\\x80-\\xff][A-Za-z0-9._%+\\x80-\\xff-]{0,63}@"
    "(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.){1,8}[A-Za-z]{2,24}"
    "(?![A-Za-z0-9_-]|\\.[A-Za-z0-9])";

static const char pat_phone[] =
    "(?<![A-Za-z0-9_+.,/-])(?<![A-Z0-9]{4} )(?:" /* not inside grouped codes */
    "\\+[1-9][0-9]{0,2}(?:[ .-]?\\(?[0-9]{1,5}\\)?){1,6}"
    "|\\(0?[1-9][0-9]{1,4}\\)[ .-]?[0-9]{2,8}(?:[ .-][0-9]{2,8}){0,3}"
    "|0[1-9][0-9]{0,4}(?:[ ./-][0-9]{2,8}){1,4}"
    "|[2-9][0-9]{2}([ .-])[2-9][0-9]{2}\\1[0-9]{4})"
    "(?![A-Za-z0-9_]|[.,/-][0-9])";

static const char pat_card[] = "(?<![A-Za-z0-9_.,/-])(?:"
                               "[0-9]{4}([ -])[0-9]{4}\\1[0-9]{4}\\1[0-9]{1,4}(?:\\1[0-9]{1,3})?"
                               "|[0-9]{4}([ -])[0-9]{6}\\2[0-9]{4,5}"
                               "|[0-9]{13,19})"
                               "(?![A-Za-z0-9_]|[.,/-][0-9])";

static const char pat_iban[] = "(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}"
                               "(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])";

static const char pat_ipv4[] = "(?<![A-Za-z0-9_.])(?<![Vv]ersion )(?<![Vv]er\\. )"
                               "(?:[0-9]{1,3}\\.){3}[0-9]{1,3}"
                               "(?![A-Za-z0-9_]|\\.[A-Za-z0-9])";

static const char pat_ipv6[] = "(?<![A-Za-z0-9_:.])"
                               "(?:[0-9A-Fa-f]{0,4}:){2,7}"
                               "(?:[0-9]{1,3}(?:\\.[0-9]{1,3}){3}|[0-9A-Fa-f]{0,4})"
                               "(?![A-Za-z0-9_:]|\\.[A-Za-z0-9])";

static const char pat_secret[] =
    "(?<![A-Za-z0-9_-])(?:"
    "sk-ant-(?:api|admin|oat)[0-9]{2}-[A-Za-z0-9_-]{32,200}"
    "|sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,200}"
    "|(?:AKIA|ASIA)[A-Z0-9]{16}"
    "|gh[pousr]_[A-Za-z0-9]{36,251}"
    "|github_pat_[A-Za-z0-9_]{40,255}"
    "|xox[abposr]-[A-Za-z0-9-]{10,250}"
    "|AIza[A-Za-z0-9_-]{35}"
    "|eyJ[A-Za-z0-9_-]{8,2000}\\.eyJ[A-Za-z0-9_-]{8,4000}\\.[A-Za-z0-9_-]{16,1000}"
    "|[Bb](?i:earer)[ \\t]+([A-Za-z0-9._~+/-]{16,1000}=*)"
    "|-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY-----[\\s\\S]{16,12000}?"
    "-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY-----)"
    "(?![A-Za-z0-9_-])";

struct builtin {
    const char *name;
    const char *pattern;
    check_fn check;
    bool value_group;
};

static const struct builtin builtins[] = {
    {"email", pat_email, check_email, false},   {"phone", pat_phone, check_phone, false},
    {"card", pat_card, check_card, false},      {"iban", pat_iban, check_iban, false},
    {"ipv4", pat_ipv4, check_ipv4, false},      {"ipv6", pat_ipv6, check_ipv6, false},
    {"secret", pat_secret, check_secret, true},
};

/* ---- the set ------------------------------------------------------------- */

void lx_redact_limits_default(lx_redact_limits *lim)
{
    lim->max_detectors = 32;
    lim->max_pattern = 1024;
    lim->max_text = 4u << 20;
    lim->max_pseudonyms = 1024;
    lim->max_table_bytes = 256u << 10;
    lim->max_hold = 16u << 10;
    lim->match_limit = 100000;
}

lx_redact_set *lx_redact_set_new(const lx_redact_limits *lim)
{
    lx_redact_set *set = calloc(1, sizeof *set);
    if (set == NULL)
        return NULL;
    if (lim)
        set->lim = *lim;
    else
        lx_redact_limits_default(&set->lim);
    set->det = calloc(set->lim.max_detectors ? set->lim.max_detectors : 1, sizeof *set->det);
    if (set->det == NULL) {
        free(set);
        return NULL;
    }
    return set;
}

void lx_redact_set_free(lx_redact_set *set)
{
    if (set == NULL)
        return;
    for (size_t i = 0; i < set->n; i++)
        pcre2_code_free(set->det[i].code);
    free(set->det);
    free(set);
}

static int fail(lx_buf *err, const char *fmt, const char *arg)
{
    if (err)
        lx_buf_printf(err, fmt, arg);
    return LX_ERR;
}

static bool has_backslash_k(const char *pattern)
{
    for (const char *p = pattern; *p; p++)
        if (*p == '\\') {
            if (p[1] == 'K')
                return true;
            if (p[1])
                p++;
        }
    return false;
}

/* Compiles and appends one detector; the caller checked name and room. */
static int add_detector(lx_redact_set *set, const char *name, const char *pattern, check_fn check,
                        bool value_group, lx_redact_action action, lx_buf *err)
{
    int ec;
    PCRE2_SIZE eoff;
    uint32_t lookbehind = 0, minlen = 0;
    if (action < LX_REDACT_MASK || action > LX_REDACT_TAG)
        return fail(err, "detector %s: unknown action", name);
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                     PCRE2_NEVER_UTF | PCRE2_NEVER_BACKSLASH_C, &ec, &eoff, NULL);
    if (code == NULL) {
        PCRE2_UCHAR msg[120];
        pcre2_get_error_message(ec, msg, sizeof msg);
        if (err)
            lx_buf_printf(err, "detector %s: %s at offset %zu", name, (char *)msg, (size_t)eoff);
        return LX_ERR;
    }
    pcre2_pattern_info(code, PCRE2_INFO_MAXLOOKBEHIND, &lookbehind);
    pcre2_pattern_info(code, PCRE2_INFO_MINLENGTH, &minlen);
    if (lookbehind > MAX_LOOKBEHIND || minlen == 0) {
        pcre2_code_free(code);
        return fail(err, "detector %s: pattern may match nothing or looks too far behind", name);
    }
    /* Without JIT PCRE2 interprets the pattern: slower, same results. */
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE | PCRE2_JIT_PARTIAL_HARD);
    struct detector *d = &set->det[set->n++];
    snprintf(d->name, sizeof d->name, "%s", name);
    for (size_t i = 0; i <= strlen(name); i++)
        d->label[i] = name[i] == '-'
                          ? '_'
                          : (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
    d->action = action;
    d->code = code;
    d->check = check;
    d->value_group = value_group;
    return LX_OK;
}

static int check_room(lx_redact_set *set, const char *name, lx_buf *err)
{
    if (set->n >= set->lim.max_detectors)
        return fail(err, "detector %s: too many detectors", name);
    if (lx_redact_set_find(set, name) >= 0)
        return fail(err, "detector %s: defined twice", name);
    return LX_OK;
}

int lx_redact_set_add_builtin(lx_redact_set *set, const char *name, lx_redact_action action,
                              lx_buf *err)
{
    if (strcmp(name, "ip") == 0) {
        if (lx_redact_set_add_builtin(set, "ipv4", action, err) != LX_OK)
            return LX_ERR;
        return lx_redact_set_add_builtin(set, "ipv6", action, err);
    }
    for (size_t i = 0; i < LX_ARRAY_LEN(builtins); i++) {
        const struct builtin *b = &builtins[i];
        if (strcmp(b->name, name) != 0)
            continue;
        if (check_room(set, name, err) != LX_OK)
            return LX_ERR;
        return add_detector(set, b->name, b->pattern, b->check, b->value_group, action, err);
    }
    return fail(err, "unknown detector %s", name);
}

int lx_redact_set_add_custom(lx_redact_set *set, const char *name, const char *pattern,
                             lx_redact_action action, lx_buf *err)
{
    size_t n = strlen(name);
    if (n == 0 || n > NAME_MAX_LEN || strcmp(name, "ip") == 0)
        return fail(err, "bad detector name %s", name);
    for (size_t i = 0; i < n; i++)
        if (!(is_digit(name[i]) || (name[i] >= 'a' && name[i] <= 'z') || name[i] == '_' ||
              name[i] == '-'))
            return fail(err, "bad detector name %s", name);
    for (size_t i = 0; i < LX_ARRAY_LEN(builtins); i++)
        if (strcmp(builtins[i].name, name) == 0)
            return fail(err, "detector %s: name of a built-in", name);
    if (strlen(pattern) > set->lim.max_pattern)
        return fail(err, "detector %s: pattern too long", name);
    if (has_backslash_k(pattern))
        return fail(err, "detector %s: \\K is not supported, use group 1", name);
    if (check_room(set, name, err) != LX_OK)
        return LX_ERR;
    return add_detector(set, name, pattern, NULL, true, action, err);
}

size_t lx_redact_set_count(const lx_redact_set *set)
{
    return set->n;
}

const char *lx_redact_set_name(const lx_redact_set *set, size_t i)
{
    return i < set->n ? set->det[i].name : NULL;
}

lx_redact_action lx_redact_set_action(const lx_redact_set *set, size_t i)
{
    return i < set->n ? set->det[i].action : LX_REDACT_MASK;
}

int lx_redact_set_find(const lx_redact_set *set, const char *name)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->det[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* ---- the context --------------------------------------------------------- */

lx_redact_ctx *lx_redact_ctx_new(const lx_redact_set *set)
{
    lx_redact_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL)
        return NULL;
    size_t n = set->n ? set->n : 1;
    ctx->set = set;
    ctx->md = pcre2_match_data_create(4, NULL);
    ctx->mctx = pcre2_match_context_create(NULL);
    ctx->cand = calloc(n, sizeof *ctx->cand);
    ctx->matches = calloc(n, sizeof *ctx->matches);
    ctx->next_num = calloc(n, sizeof *ctx->next_num);
    /* the pseudonym table (max_pseudonyms entries) comes with the first pseudonym */
    lx_buf_init(&ctx->values, set->lim.max_table_bytes);
    if (!ctx->md || !ctx->mctx || !ctx->cand || !ctx->matches || !ctx->next_num) {
        lx_redact_ctx_free(ctx);
        return NULL;
    }
    pcre2_set_match_limit(ctx->mctx, set->lim.match_limit);
    pcre2_set_heap_limit(ctx->mctx, 4096); /* KiB, for the interpreter */
    return ctx;
}

void lx_redact_ctx_free(lx_redact_ctx *ctx)
{
    if (ctx == NULL)
        return;
    pcre2_match_data_free(ctx->md);
    pcre2_match_context_free(ctx->mctx);
    free(ctx->cand);
    free(ctx->matches);
    free(ctx->next_num);
    free(ctx->table);
    lx_buf_release(&ctx->values);
    free(ctx);
}

size_t lx_redact_ctx_matches(const lx_redact_ctx *ctx, size_t i)
{
    return i < ctx->set->n ? ctx->matches[i] : 0;
}

unsigned lx_redact_ctx_flags(const lx_redact_ctx *ctx)
{
    return ctx->flags;
}

static uint32_t hash_bytes(const char *p, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h;
}

/* The pseudonym number of value for detector d, issuing one if new; 0 when
 * the table is full. */
static uint32_t pseudonym_for(lx_redact_ctx *ctx, size_t d, const char *p, size_t n)
{
    uint32_t h = hash_bytes(p, n);
    for (size_t i = 0; i < ctx->nentries; i++) {
        struct entry *e = &ctx->table[i];
        if (e->det == d && e->hash == h && e->len == n &&
            memcmp(ctx->values.data + e->off, p, n) == 0)
            return e->num;
    }
    size_t off = ctx->values.len;
    if (ctx->table == NULL &&
        !(ctx->table = calloc(LX_MAX(ctx->set->lim.max_pseudonyms, 1), sizeof *ctx->table)))
        return 0;
    if (ctx->nentries >= ctx->set->lim.max_pseudonyms || lx_buf_append(&ctx->values, p, n) != LX_OK)
        return 0;
    struct entry *e = &ctx->table[ctx->nentries++];
    *e = (struct entry){(uint32_t)d, ++ctx->next_num[d], h, off, n};
    return e->num;
}

/* ---- the engine ---------------------------------------------------------- */

/* The first match of detector d at or after from that passes its check. */
static int find(lx_redact_ctx *ctx, size_t d, const char *subj, size_t len, size_t from, bool final,
                struct cand *c)
{
    const struct detector *dt = &ctx->set->det[d];
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(ctx->md);
    uint32_t opts = final ? 0 : PCRE2_PARTIAL_HARD;
    while (from <= len) {
        int rc = pcre2_match(dt->code, (PCRE2_SPTR)subj, len, from, opts, ctx->md, ctx->mctx);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc == PCRE2_ERROR_PARTIAL) {
            c->state = C_PARTIAL;
            c->s = ov[0];
            return LX_OK;
        }
        if (rc < 0)
            return LX_ERR;
        size_t s = ov[0], e = ov[1], vs = s, ve = e;
        if (dt->value_group && rc >= 2 && ov[2] != PCRE2_UNSET) {
            vs = ov[2];
            ve = ov[3];
        }
        size_t keep = ve - vs;
        if (e > s && ve > vs && vs >= s && ve <= e &&
            (dt->check == NULL || dt->check(subj + vs, ve - vs, &keep))) {
            if (keep < ve - vs) {
                ve = vs + keep;
                if (e > ve && !dt->value_group)
                    e = ve;
            }
            *c = (struct cand){C_HIT, s, e, vs, ve};
            return LX_OK;
        }
        from = (s >= from ? s : from) + 1;
    }
    c->state = C_NONE;
    return LX_OK;
}

static int emit(struct sink *k, const char *p, size_t n)
{
    return k->out ? lx_buf_append(k->out, p, n) : LX_OK;
}

/* Acts on one match: writes its replacement, counts it, raises flags. */
static int act(lx_redact_ctx *ctx, size_t d, const char *subj, const struct cand *c, struct sink *k,
               size_t base)
{
    const struct detector *dt = &ctx->set->det[d];
    if (k->fn) {
        k->fn_rc = k->fn(k->data, d, base + c->vs, base + c->ve);
        return k->fn_rc ? LX_ERR : LX_OK;
    }
    ctx->matches[d]++;
    if (emit(k, subj + c->s, c->vs - c->s) != LX_OK)
        return LX_ERR;
    int rc = LX_OK;
    uint32_t num;
    switch (dt->action) {
    case LX_REDACT_PSEUDONYM:
        num = pseudonym_for(ctx, d, subj + c->vs, c->ve - c->vs);
        if (num) {
            rc = lx_buf_printf(k->out, "<%s_%u>", dt->label, (unsigned)num);
            break;
        }
        ctx->flags |= LX_REDACT_TABLE_FULL; /* a mask never leaks the value */
        __attribute__((fallthrough));
    case LX_REDACT_MASK:
        rc = lx_buf_printf(k->out, "[REDACTED:%s]", dt->label);
        break;
    case LX_REDACT_BLOCK:
    case LX_REDACT_TAG:
        ctx->flags |= dt->action == LX_REDACT_BLOCK ? LX_REDACT_BLOCKED : LX_REDACT_TAGGED;
        rc = emit(k, subj + c->vs, c->ve - c->vs);
        break;
    }
    if (rc != LX_OK)
        return LX_ERR;
    return emit(k, subj + c->ve, c->e - c->ve);
}

/* Redacts subj from *pos. Not final: stops before the first byte a later
 * chunk could still make part of a match, and leaves *pos there. base is
 * the offset of subj in the caller's text (for scan callbacks). */
static int run(lx_redact_ctx *ctx, const char *subj, size_t len, size_t *pos, bool final,
               struct sink *k, size_t base)
{
    size_t n = ctx->set->n;
    for (size_t d = 0; d < n; d++)
        ctx->cand[d].state = C_UNKNOWN;
    for (;;) {
        size_t p = *pos, barrier = len;
        struct cand *best = NULL;
        size_t best_d = 0;
        for (size_t d = 0; d < n; d++) {
            struct cand *c = &ctx->cand[d];
            if (c->state == C_UNKNOWN || (c->state != C_NONE && c->s < p))
                if (find(ctx, d, subj, len, p, final, c) != LX_OK)
                    return LX_ERR;
            if (c->state == C_PARTIAL && c->s < barrier)
                barrier = c->s;
            if (c->state == C_HIT &&
                (!best || c->s < best->s || (c->s == best->s && c->e > best->e))) {
                best = c;
                best_d = d;
            }
        }
        if (best == NULL || (!final && barrier <= best->s)) {
            if (barrier < p)
                barrier = p;
            *pos = barrier;
            return emit(k, subj + p, barrier - p);
        }
        if (emit(k, subj + p, best->s - p) != LX_OK ||
            act(ctx, best_d, subj, best, k, base) != LX_OK)
            return LX_ERR;
        *pos = best->e;
    }
}

int lx_redact_text(lx_redact_ctx *ctx, lx_str text, lx_buf *out)
{
    if (text.len > ctx->set->lim.max_text)
        return LX_ERR;
    struct sink k = {.out = out};
    size_t pos = 0;
    return run(ctx, text.ptr ? text.ptr : "", text.len, &pos, true, &k, 0);
}

int lx_redact_scan(lx_redact_ctx *ctx, lx_str text, lx_redact_match_fn fn, void *data)
{
    if (text.len > ctx->set->lim.max_text)
        return LX_ERR;
    struct sink k = {.fn = fn, .data = data};
    size_t pos = 0;
    int rc = run(ctx, text.ptr ? text.ptr : "", text.len, &pos, true, &k, 0);
    return k.fn_rc ? k.fn_rc : rc;
}

/* ---- restoration --------------------------------------------------------- */

static bool is_label_char(char c)
{
    return (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
}

/* The original value for the token "<" p[0..n) ">", or NULL. */
static const struct entry *lookup_token(const lx_redact_ctx *ctx, const char *p, size_t n)
{
    size_t us = n;
    while (us > 0 && p[us - 1] != '_')
        us--;
    if (us < 2 || us == n || n - us > 9)
        return NULL;
    uint32_t num = 0;
    for (size_t i = us; i < n; i++) {
        if (!is_digit(p[i]))
            return NULL;
        num = num * 10 + (uint32_t)(p[i] - '0');
    }
    for (size_t i = 0; i < ctx->nentries; i++) {
        const struct entry *e = &ctx->table[i];
        const char *label = ctx->set->det[e->det].label;
        if (e->num == num && strlen(label) == us - 1 && memcmp(label, p, us - 1) == 0)
            return e;
    }
    return NULL;
}

/* Restores subj from *pos; not final, it stops at a '<' that may begin a
 * token the next chunk completes. */
static int restore_run(lx_redact_ctx *ctx, const char *subj, size_t len, size_t *pos, bool final,
                       lx_buf *out)
{
    size_t p = *pos;
    while (p < len) {
        const char *lt = memchr(subj + p, '<', len - p);
        size_t at = lt ? (size_t)(lt - subj) : len;
        if (lx_buf_append(out, subj + p, at - p) != LX_OK)
            return LX_ERR;
        p = at;
        if (p == len)
            break;
        size_t q = p + 1;
        while (q < len && q - p <= TOKEN_MAX && is_label_char(subj[q]))
            q++;
        if (q == len && q - p <= TOKEN_MAX && !final)
            break; /* may still become a token */
        const struct entry *e = NULL;
        if (q < len && subj[q] == '>')
            e = lookup_token(ctx, subj + p + 1, q - p - 1);
        if (e) {
            if (lx_buf_append(out, ctx->values.data + e->off, e->len) != LX_OK)
                return LX_ERR;
            p = q + 1;
        } else {
            if (lx_buf_append_char(out, '<') != LX_OK)
                return LX_ERR;
            p++;
        }
    }
    *pos = p;
    return LX_OK;
}

int lx_redact_restore(lx_redact_ctx *ctx, lx_str text, lx_buf *out)
{
    if (text.len > ctx->set->lim.max_text)
        return LX_ERR;
    size_t pos = 0;
    return restore_run(ctx, text.ptr ? text.ptr : "", text.len, &pos, true, out);
}

/* ---- streams ------------------------------------------------------------- */

lx_redact_stream *lx_redact_stream_new(lx_redact_ctx *ctx, bool restore)
{
    lx_redact_stream *st = calloc(1, sizeof *st);
    if (st == NULL)
        return NULL;
    const lx_redact_limits *lim = &ctx->set->lim;
    st->ctx = ctx;
    st->restore = restore;
    lx_buf_init(&st->in, lim->max_text + lim->max_hold + LEFT_CONTEXT);
    return st;
}

void lx_redact_stream_free(lx_redact_stream *st)
{
    if (st == NULL)
        return;
    lx_buf_release(&st->in);
    free(st);
}

size_t lx_redact_stream_held(const lx_redact_stream *st)
{
    return st->in.len - st->pos;
}

static int stream_run(lx_redact_stream *st, bool final, lx_buf *out)
{
    struct sink k = {.out = out};
    const char *subj = st->in.data ? st->in.data : "";
    if (st->restore)
        return restore_run(st->ctx, subj, st->in.len, &st->pos, final, out);
    return run(st->ctx, subj, st->in.len, &st->pos, final, &k, 0);
}

int lx_redact_stream_feed(lx_redact_stream *st, lx_str chunk, lx_buf *out)
{
    if (st->failed || chunk.len > st->ctx->set->lim.max_text ||
        lx_buf_append(&st->in, chunk.ptr, chunk.len) != LX_OK ||
        stream_run(st, false, out) != LX_OK)
        goto failed;
    if (st->in.len - st->pos > st->ctx->set->lim.max_hold) {
        st->ctx->flags |= LX_REDACT_HOLD_OVERFLOW;
        if (stream_run(st, true, out) != LX_OK)
            goto failed;
    }
    if (st->pos > LEFT_CONTEXT) {
        size_t drop = st->pos - LEFT_CONTEXT;
        lx_buf_consume(&st->in, drop);
        st->pos -= drop;
    }
    return LX_OK;
failed:
    st->failed = true;
    return LX_ERR;
}

int lx_redact_stream_flush(lx_redact_stream *st, lx_buf *out)
{
    if (st->failed || stream_run(st, true, out) != LX_OK) {
        st->failed = true;
        return LX_ERR;
    }
    return LX_OK;
}
