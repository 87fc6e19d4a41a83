/*
 * fuzz_schema.c — libFuzzer target for src/policy/schema.c. The input is
 * cut at the first NUL byte: the part before is a schema, the part after an
 * instance (the whole input is also tried as both). A schema either
 * compiles or fails with a message; validation returns a known status with
 * at most the errors asked for; nothing leaks.
 */
#include <stdlib.h>
#include <string.h>

#include "policy/schema.h"

static void check(const char *schema, size_t slen, const char *inst, size_t ilen)
{
    char err[256];
    struct lx_schema_limits lim;
    lx_schema_limits_default(&lim);
    lim.max_steps = 200000; /* keep each run fast */
    lim.regex_match_limit = 10000;
    struct lx_schema *s = lx_schema_new(schema, slen, &lim, err, sizeof(err));
    if (s == NULL) {
        if (err[0] == '\0')
            abort();
        return;
    }
    struct lx_schema_error e[3];
    size_t ne = 99;
    enum lx_schema_status st = lx_schema_validate(s, inst, ilen, e, 3, &ne);
    if (ne > 3 || (st == LX_SCHEMA_VALID && ne != 0) || (st != LX_SCHEMA_VALID && ne == 0))
        abort();
    for (size_t k = 0; k < ne; k++)
        if (strlen(e[k].instance) >= sizeof(e[k].instance) || e[k].message[0] == '\0')
            abort();
    if (st != LX_SCHEMA_VALID && st != LX_SCHEMA_INVALID && st != LX_SCHEMA_EJSON &&
        st != LX_SCHEMA_ELIMIT)
        abort();
    /* the verdict does not depend on how many errors are collected */
    enum lx_schema_status again = lx_schema_validate(s, inst, ilen, NULL, 0, &ne);
    if (again != st && st != LX_SCHEMA_ELIMIT && again != LX_SCHEMA_ELIMIT)
        abort();
    lx_schema_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    const char *cut = memchr(p, '\0', size);
    if (cut)
        check(p, (size_t)(cut - p), cut + 1, size - (size_t)(cut - p) - 1);
    else
        check(p, size, p, size);
    return 0;
}
