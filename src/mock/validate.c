/* validate.c -- the server-side checks the Batch API does on request bodies:
 * the shared pieces, contacts, consents, cancel and the ${param} names
 * (POST /messages is in validate_send.c).
 *
 * Every failure names the field (a JSON path, array positions 0-based as in
 * the body), and says what is accepted:
 *   recipient_and_params[1000]: a batch holds at most 1000 recipients
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

/* The docs give no maximum for consent records; this only protects the
 * sandbox (a request of more is refused, saying so). */
#define MAX_CONSENT_RECORDS 100000

const char *const mock_channels[] = {
    "WHATSAPP", "RCS", "SMS", "MESSENGER", "VIBERBM", "MMS", "INSTAGRAM", "TELEGRAM",
    "KAKAOTALK", "KAKAOTALKCHAT", "LINE", "WECHAT", "APPLEBC", "SINCH_CHAT", NULL};

static const char *const languages[] = {
    "AF", "SQ", "AR", "AZ", "BN", "BG", "CA", "ZH", "ZH_CN", "ZH_HK", "ZH_TW", "HR",
    "CS", "DA", "NL", "EN", "EN_GB", "EN_US", "ET", "FIL", "FI", "FR", "DE", "EL",
    "GU", "HA", "HE", "HI", "HU", "ID", "GA", "IT", "JA", "KN", "KK", "KO", "LO",
    "LV", "LT", "MK", "MS", "ML", "MR", "NB", "FA", "PL", "PT", "PT_BR", "PT_PT",
    "PA", "RO", "RU", "SR", "SK", "SL", "ES", "ES_AR", "ES_ES", "ES_MX", "SW", "SV",
    "TA", "TE", "TH", "TR", "UK", "UR", "UZ", "VI", "ZU", NULL};

static const char *const consent_types[] = {"OPT_OUT_ALL", "OPT_OUT_NOTIFICATION",
                                            "OPT_OUT_MARKETING", NULL};

int mock_vfail(mock_verr *e, const char *field, const char *fmt, ...) {
    char rule[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rule, sizeof rule, fmt, ap);
    va_end(ap);
    snprintf(e->field, sizeof e->field, "%s", field);
    snprintf(e->message, sizeof e->message, "%s: %s", field, rule);
    return -1;
}

int mock_in_list(const char *s, const char *const *list) {
    for (; *list; list++)
        if (strcmp(s, *list) == 0) return 1;
    return 0;
}

void mock_join_list(char *out, size_t n, const char *const *list) {
    size_t len = 0;
    out[0] = '\0';
    for (; *list && len + 1 < n; list++)
        len += (size_t)snprintf(out + len, n - len, "%s%s", len ? ", " : "", *list);
}

/* Append src to out (size n, used *len), truncating quietly. */
static void put(char *out, size_t n, size_t *len, const char *src) {
    size_t k = strlen(src);
    if (k > n - 1 - *len) k = n - 1 - *len;
    memcpy(out + *len, src, k);
    *len += k;
    out[*len] = '\0';
}

/* The field path of a member: "a.b" or "b" at the top.  out may be base. */
void mock_vsub(char *out, size_t n, const char *base, const char *key) {
    size_t len = strlen(base) < n ? strlen(base) : n - 1;
    if (out != base) memcpy(out, base, len);
    out[len] = '\0';
    if (len) put(out, n, &len, ".");
    put(out, n, &len, key);
}

/* "a[i]"; out may be base. */
void mock_vat(char *out, size_t n, const char *base, size_t i) {
    char idx[32], *p = idx + sizeof idx;
    size_t len = 0;
    if (out == base) {
        len = strlen(out);
    } else {
        out[0] = '\0';
        put(out, n, &len, base);
    }
    /* "[i]" by hand: this runs for every recipient of every batch */
    *--p = '\0';
    *--p = ']';
    do *--p = (char)('0' + i % 10); while ((i /= 10) != 0);
    *--p = '[';
    put(out, n, &len, p);
}

int mock_check_enum(json_t *v, const char *field, const char *const *list,
                      const char *what, mock_verr *e) {
    char accepted[1024];
    if (!json_is_string(v)) return mock_vfail(e, field, "must be a string naming %s", what);
    if (mock_in_list(json_string_value(v), list)) return 0;
    mock_join_list(accepted, sizeof accepted, list);
    return mock_vfail(e, field, "'%.64s' is not %s (one of %s)", json_string_value(v), what,
                accepted);
}

