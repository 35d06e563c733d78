/* transfer.c -- one HTTP exchange on a CURL easy handle, shared by the
 * blocking (easy.c) and the non-blocking (multi.c) driver.
 *
 * What the driver promises the core:
 *   - TLS verification is on unless the caller set `insecure`; only http and
 *     https are spoken; redirects are not followed.
 *   - A POST body is handed to libcurl through a read callback whose seek
 *     callback refuses to rewind once bytes were read.  libcurl silently
 *     resends a request when a reused keep-alive connection dies before the
 *     answer; for a batch that may already have been accepted that would be a
 *     duplicate, so the transfer fails instead and the core decides (it
 *     reports may_have_been_processed).  GET and DELETE may be resent.
 *   - Only the last response's headers are kept (interim 1xx answers are
 *     dropped); bodies over SB_CURL_MAX_BODY fail the transfer.
 *   - Transport failures are classified for the core:
 *       resolve/connect failure         TE_CONNECT, sent = 0
 *       TLS handshake or verification   TE_TLS,     sent = 0
 *       timeout                         TE_TIMEOUT, sent = see below
 *       anything else (reset, empty     TE_IO,      sent = 1
 *       reply, send/recv error, ...)
 *     "sent" after a timeout is a heuristic without debug callbacks: the
 *     request counts as possibly sent when libcurl reached the transfer
 *     phase (CURLINFO_PRETRANSFER_TIME_T > 0), wrote request headers
 *     (CURLINFO_REQUEST_SIZE > 0) or read any body byte.  A timeout while
 *     resolving or connecting has none of these.
 *   - The message handed to the core is libcurl's error text, with any
 *     Authorization value of the request cut out (it never holds one, but
 *     the check is cheap).
 */
#define _POSIX_C_SOURCE 200809L
#include "driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_HEADER_BYTES ((size_t)1024 * 1024)

/* ------------------------------------------------------------ helpers */

static int bytes_append(sb_bytes *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;
        while (cap < b->len + n + 1) cap *= 2;
        p = realloc(b->data, cap);
        if (p == NULL) return -1;
        b->data = p;
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

static void bytes_free(sb_bytes *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* Free a header list after zeroing its strings: one of them is the
 * Authorization value. */
static void free_header_list(struct curl_slist *l) {
    struct curl_slist *p;
    for (p = l; p; p = p->next)
        if (p->data) memset(p->data, 0, strlen(p->data));
    curl_slist_free_all(l);
}

int64_t sb_curl_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const sinch_batch_error no_error_detail = {
    SINCH_BATCH_ERROR_INTERNAL, 0, 0, "", 0, 0,
    "the call failed without saying why"};

void sb_curl_done_from_error(sinch_batch_call *call, sinch_batch_action *done) {
    const sinch_batch_error *e = call ? sinch_batch_call_error(call) : NULL;
    memset(done, 0, sizeof *done);
    done->kind = SINCH_BATCH_DONE;
    done->response = "";
    done->error = (e && e->kind != SINCH_BATCH_ERROR_NONE) ? e : &no_error_detail;
}

int sb_curl_cfg_init(sb_curl_cfg *cfg, const sinch_batch_curl_opts *opts) {
    memset(cfg, 0, sizeof *cfg);
    cfg->connect_timeout_ms = SB_CURL_CONNECT_TIMEOUT_MS;
    cfg->http2 = 1;
    if (opts == NULL) return 0;
    if (opts->ca_file) {
        cfg->ca_file = strdup(opts->ca_file);
        if (cfg->ca_file == NULL) return -1;
    }
    cfg->insecure = opts->insecure != 0;
    if (opts->connect_timeout_ms > 0) cfg->connect_timeout_ms = opts->connect_timeout_ms;
    if (opts->http2 == -1) cfg->http2 = -1;
    return 0;
}

void sb_curl_cfg_free(sb_curl_cfg *cfg) {
    free(cfg->ca_file);
    cfg->ca_file = NULL;
}

/* ------------------------------------------------------- callbacks */

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud) {
    sb_xfer *x = ud;
    size_t n = size * nitems, len = n, i, name_end, v0, v1;
    const char *colon;

    if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        /* a new response (after a 1xx): forget the previous headers */
        x->hdr.len = 0;
        x->n_hdr = 0;
        return n;
    }
    while (len > 0 && (buf[len - 1] == '\r' || buf[len - 1] == '\n')) len--;
    if (len == 0 || buf[0] == ' ' || buf[0] == '\t') return n; /* end, or folding */
    colon = memchr(buf, ':', len);
    if (colon == NULL) return n;
    name_end = (size_t)(colon - buf);
    while (name_end > 0 && (buf[name_end - 1] == ' ' || buf[name_end - 1] == '\t')) name_end--;
    v0 = (size_t)(colon - buf) + 1;
    v1 = len;
    while (v0 < v1 && (buf[v0] == ' ' || buf[v0] == '\t')) v0++;
    while (v1 > v0 && (buf[v1 - 1] == ' ' || buf[v1 - 1] == '\t')) v1--;
    for (i = 0; i < name_end; i++)
        if (buf[i] == '\0') return n; /* a NUL in a name: skip the line */

    if (x->hdr.len + len + 2 > MAX_HEADER_BYTES) {
        x->too_big = 1;
        return 0;
    }
    if (bytes_append(&x->hdr, buf, name_end) || bytes_append(&x->hdr, "", 1) ||
        bytes_append(&x->hdr, buf + v0, v1 - v0) || bytes_append(&x->hdr, "", 1)) {
        x->oom = 1;
        return 0;
    }
    x->n_hdr++;
    return n;
}

