/* The secrets store: file checks (every mode bit, symlinks, FIFOs,
 * owners), atomic writes (including a process killed between write and
 * rename), the formats with their parse errors, get/set/delete/list,
 * several handles and processes, rotation with a reader probing every
 * intermediate state and a kill at each of its renames, lookup, no secret
 * in any message, allocation failures.
 *
 * rename(2) is interposed: the library calls it through the PLT, so this
 * executable's definition wins; it forwards to libc's unless a test asks it
 * to SIGKILL the process or to run a probe after the rename. */
#include "config.h"

#include "check_util.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEY_A "ZmVybmV0LWtleS1hLTAxMjM0NTY3ODlhYmNkZWYwMTI="
#define KEY_B "ZmVybmV0LWtleS1iLTAxMjM0NTY3ODlhYmNkZWYwMTI="
/* Right length and alphabet, but the unused low bits of the last
 * character are not zero: not a canonical key. */
#define KEY_BAD "ZmVybmV0LWtleS1hLTAxMjM0NTY3ODlhYmNkZWYwMTJ="

/* ---- rename interposition ---------------------------------------------- */

static int g_kill_at;         /* SIGKILL at this rename (1-based); 0: never */
static int g_renames;         /* renames seen since the last reset */
static void (*g_probe)(void); /* run after each successful rename */

int rename(const char *from, const char *to)
{
    static int (*real)(const char *, const char *);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "rename");
    g_renames++;
    if (g_kill_at && g_renames == g_kill_at)
        raise(SIGKILL);
    int rc = real(from, to);
    if (rc == 0 && g_probe)
        g_probe();
    return rc;
}

/* fsync is interposed too: it costs milliseconds on a disk and these tests
 * kill processes, not machines, so it only counts unless g_real_fsync. */
static int g_fsyncs;
static int g_real_fsync;

int fsync(int fd)
{
    static int (*real)(int);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "fsync");
    g_fsyncs++;
    return g_real_fsync ? real(fd) : 0;
}

/* ---- fixtures ---------------------------------------------------------- */

static char g_dir[64];
static char g_key[128];
static char g_sec[128];

