/* Helpers shared by libresil's command-line tools: see cli_util.h. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "cli_util.h"

/* Key files hold at most 16 lines of 44 characters and comments. */
#define KEY_FILE_MAX ((size_t)64 << 10)

static const char *cli_prog = "resil-secrets";

/* ---- exit status and messages ------------------------------------------ */
int cli_exit_code(int rc)
{
    /* The token codes are contiguous (error.h never renumbers). */
    if (rc <= RESIL_ETOKEN_BASE64 && rc >= RESIL_ETOKEN_FUTURE)
        return CLI_EXIT_TOKEN;
    switch (rc) {
    case 0: return CLI_EXIT_OK;
    case RESIL_EINVAL: /* fall through */
    case RESIL_ERANGE: /* fall through */
    case RESIL_EEXIST: return CLI_EXIT_USAGE;
    case RESIL_ENOENT: return CLI_EXIT_NOTFOUND;
    case RESIL_EPERM: return CLI_EXIT_PERM;
    case RESIL_EWEAK: return CLI_EXIT_WEAK;
    case RESIL_EPARSE: return CLI_EXIT_DATA;
    /* ESYS, ENOMEM, ECRYPTO, ENOTSUP, EBUSY and codes no call made by the
     * tools returns: a failure of the system or the tool, not the input. */
    default: return CLI_EXIT_SOFTWARE;
    }
}

void cli_set_prog(const char *prog)
{
    if (prog)
        cli_prog = prog;
}

static void vmessage(const char *cmd, const char *prefix, const char *fmt, va_list ap)
{
    char msg[1024];

    vsnprintf(msg, sizeof msg, fmt, ap);
    /* One call per line so concurrent writers do not interleave words. */
    if (cmd)
        fprintf(stderr, "%s: %s: %s%s\n", cli_prog, cmd, prefix, msg);
    else
        fprintf(stderr, "%s: %s%s\n", cli_prog, prefix, msg);
}

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vmessage(cmd, "", fmt, ap);
    va_end(ap);
}

void cli_warn(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vmessage(cmd, "warning: ", fmt, ap);
    va_end(ap);
}

int cli_fail(const char *cmd, int rc, const resil_error *err, const char *fmt, ...)
{
    char ctx[512];
    va_list ap;

    if (err && err->text[0]) {
        cli_error(cmd, "%s", err->text);
        return cli_exit_code(rc);
    }
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    cli_error(cmd, "%s: %s", ctx, resil_strerror(rc));
    return cli_exit_code(rc);
}

__attribute__((format(printf, 3, 4))) static void set_err(resil_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return;
    err->code = code;
    err->line = 0;
    err->column = 0;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
}

/* ---- option parsing ----------------------------------------------------- */
void cli_parser_init(cli_parser *p, int argc, char **argv, int first,
                     const cli_option *opts)
{
    p->argc = argc;
    p->argv = argv;
    p->next = first;
    p->only_positional = 0;
    p->opts = opts;
    p->cmd = NULL;
}

/* The option named name[0..len) (long) or, when len is 0, *name (short). */
static const cli_option *find_option(const cli_option *o, const char *name, size_t len)
{
    for (; o->id != 0; o++) {
        if (len == 0 ? o->short_name != 0 && o->short_name == *name
                     : strlen(o->name) == len && memcmp(o->name, name, len) == 0)
            return o;
    }
    return NULL;
}

/* Whether the first len bytes of word look like an option name (dashes,
 * lower-case letters, digits, short): only then is it shown in a message.
 * Anything else may be a secret typed in the wrong place. */
static int looks_like_option(const char *word, size_t len)
{
    if (len < 2 || len > 32)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)word[i];
        if (!(islower(c) || isdigit(c) || c == '-'))
            return 0;
    }
    return 1;
}

static int unknown_option(const cli_parser *p, const char *word)
{
    size_t len = strcspn(word, "=");

    if (looks_like_option(word, len))
        cli_error(p->cmd, "unknown option '%.*s' (see --help)", (int)len, word);
    else
        cli_error(p->cmd, "unknown option (not shown, as it may be a secret; "
                          "values are read from standard input)");
    return CLI_PARSE_ERROR;
}

static int take_value(cli_parser *p, const cli_option *o, const char **arg)
{
    if (p->next >= p->argc) {
        if (o->short_name)
            cli_error(p->cmd, "option --%s (-%c) needs a value", o->name, o->short_name);
        else
            cli_error(p->cmd, "option --%s needs a value", o->name);
        return CLI_PARSE_ERROR;
    }
    *arg = p->argv[p->next++];
    return o->id;
}

