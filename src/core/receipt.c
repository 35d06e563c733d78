/* receipt.c -- the fast path for plain delivery receipts.
 *
 * A receiver under load spends most of its parse on building the whole
 * decoded tree of a callback it needs eight fields of.  This scanner
 * validates the body as strict JSON (RFC 8259) in one pass, without
 * allocating, and picks those fields out of it: the message_metadata
 * string's batchId and messageIndex (unescaped into the result's own
 * buffer, then scanned the same way), the report's message_id, status and
 * reason, and the envelope's event_time and accepted_time.
 *
 * It answers only for the plain case and declines everything else: a
 * caller then parses the body in full (sinch/batch/webhook.lua's parse),
 * whose rules decide.  So whatever it answers is what that parse gives,
 * and every doubt is a decline: escapes inside a field it returns or in a
 * key it reads, a number where a string goes, a key given twice, a batch
 * reference anywhere but message_metadata, an index that is not a plain
 * non-negative integer literal, nesting deeper than SB_MAX_DEPTH, or any
 * byte strict JSON refuses.  Strict JSON is a subset of what the full
 * parser (lua-cjson) takes, so a body declined for its syntax gets the
 * full parser's own verdict.
 */
#include <string.h>

#include "sinch_batch.h"

#define SB_MAX_DEPTH 16 /* Sinch nests 4 deep; the full parser allows 1000 */

enum { V_NONE = 0, V_STR, V_NUM, V_OBJ, V_ARR, V_LIT, V_NULL };

/* a value met: its kind, and for strings and numbers its text */
typedef struct {
    int kind;
    const char *p;
    size_t n;
    int esc;           /* a string with escapes */
    int plain_int;     /* a number of 1..15 digits, nothing else */
    long long integer; /* its value */
} value;

typedef struct {
    const char *p, *end;
} scan;

static void ws(scan *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hex(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A string at s->p (a '"'): its contents into v.  -1 when it is not strict
 * JSON; a \u escape of a surrogate is refused too (declined: the full
 * parser decides on pairs and lone halves). */
static int string(scan *s, value *v) {
    const char *p = s->p + 1;
    int esc = 0;
    for (;;) {
        unsigned char c;
        if (p >= s->end) return -1;
        c = (unsigned char)*p;
        if (c == '"') break;
        if (c < 0x20) return -1;
        if (c != '\\') {
            p++;
            continue;
        }
        esc = 1;
        if (p + 1 >= s->end) return -1;
        switch (p[1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            p += 2;
            break;
        case 'u': {
            int i, u = 0;
            if (s->end - p < 6) return -1;
            for (i = 2; i < 6; i++) {
                int h = hex((unsigned char)p[i]);
                if (h < 0) return -1;
                u = u * 16 + h;
            }
            if (u >= 0xD800 && u <= 0xDFFF) return -1;
            p += 6;
            break;
        }
        default:
            return -1;
        }
    }
    v->kind = V_STR;
    v->p = s->p + 1;
    v->n = (size_t)(p - v->p);
    v->esc = esc;
    s->p = p + 1;
    return 0;
}

/* A number (RFC 8259's grammar). */
static int number(scan *s, value *v) {
    const char *p = s->p, *digits;
    int neg = 0, frac = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    digits = p;
    if (p >= s->end) return -1;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < s->end && *p >= '0' && *p <= '9') p++;
    } else {
        return -1;
    }
    v->integer = 0;
    v->plain_int = !neg && p - digits <= 15;
    if (v->plain_int) {
        const char *d;
        for (d = digits; d < p; d++) v->integer = v->integer * 10 + (*d - '0');
    }
    if (p < s->end && *p == '.') {
        frac = 1;
        p++;
        if (p >= s->end || *p < '0' || *p > '9') return -1;
        while (p < s->end && *p >= '0' && *p <= '9') p++;
    }
    if (p < s->end && (*p == 'e' || *p == 'E')) {
        frac = 1;
        p++;
        if (p < s->end && (*p == '+' || *p == '-')) p++;
        if (p >= s->end || *p < '0' || *p > '9') return -1;
        while (p < s->end && *p >= '0' && *p <= '9') p++;
    }
    if (frac) v->plain_int = 0;
    v->kind = V_NUM;
    v->p = s->p;
    v->n = (size_t)(p - s->p);
    s->p = p;
    return 0;
}

static int literal(scan *s, const char *word, size_t n) {
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) return -1;
    s->p += n;
    return 0;
}

