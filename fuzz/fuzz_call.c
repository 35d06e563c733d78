/* fuzz_call.c -- the call state machine driven by the fuzz input.
 *
 * One client (OAuth2 keys or a static token, fuzzed limits) and up to three
 * calls on it.  The input decides, step by step, which call moves, what the
 * "server" answers (status, Retry-After, WWW-Authenticate, bodies that may
 * echo a secret raw, JSON-escaped or URL-encoded), which transport errors
 * happen (sent = 0 or 1) and how far the clock jumps.  Checked throughout:
 *
 *   - an ambiguous send (transport error with sent = 1, or 500/502/504, or
 *     any 5xx but 501/503 on a POST) is never PERFORMed again and ends DONE
 *     with may_have_been_processed;
 *   - no PERFORM or WAIT reaches past the call's deadline; past it, DONE;
 *   - at most one token request in flight per client;
 *   - API requests <= max_attempts (+1 for the 401 "expired" retry) per call,
 *     and DONE's attempts is the number of API requests made;
 *   - no secret (key secret, Basic credentials, a token the call sent or the
 *     client holds) in any DONE error message;
 *   - next() twice without feeding gives the same PERFORM.
 */
#include "fuzz.h"

#include "core.h"

#define MAX_CALLS 3
#define MAX_STEPS 600
#define T0 1700000000000LL

static const char *const KEY_SECRETS[] = {
    "s3cr3t/Key+With/Slashes_0123456789",
    "plainsecretvalue0123456789abcdef",
};
static const char *const TOKENS[] = {
    "tok/en.AAAAaaaa+bbbb/cccc_dddd-eeee",
    "TOKEN-zzzzzzzzzzzzzzzzzzzzzzzzzz-2",
    "tok.3.qqqqqqqqqqqqqqqqqqqqqqqqqqqqq",
};
static const int STATUSES[] = {200, 201, 202, 204, 400, 401, 403, 404, 409,
                               429, 500, 501, 502, 503, 504, 302, 413, 599};

typedef struct slot {
    sinch_batch_call *call;
    sinch_batch_op op;
    int post;          /* not idempotent */
    int64_t deadline;
    int pending;       /* a PERFORM is out */
    int pending_token;
    int64_t started;   /* of the pending PERFORM */
    long timeout;      /* of the pending PERFORM */
    int ambiguous;     /* the API request may have been processed */
    int api, tok;      /* PERFORMs seen */
    int done;
    char sent_tokens[4][128];
    int n_sent_tokens;
} slot;

typedef struct world {
    fz in;
    int64_t now;
    sinch_batch_client *c;
    int max_attempts;
    int keys;          /* OAuth2 mode */
    const char *secret;
    int degenerate;    /* a token came from raw fuzz bytes: not checked */
    slot s[MAX_CALLS];
    int n;
} world;

static int is_pool_token(const char *t) {
    size_t i;
    for (i = 0; i < sizeof TOKENS / sizeof TOKENS[0]; i++)
        if (strcmp(t, TOKENS[i]) == 0) return 1;
    return 0;
}

static void check_secret(const char *msg, const char *secret, const char *what) {
    if (secret == NULL || strlen(secret) < 12) return;
    FZ_CHECK(strstr(msg, secret) == NULL, "%s leaked into the error: %s", what, msg);
#ifdef SINCH_BATCH_FUZZ_STRICT_REDACTION
    {
        /* no 12-byte piece of it either (a secret cut in half) */
        size_t i, sl = strlen(secret);
        for (i = 0; i + 12 <= sl; i++)
            FZ_CHECK(fz_find(msg, strlen(msg), secret + i, 12) == NULL,
                     "part of %s leaked into the error: %s", what, msg);
    }
#endif
}

static void check_no_secret(world *w, slot *s, const char *msg) {
    int i;
    FZ_CHECK(memchr(msg, '\0', SINCH_BATCH_ERRSTR_LEN) != NULL, "message not terminated");
    check_secret(msg, w->c->key_secret, "key_secret");
    if (w->c->basic_auth) check_secret(msg, w->c->basic_auth + 6, "Basic credentials");
    if (!w->degenerate) {
        if (w->c->token) check_secret(msg, w->c->token, "the client's token");
        for (i = 0; i < s->n_sent_tokens; i++) check_secret(msg, s->sent_tokens[i], "a token");
    }
}