static int parse_long(cli_parser *p, const char *word, const char **arg)
{
    const char *name = word + 2;
    size_t len = strcspn(name, "=");
    const cli_option *o = find_option(p->opts, name, len);

    if (!o)
        return unknown_option(p, word);
    if (name[len] == '=') {
        if (!o->has_arg) {
            cli_error(p->cmd, "option --%s takes no value", o->name);
            return CLI_PARSE_ERROR;
        }
        *arg = name + len + 1;
        return o->id;
    }
    if (!o->has_arg)
        return o->id;
    return take_value(p, o, arg);
}

static int parse_short(cli_parser *p, const char *word, const char **arg)
{
    const cli_option *o = find_option(p->opts, word + 1, 0);

    if (!o)
        return unknown_option(p, word);
    if (!o->has_arg) {
        if (word[2] != '\0') {
            cli_error(p->cmd, "option -%c takes no value", o->short_name);
            return CLI_PARSE_ERROR;
        }
        return o->id;
    }
    if (word[2] != '\0') {
        *arg = word + 2;
        return o->id;
    }
    return take_value(p, o, arg);
}

int cli_parse_next(cli_parser *p, const char **arg)
{
    const char *word;

    *arg = NULL;
    while (p->next < p->argc) {
        word = p->argv[p->next++];
        if (p->only_positional || word[0] != '-' || word[1] == '\0') {
            *arg = word;
            return CLI_PARSE_POSITIONAL;
        }
        if (strcmp(word, "--") == 0) {
            p->only_positional = 1;
            continue;
        }
        if (word[1] == '-')
            return parse_long(p, word, arg);
        return parse_short(p, word, arg);
    }
    return CLI_PARSE_END;
}

int cli_parse_seconds(const char *s, int64_t *out)
{
    char *end = NULL;
    unsigned long long v;
    int64_t mult = 1;

    if (!s || !isdigit((unsigned char)s[0]))
        return RESIL_EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0)
        return RESIL_EINVAL;
    if (*end != '\0') {
        if (end[1] != '\0')
            return RESIL_EINVAL;
        switch (*end) {
        case 's': mult = 1; break;
        case 'm': mult = 60; break;
        case 'h': mult = 3600; break;
        case 'd': mult = 86400; break;
        default: return RESIL_EINVAL;
        }
    }
    if (v == 0 || v > (unsigned long long)(INT64_MAX / mult))
        return RESIL_EINVAL;
    *out = (int64_t)v * mult;
    return 0;
}

/* ---- bounded input ------------------------------------------------------ */
void cli_buf_release(cli_buf *b)
{
    if (!b)
        return;
    if (b->data) {
        resil_secret_wipe(b->data, b->cap);
        free(b->data);
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

/* Room for need bytes.  Grows by copying and wiping rather than realloc(),
 * which could leave a copy of the bytes in freed memory. */
static int buf_reserve(cli_buf *b, size_t need)
{
    size_t cap = b->cap ? b->cap : 4096;
    char *nd;

    if (need <= b->cap)
        return 0;
    while (cap < need)
        cap *= 2;
    nd = malloc(cap);
    if (!nd)
        return RESIL_ENOMEM;
    if (b->len)
        memcpy(nd, b->data, b->len);
    if (b->data) {
        resil_secret_wipe(b->data, b->cap);
        free(b->data);
    }
    b->data = nd;
    b->cap = cap;
    return 0;
}

/* Append what fd gives until EOF (or, with stop_at_newline, a newline),
 * at most max bytes in b: one more is RESIL_ERANGE. */
static int read_fd(int fd, size_t max, int stop_at_newline, cli_buf *b)
{
    for (;;) {
        size_t room;
        ssize_t r;
        int rc = buf_reserve(b, b->len + 2);
        if (rc)
            return rc;
        room = b->cap - b->len - 1;
        if (room > max + 1 - b->len)
            room = max + 1 - b->len;
        r = read(fd, b->data + b->len, room);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return RESIL_ESYS;
        if (r == 0)
            break;
        b->len += (size_t)r;
        if (b->len > max)
            return RESIL_ERANGE;
        if (stop_at_newline && memchr(b->data + b->len - (size_t)r, '\n', (size_t)r))
            break;
    }
    b->data[b->len] = '\0';
    return 0;
}

static void read_error(int rc, int saved_errno, const char *label, size_t max,
                       resil_error *err)
{
    if (rc == RESIL_ERANGE)
        set_err(err, rc, "%s is larger than the limit of %zu KiB", label, max >> 10);
    else if (rc == RESIL_ESYS)
        set_err(err, rc, "cannot read %s: %s", label, strerror(saved_errno));
    else
        set_err(err, rc, "cannot read %s: %s", label, resil_strerror(rc));
}

int cli_read_input(const char *path, size_t max, cli_buf *b, resil_error *err)
{
    int use_stdin = !path || strcmp(path, "-") == 0;
    const char *label = use_stdin ? "standard input" : path;
    int fd = STDIN_FILENO;
    int rc, saved_errno;

    if (!use_stdin) {
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            saved_errno = errno;
            rc = saved_errno == ENOENT ? RESIL_ENOENT : RESIL_ESYS;
            set_err(err, rc, "cannot open %s: %s", path, strerror(saved_errno));
            return rc;
        }
    }
    rc = read_fd(fd, max, 0, b);
    saved_errno = errno;
    if (!use_stdin)
        close(fd);
    if (rc == RESIL_ESYS && saved_errno == EISDIR) {
        rc = RESIL_EINVAL; /* the user named the wrong thing */
        set_err(err, rc, "%s is a directory", label);
    } else if (rc) {
        read_error(rc, saved_errno, label, max, err);
    }
    if (rc)
        cli_buf_release(b);
    return rc;
}

/* The terminal's settings while echo is off, for the signal handler. */
static struct termios hidden_saved;
static volatile sig_atomic_t hidden_fd = -1;

static void hidden_restore(int sig)
{
    /* tcsetattr, signal and raise are async-signal-safe (POSIX). */
    if (hidden_fd >= 0)
        tcsetattr(hidden_fd, TCSAFLUSH, &hidden_saved);
    signal(sig, SIG_DFL);
    raise(sig);
}

static const int hidden_signals[] = {SIGINT, SIGTERM, SIGQUIT, SIGHUP};
#define NHIDDEN_SIGNALS (sizeof hidden_signals / sizeof hidden_signals[0])

static void hidden_handlers(int install, struct sigaction *old)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = hidden_restore;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < NHIDDEN_SIGNALS; i++) {
        if (install)
            sigaction(hidden_signals[i], &sa, &old[i]);
        else
            sigaction(hidden_signals[i], &old[i], NULL);
    }
}

