/*
 * sim_job.c - the state machine of one reply (see sim_job.h).
 *
 *   WAIT_HEAD --delay(+ttft when not streamed)--> response, or stream head
 *   stream head --ttft--> STREAMING --frames, paced by tps--> end
 *   STREAMING --fault after N chunks--> ABORT_PENDING (RST once flushed) | SILENT | end
 *   hang --> SILENT until the client closes
 *
 * "After N chunks" counts delta chunks after the role chunk, and N is clamped to the number of
 * delta chunks so the fault always happens (before the finish chunk at the latest).
 */
#include "sim_job.h"

#include <stdlib.h>
#include <string.h>

#define JOB_BATCH_BYTES (64 * 1024)
#define JOB_BODY_MAX (64 * 1024 * 1024)
#define JSON_TYPE "application/json; charset=utf-8"

enum job_state {
    JOB_WAIT_HEAD,     /* waiting to send the response head (delay, ttft) */
    JOB_WAIT_FIRST,    /* stream head sent, waiting for the first token (ttft) */
    JOB_STREAMING,     /* sending frames */
    JOB_ABORT_PENDING, /* reset once the last write is flushed */
    JOB_SILENT,        /* hang or stall: nothing more is sent */
    JOB_DONE
};

struct sim_job {
    uv_timer_t timer;
    const struct sim_job_env *env;
    struct sim_http_conn *conn;
    enum job_state state;
    struct sim_fault fault;
    struct sim_chat *chat; /* NULL for a prepared reply */
    int status;
    struct sim_buf body;
    size_t next_frame;
    int inflight; /* a write of ours is not flushed yet */
    int malformed_sent;
    uint64_t t_start, t_first;
};

static void job_set_state(struct sim_job *j, enum job_state s)
{
    j->state = s;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct sim_job *j = h->data;
    sim_chat_free(j->chat);
    sim_buf_release(&j->body);
    free(j);
}

/* Ends the job: counters, detach from the connection, free at the timer's close. */
static void job_end(struct sim_job *j, int cancelled)
{
    struct sim_stats *st = j->env->stats;
    if (j->state == JOB_DONE)
        return;
    job_set_state(j, JOB_DONE);
    st->active--;
    if (cancelled)
        st->cancelled++;
    else
        st->completed++;
    j->conn = NULL;
    uv_timer_stop(&j->timer);
    uv_close((uv_handle_t *)&j->timer, on_timer_closed);
}

static struct sim_timings job_timings(const struct sim_job *j)
{
    uint64_t now = uv_hrtime();
    uint64_t first = j->t_first ? j->t_first : now;
    struct sim_timings t = {(double)(first - j->t_start) / 1e6, (double)(now - first) / 1e6};
    return t;
}

/* ---- non-streamed replies ---- */

static void respond_error(struct sim_job *j, int status, const char *message)
{
    struct sim_buf b;
    sim_buf_init(&b, 4096);
    j->env->cfg->style->error(&b, status, message);
    sim_http_respond(j->conn, status, JSON_TYPE, status == 429 ? "Retry-After: 1\r\n" : "", &b);
    job_end(j, 0);
}

static void respond_body(struct sim_job *j)
{
    if (j->chat != NULL) {
        struct sim_timings t = job_timings(j);
        sim_buf_reset(&j->body);
        sim_chat_full(j->chat, &t, &j->body);
    }
    if (j->fault.error_after >= 0) {
        respond_error(j, 500, "simulated failure");
        return;
    }
    if (j->fault.malformed_after >= 0)
        j->body.len /= 2; /* cut the JSON document in the middle */
    sim_http_respond(j->conn, j->status, JSON_TYPE, "", &j->body);
    job_end(j, 0);
}

/* ---- streamed replies ---- */

static void job_send(struct sim_job *j, struct sim_buf *out)
{
    if (out->len == 0) {
        sim_buf_release(out);
        return;
    }
    j->inflight = 1;
    sim_http_stream_send(j->conn, out);
}

static long clamp_after(const struct sim_job *j, long n)
{
    long pieces = (long)sim_chat_pieces(j->chat);
    return n > pieces ? pieces : n;
}

static int fault_at(const struct sim_job *j, long n, size_t frame)
{
    return n >= 0 && clamp_after(j, n) == (long)frame;
}

/* Applies the faults due after frame (frame i carries i delta chunks). Returns non-zero when
 * the stream stops here; out has then been sent. */
static int job_after_frame(struct sim_job *j, size_t frame, struct sim_buf *out)
{
    const struct sim_fault *f = &j->fault;
    if (frame > sim_chat_pieces(j->chat))
        return 0;
    if (!j->malformed_sent && fault_at(j, f->malformed_after, frame)) {
        sim_buf_puts(out, "data: {\"choices\":[{\"delta\":{\"content\":\"x\"\n\n");
        j->malformed_sent = 1;
    }
    if (fault_at(j, f->error_after, frame)) {
        sim_buf_puts(out, "data: {\"error\":{\"code\":500,\"message\":\"simulated failure\","
                          "\"type\":\"server_error\"}}\n\n");
        job_send(j, out);
        sim_http_stream_end(j->conn);
        job_end(j, 0);
        return 1;
    }
    int reset = fault_at(j, f->reset_after, frame);
    if (reset || fault_at(j, f->stall_after, frame)) {
        job_send(j, out);
        job_set_state(j, reset ? JOB_ABORT_PENDING : JOB_SILENT);
        if (reset && !j->inflight) {
            sim_http_abort(j->conn);
            job_end(j, 0);
        }
        return 1;
    }
    return 0;
}

