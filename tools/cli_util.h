/* Helpers shared by libresil's command-line tools (resil-secrets, and the
 * "secrets" and "audit" commands of mcp-server): option parsing, bounded
 * input that is wiped after use, key files, messages and exit codes.
 *
 * Messages go to stderr as "PROG: COMMAND: MESSAGE".  No helper here ever
 * puts an input's bytes (a secret value, a plaintext, a key) in a message:
 * callers pass only names, paths and library error texts, which the
 * library promises are free of secrets. */
#ifndef RESIL_CLI_UTIL_H
#define RESIL_CLI_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <resil/audit.h>
#include <resil/error.h>
#include <resil/secrets.h>

/* ---- exit status -------------------------------------------------------- */
/* The documented exit codes (resil-secrets(1), EXIT STATUS).  70 is
 * sysexits' EX_SOFTWARE. */
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_USAGE = 1,    /* bad invocation, EINVAL, ERANGE, EEXIST */
    CLI_EXIT_NOTFOUND = 2, /* ENOENT: a name, a file */
    CLI_EXIT_PERM = 3,     /* EPERM: unsafe permissions or owner */
    CLI_EXIT_TOKEN = 4,    /* ETOKEN_*: wrong key, tampered, expired */
    CLI_EXIT_FINDINGS = 5, /* audit found something at or above --fail-on */
    CLI_EXIT_WEAK = 6,     /* EWEAK: secret refused by the strength policy */
    CLI_EXIT_DATA = 7,     /* EPARSE: a key file or store that does not parse */
    CLI_EXIT_SOFTWARE = 70 /* ESYS, ENOMEM, ECRYPTO, ENOTSUP, anything else */
};

/* The exit code for a RESIL_E* code (0 gives 0). */
int cli_exit_code(int rc);

