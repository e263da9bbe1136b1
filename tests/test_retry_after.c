/* Retry-After parsing: delay-seconds and the three HTTP-date forms of
 * RFC 9110 section 5.6.7. */
#include "check_util.h"

#include <string.h>

#define SEC RESIL_NS_PER_SEC
/* Sun, 06 Nov 1994 08:49:37 GMT, the example of RFC 9110 section 5.6.7 */
#define T1994 INT64_C(784111777)
/* 2025-06-15T00:00:00Z */
#define T2025 INT64_C(1749945600)
#define SENTINEL INT64_C(-424242)

static int64_t parse_ok(const char *v, int64_t now)
{
    int64_t d = SENTINEL;
    int rc = resil_retry_after_parse(v, now, &d);
    ck_assert_msg(rc == 0, "\"%s\": got %s", v, resil_err_name(rc));
    return d;
}

static void parse_bad(const char *v, int64_t now)
{
    int64_t d = SENTINEL;
    int rc = resil_retry_after_parse(v, now, &d);
    ck_assert_msg(rc == RESIL_EPARSE, "\"%s\": got %d (%s), want EPARSE", v, rc,
                  resil_err_name(rc));
    ck_assert_int_eq(d, SENTINEL); /* untouched on failure */
}

START_TEST(seconds_valid)
{
    ck_assert_int_eq(parse_ok("0", 0), 0);
    ck_assert_int_eq(parse_ok("1", 0), SEC);
    ck_assert_int_eq(parse_ok("120", 0), 120 * SEC);
    ck_assert_int_eq(parse_ok("007", 0), 7 * SEC);
    ck_assert_int_eq(parse_ok("0000000000000000000000000000042", 0), 42 * SEC);
    /* the largest whole number of seconds that fits int64_t ns */
    ck_assert_int_eq(parse_ok("9223372036", 0), INT64_C(9223372036) * SEC);
    /* independent of now */
    ck_assert_int_eq(parse_ok("120", T2025), 120 * SEC);
    ck_assert_int_eq(parse_ok("120", INT64_MIN), 120 * SEC);
}
END_TEST

