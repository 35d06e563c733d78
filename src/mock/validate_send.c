/* validate_send.c -- the server-side checks of POST /messages (send a
 * batch): the message, 1..1000 recipients, and the optional fields.
 * Fields the sandbox does not know (top level, message, recipient entry)
 * are recorded and accepted, as the API may know them; --strict refuses. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

#define WEEK_MS (7LL * 24 * 3600 * 1000)
#define FIVE_MIN_MS (5LL * 60 * 1000)
#define TTL_MIN 3LL
#define TTL_MAX 315576000000LL

static const char *const strategies[] = {"DEFAULT", "DISPATCH_ONLY", NULL};

static const char *const kinds[] = {
    "text_message", "media_message", "template_message", "choice_message",
    "card_message", "carousel_message", "location_message", "contact_info_message",
    "list_message", NULL};

static const char *const overrides[] = {"explicit_channel_message",
                                        "explicit_channel_omni_message",
                                        "channel_specific_message", "agent", NULL};

/* A field the sandbox does not know: recorded in unknown, or refused when
 * unknown is NULL (--strict). */
static int unknown_field(json_t *unknown, const char *field, mock_verr *e) {
    if (!unknown) return mock_vfail(e, field, "unknown field");
    if (json_array_size(unknown) < 100) json_array_append_new(unknown, json_string(field));
    return 0;
}


static int required_member(json_t *obj, const char *field, const char *key, mock_verr *e) {
    char f[300];
    mock_vsub(f, sizeof f, field, key);
    if (!json_object_get(obj, key)) return mock_vfail(e, f, "is required");
    return 0;
}

static int max_items(json_t *obj, const char *field, const char *key, size_t max,
                     int required, mock_verr *e) {
    char f[300];
    json_t *v = json_object_get(obj, key);
    mock_vsub(f, sizeof f, field, key);
    if (!v) return required ? mock_vfail(e, f, "is required") : 0;
    if (!json_is_array(v)) return mock_vfail(e, f, "must be an array");
    if (required && json_array_size(v) == 0) return mock_vfail(e, f, "must not be empty");
    if (json_array_size(v) > max) {
        char g[320];
        mock_vat(g, sizeof g, f, max);
        return mock_vfail(e, g, "holds at most %zu items", max);
    }
    return 0;
}

static int message_kind(const char *kind, json_t *m, const char *field, mock_verr *e) {
    char f[300];
    if (mock_vobject(m, field, e)) return -1;
    if (strcmp(kind, "text_message") == 0) {
        mock_vsub(f, sizeof f, field, "text");
        return mock_nonempty_string(json_object_get(m, "text"), f, e);
    }
    if (strcmp(kind, "media_message") == 0) {
        json_t *url = json_object_get(m, "url");
        mock_vsub(f, sizeof f, field, "url");
        if (mock_nonempty_string(url, f, e)) return -1;
        /* ours, --strict only: the reference states no URL format */
        if (mock_cfg.strict && strncmp(json_string_value(url), "http://", 7) != 0 &&
            strncmp(json_string_value(url), "https://", 8) != 0)
            return mock_vfail(e, f, "must be an http:// or https:// URL (--strict)");
        return 0;
    }
    if (strcmp(kind, "template_message") == 0) {
        if (!json_object_get(m, "omni_template") && !json_object_get(m, "channel_template"))
            return mock_vfail(e, field, "needs omni_template or channel_template");
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
        mock_vsub(f, sizeof f, field, "coordinates");
        if (!json_is_object(c) || !json_is_number(json_object_get(c, "latitude")) ||
            !json_is_number(json_object_get(c, "longitude")))
            return mock_vfail(e, f, "needs numeric latitude and longitude");
        mock_vsub(f, sizeof f, field, "title");
        return mock_nonempty_string(json_object_get(m, "title"), f, e);
    }
    if (strcmp(kind, "contact_info_message") == 0) {
        json_t *name = json_object_get(m, "name");
        if (required_member(m, field, "name", e)) return -1;
        mock_vsub(f, sizeof f, field, "name.full_name");
        if (mock_nonempty_string(json_object_get(name, "full_name"), f, e)) return -1;
        return max_items(m, field, "phone_numbers", 1000, 1, e);
    }
    if (strcmp(kind, "list_message") == 0) {
        mock_vsub(f, sizeof f, field, "title");
        if (mock_nonempty_string(json_object_get(m, "title"), f, e)) return -1;
        return max_items(m, field, "sections", 1000, 1, e);
    }
    return 0;
}

