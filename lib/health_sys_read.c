/* Reading the system for the health checks: procfs files and statvfs(2).
 *
 * Files are read through one line reader with a fixed buffer on the stack:
 * no stdio (no locale, no hidden allocation), no whole-file buffer, and a
 * parser may stop once it has what it needs, so /proc/stat is read only up
 * to its last "cpuN" line however many interrupts the "intr" line lists
 * after it.  Numbers are parsed by hand: digits only (strtoull would take
 * "-1" and wrap it), overflow is an error, and decimals use '.' whatever
 * LC_NUMERIC says.  Formats: proc(5). */
#include "health_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <unistd.h>

/* Private interface with health_sys.c (declared there too).  Fill the
 * fields of *s that the checks in `parts` (RESIL_HEALTH_SYS_* bits) need;
 * with proc_age_s, also the seconds since this process started (self/stat
 * starttime against <root>/uptime).  *sys_errno gets the errno of a failed
 * open or read, 0 otherwise. */

#define SYS_PATH_MAX 4096
#define SYS_LINE_MAX 4096          /* longest line a parser looks at */
#define SYS_FILE_MAX (1024 * 1024) /* bytes read from one file at most */
#define SYS_PROC_MAGIC 0x9fa0      /* PROC_SUPER_MAGIC, linux/magic.h */

/* One read of a group of files: where, and where errors go. */
struct sys_reader {
    const char *root;
    char path[SYS_PATH_MAX]; /* the file being read, for messages */
    resil_error *err;
    int sys_errno;
};

/* One line as the parsers see it: NUL-terminated, without its newline. */
struct sys_line {
    const char *s;
    size_t len;
    int no;        /* 1-based */
    int truncated; /* longer than SYS_LINE_MAX: s holds the start */
};

/* 0: go on, 1: stop reading, < 0: a RESIL_E* error (already reported). */
typedef int (*sys_line_fn)(struct sys_reader *r, const struct sys_line *ln, void *st);

static void sys_error_text(int errnum, char *buf, size_t cap)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    /* the GNU variant may return a static string instead of filling buf */
    const char *m = strerror_r(errnum, buf, cap);
    if (m != buf)
        snprintf(buf, cap, "%s", m);
#else
    if (strerror_r(errnum, buf, cap) != 0)
        snprintf(buf, cap, "error %d", errnum);
#endif
}

/* Report an error about r->path (at line `line` when > 0); returns code. */
static int sys_fail(struct sys_reader *r, int code, int line, const char *fmt, ...)
{
    if (!r->err)
        return code;
    /* the bounds keep path and message within the 512 bytes of text */
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    r->err->code = code;
    r->err->line = line;
    r->err->column = 0;
    if (line > 0)
        snprintf(r->err->text, sizeof r->err->text, "%.300s:%d: %.180s", r->path, line,
                 what);
    else
        snprintf(r->err->text, sizeof r->err->text, "%.300s: %.200s", r->path, what);
    return code;
}

static int sys_fail_errno(struct sys_reader *r, int errnum, const char *verb)
{
    char msg[128];
    sys_error_text(errnum, msg, sizeof msg);
    r->sys_errno = errnum;
    /* a file that is not there is a file we cannot parse; anything else
     * (EMFILE, EACCES, EIO) is the system refusing */
    int code = (errnum == ENOENT || errnum == ENOTDIR) ? RESIL_EPARSE : RESIL_ESYS;
    return sys_fail(r, code, 0, "cannot %s: %s", verb, msg);
}

static int sys_set_path(struct sys_reader *r, const char *rel)
{
    int n = snprintf(r->path, sizeof r->path, "%s/%s", r->root, rel);
    if (n < 0 || (size_t)n >= sizeof r->path) {
        snprintf(r->path, sizeof r->path, "%.64s...", r->root);
        return sys_fail(r, RESIL_EINVAL, 0, "path too long");
    }
    return 0;
}

/* ---- numbers ------------------------------------------------------------ */

