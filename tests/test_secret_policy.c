/* Secret strength: every rule, every built-in placeholder family, refuse
 * and warn modes, the environment helper, argument checks, allocation
 * failure, and that no message ever carries the value. */
#include "config.h"

#include "check_util.h"

#include <stdlib.h>
#include <string.h>

#define STRONG "k7Q-p2Zr9xW4mB8vN1cT6yH3"

static void assert_not_in(const resil_error *e, const char *value)
{
    ck_assert_msg(strstr(e->text, value) == NULL, "value \"%s\" in message \"%s\"", value,
                  e->text);
}

static void assert_weak(const char *value, const char *rule)
{
    resil_error e;
    ck_assert_rc(resil_secret_check(value, strlen(value), "MY_VAR", NULL, &e),
                 RESIL_EWEAK);
    ck_assert_int_eq(e.code, RESIL_EWEAK);
    ck_assert_msg(strstr(e.text, rule) != NULL, "\"%s\": want \"%s\" in \"%s\"", value,
                  rule, e.text);
    ck_assert_ptr_nonnull(strstr(e.text, "MY_VAR"));
}

START_TEST(policy_defaults)
{
    resil_secret_policy p;
    memset(&p, 0xff, sizeof p);
    resil_secret_policy_init(&p);
    ck_assert_uint_eq(p.min_len, 16);
    ck_assert_uint_eq(p.min_distinct, 8);
    ck_assert_int_ne(p.refuse, 0);
    ck_assert_ptr_null(p.extra_placeholders);
    ck_assert_uint_eq(p.nextra, 0);
    for (size_t i = 0; i < 8; i++)
        ck_assert_uint_eq(p.reserved_[i], 0);
    resil_secret_policy_init(NULL); /* no crash */
}
END_TEST

START_TEST(strong_passes)
{
    resil_error e;
    memset(&e, 0x5a, sizeof e);
    ck_assert_rc(resil_secret_check(STRONG, strlen(STRONG), "API_KEY", NULL, &e), 0);
    ck_assert_int_eq(e.code, 0);
    ck_assert_str_eq(e.text, "");
    ck_assert_rc(resil_secret_check(STRONG, strlen(STRONG), NULL, NULL, NULL), 0);
    /* Binary secrets: a NUL inside counts like any other byte. */
    const char bin[] = "\x01\x00\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\xff";
    ck_assert_rc(resil_secret_check(bin, 16, "RAW", NULL, &e), 0);
}
END_TEST

/* The list, in several cases: each is refused as a placeholder and
 * the message is the same as for any other placeholder (so it cannot hold
 * the value). */
START_TEST(placeholders_builtin)
{
    static const char *const words[] = {
        "changeme",
        "CHANGEME",
        "change-me",
        "Change_Me",
        "password",
        "PassW0rd",
        "secret",
        "default",
        "example",
        "test",
        "testing",
        "admin",
        "token",
        "apikey",
        "api-key",
        "API_KEY",
        "your-api-key",
        "your_api_key",
        "Your-Api-Key-Here",
        "xxx",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "XXXXXXXX",
        "placeholder",
        "dummy",
        "todo",
        "FIXME",
        "123456",
        "12345678",
        "qwerty",
        "letmein",
        "sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "SK-XXXX",
        "<your-api-key>",
        "${OPENAI_API_KEY}",
        "{{ api_token }}",
    };
    resil_error ref;
    ck_assert_rc(resil_secret_check("changeme", 8, "MY_VAR", NULL, &ref), RESIL_EWEAK);
    ck_assert_str_eq(ref.text, "MY_VAR is a known placeholder: use a random value of at "
                               "least 16 bytes (e.g. openssl rand -base64 32)");
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        resil_error e;
        int rc = resil_secret_check(words[i], strlen(words[i]), "MY_VAR", NULL, &e);
        ck_assert_msg(rc == RESIL_EWEAK, "%s: rc %d", words[i], rc);
        ck_assert_str_eq(e.text, ref.text);
    }
}
END_TEST