static int message(json_t *m, json_t *unknown, mock_verr *e) {
    const char *k, *found = NULL;
    json_t *v;
    char f[300], names[512];
    if (!m) return mock_vfail(e, "message", "is required");
    if (mock_vobject(m, "message", e)) return -1;
    json_object_foreach(m, k, v) {
        if (mock_in_list(k, kinds)) {
            if (found)
                return mock_vfail(e, "message", "holds both %s and %s; give exactly one message kind",
                            found, k);
            found = k;
        } else if (!mock_in_list(k, overrides)) {
            mock_vsub(f, sizeof f, "message", k);
            if (unknown_field(unknown, f, e)) return -1;
        }
    }
    if (!found) {
        mock_join_list(names, sizeof names, kinds);
        return mock_vfail(e, "message", "give exactly one message kind (one of %s)", names);
    }
    mock_vsub(f, sizeof f, "message", found);
    return message_kind(found, json_object_get(m, found), f, e);
}

/* --strict: our refusal of "_batch_id" in metadata (the API overwrites it). */
static int no_batch_id(json_t *v, const char *field, mock_verr *e) {
    char f[300];
    if (!mock_cfg.strict || !json_object_get(v, "_batch_id")) return 0;
    mock_vsub(f, sizeof f, field, "_batch_id");
    return mock_vfail(e, f, "reserved: the API sets it to the batch id (--strict)");
}

static int recipient_entry(json_t *rp, const char *field, int dispatch_only, json_t *unknown,
                           mock_verr *e) {
    char f[300], g[300];
    json_t *r, *cid, *ib, *v;
    const char *k;
    if (mock_vobject(rp, field, e)) return -1;
    json_object_foreach(rp, k, v) {
        if (strcmp(k, "recipient") && strcmp(k, "parameters") &&
            strcmp(k, "message_metadata") && strcmp(k, "conversation_metadata")) {
            mock_vsub(f, sizeof f, field, k);
            if (unknown_field(unknown, f, e)) return -1;
        }
    }
    mock_vsub(f, sizeof f, field, "recipient");
    r = json_object_get(rp, "recipient");
    if (!r) return mock_vfail(e, f, "is required");
    if (mock_vobject(r, f, e)) return -1;
    cid = json_object_get(r, "contact_id");
    ib = json_object_get(r, "identified_by");
    if ((cid != NULL) == (ib != NULL))
        return mock_vfail(e, f, "give exactly one of contact_id and identified_by");
    if (cid) {
        mock_vsub(g, sizeof g, f, "contact_id");
        if (mock_nonempty_string(cid, g, e)) return -1;
        if (dispatch_only)
            return mock_vfail(e, g, "processing_strategy DISPATCH_ONLY takes identified_by "
                              "recipients only");
    } else {
        mock_vsub(g, sizeof g, f, "identified_by");
        if (mock_vobject(ib, g, e)) return -1;
        mock_vsub(g, sizeof g, f, "identified_by.channel_identities");
        if (mock_identities(json_object_get(ib, "channel_identities"), g, 0, e)) return -1;
    }
    if ((v = json_object_get(rp, "parameters"))) {
        mock_vsub(f, sizeof f, field, "parameters");
        if (mock_string_map(v, f, 0, e)) return -1;
    }
    if ((v = json_object_get(rp, "message_metadata"))) {
        mock_vsub(f, sizeof f, field, "message_metadata");
        if (mock_vobject(v, f, e) || no_batch_id(v, f, e)) return -1;
    }
    if ((v = json_object_get(rp, "conversation_metadata"))) {
        mock_vsub(f, sizeof f, field, "conversation_metadata");
        if (mock_vobject(v, f, e)) return -1;
    }
    return 0;
}

/* "<int>s", as the reference shows it ("86400s"); leading zeros and any
 * length are read without overflow.  The range 3..315,576,000,000 is the
 * single-send API's, not documented for batches: --strict only. */
static int ttl(json_t *v, mock_verr *e) {
    const char *s;
    size_t n, i;
    long long secs = 0;
    if (!json_is_string(v)) return mock_vfail(e, "ttl", "must be a string like \"86400s\"");
    s = json_string_value(v);
    n = json_string_length(v);
    if (n < 2 || s[n - 1] != 's')
        return mock_vfail(e, "ttl", "'%.32s' is not a duration like \"86400s\"", s);
    for (i = 0; i + 1 < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return mock_vfail(e, "ttl", "'%.32s' is not a duration like \"86400s\"", s);
        if (secs <= TTL_MAX) secs = secs * 10 + (s[i] - '0');
    }
    if (mock_cfg.strict && (secs < TTL_MIN || secs > TTL_MAX))
        return mock_vfail(e, "ttl", "must be a whole number of seconds from 3 to 315576000000 "
                          "(--strict: the single-send range)");
    return 0;
}

