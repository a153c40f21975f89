"""Scriptable HTTP/1.1 test origin for the end-to-end suites (stdlib only).

A threaded server on 127.0.0.1 (port 0 by default) with keep-alive. Responses are scripted
per path from Python, or over a control endpoint when run as a subprocess; every request is
logged so tests can assert exactly how many origin requests were made and what was sent.

In-process (the usual way)::

    from origin import Origin, Response

    with Origin() as o:                       # o.address == "127.0.0.1:PORT", o.url
        o.route("/a", body=b"hello", headers={"Cache-Control": "max-age=60"}, etag='"v1"')
        o.route("/seq", [Response(body=b"one"), Response(status=503)])  # per hit, last repeats
        o.route("/vary", handler=lambda req: Response(body=req.header("accept-encoding") or ""))
        o.route("/static/*", body=b"prefix match")
        ...                                   # point edgecached at o.address
        assert o.hits("/a") == 1
        req = o.last("/a")                    # Request: method, path, target, query, headers, body
        assert req.header("x-forwarded-for")  # case-insensitive; headers keep order and case

Two instances for failover: ``with Origin() as a, Origin() as b: ...``; ``a.stop()`` takes one
down, ``Origin(port=a.port).start()`` brings it back on the same port.

Routes match the exact target (with query), then the exact path, then the longest ``prefix*``
pattern; anything else is a 404 (``o.default = Response(...)`` changes that).
``o.route(path, ...)`` replaces that path's script and keeps its hit counter.

Response options (keyword arguments of ``route`` or fields of ``Response``):

- ``status`` (200), ``reason``, ``headers`` (dict or list of pairs; Set-Cookie, Vary,
  Cache-Tag... as given, in order), ``body`` (bytes or str), ``date=True`` (adds ``Date: now``
  unless a Date header is given).
- Validators: ``etag``, ``last_modified`` (unix seconds or an HTTP date). With
  ``conditional=True`` (default) a GET/HEAD carrying a matching ``If-None-Match`` (weak
  comparison, ``*``) or, without it, ``If-Modified-Since`` at or after Last-Modified gets a 304
  with the validators, Cache-Control, Expires, Vary, Content-Location and Date. ``Request.status``
  in the log says what was answered.
- Framing: ``mode="length"`` (Content-Length, default), ``"chunked"`` or ``"close"``
  (close-delimited: no length, the connection closes after the body). ``chunks=[...]``
  sends the body in these pieces (chunked: one chunk each) with ``chunk_delay`` seconds
  between them. ``content_length=N`` declares N whatever the body is (larger than the body, then
  close: a truncated response).
- Timing: ``delay`` seconds before the status line; ``chunk_delay`` between pieces;
  ``body_gate`` (a ``threading.Event``): the head goes out, the body waits until it is set.
- Faults: ``reset_after=N`` sends the head and N body bytes, then resets the connection (RST);
  ``close_after_head=True`` sends the head and closes; ``hang=True`` reads the request and never
  answers; ``never_close=True`` sends a close-delimited body and then holds the connection open;
  ``raw=b"..."`` writes these bytes instead of a response (a garbage status line, say), then
  closes unless ``keep_open=True``; ``header_bytes=N`` pads the head with ``X-Pad-i`` headers up to
  about N bytes; ``interim=[100, 103]`` sends those 1xx responses first (an item may be
  ``(103, {"Link": "</s.css>; rel=preload"})`` to give one header fields), and with
  ``interim_gate`` (a ``threading.Event``) the final response waits until it is set; ``head_body=True``
  sends the body to a HEAD request too (a broken origin); ``keep_alive=False`` adds
  ``Connection: close`` and closes after the response.
- ``handler=callable(Request) -> Response`` decides per request (Vary tests, echoing headers).

Inspection: ``o.hits(path)`` (per path, without query; ``o.hits()`` = all), ``o.requests`` (all,
in arrival order), ``o.requests_for(path)``, ``o.last(path)``, ``o.connections`` (accepted),
``o.wait_for_hits(path, n, timeout)``, ``o.reset()`` (log and counters; routes stay),
``o.clear_routes()``.

Subprocess / control endpoint (``python3 origin.py [--port N]`` prints ``listening HOST:PORT``):
``POST /__origin/route`` with JSON ``{"path": ..., <Response options>}`` (``body`` as a string,
``body_b64`` for bytes; a list under ``"sequence"`` for per-hit responses), ``GET
/__origin/requests`` → JSON log, ``GET /__origin/hits?path=/a``, ``POST /__origin/reset``.
Control requests are neither logged nor counted.
"""
import base64
import email.utils
import json
import socket
import socketserver
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple, Union
from urllib.parse import parse_qs, urlsplit

