#!/usr/bin/python3
"""Serve metrics_dump's output to Prometheus for tests/check-prometheus.sh.

    serve.py DIR PORT_FILE

GET /metrics answers DIR/metrics.prom as Prometheus text 0.0.4, GET /om
answers DIR/metrics.om as OpenMetrics 1.0.0 (the content type decides which
parser Prometheus uses).  Listens on 127.0.0.1 on a port the kernel picks
and writes that port to PORT_FILE once it is listening.
"""
import http.server
import os
import sys

ROUTES = {
    "/metrics": ("metrics.prom", "text/plain; version=0.0.4; charset=utf-8"),
    "/om": ("metrics.om", "application/openmetrics-text; version=1.0.0; charset=utf-8"),
}


def handler_for(directory):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            route = ROUTES.get(self.path.split("?", 1)[0])
            if route is None:
                self.send_error(404)
                return
            with open(os.path.join(directory, route[0]), "rb") as f:
                body = f.read()
            self.send_response(200)
            self.send_header("Content-Type", route[1])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):
            pass  # quiet: Prometheus scrapes every second

    return Handler


def main():
    directory, port_file = sys.argv[1], sys.argv[2]
    server = http.server.HTTPServer(("127.0.0.1", 0), handler_for(directory))
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, port_file)  # the reader never sees a partial number
    server.serve_forever()


if __name__ == "__main__":
    main()
