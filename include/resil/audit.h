/* libresil: a security audit of how a program is deployed.
 *
 *   resil_audit_opts o;
 *   resil_audit_opts_init(&o);
 *   o.key_path = "/etc/app/secrets.key";
 *   o.secrets_path = "/etc/app/secrets";
 *   resil_audit_listener l = {.name = "http", .address = "0.0.0.0:8080"};
 *   o.listeners = &l; o.nlisteners = 1;
 *   resil_audit_finding *f; size_t n;
 *   resil_audit_run(&o, &f, &n);
 *   for (size_t i = 0; i < n; i++)
 *       printf("%s %s: %s (%s)\n", resil_audit_severity_name(f[i].severity),
 *              f[i].id, f[i].what, f[i].fix);
 *   resil_free(f);
 *
 * Each check that finds a problem adds one finding: a stable id (for
 * suppression lists and tests), a severity, what is wrong, where, and how
 * to fix it.  Findings never contain secret values.  The audit reads file
 * metadata and the environment; it changes nothing.
 *
 * Checks and their ids:
 *   key-file-perms, secrets-file-perms, config-file-perms, log-file-perms
 *       group/other access (or not owned by the running user) to those
 *       files; log files only if writable by others (readable is fine for
 *       logs that hold no secrets: low severity)
 *   key-file-missing, secrets-file-missing      a path given that is absent
 *   env-secret-weak        a weak or placeholder secret in an environment
 *                          variable named in env_names
 *   listener-public-no-tls, listener-public-no-auth
 *                          a listener bound beyond loopback (0.0.0.0, ::,
 *                          any non-loopback address) without TLS or
 *                          without authentication
 *   running-as-root        the effective uid is 0
 *   dir-world-writable     a directory of data_dirs, or a parent of a key,
 *                          secrets, config or log file, writable by others
 *                          without the sticky bit
 */
#ifndef RESIL_AUDIT_H
#define RESIL_AUDIT_H

#include <resil/alloc.h>
#include <resil/common.h>
#include <resil/error.h>
#include <resil/secrets.h>

RESIL_BEGIN_DECLS

typedef enum resil_audit_severity {
    RESIL_AUDIT_INFO = 0,
    RESIL_AUDIT_LOW = 1,
    RESIL_AUDIT_MEDIUM = 2,
    RESIL_AUDIT_HIGH = 3,
    RESIL_AUDIT_CRITICAL = 4,
} resil_audit_severity;

typedef struct resil_audit_finding {
    char id[48];                   /* "key-file-perms" */
    resil_audit_severity severity;
    char what[256];                /* "key file is readable by others" */
    char where[512];               /* a path, a variable, a listener */
    char fix[512];                 /* "chmod 600 /etc/app/secrets.key" */
} resil_audit_finding;

typedef struct resil_audit_listener {
    const char *name;    /* "http", "metrics" */
    const char *address; /* "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:80",
                            "localhost:8080", "host:port" */
    int tls;             /* served over TLS */
    int auth;            /* requests must authenticate */
} resil_audit_listener;

typedef struct resil_audit_opts {
    const char *key_path;     /* NULL: not checked */
    const char *secrets_path; /* NULL: not checked */
    const char *const *config_paths;
    size_t nconfig;
    const char *const *log_paths;
    size_t nlog;
    const char *const *data_dirs;
    size_t ndata;
    const char *const *env_names; /* environment variables holding secrets */
    size_t nenv;
    const resil_secret_policy *policy; /* for env_names; NULL: defaults */
    const resil_audit_listener *listeners;
    size_t nlisteners;
    long euid;                /* -1 (default): geteuid(); tests pass one */
    uint64_t reserved_[8];    /* zeroed by resil_audit_opts_init() */
} resil_audit_opts;

RESIL_API void resil_audit_opts_init(resil_audit_opts *o);
/* Run every check.  *out is an array of *n findings, most severe first, to
 * release with resil_free() (NULL when none).  RESIL_EINVAL (a listener
 * address that does not parse, err says which), RESIL_ENOMEM.  A file that
 * cannot be examined is itself a finding, not an error. */
RESIL_API int resil_audit_run(const resil_audit_opts *o, resil_audit_finding **out,
                              size_t *n, resil_error *err);
/* {"findings": [{"id", "severity", "what", "where", "fix"}], "counts":
 * {"critical": n, ...}} as one JSON document.  RESIL_ENOTSUP without
 * jansson, RESIL_ENOMEM. */
RESIL_API int resil_audit_render(const resil_audit_finding *f, size_t n, char **out,
                                 size_t *len);
/* "info", "low", "medium", "high", "critical"; "unknown" otherwise. */
RESIL_API const char *resil_audit_severity_name(resil_audit_severity s);
/* Whether an address ("host:port", "[v6]:port", a bare host) is loopback:
 * 127.0.0.0/8, ::1, "localhost".  0 or 1; RESIL_EINVAL if it does not
 * parse. */
RESIL_API int resil_audit_is_loopback(const char *address);

RESIL_END_DECLS

#endif /* RESIL_AUDIT_H */
