/*
 * seal.h — state kept by the client instead of the gateway: authenticated
 * encryption of small blobs (a reasoning item's text for Responses'
 * `encrypted_content`, issue 3 item 8).
 *
 * A stateless Responses client (Codex CLI sends store:false with
 * include:["reasoning.encrypted_content"]) replays the whole history on
 * every turn. llmux seals a local model's reasoning into the reasoning
 * item's encrypted_content and opens it when the item comes back, so the
 * reasoning survives the round trip without any server state.
 *
 * Format (base64, standard alphabet, padded):
 *   "lx1" || nonce (12 bytes) || ciphertext || tag (16 bytes)
 * AES-256-GCM with a random nonce per seal; the additional authenticated
 * data is the caller's context string (e.g. "reasoning"), so a blob sealed
 * for one purpose does not open for another. Anything that does not open
 * (another key, a flipped bit, another gateway's blob such as OpenAI's
 * own) fails with LX_ERR and no plaintext.
 *
 * The key is 32 bytes: from config (responses.encryption_key_env, 64 hex
 * digits), or random per process when none is set — then sealed items
 * open only until the gateway restarts.
 */
#ifndef LX_STORE_SEAL_H
#define LX_STORE_SEAL_H

#include "../core/buf.h"
#include "../core/str.h"

enum {
    LX_SEAL_KEY_LEN = 32,
    LX_SEAL_MAX_PLAIN = 1 << 20, /* bytes one seal may hold */
};

struct lx_seal {
    unsigned char key[LX_SEAL_KEY_LEN];
};

/* Reads a key from 64 hex digits. LX_ERR when hex is not exactly that. */
int lx_seal_init_hex(struct lx_seal *s, const char *hex);
/* A random key (OpenSSL RAND_bytes). LX_ERR when the generator fails. */
int lx_seal_init_random(struct lx_seal *s);
/* Wipes the key. */
void lx_seal_clear(struct lx_seal *s);

/* Appends the base64 seal of plain (at most LX_SEAL_MAX_PLAIN bytes) under
 * context ctx to out. LX_OK, or LX_ERR (too long, out's cap, OpenSSL). */
int lx_seal_close(const struct lx_seal *s, const char *ctx, lx_str plain, lx_buf *out);

/* Opens a base64 seal made under context ctx and appends the plaintext to
 * out. LX_ERR when it is not one of ours, was altered or out is full (out
 * then holds nothing new). */
int lx_seal_open(const struct lx_seal *s, const char *ctx, lx_str sealed, lx_buf *out);

#endif