/* A response body: raw fuzz bytes, or an API error that echoes a secret in
 * some spelling after some padding (to land where the message is cut). */
static void make_body(world *w, slot *s, char *out, size_t outsz, size_t *len) {
    unsigned kind = fz_u8(&w->in) % 4;
    if (kind == 0) {
        size_t n;
        const char *b = fz_bytes(&w->in, outsz - 1, &n);
        memcpy(out, b, n);
        *len = n;
        return;
    } else {
        const char *sec = w->secret;
        char spelled[256];
        size_t i, o = 0, pad = fz_u16(&w->in) % 700;
        unsigned which = fz_u8(&w->in) % 3, how = fz_u8(&w->in) % 3;
        int n;
        if (which == 1 && w->c->token && !w->degenerate) sec = w->c->token;
        if (which == 2 && w->c->basic_auth) sec = w->c->basic_auth + 6;
        if (sec == NULL) sec = "nothing-secret";
        for (i = 0; sec[i] && o + 4 < sizeof spelled; i++) {
            unsigned char ch = (unsigned char)sec[i];
            if (how == 1 && ch == '/') { /* JSON-escaped */
                spelled[o++] = '\\';
                spelled[o++] = '/';
            } else if (how == 2 && (ch == '/' || ch == '+')) { /* URL-encoded */
                o += (size_t)snprintf(spelled + o, sizeof spelled - o, "%%%02X", ch);
            } else {
                spelled[o++] = (char)ch;
            }
        }
        spelled[o] = '\0';
        if (kind == 1)
            n = snprintf(out, outsz, "{\"error\":{\"code\":%u,\"message\":\"%*s%s tail\","
                         "\"status\":\"INVALID_ARGUMENT\"}}", fz_u16(&w->in), (int)pad, "",
                         spelled);
        else if (kind == 2)
            n = snprintf(out, outsz, "{\"error\":\"invalid_client\",\"error_description\":"
                         "\"%*s%s\"}", (int)pad, "", spelled);
        else
            n = snprintf(out, outsz, "<html>%*s%s</html>", (int)pad, "", spelled);
        *len = n < 0 ? 0 : ((size_t)n < outsz ? (size_t)n : outsz - 1);
    }
    (void)s;
}

static const char *retry_after(world *w, char *buf, size_t bufsz) {
    static const char *const fixed[] = {"0", "1", "2", " 3 ", "120", "99999999999999",
                                        "Sun, 06 Nov 1994 08:49:37 GMT",
                                        "Tue, 14 Nov 2023 22:13:25 GMT",
                                        "Wed, 31 Dec 9999 23:59:59 GMT", "-1", "soon", ""};
    unsigned k = fz_u8(&w->in) % 14;
    if (k < 12) return fixed[k];
    {
        size_t n;
        const char *b = fz_bytes(&w->in, bufsz - 1, &n);
        memcpy(buf, b, n);
        buf[n] = '\0';
        return buf;
    }
}

