/*
 * upstream.c — libcurl's multi-socket API driven by libuv (see upstream.h).
 *
 * curl tells us which sockets to watch (socket callback → one uv_poll_t
 * each) and when to call it back (timer callback → one uv_timer_t); libuv
 * tells curl when a socket is ready. Finished transfers are collected with
 * curl_multi_info_read() after every curl_multi_socket_action().
 *
 * A request is never freed inside one of curl's callbacks for it: a cancel
 * that arrives there only marks it, the transfer is failed by returning an
 * error to curl, and the free happens when curl reports it done.
 */
#include "upstream.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "../core/log.h"

enum { EASY_POOL_MAX = 64 };

struct lx_upstream {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    CURL *easy_pool[EASY_POOL_MAX];
    int n_pool;
    int live; /* requests started and not yet freed */
    struct sock_ctx *socks;
    bool freeing, timer_closed; /* freed once both hold and live is 0 */
};

struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    struct lx_upstream *u;
    struct sock_ctx *prev, *next; /* every watched socket, to close at the end */
};

struct lx_upstream_req {
    struct lx_upstream *u;
    CURL *easy;
    struct curl_slist *headers;
    struct lx_upstream_cbs cbs;
    void *data;
    uv_timer_t timer; /* first byte, then idle */
    uint32_t first_byte_ms, idle_ms;
    int in_callback;
    bool got_head, paused, cancelled, aborted, finished;
    char content_type[128];
    uint32_t retry_after_s; /* the response's Retry-After in seconds; 0 when none */
    char errbuf[CURL_ERROR_SIZE];
};

static const char *const result_names[] = {
    [LX_UPSTREAM_DONE] = "done",
    [LX_UPSTREAM_CONNECT_FAILED] = "connect_failed",
    [LX_UPSTREAM_TIMEOUT_CONNECT] = "timeout_connect",
    [LX_UPSTREAM_TIMEOUT_FIRST_BYTE] = "timeout_first_byte",
    [LX_UPSTREAM_TIMEOUT_IDLE] = "timeout_idle",
    [LX_UPSTREAM_TIMEOUT_TOTAL] = "timeout_total",
    [LX_UPSTREAM_BROKEN] = "broken",
    [LX_UPSTREAM_ABORTED] = "aborted",
};

const char *lx_upstream_result_str(enum lx_upstream_result r)
{
    return result_names[r];
}

bool lx_upstream_result_is_timeout(enum lx_upstream_result r)
{
    return r == LX_UPSTREAM_TIMEOUT_CONNECT || r == LX_UPSTREAM_TIMEOUT_FIRST_BYTE ||
           r == LX_UPSTREAM_TIMEOUT_IDLE || r == LX_UPSTREAM_TIMEOUT_TOTAL;
}

static void check_done(struct lx_upstream *u);

static void on_poll(uv_poll_t *poll, int status, int events)
{
    struct sock_ctx *sc = poll->data;
    /* On a socket error let curl read and write: it then finds the real
     * cause (a reset, a refused connect) and reports it. */
    int flags = status < 0 ? CURL_CSELECT_IN | CURL_CSELECT_OUT : 0;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    int running;
    curl_multi_socket_action(sc->u->multi, sc->fd, flags, &running);
    check_done(sc->u);
}

static void sock_close(struct lx_upstream *u, struct sock_ctx *sc)
{
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        u->socks = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    uv_poll_stop(&sc->poll);
    uv_close((uv_handle_t *)&sc->poll, (uv_close_cb)free);
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct lx_upstream *u = userp;
    struct sock_ctx *sc = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (sc) {
            sock_close(u, sc);
            curl_multi_assign(u->multi, s, NULL);
        }
        return 0;
    }
    if (sc == NULL) {
        sc = malloc(sizeof(*sc));
        if (sc == NULL)
            return -1;
        sc->fd = s;
        sc->u = u;
        sc->prev = NULL;
        sc->next = u->socks;
        if (u->socks)
            u->socks->prev = sc;
        u->socks = sc;
        uv_poll_init_socket(u->loop, &sc->poll, s);
        sc->poll.data = sc;
        curl_multi_assign(u->multi, s, sc);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    uv_poll_start(&sc->poll, events, on_poll);
    return 0;
}

