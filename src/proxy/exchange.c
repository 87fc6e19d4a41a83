/*
 * exchange.c — one client request through the gateway (see proxy.h).
 *
 * Life of an exchange: read and check the body, resolve the model, splice
 * the edits, start the upstream request. The upstream answer is either
 * relayed whole (non-streamed requests, and every error before the first
 * byte) or parsed event by event and relayed as it comes (streams). A
 * stream to the client starts with the first event, so a backend that
 * fails before sending anything still gets a proper HTTP error.
 *
 * Admission: a backend at max_in_flight queues the exchange (route.h)
 * when its queue has room. The exchange then waits, without an upstream
 * request, until route hands it a slot — from inside lx_route_release,
 * which may run inside another exchange's callbacks — so the grant only
 * arms start_handle (0 ms) and the upstream starts from that timer. While
 * queued, the same timer enforces queue.max_wait_ms (429 queue_timeout).
 *
 * Routing, once per request (route_request): an alias resolves to its
 * model, an A/B split may hand the request to its other model, and the
 * priority class (caller, x-llmux-priority) is set for admission queues.
 *
 * Attempts: a configured model is a balanced set of deployments, then its
 * fallbacks in order, under a retry policy. The balancer (route.h
 * lx_route_pick) picks a deployment of the set; an attempt that fails
 * before any byte reached the client, with a failure class the policy
 * names (failure_class), is tried again on the same deployment after a
 * backoff, then the balancer picks among the set's deployments not tried
 * yet, and only then come the fallbacks; a deployment with no slot (full
 * queue, wait run out) overflows to the next one the same way. The wait, and the move to the next
 * deployment, run from start_handle (ADMIT_BACKOFF), never inside the
 * failed request's on_done; each attempt resets the per-attempt state and
 * splices its own upstream model into the body. When nothing is left, or
 * the deadline has passed, the client gets the last failure as it is.
 *
 * Backpressure: while the client's socket has more than
 * limits.max_stream_buffer_bytes queued, on_data answers LX_AGAIN and curl
 * pauses the transfer; the http layer's drain callback resumes it.
 *
 * Ending: the client side ends in on_client_close (h2o disposed the
 * request), the upstream side in on_done or by cancel. When both have
 * ended, the audit record is written and the exchange is freed on the next
 * loop iteration (closing its two handles), never inside a callback.
 */
#include "proxy_int.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"
#include "../core/id.h"
#include "../core/log.h"

static void maybe_free(struct exchange *ex);
static void start_attempt(struct exchange *ex);

/* --- answering the client ------------------------------------------------ */

/* The response headers every answer carries: x-request-id, and the
 * x-ratelimit-* values of the tightest rate limits that applied, if any
 * (requests, tokens). h has room for 7; returns how many were written. */
static size_t common_headers(const struct exchange *ex, lx_http_header *h)
{
    size_t n = 0;
    h[n++] = (lx_http_header){"x-request-id", ex->request_id, strlen(ex->request_id)};
    if (ex->rl_limit[0]) {
        h[n++] = (lx_http_header){"x-ratelimit-limit-requests", ex->rl_limit, strlen(ex->rl_limit)};
        h[n++] = (lx_http_header){"x-ratelimit-remaining-requests", ex->rl_remaining,
                                  strlen(ex->rl_remaining)};
        h[n++] = (lx_http_header){"x-ratelimit-reset-requests", ex->rl_reset, strlen(ex->rl_reset)};
    }
    if (ex->rlt_limit[0]) {
        h[n++] = (lx_http_header){"x-ratelimit-limit-tokens", ex->rlt_limit, strlen(ex->rlt_limit)};
        h[n++] = (lx_http_header){"x-ratelimit-remaining-tokens", ex->rlt_remaining,
                                  strlen(ex->rlt_remaining)};
        h[n++] = (lx_http_header){"x-ratelimit-reset-tokens", ex->rlt_reset, strlen(ex->rlt_reset)};
    }
    return n;
}

/* Answers the client at once; extra (may be NULL) is one more header. */
static void respond_with(struct exchange *ex, int status, const char *body, size_t len,
                         const lx_http_header *extra)
{
    lx_http_header h[8];
    size_t n = common_headers(ex, h);
    if (extra)
        h[n++] = *extra;
    ex->status = status;
    ex->client_started = ex->client_finished = true;
    ex->t_end_us = lx_clock_mono_us();
    lx_http_respond(ex->req, status, "application/json", h, n, body, len);
}

static void respond(struct exchange *ex, int status, const char *body, size_t len)
{
    respond_with(ex, status, body, len, NULL);
}

static void note_error(struct exchange *ex, const char *type, const char *message)
{
    snprintf(ex->error_type, sizeof(ex->error_type), "%s", type);
    snprintf(ex->error_message, sizeof(ex->error_message), "%s", message);
}

static void respond_error_with(struct exchange *ex, int status, const char *message,
                               const char *type, const char *param, const char *code,
                               const lx_http_header *extra)
{
    lx_buf b;
    lx_buf_init(&b, 4096);
    lx_chat_error_write(&b, message, type, param, code);
    note_error(ex, code ? code : type, message);
    respond_with(ex, status, b.data, b.len, extra);
    lx_buf_release(&b);
}

static void respond_error(struct exchange *ex, int status, const char *message, const char *type,
                          const char *param, const char *code)
{
    respond_error_with(ex, status, message, type, param, code, NULL);
}

/* 429 with Retry-After: the backend's queue wait in whole seconds (at
 * least 1), or 1 when it has no queue — a slot may free any moment. */
static void respond_busy(struct exchange *ex, const char *message, const char *code)
{
    const struct lx_config_queue *q = &ex->cfg->backends[ex->backend_index].queue;
    uint32_t secs = q->max ? q->max_wait_ms / 1000 + (q->max_wait_ms % 1000 != 0) : 1;
    char v[16];
    int n = snprintf(v, sizeof(v), "%u", secs);
    lx_http_header h = {"retry-after", v, (size_t)n};
    respond_error_with(ex, 429, message, "rate_limit_error", NULL, code, &h);
}

static void on_drain(void *data)
{
    struct exchange *ex = data;
    if (ex->paused && ex->up && ex->req &&
        lx_http_stream_buffered(ex->req) <= ex->cfg->limits.max_stream_buffer_bytes) {
        ex->paused = false;
        lx_upstream_resume(ex->up);
    }
}

static int client_write(struct exchange *ex, const char *p, size_t n)
{
    if (ex->req == NULL || ex->client_finished)
        return LX_ERR;
    if (!ex->client_started) {
        lx_http_header h[7];
        size_t nh = common_headers(ex, h);
        ex->client_started = true;
        ex->status = 200;
        lx_http_stream_start(ex->req, 200, "text/event-stream", h, nh, on_drain, ex);
    }
    return lx_http_stream_write(ex->req, p, n);
}

static void client_end(struct exchange *ex)
{
    if (ex->req == NULL || ex->client_finished)
        return;
    ex->client_finished = true;
    ex->t_end_us = lx_clock_mono_us();
    lx_http_stream_end(ex->req);
}

/* An SSE event carrying data, framed for the client. */
static int client_event(struct exchange *ex, lx_str data)
{
    lx_buf *b = &ex->whole; /* unused in SSE mode: reuse as the framing buffer */
    lx_buf_reset(b);
    if (lx_buf_append(b, "data: ", 6) != LX_OK || lx_buf_append_str(b, data) != LX_OK ||
        lx_buf_append(b, "\n\n", 2) != LX_OK)
        return LX_ERR;
    return client_write(ex, b->data, b->len);
}

