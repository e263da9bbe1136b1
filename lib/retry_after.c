/* Parsing an HTTP Retry-After field value (RFC 9110 section 10.2.3):
 *
 *     Retry-After = HTTP-date / delay-seconds        delay-seconds = 1*DIGIT
 *
 * and the three HTTP-date forms of RFC 9110 section 5.6.7:
 *
 *     IMF-fixdate  Sun, 06 Nov 1994 08:49:37 GMT
 *     rfc850-date  Sunday, 06-Nov-94 08:49:37 GMT
 *     asctime      Sun Nov  6 08:49:37 1994
 *
 * Decisions:
 * - Optional whitespace (SP, HTAB) around the value is skipped; none is
 *   allowed inside delay-seconds, and date separators are exactly one SP
 *   (two in asctime's "Nov  6", as the grammar says).
 * - HTTP-date is case-sensitive (section 5.6.7), so "gmt" or "nov" fail.
 * - The day name must be one of the seven (short form in IMF-fixdate and
 *   asctime, long form in rfc850-date) but need not match the date: the date
 *   carries the meaning, and the section asks recipients to be robust; a
 *   wrong weekday is a sender bug worth no failed retry.
 * - Ranges are checked: month, day 1..28/29/30/31 for the month (Gregorian
 *   leap years), hour 0..23, minute 0..59, second 0..60 (a leap second,
 *   counted as the next minute's first second).
 * - Calendar arithmetic is done here, not with timegm()/mktime(), which
 *   depend on TZ and are not in C11.
 * - A value that does not fit int64_t nanoseconds is RESIL_EPARSE. */
#include "internal.h"

#include <string.h>

#define SECS_PER_DAY INT64_C(86400)
/* The most whole seconds that fit in int64_t nanoseconds. */
#define MAX_DELAY_SECS (INT64_MAX / RESIL_NS_PER_SEC)

static const char *const k_short_days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const k_long_days[] = {"Monday", "Tuesday", "Wednesday", "Thursday",
                                          "Friday", "Saturday", "Sunday"};
static const char *const k_months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct cursor {
    const char *p;
    const char *end;
};

struct civil {
    int64_t year;
    int month; /* 1..12 */
    int day;
    int hour, min, sec;
};

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Consume the exact text lit. */
static bool eat(struct cursor *c, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
        return false;
    c->p += n;
    return true;
}

/* Consume exactly n digits. */
static bool digits(struct cursor *c, int n, int *out)
{
    if (c->end - c->p < n)
        return false;
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(c->p[i]))
            return false;
        v = v * 10 + (c->p[i] - '0');
    }
    c->p += n;
    *out = v;
    return true;
}

/* Index of the word at the cursor among names[0..n), consuming it; the word
 * is the whole run of letters, so "Mon" does not match "Monday". */
static int word_in(struct cursor *c, const char *const *names, int n)
{
    const char *q = c->p;
    while (q < c->end && is_alpha(*q))
        q++;
    size_t len = (size_t)(q - c->p);
    for (int i = 0; i < n; i++) {
        if (strlen(names[i]) == len && memcmp(c->p, names[i], len) == 0) {
            c->p = q;
            return i;
        }
    }
    return -1;
}

static bool month(struct cursor *c, int *out)
{
    int m = word_in(c, k_months, 12);
    *out = m + 1;
    return m >= 0;
}

/* time-of-day = hour ":" minute ":" second */
static bool time_of_day(struct cursor *c, struct civil *t)
{
    return digits(c, 2, &t->hour) && eat(c, ":") && digits(c, 2, &t->min) && eat(c, ":") &&
           digits(c, 2, &t->sec);
}

static bool four_digit_year(struct cursor *c, struct civil *t)
{
    int y = 0;
    if (!digits(c, 4, &y))
        return false;
    t->year = y;
    return true;
}

/* After "Sun, ": 06 Nov 1994 08:49:37 GMT */
static bool imf_fixdate(struct cursor *c, struct civil *t)
{
    return digits(c, 2, &t->day) && eat(c, " ") && month(c, &t->month) && eat(c, " ") &&
           four_digit_year(c, t) && eat(c, " ") && time_of_day(c, t) && eat(c, " GMT");
}

/* After "Sunday, ": 06-Nov-94 08:49:37 GMT; the century comes later */
static bool rfc850_date(struct cursor *c, struct civil *t)
{
    int yy = 0;
    bool ok = digits(c, 2, &t->day) && eat(c, "-") && month(c, &t->month) && eat(c, "-") &&
              digits(c, 2, &yy) && eat(c, " ") && time_of_day(c, t) && eat(c, " GMT");
    t->year = yy;
    return ok;
}

