/* server.c -- the HTTP front end of sinch-batch-mock (libmicrohttpd, one
 * thread per connection so that a delayed answer never holds up another).
 *
 * A request is read whole (at most 10 MiB, else 413), recorded for
 * GET /_mock/requests, matched against the queued faults, then routed:
 *   POST /oauth2/token                       OAuth2 client credentials
 *   /v1/projects/{project_id}/messages[/id]  send, cancel, find, status
 *   /v1/projects/{project_id}/contacts       create, delete
 *   /v1/projects/{project_id}/consents       insert
 *   /_mock/...                               faults, requests, stats,
 *                                            reset, advance (not recorded)
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
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

#define MAX_HEADERS 8

typedef struct reply {
    int status;
    char *body; /* malloc'd */
    int nhdr;
    char hname[MAX_HEADERS][64];
    char hvalue[MAX_HEADERS][256];
} reply;

/* ------------------------------------------------------------- replies */

static void reply_header(reply *r, const char *name, const char *value) {
    if (r->nhdr == MAX_HEADERS) return;
    snprintf(r->hname[r->nhdr], sizeof r->hname[0], "%s", name);
    snprintf(r->hvalue[r->nhdr], sizeof r->hvalue[0], "%s", value);
    r->nhdr++;
}

static void reply_json(reply *r, int status, json_t *v) {
    free(r->body);
    r->status = status;
    r->body = mock_dumps(v);
    json_decref(v);
}

static const char *status_name(int status) {
    switch (status) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 405: return "UNIMPLEMENTED";
    case 409: return "ABORTED";
    case 413: return "INVALID_ARGUMENT";
    case 429: return "RESOURCE_EXHAUSTED";
    case 500: return "INTERNAL";
    case 501: return "UNIMPLEMENTED";
    case 503: return "UNAVAILABLE";
    case 504: return "DEADLINE_EXCEEDED";
    default: return "UNKNOWN";
    }
}

/* The API's error shape; field (may be NULL) also goes into details. */
static json_t *api_error_json(int status, const char *message, const char *field) {
    json_t *details = json_array();
    if (field)
        json_array_append_new(details, json_pack("{s:s, s:[{s:s, s:s}]}", "@type",
                                                 "type.googleapis.com/google.rpc.BadRequest",
                                                 "fieldViolations", "field", field,
                                                 "description", message));
    return json_pack("{s:{s:i, s:s, s:s, s:o}}", "error", "code", status, "message", message,
                     "status", status_name(status), "details", details);
}

static void api_error(reply *r, int status, const char *message, const char *field) {
    reply_json(r, status, api_error_json(status, message, field));
}

static void invalid(reply *r, const mock_verr *e) {
    size_t n = strlen(e->field);
    /* details[].fieldViolations[].description holds the rule alone */
    const char *rule = strncmp(e->message, e->field, n) == 0 && e->message[n] == ':'
                           ? e->message + n + 2 : e->message;
    json_t *err = api_error_json(400, e->message, NULL);
    json_array_append_new(json_object_get(json_object_get(err, "error"), "details"),
                          json_pack("{s:s, s:[{s:s, s:s}]}", "@type",
                                    "type.googleapis.com/google.rpc.BadRequest",
                                    "fieldViolations", "field", e->field, "description",
                                    rule));
    reply_json(r, 400, err);
}

/* Parse a JSON body; on failure the reply is filled and NULL returned.
 * With scratch, the tree lives in this thread's scratch arena (see util.c):
 * never decref it, call mock_scratch_release when done. */
static json_t *parse_body_in(reply *r, const conn_req *req, int scratch) {
    json_error_t jerr;
    json_t *v;
    char msg[400];
    if (req->len == 0) {
        api_error(r, 400, "body: is required (a JSON object)", "body");
        return NULL;
    }
    v = scratch ? mock_loadb_scratch(req->body, req->len, JSON_REJECT_DUPLICATES, &jerr)
                : json_loadb(req->body, req->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v) {
        snprintf(msg, sizeof msg, "body: not valid JSON (%s at line %d column %d)", jerr.text,
                 jerr.line, jerr.column);
        api_error(r, 400, msg, "body");
    }
    return v;
}

