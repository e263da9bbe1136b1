/* Secret strength: length, distinct characters, one character repeated and
 * a list of known placeholders.  The messages name the rule and the label,
 * never the value, so they can go to logs. */
#include "secrets_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Values that ship in sample configs, tutorials and .env.example files,
 * compared case-insensitively.  Strings of only 'x' and "sk-" followed by
 * only 'x' are recognised by rule (any length), below. */
static const char *const g_placeholders[] = {
    "changeme",
    "change-me",
    "change_me",
    "changeit",
    "change-it",
    "replaceme",
    "replace-me",
    "replace_me",
    "password",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "password1",
    "password123",
    "pass",
    "passwd",
    "secret",
    "secret-key",
    "secret_key",
    "secretkey",
    "mysecret",
    "my-secret",
    "my_secret",
    "supersecret",
    "topsecret",
    "default",
    "example",
    "sample",
    "test",
    "testing",
    "test123",
    "admin",
    "admin123",
    "root",
    "guest",
    "user",
    "token",
    "my-token",
    "my_token",
    "apikey",
    "api-key",
    "api_key",
    "your-api-key",
    "your_api_key",
    "yourapikey",
    "your-api-key-here",
    "your_api_key_here",
    "your-key",
    "your_key",
    "your-key-here",
    "your_key_here",
    "your-secret",
    "your_secret",
    "your-secret-here",
    "your_secret_here",
    "your-token",
    "your_token",
    "your-token-here",
    "your_token_here",
    "your-password",
    "your_password",
    "placeholder",
    "dummy",
    "fake",
    "todo",
    "fixme",
    "tbd",
    "none",
    "null",
    "nil",
    "undefined",
    "empty",
    "foo",
    "bar",
    "foobar",
    "baz",
    "123456",
    "1234567",
    "12345678",
    "123456789",
    "1234567890",
    "qwerty",
    "qwertyuiop",
    "letmein",
    "welcome",
    "abc123",
    "iloveyou",
    "trustno1",
    "monkey",
    "dragon",
    "master",
};

void resil_secret_policy_init(resil_secret_policy *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->min_len = 16;
    p->min_distinct = 8;
    p->refuse = 1;
}

void resil__secret_err(resil_error *err, int code, int line, const char *fmt, ...)
{
    if (!err)
        return;
    err->code = code;
    err->line = line;
    err->column = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
}

void resil__secret_err_clear(resil_error *err)
{
    if (!err)
        return;
    err->code = 0;
    err->line = 0;
    err->column = 0;
    err->text[0] = '\0';
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static bool eq_nocase(const unsigned char *v, size_t len, const char *word)
{
    size_t i = 0;
    for (; i < len && word[i]; i++) {
        if (lower(v[i]) != lower((unsigned char)word[i]))
            return false;
    }
    return i == len && word[i] == '\0';
}

/* "xxx", "XXXXXXXX", "sk-xxxx...": the masked keys of documentation. */
static bool is_masked(const unsigned char *v, size_t len)
{
    size_t i = 0;
    if (len > 3 && lower(v[0]) == 's' && lower(v[1]) == 'k' && v[2] == '-')
        i = 3;
    if (len - i < 3)
        return false;
    for (; i < len; i++) {
        if (lower(v[i]) != 'x')
            return false;
    }
    return true;
}

/* "<your key>", "${API_KEY}", "{{ token }}": a template nobody filled in. */
static bool is_template(const unsigned char *v, size_t len)
{
    if (len < 2)
        return false;
    if (v[0] == '<' && v[len - 1] == '>')
        return true;
    if (len >= 3 && v[0] == '$' && v[1] == '{' && v[len - 1] == '}')
        return true;
    return len >= 4 && v[0] == '{' && v[1] == '{' && v[len - 2] == '}' &&
           v[len - 1] == '}';
}

static bool is_placeholder(const unsigned char *v, size_t len,
                           const resil_secret_policy *p)
{
    for (size_t i = 0; i < sizeof g_placeholders / sizeof g_placeholders[0]; i++) {
        if (eq_nocase(v, len, g_placeholders[i]))
            return true;
    }
    for (size_t i = 0; i < p->nextra; i++) {
        if (eq_nocase(v, len, p->extra_placeholders[i]))
            return true;
    }
    return is_masked(v, len) || is_template(v, len);
}

static size_t count_distinct(const unsigned char *v, size_t len)
{
    bool seen[256] = {false};
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (!seen[v[i]]) {
            seen[v[i]] = true;
            n++;
        }
    }
    return n;
}

