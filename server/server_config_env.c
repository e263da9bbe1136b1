/* Environment overrides, secret resolution, the exposure rule (no HTTP
 * beyond loopback without a token), checks of single values shared by the
 * file and the environment, config_load(), and the scanner that locates a
 * key in the configuration text for error messages. */
#include "server_config.h"
#include "server_config_int.h"

#include "log.h"

#include <resil/secrets.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

#define KEY_MIN 8
#define CONFIG_MAX_FILE (1u << 20) /* a config file longer than this is a mistake */

/* The value of NAME in an environ-style array; the LAST entry wins, so a
 * caller can append overrides to a copy of environ.  NULL when unset or
 * empty (an empty variable, as compose files write "VAR=", means unset). */
static const char *env_get(char *const *env, const char *name)
{
    size_t n = strlen(name);
    const char *found = NULL;

    if (env == NULL)
        env = environ;
    for (size_t i = 0; env != NULL && env[i] != NULL; i++)
        if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
            found = env[i] + n + 1;
    return found != NULL && *found != '\0' ? found : NULL;
}

/* An API key or token: KEY_MIN..max-1 visible ASCII characters.  The
 * message names label and the rule, never the value. */
static int check_key(const char *v, size_t max, const char *label, char *err, size_t errlen)
{
    size_t n = strlen(v);

    if (n < KEY_MIN || n >= max) {
        snprintf(err, errlen, "%s: must be %d to %zu characters long, got %zu (value not shown)",
                 label, KEY_MIN, max - 1, n);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (v[i] <= 0x20 || v[i] >= 0x7f) {
            snprintf(err, errlen, "%s: character %zu is not printable ASCII or is a space "
                                  "(value not shown)", label, i + 1);
            return -1;
        }
    return 0;
}

static int env_string(char *const *env, const char *var, char *dst, size_t cap, int url,
                      char *err, size_t errlen)
{
    const char *v = env_get(env, var);
    char why[600];

    if (v == NULL)
        return 0;
    if (strlen(v) >= cap) {
        snprintf(err, errlen, "environment variable %s: longer than %zu bytes", var, cap - 1);
        return -1;
    }
    if (url && config__check_url(v, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "environment variable %s: %s", var, why);
        return -1;
    }
    for (const char *q = v; !url && *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f) {
            snprintf(err, errlen, "environment variable %s: contains a control character", var);
            return -1;
        }
    snprintf(dst, cap, "%s", v);
    if (url)
        config__trim_url(dst);
    return 0;
}

static int env_server(struct config *c, char *const *env, char *err, size_t errlen)
{
    const char *v;
    char why[600];
    int l;

    v = env_get(env, "MCP_TRANSPORT");
    if (v != NULL) {
        if (strcmp(v, "stdio") != 0 && strcmp(v, "http") != 0) {
            snprintf(err, errlen, "environment variable MCP_TRANSPORT: '%s' is not one of "
                                  "stdio, http", v);
            return -1;
        }
        c->transport = strcmp(v, "http") == 0 ? CONFIG_HTTP : CONFIG_STDIO;
    }
    v = env_get(env, "MCP_LISTEN");
    if (v != NULL && config__parse_listen(v, c->listen_addr, sizeof(c->listen_addr),
                                          &c->listen_port, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "environment variable MCP_LISTEN: %s", why);
        return -1;
    }
    v = env_get(env, "MCP_LOG_LEVEL");
    if (v != NULL) {
        l = log_level_parse(v);
        if (l < 0) {
            snprintf(err, errlen, "environment variable MCP_LOG_LEVEL: '%s' is not one of "
                                  "debug, info, notice, warn, error, off", v);
            return -1;
        }
        c->log_level = l;
    }
    return 0;
}

int config__apply_env(struct config *c, char *const *env, char *err, size_t errlen)
{
    if (env_server(c, env, err, errlen) != 0 ||
        env_string(env, "MCP_SECRETS_KEY_FILE", c->secrets_key_file,
                   sizeof(c->secrets_key_file), 0, err, errlen) != 0 ||
        env_string(env, "MCP_SECRETS_STORE", c->secrets_store, sizeof(c->secrets_store), 0,
                   err, errlen) != 0 ||
        env_string(env, "MCP_YOUTUBE_BASE_URL", c->youtube.base_url,
                   sizeof(c->youtube.base_url), 1, err, errlen) != 0 ||
        env_string(env, "MCP_OEMBED_URL", c->youtube.alt_url, sizeof(c->youtube.alt_url), 1,
                   err, errlen) != 0 ||
        env_string(env, "MCP_TRANSCRIPT_URL", c->transcript.base_url,
                   sizeof(c->transcript.base_url), 1, err, errlen) != 0 ||
        env_string(env, "MCP_AI_BASE_URL", c->ai.base_url, sizeof(c->ai.base_url), 1, err,
                   errlen) != 0 ||
        env_string(env, "MCP_AI_MODEL", c->ai_opts.model, sizeof(c->ai_opts.model), 0, err,
                   errlen) != 0)
        return -1;
    if ((c->secrets_key_file[0] == '\0') != (c->secrets_store[0] == '\0')) {
        snprintf(err, errlen, "secrets: the key file and the store go together (secrets.key_file"
                              " / MCP_SECRETS_KEY_FILE and secrets.store / MCP_SECRETS_STORE): "
                              "set both or neither");
        return -1;
    }
    return 0;
}

/* ---- secrets ---------------------------------------------------------- */

/* One secret: the environment variable var (if named and set) wins over
 * the store entry name (if a store is open and names it).  0 with dst
 * filled or left empty when neither has it; -1 with err. */
static int resolve_one(resil_secrets *store, const char *storepath, const char *name,
                       char *const *env, const char *var, char *dst, size_t cap, char *err,
                       size_t errlen)
{
    char label[300];
    const char *v = var && *var ? env_get(env, var) : NULL;
    resil_error e;
    char *val = NULL;
    size_t len = 0;
    int rc;

    if (v != NULL) {
        snprintf(label, sizeof(label), "environment variable %s", var);
        if (check_key(v, cap, label, err, errlen) != 0)
            return -1;
        snprintf(dst, cap, "%s", v);
        return 0;
    }
    if (store == NULL || name == NULL || *name == '\0')
        return 0;
    rc = resil_secrets_get(store, name, &val, &len, &e);
    if (rc == RESIL_ENOENT)
        return 0;
    if (rc != 0) {
        snprintf(err, errlen, "secret '%s' in %s: %s", name, storepath, e.text);
        return -1;
    }
    snprintf(label, sizeof(label), "secret '%s' in %s", name, storepath);
    /* check_key sees a C string: a NUL inside would hide the rest. */
    if (memchr(val, '\0', len) != NULL) {
        snprintf(err, errlen, "%s: contains a NUL byte (value not shown)", label);
        rc = -1;
    } else {
        rc = check_key(val, cap, label, err, errlen);
    }
    if (rc == 0)
        memcpy(dst, val, len + 1);
    resil_secret_free(val, len);
    return rc;
}

/* The HTTP bearer token must also be hard to guess. */
static int check_token_strength(const struct config *c, const char *label, char *err,
                                size_t errlen)
{
    resil_error e;

    if (c->auth_token[0] == '\0')
        return 0;
    if (resil_secret_check(c->auth_token, strlen(c->auth_token), label, NULL, &e) != 0) {
        snprintf(err, errlen, "%s", e.text);
        return -1;
    }
    return 0;
}

int config__resolve_secrets(struct config *c, char *const *env, char *err, size_t errlen)
{
    resil_secrets_opts so;
    resil_secrets *store = NULL;
    resil_error e;
    int rc = -1;

    if (c->secrets_store[0] != '\0') {
        resil_secrets_opts_init(&so);
        so.path = c->secrets_store;
        so.key_path = c->secrets_key_file;
        if (resil_secrets_open(&so, &store, &e) != 0) {
            snprintf(err, errlen, "secrets: cannot open the store %s with key file %s: %s",
                     c->secrets_store, c->secrets_key_file, e.text);
            return -1;
        }
    }
    if (resolve_one(store, c->secrets_store, c->youtube.key_secret, env, c->youtube.key_env,
                    c->youtube_key, sizeof(c->youtube_key), err, errlen) != 0 ||
        resolve_one(store, c->secrets_store, c->ai.key_secret, env, c->ai.key_env, c->ai_key,
                    sizeof(c->ai_key), err, errlen) != 0 ||
        resolve_one(store, c->secrets_store, c->auth_token_secret, env, "MCP_AUTH_TOKEN",
                    c->auth_token, sizeof(c->auth_token), err, errlen) != 0)
        goto out;
    if (check_token_strength(c, env_get(env, "MCP_AUTH_TOKEN") ? "MCP_AUTH_TOKEN"
                                                               : c->auth_token_secret,
                             err, errlen) != 0)
        goto out;
    rc = 0;
out:
    resil_secrets_close(store);
    return rc;
}

static int is_loopback(const char *addr)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (inet_pton(AF_INET, addr, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return 0;
}

int config__check_exposure(const struct config *c, char *err, size_t errlen)
{
    if (c->transport != CONFIG_HTTP || is_loopback(c->listen_addr) || c->auth_token[0] != '\0')
        return 0;
    snprintf(err, errlen, "server.listen: %s is not a loopback address and no HTTP bearer token "
                          "is configured: set MCP_AUTH_TOKEN or store one under the name in "
                          "server.auth_token_secret ('%s'), or listen on 127.0.0.1",
             c->listen_addr, c->auth_token_secret);
    return -1;
}

void config_clear_secrets(struct config *c)
{
    if (c == NULL)
        return;
    OPENSSL_cleanse(c->youtube_key, sizeof(c->youtube_key));
    OPENSSL_cleanse(c->ai_key, sizeof(c->ai_key));
    OPENSSL_cleanse(c->auth_token, sizeof(c->auth_token));
}

/* ---- checks of single values (the file and the environment share them) -- */

int config__check_text(const char *s, size_t cap, char *why, size_t n)
{
    if (strlen(s) >= cap) {
        snprintf(why, n, "longer than %zu bytes", cap - 1);
        return -1;
    }
    for (const unsigned char *q = (const unsigned char *)s; *q; q++)
        if (*q < 0x20 || *q == 0x7f) {
            snprintf(why, n, "contains a control character");
            return -1;
        }
    return 0;
}

int config__check_charset(const char *s, const char *extra, int digit_first, char *why,
                         size_t n)
{
    for (const char *q = s; *q; q++) {
        if (isalpha((unsigned char)*q) || *q == '_' || strchr(extra, *q) != NULL)
            continue;
        if (isdigit((unsigned char)*q) && (q != s || digit_first))
            continue;
        snprintf(why, n, "'%c' is not allowed in a name (use letters, digits, _%s)",
                 isprint((unsigned char)*q) ? *q : '?', extra);
        return -1;
    }
    return 0;
}

/* The tools append "/path": keep one slash between, whatever was given. */
void config__trim_url(char *d)
{
    size_t l = strlen(d);

    while (l > 8 && d[l - 1] == '/' && d[l - 2] != '/')
        d[--l] = '\0';
}

/* The port of the authority at host, if any: 1..65535 (an IPv6 literal's
 * colons are inside its brackets). */
static int check_port(const char *s, const char *host, char *why, size_t n)
{
    size_t alen = strcspn(host, "/");
    const char *close = memchr(host, ']', alen);
    const char *from = close != NULL ? close + 1 : host;
    const char *colon = memchr(from, ':', alen - (size_t)(from - host));
    const char *q;
    unsigned long v = 0;

    if (*host == '[' && close == NULL) {
        snprintf(why, n, "'%s': an IPv6 address without its closing ]", s);
        return -1;
    }
    if (colon == NULL)
        return 0;
    for (q = colon + 1; q < host + alen && isdigit((unsigned char)*q) && v <= 65535; q++)
        v = v * 10 + (unsigned long)(*q - '0');
    if (q == colon + 1 || q != host + alen || v == 0 || v > 65535) {
        snprintf(why, n, "'%s': the port is not a number in 1..65535", s);
        return -1;
    }
    return 0;
}

int config__check_url(const char *s, char *why, size_t n)
{
    const char *host;

    if (config__check_text(s, CONFIG_URL_MAX, why, n) != 0)
        return -1;
    if (strncmp(s, "http://", 7) == 0)
        host = s + 7;
    else if (strncmp(s, "https://", 8) == 0)
        host = s + 8;
    else {
        snprintf(why, n, "'%s' is not an http:// or https:// URL", s);
        return -1;
    }
    if (*host == '\0' || *host == '/' || strpbrk(s, " \"<>\\^`{|}") != NULL ||
        strpbrk(s, "?#") != NULL) {
        snprintf(why, n, "'%s' is not a base URL (a host, an optional path, no spaces, "
                         "query or fragment)", s);
        return -1;
    }
    return check_port(s, host, why, n);
}

/* An allowed Origin: scheme://host[:port], nothing after. */
int config__check_origin(const char *s, char *why, size_t n)
{
    const char *host;

    if (config__check_url(s, why, n) != 0)
        return -1;
    host = strstr(s, "://") + 3;
    if (strchr(host, '/') != NULL) {
        snprintf(why, n, "'%s' is not an origin: scheme://host[:port] with no path", s);
        return -1;
    }
    return 0;
}

int config__parse_listen(const char *s, char *addr, size_t addrlen, unsigned *port, char *why,
                         size_t n)
{
    char host[64];
    const char *colon, *h = s, *p;
    size_t hl;
    unsigned char bin[16];
    char *end;
    unsigned long v;

    colon = strrchr(s, ':');
    if (colon == NULL || colon[1] == '\0')
        goto bad;
    hl = (size_t)(colon - s);
    if (*s == '[') {
        if (hl < 2 || s[hl - 1] != ']')
            goto bad;
        h = s + 1;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof(host) || hl >= addrlen)
        goto bad;
    memcpy(host, h, hl);
    host[hl] = '\0';
    /* Brackets exactly around an IPv6 address, as in a URL (RFC 3986). */
    if (inet_pton(strchr(host, ':') ? AF_INET6 : AF_INET, host, bin) != 1 ||
        (strchr(host, ':') != NULL) != (*s == '['))
        goto bad;
    p = colon + 1;
    errno = 0;
    v = strtoul(p, &end, 10);
    if (!isdigit((unsigned char)*p) || *end != '\0' || errno != 0 || v > 65535) {
        snprintf(why, n, "port '%s' is not a number in 0..65535", p);
        return -1;
    }
    memcpy(addr, host, hl + 1);
    *port = (unsigned)v;
    return 0;
bad:
    snprintf(why, n, "'%s' is not ADDR:PORT with an IPv4 or [IPv6] address literal "
                     "(e.g. 127.0.0.1:8080 or [::1]:8080)", s);
    return -1;
}

/* ---- loading --------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    struct stat st;
    char *buf = NULL;
    ssize_t got;
    size_t off = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        goto fail_fd;
    }
    if (st.st_size > (off_t)CONFIG_MAX_FILE) {
        snprintf(err, errlen, "%s: larger than %u bytes: not a configuration file", path,
                 CONFIG_MAX_FILE);
        goto fail_fd;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto fail_fd;
    }
    while (off < (size_t)st.st_size) {
        got = read(fd, buf + off, (size_t)st.st_size - off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            snprintf(err, errlen, "%s: cannot read: %s", path,
                     got < 0 ? strerror(errno) : "file shrank while reading");
            goto fail_buf;
        }
        off += (size_t)got;
    }
    close(fd);
    buf[off] = '\0';
    *len = off;
    return buf;

fail_buf:
    free(buf);
fail_fd:
    close(fd);
    return NULL;
}

int config_load(struct config *c, const char *path, char *const *env, char *err,
                size_t errlen)
{
    char *text;
    size_t len;
    int rc;

    if (c == NULL || err == NULL || errlen == 0)
        return -1;
    err[0] = '\0';
    config_defaults(c);
    if (path != NULL) {
        text = read_file(path, &len, err, errlen);
        if (text == NULL)
            return -1;
        rc = config_parse(c, text, len, path, err, errlen);
        free(text);
        if (rc != 0)
            return -1;
    }
    if (config__apply_env(c, env, err, errlen) != 0 ||
        config__resolve_secrets(c, env, err, errlen) != 0 ||
        config__check_exposure(c, err, errlen) != 0) {
        config_clear_secrets(c);
        return -1;
    }
    return 0;
}

/* ---- locating a key in the text ------------------------------------------ */

struct scan {
    const char *t;
    size_t len, pos;
};

static void scan_ws(struct scan *s)
{
    while (s->pos < s->len && strchr(" \t\r\n", s->t[s->pos]) != NULL && s->t[s->pos] != '\0')
        s->pos++;
}

static int scan_hex4(struct scan *s, unsigned *cp)
{
    *cp = 0;
    for (int i = 0; i < 4; i++) {
        char ch = s->pos < s->len ? s->t[s->pos++] : '\0';

        if (!isxdigit((unsigned char)ch))
            return -1;
        *cp = *cp * 16 + (unsigned)(isdigit((unsigned char)ch) ? ch - '0'
                                                               : tolower((unsigned char)ch) - 'a' + 10);
    }
    return 0;
}

/* A string at s->pos (on its '"'), decoded into buf (cut at cap - 1: a
 * cut key simply matches nothing).  -1 when unterminated or malformed. */
static int scan_string(struct scan *s, char *buf, size_t cap)
{
    static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
    size_t n = 0;
    unsigned cp;

    s->pos++;
    while (s->pos < s->len && s->t[s->pos] != '"') {
        char ch = s->t[s->pos++];

        if (ch == '\\') {
            const char *e = s->pos < s->len ? strchr(esc_in, s->t[s->pos]) : NULL;

            if (s->pos < s->len && s->t[s->pos] == 'u') {
                s->pos++;
                if (scan_hex4(s, &cp) != 0)
                    return -1;
                /* Keys are ASCII; anything else only has to not match. */
                ch = cp < 0x80 ? (char)cp : '\x7f';
            } else if (e == NULL || *e == '\0') {
                return -1;
            } else {
                ch = esc_out[e - esc_in];
                s->pos++;
            }
        }
        if (buf != NULL && n + 1 < cap)
            buf[n++] = ch;
    }
    if (s->pos >= s->len)
        return -1;
    s->pos++;
    if (buf != NULL)
        buf[n] = '\0';
    return 0;
}

/* Past one value of any kind (nesting counted, strings skipped whole). */
static int scan_skip(struct scan *s)
{
    int depth = 0;

    do {
        if (s->pos >= s->len)
            return -1;
        switch (s->t[s->pos]) {
        case '"':
            if (scan_string(s, NULL, 0) != 0)
                return -1;
            continue;
        case '{': case '[': depth++; break;
        case '}': case ']':
            if (--depth < 0)
                return -1;
            break;
        default:
            if (depth == 0) {
                while (s->pos < s->len && strchr(",}] \t\r\n", s->t[s->pos]) == NULL)
                    s->pos++;
                return 0;
            }
        }
        s->pos++;
    } while (depth > 0);
    return 0;
}

/* In the object at s->pos, find key seg: s->pos on its value, *keypos on
 * its opening quote.  -1 if absent. */
static int scan_member(struct scan *s, const char *seg, size_t *keypos)
{
    char key[256];

    s->pos++;
    for (;;) {
        scan_ws(s);
        if (s->pos >= s->len || s->t[s->pos] != '"')
            return -1;
        *keypos = s->pos;
        if (scan_string(s, key, sizeof(key)) != 0)
            return -1;
        scan_ws(s);
        if (s->pos >= s->len || s->t[s->pos] != ':')
            return -1;
        s->pos++;
        scan_ws(s);
        if (strcmp(key, seg) == 0)
            return 0;
        if (scan_skip(s) != 0)
            return -1;
        scan_ws(s);
        if (s->pos >= s->len || s->t[s->pos] != ',')
            return -1;
        s->pos++;
    }
}

/* In the array at s->pos, the idx-th element. */
static int scan_element(struct scan *s, unsigned long idx)
{
    s->pos++;
    for (unsigned long i = 0; i < idx; i++) {
        scan_ws(s);
        if (scan_skip(s) != 0)
            return -1;
        scan_ws(s);
        if (s->pos >= s->len || s->t[s->pos] != ',')
            return -1;
        s->pos++;
    }
    scan_ws(s);
    return s->pos < s->len && s->t[s->pos] != ']' ? 0 : -1;
}

static void scan_linecol(const char *t, size_t pos, int *line, int *column)
{
    *line = 1;
    *column = 1;
    for (size_t i = 0; i < pos; i++) {
        if (t[i] == '\n') {
            (*line)++;
            *column = 1;
        } else if (((unsigned char)t[i] & 0xc0) != 0x80) {
            /* Characters, not bytes: a UTF-8 continuation byte adds none
             * (jansson counts the same way in its parse errors). */
            (*column)++;
        }
    }
}

int config__locate_key(const char *text, size_t len, const char *path, int want_key, int *line,
                       int *column)
{
    struct scan s = {text, len, 0};
    size_t keypos = 0;
    const char *seg = path;

    *line = *column = 0;
    if (text == NULL || path == NULL)
        return -1;
    scan_ws(&s);
    while (*path != '\0' && seg != NULL) {
        const char *dot = strchr(seg, '.');
        size_t sl = dot ? (size_t)(dot - seg) : strlen(seg);
        char name[256];
        char *end;
        unsigned long idx;

        if (sl == 0 || sl >= sizeof(name) || s.pos >= len)
            return -1;
        memcpy(name, seg, sl);
        name[sl] = '\0';
        if (text[s.pos] == '{') {
            if (scan_member(&s, name, &keypos) != 0)
                return -1;
        } else if (text[s.pos] == '[' && isdigit((unsigned char)name[0])) {
            idx = strtoul(name, &end, 10);
            if (*end != '\0' || scan_element(&s, idx) != 0)
                return -1;
            keypos = s.pos;
        } else {
            return -1;
        }
        seg = dot ? dot + 1 : NULL;
    }
    if (s.pos >= len)
        return -1;
    scan_linecol(text, want_key && *path ? keypos : s.pos, line, column);
    return 0;
}

int config_locate(const char *text, size_t len, const char *path, int *line, int *column)
{
    int l = 0, c = 0;
    int rc = config__locate_key(text, len, path, 0, &l, &c);

    if (line != NULL)
        *line = l;
    if (column != NULL)
        *column = c;
    return rc;
}