static void on_multi_timer(uv_timer_t *t)
{
    struct lx_upstream *u = t->data;
    int running;
    curl_multi_socket_action(u->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(u);
}

static int on_timer_change(CURLM *multi, long timeout_ms, void *userp)
{
    struct lx_upstream *u = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&u->timer);
    else
        uv_timer_start(&u->timer, on_multi_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

struct lx_upstream *lx_upstream_new(uv_loop_t *loop)
{
    struct lx_upstream *u = calloc(1, sizeof(*u));
    if (u == NULL)
        return NULL;
    u->loop = loop;
    u->multi = curl_multi_init();
    uv_timer_init(loop, &u->timer);
    u->timer.data = u;
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, on_timer_change);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
    curl_multi_setopt(u->multi, CURLMOPT_MAXCONNECTS, 1024L);
    return u;
}

static void engine_release(struct lx_upstream *u)
{
    if (u->freeing && u->timer_closed && u->live == 0)
        free(u);
}

static void req_free(uv_handle_t *h)
{
    struct lx_upstream_req *r = h->data;
    struct lx_upstream *u = r->u;
    free(r);
    u->live--;
    engine_release(u); /* requests cancelled at shutdown may close after the engine */
}

static void release_easy(struct lx_upstream *u, CURL *easy)
{
    if (u->n_pool < EASY_POOL_MAX) {
        curl_easy_reset(easy);
        u->easy_pool[u->n_pool++] = easy;
    } else {
        curl_easy_cleanup(easy);
    }
}

/* Ends the request: detaches it from curl, reports the outcome unless it
 * was cancelled, and frees it once its timer is closed. */
static void finish(struct lx_upstream_req *r, enum lx_upstream_result result, const char *detail)
{
    if (r->finished)
        return;
    r->finished = true;
    uv_timer_stop(&r->timer);
    curl_multi_remove_handle(r->u->multi, r->easy);
    if (!r->cancelled && r->cbs.on_done)
        r->cbs.on_done(r->data, result, detail);
    release_easy(r->u, r->easy);
    r->easy = NULL;
    curl_slist_free_all(r->headers);
    r->headers = NULL;
    uv_close((uv_handle_t *)&r->timer, req_free);
}

static enum lx_upstream_result classify(struct lx_upstream_req *r, CURLcode code)
{
    switch (code) {
    case CURLE_OK:
        return LX_UPSTREAM_DONE;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SSL_CONNECT_ERROR:
        return LX_UPSTREAM_CONNECT_FAILED;
    case CURLE_OPERATION_TIMEDOUT: {
        curl_off_t connect_us = 0;
        curl_easy_getinfo(r->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
        return connect_us == 0 ? LX_UPSTREAM_TIMEOUT_CONNECT : LX_UPSTREAM_TIMEOUT_TOTAL;
    }
    case CURLE_WRITE_ERROR:
        if (r->aborted)
            return LX_UPSTREAM_ABORTED;
        return LX_UPSTREAM_BROKEN;
    default:
        return LX_UPSTREAM_BROKEN;
    }
}

static void check_done(struct lx_upstream *u)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(u->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct lx_upstream_req *r = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        CURLcode code = msg->data.result;
        enum lx_upstream_result res = classify(r, code);
        finish(r, res,
               res == LX_UPSTREAM_DONE ? NULL
                                       : (r->errbuf[0] ? r->errbuf : curl_easy_strerror(code)));
    }
}

static void on_req_timer(uv_timer_t *t)
{
    struct lx_upstream_req *r = t->data;
    finish(r, r->got_head ? LX_UPSTREAM_TIMEOUT_IDLE : LX_UPSTREAM_TIMEOUT_FIRST_BYTE,
           r->got_head ? "no data from the backend within the idle timeout"
                       : "no response from the backend within the first-byte timeout");
}

static void arm_timer(struct lx_upstream_req *r)
{
    uint32_t ms = r->got_head ? r->idle_ms : r->first_byte_ms;
    if (ms)
        uv_timer_start(&r->timer, on_req_timer, ms, 0);
}

/* Retry-After as delay-seconds (RFC 9110 10.2.3); an HTTP date, or
 * anything else, counts as none. Capped at a day. */
static uint32_t parse_retry_after(const char *p, size_t len)
{
    size_t i = 0;
    uint32_t v = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t'))
        i++;
    size_t start = i;
    for (; i < len && p[i] >= '0' && p[i] <= '9'; i++)
        if (v < 86400)
            v = v * 10 + (uint32_t)(p[i] - '0');
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    return i == len && i > start ? LX_MIN(v, 86400u) : 0;
}

uint32_t lx_upstream_retry_after(const struct lx_upstream_req *r)
{
    return r->retry_after_s;
}

static size_t on_header(char *p, size_t size, size_t n, void *userp)
{
    struct lx_upstream_req *r = userp;
    size_t len = size * n;
    if (r->cancelled)
        return 0;
    if (len >= 13 && strncasecmp(p, "content-type:", 13) == 0) {
        size_t i = 13;
        while (i < len && (p[i] == ' ' || p[i] == '\t'))
            i++;
        size_t end = len;
        while (end > i && (p[end - 1] == '\r' || p[end - 1] == '\n' || p[end - 1] == ' '))
            end--;
        size_t vlen = LX_MIN(end - i, sizeof(r->content_type) - 1);
        memcpy(r->content_type, p + i, vlen);
        r->content_type[vlen] = '\0';
    } else if (len >= 12 && strncasecmp(p, "retry-after:", 12) == 0) {
        r->retry_after_s = parse_retry_after(p + 12, len - 12);
    } else if ((len == 2 && p[0] == '\r') || (len == 1 && p[0] == '\n')) {
        long status = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && !r->got_head) {
            r->got_head = true;
            arm_timer(r);
            r->in_callback++;
            if (r->cbs.on_head)
                r->cbs.on_head(r->data, (int)status, lx_str_from_cstr(r->content_type));
            r->in_callback--;
            if (r->cancelled)
                return 0;
        }
    }
    return len;
}

