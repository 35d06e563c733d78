/* client.c -- configuration, validation and the cached OAuth2 token. */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define DEFAULT_USER_AGENT "sinch-batch/" SINCH_BATCH_VERSION " (C)"
#define SEED_DEFAULT 0x9E3779B97F4A7C15ULL

void sinch_batch_config_init(sinch_batch_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    /* region: required unless base_url is given (docs/api-rules.md);
     * auth_url: base_url when that is given, else https://auth.sinch.com */
    cfg->max_attempts = 3;
    cfg->timeout_ms = 30000;
    cfg->deadline_ms = 60000;
    cfg->backoff_base_ms = 500;
    cfg->backoff_max_ms = 20000;
    cfg->refresh_ahead_ms = 60000;
}

static int given(const char *s) {
    return s != NULL && *s != '\0';
}

/* base64 (standard alphabet, '=' padding) of n bytes of in into out, which
 * holds at least 4 * ((n + 2) / 3) + 1 bytes. */
static void base64(const unsigned char *in, size_t n, char *out) {
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;
    for (i = 0; i + 2 < n; i += 3) {
        *out++ = tab[in[i] >> 2];
        *out++ = tab[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
        *out++ = tab[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
        *out++ = tab[in[i + 2] & 63];
    }
    if (i < n) {
        *out++ = tab[in[i] >> 2];
        if (i + 1 < n) {
            *out++ = tab[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
            *out++ = tab[(in[i + 1] & 15) << 2];
        } else {
            *out++ = tab[(in[i] & 3) << 4];
            *out++ = '=';
        }
        *out++ = '=';
    }
    *out = '\0';
}

/* "Basic base64(id:secret)", or NULL on ENOMEM. */
static char *basic_auth(const char *id, const char *secret) {
    size_t il = strlen(id), sl = strlen(secret), n = il + 1 + sl;
    unsigned char *raw = malloc(n);
    char *out = malloc(6 + 4 * ((n + 2) / 3) + 1);
    if (raw && out) {
        memcpy(raw, id, il);
        raw[il] = ':';
        memcpy(raw + il + 1, secret, sl);
        memcpy(out, "Basic ", 6);
        base64(raw, n, out + 6);
    } else {
        free(out);
        out = NULL;
    }
    if (raw) {
        memset(raw, 0, n);
        free(raw);
    }
    return out;
}

/* 1-based position of the first byte of s that is not URL-unreserved, 0 if none. */
static size_t not_url_safe(const char *s) {
    size_t i;
    for (i = 0; s[i]; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.' || ch == '~'))
            return i + 1;
    }
    return 0;
}

/* 1-based position of the first control or non-ASCII byte, 0 if none (for
 * values that go into a header). */
static size_t not_header_safe(const char *s) {
    size_t i;
    for (i = 0; s[i]; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch >= 0x7f) return i + 1;
    }
    return 0;
}

static int is_http_url(const char *s) {
    return strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0;
}

/* 1 when no byte of the URL is a space, a control or non-ASCII character
 * (a URL goes into the request line as it is). */
static int url_bytes_ok(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f) return 0;
    return 1;
}

/* 1 when the URL's authority holds user:password@: those credentials would
 * be shown in every message that names the URL. */
static int url_has_userinfo(const char *s) {
    const char *p = strstr(s, "://");
    p = p ? p + 3 : s;
    for (; *p && *p != '/' && *p != '?' && *p != '#'; p++)
        if (*p == '@') return 1;
    return 0;
}

/* Checks base_url or auth_url; 0, or -1 with err filled. */
static int check_url(const char *field, const char *url, sinch_batch_error *err) {
    if (!is_http_url(url) || !url_bytes_ok(url)) {
        sb_error_set(err, SINCH_BATCH_ERROR_INVALID,
                     "%s: must be an http:// or https:// URL without spaces", field);
        return -1;
    }
    if (url_has_userinfo(url)) {
        sb_error_set(err, SINCH_BATCH_ERROR_INVALID,
                     "%s: must not hold credentials (user:password@); give key_id and "
                     "key_secret, or token", field);
        return -1;
    }
    return 0;
}

/* A copy of url without trailing '/'. */
static char *strip_slash(const char *url) {
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/') n--;
    return sb_memdup(url, n);
}

static char *joinf(const char *a, const char *b, const char *c) {
    sb_buf buf;
    sb_buf_init(&buf);
    if (sb_buf_appendf(&buf, "%s%s%s", a, b, c ? c : "") != 0) {
        sb_buf_free(&buf);
        return NULL;
    }
    return sb_buf_steal(&buf, NULL);
}

static int validate(const sinch_batch_config *cfg, sinch_batch_error *err) {
    const char *region = cfg->region;
    size_t pos;

    if (!given(cfg->project_id)) {
        sb_error_set(err, SINCH_BATCH_ERROR_INVALID, "project_id: required, a non-empty string");
        return -1;
    }
    if (sb_is_dot_segment(cfg->project_id)) {
        sb_error_set(err, SINCH_BATCH_ERROR_INVALID,
                     "project_id: \"%s\" is a dot segment, not an id", cfg->project_id);
        return -1;
    }
    if ((pos = not_url_safe(cfg->project_id)) != 0) {
        sb_error_set(err, SINCH_BATCH_ERROR_INVALID,
                     "project_id: character %zu is not allowed; use letters, digits, "
                     "'-', '_', '.' or '~'", pos);
        return -1;
    }
    if (given(cfg->base_url)) {
        if (check_url("base_url", cfg->base_url, err) != 0) return -1;
    } else if (!given(region)) {
        /* ours: the reference's server variable defaults to us, but a batch
         * sent to another region than its app's is refused (404); one rule
         * for C, Lua and the CLI */
        sb_error_set(err, SINCH_BATCH_ERROR_INVALID,
                     "region: required, one of us, eu, br (the region of your Conversation "
                     "API app), or give base_url");
        return -1;
    } else if (strcmp(region, "us") != 0 && strcmp(region, "eu") != 0 &&
               strcmp(region, "br") != 0) {
        char shown[40];
        sb_sanitize(shown, sizeof shown, region, strlen(region));
        sb_error_set(err, SINCH_BATCH_ERROR_INVALID, "region: \"%s\" is not one of us, eu, br",
                     shown);
        return -1;
    }
    if (given(cfg->token)) {
        if (given(cfg->key_id) || given(cfg->key_secret)) {
            sb_error_set(err, SINCH_BATCH_ERROR_INVALID,
                         "token: give either token or key_id and key_secret, not both");
            return -1;
        }
        if ((pos = not_header_safe(cfg->token)) != 0) {
            sb_error_set(err, SINCH_BATCH_ERROR_INVALID,
                         "token: character %zu is a control or non-ASCII character", pos);
            return -1;
        }
    } else if (!given(cfg->key_id) && !given(cfg->key_secret)) {
        sb_error_set(err, SINCH_BATCH_ERROR_INVALID,
                     "key_id, key_secret: credentials required (key_id and key_secret, "
                     "or token)");
        return -1;
    } else if (!given(cfg->key_secret)) {
        sb_error_set(err, SINCH_BATCH_ERROR_INVALID, "key_secret: required with key_id");
        return -1;
    } else if (!given(cfg->key_id)) {
        sb_error_set(err, SINCH_BATCH_ERROR_INVALID, "key_id: required with key_secret");
        return -1;
    } else if ((pos = not_header_safe(cfg->key_id)) != 0 || strchr(cfg->key_id, ':')) {
        sb_error_set(err, SINCH_BATCH_ERROR_INVALID,
                     "key_id: must be printable ASCII without ':'");
        return -1;
    }
    if (given(cfg->auth_url) && check_url("auth_url", cfg->auth_url, err) != 0) return -1;
    if (given(cfg->user_agent) && (pos = not_header_safe(cfg->user_agent)) != 0) {
        sb_error_set(err, SINCH_BATCH_ERROR_INVALID,
                     "user_agent: character %zu is a control or non-ASCII character", pos);
        return -1;
    }
    if (cfg->max_attempts < 0) {
        sb_error_set(err, SINCH_BATCH_ERROR_INVALID, "max_attempts: must be >= 0 (got %d)",
                     cfg->max_attempts);
        return -1;
    }
    /* every duration is bounded, so no sum of a time and a duration can
     * overflow (a refresh lease near LONG_MAX would wrap negative) */
#define DURATION(field)                                                                  \
    if (cfg->field < 0 || cfg->field > SINCH_BATCH_MAX_DURATION_MS) {                    \
        sb_error_set(err, SINCH_BATCH_ERROR_INVALID,                                     \
                     #field ": must be 0 to %ld ms (got %ld)", SINCH_BATCH_MAX_DURATION_MS, \
                     (long)cfg->field);                                                  \
        return -1;                                                                       \
    }
    DURATION(timeout_ms)
    DURATION(deadline_ms)
    DURATION(backoff_base_ms)
    DURATION(backoff_max_ms)
    DURATION(refresh_ahead_ms)
#undef DURATION
    return 0;
}

static void client_destroy(sinch_batch_client *c) {
    free(c->project_id);
    free(c->region);
    free(c->base_url);
    free(c->api_prefix);
    free(c->token_url);
    free(c->key_id);
    sb_free_secret(c->key_secret);
    sb_free_secret(c->basic_auth);
    free(c->user_agent);
    sb_free_secret(c->token);
    free(c);
}

sinch_batch_client *sinch_batch_client_new(const sinch_batch_config *cfg, sinch_batch_error *err) {
    sinch_batch_client *c;
    const char *region;
    int ok;

    sb_error_clear(err);
    if (cfg == NULL) {
        sb_error_set(err, SINCH_BATCH_ERROR_INVALID, "config: required");
        return NULL;
    }
    if (validate(cfg, err) != 0) return NULL;
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        sb_error_nomem(err, "client");
        return NULL;
    }
    region = given(cfg->region) ? cfg->region : "";
    c->project_id = sb_strdup(cfg->project_id);
    c->region = sb_strdup(region);
    if (given(cfg->base_url))
        c->base_url = strip_slash(cfg->base_url);
    else
        c->base_url = joinf("https://", region, ".conversationbatch.api.sinch.com");
    if (c->base_url) c->api_prefix = joinf(c->base_url, "/v1/projects/", c->project_id);
    {
        /* the key secret goes only where the user pointed: auth_url, else
         * base_url (a sandbox or proxy serves /oauth2/token too), else the
         * reference's https://auth.sinch.com */
        char *auth = strip_slash(given(cfg->auth_url)   ? cfg->auth_url
                                 : given(cfg->base_url) ? cfg->base_url
                                                        : "https://auth.sinch.com");
        c->token_url = auth ? joinf(auth, "/oauth2/token", NULL) : NULL;
        free(auth);
    }
    c->user_agent = sb_strdup(given(cfg->user_agent) ? cfg->user_agent : DEFAULT_USER_AGENT);
    ok = c->project_id && c->region && c->base_url && c->api_prefix && c->token_url &&
         c->user_agent;
    if (given(cfg->token)) {
        c->static_token = 1;
        c->token = sb_strdup(cfg->token);
        c->token_expires_at = INT64_MAX;
        c->token_refresh_at = INT64_MAX;
        c->token_gen = 1;
        ok = ok && c->token;
    } else {
        c->key_id = sb_strdup(cfg->key_id);
        c->key_secret = sb_strdup(cfg->key_secret);
        c->basic_auth = basic_auth(cfg->key_id, cfg->key_secret);
        ok = ok && c->key_id && c->key_secret && c->basic_auth;
    }
    if (!ok) {
        client_destroy(c);
        sb_error_nomem(err, "client");
        return NULL;
    }
    c->max_attempts = cfg->max_attempts > 0 ? cfg->max_attempts : 3;
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000;
    c->deadline_ms = cfg->deadline_ms > 0 ? cfg->deadline_ms : 60000;
    c->backoff_base_ms = cfg->backoff_base_ms > 0 ? cfg->backoff_base_ms : 500;
    c->backoff_max_ms = cfg->backoff_max_ms > 0 ? cfg->backoff_max_ms : 20000;
    c->refresh_ahead_ms = cfg->refresh_ahead_ms;
    {
        /* splitmix64 of the seed: neighbouring seeds give unrelated streams */
        uint64_t z = (cfg->seed ? cfg->seed : SEED_DEFAULT) + 0x9E3779B97F4A7C15ULL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        c->rng = z ? z : SEED_DEFAULT; /* xorshift must not start at 0 */
    }
    return c;
}

