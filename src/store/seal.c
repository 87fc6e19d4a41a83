/* seal.c — AES-256-GCM seals for client-held state (see seal.h). */
#include "seal.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

enum { MAGIC_LEN = 3, NONCE_LEN = 12, TAG_LEN = 16, OVERHEAD = MAGIC_LEN + NONCE_LEN + TAG_LEN };
static const char magic[MAGIC_LEN] = {'l', 'x', '1'};

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

int lx_seal_init_hex(struct lx_seal *s, const char *hex)
{
    if (hex == NULL || strlen(hex) != 2 * LX_SEAL_KEY_LEN)
        return LX_ERR;
    for (size_t i = 0; i < LX_SEAL_KEY_LEN; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            lx_seal_clear(s);
            return LX_ERR;
        }
        s->key[i] = (unsigned char)(hi << 4 | lo);
    }
    return LX_OK;
}

int lx_seal_init_random(struct lx_seal *s)
{
    return RAND_bytes(s->key, sizeof(s->key)) == 1 ? LX_OK : LX_ERR;
}

void lx_seal_clear(struct lx_seal *s)
{
    explicit_bzero(s->key, sizeof(s->key));
}

/* One GCM pass: encrypt (enc) or decrypt in into out (same length), with
 * the tag written (enc) or checked. True on success. */
static bool gcm(const struct lx_seal *s, bool enc, const unsigned char *nonce, const char *ctx,
                const unsigned char *in, size_t n, unsigned char *out, unsigned char *tag)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0;
    bool ok = c && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
              EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1 &&
              EVP_CipherInit_ex(c, NULL, NULL, s->key, nonce, enc) == 1 &&
              EVP_CipherUpdate(c, NULL, &len, (const unsigned char *)ctx, (int)strlen(ctx)) == 1 &&
              (n == 0 || EVP_CipherUpdate(c, out, &len, in, (int)n) == 1);
    if (ok && !enc)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1;
    ok = ok && EVP_CipherFinal_ex(c, out + (n ? (size_t)len : 0), &len) == 1;
    if (ok && enc)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok;
}

int lx_seal_close(const struct lx_seal *s, const char *ctx, lx_str plain, lx_buf *out)
{
    if (plain.len > LX_SEAL_MAX_PLAIN)
        return LX_ERR;
    size_t raw_len = OVERHEAD + plain.len;
    unsigned char *raw = malloc(raw_len);
    if (raw == NULL)
        return LX_ERR;
    unsigned char *nonce = raw + MAGIC_LEN, *ct = nonce + NONCE_LEN, *tag = ct + plain.len;
    memcpy(raw, magic, MAGIC_LEN);
    int rc = LX_ERR;
    if (RAND_bytes(nonce, NONCE_LEN) == 1 &&
        gcm(s, true, nonce, ctx, (const unsigned char *)plain.ptr, plain.len, ct, tag)) {
        size_t b64_len = 4 * ((raw_len + 2) / 3);
        if (lx_buf_reserve(out, b64_len + 1) == LX_OK) {
            int n = EVP_EncodeBlock((unsigned char *)out->data + out->len, raw, (int)raw_len);
            if (n == (int)b64_len) {
                out->len += (size_t)n;
                rc = LX_OK;
            }
        }
    }
    free(raw);
    return rc;
}

int lx_seal_open(const struct lx_seal *s, const char *ctx, lx_str sealed, lx_buf *out)
{
    size_t max_b64 = 4 * ((OVERHEAD + LX_SEAL_MAX_PLAIN + 2) / 3);
    if (sealed.len == 0 || sealed.len % 4 != 0 || sealed.len > max_b64)
        return LX_ERR;
    unsigned char *raw = malloc(sealed.len / 4 * 3 + 1);
    if (raw == NULL)
        return LX_ERR;
    int n = EVP_DecodeBlock(raw, (const unsigned char *)sealed.ptr, (int)sealed.len);
    int rc = LX_ERR;
    if (n > 0) {
        /* EVP_DecodeBlock counts the padding's zero bytes: take them off */
        size_t raw_len =
            (size_t)n - (sealed.ptr[sealed.len - 1] == '=') - (sealed.ptr[sealed.len - 2] == '=');
        if (raw_len >= OVERHEAD && memcmp(raw, magic, MAGIC_LEN) == 0) {
            size_t plain_len = raw_len - OVERHEAD;
            unsigned char *nonce = raw + MAGIC_LEN, *ct = nonce + NONCE_LEN, *tag = ct + plain_len;
            size_t mark = out->len;
            if (lx_buf_reserve(out, plain_len + 1) == LX_OK) {
                unsigned char *dst = (unsigned char *)out->data + mark;
                if (gcm(s, false, nonce, ctx, ct, plain_len, dst, tag)) {
                    out->len = mark + plain_len;
                    rc = LX_OK;
                } else {
                    explicit_bzero(dst, plain_len); /* no unauthenticated plaintext */
                }
            }
        }
    }
    free(raw);
    return rc;
}
