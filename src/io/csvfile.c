/* src/io/csvfile.c -- sinch_batch_csv_open (sinch_batch_curl.h): the CSV reader of the core fed from a
 * file.  The core does no I/O; this is the read callback it pulls through
 * (stdio only: no libcurl here, so the Lua module sinch.batch.core, which
 * must not link libcurl, compiles this file too). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sinch_batch_curl.h"

static long read_file(void *ctx, char *buf, size_t cap, char *why, size_t whysz) {
    FILE *f = ctx;
    size_t n = fread(buf, 1, cap, f);
    if (n == 0 && ferror(f)) {
        snprintf(why, whysz, "%s", strerror(errno));
        return -1;
    }
    return (long)n;
}

static void close_file(void *ctx) { fclose(ctx); }

sinch_batch_csv *sinch_batch_csv_open(const char *path, const sinch_batch_csv_opts *o,
                                      sinch_batch_error *err) {
    sinch_batch_csv_opts opts;
    sinch_batch_csv *r;
    FILE *f;
    int rc;
    if (o)
        opts = *o;
    else
        sinch_batch_csv_opts_init(&opts);
    if (err) memset(err, 0, sizeof *err);
    if (path == NULL) {
        if (err) {
            err->kind = SINCH_BATCH_ERROR_INVALID;
            snprintf(err->message, sizeof err->message, "path: a file name is required");
        }
        return NULL;
    }
    if ((f = fopen(path, "rb")) == NULL) {
        if (err) {
            err->kind = SINCH_BATCH_ERROR_INVALID;
            snprintf(err->message, sizeof err->message, "%.300s: %s", path, strerror(errno));
        }
        return NULL;
    }
    opts.read = read_file;
    opts.read_ctx = f;
    opts.read_close = close_file;
    if ((r = sinch_batch_csv_new(&opts, err)) == NULL) return NULL; /* f closed */
    if ((rc = sinch_batch_csv_header(r)) != SINCH_BATCH_OK) {
        if (err) *err = *sinch_batch_csv_error(r);
        sinch_batch_csv_close(r);
        return NULL;
    }
    return r;
}