static void setup(void)
{
    strcpy(g_dir, "/tmp/resil-store-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
    snprintf(g_key, sizeof g_key, "%s/key", g_dir);
    snprintf(g_sec, sizeof g_sec, "%s/secrets", g_dir);
    g_kill_at = 0;
    g_renames = 0;
    g_probe = NULL;
    g_fsyncs = 0;
    g_real_fsync = 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static void teardown(void)
{
    g_probe = NULL;
    nftw(g_dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static char *in_dir(const char *name)
{
    static char buf[4][160];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", g_dir, name);
    return buf[i];
}

static void put_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    ck_assert_int_eq(fchmod(fd, mode), 0);
    close(fd);
}

/* The whole file, NUL-terminated, in a static buffer. */
static const char *get_file(const char *path)
{
    static char buf[8192];
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    ck_assert_int_ge(n, 0);
    buf[n] = '\0';
    close(fd);
    return buf;
}


/* Directory entries whose name starts with prefix. */
static int count_entries(const char *prefix)
{
    DIR *d = opendir(g_dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}


/* ---- check_file --------------------------------------------------------- */

START_TEST(check_file_ok_and_args)
{
    resil_error e;
    char *f = in_dir("f");
    put_file(f, "x", 0600);
    memset(&e, 0x5a, sizeof e);
    ck_assert_rc(resil_secrets_check_file(f, &e), 0);
    ck_assert_int_eq(e.code, 0);
    ck_assert_str_eq(e.text, "");
    ck_assert_int_eq(chmod(f, 0400), 0);
    ck_assert_rc(resil_secrets_check_file(f, NULL), 0);
    ck_assert_rc(resil_secrets_check_file(NULL, &e), RESIL_EINVAL);
    ck_assert_rc(resil_secrets_check_file("", &e), RESIL_EINVAL);
    ck_assert_rc(resil_secrets_check_file(in_dir("absent"), &e), RESIL_ENOENT);
    ck_assert_int_eq(e.code, RESIL_ENOENT);
    ck_assert_ptr_nonnull(strstr(e.text, "absent does not exist"));
    /* A path through a regular file: lstat fails with ENOTDIR. */
    char through[200];
    snprintf(through, sizeof through, "%s/x", f);
    ck_assert_rc(resil_secrets_check_file(through, &e), RESIL_ESYS);
    ck_assert_ptr_nonnull(strstr(e.text, through));
    ck_assert_ptr_nonnull(strstr(e.text, strerror(ENOTDIR)));
}
END_TEST

/* Each of the six group/other bits alone is refused, with the exact fix. */
START_TEST(check_file_each_mode_bit)
{
    static const mode_t bits[] = {S_IRGRP, S_IWGRP, S_IXGRP, S_IROTH, S_IWOTH, S_IXOTH};
    char *f = in_dir("f");
    put_file(f, "x", 0600);
    for (size_t i = 0; i < 6; i++) {
        ck_assert_int_eq(chmod(f, 0600 | bits[i]), 0);
        resil_error e;
        ck_assert_rc(resil_secrets_check_file(f, &e), RESIL_EPERM);
        ck_assert_int_eq(e.code, RESIL_EPERM);
        char want[400];
        snprintf(want, sizeof want, "(mode %04o): run chmod 600 %s",
                 (unsigned)(0600 | bits[i]), f);
        ck_assert_msg(strstr(e.text, want) != NULL, "%s", e.text);
    }
    resil_error e;
    ck_assert_int_eq(chmod(f, 0644), 0);
    ck_assert_rc(resil_secrets_check_file(f, &e), RESIL_EPERM);
    char want[400];
    snprintf(want, sizeof want,
             "file %s is readable by group or others (mode 0644): run chmod 600 %s", f,
             f);
    ck_assert_str_eq(e.text, want);
    ck_assert_int_eq(chmod(f, 0620), 0);
    ck_assert_rc(resil_secrets_check_file(f, &e), RESIL_EPERM);
    ck_assert_ptr_nonnull(strstr(e.text, "writable by group or others (mode 0620)"));
}
END_TEST

START_TEST(check_file_special_files)
{
    resil_error e;
    char *f = in_dir("target");
    put_file(f, "x", 0600);
    ck_assert_int_eq(symlink(f, in_dir("link")), 0);
    ck_assert_rc(resil_secrets_check_file(in_dir("link"), &e), RESIL_EPERM);
    ck_assert_ptr_nonnull(strstr(e.text, "is a symbolic link"));
    ck_assert_int_eq(mkfifo(in_dir("fifo"), 0600), 0);
    ck_assert_rc(resil_secrets_check_file(in_dir("fifo"), &e), RESIL_EPERM);
    ck_assert_ptr_nonnull(strstr(e.text, "is a FIFO, not a regular file"));
    ck_assert_int_eq(mkdir(in_dir("dir"), 0700), 0);
    ck_assert_rc(resil_secrets_check_file(in_dir("dir"), &e), RESIL_EPERM);
    ck_assert_ptr_nonnull(strstr(e.text, "is a directory"));
    int sk = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", in_dir("sock"));
    ck_assert_int_eq(bind(sk, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_rc(resil_secrets_check_file(in_dir("sock"), &e), RESIL_EPERM);
    ck_assert_ptr_nonnull(strstr(e.text, "is a socket"));
    close(sk);
}
END_TEST

/* Ownership can only be given away by root.  Without root the same code
 * (resil__sf_problems with another uid) is covered by test_audit's
 * wrong-owner cases, which pass a different euid in the options. */
START_TEST(check_file_owner)
{
    if (geteuid() != 0)
        return;
    char *f = in_dir("f");
    put_file(f, "x", 0600);
    ck_assert_int_eq(chown(f, 65534, 65534), 0);
    resil_error e;
    ck_assert_rc(resil_secrets_check_file(f, &e), RESIL_EPERM);
    char want[400];
    snprintf(want, sizeof want,
             "file %s is owned by uid 65534, not by the running user (uid 0): "
             "run chown 0 %s",
             f, f);
    ck_assert_str_eq(e.text, want);
    ck_assert_int_eq(chmod(f, 0640), 0);
    ck_assert_rc(resil_secrets_check_file(f, &e), RESIL_EPERM);
    ck_assert_ptr_nonnull(strstr(e.text, "and readable by group or others (mode 0640): "
                                         "run chown 0"));
    ck_assert_ptr_nonnull(strstr(e.text, "&& chmod 600"));
}
END_TEST

/* ---- write_file ---------------------------------------------------------- */

START_TEST(write_file_replaces_atomically)
{
    resil_error e;
    char *f = in_dir("out");
    put_file(f, "old", 0644);
    mode_t old = umask(0);
    g_real_fsync = 1;
    ck_assert_rc(resil_secrets_write_file(f, "new\ncontent", 11, &e), 0);
    g_real_fsync = 0;
    umask(old);
    ck_assert_int_eq(g_fsyncs, 2); /* the file, then its directory */
    ck_assert_int_eq(g_renames, 1);
    ck_assert_int_eq(e.code, 0);
    ck_assert_str_eq(get_file(f), "new\ncontent");
    struct stat st;
    ck_assert_int_eq(stat(f, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    ck_assert_int_eq(count_entries("out.tmp"), 0);
    /* empty content, data NULL with len 0 */
    ck_assert_rc(resil_secrets_write_file(f, NULL, 0, NULL), 0);
    ck_assert_str_eq(get_file(f), "");
    /* a symlink at the path is replaced, its target untouched */
    put_file(in_dir("target"), "keep", 0600);
    ck_assert_int_eq(symlink(in_dir("target"), in_dir("link")), 0);
    ck_assert_rc(resil_secrets_write_file(in_dir("link"), "x", 1, &e), 0);
    ck_assert_str_eq(get_file(in_dir("target")), "keep");
    ck_assert_int_eq(lstat(in_dir("link"), &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    /* a relative path writes in the current directory */
    char cwd[256];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(g_dir), 0);
    ck_assert_rc(resil_secrets_write_file("rel", "r", 1, &e), 0);
    ck_assert_int_eq(chdir(cwd), 0);
    ck_assert_str_eq(get_file(in_dir("rel")), "r");
}
END_TEST

START_TEST(write_file_errors)
{
    resil_error e;
    ck_assert_rc(resil_secrets_write_file(NULL, "x", 1, &e), RESIL_EINVAL);
    ck_assert_rc(resil_secrets_write_file("", "x", 1, &e), RESIL_EINVAL);
    ck_assert_rc(resil_secrets_write_file(in_dir("f"), NULL, 1, &e), RESIL_EINVAL);
    char *p = in_dir("nodir/f");
    ck_assert_rc(resil_secrets_write_file(p, "x", 1, &e), RESIL_ESYS);
    ck_assert_int_eq(e.code, RESIL_ESYS);
    ck_assert_ptr_nonnull(strstr(e.text, p));
    ck_assert_ptr_nonnull(strstr(e.text, strerror(ENOENT)));
    /* the target is a directory: rename fails, the temporary file goes */
    ck_assert_int_eq(mkdir(in_dir("d"), 0700), 0);
    ck_assert_rc(resil_secrets_write_file(in_dir("d"), "x", 1, &e), RESIL_ESYS);
    ck_assert_ptr_nonnull(strstr(e.text, "rename failed"));
    ck_assert_int_eq(count_entries("d.tmp"), 0);
    /* a path too long for the temporary name */
    char longp[PATH_MAX + 10];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    ck_assert_rc(resil_secrets_write_file(longp, "x", 1, &e), RESIL_ESYS);
    ck_assert_ptr_nonnull(strstr(e.text, strerror(ENAMETOOLONG)));
    /* it allocates nothing, so allocation failure cannot stop it */
    long live = tu_alloc_live();
    tu_alloc_fail_at(0);
    int rc = resil_secrets_write_file(in_dir("g"), "x", 1, &e);
    tu_alloc_reset();
    ck_assert_rc(rc, 0);
    ck_assert_int_eq(tu_alloc_live(), live);
}
END_TEST

/* A write that fails midway (a file size limit: EFBIG) removes the
 * temporary file and leaves the old content. */
START_TEST(write_file_write_error)
{
    char *f = in_dir("out");
    put_file(f, "old", 0600);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct rlimit rl = {.rlim_cur = 10, .rlim_max = 10};
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        char big[64];
        memset(big, 'z', sizeof big);
        resil_error e;
        int rc = resil_secrets_write_file(f, big, sizeof big, &e);
        _exit(rc == RESIL_ESYS && strstr(e.text, "write failed") &&
                      strstr(e.text, strerror(EFBIG))
                  ? 0
                  : 1);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    ck_assert_str_eq(get_file(f), "old");
    ck_assert_int_eq(count_entries("out.tmp"), 0);
}
END_TEST

#ifdef RESIL_HAVE_OPENSSL

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static resil_secrets *open_store(int create)
{
    resil_secrets_opts o;
    resil_secrets_opts_init(&o);
    o.path = g_sec;
    o.key_path = g_key;
    o.create = create;
    resil_secrets *s = NULL;
    resil_error e;
    int rc = resil_secrets_open(&o, &s, &e);
    ck_assert_msg(rc == 0, "open: %s (%s)", resil_err_name(rc), e.text);
    return s;
}

static int try_open(resil_error *e)
{
    resil_secrets_opts o;
    resil_secrets_opts_init(&o);
    o.path = g_sec;
    o.key_path = g_key;
    resil_secrets *s = (resil_secrets *)1;
    int rc = resil_secrets_open(&o, &s, e);
    if (rc == 0)
        resil_secrets_close(s);
    else
        ck_assert_ptr_null(s);
    return rc;
}

static void set_ok(resil_secrets *s, const char *name, const char *value)
{
    resil_error e;
    int rc = resil_secrets_set(s, name, value, strlen(value), &e);
    ck_assert_msg(rc == 0, "set %s: %s (%s)", name, resil_err_name(rc), e.text);
}

static void expect_value(resil_secrets *s, const char *name, const char *want)
{
    char *v = NULL;
    size_t n = 0;
    resil_error e;
    int rc = resil_secrets_get(s, name, &v, &n, &e);
    ck_assert_msg(rc == 0, "get %s: %s (%s)", name, resil_err_name(rc), e.text);
    ck_assert_uint_eq(n, strlen(want));
    ck_assert_str_eq(v, want);
    resil_secret_free(v, n);
}

/* A fresh handle reads every (name, value) pair. */
static void expect_store(const char *const *kv, size_t n)
{
    resil_secrets *s = open_store(0);
    for (size_t i = 0; i < n; i++)
        expect_value(s, kv[2 * i], kv[2 * i + 1]);
    resil_secrets_close(s);
}

static void make_store(const char *const *kv, size_t n)
{
    put_file(g_key, KEY_A "\n", 0600);
    put_file(g_sec, "resil-secrets 1\n", 0600);
    resil_secrets *s = open_store(0);
    for (size_t i = 0; i < n; i++)
        set_ok(s, kv[2 * i], kv[2 * i + 1]);
    resil_secrets_close(s);
}

static const char *const g_kv[] = {"db.password",  "Pg-7fK2-mQ9x", "api_key",
                                   "sk-live-4Zt8", "smtp-token",   "tok-3Hh1"};
#define NKV 3

/* ---- open ---------------------------------------------------------------- */

START_TEST(open_create)
{
    long live = tu_alloc_live();
    resil_secrets *s = open_store(1);
    const char *k = get_file(g_key);
    ck_assert_uint_eq(strlen(k), RESIL_FERNET_KEY_B64_LEN + 1);
    ck_assert_int_eq(k[RESIL_FERNET_KEY_B64_LEN], '\n');
    ck_assert_str_eq(get_file(g_sec), "resil-secrets 1\n");
    struct stat st;
    ck_assert_int_eq(stat(g_key, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    ck_assert_int_eq(stat(g_sec, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    char **names = (char **)1;
    size_t n = 9;
    ck_assert_rc(resil_secrets_list(s, &names, &n), 0);
    ck_assert_ptr_null(names);
    ck_assert_uint_eq(n, 0);
    char *v = (char *)1;
    ck_assert_rc(resil_secrets_get(s, "a", &v, &n, NULL), RESIL_ENOENT);
    ck_assert_ptr_null(v);
    ck_assert_rc(resil_secrets_delete(s, "a", NULL), RESIL_ENOENT);
    set_ok(s, "a", "1");
    resil_secrets_close(s);
    /* create again: existing files are kept */
    char key[64];
    strcpy(key, get_file(g_key));
    s = open_store(1);
    expect_value(s, "a", "1");
    resil_secrets_close(s);
    ck_assert_str_eq(get_file(g_key), key);
    ck_assert_int_eq(tu_alloc_live(), live);
    resil_secrets_close(NULL);
}
END_TEST

START_TEST(open_missing)
{
    resil_error e;
    put_file(g_sec, "resil-secrets 1\n", 0600);
    ck_assert_rc(try_open(&e), RESIL_ENOENT);
    ck_assert_int_eq(e.code, RESIL_ENOENT);
    ck_assert_ptr_nonnull(strstr(e.text, "key file"));
    ck_assert_ptr_nonnull(strstr(e.text, g_key));
    unlink(g_sec);
    put_file(g_key, KEY_A "\n", 0600);
    ck_assert_rc(try_open(&e), RESIL_ENOENT);
    ck_assert_ptr_nonnull(strstr(e.text, "secrets file"));
    /* create makes only the secrets file, keeping the key */
    resil_secrets *s = open_store(1);
    resil_secrets_close(s);
    ck_assert_str_eq(get_file(g_key), KEY_A "\n");
}
END_TEST

/* A new key for a store that holds secrets would orphan them. */
START_TEST(open_create_refuses_orphaning)
{
    make_store(g_kv, NKV);
    unlink(g_key);
    resil_secrets_opts o;
    resil_secrets_opts_init(&o);
    o.path = g_sec;
    o.key_path = g_key;
    o.create = 1;
    resil_secrets *s;
    resil_error e;
    ck_assert_rc(resil_secrets_open(&o, &s, &e), RESIL_ENOENT);
    ck_assert_ptr_nonnull(strstr(e.text, "holds 3 secrets"));
    ck_assert_int_eq(access(g_key, F_OK), -1);
    /* an empty store may get a key */
    put_file(g_sec, "resil-secrets 1\n", 0600);
    ck_assert_rc(resil_secrets_open(&o, &s, &e), 0);
    resil_secrets_close(s);
    ck_assert_int_eq(access(g_key, F_OK), 0);
}
END_TEST

START_TEST(open_einval)
{
    resil_secrets_opts o;
    memset(&o, 0x5a, sizeof o);
    resil_secrets_opts_init(&o);
    ck_assert_ptr_null(o.path);
    ck_assert_ptr_null(o.key_path);
    ck_assert_int_eq(o.create, 0);
    for (size_t i = 0; i < 8; i++)
        ck_assert_uint_eq(o.reserved_[i], 0);
    resil_secrets_opts_init(NULL);
    resil_secrets *s = (resil_secrets *)1;
    ck_assert_rc(resil_secrets_open(NULL, &s, NULL), RESIL_EINVAL);
    ck_assert_ptr_null(s);
    o.path = g_sec;
    ck_assert_rc(resil_secrets_open(&o, &s, NULL), RESIL_EINVAL);
    o.key_path = "";
    ck_assert_rc(resil_secrets_open(&o, &s, NULL), RESIL_EINVAL);
    o.key_path = g_sec; /* the same file twice */
    ck_assert_rc(resil_secrets_open(&o, &s, NULL), RESIL_EINVAL);
    o.key_path = g_key;
    o.path = NULL;
    ck_assert_rc(resil_secrets_open(&o, &s, NULL), RESIL_EINVAL);
    o.path = g_sec;
    ck_assert_rc(resil_secrets_open(&o, NULL, NULL), RESIL_EINVAL);
}
END_TEST

START_TEST(open_eperm)
{
    resil_error e;
    char want[512];
    make_store(g_kv, NKV);
    ck_assert_int_eq(chmod(g_key, 0644), 0);
    ck_assert_rc(try_open(&e), RESIL_EPERM);
    snprintf(want, sizeof want,
             "key file %s is readable by group or others (mode 0644): run chmod 600 %s",
             g_key, g_key);
    ck_assert_str_eq(e.text, want);
    ck_assert_int_eq(chmod(g_key, 0600), 0);
    ck_assert_int_eq(chmod(g_sec, 0604), 0);
    ck_assert_rc(try_open(&e), RESIL_EPERM);
    snprintf(
        want, sizeof want,
        "secrets file %s is readable by group or others (mode 0604): run chmod 600 %s",
        g_sec, g_sec);
    ck_assert_str_eq(e.text, want);
    ck_assert_int_eq(chmod(g_sec, 0600), 0);
    /* a symlinked key file, even to a good file */
    ck_assert_int_eq(rename(g_key, in_dir("real-key")), 0);
    ck_assert_int_eq(symlink(in_dir("real-key"), g_key), 0);
    ck_assert_rc(try_open(&e), RESIL_EPERM);
    ck_assert_ptr_nonnull(strstr(e.text, "key file"));
    ck_assert_ptr_nonnull(strstr(e.text, "is a symbolic link"));
    unlink(g_key);
    ck_assert_int_eq(rename(in_dir("real-key"), g_key), 0);
    /* a FIFO for the secrets file: refused, and the open does not block */
    unlink(g_sec);
    ck_assert_int_eq(mkfifo(g_sec, 0600), 0);
    ck_assert_rc(try_open(&e), RESIL_EPERM);
    ck_assert_ptr_nonnull(strstr(e.text, "is a FIFO"));
    /* a path that cannot be opened for another reason: ESYS */
    unlink(g_sec);
    put_file(g_sec, "resil-secrets 1\n", 0600);
    snprintf(g_key, sizeof g_key, "%s/secrets/key", g_dir);
    ck_assert_rc(try_open(&e), RESIL_ESYS);
    ck_assert_ptr_nonnull(strstr(e.text, strerror(ENOTDIR)));
}
END_TEST

/* Root only, like check_file_owner: open refuses a key file owned by
 * someone else. */
START_TEST(open_eperm_owner)
{
    if (geteuid() != 0)
        return;
    resil_error e;
    put_file(g_sec, "resil-secrets 1\n", 0600);
    put_file(g_key, KEY_A "\n", 0600);
    ck_assert_int_eq(chown(g_key, 65534, 65534), 0);
    ck_assert_rc(try_open(&e), RESIL_EPERM);
    ck_assert_ptr_nonnull(strstr(e.text, "key file"));
    ck_assert_ptr_nonnull(strstr(e.text, "owned by uid 65534"));
}
END_TEST

static void expect_parse(const char *key_text, const char *sec_text, int line,
                         const char *what)
{
    resil_error e;
    put_file(g_key, key_text, 0600);
    put_file(g_sec, sec_text, 0600);
    ck_assert_rc(try_open(&e), RESIL_EPARSE);
    ck_assert_int_eq(e.code, RESIL_EPARSE);
    ck_assert_msg(e.line == line, "want line %d, got %d: %s", line, e.line, e.text);
    ck_assert_msg(strstr(e.text, what) != NULL, "want \"%s\" in \"%s\"", what, e.text);
}

START_TEST(parse_errors_key_file)
{
    const char *sec = "resil-secrets 1\n";
    expect_parse("garbage\n", sec, 1, "line 1: not a Fernet key");
    expect_parse("# keys\n\n" KEY_A "\nnot-a-key\n", sec, 4, "line 4: not a Fernet key");
    expect_parse(KEY_BAD "\n", sec, 1, "not a Fernet key");
    expect_parse(KEY_A "x\n", sec, 1, "not a Fernet key");
    expect_parse("# only a comment\n\n", sec, 0, "holds no key");
    expect_parse("", sec, 0, "holds no key");
    char many[64 * 20] = "";
    for (int i = 0; i < 17; i++)
        strcat(many, i % 2 ? KEY_A "\n" : KEY_B "\n");
    expect_parse(many, sec, 17, "line 17: more than 16 keys");
    /* comments, blank lines, CRLF and surrounding blanks are fine */
    put_file(g_key, "# rotated 2026\r\n\r\n  " KEY_B " \r\n" KEY_A "\n", 0600);
    resil_error e;
    ck_assert_rc(try_open(&e), 0);
}
END_TEST

START_TEST(parse_errors_secrets_file)
{
    const char *k = KEY_A "\n";
    expect_parse(k, "", 1, "empty file");
    expect_parse(k, "resil-secrets 2\n", 1, "unsupported format version");
    expect_parse(k, "hello\n", 1, "not a secrets file");
    expect_parse(k, "resil-secrets 1\nNAME\n", 2, "line 2: want NAME TOKEN");
    expect_parse(k, "resil-secrets 1\na tok\n\n", 3, "line 3: empty line");
    expect_parse(k, "resil-secrets 1\nbad/name tok\n", 2, "invalid name");
    expect_parse(k, "resil-secrets 1\n tok\n", 2, "invalid name");
    expect_parse(k, "resil-secrets 1\na tok!en\n", 2, "invalid token");
    expect_parse(k, "resil-secrets 1\na tok en\n", 2, "invalid token");
    expect_parse(k, "resil-secrets 1\na \n", 2, "invalid token");
    expect_parse(k, "resil-secrets 1\r\na tok\n", 1, "line 1: carriage return");
    expect_parse(k, "resil-secrets 1\na tok\r\n", 2, "line 2: carriage return");
    put_file(g_sec, "", 0600);
    int fd = open(g_sec, O_WRONLY);
    static const char nul[] = "resil-secrets 1\na tok\0en\n";
    ck_assert_int_eq(write(fd, nul, sizeof nul - 1), (ssize_t)sizeof nul - 1);
    close(fd);
    resil_error e;
    ck_assert_rc(try_open(&e), RESIL_EPARSE);
    ck_assert_ptr_nonnull(strstr(e.text, "line 2: NUL byte"));
    expect_parse(k, "resil-secrets 1\nb t1\na t2\nc t3\nb t4\n", 5,
                 "line 5: duplicate name b");
    char name[200];
    memset(name, 'n', 129);
    strcpy(name + 129, " tok\n");
    char text[300];
    snprintf(text, sizeof text, "resil-secrets 1\n%s", name);
    expect_parse(k, text, 2, "invalid name");
    /* 128 characters, no final newline, unsorted: fine */
    snprintf(text, sizeof text, "resil-secrets 1\nz tok\n%.128s tok", name);
    put_file(g_sec, text, 0600);
    ck_assert_rc(try_open(&e), 0);
}
END_TEST

START_TEST(parse_too_large)
{
    put_file(g_key, KEY_A "\n", 0600);
    put_file(g_sec, "resil-secrets 1\n", 0600);
    ck_assert_int_eq(truncate(g_sec, (16 << 20) + 1), 0); /* sparse: cheap */
    resil_error e;
    ck_assert_rc(try_open(&e), RESIL_EPARSE);
    ck_assert_ptr_nonnull(strstr(e.text, "too large"));
}
END_TEST

/* ---- get / set / delete / list -------------------------------------------- */

START_TEST(set_get_delete_list)
{
    long live = tu_alloc_live();
    resil_secrets *s = open_store(1);
    set_ok(s, "zeta", "last");
    set_ok(s, "alpha", "first");
    set_ok(s, "mid.dle-name_1", "middle");
    expect_value(s, "alpha", "first");
    set_ok(s, "alpha", "replaced");
    expect_value(s, "alpha", "replaced");
    /* binary and empty values */
    resil_error e;
    ck_assert_rc(resil_secrets_set(s, "bin", "a\0b\xff", 4, &e), 0);
    ck_assert_rc(resil_secrets_set(s, "empty", NULL, 0, &e), 0);
    char *v;
    size_t n;
    ck_assert_rc(resil_secrets_get(s, "bin", &v, &n, &e), 0);
    ck_assert_uint_eq(n, 4);
    ck_assert_mem_eq(v, "a\0b\xff", 5); /* NUL-terminated too */
    resil_secret_free(v, n);
    expect_value(s, "empty", "");
    /* the file: header, sorted names, one token each */
    const char *text = get_file(g_sec);
    ck_assert_uint_eq(count_lines(text), 6);
    ck_assert_int_eq(strncmp(text, "resil-secrets 1\nalpha gAAAAA", 28), 0);
    ck_assert_ptr_nonnull(strstr(text, "\nbin gAAAAA"));
    ck_assert_ptr_null(strstr(text, "replaced"));
    char **names;
    ck_assert_rc(resil_secrets_list(s, &names, &n), 0);
    ck_assert_uint_eq(n, 5);
    const char *want[] = {"alpha", "bin", "empty", "mid.dle-name_1", "zeta"};
    for (size_t i = 0; i < 5; i++)
        ck_assert_str_eq(names[i], want[i]);
    resil_free(names);
    ck_assert_rc(resil_secrets_delete(s, "bin", &e), 0);
    ck_assert_rc(resil_secrets_get(s, "bin", &v, &n, &e), RESIL_ENOENT);
    ck_assert_ptr_null(v);
    ck_assert_ptr_nonnull(strstr(e.text, "no secret named bin"));
    ck_assert_rc(resil_secrets_delete(s, "bin", &e), RESIL_ENOENT);
    ck_assert_int_eq(e.code, RESIL_ENOENT);
    resil_secrets_close(s);
    s = open_store(0);
    expect_value(s, "zeta", "last");
    ck_assert_rc(resil_secrets_get(s, "bin", &v, &n, NULL), RESIL_ENOENT);
    resil_secrets_close(s);
    ck_assert_int_eq(count_entries("secrets.tmp"), 0);
    ck_assert_int_eq(tu_alloc_live(), live);
}
END_TEST

START_TEST(names_and_args)
{
    resil_secrets *s = open_store(1);
    resil_error e;
    char long_name[200];
    memset(long_name, 'n', 129);
    long_name[129] = '\0';
    const char *bad[] = {"", "a b", "a/b", "ä", "a\n", long_name};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_rc(resil_secrets_set(s, bad[i], "v", 1, &e), RESIL_EINVAL);
        ck_assert_ptr_nonnull(strstr(e.text, "invalid secret name"));
        ck_assert_rc(resil_secrets_delete(s, bad[i], &e), RESIL_EINVAL);
        char *v;
        size_t n;
        ck_assert_rc(resil_secrets_get(s, bad[i], &v, &n, &e), RESIL_EINVAL);
    }
    long_name[128] = '\0';
    set_ok(s, long_name, "v");
    expect_value(s, long_name, "v");
    char *v = (char *)1;
    size_t n = 1;
    char **names = (char **)1;
    ck_assert_rc(resil_secrets_set(NULL, "a", "v", 1, &e), RESIL_EINVAL);
    ck_assert_rc(resil_secrets_set(s, NULL, "v", 1, &e), RESIL_EINVAL);
    ck_assert_rc(resil_secrets_set(s, "a", NULL, 1, &e), RESIL_EINVAL);
    ck_assert_rc(resil_secrets_get(NULL, "a", &v, &n, &e), RESIL_EINVAL);
    ck_assert_ptr_null(v);
    ck_assert_rc(resil_secrets_get(s, NULL, &v, &n, &e), RESIL_EINVAL);
    ck_assert_rc(resil_secrets_get(s, "a", NULL, &n, &e), RESIL_EINVAL);
    ck_assert_rc(resil_secrets_get(s, "a", &v, NULL, &e), RESIL_EINVAL);
    ck_assert_rc(resil_secrets_delete(NULL, "a", &e), RESIL_EINVAL);
    ck_assert_rc(resil_secrets_delete(s, NULL, &e), RESIL_EINVAL);
    ck_assert_rc(resil_secrets_list(NULL, &names, &n), RESIL_EINVAL);
    ck_assert_ptr_null(names);
    ck_assert_rc(resil_secrets_list(s, NULL, &n), RESIL_EINVAL);
    ck_assert_rc(resil_secrets_list(s, &names, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_secrets_reload(NULL, &e), RESIL_EINVAL);
    ck_assert_rc(resil_secrets_rotate(NULL, NULL, &e), RESIL_EINVAL);
    ck_assert_rc(resil_secrets_set(s, "big", "", RESIL_FERNET_MAX_PLAINTEXT + 1u, &e),
                 RESIL_ERANGE);
    resil_secrets_close(s);
}
END_TEST

/* Tokens are decrypted only by get: a damaged entry does not stop the
 * store from opening, and only its own get fails, naming its line. */
START_TEST(lazy_decryption)
{
    make_store(g_kv, NKV);
    char text[4096];
    strcpy(text, get_file(g_sec));
    char *api = strstr(text, "\napi_key gAAAAA");
    ck_assert_ptr_nonnull(api);
    api[20] = api[20] == 'A' ? 'B' : 'A'; /* inside the ciphertext */
    put_file(g_sec, text, 0600);
    resil_secrets *s = open_store(0);
    expect_value(s, "db.password", "Pg-7fK2-mQ9x");
    char *v;
    size_t n;
    resil_error e;
    ck_assert_rc(resil_secrets_get(s, "api_key", &v, &n, &e), RESIL_ETOKEN_MAC);
    ck_assert_int_eq(e.line, 2);
    ck_assert_ptr_nonnull(strstr(e.text, "secret api_key in"));
    ck_assert_ptr_nonnull(strstr(e.text, "(line 2) does not decrypt"));
    resil_secrets_close(s);
    /* a store written under another key: opens, every get fails */
    make_store(g_kv, NKV);
    put_file(g_key, KEY_B "\n", 0600);
    s = open_store(0);
    ck_assert_rc(resil_secrets_get(s, "api_key", &v, &n, &e), RESIL_ETOKEN_MAC);
    resil_secrets_close(s);
}
END_TEST

/* Two handles: each change re-reads the files under the lock, so neither
 * loses the other's; reads see the other's changes after reload. */
START_TEST(two_handles)
{
    resil_secrets *a = open_store(1);
    resil_secrets *b = open_store(0);
    set_ok(a, "x", "from-a");
    set_ok(b, "y", "from-b");
    char *v;
    size_t n;
    ck_assert_rc(resil_secrets_get(a, "y", &v, &n, NULL), RESIL_ENOENT);
    expect_value(b, "x", "from-a"); /* b re-read before its write */
    ck_assert_rc(resil_secrets_reload(a, NULL), 0);
    expect_value(a, "y", "from-b");
    ck_assert_rc(resil_secrets_delete(b, "x", NULL), 0);
    ck_assert_rc(resil_secrets_delete(a, "x", NULL), RESIL_ENOENT);
    /* a reload that fails keeps the snapshot */
    ck_assert_int_eq(chmod(g_sec, 0640), 0);
    resil_error e;
    ck_assert_rc(resil_secrets_reload(a, &e), RESIL_EPERM);
    expect_value(a, "y", "from-b");
    ck_assert_rc(resil_secrets_set(a, "z", "v", 1, &e), RESIL_EPERM);
    ck_assert_int_eq(chmod(g_sec, 0600), 0);
    /* b rotates; a's next set re-reads the new key and encrypts under it */
    ck_assert_rc(resil_secrets_rotate(b, KEY_B, &e), 0);
    expect_value(a, "y", "from-b"); /* a's snapshot: old ring, old tokens */
    set_ok(a, "z", "after-rotate");
    resil_secrets_close(a);
    resil_secrets_close(b);
    ck_assert_str_eq(get_file(g_key), KEY_B "\n");
    const char *const kv[] = {"y", "from-b", "z", "after-rotate"};
    expect_store(kv, 2);
}
END_TEST

/* Writers in several processes are serialised by the flock: none is lost. */
START_TEST(processes_serialised)
{
    resil_secrets *s = open_store(1);
    resil_secrets_close(s);
    pid_t kids[3];
    for (int k = 0; k < 3; k++) {
        kids[k] = fork();
        ck_assert_int_ge(kids[k], 0);
        if (kids[k] == 0) {
            resil_secrets *c = open_store(0);
            int bad = 0;
            for (int i = 0; i < 5; i++) {
                char name[32];
                snprintf(name, sizeof name, "p%d-%d", k, i);
                bad |= resil_secrets_set(c, name, name, strlen(name), NULL);
            }
            resil_secrets_close(c);
            _exit(bad ? 1 : 0);
        }
    }
    for (int k = 0; k < 3; k++) {
        int st;
        ck_assert_int_eq(waitpid(kids[k], &st, 0), kids[k]);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    s = open_store(0);
    char **names;
    size_t n;
    ck_assert_rc(resil_secrets_list(s, &names, &n), 0);
    ck_assert_uint_eq(n, 15);
    for (size_t i = 0; i < n; i++)
        expect_value(s, names[i], names[i]);
    resil_free(names);
    resil_secrets_close(s);
}
END_TEST

struct thread_arg {
    resil_secrets *s;
    int id;
    int bad;
};

static void *thread_main(void *p)
{
    struct thread_arg *a = p;
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%d-%d", a->id, i);
        a->bad |= resil_secrets_set(a->s, name, name, strlen(name), NULL);
        char *v = NULL;
        size_t n = 0;
        a->bad |= resil_secrets_get(a->s, name, &v, &n, NULL);
        a->bad |= v == NULL || strcmp(v, name) != 0;
        resil_secret_free(v, n);
        char **names = NULL;
        a->bad |= resil_secrets_list(a->s, &names, &n);
        resil_free(names);
    }
    return NULL;
}

/* One handle shared by threads. */
START_TEST(threads_share_a_handle)
{
    resil_secrets *s = open_store(1);
    pthread_t th[3];
    struct thread_arg args[3];
    for (int i = 0; i < 3; i++) {
        args[i] = (struct thread_arg){.s = s, .id = i};
        ck_assert_int_eq(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
    }
    ck_assert_rc(resil_secrets_reload(s, NULL), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_int_eq(args[i].bad, 0);
    }
    char **names;
    size_t n;
    ck_assert_rc(resil_secrets_list(s, &names, &n), 0);
    ck_assert_uint_eq(n, 12);
    resil_free(names);
    resil_secrets_close(s);
}
END_TEST

/* ---- rotation -------------------------------------------------------------- */

static int64_t token_time(const char *key, const char *name)
{
    const char *text = get_file(g_sec);
    char pat[64];
    snprintf(pat, sizeof pat, "\n%s ", name);
    const char *t = strstr(text, pat);
    ck_assert_ptr_nonnull(t);
    t += strlen(pat);
    size_t len = strcspn(t, "\n");
    resil_fernet *f;
    const char *keys[] = {key};
    ck_assert_rc(resil_fernet_new(keys, 1, &f, NULL), 0);
    int64_t ts = 0;
    ck_assert_rc(resil_fernet_token_time(f, t, len, &ts), 0);
    resil_fernet_free(f);
    return ts;
}

START_TEST(rotate_basic)
{
    make_store(g_kv, NKV);
    int64_t before = token_time(KEY_A, "api_key");
    resil_secrets *s = open_store(0);
    resil_error e;
    ck_assert_rc(resil_secrets_rotate(s, KEY_B, &e), 0);
    ck_assert_int_eq(e.code, 0);
    ck_assert_str_eq(get_file(g_key), KEY_B "\n");
    for (size_t i = 0; i < NKV; i++)
        expect_value(s, g_kv[2 * i], g_kv[2 * i + 1]); /* the handle's new snapshot */
    ck_assert_int_eq(token_time(KEY_B, "api_key"), before); /* timestamps kept */
    expect_store(g_kv, NKV);
    /* a generated key */
    ck_assert_rc(resil_secrets_rotate(s, NULL, &e), 0);
    const char *k = get_file(g_key);
    ck_assert_uint_eq(strlen(k), RESIL_FERNET_KEY_B64_LEN + 1);
    ck_assert_int_ne(strcmp(k, KEY_B "\n"), 0);
    expect_store(g_kv, NKV);
    /* rotating to the key in use changes the tokens, not the key file */
    put_file(g_key, KEY_A "\n", 0600);
    make_store(g_kv, NKV);
    ck_assert_rc(resil_secrets_reload(s, &e), 0);
    ck_assert_rc(resil_secrets_rotate(s, KEY_A, &e), 0);
    ck_assert_str_eq(get_file(g_key), KEY_A "\n");
    expect_store(g_kv, NKV);
    resil_secrets_close(s);
    ck_assert_int_eq(count_entries("key.tmp") + count_entries("secrets.tmp"), 0);
}
END_TEST

START_TEST(rotate_empty_and_errors)
{
    resil_secrets *s = open_store(1);
    resil_error e;
    ck_assert_rc(resil_secrets_rotate(s, NULL, &e), 0);
    char before_key[64], before_sec[4096];
    set_ok(s, "a", "1");
    strcpy(before_key, get_file(g_key));
    /* bad new keys: nothing changes, the key is never echoed */
    const char *bad[] = {"", "short", KEY_BAD, KEY_A "A",
                         "ZmVybmV0LWtleS1hLTAxMjM0NTY3ODlhYmNkZWYwMT!="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_rc(resil_secrets_rotate(s, bad[i], &e), RESIL_EINVAL);
        ck_assert_ptr_nonnull(strstr(e.text, "not a Fernet key"));
        if (bad[i][0])
            ck_assert_ptr_null(strstr(e.text, bad[i]));
    }
    ck_assert_str_eq(get_file(g_key), before_key);
    /* an entry that does not decrypt: token error, files unchanged */
    set_ok(s, "b", "2");
    char text[4096];
    strcpy(text, get_file(g_sec));
    char *b = strstr(text, "\nb gAAAAA");
    b[30] = b[30] == 'A' ? 'B' : 'A';
    put_file(g_sec, text, 0600);
    strcpy(before_sec, get_file(g_sec));
    int renames = g_renames;
    ck_assert_rc(resil_secrets_rotate(s, KEY_B, &e), RESIL_ETOKEN_MAC);
    ck_assert_int_eq(e.line, 3);
    ck_assert_ptr_nonnull(strstr(e.text, "secret b in"));
    ck_assert_ptr_nonnull(strstr(e.text, "nothing was changed"));
    ck_assert_str_eq(get_file(g_key), before_key);
    ck_assert_str_eq(get_file(g_sec), before_sec);
    ck_assert_int_eq(g_renames, renames); /* not a single file written */
    resil_secrets_close(s);
}
END_TEST

/* A key file at the ring's limit cannot take one more key. */
START_TEST(rotate_full_ring)
{
    make_store(g_kv, NKV);
    char many[64 * 17] = "";
    strcat(many, KEY_A "\n");
    char key[RESIL_FERNET_KEY_B64_LEN + 1];
    for (int i = 1; i < RESIL_FERNET_MAX_KEYS; i++) {
        ck_assert_rc(resil_fernet_keygen(key), 0);
        strcat(many, key);
        strcat(many, "\n");
    }
    put_file(g_key, many, 0600);
    resil_secrets *s = open_store(0);
    resil_error e;
    ck_assert_rc(resil_secrets_rotate(s, KEY_B, &e), RESIL_ERANGE);
    ck_assert_ptr_nonnull(strstr(e.text, "already holds 16 keys"));
    ck_assert_str_eq(get_file(g_key), many);
    /* the key already in the ring is moved to the front instead */
    ck_assert_rc(resil_secrets_rotate(s, KEY_A, &e), 0);
    ck_assert_str_eq(get_file(g_key), KEY_A "\n");
    resil_secrets_close(s);
    expect_store(g_kv, NKV);
}
END_TEST

/* After each of the three renames a fresh reader opens the store and
 * decrypts every entry: no state along the way is unreadable. */
static int g_probe_ok, g_probe_runs;
static size_t g_probe_keys[4];

static void probe_reader(void)
{
    g_probe_keys[g_probe_runs < 4 ? g_probe_runs : 3] = count_lines(get_file(g_key));
    g_probe_runs++;
    resil_secrets_opts o;
    resil_secrets_opts_init(&o);
    o.path = g_sec;
    o.key_path = g_key;
    resil_secrets *s;
    if (resil_secrets_open(&o, &s, NULL) != 0)
        return;
    int bad = 0;
    for (size_t i = 0; i < NKV; i++) {
        char *v = NULL;
        size_t n = 0;
        bad |= resil_secrets_get(s, g_kv[2 * i], &v, &n, NULL);
        bad |= v == NULL || strcmp(v, g_kv[2 * i + 1]) != 0;
        resil_secret_free(v, n);
    }
    resil_secrets_close(s);
    g_probe_ok += !bad;
}

START_TEST(rotate_every_state_readable)
{
    make_store(g_kv, NKV);
    resil_secrets *s = open_store(0);
    g_probe_ok = g_probe_runs = 0;
    g_probe = probe_reader;
    ck_assert_rc(resil_secrets_rotate(s, KEY_B, NULL), 0);
    g_probe = NULL;
    resil_secrets_close(s);
    ck_assert_int_eq(g_probe_runs, 3);
    ck_assert_int_eq(g_probe_ok, 3);
    ck_assert_uint_eq(g_probe_keys[0], 2); /* [B, A] + old tokens */
    ck_assert_uint_eq(g_probe_keys[1], 2); /* [B, A] + new tokens */
    ck_assert_uint_eq(g_probe_keys[2], 1); /* [B] + new tokens */
}
END_TEST

/* Run fn in a child that SIGKILLs itself at its kill_at-th rename. */
static void run_killed(void (*fn)(void), int kill_at)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        g_renames = 0;
        g_kill_at = kill_at;
        fn();
        _exit(3); /* not killed: the test fails below */
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "child status %#x", st);
}

static void child_set(void)
{
    resil_secrets *s = open_store(0);
    resil_secrets_set(s, "api_key", "NEW-VALUE", 9, NULL);
}

static void child_rotate(void)
{
    resil_secrets *s = open_store(0);
    resil_secrets_rotate(s, KEY_B, NULL);
}

/* The requirement: a kill between write and rename leaves the old
 * store intact.  The temporary file stays behind (open neither needs nor
 * removes it: it may be another writer's, in progress). */
START_TEST(crash_during_set)
{
    make_store(g_kv, NKV);
    char before[4096];
    strcpy(before, get_file(g_sec));
    run_killed(child_set, 1);
    ck_assert_str_eq(get_file(g_sec), before);
    ck_assert_int_eq(count_entries("secrets.tmp."), 1);
    expect_store(g_kv, NKV);
    /* the next writer is not stopped by the leftover (or a stale lock) */
    resil_secrets *s = open_store(0);
    set_ok(s, "api_key", "NEW-VALUE");
    expect_value(s, "api_key", "NEW-VALUE");
    resil_secrets_close(s);
    ck_assert_int_eq(count_entries("secrets.tmp."), 1);
}
END_TEST

START_TEST(crash_during_rotation)
{
    static const size_t keys_after[] = {0, 1, 2, 2}; /* key lines left by a kill at n */
    for (int at = 1; at <= 3; at++) {
        make_store(g_kv, NKV);
        run_killed(child_rotate, at);
        ck_assert_uint_eq(count_lines(get_file(g_key)), keys_after[at]);
        expect_store(g_kv, NKV); /* opens, every entry decrypts */
        /* rotate again to finish */
        resil_secrets *s = open_store(0);
        resil_error e;
        ck_assert_rc(resil_secrets_rotate(s, KEY_B, &e), 0);
        resil_secrets_close(s);
        ck_assert_str_eq(get_file(g_key), KEY_B "\n");
        expect_store(g_kv, NKV);
        put_file(g_key, KEY_A "\n", 0600);
    }
}
END_TEST

/* ---- lookup ------------------------------------------------------------------ */

START_TEST(lookup_store_then_env)
{
    make_store(g_kv, NKV);
    resil_secrets *s = open_store(0);
    setenv("RESIL_TEST_API_KEY", "env-k7Q-p2Zr9xW4mB8v", 1);
    char *v;
    size_t n;
    const char *src = "x";
    resil_error e;
    ck_assert_rc(
        resil_secrets_lookup(s, "api_key", "RESIL_TEST_API_KEY", NULL, &v, &n, &src, &e),
        0);
    ck_assert_str_eq(src, "store");
    ck_assert_str_eq(v, "sk-live-4Zt8");
    resil_secret_free(v, n);
    ck_assert_rc(
        resil_secrets_lookup(s, "other", "RESIL_TEST_API_KEY", NULL, &v, &n, &src, &e),
        0);
    ck_assert_str_eq(src, "env");
    ck_assert_str_eq(v, "env-k7Q-p2Zr9xW4mB8v");
    resil_secret_free(v, n);
    ck_assert_rc(
        resil_secrets_lookup(NULL, NULL, "RESIL_TEST_API_KEY", NULL, &v, &n, NULL, &e),
        0);
    resil_secret_free(v, n);
    /* neither */
    ck_assert_rc(
        resil_secrets_lookup(s, "other", "RESIL_TEST_UNSET", NULL, &v, &n, &src, &e),
        RESIL_ENOENT);
    ck_assert_ptr_null(v);
    ck_assert_ptr_null(src);
    ck_assert_ptr_nonnull(strstr(e.text, "neither in"));
    ck_assert_ptr_nonnull(strstr(e.text, "RESIL_TEST_UNSET"));
    ck_assert_rc(resil_secrets_lookup(s, "other", NULL, NULL, &v, &n, &src, &e),
                 RESIL_ENOENT);
    /* the environment is judged by the policy: refuse, then warn */
    setenv("RESIL_TEST_API_KEY", "your-api-key-here", 1);
    resil_secret_policy p;
    resil_secret_policy_init(&p);
    ck_assert_rc(
        resil_secrets_lookup(s, "other", "RESIL_TEST_API_KEY", &p, &v, &n, &src, &e),
        RESIL_EWEAK);
    ck_assert_ptr_null(v);
    ck_assert_ptr_null(strstr(e.text, "your-api-key-here"));
    p.refuse = 0;
    ck_assert_rc(
        resil_secrets_lookup(s, "other", "RESIL_TEST_API_KEY", &p, &v, &n, &src, &e), 0);
    ck_assert_int_eq(e.code, RESIL_EWEAK);
    ck_assert_str_eq(src, "env");
    resil_secret_free(v, n);
    /* a store entry that does not decrypt is an error, not a fall-through */
    put_file(g_key, KEY_B "\n", 0600);
    ck_assert_rc(resil_secrets_reload(s, &e), 0);
    ck_assert_rc(
        resil_secrets_lookup(s, "api_key", "RESIL_TEST_API_KEY", NULL, &v, &n, &src, &e),
        RESIL_ETOKEN_MAC);
    /* arguments */
    ck_assert_rc(resil_secrets_lookup(s, NULL, "X", NULL, &v, &n, NULL, &e),
                 RESIL_EINVAL);
    ck_assert_rc(resil_secrets_lookup(NULL, "a", NULL, NULL, &v, &n, NULL, &e),
                 RESIL_EINVAL);
    ck_assert_rc(resil_secrets_lookup(s, "a", "X", NULL, NULL, &n, NULL, &e),
                 RESIL_EINVAL);
    ck_assert_rc(resil_secrets_lookup(s, "a", "X", NULL, &v, NULL, NULL, &e),
                 RESIL_EINVAL);
    resil_secrets_close(s);
    unsetenv("RESIL_TEST_API_KEY");
}
END_TEST

/* ---- no secret value in any message ------------------------------------------ */

#define SECRET_1 "Zq9-UNIQUE-SECRET-4711-vQ"
#define SECRET_ENV "Zq9Zq9Zq9" /* weak: too short */

static void no_secret(const resil_error *e)
{
    ck_assert_msg(e->text[0] != '\0', "no message at all");
    ck_assert_msg(strstr(e->text, SECRET_1) == NULL, "leak: %s", e->text);
    ck_assert_msg(strstr(e->text, SECRET_ENV) == NULL, "leak: %s", e->text);
    ck_assert_msg(strstr(e->text, KEY_A) == NULL, "key leak: %s", e->text);
    ck_assert_msg(strstr(e->text, KEY_B) == NULL, "key leak: %s", e->text);
    ck_assert_msg(strstr(e->text, "ZmVybmV0") == NULL, "key leak: %s", e->text);
}

START_TEST(no_secret_in_messages)
{
    make_store(g_kv, 0);
    resil_secrets *s = open_store(0);
    set_ok(s, "mine", SECRET_1);
    resil_error e;
    char *v;
    size_t n;
    setenv("RESIL_TEST_WEAK", SECRET_ENV, 1);
    ck_assert_rc(resil_secret_check(SECRET_ENV, 9, "X", NULL, &e), RESIL_EWEAK);
    no_secret(&e);
    ck_assert_rc(resil_secret_from_env("RESIL_TEST_WEAK", NULL, &v, &n, &e), RESIL_EWEAK);
    no_secret(&e);
    ck_assert_rc(
        resil_secrets_lookup(s, "none", "RESIL_TEST_WEAK", NULL, &v, &n, NULL, &e),
        RESIL_EWEAK);
    no_secret(&e);
    ck_assert_rc(resil_secrets_set(s, "bad name", SECRET_1, strlen(SECRET_1), &e),
                 RESIL_EINVAL);
    no_secret(&e);
    ck_assert_rc(resil_secrets_rotate(s, KEY_A "x", &e), RESIL_EINVAL);
    no_secret(&e);
    ck_assert_rc(
        resil_secrets_rotate(s, "ZmVybmV0LWtleS1hLTAxMjM0NTY3ODlhYmNkZWYwMT!=", &e),
        RESIL_EINVAL);
    no_secret(&e);
    /* the wrong key: get and rotate fail on the token */
    put_file(g_key, KEY_B "\n" KEY_A "x\n", 0600);
    ck_assert_rc(resil_secrets_reload(s, &e), RESIL_EPARSE);
    no_secret(&e);
    put_file(g_key, KEY_B "\n", 0600);
    ck_assert_rc(resil_secrets_reload(s, &e), 0);
    ck_assert_rc(resil_secrets_get(s, "mine", &v, &n, &e), RESIL_ETOKEN_MAC);
    no_secret(&e);
    ck_assert_rc(resil_secrets_rotate(s, NULL, &e), RESIL_ETOKEN_MAC);
    no_secret(&e);
    /* unreadable files, bad modes */
    ck_assert_int_eq(chmod(g_key, 0640), 0);
    ck_assert_rc(resil_secrets_reload(s, &e), RESIL_EPERM);
    no_secret(&e);
    ck_assert_rc(resil_secrets_set(s, "x", SECRET_1, strlen(SECRET_1), &e), RESIL_EPERM);
    no_secret(&e);
    resil_secrets_close(s);
    unsetenv("RESIL_TEST_WEAK");
}
END_TEST

/* ---- allocation failures ---------------------------------------------------- */

/* Fail allocation k for k = 0, 1, ... until the call succeeds; every
 * failure is clean (a listed code, *out NULL, nothing leaked) and the
 * files stay readable. */
#define ALLOC_LOOP(prep, call, ok_codes, after_fail)                                     \
    for (long k = 0;; k++) {                                                             \
        ck_assert_int_lt(k, 400);                                                        \
        prep;                                                                            \
        long live_ = tu_alloc_live();                                                    \
        tu_alloc_fail_at(k);                                                             \
        int rc_ = (call);                                                                \
        tu_alloc_reset();                                                                \
        if (rc_ == 0)                                                                    \
            break;                                                                       \
        ck_assert_msg(ok_codes, "k=%ld: %s", k, resil_err_name(rc_));                    \
        ck_assert_int_eq(tu_alloc_live(), live_);                                        \
        after_fail;                                                                      \
    }

START_TEST(alloc_fail_open)
{
    resil_secrets_opts o;
    resil_secrets_opts_init(&o);
    o.path = g_sec;
    o.key_path = g_key;
    o.create = 1;
    resil_secrets *s = NULL;
    resil_error e;
    ALLOC_LOOP((unlink(g_key), unlink(g_sec)), resil_secrets_open(&o, &s, &e),
               rc_ == RESIL_ENOMEM, ck_assert_ptr_null(s));
    resil_secrets_close(s);
    make_store(g_kv, NKV);
    o.create = 0;
    ALLOC_LOOP((void)0, resil_secrets_open(&o, &s, &e), rc_ == RESIL_ENOMEM,
               ck_assert_ptr_null(s));
    /* get and list on the opened store */
    char *v = NULL;
    size_t n = 0;
    ALLOC_LOOP((void)0, resil_secrets_get(s, "api_key", &v, &n, &e), rc_ == RESIL_ENOMEM,
               ck_assert_ptr_null(v));
    ck_assert_str_eq(v, "sk-live-4Zt8");
    resil_secret_free(v, n);
    char **names = NULL;
    ALLOC_LOOP((void)0, resil_secrets_list(s, &names, &n), rc_ == RESIL_ENOMEM,
               ck_assert_ptr_null(names));
    ck_assert_uint_eq(n, NKV);
    resil_free(names);
    ALLOC_LOOP((void)0, resil_secrets_reload(s, &e), rc_ == RESIL_ENOMEM, (void)0);
    resil_secrets_close(s);
}
END_TEST

/* Rotation allocates everything before its first write. */
static void expect_unrotated(const char *const *kv, size_t n)
{
    ck_assert_str_eq(get_file(g_key), KEY_A "\n");
    expect_store(kv, n);
}

START_TEST(alloc_fail_set_and_rotate)
{
    make_store(g_kv, NKV);
    resil_secrets *s = open_store(0);
    resil_error e;
    ALLOC_LOOP((void)0, resil_secrets_set(s, "api_key", "changed", 7, &e),
               rc_ == RESIL_ENOMEM, expect_store(g_kv, NKV));
    expect_value(s, "api_key", "changed");
    const char *const kv[] = {"db.password", "Pg-7fK2-mQ9x", "api_key",
                              "changed",     "smtp-token",   "tok-3Hh1"};
    ALLOC_LOOP((void)0, resil_secrets_delete(s, "smtp-token", &e), rc_ == RESIL_ENOMEM,
               expect_store(kv, NKV));
    ALLOC_LOOP((void)0, resil_secrets_rotate(s, KEY_B, &e), rc_ == RESIL_ENOMEM,
               expect_unrotated(kv, 2));
    ck_assert_str_eq(get_file(g_key), KEY_B "\n");
    expect_store(kv, 2);
    resil_secrets_close(s);
}
END_TEST

#else /* !RESIL_HAVE_OPENSSL */

START_TEST(store_enotsup)
{
    resil_secrets_opts o;
    resil_secrets_opts_init(&o);
    o.path = g_sec;
    o.key_path = g_key;
    o.create = 1;
    resil_secrets *s = (resil_secrets *)1;
    resil_error e;
    ck_assert_rc(resil_secrets_open(&o, &s, &e), RESIL_ENOTSUP);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(count_entries(""), 2); /* ".", "..": nothing created */
}
END_TEST

#endif /* RESIL_HAVE_OPENSSL */

static Suite *suite(void)
{
    Suite *s = suite_create("test_secrets_store");
    TCase *tc = tcase_create("files");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, check_file_ok_and_args);
    tcase_add_test(tc, check_file_each_mode_bit);
    tcase_add_test(tc, check_file_special_files);
    tcase_add_test(tc, check_file_owner);
    tcase_add_test(tc, write_file_replaces_atomically);
    tcase_add_test(tc, write_file_errors);
    tcase_add_test(tc, write_file_write_error);
    suite_add_tcase(s, tc);
#ifdef RESIL_HAVE_OPENSSL
    tc = tcase_create("store");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, open_create);
    tcase_add_test(tc, open_missing);
    tcase_add_test(tc, open_create_refuses_orphaning);
    tcase_add_test(tc, open_einval);
    tcase_add_test(tc, open_eperm);
    tcase_add_test(tc, open_eperm_owner);
    tcase_add_test(tc, parse_errors_key_file);
    tcase_add_test(tc, parse_errors_secrets_file);
    tcase_add_test(tc, parse_too_large);
    tcase_add_test(tc, set_get_delete_list);
    tcase_add_test(tc, names_and_args);
    tcase_add_test(tc, lazy_decryption);
    tcase_add_test(tc, two_handles);
    tcase_add_test(tc, processes_serialised);
    tcase_add_test(tc, threads_share_a_handle);
    tcase_add_test(tc, lookup_store_then_env);
    tcase_add_test(tc, no_secret_in_messages);
    suite_add_tcase(s, tc);
    tc = tcase_create("rotation");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, rotate_basic);
    tcase_add_test(tc, rotate_empty_and_errors);
    tcase_add_test(tc, rotate_full_ring);
    tcase_add_test(tc, rotate_every_state_readable);
    tcase_add_test(tc, crash_during_set);
    tcase_add_test(tc, crash_during_rotation);
    suite_add_tcase(s, tc);
    tc = tcase_create("alloc");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, alloc_fail_open);
    tcase_add_test(tc, alloc_fail_set_and_rotate);
    suite_add_tcase(s, tc);
#else
    tc = tcase_create("store");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, store_enotsup);
    suite_add_tcase(s, tc);
#endif
    return s;
}

int main(void)
{
    return tu_run(suite());
}