static size_t on_body(char *buf, size_t size, size_t nitems, void *ud) {
    sb_xfer *x = ud;
    size_t n = size * nitems;
    if (n > SB_CURL_MAX_BODY - x->resp.len) {
        x->too_big = 1;
        return 0;
    }
    if (bytes_append(&x->resp, buf, n) != 0) {
        x->oom = 1;
        return 0;
    }
    return n;
}

static size_t read_body(char *buf, size_t size, size_t nitems, void *ud) {
    sb_xfer *x = ud;
    size_t room = size * nitems, left = x->body_len - x->body_pos;
    size_t n = left < room ? left : room;
    memcpy(buf, x->body + x->body_pos, n);
    x->body_pos += n;
    return n;
}

static int seek_body(void *ud, curl_off_t offset, int origin) {
    sb_xfer *x = ud;
    if (origin != SEEK_SET || offset < 0 || (size_t)offset > x->body_len)
        return CURL_SEEKFUNC_CANTSEEK;
    if (x->body_is_post && (size_t)offset < x->body_pos) {
        x->rewind_refused = 1; /* a resend: see the top of this file */
        return CURL_SEEKFUNC_FAIL;
    }
    x->body_pos = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

/* ------------------------------------------------------------ setup */

int sb_xfer_init(sb_xfer *x) {
    memset(x, 0, sizeof *x);
    x->easy = curl_easy_init();
    return x->easy ? 0 : -1;
}

void sb_xfer_free(sb_xfer *x) {
    if (x->easy) curl_easy_cleanup(x->easy);
    x->easy = NULL;
    free_header_list(x->req_headers);
    x->req_headers = NULL;
    bytes_free(&x->hdr);
    bytes_free(&x->resp);
    free(x->hdr_array);
    x->hdr_array = NULL;
    x->hdr_array_cap = 0;
}

static CURLcode add_header(sb_xfer *x, const char *name, const char *value) {
    size_t nl = strlen(name), vl = value ? strlen(value) : 0;
    char *line = malloc(nl + vl + 3);
    struct curl_slist *l;
    if (line == NULL) return CURLE_OUT_OF_MEMORY;
    memcpy(line, name, nl);
    if (vl) {
        /* "Name: value" */
        line[nl] = ':';
        line[nl + 1] = ' ';
        memcpy(line + nl + 2, value, vl);
        line[nl + 2 + vl] = '\0';
    } else if (value) {
        /* "Name;" sends an empty header */
        line[nl] = ';';
        line[nl + 1] = '\0';
    } else {
        /* "Name:" removes a header libcurl would add */
        line[nl] = ':';
        line[nl + 1] = '\0';
    }
    l = curl_slist_append(x->req_headers, line);
    memset(line, 0, nl + vl + 2);
    free(line);
    if (l == NULL) return CURLE_OUT_OF_MEMORY;
    x->req_headers = l;
    return CURLE_OK;
}

#define SETOPT(opt, val)                                    \
    do {                                                    \
        if ((rc = curl_easy_setopt(e, opt, val)) != CURLE_OK) \
            goto fail;                                      \
    } while (0)

CURLcode sb_xfer_setup(sb_xfer *x, const sb_curl_cfg *cfg, const sinch_batch_action *a) {
    CURL *e = x->easy;
    CURLcode rc;
    size_t i;
    const char *method = a->method ? a->method : "GET";

    curl_easy_reset(e); /* keeps the connection cache: keep-alive survives */
    free_header_list(x->req_headers);
    x->req_headers = NULL;
    x->hdr.len = 0;
    x->n_hdr = 0;
    x->resp.len = 0;
    x->too_big = x->oom = x->rewind_refused = x->setup_failed = 0;
    x->errbuf[0] = '\0';
    x->body = a->body;
    x->body_len = a->body ? a->body_len : 0;
    x->body_pos = 0;
    x->body_is_post = strcmp(method, "POST") == 0;

    SETOPT(CURLOPT_ERRORBUFFER, x->errbuf);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_URL, a->url);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms);
    if (a->timeout_ms > 0) SETOPT(CURLOPT_TIMEOUT_MS, a->timeout_ms);
    SETOPT(CURLOPT_SSL_VERIFYPEER, cfg->insecure ? 0L : 1L);
    SETOPT(CURLOPT_SSL_VERIFYHOST, cfg->insecure ? 0L : 2L);
    if (cfg->ca_file) SETOPT(CURLOPT_CAINFO, cfg->ca_file);
    /* HTTP/2 over TLS when the server offers it (ALPN); a libcurl without
     * HTTP/2 refuses the option and speaks HTTP/1.1, which is fine. */
    (void)curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                           cfg->http2 == -1 ? (long)CURL_HTTP_VERSION_1_1
                                            : (long)CURL_HTTP_VERSION_2TLS);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, x);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, x);

    for (i = 0; i < a->n_headers; i++) {
        const sinch_batch_header *h = &a->headers[i];
        if (h->name == NULL || h->name[0] == '\0') continue;
        if ((rc = add_header(x, h->name, h->value ? h->value : "")) != CURLE_OK) goto fail;
    }
    if ((rc = add_header(x, "Expect", NULL)) != CURLE_OK) goto fail; /* no 100-continue */
    SETOPT(CURLOPT_HTTPHEADER, x->req_headers);

    if (x->body_len > 0) {
        SETOPT(CURLOPT_POST, 1L);
        SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
        SETOPT(CURLOPT_READFUNCTION, read_body);
        SETOPT(CURLOPT_READDATA, x);
        SETOPT(CURLOPT_SEEKFUNCTION, seek_body);
        SETOPT(CURLOPT_SEEKDATA, x);
        if (!x->body_is_post) SETOPT(CURLOPT_CUSTOMREQUEST, method);
    } else if (strcmp(method, "GET") == 0) {
        SETOPT(CURLOPT_HTTPGET, 1L);
    } else if (x->body_is_post) {
        SETOPT(CURLOPT_POSTFIELDS, "");
        SETOPT(CURLOPT_POSTFIELDSIZE, 0L);
    } else {
        SETOPT(CURLOPT_CUSTOMREQUEST, method);
    }
    return CURLE_OK;

