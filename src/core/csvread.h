/* csvread.h -- the CSV reader's state, shared by its two files (internal):
 *   csv.c      bytes in: libcsv, the BOM, line counting, the record queue,
 *              bad rows, the reader's life
 *   csvrows.c  records out: the header's mapping, each row's checks, the
 *              dedupe set, next() and fill()
 */
#ifndef SINCH_BATCH_CSVREAD_H
#define SINCH_BATCH_CSVREAD_H

#include <csv.h>

#include "core.h"

#define SB_CSV_BLOCK (64 * 1024)              /* bytes pulled at a time */
#define SB_CSV_MAX_FIELD (16 * 1024 * 1024)   /* one field */
#define SB_CSV_MAX_FIELDS 65536               /* one record */
#define SB_CSV_FAST_LINE 4096                 /* longer lines go to libcsv */

typedef struct sb_csv_record {
    size_t line;  /* where it starts */
    size_t first; /* index of its first field */
    size_t n;     /* number of fields */
} sb_csv_record;

typedef struct sb_csv_field {
    size_t off; /* into data; NUL-terminated there */
    size_t len;
} sb_csv_field;

typedef struct sb_csv_bad {
    size_t line;
    size_t reason; /* offset into reasons */
} sb_csv_bad;

typedef struct sb_csv_seen {
    uint64_t hash;
    size_t key; /* offset into seen_keys */
    size_t len;
    size_t line; /* 0 = empty slot */
} sb_csv_seen;

struct sinch_batch_csv {
    struct csv_parser parser;
    int parser_live;
    int bom;      /* BOM bytes matched so far; 4 = decided */
    int finished; /* no more input: the queue is all there is */
    int fast;     /* plain lines are split here, not by libcsv (csv.c) */
    unsigned char delim;
    unsigned char stop[256]; /* bytes that end a plain field's scan */
    int cb_nomem;
    sinch_batch_error err;

    /* pull source */
    sinch_batch_csv_read_fn read;
    void *read_ctx;
    void (*read_close)(void *ctx);
    char *block;

    /* line counting */
    size_t line;     /* physical line at the parse position */
    size_t rec_line; /* line where the record in progress starts */
    int after_cr;    /* the last event was a CR ending a line */

    /* the queue: fields of parsed records, then of the one in progress */
    sb_buf data;
    sb_csv_field *fields;
    size_t nf, capf;
    sb_csv_record *recs;
    size_t nrec, caprec, rec_pos;
    size_t cur_first; /* first field of the record in progress */

    /* options, copied */
    char *channel; /* fixed channel, upper-cased; NULL = column */
    int channel_phone; /* the fixed channel is a phone channel */
    char *opt_channel_column, *opt_identity_column, *opt_contact_column, *opt_app_id_column;
    char **opt_params;
    size_t opt_nparams;
    int opt_params_given;
    const sinch_batch_channel *channels;
    int check_phone;
    int row_phone_checked; /* the last row's identity passed the phone rule here */
    int dedupe;

    /* header and mapping */
    int header_done;
    size_t ncols;
    char **cols;
    long col_channel, col_identity, col_contact, col_app_id; /* -1 = none */
    size_t nparams;
    size_t *param_col;
    size_t nused;
    size_t *used_col; /* every column a row is read from (UTF-8 checked) */
    const char **param_names;
    const char **param_values;
    size_t *param_lens;
    sinch_batch_param *row_params; /* names set once; values per row (csv_fill) */

    /* bad rows */
    sb_csv_bad *bad;
    size_t nbad, capbad;
    sb_buf reasons;

    /* dedupe set: open addressing, keys in seen_keys */
    sb_csv_seen *seen;
    size_t seen_cap, seen_n;
    sb_buf seen_keys;
};

/* csv.c */
int sb_csv_grow(void **p, size_t *cap, size_t need, size_t elem);
/* The next queued record: 1, 0 at the end, SINCH_BATCH_CSV_MORE, or a
 * negative code (r->err set).  Pulls from r->read when it has one. */
int sb_csv_next_record(sinch_batch_csv *r, const sb_csv_record **out);
const char *sb_csv_field_at(const sinch_batch_csv *r, const sb_csv_record *rec, size_t col,
                            size_t *len);
int sb_csv_add_bad(sinch_batch_csv *r, size_t line, const char *fmt, ...) SB_PRINTF(3, 4);
void sb_csv_upcase(char *s, size_t n);
/* Off: every byte goes through libcsv (the reference the plain-line path
 * is tested against); on by default. */
void sb_csv_set_fast(sinch_batch_csv *r, int on);

/* csvrows.c */
void sb_csv_rows_free(sinch_batch_csv *r);

#endif
