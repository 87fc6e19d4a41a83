/*
 * sim_app.h - the simulator's endpoints: routing, /v1/models, /v1/embeddings, health, the
 * /sim/ test hooks, and the hand-off of /v1 requests to jobs.
 */
#ifndef SIM_APP_H
#define SIM_APP_H

#include <uv.h>

#include "sim_config.h"
#include "sim_http.h"

struct sim_app;

/* Makes the app for cfg (borrowed; must outlive the app). Returns NULL when out of memory. */
struct sim_app *sim_app_new(uv_loop_t *loop, const struct sim_config *cfg);
/* The HTTP handler to run the app with; ctx is the app. */
const struct sim_http_handler *sim_app_handler(void);
void sim_app_free(struct sim_app *a);

#endif