/* Ends a started stream with an error chunk in OpenAI's shape. */
static void stream_fail(struct exchange *ex, const char *message, const char *code)
{
    if (ex->endpoint == LX_PROXY_RESPONSES) {
        lx_proxy_resp_stream_fail(ex, message, code);
        return;
    }
    lx_buf b;
    lx_buf_init(&b, 4096);
    lx_chat_error_write(&b, message, "server_error", NULL, code);
    note_error(ex, code, message);
    client_event(ex, lx_buf_str(&b));
    client_end(ex);
    lx_buf_release(&b);
}

/* For govern.c: the same answers, under proxy-internal names. */
void lx_proxy_refuse(struct exchange *ex, int status, const char *message, const char *type,
                     const char *param, const char *code, const lx_http_header *extra)
{
    if (ex->client_started) { /* a repaired answer for a streamed client (validate.c) */
        stream_fail(ex, message, code);
        return;
    }
    respond_error_with(ex, status, message, type, param, code, extra);
}

void lx_proxy_stream_fail(struct exchange *ex, const char *message, const char *code)
{
    if (ex->client_started)
        stream_fail(ex, message, code);
    else
        respond_error(ex, 502, message, "server_error", NULL, code);
}

int lx_proxy_client_write(struct exchange *ex, const char *p, size_t n)
{
    return client_write(ex, p, n);
}

/* --- the upstream side --------------------------------------------------- */

static void on_head(void *data, int status, lx_str content_type)
{
    struct exchange *ex = data;
    ex->upstream_status = status;
    if ((status == 429 || status == 503) && ex->up)
        ex->retry_after_ms = lx_upstream_retry_after(ex->up) * 1000;
    bool sse = lx_str_starts_with(content_type, LX_STR_LIT("text/event-stream"));
    ex->mode = (ex->stream && status >= 200 && status < 300 && sse) ? MODE_SSE : MODE_WHOLE;
}

enum { EVENT_STOP = 1 }; /* the stream to the client has ended: stop reading */

/* A data event through the tool gate (govern.c): sent, held, or the end of
 * the stream when it calls a tool that may not reach the client. */
static int pass_event(struct exchange *ex, lx_str data)
{
    int g = lx_proxy_tools_gate(ex, data);
    if (g == LX_AGAIN)
        return LX_OK;
    if (g != LX_OK)
        return EVENT_STOP;
    return client_event(ex, data);
}

/* Tool-call and structured-output validation (validate.c) first: it holds
 * a call until it is complete and valid, then hands its chunks to
 * pass_event (lx_ex_pass_event); LX_AGAIN also covers a repair that waits
 * for this stream's end (the rest is read and dropped: saw_done). */
static int gated_event(struct exchange *ex, lx_str data)
{
    int v = lx_proxy_validate_chunk(ex, data);
    if (v == LX_AGAIN)
        return LX_OK;
    if (v != LX_OK)
        return EVENT_STOP;
    return pass_event(ex, data);
}

/* Redaction: sends the text it still holds back, before the stream ends. */
static int send_held_redaction(struct exchange *ex)
{
    lx_str chunk;
    if (lx_proxy_redact_stream_end(ex, &chunk) != LX_OK)
        return LX_ERR;
    return chunk.len ? client_event(ex, chunk) : LX_OK;
}

static int chat_event(struct exchange *ex, lx_str data);

static int on_event(void *data, const lx_sse_event *ev)
{
    struct exchange *ex = data;
    if (ex->saw_done)
        return LX_OK;
    if (ev->kind == LX_SSE_COMMENT)
        return LX_OK; /* keep-alive pings: the gateway's own writes keep the client alive */
    if (ex->passthrough)
        return lx_proxy_resp_relay(ex, ev);
    if (ex->reverse)
        return lx_proxy_rev_event(ex, ev); /* Responses events in, chat chunks to chat_event */
    return chat_event(ex, ev->data);
}

/* One chat chunk (the data of an event) of the backend's stream, or of the
 * reverse translator's: classified, counted, then translated (Responses
 * clients) or redacted, gated and relayed (chat clients). */
static int chat_event(struct exchange *ex, lx_str data)
{
    lx_sse_event one = {.kind = LX_SSE_EVENT, .data = data};
    const lx_sse_event *ev = &one;
    bool token = false;
    enum lx_chat_chunk kind = lx_chat_chunk_inspect(
        ev->data, &ex->scratch, ex->cfg->limits.max_json_depth, &ex->tally, &token);
    lx_arena_reset(&ex->scratch);
    if (token && ex->t_first_token_us == 0)
        ex->t_first_token_us = lx_clock_mono_us();
    if (ex->endpoint == LX_PROXY_RESPONSES) {
        int rc = lx_proxy_resp_event(ex, kind, ev->data);
        return rc == 1 ? EVENT_STOP : rc;
    }
    switch (kind) {
    case LX_CHAT_CHUNK_DONE:
        /* read on to the end of the upstream body so its connection is reused */
        ex->saw_done = true;
        if (lx_proxy_validate_end(ex) != LX_OK || lx_proxy_tools_gate_end(ex) != LX_OK)
            return LX_OK;
        if (send_held_redaction(ex) != LX_OK || client_event(ex, ev->data) != LX_OK)
            return LX_ERR;
        client_end(ex);
        return LX_OK;
    case LX_CHAT_CHUNK_USAGE_ONLY:
        if (!ex->usage_asked)
            return LX_OK; /* the gateway asked for it, not the client */
        break;
    case LX_CHAT_CHUNK_ERROR: {
        lx_buf b;
        lx_buf_init(&b, 64 * 1024);
        lx_chat_error_normalize(500, ev->data, &ex->scratch, &b);
        lx_arena_reset(&ex->scratch);
        note_error(ex, "upstream_error", "the backend reported an error mid-stream");
        client_event(ex, lx_buf_str(&b));
        client_end(ex);
        lx_buf_release(&b);
        return EVENT_STOP;
    }
    case LX_CHAT_CHUNK_MALFORMED:
        stream_fail(ex, "The backend sent a malformed stream event.", "upstream_malformed_event");
        return EVENT_STOP;
    case LX_CHAT_CHUNK_DATA:
        break;
    }
    lx_str out = ev->data;
    if (lx_proxy_redact_chunk(ex, &out) != LX_OK) {
        stream_fail(ex, "The gateway could not apply its redaction policy to the stream.",
                    "redaction_failed");
        return EVENT_STOP;
    }
    return gated_event(ex, out);
}

static int on_data(void *data, const char *p, size_t n)
{
    struct exchange *ex = data;
    if (ex->saw_done)
        return LX_OK; /* the client has its answer: discard what trails [DONE] */
    if (ex->req == NULL || ex->client_finished)
        return LX_ERR; /* nobody to send it to: stop the backend */
    if (ex->mode != MODE_SSE) {
        if (lx_buf_append(&ex->whole, p, n) != LX_OK) {
            note_error(ex, "upstream_too_large", "the backend's response exceeds the cap");
            return LX_ERR;
        }
        return LX_OK;
    }
    if (ex->client_started &&
        lx_http_stream_buffered(ex->req) > ex->cfg->limits.max_stream_buffer_bytes) {
        ex->paused = true;
        return LX_AGAIN;
    }
    int rc = lx_sse_feed(&ex->sse, p, n, on_event, ex);
    if (rc == LX_OK)
        return LX_OK;
    if (rc == LX_ERR && ex->req && !ex->client_finished) {
        if (ex->client_started)
            stream_fail(ex, "The backend sent a stream event over the size cap.",
                        "upstream_event_too_large");
        else
            respond_error(ex, 502, "The backend sent a stream event over the size cap.",
                          "server_error", NULL, "upstream_event_too_large");
    }
    return LX_ERR;
}

