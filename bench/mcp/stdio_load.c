/* Load generator for MCP over stdio (bench/mcp/run.sh): starts a server
 * as its child, initializes one session over the child's stdin/stdout,
 * then keeps DEPTH tools/call requests in flight until N have been
 * answered, and prints throughput, latency and the child's memory and CPU.
 *
 *   stdio_load [-n N] [-w WARMUP] [-d DEPTH] [-t TOOL] [-T SECONDS]
 *              [-e STDERR_FILE] -- server-command args...
 *
 * Defaults: N = 20000 timed requests after WARMUP = 2000 untimed ones,
 * DEPTH = 16, TOOL = test_simple_text, a time limit of 60 s for the whole
 * run (exit 1 when it is reached).  The child's stderr goes to
 * STDERR_FILE (default /dev/null): servers log there.
 *
 * Output, one line:
 *   STDIORESULT requests=N seconds=S rps=R p50_us=A p99_us=B bad=K
 *               rss_kb=X hwm_kb=Y cpu_ms=C
 * where rss/hwm are the child's VmRSS/VmHWM and cpu_ms its user+system
 * time during the timed requests, read from /proc after the last answer
 * and before its stdin is closed.  The latency of a request runs from the end of its write to
 * the end of the read that brought its answer. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES (1u << 20)   /* an answer longer than this is bad */

struct opts {
    long n, warmup, depth, limit_s;
    const char *tool, *errfile;
    char **cmd;
};

struct run {
    pid_t pid;
    int to_child, from_child;
    char *buf;                 /* unparsed bytes from the child */
    size_t len;
    int64_t *sent_ns;          /* by id: when its write ended */
    int64_t *lat_ns;           /* timed answers, in arrival order */
    long nlat, sent, answered, bad;
    int64_t t0, deadline;
    long cpu0_ms;              /* the child's CPU time when timing began */
};

static void child_usage(pid_t pid, long *rss, long *hwm, long *cpu_ms);

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    int c;

    *o = (struct opts){ 20000, 2000, 16, 60, "test_simple_text", "/dev/null", NULL };
    while ((c = getopt(argc, argv, "n:w:d:t:T:e:")) != -1) {
        int bad = 0;

        if (c == 'n')
            bad = parse_long(optarg, 1, 100000000, &o->n);
        else if (c == 'w')
            bad = parse_long(optarg, 0, 100000000, &o->warmup);
        else if (c == 'd')
            bad = parse_long(optarg, 1, 4096, &o->depth);
        else if (c == 'T')
            bad = parse_long(optarg, 1, 3600, &o->limit_s);
        else if (c == 't')
            o->tool = optarg;
        else if (c == 'e')
            o->errfile = optarg;
        else
            bad = -1;
        if (bad) {
            fprintf(stderr, "stdio_load: bad option -%c %s\n", c, optarg ? optarg : "");
            return -1;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "usage: stdio_load [-n N] [-w WARMUP] [-d DEPTH] [-t TOOL] "
                        "[-T SECONDS] [-e STDERR_FILE] -- command args...\n");
        return -1;
    }
    o->cmd = argv + optind;
    return 0;
}