/* When frame i is due (ns, uv_hrtime clock): pieces are spaced 1/tps apart. */
static uint64_t frame_due(const struct sim_job *j, size_t i)
{
    long tps = j->env->cfg->tps;
    if (tps <= 0 || i <= 1 || i > sim_chat_pieces(j->chat))
        return 0;
    return j->t_first + (uint64_t)(i - 1) * (1000000000ULL / (uint64_t)tps);
}

static void on_pace_timer(uv_timer_t *t);

/* Emits every frame that is due, up to a batch; the next batch waits for the flush (pull). */
static void job_pump(struct sim_job *j)
{
    struct sim_buf out;
    size_t frames = sim_chat_frames(j->chat);
    if (j->inflight || j->state != JOB_STREAMING)
        return;
    sim_buf_init(&out, JOB_BODY_MAX);
    uint64_t now = uv_hrtime();
    while (j->next_frame < frames && out.len < JOB_BATCH_BYTES) {
        uint64_t due = frame_due(j, j->next_frame);
        if (due > now) {
            uv_timer_start(&j->timer, on_pace_timer, (due - now + 999999) / 1000000, 0);
            break;
        }
        struct sim_timings t = job_timings(j);
        sim_chat_frame(j->chat, j->next_frame, &t, &out);
        if (job_after_frame(j, j->next_frame++, &out))
            return;
    }
    job_send(j, &out);
    if (j->next_frame == frames) {
        sim_http_stream_end(j->conn);
        job_end(j, 0);
    }
}

static void on_pace_timer(uv_timer_t *t)
{
    job_pump(t->data);
}

static void job_first_token(struct sim_job *j)
{
    j->t_first = uv_hrtime();
    job_set_state(j, JOB_STREAMING);
    job_pump(j);
}

static void on_first_timer(uv_timer_t *t)
{
    job_first_token(t->data);
}

/* ---- start ---- */

/* The moment the response head may go: after the delay (and ttft when not streamed). */
static void job_head(struct sim_job *j)
{
    const struct sim_fault *f = &j->fault;
    int stream = j->chat != NULL && sim_chat_is_stream(j->chat);
    if (f->status != 0) {
        respond_error(j, f->status, "simulated error");
    } else if (!stream && f->reset_after >= 0) {
        sim_http_abort(j->conn);
        job_end(j, 0);
    } else if (!stream && f->stall_after >= 0) {
        job_set_state(j, JOB_SILENT);
    } else if (!stream) {
        respond_body(j);
    } else {
        sim_http_stream_begin(j->conn, 200);
        j->inflight = 1;
        job_set_state(j, JOB_WAIT_FIRST);
        if (j->env->cfg->ttft_ms > 0)
            uv_timer_start(&j->timer, on_first_timer, (uint64_t)j->env->cfg->ttft_ms, 0);
        else
            job_first_token(j);
    }
}

static void on_head_timer(uv_timer_t *t)
{
    job_head(t->data);
}

static void job_start(struct sim_job *j)
{
    const struct sim_fault *f = &j->fault;
    int stream = j->chat != NULL && sim_chat_is_stream(j->chat);
    uint64_t wait = (uint64_t)f->delay_ms;
    if (j->chat != NULL && !stream && f->status == 0)
        wait += (uint64_t)j->env->cfg->ttft_ms;
    if (f->hang)
        job_set_state(j, JOB_SILENT);
    else if (wait > 0)
        uv_timer_start(&j->timer, on_head_timer, wait, 0);
    else
        job_head(j);
}

static struct sim_job *job_new(const struct sim_job_env *env, struct sim_http_conn *c,
                               const struct sim_fault *fault)
{
    struct sim_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return NULL;
    j->env = env;
    j->conn = c;
    j->fault = *fault;
    j->status = 200;
    j->t_start = uv_hrtime();
    sim_buf_init(&j->body, JOB_BODY_MAX);
    uv_timer_init(env->loop, &j->timer);
    j->timer.data = j;
    env->stats->requests++;
    env->stats->active++;
    if (env->stats->active > env->stats->peak)
        env->stats->peak = env->stats->active;
    sim_http_set_job(c, j);
    return j;
}

void sim_job_start_chat(const struct sim_job_env *env, struct sim_http_conn *c,
                        const struct sim_fault *fault, struct sim_chat *chat)
{
    struct sim_job *j = job_new(env, c, fault);
    if (j == NULL) {
        sim_chat_free(chat);
        sim_http_abort(c);
        return;
    }
    j->chat = chat;
    job_start(j);
}

void sim_job_start_prepared(const struct sim_job_env *env, struct sim_http_conn *c,
                            const struct sim_fault *fault, int status, struct sim_buf *body)
{
    struct sim_job *j = job_new(env, c, fault);
    if (j == NULL) {
        sim_buf_release(body);
        sim_http_abort(c);
        return;
    }
    j->status = status;
    j->body = *body;
    sim_buf_init(body, body->max);
    job_start(j);
}

void sim_job_drain(struct sim_job *j)
{
    if (j == NULL)
        return;
    j->inflight = 0;
    if (j->state == JOB_ABORT_PENDING) {
        sim_http_abort(j->conn);
        job_end(j, 0);
    } else if (j->state == JOB_STREAMING) {
        job_pump(j);
    }
}

void sim_job_cancel(struct sim_job *j)
{
    if (j != NULL)
        job_end(j, 1);
}
