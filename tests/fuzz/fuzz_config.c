/*
 * fuzz_config.c — libFuzzer target for src/config/config.c: any bytes given
 * as a config file either load into a snapshot whose every backend a model
 * points at exists, or fail with a "NAME:LINE:COL: message" error; nothing
 * leaks either way.
 */
#include <stdio.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char err[512];
    struct lx_config *c = NULL;
    int rc = lx_config_load_string((const char *)data, size, "fuzz.yaml", &c, err, sizeof(err));
    if (rc == LX_OK) {
        for (size_t i = 0; i < c->n_models; i++)
            if (c->models[i].backend >= c->n_backends)
                __builtin_trap();
        if (c->n_listeners == 0)
            __builtin_trap();
        FILE *devnull = fopen("/dev/null", "w");
        if (devnull) {
            lx_config_print(c, devnull);
            fclose(devnull);
        }
        lx_config_unref(c);
    } else if (strncmp(err, "fuzz.yaml", 9) != 0) {
        __builtin_trap(); /* every error names the file */
    }
    return 0;
}
