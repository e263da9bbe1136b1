/* fernet_tool: the library's Fernet from the command line, for
 * tests/check-fernet-python.sh to hold against Python's cryptography.
 *
 *   fernet_tool keygen                       prints a new key
 *   fernet_tool encrypt KEYFILE [UNIX_TIME]  stdin plaintext -> token
 *   fernet_tool decrypt KEYFILE [TTL NOW]    stdin token -> plaintext
 *   fernet_tool rotate KEYFILE               stdin token -> token
 *   fernet_tool time KEYFILE                 stdin token -> its timestamp
 *
 * A key file holds one key per line, the first the one that encrypts.
 * Plaintexts and keys never go on the command line (ps(1) shows it to
 * everyone); tokens on stdin may end in white space, which is dropped.
 * Tokens and timestamps are printed with a newline, plaintexts as they
 * are.  Exit status 0, 1 with "fernet_tool: NAME" (the error code's name)
 * on stderr, 2 for bad usage. */
#include <resil/resil.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT ((size_t)64 << 20)

static int fail(const char *what, int rc)
{
    fprintf(stderr, "fernet_tool: %s: %s\n", what, resil_err_name(rc));
    return 1;
}

static int usage(void)
{
    fputs("usage: fernet_tool keygen | encrypt KEYFILE [UNIX_TIME] | "
          "decrypt KEYFILE [TTL NOW] | rotate KEYFILE | time KEYFILE\n",
          stderr);
    return 2;
}

/* All of stdin in a malloc'd buffer with room for a NUL. */
static char *read_all(FILE *in, size_t *len)
{
    size_t cap = 4096;
    size_t n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, in);
        if (ferror(in) || n > MAX_INPUT) {
            free(buf);
            return NULL;
        }
        if (feof(in))
            break;
        if (n == cap - 1) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger)
                free(buf);
            buf = bigger;
            cap *= 2;
        }
    }
    if (buf) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

static size_t trim(const char *s, size_t n)
{
    while (n > 0 && strchr(" \t\r\n", s[n - 1]) != NULL)
        n--;
    return n;
}

/* Keys from a file, one per line; blank lines are skipped. */
static int load_keys(const char *path, resil_fernet **f)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        fprintf(stderr, "fernet_tool: %s: %s\n", path, strerror(errno));
        return 1;
    }
    static char lines[RESIL_FERNET_MAX_KEYS][128];
    const char *keys[RESIL_FERNET_MAX_KEYS];
    size_t n = 0;
    while (n < RESIL_FERNET_MAX_KEYS && fgets(lines[n], sizeof lines[n], fp)) {
        lines[n][trim(lines[n], strlen(lines[n]))] = '\0';
        if (lines[n][0] != '\0') {
            keys[n] = lines[n];
            n++;
        }
    }
    fclose(fp);
    resil_error err;
    int rc = resil_fernet_new(keys, n, f, &err);
    memset(lines, 0, sizeof lines);
    if (rc != 0) {
        fprintf(stderr, "fernet_tool: %s: %s\n", path, err.text);
        return 1;
    }
    return 0;
}

static int parse_i64(const char *s, int64_t *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return -1;
    *v = (int64_t)x;
    return 0;
}

static int keygen(void)
{
    char key[RESIL_FERNET_KEY_B64_LEN + 1];
    int rc = resil_fernet_keygen(key);
    if (rc != 0)
        return fail("keygen", rc);
    printf("%s\n", key);
    return 0;
}

static int run(resil_fernet *f, const char *cmd, int argc, char **argv, const char *in,
               size_t len)
{
    char *tok = NULL;
    uint8_t *pt = NULL;
    size_t outlen = 0;
    int64_t a = 0;
    int64_t b = 0;
    int rc;
    if (strcmp(cmd, "encrypt") == 0 && argc <= 4) {
        if (argc == 4 && parse_i64(argv[3], &a) != 0)
            return usage();
        rc = argc == 4 ? resil_fernet_encrypt_at_time(f, in, len, a, NULL, &tok, &outlen)
                       : resil_fernet_encrypt(f, in, len, &tok, &outlen);
    } else if (strcmp(cmd, "decrypt") == 0 && (argc == 3 || argc == 5)) {
        if (argc == 5 && (parse_i64(argv[3], &a) != 0 || parse_i64(argv[4], &b) != 0))
            return usage();
        rc = resil_fernet_decrypt_at_time(f, in, trim(in, len), a, b, &pt, &outlen);
    } else if (strcmp(cmd, "rotate") == 0 && argc == 3) {
        rc = resil_fernet_rotate(f, in, trim(in, len), &tok, &outlen);
    } else if (strcmp(cmd, "time") == 0 && argc == 3) {
        rc = resil_fernet_token_time(f, in, trim(in, len), &a);
        if (rc == 0)
            printf("%" PRId64 "\n", a);
        return rc == 0 ? 0 : fail(cmd, rc);
    } else {
        return usage();
    }
    if (rc != 0)
        return fail(cmd, rc);
    if (tok)
        printf("%s\n", tok);
    else
        fwrite(pt, 1, outlen, stdout);
    resil_free(tok);
    resil_secret_free(pt, outlen);
    return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "keygen") == 0)
        return keygen();
    if (argc < 3)
        return usage();
    resil_fernet *f = NULL;
    if (load_keys(argv[2], &f) != 0)
        return 1;
    size_t len = 0;
    char *in = read_all(stdin, &len);
    if (!in) {
        fputs("fernet_tool: cannot read stdin\n", stderr);
        resil_fernet_free(f);
        return 1;
    }
    int status = run(f, argv[1], argc, argv, in, len);
    resil_secret_wipe(in, len);
    free(in);
    resil_fernet_free(f);
    return status;
}
