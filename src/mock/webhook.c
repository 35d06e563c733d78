/* webhook.c -- callbacks, sent by one background thread with libcurl.
 *
 * Each body is signed as the Conversation API signs its callbacks:
 *   x-sinch-webhook-signature = base64(HMAC-SHA256(secret,
 *                                      body "." nonce "." timestamp))
 * A delivery that does not get a 2xx answer is retried with backoff
 * (100 ms, 200 ms, 400 ms, 800 ms) and then counted as failed.  The API
 * threads only append to the queue, so they never wait for a receiver. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mock.h"

#define MAX_ATTEMPTS 5
#define MAX_QUEUED 200000

typedef struct job {
    struct job *next;
    char *body;
    int attempts;
    int64_t not_before_ms;
} job;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_cond_t idle; /* signalled when nothing is queued or on the wire */
    pthread_t thread;
    int running, stopping, inflight;
    job *head, *tail;
    long queued, delivered, failed;
    unsigned long generation; /* bumped by a reset */
} W = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER,
       .idle = PTHREAD_COND_INITIALIZER};

void mock_webhook_sign(const char *secret, const char *body, size_t len, const char *nonce,
                       const char *timestamp, char out[64]) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    size_t nn = strlen(nonce), nt = strlen(timestamp);
    char *data = malloc(len + nn + nt + 2);
    out[0] = '\0';
    if (!data) return;
    memcpy(data, body, len);
    data[len] = '.';
    memcpy(data + len + 1, nonce, nn);
    data[len + 1 + nn] = '.';
    memcpy(data + len + 2 + nn, timestamp, nt);
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)data, len + nn + nt + 2,
         mac, &maclen);
    free(data);
    EVP_EncodeBlock((unsigned char *)out, mac, (int)maclen);
}

static size_t discard(char *p, size_t size, size_t n, void *ud) {
    (void)p;
    (void)ud;
    return size * n;
}

/* One attempt; 1 when the receiver answered 2xx. */
static int deliver(CURL *curl, const char *body) {
    struct curl_slist *h = NULL;
    char nonce[27], ts[32], sig[64], line[256];
    long status = 0;
    CURLcode rc;
    size_t len = strlen(body);
    mock_ulid(nonce, mock_real_ms());
    snprintf(ts, sizeof ts, "%lld", (long long)(mock_real_ms() / 1000));
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    if (mock_cfg.webhook_secret) {
        mock_webhook_sign(mock_cfg.webhook_secret, body, len, nonce, ts, sig);
        snprintf(line, sizeof line, "x-sinch-webhook-signature: %s", sig);
        h = curl_slist_append(h, line);
        snprintf(line, sizeof line, "x-sinch-webhook-signature-nonce: %s", nonce);
        h = curl_slist_append(h, line);
        snprintf(line, sizeof line, "x-sinch-webhook-signature-timestamp: %s", ts);
        h = curl_slist_append(h, line);
        h = curl_slist_append(h, "x-sinch-webhook-signature-algorithm: HmacSHA256");
    }
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, mock_cfg.webhook_url);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "sinch-batch-mock");
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    rc = curl_easy_perform(curl);
    if (rc == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    if (rc != CURLE_OK)
        mock_log("webhook: %s", curl_easy_strerror(rc));
    else if (status < 200 || status > 299)
        mock_log("webhook: receiver answered %ld", status);
    return rc == CURLE_OK && status >= 200 && status <= 299;
}

