/* oauth.c -- POST /oauth2/token (client credentials, Basic key_id:secret)
 * and the Bearer check every API route makes. */
#define _GNU_SOURCE
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mock.h"

static void oauth_error(mock_reply *r, int status, const char *error, const char *description) {
    mock_reply_json(r, status, json_pack("{s:s, s:s}", "error", error, "error_description",
                                         description));
}

static int form_value(const mock_request *req, const char *key, char *out, size_t n) {
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

void mock_token_endpoint(mock_reply *r, const mock_request *req) {
    char grant[64];
    const char *token;
    int64_t expires_in;
    if (strcmp(req->method, "POST") != 0) {
        oauth_error(r, 405, "invalid_request", "use POST");
        return;
    }
    if (!basic_ok(req->authorization)) {
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
        mock_reply_json(r, 200, json_pack("{s:s, s:I, s:s, s:s}", "access_token", token,
                                          "expires_in", (json_int_t)expires_in, "token_type",
                                          "bearer", "scope", ""));
    mock_unlock();
    if (!token) mock_api_error(r, 500, "out of memory", NULL);
}

const char *mock_bearer(const char *a) {
    if (!a || strncasecmp(a, "Bearer ", 7) != 0) return NULL;
    a += 7;
    while (*a == ' ') a++;
    return a;
}

int mock_authorized(mock_reply *r, const mock_request *req) {
    const char *tok = mock_bearer(req->authorization);
    int index, ok;
    if (!tok) {
        mock_api_error(r, 401, "Request is missing a Bearer token in the Authorization header",
                       NULL);
        return 0;
    }
    mock_lock();
    ok = mock_token_check(tok, &index);
    mock_unlock();
    if (ok == 0) {
        mock_api_error(r, 401, "The bearer token is not valid", NULL);
        return 0;
    }
    if (ok < 0) {
        mock_api_error(r, 401, "The bearer token has expired", NULL);
        mock_reply_header(r, "www-authenticate", "Bearer error=\"invalid_token\", "
                                                 "error_description=\"expired\"");
        return 0;
    }
    return 1;
}
