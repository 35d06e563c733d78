/* multi.c -- the non-blocking libcurl driver for event loops: many calls in
 * flight on one curl multi handle.
 *
 * Each added call is an entry in one of three states:
 *   READY    next() must be asked (just added, or its transfer/wait ended)
 *   RUNNING  its PERFORM is on the multi handle (an easy handle from the pool)
 *   WAITING  its WAIT lasts until wake_at
 * and DONE entries move to a FIFO queue that done() pops.  poll() advances
 * what is due, lets libcurl move bytes, and waits at most timeout_ms (never
 * past the earliest wake-up).  Easy handles are pooled, and connections are
 * shared through the multi handle's cache (keep-alive, HTTP/2 multiplexing).
 */
#define _POSIX_C_SOURCE 200809L
#include "driver.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { E_READY, E_RUNNING, E_WAITING, E_DONE };

typedef struct entry {
    struct entry *next;      /* in the active list or the done queue */
    sinch_batch_call *call;
    void *userdata;
    int state;
    int64_t wake_at;
    sb_xfer *xfer;           /* E_RUNNING */
    sinch_batch_action action; /* the PERFORM in flight, or the DONE */
} entry;

typedef struct pooled {
    struct pooled *next;
    sb_xfer x;
} pooled;

struct sinch_batch_curl_multi {
    sb_curl_cfg cfg;
    CURLM *multi;
    entry *active;           /* READY, RUNNING and WAITING entries */
    entry *done_head, *done_tail;
    pooled *pool;            /* idle transfers */
};

sinch_batch_curl_multi *sinch_batch_curl_multi_new(const sinch_batch_curl_opts *opts,
                                                   sinch_batch_error *err) {
    sinch_batch_curl_multi *m;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        sb_curl_set_error(err, SINCH_BATCH_ERROR_INTERNAL, "curl: global initialisation failed");
        return NULL;
    }
    m = calloc(1, sizeof *m);
    if (m == NULL || sb_curl_cfg_init(&m->cfg, opts) != 0 ||
        (m->multi = curl_multi_init()) == NULL) {
        if (m) sb_curl_cfg_free(&m->cfg);
        free(m);
        curl_global_cleanup();
        sb_curl_set_error(err, SINCH_BATCH_ERROR_INTERNAL, "curl: out of memory creating the driver");
        return NULL;
    }
    (void)curl_multi_setopt(m->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    if (err) memset(err, 0, sizeof *err);
    return m;
}

static pooled *xfer_owner(sb_xfer *x) {
    return (pooled *)((char *)x - offsetof(pooled, x));
}

static sb_xfer *xfer_get(sinch_batch_curl_multi *m) {
    pooled *p = m->pool;
    if (p) {
        m->pool = p->next;
        p->next = NULL;
        return &p->x;
    }
    p = calloc(1, sizeof *p);
    if (p == NULL) return NULL;
    if (sb_xfer_init(&p->x) != 0) {
        free(p);
        return NULL;
    }
    return &p->x;
}

static void xfer_put(sinch_batch_curl_multi *m, sb_xfer *x) {
    pooled *p = xfer_owner(x);
    p->next = m->pool;
    m->pool = p;
}

void sinch_batch_curl_multi_free(sinch_batch_curl_multi *m) {
    entry *e, *next;
    pooled *p, *pn;
    if (m == NULL) return;
    /* calls still in m are the caller's: they are left as they are */
    for (e = m->active; e; e = next) {
        next = e->next;
        if (e->xfer) {
            curl_multi_remove_handle(m->multi, e->xfer->easy);
            xfer_put(m, e->xfer);
        }
        free(e);
    }
    for (e = m->done_head; e; e = next) {
        next = e->next;
        free(e);
    }
    for (p = m->pool; p; p = pn) {
        pn = p->next;
        sb_xfer_free(&p->x);
        free(p);
    }
    curl_multi_cleanup(m->multi);
    sb_curl_cfg_free(&m->cfg);
    free(m);
    curl_global_cleanup();
}

int sinch_batch_curl_multi_add(sinch_batch_curl_multi *m, sinch_batch_call *call,
                               void *userdata) {
    entry *e;
    if (m == NULL || call == NULL) return SINCH_BATCH_ERR;
    e = calloc(1, sizeof *e);
    if (e == NULL) return SINCH_BATCH_ENOMEM;
    e->call = call;
    e->userdata = userdata;
    e->state = E_READY;
    e->next = m->active;
    m->active = e;
    return SINCH_BATCH_OK;
}

static void finish(entry *e, const sinch_batch_action *done) {
    if (done) e->action = *done;
    else sb_curl_done_from_error(e->call, &e->action);
    e->state = E_DONE;
}

