/* admin.c -- the sandbox's own endpoints, never recorded:
 *   POST /_mock/faults    queue faults (one, or {"faults":[…]})
 *   POST /_mock/advance   move the sandbox clock forward {"seconds": n}
 *   POST /_mock/outcomes  realistic delivery outcomes (outcomes.c);
 *   GET  /_mock/outcomes  the configuration in force
 *   POST /_mock/reset     forget everything (outcomes back to --outcomes)
 *   GET  /_mock/requests, /_mock/stats, /_mock/contacts
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

/* One call moves the clock at most 100 years (365-day years). */
#define MAX_ADVANCE_S 3153600000.0

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

static void add_faults(mock_reply *r, const mock_request *req) {
    json_t *body = mock_parse_body(r, req, 0), *list, *o;
    mock_fault *parsed[256];
    size_t i, n = 0;
    char msg[300];
    if (!body) return;
    list = json_object_get(body, "faults");
    if (!list) list = json_pack("[O]", body);
    else json_incref(list);
    if (!json_is_array(list) || json_array_size(list) > 256) {
        mock_api_error(r, 400, "faults: must be an array of at most 256 faults", "faults");
        goto out;
    }
    json_array_foreach(list, i, o) {
        mock_fault *f = NULL;
        if (parse_fault(o, &f, msg, sizeof msg) != 0) {
            char full[400];
            snprintf(full, sizeof full, "faults[%zu].%s", i, msg);
            mock_fault_free(f);
            while (n) mock_fault_free(parsed[--n]);
            mock_api_error(r, 400, full, NULL);
            goto out;
        }
        parsed[n++] = f;
    }
    mock_lock();
    for (i = 0; i < n; i++) mock_fault_add(parsed[i]);
    mock_unlock();
    mock_reply_json(r, 200, json_pack("{s:I}", "queued", (json_int_t)n));
out:
    json_decref(list);
    json_decref(body);
}

static void advance(mock_reply *r, const mock_request *req) {
    json_t *body, *s;
    char now[40];
    double secs;
    int rc;
    if (!(body = mock_parse_body(r, req, 0))) return;
    s = json_object_get(body, "seconds");
    secs = json_is_number(s) ? json_number_value(s) : NAN;
    /* checked before any cast: 1e308 or NaN into int64_t is undefined */
    if (!json_is_number(s) || !(secs >= 0 && secs <= MAX_ADVANCE_S)) {
        mock_api_error(r, 400, "seconds: must be a number from 0 to 3153600000 (100 years)",
                       "seconds");
    } else {
        mock_lock();
        rc = mock_advance((int64_t)(secs * 1000));
        mock_format_time(now, sizeof now, mock_now_ms(), 1);
        mock_unlock();
        if (rc != 0)
            mock_api_error(r, 400, "seconds: the sandbox clock runs at most 1000 years ahead",
                           "seconds");
        else
            mock_reply_json(r, 200, json_pack("{s:s}", "now", now));
    }
    json_decref(body);
}

static void outcomes(mock_reply *r, const mock_request *req) {
    json_t *body;
    char msg[300];
    int rc;
    if (!(body = mock_parse_body(r, req, 0))) return;
    mock_lock();
    rc = mock_outcomes_set(body, msg, sizeof msg);
    if (rc == 0) mock_reply_json(r, 200, mock_outcomes_json());
    mock_unlock();
    if (rc != 0) mock_api_error(r, 400, msg, NULL);
    json_decref(body);
}

void mock_admin(mock_reply *r, const mock_request *req) {
    const char *path = req->path;
    int post = strcmp(req->method, "POST") == 0, get = strcmp(req->method, "GET") == 0;
    json_t *out = NULL;
    if (post && strcmp(path, "/_mock/faults") == 0) {
        add_faults(r, req);
        return;
    }
    if (post && strcmp(path, "/_mock/advance") == 0) {
        advance(r, req);
        return;
    }
    if (post && strcmp(path, "/_mock/outcomes") == 0) {
        outcomes(r, req);
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
    } else if (get && strcmp(path, "/_mock/outcomes") == 0) {
        out = mock_outcomes_json();
    }
    if (out) mock_reply_json(r, 200, out);
    mock_unlock();
    if (!out) mock_not_found(r, req, NULL, NULL, NULL);
}
