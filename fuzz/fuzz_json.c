/* fuzz_json.c -- the JSON reader and the streaming writer.
 *
 * Reader (src/core/jsonread.c): sinch_batch_json_get_string against
 * jansson's own reading of the same text, and the API error, OAuth2 token
 * and OAuth2 error readers on arbitrary bodies (terminated, no control
 * characters, no secret whatever its spelling in the body, valid tokens
 * only).
 *
 * Writer (src/core/json.c): a string written with sb_json_str / sb_json_str_at
 * parses back with jansson to the same bytes; the UTF-8 check agrees with
 * jansson's; an invalid string leaves the buffer as it was; integers and
 * doubles read back to the same value.
 */
#include "fuzz.h"

#include <jansson.h>
#include <math.h>

#include "core.h"
#include "json.h"

static void no_control(const char *s, const char *what) {
    for (; *s; s++)
        FZ_CHECK((unsigned char)*s >= 0x20 && *s != 0x7f, "%s holds a control character", what);
}

static const char SECRET[] = "s3cr3t/Key+With/Slashes_0123456789";

/* The secret, in no spelling, in what a reader wrote (a piece of it may be
 * there: arbitrary server text can hold one by chance). */
static void no_secret(const char *msg, const char *what) {
    FZ_CHECK(strstr(msg, SECRET) == NULL, "%s holds the secret: %s", what, msg);
}

static void reader(const char *s, size_t n, fz *in) {
    sb_secrets sec;
    static const char *const keys[] = {"batch_id", "id", "", "error", "a\"b"};
    const char *key = keys[fz_u8(in) % 5];
    char out[64];
    size_t outsz = 1 + fz_u8(in) % sizeof out;
    int rc;
    json_t *root;

    memset(&sec, 0, sizeof sec);
    sec.s[0] = SECRET;
    sec.n = 1;

    /* get_string agrees with jansson */
    rc = sinch_batch_json_get_string(s, n, key, out, outsz);
    root = n ? json_loadb(s, n, 0, NULL) : NULL;
    {
        json_t *v = json_is_object(root) ? json_object_get(root, key) : NULL;
        if (json_is_string(v) && json_string_length(v) < outsz) {
            FZ_CHECK(rc == (int)json_string_length(v), "get_string %d, jansson %zu", rc,
                     json_string_length(v));
            FZ_CHECK(memcmp(out, json_string_value(v), (size_t)rc) == 0 && out[rc] == '\0',
                     "get_string copied other bytes");
        } else {
            FZ_CHECK(rc == SINCH_BATCH_ERR, "get_string %d where jansson has no fitting string",
                     rc);
        }
    }
    json_decref(root);

    /* the readers of server answers */
    {
        sinch_batch_error e;
        memset(&e, 0x55, sizeof e);
        sb_json_api_error(s, n, 400 + (int)(fz_u8(in) % 200), &sec, &e);
        FZ_CHECK(memchr(e.message, '\0', sizeof e.message) != NULL, "message not terminated");
        FZ_CHECK(memchr(e.api_status, '\0', sizeof e.api_status) != NULL,
                 "api_status not terminated");
        no_control(e.message, "api error message");
        no_secret(e.message, "api error message");
        no_secret(e.api_status, "api_status");
        FZ_CHECK(e.kind == SINCH_BATCH_ERROR_HTTP, "api error kind %d", (int)e.kind);
    }
    {
        char *tok = NULL, why[200];
        long long exp = 0;
        if (sb_json_token(s, n, &tok, &exp, why, sizeof why) == 0) {
            size_t i, tl;
            FZ_CHECK(tok != NULL && (tl = strlen(tok)) > 0, "token success without a token");
            for (i = 0; i < tl; i++)
                FZ_CHECK((unsigned char)tok[i] > 0x20 && (unsigned char)tok[i] < 0x7f,
                         "token byte %zu is not allowed in a header", i);
            FZ_CHECK(exp >= 1 && exp <= 100000000LL, "expires_in %lld", exp);
            sb_free_secret(tok);
        } else {
            FZ_CHECK(tok == NULL, "token failure left a token");
            no_control(why, "token why");
        }
    }
    {
        char out2[300];
        size_t osz = 1 + fz_u8(in) % sizeof out2;
        memset(out2, 0x55, sizeof out2);
        sb_json_oauth_error(s, n, &sec, out2, osz);
        FZ_CHECK(memchr(out2, '\0', osz) != NULL, "oauth error not terminated in %zu", osz);
        no_control(out2, "oauth error");
        no_secret(out2, "oauth error");
    }
}