static void release_backend(struct exchange *ex)
{
    if (ex->acquired) {
        lx_route_release(ex->route, ex->backend_index);
        ex->acquired = false;
    }
}

static void note_queue_end(struct exchange *ex)
{
    lx_proxy_observe_queue_wait(ex->p, ex->backend, ex->t_queued_us);
    if (ex->t_queued_us)
        ex->queue_us += lx_clock_mono_us() - ex->t_queued_us; /* summed over attempts */
    ex->t_queued_us = 0;
}

static uint64_t now_ms(void)
{
    return lx_clock_mono_us() / 1000;
}

/* Tells the backend's circuit how the current attempt went. Only the
 * first call per attempt may carry the half-open probe's verdict. */
static void settle_circuit(struct exchange *ex, enum lx_route_outcome o)
{
    lx_route_circuit_record(ex->route, ex->backend_index, o, ex->probe, now_ms());
    ex->probe = false;
}

/* Notes the end of the current attempt for the audit record (and frees a
 * circuit probe whose outcome nobody reported: it told nothing). */
static void record_attempt(struct exchange *ex, const char *result, int status)
{
    if (ex->probe)
        settle_circuit(ex, LX_ROUTE_NEUTRAL);
    if (ex->n_attempts >= MAX_ATTEMPTS)
        return;
    bool picked = ex->picked && ex->pick.deployment == ex->deployment;
    ex->attempts[ex->n_attempts++] = (struct attempt){
        .backend = (uint16_t)ex->backend_index,
        .deployment = ex->deployment,
        .candidates = picked ? (uint8_t)ex->pick.candidates : 0,
        .weight = picked ? (uint16_t)ex->pick.weight : 0,
        .outstanding = picked ? ex->pick.outstanding : 0,
        .status = (int16_t)status,
        .result = result,
        .ms = (uint32_t)((lx_clock_mono_us() - ex->t_attempt_us) / 1000),
    };
    ex->picked = false; /* a retry of the same deployment is not a new pick */
}

/* Ends the exchange's wait for a slot (it leaves the queue, or gives back
 * a slot it was granted but has not used yet) or for its next attempt.
 * why names the end of an attempt that was waiting for a slot. */
static void leave_admission(struct exchange *ex, const char *why)
{
    if (ex->admit == ADMIT_NONE)
        return;
    if (ex->admit == ADMIT_QUEUED || ex->admit == ADMIT_GRANTED)
        record_attempt(ex, why, 0);
    if (ex->admit == ADMIT_QUEUED) {
        lx_route_cancel_wait(ex->route, &ex->waiter);
        note_queue_end(ex);
    }
    ex->admit = ADMIT_NONE;
    uv_timer_stop(&ex->start_handle);
    release_backend(ex); /* a granted slot goes on to the next waiter */
}

/* Cancels the upstream side of an exchange that will not read on. */
static void cancel_upstream(struct exchange *ex)
{
    if (ex->up == NULL)
        return;
    lx_upstream_cancel(ex->up);
    ex->up = NULL;
    release_backend(ex);
    /* after [DONE] the client has its whole answer: only the body's tail was cut */
    const char *result = ex->saw_done ? "done" : "cancelled";
    record_attempt(ex, result, ex->upstream_status);
    snprintf(ex->upstream_result, sizeof(ex->upstream_result), "%s", result);
}

/* The upstream ended cleanly but the client's answer is not finished yet. */
static void finish_clean(struct exchange *ex)
{
    if (ex->mode == MODE_SSE && ex->endpoint == LX_PROXY_RESPONSES) {
        lx_proxy_resp_stream_end(ex);
        return;
    }
    if (ex->mode == MODE_SSE && ex->reverse) {
        lx_proxy_rev_stream_end(ex);
        return;
    }
    if (ex->mode == MODE_SSE) {
        if (lx_proxy_repair_pending(ex)) {
            lx_proxy_repair_start(ex); /* validate.c: ask again, non-streamed */
            return;
        }
        if (ex->client_started && ex->tally.finish_reason[0]) {
            /* a complete stream without [DONE]: end it as OpenAI does */
            if (lx_proxy_tools_gate_end(ex) != LX_OK)
                return;
            send_held_redaction(ex);
            client_write(ex, "data: [DONE]\n\n", 14);
            client_end(ex);
        } else if (ex->client_started) {
            stream_fail(ex, "The backend ended the stream before it was complete.",
                        "upstream_incomplete");
        } else {
            respond_error(ex, 502, "The backend ended the stream without sending an event.",
                          "server_error", NULL, "upstream_incomplete");
        }
        return;
    }
    lx_str body = lx_buf_str(&ex->whole);
    if (ex->upstream_status >= 200 && ex->upstream_status < 300) {
        if (ex->endpoint == LX_PROXY_RESPONSES) {
            lx_proxy_resp_whole(ex, body);
            return;
        }
        if (ex->reverse && lx_proxy_rev_whole(ex, &body) != LX_OK)
            return; /* it answered */
        if (!lx_chat_response_inspect(body, &ex->scratch, ex->cfg->limits.max_json_depth,
                                      &ex->tally)) {
            respond_error(ex, 502, "The backend's answer is not valid JSON.", "server_error", NULL,
                          "upstream_invalid_response");
            return;
        }
        ex->t_first_token_us = lx_clock_mono_us();
        if (lx_proxy_tools_check_answer(ex, &body) != LX_OK ||
            lx_proxy_validate_whole(ex, body) != LX_OK)
            return; /* answered, or a repair attempt is scheduled (validate.c) */
        if (lx_proxy_redact_response(ex, &body) != LX_OK) {
            respond_error(ex, 502,
                          "The gateway could not apply its redaction policy to the answer.",
                          "server_error", NULL, "redaction_failed");
            return;
        }
        if (ex->stream && lx_proxy_repair_wanted(ex)) {
            lx_proxy_repair_stream(ex, body); /* a repaired answer, as chunks */
            return;
        }
        respond(ex, ex->upstream_status, body.ptr, body.len);
        return;
    }
    lx_buf b;
    lx_buf_init(&b, 64 * 1024);
    lx_chat_error_normalize(ex->upstream_status, body, &ex->scratch, &b);
    note_error(ex, "upstream_error", "the backend answered with an error status");
    respond(ex, ex->upstream_status, b.data, b.len);
    lx_buf_release(&b);
}

static void finish_failed(struct exchange *ex, enum lx_upstream_result result, const char *detail)
{
    bool timeout = lx_upstream_result_is_timeout(result);
    char msg[512];
    const char *code = timeout                                ? "upstream_timeout"
                       : result == LX_UPSTREAM_CONNECT_FAILED ? "upstream_unreachable"
                                                              : "upstream_failed";
    snprintf(msg, sizeof(msg), "Backend '%s' %s: %s.", ex->backend,
             timeout ? "timed out" : "failed", detail ? detail : lx_upstream_result_str(result));
    if (ex->client_started)
        stream_fail(ex, msg, code);
    else
        respond_error(ex, timeout ? 504 : 502, msg, "server_error", NULL, code);
}

/* --- retries and fallbacks ----------------------------------------------- */

