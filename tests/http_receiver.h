/* A real HTTP receiver for tests (libmicrohttpd), on 127.0.0.1 and a port
 * the kernel picks.  It records every request (method, path, Content-Type,
 * Authorization, body) in a bounded list and answers as scripted:
 *
 *   hr_receiver *r = hr_start();
 *   hr_push(r, 500, NULL);          // the next request gets a 500,
 *   hr_set_default(r, 200, NULL);   // every later one a 200
 *   hr_url(r, "/hook", url, sizeof url);
 *   ... POST to url ...
 *   ck_assert(hr_wait(r, 2, 5000));
 *   hr_request q; hr_get(r, 0, &q); ... hr_request_clear(&q);
 *   hr_stop(r);
 *
 * Modes for an answer: a status (200, 400, 429, 500, ...) with an optional
 * Retry-After, HR_CLOSE (close the connection without answering), a delay
 * in ms before answering, and "hold": answer only after hr_release().
 * Every wait in the receiver (delay, hold) ends at once when hr_stop() runs,
 * so stopping never waits for a slow answer.
 *
 * Every function is safe to call from any thread while the receiver runs;
 * connection threads record and answer under the receiver's mutex. */
#ifndef RESIL_TESTS_HTTP_RECEIVER_H
#define RESIL_TESTS_HTTP_RECEIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* configure links libmicrohttpd into the test when pkg-config finds it but
 * defines no macro for it: the header's presence stands in for that. */
#if defined(__has_include)
#if __has_include(<microhttpd.h>)
#define HR_AVAILABLE 1
#endif
#endif
#ifndef HR_AVAILABLE
#define HR_AVAILABLE 0
#endif

#define HR_CLOSE 0          /* "status" that closes without an answer */
#define HR_MAX_REQUESTS 256 /* recorded; later ones are only counted */
#define HR_MAX_BODY (1024 * 1024)
#define HR_MAX_SCRIPT 64

typedef struct hr_receiver hr_receiver;

typedef struct hr_request {
    char method[16];
    char path[256];
    char content_type[128];  /* "" when absent */
    char authorization[512]; /* "" when absent */
    char *body;              /* NUL-terminated copy (malloc); NULL if none */
    size_t body_len;
    bool truncated;          /* body longer than HR_MAX_BODY */
} hr_request;

/* NULL when it cannot start (no port, no memory). */
hr_receiver *hr_start(void);
/* Stop serving (ends every delay and hold first) and free.  NULL: no-op. */
void hr_stop(hr_receiver *r);

uint16_t hr_port(const hr_receiver *r);
/* "http://127.0.0.1:<port><path>" into buf. */
void hr_url(const hr_receiver *r, const char *path, char *buf, size_t n);

/* The answer when no scripted one is left (initially 200, no Retry-After).
 * retry_after is copied; NULL for none. */
void hr_set_default(hr_receiver *r, int status, const char *retry_after);
/* Queue a one-shot answer; answers are used in order, one per request.
 * Returns false when HR_MAX_SCRIPT are already queued. */
bool hr_push(hr_receiver *r, int status, const char *retry_after);
/* Wait this long before every answer (0: none). */
void hr_set_delay_ms(hr_receiver *r, unsigned ms);
/* While held, requests are recorded and then wait for hr_release(). */
void hr_hold(hr_receiver *r);
void hr_release(hr_receiver *r);

/* Requests whose body has fully arrived (and been recorded). */
size_t hr_count(hr_receiver *r);
/* Answers sent (a closed connection counts as answered). */
size_t hr_answered(hr_receiver *r);
/* Wait, at most timeout_ms of real time, until hr_count() >= n. */
bool hr_wait(hr_receiver *r, size_t n, unsigned timeout_ms);
/* Wait, at most timeout_ms of real time, until hr_answered() >= n. */
bool hr_wait_answered(hr_receiver *r, size_t n, unsigned timeout_ms);
/* Copy the i-th recorded request (0-based).  false if there is none. */
bool hr_get(hr_receiver *r, size_t i, hr_request *out);
void hr_request_clear(hr_request *q);

#endif
