/* validate.h -- the pieces the sandbox's validators share (validate.c,
 * validate_send.c).  Field paths: "a.b", "a[3]"; a failure fills e with the
 * path and "path: rule" and returns -1. */
#ifndef SINCH_BATCH_MOCK_VALIDATE_H
#define SINCH_BATCH_MOCK_VALIDATE_H

#include "mock.h"

#define MOCK_MAX_ITEMS 1000

extern const char *const mock_channels[];

int mock_vfail(mock_verr *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int mock_in_list(const char *s, const char *const *list);
void mock_join_list(char *out, size_t n, const char *const *list);
void mock_vsub(char *out, size_t n, const char *base, const char *key); /* "base.key" */
void mock_vat(char *out, size_t n, const char *base, size_t i);         /* "base[i]" */
int mock_check_enum(json_t *v, const char *field, const char *const *list, const char *what,
                    mock_verr *e);
int mock_nonempty_string(json_t *v, const char *field, mock_verr *e);
int mock_string_map(json_t *v, const char *field, size_t max_len, mock_verr *e);
int mock_vobject(json_t *v, const char *field, mock_verr *e);
int mock_sized_array(json_t *v, const char *field, const char *holder, const char *what,
                     const char *what1, size_t max, mock_verr *e);
int mock_identities(json_t *list, const char *field, int need_app, mock_verr *e);

#endif
