/* csvrows.c -- the CSV reader, records out: the header's mapping (which
 * column is the channel, the identity, the contact, the app id, the
 * parameters), each row's checks (the phone rule and the channel table of
 * rules.c), the dedupe set, and the rows handed out by next() or filled
 * straight into a builder.  Bytes come in through csv.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "builder_int.h"
#include "csvread.h"

/* ------------------------------------------------------------- dedupe */

static uint64_t hash_bytes(const char *a, size_t alen, const char *b, size_t blen) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    size_t i;
    for (i = 0; i < alen; i++) h = (h ^ (unsigned char)a[i]) * 1099511628211ULL;
    h = (h ^ 0xffu) * 1099511628211ULL;
    for (i = 0; i < blen; i++) h = (h ^ (unsigned char)b[i]) * 1099511628211ULL;
    return h;
}

/* 0 when the key is new (and now remembered), the line where it was seen
 * first, or (size_t)-1 on ENOMEM.  The key is a\0b. */
static size_t seen_check(sinch_batch_csv *r, const char *a, size_t alen, const char *b,
                         size_t blen, size_t line) {
    uint64_t h = hash_bytes(a, alen, b, blen);
    size_t mask, i, klen = alen + 1 + blen;
    sb_csv_seen *s;
    if ((r->seen_n + 1) * 10 > r->seen_cap * 7) {
        size_t cap = r->seen_cap ? r->seen_cap * 2 : 1024, j;
        sb_csv_seen *t = calloc(cap, sizeof *t);
        if (t == NULL) return (size_t)-1;
        for (j = 0; j < r->seen_cap; j++) {
            if (r->seen[j].line == 0) continue;
            i = (size_t)r->seen[j].hash & (cap - 1);
            while (t[i].line != 0) i = (i + 1) & (cap - 1);
            t[i] = r->seen[j];
        }
        free(r->seen);
        r->seen = t;
        r->seen_cap = cap;
    }
    mask = r->seen_cap - 1;
    for (i = (size_t)h & mask; r->seen[i].line != 0; i = (i + 1) & mask) {
        s = &r->seen[i];
        if (s->hash == h && s->len == klen) {
            const char *k = r->seen_keys.data + s->key;
            if (memcmp(k, a, alen) == 0 && k[alen] == '\0' && memcmp(k + alen + 1, b, blen) == 0)
                return s->line;
        }
    }
    s = &r->seen[i];
    s->hash = h;
    s->key = r->seen_keys.len;
    s->len = klen;
    if (sb_buf_append(&r->seen_keys, a, alen) != 0 || sb_buf_putc(&r->seen_keys, '\0') != 0 ||
        sb_buf_append(&r->seen_keys, b, blen) != 0)
        return (size_t)-1;
    s->line = line;
    r->seen_n++;
    return 0;
}

/* ------------------------------------------------------------- checks */

/* A phone channel of the reader's table (the built-in one by default). */
static int is_phone_channel(const sinch_batch_csv *r, const char *ch) {
    const sinch_batch_channel *c = sinch_batch_channel_find(r->channels, ch, strlen(ch));
    return c != NULL && (c->flags & SINCH_BATCH_CHANNEL_PHONE) != 0;
}

/* 0 when s is valid UTF-8, else the 1-based offset of the first bad byte. */
static size_t bad_utf8(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, k, need;
    unsigned c;
    while (i + 8 <= n) { /* ASCII, a word at a time */
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & 0x8080808080808080ULL) break;
        i += 8;
    }
    while (i < n) {
        c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            need = 1;
        else if (c >= 0xE0 && c <= 0xEF)
            need = 2;
        else if (c >= 0xF0 && c <= 0xF4)
            need = 3;
        else
            return i + 1;
        if (i + need >= n) return i + 1;
        for (k = 1; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80) return i + k + 1;
        if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] > 0x9F) ||
            (c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] > 0x8F))
            return i + 2;
        i += need + 1;
    }
    return 0;
}

/* ------------------------------------------------------------ the rows */