static json_t *parse_body(reply *r, const conn_req *req) {
    return parse_body_in(r, req, 0);
}

/* -------------------------------------------------------------- oauth2 */

static void oauth_error(reply *r, int status, const char *error, const char *description) {
    reply_json(r, status, json_pack("{s:s, s:s}", "error", error, "error_description",
                                    description));
}

static int form_value(const conn_req *req, const char *key, char *out, size_t n) {
    size_t klen = strlen(key), i = 0;
    while (i < req->len) {
        size_t j = i;
        while (j < req->len && req->body[j] != '&') j++;
        if (j - i > klen && strncmp(req->body + i, key, klen) == 0 && req->body[i + klen] == '=') {
            size_t vlen = j - i - klen - 1;
            if (vlen >= n) vlen = n - 1;
            memcpy(out, req->body + i + klen + 1, vlen);
            out[vlen] = '\0';
            return 1;
        }
        i = j + 1;
    }
    return 0;
}

static int basic_ok(const char *auth) {
    unsigned char decoded[1024];
    char want[1024];
    size_t inlen, wlen;
    int n;
    if (!auth || strncasecmp(auth, "Basic ", 6) != 0) return 0;
    auth += 6;
    while (*auth == ' ') auth++;
    inlen = strlen(auth);
    if (inlen == 0 || inlen % 4 || inlen > 1300) return 0;
    n = EVP_DecodeBlock(decoded, (const unsigned char *)auth, (int)inlen);
    if (n < 0) return 0;
    if (inlen >= 1 && auth[inlen - 1] == '=') n--;
    if (inlen >= 2 && auth[inlen - 2] == '=') n--;
    snprintf(want, sizeof want, "%s:%s", mock_cfg.key_id, mock_cfg.key_secret);
    wlen = strlen(want);
    return (size_t)n == wlen && CRYPTO_memcmp(decoded, want, wlen) == 0;
}

static void token_endpoint(reply *r, struct MHD_Connection *c, const char *method,
                           const conn_req *req) {
    char grant[64];
    const char *token;
    int64_t expires_in;
    if (strcmp(method, "POST") != 0) {
        oauth_error(r, 405, "invalid_request", "use POST");
        return;
    }
    if (!basic_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"))) {
        oauth_error(r, 401, "invalid_client",
                    "client authentication failed: send Basic key_id:key_secret");
        return;
    }
    if (!form_value(req, "grant_type", grant, sizeof grant) ||
        strcmp(grant, "client_credentials") != 0) {
        oauth_error(r, 400, "unsupported_grant_type",
                    "grant_type: must be client_credentials");
        return;
    }
    mock_lock();
    token = mock_token_issue(&expires_in);
    if (token)
        reply_json(r, 200, json_pack("{s:s, s:I, s:s, s:s}", "access_token", token,
                                     "expires_in", (json_int_t)expires_in, "token_type",
                                     "bearer", "scope", ""));
    mock_unlock();
    if (!token) api_error(r, 500, "out of memory", NULL);
}

/* ------------------------------------------------------------ the API */

static const char *bearer(struct MHD_Connection *c) {
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!a || strncasecmp(a, "Bearer ", 7) != 0) return NULL;
    a += 7;
    while (*a == ' ') a++;
    return a;
}

/* 1 when the request may go on; else the 401 is in r. */
static int authorized(reply *r, struct MHD_Connection *c) {
    const char *tok = bearer(c);
    int index, ok;
    if (!tok) {
        api_error(r, 401, "Request is missing a Bearer token in the Authorization header",
                  NULL);
        return 0;
    }
    mock_lock();
    ok = mock_token_check(tok, &index);
    mock_unlock();
    if (ok == 0) {
        api_error(r, 401, "The bearer token is not valid", NULL);
        return 0;
    }
    if (ok < 0) {
        api_error(r, 401, "The bearer token has expired", NULL);
        reply_header(r, "www-authenticate", "Bearer error=\"invalid_token\", "
                                            "error_description=\"expired\"");
        return 0;
    }
    return 1;
}

