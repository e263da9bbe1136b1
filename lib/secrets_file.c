/* Files of the secrets store: the ownership and mode checks, reading a
 * whole file through a checked descriptor, atomic replacement and the
 * writers' lock.
 *
 * Reads open with O_NOFOLLOW and judge the descriptor with fstat, so what
 * is checked is what is read (no window between a stat and an open).
 * O_NONBLOCK keeps an open of a FIFO planted at the path from blocking; it
 * changes nothing for regular files. */
#include "secrets_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define GROUP_OTHER_BITS (S_IRWXG | S_IRWXO)

unsigned resil__sf_problems(const struct stat *st, uid_t euid)
{
    if (S_ISLNK(st->st_mode))
        return RESIL__SF_SYMLINK;
    if (!S_ISREG(st->st_mode))
        return RESIL__SF_NOT_REGULAR;
    unsigned bad = 0;
    if (st->st_uid != euid)
        bad |= RESIL__SF_OWNER;
    if (st->st_mode & GROUP_OTHER_BITS)
        bad |= RESIL__SF_MODE;
    return bad;
}

const char *resil__sf_mode_words(mode_t mode)
{
    if (mode & (S_IRGRP | S_IROTH))
        return "readable by group or others";
    if (mode & (S_IWGRP | S_IWOTH))
        return "writable by group or others";
    return "executable by group or others";
}

static const char *kind_name(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISCHR(mode) || S_ISBLK(mode))
        return "a device";
    return "not a regular file";
}

/* The message for a file with problems, with the exact command that fixes
 * it.  Owner and mode can both be wrong: one message, one command line. */
static int report(const struct stat *st, unsigned bad, const char *what, const char *path,
                  resil_error *err)
{
    unsigned uid = (unsigned)st->st_uid, me = (unsigned)geteuid();
    unsigned mode = (unsigned)(st->st_mode & 07777);
    if (bad & RESIL__SF_SYMLINK) {
        resil__secret_err(err, RESIL_EPERM, 0,
                          "%s %s is a symbolic link, which the store refuses: "
                          "replace it with the file it points to",
                          what, path);
    } else if (bad & RESIL__SF_NOT_REGULAR) {
        resil__secret_err(err, RESIL_EPERM, 0, "%s %s is %s, not a regular file", what,
                          path, kind_name(st->st_mode));
    } else if ((bad & RESIL__SF_OWNER) && (bad & RESIL__SF_MODE)) {
        resil__secret_err(err, RESIL_EPERM, 0,
                          "%s %s is owned by uid %u, not by the running user (uid %u), "
                          "and %s (mode %04o): run chown %u %s && chmod 600 %s",
                          what, path, uid, me, resil__sf_mode_words(st->st_mode), mode,
                          me, path, path);
    } else if (bad & RESIL__SF_OWNER) {
        resil__secret_err(err, RESIL_EPERM, 0,
                          "%s %s is owned by uid %u, not by the running user (uid %u): "
                          "run chown %u %s",
                          what, path, uid, me, me, path);
    } else {
        resil__secret_err(err, RESIL_EPERM, 0,
                          "%s %s is %s (mode %04o): run chmod 600 %s", what, path,
                          resil__sf_mode_words(st->st_mode), mode, path);
    }
    return RESIL_EPERM;
}

static int check_stat(const struct stat *st, const char *what, const char *path,
                      resil_error *err)
{
    unsigned bad = resil__sf_problems(st, geteuid());
    return bad ? report(st, bad, what, path, err) : 0;
}

static int sys_err(resil_error *err, int e, const char *what, const char *path,
                   const char *step)
{
    /* the reason before the path, which may be long enough to be cut */
    resil__secret_err(err, RESIL_ESYS, 0, "%s failed (%s) for %s %s", step, strerror(e),
                      what, path);
    return RESIL_ESYS;
}

int resil_secrets_check_file(const char *path, resil_error *err)
{
    resil__secret_err_clear(err);
    if (!path || !path[0])
        return RESIL_EINVAL;
    struct stat st;
    if (lstat(path, &st) != 0) {
        int e = errno;
        if (e == ENOENT) {
            resil__secret_err(err, RESIL_ENOENT, 0, "file %s does not exist", path);
            return RESIL_ENOENT;
        }
        return sys_err(err, e, "file", path, "lstat");
    }
    return check_stat(&st, "file", path, err);
}

/* Why open failed: a symlink or a special file gets the EPERM message
 * (lstat, for the message only: the decision was O_NOFOLLOW's). */