/* The failure class (LX_RETRY_*) of an attempt that ended before any byte
 * reached the client, or 0 when it may not be tried again: it succeeded,
 * the client was at fault (4xx other than 429), or the client has bytes
 * already (DESIGN.md "Errors": nothing is retried after that). */
static uint32_t failure_class(const struct exchange *ex, enum lx_upstream_result result)
{
    if (ex->req == NULL || ex->client_started || ex->client_finished || lx_proxy_repair_pending(ex))
        return 0; /* a repair pending is an answer, not a failure: validate.c asks again */
    switch (result) {
    case LX_UPSTREAM_CONNECT_FAILED:
    case LX_UPSTREAM_TIMEOUT_CONNECT:
        return LX_RETRY_CONNECT;
    case LX_UPSTREAM_TIMEOUT_FIRST_BYTE:
        return LX_RETRY_TIMEOUT;
    case LX_UPSTREAM_BROKEN:
        return LX_RETRY_INCOMPLETE;
    case LX_UPSTREAM_DONE:
        break;
    default:
        return 0;
    }
    if (ex->mode == MODE_SSE)
        return LX_RETRY_INCOMPLETE; /* a clean end without one event relayed */
    if (ex->upstream_status == 429)
        return LX_RETRY_429;
    return ex->upstream_status >= 500 ? LX_RETRY_5XX : 0;
}

/* Picks the next attempt after a failure of class cls (a LX_RETRY_* bit,
 * or 0 for a deployment that had no slot: that overflows to the next
 * deployment whatever the policy says). True with ex->deployment set to
 * the deployment to try and *wait_ms the pause before it; false when the
 * client gets this failure: the policy does not retry it, nothing is left,
 * or the next attempt would begin past the deadline. */
static bool plan_next(struct exchange *ex, uint32_t cls, uint32_t *wait_ms)
{
    const struct lx_config_model *m = ex->model_cfg;
    if (m == NULL || ex->req == NULL || ex->client_started || ex->client_finished ||
        ex->n_attempts >= MAX_ATTEMPTS)
        return false;
    const struct lx_config_retry *r = &m->retry;
    if (cls && !(r->on & cls))
        return false;
    bool again = cls && ex->tries < r->attempts;
    /* the rest of the balanced set comes before the fallbacks */
    uint32_t whole_set = (1u << m->n_deployments) - 1u;
    bool set_left = ex->deployment < m->n_deployments && (ex->set_tried & whole_set) != whole_set;
    if (!again && !set_left && ex->deployment + 1u >= lx_config_model_n_deployments(m))
        return false;
    *wait_ms =
        again ? lx_route_backoff_ms(r, ex->tries - 1u, ex->retry_after_ms, lx_id_random64()) : 0;
    uint64_t elapsed_ms = (lx_clock_mono_us() - ex->t_start_us) / 1000;
    if (elapsed_ms + *wait_ms >= r->deadline_ms)
        return false;
    if (!again) {
        if (!set_left)
            ex->deployment = (uint8_t)LX_MAX(ex->deployment + 1u, m->n_deployments);
        ex->tries = 0;
    }
    return true;
}

/* start_handle, after a backoff (or 0 ms after a failure that moves on to
 * the next deployment): a safe point to start the next attempt. */
static void on_backoff_end(uv_timer_t *t)
{
    struct exchange *ex = t->data;
    ex->admit = ADMIT_NONE;
    if (ex->req == NULL || ex->client_finished) {
        maybe_free(ex);
        return;
    }
    start_attempt(ex);
}

void lx_ex_schedule_attempt(struct exchange *ex)
{
    ex->admit = ADMIT_BACKOFF;
    uv_timer_start(&ex->start_handle, on_backoff_end, 0, 0);
}

static void schedule_attempt(struct exchange *ex, uint32_t wait_ms)
{
    lx_log(LX_LOG_DEBUG, "%s: attempt %u of model '%s' in %u ms", ex->request_id,
           ex->n_attempts + 1u, ex->model_cfg->name, wait_ms);
    ex->admit = ADMIT_BACKOFF;
    uv_timer_start(&ex->start_handle, on_backoff_end, wait_ms, 0);
}

/* What an attempt that reached its backend says about the backend's
 * health, for its circuit: connect errors, timeouts, 5xx and answers that
 * ended before they were complete are failures; 2xx and 4xx successes; a
 * 429 (busy, not broken) and an abort of ours say nothing. */
static enum lx_route_outcome outcome_of(const struct exchange *ex, enum lx_upstream_result result)
{
    if (lx_upstream_result_is_timeout(result) || result == LX_UPSTREAM_CONNECT_FAILED ||
        result == LX_UPSTREAM_BROKEN)
        return LX_ROUTE_FAILURE;
    if (result != LX_UPSTREAM_DONE || ex->upstream_status == 429)
        return LX_ROUTE_NEUTRAL;
    if (ex->upstream_status >= 500)
        return LX_ROUTE_FAILURE;
    if (ex->mode == MODE_SSE && !ex->saw_done && ex->tally.finish_reason[0] == 0)
        return LX_ROUTE_FAILURE;
    return LX_ROUTE_SUCCESS;
}

static void on_done(void *data, enum lx_upstream_result result, const char *detail)
{
    struct exchange *ex = data;
    uint32_t wait_ms;
    ex->up = NULL;
    release_backend(ex);
    settle_circuit(ex, outcome_of(ex, result));
    snprintf(ex->upstream_result, sizeof(ex->upstream_result), "%s",
             lx_upstream_result_str(result));
    record_attempt(ex, lx_upstream_result_str(result), ex->upstream_status);
    uint32_t cls = failure_class(ex, result);
    if (cls && plan_next(ex, cls, &wait_ms)) {
        schedule_attempt(ex, wait_ms);
        return;
    }
    if (ex->req && !ex->client_finished) {
        if (result == LX_UPSTREAM_DONE)
            finish_clean(ex);
        else if (result == LX_UPSTREAM_ABORTED && ex->error_type[0] == 0)
            respond_error(ex, 502, "The gateway stopped reading the backend.", "server_error", NULL,
                          "upstream_failed");
        else if (result == LX_UPSTREAM_ABORTED)
            finish_failed(ex, result, ex->error_message);
        else
            finish_failed(ex, result, detail);
    }
    maybe_free(ex);
}

/* --- lifetime ------------------------------------------------------------ */

static void on_client_close(void *data)
{
    struct exchange *ex = data;
    ex->req = NULL;
    if (!ex->client_finished) {
        ex->client_gone = true;
        ex->t_end_us = lx_clock_mono_us();
        ex->status = 499; /* nginx's "client closed request" */
    }
    leave_admission(ex, "cancelled");
    cancel_upstream(ex);
    maybe_free(ex);
}

/* Exchanges are recycled with their buffers and arenas: under load this
 * saves several allocations and a 1.5 KB clear per request. Buffers that
 * grew past SPARE_KEEP_BYTES are released so a big answer does not pin
 * memory. */
enum { SPARE_MAX = 256, SPARE_KEEP_BYTES = 64 * 1024 };

static void release_parts(struct exchange *ex)
{
    lx_proxy_resp_reset(ex);
    lx_proxy_rev_reset(ex, true);
    lx_buf_release(&ex->held);
    lx_sse_release(&ex->sse);
    lx_buf_release(&ex->upstream_body);
    lx_buf_release(&ex->whole);
    lx_buf_release(&ex->prompt);
    lx_arena_release(&ex->arena);
    lx_arena_release(&ex->scratch);
}