static void method_not_allowed(reply *r, const char *method, const char *path,
                               const char *allowed) {
    char msg[700];
    snprintf(msg, sizeof msg, "%s is not allowed on %.500s (allowed: %s)", method, path,
             allowed);
    api_error(r, 405, msg, NULL);
    reply_header(r, "Allow", allowed);
}

static void send_batch(reply *r, const char *project, const conn_req *req) {
    json_t *body = parse_body_in(r, req, 1), *out;
    mock_verr e;
    int64_t send_after = 0;
    const char *id;
    if (!body) {
        mock_scratch_release();
        return;
    }
    if (mock_validate_send(body, mock_now_ms(), &send_after, &e) != 0) {
        invalid(r, &e);
        mock_scratch_release();
        return;
    }
    mock_lock();
    id = mock_batch_accept(project, body, send_after);
    out = id ? json_pack("{s:s}", "batch_id", id) : NULL;
    mock_unlock();
    mock_scratch_release(); /* body is gone from here on */
    if (!out) {
        api_error(r, 500, "out of memory", NULL);
        return;
    }
    if (send_after) {
        char t[40];
        mock_format_time(t, sizeof t, send_after, 0);
        json_object_set_new(out, "send_after", json_string(t));
    }
    reply_json(r, 200, out);
}

static void messages(reply *r, struct MHD_Connection *c, const char *method,
                     const char *project, const char *rest, const conn_req *req) {
    json_t *body, *out;
    mock_verr e;
    if (rest[0] == '\0') {
        if (strcmp(method, "POST") == 0) {
            send_batch(r, project, req);
        } else if (strcmp(method, "DELETE") == 0) {
            if (!(body = parse_body(r, req))) return;
            if (mock_validate_cancel(body, &e) != 0) {
                invalid(r, &e);
            } else {
                mock_lock();
                mock_batch_cancel(project, body);
                mock_unlock();
                reply_json(r, 200, json_object());
            }
            json_decref(body);
        } else if (strcmp(method, "GET") == 0) {
            const char *k = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "metadataKey");
            const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
                                                        "metadataValue");
            if (!k || !*k) {
                api_error(r, 400, "metadataKey: is required", "metadataKey");
                return;
            }
            if (!v) {
                api_error(r, 400, "metadataValue: is required", "metadataValue");
                return;
            }
            mock_lock();
            out = mock_batch_find(project, k, v);
            mock_unlock();
            reply_json(r, 200, out);
        } else {
            method_not_allowed(r, method, "/messages", "GET, POST, DELETE");
        }
        return;
    }
    if (rest[0] == '/' && rest[1] && !strchr(rest + 1, '/')) {
        char msg[400];
        if (strcmp(method, "GET") != 0) {
            method_not_allowed(r, method, "/messages/{batch_id}", "GET");
            return;
        }
        mock_lock();
        out = mock_batch_json(project, rest + 1);
        mock_unlock();
        if (out) {
            reply_json(r, 200, out);
        } else {
            snprintf(msg, sizeof msg, "batch_id: no batch '%.64s' in project '%.64s'",
                     rest + 1, project);
            api_error(r, 404, msg, "batch_id");
        }
        return;
    }
    api_error(r, 404, "no such resource", NULL);
}

static void contacts(reply *r, const char *method, const char *project, const conn_req *req) {
    json_t *body;
    mock_verr e;
    int create = strcmp(method, "POST") == 0;
    if (!create && strcmp(method, "DELETE") != 0) {
        method_not_allowed(r, method, "/contacts", "POST, DELETE");
        return;
    }
    if (!(body = parse_body(r, req))) return;
    if ((create ? mock_validate_create_contacts : mock_validate_delete_contacts)(body, &e)) {
        invalid(r, &e);
    } else {
        mock_lock();
        if (create) mock_contacts_create(project, json_object_get(body, "contacts"));
        else mock_contacts_delete(project, json_object_get(body, "contact_ids"));
        mock_unlock();
        reply_json(r, 200, json_object());
    }
    json_decref(body);
}