static int open_failed(int e, const char *what, const char *path, resil_error *err)
{
    if (e == ENOENT) {
        resil__secret_err(err, RESIL_ENOENT, 0, "%s %s does not exist", what, path);
        return RESIL_ENOENT;
    }
    struct stat st;
    if (lstat(path, &st) == 0 && (S_ISLNK(st.st_mode) || !S_ISREG(st.st_mode)))
        return check_stat(&st, what, path, err);
    return sys_err(err, e, what, path, "open");
}

static void id_from_stat(const struct stat *st, resil__sf_id *id)
{
    memset(id, 0, sizeof *id);
    id->dev = st->st_dev;
    id->ino = st->st_ino;
    id->size = st->st_size;
    id->mtime = st->st_mtim;
    id->ctime = st->st_ctim;
}

int resil__sf_stat_id(const char *path, resil__sf_id *id)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return -1;
    id_from_stat(&st, id);
    return 0;
}

bool resil__sf_id_eq(const resil__sf_id *a, const resil__sf_id *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* Read up to cap bytes; a file that shrank meanwhile gives fewer. */
static int read_fd(int fd, char *buf, size_t cap, size_t *got)
{
    size_t n = 0;
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *got = n;
    return 0;
}

static int read_opened(int fd, const struct stat *st, const char *what, const char *path,
                       char **buf, size_t *len, resil_error *err)
{
    if ((uintmax_t)st->st_size > RESIL__SF_MAX_SIZE) {
        resil__secret_err(err, RESIL_EPARSE, 0, "%s %s is too large (over %zu MiB)", what,
                          path, RESIL__SF_MAX_SIZE >> 20);
        return RESIL_EPARSE;
    }
    size_t cap = (size_t)st->st_size;
    char *b = resil__malloc(cap + 1);
    if (!b) {
        resil__secret_err(err, RESIL_ENOMEM, 0, "out of memory reading %s %s", what,
                          path);
        return RESIL_ENOMEM;
    }
    size_t got = 0;
    int e = read_fd(fd, b, cap, &got);
    if (e != 0) {
        resil_secret_free(b, cap + 1);
        return sys_err(err, e, what, path, "read");
    }
    b[got] = '\0';
    *buf = b;
    *len = got;
    return 0;
}

int resil__sf_read(const char *path, const char *what, char **buf, size_t *len,
                   resil__sf_id *id, resil_error *err)
{
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return open_failed(errno, what, path, err);
    struct stat st;
    int rc;
    if (fstat(fd, &st) != 0) {
        rc = sys_err(err, errno, what, path, "fstat");
        goto out_close;
    }
    rc = check_stat(&st, what, path, err);
    if (rc != 0)
        goto out_close;
    if (id)
        id_from_stat(&st, id);
    rc = read_opened(fd, &st, what, path, buf, len, err);
out_close:
    close(fd);
    return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* fsync the directory holding path, so the rename itself is durable.
 * Some file systems cannot fsync a directory (EINVAL): nothing more can be
 * done there, so that is not an error. */
static int sync_dir(char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int e = fsync(fd) == 0 || errno == EINVAL ? 0 : errno;
    close(fd);
    return e;
}

/* Temporary file content, then rename.  On failure the temporary file is
 * removed and *step names the call that failed. */
static int write_temp_and_rename(char *tmp, const char *path, const void *data,
                                 size_t len, const char **step)
{
    *step = "mkstemp";
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return errno;
    int e = 0;
    *step = "fchmod";
    if (fchmod(fd, S_IRUSR | S_IWUSR) != 0)
        goto out_errno;
    *step = "write";
    e = write_all(fd, data, len);
    if (e != 0)
        goto out_unlink;
    *step = "fsync";
    if (fsync(fd) != 0)
        goto out_errno;
    *step = "close";
    e = close(fd) == 0 ? 0 : errno;
    fd = -1;
    if (e != 0)
        goto out_unlink;
    *step = "rename";
    if (rename(tmp, path) != 0)
        goto out_errno;
    return 0;
out_errno:
    e = errno;
out_unlink:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return e;
}

/* No allocation here: the store prepares everything that can run out of
 * memory before its first write, so a failure between two writes of a
 * rotation can only be an I/O error. */
int resil__sf_write(const char *path, const char *what, const void *data, size_t len,
                    resil_error *err)
{
    static const char suffix[] = ".tmp.XXXXXX";
    char tmp[PATH_MAX + sizeof suffix], dir[PATH_MAX];
    size_t plen = strlen(path);
    if (plen >= PATH_MAX)
        return sys_err(err, ENAMETOOLONG, what, path, "open");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, suffix, sizeof suffix);
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) : 0;
    if (!slash) {
        strcpy(dir, ".");
    } else if (dlen == 0) {
        strcpy(dir, "/");
    } else {
        memcpy(dir, path, dlen);
        dir[dlen] = '\0';
    }
    const char *step;
    int e = write_temp_and_rename(tmp, path, data, len, &step);
    if (e == 0) {
        step = "fsync of the directory";
        e = sync_dir(dir);
    }
    return e != 0 ? sys_err(err, e, what, path, step) : 0;
}