int sinch_batch_csv_next(sinch_batch_csv *r, sinch_batch_csv_row *row) {
    const sb_csv_record *rec;
    int rc;
    if (r == NULL || row == NULL) return SINCH_BATCH_ERR;
    if (r->err.kind != SINCH_BATCH_ERROR_NONE) return SINCH_BATCH_ERR;
    for (;;) {
        const char *channel = r->channel, *identity = NULL, *contact = NULL, *app_id = NULL;
        size_t identity_len = 0, contact_len = 0, len, i, first;
        if (!r->header_done && (rc = sinch_batch_csv_header(r)) != SINCH_BATCH_OK) return rc;
        if ((rc = sb_csv_next_record(r, &rec)) != 1) return rc;
        memset(row, 0, sizeof *row);
        r->row_phone_checked = 0;
        if (rec->n != r->ncols) {
            rc = sb_csv_add_bad(r, rec->line, "the row has %zu field%s, the header has %zu", rec->n,
                         rec->n == 1 ? "" : "s", r->ncols);
            if (rc != SINCH_BATCH_OK) return rc;
            continue;
        }
        for (i = 0, len = 0; i < r->nused && len == 0; i++) {
            const sb_csv_field *fl = &r->fields[rec->first + r->used_col[i]];
            len = bad_utf8(r->data.data + fl->off, fl->len);
        }
        if (len) {
            rc = sb_csv_add_bad(r, rec->line, "%s: not valid UTF-8 (byte %zu)",
                         r->cols[r->used_col[i - 1]], len);
            if (rc != SINCH_BATCH_OK) return rc;
            continue;
        }
        if (r->col_contact >= 0) contact = sb_csv_field_at(r, rec, (size_t)r->col_contact, &contact_len);
        if (contact_len == 0) {
            contact = NULL;
            if (r->col_identity < 0) {
                if ((rc = sb_csv_add_bad(r, rec->line, "contact_id: is empty")) != SINCH_BATCH_OK)
                    return rc;
                continue;
            }
            identity = sb_csv_field_at(r, rec, (size_t)r->col_identity, &identity_len);
            if (identity_len == 0) {
                if ((rc = sb_csv_add_bad(r, rec->line, "identity: is empty")) != SINCH_BATCH_OK)
                    return rc;
                continue;
            }
            if (channel == NULL) {
                channel = sb_csv_field_at(r, rec, (size_t)r->col_channel, &len);
                if (len == 0) {
                    if ((rc = sb_csv_add_bad(r, rec->line, "channel: is empty")) != SINCH_BATCH_OK)
                        return rc;
                    continue;
                }
                if (memchr(channel, '\0', len)) { /* rows carry it as a C string */
                    if ((rc = sb_csv_add_bad(r, rec->line, "channel: contains a NUL byte")) !=
                        SINCH_BATCH_OK)
                        return rc;
                    continue;
                }
                sb_csv_upcase((char *)channel, len);
            }
            if (r->col_app_id >= 0) {
                app_id = sb_csv_field_at(r, rec, (size_t)r->col_app_id, &len);
                if (len == 0) app_id = NULL;
                if (app_id && memchr(app_id, '\0', len)) {
                    if ((rc = sb_csv_add_bad(r, rec->line, "app_id: contains a NUL byte")) !=
                        SINCH_BATCH_OK)
                        return rc;
                    continue;
                }
            }
            /* no app_id check: the API docs do not require one on a
             * recipient, so a row without it is sent as it is */
            r->row_phone_checked = r->check_phone &&
                (channel == r->channel ? r->channel_phone : is_phone_channel(r, channel));
            if (r->row_phone_checked && !sinch_batch_phone_ok(identity, identity_len)) {
                rc = sb_csv_add_bad(r, rec->line,
                                    "identity: not a phone number (an optional \"+\", then "
                                    "digits) for channel %s",
                                    channel);
                if (rc != SINCH_BATCH_OK) return rc;
                continue;
            }
            if (r->row_phone_checked && r->check_phone == 2 &&
                !sinch_batch_phone_e164(identity, identity_len)) {
                rc = sb_csv_add_bad(r, rec->line,
                                    "identity: not in E.164 shape (an optional \"+\", then 7 "
                                    "to 15 digits, the first not 0; our check) for channel %s",
                                    channel);
                if (rc != SINCH_BATCH_OK) return rc;
                continue;
            }
        }
        if (r->dedupe) {
            size_t seen = contact ? seen_check(r, "", 0, contact, contact_len, rec->line)
                                  : seen_check(r, channel, strlen(channel), identity,
                                               identity_len, rec->line);
            if (seen == (size_t)-1) return sb_error_nomem(&r->err, "csv");
            if (seen != 0) {
                rc = sb_csv_add_bad(r, rec->line, "%s: duplicate of line %zu",
                             contact ? "contact_id" : "identity", seen);
                if (rc != SINCH_BATCH_OK) return rc;
                continue;
            }
        }
        row->line = rec->line;
        if (contact) {
            row->contact_id = contact;
            row->contact_id_len = contact_len;
        } else {
            row->channel = channel;
            row->identity = identity;
            row->identity_len = identity_len;
            row->app_id = app_id;
        }
        first = rec->first;
        for (i = 0; i < r->nparams; i++) {
            const sb_csv_field *fl = &r->fields[first + r->param_col[i]];
            r->param_values[i] = r->data.data + fl->off;
            r->param_lens[i] = fl->len;
        }
        row->n_params = r->nparams;
        row->param_names = r->param_names;
        row->param_values = r->param_values;
        row->param_lens = r->param_lens;
        return 1;
    }
}

