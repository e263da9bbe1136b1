/* resil-secrets: Fernet keys and tokens, an encrypted secrets store and a
 * deployment audit from the command line (resil-secrets(1)).
 *
 * Secret values and plaintexts come from standard input or a file, never
 * from the command line (argv is visible to every user through ps and
 * /proc), and never appear in a message.  Buffers that held them are wiped
 * before they are freed, and secret output bypasses stdio buffering. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <resil/audit.h>
#include <resil/secrets.h>
#include <resil/version.h>

#include "cli_util.h"

enum opt_id {
    O_HELP = 1, O_VERSION, O_KEY_FILE, O_STORE, O_FORCE, O_STDOUT, O_IN, O_TTL,
    O_TOKEN, O_RAW, O_ALLOW_WEAK, O_CONFIG, O_LOG, O_DATA_DIR, O_ENV, O_LISTEN,
    O_JSON, O_FAIL_ON, O_IGNORE,
};
#define BIT(id) (1u << (id))
#define GLOBAL_OPTS (BIT(O_HELP) | BIT(O_VERSION) | BIT(O_KEY_FILE) | BIT(O_STORE))
#define AUDIT_OPTS                                                                 \
    (BIT(O_CONFIG) | BIT(O_LOG) | BIT(O_DATA_DIR) | BIT(O_ENV) | BIT(O_LISTEN) |   \
     BIT(O_JSON) | BIT(O_FAIL_ON) | BIT(O_IGNORE))

static const cli_option options[] = {
    {"help", 'h', 0, O_HELP},          {"version", 0, 0, O_VERSION},
    {"key-file", 0, 1, O_KEY_FILE},    {"store", 0, 1, O_STORE},
    {"force", 0, 0, O_FORCE},          {"stdout", 0, 0, O_STDOUT},
    {"in", 0, 1, O_IN},                {"ttl", 0, 1, O_TTL},
    {"token", 0, 0, O_TOKEN},          {"raw", 0, 0, O_RAW},
    {"allow-weak", 0, 0, O_ALLOW_WEAK}, {"config", 0, 1, O_CONFIG},
    {"log", 0, 1, O_LOG},              {"data-dir", 0, 1, O_DATA_DIR},
    {"env", 0, 1, O_ENV},              {"listen", 0, 1, O_LISTEN},
    {"json", 0, 0, O_JSON},            {"fail-on", 0, 1, O_FAIL_ON},
    {"ignore", 0, 1, O_IGNORE},        {NULL, 0, 0, 0},
};

typedef struct str_list {
    const char **v;
    size_t n;
} str_list;

typedef struct ctx {
    const struct command *cmd;
    const char *key_file; /* option, environment or default (key_default) */
    const char *store;
    int key_default, store_default;
    char key_buf[PATH_MAX];
    char store_buf[PATH_MAX];
    const char *in;
    int force, to_stdout, token, raw, allow_weak, json;
    int64_t ttl;
    int fail_on;
    str_list config, log, data_dir, env, listen, ignore, pos;
    const char **lists_mem;
    unsigned seen;
} ctx;

struct command {
    const char *name;
    int (*run)(ctx *c);
    int op;        /* for run: which fernet_op or name_op */
    unsigned opts; /* allowed besides GLOBAL_OPTS */
    size_t min_pos, max_pos;
    const char *usage;
    const char *summary;
};

/* ---- paths -------------------------------------------------------------- */
static int resolve_path(ctx *c, const char **path, int *is_default, const char *env,
                        const char *file, char *buf)
{
    int rc = *path ? 0 : cli_resolve_path(NULL, env, file, buf, PATH_MAX, path, is_default);

    if (rc == 0)
        return 0;
    cli_error(c->cmd->name, "no default path for %s (%s): set HOME, or %s, or pass "
              "the path as an option",
              file, rc == RESIL_ENOENT ? "HOME is not set" : "too long", env);
    return CLI_EXIT_USAGE;
}