void sb_client_ref(sinch_batch_client *c) {
    c->refs++;
}

void sb_client_unref(sinch_batch_client *c) {
    if (--c->refs == 0 && c->closed) client_destroy(c);
}

void sinch_batch_client_free(sinch_batch_client *c) {
    if (c == NULL || c->closed) return;
    c->closed = 1;
    if (c->refs == 0) client_destroy(c);
}

const char *sinch_batch_client_base_url(const sinch_batch_client *c) {
    return c->base_url;
}

const char *sinch_batch_client_project_id(const sinch_batch_client *c) {
    return c->project_id;
}

const char *sinch_batch_client_region(const sinch_batch_client *c) {
    return c->region;
}

int sinch_batch_client_get_token(sinch_batch_client *c, int64_t now_ms, char *buf, size_t bufsz,
                                 int64_t *expires_at_ms) {
    size_t n;
    if (c->token == NULL || now_ms >= c->token_expires_at) return 0;
    n = strlen(c->token);
    if (buf == NULL || n >= bufsz || n > 0x7fffffff) return SINCH_BATCH_ERR;
    memcpy(buf, c->token, n + 1);
    if (expires_at_ms) *expires_at_ms = c->token_expires_at;
    return (int)n;
}

static int set_token(sinch_batch_client *c, const char *token, int64_t expires_at,
                     int64_t refresh_at) {
    char *copy = sb_strdup(token);
    if (copy == NULL) return SINCH_BATCH_ENOMEM;
    sb_free_secret(c->token);
    c->token = copy;
    c->token_expires_at = expires_at;
    c->token_refresh_at = refresh_at;
    c->token_gen++;
    return SINCH_BATCH_OK;
}