static void feed_response(world *w, slot *s) {
    sinch_batch_response r;
    sinch_batch_header h[3];
    char body[2048], ra[64];
    size_t blen = 0;
    unsigned st_pick = fz_u8(&w->in), hdrs = fz_u8(&w->in);
    int status = st_pick < 200 ? STATUSES[st_pick % (sizeof STATUSES / sizeof STATUSES[0])]
                               : 100 + (int)(st_pick * 7 % 500);
    int rc;

    memset(&r, 0, sizeof r);
    r.headers = h;
    if (hdrs & 1) {
        h[r.n_headers].name = (hdrs & 8) ? "retry-after" : "Retry-After";
        h[r.n_headers++].value = retry_after(w, ra, sizeof ra);
    }
    if (hdrs & 2) {
        h[r.n_headers].name = (hdrs & 16) ? "www-authenticate" : "WWW-Authenticate";
        h[r.n_headers++].value = (hdrs & 32)
                                     ? "Bearer error=\"invalid_token\", error_description="
                                       "\"The access token EXPIRED\""
                                     : "Bearer realm=\"sinch\"";
    }
    if (hdrs & 4) {
        h[r.n_headers].name = NULL; /* a driver bug must not crash the core */
        h[r.n_headers++].value = "x";
    }

    if (s->pending_token && status >= 200 && status < 300 && (hdrs & 64) == 0) {
        /* a well-formed token answer from the pool, fuzzed expires_in */
        static const char *const exps[] = {"3600", "1", "0", "-5", "\"120\"", "1e308",
                                           "59.5", "null", "99999999999999999999"};
        const char *tok = TOKENS[fz_u8(&w->in) % 3];
        int n = snprintf(body, sizeof body, "{\"access_token\":\"%s\",\"expires_in\":%s}", tok,
                         exps[fz_u8(&w->in) % 9]);
        blen = (size_t)n;
    } else {
        make_body(w, s, body, sizeof body, &blen);
    }
    r.status = status;
    r.body = (hdrs & 128) && blen == 0 ? NULL : body;
    r.body_len = blen;

    rc = sinch_batch_call_feed(s->call, w->now, &r);
    FZ_CHECK(rc == SINCH_BATCH_OK || rc == SINCH_BATCH_ENOMEM, "feed returned %d", rc);
    if (w->c->token && !is_pool_token(w->c->token)) w->degenerate = 1;
    if (!s->pending_token && s->post && status >= 500 && status != 501 && status != 503 &&
        status < 600)
        s->ambiguous = 1;
    s->pending = 0;
}

static void feed_error(world *w, slot *s) {
    static const sinch_batch_transport_error tes[] = {
        SINCH_BATCH_TE_CONNECT, SINCH_BATCH_TE_TLS, SINCH_BATCH_TE_TIMEOUT, SINCH_BATCH_TE_IO,
        (sinch_batch_transport_error)0, (sinch_batch_transport_error)77};
    unsigned k = fz_u8(&w->in);
    sinch_batch_transport_error te = tes[k % 6];
    int sent = (k >> 3) & 1;
    char msg[600];
    const char *m = NULL;
    int rc;
    if (k & 0x40) {
        size_t n;
        make_body(w, s, msg, sizeof msg, &n);
        msg[n] = '\0';
        m = msg;
    }
    rc = sinch_batch_call_feed_error(s->call, w->now, te, sent, m);
    FZ_CHECK(rc == SINCH_BATCH_OK, "feed_error returned %d", rc);
    /* CONNECT means nothing was sent whatever `sent` says; any other
     * failure the driver says may have been sent is ambiguous */
    if (!s->pending_token && s->post && sent && te != SINCH_BATCH_TE_CONNECT) s->ambiguous = 1;
    s->pending = 0;
}

static void token_in_flight_check(world *w, slot *self) {
    int i;
    for (i = 0; i < w->n; i++) {
        slot *o = &w->s[i];
        if (o == self || !o->call || !o->pending || !o->pending_token) continue;
        FZ_CHECK(w->now >= o->started + o->timeout,
                 "second token request while call %d's (started %lld, timeout %ld) is in "
                 "flight at %lld", i, (long long)o->started, o->timeout, (long long)w->now);
    }
}

static void on_perform(world *w, slot *s, const sinch_batch_action *a) {
    size_t i;
    FZ_CHECK(a->method && a->url && a->headers, "PERFORM without method/url/headers");
    FZ_CHECK(w->now < s->deadline, "PERFORM at %lld past the deadline %lld",
             (long long)w->now, (long long)s->deadline);
    FZ_CHECK(a->timeout_ms >= 1 && w->now + a->timeout_ms <= s->deadline,
             "PERFORM timeout %ld reaches past the deadline", a->timeout_ms);
    if (a->is_token_request) {
        FZ_CHECK(w->keys, "token request on a static-token client");
        token_in_flight_check(w, s);
        s->tok++;
    } else {
        FZ_CHECK(!s->ambiguous, "an ambiguous %s was PERFORMed again", a->method);
        s->api++;
        FZ_CHECK(s->api <= w->max_attempts + 1, "%d API requests > max_attempts %d + 1",
                 s->api, w->max_attempts);
        for (i = 0; i < a->n_headers; i++) {
            const char *v = a->headers[i].value;
            if (a->headers[i].name && strcmp(a->headers[i].name, "Authorization") == 0 && v &&
                strncmp(v, "Bearer ", 7) == 0 && s->n_sent_tokens < 4 &&
                strlen(v + 7) < sizeof s->sent_tokens[0])
                strcpy(s->sent_tokens[s->n_sent_tokens++], v + 7);
        }
    }
    s->pending = 1;
    s->pending_token = a->is_token_request;
    s->started = w->now;
    s->timeout = a->timeout_ms;
}