int cli_read_hidden(int fd, const char *prompt, size_t max, cli_buf *b, resil_error *err)
{
    struct sigaction old[NHIDDEN_SIGNALS];
    struct termios quiet;
    int rc, saved_errno;

    if (tcgetattr(fd, &hidden_saved) != 0) {
        set_err(err, RESIL_ESYS, "cannot read the terminal: %s", strerror(errno));
        return RESIL_ESYS;
    }
    quiet = hidden_saved;
    /* ECHONL: the Enter key still moves to the next line. */
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= (tcflag_t)ECHONL;
    hidden_fd = fd;
    hidden_handlers(1, old);
    /* Echo off before the prompt, so nothing typed after it is shown. */
    tcsetattr(fd, TCSAFLUSH, &quiet);
    fputs(prompt, stderr);
    rc = read_fd(fd, max, 1, b);
    saved_errno = errno;
    tcsetattr(fd, TCSAFLUSH, &hidden_saved);
    hidden_handlers(0, old);
    hidden_fd = -1;
    if (rc) {
        read_error(rc, saved_errno, "the terminal", max, err);
        cli_buf_release(b);
        return rc;
    }
    cli_buf_chomp(b);
    return 0;
}

void cli_buf_chomp(cli_buf *b)
{
    if (b->len > 0 && b->data[b->len - 1] == '\n') {
        b->data[--b->len] = '\0';
    }
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void cli_buf_trim(cli_buf *b)
{
    size_t start = 0;

    while (b->len > 0 && is_blank(b->data[b->len - 1]))
        b->len--;
    while (start < b->len && is_blank(b->data[start]))
        start++;
    if (start > 0)
        memmove(b->data, b->data + start, b->len - start);
    b->len -= start;
    if (b->data)
        b->data[b->len] = '\0';
}

int cli_write_all(int fd, const void *p, size_t len)
{
    const char *c = p;

    while (len > 0) {
        ssize_t w = write(fd, c, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return RESIL_ESYS;
        c += w;
        len -= (size_t)w;
    }
    return 0;
}

/* ---- files -------------------------------------------------------------- */
int cli_default_path(const char *name, char *out, size_t outlen)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int n;

    if (xdg && xdg[0] == '/')
        n = snprintf(out, outlen, "%s/resil/%s", xdg, name);
    else if (home && home[0] != '\0')
        n = snprintf(out, outlen, "%s/.config/resil/%s", home, name);
    else
        return RESIL_ENOENT;
    if (n < 0 || (size_t)n >= outlen)
        return RESIL_ERANGE;
    return 0;
}

int cli_resolve_path(const char *given, const char *env, const char *name, char *buf,
                     size_t buflen, const char **out, int *is_default)
{
    const char *e = getenv(env);
    int rc;

    *is_default = 0;
    *out = given;
    if (given)
        return 0;
    *out = e;
    if (e && e[0] != '\0')
        return 0;
    *out = NULL;
    rc = cli_default_path(name, buf, buflen);
    if (rc)
        return rc;
    *out = buf;
    *is_default = 1;
    return 0;
}

int cli_make_parent_dirs(const char *path, resil_error *err)
{
    char dir[PATH_MAX];
    size_t len = strlen(path);

    if (len >= sizeof dir) {
        set_err(err, RESIL_ERANGE, "path too long: %s", path);
        return RESIL_ERANGE;
    }
    memcpy(dir, path, len + 1);
    /* Each '/' after the first byte ends a directory to create; the last
     * component is the file itself. */
    for (size_t i = 1; i < len; i++) {
        if (dir[i] != '/')
            continue;
        dir[i] = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            set_err(err, RESIL_ESYS, "cannot create directory %s: %s", dir,
                    strerror(errno));
            return RESIL_ESYS;
        }
        dir[i] = '/';
    }
    return 0;
}

