/* test_json.c -- the streaming JSON writer (src/core/json.c). */
#include <jansson.h>
#include <math.h>

#include "check.h"
#include "json.h"

/* Write s as a JSON string into a fresh buffer; returns the writer's code
 * and leaves the text in *out (caller frees). */
static int str_of(const char *s, size_t n, char **out, size_t *bad) {
    sb_buf b;
    int rc;
    sb_buf_init(&b);
    rc = sb_json_str(&b, s, n, bad);
    *out = sb_buf_steal(&b, NULL);
    return rc;
}

static void test_plain_ascii(void) {
    char *out;
    CHECK_INT(str_of("hello, world", 12, &out, NULL), SB_JSON_OK);
    CHECK_STR(out, "\"hello, world\"");
    free(out);
    CHECK_INT(str_of("", 0, &out, NULL), SB_JSON_OK);
    CHECK_STR(out, "\"\"");
    free(out);
}

static void test_short_escapes(void) {
    char *out;
    CHECK_INT(str_of("a\"b\\c/\b\f\n\r\t", 11, &out, NULL), SB_JSON_OK);
    CHECK_STR(out, "\"a\\\"b\\\\c/\\b\\f\\n\\r\\t\"");
    free(out);
}

static void test_control_chars_as_u00xx(void) {
    char *out;
    const char in[] = {'x', 0x00, 0x01, 0x0b, 0x1f, 0x7f, 'y'};
    CHECK_INT(str_of(in, sizeof in, &out, NULL), SB_JSON_OK);
    /* DEL (0x7f) needs no escape in JSON */
    CHECK_STR(out, "\"x\\u0000\\u0001\\u000b\\u001f\x7fy\"");
    free(out);
}

static void test_every_control_char_round_trips(void) {
    char in[32], *out;
    json_t *v;
    int i;
    for (i = 0; i < 32; i++) in[i] = (char)i;
    CHECK_INT(str_of(in, sizeof in, &out, NULL), SB_JSON_OK);
    v = json_loads(out, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    CHECK(v != NULL && json_is_string(v));
    CHECK(v != NULL && json_string_length(v) == 32 && memcmp(json_string_value(v), in, 32) == 0);
    json_decref(v);
    free(out);
}

static void test_many_escapes_grow_the_buffer(void) {
    /* 1000 quotes: 2000 bytes of output from 1000 bytes of input, and 1000
     * NULs: 6000 bytes */
    char in[1000], *out;
    size_t len;
    sb_buf b;
    memset(in, '"', sizeof in);
    CHECK_INT(str_of(in, sizeof in, &out, NULL), SB_JSON_OK);
    CHECK_INT(strlen(out), 2002);
    free(out);
    memset(in, 0, sizeof in);
    sb_buf_init(&b);
    sb_buf_puts(&b, "prefix:");
    CHECK_INT(sb_json_str(&b, in, sizeof in, NULL), SB_JSON_OK);
    out = sb_buf_steal(&b, &len);
    CHECK_INT(len, 7 + 6002);
    CHECK(strncmp(out, "prefix:\"\\u0000\\u0000", 20) == 0);
    CHECK_STR(out + len - 7, "\\u0000\"");
    free(out);
}

static void test_utf8_kept(void) {
    char *out;
    /* 2-, 3- and 4-byte sequences: é, €, U+FFFF, 😀, U+10FFFF */
    const char *s = "caf\xc3\xa9 \xe2\x82\xac \xef\xbf\xbf \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf";
    CHECK_INT(str_of(s, strlen(s), &out, NULL), SB_JSON_OK);
    CHECK(out[0] == '"' && strncmp(out + 1, s, strlen(s)) == 0);
    CHECK_INT(strlen(out), strlen(s) + 2);
    free(out);
    CHECK_INT(sb_json_utf8_check(s, strlen(s)), strlen(s));
}

static void test_invalid_utf8_rejected(void) {
    static const struct {
        const char *s;
        size_t bad;
    } cases[] = {
        {"ab\x80", 2},               /* stray continuation byte */
        {"\xc3", 0},                 /* truncated 2-byte sequence */
        {"x\xc3(", 1},               /* bad continuation */
        {"\xc0\xaf", 0},             /* overlong '/' */
        {"ok\xe0\x80\xaf", 2},       /* overlong 3-byte */
        {"\xed\xa0\x80", 0},         /* UTF-16 surrogate D800 */
        {"\xf0\x8f\xbf\xbf", 0},     /* overlong 4-byte */
        {"\xf4\x90\x80\x80", 0},     /* above U+10FFFF */
        {"\xf5\x80\x80\x80", 0},     /* never a lead byte */
        {"\xe2\x82", 0},             /* truncated 3-byte */
        {"\xc3\xa9\xff", 2},         /* 0xff after a good é */
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sb_buf b;
        size_t bad = 99;
        sb_buf_init(&b);
        sb_buf_puts(&b, "[");
        CHECK_INT(sb_json_str(&b, cases[i].s, strlen(cases[i].s), &bad), SB_JSON_EUTF8);
        CHECK_INT(bad, cases[i].bad);
        /* nothing half-written stays behind */
        CHECK_INT(b.len, 1);
        CHECK_STR(b.data, "[");
        CHECK_INT(sb_json_utf8_check(cases[i].s, strlen(cases[i].s)), cases[i].bad);
        sb_buf_free(&b);
    }
}

/* The word-at-a-time scan against a byte-by-byte reference, on strings
 * with specials at every position around the 8-byte boundaries. */
static void reference(sb_buf *b, const unsigned char *s, size_t n) {
    size_t i;
    sb_buf_putc(b, '"');
    for (i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == '"') sb_buf_puts(b, "\\\"");
        else if (c == '\\') sb_buf_puts(b, "\\\\");
        else if (c == '\n') sb_buf_puts(b, "\\n");
        else if (c == '\t') sb_buf_puts(b, "\\t");
        else if (c == '\r') sb_buf_puts(b, "\\r");
        else if (c == '\b') sb_buf_puts(b, "\\b");
        else if (c == '\f') sb_buf_puts(b, "\\f");
        else if (c < 0x20) sb_buf_appendf(b, "\\u%04x", c);
        else sb_buf_putc(b, (char)c);
    }
    sb_buf_putc(b, '"');
}