/* The key file's path and, with store, the store's. */
static int need_paths(ctx *c, int store)
{
    int rc = resolve_path(c, &c->key_file, &c->key_default, "RESIL_KEY_FILE",
                          "secrets.key", c->key_buf);

    if (rc == 0 && store)
        rc = resolve_path(c, &c->store, &c->store_default, "RESIL_SECRETS_FILE",
                          "secrets", c->store_buf);
    return rc;
}

/* Default paths live in a directory of our own: create it (mode 0700). */
static int make_dirs(ctx *c, const char *path, int is_default)
{
    resil_error err = {0};
    int rc = is_default ? cli_make_parent_dirs(path, &err) : 0;

    return rc ? cli_fail(c->cmd->name, rc, &err, "cannot create the directory of %s",
                         path)
              : 0;
}

static int open_store(ctx *c, int create, resil_secrets **s)
{
    resil_secrets_opts o;
    resil_error err = {0};
    int rc = need_paths(c, 1);

    *s = NULL;
    if (rc)
        return rc;
    resil_secrets_opts_init(&o);
    o.path = c->store;
    o.key_path = c->key_file;
    o.create = create;
    rc = resil_secrets_open(&o, s, &err);
    if (rc == RESIL_ENOENT && !create) {
        cli_error(c->cmd->name, "%s; to create a store run: resil-secrets init",
                  err.text[0] ? err.text : "the store or its key file does not exist");
        return CLI_EXIT_NOTFOUND;
    }
    return rc ? cli_fail(c->cmd->name, rc, &err, "cannot open the store %s", c->store)
              : 0;
}

static int load_keys(ctx *c, resil_fernet **f)
{
    resil_error err = {0};
    int rc = need_paths(c, 0);

    if (rc == 0)
        rc = cli_key_file_load(c->key_file, f, &err);
    return rc ? cli_fail(c->cmd->name, rc, &err, "cannot load key file %s", c->key_file)
              : 0;
}

/* ---- input and output --------------------------------------------------- */
static int put_bytes(ctx *c, const void *p, size_t len, int newline)
{
    int rc = cli_write_all(STDOUT_FILENO, p, len);

    if (rc == 0 && newline)
        rc = cli_write_all(STDOUT_FILENO, "\n", 1);
    if (rc) {
        cli_error(c->cmd->name, "cannot write to standard output");
        return CLI_EXIT_SOFTWARE;
    }
    return 0;
}

static int read_input(ctx *c, size_t max, cli_buf *b)
{
    resil_error err = {0};
    int rc = cli_read_input(c->in, max, b, &err);

    return rc ? cli_fail(c->cmd->name, rc, &err, "cannot read the input") : 0;
}

/* The token on the input, trimmed; an empty input is a token failure. */
static int read_token(ctx *c, cli_buf *b)
{
    int rc = read_input(c, CLI_TOKEN_MAX, b);

    if (rc)
        return rc;
    cli_buf_trim(b);
    if (b->len == 0) {
        cli_error(c->cmd->name, "no token on %s", c->in ? c->in : "standard input");
        return CLI_EXIT_TOKEN;
    }
    return 0;
}

/* ---- keygen and init ---------------------------------------------------- */
static int keygen_stdout(ctx *c)
{
    char key[RESIL_FERNET_KEY_B64_LEN + 1];
    int rc;

    if (c->force) {
        cli_error(c->cmd->name, "--force applies to a key file, not to printing a key");
        return CLI_EXIT_USAGE;
    }
    rc = resil_fernet_keygen(key);
    if (rc)
        return cli_fail(c->cmd->name, rc, NULL, "cannot generate a key");
    rc = put_bytes(c, key, RESIL_FERNET_KEY_B64_LEN, 1);
    resil_secret_wipe(key, sizeof key);
    return rc;
}

