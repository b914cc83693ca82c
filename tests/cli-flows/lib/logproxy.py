#!/usr/bin/env python3
"""Tiny logging HTTP proxy used by run-flows.sh.

Usage: logproxy.py <upstream-base-url> <log-file> <port-file>

Listens on 127.0.0.1:<free port> (written to <port-file>), forwards every request
unchanged to <upstream-base-url> and appends one JSON line per exchange to <log-file>:
{"method","path","headers":{selected},"reqBody","status","respBody"}.
Only plain HTTP request/response exchanges are proxied (no WebSocket upgrades); the
flows that need a WebSocket talk to the server directly.
"""
import http.client
import json
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UPSTREAM = urllib.parse.urlsplit(sys.argv[1])
LOG = sys.argv[2]
PORT_FILE = sys.argv[3]
LOCK = threading.Lock()
HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host", "content-length"}


def trunc(b: bytes, n: int = 20000) -> str:
    s = b.decode("utf-8", "replace")
    return s if len(s) <= n else s[:n] + "...[truncated]"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *a):  # silence stderr access log
        pass

    def _do(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        status, rbody, rheaders = 502, b"", []
        try:
            conn = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=120)
            conn.request(self.command, self.path, body=body if body else None, headers=headers)
            resp = conn.getresponse()
            status = resp.status
            rbody = resp.read()
            rheaders = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP]
            conn.close()
        except Exception as e:  # upstream unreachable
            rbody = json.dumps({"proxyError": str(e)}).encode()
        self.send_response(status)
        for k, v in rheaders:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(rbody)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(rbody)
        rec = {
            "method": self.command,
            "path": self.path,
            "headers": {k: v for k, v in headers.items() if k.lower() in ("x-session-id", "content-type")},
            "reqBody": trunc(body),
            "status": status,
            "respBody": trunc(rbody),
        }
        with LOCK:
            with open(LOG, "a", encoding="utf-8") as f:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _do


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(PORT_FILE, "w") as f:
        f.write(str(srv.server_address[1]))
    srv.serve_forever()


if __name__ == "__main__":
    main()
