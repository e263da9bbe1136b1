/* The system checks: CPU, memory, disk, load, open files, process RSS and
 * process CPU, each a check of its own in the registry (health.h), built
 * on the public registry API only.
 *
 * Each check reads only the files it needs (resil__sys_read_parts in
 * health_sys_read.c).  A reading that fails (no procfs in a container, a
 * disk path that went away) makes the check WARN with the reader's message:
 * "cannot measure" is worth a look, but is not evidence that the instance
 * is unhealthy, so it should not take it out of rotation.  The exception
 * is the open-files check failing because no descriptor is left: that is
 * the very condition it watches for, so it fails. */
#include "health_internal.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>


#define SYS_ALL 0x7fu

struct sys_check;

/* Turns a reading into status, value and output. */
typedef void (*sys_eval_fn)(struct sys_check *c, const resil_health_sys_sample *s,
                            double age_s, resil_health_result *r);

struct sys_def {
    unsigned bit;
    const char *name;
    const char *unit;
    sys_eval_fn eval;
};

/* The ctx of one system check. */
struct sys_check {
    const struct sys_def *def;
    char *root;
    char *disk;
    double warn, fail;
    /* Serialises the runs of this check, reading included, so the counters
     * kept for the next run always come from the latest reading.  The
     * registry runs one run of a check at a time; this costs nothing then
     * and keeps the deltas right if that ever changes. */
    pthread_mutex_t lock;
    int have_prev;
    uint64_t prev_total, prev_idle; /* cpu */
    uint64_t prev_ticks;            /* process cpu */
    int64_t prev_t_ns;
};

/* ---- options and the pure helpers --------------------------------------- */

void resil_health_sys_opts_init(resil_health_sys_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->proc_root = "/proc";
    o->disk_path = "/";
    o->kind = RESIL_HEALTH_READINESS;
    o->interval_ns = 10 * RESIL_NS_PER_SEC;
    o->timeout_ns = 2 * RESIL_NS_PER_SEC;
    o->cpu_warn = 80;
    o->cpu_fail = 95;
    o->mem_warn = 85;
    o->mem_fail = 95;
    o->disk_warn = 85;
    o->disk_fail = 95;
    o->load_warn = 1.5;
    o->load_fail = 3.0;
    o->fds_warn = 80;
    o->fds_fail = 95;
}

/* a - b, or 0 when the counter went backwards (reset, wrapped, or another
 * machine's reading): no ticks rather than a bogus huge delta. */
static uint64_t sub_sat(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

double resil_health_sys_cpu_percent(const resil_health_sys_sample *prev,
                                    const resil_health_sys_sample *cur)
{
    if (!prev || !cur)
        return 0;
    uint64_t dt = sub_sat(cur->cpu_total, prev->cpu_total);
    uint64_t di = sub_sat(cur->cpu_idle, prev->cpu_idle);
    if (dt == 0)
        return 0;
    if (di > dt)
        di = dt;
    return (double)(dt - di) * 100.0 / (double)dt;
}

/* Process CPU in % of one cpu: ticks used over seconds elapsed. */
static double proc_cpu_percent(uint64_t ticks, uint64_t ticks_per_sec, double seconds)
{
    if (ticks_per_sec == 0 || !(seconds > 0))
        return 0;
    return (double)ticks / (double)ticks_per_sec / seconds * 100.0;
}

/* ---- output text -------------------------------------------------------- */

/* v with `decimals` (0..3) digits after '.', whatever LC_NUMERIC says (the
 * report is for machines as much as for people); trim drops trailing
 * zeros ("85", "1.5").  Values past 1e15 are printed in exponent form. */
static void fmt_num(char *buf, size_t cap, double v, int decimals, int trim)
{
    static const double scale[] = {1, 10, 100, 1000};
    const char *sign = v < 0 ? "-" : "";
    double a = fabs(v);
    if (!isfinite(a) || a >= 1e15) {
        snprintf(buf, cap, "%s%.0e", sign, a);
        return;
    }
    uint64_t q = (uint64_t)(a * scale[decimals] + 0.5);
    uint64_t ip = q / (uint64_t)scale[decimals], fp = q % (uint64_t)scale[decimals];
    if (decimals == 0 || (trim && fp == 0)) {
        snprintf(buf, cap, "%s%llu", sign, (unsigned long long)ip);
        return;
    }
    int n = snprintf(buf, cap, "%s%llu.%0*llu", sign, (unsigned long long)ip, decimals,
                     (unsigned long long)fp);
    while (trim && n > 0 && (size_t)n < cap && buf[n - 1] == '0')
        buf[--n] = '\0';
}

/* "512.0 MiB" */
static void fmt_bytes(char *buf, size_t cap, double v)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    char num[32];
    fmt_num(num, sizeof num, v, u == 0 ? 0 : 1, 0);
    snprintf(buf, cap, "%s %s", num, units[u]);
}