static int cmd_keygen(ctx *c)
{
    char line[RESIL_FERNET_KEY_B64_LEN + 2];
    resil_error err = {0};
    int rc;

    if (c->pos.n == 1 && strcmp(c->pos.v[0], "-") != 0) {
        cli_error(c->cmd->name, "the only argument keygen takes is '-' (print the key); "
                                "--key-file PATH names the file");
        return CLI_EXIT_USAGE;
    }
    if (c->to_stdout || c->pos.n == 1)
        return keygen_stdout(c);
    rc = need_paths(c, 0);
    if (rc)
        return rc;
    if (!c->force && cli_path_exists(c->key_file)) {
        cli_error(c->cmd->name, "key file %s already exists; --force replaces it, and "
                                "what its keys encrypted can then no longer be read",
                  c->key_file);
        return CLI_EXIT_USAGE;
    }
    rc = make_dirs(c, c->key_file, c->key_default);
    if (rc)
        return rc;
    rc = resil_fernet_keygen(line);
    if (rc)
        return cli_fail(c->cmd->name, rc, NULL, "cannot generate a key");
    line[RESIL_FERNET_KEY_B64_LEN] = '\n';
    rc = resil_secrets_write_file(c->key_file, line, sizeof line - 1, &err);
    resil_secret_wipe(line, sizeof line);
    return rc ? cli_fail(c->cmd->name, rc, &err, "cannot write %s", c->key_file) : 0;
}

static int cmd_init(ctx *c)
{
    resil_secrets *s = NULL;
    int rc = need_paths(c, 1);

    if (rc)
        return rc;
    if (cli_path_exists(c->store)) {
        cli_error(c->cmd->name, "store %s already exists; nothing was changed", c->store);
        return CLI_EXIT_USAGE;
    }
    rc = make_dirs(c, c->key_file, c->key_default);
    if (rc == 0)
        rc = make_dirs(c, c->store, c->store_default);
    if (rc == 0)
        rc = open_store(c, 1, &s);
    resil_secrets_close(s);
    return rc;
}

/* ---- tokens ------------------------------------------------------------- */
enum fernet_op { OP_ENCRYPT, OP_DECRYPT, OP_ROTATE };

static int fernet_failure(ctx *c, int rc)
{
    if (rc == RESIL_ETOKEN_EXPIRED) {
        cli_error(c->cmd->name, "cannot decrypt: %s (--ttl %lld s)", resil_strerror(rc),
                  (long long)c->ttl);
    } else if (cli_exit_code(rc) == CLI_EXIT_TOKEN) {
        cli_error(c->cmd->name, "cannot decrypt with the keys of %s: %s", c->key_file,
                  resil_strerror(rc));
    } else {
        return cli_fail(c->cmd->name, rc, NULL, "%s failed", c->cmd->name);
    }
    return CLI_EXIT_TOKEN;
}

static int fernet_call(ctx *c, enum fernet_op op, resil_fernet *f, const cli_buf *in,
                       char **out, size_t *outlen)
{
    uint8_t *pt = NULL;
    int rc;

    if (op == OP_ENCRYPT)
        return resil_fernet_encrypt(f, in->data, in->len, out, outlen);
    if (op == OP_ROTATE)
        return resil_fernet_rotate(f, in->data, in->len, out, outlen);
    rc = resil_fernet_decrypt(f, in->data, in->len, c->ttl, &pt, outlen);
    *out = (char *)pt;
    return rc;
}

/* encrypt, decrypt and rotate --token: keys from the key file, one input,
 * one output (a token and a newline, or the plaintext exactly). */