static void on_done(world *w, slot *s, const sinch_batch_action *a) {
    const sinch_batch_error *e = sinch_batch_call_error(s->call);
    if (a->error) {
        FZ_CHECK(a->error == e, "DONE error is not the call's error");
        check_no_secret(w, s, e->message);
        FZ_CHECK(e->kind != SINCH_BATCH_ERROR_NONE, "DONE error of kind NONE");
    } else {
        FZ_CHECK(a->status >= 200 && a->status < 300, "DONE without error but status %d",
                 a->status);
    }
    if (s->ambiguous) {
        FZ_CHECK(a->error && a->error->may_have_been_processed,
                 "ambiguous %s ended without may_have_been_processed: %s",
                 s->post ? "POST" : "request", a->error ? a->error->message : "(success)");
    }
    FZ_CHECK(a->attempts == s->api, "attempts %d but %d API requests seen", a->attempts, s->api);
    s->done = 1;
}

/* Move one call. */
static void step(world *w, slot *s) {
    sinch_batch_action a, again;
    int rc;
    if (s->pending) {
        unsigned k = fz_u8(&w->in);
        /* time passes while the request is out, up to its own timeout */
        w->now += (int64_t)(fz_u16(&w->in) % ((unsigned long)s->timeout + 1));
        if (w->now >= s->started + s->timeout) {
            /* a transport reports a timeout by then: bytes may have left */
            int rc2 = sinch_batch_call_feed_error(s->call, w->now, SINCH_BATCH_TE_TIMEOUT,
                                                  (int)(k & 1), NULL);
            FZ_CHECK(rc2 == SINCH_BATCH_OK, "feed_error returned %d", rc2);
            if (!s->pending_token && s->post && (k & 1)) s->ambiguous = 1;
            s->pending = 0;
        } else if ((k & 3) == 0 || (k & 3) == 3) {
            feed_error(w, s);
        } else {
            feed_response(w, s);
        }
        return;
    }
    rc = sinch_batch_call_next(s->call, w->now, &a);
    FZ_CHECK(rc == SINCH_BATCH_OK || rc == SINCH_BATCH_ENOMEM, "next returned %d", rc);
    switch (a.kind) {
    case SINCH_BATCH_PERFORM:
        on_perform(w, s, &a);
        if (fz_u8(&w->in) & 1) {
            rc = sinch_batch_call_next(s->call, w->now + 5, &again);
            FZ_CHECK(rc == SINCH_BATCH_OK && again.kind == SINCH_BATCH_PERFORM &&
                         again.url == a.url && again.body == a.body,
                     "next twice gave another action");
        }
        break;
    case SINCH_BATCH_WAIT:
        FZ_CHECK(w->now < s->deadline, "WAIT at %lld past the deadline %lld", (long long)w->now,
                 (long long)s->deadline);
        FZ_CHECK(a.wait_ms >= 0 && w->now + a.wait_ms <= s->deadline,
                 "WAIT of %ld ms reaches past the deadline", a.wait_ms);
        if (fz_u8(&w->in) & 1) w->now += a.wait_ms; /* the driver sleeps it */
        break;
    case SINCH_BATCH_DONE: on_done(w, s, &a); break;
    default: FZ_CHECK(0, "unknown action kind %d", (int)a.kind);
    }
}

