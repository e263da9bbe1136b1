/* The deployment audit: file modes and owners, the directories above
 * them, secrets in the environment, listeners beyond loopback, root.
 * It reads metadata (lstat/stat) and the environment and changes nothing.
 * Findings carry paths, variable names and listener names, never values.
 *
 * Severities (the ids are audit.h's):
 *   key/secrets file with group/other bits, wrong owner, a symlink or not
 *   a regular file: CRITICAL (the store refuses to open it); absent: HIGH
 *   config file writable by group/others or not ours: HIGH; readable: MEDIUM
 *   log file writable by others: MEDIUM; readable by others: LOW
 *   placeholder secret in the environment: CRITICAL; otherwise weak: HIGH
 *   public listener without auth: CRITICAL; without TLS: HIGH
 *   world-writable directory without the sticky bit: HIGH
 *   running as root: MEDIUM
 *   a file that cannot be examined: one level below its check's worst. */
#include "config.h"

#include "secrets_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef struct audit_ctx {
    resil_audit_finding *f;
    size_t n, cap;
    uid_t euid;
    const resil_secret_policy *policy;
    int rc; /* RESIL_ENOMEM once an allocation failed */
} audit_ctx;

void resil_audit_opts_init(resil_audit_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->euid = -1;
}

const char *resil_audit_severity_name(resil_audit_severity s)
{
    switch (s) {
    case RESIL_AUDIT_INFO:
        return "info";
    case RESIL_AUDIT_LOW:
        return "low";
    case RESIL_AUDIT_MEDIUM:
        return "medium";
    case RESIL_AUDIT_HIGH:
        return "high";
    case RESIL_AUDIT_CRITICAL:
        return "critical";
    }
    return "unknown";
}

/* A new finding with id, severity and where filled in; NULL (and c->rc
 * set) when the array cannot grow. */
static resil_audit_finding *add(audit_ctx *c, const char *id, resil_audit_severity sev,
                                const char *where)
{
    if (c->rc != 0)
        return NULL;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        resil_audit_finding *f = resil__realloc(c->f, cap * sizeof *f);
        if (!f) {
            c->rc = RESIL_ENOMEM;
            return NULL;
        }
        c->f = f;
        c->cap = cap;
    }
    resil_audit_finding *f = &c->f[c->n++];
    memset(f, 0, sizeof *f);
    snprintf(f->id, sizeof f->id, "%s", id);
    f->severity = sev;
    snprintf(f->where, sizeof f->where, "%s", where);
    return f;
}

static void cannot_examine(audit_ctx *c, const char *id, resil_audit_severity sev,
                           const char *what, const char *path, int e)
{
    resil_audit_finding *f = add(c, id, sev, path);
    if (!f)
        return;
    snprintf(f->what, sizeof f->what, "%s could not be examined: %s", what, strerror(e));
    snprintf(f->fix, sizeof f->fix,
             "check the path and the permissions of the directories above it");
}

/* ---- directories ---------------------------------------------------------- */

static bool already_found(const audit_ctx *c, const char *id, const char *where)
{
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->f[i].id, id) == 0 &&
            strncmp(c->f[i].where, where, sizeof c->f[i].where - 1) == 0)
            return true;
    }
    return false;
}

static void check_dir_stat(audit_ctx *c, const char *dir, const struct stat *st)
{
    if (!S_ISDIR(st->st_mode) || !(st->st_mode & S_IWOTH) || (st->st_mode & S_ISVTX))
        return;
    if (already_found(c, "dir-world-writable", dir))
        return;
    resil_audit_finding *f = add(c, "dir-world-writable", RESIL_AUDIT_HIGH, dir);
    if (!f)
        return;
    snprintf(f->what, sizeof f->what,
             "directory is writable by others without the sticky bit (mode %04o): "
             "anyone can replace the files in it",
             (unsigned)(st->st_mode & 07777));
    snprintf(f->fix, sizeof f->fix,
             "chmod o-w %s (or chmod +t %s if others must write there)", dir, dir);
}