int cli_path_exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

static char *trim_line(char *s)
{
    size_t len;

    while (is_blank(*s))
        s++;
    len = strlen(s);
    while (len > 0 && is_blank(s[len - 1]))
        s[--len] = '\0';
    return s;
}

/* The keys of text (modified in place: lines are cut) into keys[]. */
static int split_keys(const char *path, char *text, const char **keys, size_t *n,
                      resil_error *err)
{
    char *p = text;
    int line = 0;

    *n = 0;
    while (*p != '\0') {
        char *eol = strchr(p, '\n');
        char *next = eol ? eol + 1 : p + strlen(p);
        char *s;
        if (eol)
            *eol = '\0';
        line++;
        s = trim_line(p);
        p = next;
        if (*s == '\0' || *s == '#')
            continue;
        if (strlen(s) != RESIL_FERNET_KEY_B64_LEN) {
            set_err(err, RESIL_EPARSE, "key file %s line %d: not a Fernet key (44 "
                    "characters of base64url)", path, line);
            if (err)
                err->line = line;
            return RESIL_EPARSE;
        }
        if (*n == RESIL_FERNET_MAX_KEYS) {
            set_err(err, RESIL_EPARSE, "key file %s holds more than %d keys", path,
                    RESIL_FERNET_MAX_KEYS);
            return RESIL_EPARSE;
        }
        keys[(*n)++] = s;
    }
    if (*n == 0) {
        set_err(err, RESIL_EPARSE, "key file %s holds no key", path);
        return RESIL_EPARSE;
    }
    return 0;
}

int cli_key_file_load(const char *path, resil_fernet **out, resil_error *err)
{
    const char *keys[RESIL_FERNET_MAX_KEYS];
    cli_buf b = {0};
    size_t n = 0;
    int rc;

    *out = NULL;
    rc = resil_secrets_check_file(path, err);
    if (rc)
        return rc;
    rc = cli_read_input(path, KEY_FILE_MAX, &b, err);
    if (rc)
        return rc;
    if (memchr(b.data, '\0', b.len)) {
        set_err(err, RESIL_EPARSE, "key file %s holds a NUL byte", path);
        rc = RESIL_EPARSE;
        goto out_wipe;
    }
    rc = split_keys(path, b.data, keys, &n, err);
    if (rc)
        goto out_wipe;
    rc = resil_fernet_new(keys, n, out, err);
    if (rc == RESIL_EINVAL) {
        /* err says which key, by position; the file is what is malformed. */
        char why[320];
        snprintf(why, sizeof why, "%.300s", err && err->text[0] ? err->text : "bad key");
        set_err(err, RESIL_EPARSE, "key file %s: %s", path, why);
        rc = RESIL_EPARSE;
    } else if (rc) {
        set_err(err, rc, "key file %s: %s", path, resil_strerror(rc));
    }
out_wipe:
    cli_buf_release(&b);
    return rc;
}

/* ---- audit -------------------------------------------------------------- */
int cli_parse_severity(const char *s, int *out)
{
    for (int i = RESIL_AUDIT_INFO; i <= RESIL_AUDIT_CRITICAL; i++) {
        if (strcmp(s, resil_audit_severity_name((resil_audit_severity)i)) == 0) {
            *out = i;
            return 0;
        }
    }
    if (strcmp(s, "never") == 0) {
        *out = CLI_SEVERITY_NEVER;
        return 0;
    }
    return RESIL_EINVAL;
}

