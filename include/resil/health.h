/* libresil: health checks.
 *
 *   resil_health *h;
 *   resil_health_new(NULL, &h);
 *   resil_health_add_system(h, NULL);            // cpu, memory, disk, load,
 *                                                // fds, process rss and cpu
 *   resil_health_add_breaker(h, youtube, NULL);  // "youtube_api:circuit"
 *   resil_health_start(h);                       // the scheduler thread
 *   ...
 *   char *json;
 *   resil_health_render(h, RESIL_HEALTH_READINESS, &json, NULL);
 *   // {"status":"pass","checks":{"cpu:utilization":[{...}], ...}}
 *   resil_free(json);
 *
 * A registry holds named checks.  Each check has a function, an interval,
 * a timeout and a kind (liveness, readiness or both), and keeps the result
 * of its last completed run: status, observed value and unit, output text,
 * the time it completed and how long it took.
 *
 * Runs happen on threads, never on the thread asking for a report: every
 * check has its own runner thread (made on its first run), so a check that
 * hangs delays nothing but itself.  resil_health_tick() starts the runs
 * that are due and fails the runs that overran their timeout ("timed out
 * after 5000 ms"); the scheduler thread of resil_health_start() calls it
 * whenever the next run or deadline comes due.  Programs and tests that
 * drive time themselves (a manual clock) call resil_health_tick() instead
 * of starting the scheduler.  A run that overran is not started again until
 * its function returns; what it returns late is dropped.
 *
 * The contract for check functions: return within a bounded time (honour
 * the deadline you are given), never crash, never call longjmp or
 * pthread_exit.  A crash in a check is a crash of the process: the library
 * cannot contain it and does not try.  What it does contain is a check that
 * returns garbage: a status outside pass/warn/fail, an infinite observed
 * value (NaN means "none"), output that is not UTF-8 or not NUL-terminated within
 * its buffer, or a nonzero return: such a run is reported as failed, with
 * output saying what was wrong.
 *
 * Every function is safe to call from many threads on one registry. */
#ifndef RESIL_HEALTH_H
#define RESIL_HEALTH_H

#include <resil/alloc.h> /* resil_free() for what the renderers return */
#include <resil/breaker.h>
#include <resil/cache.h>
#include <resil/clock.h>
#include <resil/common.h>
#include <resil/error.h>
#include <resil/limiter.h>

RESIL_BEGIN_DECLS

typedef struct resil_health resil_health;

/* Checks per registry. */
#define RESIL_HEALTH_MAX_CHECKS 256
/* Bytes of a check name, NUL included: "component:measurement". */
#define RESIL_HEALTH_MAX_NAME 128
/* Bytes of a check's output text, NUL included. */
#define RESIL_HEALTH_MAX_OUTPUT 256
/* Bytes of an observed unit, NUL included ("percent", "bytes"). */
#define RESIL_HEALTH_MAX_UNIT 32

/* Ordered by badness: the aggregate is the worst of its checks. */
typedef enum resil_health_status {
    RESIL_HEALTH_PASS = 0,
    RESIL_HEALTH_WARN = 1,
    RESIL_HEALTH_FAIL = 2,
} resil_health_status;

/* A bit set: which reports a check counts in. */
typedef enum resil_health_kind {
    RESIL_HEALTH_LIVENESS = 1,  /* is the process alive (restart if not) */
    RESIL_HEALTH_READINESS = 2, /* can it serve (route traffic if so) */
    RESIL_HEALTH_BOTH = 3,
} resil_health_kind;

/* What one run of a check reports; the library zeroes it (value NaN) before
 * calling the check. */
typedef struct resil_health_result {
    resil_health_status status;
    double observed_value;                /* NaN: none */
    char observed_unit[RESIL_HEALTH_MAX_UNIT]; /* "" for none */
    char output[RESIL_HEALTH_MAX_OUTPUT];      /* why, for warn and fail;
                                                  "" for none */
} resil_health_result;

/* A check.  deadline is on the registry's clock: I/O inside the check
 * should not outlast it.  Fill r and return 0; a nonzero return is a
 * failed run whatever r says. */
typedef int (*resil_health_check_fn)(void *ctx, int64_t deadline, resil_health_result *r);
/* Releases a check's ctx when the check is removed or the registry freed. */
typedef void (*resil_health_ctx_free_fn)(void *ctx);

