/* csv.c -- the CSV reader, bytes in: libcsv does the RFC 4180 parsing;
 * this file hands it the bytes it is fed (or pulls through the caller's
 * read callback: the core does no I/O), skips a BOM, counts physical lines
 * so every record knows where it starts, and queues the parsed records
 * (field bytes in one buffer).  A record can span feeds: consumed records
 * are dropped before new bytes are parsed, the rest stays queued.  Rows
 * come out of csvrows.c.
 *
 * Most lines of a contact list are plain: no quote, no CR but a final one,
 * short.  Between records such lines are split here (fast_lines) with the
 * very result libcsv gives -- fields cut at the delimiter, spaces and tabs
 * trimmed, a blank line no record, the same line events -- and anything
 * else (a quote, a lone CR, a long line, a record libcsv has begun) goes to
 * libcsv up to the next LF.  spec/c/test_csv.c and fuzz/fuzz_csvfast.c
 * check both paths give the same records, lines and errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvread.h"

/* libcsv's parser state "inside a field" (libcsv.c; its csv_fini reports an
 * unclosed quote only in strict mode, which would also reject stray quotes). */
#define LIBCSV_FIELD_BEGUN 2
#define LIBCSV_ROW_NOT_BEGUN 0

static const char BOM[] = "\xEF\xBB\xBF";

int sb_csv_grow(void **p, size_t *cap, size_t need, size_t elem) {
    size_t cap2;
    void *q;
    if (need <= *cap) return 0;
    cap2 = *cap ? *cap : 64;
    while (cap2 < need) cap2 *= 2;
    q = realloc(*p, cap2 * elem);
    if (q == NULL) return -1;
    *p = q;
    *cap = cap2;
    return 0;
}

void sb_csv_upcase(char *s, size_t n) {
    size_t i;
    for (i = 0; i < n; i++)
        if (s[i] >= 'a' && s[i] <= 'z') s[i] = (char)(s[i] - 'a' + 'A');
}

/* Line breaks inside a (quoted) field: LF, CRLF or a lone CR each count one. */
static size_t count_breaks(const char *s, size_t n) {
    size_t k = 0, i;
    if (memchr(s, '\n', n) == NULL && memchr(s, '\r', n) == NULL) return 0;
    for (i = 0; i < n; i++) {
        if (s[i] == '\n')
            k++;
        else if (s[i] == '\r' && (i + 1 == n || s[i + 1] != '\n'))
            k++;
    }
    return k;
}

/* ---------------------------------------------------------- callbacks */

static void on_field(void *s, size_t len, void *data) {
    sinch_batch_csv *r = data;
    sb_csv_field *fl;
    if (r->cb_nomem) return;
    if (sb_csv_grow((void **)&r->fields, &r->capf, r->nf + 1, sizeof *r->fields) != 0 ||
        sb_buf_grow(&r->data, len + 1) != 0) {
        r->cb_nomem = 1;
        return;
    }
    fl = &r->fields[r->nf++];
    fl->off = r->data.len;
    fl->len = len;
    if (len) memcpy(r->data.data + r->data.len, s, len);
    r->data.len += len + 1;
    r->data.data[r->data.len - 1] = '\0';
    r->data.data[r->data.len] = '\0';
    r->line += count_breaks(s, len);
    r->after_cr = 0;
}

/* c is the CR or LF that ended a line (libcsv reports every one with
 * CSV_REPALL_NL), or -1 at the end of the input. */
static void on_record(int c, void *data) {
    sinch_batch_csv *r = data;
    size_t n = r->nf - r->cur_first;
    if (r->cb_nomem) return;
    if (n > 0) {
        sb_csv_record *rec;
        if (sb_csv_grow((void **)&r->recs, &r->caprec, r->nrec + 1, sizeof *r->recs) != 0) {
            r->cb_nomem = 1;
            return;
        }
        rec = &r->recs[r->nrec++];
        rec->line = r->rec_line;
        rec->first = r->cur_first;
        rec->n = n;
        r->cur_first = r->nf;
    }
    if (c == '\n' && r->after_cr && n == 0) {
        r->after_cr = 0; /* the LF of a CRLF */
    } else if (c >= 0) {
        r->line++;
        r->after_cr = c == '\r';
    }
    r->rec_line = r->line;
}

