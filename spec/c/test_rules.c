/* test_rules.c -- the API rules written once in src/core/rules.c. */
#include "check.h"
#include "sinch_batch.h"

static int phone(const char *s) { return sinch_batch_phone_ok(s, strlen(s)); }
static int e164(const char *s) { return sinch_batch_phone_e164(s, strlen(s)); }

/* The API's rule refuses only what cannot be a phone identity (the
 * reference states no format; "+0987654321" is its own example form). */
static void test_phone(void) {
    CHECK_INT(phone("+46700000001"), 1);
    CHECK_INT(phone("46700000001"), 1);    /* Sinch's own callback example form */
    CHECK_INT(phone("+0987654321"), 1);    /* the API reference's example form */
    CHECK_INT(phone("0467000001"), 1);
    CHECK_INT(phone("+123456"), 1);        /* short: no length is documented */
    CHECK_INT(phone("+1234567890123456"), 1);
    CHECK_INT(phone("1"), 1);
    CHECK_INT(phone("+4670 000001"), 0);
    CHECK_INT(phone("++46700000001"), 0);
    CHECK_INT(phone("+46abc"), 0);
    CHECK_INT(phone("hello"), 0);
    CHECK_INT(phone(""), 0);
    CHECK_INT(phone("+"), 0);
    CHECK_INT(sinch_batch_phone_ok("+4", 1), 0); /* the length is taken */
    CHECK_INT(sinch_batch_phone_ok(NULL, 0), 0);
}

/* Our stricter E.164 shape, asked for with SINCH_BATCH_PLAN_E164. */
static void test_e164(void) {
    CHECK_INT(e164("+46700000001"), 1);
    CHECK_INT(e164("46700000001"), 1);
    CHECK_INT(e164("+1234567"), 1);       /* 7 digits */
    CHECK_INT(e164("123456789012345"), 1); /* 15 digits */
    CHECK_INT(e164("+123456"), 0);        /* 6 digits */
    CHECK_INT(e164("+1234567890123456"), 0); /* 16 digits */
    CHECK_INT(e164("+0987654321"), 0);    /* leading zero */
    CHECK_INT(e164("+46abc000000"), 0);
    CHECK_INT(e164(""), 0);
    CHECK_INT(sinch_batch_phone_e164(NULL, 0), 0);
}

/* All names in s joined by "|". */
static void names(const char *s, char *out, size_t outsz) {
    size_t pos = 0, n, len = strlen(s);
    const char *name;
    out[0] = '\0';
    while (sinch_batch_param_next(s, len, &pos, &name, &n)) {
        if (out[0]) strncat(out, "|", outsz - strlen(out) - 1);
        strncat(out, name, n < outsz - strlen(out) - 1 ? n : outsz - strlen(out) - 1);
    }
    CHECK(pos <= len);
}

static void test_params(void) {
    char out[256];
    names("Hi ${name}, code ${code}", out, sizeof out);
    CHECK_STR(out, "name|code");
    names("${first name} and ${a.b-c_d}", out, sizeof out);
    CHECK_STR(out, "first name|a.b-c_d");
    names("${} ${x", out, sizeof out);
    CHECK_STR(out, "");
    names("$${x}}", out, sizeof out);
    CHECK_STR(out, "x");
    names("${${y}", out, sizeof out);
    CHECK_STR(out, "${y");
    names("${ } ${\t} ${ x }", out, sizeof out); /* a blank name is text (ours) */
    CHECK_STR(out, " x ");
    names("no params $ { }", out, sizeof out);
    CHECK_STR(out, "");
    names("", out, sizeof out);
    CHECK_STR(out, "");
}

static void test_channels(void) {
    const sinch_batch_channel *c = sinch_batch_channel_find(NULL, "SMS", 3);
    CHECK(c != NULL && (c->flags & SINCH_BATCH_CHANNEL_PHONE));
    c = sinch_batch_channel_find(NULL, "MESSENGER", 9);
    CHECK(c != NULL && (c->flags & SINCH_BATCH_CHANNEL_APP_SCOPED));
    CHECK(sinch_batch_channel_find(NULL, "SM", 2) == NULL);
    CHECK(sinch_batch_channel_find(NULL, "SMSX", 4) == NULL);
    CHECK(sinch_batch_channels()[0].name != NULL);
    {
        static const sinch_batch_channel mine[] = {{"NEWCHAN", 0}, {NULL, 0}};
        CHECK(sinch_batch_channel_find(mine, "NEWCHAN", 7) != NULL);
        CHECK(sinch_batch_channel_find(mine, "SMS", 3) == NULL);
    }
}

int main(void) {
    RUN(test_phone);
    RUN(test_e164);
    RUN(test_params);
    RUN(test_channels);
    CHECK_DONE();
}