static void trim(lx_buf *b)
{
    if (b->alloc > SPARE_KEEP_BYTES)
        lx_buf_release(b);
    else
        lx_buf_reset(b);
}

/* Called once both of the exchange's handles have closed. */
static void exchange_free(struct exchange *ex)
{
    struct lx_proxy *p = ex->p;
    lx_proxy_redact_release(ex);
    lx_proxy_validate_release(ex);
    if (ex->prev)
        ex->prev->next = ex->next;
    else
        p->exchanges = ex->next;
    if (ex->next)
        ex->next->prev = ex->prev;
    p->n_exchanges--;
    lx_proxy_resp_reset(ex);
    lx_proxy_rev_reset(ex, true);
    lx_proxy_snapshot_drop(ex);
    if (p->closing || p->n_spare >= SPARE_MAX) {
        release_parts(ex);
        free(ex);
        return;
    }
    trim(&ex->upstream_body);
    trim(&ex->whole);
    trim(&ex->prompt);
    lx_sse_release(&ex->sse); /* small, rarely grown: simplest to start anew */
    lx_arena_reset(&ex->arena);
    lx_arena_reset(&ex->scratch);
    ex->next = p->spare;
    p->spare = ex;
    p->n_spare++;
}

void lx_proxy_free_spares(struct lx_proxy *p)
{
    while (p->spare) {
        struct exchange *ex = p->spare;
        p->spare = ex->next;
        release_parts(ex);
        free(ex);
    }
    p->n_spare = 0;
}

/* A clean exchange: a spare one with its buffers kept, or a new one. */
static struct exchange *exchange_alloc(struct lx_proxy *p)
{
    const struct lx_config_limits *lim = &p->cfg->limits;
    struct exchange *ex = p->spare;
    if (ex) {
        p->spare = ex->next;
        p->n_spare--;
        struct exchange keep = *ex;
        memset(ex, 0, offsetof(struct exchange, arena));
        memset(&ex->tally, 0, sizeof(*ex) - offsetof(struct exchange, tally));
        ex->arena = keep.arena;
        ex->scratch = keep.scratch;
        ex->upstream_body = keep.upstream_body;
        ex->whole = keep.whole;
        ex->prompt = keep.prompt;
    } else {
        ex = calloc(1, sizeof(*ex));
        if (ex == NULL)
            return NULL;
        /* tokens take at most ~12x the body; a cap keeps a request bounded */
        lx_arena_init(&ex->arena, lim->max_body_bytes * 12 + (1u << 20));
        lx_arena_init(&ex->scratch, lim->max_sse_event_bytes * 12 + (1u << 20));
        lx_buf_init(&ex->upstream_body, lim->max_body_bytes + 4096);
        lx_buf_init(&ex->whole, LX_MAX(lim->max_response_bytes, lim->max_sse_event_bytes + 16));
        lx_buf_init(&ex->prompt, lim->max_body_bytes + 64);
    }
    lx_sse_init(&ex->sse, lim->max_sse_event_bytes);
    return ex;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct exchange *ex = h->data;
    if (--ex->open_handles == 0)
        exchange_free(ex);
}

static void maybe_free(struct exchange *ex)
{
    if (ex->freeing || ex->req || ex->up || ex->admit != ADMIT_NONE || ex->store_pending ||
        ex->limit_pending)
        return;
    ex->freeing = true;
    if (ex->t_end_us == 0)
        ex->t_end_us = lx_clock_mono_us();
    lx_proxy_key_slot_give(ex);
    lx_proxy_limits_charge(ex);
    lx_buf_release(&ex->held);
    lx_proxy_rules_end(ex); /* routing.c: TTFT, cost, spend */
    lx_proxy_write_record(ex->p, ex);
    lx_proxy_observe(ex->p, ex);
    uv_close((uv_handle_t *)&ex->free_handle, on_handle_closed);
    uv_close((uv_handle_t *)&ex->start_handle, on_handle_closed);
}

static struct exchange *exchange_new(struct lx_proxy *p, struct lx_http_req *req,
                                     const char *request_id, enum lx_proxy_endpoint ep)
{
    struct exchange *ex = exchange_alloc(p);
    if (ex == NULL)
        return NULL;
    ex->p = p;
    lx_proxy_snapshot_take(ex);
    ex->req = req;
    ex->endpoint = ep;
    ex->t_start_us = lx_clock_mono_us();
    snprintf(ex->request_id, sizeof(ex->request_id), "%s", request_id);
    lx_http_req_peer(req, ex->peer, sizeof(ex->peer));
    lx_str path = lx_http_req_path(req);
    snprintf(ex->path, sizeof(ex->path), "%.*s", (int)LX_MIN(path.len, sizeof(ex->path) - 1),
             path.ptr);
    uv_timer_init(p->loop, &ex->free_handle);
    ex->free_handle.data = ex;
    uv_timer_init(p->loop, &ex->start_handle);
    ex->start_handle.data = ex;
    ex->open_handles = 2;
    ex->next = p->exchanges;
    if (p->exchanges)
        p->exchanges->prev = ex;
    p->exchanges = ex;
    p->n_exchanges++;
    lx_http_req_on_close(req, on_client_close, ex);
    return ex;
}

/* --- starting an exchange ------------------------------------------------ */

/* Adds "Name: value" for each client header the backend is configured to
 * receive (forward_headers). */
static void forwarded_headers(struct exchange *ex, const struct lx_config_backend *b,
                              const char **headers, int *n)
{
    for (size_t i = 0; i < b->n_forward_headers; i++) {
        lx_str v = lx_http_req_header(ex->req, b->forward_headers[i]);
        if (v.ptr == NULL)
            continue;
        size_t len = strlen(b->forward_headers[i]) + v.len + 3;
        char *line = lx_arena_alloc(&ex->arena, len);
        if (line == NULL)
            return;
        snprintf(line, len, "%s: %.*s", b->forward_headers[i], (int)v.len, v.ptr);
        headers[(*n)++] = line;
    }
}

static int start_upstream(struct exchange *ex, const struct lx_config_backend *b, const char *path)
{
    char url[2048], auth[1024], rid[160];
    const char *headers[4 + 64];
    int n = 0;
    snprintf(url, sizeof(url), "%s%s", b->url, path);
    headers[n++] = "Content-Type: application/json";
    if (b->api_key) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", b->api_key);
        headers[n++] = auth;
    }
    snprintf(rid, sizeof(rid), "X-Request-Id: %s", ex->request_id);
    headers[n++] = rid;
    forwarded_headers(ex, b, headers, &n);
    headers[n] = NULL;
    struct lx_upstream_opts o = {
        .method = "POST",
        .url = url,
        .headers = headers,
        .body = ex->upstream_body.data,
        .body_len = ex->upstream_body.len,
        .connect_ms = b->timeouts.connect_ms,
        .first_byte_ms = b->timeouts.first_byte_ms,
        .idle_ms = b->timeouts.idle_ms,
        .total_ms = b->timeouts.total_ms,
    };
    static const struct lx_upstream_cbs cbs = {on_head, on_data, on_done};
    ex->up = lx_upstream_start(ex->p->upstream, &o, &cbs, ex);
    explicit_bzero(auth, sizeof(auth)); /* curl keeps its own copy */
    return ex->up ? LX_OK : LX_ERR;
}

