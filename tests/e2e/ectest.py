"""Helpers for end-to-end tests: run the real edgecached binary, talk HTTP to it."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("EDGECACHED_BUILD", os.path.join(ROOT, "build"))
EDGECACHED = os.environ.get("EDGECACHED_BIN", os.path.join(BUILD, "edgecached"))
EDGECACHECTL = os.environ.get("EDGECACHECTL_BIN", os.path.join(BUILD, "tools", "edgecachectl"))


def short_tmpdir():
    """A temp dir with a short path: unix socket paths must stay under 108 bytes."""
    return tempfile.mkdtemp(prefix="ec", dir="/tmp")


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Response:
    def __init__(self, status, headers, body, reason=""):
        self.status = status
        self.headers = headers  # dict, lower-case names (last wins)
        self.body = body
        self.reason = reason

    def json(self):
        return json.loads(self.body)

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return f"<Response {self.status} {self.body[:200]!r}>"


def do_request(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data, r.reason)


# What ASan/LSan ("==pid==ERROR: AddressSanitizer: ...") and UBSan ("file:line:col: runtime
# error: ...") print; the build-san tree (tools/test) makes these fatal.
SANITIZER_REPORT = re.compile(r"ERROR: (?:Address|Leak)Sanitizer|^\S+:\d+:\d+: runtime error: ", re.M)


class Daemon:
    """One edgecached process on an ephemeral port with a temp data dir."""

    def __init__(self, args=(), config=None, env=None, data_dir=None, listen=None,
                 test_hooks=True, tmp=None):
        self.tmp = tmp or short_tmpdir()
        self.data_dir = data_dir or os.path.join(self.tmp, "d")
        self.args = list(args)
        self.config = config
        self.env = dict(os.environ)
        if test_hooks:
            self.env["EDGECACHED_TEST_HOOKS"] = "1"
        self.env.update(env or {})
        self.listen = ["127.0.0.1:0"] if listen is None else listen
        self.proc = None
        self.log_path = os.path.join(self.tmp, "edgecached.log")
        self.addresses = []
        self.admin_sock = None
        self.conns = {}

    # -- lifecycle ---------------------------------------------------------------------------
    def command(self):
        cmd = [EDGECACHED, "--data-dir", self.data_dir]
        if self.config is not None:
            path = os.path.join(self.tmp, "config.json")
            with open(path, "w") as f:
                f.write(self.config if isinstance(self.config, str) else json.dumps(self.config))
            cmd += ["--config", path]
        for l in self.listen:
            cmd += ["--listen", l]
        return cmd + self.args

    def start(self, wait=True):
        self.log_offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self.logf, stderr=self.logf,
                                     env=self.env, cwd=self.tmp)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = self.log_since_start()
            if " ready " in text:
                self.addresses = re.findall(r"listening on (\S+) \(", text)
                m = re.search(r"admin socket (\S+)", text)
                self.admin_sock = m.group(1) if m else None
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"edgecached exited with {self.proc.returncode}:\n{text}")
            time.sleep(0.02)
        raise RuntimeError("edgecached did not become ready:\n" + self.log_since_start())

    def log_since_start(self):
        with open(self.log_path, "rb") as f:
            f.seek(self.log_offset)
            return f.read().decode("utf-8", "replace")

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, pattern, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if re.search(pattern, self.log_since_start()):
                return
            time.sleep(0.02)
        raise AssertionError(f"log never matched {pattern!r}:\n{self.log_since_start()}")

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        self.close_conns()
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise AssertionError("edgecached did not exit after " + str(sig))
        self.logf.close()
        self.check_sanitizers()
        return rc

    def check_sanitizers(self):
        """Fails the test when the log holds an ASan, LeakSanitizer or UBSan report."""
        text = self.log() if os.path.exists(self.log_path) else ""
        m = SANITIZER_REPORT.search(text)
        if m:
            raise AssertionError("sanitizer report in the edgecached log:\n" +
                                 text[max(0, m.start() - 200):m.start() + 6000])

    def kill9(self):
        self.close_conns()
        self.proc.kill()
        self.proc.wait()
        self.logf.close()

    def restart(self):
        self.stop()
        return self.start()

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        try:
            self.check_sanitizers()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- addresses ----------------------------------------------------------------------------
    @property
    def port(self):
        return int(self.addresses[0].rsplit(":", 1)[1])

    @property
    def host(self):
        return "127.0.0.1"

    def tcp_address(self, i=0):
        host, port = self.addresses[i].rsplit(":", 1)
        return host.strip("[]"), int(port)

    # -- HTTP ---------------------------------------------------------------------------------
    def close_conns(self):
        for c in self.conns.values():
            c.close()
        self.conns = {}

    def request(self, method, path, body=None, headers=None, listener=0, fresh=False):
        """One request on a kept-alive connection to listener i (a new one if fresh)."""
        key = ("tcp", listener)
        if fresh or key not in self.conns:
            host, port = self.tcp_address(listener)
            if key in self.conns:
                self.conns[key].close()
            self.conns[key] = http.client.HTTPConnection(host, port, timeout=15)
        try:
            return do_request(self.conns[key], method, path, body, headers)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self.conns.pop(key).close()
            raise

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def put(self, path, body=b"", **kw):
        return self.request("PUT", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def post(self, path, body=b"", **kw):
        return self.request("POST", path, body=body, **kw)

    def admin(self, method, path, body=None, headers=None):
        conn = UnixHTTPConnection(self.admin_sock)
        try:
            return do_request(conn, method, path, body, headers)
        finally:
            conn.close()

    def advance_clock(self, seconds):
        r = self.admin("POST", f"/admin/test/clock?advance={int(seconds)}")
        assert r.status == 200, r
        return r.json()["now"]

    def now(self):
        return self.advance_clock(0)

    def raw(self, data, listener=0, timeout=5, shut_write=False):
        """Sends raw bytes on a new connection and returns everything read until EOF."""
        host, port = self.tcp_address(listener)
        return raw_exchange(host, port, data, timeout, shut_write)

    def open_fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))


def raw_exchange(host, port, data, timeout=5, shut_write=False):
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        if data:
            s.sendall(data)
        if shut_write:
            s.shutdown(socket.SHUT_WR)
        return read_to_eof(s)
    finally:
        s.close()


def read_to_eof(s):
    """Everything s receives until EOF; a timeout or a reset ends it too (what came first is
    returned: a response the server wrote before closing)."""
    chunks = []
    while True:
        try:
            b = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


def parse_responses(data):
    """Splits raw bytes into [(status, headers dict, body)] for Content-Length responses."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            raise AssertionError(f"incomplete response: {data[:200]!r}")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        out.append((status, headers, rest[:n]))
        data = rest[n:]
    return out
