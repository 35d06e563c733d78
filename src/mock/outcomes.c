/* outcomes.c -- realistic delivery outcomes, set by POST /_mock/outcomes or
 * --outcomes (the configuration POST /_mock/reset returns to):
 *   {"fail_rate":0.05, "fail_code":"RECIPIENT_NOT_REACHABLE",
 *    "fail_numbers":["+46700000001"] or {"+46700000001":"CHANNEL_FAILURE"},
 *    "duplicate_rate":0.1, "shuffle":true, "early":true, "seed":42}
 * Each POST replaces the whole configuration (absent knobs are off).  The
 * choices come from one seeded generator, drawn in processing order, so a
 * seed gives the same outcomes run after run.  The counts (stats.outcomes)
 * are exact: one per recipient, receipts_sent includes the duplicates
 * (handed to the sender; stats.webhooks_failed says how many it gave up).
 * early makes the send's answer wait (at most 10 s) until every queued
 * callback has gone: the receiver must not be the sender's own thread. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

#define MAX_FAIL_NUMBERS 100000

static struct {
    double fail_rate, duplicate_rate;
    char fail_code[64];
    json_t *fail_numbers; /* number without '+' -> code */
    int shuffle, early, has_seed;
    json_int_t seed;
    uint64_t rng;
    long delivered, failed, receipts, duplicates;
    json_t *failed_by_code;
} O;