static void consents(reply *r, const char *method, const char *project, const conn_req *req) {
    json_t *body, *out;
    mock_verr e;
    if (strcmp(method, "POST") != 0) {
        method_not_allowed(r, method, "/consents", "POST");
        return;
    }
    if (!(body = parse_body(r, req))) return;
    if (mock_validate_consents(body, &e)) {
        invalid(r, &e);
    } else {
        mock_lock();
        out = json_pack("{s:s}", "batch_id", mock_consents_insert(project, body));
        mock_unlock();
        reply_json(r, 200, out);
    }
    json_decref(body);
}

static void api(reply *r, struct MHD_Connection *c, const char *method, const char *path,
                const conn_req *req) {
    char project[256], msg[700];
    const char *p, *slash;
    size_t n;
    if (strcmp(path, "/oauth2/token") == 0) {
        token_endpoint(r, c, method, req);
        return;
    }
    if (strncmp(path, "/v1/projects/", 13) != 0) {
        snprintf(msg, sizeof msg, "no route for %s %.500s", method, path);
        api_error(r, 404, msg, NULL);
        return;
    }
    if (!authorized(r, c)) return;
    p = path + 13;
    slash = strchr(p, '/');
    n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 0 || n >= sizeof project) {
        api_error(r, 404, "project_id: is missing from the path", "project_id");
        return;
    }
    memcpy(project, p, n);
    project[n] = '\0';
    if (!mock_project_known(project)) {
        snprintf(msg, sizeof msg, "project_id: project '%.200s' is not known here", project);
        api_error(r, 404, msg, "project_id");
        return;
    }
    p += n;
    if (strncmp(p, "/messages", 9) == 0 && (p[9] == '\0' || p[9] == '/'))
        messages(r, c, method, project, p + 9, req);
    else if (strcmp(p, "/contacts") == 0)
        contacts(r, method, project, req);
    else if (strcmp(p, "/consents") == 0)
        consents(r, method, project, req);
    else {
        snprintf(msg, sizeof msg, "no route for %s %.500s", method, path);
        api_error(r, 404, msg, NULL);
    }
}

/* --------------------------------------------------- faults and /_mock */