fail:
    x->setup_failed = 1;
    return rc;
}

#undef SETOPT

/* --------------------------------------------------------- the outcome */

static int is_tls_error(CURLcode rc) {
    switch (rc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
        return 1;
    default:
        return 0;
    }
}

static int maybe_sent(sb_xfer *x) {
    curl_off_t pre = 0;
    long req_size = 0;
    if (x->body_pos > 0) return 1;
    if (curl_easy_getinfo(x->easy, CURLINFO_PRETRANSFER_TIME_T, &pre) == CURLE_OK && pre > 0)
        return 1;
    if (curl_easy_getinfo(x->easy, CURLINFO_REQUEST_SIZE, &req_size) == CURLE_OK &&
        req_size > 0)
        return 1;
    return 0;
}

static int build_header_array(sb_xfer *x) {
    size_t i, off = 0;
    if (x->n_hdr > x->hdr_array_cap) {
        sinch_batch_header *p = realloc(x->hdr_array, x->n_hdr * sizeof *p);
        if (p == NULL) return -1;
        x->hdr_array = p;
        x->hdr_array_cap = x->n_hdr;
    }
    for (i = 0; i < x->n_hdr; i++) {
        x->hdr_array[i].name = x->hdr.data + off;
        off += strlen(x->hdr.data + off) + 1;
        x->hdr_array[i].value = x->hdr.data + off;
        off += strlen(x->hdr.data + off) + 1;
    }
    return 0;
}

