/* Shared declarations of fake-upstream, the HTTP test fixture that stands in for the
 * upstream APIs of mcp-server (see main.c for the program, routes.c for the canned
 * APIs, faults.c for fault injection and the /_control API). */
#ifndef FAKE_UPSTREAM_FAKE_H
#define FAKE_UPSTREAM_FAKE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <microhttpd.h>

/* A request body larger than this is answered 413 and never buffered. */
#define FAKE_MAX_BODY ((size_t)1024 * 1024)
/* Longest Retry-After value and override body a fault may carry. */
#define FAKE_MAX_RETRY_AFTER 128
#define FAKE_MAX_FAULT_BODY ((size_t)64 * 1024)
/* How long the "hang" fault holds a connection when the client stays. */
#define FAKE_HANG_MS 30000u
/* Compact, insertion-ordered, and reals such as 4.8 printed as "4.8". */
#define FAKE_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(10))

/* The upstream a request belongs to; the first FAKE_FAULT_SERVICES take faults. */
enum fake_service {
    FAKE_SVC_YOUTUBE,
    FAKE_SVC_OEMBED,
    FAKE_SVC_TRANSCRIPT,
    FAKE_SVC_CHAT,
    FAKE_SVC_OTHER,
    FAKE_SVC_COUNT
};
#define FAKE_FAULT_SERVICES 4

enum fake_mode {
    FAKE_MODE_OK,
    FAKE_MODE_LATENCY,
    FAKE_MODE_STATUS,
    FAKE_MODE_RATELIMIT,
    FAKE_MODE_RESET,
    FAKE_MODE_HANG
};

/* Credentials the canned APIs demand; NULL means "any or none". */
struct fake_config {
    const char *require_key;
    const char *chat_key;
};

/* One complete request as the route handlers see it. body is NUL-terminated. */
struct fake_request {
    struct MHD_Connection *conn;
    const char *method;
    const char *url;
    const char *body;
    size_t body_len;
    const struct fake_config *cfg;
};

struct fake_fault {
    enum fake_mode mode;
    unsigned latency_ms;                        /* delay before the mode acts */
    unsigned status;                            /* mode status */
    char retry_after[FAKE_MAX_RETRY_AFTER + 1]; /* "" = no header */
    char *body;                                 /* override body, owned, or NULL */
    size_t body_len;
    unsigned long count;                        /* requests left; 0 = until changed */
};

/* routes.c: the canned APIs */
enum fake_service fake_route_service(const char *url);
enum MHD_Result fake_route_dispatch(const struct fake_request *r);

/* main.c: answers, and error bodies in each upstream's own shape */
enum MHD_Result fake_reply(struct MHD_Connection *c, unsigned status,
                           const char *body, size_t len, const char *ctype,
                           const char *hdr_name, const char *hdr_value);
enum MHD_Result fake_reply_text(struct MHD_Connection *c, unsigned status,
                                const char *text);
/* Steals j; a NULL j (a failed json_pack) becomes a 500. */
enum MHD_Result fake_reply_json(struct MHD_Connection *c, unsigned status, json_t *j);
enum MHD_Result fake_reply_method(struct MHD_Connection *c, const char *allow);
json_t *fake_google_error(unsigned code, const char *message, const char *reason,
                          const char *location);
json_t *fake_openai_error(const char *message, const char *type, const char *param,
                          const char *code);
void fake_printable(const char *in, char *out, size_t outsz);

/* faults.c: faults, statistics, /_control */
const char *fake_service_name(enum fake_service svc);
void fake_state_init(int wake_fd);
void fake_state_destroy(void);
void fake_stats_note(enum fake_service svc, const char *path, bool auth_present);
unsigned long fake_next_completion_id(void);
bool fake_fault_take(enum fake_service svc, struct fake_fault *out);
void fake_fault_clear(struct fake_fault *f);
enum MHD_Result fake_fault_apply(const struct fake_request *r, enum fake_service svc,
                                 const struct fake_fault *f, bool *answered);
enum MHD_Result fake_control_dispatch(const struct fake_request *r);

#endif
