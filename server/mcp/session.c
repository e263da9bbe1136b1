/* The session table: a chained hash table under one mutex (sessions are
 * looked up once per HTTP request, so a lock is cheaper than the code a
 * lock-free table would need), plus a ring of recently ended ids. */
#include "session.h"

#include <openssl/rand.h>

#include <stdlib.h>
#include <string.h>

struct session_table {
    pthread_mutex_t mu;
    const resil_clock *clock;
    size_t max_sessions, count, nbuckets;
    int64_t idle_ns;
    struct session **buckets;
    char (*ended)[SESSION_ID_LEN + 1];
    size_t ended_cap, ended_next;
};

static size_t bucket_of(const struct session_table *t, const char *id, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a: ids are random already */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)id[i]) * 1099511628211ull;
    return (size_t)(h & (t->nbuckets - 1));
}

int session_table_new(const struct session_table_opts *o, struct session_table **out)
{
    *out = NULL;
    struct session_table *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    t->clock = o && o->clock ? o->clock : resil_clock_monotonic();
    t->max_sessions = o && o->max_sessions ? o->max_sessions : 1000;
    t->idle_ns = o && o->idle_ns > 0 ? o->idle_ns : 30 * 60 * RESIL_NS_PER_SEC;
    t->ended_cap = o && o->ended_memory ? o->ended_memory : 1024;
    t->nbuckets = 16;
    while (t->nbuckets < t->max_sessions)
        t->nbuckets <<= 1;
    t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
    t->ended = calloc(t->ended_cap, sizeof *t->ended);
    if (!t->buckets || !t->ended || pthread_mutex_init(&t->mu, NULL) != 0) {
        free(t->buckets);
        free(t->ended);
        free(t);
        return -1;
    }
    *out = t;
    return 0;
}

static void session_destroy(struct session *s)
{
    if (s->proto_free)
        s->proto_free(s->proto);
    if (s->transport_free)
        s->transport_free(s->transport);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Caller holds t->mu.  Unlinks s, remembers its id, drops the table's
 * reference; returns s when that was the last one (free it unlocked). */
static struct session *unlink_locked(struct session_table *t, struct session **link)
{
    struct session *s = *link;
    *link = s->next_;
    s->ended_ = 1;
    t->count--;
    memcpy(t->ended[t->ended_next], s->id, sizeof s->id);
    t->ended_next = (t->ended_next + 1) % t->ended_cap;
    return --s->refs_ == 0 ? s : NULL;
}

void session_table_free(struct session_table *t)
{
    if (!t)
        return;
    for (size_t b = 0; b < t->nbuckets; b++) {
        while (t->buckets[b]) {
            struct session *dead = unlink_locked(t, &t->buckets[b]);
            if (dead)
                session_destroy(dead);
        }
    }
    pthread_mutex_destroy(&t->mu);
    free(t->buckets);
    free(t->ended);
    free(t);
}

static int make_id(char id[SESSION_ID_LEN + 1])
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[33] = {0}; /* 32 random bytes, one zero byte of slack */
    if (RAND_bytes(raw, 32) != 1)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < 33 && o < SESSION_ID_LEN; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
        for (int k = 18; k >= 0 && o < SESSION_ID_LEN; k -= 6)
            id[o++] = b64[(v >> k) & 63];
    }
    id[SESSION_ID_LEN] = '\0';
    return 0;
}

int session_create(struct session_table *t, struct session **out)
{
    *out = NULL;
    struct session *s = calloc(1, sizeof *s);
    if (!s)
        return -2;
    if (make_id(s->id) != 0 || pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        return -2;
    }
    s->next_event_id = 1;
    s->refs_ = 2; /* the table's and the caller's */
    pthread_mutex_lock(&t->mu);
    if (t->count >= t->max_sessions) {
        pthread_mutex_unlock(&t->mu);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return -1;
    }
    s->created_ns = s->last_seen_ns = resil_clock_now(t->clock);
    size_t b = bucket_of(t, s->id, SESSION_ID_LEN);
    s->next_ = t->buckets[b];
    t->buckets[b] = s;
    t->count++;
    pthread_mutex_unlock(&t->mu);
    *out = s;
    return 0;
}