static const char *skip_blanks(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Decimal digits at *p (after blanks) into *v, *p moved past them.
 * 0, 1 when there is no digit, 2 when the value passes UINT64_MAX. */
static int parse_u64(const char **p, uint64_t *v)
{
    const char *q = skip_blanks(*p);
    uint64_t acc = 0;
    if (!is_digit(*q))
        return 1;
    for (; is_digit(*q); q++) {
        uint64_t d = (uint64_t)(*q - '0');
        if (acc > (UINT64_MAX - d) / 10)
            return 2;
        acc = acc * 10 + d;
    }
    *p = q;
    *v = acc;
    return 0;
}

/* "123" or "123.45" (the decimal point is always '.'). */
static int parse_decimal(const char **p, double *v)
{
    uint64_t ipart;
    int rc = parse_u64(p, &ipart);
    if (rc != 0)
        return rc;
    double frac = 0, scale = 1;
    const char *q = *p;
    if (*q == '.') {
        for (q++; is_digit(*q); q++) {
            if (scale < 1e18) { /* digits past 18 cannot change a double */
                frac = frac * 10 + (*q - '0');
                scale *= 10;
            }
        }
    }
    *p = q;
    *v = (double)ipart + frac / scale;
    return 0;
}

/* The number after a "Key:" prefix, followed by " kB", in bytes. */
static int parse_kb_line(struct sys_reader *r, const struct sys_line *ln, size_t keylen,
                         uint64_t *bytes)
{
    const char *p = ln->s + keylen;
    uint64_t kb;
    int rc = parse_u64(&p, &kb);
    if (rc == 2 || (rc == 0 && kb > UINT64_MAX / 1024))
        return sys_fail(r, RESIL_EPARSE, ln->no, "value out of range");
    p = skip_blanks(p);
    if (rc != 0 || strcmp(p, "kB") != 0 || ln->truncated)
        return sys_fail(r, RESIL_EPARSE, ln->no, "malformed %.*s line", (int)keylen - 1,
                        ln->s);
    *bytes = kb * 1024;
    return 0;
}

static int starts_with(const struct sys_line *ln, const char *prefix)
{
    return strncmp(ln->s, prefix, strlen(prefix)) == 0;
}

/* ---- the line reader ---------------------------------------------------- */

static int sys_open(struct sys_reader *r, const char *rel, int flags)
{
    int rc = sys_set_path(r, rel);
    if (rc != 0)
        return rc;
    /* O_NONBLOCK: a FIFO planted where a file should be must not hang us */
    int fd = open(r->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | flags);
    if (fd < 0)
        return sys_fail_errno(r, errno, "open");
    return fd;
}

/* Read up to cap bytes, restarting after signals: bytes read, 0 at the
 * end, or < 0 with errno set. */
static ssize_t read_some(int fd, char *buf, size_t cap)
{
    for (;;) {
        ssize_t n = read(fd, buf, cap);
        if (n >= 0 || errno != EINTR)
            return n;
    }
}

struct sys_scan {
    char buf[SYS_LINE_MAX + 1];
    size_t have;  /* bytes in buf */
    size_t total; /* bytes read so far */
    int skipping; /* dropping the rest of a truncated line */
    int no;
};

/* Hand the complete lines in sc->buf to fn; keep the partial last one. */
static int scan_lines(struct sys_reader *r, struct sys_scan *sc, int at_eof,
                      sys_line_fn fn, void *st)
{
    size_t start = 0;
    for (;;) {
        char *nl = memchr(sc->buf + start, '\n', sc->have - start);
        size_t end = nl ? (size_t)(nl - sc->buf) : sc->have;
        int full = !nl && start == 0 && sc->have == SYS_LINE_MAX;
        if (!nl && !full && !(at_eof && end > start))
            break;
        sc->buf[end] = '\0';
        int was_skipping = sc->skipping;
        sc->skipping = full;
        if (!was_skipping) {
            struct sys_line ln = {sc->buf + start, end - start, ++sc->no, full};
            int rc = fn(r, &ln, st);
            if (rc != 0)
                return rc;
        }
        start = nl ? end + 1 : end;
        if (!nl)
            break;
    }
    memmove(sc->buf, sc->buf + start, sc->have - start);
    sc->have -= start;
    return 0;
}

/* Feed every line of <root>/rel to fn until it stops or the file ends. */
static int read_lines(struct sys_reader *r, const char *rel, sys_line_fn fn, void *st)
{
    int fd = sys_open(r, rel, 0);
    if (fd < 0)
        return fd;
    struct sys_scan sc = {.have = 0};
    int rc = 0;
    for (;;) {
        ssize_t n = read_some(fd, sc.buf + sc.have, SYS_LINE_MAX - sc.have);
        if (n < 0) {
            rc = sys_fail_errno(r, errno, "read");
            break;
        }
        sc.total += (size_t)n;
        if (sc.total > SYS_FILE_MAX) {
            rc = sys_fail(r, RESIL_EPARSE, 0, "larger than %d bytes", SYS_FILE_MAX);
            break;
        }
        sc.have += (size_t)n;
        rc = scan_lines(r, &sc, n == 0, fn, st);
        if (rc != 0 || n == 0)
            break;
    }
    close(fd);
    return rc < 0 ? rc : 0;
}

/* ---- /proc/stat --------------------------------------------------------- */

struct stat_state {
    int seen_cpu;
    uint64_t total, idle;
    uint32_t ncpu;
};

/* "cpu  user nice system idle iowait irq softirq steal guest guest_nice":
 * total is the sum of the first eight fields (the kernel counts guest and
 * guest_nice inside user and nice already, as top and htop know), idle is
 * idle + iowait. */
static int parse_cpu_line(struct sys_reader *r, const struct sys_line *ln,
                          struct stat_state *st)
{
    const char *p = ln->s + 3;
    uint64_t total = 0, idle = 0, v;
    int n = 0;
    int rc = parse_u64(&p, &v);
    for (; rc == 0; rc = parse_u64(&p, &v)) {
        if (total > UINT64_MAX - v)
            return sys_fail(r, RESIL_EPARSE, ln->no, "cpu times out of range");
        if (n < 8)
            total += v;
        if (n == 3 || n == 4)
            idle += v;
        n++;
    }
    if (rc == 2)
        return sys_fail(r, RESIL_EPARSE, ln->no, "value out of range");
    if (n < 4 || *skip_blanks(p) != '\0' || ln->truncated)
        return sys_fail(r, RESIL_EPARSE, ln->no, "malformed cpu line");
    st->total = total;
    st->idle = idle;
    st->seen_cpu = 1;
    return 0;
}

static int stat_line(struct sys_reader *r, const struct sys_line *ln, void *vst)
{
    struct stat_state *st = vst;
    if (!starts_with(ln, "cpu"))
        return st->seen_cpu ? 1 : 0; /* the cpu lines come first: done */
    if (is_digit(ln->s[3])) {
        st->ncpu++;
        return 0;
    }
    if (ln->s[3] != ' ' && ln->s[3] != '\t')
        return sys_fail(r, RESIL_EPARSE, ln->no, "malformed cpu line");
    if (st->seen_cpu)
        return sys_fail(r, RESIL_EPARSE, ln->no, "second cpu line");
    return parse_cpu_line(r, ln, st);
}

static int read_stat(struct sys_reader *r, resil_health_sys_sample *s)
{
    struct stat_state st = {0};
    int rc = read_lines(r, "stat", stat_line, &st);
    if (rc != 0)
        return rc;
    if (!st.seen_cpu)
        return sys_fail(r, RESIL_EPARSE, 0, "no cpu line");
    if (st.ncpu == 0)
        return sys_fail(r, RESIL_EPARSE, 0, "no cpuN lines");
    s->cpu_total = st.total;
    s->cpu_idle = st.idle;
    s->ncpu = st.ncpu;
    return 0;
}

/* ---- "Key: value kB" files: meminfo, self/status ------------------------ */

struct kb_key {
    const char *key; /* with its colon */
    uint64_t *out;
    int found;
};

struct kb_state {
    struct kb_key *keys;
    int n, left;
};

static int kb_line(struct sys_reader *r, const struct sys_line *ln, void *vst)
{
    struct kb_state *st = vst;
    for (int i = 0; i < st->n; i++) {
        struct kb_key *k = &st->keys[i];
        if (k->found || !starts_with(ln, k->key))
            continue;
        int rc = parse_kb_line(r, ln, strlen(k->key), k->out);
        if (rc != 0)
            return rc;
        k->found = 1;
        return --st->left == 0 ? 1 : 0;
    }
    return 0;
}

static int read_kb_keys(struct sys_reader *r, const char *rel, struct kb_key *keys, int n)
{
    struct kb_state st = {keys, n, n};
    int rc = read_lines(r, rel, kb_line, &st);
    if (rc != 0)
        return rc;
    for (int i = 0; i < n; i++) {
        if (!keys[i].found)
            return sys_fail(r, RESIL_EPARSE, 0, "no %.*s line",
                            (int)strlen(keys[i].key) - 1, keys[i].key);
    }
    return 0;
}

static int read_meminfo(struct sys_reader *r, resil_health_sys_sample *s)
{
    struct kb_key keys[] = {
        {"MemTotal:", &s->mem_total, 0},
        {"MemAvailable:", &s->mem_available, 0},
    };
    return read_kb_keys(r, "meminfo", keys, 2);
}

static int read_rss(struct sys_reader *r, resil_health_sys_sample *s)
{
    struct kb_key keys[] = {{"VmRSS:", &s->proc_rss, 0}};
    return read_kb_keys(r, "self/status", keys, 1);
}

/* ---- one-line files: loadavg, uptime, self/stat ------------------------- */

struct first_line {
    char text[SYS_LINE_MAX + 1];
    int seen, truncated;
};

static int first_line_fn(struct sys_reader *r, const struct sys_line *ln, void *vst)
{
    (void)r;
    struct first_line *fl = vst;
    memcpy(fl->text, ln->s, ln->len + 1);
    fl->seen = 1;
    fl->truncated = ln->truncated;
    return 1;
}

static int read_first_line(struct sys_reader *r, const char *rel, struct first_line *fl)
{
    fl->seen = 0;
    fl->truncated = 0;
    int rc = read_lines(r, rel, first_line_fn, fl);
    if (rc != 0)
        return rc;
    if (!fl->seen)
        return sys_fail(r, RESIL_EPARSE, 0, "empty");
    if (fl->truncated)
        return sys_fail(r, RESIL_EPARSE, 1, "line too long");
    return 0;
}

/* "0.52 0.58 0.59 1/467 12345" */
static int read_loadavg(struct sys_reader *r, resil_health_sys_sample *s)
{
    struct first_line fl;
    int rc = read_first_line(r, "loadavg", &fl);
    if (rc != 0)
        return rc;
    const char *p = fl.text;
    double *out[3] = {&s->load1, &s->load5, &s->load15};
    for (int i = 0; i < 3; i++) {
        if (parse_decimal(&p, out[i]) != 0 || (*p != ' ' && *p != '\t' && *p != '\0'))
            return sys_fail(r, RESIL_EPARSE, 1, "malformed load averages");
    }
    return 0;
}

/* Fields of self/stat after the command name, by their proc(5) number. */
#define STAT_UTIME 14
#define STAT_STIME 15
#define STAT_STARTTIME 22

/* The field numbered `field` (>= 3) of a self/stat line.  The command name
 * (field 2) is in parentheses and may hold spaces and ')' itself, so the
 * fields after it are counted from the last ')'. */
static int stat_field(struct sys_reader *r, const char *line, int field, uint64_t *v)
{
    const char *p = strrchr(line, ')');
    if (!p)
        return sys_fail(r, RESIL_EPARSE, 1, "no ')' after the command name");
    p++;
    for (int f = 3; f < field; f++) {
        p = skip_blanks(p);
        if (*p == '\0')
            return sys_fail(r, RESIL_EPARSE, 1, "only %d fields", f - 1);
        while (*p != ' ' && *p != '\t' && *p != '\0')
            p++;
    }
    int rc = parse_u64(&p, v);
    if (rc == 2)
        return sys_fail(r, RESIL_EPARSE, 1, "field %d out of range", field);
    if (rc != 0 || (*p != ' ' && *p != '\t' && *p != '\0'))
        return sys_fail(r, RESIL_EPARSE, 1, "field %d is not a number", field);
    return 0;
}

static int read_proc_stat(struct sys_reader *r, resil_health_sys_sample *s,
                          uint64_t *start_ticks)
{
    struct first_line fl;
    uint64_t ut, st;
    int rc = read_first_line(r, "self/stat", &fl);
    if (rc == 0)
        rc = stat_field(r, fl.text, STAT_UTIME, &ut);
    if (rc == 0)
        rc = stat_field(r, fl.text, STAT_STIME, &st);
    if (rc == 0 && start_ticks)
        rc = stat_field(r, fl.text, STAT_STARTTIME, start_ticks);
    if (rc != 0)
        return rc;
    if (ut > UINT64_MAX - st)
        return sys_fail(r, RESIL_EPARSE, 1, "cpu times out of range");
    s->proc_cpu_ticks = ut + st;
    return 0;
}

/* "350735.47 234388.90": seconds since boot, then idle seconds. */
static int read_uptime(struct sys_reader *r, double *up)
{
    struct first_line fl;
    int rc = read_first_line(r, "uptime", &fl);
    if (rc != 0)
        return rc;
    const char *p = fl.text;
    if (parse_decimal(&p, up) != 0 || (*p != ' ' && *p != '\t' && *p != '\0'))
        return sys_fail(r, RESIL_EPARSE, 1, "malformed uptime");
    return 0;
}

static int read_ticks_per_sec(struct sys_reader *r, resil_health_sys_sample *s)
{
    long tps = sysconf(_SC_CLK_TCK);
    if (tps <= 0) {
        snprintf(r->path, sizeof r->path, "sysconf(_SC_CLK_TCK)");
        return sys_fail(r, RESIL_ESYS, 0, "no value");
    }
    s->ticks_per_sec = (uint64_t)tps;
    return 0;
}

static int read_proc_cpu(struct sys_reader *r, resil_health_sys_sample *s, double *age_s)
{
    uint64_t start = 0;
    double up = 0;
    int rc = read_ticks_per_sec(r, s);
    if (rc == 0)
        rc = read_proc_stat(r, s, age_s ? &start : NULL);
    if (rc == 0 && age_s)
        rc = read_uptime(r, &up);
    if (rc == 0 && age_s)
        *age_s = up - (double)start / (double)s->ticks_per_sec;
    return rc;
}

/* ---- open files --------------------------------------------------------- */

struct limits_state {
    uint64_t soft;
    int found;
};

/* "Max open files            1024                 1048576              files" */
static int limits_line(struct sys_reader *r, const struct sys_line *ln, void *vst)
{
    static const char key[] = "Max open files";
    struct limits_state *st = vst;
    if (!starts_with(ln, key))
        return 0;
    const char *p = skip_blanks(ln->s + sizeof key - 1);
    int rc = 0;
    if (strncmp(p, "unlimited", 9) == 0) {
        st->soft = 0;
        p += 9;
    } else {
        rc = parse_u64(&p, &st->soft);
    }
    if (rc == 2)
        return sys_fail(r, RESIL_EPARSE, ln->no, "value out of range");
    if (rc != 0 || (*p != ' ' && *p != '\t' && *p != '\0'))
        return sys_fail(r, RESIL_EPARSE, ln->no, "malformed Max open files line");
    st->found = 1;
    return 1;
}

static int read_limits(struct sys_reader *r, resil_health_sys_sample *s)
{
    struct limits_state st = {0, 0};
    int rc = read_lines(r, "self/limits", limits_line, &st);
    if (rc != 0)
        return rc;
    if (!st.found)
        return sys_fail(r, RESIL_EPARSE, 0, "no Max open files line");
    s->fds_limit = st.soft;
    return 0;
}

/* Entries of <root>/self/fd but "." and "..".  On the real procfs the
 * directory handle used for counting shows up as an entry too: it is left
 * out (recognised by its number), so the count is what the process had
 * open before the check looked. */
static int count_fds(struct sys_reader *r, resil_health_sys_sample *s)
{
    int fd = sys_open(r, "self/fd", O_DIRECTORY);
    if (fd < 0)
        return fd;
    struct statfs sfs;
    long own = (fstatfs(fd, &sfs) == 0 && sfs.f_type == SYS_PROC_MAGIC) ? fd : -1;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return sys_fail_errno(r, e, "open");
    }
    uint64_t n = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de)
            break;
        const char *nm = de->d_name;
        if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0)
            continue;
        char *endp;
        if (own >= 0 && strtol(nm, &endp, 10) == own && *endp == '\0')
            continue;
        n++;
    }
    int e = errno;
    closedir(d);
    if (e != 0)
        return sys_fail_errno(r, e, "read");
    s->fds_open = n;
    return 0;
}

