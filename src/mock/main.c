/* main.c -- sinch-batch-mock: command line, signals, start and stop. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

mock_config mock_cfg;

static const char usage[] =
    "usage: sinch-batch-mock [options]\n"
    "  --host ADDR            address to bind (default 127.0.0.1)\n"
    "  --port N               port; 0 picks a free one (default 0); the first\n"
    "                         line of stdout is then port=N\n"
    "  --project-id P         a known project (repeatable; default demo-project)\n"
    "  --key-id ID            OAuth2 key id (default demo-key)\n"
    "  --key-secret S         OAuth2 key secret (default demo-secret)\n"
    "  --token-ttl SECONDS    lifetime of issued tokens (default 3600)\n"
    "  --webhook URL          where callbacks are POSTed\n"
    "  --webhook-secret S     sign callbacks with this secret\n"
    "  --tls-cert FILE        serve HTTPS with this PEM certificate ...\n"
    "  --tls-key FILE         ... and this PEM key\n"
    "  --lifetime SECONDS     exit by itself after this long (default 0 = never)\n"
    "  --process-delay-ms N   time a READY batch takes to become PROCESSED (default 0)\n"
    "  --cancel-delay-ms N    time (sandbox clock) a cancel takes to take effect, as\n"
    "                         the API cancels asynchronously (default 1000)\n"
    "  --max-batches N        batches kept; the oldest are dropped (default 10000)\n"
    "  --strict               refuse fields this sandbox does not know (400) instead\n"
    "                         of accepting and recording them\n"
    "  --outcomes JSON        delivery outcomes, as POST /_mock/outcomes takes them,\n"
    "                         e.g. '{\"fail_rate\":0.05,\"duplicate_rate\":0.1,\"seed\":42}'\n"
    "  --quiet                no log lines on stderr\n"
    "  --help                 this text\n";

static int number(const char *flag, const char *s, long min, long max, long *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < min || v > max) {
        fprintf(stderr, "sinch-batch-mock: %s: '%s' is not a whole number in %ld..%ld\n",
                flag, s, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv) {
    int i;
    long v;
    mock_cfg.host = "127.0.0.1";
    mock_cfg.key_id = "demo-key";
    mock_cfg.key_secret = "demo-secret";
    mock_cfg.token_ttl = 3600;
    mock_cfg.max_batches = 10000;
    mock_cfg.cancel_delay_ms = 1000;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        }
        if (strcmp(a, "--quiet") == 0) {
            mock_cfg.quiet = 1;
            continue;
        }
        if (strcmp(a, "--strict") == 0) {
            mock_cfg.strict = 1;
            continue;
        }
        if (!val || strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "sinch-batch-mock: %s: %s\n%s", a,
                    strncmp(a, "--", 2) ? "unknown argument" : "needs a value", usage);
            return -1;
        }
        i++;
        if (strcmp(a, "--host") == 0) mock_cfg.host = val;
        else if (strcmp(a, "--port") == 0) {
            if (number(a, val, 0, 65535, &v)) return -1;
            mock_cfg.port = (int)v;
        } else if (strcmp(a, "--project-id") == 0) {
            if (mock_cfg.nprojects == MOCK_MAX_PROJECTS) {
                fprintf(stderr, "sinch-batch-mock: at most %d --project-id\n",
                        MOCK_MAX_PROJECTS);
                return -1;
            }
            mock_cfg.projects[mock_cfg.nprojects++] = val;
        } else if (strcmp(a, "--key-id") == 0) mock_cfg.key_id = val;
        else if (strcmp(a, "--key-secret") == 0) mock_cfg.key_secret = val;
        else if (strcmp(a, "--token-ttl") == 0) {
            if (number(a, val, 1, 100000000L, &mock_cfg.token_ttl)) return -1;
        } else if (strcmp(a, "--webhook") == 0) mock_cfg.webhook_url = val;
        else if (strcmp(a, "--webhook-secret") == 0) mock_cfg.webhook_secret = val;
        else if (strcmp(a, "--tls-cert") == 0) mock_cfg.tls_cert = val;
        else if (strcmp(a, "--tls-key") == 0) mock_cfg.tls_key = val;
        else if (strcmp(a, "--lifetime") == 0) {
            if (number(a, val, 0, 100000000L, &mock_cfg.lifetime)) return -1;
        } else if (strcmp(a, "--process-delay-ms") == 0) {
            if (number(a, val, 0, 100000000L, &mock_cfg.process_delay_ms)) return -1;
        } else if (strcmp(a, "--cancel-delay-ms") == 0) {
            if (number(a, val, 0, 100000000L, &mock_cfg.cancel_delay_ms)) return -1;
        } else if (strcmp(a, "--max-batches") == 0) {
            if (number(a, val, 1, INT_MAX, &v)) return -1;
            mock_cfg.max_batches = (int)v;
        } else if (strcmp(a, "--outcomes") == 0) {
            json_error_t jerr;
            json_t *cfg = json_loads(val, 0, &jerr);
            char msg[300];
            if (!cfg) {
                fprintf(stderr, "sinch-batch-mock: --outcomes: not valid JSON (%s)\n", jerr.text);
                return -1;
            }
            if (mock_outcomes_set(cfg, msg, sizeof msg) != 0) {
                fprintf(stderr, "sinch-batch-mock: --outcomes: %s\n", msg);
                json_decref(cfg);
                return -1;
            }
            json_decref(cfg);
            mock_cfg.outcomes = val;
        } else {
            fprintf(stderr, "sinch-batch-mock: %s: unknown option\n%s", a, usage);
            return -1;
        }
    }
    if (mock_cfg.nprojects == 0) mock_cfg.projects[mock_cfg.nprojects++] = "demo-project";
    if (mock_cfg.webhook_secret && !mock_cfg.webhook_url) {
        fprintf(stderr, "sinch-batch-mock: --webhook-secret needs --webhook\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    sigset_t set;
    int rc;
    mock_json_init(); /* before anything allocates a jansson value */
    if (parse_args(argc, argv) != 0) return 2;
    /* Every thread inherits this mask; the main thread takes the signals
     * with sigtimedwait. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    mock_state_init();
    if (mock_webhook_start() != 0) {
        fprintf(stderr, "sinch-batch-mock: cannot start the webhook thread\n");
        return 1;
    }
    rc = mock_server_run();
    mock_webhook_stop();
    mock_state_free();
    curl_global_cleanup();
    return rc;
}