__all__ = ["Origin", "Response", "Request", "http_date"]


def http_date(ts: Optional[float] = None) -> str:
    """An IMF-fixdate (RFC 9110 §5.6.7) for unix time ts (default: now)."""
    return email.utils.formatdate(time.time() if ts is None else ts, usegmt=True)


def _parse_http_date(s: str) -> Optional[float]:
    try:
        return email.utils.parsedate_to_datetime(s).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


@dataclass
class Request:
    """One request as the origin received it."""
    method: str
    target: str
    path: str
    query: dict
    version: str
    headers: List[Tuple[str, str]]
    body: bytes
    conn_id: int
    time: float
    status: int = 0  # what the origin answered (0 when it never did)

    def header(self, name: str, default=None):
        """The first value of a header (case-insensitive), or default."""
        n = name.lower()
        for k, v in self.headers:
            if k.lower() == n:
                return v
        return default

    def header_all(self, name: str) -> List[str]:
        n = name.lower()
        return [v for k, v in self.headers if k.lower() == n]

    def to_json(self):
        return {"method": self.method, "target": self.target, "path": self.path,
                "headers": self.headers, "body": self.body.decode("latin-1"),
                "conn_id": self.conn_id, "time": self.time, "status": self.status}


@dataclass
class Response:
    """A scripted response; see the module docstring for each option."""
    status: int = 200
    body: Union[bytes, str] = b""
    headers: Union[dict, list, None] = None
    reason: Optional[str] = None
    date: bool = True
    etag: Optional[str] = None
    last_modified: Union[float, int, str, None] = None
    conditional: bool = True
    mode: str = "length"  # "length" | "chunked" | "close"
    chunks: Optional[list] = None
    content_length: Optional[int] = None
    delay: float = 0.0
    chunk_delay: float = 0.0
    reset_after: Optional[int] = None
    close_after_head: bool = False
    hang: bool = False
    never_close: bool = False
    raw: Optional[bytes] = None
    keep_open: bool = False
    header_bytes: Optional[int] = None
    interim: list = field(default_factory=list)
    interim_gate: Optional[threading.Event] = None
    head_body: bool = False
    keep_alive: bool = True
    body_gate: Optional[threading.Event] = None
    handler: Optional[Callable[[Request], "Response"]] = None

    def body_bytes(self) -> bytes:
        return self.body.encode() if isinstance(self.body, str) else bytes(self.body)

    def header_list(self) -> List[Tuple[str, str]]:
        if self.headers is None:
            return []
        if isinstance(self.headers, dict):
            return [(k, str(v)) for k, v in self.headers.items()]
        return [(k, str(v)) for k, v in self.headers]


_REASONS = {100: "Continue", 102: "Processing", 103: "Early Hints", 200: "OK", 201: "Created", 203: "Non-Authoritative",
            204: "No Content", 206: "Partial Content", 301: "Moved Permanently", 302: "Found",
            304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
            400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            410: "Gone", 429: "Too Many Requests", 500: "Internal Server Error",
            502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}

# Headers a 304 carries over from the 200 it stands for (RFC 9110 §15.4.5).
_KEEP_ON_304 = {"cache-control", "content-location", "date", "etag", "expires", "vary",
                "last-modified"}


class _Closed(Exception):
    pass