int resil_secrets_write_file(const char *path, const void *data, size_t len,
                             resil_error *err)
{
    resil__secret_err_clear(err);
    if (!path || !path[0] || (!data && len > 0))
        return RESIL_EINVAL;
    return resil__sf_write(path, "file", data ? data : "", len, err);
}

int resil__sf_lock(const char *path, int *fd, resil_error *err)
{
    *fd = -1;
    size_t plen = strlen(path);
    char *lock = resil__malloc(plen + sizeof ".lock");
    if (!lock) {
        resil__secret_err(err, RESIL_ENOMEM, 0, "out of memory locking %s", path);
        return RESIL_ENOMEM;
    }
    memcpy(lock, path, plen);
    memcpy(lock + plen, ".lock", sizeof ".lock");
    int rc = 0;
    int f = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, S_IRUSR | S_IWUSR);
    if (f < 0) {
        rc = sys_err(err, errno, "lock file", lock, "open");
        goto out_free;
    }
    int r;
    do
        r = flock(f, LOCK_EX);
    while (r != 0 && errno == EINTR);
    if (r != 0) {
        rc = sys_err(err, errno, "lock file", lock, "flock");
        close(f);
        goto out_free;
    }
    *fd = f;
out_free:
    resil__free(lock);
    return rc;
}

void resil__sf_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* drops the flock */
}

/* ---- the two formats (secrets.h) --------------------------------------- */

static bool name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
}

bool resil__sf_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > RESIL__SF_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!name_char((unsigned char)s[i]))
            return false;
    }
    return true;
}

static bool token_ok(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool alnum =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && c != '-' && c != '_' && c != '=')
            return false;
    }
    return true;
}

/* A base64url string that decodes to exactly 32 bytes. */
bool resil__sf_key_ok(const char *s, size_t len)
{
    uint8_t raw[RESIL_FERNET_KEY_B64_LEN];
    size_t n = 0;
    if (len != RESIL_FERNET_KEY_B64_LEN)
        return false;
    bool ok = resil__b64url_decode(s, len, raw, &n) == 0 && n == RESIL_FERNET_KEY_LEN;
    resil_secret_wipe(raw, sizeof raw);
    return ok;
}

/* ---- the key file ------------------------------------------------------ */