static void deadline_in(struct timespec *ts, int64_t ms) {
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Take the first job that is due; *wait_ms says how long until one is. */
static job *take_due(int64_t *wait_ms) {
    job *j, *prev = NULL;
    int64_t now = mock_real_ms(), soonest = -1;
    for (j = W.head; j; prev = j, j = j->next) {
        if (j->not_before_ms <= now) {
            if (prev) prev->next = j->next;
            else W.head = j->next;
            if (W.tail == j) W.tail = prev;
            j->next = NULL;
            W.queued--;
            return j;
        }
        if (soonest < 0 || j->not_before_ms - now < soonest) soonest = j->not_before_ms - now;
    }
    *wait_ms = soonest < 0 ? 1000 : soonest;
    return NULL;
}

static void push(job *j) {
    j->next = NULL;
    if (W.tail) W.tail->next = j;
    else W.head = j;
    W.tail = j;
    W.queued++;
    pthread_cond_signal(&W.cond);
}

static void *worker(void *ud) {
    CURL *curl = curl_easy_init();
    (void)ud;
    pthread_mutex_lock(&W.lock);
    while (!W.stopping) {
        int64_t wait_ms = 0;
        job *j = take_due(&wait_ms);
        unsigned long generation = W.generation;
        int ok;
        if (!j) {
            struct timespec ts;
            if (!W.head) pthread_cond_broadcast(&W.idle);
            deadline_in(&ts, wait_ms);
            pthread_cond_timedwait(&W.cond, &W.lock, &ts);
            continue;
        }
        W.inflight = 1;
        pthread_mutex_unlock(&W.lock);
        ok = curl ? deliver(curl, j->body) : 0;
        pthread_mutex_lock(&W.lock);
        W.inflight = 0;
        j->attempts++;
        if (generation != W.generation) {
            /* a reset came while it was on the wire: it counts for nothing */
        } else if (ok) {
            W.delivered++;
        } else if (j->attempts >= MAX_ATTEMPTS) {
            W.failed++;
        } else {
            j->not_before_ms = mock_real_ms() + (100LL << (j->attempts - 1));
            push(j);
            continue;
        }
        free(j->body);
        free(j);
    }
    pthread_cond_broadcast(&W.idle);
    pthread_mutex_unlock(&W.lock);
    if (curl) curl_easy_cleanup(curl);
    return NULL;
}

int mock_webhook_start(void) {
    if (!mock_cfg.webhook_url) return 0;
    if (pthread_create(&W.thread, NULL, worker, NULL) != 0) return -1;
    W.running = 1;
    return 0;
}

void mock_webhook_clear(void) {
    job *j, *next;
    pthread_mutex_lock(&W.lock);
    for (j = W.head; j; j = next) {
        next = j->next;
        free(j->body);
        free(j);
    }
    W.head = W.tail = NULL;
    W.queued = W.delivered = W.failed = 0;
    W.generation++;
    pthread_mutex_unlock(&W.lock);
}

void mock_webhook_stop(void) {
    if (!W.running) return;
    pthread_mutex_lock(&W.lock);
    W.stopping = 1;
    pthread_cond_signal(&W.cond);
    pthread_mutex_unlock(&W.lock);
    pthread_join(W.thread, NULL);
    W.running = 0;
    mock_webhook_clear();
}

void mock_webhook_enqueue(char *body) {
    job *j;
    if (!W.running || !(j = calloc(1, sizeof *j))) {
        free(body);
        return;
    }
    j->body = body;
    pthread_mutex_lock(&W.lock);
    if (W.queued >= MAX_QUEUED) {
        W.failed++;
        free(body);
        free(j);
    } else {
        push(j);
    }
    pthread_mutex_unlock(&W.lock);
}

void mock_webhook_counts(long *delivered, long *failed) {
    pthread_mutex_lock(&W.lock);
    *delivered = W.delivered;
    *failed = W.failed;
    pthread_mutex_unlock(&W.lock);
}

void mock_webhook_flush(long timeout_ms) {
    struct timespec ts;
    if (!W.running) return;
    deadline_in(&ts, timeout_ms);
    pthread_mutex_lock(&W.lock);
    while ((W.head || W.inflight) && !W.stopping)
        if (pthread_cond_timedwait(&W.idle, &W.lock, &ts) != 0) break;
    pthread_mutex_unlock(&W.lock);
}