/* Copy the builder's error (with the row's line) into the reader. */
static int builder_failed(sinch_batch_csv *r, const sinch_batch_builder *b, size_t line) {
    const sinch_batch_error *be = sinch_batch_builder_error(b);
    if (be && be->kind != SINCH_BATCH_ERROR_NONE) {
        r->err = *be;
        snprintf(r->err.message, sizeof r->err.message, "line %zu: %.480s", line,
                 be->message);
    } else {
        sb_error_set(&r->err, SINCH_BATCH_ERROR_INTERNAL, "line %zu: the builder failed",
                     line);
    }
    return SINCH_BATCH_ERR;
}

int sinch_batch_csv_fill(sinch_batch_csv *r, sinch_batch_builder *b, size_t max, size_t *rows,
                         size_t *n) {
    sinch_batch_csv_row row;
    size_t i;
    int rc;
    if (n) *n = 0;
    if (r == NULL || b == NULL || n == NULL || (rows == NULL && max > 0)) return SINCH_BATCH_ERR;
    while (*n < max) {
        if ((rc = sinch_batch_csv_next(r, &row)) != 1) return rc == 0 ? SINCH_BATCH_OK : rc;
        if (row.contact_id == NULL && row.app_id == NULL && b->state == S_OPEN &&
            b->count < b->max) {
            /* the common row: one call, the same checks and errors as the steps
             * (a full or busy builder takes the steps: begin() refuses it) */
            for (i = 0; i < row.n_params; i++) {
                r->row_params[i].value = row.param_values[i];
                r->row_params[i].value_len = row.param_lens[i];
            }
            rc = sb_builder_row(b, row.channel, row.identity, row.identity_len, r->row_params,
                                row.n_params, r->row_phone_checked);
        } else {
            if (sinch_batch_builder_begin(b) != SINCH_BATCH_OK)
                return builder_failed(r, b, row.line);
            if (row.contact_id)
                rc = sinch_batch_builder_contact(b, row.contact_id, row.contact_id_len);
            else
                rc = sinch_batch_builder_identity(b, row.channel, row.identity, row.identity_len,
                                                  row.app_id);
            for (i = 0; rc == SINCH_BATCH_OK && i < row.n_params; i++)
                rc = sinch_batch_builder_param(b, r->row_params[i].name, r->row_params[i].name_len,
                                               row.param_values[i], row.param_lens[i]);
            if (rc == SINCH_BATCH_OK) rc = sinch_batch_builder_end(b);
        }
        if (rc != SINCH_BATCH_OK) {
            /* the builder dropped the entry: a bad row, unless it is out of memory */
            const sinch_batch_error *be = sinch_batch_builder_error(b);
            if (be == NULL || be->kind != SINCH_BATCH_ERROR_INVALID)
                return builder_failed(r, b, row.line);
            if ((rc = sb_csv_add_bad(r, row.line, "%s", be->message)) != SINCH_BATCH_OK) return rc;
            continue;
        }
        rows[(*n)++] = row.line;
    }
    return SINCH_BATCH_OK;
}