static int read_request(struct exchange *ex, struct lx_chat_request *cr)
{
    if (ex->endpoint == LX_PROXY_RESPONSES)
        return lx_proxy_resp_read(ex);
    struct lx_chat_fault f;
    lx_str body = lx_http_req_body(ex->req);
    uint32_t depth = ex->cfg->limits.max_json_depth;
    int rc = ex->endpoint == LX_PROXY_CHAT
                 ? lx_chat_request_read(cr, body.ptr, body.len, &ex->arena, depth, &f)
                 : lx_chat_embeddings_read(cr, body.ptr, body.len, &ex->arena, depth, &f);
    if (rc != LX_OK) {
        respond_error(ex, 400, f.message, "invalid_request_error", f.param, f.code);
        return LX_ERR;
    }
    lx_str m = lx_json_raw(&cr->json, cr->model);
    ex->model_raw = m;
    snprintf(ex->model, sizeof(ex->model), "%.*s", (int)m.len, m.ptr);
    ex->stream = cr->stream;
    ex->usage_asked = cr->usage_asked;
    return LX_OK;
}

static int resolve(struct exchange *ex, struct lx_route_target *t)
{
    if (lx_route_lookup(ex->route, ex->model_raw, t) != LX_OK) {
        char msg[256];
        snprintf(msg, sizeof(msg), "The model `%s` does not exist or you do not have access to it.",
                 ex->model);
        respond_error(ex, 404, msg, "invalid_request_error", "model", "model_not_found");
        return LX_ERR;
    }
    ex->backend_index = t->backend_index;
    snprintf(ex->backend, sizeof(ex->backend), "%s", t->backend->name);
    snprintf(ex->upstream_model, sizeof(ex->upstream_model), "%s", t->upstream_model);
    return LX_OK;
}

/* Starts the upstream request of an exchange that holds a slot. */
static void begin_upstream(struct exchange *ex)
{
    const char *path = ex->endpoint == LX_PROXY_EMBEDDINGS ? "/embeddings"
                       : ex->passthrough || ex->reverse    ? lx_proxy_resp_path(ex)
                                                           : "/chat/completions";
    if (start_upstream(ex, &ex->cfg->backends[ex->backend_index], path) != LX_OK) {
        release_backend(ex);
        record_attempt(ex, "start_failed", 0);
        respond_error(ex, 502, "The gateway could not start the upstream request.", "server_error",
                      NULL, "upstream_failed");
    }
}

/* start_handle, 0 ms after a grant: a safe point to start the upstream. */
static void on_granted_start(uv_timer_t *t)
{
    struct exchange *ex = t->data;
    ex->admit = ADMIT_NONE;
    if (ex->req == NULL || ex->client_finished) {
        settle_circuit(ex, LX_ROUTE_NEUTRAL); /* a probe that never went */
        release_backend(ex);
        maybe_free(ex);
        return;
    }
    begin_upstream(ex);
}

/* route hands the exchange a slot, possibly inside another exchange's
 * callbacks (lx_route_release): only note it and defer the start. */
static void on_granted(void *data)
{
    struct exchange *ex = data;
    note_queue_end(ex);
    ex->acquired = true;
    ex->admit = ADMIT_GRANTED;
    uv_timer_start(&ex->start_handle, on_granted_start, 0, 0);
}

static void on_queue_timeout(uv_timer_t *t)
{
    struct exchange *ex = t->data;
    char msg[256];
    uint32_t wait_ms;
    leave_admission(ex, "queue_timeout");
    if (plan_next(ex, 0, &wait_ms)) {
        start_attempt(ex); /* overflow: the next deployment */
        return;
    }
    snprintf(msg, sizeof(msg), "Backend '%s' had no free slot within %u ms.", ex->backend,
             ex->cfg->backends[ex->backend_index].queue.max_wait_ms);
    if (ex->req && !ex->client_finished)
        respond_busy(ex, msg, "queue_timeout");
    maybe_free(ex);
}

/* Takes a slot on the exchange's backend and starts the upstream, or
 * queues the exchange for one, or answers 429. */
static void admit(struct exchange *ex)
{
    const struct lx_config_backend *b = &ex->cfg->backends[ex->backend_index];
    lx_route_waiter_init(&ex->waiter, on_granted, ex);
    lx_route_waiter_set_priority(&ex->waiter, ex->priority);
    switch (lx_route_acquire(ex->route, ex->backend_index, &ex->waiter)) {
    case LX_OK:
        ex->acquired = true;
        begin_upstream(ex);
        return;
    case LX_AGAIN:
        ex->queued_behind = lx_route_queued(ex->route, ex->backend_index) - 1u;
        ex->queued_behind_class =
            lx_route_queued_class(ex->route, ex->backend_index, ex->priority) - 1u;
        ex->admit = ADMIT_QUEUED;
        ex->t_queued_us = lx_clock_mono_us();
        uv_timer_start(&ex->start_handle, on_queue_timeout, b->queue.max_wait_ms, 0);
        return;
    default: {
        char msg[256];
        uint32_t wait_ms;
        record_attempt(ex, "busy", 0);
        if (plan_next(ex, 0, &wait_ms)) {
            start_attempt(ex); /* overflow: the next deployment */
            return;
        }
        snprintf(msg, sizeof(msg), "Backend '%s' is at its limit of %u requests in flight%s.",
                 ex->backend, b->max_in_flight, b->queue.max ? " and its queue is full" : "");
        respond_busy(ex, msg, "backend_busy");
    }
    }
}

/* Clears what the previous attempt left: its status, body, stream state,
 * tally and error. The client has received nothing yet. */
static void reset_attempt(struct exchange *ex)
{
    ex->upstream_status = 0;
    ex->mode = MODE_NONE;
    ex->saw_done = ex->paused = false;
    ex->retry_after_ms = 0;
    ex->t_first_token_us = 0;
    ex->error_type[0] = ex->error_message[0] = ex->upstream_result[0] = '\0';
    memset(&ex->tally, 0, sizeof(ex->tally));
    ex->toolcheck.n = ex->toolcheck.n_calls = 0;
    lx_buf_reset(&ex->whole);
    lx_sse_reset(&ex->sse);
    lx_arena_reset(&ex->scratch);
    lx_proxy_resp_reset(ex);
    lx_proxy_rev_reset(ex, false);
    lx_proxy_redact_reset_attempt(ex);
    lx_proxy_validate_reset_attempt(ex);
}

/* Names ex->deployment of a configured model as the exchange's target. */
static void name_deployment(struct exchange *ex)
{
    const struct lx_config_model *m = ex->model_cfg;
    if (m == NULL)
        return; /* a discovered id: resolve() named its one deployment */
    const struct lx_config_deployment *d = lx_config_model_deployment(m, ex->deployment);
    ex->backend_index = d->backend;
    snprintf(ex->backend, sizeof(ex->backend), "%s", ex->cfg->backends[ex->backend_index].name);
    snprintf(ex->upstream_model, sizeof(ex->upstream_model), "%s", d->upstream_model);
}

/* Records a deployment passed over (out of rotation: why a) with ms 0, and
 * adds it to the 503's explanation. */
static void note_skip(struct exchange *ex, const char *reason, char *why, size_t cap, size_t *used)
{
    ex->t_attempt_us = lx_clock_mono_us();
    record_attempt(ex, reason, 0);
    int n = snprintf(why + *used, cap - *used, "%s'%s' %s", *used ? ", " : "", ex->backend, reason);
    if (n > 0)
        *used = LX_MIN(*used + (size_t)n, cap - 1);
}

/* Lets the balancer pick a deployment of the model's set not tried yet
 * (route.h lx_route_pick); members out of rotation are recorded as skips. */