static void check_data_dir(audit_ctx *c, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        int e = errno;
        resil_audit_severity sev = e == ENOENT ? RESIL_AUDIT_INFO : RESIL_AUDIT_MEDIUM;
        cannot_examine(c, "dir-world-writable", sev, "data directory", dir, e);
        return;
    }
    check_dir_stat(c, dir, &st);
}

/* The directory holding path; a file that could not be examined was
 * reported by its own check, so a parent that cannot be is skipped. */
static void check_parent(audit_ctx *c, const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t len = slash ? (size_t)(slash - path) : 0;
    if (!slash) {
        strcpy(dir, ".");
    } else if (len == 0) {
        strcpy(dir, "/");
    } else if (len < sizeof dir) {
        memcpy(dir, path, len);
        dir[len] = '\0';
    } else {
        return;
    }
    struct stat st;
    if (stat(dir, &st) == 0)
        check_dir_stat(c, dir, &st);
}

/* ---- files ------------------------------------------------------------- */

static void store_file_problem(audit_ctx *c, const char *id, const char *what,
                               const char *path, const struct stat *st, unsigned bad)
{
    resil_audit_finding *f = add(c, id, RESIL_AUDIT_CRITICAL, path);
    if (!f)
        return;
    unsigned uid = (unsigned)st->st_uid, me = (unsigned)c->euid;
    unsigned mode = (unsigned)(st->st_mode & 07777);
    if (bad & RESIL__SF_SYMLINK) {
        snprintf(f->what, sizeof f->what, "%s is a symbolic link (the store refuses it)",
                 what);
        snprintf(f->fix, sizeof f->fix, "replace %s with the file it points to", path);
    } else if (bad & RESIL__SF_NOT_REGULAR) {
        snprintf(f->what, sizeof f->what, "%s is not a regular file", what);
        snprintf(f->fix, sizeof f->fix, "make %s a regular file with mode 0600", path);
    } else if ((bad & RESIL__SF_OWNER) && (bad & RESIL__SF_MODE)) {
        snprintf(f->what, sizeof f->what,
                 "%s is owned by uid %u, not by the running user (uid %u), and %s "
                 "(mode %04o)",
                 what, uid, me, resil__sf_mode_words(st->st_mode), mode);
        snprintf(f->fix, sizeof f->fix, "chown %u %s && chmod 600 %s", me, path, path);
    } else if (bad & RESIL__SF_OWNER) {
        snprintf(f->what, sizeof f->what,
                 "%s is owned by uid %u, not by the running user (uid %u)", what, uid,
                 me);
        snprintf(f->fix, sizeof f->fix, "chown %u %s", me, path);
    } else {
        snprintf(f->what, sizeof f->what, "%s is %s (mode %04o)", what,
                 resil__sf_mode_words(st->st_mode), mode);
        snprintf(f->fix, sizeof f->fix, "chmod 600 %s", path);
    }
}

/* Key and secrets files: judged as resil_secrets_open() judges them, so a
 * finding here is a store that will not open. */
static void check_store_file(audit_ctx *c, const char *path, const char *what,
                             const char *perms_id, const char *missing_id)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        int e = errno;
        if (e != ENOENT) {
            cannot_examine(c, perms_id, RESIL_AUDIT_HIGH, what, path, e);
            return;
        }
        resil_audit_finding *f = add(c, missing_id, RESIL_AUDIT_HIGH, path);
        if (f) {
            snprintf(f->what, sizeof f->what, "%s does not exist", what);
            snprintf(
                f->fix, sizeof f->fix,
                "create it (mode 0600, owned by the running user) or correct the path");
        }
    } else {
        unsigned bad = resil__sf_problems(&st, c->euid);
        if (bad)
            store_file_problem(c, perms_id, what, path, &st, bad);
    }
    check_parent(c, path);
}