/* More than a minute ahead: rounded up to the next 5-minute mark; at most 7
 * days ahead, checked on the time the API would use (after rounding). */
static int send_after(json_t *v, int64_t now_ms, int64_t *out, mock_verr *e) {
    int64_t t;
    if (!json_is_string(v))
        return mock_vfail(e, "send_after", "must be an RFC 3339 date-time string");
    t = mock_parse_time(json_string_value(v));
    if (t < 0)
        return mock_vfail(e, "send_after", "'%.40s' is not an RFC 3339 date-time "
                    "(like 2025-10-01T08:00:00Z)", json_string_value(v));
    if (t > now_ms + 60000 && t % FIVE_MIN_MS) t += FIVE_MIN_MS - t % FIVE_MIN_MS;
    if (t > now_ms + WEEK_MS)
        return mock_vfail(e, "send_after", "must be at most 7 days ahead (after rounding up "
                          "to the next 5 minutes)");
    *out = t;
    return 0;
}

int mock_validate_send(json_t *body, int64_t now_ms, int64_t *send_after_ms, json_t *unknown,
                       mock_verr *e) {
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
    if (!json_is_object(body)) return mock_vfail(e, "body", "must be a JSON object");
    json_object_foreach(body, k, v) {
        if (!mock_in_list(k, known) && unknown_field(unknown, k, e)) return -1;
    }
    if (mock_nonempty_string(json_object_get(body, "app_id"), "app_id", e)) return -1;
    if ((v = json_object_get(body, "processing_strategy"))) {
        if (mock_check_enum(v, "processing_strategy", strategies, "a processing strategy", e))
            return -1;
        dispatch_only = strcmp(json_string_value(v), "DISPATCH_ONLY") == 0;
    }
    if (message(json_object_get(body, "message"), unknown, e)) return -1;
    list = json_object_get(body, "recipient_and_params");
    if (mock_sized_array(list, "recipient_and_params", "a batch", "recipients", "recipient",
                    MOCK_MAX_ITEMS, e))
        return -1;
    json_array_foreach(list, i, v) {
        mock_vat(f, sizeof f, "recipient_and_params", i);
        if (recipient_entry(v, f, dispatch_only, unknown, e)) return -1;
    }
    if ((v = json_object_get(body, "batch_metadata")) && mock_string_map(v, "batch_metadata", 0, e))
        return -1;
    if ((v = json_object_get(body, "message_metadata")) &&
        (mock_vobject(v, "message_metadata", e) || no_batch_id(v, "message_metadata", e)))
        return -1;
    if ((v = json_object_get(body, "conversation_metadata")) &&
        mock_vobject(v, "conversation_metadata", e))
        return -1;
    if ((v = json_object_get(body, "send_after")) && send_after(v, now_ms, send_after_ms, e))
        return -1;
    if ((v = json_object_get(body, "callback_url")) && !json_is_string(v))
        return mock_vfail(e, "callback_url", "must be a string");
    /* 128 is the single-send limit; batches document none: --strict only */
    if ((v = json_object_get(body, "correlation_id")) &&
        (!json_is_string(v) || (mock_cfg.strict && json_string_length(v) > 128)))
        return mock_vfail(e, "correlation_id", mock_cfg.strict
                              ? "must be a string of at most 128 characters (--strict)"
                              : "must be a string");
    if ((v = json_object_get(body, "channel_priority_order"))) {
        json_t *c;
        if (!json_is_array(v))
            return mock_vfail(e, "channel_priority_order", "must be an array of channels");
        json_array_foreach(v, i, c) {
            mock_vat(f, sizeof f, "channel_priority_order", i);
            if (mock_check_enum(c, f, mock_channels, "a channel", e)) return -1;
        }
    }
    if ((v = json_object_get(body, "ttl")) && ttl(v, e)) return -1;
    /* 1024 per value is the single-send limit: --strict only */
    if ((v = json_object_get(body, "channel_properties")) &&
        mock_string_map(v, "channel_properties", mock_cfg.strict ? 1024 : 0, e))
        return -1;
    return 0;
}

