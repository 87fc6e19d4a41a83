/*
 * sim_config.h - the simulator's settings, filled once from the command line by main.c and
 * read-only afterwards. Strings point into argv or into storage main.c owns.
 */
#ifndef SIM_CONFIG_H
#define SIM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "sim_fault.h"
#include "sim_style.h"

#define SIM_MAX_MODELS 64
#define SIM_MAX_TOKENS 100000

struct sim_config {
    char host[256];
    int port;
    uint64_t seed;
    long ttft_ms;
    long tps;    /* tokens per second while streaming, 0 = unpaced */
    long tokens; /* completion length in words */
    const struct sim_style *style;
    const char *models[SIM_MAX_MODELS];
    size_t nmodels;
    struct sim_fault fault; /* --fault, applied to every /v1 request */
    long echo; /* --echo N: answer with the last user message in N-byte pieces; 0 = off */
    int reasoning;
    int repairable; /* --repairable: answer a repair request ("invalid") with valid values */
    int quiet;
    /* what GET /props and GET /api/tags report (POST /sim/pin changes them);
     * NULL: derived from the first model */
    const char *model_path, *model_alias, *digest;
};

#endif