/* sb_json_str_at() into a buffer of exactly SB_JSON_STR_ROOM(n) bytes, from
 * an exact copy of the input (ASan sees any read or write past either);
 * appended to b.  Returns the writer's result. */
static int str_at(sb_buf *b, const unsigned char *s, size_t n, size_t *bad) {
    char *in = malloc(n ? n : 1), *out = malloc(SB_JSON_STR_ROOM(n)), *end;
    memcpy(in, s, n);
    end = sb_json_str_at(out, in, n, bad);
    if (end != NULL) {
        CHECK((size_t)(end - out) <= SB_JSON_STR_ROOM(n));
        sb_buf_append(b, out, (size_t)(end - out));
    }
    free(in);
    free(out);
    return end != NULL ? SB_JSON_OK : SB_JSON_EUTF8;
}

static void test_word_scan_matches_reference(void) {
    static const char specials[] = {'"', '\\', '\n', 0x01, 0x1f, '\xc3', ' ', '~', 0x7f, '!', '#'};
    unsigned char s[40];
    size_t len, at, k, mismatches = 0, at_mismatches = 0;
    for (len = 0; len <= sizeof s; len++) {
        for (at = 0; at < len; at++) {
            for (k = 0; k < sizeof specials; k++) {
                sb_buf got, want;
                size_t j;
                for (j = 0; j < len; j++) s[j] = (unsigned char)('a' + j % 26);
                s[at] = (unsigned char)specials[k];
                if (s[at] == 0xc3) { /* a whole 2-byte sequence, or skip */
                    if (at + 1 >= len) continue;
                    s[at + 1] = 0xa9;
                }
                sb_buf_init(&got);
                sb_buf_init(&want);
                CHECK_INT(sb_json_str(&got, (const char *)s, len, NULL), SB_JSON_OK);
                reference(&want, s, len);
                if (got.len != want.len || memcmp(got.data, want.data, got.len) != 0) mismatches++;
                sb_buf_clear(&got);
                CHECK_INT(str_at(&got, s, len, NULL), SB_JSON_OK);
                if (got.len != want.len || memcmp(got.data, want.data, got.len) != 0)
                    at_mismatches++;
                sb_buf_free(&got);
                sb_buf_free(&want);
            }
        }
    }
    CHECK_INT(mismatches, 0);
    CHECK_INT(at_mismatches, 0);
}

/* The reserved-room writer: the same text as sb_json_str, the worst case
 * fits the room it promises, invalid UTF-8 is found at the same byte. */