static long find_column(const sinch_batch_csv *r, const char *name) {
    size_t i;
    for (i = 0; i < r->ncols; i++)
        if (strcasecmp(r->cols[i], name) == 0) return (long)i;
    return -1;
}

/* Map a column option: the named column (an error if it is missing) or,
 * when unnamed, the first default that is present (-1 when none). */
static int map_column(sinch_batch_csv *r, const char *given, const char *option,
                      const char *def1, const char *def2, long *col) {
    if (given) {
        if ((*col = find_column(r, given)) < 0) {
            sb_error_set(&r->err, SINCH_BATCH_ERROR_INVALID,
                         "%s: the header has no column \"%s\"", option, given);
            return SINCH_BATCH_ERR;
        }
        return SINCH_BATCH_OK;
    }
    *col = find_column(r, def1);
    if (*col < 0 && def2) *col = find_column(r, def2);
    return SINCH_BATCH_OK;
}

int sinch_batch_csv_header(sinch_batch_csv *r) {
    const sb_csv_record *rec;
    size_t i, j;
    int rc;
    if (r == NULL) return SINCH_BATCH_ERR;
    if (r->err.kind != SINCH_BATCH_ERROR_NONE) return SINCH_BATCH_ERR;
    if (r->header_done) return SINCH_BATCH_OK;
    if ((rc = sb_csv_next_record(r, &rec)) != 1) {
        if (rc != 0) return rc;
        sb_error_set(&r->err, SINCH_BATCH_ERROR_INVALID,
                     "header: the file is empty, the first row must name the columns");
        return SINCH_BATCH_ERR;
    }
    r->header_done = 1;
    r->ncols = rec->n;
    if ((r->cols = calloc(r->ncols, sizeof *r->cols)) == NULL)
        return sb_error_nomem(&r->err, "csv");
    for (i = 0; i < r->ncols; i++) {
        size_t len;
        const char *s = sb_csv_field_at(r, rec, i, &len);
        if ((r->cols[i] = sb_memdup(s, len)) == NULL) return sb_error_nomem(&r->err, "csv");
    }
    if (map_column(r, r->opt_channel_column, "channel_column", "channel", NULL, &r->col_channel) ||
        map_column(r, r->opt_identity_column, "identity_column", "identity", "phone",
                   &r->col_identity) ||
        map_column(r, r->opt_contact_column, "contact_column", "contact_id", NULL,
                   &r->col_contact) ||
        map_column(r, r->opt_app_id_column, "app_id_column", "app_id", NULL, &r->col_app_id))
        return SINCH_BATCH_ERR;
    if (r->col_identity < 0 && r->col_contact < 0) {
        sb_error_set(&r->err, SINCH_BATCH_ERROR_INVALID,
                     "header: no \"identity\", \"phone\" or \"contact_id\" column; name one "
                     "with identity_column or contact_column");
        return SINCH_BATCH_ERR;
    }
    if (r->col_identity >= 0 && r->channel == NULL && r->col_channel < 0) {
        sb_error_set(&r->err, SINCH_BATCH_ERROR_INVALID,
                     "header: no \"channel\" column; name one with channel_column or give a "
                     "fixed channel");
        return SINCH_BATCH_ERR;
    }
    if (r->channel) { /* a fixed channel wins: the column is a parameter */
        r->col_channel = -1;
        r->channel_phone = is_phone_channel(r, r->channel);
    }

    /* parameters */
    if ((r->param_col = calloc(r->ncols + 1, sizeof *r->param_col)) == NULL)
        return sb_error_nomem(&r->err, "csv");
    if (r->opt_params_given) {
        for (i = 0; i < r->opt_nparams; i++) {
            long c = r->opt_params[i] ? find_column(r, r->opt_params[i]) : -1;
            if (c < 0) {
                sb_error_set(&r->err, SINCH_BATCH_ERROR_INVALID,
                             "params[%zu]: the header has no column \"%s\"", i + 1,
                             r->opt_params[i] ? r->opt_params[i] : "(null)");
                return SINCH_BATCH_ERR;
            }
            for (j = 0; j < r->nparams; j++)
                if (r->param_col[j] == (size_t)c) break;
            if (j < r->nparams) continue;
            if (r->nparams == r->ncols) break;
            r->param_col[r->nparams++] = (size_t)c;
        }
    } else {
        for (i = 0; i < r->ncols; i++) {
            long c = (long)i;
            if (c == r->col_channel || c == r->col_identity || c == r->col_contact ||
                c == r->col_app_id || r->cols[i][0] == '\0')
                continue;
            r->param_col[r->nparams++] = i;
        }
    }
    for (i = 0; i < r->nparams; i++)
        for (j = 0; j < i; j++)
            if (strcmp(r->cols[r->param_col[i]], r->cols[r->param_col[j]]) == 0) {
                sb_error_set(&r->err, SINCH_BATCH_ERROR_INVALID,
                             "header: column %zu \"%s\" repeats column %zu",
                             r->param_col[i] + 1, r->cols[r->param_col[i]],
                             r->param_col[j] + 1);
                return SINCH_BATCH_ERR;
            }
    r->param_names = calloc(r->nparams + 1, sizeof *r->param_names);
    r->param_values = calloc(r->nparams + 1, sizeof *r->param_values);
    r->param_lens = calloc(r->nparams + 1, sizeof *r->param_lens);
    if (!r->param_names || !r->param_values || !r->param_lens)
        return sb_error_nomem(&r->err, "csv");
    for (i = 0; i < r->nparams; i++) r->param_names[i] = r->cols[r->param_col[i]];
    if ((r->row_params = calloc(r->nparams + 1, sizeof *r->row_params)) == NULL)
        return sb_error_nomem(&r->err, "csv");
    for (i = 0; i < r->nparams; i++) {
        r->row_params[i].name = r->param_names[i];
        r->row_params[i].name_len = strlen(r->param_names[i]);
    }
    if ((r->used_col = calloc(r->nparams + 4, sizeof *r->used_col)) == NULL)
        return sb_error_nomem(&r->err, "csv");
    if (r->col_contact >= 0) r->used_col[r->nused++] = (size_t)r->col_contact;
    if (r->col_channel >= 0) r->used_col[r->nused++] = (size_t)r->col_channel;
    if (r->col_identity >= 0) r->used_col[r->nused++] = (size_t)r->col_identity;
    if (r->col_app_id >= 0) r->used_col[r->nused++] = (size_t)r->col_app_id;
    for (i = 0; i < r->nparams; i++) r->used_col[r->nused++] = r->param_col[i];
    return SINCH_BATCH_OK;
}

void sb_csv_rows_free(sinch_batch_csv *r) {
    size_t i;
    if (r->cols)
        for (i = 0; i < r->ncols; i++) free(r->cols[i]);
    free(r->cols);
    free(r->param_col);
    free(r->used_col);
    free(r->param_names);
    free(r->param_values);
    free(r->param_lens);
    free(r->row_params);
    free(r->seen);
    sb_buf_free(&r->seen_keys);
}

size_t sinch_batch_csv_column_count(const sinch_batch_csv *r) { return r ? r->ncols : 0; }

const char *sinch_batch_csv_column_name(const sinch_batch_csv *r, size_t i) {
    return r && i < r->ncols ? r->cols[i] : NULL;
}

/* The parameter columns, once the header was read: none while the header is
 * unread or was refused (its names are only set when it was accepted). */
size_t sinch_batch_csv_param_count(const sinch_batch_csv *r) {
    return r && r->param_names ? r->nparams : 0;
}

const char *sinch_batch_csv_param_name(const sinch_batch_csv *r, size_t i) {
    return r && r->param_names && i < r->nparams ? r->param_names[i] : NULL;
}
