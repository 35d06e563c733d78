/* mockproc.c -- start/stop sinch-batch-mock and raw HTTP to it (see
 * mockproc.h).  Only 127.0.0.1 is ever contacted. */
#define _GNU_SOURCE
#include "mockproc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SINCH_BATCH_MOCK_BIN
#define SINCH_BATCH_MOCK_BIN "sinch-batch-mock"
#endif

#define MAX_ARGS 32

static void drain(mockproc *m) {
    char buf[4096];
    if (m->out_fd < 0) return;
    while (read(m->out_fd, buf, sizeof buf) > 0) {
    }
}

int mockproc_start(mockproc *m, const char *bin, const char *const *extra, int tls) {
    const char *argv[MAX_ARGS];
    int fds[2], argc = 0, i;
    char line[256];
    size_t got = 0;
    pid_t pid;

    memset(m, 0, sizeof *m);
    m->pid = -1;
    m->out_fd = -1;
    if (bin == NULL) bin = SINCH_BATCH_MOCK_BIN;
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "mockproc: %s is not built\n", bin);
        return -1;
    }
    argv[argc++] = bin;
    argv[argc++] = "--port";
    argv[argc++] = "0";
    argv[argc++] = "--lifetime";
    argv[argc++] = "300";
    argv[argc++] = "--quiet";
    for (i = 0; extra && extra[i] && argc < MAX_ARGS - 1; i++) argv[argc++] = extra[i];
    argv[argc] = NULL;

    if (pipe(fds) != 0) return -1;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        /* the child: stdout to the pipe; dies with the test */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    m->pid = pid;
    m->out_fd = fds[0];

    /* the first line is "port=N"; give up after 10 s without it */
    while (got < sizeof line - 1) {
        struct pollfd p = {m->out_fd, POLLIN, 0};
        ssize_t n;
        char *nl;
        if (poll(&p, 1, 10000) <= 0) break;
        n = read(m->out_fd, line + got, sizeof line - 1 - got);
        if (n <= 0) break;
        got += (size_t)n;
        line[got] = '\0';
        if ((nl = strchr(line, '\n')) != NULL) {
            *nl = '\0';
            if (sscanf(line, "port=%d", &m->port) != 1) m->port = 0;
            break;
        }
    }
    if (m->port <= 0) {
        fprintf(stderr, "mockproc: %s did not print port=N\n", bin);
        mockproc_stop(m);
        return -1;
    }
    fcntl(m->out_fd, F_SETFL, fcntl(m->out_fd, F_GETFL) | O_NONBLOCK);
    drain(m);
    snprintf(m->url, sizeof m->url, "%s://127.0.0.1:%d", tls ? "https" : "http", m->port);
    return 0;
}

int mockproc_stop(mockproc *m) {
    int status = 0, i;
    pid_t r = 0;
    if (m->pid <= 0) return -1;
    kill(m->pid, SIGTERM);
    for (i = 0; i < 500; i++) {
        struct timespec ts = {0, 10 * 1000000L};
        drain(m);
        r = waitpid(m->pid, &status, WNOHANG);
        if (r != 0) break;
        nanosleep(&ts, NULL); /* waiting for an exit, not for timing */
    }
    if (r == 0) {
        kill(m->pid, SIGKILL);
        waitpid(m->pid, &status, 0);
        status = -1;
    } else if (r < 0) {
        status = -1;
    } else {
        status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    if (m->out_fd >= 0) close(m->out_fd);
    m->out_fd = -1;
    m->pid = -1;
    return status;
}

static int connect_loopback(int port) {
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int write_all(int fd, const char *s, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

int mockproc_http(int port, const char *method, const char *path, const char *req_body,
                  char **body) {
    char head[1024];
    size_t blen = req_body ? strlen(req_body) : 0, len = 0, cap = 8192;
    char *resp, *p;
    int fd, status = -1, n;

    if (body) *body = NULL;
    fd = connect_loopback(port);
    if (fd < 0) return -1;
    n = snprintf(head, sizeof head,
                 "%s %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n",
                 method, path, port, blen);
    if (n < 0 || (size_t)n >= sizeof head || write_all(fd, head, (size_t)n) != 0 ||
        (blen && write_all(fd, req_body, blen) != 0)) {
        close(fd);
        return -1;
    }
    resp = malloc(cap);
    if (resp == NULL) {
        close(fd);
        return -1;
    }
    for (;;) {
        ssize_t r;
        if (len + 1 >= cap) {
            char *q = realloc(resp, cap * 2);
            if (q == NULL) break;
            resp = q;
            cap *= 2;
        }
        r = read(fd, resp + len, cap - 1 - len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
    }
    close(fd);
    resp[len] = '\0';
    if (sscanf(resp, "HTTP/%*s %d", &status) != 1) status = -1;
    p = strstr(resp, "\r\n\r\n");
    if (body && p) {
        size_t off = (size_t)(p + 4 - resp);
        memmove(resp, resp + off, len - off + 1);
        *body = resp;
        resp = NULL;
    }
    free(resp);
    return status;
}

char *mockproc_get(mockproc *m, const char *path) {
    char *body = NULL;
    int status;
    drain(m);
    status = mockproc_http(m->port, "GET", path, NULL, &body);
    if (status != 200) {
        free(body);
        return NULL;
    }
    return body;
}

int mockproc_post(mockproc *m, const char *path, const char *json) {
    drain(m);
    return mockproc_http(m->port, "POST", path, json, NULL);
}

int mockproc_closed_port(void) {
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd < 0) return -1;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}
