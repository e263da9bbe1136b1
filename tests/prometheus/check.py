#!/usr/bin/python3
"""Ask a Prometheus server what it scraped from metrics_dump and compare.

    check.py BASE_URL PROMETHEUS_PID

Polls the HTTP API every 0.2 s until every check passes for both jobs
(resil_prom: Prometheus text, resil_om: OpenMetrics), and gives up after
30 s or as soon as the Prometheus process is gone.  Exit 0 when all pass,
1 otherwise, listing what did not match.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

INTERVAL = 0.2
DEADLINE = 30.0
JOBS = ("resil_prom", "resil_om")
HELP = 'Requests served, by "method" and code.\nSecond line: C:\\path'


def checks(job):
    """(description, PromQL, expected value) for one job."""
    sel = 'job="%s"' % job
    lat = 'resil_dump_latency_seconds_bucket{%s,route="/api"}' % sel
    return [
        ("scrape succeeded", "up{%s}" % sel, 1.0),
        ("counter", 'resil_dump_requests_total{%s,method="GET",code="200"}' % sel, 7.0),
        # the escaped label values come back exactly as they went in
        ("escaped labels",
         'resil_dump_requests_total{%s,method="we\\"ird\\\\path\\nline2",code="caf\u00e9 \u2603"}'
         % sel, 1.0),
        ("uint64 counter", "resil_dump_plain_total{%s}" % sel, 18446744073709551615.0),
        ("gauge", "resil_dump_temperature{%s}" % sel, -3.5),
        ("overflow series", 'resil_dump_tenant_queue{%s,tenant="__overflow__"}' % sel, 25.0),
        ("histogram bucket", '%s,le="0.05"}' % lat[:-1], 6.0),
        ("histogram +Inf", '%s,le="+Inf"}' % lat[:-1], 10.0),
        ("histogram count", 'resil_dump_latency_seconds_count{%s,route="/api"}' % sel, 10.0),
        # rank 5 of 10 lies in (0.025, 0.05] holding ranks 5-6: 0.025 + 0.025/2
        ("p50 by histogram_quantile", "histogram_quantile(0.5, %s)" % lat, 0.0375),
        ("p90 by histogram_quantile", "histogram_quantile(0.9, %s)" % lat, 0.5),
        ("breaker watcher", 'resil_breaker_failures_total{%s,service="youtube_api"}' % sel, 1.0),
    ]


def get(base, path, params):
    url = base + path + "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=2) as r:
        return json.load(r)


def query(base, promql):
    data = get(base, "/api/v1/query", {"query": promql})["data"]["result"]
    if len(data) != 1:
        return None if not data else "%d series" % len(data)
    return float(data[0]["value"][1])


def run_checks(base):
    """A list of failures (empty when everything matches)."""
    failed = []
    for job in JOBS:
        for what, promql, want in checks(job):
            got = query(base, promql)
            if not isinstance(got, float) or abs(got - want) > 1e-9 * max(1.0, abs(want)):
                failed.append("%s [%s]: %s = %r, want %r" % (what, job, promql, got, want))
    meta = get(base, "/api/v1/metadata", {})["data"]
    # Prometheus text names the counter's metadata after the sample,
    # OpenMetrics after the family: both must carry the unescaped help
    for name in ("resil_dump_requests_total", "resil_dump_requests"):
        helps = [m.get("help") for m in meta.get(name, [])]
        if HELP not in helps:
            failed.append("help of %s: %r, want %r" % (name, helps, HELP))
    return failed


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def main():
    base, pid = sys.argv[1].rstrip("/"), int(sys.argv[2])
    end = time.monotonic() + DEADLINE
    failed = ["no answer from %s" % base]
    while time.monotonic() < end:
        if not alive(pid):
            failed.insert(0, "prometheus (pid %d) exited" % pid)
            break
        try:
            failed = run_checks(base)
        except (urllib.error.URLError, OSError, ValueError, KeyError) as e:
            failed = ["API not answering yet: %s" % e]
        if not failed:
            print("check-prometheus: %d checks on %d jobs pass"
                  % (len(checks(JOBS[0])) + 1, len(JOBS)))
            return 0
        time.sleep(INTERVAL)
    for f in failed:
        print("FAIL: " + f)
    return 1


if __name__ == "__main__":
    sys.exit(main())
