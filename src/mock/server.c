/* server.c -- the HTTP front end of sinch-batch-mock (libmicrohttpd, one
 * thread per connection so that a delayed answer never holds up another).
 *
 * A request is read whole (at most 10 MiB, else 413), recorded for
 * GET /_mock/requests (not /_mock/ itself), matched against the queued
 * faults, then handed to mock_route (routes.c) as a mock_request.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "mock.h"

volatile sig_atomic_t mock_stopping;

typedef struct conn_req {
    char *uri;
    char *body;
    size_t len, cap;
    int started;
    int too_large;
} conn_req;

/* -------------------------------------------------------- the recorder */

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value) {
    json_t *headers = cls;
    char name[128];
    size_t i;
    (void)kind;
    for (i = 0; key[i] && i + 1 < sizeof name; i++) name[i] = (char)tolower((unsigned char)key[i]);
    name[i] = '\0';
    if (strcmp(name, "authorization") == 0) {
        const char *sp = value ? strchr(value, ' ') : NULL;
        char red[80];
        if (sp && sp - value < 20)
            snprintf(red, sizeof red, "%.*s <redacted>", (int)(sp - value), value);
        else
            snprintf(red, sizeof red, "<redacted>");
        json_object_set_new(headers, name, json_string(red));
    } else {
        json_object_set_new(headers, name, json_string(value ? value : ""));
    }
    return MHD_YES;
}

static int all_ascii(const char *p, size_t n) {
    unsigned char bits = 0;
    size_t i;
    for (i = 0; i < n; i++) bits |= (unsigned char)p[i];
    return bits < 0x80;
}

static json_t *body_string(const mock_request *req) {
    json_t *s;
    if (req->len == 0) return json_string("");
    /* ASCII is valid UTF-8: skip jansson's slower check of a large body */
    s = all_ascii(req->body, req->len) ? json_stringn_nocheck(req->body, req->len)
                                       : json_stringn(req->body, req->len);
    if (!s) { /* not UTF-8: keep the ASCII, mark the rest */
        char *copy = malloc(req->len + 1);
        size_t i;
        if (!copy) return json_string("");
        for (i = 0; i < req->len; i++)
            copy[i] = (unsigned char)req->body[i] < 0x80 ? req->body[i] : '?';
        s = json_stringn(copy, req->len);
        free(copy);
    }
    return s;
}

/* Record one request; returns the record (a reference the caller drops,
 * NULL when out of memory) so that what routing learns can be added. */
static json_t *record(struct MHD_Connection *c, const char *uri, const mock_request *req) {
    json_t *headers = json_object(), *rec;
    const char *q = uri ? strchr(uri, '?') : NULL;
    const char *tok = mock_bearer(req->authorization);
    int index = 0;
    MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, headers);
    mock_lock();
    if (tok) mock_token_check(tok, &index);
    rec = json_pack("{s:s, s:s, s:s, s:o, s:o, s:i}", "method", req->method, "path", req->path,
                    "query", q ? q + 1 : "", "headers", headers, "body", body_string(req),
                    "token_index", index);
    if (rec) mock_requests_record(json_incref(rec));
    mock_unlock();
    return rec;
}

/* ------------------------------------------------------- MHD plumbing */