/* The first rule broken, most telling first: a placeholder is the worst
 * finding (a known value), then the shape, then the length. */
resil__secret_rule resil__secret_judge(const void *value, size_t len,
                                       const resil_secret_policy *p, size_t *distinct)
{
    const unsigned char *v = value;
    *distinct = count_distinct(v, len);
    if (len == 0)
        return RESIL__SECRET_EMPTY;
    if (is_placeholder(v, len, p))
        return RESIL__SECRET_PLACEHOLDER;
    if (len > 1 && *distinct == 1)
        return RESIL__SECRET_REPEATED;
    if (len < p->min_len)
        return RESIL__SECRET_SHORT;
    if (*distinct < p->min_distinct)
        return RESIL__SECRET_FEW_DISTINCT;
    return RESIL__SECRET_OK;
}

int resil__secret_policy_valid(const resil_secret_policy *p)
{
    if (p->nextra > 0 && !p->extra_placeholders)
        return RESIL_EINVAL;
    for (size_t i = 0; i < p->nextra; i++) {
        if (!p->extra_placeholders[i])
            return RESIL_EINVAL;
    }
    return 0;
}

void resil__secret_describe(resil__secret_rule rule, const char *label,
                            const resil_secret_policy *p, size_t distinct, char *buf,
                            size_t size)
{
    switch (rule) {
    case RESIL__SECRET_EMPTY:
        snprintf(buf, size, "%s is empty", label);
        return;
    case RESIL__SECRET_PLACEHOLDER:
        snprintf(buf, size, "%s is a known placeholder", label);
        return;
    case RESIL__SECRET_REPEATED:
        snprintf(buf, size, "%s is one character repeated", label);
        return;
    case RESIL__SECRET_SHORT:
        snprintf(buf, size, "%s is shorter than %zu bytes", label, p->min_len);
        return;
    case RESIL__SECRET_FEW_DISTINCT:
        snprintf(buf, size, "%s has only %zu distinct characters (want %zu)", label,
                 distinct, p->min_distinct);
        return;
    case RESIL__SECRET_OK:
        break;
    }
    snprintf(buf, size, "%s is strong enough", label);
}

int resil_secret_check(const void *value, size_t len, const char *label,
                       const resil_secret_policy *p, resil_error *err)
{
    resil_secret_policy defaults;
    resil__secret_err_clear(err);
    if (!value && len > 0)
        return RESIL_EINVAL;
    if (!p) {
        resil_secret_policy_init(&defaults);
        p = &defaults;
    }
    if (resil__secret_policy_valid(p) != 0)
        return RESIL_EINVAL;
    if (!label)
        label = "secret";
    size_t distinct;
    resil__secret_rule rule = resil__secret_judge(value ? value : "", len, p, &distinct);
    if (rule == RESIL__SECRET_OK)
        return 0;
    char what[RESIL_ERROR_TEXT_LEN];
    resil__secret_describe(rule, label, p, distinct, what, sizeof what);
    size_t want = p->min_len > 16 ? p->min_len : 16;
    resil__secret_err(err, RESIL_EWEAK, 0,
                      "%s%s: use a random value of at least %zu bytes "
                      "(e.g. openssl rand -base64 %zu)",
                      p->refuse ? "" : "warning: ", what, want, want < 32 ? 32 : want);
    return p->refuse ? RESIL_EWEAK : 0;
}

int resil_secret_from_env(const char *name, const resil_secret_policy *p, char **value,
                          size_t *len, resil_error *err)
{
    resil__secret_err_clear(err);
    if (value)
        *value = NULL;
    if (len)
        *len = 0;
    if (!name || !name[0] || !value || !len)
        return RESIL_EINVAL;
    const char *v = getenv(name);
    if (!v || !v[0]) {
        resil__secret_err(err, RESIL_ENOENT, 0, "environment variable %s is %s", name,
                          v ? "empty" : "not set");
        return RESIL_ENOENT;
    }
    size_t n = strlen(v);
    int rc = resil_secret_check(v, n, name, p, err);
    if (rc != 0)
        return rc;
    char *copy = resil__malloc(n + 1);
    if (!copy) {
        resil__secret_err(err, RESIL_ENOMEM, 0, "out of memory copying %s", name);
        return RESIL_ENOMEM;
    }
    memcpy(copy, v, n + 1);
    *value = copy;
    *len = n;
    return 0;
}