static int listener_flags(const char *cmd, char *flags, resil_audit_listener *l)
{
    while (flags) {
        char *next = strchr(flags, ',');
        if (next)
            *next++ = '\0';
        if (strcmp(flags, "tls") == 0) {
            l->tls = 1;
        } else if (strcmp(flags, "auth") == 0) {
            l->auth = 1;
        } else {
            cli_error(cmd, "--listen: unknown flag '%s' (want tls or auth)", flags);
            return RESIL_EINVAL;
        }
        flags = next;
    }
    return 0;
}

int cli_parse_listener(const char *cmd, const char *spec, resil_audit_listener *l,
                       char **mem)
{
    const char *eq = strchr(spec, '=');
    char *copy, *addr, *flags;
    int rc;

    *mem = NULL;
    memset(l, 0, sizeof *l);
    if (!eq || eq == spec || eq[1] == '\0' || eq[1] == ',') {
        cli_error(cmd, "--listen wants NAME=ADDRESS[,tls][,auth], got '%s'", spec);
        return RESIL_EINVAL;
    }
    copy = strdup(spec);
    if (!copy)
        return RESIL_ENOMEM;
    addr = copy + (eq - spec);
    *addr++ = '\0';
    flags = strchr(addr, ',');
    if (flags)
        *flags++ = '\0';
    rc = listener_flags(cmd, flags, l);
    if (rc) {
        free(copy);
        return rc;
    }
    l->name = copy;
    l->address = addr;
    *mem = copy;
    return 0;
}

size_t cli_audit_filter(resil_audit_finding *f, size_t n, const char *const *ids,
                        size_t nids)
{
    size_t kept = 0;

    for (size_t i = 0; i < n; i++) {
        int drop = 0;
        for (size_t j = 0; j < nids && !drop; j++)
            drop = strcmp(f[i].id, ids[j]) == 0;
        if (!drop)
            f[kept++] = f[i];
    }
    return kept;
}

int cli_audit_fails(const resil_audit_finding *f, size_t n, int fail_on)
{
    for (size_t i = 0; i < n; i++) {
        if ((int)f[i].severity >= fail_on)
            return 1;
    }
    return 0;
}

/* s (at most max bytes) with control characters shown as '?', so a path
 * or variable name cannot forge table lines or move the cursor. */
static void put_clean(FILE *out, const char *s, size_t max)
{
    for (size_t i = 0; i < max && s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];
        putc(c < 0x20 || c == 0x7f ? '?' : (int)c, out);
    }
}

static void print_summary(FILE *out, const resil_audit_finding *f, size_t n)
{
    size_t counts[RESIL_AUDIT_CRITICAL + 1] = {0};
    const char *sep = "";

    for (size_t i = 0; i < n; i++) {
        if (f[i].severity >= RESIL_AUDIT_INFO && f[i].severity <= RESIL_AUDIT_CRITICAL)
            counts[f[i].severity]++;
    }
    fprintf(out, "%zu finding%s:", n, n == 1 ? "" : "s");
    for (int s = RESIL_AUDIT_CRITICAL; s >= RESIL_AUDIT_INFO; s--) {
        if (counts[s] == 0)
            continue;
        fprintf(out, "%s %zu %s", sep, counts[s],
                resil_audit_severity_name((resil_audit_severity)s));
        sep = ",";
    }
    putc('\n', out);
}

void cli_audit_print(FILE *out, const resil_audit_finding *f, size_t n)
{
    int idw = 2;

    if (n == 0) {
        fputs("no findings\n", out);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int len = (int)strnlen(f[i].id, sizeof f[i].id);
        if (len > idw)
            idw = len;
    }
    fprintf(out, "%-8s  %-*s  %s\n", "SEVERITY", idw, "ID", "WHAT");
    for (size_t i = 0; i < n; i++) {
        int len = (int)strnlen(f[i].id, sizeof f[i].id);
        fprintf(out, "%-8s  ", resil_audit_severity_name(f[i].severity));
        put_clean(out, f[i].id, sizeof f[i].id);
        fprintf(out, "%*s  ", idw - len, "");
        put_clean(out, f[i].what, sizeof f[i].what);
        fprintf(out, "\n%*swhere: ", 10 + idw + 2, "");
        put_clean(out, f[i].where, sizeof f[i].where);
        fprintf(out, "\n%*sfix:   ", 10 + idw + 2, "");
        put_clean(out, f[i].fix, sizeof f[i].fix);
        putc('\n', out);
    }
    print_summary(out, f, n);
}