/* ------------------------------------------------------------ feeding */

/* Drop the consumed records; keep the queued ones and the one in progress. */
static void compact(sinch_batch_csv *r) {
    size_t from = r->rec_pos < r->nrec ? r->recs[r->rec_pos].first : r->cur_first;
    size_t keep = r->nf - from, i, base;
    if (from == 0) return;
    if (keep == 0) {
        sb_buf_clear(&r->data);
    } else {
        base = r->fields[from].off;
        memmove(r->data.data, r->data.data + base, r->data.len - base);
        r->data.len -= base;
        r->data.data[r->data.len] = '\0';
        for (i = 0; i < keep; i++) {
            r->fields[i] = r->fields[from + i];
            r->fields[i].off -= base;
        }
    }
    r->nf = keep;
    for (i = r->rec_pos; i < r->nrec; i++) {
        r->recs[i - r->rec_pos] = r->recs[i];
        r->recs[i - r->rec_pos].first -= from;
    }
    r->nrec -= r->rec_pos;
    r->rec_pos = 0;
    r->cur_first -= from;
}

static int check_limits(sinch_batch_csv *r) {
    if (r->cb_nomem) return sb_error_nomem(&r->err, "csv");
    if (r->parser_live && csv_get_buffer_size(&r->parser) > SB_CSV_MAX_FIELD) {
        sb_error_set(&r->err, SINCH_BATCH_ERROR_INVALID,
                     "line %zu: a field is longer than %d bytes (a quote left open?)",
                     r->rec_line, SB_CSV_MAX_FIELD);
        return SINCH_BATCH_ERR;
    }
    if (r->nf - r->cur_first > SB_CSV_MAX_FIELDS) {
        sb_error_set(&r->err, SINCH_BATCH_ERROR_INVALID,
                     "line %zu: a row has more than %d fields", r->rec_line, SB_CSV_MAX_FIELDS);
        return SINCH_BATCH_ERR;
    }
    return SINCH_BATCH_OK;
}

static int is_blank(unsigned char c) { return c == ' ' || c == '\t'; }

/* One plain line [s, stop) split into fields, as libcsv would: 0, or -1
 * when a byte needs libcsv (nothing kept then).  The line is copied once
 * and cut in place: each delimiter (or the first trailing blank) becomes
 * the field's NUL.  Room is reserved. */
static int split_line(sinch_batch_csv *r, const unsigned char *s, const unsigned char *stop) {
    size_t n = (size_t)(stop - s), nf0 = r->nf;
    unsigned char d = r->delim, *o, *q, *end, *a, *b;
    while (s < stop && is_blank(*s)) s++, n--;
    if (n == 0) return 0; /* blank: a line event, no record */
    o = (unsigned char *)r->data.data + r->data.len;
    memcpy(o, s, n);
    o[n] = '\0';
    end = o + n;
    for (q = o;;) {
        sb_csv_field *fl;
        /* r->stop[]: the delimiter, '"', CR and NUL; the NUL at end stops too */
        for (a = q; !r->stop[*q]; q++) continue;
        if (*q != d && q != end) {
            r->nf = nf0;
            r->data.data[r->data.len] = '\0';
            return -1;
        }
        for (b = q; b > a && is_blank(b[-1]); b--) continue;
        while (a < b && is_blank(*a)) a++;
        *b = '\0';
        fl = &r->fields[r->nf++];
        fl->off = (size_t)((char *)a - r->data.data);
        fl->len = (size_t)(b - a);
        if (q == end) break;
        q++;
    }
    r->data.len += n + 1;
    r->data.data[r->data.len] = '\0';
    r->after_cr = 0;
    return 0;
}