/* "at or above" thresholds; <= 0 turns a level off.  *at gets the
 * threshold that was reached. */
static resil_health_status level_at_or_above(double v, double warn, double fail,
                                             double *at)
{
    if (fail > 0 && v >= fail) {
        *at = fail;
        return RESIL_HEALTH_FAIL;
    }
    if (warn > 0 && v >= warn) {
        *at = warn;
        return RESIL_HEALTH_WARN;
    }
    return RESIL_HEALTH_PASS;
}

/* Status from the thresholds; for warn and fail, output = what + "(warn at
 * 85 %)".  what is formatted by the caller; thresholds in the unit of the
 * check (bytes printed as such). */
static void judge(struct sys_check *c, resil_health_result *r, double v, const char *what)
{
    double at = 0;
    r->observed_value = v;
    r->status = level_at_or_above(v, c->warn, c->fail, &at);
    if (r->status == RESIL_HEALTH_PASS)
        return;
    char thr[48];
    if (c->def->bit == RESIL_HEALTH_SYS_RSS) {
        fmt_bytes(thr, sizeof thr, at);
    } else {
        fmt_num(thr, sizeof thr, at, 2, 1);
        if (strcmp(c->def->unit, "percent") == 0)
            strcat(thr, " %");
    }
    snprintf(r->output, sizeof r->output, "%.190s (%s at %.40s)", what,
             r->status == RESIL_HEALTH_FAIL ? "fail" : "warn", thr);
}

/* ---- the checks --------------------------------------------------------- */

static double used_percent(uint64_t total, uint64_t available)
{
    if (total == 0)
        return 0;
    if (available > total)
        available = total;
    return (double)(total - available) * 100.0 / (double)total;
}

static void eval_cpu(struct sys_check *c, const resil_health_sys_sample *s, double age_s,
                     resil_health_result *r)
{
    (void)age_s;
    resil_health_sys_sample prev = {.cpu_total = c->prev_total, .cpu_idle = c->prev_idle};
    double pct = resil_health_sys_cpu_percent(&prev, s); /* from 0: since boot */
    char num[32], what[96];
    fmt_num(num, sizeof num, pct, 1, 0);
    snprintf(what, sizeof what, "cpu %s %% busy%s", num,
             c->have_prev ? "" : " since boot");
    c->prev_total = s->cpu_total;
    c->prev_idle = s->cpu_idle;
    c->have_prev = 1;
    judge(c, r, pct, what);
}

static void eval_memory(struct sys_check *c, const resil_health_sys_sample *s,
                        double age_s, resil_health_result *r)
{
    (void)age_s;
    double pct = used_percent(s->mem_total, s->mem_available);
    char num[32], what[96];
    fmt_num(num, sizeof num, pct, 1, 0);
    snprintf(what, sizeof what, "memory %s %% used", num);
    judge(c, r, pct, what);
}

/* Used is what unprivileged users cannot have: blocks reserved for root
 * count as used, as the sample's disk_available (f_bavail) implies. */
static void eval_disk(struct sys_check *c, const resil_health_sys_sample *s, double age_s,
                      resil_health_result *r)
{
    (void)age_s;
    double pct = used_percent(s->disk_total, s->disk_available);
    char num[32], what[200];
    fmt_num(num, sizeof num, pct, 1, 0);
    snprintf(what, sizeof what, "disk %.120s %s %% used", c->disk, num);
    judge(c, r, pct, what);
}

static void eval_load(struct sys_check *c, const resil_health_sys_sample *s, double age_s,
                      resil_health_result *r)
{
    (void)age_s;
    double per = s->load1 / (double)s->ncpu; /* the reader made sure ncpu > 0 */
    char num[32], tot[32], what[128];
    fmt_num(num, sizeof num, per, 2, 0);
    fmt_num(tot, sizeof tot, s->load1, 2, 0);
    snprintf(what, sizeof what, "load1 %s per cpu, %s on %u cpus", num, tot,
             (unsigned)s->ncpu);
    judge(c, r, per, what);
}

