/* Built-in health checks: the procfs reader against fixture trees, the CPU
 * arithmetic, the system checks and the breaker / limiter / cache checks
 * through the registry (runs started with resil_health_run, awaited with
 * resil_health_wait, read back with resil_health_check_get). */
#include "check_util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define SEC RESIL_NS_PER_SEC
#define FIX(name) FIXTURE_DIR "/" name
#define ALL_SYS 0x7fu

static long g_live0;
static resil_clock *g_clk;

static void setup(void)
{
    g_live0 = tu_alloc_live();
    g_clk = tu_clock();
}

static void teardown(void)
{
    resil_clock_free(g_clk);
    g_clk = NULL;
    ck_assert_int_eq(tu_alloc_live(), g_live0);
}

/* ---- fixture trees in a scratch directory ------------------------------- */

static void write_file(const char *dir, const char *rel, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

static void copy_file(const char *from, const char *to)
{
    char buf[4096];
    int in = open(from, O_RDONLY);
    ck_assert_msg(in >= 0, "%s: %s", from, strerror(errno));
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_msg(out >= 0, "%s: %s", to, strerror(errno));
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        ck_assert_int_eq(write(out, buf, (size_t)n), n);
    close(in);
    close(out);
}

static void copy_tree(const char *from, const char *to)
{
    DIR *d = opendir(from);
    ck_assert_msg(d != NULL, "%s: %s", from, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char a[1024], b[1024];
        struct stat st;
        snprintf(a, sizeof a, "%s/%s", from, de->d_name);
        snprintf(b, sizeof b, "%s/%s", to, de->d_name);
        ck_assert_int_eq(stat(a, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            ck_assert_int_eq(mkdir(b, 0755), 0);
            copy_tree(a, b);
        } else {
            copy_file(a, b);
        }
    }
    closedir(d);
}

/* A scratch copy of a fixture tree; free with tree_free(). */
static char *tree_new(const char *fixture)
{
    char *dir = strdup("/tmp/resil-health-sys-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    copy_tree(fixture, dir);
    return dir;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void tree_free(char *dir)
{
    ck_assert_int_eq(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
    free(dir);
}

static void tree_rm(const char *dir, const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    ck_assert_int_eq(nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static resil_health_sys_opts sys_opts(const char *root)
{
    resil_health_sys_opts o;
    resil_health_sys_opts_init(&o);
    o.proc_root = root;
    o.disk_path = FIXTURE_DIR;
    return o;
}

static uint64_t clk_tck(void)
{
    return (uint64_t)sysconf(_SC_CLK_TCK);
}

/* ---- resil_health_sys_read ---------------------------------------------- */

START_TEST(test_read_normal)
{
    resil_health_sys_opts o = sys_opts(FIX("proc-normal"));
    resil_health_sys_sample s;
    resil_error err;
    memset(&s, 0xa5, sizeof s);
    s.t_ns = 42;
    ck_assert_rc(resil_health_sys_read(&o, &s, &err), 0);
    ck_assert_int_eq(err.code, 0);
    ck_assert_str_eq(err.text, "");
    ck_assert_int_eq(s.t_ns, 42);
    ck_assert_uint_eq(s.cpu_total, 50000);
    ck_assert_uint_eq(s.cpu_idle, 45000);
    ck_assert_uint_eq(s.ncpu, 4);
    ck_assert_uint_eq(s.mem_total, 8000000ull * 1024);
    ck_assert_uint_eq(s.mem_available, 6000000ull * 1024);
    ck_assert_double_eq(s.load1, 0.52);
    ck_assert_double_eq(s.load5, 0.58);
    ck_assert_double_eq(s.load15, 0.59);
    ck_assert_uint_eq(s.fds_open, 10);
    ck_assert_uint_eq(s.fds_limit, 1024);
    ck_assert_uint_eq(s.proc_rss, 20480ull * 1024);
    ck_assert_uint_eq(s.proc_cpu_ticks, 300);
    ck_assert_uint_eq(s.ticks_per_sec, clk_tck());
    struct statvfs v;
    ck_assert_int_eq(statvfs(FIXTURE_DIR, &v), 0);
    ck_assert_uint_eq(s.disk_total, (uint64_t)v.f_blocks * v.f_frsize);
    ck_assert_uint_le(s.disk_available, s.disk_total);
}
END_TEST

START_TEST(test_read_busy)
{
    resil_health_sys_opts o = sys_opts(FIX("proc-busy"));
    resil_health_sys_sample s = {0};
    ck_assert_rc(resil_health_sys_read(&o, &s, NULL), 0);
    ck_assert_uint_eq(s.cpu_total, 100000);
    ck_assert_uint_eq(s.cpu_idle, 8000);
    ck_assert_uint_eq(s.ncpu, 2);
    ck_assert_uint_eq(s.mem_total, 1000000ull * 1024);
    ck_assert_uint_eq(s.mem_available, 88000ull * 1024);
    ck_assert_double_eq(s.load1, 7.0);
    ck_assert_double_eq(s.load15, 3.0);
    ck_assert_uint_eq(s.fds_open, 19);
    ck_assert_uint_eq(s.fds_limit, 20);
    ck_assert_uint_eq(s.proc_rss, 1024ull * 1024 * 1024);
    ck_assert_uint_eq(s.proc_cpu_ticks, 50000);
}
END_TEST

/* The real procfs: sane values, and the directory handle used to count
 * the descriptors is not counted. */
START_TEST(test_read_real_proc)
{
    resil_health_sys_sample s = {0};
    resil_error err;
    ck_assert_rc(resil_health_sys_read(NULL, &s, &err), 0);
    ck_assert_uint_ge(s.ncpu, 1);
    ck_assert_uint_gt(s.cpu_total, s.cpu_idle);
    ck_assert_uint_gt(s.mem_total, 0);
    ck_assert_uint_le(s.mem_available, s.mem_total);
    ck_assert_uint_gt(s.disk_total, 0);
    ck_assert_uint_gt(s.proc_rss, 0);
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    uint64_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    closedir(d);
    ck_assert_uint_eq(s.fds_open, n - 1); /* n counted our own handle */
}
END_TEST

struct broken_case {
    const char *fixture; /* in proc-broken */
    const char *target;  /* replaces this file of proc-normal */
    int line;            /* err.line */
    const char *text;    /* after "<root>/<target>" in err.text */
};

static const struct broken_case g_broken[] = {
    {"stat-no-cpu", "stat", 0, ": no cpu line"},
    {"stat-short-cpu", "stat", 1, ":1: malformed cpu line"},
    {"stat-junk-cpu", "stat", 1, ":1: malformed cpu line"},
    {"stat-negative", "stat", 1, ":1: malformed cpu line"},
    {"stat-huge", "stat", 1, ":1: value out of range"},
    {"stat-sum-overflow", "stat", 1, ":1: cpu times out of range"},
    {"stat-no-cpun", "stat", 0, ": no cpuN lines"},
    {"stat-two-cpu", "stat", 2, ":2: second cpu line"},
    {"stat-cpux", "stat", 1, ":1: malformed cpu line"},
    {"meminfo-no-available", "meminfo", 0, ": no MemAvailable line"},
    {"meminfo-no-total", "meminfo", 0, ": no MemTotal line"},
    {"meminfo-no-unit", "meminfo", 1, ":1: malformed MemTotal line"},
    {"meminfo-huge", "meminfo", 1, ":1: value out of range"},
    {"meminfo-junk", "meminfo", 2, ":2: malformed MemAvailable line"},
    {"loadavg-empty", "loadavg", 0, ": empty"},
    {"loadavg-junk", "loadavg", 1, ":1: malformed load averages"},
    {"loadavg-comma", "loadavg", 1, ":1: malformed load averages"},
    {"limits-no-line", "self/limits", 0, ": no Max open files line"},
    {"limits-junk", "self/limits", 2, ":2: malformed Max open files line"},
    {"status-no-rss", "self/status", 0, ": no VmRSS line"},
    {"status-negative", "self/status", 2, ":2: malformed VmRSS line"},
    {"self-stat-no-paren", "self/stat", 1, ":1: no ')' after the command name"},
    {"self-stat-short", "self/stat", 1, ":1: only 10 fields"},
    {"self-stat-nonnumber", "self/stat", 1, ":1: field 14 is not a number"},
};

static void expect_error(const char *root, int want, const char *rel, const char *tail,
                         int line)
{
    resil_health_sys_opts o = sys_opts(root);
    resil_health_sys_sample s = {0};
    resil_error err;
    char want_text[1024];
    ck_assert_rc(resil_health_sys_read(&o, &s, &err), want);
    ck_assert_int_eq(err.code, want);
    ck_assert_int_eq(err.line, line);
    snprintf(want_text, sizeof want_text, "%s/%s%s", root, rel, tail);
    ck_assert_str_eq(err.text, want_text);
    ck_assert_rc(resil_health_sys_read(&o, &s, NULL), want); /* err is optional */
}

START_TEST(test_read_broken)
{
    const struct broken_case *bc = &g_broken[_i];
    char *root = tree_new(FIX("proc-normal"));
    char from[1024], to[1024];
    snprintf(from, sizeof from, "%s/proc-broken/%s", FIXTURE_DIR, bc->fixture);
    snprintf(to, sizeof to, "%s/%s", root, bc->target);
    copy_file(from, to);
    expect_error(root, RESIL_EPARSE, bc->target, bc->text, bc->line);
    tree_free(root);
}
END_TEST

START_TEST(test_read_missing)
{
    static const char *files[] = {"stat",        "meminfo",     "loadavg",  "self/fd",
                                  "self/limits", "self/status", "self/stat"};
    char *root = tree_new(FIX("proc-normal"));
    tree_rm(root, files[_i]);
    expect_error(root, RESIL_EPARSE, files[_i],
                 ": cannot open: No such file or directory", 0);
    tree_free(root);
}
END_TEST

/* Lines longer than the reader's buffer: skipped when no parser needs
 * them, an error when one does; /proc/stat is read only up to its cpu
 * lines; a file past the size bound is an error. */
START_TEST(test_read_long_lines)
{
    char *root = tree_new(FIX("proc-normal"));
    resil_health_sys_opts o = sys_opts(root);
    resil_health_sys_sample s = {0};
    size_t big = 2u << 20;
    char *text = malloc(big + 256);
    ck_assert_ptr_nonnull(text);

    /* a 2 MiB intr line after the cpu lines is never read */
    int n = sprintf(text, "cpu  1 2 3 4\ncpu0 1 2 3 4\nintr ");
    memset(text + n, '7', big);
    strcpy(text + n + big, "\nctxt 1\n");
    write_file(root, "stat", text);
    ck_assert_rc(resil_health_sys_read(&o, &s, NULL), 0);
    ck_assert_uint_eq(s.cpu_total, 10);

    /* a long line nobody asked for, before the ones we want */
    n = sprintf(text, "Junk:  ");
    memset(text + n, '1', 10000);
    strcpy(text + n + 10000, " kB\nMemTotal: 4 kB\nMemAvailable: 1 kB\n");
    write_file(root, "meminfo", text);
    ck_assert_rc(resil_health_sys_read(&o, &s, NULL), 0);
    ck_assert_uint_eq(s.mem_total, 4096);

    /* a cpu line that does not fit the buffer */
    n = sprintf(text, "cpu  ");
    for (int i = 0; i < 3000; i++)
        n += sprintf(text + n, "1 ");
    strcpy(text + n, "\ncpu0 1 2 3 4\n");
    write_file(root, "stat", text);
    expect_error(root, RESIL_EPARSE, "stat", ":1: malformed cpu line", 1);
    copy_file(FIX("proc-normal/stat"), strcat(strcpy(text, root), "/stat"));

    /* a one-line file that does not fit */
    memset(text, '1', 5000);
    text[5000] = '\0';
    write_file(root, "loadavg", text);
    expect_error(root, RESIL_EPARSE, "loadavg", ":1: line too long", 1);
    copy_file(FIX("proc-normal/loadavg"), strcat(strcpy(text, root), "/loadavg"));

    /* more than 1 MiB without the lines we want */
    n = 0;
    while ((size_t)n < big)
        n += sprintf(text + n, "Other: 1 kB\n");
    write_file(root, "meminfo", text);
    expect_error(root, RESIL_EPARSE, "meminfo", ": larger than 1048576 bytes", 0);
    free(text);
    tree_free(root);
}
END_TEST

/* The command name of self/stat may hold spaces, digits and ')'. */
START_TEST(test_read_comm)
{
    char *root = tree_new(FIX("proc-normal"));
    write_file(root, "self/stat",
               "9 (a) 1 2 ) 3 (b)) S 1 9 9 0 -1 0 0 0 0 0 17 4 0 0 20 0 1 0 5\n");
    resil_health_sys_opts o = sys_opts(root);
    resil_health_sys_sample s = {0};
    ck_assert_rc(resil_health_sys_read(&o, &s, NULL), 0);
    ck_assert_uint_eq(s.proc_cpu_ticks, 21);
    tree_free(root);
}
END_TEST

START_TEST(test_read_unlimited)
{
    char *root = tree_new(FIX("proc-normal"));
    write_file(
        root, "self/limits",
        "Limit                     Soft Limit           Hard Limit           Units\n"
        "Max open files            unlimited            unlimited            files\n");
    resil_health_sys_opts o = sys_opts(root);
    resil_health_sys_sample s = {0};
    ck_assert_rc(resil_health_sys_read(&o, &s, NULL), 0);
    ck_assert_uint_eq(s.fds_limit, 0);
    ck_assert_uint_eq(s.fds_open, 10);
    tree_free(root);
}
END_TEST

/* A FIFO where a file should be reads as empty instead of hanging. */
START_TEST(test_read_fifo)
{
    char *root = tree_new(FIX("proc-normal"));
    char path[1024];
    snprintf(path, sizeof path, "%s/meminfo", root);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    expect_error(root, RESIL_EPARSE, "meminfo", ": no MemTotal line", 0);
    tree_free(root);
}
END_TEST

START_TEST(test_read_disk_and_args)
{
    resil_health_sys_opts o = sys_opts(FIX("proc-normal"));
    resil_health_sys_sample s = {0};
    resil_error err;
    o.disk_path = "/nonexistent-resil-disk";
    ck_assert_rc(resil_health_sys_read(&o, &s, &err), RESIL_ESYS);
    ck_assert_int_eq(err.code, RESIL_ESYS);
    ck_assert_str_eq(err.text,
                     "/nonexistent-resil-disk: statvfs: No such file or directory");

    ck_assert_rc(resil_health_sys_read(&o, NULL, &err), RESIL_EINVAL);
    ck_assert_int_eq(err.code, RESIL_EINVAL);
    ck_assert_rc(resil_health_sys_read(NULL, NULL, NULL), RESIL_EINVAL);

    char *root = malloc(5000);
    memset(root, 'r', 4999);
    root[0] = '/';
    root[4999] = '\0';
    o = sys_opts(root);
    ck_assert_rc(resil_health_sys_read(&o, &s, &err), RESIL_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.text, "path too long"));
    free(root);
}
END_TEST

/* ---- resil_health_sys_cpu_percent ---------------------------------------- */

static resil_health_sys_sample cpu(uint64_t total, uint64_t idle)
{
    resil_health_sys_sample s;
    memset(&s, 0, sizeof s);
    s.cpu_total = total;
    s.cpu_idle = idle;
    return s;
}

START_TEST(test_cpu_percent)
{
    resil_health_sys_sample zero = cpu(0, 0), a = cpu(100, 80), b = cpu(200, 130);
    resil_health_sys_sample boot = cpu(50000, 45000);
    ck_assert_double_eq(resil_health_sys_cpu_percent(&a, &b), 50.0);
    ck_assert_double_eq(resil_health_sys_cpu_percent(&zero, &boot), 10.0);
    /* no tick passed */
    ck_assert_double_eq(resil_health_sys_cpu_percent(&b, &b), 0.0);
    ck_assert_double_eq(resil_health_sys_cpu_percent(&zero, &zero), 0.0);
    ck_assert_double_eq(resil_health_sys_cpu_percent(NULL, &b), 0.0);
    ck_assert_double_eq(resil_health_sys_cpu_percent(&a, NULL), 0.0);
    /* counters that went backwards count as no ticks */
    ck_assert_double_eq(resil_health_sys_cpu_percent(&b, &a), 0.0);
    resil_health_sys_sample idle_back = cpu(200, 70);
    ck_assert_double_eq(resil_health_sys_cpu_percent(&a, &idle_back), 100.0);
    resil_health_sys_sample idle_jump = cpu(110, 500);
    ck_assert_double_eq(resil_health_sys_cpu_percent(&a, &idle_jump), 0.0);
    /* near the top of the counters: no overflow */
    resil_health_sys_sample hi0 = cpu(UINT64_MAX - 100, UINT64_MAX - 200);
    resil_health_sys_sample hi1 = cpu(UINT64_MAX, UINT64_MAX - 150);
    ck_assert_double_eq(resil_health_sys_cpu_percent(&hi0, &hi1), 50.0);
    ck_assert_double_eq(resil_health_sys_cpu_percent(&zero, &hi1),
                        100.0 * 150 / (double)UINT64_MAX);
    ck_assert_double_eq(resil_health_sys_cpu_percent(&hi1, &zero), 0.0);
}
END_TEST

START_TEST(test_opts_init)
{
    resil_health_sys_opts o;
    memset(&o, 0xff, sizeof o);
    resil_health_sys_opts_init(&o);
    ck_assert_str_eq(o.proc_root, "/proc");
    ck_assert_str_eq(o.disk_path, "/");
    ck_assert_int_eq(o.kind, RESIL_HEALTH_READINESS);
    ck_assert_int_eq(o.interval_ns, 10 * SEC);
    ck_assert_int_eq(o.timeout_ns, 2 * SEC);
    ck_assert_double_eq(o.cpu_warn, 80);
    ck_assert_double_eq(o.cpu_fail, 95);
    ck_assert_double_eq(o.mem_warn, 85);
    ck_assert_double_eq(o.mem_fail, 95);
    ck_assert_double_eq(o.disk_warn, 85);
    ck_assert_double_eq(o.disk_fail, 95);
    ck_assert_double_eq(o.load_warn, 1.5);
    ck_assert_double_eq(o.load_fail, 3.0);
    ck_assert_double_eq(o.fds_warn, 80);
    ck_assert_double_eq(o.fds_fail, 95);
    ck_assert_double_eq(o.rss_warn, 0);
    ck_assert_double_eq(o.rss_fail, 0);
    ck_assert_double_eq(o.proc_cpu_warn, 0);
    ck_assert_double_eq(o.proc_cpu_fail, 0);
    ck_assert_uint_eq(o.skip, 0);
    for (int i = 0; i < 8; i++)
        ck_assert_uint_eq(o.reserved_[i], 0);
    resil_health_sys_opts_init(NULL);

    resil_health_component_opts c;
    memset(&c, 0xff, sizeof c);
    resil_health_component_opts_init(&c);
    ck_assert_ptr_null(c.name);
    ck_assert_int_eq(c.kind, RESIL_HEALTH_READINESS);
    ck_assert_int_eq(c.interval_ns, 5 * SEC);
    ck_assert_int_eq(c.timeout_ns, SEC);
    ck_assert_int_eq(c.critical, 1);
    ck_assert(isnan(c.warn) && isnan(c.fail)); /* each check's own default */
    ck_assert_uint_eq(c.min_requests, 100);
    for (int i = 0; i < 8; i++)
        ck_assert_uint_eq(c.reserved_[i], 0);
    resil_health_component_opts_init(NULL);
}
END_TEST

/* ---- the system checks through the registry ------------------------------ */

static const char *const g_sys_names[] = {
    "cpu:utilization", "memory:utilization", "disk:utilization", "load:load1PerCpu",
    "fds:utilization", "process:rss",        "process:cpu",
};

static resil_health *health_new(void)
{
    resil_health_opts o;
    resil_health_opts_init(&o);
    o.clock = g_clk;
    o.wall_clock = g_clk;
    resil_health *h = NULL;
    ck_assert_rc(resil_health_new(&o, &h), 0);
    return h;
}

/* One run of a check, to completion. */
static resil_health_check_info run(resil_health *h, const char *name)
{
    resil_health_check_info info;
    ck_assert_rc(resil_health_run(h, name), 0);
    ck_assert_rc(resil_health_wait(h, name, 5 * SEC), 0);
    ck_assert_rc(resil_health_check_get(h, name, &info), 0);
    return info;
}

static void expect(const resil_health_check_info *i, resil_health_status st,
                   const char *output)
{
    ck_assert_msg(i->status == st, "%s: status %s, want %s (output \"%s\")", i->name,
                  resil_health_status_name(i->status), resil_health_status_name(st),
                  i->output);
    if (output)
        ck_assert_str_eq(i->output, output);
}

static size_t count_checks(resil_health *h)
{
    resil_health_check_info *all;
    size_t n;
    ck_assert_rc(resil_health_snapshot(h, RESIL_HEALTH_BOTH, &all, &n), 0);
    resil_free(all);
    return n;
}

/* The first run of process:cpu: the ticks over the process's age, from
 * the fixture's self/stat starttime and uptime. */
static double proc_cpu_since_start(double ticks, double start_ticks, double uptime)
{
    double tps = (double)clk_tck();
    return ticks / tps / (uptime - start_ticks / tps) * 100.0;
}

START_TEST(test_sys_normal)
{
    resil_health *h = health_new();
    resil_health_sys_opts o = sys_opts(FIX("proc-normal"));
    o.disk_warn = o.disk_fail = 0; /* the build machine's disk is not ours */
    ck_assert_rc(resil_health_add_system(h, &o), 0);
    ck_assert_uint_eq(count_checks(h), 7);
    ck_assert_int_eq(resil_health_tick(h), 7); /* every first run is due */
    ck_assert_rc(resil_health_wait(h, NULL, 5 * SEC), 0);
    resil_health_check_info i[7];
    for (int k = 0; k < 7; k++) {
        ck_assert_rc(resil_health_check_get(h, g_sys_names[k], &i[k]), 0);
        ck_assert_uint_eq(i[k].runs, 1);
        ck_assert_int_eq(i[k].kind, RESIL_HEALTH_READINESS);
        ck_assert_int_eq(i[k].critical, 1);
        expect(&i[k], RESIL_HEALTH_PASS, "");
    }
    ck_assert_double_eq(i[0].observed_value, 10.0);
    ck_assert_str_eq(i[0].observed_unit, "percent");
    ck_assert_double_eq(i[1].observed_value, 25.0);
    ck_assert_str_eq(i[1].observed_unit, "percent");
    ck_assert(i[2].observed_value >= 0 && i[2].observed_value <= 100);
    ck_assert_str_eq(i[2].observed_unit, "percent");
    ck_assert_double_eq(i[3].observed_value, 0.52 / 4);
    ck_assert_str_eq(i[3].observed_unit, "");
    ck_assert_double_eq(i[4].observed_value, 10 * 100.0 / 1024);
    ck_assert_str_eq(i[4].observed_unit, "percent");
    ck_assert_double_eq(i[5].observed_value, 20480.0 * 1024);
    ck_assert_str_eq(i[5].observed_unit, "bytes");
    ck_assert_double_eq_tol(i[6].observed_value, proc_cpu_since_start(300, 50000, 1000),
                            1e-9);
    ck_assert_str_eq(i[6].observed_unit, "percent");
    resil_health_free(h);
}
END_TEST

START_TEST(test_sys_busy)
{
    resil_health *h = health_new();
    resil_health_sys_opts o = sys_opts(FIX("proc-busy"));
    o.skip = RESIL_HEALTH_SYS_DISK;
    ck_assert_rc(resil_health_add_system(h, &o), 0);
    resil_health_check_info i = run(h, "cpu:utilization");
    expect(&i, RESIL_HEALTH_WARN, "cpu 92.0 % busy since boot (warn at 80 %)");
    i = run(h, "memory:utilization");
    expect(&i, RESIL_HEALTH_WARN, "memory 91.2 % used (warn at 85 %)");
    ck_assert_double_eq_tol(i.observed_value, 91.2, 1e-9);
    i = run(h, "load:load1PerCpu");
    expect(&i, RESIL_HEALTH_FAIL, "load1 3.50 per cpu, 7.00 on 2 cpus (fail at 3)");
    ck_assert_double_eq(i.observed_value, 3.5);
    i = run(h, "fds:utilization");
    expect(&i, RESIL_HEALTH_FAIL, "open files 19 of 20, 95.0 % (fail at 95 %)");
    i = run(h, "process:rss");
    expect(&i, RESIL_HEALTH_PASS, ""); /* report only by default */
    ck_assert_double_eq(i.observed_value, 1073741824.0);
    i = run(h, "process:cpu");
    expect(&i, RESIL_HEALTH_PASS, "");
    ck_assert_double_eq_tol(i.observed_value, proc_cpu_since_start(50000, 0, 1000), 1e-9);
    ck_assert_int_eq(resil_health_status_get(h, RESIL_HEALTH_READINESS),
                     RESIL_HEALTH_FAIL);
    resil_health_free(h);
}
END_TEST

/* The thresholds of one check, by its bit. */
static void set_thresholds(resil_health_sys_opts *o, unsigned bit, double warn,
                           double fail)
{
    double *w, *f;
    switch (bit) {
    case RESIL_HEALTH_SYS_CPU:
        w = &o->cpu_warn;
        f = &o->cpu_fail;
        break;
    case RESIL_HEALTH_SYS_MEMORY:
        w = &o->mem_warn;
        f = &o->mem_fail;
        break;
    case RESIL_HEALTH_SYS_DISK:
        w = &o->disk_warn;
        f = &o->disk_fail;
        break;
    case RESIL_HEALTH_SYS_LOAD:
        w = &o->load_warn;
        f = &o->load_fail;
        break;
    case RESIL_HEALTH_SYS_FDS:
        w = &o->fds_warn;
        f = &o->fds_fail;
        break;
    case RESIL_HEALTH_SYS_RSS:
        w = &o->rss_warn;
        f = &o->rss_fail;
        break;
    default:
        w = &o->proc_cpu_warn;
        f = &o->proc_cpu_fail;
        break;
    }
    *w = warn;
    *f = fail;
}

/* A fresh registry with one system check and these thresholds; its first
 * run. */
static resil_health_check_info one_run(const char *root, int k, double warn, double fail)
{
    unsigned bit = 1u << k;
    resil_health *h = health_new();
    resil_health_sys_opts o = sys_opts(root);
    o.skip = ALL_SYS & ~bit;
    set_thresholds(&o, bit, warn, fail);
    ck_assert_rc(resil_health_add_system(h, &o), 0);
    ck_assert_uint_eq(count_checks(h), 1);
    resil_health_check_info i = run(h, g_sys_names[k]);
    resil_health_free(h);
    return i;
}

/* Warn and fail at or above, just below is a pass, <= 0 is off: for each
 * check, at its exact value on the fixture. */
START_TEST(test_sys_thresholds)
{
    const char *root = FIX("proc-normal");
    double v = one_run(root, _i, 0, 0).observed_value;
    ck_assert(v > 0);
    double above = nextafter(v, INFINITY);
    if (_i == 2) /* the disk may change a little between runs */
        above = v + 1;
    resil_health_check_info i = one_run(root, _i, above, 0);
    expect(&i, RESIL_HEALTH_PASS, "");
    if (_i != 2)
        ck_assert_double_eq(i.observed_value, v);
    if (_i == 2)
        v /= 2;
    i = one_run(root, _i, v, 0);
    expect(&i, RESIL_HEALTH_WARN, NULL);
    ck_assert_ptr_nonnull(strstr(i.output, "(warn at "));
    i = one_run(root, _i, v, _i == 2 ? v * 4 : above);
    expect(&i, RESIL_HEALTH_WARN, NULL);
    i = one_run(root, _i, v / 2, v);
    expect(&i, RESIL_HEALTH_FAIL, NULL);
    ck_assert_ptr_nonnull(strstr(i.output, "(fail at "));
    i = one_run(root, _i, 0, -1);
    expect(&i, RESIL_HEALTH_PASS, "");
    i = one_run(root, _i, -5, v);
    expect(&i, RESIL_HEALTH_FAIL, NULL);
}
END_TEST

START_TEST(test_sys_outputs)
{
    const char *root = FIX("proc-normal");
    resil_health_check_info i = one_run(root, 1, 25, 0);
    expect(&i, RESIL_HEALTH_WARN, "memory 25.0 % used (warn at 25 %)");
    i = one_run(root, 0, 5, 10);
    expect(&i, RESIL_HEALTH_FAIL, "cpu 10.0 % busy since boot (fail at 10 %)");
    i = one_run(root, 3, 0.125, 0);
    expect(&i, RESIL_HEALTH_WARN, "load1 0.13 per cpu, 0.52 on 4 cpus (warn at 0.13)");
    i = one_run(root, 5, 20971520, 0);
    expect(&i, RESIL_HEALTH_WARN, "process rss 20.0 MiB (warn at 20.0 MiB)");
    i = one_run(root, 4, 0.5, 0);
    expect(&i, RESIL_HEALTH_WARN, "open files 10 of 1024, 1.0 % (warn at 0.5 %)");
    i = one_run(root, 2, 0.001, 0);
    char want[512];
    snprintf(want, sizeof want, "disk %s ", FIXTURE_DIR);
    ck_assert_msg(strncmp(i.output, want, strlen(want)) == 0, "%s", i.output);
}
END_TEST

static void write_stat(const char *root, unsigned long long user, unsigned long long idle,
                       unsigned long long iowait)
{
    char text[512];
    snprintf(text, sizeof text,
             "cpu  %llu 100 800 %llu %llu 200 200 100 0 0\n"
             "cpu0 1 2 3 4\ncpu1 1 2 3 4\ncpu2 1 2 3 4\ncpu3 1 2 3 4\nintr 5\n",
             user, idle, iowait);
    write_file(root, "stat", text);
}

/* The first run is since boot, later ones since the previous run. */
START_TEST(test_sys_cpu_delta)
{
    char *root = tree_new(FIX("proc-normal"));
    resil_health *h = health_new();
    resil_health_sys_opts o = sys_opts(root);
    o.skip = ALL_SYS & ~RESIL_HEALTH_SYS_CPU;
    ck_assert_rc(resil_health_add_system(h, &o), 0);
    resil_health_check_info i = run(h, "cpu:utilization");
    ck_assert_double_eq(i.observed_value, 10.0);
    write_stat(root, 4350, 44650, 600); /* +1000 ticks, 250 idle */
    i = run(h, "cpu:utilization");
    expect(&i, RESIL_HEALTH_PASS, "");
    ck_assert_double_eq(i.observed_value, 75.0);
    write_stat(root, 5250, 44750, 600); /* +1000 ticks, 100 idle */
    i = run(h, "cpu:utilization");
    expect(&i, RESIL_HEALTH_WARN, "cpu 90.0 % busy (warn at 80 %)");
    i = run(h, "cpu:utilization"); /* no tick passed */
    expect(&i, RESIL_HEALTH_PASS, "");
    ck_assert_double_eq(i.observed_value, 0.0);
    write_stat(root, 3600, 44500, 500); /* went backwards: no ticks */
    i = run(h, "cpu:utilization");
    ck_assert_double_eq(i.observed_value, 0.0);
    write_stat(root, 3600 + 960, 44500, 500 + 40); /* on from there */
    i = run(h, "cpu:utilization");
    expect(&i, RESIL_HEALTH_FAIL, "cpu 96.0 % busy (fail at 95 %)");
    ck_assert_uint_eq(i.runs, 6);
    resil_health_free(h);
    tree_free(root);
}
END_TEST

/* The first run is since the process started; later runs divide by the
 * real time between the runs, so only zero / nonzero is exact here. */
START_TEST(test_sys_proc_cpu_delta)
{
    char *root = tree_new(FIX("proc-normal"));
    resil_health *h = health_new();
    resil_health_sys_opts o = sys_opts(root);
    o.skip = ALL_SYS & ~RESIL_HEALTH_SYS_PROC_CPU;
    o.proc_cpu_warn = 1e-6;
    ck_assert_rc(resil_health_add_system(h, &o), 0);
    resil_health_check_info i = run(h, "process:cpu");
    expect(&i, RESIL_HEALTH_WARN, NULL);
    ck_assert_ptr_nonnull(strstr(i.output, "% of one cpu since start (warn at "));
    ck_assert_double_eq_tol(i.observed_value, proc_cpu_since_start(300, 50000, 1000),
                            1e-9);
    i = run(h, "process:cpu"); /* no tick */
    expect(&i, RESIL_HEALTH_PASS, "");
    ck_assert_double_eq(i.observed_value, 0.0);
    write_file(
        root, "self/stat",
        "12345 (x) (y) S 1 12345 12345 0 -1 4194560 1000 0 0 0 350 50 0 0 20 0 4 0 "
        "50000 256000000 5120\n");
    i = run(h, "process:cpu");
    expect(&i, RESIL_HEALTH_WARN, NULL);
    ck_assert(i.observed_value > 0 && isfinite(i.observed_value));
    ck_assert_ptr_null(strstr(i.output, "since start"));
    ck_assert_int_eq(strncmp(i.output, "process cpu ", 12), 0);
    resil_health_free(h);
    tree_free(root);
}
END_TEST

START_TEST(test_sys_fds)
{
    char *root = tree_new(FIX("proc-normal"));
    write_file(root, "self/limits",
               "Max open files            10          10        files\n");
    resil_health_check_info i = one_run(root, 4, 80, 95);
    expect(&i, RESIL_HEALTH_FAIL, "open files 10 of 10, 100.0 % (fail at 95 %)");
    ck_assert_double_eq(i.observed_value, 100.0);
    write_file(root, "self/limits",
               "Max open files            11          20        files\n");
    i = one_run(root, 4, 80, 95);
    expect(&i, RESIL_HEALTH_WARN, NULL);
    write_file(root, "self/limits",
               "Max open files            unlimited   unlimited files\n");
    i = one_run(root, 4, 80, 95);
    expect(&i, RESIL_HEALTH_PASS, "");
    ck_assert_double_eq(i.observed_value, 0.0);
    tree_free(root);
}
END_TEST

/* A reading that fails warns with the reader's message; the other checks
 * are not affected. */
START_TEST(test_sys_read_errors)
{
    char *root = tree_new(FIX("proc-normal"));
    tree_rm(root, "meminfo");
    char want[1024];
    snprintf(want, sizeof want, "%s/uptime", root);
    copy_file(FIX("proc-broken/uptime-junk"), want);
    resil_health *h = health_new();
    resil_health_sys_opts o = sys_opts(root);
    o.disk_path = "/nonexistent-resil-disk";
    ck_assert_rc(resil_health_add_system(h, &o), 0);
    resil_health_check_info i = run(h, "memory:utilization");
    snprintf(want, sizeof want,
             "cannot measure: %s/meminfo: cannot open: No such file or directory", root);
    expect(&i, RESIL_HEALTH_WARN, want);
    ck_assert(isnan(i.observed_value));
    ck_assert_str_eq(i.observed_unit, "percent");
    i = run(h, "process:cpu");
    snprintf(want, sizeof want, "cannot measure: %s/uptime:1: malformed uptime", root);
    expect(&i, RESIL_HEALTH_WARN, want);
    i = run(h, "disk:utilization");
    expect(&i, RESIL_HEALTH_WARN,
           "cannot measure: /nonexistent-resil-disk: statvfs: No such file or directory");
    i = run(h, "cpu:utilization");
    expect(&i, RESIL_HEALTH_PASS, "");
    tree_rm(root, "self/fd");
    i = run(h, "fds:utilization");
    snprintf(want, sizeof want,
             "cannot measure: %s/self/fd: cannot open: No such file or directory", root);
    expect(&i, RESIL_HEALTH_WARN, want);
    resil_health_free(h);
    tree_free(root);
}
END_TEST

START_TEST(test_sys_skip_and_args)
{
    resil_health *h = health_new();
    resil_health_sys_opts o = sys_opts(FIX("proc-normal"));
    resil_health_check_info i;
    o.skip = RESIL_HEALTH_SYS_CPU | RESIL_HEALTH_SYS_DISK;
    ck_assert_rc(resil_health_add_system(h, &o), 0);
    ck_assert_uint_eq(count_checks(h), 5);
    ck_assert_rc(resil_health_check_get(h, "cpu:utilization", &i), RESIL_ENOENT);
    ck_assert_rc(resil_health_check_get(h, "disk:utilization", &i), RESIL_ENOENT);
    ck_assert_rc(resil_health_check_get(h, "memory:utilization", &i), 0);
    resil_health_free(h);

    h = health_new();
    o.skip = ALL_SYS;
    ck_assert_rc(resil_health_add_system(h, &o), 0);
    ck_assert_uint_eq(count_checks(h), 0);
    o.skip = 0x80;
    ck_assert_rc(resil_health_add_system(h, &o), RESIL_EINVAL);
    o.skip = 0;
    o.mem_warn = NAN;
    ck_assert_rc(resil_health_add_system(h, &o), RESIL_EINVAL);
    o = sys_opts("");
    ck_assert_rc(resil_health_add_system(h, &o), RESIL_EINVAL);
    o = sys_opts(FIX("proc-normal"));
    o.disk_path = "";
    ck_assert_rc(resil_health_add_system(h, &o), RESIL_EINVAL);
    o.disk_path = NULL; /* "/" */
    o.interval_ns = 0;  /* refused by resil_health_add */
    ck_assert_rc(resil_health_add_system(h, &o), RESIL_EINVAL);
    ck_assert_uint_eq(count_checks(h), 0);
    ck_assert_rc(resil_health_add_system(NULL, &o), RESIL_EINVAL);
    ck_assert_rc(resil_health_add_system(NULL, NULL), RESIL_EINVAL);

    o = sys_opts(FIX("proc-normal"));
    o.kind = RESIL_HEALTH_LIVENESS;
    o.skip = ALL_SYS & ~RESIL_HEALTH_SYS_LOAD;
    ck_assert_rc(resil_health_add_system(h, &o), 0);
    ck_assert_rc(resil_health_check_get(h, "load:load1PerCpu", &i), 0);
    ck_assert_int_eq(i.kind, RESIL_HEALTH_LIVENESS);
    resil_health_free(h);
}
END_TEST

/* NULL options: the real /proc and "/"; every check reads it. */
START_TEST(test_sys_real_proc)
{
    resil_health *h = health_new();
    ck_assert_rc(resil_health_add_system(h, NULL), 0);
    ck_assert_int_eq(resil_health_tick(h), 7);
    ck_assert_rc(resil_health_wait(h, NULL, 5 * SEC), 0);
    for (int k = 0; k < 7; k++) {
        resil_health_check_info i;
        ck_assert_rc(resil_health_check_get(h, g_sys_names[k], &i), 0);
        ck_assert_uint_eq(i.runs, 1);
        ck_assert_msg(isfinite(i.observed_value), "%s: %s", i.name, i.output);
        ck_assert_ptr_null(strstr(i.output, "cannot measure"));
    }
    resil_health_free(h);
}
END_TEST

static int dummy_check(void *ctx, int64_t deadline, resil_health_result *r)
{
    (void)ctx;
    (void)deadline;
    (void)r;
    return 0;
}

static void add_dummy(resil_health *h, const char *name)
{
    resil_health_check_opts o;
    resil_health_check_opts_init(&o);
    o.name = name;
    o.fn = dummy_check;
    ck_assert_rc(resil_health_add(h, &o), 0);
}

/* A failure part way leaves none of the system checks behind. */
START_TEST(test_sys_all_or_nothing)
{
    resil_health *h = health_new();
    resil_health_sys_opts o = sys_opts(FIX("proc-normal"));
    add_dummy(h, "load:load1PerCpu"); /* the fourth to be added */
    ck_assert_rc(resil_health_add_system(h, &o), RESIL_EEXIST);
    ck_assert_uint_eq(count_checks(h), 1);
    resil_health_free(h);

    h = health_new();
    char name[64];
    for (int k = 0; k < RESIL_HEALTH_MAX_CHECKS - 3; k++) {
        snprintf(name, sizeof name, "dummy:%03d", k);
        add_dummy(h, name);
    }
    ck_assert_rc(resil_health_add_system(h, &o), RESIL_EFULL);
    ck_assert_uint_eq(count_checks(h), RESIL_HEALTH_MAX_CHECKS - 3);
    resil_health_free(h);
}
END_TEST

START_TEST(test_sys_alloc_failure)
{
    resil_health_sys_opts o = sys_opts(FIX("proc-normal"));
    int rc = RESIL_ENOMEM;
    for (long n = 0; rc != 0; n++) {
        ck_assert_int_lt(n, 1000);
        resil_health *h = health_new();
        tu_alloc_fail_at(n);
        rc = resil_health_add_system(h, &o);
        tu_alloc_reset();
        if (rc != 0) {
            ck_assert_rc(rc, RESIL_ENOMEM);
            ck_assert_uint_eq(count_checks(h), 0);
        } else {
            ck_assert_uint_eq(count_checks(h), 7);
        }
        resil_health_free(h);
    }
}
END_TEST

/* Out of descriptors: the open-files check cannot even count, and that is
 * a fail, not a "cannot measure" warning. */
START_TEST(test_sys_fds_exhausted)
{
    resil_health *h = health_new();
    resil_health_sys_opts o;
    resil_health_sys_opts_init(&o);
    o.skip = ALL_SYS & ~RESIL_HEALTH_SYS_FDS;
    ck_assert_rc(resil_health_add_system(h, &o), 0);
    resil_health_check_info i = run(h, "fds:utilization"); /* its thread exists now */
    ck_assert_int_ne(i.status, RESIL_HEALTH_FAIL);
    struct rlimit old, low;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    int fd = open("/dev/null", O_RDONLY); /* the lowest free descriptor */
    ck_assert_int_ge(fd, 0);
    close(fd);
    low = old;
    low.rlim_cur = (rlim_t)fd; /* no descriptor left */
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    int rc = resil_health_run(h, "fds:utilization");
    int wrc = resil_health_wait(h, "fds:utilization", 5 * SEC);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    ck_assert_rc(rc, 0);
    ck_assert_rc(wrc, 0);
    ck_assert_rc(resil_health_check_get(h, "fds:utilization", &i), 0);
    expect(&i, RESIL_HEALTH_FAIL, NULL);
    ck_assert_msg(strstr(i.output, "/proc/self/fd: cannot open: Too many open files"),
                  "%s", i.output);
    resil_health_free(h);
}
END_TEST

/* ---- breaker, limiter and cache checks ----------------------------------- */

static resil_breaker *breaker_new(const char *name)
{
    resil_breaker_opts o;
    resil_breaker_opts_init(&o);
    o.name = name;
    o.clock = g_clk;
    o.window_size = 10;
    o.minimum_calls = 2;
    o.half_open_probes = 1;
    o.open_base_ns = 10 * SEC;
    o.open_jitter = 0;
    resil_breaker *b = NULL;
    ck_assert_rc(resil_breaker_new(&o, &b), 0);
    return b;
}

static void breaker_call(resil_breaker *b, resil_outcome oc)
{
    resil_breaker_ticket t;
    ck_assert_rc(resil_breaker_acquire(b, &t), 0);
    ck_assert_rc(resil_breaker_record(b, t, oc, 0), 0);
}

START_TEST(test_breaker_check)
{
    resil_health *h = health_new();
    resil_breaker *b = breaker_new("youtube_api");
    const char *n = "youtube_api:circuit";
    ck_assert_rc(resil_health_add_breaker(h, b, NULL), 0);
    resil_health_check_info i = run(h, n);
    expect(&i, RESIL_HEALTH_PASS, "");
    ck_assert_double_eq(i.observed_value, 0.0);
    ck_assert_str_eq(i.observed_unit, "percent");
    ck_assert_int_eq(i.kind, RESIL_HEALTH_READINESS);
    ck_assert_int_eq(i.critical, 1);

    breaker_call(b, RESIL_OUTCOME_FAILURE);
    breaker_call(b, RESIL_OUTCOME_FAILURE); /* 2 of 2 failed: open */
    i = run(h, n);
    expect(&i, RESIL_HEALTH_FAIL, "circuit youtube_api is open, retry in 10.0 s");
    ck_assert_double_eq(i.observed_value, 100.0);
    ck_assert_rc(resil_clock_manual_advance(g_clk, 2300 * RESIL_NS_PER_MS), 0);
    i = run(h, n);
    expect(&i, RESIL_HEALTH_FAIL, "circuit youtube_api is open, retry in 7.7 s");
    ck_assert_rc(resil_clock_manual_advance(g_clk, 7700 * RESIL_NS_PER_MS), 0);
    i = run(h, n); /* the check's own look moves it on */
    expect(&i, RESIL_HEALTH_WARN, "circuit youtube_api is half-open, probing");
    ck_assert_int_eq(resil_breaker_state_get(b), RESIL_BREAKER_HALF_OPEN);
    breaker_call(b, RESIL_OUTCOME_SUCCESS); /* the probe closes it */
    i = run(h, n);
    expect(&i, RESIL_HEALTH_PASS, "");
    ck_assert_rc(resil_breaker_set_mode(b, RESIL_BREAKER_FORCED_OPEN), 0);
    i = run(h, n);
    expect(&i, RESIL_HEALTH_FAIL, "circuit youtube_api is forced open");
    ck_assert_rc(resil_breaker_set_mode(b, RESIL_BREAKER_NORMAL), 0);
    i = run(h, n);
    expect(&i, RESIL_HEALTH_PASS, "");
    ck_assert_rc(resil_health_remove(h, n), 0);
    resil_health_free(h);
    resil_breaker_free(b);
}
END_TEST

START_TEST(test_breaker_names)
{
    resil_health *h = health_new();
    resil_breaker *anon = breaker_new(NULL), *empty = breaker_new("");
    resil_breaker *odd = breaker_new("a:b\"c\\d e\x01\xc3\xa9");
    char longname[201];
    memset(longname, 'x', 200);
    longname[200] = '\0';
    resil_breaker *lng = breaker_new(longname);
    resil_health_check_info i;

    ck_assert_rc(resil_health_add_breaker(h, anon, NULL), 0);
    ck_assert_rc(resil_health_check_get(h, "breaker:circuit", &i), 0);
    ck_assert_rc(resil_health_add_breaker(h, empty, NULL), RESIL_EEXIST);
    ck_assert_rc(resil_health_add_breaker(h, odd, NULL), 0);
    ck_assert_rc(resil_health_check_get(h, "a_b_c_d e___:circuit", &i), 0);
    ck_assert_rc(resil_health_add_breaker(h, lng, NULL), 0);
    char want[RESIL_HEALTH_MAX_NAME];
    memset(want, 'x', 119);
    strcpy(want + 119, ":circuit");
    ck_assert_uint_eq(strlen(want), RESIL_HEALTH_MAX_NAME - 1);
    ck_assert_rc(resil_health_check_get(h, want, &i), 0);

    resil_health_component_opts o;
    resil_health_component_opts_init(&o);
    o.name = "payments:breaker";
    o.kind = RESIL_HEALTH_LIVENESS;
    o.critical = 0;
    ck_assert_rc(resil_health_add_breaker(h, empty, &o), 0);
    ck_assert_rc(resil_breaker_set_mode(empty, RESIL_BREAKER_FORCED_OPEN), 0);
    i = run(h, "payments:breaker");
    expect(&i, RESIL_HEALTH_FAIL, "circuit breaker is forced open");
    ck_assert_int_eq(i.kind, RESIL_HEALTH_LIVENESS);
    ck_assert_int_eq(i.critical, 0);
    i = run(h, want);
    expect(&i, RESIL_HEALTH_PASS, "");
    resil_health_free(h);
    resil_breaker_free(anon);
    resil_breaker_free(empty);
    resil_breaker_free(odd);
    resil_breaker_free(lng);
}
END_TEST

static resil_limiter *limiter_new(void)
{
    resil_limiter_opts o;
    resil_limiter_opts_init(&o);
    o.rate = 1;
    o.burst = 10;
    o.clock = g_clk;
    resil_limiter *l = NULL;
    ck_assert_rc(resil_limiter_new(&o, &l), 0);
    return l;
}

static double limiter_pct(resil_limiter *l)
{
    resil_limiter_stats st;
    resil_limiter_stats_get(l, &st);
    return st.utilisation * 100.0;
}

START_TEST(test_limiter_check)
{
    resil_health *h = health_new();
    resil_limiter *l = limiter_new();
    const char *n = "limiter:utilization";
    ck_assert_rc(resil_health_add_limiter(h, l, NULL), 0); /* warn 90, fail off */
    resil_health_check_info i = run(h, n);
    expect(&i, RESIL_HEALTH_PASS, "");
    ck_assert_double_eq(i.observed_value, 0.0);
    ck_assert_str_eq(i.observed_unit, "percent");
    ck_assert_rc(resil_limiter_try_acquire(l, 8, NULL), 0);
    i = run(h, n);
    expect(&i, RESIL_HEALTH_PASS, "");
    ck_assert_double_eq(i.observed_value, limiter_pct(l));
    ck_assert_double_eq_tol(i.observed_value, 80.0, 1e-9);
    ck_assert_rc(resil_limiter_try_acquire(l, 2, NULL), 0);
    i = run(h, n);
    expect(&i, RESIL_HEALTH_WARN, "rate limiter 100.0 % utilised (warn at 90 %)");
    ck_assert_rc(resil_health_remove(h, n), 0);

    /* opts from opts_init give the same defaults; then an exact edge */
    resil_health_component_opts o;
    resil_health_component_opts_init(&o);
    ck_assert_rc(resil_health_add_limiter(h, l, &o), 0);
    i = run(h, n);
    expect(&i, RESIL_HEALTH_WARN, NULL);
    ck_assert_rc(resil_health_remove(h, n), 0);
    double v = limiter_pct(l);
    o.warn = nextafter(v, INFINITY);
    ck_assert_rc(resil_health_add_limiter(h, l, &o), 0);
    i = run(h, n);
    expect(&i, RESIL_HEALTH_PASS, "");
    ck_assert_rc(resil_health_remove(h, n), 0);
    o.warn = 0;
    o.fail = v;
    o.name = "api:limiter";
    ck_assert_rc(resil_health_add_limiter(h, l, &o), 0);
    i = run(h, "api:limiter");
    expect(&i, RESIL_HEALTH_FAIL, "rate limiter 100.0 % utilised (fail at 100 %)");
    o.fail = -1; /* both off */
    ck_assert_rc(resil_health_add_limiter(h, l, &o), RESIL_EEXIST);
    o.name = NULL;
    ck_assert_rc(resil_health_add_limiter(h, l, &o), 0);
    i = run(h, n);
    expect(&i, RESIL_HEALTH_PASS, "");
    resil_health_free(h);
    resil_limiter_free(l);
}
END_TEST

static void cache_gets(resil_cache *c, int hits, int misses)
{
    char buf[16];
    size_t len;
    for (int k = 0; k < hits; k++)
        ck_assert_rc(resil_cache_get(c, "k", 1, buf, sizeof buf, &len), 0);
    for (int k = 0; k < misses; k++)
        ck_assert_rc(resil_cache_get(c, "nope", 4, buf, sizeof buf, &len), RESIL_ENOENT);
}

static resil_cache *cache_new(void)
{
    resil_cache_opts o;
    resil_cache_opts_init(&o);
    o.max_entries = 64;
    o.clock = g_clk;
    o.default_ttl_ns = RESIL_TIME_NEVER;
    resil_cache *c = NULL;
    ck_assert_rc(resil_cache_new(&o, &c), 0);
    ck_assert_rc(resil_cache_set(c, "k", 1, "v", 1, 0), 0);
    return c;
}

START_TEST(test_cache_check)
{
    resil_health *h = health_new();
    resil_cache *c = cache_new();
    const char *n = "cache:hitRate";
    cache_gets(c, 0, 200); /* before the check: not counted */
    resil_health_component_opts o;
    resil_health_component_opts_init(&o);
    o.min_requests = 10;
    o.warn = 50;
    o.fail = 20;
    ck_assert_rc(resil_health_add_cache(h, c, &o), 0);
    resil_health_check_info i = run(h, n);
    expect(&i, RESIL_HEALTH_PASS, "not enough requests (0 < 10)");
    ck_assert_str_eq(i.observed_unit, "percent");
    cache_gets(c, 5, 0);
    i = run(h, n);
    expect(&i, RESIL_HEALTH_PASS, "not enough requests (5 < 10)");
    ck_assert_double_eq(i.observed_value, 100.0);
    cache_gets(c, 3, 7);
    i = run(h, n);
    expect(&i, RESIL_HEALTH_WARN, "cache hit rate 30.0 % over 10 gets (warn below 50 %)");
    ck_assert_double_eq(i.observed_value, 30.0);
    cache_gets(c, 1, 9);
    i = run(h, n);
    expect(&i, RESIL_HEALTH_FAIL, "cache hit rate 10.0 % over 10 gets (fail below 20 %)");
    i = run(h, n);
    expect(&i, RESIL_HEALTH_PASS, "no requests since the previous run");
    cache_gets(c, 1, 1); /* exactly at warn: not below */
    i = run(h, n);
    expect(&i, RESIL_HEALTH_PASS, "");
    ck_assert_double_eq(i.observed_value, 50.0);
    cache_gets(c, 8, 2);
    i = run(h, n);
    expect(&i, RESIL_HEALTH_PASS, "");
    ck_assert_double_eq(i.observed_value, 80.0);
    ck_assert_rc(resil_health_remove(h, n), 0);

    /* defaults: 100 gets before a verdict, no thresholds */
    ck_assert_rc(resil_health_add_cache(h, c, NULL), 0);
    cache_gets(c, 0, 99);
    i = run(h, n);
    expect(&i, RESIL_HEALTH_PASS, "not enough requests (99 < 100)");
    cache_gets(c, 0, 1);
    i = run(h, n);
    expect(&i, RESIL_HEALTH_PASS, "");
    ck_assert_double_eq(i.observed_value, 0.0);
    resil_health_free(h);
    resil_cache_free(c);
}
END_TEST

START_TEST(test_component_args)
{
    resil_health *h = health_new();
    resil_breaker *b = breaker_new("x");
    resil_limiter *l = limiter_new();
    resil_cache *c = cache_new();
    ck_assert_rc(resil_health_add_breaker(NULL, b, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_health_add_breaker(h, NULL, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_health_add_limiter(NULL, l, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_health_add_limiter(h, NULL, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_health_add_cache(NULL, c, NULL), RESIL_EINVAL);
    ck_assert_rc(resil_health_add_cache(h, NULL, NULL), RESIL_EINVAL);
    resil_health_component_opts o;
    resil_health_component_opts_init(&o);
    o.name = "no-colon";
    ck_assert_rc(resil_health_add_breaker(h, b, &o), RESIL_EINVAL);
    o.name = NULL;
    o.timeout_ns = 0;
    ck_assert_rc(resil_health_add_cache(h, c, &o), RESIL_EINVAL);
    ck_assert_uint_eq(count_checks(h), 0);
    resil_health_free(h);
    resil_breaker_free(b);
    resil_limiter_free(l);
    resil_cache_free(c);
}
END_TEST

START_TEST(test_component_alloc_failure)
{
    resil_breaker *b = breaker_new("x");
    resil_limiter *l = limiter_new();
    resil_cache *c = cache_new();
    for (int which = 0; which < 3; which++) {
        int rc = RESIL_ENOMEM;
        for (long n = 0; rc != 0; n++) {
            ck_assert_int_lt(n, 1000);
            resil_health *h = health_new();
            tu_alloc_fail_at(n);
            rc = which == 0   ? resil_health_add_breaker(h, b, NULL)
                 : which == 1 ? resil_health_add_limiter(h, l, NULL)
                              : resil_health_add_cache(h, c, NULL);
            tu_alloc_reset();
            if (rc != 0)
                ck_assert_rc(rc, RESIL_ENOMEM);
            ck_assert_uint_eq(count_checks(h), rc == 0 ? 1 : 0);
            resil_health_free(h);
        }
    }
    resil_breaker_free(b);
    resil_limiter_free(l);
    resil_cache_free(c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("health_sys");
    TCase *tc = tcase_create("read");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_read_normal);
    tcase_add_test(tc, test_read_busy);
    tcase_add_test(tc, test_read_real_proc);
    tcase_add_loop_test(tc, test_read_broken, 0,
                        (int)(sizeof g_broken / sizeof g_broken[0]));
    tcase_add_loop_test(tc, test_read_missing, 0, 7);
    tcase_add_test(tc, test_read_long_lines);
    tcase_add_test(tc, test_read_comm);
    tcase_add_test(tc, test_read_unlimited);
    tcase_add_test(tc, test_read_fifo);
    tcase_add_test(tc, test_read_disk_and_args);
    tcase_add_test(tc, test_cpu_percent);
    tcase_add_test(tc, test_opts_init);
    suite_add_tcase(s, tc);

    tc = tcase_create("system");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_sys_normal);
    tcase_add_test(tc, test_sys_busy);
    tcase_add_loop_test(tc, test_sys_thresholds, 0, 7);
    tcase_add_test(tc, test_sys_outputs);
    tcase_add_test(tc, test_sys_cpu_delta);
    tcase_add_test(tc, test_sys_proc_cpu_delta);
    tcase_add_test(tc, test_sys_fds);
    tcase_add_test(tc, test_sys_read_errors);
    tcase_add_test(tc, test_sys_skip_and_args);
    tcase_add_test(tc, test_sys_real_proc);
    tcase_add_test(tc, test_sys_all_or_nothing);
    tcase_add_test(tc, test_sys_alloc_failure);
    tcase_add_test(tc, test_sys_fds_exhausted);
    suite_add_tcase(s, tc);

    tc = tcase_create("component");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_breaker_check);
    tcase_add_test(tc, test_breaker_names);
    tcase_add_test(tc, test_limiter_check);
    tcase_add_test(tc, test_cache_check);
    tcase_add_test(tc, test_component_args);
    tcase_add_test(tc, test_component_alloc_failure);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