static void writer(const char *s, size_t n, fz *in) {
    sb_buf b;
    size_t bad = (size_t)-1, valid = sb_json_utf8_check(s, n);
    json_t *j = json_stringn(s, n);
    int rc;

    FZ_CHECK((valid == n) == (j != NULL), "UTF-8 check says %zu of %zu, jansson %s", valid, n,
             j ? "accepts" : "refuses");
    json_decref(j);

    sb_buf_init(&b);
    sb_buf_append(&b, "[", 1);
    rc = sb_json_str(&b, s, n, &bad);
    if (valid == n) {
        json_error_t je;
        json_t *arr, *v;
        char *room;
        char *end;
        FZ_CHECK(rc == SB_JSON_OK, "sb_json_str failed (%d) on valid UTF-8", rc);
        sb_buf_append(&b, "]", 1);
        arr = json_loadb(b.data, b.len, JSON_ALLOW_NUL, &je);
        FZ_CHECK(arr != NULL, "written string does not parse: %s", je.text);
        v = json_array_get(arr, 0);
        FZ_CHECK(json_is_string(v) && json_string_length(v) == n &&
                     memcmp(json_string_value(v), s, n) == 0,
                 "string does not read back the same");
        json_decref(arr);
        /* the reserved-room writer gives the same bytes within its room */
        room = malloc(SB_JSON_STR_ROOM(n) + 1);
        FZ_CHECK(room != NULL, "out of memory");
        end = sb_json_str_at(room, s, n, NULL);
        FZ_CHECK(end != NULL && (size_t)(end - room) <= SB_JSON_STR_ROOM(n) &&
                     (size_t)(end - room) == b.len - 2 && memcmp(room, b.data + 1, b.len - 2) == 0,
                 "sb_json_str_at differs from sb_json_str");
        free(room);
    } else {
        FZ_CHECK(rc == SB_JSON_EUTF8 && bad == valid, "invalid UTF-8 at %zu: rc %d bad %zu",
                 valid, rc, bad);
        FZ_CHECK(b.len == 1 && b.data[1] == '\0', "a failed write left bytes behind");
    }
    sb_buf_free(&b);

    /* numbers */
    {
        uint64_t bits = ((uint64_t)fz_u32(in) << 32) | fz_u32(in);
        double d;
        long long ll = (long long)bits;
        json_t *v;
        memcpy(&d, &bits, sizeof d);
        sb_buf_init(&b);
        FZ_CHECK(sb_json_int(&b, ll) == SB_JSON_OK, "sb_json_int failed");
        v = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);
        FZ_CHECK(v && json_is_integer(v) && json_integer_value(v) == ll, "int %lld as %s", ll,
                 b.data);
        json_decref(v);
        sb_buf_clear(&b);
        rc = sb_json_num(&b, d);
        if (isfinite(d)) {
            FZ_CHECK(rc == SB_JSON_OK, "sb_json_num failed on a finite double");
            v = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);
            FZ_CHECK(v && json_is_number(v), "double written as %s does not parse", b.data);
            if (json_is_real(v))
                FZ_CHECK(json_real_value(v) == d, "%.17g read back as %.17g", d,
                         json_real_value(v));
            else
                FZ_CHECK((double)json_integer_value(v) == d, "%.17g read back as %lld", d,
                         (long long)json_integer_value(v));
            json_decref(v);
        } else {
            FZ_CHECK(rc == SB_JSON_ENUMBER && b.len == 0, "non-finite double written");
        }
        sb_buf_free(&b);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz in = {data, size};
    unsigned mode = fz_u8(&in);
    fz knobs = {data, size > 16 ? 16 : size}; /* decisions, reusing the head */
    size_t n;
    const char *s = fz_rest(&in, &n);
    /* the reader gets a NUL-terminated copy: len 0 means strlen there */
    char *copy = malloc(n + 1);
    FZ_CHECK(copy != NULL, "out of memory");
    memcpy(copy, s, n);
    copy[n] = '\0';
    if (mode & 1)
        reader(copy, n, &knobs);
    else
        writer(copy, n, &knobs);
    free(copy);
    return 0;
}
