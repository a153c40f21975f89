#!/usr/bin/python3
"""probe.py: a paced client — one GET on one keep-alive connection every INTERVAL_MS, each
request's latency recorded, until SIGTERM; then the samples go to OUT as JSON.

Usage: probe.py HOST PORT PATH INTERVAL_MS OUT
OUT: {"samples": [[start (CLOCK_MONOTONIC s), latency µs, ok (0/1)], ...]}. A request is not ok
on a transport error, a timeout (2 s) or a status other than 200; the connection is reopened.
"""
import json
import signal
import socket
import sys
import time

stopping = False


def on_term(_sig, _frame):
    global stopping
    stopping = True


def connect(host, port):
    s = socket.create_connection((host, port), timeout=2)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def exchange(s, req):
    """Sends req and reads one response (Content-Length framed); returns the status."""
    s.sendall(req)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            length = int(v)
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed mid-body")
        body += chunk
    return int(lines[0].split(" ")[1])


def main(host, port, path, interval_ms, out):
    signal.signal(signal.SIGTERM, on_term)
    req = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    s, samples, interval = connect(host, port), [], interval_ms / 1000
    while not stopping:
        t0 = time.monotonic()
        ok = 0
        try:
            if s is None:
                s = connect(host, port)
            ok = int(exchange(s, req) == 200)
        except OSError:
            if s is not None:
                s.close()
            s = None
        samples.append([t0, round((time.monotonic() - t0) * 1e6), ok])
        time.sleep(max(0.0, interval - (time.monotonic() - t0)))
    with open(out, "w") as f:
        json.dump({"samples": samples}, f)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), sys.argv[5])