/* Whole plain lines from p, while libcsv is between records: returns the
 * bytes taken (each line with its LF). */
static size_t fast_lines(sinch_batch_csv *r, const char *p, size_t n) {
    const unsigned char *s = (const unsigned char *)p, *end = s + n;
    while (s < end) {
        const unsigned char *nl = memchr(s, '\n', (size_t)(end - s)), *stop;
        size_t len;
        int cr;
        if (nl == NULL || (len = (size_t)(nl - s)) > SB_CSV_FAST_LINE) break;
        cr = len > 0 && nl[-1] == '\r';
        stop = nl - cr;
        if (sb_csv_grow((void **)&r->fields, &r->capf, r->nf + len + 1, sizeof *r->fields) != 0 ||
            sb_buf_grow(&r->data, 2 * len + 2) != 0) {
            r->cb_nomem = 1;
            break;
        }
        if (split_line(r, s, stop) != 0) break;
        on_record(cr ? '\r' : '\n', r);
        if (cr) on_record('\n', r);
        s = nl + 1;
    }
    return (size_t)((const char *)s - p);
}

static int parse(sinch_batch_csv *r, const char *p, size_t n) {
    while (n > 0) {
        const char *nl;
        size_t k;
        if (r->fast && r->parser.pstate == LIBCSV_ROW_NOT_BEGUN) {
            k = fast_lines(r, p, n);
            p += k;
            n -= k;
            if (r->cb_nomem || n == 0) break;
        }
        /* libcsv, through the next LF (all of it when fast is off) */
        nl = r->fast ? memchr(p, '\n', n) : NULL;
        k = nl ? (size_t)(nl - p) + 1 : n;
        if (csv_parse(&r->parser, p, k, on_field, on_record, r) != k) {
            if (r->cb_nomem || csv_error(&r->parser) == CSV_ENOMEM)
                return sb_error_nomem(&r->err, "csv");
            sb_error_set(&r->err, SINCH_BATCH_ERROR_INVALID, "line %zu: %s", r->line,
                         csv_strerror(csv_error(&r->parser)));
            return SINCH_BATCH_ERR;
        }
        p += k;
        n -= k;
    }
    return check_limits(r);
}

void sb_csv_set_fast(sinch_batch_csv *r, int on) {
    if (r == NULL) return;
    /* a space or tab delimiter is also libcsv's trimmed blank: libcsv only */
    r->fast = on && !is_blank(r->delim) && r->delim != '"' && r->delim != '\r' &&
              r->delim != '\n' && r->delim != '\0';
    memset(r->stop, 0, sizeof r->stop);
    r->stop[r->delim] = r->stop['"'] = r->stop['\r'] = r->stop['\0'] = 1;
}

int sinch_batch_csv_feed(sinch_batch_csv *r, const char *p, size_t n) {
    if (r == NULL || (p == NULL && n > 0)) return SINCH_BATCH_ERR;
    if (r->err.kind != SINCH_BATCH_ERROR_NONE) return SINCH_BATCH_ERR;
    if (r->finished) {
        sb_error_set(&r->err, SINCH_BATCH_ERROR_INVALID, "csv: bytes fed after finish");
        return SINCH_BATCH_ERR;
    }
    compact(r);
    while (n > 0 && r->bom < 3) { /* a BOM may arrive split across feeds */
        if (*p == BOM[r->bom]) {
            r->bom++;
            p++;
            n--;
            continue;
        }
        {
            size_t k = (size_t)r->bom; /* what matched was data after all */
            int rc;
            r->bom = 4;
            if (k && (rc = parse(r, BOM, k)) != SINCH_BATCH_OK) return rc;
        }
    }
    if (r->bom == 3) r->bom = 4;
    return n ? parse(r, p, n) : SINCH_BATCH_OK;
}