int mock_nonempty_string(json_t *v, const char *field, mock_verr *e) {
    if (!v) return mock_vfail(e, field, "is required");
    if (!json_is_string(v)) return mock_vfail(e, field, "must be a string");
    if (json_string_length(v) == 0) return mock_vfail(e, field, "must not be empty");
    return 0;
}

int mock_string_map(json_t *v, const char *field, size_t max_len, mock_verr *e) {
    const char *k;
    json_t *x;
    char f[300];
    if (!json_is_object(v)) return mock_vfail(e, field, "must be an object of strings");
    json_object_foreach(v, k, x) {
        mock_vsub(f, sizeof f, field, k);
        if (!json_is_string(x)) return mock_vfail(e, f, "must be a string");
        if (max_len && json_string_length(x) > max_len)
            return mock_vfail(e, f, "is longer than %zu characters", max_len);
    }
    return 0;
}

int mock_vobject(json_t *v, const char *field, mock_verr *e) {
    if (!json_is_object(v)) return mock_vfail(e, field, "must be an object");
    return 0;
}

/* An array of 1..max items named `what`. */
int mock_sized_array(json_t *v, const char *field, const char *holder, const char *what,
                       const char *what1, size_t max, mock_verr *e) {
    char f[300];
    if (!v) return mock_vfail(e, field, "is required");
    if (!json_is_array(v)) return mock_vfail(e, field, "must be an array of %s", what);
    if (json_array_size(v) == 0)
        return mock_vfail(e, field, "%s holds at least 1 %s", holder, what1);
    if (json_array_size(v) > max) {
        mock_vat(f, sizeof f, field, max);
        return mock_vfail(e, f, "%s holds at most %zu %s", holder, max, what);
    }
    return 0;
}

/* The identity of SMS, WhatsApp and Viber is an MSISDN (the reference,
 * recipients): an optional "+" then digits.  No length or first digit is
 * documented; "+0987654321" is the reference's own example form.  --strict
 * adds our checks: MMS and RCS are phone channels too, and the E.164 shape
 * (7 to 15 digits, the first not 0). */
static const char *const msisdn_channels[] = {"SMS", "WHATSAPP", "VIBERBM", NULL};
static const char *const strict_phone_channels[] = {"MMS", "RCS", NULL};

static int msisdn(const char *s, size_t n, int e164) {
    size_t i = (n > 0 && s[0] == '+') ? 1 : 0, start = i;
    if (i >= n) return 0;
    for (; i < n; i++)
        if (!(s[i] >= '0' && s[i] <= '9')) return 0;
    if (e164 && (n - start < 7 || n - start > 15 || s[start] == '0')) return 0;
    return 1;
}

/* App-scoped channels: the reference requires app_id in a contact's
 * channel identity on these. */
static const char *const app_scoped[] = {"MESSENGER", "INSTAGRAM", "LINE", "WECHAT", NULL};

/* need_app: a contact (app_id required on app-scoped channels); a
 * recipient's identity may leave it out (the batch's app_id applies). */
static int channel_identity(json_t *ci, const char *field, int need_app, mock_verr *e) {
    char f[300];
    json_t *ch, *app, *id;
    const char *chan;
    if (mock_vobject(ci, field, e)) return -1;
    ch = json_object_get(ci, "channel");
    mock_vsub(f, sizeof f, field, "channel");
    if (!ch) return mock_vfail(e, f, "is required");
    if (mock_check_enum(ch, f, mock_channels, "a channel", e)) return -1;
    chan = json_string_value(ch);
    mock_vsub(f, sizeof f, field, "identity");
    id = json_object_get(ci, "identity");
    if (mock_nonempty_string(id, f, e)) return -1;
    if (mock_in_list(chan, msisdn_channels) ||
        (mock_cfg.strict && mock_in_list(chan, strict_phone_channels))) {
        if (!msisdn(json_string_value(id), json_string_length(id), 0))
            return mock_vfail(e, f, "'%.40s' is not an MSISDN (an optional + and digits) "
                              "for channel %s", json_string_value(id), chan);
        if (mock_cfg.strict && !msisdn(json_string_value(id), json_string_length(id), 1))
            return mock_vfail(e, f, "'%.40s' is not in E.164 shape (7 to 15 digits, the first "
                              "not 0; --strict)", json_string_value(id));
    }
    app = json_object_get(ci, "app_id");
    mock_vsub(f, sizeof f, field, "app_id");
    if (app && !json_is_string(app)) return mock_vfail(e, f, "must be a string");
    if (need_app && mock_in_list(chan, app_scoped) &&
        (!app || json_string_length(app) == 0))
        return mock_vfail(e, f, "is required for the app-scoped channel %s", chan);
    return 0;
}