static bool pick_in_set(struct exchange *ex, char *why, size_t cap, size_t *used)
{
    const struct lx_config_model *m = ex->model_cfg;
    enum lx_route_avail skipped[32];
    struct lx_route_pick pick;
    /* a request redaction tagged sensitive passes over non-local members, and
     * every request over members a routing rule skips */
    for (size_t k = 0; k < m->n_deployments && ex->n_attempts < MAX_ATTEMPTS; k++) {
        const char *skip = (ex->set_tried & (1u << k))
                               ? NULL
                               : lx_proxy_rules_skip(ex, m->deployments[k].backend,
                                                     &m->deployments[k]); /* routing.c */
        if (skip == NULL)
            continue;
        ex->set_tried |= 1u << k;
        ex->deployment = (uint8_t)k;
        name_deployment(ex);
        note_skip(ex, skip, why, cap, used);
    }
    int rc = lx_route_pick(ex->route, m, &ex->set_tried, skipped, now_ms(), &pick);
    for (size_t k = 0; k < m->n_deployments && ex->n_attempts < MAX_ATTEMPTS; k++) {
        if (skipped[k] == LX_ROUTE_AVAILABLE)
            continue;
        ex->deployment = (uint8_t)k;
        name_deployment(ex);
        note_skip(ex, lx_route_avail_str(skipped[k]), why, cap, used);
    }
    if (rc != LX_OK)
        return false;
    ex->deployment = (uint8_t)pick.deployment;
    ex->pick = pick;
    ex->picked = true;
    ex->probe = pick.probe;
    name_deployment(ex);
    return true;
}

/* Moves ex to the deployment to try next that is in rotation (route.h:
 * active health, circuit, pin): a fresh pick of the balancer while the
 * model's set has members left, the same deployment for a retry, else the
 * fallbacks in order. Each one passed over is in the audit record with ms
 * 0 and costs no attempt. False, after answering 503 no_healthy_backend,
 * when none is left. */
static bool choose_deployment(struct exchange *ex)
{
    char why[200] = "";
    size_t used = 0;
    const struct lx_config_model *m = ex->model_cfg;
    size_t total = m ? lx_config_model_n_deployments(m) : 1;
    for (;;) {
        if (m && ex->deployment < m->n_deployments && ex->tries == 0) {
            if (pick_in_set(ex, why, sizeof(why), &used))
                return true;
            ex->deployment = (uint8_t)m->n_deployments; /* the set is spent */
            if (ex->deployment >= total || ex->n_attempts >= MAX_ATTEMPTS)
                break;
            continue;
        }
        name_deployment(ex);
        const struct lx_config_deployment *d =
            m ? lx_config_model_deployment(m, ex->deployment) : NULL;
        const char *pin = d && d->pinned ? ex->upstream_model : NULL;
        const char *skip = lx_proxy_rules_skip(ex, ex->backend_index, d); /* routing.c */
        if (skip == NULL) {
            enum lx_route_avail a =
                lx_route_choose(ex->route, ex->backend_index, pin, now_ms(), &ex->probe);
            if (a == LX_ROUTE_AVAILABLE)
                return true;
            skip = lx_route_avail_str(a);
        }
        note_skip(ex, skip, why, sizeof(why), &used);
        if (m == NULL || ex->n_attempts >= MAX_ATTEMPTS)
            break;
        if (ex->deployment >= m->n_deployments && ex->deployment + 1u >= total)
            break;
        if (ex->deployment >= m->n_deployments)
            ex->deployment++; /* else: a retry whose deployment left; pick another */
        ex->tries = 0;
    }
    if (lx_proxy_rules_refuse(ex, why))
        return false;
    char msg[512];
    if (lx_proxy_redact_sensitive(ex)) {
        snprintf(msg, sizeof(msg),
                 "The request was tagged sensitive by the gateway's redaction policy and no local "
                 "deployment of model `%s` is available: %s.",
                 ex->model, why);
        respond_error(ex, 503, msg, "server_error", NULL, "no_local_backend");
        return false;
    }
    snprintf(msg, sizeof(msg), "No deployment of model `%s` is available: %s.", ex->model, why);
    respond_error(ex, 503, msg, "server_error", NULL, "no_healthy_backend");
    return false;
}

/* Starts the next attempt on ex->deployment (or the first deployment after
 * it that is in rotation): names it, splices its upstream model into the
 * body and goes through admission. */
static void start_attempt(struct exchange *ex)
{
    if (!choose_deployment(ex))
        return;
    reset_attempt(ex);
    ex->tries++;
    ex->t_attempt_us = lx_clock_mono_us();
    lx_buf_reset(&ex->upstream_body);
    /* a repair (validate.c) sends the request with the invalid answer and the error */
    int rc = ex->endpoint == LX_PROXY_RESPONSES ? lx_proxy_resp_encode(ex)
             : lx_proxy_repair_wanted(ex)       ? lx_proxy_repair_encode(ex)
             : lx_proxy_rev_wanted(ex)          ? lx_proxy_rev_encode(ex)
                                       : lx_chat_request_rewrite(&ex->cr, ex->upstream_model,
                                                                 ex->stream, &ex->upstream_body);
    if (rc == LX_AGAIN) {
        settle_circuit(ex, LX_ROUTE_NEUTRAL);
        return; /* the request cannot be translated for this backend: answered */
    }
    if (rc != LX_OK) {
        settle_circuit(ex, LX_ROUTE_NEUTRAL);
        respond_error(ex, 413, "The request is too large after rewriting.", "invalid_request_error",
                      NULL, "request_too_large");
        return;
    }
    admit(ex);
}

/* Refuses (403) a model the caller's key does not allow. Checked before
 * the model is resolved, so a key cannot probe which models exist. */
static int authorize(struct exchange *ex, const struct lx_proxy_caller *caller)
{
    if (caller == NULL)
        return LX_OK;
    snprintf(ex->key_id, sizeof(ex->key_id), "%s", caller->key_id);
    if (caller->model_allowed == NULL || caller->model_allowed(caller->key, ex->model_raw))
        return LX_OK;
    char msg[256];
    snprintf(msg, sizeof(msg), "This API key is not allowed to use the model `%s`.", ex->model);
    respond_error(ex, 403, msg, "invalid_request_error", "model", "model_not_allowed");
    return LX_ERR;
}

/* Redaction of the prompt (redaction.c): 400 content_blocked when a block
 * detector matched, 413 when the redacted body is over its cap. */
static int redact_request(struct exchange *ex)
{
    char msg[256];
    switch (lx_proxy_redact_request(ex, msg, sizeof(msg))) {
    case LX_OK:
        return LX_OK;
    case LX_AGAIN:
        respond_error(ex, 400, msg, "invalid_request_error", "messages", "content_blocked");
        return LX_ERR;
    default:
        respond_error(ex, 413, msg, "invalid_request_error", NULL, "request_too_large");
        return LX_ERR;
    }
}

/* The routing decisions made once per request: the alias, the A/B arm
 * (ex->model_cfg becomes the model that serves) and the priority class. A
 * bad x-llmux-priority header is answered 400. */