int sinch_batch_csv_finish(sinch_batch_csv *r) {
    int rc;
    if (r == NULL) return SINCH_BATCH_ERR;
    if (r->err.kind != SINCH_BATCH_ERROR_NONE) return SINCH_BATCH_ERR;
    if (r->finished) return SINCH_BATCH_OK;
    compact(r);
    if (r->bom > 0 && r->bom < 3 && (rc = parse(r, BOM, (size_t)r->bom)) != SINCH_BATCH_OK)
        return rc;
    r->bom = 4;
    r->finished = 1;
    if (r->parser.quoted && r->parser.pstate == LIBCSV_FIELD_BEGUN) {
        /* the last quoted field never closed: it swallowed the rest */
        csv_free(&r->parser);
        r->parser_live = 0;
        r->nf = r->cur_first;
        return sb_csv_add_bad(r, r->rec_line,
                              "a quoted field is not closed before the end of the file");
    }
    csv_fini(&r->parser, on_field, on_record, r);
    return check_limits(r);
}

/* Pull one block from the read callback. */
static int pull(sinch_batch_csv *r) {
    char why[200];
    long got;
    why[0] = '\0';
    got = r->read(r->read_ctx, r->block, SB_CSV_BLOCK, why, sizeof why);
    if (got < 0 || (size_t)got > SB_CSV_BLOCK) {
        why[sizeof why - 1] = '\0';
        sb_error_set(&r->err, SINCH_BATCH_ERROR_INVALID, "line %zu: read error: %s", r->line,
                     why[0] ? why : "the source failed");
        return SINCH_BATCH_ERR;
    }
    return got == 0 ? sinch_batch_csv_finish(r) : sinch_batch_csv_feed(r, r->block, (size_t)got);
}

int sb_csv_next_record(sinch_batch_csv *r, const sb_csv_record **out) {
    int rc;
    while (r->rec_pos == r->nrec) {
        if (r->finished) return 0;
        if (r->read == NULL) return SINCH_BATCH_CSV_MORE;
        if ((rc = pull(r)) != SINCH_BATCH_OK) return rc;
    }
    *out = &r->recs[r->rec_pos++];
    return 1;
}

const char *sb_csv_field_at(const sinch_batch_csv *r, const sb_csv_record *rec, size_t col,
                            size_t *len) {
    const sb_csv_field *fl = &r->fields[rec->first + col];
    *len = fl->len;
    return r->data.data + fl->off;
}

/* ----------------------------------------------------------- bad rows */

int sb_csv_add_bad(sinch_batch_csv *r, size_t line, const char *fmt, ...) {
    va_list ap;
    char msg[256];
    sb_csv_bad *b;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (sb_csv_grow((void **)&r->bad, &r->capbad, r->nbad + 1, sizeof *r->bad) != 0)
        return sb_error_nomem(&r->err, "csv");
    b = &r->bad[r->nbad];
    b->line = line;
    b->reason = r->reasons.len;
    if (sb_buf_append(&r->reasons, msg, strlen(msg) + 1) != 0)
        return sb_error_nomem(&r->err, "csv");
    r->nbad++;
    return SINCH_BATCH_OK;
}

size_t sinch_batch_csv_bad_count(const sinch_batch_csv *r) { return r ? r->nbad : 0; }

int sinch_batch_csv_bad_row(const sinch_batch_csv *r, size_t i, size_t *line,
                            const char **reason) {
    if (r == NULL || i >= r->nbad) return SINCH_BATCH_ERR;
    if (line) *line = r->bad[i].line;
    if (reason) *reason = r->reasons.data + r->bad[i].reason;
    return SINCH_BATCH_OK;
}

/* ------------------------------------------------------------- life */

void sinch_batch_csv_opts_init(sinch_batch_csv_opts *o) {
    if (o == NULL) return;
    memset(o, 0, sizeof *o);
    o->check_e164 = 1;
    o->delimiter = ',';
}