static int parse_fault(json_t *o, mock_fault **out, char *msg, size_t n) {
    static const char *const kinds[] = {"status", "delay", "drop", "accept_then_error"};
    mock_fault *f;
    json_t *v;
    const char *kind = json_string_value(json_object_get(o, "kind"));
    int k = 0, i;
    if (!json_is_object(o)) return snprintf(msg, n, "fault: must be an object"), -1;
    for (i = 0; kind && i < 4; i++)
        if (strcmp(kind, kinds[i]) == 0) k = i + 1;
    if (!k)
        return snprintf(msg, n, "kind: must be one of status, delay, drop, accept_then_error"),
               -1;
    if (!(f = calloc(1, sizeof *f))) return snprintf(msg, n, "out of memory"), -1;
    *out = f;
    f->kind = (mock_fault_kind)k;
    f->times = 1;
    f->status = f->kind == MOCK_FAULT_ACCEPT_THEN_ERROR ? 500 : 0;
    if ((v = json_object_get(o, "method"))) {
        if (!json_is_string(v) || json_string_length(v) >= sizeof f->method)
            return snprintf(msg, n, "method: must be an HTTP method"), -1;
        snprintf(f->method, sizeof f->method, "%s", json_string_value(v));
    }
    if ((v = json_object_get(o, "path"))) {
        if (!json_is_string(v) || json_string_value(v)[0] != '/' ||
            json_string_length(v) >= sizeof f->path)
            return snprintf(msg, n, "path: must be a path starting with /"), -1;
        snprintf(f->path, sizeof f->path, "%s", json_string_value(v));
    }
    if ((v = json_object_get(o, "times"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 1)
            return snprintf(msg, n, "times: must be an integer >= 1"), -1;
        f->times = (int)json_integer_value(v);
    }
    if ((v = json_object_get(o, "status"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 100 || json_integer_value(v) > 599)
            return snprintf(msg, n, "status: must be an HTTP status 100..599"), -1;
        f->status = (int)json_integer_value(v);
    }
    if (f->kind == MOCK_FAULT_STATUS && !f->status)
        return snprintf(msg, n, "status: is required for kind status"), -1;
    if ((v = json_object_get(o, "retry_after"))) {
        if (json_is_integer(v))
            snprintf(f->retry_after, sizeof f->retry_after, "%lld",
                     (long long)json_integer_value(v));
        else if (json_is_string(v) && json_string_length(v) < sizeof f->retry_after)
            snprintf(f->retry_after, sizeof f->retry_after, "%s", json_string_value(v));
        else
            return snprintf(msg, n, "retry_after: must be a string or an integer"), -1;
    }
    if ((v = json_object_get(o, "body")))
        f->body = json_is_string(v) ? strdup(json_string_value(v)) : mock_dumps(v);
    if ((v = json_object_get(o, "headers"))) {
        const char *hk;
        json_t *hv;
        if (!json_is_object(v)) return snprintf(msg, n, "headers: must be an object"), -1;
        json_object_foreach(v, hk, hv) {
            if (!json_is_string(hv))
                return snprintf(msg, n, "headers.%.64s: must be a string", hk), -1;
        }
        f->headers = json_incref(v);
    }
    if ((v = json_object_get(o, "delay_ms"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return snprintf(msg, n, "delay_ms: must be an integer >= 0"), -1;
        f->delay_ms = (long)json_integer_value(v);
    }
    return 0;
}

static void add_faults(reply *r, const conn_req *req) {
    json_t *body = parse_body(r, req), *list, *o;
    mock_fault *parsed[256];
    size_t i, n = 0;
    char msg[300];
    if (!body) return;
    list = json_object_get(body, "faults");
    if (!list) list = json_pack("[O]", body);
    else json_incref(list);
    if (!json_is_array(list) || json_array_size(list) > 256) {
        api_error(r, 400, "faults: must be an array of at most 256 faults", "faults");
        goto out;
    }
    json_array_foreach(list, i, o) {
        mock_fault *f = NULL;
        if (parse_fault(o, &f, msg, sizeof msg) != 0) {
            char full[400];
            snprintf(full, sizeof full, "faults[%zu].%s", i, msg);
            mock_fault_free(f);
            while (n) mock_fault_free(parsed[--n]);
            api_error(r, 400, full, NULL);
            goto out;
        }
        parsed[n++] = f;
    }
    mock_lock();
    for (i = 0; i < n; i++) mock_fault_add(parsed[i]);
    mock_unlock();
    reply_json(r, 200, json_pack("{s:I}", "queued", (json_int_t)n));
out:
    json_decref(list);
    json_decref(body);
}

static void admin(reply *r, const char *method, const char *path, const conn_req *req) {
    int post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0;
    json_t *out = NULL, *body;
    if (post && strcmp(path, "/_mock/faults") == 0) {
        add_faults(r, req);
        return;
    }
    if (post && strcmp(path, "/_mock/advance") == 0) {
        json_t *s;
        char now[40];
        if (!(body = parse_body(r, req))) return;
        s = json_object_get(body, "seconds");
        if (!json_is_number(s) || json_number_value(s) < 0) {
            api_error(r, 400, "seconds: must be a number >= 0", "seconds");
        } else {
            mock_lock();
            mock_advance((int64_t)(json_number_value(s) * 1000));
            mock_format_time(now, sizeof now, mock_now_ms(), 1);
            mock_unlock();
            reply_json(r, 200, json_pack("{s:s}", "now", now));
        }
        json_decref(body);
        return;
    }
    mock_lock();
    if (post && strcmp(path, "/_mock/reset") == 0) {
        mock_reset();
        out = json_object();
    } else if (get && strcmp(path, "/_mock/requests") == 0) {
        out = mock_requests_json();
    } else if (get && strcmp(path, "/_mock/stats") == 0) {
        out = mock_stats_json();
    } else if (get && strcmp(path, "/_mock/contacts") == 0) {
        out = json_pack("{s:o}", "contacts", mock_contacts_json());
    }
    if (out) reply_json(r, 200, out);
    mock_unlock();
    if (!out) {
        char msg[600];
        snprintf(msg, sizeof msg, "no route for %s %.500s", method, path);
        api_error(r, 404, msg, NULL);
    }
}

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

static json_t *body_string(const conn_req *req) {
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

static void record(struct MHD_Connection *c, const char *method, const char *path,
                   const conn_req *req) {
    json_t *headers = json_object(), *rec;
    const char *q = req->uri ? strchr(req->uri, '?') : NULL;
    const char *tok = bearer(c);
    int index = 0;
    MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, headers);
    mock_lock();
    if (tok) mock_token_check(tok, &index);
    rec = json_pack("{s:s, s:s, s:s, s:o, s:o, s:i}", "method", method, "path", path, "query",
                    q ? q + 1 : "", "headers", headers, "body", body_string(req),
                    "token_index", index);
    if (rec) mock_requests_record(rec);
    mock_unlock();
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

static enum MHD_Result send_reply(struct MHD_Connection *c, reply *r) {
    struct MHD_Response *resp;
    enum MHD_Result ret;
    int i;
    const char *body = r->body ? r->body : "";
    resp = MHD_create_response_from_buffer(strlen(body), (void *)body,
                                           r->body ? MHD_RESPMEM_MUST_FREE
                                                   : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(r->body);
        return MHD_NO;
    }
    r->body = NULL;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    for (i = 0; i < r->nhdr; i++) MHD_add_response_header(resp, r->hname[i], r->hvalue[i]);
    ret = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void fault_reply(reply *r, const mock_fault *f) {
    free(r->body);
    r->body = NULL;
    r->nhdr = 0;
    r->status = f->status;
    if (f->body) {
        r->body = strdup(f->body);
    } else {
        char msg[80];
        snprintf(msg, sizeof msg, "injected fault: HTTP %d", f->status);
        reply_json(r, f->status, api_error_json(f->status, msg, NULL));
    }
    if (f->retry_after[0]) reply_header(r, "Retry-After", f->retry_after);
    if (f->headers) {
        const char *k;
        json_t *v;
        json_object_foreach(f->headers, k, v) reply_header(r, k, json_string_value(v));
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
    reply r = {0};
    api_error(&r, 413, "body: larger than the 10 MiB this server accepts", "body");
    return send_reply(c, &r);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version,
                              const char *upload_data, size_t *upload_data_size,
                              void **con_cls) {
    conn_req *req = *con_cls;
    reply r = {0};
    mock_fault *f = NULL;
    enum MHD_Result ret;
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

    if (strncmp(url, "/_mock/", 7) == 0) {
        admin(&r, method, url, req);
    } else {
        record(c, method, url, req);
        mock_lock();
        f = mock_fault_take(method, url);
        mock_unlock();
        if (f && f->kind == MOCK_FAULT_DROP) {
            mock_log("%s %s -> (dropped)", method, url);
            mock_fault_free(f);
            return MHD_NO;
        }
        if (f && f->kind == MOCK_FAULT_DELAY) sleep_ms(f->delay_ms);
        if (!f || f->kind != MOCK_FAULT_STATUS) api(&r, c, method, url, req);
        if (f && (f->kind == MOCK_FAULT_STATUS || f->kind == MOCK_FAULT_ACCEPT_THEN_ERROR))
            fault_reply(&r, f);
        mock_fault_free(f);
    }
    if (!r.status) api_error(&r, 500, "internal error", NULL);
    mock_log("%s %s -> %d", method, url, r.status);
    ret = send_reply(c, &r);
    return ret;
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
