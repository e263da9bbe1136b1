/* The fake upstream (tests/fake_upstream/fake-upstream) as a child process
 * of a server suite: started on 127.0.0.1 with --port 0, its port read from
 * the port file it writes (a bounded poll: waiting for an event, not for
 * time), stopped by closing its stdin (--exit-on-stdin-eof); faults and
 * request counts through its /_control API.  Its stderr goes to a log file
 * in the temporary directory.  Everything is static: each suite has its own
 * copy; what a suite does not use is marked unused. */
#ifndef TESTS_SERVER_FAKE_PROCESS_H
#define TESTS_SERVER_FAKE_PROCESS_H

#include "../check_util.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FAKE_START_MS 10000 /* bound on waiting for the port file */
#define FAKE_WAIT_MS 10000  /* bound on fake_wait_count */
#define FAKE_MAX_ARGS 8

static pid_t fake_pid = -1;
static int fake_in = -1; /* the fake exits when this closes */
static unsigned fake_port;
static char fake_dir[64];

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* extra: NULL-terminated further arguments (e.g. --require-key K), at most
 * FAKE_MAX_ARGS. */
static void fake_spawn(const char *bin, const char *port_file, const char *log_file,
                       const char *const *extra)
{
    const char *argv[8 + FAKE_MAX_ARGS] = {bin, "--port", "0", "--port-file", port_file,
                                           "--exit-on-stdin-eof"};
    size_t n = 6;
    int p[2];

    for (size_t i = 0; extra != NULL && extra[i] != NULL && i < FAKE_MAX_ARGS; i++)
        argv[n++] = extra[i];
    ck_assert_int_eq(pipe(p), 0);
    fake_pid = fork();
    ck_assert_int_ge(fake_pid, 0);
    if (fake_pid == 0) {
        int log = open(log_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        dup2(p[0], 0);
        if (log >= 0)
            dup2(log, 2);
        close(p[1]);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(p[0]);
    fake_in = p[1];
    ck_assert_int_eq(fcntl(fake_in, F_SETFD, FD_CLOEXEC), 0);
}

/* Start the fake from $top_builddir and wait for its port; tag names the
 * temporary directory (/tmp/TAG.XXXXXX). */
static void fake_start_with(const char *tag, const char *const *extra)
{
    const char *top = getenv("top_builddir");
    char bin[512], port_file[128], log_file[128];

    snprintf(bin, sizeof bin, "%s/tests/fake_upstream/fake-upstream", top ? top : ".");
    ck_assert_msg(access(bin, X_OK) == 0, "%s is not built (make it first)", bin);
    snprintf(fake_dir, sizeof fake_dir, "/tmp/%.40s.XXXXXX", tag);
    ck_assert_ptr_nonnull(mkdtemp(fake_dir));
    snprintf(port_file, sizeof port_file, "%s/port", fake_dir);
    snprintf(log_file, sizeof log_file, "%s/log", fake_dir);
    fake_spawn(bin, port_file, log_file, extra);
    for (int waited = 0; fake_port == 0 && waited < FAKE_START_MS; waited += 10) {
        FILE *f = fopen(port_file, "r");

        if (f == NULL || fscanf(f, "%u", &fake_port) != 1)
            fake_port = 0;
        if (f != NULL)
            fclose(f);
        if (fake_port == 0)
            sleep_ms(10);
    }
    ck_assert_msg(fake_port > 0, "fake-upstream wrote no port file within %d ms",
                  FAKE_START_MS);
}

static void fake_stop_process(void)
{
    char path[128];
    int st;

    if (fake_in >= 0)
        close(fake_in); /* --exit-on-stdin-eof: the fake stops */
    fake_in = -1;
    if (fake_pid > 0 && waitpid(fake_pid, &st, 0) < 0)
        kill(fake_pid, SIGKILL);
    fake_pid = -1;
    fake_port = 0;
    snprintf(path, sizeof path, "%s/port", fake_dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/log", fake_dir);
    unlink(path);
    rmdir(fake_dir);
}

static size_t fake_grab(char *p, size_t size, size_t n, void *ctx)
{
    return fwrite(p, size, n, ctx);
}

/* One request to the fake's control API; its JSON answer. */
static json_t *fake_http(const char *method, const char *path, const char *body)
{
    CURL *h = curl_easy_init();
    char url[256], *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    json_t *j;

    ck_assert_ptr_nonnull(h);
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", fake_port, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    if (body != NULL || strcmp(method, "POST") == 0)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body != NULL ? body : "");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fake_grab);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
    fclose(out);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    j = json_loads(buf, 0, NULL);
    ck_assert_msg(j != NULL, "%s %s: not JSON: %s", method, path, buf);
    free(buf);
    return j;
}

static void fake_fault(const char *json)
{
    json_t *r = fake_http("POST", "/_control/fault", json);

    ck_assert_msg(json_is_true(json_object_get(r, "ok")), "fault %s refused", json);
    json_decref(r);
}

__attribute__((unused)) static void fake_reset(void)
{
    json_decref(fake_http("POST", "/_control/reset", NULL));
}

/* Requests the fake has seen for one of youtube, oembed, transcript, chat. */
static json_int_t fake_count(const char *svc)
{
    json_t *st = fake_http("GET", "/_control/stats", NULL);
    json_int_t n = json_integer_value(json_object_get(json_object_get(st, "requests"), svc));

    json_decref(st);
    return n;
}

/* Poll (bounded) until the fake has seen n requests of svc. */
__attribute__((unused)) static void fake_wait_count(const char *svc, json_int_t n)
{
    for (int waited = 0; fake_count(svc) < n && waited < FAKE_WAIT_MS; waited += 5)
        sleep_ms(5);
    ck_assert_int_ge(fake_count(svc), n);
}

#endif