static void test_str_at(void) {
    unsigned char ctl[64];
    sb_buf b;
    size_t bad = 99, i;
    sb_buf_init(&b);
    CHECK_INT(str_at(&b, (const unsigned char *)"", 0, NULL), SB_JSON_OK);
    CHECK_INT(str_at(&b, (const unsigned char *)"name", 4, NULL), SB_JSON_OK);
    CHECK_INT(str_at(&b, (const unsigned char *)"nam\"", 4, NULL), SB_JSON_OK);
    CHECK_INT(str_at(&b, (const unsigned char *)"\"ame123", 7, NULL), SB_JSON_OK);
    CHECK_STR(b.data, "\"\"\"name\"\"nam\\\"\"\"\\\"ame123\"");
    /* every byte a \u00XX escape: exactly the promised room */
    for (i = 0; i < sizeof ctl; i++) ctl[i] = (unsigned char)(i % 8);
    sb_buf_clear(&b);
    CHECK_INT(str_at(&b, ctl, sizeof ctl, NULL), SB_JSON_OK);
    CHECK_INT(b.len, SB_JSON_STR_ROOM(sizeof ctl));
    CHECK_INT(str_at(&b, (const unsigned char *)"ab\xc3\xa9" "cd\xff", 7, &bad), SB_JSON_EUTF8);
    CHECK_INT(bad, 6);
    CHECK_INT(str_at(&b, (const unsigned char *)"\x80" "bcd", 4, &bad), SB_JSON_EUTF8);
    CHECK_INT(bad, 0);
    sb_buf_free(&b);
}

static void test_key(void) {
    sb_buf b;
    sb_buf_init(&b);
    CHECK_INT(sb_json_key(&b, "na\"me", 5, NULL), SB_JSON_OK);
    CHECK_STR(b.data, "\"na\\\"me\":");
    sb_buf_free(&b);
}

static void test_numbers(void) {
    sb_buf b;
    sb_buf_init(&b);
    CHECK_INT(sb_json_int(&b, 0), SB_JSON_OK);
    sb_buf_putc(&b, ',');
    sb_json_int(&b, -42);
    sb_buf_putc(&b, ',');
    sb_json_int(&b, 9223372036854775807LL);
    sb_buf_putc(&b, ',');
    sb_json_int(&b, -9223372036854775807LL - 1);
    CHECK_STR(b.data, "0,-42,9223372036854775807,-9223372036854775808");
    sb_buf_clear(&b);
    CHECK_INT(sb_json_num(&b, 1.5), SB_JSON_OK);
    sb_buf_putc(&b, ',');
    sb_json_num(&b, 0.1);
    sb_buf_putc(&b, ',');
    sb_json_num(&b, 1e300);
    sb_buf_putc(&b, ',');
    sb_json_num(&b, 0.1 + 0.2); /* needs 17 digits to read back */
    CHECK_STR(b.data, "1.5,0.1,1e+300,0.30000000000000004");
    CHECK_INT(sb_json_num(&b, NAN), SB_JSON_ENUMBER);
    CHECK_INT(sb_json_num(&b, INFINITY), SB_JSON_ENUMBER);
    CHECK_STR(b.data, "1.5,0.1,1e+300,0.30000000000000004");
    sb_buf_free(&b);
}

static void test_raw_and_shapes(void) {
    sb_buf b;
    sb_buf_init(&b);
    CHECK_INT(sb_json_raw(&b, "{\"a\":1}", 7), SB_JSON_OK);
    CHECK_STR(b.data, "{\"a\":1}");
    sb_buf_free(&b);
    CHECK(sb_json_is_object(" \n{\"a\":1}\t ", 11));
    CHECK(sb_json_is_object("{}", 2));
    CHECK(!sb_json_is_object("[1]", 3));
    CHECK(!sb_json_is_object("{", 1));
    CHECK(!sb_json_is_object("", 0));
    CHECK(!sb_json_is_object(NULL, 0));
    CHECK(!sb_json_is_object("{\"a\":1", 6));
    CHECK(sb_json_is_value(" 1 ", 3));
    CHECK(!sb_json_is_value(" \r\n\t", 4));
}

int main(void) {
    RUN(test_plain_ascii);
    RUN(test_short_escapes);
    RUN(test_control_chars_as_u00xx);
    RUN(test_every_control_char_round_trips);
    RUN(test_many_escapes_grow_the_buffer);
    RUN(test_utf8_kept);
    RUN(test_invalid_utf8_rejected);
    RUN(test_word_scan_matches_reference);
    RUN(test_str_at);
    RUN(test_key);
    RUN(test_numbers);
    RUN(test_raw_and_shapes);
    CHECK_DONE();
}
