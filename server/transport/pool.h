/* A fixed pool of worker threads with a bounded job queue: the transports
 * run tool calls here so that the thread reading stdin, or serving an
 * HTTP connection, stays free for ping, cancellation and the client's
 * answers to our requests.  Workers block all signals (main handles
 * SIGTERM/SIGINT). */
#ifndef MCP_POOL_H
#define MCP_POOL_H

#include <stddef.h>

struct pool;

/* threads >= 1; queue_max >= 1 jobs waiting beyond the running ones.
 * 0, or -1 (bad arguments, out of memory, thread creation failed). */
int pool_new(unsigned threads, size_t queue_max, struct pool **out);

/* Queue fn(arg).  0, or -1 when the queue is full or the pool is
 * stopping (fn is not called: the caller answers "server busy"). */
int pool_submit(struct pool *p, void (*fn)(void *arg), void *arg);

/* Jobs queued or running. */
size_t pool_pending(struct pool *p);

/* Wait until no job is queued or running, at most timeout_ms (< 0:
 * forever).  0 when idle, -1 on timeout. */
int pool_drain(struct pool *p, long timeout_ms);

/* Refuse new jobs, run the queued ones, join the threads, free.  (Call
 * after cancelling what must not run to completion.) */
void pool_free(struct pool *p);

#endif