/* After "Sun ": Nov  6 08:49:37 1994 (day is 2DIGIT or SP DIGIT) */
static bool asctime_date(struct cursor *c, struct civil *t)
{
    if (!month(c, &t->month) || !eat(c, " "))
        return false;
    bool day_ok = eat(c, " ") ? digits(c, 1, &t->day) : digits(c, 2, &t->day);
    return day_ok && eat(c, " ") && time_of_day(c, t) && eat(c, " ") && four_digit_year(c, t);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool fields_valid(const struct civil *t)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (t->month < 1 || t->month > 12 || t->day < 1)
        return false;
    int last = mdays[t->month - 1] + (t->month == 2 && is_leap(t->year));
    return t->day <= last && t->hour <= 23 && t->min <= 59 && t->sec <= 60;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar.
 * Counting years from March puts the leap day last, so a month's first day
 * is (153 * m' + 2) / 5 days into its year (m' = months since March); a
 * 400-year era has 146097 days.  Valid for |y| up to ~1e12. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                          /* 0..399 */
    int64_t mp = m > 2 ? m - 3 : m + 9;                   /* 0..11, March first */
    int64_t doy = (153 * mp + 2) / 5 + d - 1;             /* 0..365 */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;  /* 0..146096 */
    return era * 146097 + doe - 719468;                   /* 719468: 0000-03-01 to 1970 */
}

/* The Gregorian year in which unix second `secs` falls. */
static int64_t year_of(int64_t secs)
{
    int64_t days = secs / SECS_PER_DAY - (secs % SECS_PER_DAY < 0);
    /* close first guess (400 years = 146097 days), then step to exact */
    int64_t y = 1970 + days / 146097 * 400 + (days % 146097) / 366;
    while (days_from_civil(y + 1, 1, 1) <= days)
        y++;
    while (days_from_civil(y, 1, 1) > days)
        y--;
    return y;
}

/* RFC 9110 section 5.6.7: a two-digit year that appears more than 50 years in
 * the future is the most recent past year with the same last two digits.
 * So the year is the one ending in yy within (now - 50, now + 50]. */
static int64_t rfc850_year(int yy, int64_t now_unix)
{
    /* clamp so the year arithmetic stays small; such a "now" is nonsense */
    const int64_t lim = INT64_C(1) << 40;
    int64_t now = now_unix > lim ? lim : now_unix < -lim ? -lim : now_unix;
    int64_t cur = year_of(now);
    int64_t y = cur - (cur % 100 + 100) % 100 + yy;
    if (y > cur + 50)
        y -= 100;
    else if (y + 100 <= cur + 50)
        y += 100;
    return y;
}

/* Dispatch on the day name and what follows it. */
static bool http_date(struct cursor *c, int64_t now_unix, struct civil *t)
{
    if (word_in(c, k_short_days, 7) >= 0) {
        if (eat(c, ", "))
            return imf_fixdate(c, t);
        return eat(c, " ") && asctime_date(c, t);
    }
    if (word_in(c, k_long_days, 7) >= 0 && eat(c, ", ") && rfc850_date(c, t)) {
        t->year = rfc850_year((int)t->year, now_unix);
        return true;
    }
    return false;
}

static int parse_date(struct cursor *c, int64_t now_unix, int64_t *delay_ns)
{
    struct civil t = {0, 0, 0, 0, 0, 0};
    if (!http_date(c, now_unix, &t) || c->p != c->end || !fields_valid(&t))
        return RESIL_EPARSE;
    int64_t when = days_from_civil(t.year, t.month, t.day) * SECS_PER_DAY +
                   t.hour * 3600 + t.min * 60 + t.sec;
    if (when <= now_unix) {
        *delay_ns = 0;
        return 0;
    }
    /* |when| < 2^41, so when - MAX_DELAY_SECS cannot overflow */
    if (now_unix < when - MAX_DELAY_SECS)
        return RESIL_EPARSE;
    *delay_ns = (when - now_unix) * RESIL_NS_PER_SEC;
    return 0;
}

static int parse_seconds(struct cursor *c, int64_t *delay_ns)
{
    int64_t secs = 0;
    for (; c->p < c->end; c->p++) {
        if (!is_digit(*c->p))
            return RESIL_EPARSE;
        int d = *c->p - '0';
        if (secs > (MAX_DELAY_SECS - d) / 10)
            return RESIL_EPARSE;
        secs = secs * 10 + d;
    }
    *delay_ns = secs * RESIL_NS_PER_SEC;
    return 0;
}

/* *delay_ns is written only on success. */
int resil_retry_after_parse(const char *value, int64_t now_unix, int64_t *delay_ns)
{
    if (!value || !delay_ns)
        return RESIL_EINVAL;
    struct cursor c = {value, value + strlen(value)};
    while (c.p < c.end && is_ows(*c.p))
        c.p++;
    while (c.end > c.p && is_ows(c.end[-1]))
        c.end--;
    if (c.p == c.end)
        return RESIL_EPARSE;
    if (is_digit(*c.p))
        return parse_seconds(&c, delay_ns);
    return parse_date(&c, now_unix, delay_ns);
}