/* Which object a member belongs to, for the keys read in it. */
enum { L_OTHER, L_TOP, L_REPORT, L_REASON, L_META };

/* The fields read, as found (V_NONE: absent). */
enum { F_REPORT, F_METADATA, F_EVENT_TIME, F_ACCEPTED_TIME, F_MESSAGE_ID, F_STATUS, F_REASON,
       F_CODE, F_DESCRIPTION, F_BATCHID, F_BATCH_ID, F_MESSAGEINDEX, F_MESSAGE_INDEX, F_COUNT };

static const struct {
    int level;
    const char *key;
} FIELDS[F_COUNT] = {
    {L_TOP, "message_delivery_report"}, {L_TOP, "message_metadata"}, {L_TOP, "event_time"},
    {L_TOP, "accepted_time"}, {L_REPORT, "message_id"}, {L_REPORT, "status"},
    {L_REPORT, "reason"}, {L_REASON, "code"}, {L_REASON, "description"}, {L_META, "batchId"},
    {L_META, "batch_id"}, {L_META, "messageIndex"}, {L_META, "message_index"},
};

typedef struct {
    value f[F_COUNT];
} found;

static int value_at(scan *s, int level, int depth, found *out, value *v);

/* An object at s->p ('{'), whose members of interest (at `level`) go into
 * out.  -1: not strict JSON, or a reason to decline. */
static int object(scan *s, int level, int depth, found *out) {
    s->p++; /* '{' */
    ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return 0;
    }
    for (;;) {
        value key, v;
        int field = -1, inner = L_OTHER, i;
        if (s->p >= s->end || *s->p != '"' || string(s, &key) != 0) return -1;
        if (level != L_OTHER) {
            if (key.esc) return -1; /* it may spell a key read here */
            for (i = 0; i < F_COUNT; i++) {
                if (FIELDS[i].level == level && strlen(FIELDS[i].key) == key.n &&
                    memcmp(FIELDS[i].key, key.p, key.n) == 0) {
                    field = i;
                    break;
                }
            }
            if (field >= 0 && out->f[field].kind != V_NONE) return -1; /* given twice */
            if (field == F_REPORT) inner = L_REPORT;
            if (field == F_REASON) inner = L_REASON;
        }
        ws(s);
        if (s->p >= s->end || *s->p != ':') return -1;
        s->p++;
        ws(s);
        if (value_at(s, inner, depth + 1, out, &v) != 0) return -1;
        if (field >= 0) out->f[field] = v;
        ws(s);
        if (s->p >= s->end) return -1;
        if (*s->p == '}') {
            s->p++;
            return 0;
        }
        if (*s->p != ',') return -1;
        s->p++;
        ws(s);
    }
}

static int array(scan *s, int depth, found *out) {
    s->p++; /* '[' */
    ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return 0;
    }
    for (;;) {
        value v;
        if (value_at(s, L_OTHER, depth + 1, out, &v) != 0) return -1;
        ws(s);
        if (s->p >= s->end) return -1;
        if (*s->p == ']') {
            s->p++;
            return 0;
        }
        if (*s->p != ',') return -1;
        s->p++;
        ws(s);
    }
}

/* Any value at s->p; an object's members are read as `level`'s. */
static int value_at(scan *s, int level, int depth, found *out, value *v) {
    memset(v, 0, sizeof *v);
    if (depth > SB_MAX_DEPTH || s->p >= s->end) return -1;
    switch (*s->p) {
    case '"':
        return string(s, v);
    case '{':
        v->kind = V_OBJ;
        return object(s, level, depth, out);
    case '[':
        v->kind = V_ARR;
        return array(s, depth, out);
    case 't':
        v->kind = V_LIT;
        return literal(s, "true", 4);
    case 'f':
        v->kind = V_LIT;
        return literal(s, "false", 5);
    case 'n':
        v->kind = V_NULL;
        return literal(s, "null", 4);
    default:
        return number(s, v);
    }
}