static struct session **find_locked(struct session_table *t, const char *id, size_t len)
{
    if (len != SESSION_ID_LEN)
        return NULL;
    struct session **link = &t->buckets[bucket_of(t, id, len)];
    for (; *link; link = &(*link)->next_)
        if (memcmp((*link)->id, id, len) == 0)
            return link;
    return NULL;
}

static int was_ended_locked(const struct session_table *t, const char *id, size_t len)
{
    if (len != SESSION_ID_LEN)
        return 0;
    for (size_t i = 0; i < t->ended_cap; i++)
        if (t->ended[i][0] && memcmp(t->ended[i], id, len) == 0)
            return 1;
    return 0;
}

enum session_lookup session_get(struct session_table *t, const char *id, size_t len,
                                struct session **out)
{
    *out = NULL;
    pthread_mutex_lock(&t->mu);
    struct session **link = find_locked(t, id, len);
    enum session_lookup r = SESSION_UNKNOWN;
    if (link) {
        (*link)->refs_++;
        (*link)->last_seen_ns = resil_clock_now(t->clock);
        *out = *link;
        r = SESSION_FOUND;
    } else if (was_ended_locked(t, id, len)) {
        r = SESSION_ENDED;
    }
    pthread_mutex_unlock(&t->mu);
    return r;
}

void session_put(struct session_table *t, struct session *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&t->mu);
    int last = --s->refs_ == 0;
    pthread_mutex_unlock(&t->mu);
    if (last)
        session_destroy(s);
}

int session_end(struct session_table *t, const char *id, size_t len)
{
    pthread_mutex_lock(&t->mu);
    struct session **link = find_locked(t, id, len);
    struct session *dead = link ? unlink_locked(t, link) : NULL;
    pthread_mutex_unlock(&t->mu);
    if (dead)
        session_destroy(dead);
    return link ? 0 : -1;
}

static int busy(struct session *s)
{
    pthread_mutex_lock(&s->mu);
    int b = s->inflight > 0;
    pthread_mutex_unlock(&s->mu);
    return b;
}

size_t session_table_sweep(struct session_table *t)
{
    size_t n = 0;
    struct session *dead = NULL;
    pthread_mutex_lock(&t->mu);
    int64_t now = resil_clock_now(t->clock);
    for (size_t b = 0; b < t->nbuckets; b++) {
        struct session **link = &t->buckets[b];
        while (*link) {
            struct session *s = *link;
            if (now - s->last_seen_ns < t->idle_ns || busy(s)) {
                link = &s->next_;
                continue;
            }
            n++;
            struct session *last = unlink_locked(t, link);
            if (last) { /* destroy after unlocking: transport_free may block */
                last->next_ = dead;
                dead = last;
            }
        }
    }
    pthread_mutex_unlock(&t->mu);
    while (dead) {
        struct session *next = dead->next_;
        session_destroy(dead);
        dead = next;
    }
    return n;
}

size_t session_table_count(struct session_table *t)
{
    pthread_mutex_lock(&t->mu);
    size_t n = t->count;
    pthread_mutex_unlock(&t->mu);
    return n;
}

int session_begin_request(struct session *s, unsigned max)
{
    pthread_mutex_lock(&s->mu);
    int ok = s->inflight < max;
    if (ok)
        s->inflight++;
    pthread_mutex_unlock(&s->mu);
    return ok ? 0 : -1;
}

void session_end_request(struct session *s)
{
    pthread_mutex_lock(&s->mu);
    if (s->inflight > 0)
        s->inflight--;
    pthread_mutex_unlock(&s->mu);
}