static int route_request(struct exchange *ex, const struct lx_route_target *t,
                         const struct lx_proxy_caller *caller)
{
    const struct lx_config *cfg = ex->cfg;
    ex->alias = t->alias;
    ex->resolved = t->model;
    if (t->model && t->model->ab.enabled) {
        lx_str sticky = {0};
        if (t->model->ab.sticky == LX_AB_STICKY_KEY)
            sticky = lx_str_from_cstr(ex->key_id);
        else if (t->model->ab.sticky == LX_AB_STICKY_HEADER && ex->req)
            sticky = lx_http_req_header(ex->req, t->model->ab.header);
        ex->model_cfg = lx_route_ab(ex->route, t->model, sticky, &ex->ab_arm);
    }
    ex->priority = caller ? caller->priority : LX_ROUTE_PRIO_UNSET;
    lx_str h = cfg->priority.header && ex->req ? lx_http_req_header(ex->req, "x-llmux-priority")
                                               : (lx_str){0};
    uint8_t asked;
    if (h.ptr == NULL)
        return LX_OK;
    if (lx_route_priority_parse(h, &asked) != LX_OK) {
        respond_error(ex, 400, "The header x-llmux-priority must be high, normal or low.",
                      "invalid_request_error", NULL, "invalid_priority");
        return LX_ERR;
    }
    if (ex->priority == LX_ROUTE_PRIO_UNSET || asked < ex->priority)
        ex->priority = asked;
    return LX_OK;
}

static uint32_t max_concurrent(const struct lx_proxy_caller *caller)
{
    return caller ? caller->max_concurrent : 0;
}

/* True after answering 429 when the caller's key has no concurrency slot
 * left: looked at before the rate limits so that a refused request costs
 * none of them (the slot itself is taken after them). */
static bool key_concurrency_full(struct exchange *ex, const struct lx_proxy_caller *caller)
{
    uint32_t max = max_concurrent(caller);
    if (max == 0 || lx_proxy_key_in_flight(ex->p, ex->key_id) < max)
        return false;
    lx_proxy_key_slot_take(ex, max); /* answers the 429 */
    return true;
}

/* The rest of the way in, once the rate limits have admitted the
 * exchange (limits.c): the key's concurrency slot, redaction, the first
 * attempt. */
static void admitted(struct exchange *ex)
{
    if (lx_proxy_key_slot_take(ex, ex->key_max_concurrent) != LX_OK ||
        redact_request(ex) != LX_OK || lx_proxy_rules_prepare(ex) != LX_OK)
        return;
    lx_proxy_capture_prompt(ex->p, ex,
                            ex->endpoint == LX_PROXY_RESPONSES
                                ? lx_http_req_body(ex->req)
                                : lx_json_value_text(&ex->cr.json, ex->cr.messages));
    if (ex->endpoint == LX_PROXY_RESPONSES)
        lx_proxy_resp_start(ex);
    else
        start_attempt(ex);
}

void lx_proxy_handle(struct lx_proxy *p, enum lx_proxy_endpoint ep, struct lx_http_req *req,
                     const char *request_id)
{
    lx_proxy_handle_as(p, ep, req, request_id, NULL);
}

void lx_proxy_handle_as(struct lx_proxy *p, enum lx_proxy_endpoint ep, struct lx_http_req *req,
                        const char *request_id, const struct lx_proxy_caller *caller)
{
    uint8_t resp_kind = lx_proxy_resp_kind_of(&ep); /* compact.c: input_tokens, compact */
    struct exchange *ex = exchange_new(p, req, request_id, ep);
    if (ex == NULL) {
        lx_http_respond(req, 500, "application/json", NULL, 0, "{}", 2);
        return;
    }
    ex->resp_kind = resp_kind;
    struct lx_route_target t;
    if (read_request(ex, &ex->cr) != LX_OK || authorize(ex, caller) != LX_OK ||
        lx_proxy_key_settings(ex, caller) != LX_OK || resolve(ex, &t) != LX_OK)
        return;
    ex->model_cfg = t.model;
    ex->key_max_concurrent = max_concurrent(caller);
    if (route_request(ex, &t, caller) != LX_OK || lx_proxy_tools_check_request(ex) != LX_OK ||
        key_concurrency_full(ex, caller))
        return;
    /* the rate limits may ask Redis: admitted() runs now or from its answer */
    if (lx_proxy_limits_admit(ex, admitted) == LX_OK)
        admitted(ex);
}

void lx_proxy_reject(struct lx_proxy *p, struct lx_http_req *req, const char *request_id,
                     int status, const char *message, const char *type, const char *code)
{
    struct exchange *ex = exchange_new(p, req, request_id, LX_PROXY_CHAT);
    if (ex == NULL) {
        lx_http_respond(req, status, "application/json", NULL, 0, "{}", 2);
        return;
    }
    respond_error(ex, status, message, type, NULL, code);
}

/* True while the exchange waits on its backend: for a slot, or for the
 * upstream's answer. */
static bool waiting_on_backend(const struct exchange *ex)
{
    return ex->up != NULL || ex->admit != ADMIT_NONE;
}

void lx_proxy_watch_clients(struct lx_proxy *p)
{
    for (struct exchange *ex = p->exchanges; ex; ex = ex->next) {
        if (ex->req == NULL || !waiting_on_backend(ex) || ex->client_started ||
            !lx_http_req_client_gone(ex->req))
            continue;
        leave_admission(ex, "cancelled");
        cancel_upstream(ex);
        ex->client_gone = true;
        /* the answer goes nowhere; sending it lets h2o close the connection */
        respond_error(ex, 499, "The client closed the connection.", "invalid_request_error", NULL,
                      "client_closed_request");
        maybe_free(ex);
    }
}

uint32_t lx_proxy_in_flight(const struct lx_proxy *p)
{
    return p->n_exchanges;
}

void lx_proxy_cancel_all(struct lx_proxy *p)
{
    /* the queued first: then the slots given back below find no waiter */
    for (struct exchange *ex = p->exchanges; ex; ex = ex->next) {
        if (ex->admit == ADMIT_QUEUED) {
            leave_admission(ex, "cancelled");
            if (ex->req && !ex->client_finished)
                respond_error(ex, 503, "The gateway is shutting down.", "server_error", NULL,
                              "shutting_down");
            maybe_free(ex);
        }
    }
    for (struct exchange *ex = p->exchanges; ex; ex = ex->next) {
        if (waiting_on_backend(ex)) {
            leave_admission(ex, "cancelled");
            cancel_upstream(ex);
            if (ex->req && ex->client_started && !ex->client_finished)
                stream_fail(ex, "The gateway is shutting down.", "shutting_down");
            else if (ex->req && !ex->client_finished)
                respond_error(ex, 503, "The gateway is shutting down.", "server_error", NULL,
                              "shutting_down");
            maybe_free(ex);
        }
    }
}

/* --- for resp.c ----------------------------------------------------------- */

void lx_ex_respond(struct exchange *ex, int status, const char *body, size_t len)
{
    respond(ex, status, body, len);
}

void lx_ex_respond_error(struct exchange *ex, int status, const char *message, const char *type,
                         const char *param, const char *code)
{
    respond_error(ex, status, message, type, param, code);
}

void lx_ex_client_end(struct exchange *ex)
{
    client_end(ex);
}

void lx_ex_note_error(struct exchange *ex, const char *type, const char *message)
{
    note_error(ex, type, message);
}

void lx_ex_start_attempt(struct exchange *ex)
{
    start_attempt(ex);
}

void lx_ex_maybe_free(struct exchange *ex)
{
    maybe_free(ex);
}

int lx_ex_chat_event(struct exchange *ex, lx_str data)
{
    return chat_event(ex, data);
}

int lx_ex_pass_event(struct exchange *ex, lx_str data)
{
    return pass_event(ex, data);
}