static void eval_fds(struct sys_check *c, const resil_health_sys_sample *s, double age_s,
                     resil_health_result *r)
{
    (void)age_s;
    char what[128];
    if (s->fds_limit == 0) { /* unlimited: nothing to run out of */
        r->observed_value = 0;
        r->status = RESIL_HEALTH_PASS;
        return;
    }
    double pct = (double)s->fds_open * 100.0 / (double)s->fds_limit;
    char num[32];
    fmt_num(num, sizeof num, pct, 1, 0);
    snprintf(what, sizeof what, "open files %llu of %llu, %s %%",
             (unsigned long long)s->fds_open, (unsigned long long)s->fds_limit, num);
    judge(c, r, pct, what);
}

static void eval_rss(struct sys_check *c, const resil_health_sys_sample *s, double age_s,
                     resil_health_result *r)
{
    (void)age_s;
    char num[48], what[96];
    fmt_bytes(num, sizeof num, (double)s->proc_rss);
    snprintf(what, sizeof what, "process rss %s", num);
    judge(c, r, (double)s->proc_rss, what);
}

/* The first run measures since the process started (age_s from the
 * reader), later runs since the previous one, on CLOCK_MONOTONIC: the
 * registry passes no clock reading to a check. */
static void eval_proc_cpu(struct sys_check *c, const resil_health_sys_sample *s,
                          double age_s, resil_health_result *r)
{
    double pct;
    if (c->have_prev) {
        double dt = (double)(s->t_ns - c->prev_t_ns) / (double)RESIL_NS_PER_SEC;
        pct = proc_cpu_percent(sub_sat(s->proc_cpu_ticks, c->prev_ticks),
                               s->ticks_per_sec, dt);
    } else {
        pct = proc_cpu_percent(s->proc_cpu_ticks, s->ticks_per_sec, age_s);
    }
    char num[32], what[96];
    fmt_num(num, sizeof num, pct, 1, 0);
    snprintf(what, sizeof what, "process cpu %s %% of one cpu%s", num,
             c->have_prev ? "" : " since start");
    c->prev_ticks = s->proc_cpu_ticks;
    c->prev_t_ns = s->t_ns;
    c->have_prev = 1;
    judge(c, r, pct, what);
}

static const struct sys_def g_defs[] = {
    {RESIL_HEALTH_SYS_CPU, "cpu:utilization", "percent", eval_cpu},
    {RESIL_HEALTH_SYS_MEMORY, "memory:utilization", "percent", eval_memory},
    {RESIL_HEALTH_SYS_DISK, "disk:utilization", "percent", eval_disk},
    {RESIL_HEALTH_SYS_LOAD, "load:load1PerCpu", "", eval_load},
    {RESIL_HEALTH_SYS_FDS, "fds:utilization", "percent", eval_fds},
    {RESIL_HEALTH_SYS_RSS, "process:rss", "bytes", eval_rss},
    {RESIL_HEALTH_SYS_PROC_CPU, "process:cpu", "percent", eval_proc_cpu},
};
#define SYS_NDEFS (sizeof g_defs / sizeof g_defs[0])

static void report_read_error(struct sys_check *c, int sys_errno, const resil_error *err,
                              resil_health_result *r)
{
    int out_of_fds = sys_errno == EMFILE || sys_errno == ENFILE;
    r->status = (c->def->bit == RESIL_HEALTH_SYS_FDS && out_of_fds) ? RESIL_HEALTH_FAIL
                                                                    : RESIL_HEALTH_WARN;
    snprintf(r->output, sizeof r->output, "cannot measure: %.220s", err->text);
}

