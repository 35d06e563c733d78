/* fuzz_mock.c -- libFuzzer harness for sinch-batch-mock's request handling:
 * routing, OAuth, validation of every API body, the admin endpoints
 * (faults, advance, outcomes, reset) and the callbacks a processed batch
 * produces (built in full, then dropped: no webhook thread runs), all
 * through mock_route, without a socket.
 *
 * Build and run from the top of the tree:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc -Isrc/core -Isrc/mock \
 *     fuzz/fuzz_mock.c src/mock/admin.c src/mock/callbacks.c src/mock/oauth.c \
 *     src/mock/outcomes.c src/mock/reply.c src/mock/routes.c src/mock/server.c \
 *     src/mock/state.c src/mock/util.c src/mock/validate.c src/mock/validate_send.c \
 *     src/mock/webhook.c \
 *     -ljansson -lmicrohttpd -lcrypto -lcurl -lpthread -o fuzz_mock
 * (every .c file of src/mock but main.c; -lcurl for webhook.c's sender, never
 * started here)
 *   ./fuzz_mock -runs=5000 fuzz/corpus/mock
 *
 * (no client code: the sandbox checks on its own)
 *
 * Input: "METHOD PATH\n" then the body.  A method starting with '!' is sent
 * without the Bearer token (else a valid one is sent); a path's
 * "?metadataKey=K&metadataValue=V" becomes the GET arguments.  An input of
 * odd length runs with --strict (our stricter checks), even without.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

mock_config mock_cfg; /* main.c is not linked */

static char token[80];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    mock_json_init();
    mock_cfg.host = "127.0.0.1";
    mock_cfg.key_id = "demo-key";
    mock_cfg.key_secret = "demo-secret";
    mock_cfg.token_ttl = 3600;
    mock_cfg.max_batches = 64;
    mock_cfg.cancel_delay_ms = 1000; /* cancels take effect later (POST /_mock/advance) */
    mock_cfg.quiet = 1;
    mock_cfg.projects[mock_cfg.nprojects++] = "demo-project";
    /* callbacks are built (and dropped: the sender thread never starts) */
    mock_cfg.webhook_url = "http://127.0.0.1:9/hook";
    mock_state_init();
    return 0;
}

/* a copy of [s, s+n) as a C string, or NULL */
static char *cut(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static char *arg(const char *query, const char *key) {
    const char *p = query ? strstr(query, key) : NULL;
    size_t n;
    if (!p) return NULL;
    p += strlen(key);
    n = strcspn(p, "&");
    return cut(p, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static unsigned long runs;
    const char *d = (const char *)data, *nl = memchr(d, '\n', size), *sp;
    char *line, *method, *path, *q, *key = NULL, *value = NULL, auth[100];
    mock_request req;
    mock_reply r;
    int index, ok;
    if (!nl) return 0;
    if (!(line = cut(d, (size_t)(nl - d)))) return 0;
    sp = strchr(line, ' ');
    if (!sp) {
        free(line);
        return 0;
    }
    method = line;
    line[sp - line] = '\0';
    path = line + (sp - line) + 1;
    if ((q = strchr(path, '?'))) {
        *q++ = '\0';
        key = arg(q, "metadataKey=");
        value = arg(q, "metadataValue=");
    }
    mock_cfg.strict = (int)(size & 1);
    mock_lock();
    if (++runs % 2000 == 0) mock_reset(); /* bounded state */
    ok = token[0] ? mock_token_check(token, &index) : 0;
    if (ok != 1) {
        int64_t expires;
        const char *t = mock_token_issue(&expires);
        snprintf(token, sizeof token, "%s", t ? t : "");
    }
    mock_unlock();
    snprintf(auth, sizeof auth, "Bearer %s", token);
    memset(&req, 0, sizeof req);
    memset(&r, 0, sizeof r);
    req.method = method[0] == '!' ? method + 1 : method;
    req.path = path;
    req.authorization = method[0] == '!' ? NULL : auth;
    req.metadata_key = key;
    req.metadata_value = value;
    req.body = nl + 1;
    req.len = size - (size_t)(nl + 1 - d);
    mock_route(&r, &req);
    if (r.status < 100 || r.status > 599 || !r.body) abort();
    mock_reply_clear(&r);
    free(line);
    free(key);
    free(value);
    return 0;
}
