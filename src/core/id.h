/*
 * id.h — identifiers: request ids and random tokens.
 *
 * Ids come from a per-thread xoshiro256** generator seeded once from the
 * kernel (getrandom). They are unique, not secret: never use them as keys.
 */
#ifndef LX_ID_H
#define LX_ID_H

#include "core.h"
#include "str.h"

enum { LX_ID_REQUEST_LEN = 28 }; /* "req_" + 24 hex digits */

/* Writes a new request id, NUL-terminated, into out[LX_ID_REQUEST_LEN + 1]. */
void lx_id_request(char out[LX_ID_REQUEST_LEN + 1]);
/* Next 64 random bits from the thread's generator. */
uint64_t lx_id_random64(void);
/* True when a client-supplied request id is acceptable to echo and log:
 * 1..128 bytes of [A-Za-z0-9._:-]. Anything else is replaced by a new id. */
bool lx_id_request_valid(lx_str id);

#endif