static char *trim(char *s, char *end)
{
    while (s < end && (*s == ' ' || *s == '\t' || *s == '\r'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    *end = '\0';
    return s;
}

static int key_line(resil__sf_keyring *kr, char *s, int line, const char *path,
                    resil_error *err)
{
    size_t len = strlen(s);
    if (len == 0 || s[0] == '#')
        return 0;
    if (!resil__sf_key_ok(s, len)) {
        resil__secret_err(err, RESIL_EPARSE, line,
                          "key file %s line %d: not a Fernet key (want 44 base64url "
                          "characters encoding 32 bytes)",
                          path, line);
        return RESIL_EPARSE;
    }
    if (kr->n == RESIL_FERNET_MAX_KEYS) {
        resil__secret_err(err, RESIL_EPARSE, line,
                          "key file %s line %d: more than %d keys", path, line,
                          RESIL_FERNET_MAX_KEYS);
        return RESIL_EPARSE;
    }
    kr->keys[kr->n++] = s;
    return 0;
}

static int parse_keys(resil__sf_keyring *kr, const char *path, resil_error *err)
{
    char *p = kr->buf, *end = kr->buf + kr->buflen;
    for (int line = 1; p < end; line++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl ? nl : end;
        int rc = key_line(kr, trim(p, eol), line, path, err);
        if (rc != 0)
            return rc;
        p = eol + 1;
    }
    if (kr->n == 0) {
        resil__secret_err(err, RESIL_EPARSE, 0, "key file %s holds no key", path);
        return RESIL_EPARSE;
    }
    return 0;
}

void resil__sf_keyring_free(resil__sf_keyring *kr)
{
    resil_secret_free(kr->buf, kr->buflen + 1);
    memset(kr, 0, sizeof *kr);
}

int resil__sf_read_keys(const char *path, resil__sf_keyring *kr, resil__sf_id *id,
                        resil_error *err)
{
    memset(kr, 0, sizeof *kr);
    int rc = resil__sf_read(path, "key file", &kr->buf, &kr->buflen, id, err);
    if (rc == 0)
        rc = parse_keys(kr, path, err);
    if (rc != 0)
        resil__sf_keyring_free(kr);
    return rc;
}

/* ---- the secrets file -------------------------------------------------- */

static int parse_err(resil_error *err, const char *path, int line, const char *why)
{
    resil__secret_err(err, RESIL_EPARSE, line, "secrets file %s line %d: %s", path, line,
                      why);
    return RESIL_EPARSE;
}

static int entry_line(char *s, int line, const char *path, resil__sf_entry *e,
                      resil_error *err)
{
    if (!s[0])
        return parse_err(err, path, line, "empty line");
    char *sp = strchr(s, ' ');
    if (!sp)
        return parse_err(err, path, line, "want NAME TOKEN");
    *sp = '\0';
    if (!resil__sf_name_ok(s, (size_t)(sp - s)))
        return parse_err(err, path, line,
                         "invalid name (want 1..128 characters of A-Z a-z 0-9 _ . -)");
    size_t toklen = strlen(sp + 1);
    if (!token_ok(sp + 1, toklen))
        return parse_err(err, path, line, "invalid token (want base64url)");
    *e = (resil__sf_entry){.name = s, .token = sp + 1, .toklen = toklen, .line = line};
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const resil__sf_entry *)a)->name, ((const resil__sf_entry *)b)->name);
}

static int check_header(char *s, const char *path, resil_error *err)
{
    if (strcmp(s, RESIL__SF_HEADER) == 0)
        return 0;
    if (strncmp(s, "resil-secrets ", 14) == 0)
        return parse_err(err, path, 1,
                         "unsupported format version (want \"" RESIL__SF_HEADER "\")");
    return parse_err(err, path, 1,
                     "not a secrets file (want \"" RESIL__SF_HEADER "\" first)");
}

/* Parse buf in place into e (room for cap entries, one per line at most),
 * sorted by name.  Writes only NULs into buf and entries into e. */
int resil__sf_parse_secrets(char *buf, size_t len, const char *path, resil__sf_entry *e,
                            size_t cap, size_t *n, resil_error *err)
{
    char *p = buf, *end = buf + len;
    *n = 0;
    if (len == 0)
        return parse_err(err, path, 1,
                         "empty file (want \"" RESIL__SF_HEADER "\" first)");
    for (int line = 1; p < end; line++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl ? nl : end;
        if (memchr(p, '\0', (size_t)(eol - p)))
            return parse_err(err, path, line, "NUL byte");
        *eol = '\0';
        if (eol > p && eol[-1] == '\r')
            return parse_err(err, path, line,
                             "carriage return (CRLF line ends; want LF)");
        int rc;
        if (line == 1) {
            rc = check_header(p, path, err);
        } else {
            /* cap counts the lines, so this holds unless buf changed */
            if (*n == cap)
                return parse_err(err, path, line, "too many lines");
            rc = entry_line(p, line, path, &e[*n], err);
        }
        if (rc != 0)
            return rc;
        *n += line > 1;
        p = eol + 1;
    }
    qsort(e, *n, sizeof *e, cmp_entry);
    for (size_t i = 1; i < *n; i++) {
        if (strcmp(e[i - 1].name, e[i].name) == 0) {
            int line = e[i].line > e[i - 1].line ? e[i].line : e[i - 1].line;
            resil__secret_err(err, RESIL_EPARSE, line,
                              "secrets file %s line %d: duplicate name %s", path, line,
                              e[i].name);
            return RESIL_EPARSE;
        }
    }
    return 0;
}

size_t resil__sf_count_lines(const char *buf, size_t len)
{
    size_t n = 1;
    const char *end = buf + len;
    const char *p = memchr(buf, '\n', len);
    while (p) {
        n++;
        p = memchr(p + 1, '\n', (size_t)(end - p - 1));
    }
    return n;
}