static uint64_t next_u64(void) { /* splitmix64 */
    uint64_t z = (O.rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double next_unit(void) { return (double)(next_u64() >> 11) / 9007199254740992.0; }

static const char *bare(const char *number) {
    return number && number[0] == '+' ? number + 1 : number;
}

static int code_ok(json_t *v) {
    const char *s = json_string_value(v);
    size_t i, n = json_string_length(v);
    if (!s || n == 0 || n >= sizeof O.fail_code) return 0;
    for (i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

static int rate(json_t *v, const char *name, double *out, char *msg, size_t n) {
    if (!v) return *out = 0, 0;
    if (!json_is_number(v) || !(json_number_value(v) >= 0 && json_number_value(v) <= 1))
        return snprintf(msg, n, "%s: must be a number from 0 to 1", name), -1;
    *out = json_number_value(v);
    return 0;
}

static int flag(json_t *v, const char *name, int *out, char *msg, size_t n) {
    if (!v) return *out = 0, 0;
    if (!json_is_boolean(v)) return snprintf(msg, n, "%s: must be true or false", name), -1;
    *out = json_is_true(v);
    return 0;
}

#define CODE_RULE "must be a reason code like RECIPIENT_NOT_REACHABLE (A-Z, 0-9, _; < 64)"

static int numbers(json_t *v, const char *code, json_t *out, char *msg, size_t n) {
    size_t i;
    json_t *x;
    const char *k;
    if (!v) return 0;
    if (json_is_array(v)) {
        if (json_array_size(v) > MAX_FAIL_NUMBERS) goto too_many;
        json_array_foreach(v, i, x) {
            if (!json_is_string(x) || json_string_length(x) == 0)
                return snprintf(msg, n, "fail_numbers[%zu]: must be a phone number string", i),
                       -1;
            json_object_set_new(out, bare(json_string_value(x)), json_string(code));
        }
        return 0;
    }
    if (!json_is_object(v))
        return snprintf(msg, n, "fail_numbers: must be an array of numbers or an object "
                        "number -> reason code"), -1;
    if (json_object_size(v) > MAX_FAIL_NUMBERS) goto too_many;
    json_object_foreach(v, k, x) {
        if (!code_ok(x)) return snprintf(msg, n, "fail_numbers.%.64s: %s", k, CODE_RULE), -1;
        json_object_set(out, bare(k), x);
    }
    return 0;
too_many:
    return snprintf(msg, n, "fail_numbers: at most %d numbers", MAX_FAIL_NUMBERS), -1;
}

int mock_outcomes_set(json_t *cfg, char *msg, size_t n) {
    static const char *const known[] = {"fail_rate", "fail_code", "fail_numbers",
                                        "duplicate_rate", "shuffle", "early", "seed", NULL};
    double fail_rate, dup_rate;
    int shuffle, early, i, ok;
    const char *k, *code = "RECIPIENT_NOT_REACHABLE";
    json_t *v, *nums;
    if (!json_is_object(cfg)) return snprintf(msg, n, "body: must be a JSON object"), -1;
    json_object_foreach(cfg, k, v) {
        for (ok = 0, i = 0; known[i]; i++) ok |= strcmp(k, known[i]) == 0;
        if (!ok)
            return snprintf(msg, n, "%.64s: unknown field (fail_rate, fail_code, fail_numbers, "
                            "duplicate_rate, shuffle, early, seed)", k), -1;
    }
    if (rate(json_object_get(cfg, "fail_rate"), "fail_rate", &fail_rate, msg, n) ||
        rate(json_object_get(cfg, "duplicate_rate"), "duplicate_rate", &dup_rate, msg, n) ||
        flag(json_object_get(cfg, "shuffle"), "shuffle", &shuffle, msg, n) ||
        flag(json_object_get(cfg, "early"), "early", &early, msg, n))
        return -1;
    if ((v = json_object_get(cfg, "fail_code"))) {
        if (!code_ok(v)) return snprintf(msg, n, "fail_code: %s", CODE_RULE), -1;
        code = json_string_value(v);
    }
    v = json_object_get(cfg, "seed");
    if (v && (!json_is_integer(v) || json_integer_value(v) < 0))
        return snprintf(msg, n, "seed: must be a whole number >= 0"), -1;
    nums = json_object();
    if (numbers(json_object_get(cfg, "fail_numbers"), code, nums, msg, n)) {
        json_decref(nums);
        return -1;
    }
    json_decref(O.fail_numbers);
    O.fail_numbers = nums;
    O.fail_rate = fail_rate;
    O.duplicate_rate = dup_rate;
    O.shuffle = shuffle;
    O.early = early;
    snprintf(O.fail_code, sizeof O.fail_code, "%s", code);
    O.has_seed = v != NULL;
    O.seed = v ? json_integer_value(v) : (json_int_t)mock_real_ms();
    O.rng = (uint64_t)O.seed;
    return 0;
}

void mock_outcomes_reset(void) {
    json_t *cfg = mock_cfg.outcomes ? json_loads(mock_cfg.outcomes, 0, NULL) : NULL;
    char msg[300];
    if (!cfg || mock_outcomes_set(cfg, msg, sizeof msg) != 0) {
        json_t *none = json_object();
        mock_outcomes_set(none, msg, sizeof msg);
        json_decref(none);
    }
    json_decref(cfg);
    O.delivered = O.failed = O.receipts = O.duplicates = 0;
    if (!O.failed_by_code) O.failed_by_code = json_object();
    json_object_clear(O.failed_by_code);
}

json_t *mock_outcomes_json(void) {
    json_t *o = json_pack("{s:f, s:s, s:O, s:f, s:b, s:b}", "fail_rate", O.fail_rate,
                          "fail_code", O.fail_code, "fail_numbers", O.fail_numbers,
                          "duplicate_rate", O.duplicate_rate, "shuffle", O.shuffle, "early",
                          O.early);
    json_object_set_new(o, "seed", O.has_seed ? json_integer(O.seed) : json_null());
    return o;
}

mock_receipt_fate mock_outcomes_decide(const char *identity) {
    mock_receipt_fate f = {NULL, 0};
    json_t *code = identity ? json_object_get(O.fail_numbers, bare(identity)) : NULL;
    if (O.fail_rate > 0 && next_unit() < O.fail_rate) f.fail_code = O.fail_code;
    if (code) f.fail_code = json_string_value(code);
    if (O.duplicate_rate > 0 && next_unit() < O.duplicate_rate) f.duplicate = 1;
    return f;
}

void mock_outcomes_count(const char *status, const char *code, int duplicate) {
    if (strcmp(status, "FAILED") == 0) {
        json_t *c = json_object_get(O.failed_by_code, code);
        O.failed++;
        json_object_set_new(O.failed_by_code, code, json_integer(json_integer_value(c) + 1));
    } else {
        O.delivered++;
    }
    O.receipts += 1 + (duplicate != 0);
    O.duplicates += duplicate != 0;
}

void mock_outcomes_shuffle(json_t **items, size_t n) {
    size_t i;
    if (!O.shuffle) return;
    for (i = n; i > 1; i--) {
        size_t j = (size_t)(next_u64() % i);
        json_t *t = items[i - 1];
        items[i - 1] = items[j];
        items[j] = t;
    }
}

int mock_outcomes_early(void) { return O.early; }

void mock_outcomes_free(void) {
    json_decref(O.fail_numbers);
    json_decref(O.failed_by_code);
    O.fail_numbers = O.failed_by_code = NULL;
}

json_t *mock_outcomes_stats(void) {
    return json_pack("{s:I, s:I, s:O, s:I, s:I}", "delivered", (json_int_t)O.delivered,
                     "failed", (json_int_t)O.failed, "failed_by_code", O.failed_by_code,
                     "receipts_sent", (json_int_t)O.receipts, "duplicates_sent",
                     (json_int_t)O.duplicates);
}
