#!/usr/bin/python3
"""count_origin.py: a slow origin that counts its requests, for the coalescing check.

Usage: count_origin.py PORT DELAY_SECONDS
Every GET answers 1 KiB, "Cache-Control: public, max-age=3600", after DELAY_SECONDS (so a
burst of cold requests all arrive while the first fill is in flight). GET /__count?path=P
answers the number of requests seen for P (never cached: ask the origin directly).
"""
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

counts: dict[str, int] = {}
lock = threading.Lock()
delay = 0.5
body = b"c" * 1024


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/__count":
            path = urllib.parse.parse_qs(url.query).get("path", [""])[0]
            with lock:
                n = counts.get(path, 0)
            data = str(n).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)
            return
        with lock:
            counts[self.path] = counts.get(self.path, 0) + 1
        time.sleep(delay)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "public, max-age=3600")
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 4096


if __name__ == "__main__":
    delay = float(sys.argv[2])
    Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
