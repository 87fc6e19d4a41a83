/*
 * sim_fault.c - parser for the fault spec grammar (see sim_fault.h and README.md):
 *   spec := item ("," item)* ; item := "hang" | key "=" digits ;
 *   key := status | delay | reset-after | malformed-after | error-after | stall-after
 */
#include "sim_fault.h"

#include <stdio.h>
#include <string.h>

#include "sim_buf.h"

#define FAULT_MAX_NUMBER 100000000L

void sim_fault_init(struct sim_fault *f)
{
    f->status = 0;
    f->delay_ms = 0;
    f->hang = 0;
    f->reset_after = SIM_FAULT_OFF;
    f->malformed_after = SIM_FAULT_OFF;
    f->error_after = SIM_FAULT_OFF;
    f->stall_after = SIM_FAULT_OFF;
}

int sim_fault_any(const struct sim_fault *f)
{
    return f->status != 0 || f->delay_ms != 0 || f->hang || f->reset_after >= 0 ||
           f->malformed_after >= 0 || f->error_after >= 0 || f->stall_after >= 0;
}

static int parse_number(const char *p, size_t n, long *out)
{
    long v = 0;
    if (n == 0)
        return SIM_ERR;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9' || v > FAULT_MAX_NUMBER)
            return SIM_ERR;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return SIM_OK;
}

/* Returns the field of f that key names, or NULL. */
static long *fault_field(struct sim_fault *f, const char *key, size_t n)
{
    static const struct {
        const char *name;
        size_t offset;
    } keys[] = {
        {"delay", offsetof(struct sim_fault, delay_ms)},
        {"reset-after", offsetof(struct sim_fault, reset_after)},
        {"malformed-after", offsetof(struct sim_fault, malformed_after)},
        {"error-after", offsetof(struct sim_fault, error_after)},
        {"stall-after", offsetof(struct sim_fault, stall_after)},
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strlen(keys[i].name) == n && memcmp(keys[i].name, key, n) == 0)
            return (long *)((char *)f + keys[i].offset);
    }
    return NULL;
}

static int parse_item(struct sim_fault *f, const char *p, size_t n)
{
    if (n == 4 && memcmp(p, "hang", 4) == 0) {
        f->hang = 1;
        return SIM_OK;
    }
    const char *eq = memchr(p, '=', n);
    if (eq == NULL)
        return SIM_ERR;
    size_t klen = (size_t)(eq - p);
    long v = 0;
    if (parse_number(eq + 1, n - klen - 1, &v) != SIM_OK)
        return SIM_ERR;
    if (klen == 6 && memcmp(p, "status", 6) == 0) {
        if (v < 100 || v > 599)
            return SIM_ERR;
        f->status = (int)v;
        return SIM_OK;
    }
    long *field = fault_field(f, p, klen);
    if (field == NULL)
        return SIM_ERR;
    *field = v;
    return SIM_OK;
}

static void trim(const char **p, size_t *n)
{
    while (*n > 0 && (**p == ' ' || **p == '\t')) {
        (*p)++;
        (*n)--;
    }
    while (*n > 0 && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

int sim_fault_parse(struct sim_fault *f, const char *spec, size_t len, char *err, size_t errlen)
{
    const char *p = spec;
    const char *end = spec + len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *item_end = comma != NULL ? comma : end;
        const char *item = p;
        size_t n = (size_t)(item_end - p);
        trim(&item, &n);
        if (n > 0 && parse_item(f, item, n) != SIM_OK) {
            snprintf(err, errlen, "invalid fault item '%.*s'", (int)(n > 64 ? 64 : n), item);
            return SIM_ERR;
        }
        p = item_end + 1;
    }
    return SIM_OK;
}