START_TEST(seconds_invalid)
{
    static const char *const bad[] = {
        "", "+1", "-1", "1 2", "1\t2", "1.5", "1e3", "0x10", "12a", "a12", "1,2",
        "9223372037", "9223372036854775807", "99999999999999999999999999",
        "18446744073709551616", "120\r\n", "\r120", "\n", "\v1", "\f", "١",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        parse_bad(bad[i], 0);
}
END_TEST

START_TEST(whitespace)
{
    ck_assert_int_eq(parse_ok("  120", 0), 120 * SEC);
    ck_assert_int_eq(parse_ok("120  ", 0), 120 * SEC);
    ck_assert_int_eq(parse_ok("\t 120 \t", 0), 120 * SEC);
    ck_assert_int_eq(parse_ok(" \tSun, 06 Nov 1994 08:49:37 GMT\t ", T1994 - 5), 5 * SEC);
    ck_assert_int_eq(parse_ok("  Sun Nov  6 08:49:37 1994 ", T1994 - 5), 5 * SEC);
    parse_bad(" ", 0);
    parse_bad(" \t \t", 0);
    parse_bad("Sun,  06 Nov 1994 08:49:37 GMT", 0);
    parse_bad("Sun, 06  Nov 1994 08:49:37 GMT", 0);
    parse_bad("Sun, 06 Nov 1994 08:49:37  GMT", 0);
    parse_bad("Sun,\t06 Nov 1994 08:49:37 GMT", 0);
}
END_TEST

START_TEST(imf_fixdate)
{
    const char *v = "Sun, 06 Nov 1994 08:49:37 GMT";
    ck_assert_int_eq(parse_ok(v, T1994 - 60), 60 * SEC);
    ck_assert_int_eq(parse_ok(v, T1994 - 1), SEC);
    ck_assert_int_eq(parse_ok(v, T1994), 0);      /* now */
    ck_assert_int_eq(parse_ok(v, T1994 + 1), 0);  /* past */
    ck_assert_int_eq(parse_ok(v, T2025), 0);
    /* conversions checked one second before each date */
    static const struct {
        const char *v;
        int64_t t;
    } known[] = {
        {"Thu, 01 Jan 1970 00:00:00 GMT", 0},
        {"Wed, 31 Dec 1969 23:59:59 GMT", -1},
        {"Sat, 01 Jan 2000 00:00:00 GMT", INT64_C(946684800)},
        {"Tue, 29 Feb 2000 00:00:00 GMT", INT64_C(951782400)},
        {"Thu, 29 Feb 2024 12:00:00 GMT", INT64_C(1709208000)},
        {"Sun, 15 Jun 2025 00:00:00 GMT", T2025},
        {"Wed, 01 Mar 1600 00:00:00 GMT", INT64_C(-11670912000)},
        {"Mon, 01 Jan 0001 00:00:00 GMT", INT64_C(-62135596800)},
        {"Fri, 31 Dec 9999 23:59:59 GMT", INT64_C(253402300799)},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        ck_assert_msg(parse_ok(known[i].v, known[i].t - 1) == SEC, "%s", known[i].v);
        ck_assert_int_eq(parse_ok(known[i].v, known[i].t), 0);
    }
}
END_TEST

START_TEST(ranges_and_leap_years)
{
    static const char *const good[] = {
        "Thu, 29 Feb 2024 00:00:00 GMT", "Tue, 29 Feb 2000 00:00:00 GMT",
        "Sun, 29 Feb 2032 00:00:00 GMT", "Wed, 30 Apr 2025 00:00:00 GMT",
        "Wed, 31 Dec 2025 23:59:59 GMT", "Wed, 31 Dec 2025 23:59:60 GMT",
        "Sat, 31 Jan 2026 00:00:00 GMT", "Sat, 28 Feb 2026 00:00:00 GMT",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_int_gt(parse_ok(good[i], T1994), 0);
    static const char *const bad[] = {
        "Wed, 29 Feb 2023 00:00:00 GMT", "Thu, 29 Feb 1900 00:00:00 GMT",
        "Mon, 29 Feb 2100 00:00:00 GMT", "Mon, 30 Feb 2024 00:00:00 GMT",
        "Thu, 31 Apr 2025 00:00:00 GMT", "Tue, 31 Jun 2025 00:00:00 GMT",
        "Wed, 31 Sep 2025 00:00:00 GMT", "Mon, 31 Nov 2025 00:00:00 GMT",
        "Sat, 32 Jan 2025 00:00:00 GMT", "Sat, 00 Jan 2025 00:00:00 GMT",
        "Sat, 01 Jan 2025 24:00:00 GMT", "Sat, 01 Jan 2025 00:60:00 GMT",
        "Sat, 01 Jan 2025 00:00:61 GMT", "Sat, 01 Jan 2025 99:99:99 GMT",
        "Sat, 01 Foo 2025 00:00:00 GMT",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        parse_bad(bad[i], T2025 - 100);
    /* a leap second counts as the next minute's first second */
    ck_assert_int_eq(parse_ok("Wed, 31 Dec 2025 23:59:60 GMT", T2025),
                     parse_ok("Thu, 01 Jan 2026 00:00:00 GMT", T2025));
}
END_TEST

START_TEST(day_name_lenient_but_valid)
{
    /* a weekday that does not match the date is accepted (documented) */
    ck_assert_int_eq(parse_ok("Mon, 06 Nov 1994 08:49:37 GMT", T1994 - 1), SEC);
    ck_assert_int_eq(parse_ok("Friday, 06-Nov-94 08:49:37 GMT", T1994 - 1), SEC);
    ck_assert_int_eq(parse_ok("Wed Nov  6 08:49:37 1994", T1994 - 1), SEC);
    /* but it must be a day name of the right form */
    parse_bad("Xyz, 06 Nov 1994 08:49:37 GMT", 0);
    parse_bad("Sunday, 06 Nov 1994 08:49:37 GMT", 0);
    parse_bad("Sun, 06-Nov-94 08:49:37 GMT", 0);
    parse_bad("Sundays, 06-Nov-94 08:49:37 GMT", 0);
    parse_bad("Su, 06 Nov 1994 08:49:37 GMT", 0);
    parse_bad("Sunday Nov  6 08:49:37 1994", 0);
    parse_bad("06 Nov 1994 08:49:37 GMT", 0);
}
END_TEST

START_TEST(case_sensitive)
{
    parse_bad("sun, 06 Nov 1994 08:49:37 GMT", 0);
    parse_bad("SUN, 06 Nov 1994 08:49:37 GMT", 0);
    parse_bad("Sun, 06 nov 1994 08:49:37 GMT", 0);
    parse_bad("Sun, 06 NOV 1994 08:49:37 GMT", 0);
    parse_bad("Sun, 06 Nov 1994 08:49:37 gmt", 0);
    parse_bad("sunday, 06-Nov-94 08:49:37 GMT", 0);
}
END_TEST

START_TEST(imf_malformed)
{
    static const char *const bad[] = {
        "Sun, 6 Nov 1994 08:49:37 GMT",    "Sun,06 Nov 1994 08:49:37 GMT",
        "Sun 06 Nov 1994 08:49:37 GMT",    "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37",       "Sun, 06 Nov 1994 08:49:37 GMTx",
        "Sun, 06 Nov 1994 08:49:37 GMT x", "Sun, 06 Nov 1994 8:49:37 GMT",
        "Sun, 06 Nov 1994 08:49 GMT",      "Sun, 06 Nov 1994 08-49-37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",     "Sun, 06 Nov 01994 08:49:37 GMT",
        "Sun, 06 November 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 +0000",
        "Sun, 06-Nov-1994 08:49:37 GMT",   "Sun, 06 Nov 1994T08:49:37 GMT",
        "Sun, 0x Nov 1994 08:49:37 GMT",   "Sun, 06 Nov 19a4 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:3",        "Sun, 06 Nov",
        "Sun, ",                           "Sun,",
        "Sun",                             "soon",
        "1994-11-06T08:49:37Z",            "\x01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        parse_bad(bad[i], 0);
}
END_TEST

START_TEST(rfc850)
{
    const char *v = "Sunday, 06-Nov-94 08:49:37 GMT";
    ck_assert_int_eq(parse_ok(v, T1994 - 60), 60 * SEC);
    ck_assert_int_eq(parse_ok(v, T1994 + 60), 0);
    /* in 2025, "94" is 1994: 2094 would be more than 50 years ahead */
    ck_assert_int_eq(parse_ok(v, T2025), 0);
    static const char *const bad[] = {
        "Sunday, 06-Nov-1994 08:49:37 GMT", "Sunday, 6-Nov-94 08:49:37 GMT",
        "Sunday, 06 Nov 94 08:49:37 GMT",   "Sunday, 06-Nov-94 08:49:37",
        "Sunday, 06-Nov-94 08:49:37 UTC",   "Sunday,06-Nov-94 08:49:37 GMT",
        "Sunday, 06-nov-94 08:49:37 GMT",   "Sunday, 06-Nov-9 08:49:37 GMT",
        "Sunday, 31-Apr-94 08:49:37 GMT",   "Sunday, 06-Nov-94 24:49:37 GMT",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        parse_bad(bad[i], T1994 - 60);
}
END_TEST

START_TEST(rfc850_century)
{
    /* RFC 9110 5.6.7: more than 50 years ahead means the past century */
    const int64_t t2075 = INT64_C(3313526400), t2030 = INT64_C(1893456000);
    ck_assert_int_eq(parse_ok("Tuesday, 01-Jan-75 00:00:00 GMT", T2025), (t2075 - T2025) * SEC);
    ck_assert_int_eq(parse_ok("Thursday, 01-Jan-76 00:00:00 GMT", T2025), 0); /* 1976 */
    ck_assert_int_eq(parse_ok("Tuesday, 01-Jan-30 00:00:00 GMT", T2025), (t2030 - T2025) * SEC);
    ck_assert_int_eq(parse_ok("Monday, 01-Jan-24 00:00:00 GMT", T2025), 0); /* 2024 */
    ck_assert_int_eq(parse_ok("Monday, 01-Jan-99 00:00:00 GMT", T2025), 0); /* 1999 */
    /* near the end of a century, a small year is the next century's */
    const int64_t t2099 = INT64_C(4083955200), t2101 = INT64_C(4133980800);
    ck_assert_int_eq(parse_ok("Saturday, 01-Jan-01 00:00:00 GMT", t2099), (t2101 - t2099) * SEC);
    ck_assert_int_eq(parse_ok("Saturday, 01-Jan-50 00:00:00 GMT", t2099), 0); /* 2050 */
    /* 2000 leap day through the two-digit form (in 1999) */
    ck_assert_int_eq(parse_ok("Tuesday, 29-Feb-00 00:00:00 GMT", INT64_C(951782400) - 1), SEC);
    /* 2100 is not a leap year: in 2099, "00" is 2100 and Feb 29 is invalid */
    parse_bad("Monday, 29-Feb-00 00:00:00 GMT", t2099);
}
END_TEST

START_TEST(asctime_form)
{
    ck_assert_int_eq(parse_ok("Sun Nov  6 08:49:37 1994", T1994 - 60), 60 * SEC);
    ck_assert_int_eq(parse_ok("Sun Nov 06 08:49:37 1994", T1994 - 60), 60 * SEC);
    ck_assert_int_eq(parse_ok("Sun Nov  6 08:49:37 1994", T1994 + 60), 0);
    ck_assert_int_eq(parse_ok("Thu Feb 29 12:00:00 2024", INT64_C(1709208000) - 1), SEC);
    static const char *const bad[] = {
        "Sun Nov 6 08:49:37 1994",      "Sun Nov   6 08:49:37 1994",
        "Sun Nov  6 08:49:37 1994 GMT", "Sun Nov  6 08:49:37 94",
        "Sun Nov  6 08:49:37",          "Sun, Nov  6 08:49:37 1994",
        "Sun  Nov  6 08:49:37 1994",    "Sun Nov  6  08:49:37 1994",
        "Wed Feb 29 00:00:00 2023",     "Sun Nov 31 08:49:37 1994",
        "Sun Nov  0 08:49:37 1994",     "Sun Nov  6 08:49:37 19945",
        "Sun nov  6 08:49:37 1994",     "Sun Nov  6 08:49:37 199",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        parse_bad(bad[i], 0);
}
END_TEST

START_TEST(date_overflow)
{
    const char *v = "Fri, 31 Dec 9999 23:59:59 GMT";
    const int64_t t = INT64_C(253402300799);
    /* the largest delay that fits, and one second more */
    ck_assert_int_eq(parse_ok(v, t - INT64_C(9223372036)), INT64_C(9223372036) * SEC);
    parse_bad(v, t - INT64_C(9223372037));
    parse_bad(v, INT64_MIN);
    parse_bad("Sunday, 06-Nov-94 08:49:37 GMT", INT64_MIN);
    ck_assert_int_eq(parse_ok(v, INT64_MAX), 0);
    ck_assert_int_eq(parse_ok("Sunday, 06-Nov-94 08:49:37 GMT", INT64_MAX), 0);
    ck_assert_int_eq(parse_ok("Sat Jan  1 00:00:00 0000", INT64_C(-62167219200) - 1), SEC);
}
END_TEST

START_TEST(null_args)
{
    int64_t d = SENTINEL;
    ck_assert_rc(resil_retry_after_parse(NULL, 0, &d), RESIL_EINVAL);
    ck_assert_int_eq(d, SENTINEL);
    ck_assert_rc(resil_retry_after_parse("120", 0, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_retry_after_parse(NULL, 0, NULL), RESIL_EINVAL);
}
END_TEST

START_TEST(long_garbage)
{
    char buf[4096];
    memset(buf, '9', sizeof buf - 1);
    buf[sizeof buf - 1] = '\0';
    parse_bad(buf, 0);
    memset(buf, ' ', sizeof buf - 1);
    parse_bad(buf, 0);
    memset(buf, 'S', sizeof buf - 1);
    parse_bad(buf, 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("retry_after");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, seconds_valid);
    tcase_add_test(tc, seconds_invalid);
    tcase_add_test(tc, whitespace);
    tcase_add_test(tc, imf_fixdate);
    tcase_add_test(tc, ranges_and_leap_years);
    tcase_add_test(tc, day_name_lenient_but_valid);
    tcase_add_test(tc, case_sensitive);
    tcase_add_test(tc, imf_malformed);
    tcase_add_test(tc, rfc850);
    tcase_add_test(tc, rfc850_century);
    tcase_add_test(tc, asctime_form);
    tcase_add_test(tc, date_overflow);
    tcase_add_test(tc, null_args);
    tcase_add_test(tc, long_garbage);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