/* A whole document: one object, white space around it. */
static int document(const char *p, size_t n, int level, found *out) {
    scan s = {p, p + n};
    value v;
    ws(&s);
    if (s.p >= s.end || *s.p != '{') return -1;
    if (value_at(&s, level, 1, out, &v) != 0) return -1;
    ws(&s);
    return s.p == s.end ? 0 : -1;
}

/* What the full parser makes of a string field (its str()): a string
 * without escapes is kept, absent or null or any non-string is none, and
 * a number, which it would turn into text, or an escaped string declines. */
static int text(const value *v, sinch_batch_text *t) {
    t->ptr = NULL;
    t->len = 0;
    if (v->kind == V_NUM || (v->kind == V_STR && v->esc)) return -1;
    if (v->kind == V_STR) {
        t->ptr = v->p;
        t->len = v->n;
    }
    return 0;
}

/* message_metadata's text, unescaped into buf (bufsz bytes): its length,
 * or -1 (too long, or an escape this does not undo). */
static long unescape(const value *v, char *buf, size_t bufsz) {
    const char *p = v->p, *end = v->p + v->n;
    size_t o = 0;
    while (p < end) {
        char c = *p++;
        if (c == '\\') {
            c = *p++; /* string() vouched for a complete escape */
            switch (c) {
            case '"': case '\\': case '/': break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            default: return -1; /* \u: declined */
            }
        }
        if (o >= bufsz) return -1;
        buf[o++] = c;
    }
    return (long)o;
}

int sinch_batch_receipt_scan(const char *body, size_t len, sinch_batch_receipt *r) {
    found top, meta;
    const value *id, *index;
    long n;

    if (body == NULL || r == NULL) return SINCH_BATCH_RECEIPT_OTHER;
    memset(r, 0, sizeof *r);
    memset(&top, 0, sizeof top);
    if (document(body, len, L_TOP, &top) != 0) return SINCH_BATCH_RECEIPT_OTHER;

    /* a report object (the first payload key the full parser tries), and the
     * batch reference in message_metadata: a non-empty string of JSON */
    if (top.f[F_REPORT].kind != V_OBJ || top.f[F_METADATA].kind != V_STR)
        return SINCH_BATCH_RECEIPT_OTHER;
    n = unescape(&top.f[F_METADATA], r->scratch_, sizeof r->scratch_);
    if (n <= 0) return SINCH_BATCH_RECEIPT_OTHER;
    memset(&meta, 0, sizeof meta);
    if (document(r->scratch_, (size_t)n, L_META, &meta) != 0) return SINCH_BATCH_RECEIPT_OTHER;

    /* batchId, else batch_id when batchId is absent or neither string nor
     * number; a number or an empty string declines */
    id = &meta.f[F_BATCHID];
    if (id->kind != V_STR && id->kind != V_NUM) id = &meta.f[F_BATCH_ID];
    if (text(id, &r->batch_id) != 0 || r->batch_id.len == 0) return SINCH_BATCH_RECEIPT_OTHER;
    /* messageIndex, else message_index when it is absent or null */
    index = &meta.f[F_MESSAGEINDEX];
    if (index->kind == V_NONE || index->kind == V_NULL) index = &meta.f[F_MESSAGE_INDEX];
    if (index->kind != V_NUM || !index->plain_int) return SINCH_BATCH_RECEIPT_OTHER;
    r->message_index = index->integer;

    if (text(&top.f[F_MESSAGE_ID], &r->message_id) != 0 ||
        text(&top.f[F_STATUS], &r->status) != 0 ||
        text(&top.f[F_EVENT_TIME], &r->event_time) != 0 ||
        text(&top.f[F_ACCEPTED_TIME], &r->accepted_time) != 0)
        return SINCH_BATCH_RECEIPT_OTHER;
    /* a reason that is an array is a table to the full parser: declined */
    if (top.f[F_REASON].kind == V_ARR) return SINCH_BATCH_RECEIPT_OTHER;
    r->has_reason = top.f[F_REASON].kind == V_OBJ;
    if (r->has_reason && (text(&top.f[F_CODE], &r->reason_code) != 0 ||
                          text(&top.f[F_DESCRIPTION], &r->reason_description) != 0))
        return SINCH_BATCH_RECEIPT_OTHER;
    return SINCH_BATCH_OK;
}