static size_t on_write(char *p, size_t size, size_t n, void *userp)
{
    struct lx_upstream_req *r = userp;
    size_t len = size * n;
    if (r->cancelled)
        return 0;
    r->in_callback++;
    int rc = r->cbs.on_data(r->data, p, len);
    r->in_callback--;
    if (r->cancelled)
        return 0;
    if (rc == LX_AGAIN) {
        r->paused = true;
        uv_timer_stop(&r->timer); /* a slow client is not an idle backend */
        return CURL_WRITEFUNC_PAUSE;
    }
    if (rc != LX_OK) {
        r->aborted = true;
        return 0;
    }
    arm_timer(r);
    return len;
}

static CURL *take_easy(struct lx_upstream *u)
{
    if (u->n_pool > 0)
        return u->easy_pool[--u->n_pool];
    return curl_easy_init();
}

struct lx_upstream_req *lx_upstream_start(struct lx_upstream *u, const struct lx_upstream_opts *o,
                                          const struct lx_upstream_cbs *cbs, void *data)
{
    struct lx_upstream_req *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->easy = take_easy(u);
    if (r->easy == NULL) {
        free(r);
        return NULL;
    }
    r->u = u;
    r->cbs = *cbs;
    r->data = data;
    r->first_byte_ms = o->first_byte_ms;
    r->idle_ms = o->idle_ms;
    r->headers = curl_slist_append(NULL, "Expect:");
    for (const char *const *h = o->headers; h && *h; h++)
        r->headers = curl_slist_append(r->headers, *h);
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, o->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)o->total_ms);
    if (strcmp(o->method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, o->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
    }
    uv_timer_init(u->loop, &r->timer);
    r->timer.data = r;
    u->live++;
    arm_timer(r);
    if (curl_multi_add_handle(u->multi, e) != CURLM_OK) {
        r->cancelled = true;
        finish(r, LX_UPSTREAM_BROKEN, "curl refused the request");
        return NULL;
    }
    return r;
}

void lx_upstream_resume(struct lx_upstream_req *r)
{
    if (!r->paused || r->finished || r->cancelled)
        return;
    r->paused = false;
    arm_timer(r);
    curl_easy_pause(r->easy, CURLPAUSE_CONT);
}

void lx_upstream_cancel(struct lx_upstream_req *r)
{
    if (r->cancelled || r->finished)
        return;
    r->cancelled = true;
    if (r->in_callback)
        return; /* the callback returns an error to curl; check_done frees */
    finish(r, LX_UPSTREAM_ABORTED, NULL); /* not reported: cancelled is set */
}

static void engine_closed(uv_handle_t *h)
{
    struct lx_upstream *u = h->data;
    u->timer_closed = true;
    engine_release(u);
}

void lx_upstream_free(struct lx_upstream *u)
{
    if (u == NULL)
        return;
    u->freeing = true;
    curl_multi_cleanup(u->multi);
    /* curl closes its cached connections without telling the socket
     * callback; their watchers would keep the loop alive */
    while (u->socks)
        sock_close(u, u->socks);
    for (int i = 0; i < u->n_pool; i++)
        curl_easy_cleanup(u->easy_pool[i]);
    uv_close((uv_handle_t *)&u->timer, engine_closed);
}