static int copy_opt(sinch_batch_csv *r, char **dst, const char *src) {
    if (src == NULL) return 0;
    if ((*dst = sb_strdup(src)) == NULL) return sb_error_nomem(&r->err, "csv");
    return 0;
}

sinch_batch_csv *sinch_batch_csv_new(const sinch_batch_csv_opts *o, sinch_batch_error *err) {
    sinch_batch_csv_opts defaults;
    sinch_batch_csv *r;
    size_t i;
    sb_error_clear(err);
    if (o == NULL) {
        sinch_batch_csv_opts_init(&defaults);
        o = &defaults;
    }
    if ((r = calloc(1, sizeof *r)) == NULL) {
        if (o->read_close) o->read_close(o->read_ctx);
        sb_error_nomem(err, "csv");
        return NULL;
    }
    r->read = o->read;
    r->read_ctx = o->read_ctx;
    r->read_close = o->read_close;
    sb_buf_init(&r->data);
    sb_buf_init(&r->reasons);
    sb_buf_init(&r->seen_keys);
    r->line = r->rec_line = 1;
    r->check_phone = o->check_e164;
    r->dedupe = o->dedupe;
    r->channels = o->channels;
    r->col_channel = r->col_identity = r->col_contact = r->col_app_id = -1;
    if (o->channel && o->channel[0] == '\0') {
        sb_error_set(&r->err, SINCH_BATCH_ERROR_INVALID, "channel: must not be empty");
        goto fail;
    }
    if (copy_opt(r, &r->channel, o->channel) || copy_opt(r, &r->opt_channel_column, o->channel_column) ||
        copy_opt(r, &r->opt_identity_column, o->identity_column) ||
        copy_opt(r, &r->opt_contact_column, o->contact_column) ||
        copy_opt(r, &r->opt_app_id_column, o->app_id_column))
        goto fail;
    if (r->channel) sb_csv_upcase(r->channel, strlen(r->channel));
    if (o->params) {
        r->opt_params_given = 1;
        if ((r->opt_params = calloc(o->n_params + 1, sizeof *r->opt_params)) == NULL) {
            sb_error_nomem(&r->err, "csv");
            goto fail;
        }
        r->opt_nparams = o->n_params;
        for (i = 0; i < o->n_params; i++)
            if (copy_opt(r, &r->opt_params[i], o->params[i])) goto fail;
    }
    if (r->read && (r->block = malloc(SB_CSV_BLOCK)) == NULL) {
        sb_error_nomem(&r->err, "csv");
        goto fail;
    }
    if (csv_init(&r->parser, CSV_APPEND_NULL | CSV_REPALL_NL) != 0) {
        sb_error_nomem(&r->err, "csv");
        goto fail;
    }
    r->parser_live = 1;
    if (o->delimiter) csv_set_delim(&r->parser, (unsigned char)o->delimiter);
    r->delim = o->delimiter ? (unsigned char)o->delimiter : ',';
    sb_csv_set_fast(r, 1);
    return r;

fail:
    if (err) *err = r->err;
    sinch_batch_csv_close(r);
    return NULL;
}

void sinch_batch_csv_close(sinch_batch_csv *r) {
    size_t i;
    if (r == NULL) return;
    if (r->read_close) r->read_close(r->read_ctx);
    if (r->parser_live) csv_free(&r->parser);
    free(r->block);
    sb_buf_free(&r->data);
    free(r->fields);
    free(r->recs);
    free(r->channel);
    free(r->opt_channel_column);
    free(r->opt_identity_column);
    free(r->opt_contact_column);
    free(r->opt_app_id_column);
    if (r->opt_params)
        for (i = 0; i < r->opt_nparams; i++) free(r->opt_params[i]);
    free(r->opt_params);
    sb_csv_rows_free(r);
    free(r->bad);
    sb_buf_free(&r->reasons);
    free(r);
}

const sinch_batch_error *sinch_batch_csv_error(const sinch_batch_csv *r) {
    return r ? &r->err : NULL;
}
