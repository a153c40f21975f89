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
# Linked as a default (-Dtest_hooks=false) build's edgecached is; made by test_hooks builds.
EDGECACHED_NOHOOKS = os.environ.get("EDGECACHED_NOHOOKS_BIN",
                                    os.path.join(BUILD, "edgecached-nohooks"))


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
# What a C++ process prints when it dies on its own: an uncaught exception or std::terminate,
# a failed assert(), a sanitizer report.
CRASH_REPORT = re.compile(SANITIZER_REPORT.pattern +
                          r"|terminate called|: Assertion `.*' failed\.",
                          re.M)
# Signals whose default action dumps core: a process ending with one of these crashed.
CORE_SIGNALS = {signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE,
                signal.SIGQUIT, signal.SIGSYS, signal.SIGTRAP}


def describe_status(rc):
    if rc is None:
        return "still running"
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit status {rc}"


def crash_problems(rc, text, what):
    """Why a finished process (rc, its output) looks crashed; [] when it does not."""
    problems = []
    if rc is not None and rc < 0 and -rc in CORE_SIGNALS:
        problems.append(f"{what} crashed: {describe_status(rc)}")
    if rc is not None and rc > 128 and rc - 128 in CORE_SIGNALS:
        problems.append(f"{what} crashed: exit status {rc} (signal {rc - 128})")
    m = CRASH_REPORT.search(text)
    if m:
        problems.append(f"{what} printed a crash report:\n" +
                        text[max(0, m.start() - 300):m.start() + 6000])
    return problems


def log_tail(text, lines=40):
    return "\n".join(text.splitlines()[-lines:])


def run_cli(cmd, **kw):
    """subprocess.run for edgecached/edgecachectl invocations: the test asserts on the result;
    this fails it when the process crashed (signal, abort, uncaught exception, sanitizer)."""
    kw.setdefault("capture_output", True)
    p = subprocess.run(cmd, **kw)
    check_cli(p)
    return p


def check_cli(p):
    def text(b):
        return b.decode("utf-8", "replace") if isinstance(b, bytes) else (b or "")

    out = text(p.stdout) + "\n" + text(p.stderr)
    problems = crash_problems(p.returncode, out, os.path.basename(str(p.args[0])))
    if problems:
        raise AssertionError(f"{p.args!r}: " + "\n".join(problems))
    return p


# Daemons started during the current test; conftest.py checks them when the test ends.
started = []


class Daemon:
    """One edgecached process on an ephemeral port with a temp data dir."""

    def __init__(self, args=(), config=None, env=None, data_dir=None, listen=None,
                 test_hooks=True, tmp=None, shared=False, binary=None):
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
        # Set when the daemon ended the way the test meant (stop(), kill9(), wait_exit()).
        self.ended_on_purpose = False
        # A module-scoped daemon is shared by several tests; its fixture stops and checks it.
        self.shared = shared
        self.binary = binary or EDGECACHED

    # -- lifecycle ---------------------------------------------------------------------------
    def command(self):
        cmd = [self.binary, "--data-dir", self.data_dir]
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
        self.ended_on_purpose = False
        if self not in started:
            started.append(self)
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

    def stop(self, sig=signal.SIGTERM, timeout=20, expect=0):
        """Sends sig and waits for the exit; fails unless the exit status is `expect` (0: a
        clean shutdown; None: any status) and the log is free of crash reports. A daemon
        that already died on its own fails here too, with its log tail."""
        self.close_conns()
        if self.proc is None:
            return None
        if self.ended_on_purpose and self.proc.poll() is not None:
            return self.proc.returncode  # stopped and checked already
        died_early = self.proc.poll() is not None and not self.ended_on_purpose
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.logf.close()
            raise AssertionError(f"edgecached did not exit within {timeout} s after "
                                 f"{signal.Signals(sig).name}:\n{log_tail(self.log())}")
        self.logf.close()
        self.ended_on_purpose = True
        if died_early:
            raise AssertionError(f"edgecached died before the test stopped it "
                                 f"({describe_status(rc)}):\n{log_tail(self.log())}")
        self.check_exit(rc, expect, f"after {signal.Signals(sig).name}")
        return rc

    def wait_exit(self, timeout=20):
        """Waits for a daemon the test expects to exit by itself; returns its status (the
        caller asserts on it). A crash still fails here."""
        rc = self.proc.wait(timeout)
        self.logf.close()
        self.ended_on_purpose = True
        self.check_exit(rc, None, "exiting by itself")
        return rc

    def check_exit(self, rc, expect, when):
        problems = crash_problems(rc, self.log() if os.path.exists(self.log_path) else "",
                                  "edgecached")
        if expect is not None and rc != expect:
            problems.insert(0, f"edgecached {when}: {describe_status(rc)}, expected "
                               f"{describe_status(expect)}")
        cores = [f for f in os.listdir(self.tmp) if f == "core" or f.startswith("core.")]
        if cores:
            problems.append(f"core file(s) in {self.tmp}: {cores}")
        if problems:
            raise AssertionError("\n".join(problems) + "\n--- log tail ---\n" +
                                 log_tail(self.log()))

    def finish(self):
        """At the end of the owning test: stops a running daemon with SIGTERM and checks it
        exited 0; a daemon that died on its own is a failure. Returns the problems found."""
        if self.proc is None:
            return []
        try:
            if self.proc.poll() is None or not self.ended_on_purpose:
                self.stop()
            else:
                self.check_sanitizers()
        except AssertionError as e:
            return [f"{self.tmp}: {e}"]
        return []

    def check_sanitizers(self):
        """Fails the test when the log holds an ASan, LeakSanitizer or UBSan report."""
        text = self.log() if os.path.exists(self.log_path) else ""
        m = SANITIZER_REPORT.search(text)
        if m:
            raise AssertionError("sanitizer report in the edgecached log:\n" +
                                 text[max(0, m.start() - 200):m.start() + 6000])

    def kill9(self):
        self.close_conns()
        died_early = self.proc.poll() is not None and not self.ended_on_purpose
        self.proc.kill()
        rc = self.proc.wait()
        self.logf.close()
        self.ended_on_purpose = True
        if died_early:
            raise AssertionError(f"edgecached died before the test killed it "
                                 f"({describe_status(rc)}):\n{log_tail(self.log())}")

    def restart(self):
        self.stop()
        return self.start()

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self in started:
            started.remove(self)
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
        assert r.status != 404, ("no /admin/test/clock: configure the build with "
                                 "-Dtest_hooks=true (tools/test does)")
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


def request_in_progress(address):
    """A connection the daemon has accepted and served once, now holding an unfinished
    request (headers not yet ended): what keeps a drain waiting. No sleep decides whether the
    daemon has accepted it yet."""
    s = socket.create_connection(address, timeout=5)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        assert chunk, f"connection closed before a response: {head!r}"
        head += chunk
    head, _, body = head.partition(b"\r\n\r\n")
    n = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
    while len(body) < n:
        body += s.recv(4096)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: a\r\n")
    return s


def seeded_rng(label):
    """A random.Random seeded from $TEST_SEED or the time; the seed is printed (pytest shows it
    with a failure) and kept as rng.seed_value for assertion messages."""
    import random
    seed = int(os.environ.get("TEST_SEED", str(time.time_ns() % 1_000_000_007)))
    print(f"\n{label}: seed {seed} (rerun with TEST_SEED={seed})")
    rng = random.Random(seed)
    rng.seed_value = seed
    return rng


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