static int run_fernet(ctx *c, enum fernet_op op)
{
    resil_fernet *f = NULL;
    cli_buf in = {0};
    char *out = NULL;
    size_t outlen = 0;
    int rc = load_keys(c, &f);

    if (rc)
        return rc;
    if (op == OP_ROTATE && resil_fernet_key_count(f) == 1)
        cli_warn(c->cmd->name, "key file %s holds one key, so the token is re-encrypted "
                               "under the key it already has", c->key_file);
    rc = op == OP_ENCRYPT ? read_input(c, CLI_INPUT_MAX, &in) : read_token(c, &in);
    if (rc == 0) {
        rc = fernet_call(c, op, f, &in, &out, &outlen);
        rc = rc ? fernet_failure(c, rc) : put_bytes(c, out, outlen, op != OP_DECRYPT);
    }
    resil_secret_free(out, outlen);
    cli_buf_release(&in);
    resil_fernet_free(f);
    return rc;
}

static int cmd_fernet(ctx *c)
{
    return run_fernet(c, (enum fernet_op)c->cmd->op);
}

static int cmd_rotate(ctx *c)
{
    resil_secrets *s = NULL;
    resil_error err = {0};
    char **names = NULL;
    size_t n = 0;
    int rc;

    if (c->token)
        return run_fernet(c, OP_ROTATE);
    if (c->in) {
        cli_error(c->cmd->name, "--in applies to rotate --token only");
        return CLI_EXIT_USAGE;
    }
    rc = open_store(c, 0, &s);
    if (rc)
        return rc;
    rc = resil_secrets_rotate(s, NULL, &err);
    if (rc)
        rc = cli_fail(c->cmd->name, rc, &err, "cannot rotate the key of %s", c->store);
    else if (resil_secrets_list(s, &names, &n) == 0)
        printf("%zu\n", n); /* every entry was re-encrypted */
    resil_free(names);
    resil_secrets_close(s);
    return rc;
}

/* ---- the store ---------------------------------------------------------- */
/* The store's name rule ([A-Za-z0-9_.-], 1..128 bytes), checked here so a
 * word that is not a name (perhaps a value typed in its place) is never
 * shown in a message. */
