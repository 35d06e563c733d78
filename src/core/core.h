/* core.h -- internal declarations shared by the core's files (never
 * installed; embedders include sinch_batch.h only). */
#ifndef SINCH_BATCH_CORE_H
#define SINCH_BATCH_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "sinch_batch.h"

#if defined(__GNUC__)
#define SB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SB_PRINTF(f, a)
#endif

/* ------------------------------------------------------------ error.c */

/* Reset e to "no error" (NULL is allowed and ignored). */
void sb_error_clear(sinch_batch_error *e);
/* Reset e, then set kind and a formatted message (truncated to fit).
 * NULL e is allowed and ignored.  Never pass a secret in the arguments. */
void sb_error_set(sinch_batch_error *e, sinch_batch_error_kind kind, const char *fmt, ...)
    SB_PRINTF(3, 4);
void sb_error_vset(sinch_batch_error *e, sinch_batch_error_kind kind, const char *fmt,
                   va_list ap);
/* Out of memory: kind INTERNAL, returns SINCH_BATCH_ENOMEM. */
int sb_error_nomem(sinch_batch_error *e, const char *what);
/* The secrets a call knows (key secret, tokens, Basic credentials); NULL
 * or empty entries are skipped. */
#define SB_MAX_SECRETS 4
typedef struct sb_secrets {
    const char *s[SB_MAX_SECRETS];
    size_t n;
} sb_secrets;
/* The one home of redaction.  Every spelling of every secret in s -- as it
 * is, JSON-escaped ("a\/b", "\u000a") and URL-encoded ("a%2Fb", "%2f") --
 * replaced by "[redacted]", into out.  Returns 1 when something was
 * replaced (out holds the result), 0 when s holds no secret (out not
 * touched), SINCH_BATCH_ENOMEM. */
int sb_redact(sb_buf *out, const char *s, size_t len, const sb_secrets *sec);
/* Server or transport text for a message: redacted (on the decoded text)
 * BEFORE it is cut to outsz - 1 bytes and its control characters blanked,
 * so no part of a secret survives the cut. */
void sb_clean(char *out, size_t outsz, const char *s, size_t n, const sb_secrets *sec);
/* A last pass over a finished error's message and api_status. */
void sb_error_redact(sinch_batch_error *e, const sb_secrets *sec);
/* Copy at most n bytes of s into out (outsz bytes, NUL-terminated), with
 * control characters turned into spaces: for quoting server text. */
void sb_sanitize(char *out, size_t outsz, const char *s, size_t n);

/* strdup/memdup returning NULL for NULL input or on ENOMEM. */
char *sb_strdup(const char *s);
char *sb_memdup(const char *s, size_t n);
/* Overwrite a secret string with zeros, then free it. */
void sb_free_secret(char *s);

/* ------------------------------------------------------------ rules.c */

/* 1 when s is "." or "..": as a path segment (an id in a URL path) it
 * would move the request to another resource once the path is normalised,
 * so such ids are refused, whatever else they are percent-encoded as. */
int sb_is_dot_segment(const char *s);

/* --------------------------------------------------------- jsonread.c */

/* Fill e (kind HTTP, status) from an API error body
 * {"error":{"code":..,"message":..,"status":..}}, read defensively:
 *   "HTTP 400 INVALID_ARGUMENT: <server message>"
 *   "HTTP 502: <first 200 bytes of a non-JSON body>"  */
void sb_json_api_error(const char *body, size_t len, int status, const sb_secrets *sec,
                       sinch_batch_error *e);

/* Read an OAuth2 token response.  On success *token is malloc'd and
 * *expires_in_s is expires_in (3600 when absent or not a positive number);
 * returns 0.  On failure returns -1 with why (no secret) filled. */
int sb_json_token(const char *body, size_t len, char **token, long long *expires_in_s,
                  char *why, size_t whysz);

/* The OAuth2 error text of a token-endpoint error body: "error:
 * error_description", either alone, or the sanitized body when it is not
 * JSON.  Always NUL-terminates out (empty when there is nothing). */
void sb_json_oauth_error(const char *body, size_t len, const sb_secrets *sec, char *out,
                         size_t outsz);

/* ----------------------------------------------------------- client.c */

/* One client: configuration, the cached OAuth2 token and the jitter PRNG.
 * A client and its calls are used from one thread at a time. */
struct sinch_batch_client {
    char *project_id;
    char *region;
    char *base_url;     /* no trailing '/' */
    char *api_prefix;   /* {base_url}/v1/projects/{project_id} */
    char *token_url;    /* {auth_url}/oauth2/token */
    char *key_id;
    char *key_secret;
    char *basic_auth;   /* "Basic base64(key_id:key_secret)", NULL in token mode */
    char *user_agent;
    int static_token;   /* 1: token given in the config, never refreshed */

    int max_attempts;
    long timeout_ms;
    long deadline_ms;
    long backoff_base_ms;
    long backoff_max_ms;
    long refresh_ahead_ms;
    uint64_t rng;

    /* token state */
    char *token;              /* NULL when none */
    int64_t token_expires_at; /* ms since the epoch */
    int64_t token_refresh_at; /* refresh from this time on */
    uint64_t token_gen;       /* bumped on every install/drop */
    int refreshing;           /* a call is fetching a token ... */
    const sinch_batch_call *refresher; /* ... this one ... */
    int64_t lease_until;      /* ... until then; afterwards another may */

    /* lifetime: calls hold a reference */
    int refs;
    int closed;
};

/* Install a token fetched at now_ms, valid for expires_in_s seconds. */
int sb_client_install_token(sinch_batch_client *c, const char *token, int64_t now_ms,
                            long long expires_in_s);
/* Drop the cached token if its generation is still gen. */
void sb_client_drop_token(sinch_batch_client *c, uint64_t gen);
/* The next PRNG value (xorshift64*). */
uint64_t sb_client_random(sinch_batch_client *c);
/* Reference counting used by calls. */
void sb_client_ref(sinch_batch_client *c);
void sb_client_unref(sinch_batch_client *c);

#endif