static int sys_check_run(void *ctx, int64_t deadline, resil_health_result *r)
{
    /* procfs reads do not block; statvfs on a hung network mount can, and
     * cannot be interrupted: the registry's timeout reports that */
    (void)deadline;
    struct sys_check *c = ctx;
    resil_health_sys_sample s;
    resil_error err;
    double age_s = 0;
    int sys_errno = 0;
    memset(&s, 0, sizeof s);
    snprintf(r->observed_unit, sizeof r->observed_unit, "%s", c->def->unit);
    pthread_mutex_lock(&c->lock);
    s.t_ns = resil_clock_now(NULL);
    int need_age = c->def->bit == RESIL_HEALTH_SYS_PROC_CPU && !c->have_prev;
    int rc = resil__sys_read_parts(c->root, c->disk, c->def->bit, &s,
                                   need_age ? &age_s : NULL, &sys_errno, &err);
    if (rc == 0)
        c->def->eval(c, &s, age_s, r);
    else
        report_read_error(c, sys_errno, &err, r);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

/* ---- adding them -------------------------------------------------------- */

static void sys_check_free(void *ctx)
{
    struct sys_check *c = ctx;
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    resil__free(c->root);
    resil__free(c->disk);
    resil__free(c);
}

static void thresholds_of(const resil_health_sys_opts *o, unsigned bit, double *w,
                          double *f)
{
    switch (bit) {
    case RESIL_HEALTH_SYS_CPU:
        *w = o->cpu_warn;
        *f = o->cpu_fail;
        break;
    case RESIL_HEALTH_SYS_MEMORY:
        *w = o->mem_warn;
        *f = o->mem_fail;
        break;
    case RESIL_HEALTH_SYS_DISK:
        *w = o->disk_warn;
        *f = o->disk_fail;
        break;
    case RESIL_HEALTH_SYS_LOAD:
        *w = o->load_warn;
        *f = o->load_fail;
        break;
    case RESIL_HEALTH_SYS_FDS:
        *w = o->fds_warn;
        *f = o->fds_fail;
        break;
    case RESIL_HEALTH_SYS_RSS:
        *w = o->rss_warn;
        *f = o->rss_fail;
        break;
    default:
        *w = o->proc_cpu_warn;
        *f = o->proc_cpu_fail;
        break;
    }
}

static int sys_check_new(const resil_health_sys_opts *o, const struct sys_def *def,
                         struct sys_check **out)
{
    struct sys_check *c = resil__calloc(1, sizeof *c);
    if (!c)
        return RESIL_ENOMEM;
    c->def = def;
    thresholds_of(o, def->bit, &c->warn, &c->fail);
    c->root = resil__strdup(o->proc_root ? o->proc_root : "/proc");
    if (!c->root)
        goto out_free_check;
    c->disk = resil__strdup(o->disk_path ? o->disk_path : "/");
    if (!c->disk)
        goto out_free_root;
    if (pthread_mutex_init(&c->lock, NULL) != 0)
        goto out_free_disk;
    *out = c;
    return 0;
out_free_disk:
    resil__free(c->disk);
out_free_root:
    resil__free(c->root);
out_free_check:
    resil__free(c);
    return RESIL_ENOMEM;
}

static int add_one(resil_health *h, const resil_health_sys_opts *o,
                   const struct sys_def *def)
{
    struct sys_check *c;
    int rc = sys_check_new(o, def, &c);
    if (rc != 0)
        return rc;
    resil_health_check_opts co;
    resil_health_check_opts_init(&co);
    co.name = def->name;
    co.fn = sys_check_run;
    co.ctx = c;
    co.ctx_free = sys_check_free;
    co.kind = o->kind;
    co.interval_ns = o->interval_ns;
    co.timeout_ns = o->timeout_ns;
    co.component_type = "system";
    rc = resil_health_add(h, &co);
    if (rc != 0)
        sys_check_free(c); /* on failure the registry did not take ctx */
    return rc;
}

static int sys_opts_valid(const resil_health_sys_opts *o)
{
    const double *t[] = {
        &o->cpu_warn,  &o->cpu_fail,  &o->mem_warn,      &o->mem_fail,     &o->disk_warn,
        &o->disk_fail, &o->load_warn, &o->load_fail,     &o->fds_warn,     &o->fds_fail,
        &o->rss_warn,  &o->rss_fail,  &o->proc_cpu_warn, &o->proc_cpu_fail};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (isnan(*t[i]))
            return 0;
    }
    if ((o->skip & ~SYS_ALL) != 0)
        return 0;
    return (!o->proc_root || o->proc_root[0] != '\0') &&
           (!o->disk_path || o->disk_path[0] != '\0');
}

int resil_health_add_system(resil_health *h, const resil_health_sys_opts *o)
{
    resil_health_sys_opts defaults;
    if (!o) {
        resil_health_sys_opts_init(&defaults);
        o = &defaults;
    }
    if (!h || !sys_opts_valid(o))
        return RESIL_EINVAL;
    size_t added = 0;
    const char *names[SYS_NDEFS];
    for (size_t i = 0; i < SYS_NDEFS; i++) {
        if (o->skip & g_defs[i].bit)
            continue;
        int rc = add_one(h, o, &g_defs[i]);
        if (rc != 0) {
            /* all or nothing: take back the ones this call added */
            while (added > 0)
                resil_health_remove(h, names[--added]);
            return rc;
        }
        names[added++] = g_defs[i].name;
    }
    return 0;
}