/* ---- messages ----------------------------------------------------------- */
/* The program name that starts every message; default "resil-secrets". */
void cli_set_prog(const char *prog);
/* "PROG: CMD: MESSAGE\n" on stderr; cmd NULL leaves "CMD: " out. */
void cli_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The same with "warning: " before the message. */
void cli_warn(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Report a failed library call and return its exit code: the library's
 * text when err carries one (it names the file and the fix), else
 * "CONTEXT: resil_strerror(rc)" with CONTEXT from fmt. */
int cli_fail(const char *cmd, int rc, const resil_error *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- option parsing ----------------------------------------------------- */
/* GNU-style: "--name VALUE", "--name=VALUE", "-x VALUE", "-xVALUE"; "--"
 * ends the options; "-" alone is a positional argument.  Options and
 * positional arguments may be mixed. */
typedef struct cli_option {
    const char *name; /* long name without "--" */
    char short_name;  /* 0: none */
    int has_arg;      /* nonzero: takes a value */
    int id;           /* > 0, returned by cli_parse_next() */
} cli_option;

typedef struct cli_parser {
    int argc;
    char **argv;
    int next;              /* index of the next word */
    int only_positional;   /* after "--" */
    const cli_option *opts; /* terminated by an entry with id 0 */
    const char *cmd;       /* for messages; the caller may set it later */
} cli_parser;

#define CLI_PARSE_END 0
#define CLI_PARSE_POSITIONAL (-1)
#define CLI_PARSE_ERROR (-2) /* message printed */

void cli_parser_init(cli_parser *p, int argc, char **argv, int first,
                     const cli_option *opts);
/* The next option's id (its value, if it takes one, in *arg), or
 * CLI_PARSE_POSITIONAL (the word in *arg), CLI_PARSE_END, CLI_PARSE_ERROR.
 * Messages about an unknown option show its name only when it looks like
 * an option name, so a secret typed as an option is not echoed. */
int cli_parse_next(cli_parser *p, const char **arg);

/* A positive number of seconds, optionally followed by s, m, h or d.
 * 0 or RESIL_EINVAL. */
int cli_parse_seconds(const char *s, int64_t *out);

/* ---- bounded input ------------------------------------------------------ */
/* Plaintexts and secret values; tokens may be larger (base64 and the
 * Fernet framing). */
#define CLI_INPUT_MAX ((size_t)1 << 20)
#define CLI_TOKEN_MAX ((size_t)2 << 20)

/* Bytes read into memory that is wiped when it grows and when released.
 * data is NUL-terminated (the NUL not counted in len) once anything was
 * read; zero-initialise before use. */
typedef struct cli_buf {
    char *data;
    size_t len;
    size_t cap;
} cli_buf;

/* All of path ("-" or NULL: standard input), at most max bytes.
 * RESIL_ERANGE when larger, RESIL_ENOENT, RESIL_ESYS, RESIL_ENOMEM; err
 * names the input.  On error b is released. */
int cli_read_input(const char *path, size_t max, cli_buf *b, resil_error *err);
/* One line from the terminal on fd with echo off, after prompt on stderr;
 * the newline is not kept.  Errors as cli_read_input(). */
int cli_read_hidden(int fd, const char *prompt, size_t max, cli_buf *b, resil_error *err);
/* Wipe, free and zero b. */
void cli_buf_release(cli_buf *b);
/* Drop one trailing "\n". */
void cli_buf_chomp(cli_buf *b);
/* Drop leading and trailing spaces, tabs, CR and LF. */
void cli_buf_trim(cli_buf *b);

/* Write all len bytes to fd (retrying short writes and EINTR): 0 or
 * RESIL_ESYS with errno set.  Unbuffered, so no copy of secret output
 * stays in a stdio buffer. */
int cli_write_all(int fd, const void *p, size_t len);

/* ---- files -------------------------------------------------------------- */
/* $XDG_CONFIG_HOME/resil/NAME, or $HOME/.config/resil/NAME when
 * XDG_CONFIG_HOME is unset, empty or relative (the XDG base directory
 * rules).  0, RESIL_ENOENT (neither variable set), RESIL_ERANGE. */
int cli_default_path(const char *name, char *out, size_t outlen);
/* The path of one of the store's files: given when not NULL, else $env
 * when set and not empty, else the default for name (cli_default_path(),
 * in buf, and *is_default set).  0 or the errors of cli_default_path(). */
int cli_resolve_path(const char *given, const char *env, const char *name, char *buf,
                     size_t buflen, const char **out, int *is_default);
/* Create the missing directories above path, mode 0700.  RESIL_ESYS with
 * the directory in err. */
int cli_make_parent_dirs(const char *path, resil_error *err);
/* 1 if something exists at path (lstat), 0 if not. */
int cli_path_exists(const char *path);

/* A key ring from a key file in the store's format: one base64url key per
 * line, the first the one that encrypts, "#" comments and blank lines
 * ignored.  The file is checked like the store's (resil_secrets_check_file:
 * RESIL_EPERM with the chmod fix).  RESIL_ENOENT, RESIL_EPERM, RESIL_EPARSE
 * (err has the line), RESIL_ESYS, RESIL_ENOMEM. */
int cli_key_file_load(const char *path, resil_fernet **out, resil_error *err);

/* ---- audit -------------------------------------------------------------- */
/* "info".."critical", or "never" (CLI_SEVERITY_NEVER: no finding fails).
 * 0 or RESIL_EINVAL. */
#define CLI_SEVERITY_NEVER (RESIL_AUDIT_CRITICAL + 1)
int cli_parse_severity(const char *s, int *out);
/* "NAME=ADDRESS[,tls][,auth]" into l; the strings are copied into *mem
 * (release with free()).  0 or RESIL_EINVAL (message printed), RESIL_ENOMEM. */
int cli_parse_listener(const char *cmd, const char *spec, resil_audit_listener *l,
                       char **mem);
/* Drop the findings whose id is one of ids[0..nids); the count left. */
size_t cli_audit_filter(resil_audit_finding *f, size_t n, const char *const *ids,
                        size_t nids);
/* Whether a finding is at or above fail_on (a severity or
 * CLI_SEVERITY_NEVER). */
int cli_audit_fails(const resil_audit_finding *f, size_t n, int fail_on);
/* Findings as a table, most severe first (their order), control characters
 * replaced; "no findings" when n is 0. */
void cli_audit_print(FILE *out, const resil_audit_finding *f, size_t n);

#endif /* RESIL_CLI_UTIL_H */
