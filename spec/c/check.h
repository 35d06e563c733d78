/* check.h -- a tiny test harness for the C specs (CTest runs each binary;
 * a non-zero exit fails the test). */
#ifndef SINCH_BATCH_CHECK_H
#define SINCH_BATCH_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures = 0;
static int check_count = 0;

#define CHECK(cond)                                                         \
    do {                                                                    \
        check_count++;                                                      \
        if (!(cond)) {                                                      \
            check_failures++;                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                 \
        }                                                                   \
    } while (0)

#define CHECK_INT(a, b)                                                     \
    do {                                                                    \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);     \
        check_count++;                                                      \
        if (check_a_ != check_b_) {                                         \
            check_failures++;                                               \
            fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, \
                    __LINE__, #a, check_a_, check_b_);                      \
        }                                                                   \
    } while (0)

#define CHECK_STR(a, b)                                                     \
    do {                                                                    \
        const char *check_a_ = (a), *check_b_ = (b);                        \
        check_count++;                                                      \
        if (check_a_ == NULL || check_b_ == NULL ||                         \
            strcmp(check_a_, check_b_) != 0) {                              \
            check_failures++;                                               \
            fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n",       \
                    __FILE__, __LINE__, #a, check_a_ ? check_a_ : "(null)", \
                    check_b_ ? check_b_ : "(null)");                        \
        }                                                                   \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                         \
    do {                                                                    \
        const char *check_h_ = (hay), *check_n_ = (needle);                 \
        check_count++;                                                      \
        if (check_h_ == NULL || strstr(check_h_, check_n_) == NULL) {       \
            check_failures++;                                               \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n",      \
                    __FILE__, __LINE__, check_h_ ? check_h_ : "(null)",     \
                    check_n_);                                              \
        }                                                                   \
    } while (0)

#define RUN(test)                                                           \
    do {                                                                    \
        int check_before_ = check_failures;                                 \
        test();                                                             \
        fprintf(stderr, "%s %s\n", check_failures == check_before_ ? "ok  " \
                                                                   : "FAIL", \
                #test);                                                     \
    } while (0)

#define CHECK_DONE()                                                        \
    do {                                                                    \
        fprintf(stderr, "%d checks, %d failed\n", check_count,              \
                check_failures);                                            \
        return check_failures ? 1 : 0;                                      \
    } while (0)

#endif