static int read_fds(struct sys_reader *r, resil_health_sys_sample *s)
{
    int rc = count_fds(r, s);
    return rc != 0 ? rc : read_limits(r, s);
}

/* ---- disk --------------------------------------------------------------- */

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
    uint64_t v;
    return __builtin_mul_overflow(a, b, &v) ? UINT64_MAX : v;
}

static int read_disk(struct sys_reader *r, const char *disk, resil_health_sys_sample *s)
{
    struct statvfs v;
    if (statvfs(disk, &v) != 0) {
        int e = errno;
        char msg[128];
        sys_error_text(e, msg, sizeof msg);
        r->sys_errno = e;
        snprintf(r->path, sizeof r->path, "%s", disk);
        return sys_fail(r, RESIL_ESYS, 0, "statvfs: %s", msg);
    }
    /* f_frsize is the unit of the block counts (statvfs(3)) */
    s->disk_total = mul_sat((uint64_t)v.f_blocks, (uint64_t)v.f_frsize);
    s->disk_available = mul_sat((uint64_t)v.f_bavail, (uint64_t)v.f_frsize);
    return 0;
}

/* ---- entry points ------------------------------------------------------- */

static int read_parts(struct sys_reader *r, const char *disk, unsigned parts,
                      resil_health_sys_sample *s, double *age_s)
{
    int rc = 0;
    if (parts & (RESIL_HEALTH_SYS_CPU | RESIL_HEALTH_SYS_LOAD))
        rc = read_stat(r, s);
    if (rc == 0 && (parts & RESIL_HEALTH_SYS_MEMORY))
        rc = read_meminfo(r, s);
    if (rc == 0 && (parts & RESIL_HEALTH_SYS_LOAD))
        rc = read_loadavg(r, s);
    if (rc == 0 && (parts & RESIL_HEALTH_SYS_FDS))
        rc = read_fds(r, s);
    if (rc == 0 && (parts & RESIL_HEALTH_SYS_RSS))
        rc = read_rss(r, s);
    if (rc == 0 && (parts & RESIL_HEALTH_SYS_PROC_CPU))
        rc = read_proc_cpu(r, s, age_s);
    if (rc == 0 && (parts & RESIL_HEALTH_SYS_DISK))
        rc = read_disk(r, disk, s);
    return rc;
}

