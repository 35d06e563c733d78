/* csv.c -- streaming CSV rows (libcsv) mapped to recipients, straight into
 * the batch builder.
 *
 * libcsv does the RFC 4180 parsing; this file feeds it the file 64 KiB at a
 * time, queues the records of one block (field bytes in one buffer), counts
 * physical lines so every record knows where it starts, maps the header's
 * columns and checks each row.  A record can span blocks: the fields of the
 * record in progress are moved to the front of the queue before the next
 * block is parsed.  Nothing holds more than one block's worth of records.
 */
#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core.h"

#define BLOCK_SIZE (64 * 1024)
#define MAX_FIELD_SIZE (16 * 1024 * 1024)
/* libcsv's parser state "inside a field" (libcsv.c; its csv_fini reports an
 * unclosed quote only in strict mode, which would also reject stray quotes). */
#define LIBCSV_FIELD_BEGUN 2

typedef struct record {
    size_t line;  /* where it starts */
    size_t first; /* index of its first field */
    size_t n;     /* number of fields */
} record;

typedef struct field {
    size_t off; /* into data; NUL-terminated there */
    size_t len;
} field;

typedef struct bad_row {
    size_t line;
    size_t reason; /* offset into reasons */
} bad_row;

typedef struct seen_slot {
    uint64_t hash;
    size_t key; /* offset into seen_keys */
    size_t len;
    size_t line; /* 0 = empty slot */
} seen_slot;

struct sinch_batch_csv {
    FILE *f;
    struct csv_parser parser;
    int parser_live;
    char *block;
    int bom_checked;
    int eof;
    int cb_nomem;
    sinch_batch_error err;

    /* line counting */
    size_t line;     /* physical line at the parse position */
    size_t rec_line; /* line where the record in progress starts */
    int after_cr;    /* the last event was a CR ending a line */

    /* the queue: fields of parsed records, then of the one in progress */
    sb_buf data;
    field *fields;
    size_t nf, capf;
    record *recs;
    size_t nrec, caprec, rec_pos;
    size_t cur_first; /* first field of the record in progress */

    /* header and mapping */
    size_t ncols;
    char **cols;
    long col_channel, col_identity, col_contact, col_app_id; /* -1 = none */
    char *channel;      /* fixed channel, upper-cased; NULL = column */
    size_t nparams;
    size_t *param_col;
    size_t nused;
    size_t *used_col; /* every column a row is read from (UTF-8 checked) */
    const char **param_names;
    const char **param_values;
    size_t *param_lens;
    int check_e164;
    int dedupe;

    /* bad rows */
    bad_row *bad;
    size_t nbad, capbad;
    sb_buf reasons;

    /* dedupe set: open addressing, keys in seen_keys */
    seen_slot *seen;
    size_t seen_cap, seen_n;
    sb_buf seen_keys;
};

/* ------------------------------------------------------------ helpers */