class _Handler(socketserver.BaseRequestHandler):
    """One connection: read requests in a loop (keep-alive), answer each as scripted."""

    def setup(self):
        self.origin = self.server.origin
        self.sock = self.request
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.conn_id = self.origin._accepted(self.sock)

    def finish(self):
        self.origin._forget(self.sock)

    def handle(self):
        try:
            while not self.origin._stopping.is_set():
                req = self._read_request()
                if req is None:
                    return
                if req.path.startswith("/__origin/"):
                    if not self._control(req):
                        return
                    continue
                resp = self.origin._respond_to(req)
                if not self._send(req, resp):
                    return
        except (_Closed, OSError):
            return

    # -- reading ----------------------------------------------------------------------------

    def _recv(self):
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise _Closed()
        if not data:
            raise _Closed()
        self.buf += data

    def _read_request(self) -> Optional[Request]:
        try:
            while b"\r\n\r\n" not in self.buf:
                if len(self.buf) > 1 << 20:
                    return None
                self._recv()
        except _Closed:
            return None
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            return None
        method, target, version = parts
        headers = []
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.append((k, v.strip(" \t")))
        req = Request(method, target, urlsplit(target).path, parse_qs(urlsplit(target).query),
                      version, headers, b"", self.conn_id, time.time())
        if (req.header("expect") or "").lower() == "100-continue":
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if (req.header("transfer-encoding") or "").lower() == "chunked":
            req.body = self._read_chunked()
        else:
            n = int(req.header("content-length") or 0)
            while len(self.buf) < n:
                self._recv()
            req.body, self.buf = self.buf[:n], self.buf[n:]
        return req

    def _read_chunked(self) -> bytes:
        body = b""
        while True:
            while b"\r\n" not in self.buf:
                self._recv()
            line, self.buf = self.buf.split(b"\r\n", 1)
            size = int(line.split(b";")[0], 16)
            if size == 0:
                while b"\r\n\r\n" not in self.buf and not self.buf.startswith(b"\r\n"):
                    self._recv()
                if self.buf.startswith(b"\r\n"):
                    self.buf = self.buf[2:]
                else:
                    self.buf = self.buf.split(b"\r\n\r\n", 1)[1]
                return body
            while len(self.buf) < size + 2:
                self._recv()
            body += self.buf[:size]
            self.buf = self.buf[size + 2:]

    # -- writing ----------------------------------------------------------------------------

    def _sleep(self, seconds):
        if seconds > 0:
            self.origin._stopping.wait(seconds)

    def _send(self, req: Request, r: Response) -> bool:
        """Writes the response; False when the connection must end."""
        self._sleep(r.delay)
        if r.hang:
            self.origin._stopping.wait()
            return False
        if r.raw is not None:
            self.sock.sendall(r.raw)
            if r.keep_open:
                self.origin._stopping.wait()
            return False
        for item in r.interim:
            code, fields = (item, []) if isinstance(item, int) else (item[0], item[1])
            if isinstance(fields, dict):
                fields = list(fields.items())
            lines = "".join(f"{k}: {v}\r\n" for k, v in fields)
            self.sock.sendall(
                f"HTTP/1.1 {code} {_REASONS.get(code, 'Info')}\r\n{lines}\r\n".encode("latin-1"))
        if r.interim_gate is not None and not r.interim_gate.wait(10):
            return False
        body = r.body_bytes()
        headers = r.header_list()
        names = {k.lower() for k, _ in headers}
        if r.date and "date" not in names:
            headers.append(("Date", http_date()))
        if r.etag is not None and "etag" not in names:
            headers.append(("ETag", r.etag))
        if r.last_modified is not None and "last-modified" not in names:
            lm = r.last_modified
            headers.append(("Last-Modified", lm if isinstance(lm, str) else http_date(lm)))
        status = r.status
        if r.conditional and req.method in ("GET", "HEAD") and status == 200 \
                and self._not_modified(req, headers):
            status = 304
            headers = [(k, v) for k, v in headers if k.lower() in _KEEP_ON_304]
        req.status = status
        no_body = req.method == "HEAD" or status in (204, 304) or status < 200
        mode = "close" if r.never_close else r.mode
        if status == 304 or status == 204:
            mode = "none"
        if r.header_bytes:
            pad, i = 0, 0
            while pad < r.header_bytes:
                v = "p" * 100
                headers.append((f"X-Pad-{i}", v))
                pad += len(v) + 12
                i += 1
        if mode == "length":
            cl = r.content_length if r.content_length is not None else len(body)
            headers.append(("Content-Length", str(cl)))
        elif mode == "chunked":
            headers.append(("Transfer-Encoding", "chunked"))
        client_close = "close" in (req.header("connection") or "").lower() or (
            req.version == "HTTP/1.0" and "keep-alive" not in (req.header("connection") or "").lower())
        close = mode == "close" or not r.keep_alive or r.close_after_head or client_close \
            or r.reset_after is not None \
            or (r.content_length is not None and r.content_length > len(body))
        if not r.keep_alive or client_close:
            headers.append(("Connection", "close"))
        reason = r.reason or _REASONS.get(status, "Status")
        head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
        self.sock.sendall(head.encode("latin-1") + b"\r\n")
        if r.close_after_head:
            return False
        if no_body and not (r.head_body and req.method == "HEAD"):
            return not close
        if r.body_gate is not None and not r.body_gate.wait(10):
            return False
        pieces = [p.encode() if isinstance(p, str) else bytes(p) for p in r.chunks] \
            if r.chunks is not None else ([body] if body else [])
        sent = 0
        for n, piece in enumerate(pieces):
            if n:
                self._sleep(r.chunk_delay)
            if r.reset_after is not None and sent + len(piece) >= r.reset_after:
                self.sock.sendall(piece[:r.reset_after - sent])
                time.sleep(0.02)
                self._reset()
                return False
            if mode == "chunked":
                self.sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
            else:
                self.sock.sendall(piece)
            sent += len(piece)
        if r.reset_after is not None:
            time.sleep(0.02)
            self._reset()
            return False
        if mode == "chunked":
            self.sock.sendall(b"0\r\n\r\n")
        if r.never_close:
            self.origin._stopping.wait()
            return False
        return not close

    def _not_modified(self, req: Request, headers) -> bool:
        hv = {k.lower(): v for k, v in headers}
        inm = req.header("if-none-match")
        if inm is not None:
            etag = hv.get("etag")
            if etag is None:
                return False
            if inm.strip() == "*":
                return True
            strip = (lambda t: t.strip()[2:] if t.strip().startswith("W/") else t.strip())
            return any(strip(t) == strip(etag) for t in inm.split(","))
        ims = req.header("if-modified-since")
        lm = hv.get("last-modified")
        if ims is not None and lm is not None:
            a, b = _parse_http_date(ims), _parse_http_date(lm)
            return a is not None and b is not None and b <= a
        return False

    def _reset(self):
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    # -- control endpoint -------------------------------------------------------------------

    def _control(self, req: Request) -> bool:
        o = self.origin
        status, out = 200, {"ok": True}
        try:
            if req.path == "/__origin/route" and req.method == "POST":
                spec = json.loads(req.body or b"{}")
                path = spec.pop("path")
                seq = spec.pop("sequence", None)
                if seq is not None:
                    o.route(path, [_response_from_json(s) for s in seq])
                else:
                    o.route(path, _response_from_json(spec))
            elif req.path == "/__origin/requests":
                out = [r.to_json() for r in o.requests]
            elif req.path == "/__origin/hits":
                p = req.query.get("path", [None])[0]
                out = {"hits": o.hits(p)}
            elif req.path == "/__origin/reset" and req.method == "POST":
                o.reset()
            else:
                status, out = 404, {"error": "unknown control path"}
        except (ValueError, KeyError, TypeError) as e:
            status, out = 400, {"error": str(e)}
        body = json.dumps(out).encode()
        self.sock.sendall(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        return True


def _response_from_json(d: dict) -> Response:
    d = dict(d)
    if "body_b64" in d:
        d["body"] = base64.b64decode(d.pop("body_b64"))
    if "raw" in d and isinstance(d["raw"], str):
        d["raw"] = d["raw"].encode("latin-1")
    return Response(**d)


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


class Origin:
    """The scriptable origin; see the module docstring."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host = host
        self._want_port = port
        self._lock = threading.Lock()
        self._routes = {}
        self._seq = {}
        self._hits = {}
        self.requests: List[Request] = []
        self.connections = 0
        self.default = Response(status=404, body=b"no route\n")
        self._stopping = threading.Event()
        self._socks = set()
        self._server = None
        self._thread = None
        self.port = None

    # -- lifecycle --------------------------------------------------------------------------

    @staticmethod
    def _handler_class():
        """The request handler; a subclass serving another transport wraps it."""
        return _Handler

    def _wrap_listener(self, server):
        """A subclass's hook to put its transport (TLS) over the bound listening socket."""

    def start(self) -> "Origin":
        self._stopping.clear()
        self._server = _Server((self.host, self._want_port), self._handler_class(),
                               bind_and_activate=True)
        self._wrap_listener(self._server)
        self._server.origin = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stops listening and drops every connection (hanging responses end too)."""
        if not self._server:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
        self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    # -- scripting --------------------------------------------------------------------------

    def route(self, path: str, responses: Union[Response, list, None] = None, **kw):
        """Scripts `path` ("/a", "/a?q=1", or "/prefix*"): one Response, a list served per hit
        (the last repeats), or Response keyword arguments."""
        if responses is None:
            responses = Response(**kw)
        elif kw:
            raise TypeError("give either a Response (or a list) or keyword arguments")
        seq = list(responses) if isinstance(responses, (list, tuple)) else [responses]
        with self._lock:
            self._routes[path] = seq
            self._seq[path] = 0

    def clear_routes(self):
        with self._lock:
            self._routes.clear()
            self._seq.clear()

    def reset(self):
        with self._lock:
            self.requests = []
            self._hits = {}
            self.connections = 0

    # -- inspection -------------------------------------------------------------------------

    def hits(self, path: Optional[str] = None) -> int:
        with self._lock:
            if path is None:
                return len(self.requests)
            return self._hits.get(path, 0)

    def requests_for(self, path: str) -> List[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path or r.target == path]

    def last(self, path: Optional[str] = None) -> Optional[Request]:
        rs = self.requests_for(path) if path else list(self.requests)
        return rs[-1] if rs else None

    def wait_for_hits(self, path: str, n: int, timeout: float = 5.0) -> bool:
        end = time.time() + timeout
        while time.time() < end:
            if self.hits(path) >= n:
                return True
            time.sleep(0.01)
        return self.hits(path) >= n

    # -- internals --------------------------------------------------------------------------

    def _accepted(self, sock) -> int:
        with self._lock:
            self.connections += 1
            self._socks.add(sock)
            return self.connections

    def _forget(self, sock):
        with self._lock:
            self._socks.discard(sock)

    def _respond_to(self, req: Request) -> Response:
        with self._lock:
            self.requests.append(req)
            self._hits[req.path] = self._hits.get(req.path, 0) + 1
            key = self._match(req)
            if key is None:
                r = self.default
            else:
                seq = self._routes[key]
                i = self._seq[key]
                self._seq[key] = i + 1
                r = seq[min(i, len(seq) - 1)]
        if r.handler is not None:
            r = r.handler(req)
        return r

    def _match(self, req: Request):
        if req.target in self._routes:
            return req.target
        if req.path in self._routes:
            return req.path
        best = None
        for k in self._routes:
            if k.endswith("*") and req.path.startswith(k[:-1]):
                if best is None or len(k) > len(best):
                    best = k
        return best


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description="scriptable HTTP/1.1 test origin")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args(argv)
    o = Origin(args.host, args.port).start()
    print(f"listening {o.address}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        o.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
