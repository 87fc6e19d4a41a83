/* id.c — see id.h. */
#include "id.h"

#include <sys/random.h>

static _Thread_local uint64_t rng_state[4];
static _Thread_local bool rng_seeded;

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static void rng_seed(void)
{
    if (getrandom(rng_state, sizeof(rng_state), 0) != (ssize_t)sizeof(rng_state)) {
        /* The kernel always has entropy after boot; fall back to the address
         * of the state and the clock only to keep ids distinct. */
        rng_state[0] = (uint64_t)(uintptr_t)&rng_state ^ 0x9e3779b97f4a7c15u;
        rng_state[1] = 0xbf58476d1ce4e5b9u;
        rng_state[2] = 0x94d049bb133111ebu;
        rng_state[3] = 0x2545f4914f6cdd1du;
    }
    rng_seeded = true;
}

uint64_t lx_id_random64(void)
{
    if (!rng_seeded)
        rng_seed();
    uint64_t *s = rng_state;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

void lx_id_request(char out[LX_ID_REQUEST_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t a = lx_id_random64(), b = lx_id_random64();
    memcpy(out, "req_", 4);
    for (int i = 0; i < 16; i++)
        out[4 + i] = hex[(a >> (i * 4)) & 15];
    for (int i = 0; i < 8; i++)
        out[20 + i] = hex[(b >> (i * 4)) & 15];
    out[LX_ID_REQUEST_LEN] = '\0';
}

bool lx_id_request_valid(lx_str id)
{
    if (id.len == 0 || id.len > 128)
        return false;
    for (size_t i = 0; i < id.len; i++) {
        unsigned char c = (unsigned char)id.ptr[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}