typedef struct resil_health_opts {
    const resil_clock *clock;      /* intervals, timeouts; NULL: monotonic */
    const resil_clock *wall_clock; /* the "time" field of reports, ns since
                                      the epoch; NULL: resil_clock_realtime() */
    /* Top-level fields of the health+json reports, copied; NULL leaves the
     * field out. */
    const char *service_id;
    const char *description;
    const char *version;
    const char *release_id;
    uint64_t reserved_[8]; /* zeroed by resil_health_opts_init() */
} resil_health_opts;

typedef struct resil_health_check_opts {
    const char *name; /* required, unique, "component:measurement" (one
                         colon, neither side empty), printable ASCII
                         without quotes or backslashes, shorter than
                         RESIL_HEALTH_MAX_NAME; copied */
    resil_health_check_fn fn;       /* required */
    void *ctx;                      /* passed to fn */
    resil_health_ctx_free_fn ctx_free; /* NULL: ctx is not owned */
    resil_health_kind kind;         /* default RESIL_HEALTH_READINESS */
    int64_t interval_ns;            /* >= 1 ms; default 10 s */
    int64_t timeout_ns;             /* >= 1 ms; default 5 s */
    int critical;                   /* nonzero (default): a fail makes the
                                       report fail; zero: at worst warn */
    const char *component_type;     /* "system", "component", "datastore";
                                       NULL: left out; copied */
    uint64_t reserved_[8]; /* zeroed by resil_health_check_opts_init() */
} resil_health_check_opts;

/* A check as it stands, from resil_health_check_get() and
 * resil_health_snapshot(). */
typedef struct resil_health_check_info {
    char name[RESIL_HEALTH_MAX_NAME];
    resil_health_kind kind;
    int critical;
    resil_health_status status; /* of the last completed run; PASS before
                                   the first (see runs) */
    double observed_value;      /* NaN: none */
    char observed_unit[RESIL_HEALTH_MAX_UNIT];
    char output[RESIL_HEALTH_MAX_OUTPUT];
    int64_t time_ns;      /* registry clock when the last run completed
                             (or timed out); 0 before the first */
    int64_t wall_time_ns; /* the wall clock at the same moment */
    int64_t duration_ns;  /* how long the last run took */
    int running;          /* a run is in progress now */
    uint64_t runs;        /* completed runs, timeouts included */
    uint64_t failures;    /* runs that ended in fail */
    uint64_t timeouts;    /* runs that overran their timeout */
    uint64_t consecutive_failures;
    uint64_t reserved_[8];
} resil_health_check_info;

/* ---- the registry ------------------------------------------------------- */
RESIL_API void resil_health_opts_init(resil_health_opts *o);
/* o may be NULL for the defaults.  RESIL_EINVAL, RESIL_ENOMEM. */
RESIL_API int resil_health_new(const resil_health_opts *o, resil_health **out);
/* Stops the scheduler, waits for running checks to return (a check that
 * never returns blocks this forever: that is the contract above), releases
 * every check's ctx.  Never call it from a check function.  NULL is a
 * no-op. */
RESIL_API void resil_health_free(resil_health *h);

RESIL_API void resil_health_check_opts_init(resil_health_check_opts *o);
/* Add a check; its first run is due at once.  RESIL_EINVAL for a bad name
 * or option, RESIL_EEXIST for a name in use, RESIL_EFULL past
 * RESIL_HEALTH_MAX_CHECKS, RESIL_ENOMEM.  On failure ctx is not released. */
RESIL_API int resil_health_add(resil_health *h, const resil_health_check_opts *o);
/* Remove a check; waits for a run in progress to return, then releases
 * ctx.  RESIL_ENOENT; RESIL_EBUSY when called from the check's own
 * function. */
RESIL_API int resil_health_remove(resil_health *h, const char *name);

/* ---- running ------------------------------------------------------------ */
/* Start the scheduler thread.  RESIL_ESTATE if it is running, RESIL_ESYS
 * if the thread cannot be made. */
RESIL_API int resil_health_start(resil_health *h);
/* Stop it and wait for it (not for the checks' runs).  RESIL_ESTATE if it
 * is not running. */
RESIL_API int resil_health_stop(resil_health *h);
/* One scheduling step at the registry clock's now: fail the runs past
 * their timeout, start the runs that are due.  Returns the number of runs
 * started (>= 0), or RESIL_ESYS / RESIL_ENOMEM if a runner thread could not
 * be made (that run is reported failed, with why). */
RESIL_API int resil_health_tick(resil_health *h);
/* Start a run of one check now, due or not.  RESIL_ENOENT, RESIL_EBUSY if
 * it is running, RESIL_ESYS, RESIL_ENOMEM. */