static void check_config_file(audit_ctx *c, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        resil_audit_severity sev = e == ENOENT ? RESIL_AUDIT_LOW : RESIL_AUDIT_MEDIUM;
        cannot_examine(c, "config-file-perms", sev, "config file", path, e);
        return;
    }
    check_parent(c, path);
    bool owner = st.st_uid != c->euid;
    mode_t go = st.st_mode & (S_IRWXG | S_IRWXO);
    if (!owner && !go)
        return;
    resil_audit_severity sev = RESIL_AUDIT_LOW;
    if (owner || (go & (S_IWGRP | S_IWOTH)))
        sev = RESIL_AUDIT_HIGH;
    else if (go & (S_IRGRP | S_IROTH))
        sev = RESIL_AUDIT_MEDIUM;
    resil_audit_finding *f = add(c, "config-file-perms", sev, path);
    if (!f)
        return;
    unsigned mode = (unsigned)(st.st_mode & 07777), me = (unsigned)c->euid;
    if (owner && go) {
        snprintf(f->what, sizeof f->what,
                 "config file is owned by uid %u, not by the running user (uid %u), "
                 "and %s (mode %04o)",
                 (unsigned)st.st_uid, me, resil__sf_mode_words(st.st_mode), mode);
        snprintf(f->fix, sizeof f->fix, "chown %u %s && chmod 600 %s", me, path, path);
    } else if (owner) {
        snprintf(f->what, sizeof f->what,
                 "config file is owned by uid %u, not by the running user (uid %u)",
                 (unsigned)st.st_uid, me);
        snprintf(f->fix, sizeof f->fix, "chown %u %s", me, path);
    } else {
        snprintf(f->what, sizeof f->what, "config file is %s (mode %04o)",
                 resil__sf_mode_words(st.st_mode), mode);
        snprintf(f->fix, sizeof f->fix, "chmod 600 %s", path);
    }
}

static void check_log_file(audit_ctx *c, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        resil_audit_severity sev = e == ENOENT ? RESIL_AUDIT_INFO : RESIL_AUDIT_LOW;
        cannot_examine(c, "log-file-perms", sev, "log file", path, e);
        return;
    }
    check_parent(c, path);
    if (!(st.st_mode & (S_IWOTH | S_IROTH)))
        return;
    bool w = st.st_mode & S_IWOTH;
    resil_audit_finding *f =
        add(c, "log-file-perms", w ? RESIL_AUDIT_MEDIUM : RESIL_AUDIT_LOW, path);
    if (!f)
        return;
    snprintf(f->what, sizeof f->what,
             w ? "log file is writable by others (mode %04o): anyone can forge entries"
               : "log file is readable by others (mode %04o)",
             (unsigned)(st.st_mode & 07777));
    if (w)
        snprintf(f->fix, sizeof f->fix, "chmod o-w %s", path);
    else
        snprintf(f->fix, sizeof f->fix,
                 "chmod o-r %s if the log can hold anything private", path);
}

/* ---- environment, listeners, root ------------------------------------------ */

static void check_env(audit_ctx *c, const char *name)
{
    const char *v = getenv(name);
    if (!v || !v[0])
        return; /* unset: nothing weak to report */
    size_t distinct;
    resil__secret_rule rule = resil__secret_judge(v, strlen(v), c->policy, &distinct);
    if (rule == RESIL__SECRET_OK)
        return;
    resil_audit_severity sev =
        rule == RESIL__SECRET_PLACEHOLDER ? RESIL_AUDIT_CRITICAL : RESIL_AUDIT_HIGH;
    resil_audit_finding *f = add(c, "env-secret-weak", sev, name);
    if (!f)
        return;
    char label[160];
    snprintf(label, sizeof label, "environment variable %s", name);
    resil__secret_describe(rule, label, c->policy, distinct, f->what, sizeof f->what);
    size_t want = c->policy->min_len > 32 ? c->policy->min_len : 32;
    snprintf(f->fix, sizeof f->fix,
             "set %s to a random value, e.g. $(openssl rand -base64 %zu)", name, want);
}

