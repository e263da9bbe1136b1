/* mcp-server's session table: random ids, lookups, the cap, idle expiry
 * on an injected clock, ended-session memory and reference counting. */
#include "../check_util.h"
#include "mcp/session.h"

#include <string.h>

static resil_clock *clk;
static struct session_table *tab;

static void make(size_t max, size_t ended)
{
    struct session_table_opts o = {.clock = clk, .max_sessions = max,
                                   .idle_ns = 60 * RESIL_NS_PER_SEC, .ended_memory = ended};
    ck_assert_int_eq(session_table_new(&o, &tab), 0);
}

static void setup(void)
{
    clk = tu_clock();
    tab = NULL;
}

static void teardown(void)
{
    session_table_free(tab);
    resil_clock_free(clk);
}

static int transport_frees;
static void count_free(void *p)
{
    (void)p;
    transport_frees++;
}

START_TEST(ids_are_random_visible_ascii)
{
    make(10, 4);
    struct session *a, *b;
    ck_assert_int_eq(session_create(tab, &a), 0);
    ck_assert_int_eq(session_create(tab, &b), 0);
    ck_assert_uint_eq(strlen(a->id), SESSION_ID_LEN);
    ck_assert_uint_eq(strspn(a->id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                    "0123456789-_"),
                      SESSION_ID_LEN);
    ck_assert_str_ne(a->id, b->id);
    session_put(tab, a);
    session_put(tab, b);
    ck_assert_uint_eq(session_table_count(tab), 2);
}
END_TEST

START_TEST(lookup_found_unknown_ended)
{
    make(10, 4);
    struct session *s, *g;
    ck_assert_int_eq(session_create(tab, &s), 0);
    char id[SESSION_ID_LEN + 1];
    memcpy(id, s->id, sizeof id);
    session_put(tab, s);
    ck_assert_int_eq(session_get(tab, id, SESSION_ID_LEN, &g), SESSION_FOUND);
    ck_assert_ptr_eq(g, s);
    session_put(tab, g);
    ck_assert_int_eq(session_get(tab, id, SESSION_ID_LEN - 1, &g), SESSION_UNKNOWN);
    ck_assert_ptr_null(g);
    ck_assert_int_eq(session_get(tab, "nope", 4, &g), SESSION_UNKNOWN);
    ck_assert_int_eq(session_end(tab, id, SESSION_ID_LEN), 0);
    ck_assert_int_eq(session_end(tab, id, SESSION_ID_LEN), -1);
    ck_assert_int_eq(session_get(tab, id, SESSION_ID_LEN, &g), SESSION_ENDED);
    ck_assert_ptr_null(g);
    ck_assert_uint_eq(session_table_count(tab), 0);
}
END_TEST

START_TEST(ended_memory_is_bounded)
{
    make(10, 2);
    char ids[3][SESSION_ID_LEN + 1];
    for (int i = 0; i < 3; i++) {
        struct session *s;
        ck_assert_int_eq(session_create(tab, &s), 0);
        memcpy(ids[i], s->id, sizeof ids[i]);
        session_put(tab, s);
        ck_assert_int_eq(session_end(tab, ids[i], SESSION_ID_LEN), 0);
    }
    struct session *g;
    ck_assert_int_eq(session_get(tab, ids[0], SESSION_ID_LEN, &g), SESSION_UNKNOWN);
    ck_assert_int_eq(session_get(tab, ids[1], SESSION_ID_LEN, &g), SESSION_ENDED);
    ck_assert_int_eq(session_get(tab, ids[2], SESSION_ID_LEN, &g), SESSION_ENDED);
    char zeros[SESSION_ID_LEN] = {0}; /* empty ring slots match nothing */
    ck_assert_int_eq(session_get(tab, zeros, SESSION_ID_LEN, &g), SESSION_UNKNOWN);
}
END_TEST

START_TEST(cap_refuses_and_frees_a_slot_on_end)
{
    make(2, 4);
    struct session *a, *b, *c;
    ck_assert_int_eq(session_create(tab, &a), 0);
    ck_assert_int_eq(session_create(tab, &b), 0);
    ck_assert_int_eq(session_create(tab, &c), -1);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(session_end(tab, a->id, SESSION_ID_LEN), 0);
    session_put(tab, a);
    ck_assert_int_eq(session_create(tab, &c), 0);
    session_put(tab, b);
    session_put(tab, c);
}
END_TEST

START_TEST(idle_sessions_expire_but_not_busy_ones)
{
    make(10, 4);
    struct session *a, *b, *g;
    ck_assert_int_eq(session_create(tab, &a), 0);
    ck_assert_int_eq(session_create(tab, &b), 0);
    ck_assert_int_eq(session_begin_request(b, 1), 0);
    ck_assert_int_eq(session_begin_request(b, 1), -1); /* per-session cap */
    char ida[SESSION_ID_LEN + 1];
    memcpy(ida, a->id, sizeof ida);
    session_put(tab, a);
    resil_clock_manual_advance(clk, 60 * RESIL_NS_PER_SEC - 1);
    ck_assert_uint_eq(session_table_sweep(tab), 0);
    resil_clock_manual_advance(clk, 1);
    ck_assert_uint_eq(session_table_sweep(tab), 1); /* a; b is serving */
    ck_assert_int_eq(session_get(tab, ida, SESSION_ID_LEN, &g), SESSION_ENDED);
    session_end_request(b);
    ck_assert_uint_eq(session_table_sweep(tab), 1);
    ck_assert_uint_eq(session_table_count(tab), 0);
    session_put(tab, b); /* the caller's reference outlives the table's */
}
END_TEST

START_TEST(seen_resets_idle_time)
{
    make(10, 4);
    struct session *a, *g;
    ck_assert_int_eq(session_create(tab, &a), 0);
    session_put(tab, a);
    resil_clock_manual_advance(clk, 59 * RESIL_NS_PER_SEC);
    ck_assert_int_eq(session_get(tab, a->id, SESSION_ID_LEN, &g), SESSION_FOUND);
    session_put(tab, g);
    resil_clock_manual_advance(clk, 59 * RESIL_NS_PER_SEC);
    ck_assert_uint_eq(session_table_sweep(tab), 0);
}
END_TEST

START_TEST(transport_state_freed_with_last_reference)
{
    make(10, 4);
    struct session *a;
    transport_frees = 0;
    ck_assert_int_eq(session_create(tab, &a), 0);
    a->transport = &transport_frees;
    a->transport_free = count_free;
    ck_assert_int_eq(session_end(tab, a->id, SESSION_ID_LEN), 0);
    ck_assert_int_eq(transport_frees, 0); /* the caller still holds it */
    session_put(tab, a);
    ck_assert_int_eq(transport_frees, 1);
    struct session *b;
    ck_assert_int_eq(session_create(tab, &b), 0);
    b->transport = &transport_frees;
    b->transport_free = count_free;
    session_put(tab, b);
    session_table_free(tab); /* ends and frees what remains */
    tab = NULL;
    ck_assert_int_eq(transport_frees, 2);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("session");
    TCase *tc = tcase_create("table");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, ids_are_random_visible_ascii);
    tcase_add_test(tc, lookup_found_unknown_ended);
    tcase_add_test(tc, ended_memory_is_bounded);
    tcase_add_test(tc, cap_refuses_and_frees_a_slot_on_end);
    tcase_add_test(tc, idle_sessions_expire_but_not_busy_ones);
    tcase_add_test(tc, seen_resets_idle_time);
    tcase_add_test(tc, transport_state_freed_with_last_reference);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
