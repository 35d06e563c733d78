/* easy.c -- the blocking libcurl driver: runs one call to completion on one
 * easy handle that is reused across calls (keep-alive), sleeping through the
 * core's WAITs. */
#define _POSIX_C_SOURCE 200809L
#include "driver.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sinch_batch_curl {
    sb_curl_cfg cfg;
    sb_xfer x;
};

sinch_batch_curl *sinch_batch_curl_new(const sinch_batch_curl_opts *opts,
                                       sinch_batch_error *err) {
    sinch_batch_curl *d;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        sb_curl_set_error(err, SINCH_BATCH_ERROR_INTERNAL, "curl: global initialisation failed");
        return NULL;
    }
    d = calloc(1, sizeof *d);
    if (d == NULL || sb_curl_cfg_init(&d->cfg, opts) != 0 || sb_xfer_init(&d->x) != 0) {
        if (d) {
            sb_xfer_free(&d->x);
            sb_curl_cfg_free(&d->cfg);
            free(d);
        }
        curl_global_cleanup();
        sb_curl_set_error(err, SINCH_BATCH_ERROR_INTERNAL, "curl: out of memory creating the driver");
        return NULL;
    }
    if (err) memset(err, 0, sizeof *err);
    return d;
}

void sinch_batch_curl_free(sinch_batch_curl *d) {
    if (d == NULL) return;
    sb_xfer_free(&d->x);
    sb_curl_cfg_free(&d->cfg);
    free(d);
    curl_global_cleanup();
}

static void sleep_ms(long ms) {
    struct timespec ts;
    if (ms <= 0) return;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int sinch_batch_curl_perform(sinch_batch_curl *d, sinch_batch_call *call,
                             sinch_batch_action *done) {
    sinch_batch_action a, local;
    if (done == NULL) done = &local;
    if (d == NULL || call == NULL) {
        memset(done, 0, sizeof *done);
        return SINCH_BATCH_ERR;
    }
    for (;;) {
        if (sinch_batch_call_next(call, sb_curl_now_ms(), &a) != SINCH_BATCH_OK) {
            sb_curl_done_from_error(call, done);
            return SINCH_BATCH_ERR;
        }
        switch (a.kind) {
        case SINCH_BATCH_PERFORM: {
            CURLcode rc = sb_xfer_setup(&d->x, &d->cfg, &a);
            if (rc == CURLE_OK) rc = curl_easy_perform(d->x.easy);
            /* a refused feed leaves the call with an error; next() says so */
            (void)sb_xfer_feed(&d->x, call, rc, &a);
            break;
        }
        case SINCH_BATCH_WAIT:
            sleep_ms(a.wait_ms);
            break;
        case SINCH_BATCH_DONE:
            *done = a;
            return a.error == NULL ? SINCH_BATCH_OK : SINCH_BATCH_ERR;
        default:
            sb_curl_done_from_error(call, done);
            return SINCH_BATCH_ERR;
        }
    }
}

long sb_curl_connections_opened(const sinch_batch_curl *d) {
    return d ? d->x.connects : 0;
}

static char version[64];
static pthread_once_t version_once = PTHREAD_ONCE_INIT;

static void make_version(void) {
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    snprintf(version, sizeof version, "libcurl/%s", v && v->version ? v->version : "unknown");
}

const char *sinch_batch_curl_version(void) {
    pthread_once(&version_once, make_version);
    return version;
}
