/*
 * sinch_batch_curl.h -- the I/O half of sinch-batch's C API:
 * libsinchbatch_curl (pkg-config sinch-batch-curl), on top of the core in
 * sinch_batch.h (included here; see it for the conventions, the call state
 * machine and the CSV reader).
 *
 *   - a libcurl driver that runs the core's calls: blocking
 *     (sinch_batch_curl_perform) or non-blocking, many calls on one multi
 *     handle (sinch_batch_curl_multi_*), for event loops;
 *   - sinch_batch_csv_open: the core's CSV reader fed from a file.
 *
 * Build and link:  cc app.c $(pkg-config --cflags --libs sinch-batch-curl)
 * (-lsinchbatch_curl -lsinchbatch).  libcurl's headers are not needed: the
 * driver's types are opaque.
 */
#ifndef SINCH_BATCH_CURL_H
#define SINCH_BATCH_CURL_H

#include "sinch_batch.h"

#ifdef __cplusplus
extern "C" {
#endif

/* -------------------------------------------------------- libcurl driver */

typedef struct sinch_batch_curl sinch_batch_curl;

typedef struct sinch_batch_curl_opts {
    const char *ca_file;        /* CA bundle; NULL = system default */
    int insecure;               /* 1 turns TLS verification OFF (never default) */
    long connect_timeout_ms;    /* default 10000 */
    int http2;                  /* 1 (default when zeroed: on) use HTTP/2 over TLS when offered;
                                   set -1 to disable */
} sinch_batch_curl_opts;

/* Blocking driver: one easy handle, reused across calls (keep-alive).
 * NULL on error (err filled).  opts may be NULL for the defaults; ca_file
 * is copied. */
SINCH_BATCH_API sinch_batch_curl *sinch_batch_curl_new(const sinch_batch_curl_opts *opts,
                                                       sinch_batch_error *err);
SINCH_BATCH_API void sinch_batch_curl_free(sinch_batch_curl *d);
/* Runs call to completion (PERFORM via libcurl, WAIT by sleeping) and fills
 * *done with its DONE action.  Returns SINCH_BATCH_OK when the API answered
 * 2xx, SINCH_BATCH_ERR otherwise (done->error says why). */
SINCH_BATCH_API int sinch_batch_curl_perform(sinch_batch_curl *d, sinch_batch_call *call,
                                             sinch_batch_action *done);
/* "libcurl/7.88.1" */
SINCH_BATCH_API const char *sinch_batch_curl_version(void);

/* Non-blocking driver for event loops: many calls in flight on one
 * curl multi handle.  poll never blocks longer than timeout_ms (0 = not at
 * all); finished calls are popped with done(). */
typedef struct sinch_batch_curl_multi sinch_batch_curl_multi;

SINCH_BATCH_API sinch_batch_curl_multi *sinch_batch_curl_multi_new(const sinch_batch_curl_opts *opts,
                                                                   sinch_batch_error *err);
SINCH_BATCH_API void sinch_batch_curl_multi_free(sinch_batch_curl_multi *m);
/* Starts call on m (the call stays the caller's; do not free it before it
 * comes out of done()).  userdata comes back with it. */
SINCH_BATCH_API int sinch_batch_curl_multi_add(sinch_batch_curl_multi *m, sinch_batch_call *call,
                                               void *userdata);
/* Returns the number of calls still running, or SINCH_BATCH_ERR. */
SINCH_BATCH_API int sinch_batch_curl_multi_poll(sinch_batch_curl_multi *m, long timeout_ms);
/* A finished call (its DONE action in *done) or NULL when none is ready.
 * The call is removed from m; the caller frees it. */
SINCH_BATCH_API sinch_batch_call *sinch_batch_curl_multi_done(sinch_batch_curl_multi *m,
                                                              sinch_batch_action *done,
                                                              void **userdata);
/* The longest wait (ms from now) a call in m is in, 0 when none waits: a
 * 429/503 Retry-After or a backoff.  Lets a caller pause starting new calls
 * while the server asked for a pause (a campaign slows down as a whole). */
SINCH_BATCH_API long sinch_batch_curl_multi_waiting_ms(const sinch_batch_curl_multi *m);

/* ------------------------------------------------------- CSV from a file */

/* Opens path and reads the header: the core's CSV reader (sinch_batch.h)
 * pulling from the file, 64 KiB at a time, through opts.read.  NULL on
 * error (err filled: kind INVALID for an unreadable file, an empty file or
 * a header that does not fit the options).  o may be NULL; its read fields
 * are ignored.  Close it with sinch_batch_csv_close. */
SINCH_BATCH_API sinch_batch_csv *sinch_batch_csv_open(const char *path,
                                                      const sinch_batch_csv_opts *o,
                                                      sinch_batch_error *err);

#ifdef __cplusplus
}
#endif

#endif /* SINCH_BATCH_CURL_H */
