/* validate.c -- the server-side checks the Batch API does on request bodies.
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

#include "mock.h"

#define MAX_ITEMS 1000
#define WEEK_MS (7LL * 24 * 3600 * 1000)
#define FIVE_MIN_MS (5LL * 60 * 1000)

static const char *const channels[] = {
    "WHATSAPP", "RCS", "SMS", "MESSENGER", "VIBERBM", "MMS", "INSTAGRAM", "TELEGRAM",
    "KAKAOTALK", "KAKAOTALKCHAT", "LINE", "WECHAT", "APPLEBC", "SINCH_CHAT", NULL};

/* channels whose identities belong to one app */
static const char *const app_scoped[] = {"MESSENGER", "INSTAGRAM", "LINE", "WECHAT", NULL};

static const char *const languages[] = {
    "AF", "SQ", "AR", "AZ", "BN", "BG", "CA", "ZH", "ZH_CN", "ZH_HK", "ZH_TW", "HR",
    "CS", "DA", "NL", "EN", "EN_GB", "EN_US", "ET", "FIL", "FI", "FR", "DE", "EL",
    "GU", "HA", "HE", "HI", "HU", "ID", "GA", "IT", "JA", "KN", "KK", "KO", "LO",
    "LV", "LT", "MK", "MS", "ML", "MR", "NB", "FA", "PL", "PT", "PT_BR", "PT_PT",
    "PA", "RO", "RU", "SR", "SK", "SL", "ES", "ES_AR", "ES_ES", "ES_MX", "SW", "SV",
    "TA", "TE", "TH", "TR", "UK", "UR", "UZ", "VI", "ZU", NULL};

static const char *const strategies[] = {"DEFAULT", "DISPATCH_ONLY", NULL};
static const char *const consent_types[] = {"OPT_OUT_ALL", "OPT_OUT_NOTIFICATION",
                                            "OPT_OUT_MARKETING", NULL};

static const char *const kinds[] = {
    "text_message", "media_message", "template_message", "choice_message",
    "card_message", "carousel_message", "location_message", "contact_info_message",
    "list_message", NULL};

static const char *const overrides[] = {"explicit_channel_message",
                                        "explicit_channel_omni_message",
                                        "channel_specific_message", "agent", NULL};