static void child_exec(const struct opts *o, int in[2], int out[2])
{
    int errfd = open(o->errfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    if (errfd < 0 || dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(errfd, 2) < 0)
        _exit(127);
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
    close(errfd);
    execvp(o->cmd[0], o->cmd);
    _exit(127);
}

static int spawn(const struct opts *o, struct run *r)
{
    int in[2], out[2];

    if (pipe(in) != 0 || pipe(out) != 0) {
        perror("stdio_load: pipe");
        return -1;
    }
    r->pid = fork();
    if (r->pid < 0) {
        perror("stdio_load: fork");
        return -1;
    }
    if (r->pid == 0)
        child_exec(o, in, out);
    close(in[0]);
    close(out[1]);
    r->to_child = in[1];
    r->from_child = out[0];
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            perror("stdio_load: write to the server");
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The next complete line (without its newline) into line, or 0 when more
 * input is needed; -1 on EOF, error, timeout or an overlong line. */
static int next_line(struct run *r, char **line)
{
    for (;;) {
        char *nl = memchr(r->buf, '\n', r->len);

        if (nl != NULL) {
            *nl = '\0';
            *line = r->buf;
            return 1;
        }
        if (r->len >= LINE_MAX_BYTES) {
            fprintf(stderr, "stdio_load: a line longer than %u bytes\n", LINE_MAX_BYTES);
            return -1;
        }
        int ms = (int)((r->deadline - now_ns()) / 1000000);
        struct pollfd p = { .fd = r->from_child, .events = POLLIN };

        if (ms <= 0 || poll(&p, 1, ms) == 0) {
            fprintf(stderr, "stdio_load: time limit reached\n");
            return -1;
        }
        ssize_t n = read(r->from_child, r->buf + r->len, LINE_MAX_BYTES - r->len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "stdio_load: the server closed its stdout\n");
            return -1;
        }
        r->len += (size_t)n;
    }
}

/* Drops the line next_line returned from the buffer. */
static void consume_line(struct run *r, const char *line)
{
    size_t used = strlen(line) + 1;

    memmove(r->buf, r->buf + used, r->len - used);
    r->len -= used;
}

/* The integer id of a response line, or -1 (a notification, a request
 * from the server, a string id: not ours). */
static long response_id(const char *line)
{
    const char *p = strstr(line, "\"id\":");

    while (p != NULL) {
        const char *q = p + 5;

        while (*q == ' ')
            q++;
        if (*q >= '0' && *q <= '9')
            return strtol(q, NULL, 10);
        p = strstr(q, "\"id\":");
    }
    return -1;
}

static int send_call(struct run *r, const struct opts *o, long id)
{
    char msg[512];
    int n = snprintf(msg, sizeof msg,
                     "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":\"tools/call\","
                     "\"params\":{\"name\":\"%s\",\"arguments\":{}}}\n",
                     id, o->tool);

    if (n < 0 || (size_t)n >= sizeof msg) {
        fprintf(stderr, "stdio_load: tool name too long\n");
        return -1;
    }
    if (write_all(r->to_child, msg, (size_t)n) != 0)
        return -1;
    r->sent_ns[id] = now_ns();
    if (id == o->warmup + 1) {
        long rss, hwm;

        child_usage(r->pid, &rss, &hwm, &r->cpu0_ms);
        r->t0 = now_ns();
    }
    return 0;
}

static int handshake(struct run *r)
{
    static const char init[] =
        "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":"
        "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
        "\"clientInfo\":{\"name\":\"stdio_load\",\"version\":\"0.1.0\"}}}\n";
    static const char done[] =
        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";
    char *line;

    if (write_all(r->to_child, init, sizeof init - 1) != 0)
        return -1;
    for (;;) {
        if (next_line(r, &line) < 0)
            return -1;
        long id = response_id(line);
        int ok = strstr(line, "\"result\"") != NULL;

        if (id == 0 && !ok)
            fprintf(stderr, "stdio_load: initialize failed: %.300s\n", line);
        consume_line(r, line);
        if (id == 0)
            return ok ? write_all(r->to_child, done, sizeof done - 1) : -1;
    }
}

static void record(struct run *r, const struct opts *o, const char *line, int64_t t)
{
    long id = response_id(line);

    if (id < 1 || id > r->sent) {
        return;   /* a notification or a server request: not an answer */
    }
    r->answered++;
    if (strstr(line, "\"result\"") == NULL) {
        if (r->bad++ == 0)
            fprintf(stderr, "stdio_load: bad answer: %.300s\n", line);
    }
    if (id > o->warmup)
        r->lat_ns[r->nlat++] = t - r->sent_ns[id];
}

static int drive(struct run *r, const struct opts *o)
{
    long total = o->warmup + o->n;
    char *line;

    while (r->answered < total) {
        while (r->sent < total && r->sent - r->answered < o->depth) {
            r->sent++;
            if (send_call(r, o, r->sent) != 0)
                return -1;
        }
        if (next_line(r, &line) < 0)
            return -1;
        int64_t t = now_ns();

        /* Every complete line already read arrived by t. */
        do {
            record(r, o, line, t);
            consume_line(r, line);
        } while (memchr(r->buf, '\n', r->len) != NULL && next_line(r, &line) > 0);
    }
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* VmRSS and VmHWM (kB) and user+system CPU (ms) of pid. */
static void child_usage(pid_t pid, long *rss, long *hwm, long *cpu_ms)
{
    char path[64], line[512];
    FILE *f;

    *rss = *hwm = *cpu_ms = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        sscanf(line, "VmRSS: %ld", rss);
        sscanf(line, "VmHWM: %ld", hwm);
    }
    if (f != NULL)
        fclose(f);
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f != NULL && fgets(line, sizeof line, f) != NULL) {
        const char *p = strrchr(line, ')');
        unsigned long ut, st;

        /* fields 14 and 15 (utime, stime), counted after the comm field */
        if (p != NULL && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                                &ut, &st) == 2)
            *cpu_ms = (long)((ut + st) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
    }
    if (f != NULL)
        fclose(f);
}