int resil__sys_read_parts(const char *root, const char *disk, unsigned parts,
                          resil_health_sys_sample *s, double *proc_age_s, int *sys_errno,
                          resil_error *err)
{
    struct sys_reader r = {.root = root, .err = err};
    r.path[0] = '\0';
    if (err) {
        err->code = 0;
        err->line = 0;
        err->column = 0;
        err->text[0] = '\0';
    }
    int rc = read_parts(&r, disk, parts, s, proc_age_s);
    if (sys_errno)
        *sys_errno = r.sys_errno;
    return rc;
}

int resil_health_sys_read(const resil_health_sys_opts *o, resil_health_sys_sample *s,
                          resil_error *err)
{
    if (!s) {
        if (err) {
            *err = (resil_error){.code = RESIL_EINVAL};
            snprintf(err->text, sizeof err->text, "no sample to fill");
        }
        return RESIL_EINVAL;
    }
    const char *root = (o && o->proc_root) ? o->proc_root : "/proc";
    const char *disk = (o && o->disk_path) ? o->disk_path : "/";
    int64_t t = s->t_ns;
    memset(s, 0, offsetof(resil_health_sys_sample, reserved_));
    s->t_ns = t;
    return resil__sys_read_parts(root, disk, 0x7fu, s, NULL, NULL, err);
}
