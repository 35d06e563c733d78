/* The API rules the client checks, each written once (see sinch_batch.h). */
#include <string.h>

#include "core.h"

int sb_is_dot_segment(const char *s) {
    return s != NULL && s[0] == '.' && (s[1] == '\0' || (s[1] == '.' && s[2] == '\0'));
}

/* What can be a phone identity (an MSISDN, as the API reference calls the
 * identity of SMS, WhatsApp and Viber): an optional "+", then one or more
 * digits.  Nothing more is documented, so nothing more is refused here:
 * "+0987654321", the reference's own example form, passes. */
int sinch_batch_phone_ok(const char *s, size_t len) {
    size_t i = 0;
    if (s == NULL) return 0;
    if (len > 0 && s[0] == '+') i = 1;
    if (i >= len) return 0;
    for (; i < len; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

/* Our stricter check, not the API's: the E.164 shape, an optional "+" then
 * 7 to 15 digits, the first not 0 (a country code never starts with 0). */
int sinch_batch_phone_e164(const char *s, size_t len) {
    size_t i = 0, digits;
    if (!sinch_batch_phone_ok(s, len)) return 0;
    if (s[0] == '+') i = 1;
    digits = len - i;
    return digits >= 7 && digits <= 15 && s[i] != '0';
}

/* A name of only blanks (spaces, tabs) is not a parameter: ours, the
 * reference gives no grammar (docs/api-rules.md). */
static int blank(const char *s, size_t n) {
    size_t i;
    for (i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t') return 0;
    return 1;
}

int sinch_batch_param_next(const char *s, size_t len, size_t *pos, const char **name,
                           size_t *name_len) {
    size_t i = *pos, j;
    while (i + 1 < len) {
        if (s[i] == '$' && s[i + 1] == '{') {
            for (j = i + 2; j < len && s[j] != '}'; j++) {}
            if (j >= len) return 0; /* no closing brace: plain text to the end */
            if (j > i + 2 && !blank(s + i + 2, j - (i + 2))) {
                *name = s + i + 2;
                *name_len = j - (i + 2);
                *pos = j + 1;
                return 1;
            }
            i = j + 1; /* "${}" and "${ }" are plain text */
            continue;
        }
        i++;
    }
    *pos = len;
    return 0;
}

static const sinch_batch_channel channels[] = {
    {"SMS", SINCH_BATCH_CHANNEL_PHONE},
    {"MMS", SINCH_BATCH_CHANNEL_PHONE},
    {"WHATSAPP", SINCH_BATCH_CHANNEL_PHONE},
    {"RCS", SINCH_BATCH_CHANNEL_PHONE},
    {"VIBERBM", SINCH_BATCH_CHANNEL_PHONE},
    {"MESSENGER", SINCH_BATCH_CHANNEL_APP_SCOPED},
    {"INSTAGRAM", SINCH_BATCH_CHANNEL_APP_SCOPED},
    {"LINE", SINCH_BATCH_CHANNEL_APP_SCOPED},
    {"WECHAT", SINCH_BATCH_CHANNEL_APP_SCOPED},
    {"TELEGRAM", 0},
    {"KAKAOTALK", 0},
    {"KAKAOTALKCHAT", 0},
    {"APPLEBC", 0},
    {"SINCH_CHAT", 0},
    {NULL, 0},
};

const sinch_batch_channel *sinch_batch_channels(void) { return channels; }

const sinch_batch_channel *sinch_batch_channel_find(const sinch_batch_channel *table,
                                                    const char *name, size_t len) {
    const sinch_batch_channel *c;
    if (name == NULL) return NULL;
    for (c = table ? table : channels; c->name; c++)
        if (strlen(c->name) == len && memcmp(c->name, name, len) == 0) return c;
    return NULL;
}