int mock_identities(json_t *list, const char *field, int need_app, mock_verr *e) {
    char f[300];
    size_t i;
    json_t *ci;
    if (!list) return mock_vfail(e, field, "is required");
    if (!json_is_array(list)) return mock_vfail(e, field, "must be an array of channel identities");
    if (json_array_size(list) == 0)
        return mock_vfail(e, field, "must hold at least 1 channel identity");
    json_array_foreach(list, i, ci) {
        mock_vat(f, sizeof f, field, i);
        if (channel_identity(ci, f, need_app, e)) return -1;
    }
    return 0;
}

/* ------------------------------------------- contacts, consents, cancel */

int mock_validate_create_contacts(json_t *body, mock_verr *e) {
    json_t *list, *c, *v;
    size_t i;
    char f[300], g[300];
    if (!json_is_object(body)) return mock_vfail(e, "body", "must be a JSON object");
    list = json_object_get(body, "contacts");
    if (mock_sized_array(list, "contacts", "a request", "contacts", "contact", MOCK_MAX_ITEMS, e))
        return -1;
    json_array_foreach(list, i, c) {
        mock_vat(f, sizeof f, "contacts", i);
        if (mock_vobject(c, f, e)) return -1;
        mock_vsub(g, sizeof g, f, "channel_identities");
        if (mock_identities(json_object_get(c, "channel_identities"), g, 1, e)) return -1;
        mock_vsub(g, sizeof g, f, "language");
        if (!(v = json_object_get(c, "language"))) return mock_vfail(e, g, "is required");
        if (mock_check_enum(v, g, languages, "a contact language", e)) return -1;
        if ((v = json_object_get(c, "channel_priority"))) {
            size_t j;
            json_t *ch;
            mock_vsub(g, sizeof g, f, "channel_priority");
            if (!json_is_array(v)) return mock_vfail(e, g, "must be an array of channels");
            json_array_foreach(v, j, ch) {
                char h[320];
                mock_vat(h, sizeof h, g, j);
                if (mock_check_enum(ch, h, mock_channels, "a channel", e)) return -1;
            }
        }
        if ((v = json_object_get(c, "metadata"))) {
            mock_vsub(g, sizeof g, f, "metadata");
            if (!json_is_string(v)) return mock_vfail(e, g, "must be a string");
            if (json_string_length(v) > 1024)
                return mock_vfail(e, g, "is longer than 1024 characters");
        }
    }
    return 0;
}

int mock_validate_delete_contacts(json_t *body, mock_verr *e) {
    json_t *list, *v;
    size_t i;
    char f[300];
    if (!json_is_object(body)) return mock_vfail(e, "body", "must be a JSON object");
    list = json_object_get(body, "contact_ids");
    if (mock_sized_array(list, "contact_ids", "a request", "contact ids", "contact id",
                    MOCK_MAX_ITEMS, e))
        return -1;
    json_array_foreach(list, i, v) {
        mock_vat(f, sizeof f, "contact_ids", i);
        if (mock_nonempty_string(v, f, e)) return -1;
    }
    return 0;
}

