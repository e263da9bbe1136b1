/* The deployment audit: every check and id of audit.h with temporary files
 * and directories chmod'ed into each state (and the euid passed in the
 * options, so owner checks run without root), the ordering, the address
 * parser, the JSON rendering (parsed back with jansson), argument checks,
 * allocation failures, and no secret value in any finding. */
#include "config.h"

#include "check_util.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef RESIL_HAVE_JANSSON
#include <jansson.h>
#endif

static char g_dir[64];

static void setup(void)
{
    strcpy(g_dir, "/tmp/resil-audit-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static void teardown(void)
{
    chmod(g_dir, 0700);
    nftw(g_dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static char *in_dir(const char *name)
{
    static char buf[8][160];
    static int i;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof buf[i], "%s/%s", g_dir, name);
    return buf[i];
}

static char *make_file(const char *name, mode_t mode)
{
    char *p = in_dir(name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fchmod(fd, mode), 0);
    close(fd);
    return p;
}

/* Options that check nothing, as a user other than root. */
static resil_audit_opts base_opts(void)
{
    resil_audit_opts o;
    resil_audit_opts_init(&o);
    o.euid = geteuid(); /* the files we make are ours */
    return o;
}

static size_t g_n;
static resil_audit_finding *g_f;

static void run(const resil_audit_opts *o)
{
    resil_free(g_f);
    g_f = NULL;
    resil_error e;
    int rc = resil_audit_run(o, &g_f, &g_n, &e);
    ck_assert_msg(rc == 0, "audit: %s (%s)", resil_err_name(rc), e.text);
    ck_assert(g_n == 0 ? g_f == NULL : g_f != NULL);
}

/* The only finding with id (ignoring running-as-root), or NULL. */
static const resil_audit_finding *only(const char *id)
{
    const resil_audit_finding *hit = NULL;
    for (size_t i = 0; i < g_n; i++) {
        if (strcmp(g_f[i].id, id) != 0)
            continue;
        ck_assert_msg(hit == NULL, "two findings %s", id);
        hit = &g_f[i];
    }
    return hit;
}

static size_t count_besides_root(void)
{
    size_t n = 0;
    for (size_t i = 0; i < g_n; i++)
        n += strcmp(g_f[i].id, "running-as-root") != 0;
    return n;
}

static void expect(const char *id, resil_audit_severity sev, const char *where,
                   const char *what, const char *fix)
{
    const resil_audit_finding *f = only(id);
    char ids[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < g_n && used < 400; i++)
        used += (size_t)snprintf(ids + used, sizeof ids - used, " %.47s", g_f[i].id);
    ck_assert_msg(f != NULL, "no finding %s (have:%s)", id, ids);
    ck_assert_msg(f->severity == sev, "%s: severity %s, want %s", id,
                  resil_audit_severity_name(f->severity), resil_audit_severity_name(sev));
    if (where)
        ck_assert_str_eq(f->where, where);
    if (what)
        ck_assert_msg(strstr(f->what, what) != NULL, "%s: want \"%s\" in \"%s\"", id,
                      what, f->what);
    if (fix)
        ck_assert_msg(strstr(f->fix, fix) != NULL, "%s: want \"%s\" in \"%s\"", id, fix,
                      f->fix);
}

static void done(void)
{
    resil_free(g_f);
    g_f = NULL;
    g_n = 0;
}

START_TEST(defaults_and_names)
{
    resil_audit_opts o;
    memset(&o, 0x5a, sizeof o);
    resil_audit_opts_init(&o);
    ck_assert_int_eq(o.euid, -1);
    ck_assert_ptr_null(o.key_path);
    ck_assert_ptr_null(o.listeners);
    ck_assert_uint_eq(o.nconfig + o.nlog + o.ndata + o.nenv + o.nlisteners, 0);
    for (size_t i = 0; i < 8; i++)
        ck_assert_uint_eq(o.reserved_[i], 0);
    resil_audit_opts_init(NULL);
    ck_assert_str_eq(resil_audit_severity_name(RESIL_AUDIT_INFO), "info");
    ck_assert_str_eq(resil_audit_severity_name(RESIL_AUDIT_LOW), "low");
    ck_assert_str_eq(resil_audit_severity_name(RESIL_AUDIT_MEDIUM), "medium");
    ck_assert_str_eq(resil_audit_severity_name(RESIL_AUDIT_HIGH), "high");
    ck_assert_str_eq(resil_audit_severity_name(RESIL_AUDIT_CRITICAL), "critical");
    ck_assert_str_eq(resil_audit_severity_name((resil_audit_severity)5), "unknown");
    ck_assert_str_eq(resil_audit_severity_name((resil_audit_severity)-1), "unknown");
}
END_TEST

START_TEST(root_and_nothing)
{
    resil_audit_opts o = base_opts();
    o.euid = 1000;
    run(&o);
    ck_assert_uint_eq(g_n, 0);
    o.euid = 0;
    run(&o);
    ck_assert_uint_eq(g_n, 1);
    expect("running-as-root", RESIL_AUDIT_MEDIUM, "euid 0", "runs as root",
           "unprivileged");
    /* -1: the process's own euid */
    o.euid = -1;
    run(&o);
    ck_assert_uint_eq(g_n, geteuid() == 0 ? 1 : 0);
    done();
}
END_TEST

static void store_file_checks(const char *what, const char *perms_id,
                              const char *missing_id, int key)
{
    resil_audit_opts o = base_opts();
    char p[160];
    strcpy(p, make_file("f", 0600)); /* in_dir's buffers are reused */
    const char **slot = key ? &o.key_path : &o.secrets_path;
    *slot = p;
    run(&o);
    ck_assert_uint_eq(count_besides_root(), 0);
    char want[600];
    /* each group/other bit on its own is critical */
    static const mode_t bits[] = {S_IRGRP, S_IWGRP, S_IXGRP, S_IROTH, S_IWOTH, S_IXOTH};
    for (size_t i = 0; i < 6; i++) {
        ck_assert_int_eq(chmod(p, 0600 | bits[i]), 0);
        run(&o);
        snprintf(want, sizeof want, "chmod 600 %s", p);
        expect(perms_id, RESIL_AUDIT_CRITICAL, p, what, want);
        ck_assert_uint_eq(count_besides_root(), 1);
    }
    ck_assert_int_eq(chmod(p, 0644), 0);
    run(&o);
    snprintf(want, sizeof want, "%s is readable by group or others (mode 0644)", what);
    expect(perms_id, RESIL_AUDIT_CRITICAL, p, want, NULL);
    /* another owner: the euid in the options */
    o.euid = (long)geteuid() + 1;
    ck_assert_int_eq(chmod(p, 0600), 0);
    run(&o);
    snprintf(want, sizeof want, "owned by uid %u, not by the running user (uid %ld)",
             (unsigned)geteuid(), o.euid);
    expect(perms_id, RESIL_AUDIT_CRITICAL, p, want, NULL);
    snprintf(want, sizeof want, "chown %ld %s", o.euid, p);
    ck_assert_str_eq(only(perms_id)->fix, want);
    ck_assert_int_eq(chmod(p, 0640), 0);
    run(&o);
    snprintf(want, sizeof want, "chown %ld %s && chmod 600 %s", o.euid, p, p);
    expect(perms_id, RESIL_AUDIT_CRITICAL, p, "and readable by group or others", want);
    o.euid = geteuid();
    /* a symlink to a good file, a FIFO, a directory */
    ck_assert_int_eq(chmod(p, 0600), 0);
    ck_assert_int_eq(symlink(p, in_dir("link")), 0);
    *slot = in_dir("link");
    run(&o);
    expect(perms_id, RESIL_AUDIT_CRITICAL, in_dir("link"), "symbolic link", "replace");
    ck_assert_int_eq(mkfifo(in_dir("fifo"), 0600), 0);
    *slot = in_dir("fifo");
    run(&o);
    expect(perms_id, RESIL_AUDIT_CRITICAL, in_dir("fifo"), "not a regular file", NULL);
    /* absent */
    *slot = in_dir("absent");
    run(&o);
    expect(missing_id, RESIL_AUDIT_HIGH, in_dir("absent"), "does not exist", "0600");
    ck_assert_ptr_null(only(perms_id));
    /* cannot be examined (a path through a file) */
    char through[200];
    snprintf(through, sizeof through, "%s/x", p);
    *slot = through;
    run(&o);
    expect(perms_id, RESIL_AUDIT_HIGH, through, "could not be examined", NULL);
    done();
}

START_TEST(key_file)
{
    store_file_checks("key file", "key-file-perms", "key-file-missing", 1);
}
END_TEST

START_TEST(secrets_file)
{
    store_file_checks("secrets file", "secrets-file-perms", "secrets-file-missing", 0);
}
END_TEST

START_TEST(config_files)
{
    static const struct {
        mode_t mode;
        resil_audit_severity sev; /* -1: no finding */
        const char *what;
    } cases[] = {
        {0600, -1, NULL},
        {0400, -1, NULL},
        {0640, RESIL_AUDIT_MEDIUM, "readable by group or others (mode 0640)"},
        {0604, RESIL_AUDIT_MEDIUM, "readable by group or others"},
        {0644, RESIL_AUDIT_MEDIUM, "readable by group or others"},
        {0620, RESIL_AUDIT_HIGH, "writable by group or others"},
        {0602, RESIL_AUDIT_HIGH, "writable by group or others"},
        {0666, RESIL_AUDIT_HIGH, "readable by group or others (mode 0666)"},
        {0610, RESIL_AUDIT_LOW, "executable by group or others"},
    };
    char *p = make_file("app.json", 0600);
    const char *paths[] = {p};
    resil_audit_opts o = base_opts();
    o.config_paths = paths;
    o.nconfig = 1;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(chmod(p, cases[i].mode), 0);
        run(&o);
        if ((int)cases[i].sev < 0) {
            ck_assert_ptr_null(only("config-file-perms"));
            continue;
        }
        char fix[200];
        snprintf(fix, sizeof fix, "chmod 600 %s", p);
        expect("config-file-perms", cases[i].sev, p, cases[i].what, fix);
    }
    /* not ours: high, with chown */
    ck_assert_int_eq(chmod(p, 0600), 0);
    o.euid = (long)geteuid() + 1;
    run(&o);
    expect("config-file-perms", RESIL_AUDIT_HIGH, p, "owned by uid", "chown");
    o.euid = geteuid();
    /* configs may be symlinks (Kubernetes ConfigMaps are): the target counts */
    ck_assert_int_eq(symlink(p, in_dir("link.json")), 0);
    paths[0] = in_dir("link.json");
    run(&o);
    ck_assert_ptr_null(only("config-file-perms"));
    paths[0] = in_dir("absent.json");
    run(&o);
    expect("config-file-perms", RESIL_AUDIT_LOW, in_dir("absent.json"),
           "could not be examined", NULL);
    done();
}
END_TEST

START_TEST(log_files)
{
    char *p = make_file("app.log", 0600);
    const char *paths[] = {p};
    resil_audit_opts o = base_opts();
    o.log_paths = paths;
    o.nlog = 1;
    run(&o);
    ck_assert_ptr_null(only("log-file-perms"));
    ck_assert_int_eq(chmod(p, 0660), 0); /* group access is how log readers work */
    run(&o);
    ck_assert_ptr_null(only("log-file-perms"));
    ck_assert_int_eq(chmod(p, 0644), 0);
    run(&o);
    expect("log-file-perms", RESIL_AUDIT_LOW, p, "readable by others", "chmod o-r");
    ck_assert_int_eq(chmod(p, 0646), 0);
    run(&o);
    expect("log-file-perms", RESIL_AUDIT_MEDIUM, p, "writable by others", "chmod o-w");
    ck_assert_int_eq(chmod(p, 0602), 0);
    run(&o);
    expect("log-file-perms", RESIL_AUDIT_MEDIUM, p, "writable by others (mode 0602)",
           NULL);
    paths[0] = in_dir("not-yet.log");
    run(&o);
    expect("log-file-perms", RESIL_AUDIT_INFO, in_dir("not-yet.log"),
           "could not be examined", NULL);
    done();
}
END_TEST

START_TEST(directories)
{
    ck_assert_int_eq(mkdir(in_dir("data"), 0700), 0);
    const char *dirs[] = {in_dir("data")};
    resil_audit_opts o = base_opts();
    o.data_dirs = dirs;
    o.ndata = 1;
    static const struct {
        mode_t mode;
        int finding;
    } cases[] = {{0700, 0}, {0755, 0}, {0775, 0}, {0777, 1}, {0703, 1}, {01777, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(chmod(dirs[0], cases[i].mode), 0);
        run(&o);
        if (!cases[i].finding) {
            ck_assert_ptr_null(only("dir-world-writable"));
            continue;
        }
        char fix[200];
        snprintf(fix, sizeof fix, "chmod o-w %s", dirs[0]);
        expect("dir-world-writable", RESIL_AUDIT_HIGH, dirs[0], "without the sticky bit",
               fix);
    }
    dirs[0] = in_dir("absent");
    run(&o);
    expect("dir-world-writable", RESIL_AUDIT_INFO, dirs[0], "could not be examined",
           NULL);
    /* the parent of every file given; one finding per directory */
    o.ndata = 0;
    ck_assert_int_eq(chmod(g_dir, 0777), 0);
    o.key_path = make_file("key", 0600);
    o.secrets_path = make_file("secrets", 0600);
    const char *cfg[] = {make_file("c.json", 0600)};
    const char *logs[] = {make_file("l.log", 0600)};
    o.config_paths = cfg;
    o.nconfig = 1;
    o.log_paths = logs;
    o.nlog = 1;
    run(&o);
    expect("dir-world-writable", RESIL_AUDIT_HIGH, g_dir, "anyone can replace", NULL);
    ck_assert_uint_eq(count_besides_root(), 1);
    ck_assert_int_eq(chmod(g_dir, 01777), 0);
    run(&o);
    ck_assert_uint_eq(count_besides_root(), 0);
    done();
}
END_TEST

#define WEAK_VALUE "Zq9Zq9Zq9"
#define STRONG_VALUE "k7Q-p2Zr9xW4mB8vN1cT6yH3"

START_TEST(env_secrets)
{
    setenv("RESIL_AUDIT_STRONG", STRONG_VALUE, 1);
    setenv("RESIL_AUDIT_PLACEHOLDER", "your-api-key-here", 1);
    setenv("RESIL_AUDIT_SHORT", WEAK_VALUE, 1);
    unsetenv("RESIL_AUDIT_UNSET");
    const char *names[] = {"RESIL_AUDIT_STRONG", "RESIL_AUDIT_PLACEHOLDER",
                           "RESIL_AUDIT_SHORT", "RESIL_AUDIT_UNSET"};
    resil_audit_opts o = base_opts();
    o.env_names = names;
    o.nenv = 4;
    run(&o);
    ck_assert_uint_eq(count_besides_root(), 2);
    /* sorted: critical first */
    ck_assert_str_eq(g_f[0].id, "env-secret-weak");
    ck_assert_int_eq(g_f[0].severity, RESIL_AUDIT_CRITICAL);
    ck_assert_str_eq(g_f[0].where, "RESIL_AUDIT_PLACEHOLDER");
    ck_assert_ptr_nonnull(strstr(g_f[0].what, "is a known placeholder"));
    ck_assert_ptr_nonnull(
        strstr(g_f[0].fix, "set RESIL_AUDIT_PLACEHOLDER to a random value"));
    ck_assert_str_eq(g_f[1].where, "RESIL_AUDIT_SHORT");
    ck_assert_int_eq(g_f[1].severity, RESIL_AUDIT_HIGH);
    ck_assert_ptr_nonnull(strstr(g_f[1].what, "shorter than 16 bytes"));
    for (size_t i = 0; i < g_n; i++) {
        const char *fields[] = {g_f[i].what, g_f[i].where, g_f[i].fix};
        for (size_t j = 0; j < 3; j++) {
            ck_assert_ptr_null(strstr(fields[j], WEAK_VALUE));
            ck_assert_ptr_null(strstr(fields[j], "your-api-key-here"));
            ck_assert_ptr_null(strstr(fields[j], STRONG_VALUE));
        }
    }
    /* the policy is the caller's */
    resil_secret_policy p;
    resil_secret_policy_init(&p);
    p.min_len = 8;
    p.min_distinct = 3;
    o.policy = &p;
    run(&o);
    ck_assert_uint_eq(count_besides_root(), 1);
    unsetenv("RESIL_AUDIT_STRONG");
    unsetenv("RESIL_AUDIT_PLACEHOLDER");
    unsetenv("RESIL_AUDIT_SHORT");
    done();
}
END_TEST

START_TEST(listeners)
{
    resil_audit_listener l[] = {
        {.name = "http", .address = "0.0.0.0:8080"},
        {.name = "metrics", .address = "127.0.0.1:9090"},
        {.name = "admin", .address = "[::]:8443", .tls = 1, .auth = 1},
        {.name = "api", .address = "api.example.com:443", .tls = 1},
        {.name = NULL, .address = "10.1.2.3:80", .auth = 1},
    };
    resil_audit_opts o = base_opts();
    o.listeners = l;
    o.nlisteners = 5;
    run(&o);
    ck_assert_uint_eq(count_besides_root(), 4);
    /* critical (no auth) before high (no TLS); by id, then where */
    ck_assert_str_eq(g_f[0].id, "listener-public-no-auth");
    ck_assert_str_eq(g_f[0].where, "listener api (api.example.com:443)");
    ck_assert_int_eq(g_f[0].severity, RESIL_AUDIT_CRITICAL);
    ck_assert_str_eq(g_f[1].id, "listener-public-no-auth");
    ck_assert_str_eq(g_f[1].where, "listener http (0.0.0.0:8080)");
    ck_assert_ptr_nonnull(strstr(g_f[1].fix, "bind 127.0.0.1"));
    ck_assert_str_eq(g_f[2].id, "listener-public-no-tls");
    ck_assert_str_eq(g_f[2].where, "listener http (0.0.0.0:8080)");
    ck_assert_int_eq(g_f[2].severity, RESIL_AUDIT_HIGH);
    ck_assert_str_eq(g_f[3].id, "listener-public-no-tls");
    ck_assert_str_eq(g_f[3].where, "listener listener 4 (10.1.2.3:80)");
    /* an address that does not parse fails the run, naming it */
    l[1].address = "[::1";
    resil_audit_finding *f = (resil_audit_finding *)1;
    size_t n = 7;
    resil_error e;
    ck_assert_rc(resil_audit_run(&o, &f, &n, &e), RESIL_EINVAL);
    ck_assert_ptr_null(f);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(e.code, RESIL_EINVAL);
    ck_assert_ptr_nonnull(
        strstr(e.text, "listener metrics: address \"[::1\" does not parse"));
    l[1].address = NULL;
    ck_assert_rc(resil_audit_run(&o, &f, &n, &e), RESIL_EINVAL);
    done();
}
END_TEST

START_TEST(is_loopback)
{
    static const char *const yes[] = {
        "127.0.0.1:8080",   "127.1.2.3:1",  "127.0.0.1",  "127.255.255.255:65535",
        "[::1]:8080",       "::1",          "[::1]",      "localhost",
        "localhost:80",     "LocalHost:80", "localhost.", "[::ffff:127.0.0.1]:80",
        "::ffff:127.0.0.2", "127.0.0.1:0",
    };
    static const char *const no[] = {
        "0.0.0.0:80",
        "0.0.0.0",
        "[::]:80",
        "::",
        "[::]",
        "10.0.0.1:80",
        "192.168.1.1",
        "128.0.0.1:80",
        "126.255.255.255",
        "example.com:443",
        "api.example.com",
        "localhost.example.com:80",
        "mylocalhost",
        ":8080",
        "*:8080",
        "[fe80::1%eth0]:80",
        "::1:80",
        "[::ffff:10.0.0.1]:80",
        "a-b.c:1",
        "x",
        "my_service:8080",
    };
    static const char *const bad[] = {
        "",
        ":",
        "[::1",
        "[::1]:",
        "[::1]x",
        "[::1]:65536",
        "127.0.0.1:",
        "127.0.0.1:99999",
        "127.0.0.1:-1",
        "127.0.0.1:80a",
        "127.0.0.1:+80",
        "[]:80",
        "[127.0.0.1]:80",
        "host name:80",
        "-bad-.com:80",
        "bad-.com",
        "999.1.1.1:80",
        "127.1",
        "1.2.3.4.5",
        "[zz::1]:80",
        "a..b:80",
        ".:80",
        "[fe80::1%]:80",
        ":::1:2:3:4:5",
        "a.-b",
        "caf\xc3\xa9.com",
    };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        ck_assert_msg(resil_audit_is_loopback(yes[i]) == 1, "%s", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        ck_assert_msg(resil_audit_is_loopback(no[i]) == 0, "%s", no[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(resil_audit_is_loopback(bad[i]) == RESIL_EINVAL, "%s", bad[i]);
    ck_assert_rc(resil_audit_is_loopback(NULL), RESIL_EINVAL);
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ck_assert_rc(resil_audit_is_loopback(longname), RESIL_EINVAL);
    memset(longname, 'a', 63);
    strcpy(longname + 63, ".example:1");
    ck_assert_rc(resil_audit_is_loopback(longname), 0);
    memset(longname, 'a', 64); /* a 64-character label */
    strcpy(longname + 64, ".example:1");
    ck_assert_rc(resil_audit_is_loopback(longname), RESIL_EINVAL);
}
END_TEST

START_TEST(run_einval)
{
    resil_audit_opts o = base_opts();
    resil_audit_finding *f = (resil_audit_finding *)1;
    size_t n = 3;
    ck_assert_rc(resil_audit_run(NULL, &f, &n, NULL), RESIL_EINVAL);
    ck_assert_ptr_null(f);
    ck_assert_uint_eq(n, 0);
    ck_assert_rc(resil_audit_run(&o, NULL, &n, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_audit_run(&o, &f, NULL, NULL), RESIL_EINVAL);
    const char *withnull[] = {"/tmp", NULL};
    const char *withempty[] = {""};
    resil_audit_opts b = o;
    b.nconfig = 1;
    ck_assert_rc(resil_audit_run(&b, &f, &n, NULL), RESIL_EINVAL);
    b.config_paths = withnull;
    b.nconfig = 2;
    ck_assert_rc(resil_audit_run(&b, &f, &n, NULL), RESIL_EINVAL);
    b = o;
    b.log_paths = withempty;
    b.nlog = 1;
    ck_assert_rc(resil_audit_run(&b, &f, &n, NULL), RESIL_EINVAL);
    b = o;
    b.ndata = 1;
    ck_assert_rc(resil_audit_run(&b, &f, &n, NULL), RESIL_EINVAL);
    b = o;
    b.nenv = 1;
    ck_assert_rc(resil_audit_run(&b, &f, &n, NULL), RESIL_EINVAL);
    b = o;
    b.nlisteners = 1;
    ck_assert_rc(resil_audit_run(&b, &f, &n, NULL), RESIL_EINVAL);
    b = o;
    b.key_path = "";
    ck_assert_rc(resil_audit_run(&b, &f, &n, NULL), RESIL_EINVAL);
    b = o;
    b.secrets_path = "";
    ck_assert_rc(resil_audit_run(&b, &f, &n, NULL), RESIL_EINVAL);
    b = o;
    b.euid = -2;
    ck_assert_rc(resil_audit_run(&b, &f, &n, NULL), RESIL_EINVAL);
    b.euid = (long)(uid_t)-1;
    ck_assert_rc(resil_audit_run(&b, &f, &n, NULL), RESIL_EINVAL);
    resil_secret_policy p;
    resil_secret_policy_init(&p);
    p.nextra = 1;
    b = o;
    b.policy = &p;
    ck_assert_rc(resil_audit_run(&b, &f, &n, NULL), RESIL_EINVAL);
}
END_TEST

/* Many findings (more than the first array holds), for the ordering, the
 * rendering and the allocation-failure loop. */
static resil_audit_opts many_opts(resil_audit_listener *l, const char **cfg,
                                  const char **logs)
{
    resil_audit_opts o = base_opts();
    o.euid = 0;
    o.key_path = make_file("key", 0644);
    o.secrets_path = in_dir("absent-secrets");
    cfg[0] = make_file("c1.json", 0640);
    cfg[1] = make_file("c2.json", 0666);
    o.config_paths = cfg;
    o.nconfig = 2;
    logs[0] = make_file("a.log", 0646);
    logs[1] = make_file("b.log", 0644);
    o.log_paths = logs;
    o.nlog = 2;
    ck_assert_int_eq(chmod(g_dir, 0777), 0);
    l[0] = (resil_audit_listener){.name = "http", .address = "0.0.0.0:80"};
    l[1] = (resil_audit_listener){.name = "ws", .address = "[::]:81"};
    o.listeners = l;
    o.nlisteners = 2;
    return o;
}

START_TEST(ordering)
{
    resil_audit_listener l[2];
    const char *cfg[2], *logs[2];
    resil_audit_opts o = many_opts(l, cfg, logs);
    run(&o);
    ck_assert_uint_eq(g_n, 12);
    for (size_t i = 1; i < g_n; i++) {
        const resil_audit_finding *a = &g_f[i - 1], *b = &g_f[i];
        ck_assert_int_ge(a->severity, b->severity);
        if (a->severity == b->severity) {
            int c = strcmp(a->id, b->id);
            ck_assert_int_le(c, 0);
            if (c == 0)
                ck_assert_int_lt(strcmp(a->where, b->where), 0);
        }
    }
    ck_assert_str_eq(g_f[0].id, "key-file-perms");
    ck_assert_str_eq(g_f[g_n - 1].id, "log-file-perms");
    done();
}
END_TEST

START_TEST(alloc_fail)
{
    resil_audit_listener l[2];
    const char *cfg[2], *logs[2];
    resil_audit_opts o = many_opts(l, cfg, logs);
    for (long k = 0;; k++) {
        ck_assert_int_lt(k, 50);
        long live = tu_alloc_live();
        resil_audit_finding *f = (resil_audit_finding *)1;
        size_t n = 5;
        resil_error e;
        tu_alloc_fail_at(k);
        int rc = resil_audit_run(&o, &f, &n, &e);
        tu_alloc_reset();
        if (rc == 0) {
            ck_assert_uint_eq(n, 12);
            resil_free(f);
            break;
        }
        ck_assert_rc(rc, RESIL_ENOMEM);
        ck_assert_int_eq(e.code, RESIL_ENOMEM);
        ck_assert_ptr_null(f);
        ck_assert_uint_eq(n, 0);
        ck_assert_int_eq(tu_alloc_live(), live);
    }
}
END_TEST

/* ---- rendering ---------------------------------------------------------- */

START_TEST(render_args)
{
    char *out = (char *)1;
    size_t len = 9;
    resil_audit_finding f = {.id = "x"};
    ck_assert_rc(resil_audit_render(&f, 1, NULL, &len), RESIL_EINVAL);
    ck_assert_rc(resil_audit_render(NULL, 1, &out, &len), RESIL_EINVAL);
    ck_assert_ptr_null(out);
    ck_assert_uint_eq(len, 0);
#ifndef RESIL_HAVE_JANSSON
    ck_assert_rc(resil_audit_render(&f, 1, &out, &len), RESIL_ENOTSUP);
    ck_assert_ptr_null(out);
#endif
}
END_TEST

#ifdef RESIL_HAVE_JANSSON

static json_t *render_parse(const resil_audit_finding *f, size_t n)
{
    char *out = NULL;
    size_t len = 0;
    ck_assert_rc(resil_audit_render(f, n, &out, &len), 0);
    ck_assert_uint_eq(len, strlen(out));
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    ck_assert_msg(j != NULL, "bad JSON: %s: %s", je.text, out);
    resil_free(out);
    return j;
}

static json_int_t count_of(json_t *j, const char *sev)
{
    json_t *v = json_object_get(json_object_get(j, "counts"), sev);
    ck_assert(json_is_integer(v));
    return json_integer_value(v);
}

START_TEST(render_json)
{
    resil_audit_listener l[2];
    const char *cfg[2], *logs[2];
    resil_audit_opts o = many_opts(l, cfg, logs);
    run(&o);
    json_t *j = render_parse(g_f, g_n);
    json_t *arr = json_object_get(j, "findings");
    ck_assert_uint_eq(json_array_size(arr), g_n);
    json_int_t per[5] = {0};
    for (size_t i = 0; i < g_n; i++) {
        json_t *f = json_array_get(arr, i);
        ck_assert_uint_eq(json_object_size(f), 5);
        ck_assert_str_eq(json_string_value(json_object_get(f, "id")), g_f[i].id);
        ck_assert_str_eq(json_string_value(json_object_get(f, "severity")),
                         resil_audit_severity_name(g_f[i].severity));
        ck_assert_str_eq(json_string_value(json_object_get(f, "what")), g_f[i].what);
        ck_assert_str_eq(json_string_value(json_object_get(f, "where")), g_f[i].where);
        ck_assert_str_eq(json_string_value(json_object_get(f, "fix")), g_f[i].fix);
        per[g_f[i].severity]++;
    }
    ck_assert_int_eq(count_of(j, "critical"), per[RESIL_AUDIT_CRITICAL]);
    ck_assert_int_eq(count_of(j, "high"), per[RESIL_AUDIT_HIGH]);
    ck_assert_int_eq(count_of(j, "medium"), per[RESIL_AUDIT_MEDIUM]);
    ck_assert_int_eq(count_of(j, "low"), per[RESIL_AUDIT_LOW]);
    ck_assert_int_eq(count_of(j, "info"), per[RESIL_AUDIT_INFO]);
    ck_assert_int_eq(per[RESIL_AUDIT_CRITICAL], 3);
    ck_assert_uint_eq(json_object_size(json_object_get(j, "counts")), 5);
    json_decref(j);
    done();
}
END_TEST

START_TEST(render_edge_cases)
{
    /* none */
    json_t *j = render_parse(NULL, 0);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "findings")), 0);
    ck_assert_int_eq(count_of(j, "critical"), 0);
    json_decref(j);
    /* a path that is not UTF-8, quotes, an unknown severity, len NULL */
    resil_audit_finding f[2];
    memset(f, 0, sizeof f);
    strcpy(f[0].id, "config-file-perms");
    f[0].severity = RESIL_AUDIT_HIGH;
    strcpy(f[0].where, "/etc/caf\xe9/\"app\".json");
    strcpy(f[0].what, "line\nbreak");
    strcpy(f[1].id, "x");
    f[1].severity = (resil_audit_severity)9;
    j = render_parse(f, 2);
    json_t *a0 = json_array_get(json_object_get(j, "findings"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(a0, "where")),
                     "/etc/caf?/\"app\".json");
    ck_assert_str_eq(json_string_value(json_object_get(a0, "what")), "line\nbreak");
    json_t *a1 = json_array_get(json_object_get(j, "findings"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(a1, "severity")), "unknown");
    ck_assert_int_eq(count_of(j, "high"), 1);
    json_decref(j);
    char *out;
    ck_assert_rc(resil_audit_render(f, 1, &out, NULL), 0);
    resil_free(out);
    /* allocation failure of the copy */
    long live = tu_alloc_live();
    tu_alloc_fail_at(0);
    out = (char *)1;
    int rc = resil_audit_render(f, 1, &out, NULL);
    tu_alloc_reset();
    ck_assert_rc(rc, RESIL_ENOMEM);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(tu_alloc_live(), live);
}
END_TEST

#endif /* RESIL_HAVE_JANSSON */

static Suite *suite(void)
{
    Suite *s = suite_create("test_audit");
    TCase *tc = tcase_create("checks");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, defaults_and_names);
    tcase_add_test(tc, root_and_nothing);
    tcase_add_test(tc, key_file);
    tcase_add_test(tc, secrets_file);
    tcase_add_test(tc, config_files);
    tcase_add_test(tc, log_files);
    tcase_add_test(tc, directories);
    tcase_add_test(tc, env_secrets);
    tcase_add_test(tc, listeners);
    tcase_add_test(tc, is_loopback);
    tcase_add_test(tc, run_einval);
    tcase_add_test(tc, ordering);
    tcase_add_test(tc, alloc_fail);
    suite_add_tcase(s, tc);
    tc = tcase_create("render");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, render_args);
#ifdef RESIL_HAVE_JANSSON
    tcase_add_test(tc, render_json);
    tcase_add_test(tc, render_edge_cases);
#endif
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