static void sleep_ms(long ms) {
    while (ms > 0 && !mock_stopping) {
        long step = ms < 10 ? ms : 10;
        struct timespec ts = {0, step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

static enum MHD_Result send_reply(struct MHD_Connection *c, mock_reply *r) {
    struct MHD_Response *resp;
    enum MHD_Result ret;
    int i;
    const char *body = r->body ? r->body : "";
    resp = MHD_create_response_from_buffer(strlen(body), (void *)body,
                                           r->body ? MHD_RESPMEM_MUST_FREE
                                                   : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        mock_reply_clear(r);
        return MHD_NO;
    }
    r->body = NULL;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    for (i = 0; i < r->nhdr; i++) MHD_add_response_header(resp, r->hname[i], r->hvalue[i]);
    ret = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    mock_reply_clear(r);
    return ret;
}

static void fault_reply(mock_reply *r, const mock_fault *f) {
    free(r->body);
    r->body = NULL;
    r->nhdr = 0;
    r->status = f->status;
    if (f->body) {
        r->body = strdup(f->body);
    } else {
        char msg[80];
        snprintf(msg, sizeof msg, "injected fault: HTTP %d", f->status);
        mock_reply_json(r, f->status, mock_api_error_json(f->status, msg, NULL));
    }
    if (f->retry_after[0]) mock_reply_header(r, "Retry-After", f->retry_after);
    if (f->headers) {
        const char *k;
        json_t *v;
        json_object_foreach(f->headers, k, v) mock_reply_header(r, k, json_string_value(v));
    }
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
    conn_req *req = calloc(1, sizeof *req);
    (void)cls;
    (void)c;
    if (req) req->uri = strdup(uri ? uri : "");
    return req;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    conn_req *req = *con_cls;
    (void)cls;
    (void)c;
    (void)toe;
    if (!req) return;
    free(req->uri);
    free(req->body);
    free(req);
    *con_cls = NULL;
}

static enum MHD_Result too_large(struct MHD_Connection *c) {
    mock_reply r = {0};
    mock_api_error(&r, 413, "body: larger than the 10 MiB this server accepts", "body");
    return send_reply(c, &r);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version,
                              const char *upload_data, size_t *upload_data_size,
                              void **con_cls) {
    conn_req *req = *con_cls;
    mock_reply r = {0};
    mock_request rq;
    mock_fault *f = NULL;
    (void)cls;
    (void)version;
    if (!req) return MHD_NO;
    if (!req->started) {
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        req->started = 1;
        if (cl && strtoll(cl, NULL, 10) > MOCK_MAX_BODY) return too_large(c);
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (req->too_large) return MHD_YES;
        if (req->len + n > (size_t)MOCK_MAX_BODY) {
            req->too_large = 1;
            return MHD_YES;
        }
        if (req->len + n + 1 > req->cap) {
            size_t cap = req->cap ? req->cap : 4096;
            char *nb;
            while (cap < req->len + n + 1) cap *= 2;
            if (!(nb = realloc(req->body, cap))) return MHD_NO;
            req->body = nb;
            req->cap = cap;
        }
        memcpy(req->body + req->len, upload_data, n);
        req->len += n;
        req->body[req->len] = '\0';
        return MHD_YES;
    }
    if (req->too_large) return too_large(c);

    rq.method = method;
    rq.path = url;
    rq.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    rq.metadata_key = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "metadataKey");
    rq.metadata_value = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "metadataValue");
    rq.body = req->body ? req->body : "";
    rq.len = req->len;
    if (strncmp(url, "/_mock/", 7) == 0) {
        mock_route(&r, &rq);
    } else {
        json_t *rec = record(c, req->uri, &rq);
        mock_lock();
        f = mock_fault_take(method, url);
        mock_unlock();
        if (f && f->kind == MOCK_FAULT_DROP) {
            mock_log("%s %s -> (dropped)", method, url);
            mock_fault_free(f);
            json_decref(rec);
            return MHD_NO;
        }
        if (f && f->kind == MOCK_FAULT_DELAY) sleep_ms(f->delay_ms);
        if (!f || f->kind != MOCK_FAULT_STATUS) mock_route(&r, &rq);
        if (f && (f->kind == MOCK_FAULT_STATUS || f->kind == MOCK_FAULT_ACCEPT_THEN_ERROR))
            fault_reply(&r, f);
        mock_fault_free(f);
        if (rec && r.unknown) { /* accepted unknown fields show in the inspection */
            mock_lock();
            json_object_set(rec, "unknown_fields", r.unknown);
            mock_unlock();
        }
        json_decref(rec);
    }
    if (!r.status) mock_api_error(&r, 500, "internal error", NULL);
    mock_log("%s %s -> %d", method, url, r.status);
    return send_reply(c, &r);
}

/* ------------------------------------------------------------- startup */

static char *slurp(const char *path) {
    FILE *fp = fopen(path, "rb");
    char *data = NULL;
    long n;
    if (!fp) return NULL;
    if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0 &&
        (data = malloc((size_t)n + 1)) != NULL) {
        if (fread(data, 1, (size_t)n, fp) != (size_t)n) {
            free(data);
            data = NULL;
        } else {
            data[n] = '\0';
        }
    }
    fclose(fp);
    return data;
}

