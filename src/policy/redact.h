/*
 * redact.h — detectors for personal data and secrets in text, and what to do
 * with what they find.
 *
 * A detector set (lx_redact_set) is built once from built-in detectors chosen
 * by name and custom PCRE2 patterns, each with an action; it is compiled with
 * the PCRE2 JIT and then only read, so one set may serve many requests on many
 * threads. Per request, a context (lx_redact_ctx) holds the mutable state: the
 * pseudonym table (value <-> "<EMAIL_1>"), a match counter per detector and
 * the block/tag flags the policy reads. A context is used by one thread.
 *
 * Built-in detectors (names for lx_redact_set_add_builtin):
 *   email   addresses; "icon@2x.png" style file names are rejected
 *   phone   international (+CC ...) and national formats with a trunk 0 or
 *           the North American (NPA) NXX-XXXX shape; 8 to 15 digits
 *   card    13-19 digit payment card numbers, grouped or not, with a known
 *           issuer prefix and a valid Luhn check digit
 *   iban    IBANs with a known country length and a valid mod-97 check
 *   ipv4    dotted quads with octets 0-255, not after "version "
 *   ipv6    RFC 4291 text forms (checked with inet_pton)
 *   secret  API keys and tokens: OpenAI sk-..., Anthropic sk-ant-..., AWS
 *           AKIA/ASIA, GitHub ghp_/gho_/ghu_/ghs_/ghr_/github_pat_, Slack
 *           xox?-, Google AIza..., JWTs, the token of "Bearer <token>" and
 *           PEM private-key blocks
 * Matching is on bytes (no UTF-8 mode): every built-in is ASCII.
 *
 * Actions: MASK writes "[REDACTED:LABEL]"; PSEUDONYM writes "<LABEL_N>", the
 * same N for the same value within one context, and the context can map it
 * back (lx_redact_restore); BLOCK and TAG leave the text unchanged and only
 * raise a flag and count. LABEL is the detector name in capitals.
 *
 * When two detectors match, the leftmost match wins, then the longest, then
 * the detector added first. A match is never reported twice.
 *
 * Streaming: lx_redact_stream_feed() takes text in chunks and writes only
 * what can no longer be part of a match; it holds back the tail that PCRE2
 * reports as a partial match (PCRE2_PARTIAL_HARD), so the output of a stream
 * is byte for byte the output of lx_redact_text() on the concatenated text
 * as long as no pending match grows beyond max_hold (every built-in is
 * bounded well below the default). Past it the held bytes are decided as if
 * the text ended there, and LX_REDACT_HOLD_OVERFLOW is raised.
 */
#ifndef LX_REDACT_H
#define LX_REDACT_H

#include "core/buf.h"
#include "core/str.h"

typedef struct lx_redact_set lx_redact_set;
typedef struct lx_redact_ctx lx_redact_ctx;
typedef struct lx_redact_stream lx_redact_stream;

typedef enum lx_redact_action {
    LX_REDACT_MASK,
    LX_REDACT_PSEUDONYM,
    LX_REDACT_BLOCK,
    LX_REDACT_TAG,
} lx_redact_action;

/* Flags a context raises (lx_redact_ctx_flags). */
enum {
    LX_REDACT_BLOCKED = 1u << 0,      /* a BLOCK detector matched */
    LX_REDACT_TAGGED = 1u << 1,       /* a TAG detector matched */
    LX_REDACT_TABLE_FULL = 1u << 2,   /* a pseudonym fell back to a mask */
    LX_REDACT_HOLD_OVERFLOW = 1u << 3 /* a stream hit max_hold */
};

typedef struct lx_redact_limits {
    size_t max_detectors;   /* detectors in a set */
    size_t max_pattern;     /* bytes of a custom pattern */
    size_t max_text;        /* bytes of one text or one stream chunk */
    size_t max_pseudonyms;  /* entries in a context's pseudonym table */
    size_t max_table_bytes; /* bytes of original values the table keeps */
    size_t max_hold;        /* bytes a stream may hold back */
    uint32_t match_limit;   /* PCRE2 match limit per search (backtracking) */
} lx_redact_limits;