RESIL_API int resil_health_run(resil_health *h, const char *name);
/* Wait until the named check (NULL: every check) has no run in progress,
 * for at most max_wait_ns of real time: a bound on waiting for threads,
 * not for the registry clock.  RESIL_ETIMEDOUT if runs are still in
 * progress, RESIL_ENOENT. */
RESIL_API int resil_health_wait(resil_health *h, const char *name, int64_t max_wait_ns);

/* ---- results ------------------------------------------------------------ */
/* RESIL_ENOENT. */
RESIL_API int resil_health_check_get(resil_health *h, const char *name,
                                     resil_health_check_info *info);
/* Every check counting in `kind` (any bit in common), sorted by name, in an
 * array to release with resil_free(); *n its length (*out is NULL when 0).
 * RESIL_ENOMEM. */
RESIL_API int resil_health_snapshot(resil_health *h, resil_health_kind kind,
                                    resil_health_check_info **out, size_t *n);
/* The aggregate of the checks counting in `kind`: the worst status, a
 * non-critical fail counting as warn; PASS when there are none.  A check
 * that has not completed a run counts as PASS for liveness and FAIL for
 * readiness (not ready until known to be).  FAIL for NULL. */
RESIL_API resil_health_status resil_health_status_get(resil_health *h, resil_health_kind kind);
/* "pass", "warn", "fail"; "unknown" for other values. */
RESIL_API const char *resil_health_status_name(resil_health_status s);
/* The HTTP status an endpoint serving `kind` should answer with: 200 for
 * pass and warn, 503 for fail. */
RESIL_API int resil_health_http_status(resil_health_status s);

/* The report for `kind` as application/health+json (draft-inadarei-api-
 * health-check): status, the opts' serviceId, description, version and
 * releaseId, and "checks": {"component:measurement": [{status,
 * observedValue, observedUnit, time (RFC 3339, UTC), output,
 * componentType}]}, checks sorted by name, keys with no value left out.
 * *out is NUL-terminated, to release with resil_free(); *len (len may be
 * NULL) its length.  RESIL_ENOTSUP without jansson, RESIL_ENOMEM. */
RESIL_API int resil_health_render(resil_health *h, resil_health_kind kind, char **out,
                                  size_t *len);
/* "application/health+json". */
RESIL_API const char *resil_health_content_type(void);

/* ---- built-in checks ---------------------------------------------------- */
/* One reading of the system and of this process, from procfs and
 * statvfs(2).  Counters (cpu_*, proc_cpu_ticks) are totals since boot or
 * process start: utilisation comes from two readings. */
typedef struct resil_health_sys_sample {
    int64_t t_ns;              /* registry clock or caller's time */
    uint64_t cpu_total;        /* /proc/stat "cpu" line: the first eight
                                  fields (guest time is inside user) */
    uint64_t cpu_idle;         /* idle + iowait */
    uint32_t ncpu;             /* "cpuN" lines in /proc/stat */
    uint64_t mem_total;        /* bytes, /proc/meminfo MemTotal */
    uint64_t mem_available;    /* bytes, MemAvailable */
    double load1, load5, load15; /* /proc/loadavg */
    uint64_t disk_total;       /* bytes, statvfs of disk_path */
    uint64_t disk_available;   /* bytes available to unprivileged users */
    uint64_t fds_open;         /* entries of <proc>/self/fd (on the real
                                  procfs, without the handle used to
                                  count them) */
    uint64_t fds_limit;        /* soft "Max open files" of <proc>/self/limits;
                                  0: unlimited */
    uint64_t proc_rss;         /* bytes, <proc>/self/status VmRSS */
    uint64_t proc_cpu_ticks;   /* utime + stime, <proc>/self/stat */
    uint64_t ticks_per_sec;    /* sysconf(_SC_CLK_TCK) */
    uint64_t reserved_[8];
} resil_health_sys_sample;

/* Thresholds are "warn at or above, fail at or above"; a threshold of 0
 * (or below) turns that level off.  Percentages are 0..100. */