static int listen_socket(int *port_out) {
    struct addrinfo hints, *res = NULL, *ai;
    char port[16];
    int fd = -1, one = 1, rc;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof port, "%d", mock_cfg.port);
    rc = getaddrinfo(mock_cfg.host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "sinch-batch-mock: --host %s: %s\n", mock_cfg.host, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) continue;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0 &&
            getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
            *port_out = ntohs(ss.ss_family == AF_INET6
                                  ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                  : ((struct sockaddr_in *)&ss)->sin_port);
            break;
        }
        close(fd);
        fd = -1;
    }
    if (fd < 0)
        fprintf(stderr, "sinch-batch-mock: cannot listen on %s port %d: %s\n", mock_cfg.host,
                mock_cfg.port, strerror(errno));
    freeaddrinfo(res);
    return fd;
}

static void *ticker(void *ud) {
    (void)ud;
    while (!mock_stopping) {
        struct timespec ts = {0, 20 * 1000000L};
        mock_lock();
        mock_process_due();
        mock_unlock();
        nanosleep(&ts, NULL);
    }
    return NULL;
}

int mock_server_run(void) {
    struct MHD_Daemon *d;
    char *cert = NULL, *key = NULL;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ITC;
    int fd, port = 0, sig;
    pthread_t tick;
    sigset_t set;
    struct timespec limit;
    int64_t end_ms = mock_cfg.lifetime > 0 ? mock_real_ms() + mock_cfg.lifetime * 1000 : 0;

    if (mock_cfg.tls_cert || mock_cfg.tls_key) {
        if (!mock_cfg.tls_cert || !mock_cfg.tls_key) {
            fprintf(stderr, "sinch-batch-mock: --tls-cert and --tls-key go together\n");
            return 2;
        }
        cert = slurp(mock_cfg.tls_cert);
        key = slurp(mock_cfg.tls_key);
        if (!cert || !key) {
            fprintf(stderr, "sinch-batch-mock: cannot read %s\n",
                    cert ? mock_cfg.tls_key : mock_cfg.tls_cert);
            free(cert);
            free(key);
            return 2;
        }
        flags |= MHD_USE_TLS;
    }
    if (!mock_cfg.quiet) flags |= MHD_USE_ERROR_LOG;
    if ((fd = listen_socket(&port)) < 0) {
        free(cert);
        free(key);
        return 1;
    }
    if (cert)
        d = MHD_start_daemon(flags, 0, NULL, NULL, handle, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
                             MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
                             MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
                             MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY, key,
                             MHD_OPTION_END);
    else
        d = MHD_start_daemon(flags, 0, NULL, NULL, handle, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
                             MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
                             MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "sinch-batch-mock: cannot start the HTTP server%s\n",
                cert ? " (is the TLS certificate or key valid?)" : "");
        close(fd);
        free(cert);
        free(key);
        return 1;
    }
    printf("port=%d\n", port);
    printf("sinch-batch-mock listening on %s://%s:%d (projects:", cert ? "https" : "http",
           mock_cfg.host, port);
    for (sig = 0; sig < mock_cfg.nprojects; sig++) printf(" %s", mock_cfg.projects[sig]);
    printf(")\n");
    fflush(stdout);
    pthread_create(&tick, NULL, ticker, NULL);

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    for (;;) {
        int64_t left = end_ms ? end_ms - mock_real_ms() : 3600 * 1000;
        if (end_ms && left <= 0) {
            mock_log("lifetime of %ld s is over", mock_cfg.lifetime);
            break;
        }
        limit.tv_sec = (time_t)(left / 1000);
        limit.tv_nsec = (long)(left % 1000) * 1000000L;
        sig = sigtimedwait(&set, NULL, &limit);
        if (sig == SIGTERM || sig == SIGINT) {
            mock_log("stopping on signal %d", sig);
            break;
        }
    }
    mock_stopping = 1;
    MHD_stop_daemon(d); /* closes the listening socket too */
    pthread_join(tick, NULL);
    free(cert);
    free(key);
    return 0;
}