/* Fills in the defaults: 32 detectors, 1 KiB patterns, 4 MiB texts, 1024
 * pseudonyms, 256 KiB of values, 16 KiB held back, match limit 100000. */
void lx_redact_limits_default(lx_redact_limits *lim);

/* A new empty set with the given limits (NULL: defaults). The caller owns it
 * and frees it with lx_redact_set_free() after every context made from it. */
lx_redact_set *lx_redact_set_new(const lx_redact_limits *lim);
void lx_redact_set_free(lx_redact_set *set);

/* Adds the built-in detector called name (see the list above; "ip" adds both
 * ipv4 and ipv6). LX_ERR for an unknown name, a duplicate or a full set,
 * with a message in err (which may be NULL). */
int lx_redact_set_add_builtin(lx_redact_set *set, const char *name, lx_redact_action action,
                              lx_buf *err);

/* Adds a custom detector. name ([a-z0-9_-], 1-31 bytes, not a built-in's)
 * gives its label; pattern is PCRE2 syntax, compiled without UTF mode; it
 * must not match the empty string and may look behind at most 32 bytes.
 * When the pattern has a capture group 1 that took part, only that group is
 * redacted. Both strings are copied. LX_ERR with a message in err. */
int lx_redact_set_add_custom(lx_redact_set *set, const char *name, const char *pattern,
                             lx_redact_action action, lx_buf *err);

/* Detectors are numbered in the order they were added. */
size_t lx_redact_set_count(const lx_redact_set *set);
const char *lx_redact_set_name(const lx_redact_set *set, size_t i);
lx_redact_action lx_redact_set_action(const lx_redact_set *set, size_t i);
/* The index of the detector called name, or -1. */
int lx_redact_set_find(const lx_redact_set *set, const char *name);

/* A new context reading set (which must outlive it). NULL out of memory. */
lx_redact_ctx *lx_redact_ctx_new(const lx_redact_set *set);
void lx_redact_ctx_free(lx_redact_ctx *ctx);
/* How many values detector i matched in this context so far. */
size_t lx_redact_ctx_matches(const lx_redact_ctx *ctx, size_t i);
/* The LX_REDACT_* flags raised so far. */
unsigned lx_redact_ctx_flags(const lx_redact_ctx *ctx);

/* Appends the redacted text to out. LX_ERR if text is longer than max_text,
 * out reaches its cap or PCRE2 fails (out may then hold part of the text:
 * discard it). */
int lx_redact_text(lx_redact_ctx *ctx, lx_str text, lx_buf *out);

/* Appends text to out with every pseudonym this context issued replaced by
 * its original value; other text, unknown tokens included, is copied. */
int lx_redact_restore(lx_redact_ctx *ctx, lx_str text, lx_buf *out);

/* Calls fn for each match in text, in order, without acting on it, counting
 * it or touching the table; fn returning non-zero stops the scan and that
 * value is returned. start/end are byte offsets into text. */
typedef int (*lx_redact_match_fn)(void *data, size_t detector, size_t start, size_t end);
int lx_redact_scan(lx_redact_ctx *ctx, lx_str text, lx_redact_match_fn fn, void *data);

/* A stream redacting (restore false) or restoring (restore true) text that
 * arrives in chunks, acting on ctx (which must outlive it). NULL out of
 * memory. The stream owns the bytes it holds back. */
lx_redact_stream *lx_redact_stream_new(lx_redact_ctx *ctx, bool restore);
void lx_redact_stream_free(lx_redact_stream *st);
/* Takes the next chunk (at most max_text bytes) and appends to out the text
 * that is now decided. After an LX_ERR the stream only fails. */
int lx_redact_stream_feed(lx_redact_stream *st, lx_str chunk, lx_buf *out);
/* Ends the text: appends everything still held back. */
int lx_redact_stream_flush(lx_redact_stream *st, lx_buf *out);
/* Bytes held back right now. */
size_t lx_redact_stream_held(const lx_redact_stream *st);

#endif