int sinch_batch_client_set_token(sinch_batch_client *c, const char *token, int64_t expires_at_ms) {
    if (token == NULL || *token == '\0' || not_header_safe(token)) return SINCH_BATCH_ERR;
    return set_token(c, token, expires_at_ms, expires_at_ms - c->refresh_ahead_ms);
}

int sb_client_install_token(sinch_batch_client *c, const char *token, int64_t now_ms,
                            long long expires_in_s) {
    int64_t life = (int64_t)expires_in_s * 1000;
    /* a token living shorter than twice the refresh margin is refreshed
     * halfway through its life instead */
    int64_t ahead = c->refresh_ahead_ms < life / 2 ? c->refresh_ahead_ms : life / 2;
    return set_token(c, token, now_ms + life, now_ms + life - ahead);
}

void sb_client_drop_token(sinch_batch_client *c, uint64_t gen) {
    if (c->static_token || c->token == NULL || c->token_gen != gen) return;
    sb_free_secret(c->token);
    c->token = NULL;
    c->token_expires_at = 0;
    c->token_refresh_at = 0;
    c->token_gen++;
}

uint64_t sb_client_random(sinch_batch_client *c) {
    uint64_t x = c->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* One length-prefixed field of the token key's digest ("<len>:<bytes>"). */
static int digest_field(EVP_MD_CTX *md, const char *s) {
    char len[32];
    size_t n = s ? strlen(s) : 0;
    int k = snprintf(len, sizeof len, "%zu:", n);
    return EVP_DigestUpdate(md, len, (size_t)k) == 1 && (n == 0 || EVP_DigestUpdate(md, s, n) == 1);
}

int sinch_batch_client_token_key(const sinch_batch_client *c, char *out, size_t outsz) {
    static const char hex[] = "0123456789abcdef";
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0, i;
    EVP_MD_CTX *md;
    int ok;

    if (out == NULL || outsz < SINCH_BATCH_TOKEN_KEY_LEN + 1) return SINCH_BATCH_ERR;
    out[0] = '\0';
    if (c->static_token) return 0;
    md = EVP_MD_CTX_new();
    if (md == NULL) return SINCH_BATCH_ERR;
    /* token_url is auth_url + "/oauth2/token": the same information */
    ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
         digest_field(md, "sinch-batch token key 1") && digest_field(md, c->base_url) &&
         digest_field(md, c->token_url) && digest_field(md, c->project_id) &&
         digest_field(md, c->key_id) && digest_field(md, c->key_secret) &&
         EVP_DigestFinal_ex(md, d, &dlen) == 1 && dlen * 2 == SINCH_BATCH_TOKEN_KEY_LEN;
    EVP_MD_CTX_free(md);
    if (!ok) return SINCH_BATCH_ERR;
    for (i = 0; i < dlen; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * dlen] = '\0';
    OPENSSL_cleanse(d, sizeof d);
    return SINCH_BATCH_TOKEN_KEY_LEN;
}
