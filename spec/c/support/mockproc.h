/* mockproc.h -- start and stop sinch-batch-mock from the C tests, and speak
 * raw HTTP/1.0 to its /_mock endpoints over a loopback socket (not through
 * the library under test, so a shared misreading cannot hide). */
#ifndef SINCH_BATCH_MOCKPROC_H
#define SINCH_BATCH_MOCKPROC_H

#include <stddef.h>
#include <sys/types.h>

typedef struct mockproc {
    pid_t pid;
    int port;
    int out_fd;        /* the mock's stdout (drained, never left full) */
    char url[64];      /* "http://127.0.0.1:PORT" (https with TLS) */
} mockproc;

/* Starts `bin --port 0 --lifetime 300 --quiet <extra...>` (extra is
 * NULL-terminated, may be NULL) and reads "port=N" from its first stdout
 * line.  bin NULL means SINCH_BATCH_MOCK_BIN.  0 on success, -1 on failure
 * (a message on stderr). */
int mockproc_start(mockproc *m, const char *bin, const char *const *extra, int tls);
/* SIGTERM, then wait (SIGKILL after ~5 s).  Returns the exit status
 * (0 = clean), or -1 when it had to be killed or was not running. */
int mockproc_stop(mockproc *m);

/* One raw HTTP/1.0 request to 127.0.0.1:port.  Returns the status code (or
 * -1), and the body (malloc'd, NUL-terminated; caller frees) in *body when
 * body is not NULL. */
int mockproc_http(int port, const char *method, const char *path, const char *req_body,
                  char **body);

/* Shorthands on a started mock (plain HTTP only). */
char *mockproc_get(mockproc *m, const char *path);   /* body of a 200, else NULL */
int mockproc_post(mockproc *m, const char *path, const char *json); /* status */

/* A TCP port on 127.0.0.1 that nothing listens on (bound, then closed). */
int mockproc_closed_port(void);

#endif