static int check_listener(audit_ctx *c, const resil_audit_listener *l, size_t i,
                          resil_error *err)
{
    char label[128];
    if (l->name)
        snprintf(label, sizeof label, "%s", l->name);
    else
        snprintf(label, sizeof label, "listener %zu", i);
    int lo = l->address ? resil_audit_is_loopback(l->address) : RESIL_EINVAL;
    if (lo < 0) {
        resil__secret_err(err, RESIL_EINVAL, 0,
                          "listener %s: address \"%s\" does not parse (want host:port, "
                          "[v6]:port or a bare host)",
                          label, l->address ? l->address : "");
        return RESIL_EINVAL;
    }
    if (lo)
        return 0;
    char where[512];
    snprintf(where, sizeof where, "listener %s (%s)", label, l->address);
    resil_audit_finding *f;
    if (!l->auth) {
        f = add(c, "listener-public-no-auth", RESIL_AUDIT_CRITICAL, where);
        if (f) {
            snprintf(f->what, sizeof f->what,
                     "listener %s is reachable beyond loopback and asks for no "
                     "authentication",
                     label);
            snprintf(f->fix, sizeof f->fix,
                     "require authentication (e.g. a bearer token) or bind 127.0.0.1");
        }
    }
    if (!l->tls) {
        f = add(c, "listener-public-no-tls", RESIL_AUDIT_HIGH, where);
        if (f) {
            snprintf(f->what, sizeof f->what,
                     "listener %s is reachable beyond loopback without TLS", label);
            snprintf(f->fix, sizeof f->fix,
                     "serve it over TLS (or behind a TLS proxy) or bind 127.0.0.1");
        }
    }
    return 0;
}

static void check_root(audit_ctx *c)
{
    if (c->euid != 0)
        return;
    resil_audit_finding *f = add(c, "running-as-root", RESIL_AUDIT_MEDIUM, "euid 0");
    if (!f)
        return;
    snprintf(f->what, sizeof f->what,
             "the program runs as root: a flaw in it gets the whole machine");
    snprintf(f->fix, sizeof f->fix,
             "run it as an unprivileged user (systemd User=, Docker USER, runAsNonRoot)");
}

/* ---- the run ------------------------------------------------------------- */

static bool list_ok(const char *const *v, size_t n)
{
    if (n > 0 && !v)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!v[i] || !v[i][0])
            return false;
    }
    return true;
}

static bool opts_ok(const resil_audit_opts *o)
{
    /* (uid_t)-1 is no user: chown(2) reads it as "leave unchanged". */
    if (o->euid != -1 && (o->euid < 0 || (unsigned long)o->euid >= (uid_t)-1))
        return false;
    if ((o->key_path && !o->key_path[0]) || (o->secrets_path && !o->secrets_path[0]))
        return false;
    if (o->nlisteners > 0 && !o->listeners)
        return false;
    if (o->policy && resil__secret_policy_valid(o->policy) != 0)
        return false;
    return list_ok(o->config_paths, o->nconfig) && list_ok(o->log_paths, o->nlog) &&
           list_ok(o->data_dirs, o->ndata) && list_ok(o->env_names, o->nenv);
}

static int cmp_finding(const void *pa, const void *pb)
{
    const resil_audit_finding *a = pa, *b = pb;
    if (a->severity != b->severity)
        return a->severity > b->severity ? -1 : 1;
    int d = strcmp(a->id, b->id);
    return d ? d : strcmp(a->where, b->where);
}

static int run_checks(audit_ctx *c, const resil_audit_opts *o, resil_error *err)
{
    for (size_t i = 0; i < o->nlisteners; i++) {
        int rc = check_listener(c, &o->listeners[i], i, err);
        if (rc != 0)
            return rc;
    }
    if (o->key_path)
        check_store_file(c, o->key_path, "key file", "key-file-perms",
                         "key-file-missing");
    if (o->secrets_path)
        check_store_file(c, o->secrets_path, "secrets file", "secrets-file-perms",
                         "secrets-file-missing");
    for (size_t i = 0; i < o->nconfig; i++)
        check_config_file(c, o->config_paths[i]);
    for (size_t i = 0; i < o->nlog; i++)
        check_log_file(c, o->log_paths[i]);
    for (size_t i = 0; i < o->ndata; i++)
        check_data_dir(c, o->data_dirs[i]);
    for (size_t i = 0; i < o->nenv; i++)
        check_env(c, o->env_names[i]);
    check_root(c);
    return c->rc;
}