static void start_call(world *w, slot *s) {
    static const sinch_batch_op ops[] = {
        SINCH_BATCH_OP_SEND, SINCH_BATCH_OP_SEND, SINCH_BATCH_OP_CANCEL,
        SINCH_BATCH_OP_STATUS, SINCH_BATCH_OP_FIND, SINCH_BATCH_OP_CREATE_CONTACTS,
        SINCH_BATCH_OP_DELETE_CONTACTS, SINCH_BATCH_OP_INSERT_CONSENTS};
    sinch_batch_request req;
    sinch_batch_error err;
    memset(&req, 0, sizeof req);
    memset(s, 0, sizeof *s);
    req.op = ops[fz_u8(&w->in) % 8];
    req.body = "{\"app_id\":\"A\",\"recipient_and_params\":[]}";
    req.batch_id = "01BATCH/../x";
    req.metadata_key = "campaign";
    req.metadata_value = "spring sale";
    s->op = req.op;
    s->post = req.op == SINCH_BATCH_OP_SEND || req.op == SINCH_BATCH_OP_CREATE_CONTACTS ||
              req.op == SINCH_BATCH_OP_INSERT_CONSENTS;
    s->call = sinch_batch_call_new(w->c, &req, w->now, &err);
    FZ_CHECK(s->call != NULL, "call_new failed: %s", err.message);
    s->deadline = w->now + w->c->deadline_ms;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    world w;
    sinch_batch_config cfg;
    sinch_batch_error err;
    unsigned flags;
    int i, steps;

    memset(&w, 0, sizeof w);
    w.in.p = data;
    w.in.n = size;
    w.now = T0;

    sinch_batch_config_init(&cfg);
    flags = fz_u8(&w.in);
    cfg.project_id = "proj";
    cfg.base_url = "https://api.example.test";
    cfg.auth_url = "https://auth.example.test";
    w.keys = !(flags & 1);
    if (w.keys) {
        w.secret = KEY_SECRETS[(flags >> 1) & 1];
        cfg.key_id = "key-id-0001";
        cfg.key_secret = w.secret;
    } else {
        cfg.token = TOKENS[(flags >> 1) % 3];
        w.secret = cfg.token;
    }
    cfg.max_attempts = 1 + (int)(fz_u8(&w.in) % 5);
    cfg.timeout_ms = 1 + (long)fz_u16(&w.in) * 3;
    cfg.deadline_ms = 1 + (long)fz_u16(&w.in) * 10;
    cfg.backoff_base_ms = 1 + (long)(fz_u8(&w.in) * 20);
    cfg.backoff_max_ms = cfg.backoff_base_ms + (long)fz_u16(&w.in);
    cfg.refresh_ahead_ms = (long)fz_u16(&w.in) * 100;
    cfg.seed = fz_u32(&w.in);
    w.c = sinch_batch_client_new(&cfg, &err);
    if (w.c == NULL) return 0;
    w.max_attempts = w.c->max_attempts;

    w.n = 1 + (int)(fz_u8(&w.in) % MAX_CALLS);
    for (i = 0; i < w.n; i++) start_call(&w, &w.s[i]);

    for (steps = 0; steps < MAX_STEPS && fz_left(&w.in); steps++) {
        unsigned k = fz_u8(&w.in);
        slot *s = &w.s[k % w.n];
        switch ((k >> 2) % 8) {
        case 0: w.now += fz_u8(&w.in); break;                   /* a small jump */
        case 1: w.now += (int64_t)fz_u16(&w.in) * 100; break;   /* a big one */
        case 2:                                                 /* drop a call */
            if ((k & 0x80) && s->call) {
                sinch_batch_call_free(s->call);
                if (s->done || (k & 0x40) == 0) {
                    start_call(&w, s);
                } else {
                    s->call = NULL;
                    s->pending = 0;
                }
            }
            break;
        default:
            if (s->call && !s->done) step(&w, s);
            else if (s->call && s->done && (k & 0x80)) {
                sinch_batch_call_free(s->call);
                start_call(&w, s);
            }
        }
    }
    for (i = 0; i < w.n; i++) sinch_batch_call_free(w.s[i].call);
    sinch_batch_client_free(w.c);
    return 0;
}