int sb_xfer_feed(sb_xfer *x, sinch_batch_call *call, CURLcode result,
                 const sinch_batch_action *a) {
    int64_t now = sb_curl_now_ms();
    sinch_batch_transport_error te = SINCH_BATCH_TE_IO;
    int sent = 1;
    char msg[CURL_ERROR_SIZE + 64];
    size_t i;
    long nconn = 0;

    if (!x->setup_failed && curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &nconn) == CURLE_OK)
        x->connects += nconn;

    if (result == CURLE_OK && !x->too_big && !x->oom) {
        sinch_batch_response resp;
        long status = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        if (build_header_array(x) == 0) {
            memset(&resp, 0, sizeof resp);
            resp.status = (int)status;
            resp.headers = x->hdr_array;
            resp.n_headers = x->n_hdr;
            resp.body = x->resp.data ? x->resp.data : "";
            resp.body_len = x->resp.len;
            return sinch_batch_call_feed(call, now, &resp);
        }
        x->oom = 1;
    }

    if (x->setup_failed) {
        te = SINCH_BATCH_TE_CONNECT;
        sent = 0;
        snprintf(msg, sizeof msg, "libcurl refused the request setup: %s",
                 curl_easy_strerror(result));
    } else if (x->too_big) {
        snprintf(msg, sizeof msg, "the response is larger than %zu MiB",
                 SB_CURL_MAX_BODY / (1024 * 1024));
    } else if (x->oom) {
        snprintf(msg, sizeof msg, "out of memory reading the response");
    } else if (x->rewind_refused) {
        snprintf(msg, sizeof msg,
                 "the connection closed before the response arrived (the request was "
                 "not resent: the server may have received it)");
    } else {
        snprintf(msg, sizeof msg, "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(result));
        /* libcurl's texts may end with a newline */
        for (i = strlen(msg); i > 0 && (msg[i - 1] == '\n' || msg[i - 1] == '\r'); i--)
            msg[i - 1] = '\0';
        switch (result) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_CONNECT:
            te = SINCH_BATCH_TE_CONNECT;
            sent = 0;
            break;
        case CURLE_OPERATION_TIMEDOUT:
            te = SINCH_BATCH_TE_TIMEOUT;
            sent = maybe_sent(x);
            break;
        default:
            if (is_tls_error(result)) {
                te = SINCH_BATCH_TE_TLS;
                sent = 0;
            }
            break;
        }
    }
    /* libcurl's text may quote the request: the core redacts every
     * secret of the call (the Authorization credentials included), in
     * every spelling, before the message is cut (src/core/error.c) */
    return sinch_batch_call_feed_error(call, now, te, sent, msg);
}

void sb_curl_set_error(sinch_batch_error *err, sinch_batch_error_kind kind, const char *msg) {
    if (err == NULL) return;
    memset(err, 0, sizeof *err);
    err->kind = kind;
    snprintf(err->message, sizeof err->message, "%s", msg);
}
