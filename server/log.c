/* Structured JSON-line logging.  See log.h. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int g_fd = 2;
/* relaxed: the level is a filter; a thread seeing the old one for a moment
 * after logging/setLevel logs or drops one extra line, which is harmless */
static _Atomic int g_level = LOG_INFO;

static const char *const level_names[] = {"debug", "info", "notice", "warn", "error", "off"};

void log_setup(int fd, enum log_level min)
{
    g_fd = fd;
    log_set_level(min);
}

void log_set_level(enum log_level min)
{
    atomic_store_explicit(&g_level, (int)min, memory_order_relaxed);
}

enum log_level log_get_level(void)
{
    return (enum log_level)atomic_load_explicit(&g_level, memory_order_relaxed);
}

const char *log_level_name(enum log_level l)
{
    if ((unsigned)l > LOG_OFF)
        return NULL;
    return level_names[l];
}

int log_level_parse(const char *name)
{
    for (int i = 0; name && i <= LOG_OFF; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

int log_field_is_secret(const char *name)
{
    static const char *const words[] = {"authorization", "token", "secret",
                                        "password",      "apikey", "cookie"};
    /* compare without case, '-' or '_': "X-Api-Key" and "openai_api_key"
     * both contain "apikey" */
    char norm[64];
    size_t n = 0;
    for (const char *p = name; *p && n < sizeof norm - 1; p++)
        if (*p != '-' && *p != '_')
            norm[n++] = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
    norm[n] = '\0';
    if (strcmp(norm, "key") == 0)
        return 1;
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strstr(norm, words[i]))
            return 1;
    return 0;
}

static void timestamp(char buf[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void write_all(const char *s, size_t len)
{
    while (len > 0) {
        ssize_t w = write(g_fd, s, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere left to report a failing log */
        s += w;
        len -= (size_t)w;
    }
}

static void emit(json_t *obj)
{
    char *line = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!line)
        return;
    size_t len = strlen(line);
    /* one write per line: append the newline in place of the NUL */
    line[len] = '\n';
    write_all(line, len + 1);
    free(line);
}

void log_event(enum log_level l, const char *event, ...)
{
    int on = l >= log_get_level() && l < LOG_OFF;
    json_t *obj = on ? json_object() : NULL;
    if (obj) {
        char ts[32];
        timestamp(ts);
        json_object_set_new(obj, "ts", json_string(ts));
        json_object_set_new(obj, "level", json_string(level_names[l]));
        json_object_set_new(obj, "event", json_string(event));
    }
    va_list ap;
    va_start(ap, event);
    for (const char *name = va_arg(ap, const char *); name; name = va_arg(ap, const char *)) {
        json_t *v = va_arg(ap, json_t *);
        if (obj && log_field_is_secret(name)) {
            json_decref(v);
            v = json_string("[redacted]");
        }
        if (obj && v)
            json_object_set_new(obj, name, v);
        else
            json_decref(v);
    }
    va_end(ap);
    if (obj)
        emit(obj);
    json_decref(obj);
}
