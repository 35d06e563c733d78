/* driver.h -- internal declarations shared by the libcurl driver's files
 * (never installed; embedders include sinch_batch_curl.h).
 *
 * A transfer (sb_xfer) is one CURL easy handle plus what one HTTP exchange
 * needs around it: the request header list, the request body cursor and the
 * collected response.  The blocking driver owns one; the multi driver keeps a
 * pool.  Both use the same three steps:
 *
 *   sb_xfer_setup(x, opts, action)   configure the easy handle for a PERFORM
 *   (curl_easy_perform, or the multi handle runs it)
 *   sb_xfer_feed(x, call, result)    turn the outcome into feed/feed_error
 */
#ifndef SINCH_BATCH_CURL_DRIVER_H
#define SINCH_BATCH_CURL_DRIVER_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#include "sinch_batch_curl.h"

/* Responses larger than this are refused (the transfer fails, nothing is
 * kept); the cap is the public SINCH_BATCH_MAX_RESPONSE. */
#define SB_CURL_MAX_BODY SINCH_BATCH_MAX_RESPONSE
#define SB_CURL_CONNECT_TIMEOUT_MS 10000L

/* A copy of sinch_batch_curl_opts with the defaults applied. */
typedef struct sb_curl_cfg {
    char *ca_file;           /* owned; NULL = system default */
    int insecure;
    long connect_timeout_ms;
    int http2;               /* 1 on, -1 off */
} sb_curl_cfg;

/* A growable byte string (the core's sb_buf is internal to the core). */
typedef struct sb_bytes {
    char *data;
    size_t len;
    size_t cap;
} sb_bytes;

typedef struct sb_xfer {
    CURL *easy;
    struct curl_slist *req_headers;
    char errbuf[CURL_ERROR_SIZE];

    /* request body, read by curl through read_body() */
    const char *body;
    size_t body_len;
    size_t body_pos;
    int body_is_post;        /* POST: never let curl rewind and resend */
    int rewind_refused;      /* curl wanted to resend the body; we said no */

    /* response: the last response's header lines ("name\0value\0" pairs)
     * and its body */
    sb_bytes hdr;
    size_t n_hdr;
    sb_bytes resp;
    int too_big;             /* body exceeded SB_CURL_MAX_BODY */
    int oom;                 /* out of memory while collecting */
    sinch_batch_header *hdr_array;
    size_t hdr_array_cap;

    int setup_failed;        /* sb_xfer_setup failed: nothing was sent */
    long connects;           /* new connections opened by this handle */
} sb_xfer;

int sb_curl_cfg_init(sb_curl_cfg *cfg, const sinch_batch_curl_opts *opts);
void sb_curl_cfg_free(sb_curl_cfg *cfg);

/* 0 on success, -1 when curl_easy_init failed. */
int sb_xfer_init(sb_xfer *x);
void sb_xfer_free(sb_xfer *x);
/* Configure x->easy for the PERFORM action a (whose pointers must stay valid
 * until sb_xfer_feed).  CURLE_OK, or the code of the option libcurl refused
 * (then hand it to sb_xfer_feed: nothing was sent). */
CURLcode sb_xfer_setup(sb_xfer *x, const sb_curl_cfg *cfg, const sinch_batch_action *a);
/* Feed the transfer's outcome (result of curl_easy_perform, or the multi
 * message's result) to call.  Returns what feed/feed_error returned. */
int sb_xfer_feed(sb_xfer *x, sinch_batch_call *call, CURLcode result,
                 const sinch_batch_action *a);

/* Wall-clock milliseconds since the Unix epoch. */
int64_t sb_curl_now_ms(void);

/* Fill *done from a call whose next() failed: a DONE action carrying the
 * call's error. */
void sb_curl_done_from_error(sinch_batch_call *call, sinch_batch_action *done);

/* For the C tests: how many new connections the blocking driver opened
 * (keep-alive reuse shows as 1 for many calls to one server). */
long sb_curl_connections_opened(const sinch_batch_curl *d);

/* Fill err (may be NULL) with kind and msg. */
void sb_curl_set_error(sinch_batch_error *err, sinch_batch_error_kind kind, const char *msg);

#endif
