/* Structured logs: one JSON object per line on one file descriptor
 * (stderr by default, because with the stdio transport stdout carries MCP
 * messages only).  Each line is written with one write(2), so lines from
 * many threads never interleave.
 *
 *   log_event(LOG_WARN, "upstream.retry", "service", json_string("ai"),
 *             "attempt", json_integer(2), NULL);
 *   -> {"ts":"2026-11-24T05:00:00.123Z","level":"warn","event":"upstream.retry",
 *       "service":"ai","attempt":2}
 *
 * Fields whose name says they hold a credential (authorization, token,
 * secret, password, api_key, apikey, key, cookie) are written as
 * "[redacted]" whatever their value, so a careless call site cannot leak
 * one. */
#ifndef MCP_LOG_H
#define MCP_LOG_H

#include <jansson.h>

enum log_level {
    LOG_DEBUG = 0,
    LOG_INFO = 1,
    LOG_NOTICE = 2,
    LOG_WARN = 3,
    LOG_ERROR = 4,
    LOG_OFF = 5,
};

/* Where and how much.  Not thread-safe against logging: call at startup. */
void log_setup(int fd, enum log_level min);
void log_set_level(enum log_level min);
enum log_level log_get_level(void);

/* "debug", "info", ...; NULL for an unknown level. */
const char *log_level_name(enum log_level l);
/* -1 for an unknown name. */
int log_level_parse(const char *name);

/* Log an event with NULL-terminated (name, json_t *stolen) pairs.  Values
 * are stolen even when the level is filtered out. */
void log_event(enum log_level l, const char *event, ...);

/* Whether a field of that name is redacted. */
int log_field_is_secret(const char *name);

#endif