static int grow_array(void **p, size_t *cap, size_t need, size_t elem) {
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
    field *fl;
    if (r->cb_nomem) return;
    if (grow_array((void **)&r->fields, &r->capf, r->nf + 1, sizeof *r->fields) != 0 ||
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
 * CSV_REPALL_NL), or -1 at the end of the file. */
static void on_record(int c, void *data) {
    sinch_batch_csv *r = data;
    size_t n = r->nf - r->cur_first;
    if (r->cb_nomem) return;
    if (n > 0) {
        record *rec;
        if (grow_array((void **)&r->recs, &r->caprec, r->nrec + 1, sizeof *r->recs) != 0) {
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

/* ------------------------------------------------------------ reading */

static int add_bad(sinch_batch_csv *r, size_t line, const char *fmt, ...) SB_PRINTF(3, 4);

/* Drop the consumed records; keep the fields of the record in progress. */
static void compact(sinch_batch_csv *r) {
    size_t keep = r->nf - r->cur_first, i, base;
    if (keep == 0) {
        r->nf = 0;
        sb_buf_clear(&r->data);
    } else {
        base = r->fields[r->cur_first].off;
        memmove(r->data.data, r->data.data + base, r->data.len - base);
        r->data.len -= base;
        r->data.data[r->data.len] = '\0';
        for (i = 0; i < keep; i++) {
            r->fields[i] = r->fields[r->cur_first + i];
            r->fields[i].off -= base;
        }
        r->nf = keep;
    }
    r->cur_first = 0;
    r->nrec = r->rec_pos = 0;
}

static int feed(sinch_batch_csv *r) {
    size_t n = fread(r->block, 1, BLOCK_SIZE, r->f);
    const char *p = r->block;
    if (n == 0) {
        if (ferror(r->f)) {
            sb_error_set(&r->err, SINCH_BATCH_ERROR_INVALID, "line %zu: read error: %s",
                         r->line, strerror(errno));
            return SINCH_BATCH_ERR;
        }
        r->eof = 1;
        if (r->parser.quoted && r->parser.pstate == LIBCSV_FIELD_BEGUN) {
            /* the last quoted field never closed: it swallowed the rest */
            csv_free(&r->parser);
            r->parser_live = 0;
            r->nf = r->cur_first;
            if (add_bad(r, r->rec_line,
                        "a quoted field is not closed before the end of the file") !=
                SINCH_BATCH_OK)
                return SINCH_BATCH_ERR;
        } else {
            csv_fini(&r->parser, on_field, on_record, r);
        }
    } else {
        if (!r->bom_checked) {
            r->bom_checked = 1;
            if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
                p += 3;
                n -= 3;
            }
        }
        if (csv_parse(&r->parser, p, n, on_field, on_record, r) != n) {
            sb_error_set(&r->err, SINCH_BATCH_ERROR_INVALID, "line %zu: %s", r->line,
                         csv_strerror(csv_error(&r->parser)));
            return SINCH_BATCH_ERR;
        }
    }
    if (r->cb_nomem) return sb_error_nomem(&r->err, "csv");
    if (r->parser_live && csv_get_buffer_size(&r->parser) > MAX_FIELD_SIZE) {
        sb_error_set(&r->err, SINCH_BATCH_ERROR_INVALID,
                     "line %zu: a field is longer than %d bytes (a quote left open?)",
                     r->rec_line, MAX_FIELD_SIZE);
        return SINCH_BATCH_ERR;
    }
    return SINCH_BATCH_OK;
}

/* The next record: 1, 0 at the end, or a negative code. */
static int next_record(sinch_batch_csv *r, const record **out) {
    while (r->rec_pos == r->nrec) {
        int rc;
        if (r->eof) return 0;
        compact(r);
        if ((rc = feed(r)) != SINCH_BATCH_OK) return rc;
    }
    *out = &r->recs[r->rec_pos++];
    return 1;
}

static const char *field_at(sinch_batch_csv *r, const record *rec, long col, size_t *len) {
    const field *fl = &r->fields[rec->first + (size_t)col];
    *len = fl->len;
    return r->data.data + fl->off;
}

/* ----------------------------------------------------------- bad rows */

static int add_bad(sinch_batch_csv *r, size_t line, const char *fmt, ...) {
    va_list ap;
    char msg[256];
    bad_row *b;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (grow_array((void **)&r->bad, &r->capbad, r->nbad + 1, sizeof *r->bad) != 0)
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
    seen_slot *s;
    if ((r->seen_n + 1) * 10 > r->seen_cap * 7) {
        size_t cap = r->seen_cap ? r->seen_cap * 2 : 1024, j;
        seen_slot *t = calloc(cap, sizeof *t);
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

static int is_phone_channel(const char *ch) {
    static const char *const phone[] = {"SMS", "WHATSAPP", "RCS", "MMS", "VIBERBM", NULL};
    size_t i;
    for (i = 0; phone[i]; i++)
        if (strcmp(ch, phone[i]) == 0) return 1;
    return 0;
}

static int is_app_scoped(const char *ch) {
    static const char *const scoped[] = {"MESSENGER", "INSTAGRAM", "LINE", "WECHAT", NULL};
    size_t i;
    for (i = 0; scoped[i]; i++)
        if (strcmp(ch, scoped[i]) == 0) return 1;
    return 0;
}

/* "+" then 7 to 15 digits, the first not 0. */
static int is_e164(const char *s, size_t n) {
    size_t i;
    if (n < 8 || n > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9') return 0;
    for (i = 2; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

/* 0 when s is valid UTF-8, else the 1-based offset of the first bad byte. */
static size_t bad_utf8(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, k, need;
    unsigned c;
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

static void upcase(char *s, size_t n) {
    size_t i;
    for (i = 0; i < n; i++)
        if (s[i] >= 'a' && s[i] <= 'z') s[i] = (char)(s[i] - 'a' + 'A');
}

/* ------------------------------------------------------------ the rows */

int sinch_batch_csv_next(sinch_batch_csv *r, sinch_batch_csv_row *row) {
    const record *rec;
    int rc;
    if (r == NULL || row == NULL) return SINCH_BATCH_ERR;
    if (r->err.kind != SINCH_BATCH_ERROR_NONE) return SINCH_BATCH_ERR;
    for (;;) {
        const char *channel = r->channel, *identity = NULL, *contact = NULL, *app_id = NULL;
        size_t identity_len = 0, contact_len = 0, len, i, first;
        if ((rc = next_record(r, &rec)) <= 0) return rc;
        memset(row, 0, sizeof *row);
        if (rec->n != r->ncols) {
            rc = add_bad(r, rec->line, "the row has %zu field%s, the header has %zu", rec->n,
                         rec->n == 1 ? "" : "s", r->ncols);
            if (rc != SINCH_BATCH_OK) return rc;
            continue;
        }
        for (i = 0, len = 0; i < r->nused && len == 0; i++) {
            const field *fl = &r->fields[rec->first + r->used_col[i]];
            len = bad_utf8(r->data.data + fl->off, fl->len);
        }
        if (len) {
            rc = add_bad(r, rec->line, "%s: not valid UTF-8 (byte %zu)",
                         r->cols[r->used_col[i - 1]], len);
            if (rc != SINCH_BATCH_OK) return rc;
            continue;
        }
        if (r->col_contact >= 0) contact = field_at(r, rec, r->col_contact, &contact_len);
        if (contact_len == 0) {
            contact = NULL;
            if (r->col_identity < 0) {
                if ((rc = add_bad(r, rec->line, "contact_id: is empty")) != SINCH_BATCH_OK)
                    return rc;
                continue;
            }
            identity = field_at(r, rec, r->col_identity, &identity_len);
            if (identity_len == 0) {
                if ((rc = add_bad(r, rec->line, "identity: is empty")) != SINCH_BATCH_OK)
                    return rc;
                continue;
            }
            if (channel == NULL) {
                channel = field_at(r, rec, r->col_channel, &len);
                if (len == 0) {
                    if ((rc = add_bad(r, rec->line, "channel: is empty")) != SINCH_BATCH_OK)
                        return rc;
                    continue;
                }
                upcase((char *)channel, len);
            }
            if (r->col_app_id >= 0) {
                app_id = field_at(r, rec, r->col_app_id, &len);
                if (len == 0) app_id = NULL;
            }
            if (app_id == NULL && is_app_scoped(channel)) {
                rc = add_bad(r, rec->line, "app_id: channel %s needs an app_id", channel);
                if (rc != SINCH_BATCH_OK) return rc;
                continue;
            }
            if (r->check_e164 && is_phone_channel(channel) && !is_e164(identity, identity_len)) {
                rc = add_bad(r, rec->line,
                             "identity: not an E.164 number (\"+\" and 7 to 15 digits) for "
                             "channel %s",
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
                rc = add_bad(r, rec->line, "%s: duplicate of line %zu",
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
            const field *fl = &r->fields[first + r->param_col[i]];
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
        if ((rc = sinch_batch_csv_next(r, &row)) < 0) return rc;
        if (rc == 0) break;
        if (sinch_batch_builder_begin(b) != SINCH_BATCH_OK) return builder_failed(r, b, row.line);
        if (row.contact_id)
            rc = sinch_batch_builder_contact(b, row.contact_id, row.contact_id_len);
        else
            rc = sinch_batch_builder_identity(b, row.channel, row.identity, row.identity_len,
                                              row.app_id);
        for (i = 0; rc == SINCH_BATCH_OK && i < row.n_params; i++)
            rc = sinch_batch_builder_param(b, row.param_names[i], strlen(row.param_names[i]),
                                           row.param_values[i], row.param_lens[i]);
        if (rc == SINCH_BATCH_OK) rc = sinch_batch_builder_end(b);
        if (rc != SINCH_BATCH_OK) {
            /* the builder dropped the entry: a bad row, unless it is out of memory */
            const sinch_batch_error *be = sinch_batch_builder_error(b);
            if (be == NULL || be->kind != SINCH_BATCH_ERROR_INVALID)
                return builder_failed(r, b, row.line);
            if ((rc = add_bad(r, row.line, "%s", be->message)) != SINCH_BATCH_OK) return rc;
            continue;
        }
        rows[(*n)++] = row.line;
    }
    return SINCH_BATCH_OK;
}

/* ------------------------------------------------------ header, open */

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

static int read_header(sinch_batch_csv *r, const sinch_batch_csv_opts *o) {
    const record *rec;
    size_t i, j;
    int rc = next_record(r, &rec);
    if (rc < 0) return rc;
    if (rc == 0) {
        sb_error_set(&r->err, SINCH_BATCH_ERROR_INVALID,
                     "header: the file is empty, the first row must name the columns");
        return SINCH_BATCH_ERR;
    }
    r->ncols = rec->n;
    if ((r->cols = calloc(r->ncols, sizeof *r->cols)) == NULL)
        return sb_error_nomem(&r->err, "csv");
    for (i = 0; i < r->ncols; i++) {
        size_t len;
        const char *s = field_at(r, rec, (long)i, &len);
        if ((r->cols[i] = sb_memdup(s, len)) == NULL) return sb_error_nomem(&r->err, "csv");
    }
    if (map_column(r, o->channel_column, "channel_column", "channel", NULL, &r->col_channel) ||
        map_column(r, o->identity_column, "identity_column", "identity", "phone",
                   &r->col_identity) ||
        map_column(r, o->contact_column, "contact_column", "contact_id", NULL,
                   &r->col_contact) ||
        map_column(r, o->app_id_column, "app_id_column", "app_id", NULL, &r->col_app_id))
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
    if (r->channel) r->col_channel = -1; /* a fixed channel wins: the column is a parameter */

    /* parameters */
    if ((r->param_col = calloc(r->ncols + 1, sizeof *r->param_col)) == NULL)
        return sb_error_nomem(&r->err, "csv");
    if (o->params) {
        for (i = 0; i < o->n_params; i++) {
            long c = o->params[i] ? find_column(r, o->params[i]) : -1;
            if (c < 0) {
                sb_error_set(&r->err, SINCH_BATCH_ERROR_INVALID,
                             "params[%zu]: the header has no column \"%s\"", i + 1,
                             o->params[i] ? o->params[i] : "(null)");
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
    if ((r->used_col = calloc(r->nparams + 4, sizeof *r->used_col)) == NULL)
        return sb_error_nomem(&r->err, "csv");
    if (r->col_contact >= 0) r->used_col[r->nused++] = (size_t)r->col_contact;
    if (r->col_channel >= 0) r->used_col[r->nused++] = (size_t)r->col_channel;
    if (r->col_identity >= 0) r->used_col[r->nused++] = (size_t)r->col_identity;
    if (r->col_app_id >= 0) r->used_col[r->nused++] = (size_t)r->col_app_id;
    for (i = 0; i < r->nparams; i++) r->used_col[r->nused++] = r->param_col[i];
    return SINCH_BATCH_OK;
}

void sinch_batch_csv_opts_init(sinch_batch_csv_opts *o) {
    if (o == NULL) return;
    memset(o, 0, sizeof *o);
    o->check_e164 = 1;
    o->delimiter = ',';
}

sinch_batch_csv *sinch_batch_csv_open(const char *path, const sinch_batch_csv_opts *o,
                                      sinch_batch_error *err) {
    sinch_batch_csv_opts defaults;
    sinch_batch_csv *r;
    sb_error_clear(err);
    if (o == NULL) {
        sinch_batch_csv_opts_init(&defaults);
        o = &defaults;
    }
    if (path == NULL) {
        sb_error_set(err, SINCH_BATCH_ERROR_INVALID, "path: a file name is required");
        return NULL;
    }
    if (o->channel && o->channel[0] == '\0') {
        sb_error_set(err, SINCH_BATCH_ERROR_INVALID, "channel: must not be empty");
        return NULL;
    }
    if ((r = calloc(1, sizeof *r)) == NULL) {
        sb_error_nomem(err, "csv");
        return NULL;
    }
    sb_buf_init(&r->data);
    sb_buf_init(&r->reasons);
    sb_buf_init(&r->seen_keys);
    r->line = r->rec_line = 1;
    r->check_e164 = o->check_e164;
    r->dedupe = o->dedupe;
    r->col_channel = r->col_identity = r->col_contact = r->col_app_id = -1;
    if (o->channel) {
        if ((r->channel = sb_strdup(o->channel)) == NULL) {
            sb_error_nomem(&r->err, "csv");
            goto fail;
        }
        upcase(r->channel, strlen(r->channel));
    }
    if ((r->block = malloc(BLOCK_SIZE)) == NULL) {
        sb_error_nomem(&r->err, "csv");
        goto fail;
    }
    if (csv_init(&r->parser, CSV_APPEND_NULL | CSV_REPALL_NL) != 0) {
        sb_error_nomem(&r->err, "csv");
        goto fail;
    }
    r->parser_live = 1;
    if (o->delimiter) csv_set_delim(&r->parser, (unsigned char)o->delimiter);
    if ((r->f = fopen(path, "rb")) == NULL) {
        sb_error_set(&r->err, SINCH_BATCH_ERROR_INVALID, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (read_header(r, o) != SINCH_BATCH_OK) goto fail;
    return r;

fail:
    if (err) *err = r->err;
    sinch_batch_csv_close(r);
    return NULL;
}

void sinch_batch_csv_close(sinch_batch_csv *r) {
    size_t i;
    if (r == NULL) return;
    if (r->f) fclose(r->f);
    if (r->parser_live) csv_free(&r->parser);
    free(r->block);
    sb_buf_free(&r->data);
    free(r->fields);
    free(r->recs);
    if (r->cols)
        for (i = 0; i < r->ncols; i++) free(r->cols[i]);
    free(r->cols);
    free(r->channel);
    free(r->param_col);
    free(r->used_col);
    free(r->param_names);
    free(r->param_values);
    free(r->param_lens);
    free(r->bad);
    sb_buf_free(&r->reasons);
    free(r->seen);
    sb_buf_free(&r->seen_keys);
    free(r);
}

const sinch_batch_error *sinch_batch_csv_error(const sinch_batch_csv *r) {
    return r ? &r->err : NULL;
}

size_t sinch_batch_csv_column_count(const sinch_batch_csv *r) { return r ? r->ncols : 0; }

const char *sinch_batch_csv_column_name(const sinch_batch_csv *r, size_t i) {
    return r && i < r->ncols ? r->cols[i] : NULL;
}

size_t sinch_batch_csv_param_count(const sinch_batch_csv *r) { return r ? r->nparams : 0; }

const char *sinch_batch_csv_param_name(const sinch_batch_csv *r, size_t i) {
    return r && i < r->nparams ? r->param_names[i] : NULL;
}