int resil_audit_run(const resil_audit_opts *o, resil_audit_finding **out, size_t *n,
                    resil_error *err)
{
    resil__secret_err_clear(err);
    if (out)
        *out = NULL;
    if (n)
        *n = 0;
    if (!o || !out || !n || !opts_ok(o))
        return RESIL_EINVAL;
    resil_secret_policy defaults;
    resil_secret_policy_init(&defaults);
    audit_ctx c = {
        .euid = o->euid == -1 ? geteuid() : (uid_t)o->euid,
        .policy = o->policy ? o->policy : &defaults,
    };
    int rc = run_checks(&c, o, err);
    if (rc != 0) {
        if (rc == RESIL_ENOMEM)
            resil__secret_err(err, RESIL_ENOMEM, 0, "out of memory for audit findings");
        resil__free(c.f);
        return rc;
    }
    if (c.n == 0) {
        resil__free(c.f);
        return 0;
    }
    qsort(c.f, c.n, sizeof *c.f, cmp_finding);
    *out = c.f;
    *n = c.n;
    return 0;
}

/* ---- addresses ---------------------------------------------------------- */

static bool port_ok(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > 5)
        return false;
    unsigned long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(p[i] - '0');
    }
    return v <= 65535;
}

/* 1, 0, or RESIL_EINVAL.  A zone ("fe80::1%eth0") is allowed and ignored. */
static int v6_loopback(const char *s, size_t len)
{
    char buf[INET6_ADDRSTRLEN + 1];
    const char *pct = memchr(s, '%', len);
    if (pct && (size_t)(pct - s) + 1 < len)
        len = (size_t)(pct - s);
    if (len == 0 || len >= sizeof buf)
        return RESIL_EINVAL;
    memcpy(buf, s, len);
    buf[len] = '\0';
    struct in6_addr a;
    if (inet_pton(AF_INET6, buf, &a) != 1)
        return RESIL_EINVAL;
    if (IN6_IS_ADDR_LOOPBACK(&a))
        return 1;
    return IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127;
}

static bool label_ok(const char *s, size_t len)
{
    if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                     (ch >= '0' && ch <= '9');
        /* "_" is not RFC 1123, but Docker Compose service names use it */
        if (!alnum && ch != '-' && ch != '_')
            return false;
    }
    return true;
}

/* RFC 1123 host names (and "_").  A last label of digits only ("10.0.0.300",
 * "127.1") is a malformed IPv4 address, not a name. */
static bool hostname_ok(const char *s, size_t len)
{
    if (len > 0 && s[len - 1] == '.')
        len--;
    if (len == 0 || len > 253)
        return false;
    size_t start = 0;
    bool digits = true;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.')
            continue;
        if (!label_ok(s + start, i - start))
            return false;
        digits = strspn(s + start, "0123456789") >= i - start;
        start = i + 1;
    }
    return !digits;
}

static int host_loopback(const char *s, size_t len)
{
    char buf[256];
    if (len == 0 || (len == 1 && s[0] == '*'))
        return 0; /* ":8080", "*:8080": every interface */
    if (len >= sizeof buf)
        return RESIL_EINVAL;
    memcpy(buf, s, len);
    buf[len] = '\0';
    struct in_addr a;
    if (inet_pton(AF_INET, buf, &a) == 1)
        return (ntohl(a.s_addr) >> 24) == 127;
    if (strcasecmp(buf, "localhost") == 0 || strcasecmp(buf, "localhost.") == 0)
        return 1;
    return hostname_ok(buf, len) ? 0 : RESIL_EINVAL;
}

