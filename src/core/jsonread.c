/* jsonread.c -- reading responses with jansson: API errors, OAuth2 token
 * responses, and one string member for embedders. */
#include "core.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SB_SNIPPET 200 /* bytes of a non-JSON body quoted in a message */

static json_t *load(const char *body, size_t len) {
    if (body == NULL || len == 0) return NULL;
    return json_loadb(body, len, 0, NULL);
}

/* The string value of obj[key], or NULL. */
static const char *get_str(json_t *obj, const char *key) {
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int sinch_batch_json_get_string(const char *json, size_t len, const char *key, char *out,
                                size_t outsz) {
    json_t *root, *v;
    size_t n;
    int rc = SINCH_BATCH_ERR;
    if (json == NULL || key == NULL || out == NULL || outsz == 0) return SINCH_BATCH_ERR;
    if (len == 0) return SINCH_BATCH_ERR; /* an empty document: no member */
    root = load(json, len);
    v = json_is_object(root) ? json_object_get(root, key) : NULL;
    if (json_is_string(v)) {
        n = json_string_length(v);
        if (n < outsz && n <= (size_t)0x7fffffff) {
            memcpy(out, json_string_value(v), n);
            out[n] = '\0';
            rc = (int)n;
        }
    }
    json_decref(root);
    return rc;
}

void sb_json_api_error(const char *body, size_t len, int status, const sb_secrets *sec,
                       sinch_batch_error *e) {
    json_t *root = load(body, len);
    json_t *err = json_is_object(root) ? json_object_get(root, "error") : NULL;
    char text[SINCH_BATCH_ERRSTR_LEN];
    const char *api_status = NULL, *msg = NULL;
    int code = 0;

    if (json_is_object(err)) {
        json_t *c = json_object_get(err, "code");
        api_status = get_str(err, "status");
        msg = get_str(err, "message");
        if (json_is_integer(c)) code = (int)json_integer_value(c);
    } else if (json_is_object(root)) {
        /* a flat {"message":..,"status":..} from a gateway */
        msg = get_str(root, "message");
        api_status = get_str(root, "status");
    }

    text[0] = '\0';
    /* server text is redacted decoded and whole, then cut (sb_clean) */
    if (msg) {
        sb_clean(text, sizeof text, msg, strlen(msg), sec);
    } else if (root == NULL && body && len) {
        sb_clean(text, SB_SNIPPET + 1, body, len, sec);
    }

    if (api_status && *api_status) {
        char st[sizeof e->api_status];
        sb_clean(st, sizeof st, api_status, strlen(api_status), sec);
        if (text[0])
            sb_error_set(e, SINCH_BATCH_ERROR_HTTP, "HTTP %d %s: %s", status, st, text);
        else
            sb_error_set(e, SINCH_BATCH_ERROR_HTTP, "HTTP %d %s", status, st);
        if (e) memcpy(e->api_status, st, sizeof st);
    } else if (text[0]) {
        sb_error_set(e, SINCH_BATCH_ERROR_HTTP, "HTTP %d: %s", status, text);
    } else {
        sb_error_set(e, SINCH_BATCH_ERROR_HTTP, "HTTP %d", status);
    }
    if (e) {
        e->status = status;
        e->code = code;
    }
    json_decref(root);
}

int sb_json_token(const char *body, size_t len, char **token, long long *expires_in_s,
                  char *why, size_t whysz) {
    json_t *root = load(body, len), *exp;
    const char *tok;
    size_t i, n;
    int rc = -1;

    *token = NULL;
    *expires_in_s = 3600;
    if (!json_is_object(root)) {
        snprintf(why, whysz, "token response is not a JSON object");
        goto out;
    }
    tok = get_str(root, "access_token");
    if (tok == NULL || (n = strlen(tok)) == 0) {
        snprintf(why, whysz, "token response has no access_token string");
        goto out;
    }
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)tok[i];
        if (ch <= 0x20 || ch >= 0x7f) {
            snprintf(why, whysz, "token response: access_token holds a character not "
                                 "allowed in a header at position %zu", i + 1);
            goto out;
        }
    }
    exp = json_object_get(root, "expires_in");
    if (json_is_integer(exp) && json_integer_value(exp) > 0)
        *expires_in_s = (long long)json_integer_value(exp);
    else if (json_is_real(exp) && json_real_value(exp) >= 1 && json_real_value(exp) < 1e9)
        *expires_in_s = (long long)json_real_value(exp);
    else if (json_is_string(exp) && atoll(json_string_value(exp)) > 0)
        *expires_in_s = atoll(json_string_value(exp));
    if (*expires_in_s > 100000000LL) *expires_in_s = 100000000LL;
    *token = sb_memdup(tok, n);
    if (*token == NULL) {
        snprintf(why, whysz, "token response: out of memory");
        goto out;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

void sb_json_oauth_error(const char *body, size_t len, const sb_secrets *sec, char *out,
                         size_t outsz) {
    json_t *root = load(body, len);
    const char *code = get_str(root, "error");
    const char *desc = get_str(root, "error_description");
    char a[128], b[SINCH_BATCH_ERRSTR_LEN / 2];

    if (outsz == 0) goto out;
    out[0] = '\0';
    if (code == NULL && json_is_object(root)) {
        /* some gateways answer {"error":{"message":..}} */
        json_t *eo = json_object_get(root, "error");
        desc = desc ? desc : get_str(eo, "message");
    }
    if (code) sb_clean(a, sizeof a, code, strlen(code), sec);
    if (desc) sb_clean(b, sizeof b, desc, strlen(desc), sec);
    if (code && desc)
        snprintf(out, outsz, "%s: %s", a, b);
    else if (code)
        snprintf(out, outsz, "%s", a);
    else if (desc)
        snprintf(out, outsz, "%s", b);
    else if (root == NULL && body && len)
        sb_clean(out, outsz < SB_SNIPPET + 1 ? outsz : SB_SNIPPET + 1, body, len, sec);
out:
    json_decref(root);
}