static int check_name(ctx *c, const char *name)
{
    size_t len = strlen(name);
    int ok = len >= 1 && len <= 128;

    for (size_t i = 0; ok && i < len; i++) {
        char ch = name[i];
        ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
             (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
    }
    if (ok)
        return 0;
    cli_error(c->cmd->name, "invalid NAME (not shown): names are 1 to 128 of "
                            "A-Z a-z 0-9 _ . -");
    return CLI_EXIT_USAGE;
}

static int read_value(ctx *c, const char *name, cli_buf *v)
{
    resil_error err = {0};
    char prompt[200];
    int rc;

    if (c->in || !isatty(STDIN_FILENO)) {
        rc = read_input(c, CLI_INPUT_MAX, v);
        if (rc == 0 && !c->raw)
            cli_buf_chomp(v);
        return rc;
    }
    /* A person at a terminal: one line, not echoed. */
    snprintf(prompt, sizeof prompt, "value of %s (not echoed): ", name);
    rc = cli_read_hidden(STDIN_FILENO, prompt, CLI_INPUT_MAX, v, &err);
    return rc ? cli_fail(c->cmd->name, rc, &err, "cannot read the terminal") : 0;
}

static int check_strength(ctx *c, const char *name, const cli_buf *v)
{
    resil_secret_policy p;
    resil_error err = {0};
    int rc;

    resil_secret_policy_init(&p);
    p.refuse = !c->allow_weak;
    rc = resil_secret_check(v->data, v->len, name, &p, &err);
    if (rc == RESIL_EWEAK) {
        cli_error(c->cmd->name, "%s; nothing was stored (--allow-weak stores it anyway)",
                  err.text[0] ? err.text : resil_strerror(rc));
        return CLI_EXIT_WEAK;
    }
    if (rc)
        return cli_fail(c->cmd->name, rc, &err, "cannot check the value of %s", name);
    if (err.code == RESIL_EWEAK) /* the library's text may say "warning:" itself */
        cli_warn(c->cmd->name, "%s (stored anyway: --allow-weak)",
                 err.text + (strncmp(err.text, "warning: ", 9) == 0 ? 9 : 0));
    return 0;
}

/* get, set and delete: the store opened and closed around one call. */
enum name_op { OP_GET, OP_SET, OP_DELETE };

static int name_op(ctx *c, enum name_op op, const cli_buf *value)
{
    const char *name = c->pos.v[0];
    resil_secrets *s = NULL;
    resil_error err = {0};
    char *v = NULL;
    size_t len = 0;
    int rc = open_store(c, 0, &s);

    if (rc)
        return rc;
    if (op == OP_SET)
        rc = resil_secrets_set(s, name, value->data, value->len, &err);
    else if (op == OP_GET)
        rc = resil_secrets_get(s, name, &v, &len, &err);
    else
        rc = resil_secrets_delete(s, name, &err);
    if (rc == RESIL_ENOENT && op != OP_SET) {
        cli_error(c->cmd->name, "no secret named %s in %s", name, c->store);
        rc = CLI_EXIT_NOTFOUND;
    } else if (rc) {
        rc = cli_fail(c->cmd->name, rc, &err, "%s %s failed", c->cmd->name, name);
    } else if (op == OP_GET) {
        /* A newline only for a person reading a terminal. */
        rc = put_bytes(c, v, len, isatty(STDOUT_FILENO));
    }
    resil_secret_free(v, len);
    resil_secrets_close(s);
    return rc;
}

static int cmd_set(ctx *c)
{
    const char *name = c->pos.v[0];
    cli_buf v = {0};
    int rc = check_name(c, name);

    if (rc == 0)
        rc = read_value(c, name, &v);
    if (rc == 0)
        rc = check_strength(c, name, &v);
    if (rc == 0)
        rc = name_op(c, OP_SET, &v);
    cli_buf_release(&v);
    return rc;
}

static int cmd_name(ctx *c)
{
    int rc = check_name(c, c->pos.v[0]);

    return rc ? rc : name_op(c, (enum name_op)c->cmd->op, NULL);
}

static int cmd_list(ctx *c)
{
    resil_secrets *s = NULL;
    char **names = NULL;
    size_t n = 0;
    int rc = open_store(c, 0, &s);

    if (rc)
        return rc;
    rc = resil_secrets_list(s, &names, &n);
    if (rc)
        rc = cli_fail(c->cmd->name, rc, NULL, "cannot list %s", c->store);
    for (size_t i = 0; i < n; i++)
        printf("%s\n", names[i]);
    resil_free(names);
    resil_secrets_close(s);
    return rc;
}

/* ---- audit -------------------------------------------------------------- */
/* One of the store's files: named explicitly, always (a missing one is a
 * finding); the XDG default only when it exists. */
static const char *audit_path(const char *given, const char *env, const char *file,
                              char *buf)
{
    const char *path = NULL;
    int is_default = 0;

    if (cli_resolve_path(given, env, file, buf, PATH_MAX, &path, &is_default) != 0)
        return NULL;
    return is_default && !cli_path_exists(path) ? NULL : path;
}

static int audit_output(ctx *c, const resil_audit_finding *f, size_t n)
{
    char *json = NULL;
    size_t len = 0;
    int rc;

    if (!c->json) {
        cli_audit_print(stdout, f, n);
        return 0;
    }
    rc = resil_audit_render(f, n, &json, &len);
    if (rc == RESIL_ENOTSUP) {
        cli_error(c->cmd->name, "--json needs libresil built with jansson");
        return CLI_EXIT_SOFTWARE;
    }
    if (rc)
        return cli_fail(c->cmd->name, rc, NULL, "cannot render the findings");
    fwrite(json, 1, len, stdout);
    if (len == 0 || json[len - 1] != '\n')
        putchar('\n');
    resil_free(json);
    return 0;
}

static int audit_run(ctx *c, const resil_audit_opts *o)
{
    resil_audit_finding *f = NULL;
    resil_error err = {0};
    size_t n = 0;
    int rc = resil_audit_run(o, &f, &n, &err);

    if (rc) {
        resil_free(f);
        return cli_fail(c->cmd->name, rc, &err, "the audit failed");
    }
    n = cli_audit_filter(f, n, c->ignore.v, c->ignore.n);
    rc = audit_output(c, f, n);
    if (rc == 0 && cli_audit_fails(f, n, c->fail_on))
        rc = CLI_EXIT_FINDINGS;
    resil_free(f);
    return rc;
}

static int cmd_audit(ctx *c)
{
    resil_audit_listener *ls = calloc(c->listen.n + 1, sizeof *ls);
    char **mems = calloc(c->listen.n + 1, sizeof *mems);
    resil_audit_opts o;
    int rc = ls && mems ? 0 : RESIL_ENOMEM;

    for (size_t i = 0; rc == 0 && i < c->listen.n; i++)
        rc = cli_parse_listener(c->cmd->name, c->listen.v[i], &ls[i], &mems[i]);
    if (rc == RESIL_ENOMEM) {
        rc = cli_fail(c->cmd->name, rc, NULL, "audit");
    } else if (rc) {
        rc = CLI_EXIT_USAGE; /* cli_parse_listener said why */
    } else {
        resil_audit_opts_init(&o);
        o.key_path = audit_path(c->key_file, "RESIL_KEY_FILE", "secrets.key", c->key_buf);
        o.secrets_path = audit_path(c->store, "RESIL_SECRETS_FILE", "secrets",
                                    c->store_buf);
        o.config_paths = c->config.v;
        o.nconfig = c->config.n;
        o.log_paths = c->log.v;
        o.nlog = c->log.n;
        o.data_dirs = c->data_dir.v;
        o.ndata = c->data_dir.n;
        o.env_names = c->env.v;
        o.nenv = c->env.n;
        o.listeners = ls;
        o.nlisteners = c->listen.n;
        rc = audit_run(c, &o);
    }
    for (size_t i = 0; mems && i < c->listen.n; i++)
        free(mems[i]);
    free(mems);
    free(ls);
    return rc;
}

/* ---- commands and arguments --------------------------------------------- */
static const struct command commands[] = {
    {"init", cmd_init, 0, 0, 0, 0, "init", "create an empty store (and a key file if missing)"},
    {"keygen", cmd_keygen, 0, BIT(O_FORCE) | BIT(O_STDOUT), 0, 1,
     "keygen [--force] | keygen --stdout | keygen -", "write a new key file, or print a key"},
    {"encrypt", cmd_fernet, OP_ENCRYPT, BIT(O_IN), 0, 0, "encrypt [--in FILE]",
     "encrypt standard input into a Fernet token"},
    {"decrypt", cmd_fernet, OP_DECRYPT, BIT(O_IN) | BIT(O_TTL), 0, 0,
     "decrypt [--ttl N] [--in FILE]", "decrypt a Fernet token"},
    {"rotate", cmd_rotate, OP_ROTATE, BIT(O_TOKEN) | BIT(O_IN), 0, 0,
     "rotate | rotate --token [--in FILE]",
     "re-encrypt the store under a new key, or a token under the first key"},
    {"set", cmd_set, OP_SET, BIT(O_IN) | BIT(O_RAW) | BIT(O_ALLOW_WEAK), 1, 1,
     "set NAME [--in FILE] [--raw] [--allow-weak]",
     "store the secret NAME, read from standard input"},
    {"get", cmd_name, OP_GET, 0, 1, 1, "get NAME", "print the secret NAME"},
    {"list", cmd_list, 0, 0, 0, 0, "list", "print the names in the store"},
    {"delete", cmd_name, OP_DELETE, 0, 1, 1, "delete NAME", "remove the secret NAME"},
    {"audit", cmd_audit, 0, AUDIT_OPTS, 0, 0,
     "audit [--config PATH]... [--log PATH]... [--data-dir PATH]... [--env NAME]...\n"
     "        [--listen NAME=ADDR[,tls][,auth]]... [--ignore ID]... [--json]\n"
     "        [--fail-on SEVERITY]",
     "check file permissions, secrets in the environment and listeners"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void print_help(FILE *out, const struct command *only)
{
    if (only) {
        fprintf(out, "usage: resil-secrets [--key-file PATH] [--store PATH] %s\n\n%s.\n"
                     "See resil-secrets(1).\n", only->usage, only->summary);
        return;
    }
    fputs("usage: resil-secrets [--key-file PATH] [--store PATH] COMMAND [ARGS]\n\n"
          "Commands:\n", out);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fputs("\nSecret values are read from standard input or --in FILE, never from\n"
          "arguments.  Options: -h, --help; --version; --key-file PATH (RESIL_KEY_FILE);\n"
          "--store PATH (RESIL_SECRETS_FILE).  Exit status: 0 ok, 1 usage, 2 not found,\n"
          "3 unsafe permissions, 4 bad token, 5 audit findings, 6 weak secret,\n"
          "7 malformed file, 70 system error.  See resil-secrets(1).\n", out);
}

static int take_option(ctx *c, int id, const char *arg)
{
    const char *cmd = c->cmd ? c->cmd->name : NULL;
    str_list *l = NULL;

    switch (id) {
    case O_KEY_FILE: c->key_file = arg; break;
    case O_STORE: c->store = arg; break;
    case O_IN: c->in = arg; break;
    case O_FORCE: c->force = 1; break;
    case O_STDOUT: c->to_stdout = 1; break;
    case O_TOKEN: c->token = 1; break;
    case O_RAW: c->raw = 1; break;
    case O_ALLOW_WEAK: c->allow_weak = 1; break;
    case O_JSON: c->json = 1; break;
    case O_CONFIG: l = &c->config; break;
    case O_LOG: l = &c->log; break;
    case O_DATA_DIR: l = &c->data_dir; break;
    case O_ENV: l = &c->env; break;
    case O_LISTEN: l = &c->listen; break;
    case O_IGNORE: l = &c->ignore; break;
    case O_TTL:
        if (cli_parse_seconds(arg, &c->ttl) == 0)
            break;
        cli_error(cmd, "--ttl wants a positive number of seconds (suffix s, m, h or d "
                       "allowed), got '%s'", arg);
        return CLI_EXIT_USAGE;
    case O_FAIL_ON:
        if (cli_parse_severity(arg, &c->fail_on) == 0)
            break;
        cli_error(cmd, "--fail-on wants info, low, medium, high, critical or never, "
                       "got '%s'", arg);
        return CLI_EXIT_USAGE;
    default: break; /* --help, --version: seen is enough */
    }
    if (l)
        l->v[l->n++] = arg;
    return 0;
}

/* Every list can hold every word of argv, so no list needs to grow. */
static int alloc_lists(ctx *c, int argc)
{
    str_list *lists[] = {&c->config, &c->log,    &c->data_dir, &c->env,
                         &c->listen, &c->ignore, &c->pos};
    size_t per = (size_t)argc + 1, nl = sizeof lists / sizeof lists[0];

    c->lists_mem = calloc(per * nl, sizeof *c->lists_mem);
    if (!c->lists_mem) {
        cli_error(NULL, "out of memory");
        return CLI_EXIT_SOFTWARE;
    }
    for (size_t i = 0; i < nl; i++)
        lists[i]->v = c->lists_mem + i * per;
    return 0;
}

/* The command word, shown in a message only when it looks like one. */
static int set_command(ctx *c, cli_parser *p, const char *word)
{
    size_t len = strlen(word);
    int plain = len > 0 && len <= 16;

    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(commands[i].name, word) == 0) {
            c->cmd = &commands[i];
            p->cmd = c->cmd->name;
            return 0;
        }
    }
    for (size_t i = 0; plain && i < len; i++)
        plain = word[i] >= 'a' && word[i] <= 'z';
    if (plain)
        cli_error(NULL, "unknown command '%s' (see resil-secrets --help)", word);
    else
        cli_error(NULL, "unknown command (not shown; see resil-secrets --help)");
    return CLI_EXIT_USAGE;
}

static int check_positionals(const ctx *c)
{
    const struct command *cmd = c->cmd;

    if (c->pos.n < cmd->min_pos) {
        cli_error(cmd->name, "missing NAME; usage: resil-secrets %s", cmd->usage);
        return CLI_EXIT_USAGE;
    }
    if (c->pos.n <= cmd->max_pos)
        return 0;
    if (cmd->run == cmd_set) /* most likely "set NAME VALUE": never repeat it */
        cli_error(cmd->name, "secret values are never taken from the command line "
                             "(other users can read it): pipe the value to standard "
                             "input or use --in FILE; nothing was stored");
    else
        cli_error(cmd->name, "unexpected argument (not shown); usage: resil-secrets %s",
                  cmd->usage);
    return CLI_EXIT_USAGE;
}

/* After parsing: -1 to run the command, else the exit status. */
static int finish_args(ctx *c)
{
    unsigned bad;

    if (c->seen & BIT(O_HELP)) {
        print_help(stdout, c->cmd);
        return CLI_EXIT_OK;
    }
    if (c->seen & BIT(O_VERSION)) {
        printf("resil-secrets (libresil) %s\n", resil_version());
        return CLI_EXIT_OK;
    }
    if (!c->cmd) {
        print_help(stderr, NULL);
        return CLI_EXIT_USAGE;
    }
    bad = c->seen & ~(GLOBAL_OPTS | c->cmd->opts);
    for (const cli_option *o = options; bad && o->id != 0; o++) {
        if (bad & BIT(o->id)) {
            cli_error(c->cmd->name, "option --%s does not apply here; usage: "
                      "resil-secrets %s", o->name, c->cmd->usage);
            return CLI_EXIT_USAGE;
        }
    }
    return check_positionals(c) ? CLI_EXIT_USAGE : -1;
}

static int parse_args(ctx *c, int argc, char **argv)
{
    cli_parser p;
    int rc = alloc_lists(c, argc);

    c->fail_on = RESIL_AUDIT_HIGH;
    cli_parser_init(&p, argc, argv, 1, options);
    while (rc == 0) {
        const char *arg = NULL;
        int id = cli_parse_next(&p, &arg);
        if (id == CLI_PARSE_END)
            return finish_args(c);
        if (id == CLI_PARSE_ERROR) {
            rc = CLI_EXIT_USAGE;
        } else if (id == CLI_PARSE_POSITIONAL && !c->cmd) {
            rc = set_command(c, &p, arg);
        } else if (id == CLI_PARSE_POSITIONAL) {
            c->pos.v[c->pos.n++] = arg;
        } else {
            c->seen |= BIT(id);
            rc = take_option(c, id, arg);
        }
    }
    return rc;
}

/* ---- main --------------------------------------------------------------- */
int main(int argc, char **argv)
{
    struct rlimit no_core = {0, 0};
    ctx c;
    int rc;

    /* Files this process creates are private, and a crash leaves no core
     * file with keys or secrets in it. */
    umask(077);
    setrlimit(RLIMIT_CORE, &no_core);
    memset(&c, 0, sizeof c);
    rc = parse_args(&c, argc, argv);
    if (rc < 0)
        rc = c.cmd->run(&c);
    free(c.lists_mem);
    /* Output through stdio (list, audit, help) must reach its reader. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error(c.cmd ? c.cmd->name : NULL, "cannot write to standard output");
        if (rc == 0)
            rc = CLI_EXIT_SOFTWARE;
    }
    return rc;
}