int resil_audit_is_loopback(const char *address)
{
    if (!address || !address[0])
        return RESIL_EINVAL;
    if (address[0] == '[') {
        const char *end = strchr(address, ']');
        if (!end)
            return RESIL_EINVAL;
        if (end[1] != '\0' && (end[1] != ':' || !port_ok(end + 2)))
            return RESIL_EINVAL;
        return v6_loopback(address + 1, (size_t)(end - address - 1));
    }
    const char *colon = strchr(address, ':');
    if (colon && strchr(colon + 1, ':'))
        return v6_loopback(address, strlen(address)); /* bare IPv6, no port */
    if (!colon)
        return host_loopback(address, strlen(address));
    if (!port_ok(colon + 1))
        return RESIL_EINVAL;
    return host_loopback(address, (size_t)(colon - address));
}

/* ---- JSON ------------------------------------------------------------- */
#ifdef RESIL_HAVE_JANSSON
#include <jansson.h>

/* jansson takes only UTF-8; a path need not be.  Bytes of an invalid
 * sequence become '?' (the finding stays readable; the path was only a
 * label). */
static json_t *jstr(const char *s, size_t max)
{
    size_t len = strnlen(s, max);
    json_t *j = json_stringn(s, len);
    if (j)
        return j;
    char buf[512];
    if (len >= sizeof buf)
        len = sizeof buf - 1;
    for (size_t i = 0; i < len; i++)
        buf[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
    return json_stringn(buf, len);
}

static json_t *finding_json(const resil_audit_finding *f)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = json_object_set_new(o, "id", jstr(f->id, sizeof f->id));
    bad |= json_object_set_new(o, "severity",
                               json_string(resil_audit_severity_name(f->severity)));
    bad |= json_object_set_new(o, "what", jstr(f->what, sizeof f->what));
    bad |= json_object_set_new(o, "where", jstr(f->where, sizeof f->where));
    bad |= json_object_set_new(o, "fix", jstr(f->fix, sizeof f->fix));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *counts_json(const resil_audit_finding *f, size_t n)
{
    json_int_t counts[RESIL_AUDIT_CRITICAL + 1] = {0};
    for (size_t i = 0; i < n; i++) {
        if (f[i].severity >= RESIL_AUDIT_INFO && f[i].severity <= RESIL_AUDIT_CRITICAL)
            counts[f[i].severity]++;
    }
    json_t *o = json_object();
    int bad = o ? 0 : -1;
    for (int s = RESIL_AUDIT_CRITICAL; o && s >= RESIL_AUDIT_INFO; s--)
        bad |= json_object_set_new(o, resil_audit_severity_name((resil_audit_severity)s),
                                   json_integer(counts[s]));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *report_json(const resil_audit_finding *f, size_t n)
{
    json_t *root = json_object();
    json_t *arr = json_array();
    int bad = root && arr ? 0 : -1;
    for (size_t i = 0; !bad && i < n; i++)
        bad = json_array_append_new(arr, finding_json(&f[i]));
    if (!bad)
        bad = json_object_set_new(root, "findings", arr);
    else
        json_decref(arr);
    if (!bad)
        bad = json_object_set_new(root, "counts", counts_json(f, n));
    if (bad) {
        json_decref(root);
        return NULL;
    }
    return root;
}

int resil_audit_render(const resil_audit_finding *f, size_t n, char **out, size_t *len)
{
    if (out)
        *out = NULL;
    if (len)
        *len = 0;
    if (!out || (n > 0 && !f))
        return RESIL_EINVAL;
    json_t *root = report_json(f, n);
    char *text = root ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    if (!text)
        return RESIL_ENOMEM;
    return resil__json_hand_out(text, out, len);
}

#else /* !RESIL_HAVE_JANSSON */

int resil_audit_render(const resil_audit_finding *f, size_t n, char **out, size_t *len)
{
    if (out)
        *out = NULL;
    if (len)
        *len = 0;
    if (!out || (n > 0 && !f))
        return RESIL_EINVAL;
    return RESIL_ENOTSUP;
}

#endif