static int fail(mock_verr *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(mock_verr *e, const char *field, const char *fmt, ...) {
    char rule[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rule, sizeof rule, fmt, ap);
    va_end(ap);
    snprintf(e->field, sizeof e->field, "%s", field);
    snprintf(e->message, sizeof e->message, "%s: %s", field, rule);
    return -1;
}

static int in_list(const char *s, const char *const *list) {
    for (; *list; list++)
        if (strcmp(s, *list) == 0) return 1;
    return 0;
}

static void join_list(char *out, size_t n, const char *const *list) {
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
static void sub(char *out, size_t n, const char *base, const char *key) {
    size_t len = strlen(base) < n ? strlen(base) : n - 1;
    if (out != base) memcpy(out, base, len);
    out[len] = '\0';
    if (len) put(out, n, &len, ".");
    put(out, n, &len, key);
}

/* "a[i]"; out may be base. */
static void at(char *out, size_t n, const char *base, size_t i) {
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

static int check_enum(json_t *v, const char *field, const char *const *list,
                      const char *what, mock_verr *e) {
    char accepted[1024];
    if (!json_is_string(v)) return fail(e, field, "must be a string naming %s", what);
    if (in_list(json_string_value(v), list)) return 0;
    join_list(accepted, sizeof accepted, list);
    return fail(e, field, "'%.64s' is not %s (one of %s)", json_string_value(v), what,
                accepted);
}

static int nonempty_string(json_t *v, const char *field, mock_verr *e) {
    if (!v) return fail(e, field, "is required");
    if (!json_is_string(v)) return fail(e, field, "must be a string");
    if (json_string_length(v) == 0) return fail(e, field, "must not be empty");
    return 0;
}

static int string_map(json_t *v, const char *field, size_t max_len, mock_verr *e) {
    const char *k;
    json_t *x;
    char f[300];
    if (!json_is_object(v)) return fail(e, field, "must be an object of strings");
    json_object_foreach(v, k, x) {
        sub(f, sizeof f, field, k);
        if (!json_is_string(x)) return fail(e, f, "must be a string");
        if (max_len && json_string_length(x) > max_len)
            return fail(e, f, "is longer than %zu characters", max_len);
    }
    return 0;
}

static int object(json_t *v, const char *field, mock_verr *e) {
    if (!json_is_object(v)) return fail(e, field, "must be an object");
    return 0;
}

/* An array of 1..max items named `what`. */
static int sized_array(json_t *v, const char *field, const char *holder, const char *what,
                       const char *what1, size_t max, mock_verr *e) {
    char f[300];
    if (!v) return fail(e, field, "is required");
    if (!json_is_array(v)) return fail(e, field, "must be an array of %s", what);
    if (json_array_size(v) == 0)
        return fail(e, field, "%s holds at least 1 %s", holder, what1);
    if (json_array_size(v) > max) {
        at(f, sizeof f, field, max);
        return fail(e, f, "%s holds at most %zu %s", holder, max, what);
    }
    return 0;
}

static int channel_identity(json_t *ci, const char *field, int need_app, mock_verr *e) {
    char f[300];
    json_t *ch, *app;
    if (object(ci, field, e)) return -1;
    ch = json_object_get(ci, "channel");
    sub(f, sizeof f, field, "channel");
    if (!ch) return fail(e, f, "is required");
    if (check_enum(ch, f, channels, "a channel", e)) return -1;
    sub(f, sizeof f, field, "identity");
    if (nonempty_string(json_object_get(ci, "identity"), f, e)) return -1;
    app = json_object_get(ci, "app_id");
    sub(f, sizeof f, field, "app_id");
    if (app && !json_is_string(app)) return fail(e, f, "must be a string");
    if (need_app && in_list(json_string_value(ch), app_scoped) &&
        (!app || json_string_length(app) == 0))
        return fail(e, f, "is required for %s identities", json_string_value(ch));
    return 0;
}

static int identities(json_t *list, const char *field, int need_app, mock_verr *e) {
    char f[300];
    size_t i;
    json_t *ci;
    if (!list) return fail(e, field, "is required");
    if (!json_is_array(list)) return fail(e, field, "must be an array of channel identities");
    if (json_array_size(list) == 0)
        return fail(e, field, "must hold at least 1 channel identity");
    json_array_foreach(list, i, ci) {
        at(f, sizeof f, field, i);
        if (channel_identity(ci, f, need_app, e)) return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ messages */

static int required_member(json_t *obj, const char *field, const char *key, mock_verr *e) {
    char f[300];
    sub(f, sizeof f, field, key);
    if (!json_object_get(obj, key)) return fail(e, f, "is required");
    return 0;
}

static int max_items(json_t *obj, const char *field, const char *key, size_t max,
                     int required, mock_verr *e) {
    char f[300];
    json_t *v = json_object_get(obj, key);
    sub(f, sizeof f, field, key);
    if (!v) return required ? fail(e, f, "is required") : 0;
    if (!json_is_array(v)) return fail(e, f, "must be an array");
    if (required && json_array_size(v) == 0) return fail(e, f, "must not be empty");
    if (json_array_size(v) > max) {
        char g[320];
        at(g, sizeof g, f, max);
        return fail(e, g, "holds at most %zu items", max);
    }
    return 0;
}

static int message_kind(const char *kind, json_t *m, const char *field, mock_verr *e) {
    char f[300];
    if (object(m, field, e)) return -1;
    if (strcmp(kind, "text_message") == 0) {
        sub(f, sizeof f, field, "text");
        return nonempty_string(json_object_get(m, "text"), f, e);
    }
    if (strcmp(kind, "media_message") == 0) {
        sub(f, sizeof f, field, "url");
        return nonempty_string(json_object_get(m, "url"), f, e);
    }
    if (strcmp(kind, "template_message") == 0) {
        if (!json_object_get(m, "omni_template") && !json_object_get(m, "channel_template"))
            return fail(e, field, "needs omni_template or channel_template");
        return 0;
    }
    if (strcmp(kind, "choice_message") == 0) return max_items(m, field, "choices", 10, 1, e);
    if (strcmp(kind, "card_message") == 0) return max_items(m, field, "choices", 10, 0, e);
    if (strcmp(kind, "carousel_message") == 0)
        return max_items(m, field, "cards", 10, 1, e) || max_items(m, field, "choices", 3, 0, e)
                   ? -1 : 0;
    if (strcmp(kind, "location_message") == 0) {
        json_t *c = json_object_get(m, "coordinates");
        if (required_member(m, field, "coordinates", e)) return -1;
        sub(f, sizeof f, field, "coordinates");
        if (!json_is_object(c) || !json_is_number(json_object_get(c, "latitude")) ||
            !json_is_number(json_object_get(c, "longitude")))
            return fail(e, f, "needs numeric latitude and longitude");
        sub(f, sizeof f, field, "title");
        return nonempty_string(json_object_get(m, "title"), f, e);
    }
    if (strcmp(kind, "contact_info_message") == 0) {
        json_t *name = json_object_get(m, "name");
        if (required_member(m, field, "name", e)) return -1;
        sub(f, sizeof f, field, "name.full_name");
        if (nonempty_string(json_object_get(name, "full_name"), f, e)) return -1;
        return max_items(m, field, "phone_numbers", 1000, 1, e);
    }
    if (strcmp(kind, "list_message") == 0) {
        sub(f, sizeof f, field, "title");
        if (nonempty_string(json_object_get(m, "title"), f, e)) return -1;
        return max_items(m, field, "sections", 1000, 1, e);
    }
    return 0;
}

static int message(json_t *m, mock_verr *e) {
    const char *k, *found = NULL;
    json_t *v;
    char f[300], names[512];
    if (!m) return fail(e, "message", "is required");
    if (object(m, "message", e)) return -1;
    json_object_foreach(m, k, v) {
        if (in_list(k, kinds)) {
            if (found)
                return fail(e, "message", "holds both %s and %s; give exactly one message kind",
                            found, k);
            found = k;
        } else if (!in_list(k, overrides)) {
            sub(f, sizeof f, "message", k);
            return fail(e, f, "unknown field");
        }
    }
    if (!found) {
        join_list(names, sizeof names, kinds);
        return fail(e, "message", "give exactly one message kind (one of %s)", names);
    }
    sub(f, sizeof f, "message", found);
    return message_kind(found, json_object_get(m, found), f, e);
}

static int recipient_entry(json_t *rp, const char *field, int dispatch_only, mock_verr *e) {
    char f[300], g[300];
    json_t *r, *cid, *ib, *v;
    const char *k;
    if (object(rp, field, e)) return -1;
    json_object_foreach(rp, k, v) {
        if (strcmp(k, "recipient") && strcmp(k, "parameters") &&
            strcmp(k, "message_metadata") && strcmp(k, "conversation_metadata")) {
            sub(f, sizeof f, field, k);
            return fail(e, f, "unknown field");
        }
    }
    sub(f, sizeof f, field, "recipient");
    r = json_object_get(rp, "recipient");
    if (!r) return fail(e, f, "is required");
    if (object(r, f, e)) return -1;
    cid = json_object_get(r, "contact_id");
    ib = json_object_get(r, "identified_by");
    if ((cid != NULL) == (ib != NULL))
        return fail(e, f, "give exactly one of contact_id and identified_by");
    if (cid) {
        sub(g, sizeof g, f, "contact_id");
        if (nonempty_string(cid, g, e)) return -1;
        if (dispatch_only)
            return fail(e, g, "processing_strategy DISPATCH_ONLY takes identified_by "
                              "recipients only");
    } else {
        sub(g, sizeof g, f, "identified_by");
        if (object(ib, g, e)) return -1;
        sub(g, sizeof g, f, "identified_by.channel_identities");
        if (identities(json_object_get(ib, "channel_identities"), g, 0, e)) return -1;
    }
    if ((v = json_object_get(rp, "parameters"))) {
        sub(f, sizeof f, field, "parameters");
        if (string_map(v, f, 0, e)) return -1;
    }
    if ((v = json_object_get(rp, "message_metadata"))) {
        sub(f, sizeof f, field, "message_metadata");
        if (object(v, f, e)) return -1;
    }
    if ((v = json_object_get(rp, "conversation_metadata"))) {
        sub(f, sizeof f, field, "conversation_metadata");
        if (object(v, f, e)) return -1;
    }
    return 0;
}

static int ttl(json_t *v, mock_verr *e) {
    const char *s;
    size_t n, i;
    long long secs = 0;
    if (!json_is_string(v)) return fail(e, "ttl", "must be a string like \"86400s\"");
    s = json_string_value(v);
    n = strlen(s);
    if (n < 2 || n > 14 || s[n - 1] != 's')
        return fail(e, "ttl", "'%.32s' is not a duration like \"86400s\"", s);
    for (i = 0; i + 1 < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return fail(e, "ttl", "'%.32s' is not a duration like \"86400s\"", s);
        secs = secs * 10 + (s[i] - '0');
    }
    if (secs < 3 || secs > 315576000000LL)
        return fail(e, "ttl", "must be between 3s and 315576000000s");
    return 0;
}

static int send_after(json_t *v, int64_t now_ms, int64_t *out, mock_verr *e) {
    int64_t t;
    if (!json_is_string(v))
        return fail(e, "send_after", "must be an RFC 3339 date-time string");
    t = mock_parse_time(json_string_value(v));
    if (t < 0)
        return fail(e, "send_after", "'%.40s' is not an RFC 3339 date-time "
                    "(like 2025-10-01T08:00:00Z)", json_string_value(v));
    if (t > now_ms + WEEK_MS) return fail(e, "send_after", "must be at most 7 days ahead");
    /* more than a minute ahead: rounded up to the next 5-minute mark */
    if (t > now_ms + 60000 && t % FIVE_MIN_MS) t += FIVE_MIN_MS - t % FIVE_MIN_MS;
    *out = t;
    return 0;
}

int mock_validate_send(json_t *body, int64_t now_ms, int64_t *send_after_ms, mock_verr *e) {
    const char *k;
    json_t *v, *list;
    size_t i;
    int dispatch_only = 0;
    char f[300];
    static const char *const known[] = {
        "app_id", "message", "recipient_and_params", "processing_strategy",
        "batch_metadata", "message_metadata", "conversation_metadata", "send_after",
        "callback_url", "channel_priority_order", "ttl", "channel_properties",
        "correlation_id", NULL};
    *send_after_ms = 0;
    if (!json_is_object(body)) return fail(e, "body", "must be a JSON object");
    json_object_foreach(body, k, v) {
        if (!in_list(k, known)) return fail(e, k, "unknown field");
    }
    if (nonempty_string(json_object_get(body, "app_id"), "app_id", e)) return -1;
    if ((v = json_object_get(body, "processing_strategy"))) {
        if (check_enum(v, "processing_strategy", strategies, "a processing strategy", e))
            return -1;
        dispatch_only = strcmp(json_string_value(v), "DISPATCH_ONLY") == 0;
    }
    if (message(json_object_get(body, "message"), e)) return -1;
    list = json_object_get(body, "recipient_and_params");
    if (sized_array(list, "recipient_and_params", "a batch", "recipients", "recipient",
                    MAX_ITEMS, e))
        return -1;
    json_array_foreach(list, i, v) {
        at(f, sizeof f, "recipient_and_params", i);
        if (recipient_entry(v, f, dispatch_only, e)) return -1;
    }
    if ((v = json_object_get(body, "batch_metadata")) && string_map(v, "batch_metadata", 0, e))
        return -1;
    if ((v = json_object_get(body, "message_metadata")) && object(v, "message_metadata", e))
        return -1;
    if ((v = json_object_get(body, "conversation_metadata")) &&
        object(v, "conversation_metadata", e))
        return -1;
    if ((v = json_object_get(body, "send_after")) && send_after(v, now_ms, send_after_ms, e))
        return -1;
    if ((v = json_object_get(body, "callback_url")) && !json_is_string(v))
        return fail(e, "callback_url", "must be a string");
    if ((v = json_object_get(body, "correlation_id")) &&
        (!json_is_string(v) || json_string_length(v) > 128))
        return fail(e, "correlation_id", "must be a string of at most 128 characters");
    if ((v = json_object_get(body, "channel_priority_order"))) {
        json_t *c;
        if (!json_is_array(v))
            return fail(e, "channel_priority_order", "must be an array of channels");
        json_array_foreach(v, i, c) {
            at(f, sizeof f, "channel_priority_order", i);
            if (check_enum(c, f, channels, "a channel", e)) return -1;
        }
    }
    if ((v = json_object_get(body, "ttl")) && ttl(v, e)) return -1;
    if ((v = json_object_get(body, "channel_properties")) &&
        string_map(v, "channel_properties", 1024, e))
        return -1;
    return 0;
}

int mock_validate_create_contacts(json_t *body, mock_verr *e) {
    json_t *list, *c, *v;
    size_t i;
    char f[300], g[300];
    if (!json_is_object(body)) return fail(e, "body", "must be a JSON object");
    list = json_object_get(body, "contacts");
    if (sized_array(list, "contacts", "a request", "contacts", "contact", MAX_ITEMS, e))
        return -1;
    json_array_foreach(list, i, c) {
        at(f, sizeof f, "contacts", i);
        if (object(c, f, e)) return -1;
        sub(g, sizeof g, f, "channel_identities");
        if (identities(json_object_get(c, "channel_identities"), g, 1, e)) return -1;
        sub(g, sizeof g, f, "language");
        if (!(v = json_object_get(c, "language"))) return fail(e, g, "is required");
        if (check_enum(v, g, languages, "a contact language", e)) return -1;
        if ((v = json_object_get(c, "channel_priority"))) {
            size_t j;
            json_t *ch;
            sub(g, sizeof g, f, "channel_priority");
            if (!json_is_array(v)) return fail(e, g, "must be an array of channels");
            json_array_foreach(v, j, ch) {
                char h[320];
                at(h, sizeof h, g, j);
                if (check_enum(ch, h, channels, "a channel", e)) return -1;
            }
        }
        if ((v = json_object_get(c, "metadata"))) {
            sub(g, sizeof g, f, "metadata");
            if (!json_is_string(v)) return fail(e, g, "must be a string");
            if (json_string_length(v) > 1024)
                return fail(e, g, "is longer than 1024 characters");
        }
    }
    return 0;
}

int mock_validate_delete_contacts(json_t *body, mock_verr *e) {
    json_t *list, *v;
    size_t i;
    char f[300];
    if (!json_is_object(body)) return fail(e, "body", "must be a JSON object");
    list = json_object_get(body, "contact_ids");
    if (sized_array(list, "contact_ids", "a request", "contact ids", "contact id",
                    MAX_ITEMS, e))
        return -1;
    json_array_foreach(list, i, v) {
        at(f, sizeof f, "contact_ids", i);
        if (nonempty_string(v, f, e)) return -1;
    }
    return 0;
}

int mock_validate_consents(json_t *body, mock_verr *e) {
    json_t *list, *r, *v;
    size_t i;
    char f[300], g[300];
    if (!json_is_object(body)) return fail(e, "body", "must be a JSON object");
    if (nonempty_string(json_object_get(body, "app_id"), "app_id", e)) return -1;
    list = json_object_get(body, "consent_records");
    if (sized_array(list, "consent_records", "a request", "consent records",
                    "consent record", MAX_ITEMS, e))
        return -1;
    json_array_foreach(list, i, r) {
        at(f, sizeof f, "consent_records", i);
        if (object(r, f, e)) return -1;
        sub(g, sizeof g, f, "identification");
        if (nonempty_string(json_object_get(r, "identification"), g, e)) return -1;
        sub(g, sizeof g, f, "consent_type");
        if ((v = json_object_get(r, "consent_type")) &&
            check_enum(v, g, consent_types, "a consent type", e))
            return -1;
    }
    return 0;
}

int mock_validate_cancel(json_t *body, mock_verr *e) {
    json_t *v;
    size_t i;
    int forms = 0;
    char f[300];
    if (!json_is_object(body)) return fail(e, "body", "must be a JSON object");
    if ((v = json_object_get(body, "batch_id"))) {
        forms++;
        if (nonempty_string(v, "batch_id", e)) return -1;
    }
    if ((v = json_object_get(body, "batch_ids"))) {
        json_t *id;
        forms++;
        if (sized_array(v, "batch_ids", "a request", "batch ids", "batch id", MAX_ITEMS, e))
            return -1;
        json_array_foreach(v, i, id) {
            at(f, sizeof f, "batch_ids", i);
            if (nonempty_string(id, f, e)) return -1;
        }
    }
    if ((v = json_object_get(body, "metadata_key"))) {
        forms++;
        if (nonempty_string(v, "metadata_key", e)) return -1;
        if (nonempty_string(json_object_get(body, "metadata_value"), "metadata_value", e))
            return -1;
    } else if (json_object_get(body, "metadata_value")) {
        return fail(e, "metadata_key", "is required with metadata_value");
    }
    if ((v = json_object_get(body, "batch_metadata"))) {
        forms++;
        if (string_map(v, "batch_metadata", 0, e)) return -1;
        if (json_object_size(v) == 0)
            return fail(e, "batch_metadata", "must hold at least one key");
    }
    if (forms != 1)
        return fail(e, "body", "give exactly one of batch_id, batch_ids, "
                    "metadata_key with metadata_value, or batch_metadata");
    return 0;
}

static void collect_params(json_t *v, json_t *names) {
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_string(v)) {
        const char *s = json_string_value(v), *p = s, *end;
        while ((p = strstr(p, "${")) != NULL) {
            end = strchr(p + 2, '}');
            if (!end) break;
            if (end > p + 2) {
                char name[256];
                size_t n = (size_t)(end - p - 2);
                if (n < sizeof name) {
                    memcpy(name, p + 2, n);
                    name[n] = '\0';
                    json_object_set_new(names, name, json_true());
                }
            }
            p = end + 1;
        }
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
