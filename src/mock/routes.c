/* routes.c -- the API of sinch-batch-mock, request by request, with no
 * socket in sight (server.c reads the request; the fuzz harness makes one):
 *   POST /oauth2/token                       OAuth2 client credentials
 *   /v1/projects/{project_id}/messages[/id]  send, cancel, find, status
 *   /v1/projects/{project_id}/contacts       create, delete
 *   /v1/projects/{project_id}/consents       insert
 *   /_mock/...                               admin.c
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

#define EARLY_WAIT_MS 10000L /* at most this long for receipts to go before the answer */

static void method_not_allowed(mock_reply *r, const char *method, const char *path,
                               const char *allowed) {
    char msg[700];
    snprintf(msg, sizeof msg, "%s is not allowed on %.500s (allowed: %s)", method, path,
             allowed);
    mock_api_error(r, 405, msg, NULL);
    mock_reply_header(r, "Allow", allowed);
}

static void send_batch(mock_reply *r, const char *project, const mock_request *req) {
    json_t *body = mock_parse_body(r, req, 1), *out;
    json_t *unknown = mock_cfg.strict ? NULL : json_array();
    mock_verr e;
    int64_t send_after = 0;
    const char *id;
    int early = 0;
    if (!body) {
        mock_scratch_release();
        json_decref(unknown);
        return;
    }
    if (mock_validate_send(body, mock_now_ms(), &send_after, unknown, &e) != 0) {
        mock_reply_invalid(r, &e);
        mock_scratch_release();
        json_decref(unknown);
        return;
    }
    mock_lock();
    id = mock_batch_accept(project, body, send_after, unknown);
    out = id ? json_pack("{s:s}", "batch_id", id) : NULL;
    early = mock_cfg.webhook_url && mock_outcomes_early();
    mock_unlock();
    mock_scratch_release(); /* body is gone from here on */
    if (unknown && json_array_size(unknown)) r->unknown = json_incref(unknown);
    json_decref(unknown);
    if (!out) {
        mock_api_error(r, 500, "out of memory", NULL);
        return;
    }
    if (send_after) {
        char t[40];
        mock_format_time(t, sizeof t, send_after, 0);
        json_object_set_new(out, "send_after", json_string(t));
    }
    /* receipts that overtake the send's answer, as they may in the API */
    if (early) mock_webhook_flush(EARLY_WAIT_MS);
    mock_reply_json(r, 200, out);
}

static void cancel(mock_reply *r, const char *project, const mock_request *req) {
    json_t *body;
    mock_verr e;
    if (!(body = mock_parse_body(r, req, 0))) return;
    if (mock_validate_cancel(body, &e) != 0) {
        mock_reply_invalid(r, &e);
    } else {
        mock_lock();
        mock_batch_cancel(project, body);
        mock_unlock();
        mock_reply_json(r, 200, json_object());
    }
    json_decref(body);
}

static void find(mock_reply *r, const char *project, const mock_request *req) {
    json_t *out;
    if (!req->metadata_key || !*req->metadata_key) {
        mock_api_error(r, 400, "metadataKey: is required", "metadataKey");
        return;
    }
    if (!req->metadata_value) {
        mock_api_error(r, 400, "metadataValue: is required", "metadataValue");
        return;
    }
    mock_lock();
    out = mock_batch_find(project, req->metadata_key, req->metadata_value);
    mock_unlock();
    mock_reply_json(r, 200, out);
}

static void messages(mock_reply *r, const char *project, const char *rest,
                     const mock_request *req) {
    const char *method = req->method;
    if (rest[0] == '\0') {
        if (strcmp(method, "POST") == 0) send_batch(r, project, req);
        else if (strcmp(method, "DELETE") == 0) cancel(r, project, req);
        else if (strcmp(method, "GET") == 0) find(r, project, req);
        else method_not_allowed(r, method, "/messages", "GET, POST, DELETE");
        return;
    }
    if (rest[0] == '/' && rest[1] && !strchr(rest + 1, '/')) {
        json_t *out;
        if (strcmp(method, "GET") != 0) {
            method_not_allowed(r, method, "/messages/{batch_id}", "GET");
            return;
        }
        mock_lock();
        out = mock_batch_json(project, rest + 1);
        mock_unlock();
        if (out) {
            mock_reply_json(r, 200, out);
        } else {
            char msg[400];
            snprintf(msg, sizeof msg, "batch_id: no batch '%.64s' in project '%.64s'",
                     rest + 1, project);
            mock_not_found(r, req, project, "batch_id", msg);
        }
        return;
    }
    mock_not_found(r, req, project, NULL, NULL);
}

static void contacts(mock_reply *r, const char *project, const mock_request *req) {
    json_t *body;
    mock_verr e;
    int create = strcmp(req->method, "POST") == 0;
    if (!create && strcmp(req->method, "DELETE") != 0) {
        method_not_allowed(r, req->method, "/contacts", "POST, DELETE");
        return;
    }
    if (!(body = mock_parse_body(r, req, 0))) return;
    if ((create ? mock_validate_create_contacts : mock_validate_delete_contacts)(body, &e)) {
        mock_reply_invalid(r, &e);
    } else {
        mock_lock();
        if (create) mock_contacts_create(project, json_object_get(body, "contacts"));
        else mock_contacts_delete(project, json_object_get(body, "contact_ids"));
        mock_unlock();
        mock_reply_json(r, 200, json_object());
    }
    json_decref(body);
}

static void consents(mock_reply *r, const char *project, const mock_request *req) {
    json_t *body, *out;
    mock_verr e;
    if (strcmp(req->method, "POST") != 0) {
        method_not_allowed(r, req->method, "/consents", "POST");
        return;
    }
    if (!(body = mock_parse_body(r, req, 0))) return;
    if (mock_validate_consents(body, &e)) {
        mock_reply_invalid(r, &e);
    } else {
        mock_lock();
        out = json_pack("{s:s}", "batch_id", mock_consents_insert(project, body));
        mock_unlock();
        mock_reply_json(r, 200, out);
    }
    json_decref(body);
}

static void api(mock_reply *r, const mock_request *req) {
    char project[256], msg[400];
    const char *path = req->path, *p, *slash;
    size_t n;
    if (strcmp(path, "/oauth2/token") == 0) {
        mock_token_endpoint(r, req);
        return;
    }
    if (strncmp(path, "/v1/projects/", 13) != 0) {
        mock_not_found(r, req, NULL, NULL, NULL);
        return;
    }
    if (!mock_authorized(r, req)) return;
    p = path + 13;
    slash = strchr(p, '/');
    n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 0 || n >= sizeof project) {
        mock_not_found(r, req, NULL, "project_id", "project_id: is missing from the path");
        return;
    }
    memcpy(project, p, n);
    project[n] = '\0';
    if (!mock_project_known(project)) {
        snprintf(msg, sizeof msg, "project_id: project '%.200s' is not known here", project);
        mock_not_found(r, req, NULL, "project_id", msg);
        return;
    }
    p += n;
    if (strncmp(p, "/messages", 9) == 0 && (p[9] == '\0' || p[9] == '/'))
        messages(r, project, p + 9, req);
    else if (strcmp(p, "/contacts") == 0)
        contacts(r, project, req);
    else if (strcmp(p, "/consents") == 0)
        consents(r, project, req);
    else
        mock_not_found(r, req, project, NULL, NULL);
}

void mock_route(mock_reply *r, const mock_request *req) {
    if (strncmp(req->path, "/_mock/", 7) == 0) mock_admin(r, req);
    else api(r, req);
    if (!r->status) mock_api_error(r, 500, "internal error", NULL);
}
