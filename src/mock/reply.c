/* reply.c -- the answers of sinch-batch-mock: the API's error shape
 * ({"error":{code, message, status, details}}), validation failures with a
 * google.rpc.BadRequest field violation, 404s that say what was not known,
 * and reading a JSON body. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

void mock_reply_header(mock_reply *r, const char *name, const char *value) {
    if (r->nhdr == MOCK_MAX_HEADERS) return;
    snprintf(r->hname[r->nhdr], sizeof r->hname[0], "%s", name);
    snprintf(r->hvalue[r->nhdr], sizeof r->hvalue[0], "%s", value);
    r->nhdr++;
}

void mock_reply_json(mock_reply *r, int status, json_t *v) {
    free(r->body);
    r->status = status;
    r->body = mock_dumps(v);
    json_decref(v);
}

void mock_reply_clear(mock_reply *r) {
    free(r->body);
    r->body = NULL;
    json_decref(r->unknown);
    r->unknown = NULL;
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

/* A copy of s with every byte past ASCII as '?': paths are URL-decoded and
 * field names cut to length, so either may not be UTF-8, which JSON needs. */
static char *ascii(const char *s) {
    char *out = strdup(s), *p;
    if (out)
        for (p = out; *p; p++)
            if ((unsigned char)*p >= 0x80) *p = '?';
    return out;
}

static json_t *error_json(int status, const char *message, const char *field);

/* The API's error shape; field (may be NULL) also goes into details. */
json_t *mock_api_error_json(int status, const char *message, const char *field) {
    json_t *v = error_json(status, message, field);
    if (!v) { /* not UTF-8 */
        char *m = ascii(message), *f = field ? ascii(field) : NULL;
        v = m ? error_json(status, m, f) : NULL;
        free(m);
        free(f);
    }
    return v;
}

static json_t *error_json(int status, const char *message, const char *field) {
    json_t *details = json_array();
    if (field)
        json_array_append_new(details, json_pack("{s:s, s:[{s:s, s:s}]}", "@type",
                                                 "type.googleapis.com/google.rpc.BadRequest",
                                                 "fieldViolations", "field", field,
                                                 "description", message));
    return json_pack("{s:{s:i, s:s, s:s, s:o}}", "error", "code", status, "message", message,
                     "status", status_name(status), "details", details);
}

void mock_api_error(mock_reply *r, int status, const char *message, const char *field) {
    mock_reply_json(r, status, mock_api_error_json(status, message, field));
}

void mock_not_found(mock_reply *r, const mock_request *req, const char *project,
                    const char *field, const char *what) {
    char msg[1400];
    if (!what && project)
        snprintf(msg, sizeof msg, "no route for %s %.500s in project '%.200s' (%s)",
                 req->method, req->path, project, MOCK_REGION_HINT);
    else if (!what)
        snprintf(msg, sizeof msg, "no route for %s %.500s (%s)", req->method, req->path,
                 MOCK_REGION_HINT);
    else
        snprintf(msg, sizeof msg, "%.600s (%s %.500s; %s)", what, req->method, req->path,
                 MOCK_REGION_HINT);
    mock_api_error(r, 404, msg, field);
}

void mock_reply_invalid(mock_reply *r, const mock_verr *e) {
    size_t n = strlen(e->field);
    /* details[].fieldViolations[].description holds the rule alone */
    const char *rule = strncmp(e->message, e->field, n) == 0 && e->message[n] == ':'
                           ? e->message + n + 2 : e->message;
    json_t *err = mock_api_error_json(400, e->message, NULL);
    json_t *v = json_pack("{s:s, s:[{s:s, s:s}]}", "@type",
                          "type.googleapis.com/google.rpc.BadRequest", "fieldViolations",
                          "field", e->field, "description", rule);
    if (!v) { /* a name cut inside a UTF-8 sequence: once more in ASCII */
        char *f = ascii(e->field), *d = ascii(rule);
        if (f && d)
            v = json_pack("{s:s, s:[{s:s, s:s}]}", "@type",
                          "type.googleapis.com/google.rpc.BadRequest", "fieldViolations",
                          "field", f, "description", d);
        free(f);
        free(d);
    }
    json_array_append_new(json_object_get(json_object_get(err, "error"), "details"), v);
    mock_reply_json(r, 400, err);
}

json_t *mock_parse_body(mock_reply *r, const mock_request *req, int scratch) {
    json_error_t jerr;
    json_t *v;
    char msg[400];
    if (req->len == 0) {
        mock_api_error(r, 400, "body: is required (a JSON object)", "body");
        return NULL;
    }
    v = scratch ? mock_loadb_scratch(req->body, req->len, JSON_REJECT_DUPLICATES, &jerr)
                : json_loadb(req->body, req->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v) {
        snprintf(msg, sizeof msg, "body: not valid JSON (%s at line %d column %d)", jerr.text,
                 jerr.line, jerr.column);
        mock_api_error(r, 400, msg, "body");
    }
    return v;
}