typedef struct resil_health_sys_opts {
    const char *proc_root; /* default "/proc"; tests point it at fixture
                              files laid out the same way; copied */
    const char *disk_path; /* default "/"; copied */
    resil_health_kind kind; /* default RESIL_HEALTH_READINESS */
    int64_t interval_ns;    /* default 10 s */
    int64_t timeout_ns;     /* default 2 s */
    double cpu_warn, cpu_fail;   /* % busy since the previous run; 80, 95 */
    double mem_warn, mem_fail;   /* % of MemTotal not available; 85, 95 */
    double disk_warn, disk_fail; /* % of disk_path used; 85, 95 */
    double load_warn, load_fail; /* load1 per cpu; 1.5, 3.0 */
    double fds_warn, fds_fail;   /* % of the open-files limit; 80, 95 */
    double rss_warn, rss_fail;   /* process RSS in bytes; 0, 0 (report only) */
    double proc_cpu_warn, proc_cpu_fail; /* process CPU, % of one cpu; 0, 0 */
    unsigned skip;          /* RESIL_HEALTH_SYS_* bits of checks to leave out */
    uint64_t reserved_[8];  /* zeroed by resil_health_sys_opts_init() */
} resil_health_sys_opts;

/* The checks resil_health_add_system() adds, by name. */
#define RESIL_HEALTH_SYS_CPU 0x01u      /* "cpu:utilization", percent */
#define RESIL_HEALTH_SYS_MEMORY 0x02u   /* "memory:utilization", percent */
#define RESIL_HEALTH_SYS_DISK 0x04u     /* "disk:utilization", percent */
#define RESIL_HEALTH_SYS_LOAD 0x08u     /* "load:load1PerCpu", no unit */
#define RESIL_HEALTH_SYS_FDS 0x10u      /* "fds:utilization", percent */
#define RESIL_HEALTH_SYS_RSS 0x20u      /* "process:rss", bytes */
#define RESIL_HEALTH_SYS_PROC_CPU 0x40u /* "process:cpu", percent */

RESIL_API void resil_health_sys_opts_init(resil_health_sys_opts *o);
/* Read everything; a file that is missing or malformed is RESIL_EPARSE,
 * other open or read failures and statvfs failures RESIL_ESYS, with *err
 * naming the file and the line when err is not NULL.  t_ns is left as the
 * caller set it. */
RESIL_API int resil_health_sys_read(const resil_health_sys_opts *o,
                                    resil_health_sys_sample *s, resil_error *err);
/* % busy between two readings (0..100); 0 when no tick passed. */
RESIL_API double resil_health_sys_cpu_percent(const resil_health_sys_sample *prev,
                                              const resil_health_sys_sample *cur);
/* Add the system checks (CPU the first run reports since boot, later runs
 * since the previous one).  o may be NULL.  Errors as resil_health_add();
 * on failure no check was added. */
RESIL_API int resil_health_add_system(resil_health *h, const resil_health_sys_opts *o);

/* Checks over libresil objects.  warn and fail are thresholds as above,
 * in the check's own unit. */
typedef struct resil_health_component_opts {
    const char *name;        /* NULL: "<breaker name>:circuit",
                                "limiter:utilization", "cache:hitRate";
                                copied */
    resil_health_kind kind;  /* default RESIL_HEALTH_READINESS */
    int64_t interval_ns;     /* default 5 s */
    int64_t timeout_ns;      /* default 1 s */
    int critical;            /* default 1 */
    double warn, fail;       /* limiter: utilisation % at or above, default
                                90 and 0 (off); cache: hit rate % below,
                                default 0 (off) and 0 (off).  NaN (what
                                opts_init sets): the check's default */
    uint64_t min_requests;   /* cache: no verdict (pass) before this many
                                gets since the check was added; default 100 */
    uint64_t reserved_[8];   /* zeroed by resil_health_component_opts_init() */
} resil_health_component_opts;

RESIL_API void resil_health_component_opts_init(resil_health_component_opts *o);
/* OPEN (and FORCED_OPEN) fail, HALF_OPEN warns, CLOSED passes; observed
 * value the failure rate in percent.  The object must outlive the check.
 * o may be NULL.  Errors as resil_health_add(). */
RESIL_API int resil_health_add_breaker(resil_health *h, resil_breaker *b,
                                       const resil_health_component_opts *o);
/* Utilisation in percent (resil_limiter_stats.utilisation * 100). */
RESIL_API int resil_health_add_limiter(resil_health *h, resil_limiter *l,
                                       const resil_health_component_opts *o);
/* Hit rate in percent over the gets since the previous run. */
RESIL_API int resil_health_add_cache(resil_health *h, resil_cache *c,
                                     const resil_health_component_opts *o);

RESIL_END_DECLS

#endif /* RESIL_HEALTH_H */