int mock_validate_consents(json_t *body, mock_verr *e) {
    json_t *list, *r, *v;
    size_t i;
    char f[300], g[300];
    if (!json_is_object(body)) return mock_vfail(e, "body", "must be a JSON object");
    if (mock_nonempty_string(json_object_get(body, "app_id"), "app_id", e)) return -1;
    list = json_object_get(body, "consent_records");
    if (json_array_size(list) > MAX_CONSENT_RECORDS) {
        mock_vat(f, sizeof f, "consent_records", MAX_CONSENT_RECORDS);
        return mock_vfail(e, f, "this sandbox takes at most %d consent records in a request "
                          "(its own limit: the API documents none)", MAX_CONSENT_RECORDS);
    }
    if (mock_sized_array(list, "consent_records", "a request", "consent records",
                         "consent record", MAX_CONSENT_RECORDS, e))
        return -1;
    json_array_foreach(list, i, r) {
        mock_vat(f, sizeof f, "consent_records", i);
        if (mock_vobject(r, f, e)) return -1;
        mock_vsub(g, sizeof g, f, "identification");
        if (mock_nonempty_string(json_object_get(r, "identification"), g, e)) return -1;
        mock_vsub(g, sizeof g, f, "consent_type");
        if ((v = json_object_get(r, "consent_type")) &&
            mock_check_enum(v, g, consent_types, "a consent type", e))
            return -1;
    }
    return 0;
}

int mock_validate_cancel(json_t *body, mock_verr *e) {
    json_t *v;
    size_t i;
    int forms = 0;
    char f[300];
    if (!json_is_object(body)) return mock_vfail(e, "body", "must be a JSON object");
    if ((v = json_object_get(body, "batch_id"))) {
        forms++;
        if (mock_nonempty_string(v, "batch_id", e)) return -1;
    }
    if ((v = json_object_get(body, "batch_ids"))) {
        json_t *id;
        forms++;
        /* no maximum is documented (the body's shape is not either): 1000,
         * as for recipients, only with --strict */
        if (mock_sized_array(v, "batch_ids", "a request", "batch ids", "batch id",
                             mock_cfg.strict ? MOCK_MAX_ITEMS : (size_t)-1, e))
            return -1;
        json_array_foreach(v, i, id) {
            mock_vat(f, sizeof f, "batch_ids", i);
            if (mock_nonempty_string(id, f, e)) return -1;
        }
    }
    if ((v = json_object_get(body, "metadata_key"))) {
        forms++;
        if (mock_nonempty_string(v, "metadata_key", e)) return -1;
        v = json_object_get(body, "metadata_value");
        if (!v) return mock_vfail(e, "metadata_value", "is required");
        if (!json_is_string(v)) return mock_vfail(e, "metadata_value", "must be a string");
        if (mock_cfg.strict && json_string_length(v) == 0) /* ours: not documented */
            return mock_vfail(e, "metadata_value", "must not be empty (--strict)");
    } else if (json_object_get(body, "metadata_value")) {
        return mock_vfail(e, "metadata_key", "is required with metadata_value");
    }
    if ((v = json_object_get(body, "batch_metadata"))) {
        forms++;
        if (mock_string_map(v, "batch_metadata", 0, e)) return -1;
        if (json_object_size(v) == 0)
            return mock_vfail(e, "batch_metadata", "must hold at least one key");
    }
    if (forms != 1)
        return mock_vfail(e, "body", "give exactly one of batch_id, batch_ids, "
                    "metadata_key with metadata_value, or batch_metadata");
    return 0;
}

/* The ${name}s of a message, by this sandbox's own reading of the
 * reference ("${name}" in any string field, its value from the recipient's
 * parameters): "${", then a name of one or more bytes none of them "}",
 * then "}".  The reference gives no grammar; a name of only blanks is read
 * as text, as the client does (docs/api-rules.md, labelled ours). */
static void scan_params(const char *s, size_t len, json_t *names) {
    size_t i = 0;
    while (i + 1 < len) {
        const char *close;
        size_t j, k;
        if (s[i] != '$' || s[i + 1] != '{') {
            i++;
            continue;
        }
        close = memchr(s + i + 2, '}', len - (i + 2));
        if (!close) return;
        j = (size_t)(close - s);
        for (k = i + 2; k < j && (s[k] == ' ' || s[k] == '\t'); k++) {}
        if (k < j) json_object_setn_new(names, s + i + 2, j - (i + 2), json_true());
        i = j + 1;
    }
}

static void collect_params(json_t *v, json_t *names) {
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_string(v)) {
        scan_params(json_string_value(v), json_string_length(v), names);
    } else if (json_is_object(v)) {
        json_object_foreach(v, k, x) collect_params(x, names);
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x) collect_params(x, names);
    }
}

json_t *mock_message_params(json_t *message_obj) {
    json_t *names = json_object();
    collect_params(message_obj, names);
    return names;
}