static void report(struct run *r, const struct opts *o, int64_t t_end)
{
    long rss, hwm, cpu_ms;
    double secs = (double)(t_end - r->t0) / 1e9;

    child_usage(r->pid, &rss, &hwm, &cpu_ms);
    if (cpu_ms >= 0 && r->cpu0_ms >= 0)
        cpu_ms -= r->cpu0_ms;
    qsort(r->lat_ns, (size_t)r->nlat, sizeof *r->lat_ns, cmp_i64);
    printf("STDIORESULT requests=%ld seconds=%.3f rps=%.1f p50_us=%ld p99_us=%ld bad=%ld "
           "rss_kb=%ld hwm_kb=%ld cpu_ms=%ld\n",
           o->n, secs, (double)o->n / secs, (long)(r->lat_ns[r->nlat / 2] / 1000),
           (long)(r->lat_ns[(r->nlat * 99) / 100] / 1000), r->bad, rss, hwm, cpu_ms);
}

/* Close the child's stdin (servers exit on EOF) and reap it, killing it
 * when it has not gone within 5 s. */
static void reap(struct run *r)
{
    int64_t end = now_ns() + 5000000000;
    int st;

    close(r->to_child);
    while (waitpid(r->pid, &st, WNOHANG) == 0) {
        if (now_ns() > end) {
            fprintf(stderr, "stdio_load: the server ignored EOF on stdin; killing it\n");
            kill(r->pid, SIGKILL);
            waitpid(r->pid, &st, 0);
            break;
        }
        usleep(10000);
    }
    close(r->from_child);
}

int main(int argc, char **argv)
{
    struct opts o;
    struct run r = { 0 };
    int status = 1;

    if (parse_opts(argc, argv, &o) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    r.buf = malloc(LINE_MAX_BYTES + 1);
    r.sent_ns = calloc((size_t)(o.warmup + o.n + 1), sizeof *r.sent_ns);
    r.lat_ns = calloc((size_t)o.n + 1, sizeof *r.lat_ns);
    if (r.buf == NULL || r.sent_ns == NULL || r.lat_ns == NULL) {
        fprintf(stderr, "stdio_load: out of memory for %ld requests\n", o.warmup + o.n);
        goto out_free;
    }
    r.deadline = now_ns() + (int64_t)o.limit_s * 1000000000;
    if (spawn(&o, &r) != 0)
        goto out_free;
    if (handshake(&r) == 0 && drive(&r, &o) == 0) {
        report(&r, &o, now_ns());
        status = r.bad == 0 ? 0 : 1;
    }
    reap(&r);
out_free:
    free(r.buf);
    free(r.sent_ns);
    free(r.lat_ns);
    return status;
}