START_TEST(placeholder_near_misses)
{
    /* Long values that merely contain a placeholder word, or x's with
     * something else, are judged by the other rules, not as placeholders. */
    resil_error e;
    const char *v = "changeme-k7Q-p2Zr9xW4mB8v";
    ck_assert_rc(resil_secret_check(v, strlen(v), "V", NULL, &e), 0);
    v = "sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxq";
    ck_assert_rc(resil_secret_check(v, strlen(v), "V", NULL, &e), RESIL_EWEAK);
    ck_assert_ptr_null(strstr(e.text, "placeholder"));
    ck_assert_ptr_nonnull(strstr(e.text, "distinct"));
    v = "xx"; /* two x's: too short to be the masked form, still a repeat */
    assert_weak(v, "one character repeated");
    v = "<k7Q-p2Zr9xW4mB8vN1cT6yH3"; /* only one bracket */
    ck_assert_rc(resil_secret_check(v, strlen(v), "V", NULL, &e), 0);
}
END_TEST

START_TEST(rules_each)
{
    assert_weak("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "one character repeated");
    assert_weak("Zk3$pQ9", "shorter than 16 bytes");
    assert_weak("abababababababababab", "only 2 distinct characters (want 8)");
    assert_weak("abcabcabcabcabcabcabc", "only 3 distinct characters");
    resil_error e;
    ck_assert_rc(resil_secret_check("", 0, "EMPTY_VAR", NULL, &e), RESIL_EWEAK);
    ck_assert_ptr_nonnull(strstr(e.text, "EMPTY_VAR is empty"));
    ck_assert_rc(resil_secret_check(NULL, 0, "EMPTY_VAR", NULL, &e), RESIL_EWEAK);
    /* label NULL: "secret" */
    ck_assert_rc(resil_secret_check("Zk3$pQ9", 7, NULL, NULL, &e), RESIL_EWEAK);
    ck_assert_ptr_nonnull(strstr(e.text, "secret is shorter"));
}
END_TEST

START_TEST(policy_limits)
{
    resil_secret_policy p;
    resil_secret_policy_init(&p);
    resil_error e;
    p.min_len = 32;
    ck_assert_rc(resil_secret_check(STRONG, strlen(STRONG), "K", &p, &e), RESIL_EWEAK);
    ck_assert_ptr_nonnull(strstr(e.text, "shorter than 32 bytes"));
    ck_assert_ptr_nonnull(strstr(e.text, "rand -base64 32"));
    p.min_len = 40;
    ck_assert_rc(resil_secret_check(STRONG, strlen(STRONG), "K", &p, &e), RESIL_EWEAK);
    ck_assert_ptr_nonnull(strstr(e.text, "at least 40 bytes"));
    /* Rules off: short and few distinct pass, placeholders and repeats never do. */
    p.min_len = 0;
    p.min_distinct = 0;
    ck_assert_rc(resil_secret_check("ab", 2, "K", &p, &e), 0);
    ck_assert_rc(resil_secret_check("a", 1, "K", &p, &e), 0);
    ck_assert_rc(resil_secret_check("aa", 2, "K", &p, &e), RESIL_EWEAK);
    ck_assert_rc(resil_secret_check("secret", 6, "K", &p, &e), RESIL_EWEAK);
    /* Exactly at the limits passes. */
    p.min_len = 16;
    p.min_distinct = 16;
    ck_assert_rc(resil_secret_check("0123456789abcdef", 16, "K", &p, &e), 0);
    ck_assert_rc(resil_secret_check("0123456789abcde", 15, "K", &p, &e), RESIL_EWEAK);
    ck_assert_rc(resil_secret_check("0123456789abcdee", 16, "K", &p, &e), RESIL_EWEAK);
    ck_assert_ptr_nonnull(strstr(e.text, "only 15 distinct characters (want 16)"));
}
END_TEST

START_TEST(extra_placeholders)
{
    static const char *const extra[] = {"acme-demo-key-2024", "Hunter2-Qwerty9!"};
    resil_secret_policy p;
    resil_secret_policy_init(&p);
    p.extra_placeholders = extra;
    p.nextra = 2;
    resil_error e;
    ck_assert_rc(resil_secret_check("ACME-DEMO-KEY-2024", 18, "K", &p, &e), RESIL_EWEAK);
    ck_assert_ptr_nonnull(strstr(e.text, "known placeholder"));
    ck_assert_rc(resil_secret_check("hunter2-qwerty9!", 16, "K", &p, &e), RESIL_EWEAK);
    ck_assert_rc(resil_secret_check("acme-demo-key-2024x", 19, "K", &p, &e), 0);
    /* Without the policy, the same value is fine. */
    ck_assert_rc(resil_secret_check("acme-demo-key-2024", 18, "K", NULL, &e), 0);
    p.nextra = 1; /* only the first is consulted */
    ck_assert_rc(resil_secret_check("hunter2-qwerty9!", 16, "K", &p, &e), 0);
}
END_TEST

START_TEST(warn_mode)
{
    resil_secret_policy p;
    resil_secret_policy_init(&p);
    p.refuse = 0;
    resil_error e;
    ck_assert_rc(resil_secret_check("changeme", 8, "DB_PASSWORD", &p, &e), 0);
    ck_assert_int_eq(e.code, RESIL_EWEAK);
    ck_assert_ptr_nonnull(strstr(e.text, "warning: DB_PASSWORD is a known placeholder"));
    ck_assert_rc(resil_secret_check(STRONG, strlen(STRONG), "DB_PASSWORD", &p, &e), 0);
    ck_assert_int_eq(e.code, 0);
    ck_assert_str_eq(e.text, "");
    ck_assert_rc(resil_secret_check("changeme", 8, "DB_PASSWORD", &p, NULL), 0);
}
END_TEST

START_TEST(check_einval)
{
    resil_error e;
    ck_assert_rc(resil_secret_check(NULL, 5, "K", NULL, &e), RESIL_EINVAL);
    resil_secret_policy p;
    resil_secret_policy_init(&p);
    p.nextra = 1; /* extra_placeholders NULL */
    ck_assert_rc(resil_secret_check(STRONG, strlen(STRONG), "K", &p, &e), RESIL_EINVAL);
    static const char *const extra[] = {"ok", NULL};
    p.extra_placeholders = extra;
    p.nextra = 2;
    ck_assert_rc(resil_secret_check(STRONG, strlen(STRONG), "K", &p, &e), RESIL_EINVAL);
}
END_TEST

/* ---- from_env ------------------------------------------------------------ */

START_TEST(env_strong)
{
    long live = tu_alloc_live();
    setenv("RESIL_TEST_SECRET", STRONG, 1);
    char *v = (char *)1;
    size_t n = 99;
    resil_error e;
    ck_assert_rc(resil_secret_from_env("RESIL_TEST_SECRET", NULL, &v, &n, &e), 0);
    ck_assert_int_eq(e.code, 0);
    ck_assert_uint_eq(n, strlen(STRONG));
    ck_assert_str_eq(v, STRONG);
    resil_secret_free(v, n);
    ck_assert_int_eq(tu_alloc_live(), live);
    unsetenv("RESIL_TEST_SECRET");
}
END_TEST

START_TEST(env_missing)
{
    char *v = (char *)1;
    size_t n = 99;
    resil_error e;
    unsetenv("RESIL_TEST_UNSET");
    ck_assert_rc(resil_secret_from_env("RESIL_TEST_UNSET", NULL, &v, &n, &e),
                 RESIL_ENOENT);
    ck_assert_ptr_null(v);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(e.code, RESIL_ENOENT);
    ck_assert_str_eq(e.text, "environment variable RESIL_TEST_UNSET is not set");
    setenv("RESIL_TEST_EMPTY", "", 1);
    ck_assert_rc(resil_secret_from_env("RESIL_TEST_EMPTY", NULL, &v, &n, &e),
                 RESIL_ENOENT);
    ck_assert_str_eq(e.text, "environment variable RESIL_TEST_EMPTY is empty");
    ck_assert_rc(resil_secret_from_env("RESIL_TEST_EMPTY", NULL, &v, &n, NULL),
                 RESIL_ENOENT);
    unsetenv("RESIL_TEST_EMPTY");
}
END_TEST

START_TEST(env_weak_refuse_and_warn)
{
    static const char *const weak[] = {"changeme", "your-api-key-here", "Qz7$Qz7$Qz7$",
                                       "zzzzzzzzzzzzzzzzzzzzzzzz",
                                       "QzQzQzQzQzQzQzQzQzQz"};
    resil_secret_policy p;
    resil_secret_policy_init(&p);
    for (size_t i = 0; i < sizeof weak / sizeof weak[0]; i++) {
        setenv("RESIL_TEST_WEAK", weak[i], 1);
        char *v = (char *)1;
        size_t n = 99;
        resil_error e;
        p.refuse = 1;
        ck_assert_rc(resil_secret_from_env("RESIL_TEST_WEAK", &p, &v, &n, &e),
                     RESIL_EWEAK);
        ck_assert_ptr_null(v);
        ck_assert_uint_eq(n, 0);
        ck_assert_int_eq(e.code, RESIL_EWEAK);
        ck_assert_ptr_nonnull(strstr(e.text, "RESIL_TEST_WEAK"));
        assert_not_in(&e, weak[i]);
        p.refuse = 0;
        ck_assert_rc(resil_secret_from_env("RESIL_TEST_WEAK", &p, &v, &n, &e), 0);
        ck_assert_int_eq(e.code, RESIL_EWEAK);
        ck_assert_ptr_nonnull(strstr(e.text, "warning: "));
        assert_not_in(&e, weak[i]);
        ck_assert_str_eq(v, weak[i]);
        ck_assert_uint_eq(n, strlen(weak[i]));
        resil_secret_free(v, n);
    }
    unsetenv("RESIL_TEST_WEAK");
}
END_TEST

START_TEST(env_einval)
{
    char *v;
    size_t n;
    setenv("RESIL_TEST_SECRET", STRONG, 1);
    ck_assert_rc(resil_secret_from_env(NULL, NULL, &v, &n, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_secret_from_env("", NULL, &v, &n, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_secret_from_env("RESIL_TEST_SECRET", NULL, NULL, &n, NULL),
                 RESIL_EINVAL);
    ck_assert_rc(resil_secret_from_env("RESIL_TEST_SECRET", NULL, &v, NULL, NULL),
                 RESIL_EINVAL);
    resil_secret_policy p;
    resil_secret_policy_init(&p);
    p.nextra = 3;
    ck_assert_rc(resil_secret_from_env("RESIL_TEST_SECRET", &p, &v, &n, NULL),
                 RESIL_EINVAL);
    ck_assert_ptr_null(v);
    unsetenv("RESIL_TEST_SECRET");
}
END_TEST

START_TEST(env_alloc_fail)
{
    setenv("RESIL_TEST_SECRET", STRONG, 1);
    long live = tu_alloc_live();
    char *v = (char *)1;
    size_t n = 1;
    resil_error e;
    tu_alloc_fail_at(0);
    int rc = resil_secret_from_env("RESIL_TEST_SECRET", NULL, &v, &n, &e);
    tu_alloc_reset();
    ck_assert_rc(rc, RESIL_ENOMEM);
    ck_assert_int_eq(e.code, RESIL_ENOMEM);
    assert_not_in(&e, STRONG);
    ck_assert_ptr_null(v);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(tu_alloc_live(), live);
    unsetenv("RESIL_TEST_SECRET");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("test_secret_policy");
    TCase *tc = tcase_create("check");
    tcase_add_test(tc, policy_defaults);
    tcase_add_test(tc, strong_passes);
    tcase_add_test(tc, placeholders_builtin);
    tcase_add_test(tc, placeholder_near_misses);
    tcase_add_test(tc, rules_each);
    tcase_add_test(tc, policy_limits);
    tcase_add_test(tc, extra_placeholders);
    tcase_add_test(tc, warn_mode);
    tcase_add_test(tc, check_einval);
    suite_add_tcase(s, tc);
    tc = tcase_create("env");
    tcase_add_test(tc, env_strong);
    tcase_add_test(tc, env_missing);
    tcase_add_test(tc, env_weak_refuse_and_warn);
    tcase_add_test(tc, env_einval);
    tcase_add_test(tc, env_alloc_fail);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
