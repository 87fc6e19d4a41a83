/*
 * sim_job.h - one /v1 request in progress: when and how its reply goes out.
 *
 * A job applies the fault spec (status, delay, hang, reset/malformed/error/stall after N
 * chunks), waits --ttft-ms, paces a stream at --tps with a uv timer, and keeps the counters of
 * /sim/stats. The reply itself comes from sim_chat (chat) or is prepared by the caller (models,
 * embeddings, request errors). A job frees itself once its response is finished or its client
 * has gone; the free happens in the close callback of its timer, never inside a callback of
 * the job's own (STYLE 8).
 */
#ifndef SIM_JOB_H
#define SIM_JOB_H

#include <stdint.h>
#include <uv.h>

#include "sim_buf.h"
#include "sim_chat.h"
#include "sim_config.h"
#include "sim_fault.h"
#include "sim_http.h"

struct sim_stats {
    unsigned long long requests;  /* /v1 requests received */
    unsigned long long active;    /* of those, not finished yet */
    unsigned long long completed; /* finished by the simulator (incl. injected faults) */
    unsigned long long cancelled; /* the client closed the connection first */
    unsigned long long peak;      /* most requests active at once since start or reset */
};

/* What every job shares; owned by the app, outlives all jobs. */
struct sim_job_env {
    uv_loop_t *loop;
    const struct sim_config *cfg;
    struct sim_stats *stats;
};

struct sim_job;

/* Starts replying to a chat request on c. Takes over chat. */
void sim_job_start_chat(const struct sim_job_env *env, struct sim_http_conn *c,
                        const struct sim_fault *fault, struct sim_chat *chat);
/* Starts a reply whose body is ready (JSON, status): takes over body's storage. */
void sim_job_start_prepared(const struct sim_job_env *env, struct sim_http_conn *c,
                            const struct sim_fault *fault, int status, struct sim_buf *body);
/* The connection flushed the job's last write. */
void sim_job_drain(struct sim_job *j);
/* The client went away; the job stops and frees itself. */
void sim_job_cancel(struct sim_job *j);

#endif