/* Ask a READY entry's call what to do until it is RUNNING, WAITING or DONE. */
static void advance(sinch_batch_curl_multi *m, entry *e, int64_t now) {
    while (e->state == E_READY) {
        sinch_batch_action a;
        if (sinch_batch_call_next(e->call, now, &a) != SINCH_BATCH_OK) {
            finish(e, NULL);
            return;
        }
        switch (a.kind) {
        case SINCH_BATCH_PERFORM: {
            sb_xfer *x = xfer_get(m);
            CURLcode rc;
            if (x == NULL) {
                /* cannot start it now; try again on the next poll */
                e->state = E_WAITING;
                e->wake_at = now;
                return;
            }
            e->action = a;
            rc = sb_xfer_setup(x, &m->cfg, &e->action);
            if (rc == CURLE_OK) {
                curl_easy_setopt(x->easy, CURLOPT_PRIVATE, (void *)e);
                if (curl_multi_add_handle(m->multi, x->easy) == CURLM_OK) {
                    e->xfer = x;
                    e->state = E_RUNNING;
                    return;
                }
                x->setup_failed = 1;
                rc = CURLE_OUT_OF_MEMORY;
            }
            (void)sb_xfer_feed(x, e->call, rc, &e->action);
            xfer_put(m, x);
            break; /* still READY: ask again */
        }
        case SINCH_BATCH_WAIT:
            e->state = E_WAITING;
            e->wake_at = now + (a.wait_ms > 0 ? a.wait_ms : 0);
            return;
        case SINCH_BATCH_DONE:
            finish(e, &a);
            return;
        default:
            finish(e, NULL);
            return;
        }
    }
}

/* Advance every READY entry and every WAITING one that is due; move DONE
 * entries to the done queue. */
static void advance_all(sinch_batch_curl_multi *m) {
    int64_t now = sb_curl_now_ms();
    entry **pp = &m->active, *e;
    while ((e = *pp) != NULL) {
        if (e->state == E_WAITING && e->wake_at <= now) e->state = E_READY;
        if (e->state == E_READY) advance(m, e, now);
        if (e->state == E_DONE) {
            *pp = e->next;
            e->next = NULL;
            if (m->done_tail) m->done_tail->next = e;
            else m->done_head = e;
            m->done_tail = e;
        } else {
            pp = &e->next;
        }
    }
}

/* Feed every finished transfer to its call; the entry becomes READY. */
static int reap(sinch_batch_curl_multi *m) {
    CURLMsg *msg;
    int left, n = 0;
    while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
        entry *e = NULL;
        sb_xfer *x;
        CURLcode result;
        if (msg->msg != CURLMSG_DONE) continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&e);
        if (e == NULL || e->xfer == NULL) continue;
        x = e->xfer;
        result = msg->data.result; /* msg is invalid after remove */
        curl_multi_remove_handle(m->multi, x->easy);
        (void)sb_xfer_feed(x, e->call, result, &e->action);
        e->xfer = NULL;
        xfer_put(m, x);
        e->state = E_READY;
        n++;
    }
    return n;
}

static int count_active(const sinch_batch_curl_multi *m, int64_t *earliest_wake,
                        int *running) {
    const entry *e;
    int n = 0;
    *earliest_wake = INT64_MAX;
    *running = 0;
    for (e = m->active; e; e = e->next) {
        n++;
        if (e->state == E_RUNNING) (*running)++;
        else if (e->state == E_WAITING && e->wake_at < *earliest_wake)
            *earliest_wake = e->wake_at;
        else if (e->state == E_READY)
            *earliest_wake = 0;
    }
    return n;
}

int sinch_batch_curl_multi_poll(sinch_batch_curl_multi *m, long timeout_ms) {
    int still = 0, running, n;
    int64_t wake, now;
    long wait;
    if (m == NULL) return SINCH_BATCH_ERR;
    if (timeout_ms < 0) timeout_ms = 0;

    advance_all(m);
    if (curl_multi_perform(m->multi, &still) != CURLM_OK) return SINCH_BATCH_ERR;
    if (reap(m)) advance_all(m);

    n = count_active(m, &wake, &running);
    if (n > 0 && timeout_ms > 0 && m->done_head == NULL) {
        now = sb_curl_now_ms();
        wait = timeout_ms;
        if (wake != INT64_MAX) {
            int64_t until = wake - now;
            if (until < 0) until = 0;
            if (until < wait) wait = (long)until;
        }
        if (wait > INT_MAX) wait = INT_MAX;
        if (wait > 0 && curl_multi_poll(m->multi, NULL, 0, (int)wait, NULL) != CURLM_OK)
            return SINCH_BATCH_ERR;
        if (curl_multi_perform(m->multi, &still) != CURLM_OK) return SINCH_BATCH_ERR;
        reap(m);
        advance_all(m);
    }
    return count_active(m, &wake, &running);
}

sinch_batch_call *sinch_batch_curl_multi_done(sinch_batch_curl_multi *m,
                                              sinch_batch_action *done, void **userdata) {
    entry *e;
    sinch_batch_call *call;
    if (m == NULL || (e = m->done_head) == NULL) return NULL;
    m->done_head = e->next;
    if (m->done_head == NULL) m->done_tail = NULL;
    call = e->call;
    if (done) *done = e->action;
    if (userdata) *userdata = e->userdata;
    free(e);
    return call;
}

long sinch_batch_curl_multi_waiting_ms(const sinch_batch_curl_multi *m) {
    const entry *e;
    int64_t now, latest = 0;
    if (m == NULL) return 0;
    now = sb_curl_now_ms();
    for (e = m->active; e; e = e->next)
        if (e->state == E_WAITING && e->wake_at - now > latest) latest = e->wake_at - now;
    return latest > LONG_MAX ? LONG_MAX : (long)latest;
}
