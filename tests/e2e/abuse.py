"""Client-abuse harness: attacks on the daemon, a well-behaved client timed in its own process,
RssAnon and fd sampling. Shared by test_robust_abuse.py (fast) and test_slow_abuse.py (full).

Run as a script (`abuse.py good HOST PORT PATH...`) it is the well-behaved client: sequential
keep-alive GETs until stdin closes; each "dump" line on stdin prints the requests made since the
last dump as one JSON line. It runs in a separate process so the attackers' threads and the GIL
do not show up in its latency.
"""
import json
import os
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time

from ectest import read_to_eof

# -- environment -------------------------------------------------------------------------------


def raise_nofile(want):
    """Raises this process's RLIMIT_NOFILE (soft and, as root, hard) to at least `want`;
    children (the daemon) inherit it. Returns the soft limit reached."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
        except (ValueError, OSError):
            pass
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_anon_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise AssertionError("no RssAnon in /proc/%d/status" % pid)


class RssSampler:
    """Samples a process's RssAnon every `every` seconds in a thread; `peak` is the highest."""

    def __init__(self, pid, every=0.05):
        self.pid, self.every = pid, every
        self.peak = rss_anon_kib(pid)
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, rss_anon_kib(self.pid))
            except (OSError, AssertionError):
                return
            self._stop.wait(self.every)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def wait_until(pred, timeout, every=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(every)


def wait_fds(daemon, at_most, timeout):
    """Polls until the daemon holds at most `at_most` fds; returns the last count."""
    n = daemon.open_fds()
    deadline = time.monotonic() + timeout
    while n > at_most and time.monotonic() < deadline:
        time.sleep(0.1)
        n = daemon.open_fds()
    return n


# -- the well-behaved client -------------------------------------------------------------------


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100.0 * len(s) + 0.5)) - 1))]


class GoodClient:
    """The well-behaved client in a subprocess; measure(seconds) returns its figures over that
    window: {"n", "p50_ms", "p99_ms", "max_ms", "errors": [...]}."""

    def __init__(self, host, port, paths, pause=0.002, max_seconds=1200):
        args = [sys.executable, os.path.abspath(__file__), "good", host, str(port),
                str(pause), str(max_seconds)] + list(paths)
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, close_fds=True)
        self.errors = []
        self.requests = 0
        self.dump()  # waits for the first request to have been answered

    def dump(self):
        self.proc.stdin.write("dump\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError("good client exited: rc=%s" % self.proc.poll())
        d = json.loads(line)
        self.errors += d["errors"]
        self.requests += len(d["lat"])
        return d

    def measure(self, seconds):
        self.dump()
        time.sleep(seconds)
        d = self.dump()
        lat = [x * 1000.0 for x in d["lat"]]
        return {"n": len(lat), "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99),
                "max_ms": max(lat) if lat else float("nan"), "errors": d["errors"]}

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.dump()
                self.proc.stdin.close()
            except (OSError, AssertionError, ValueError):
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _good_client_main(host, port, pause, max_seconds, paths):
    import http.client

    lock = threading.Lock()
    lat, errors = [], []
    stop = threading.Event()

    def run():
        conn = None
        deadline = time.monotonic() + max_seconds
        i = 0
        while not stop.is_set() and time.monotonic() < deadline:
            path = paths[i % len(paths)]
            i += 1
            t0 = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, port, timeout=30)
                conn.request("GET", path)
                r = conn.getresponse()
                body = r.read()
                dt = time.monotonic() - t0
                with lock:
                    if r.status != 200 or not body:
                        errors.append(f"{path}: {r.status} {body[:100]!r}")
                    else:
                        lat.append(dt)
                if r.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    errors.append(f"{path}: {type(e).__name__}: {e}")
                if conn is not None:
                    conn.close()
                conn = None
            if pause:
                time.sleep(pause)
        if conn is not None:
            conn.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    first = True
    for line in sys.stdin:
        if line.strip() != "dump":
            continue
        if first:  # report only once the client is connected and served
            first = False
            while True:
                with lock:
                    if lat or errors:
                        break
                time.sleep(0.01)
        with lock:
            out = {"lat": lat[:], "errors": errors[:]}
            lat.clear()
            errors.clear()
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()
    stop.set()
    t.join()


# -- reporting ---------------------------------------------------------------------------------


def report(name, unloaded, during, rss=None, fds=None, extra=""):
    """Prints one ABUSE line (copy it into RELIABILITY.md) and returns it."""
    line = (f"ABUSE {name} good p50 unloaded={unloaded['p50_ms']:.2f} ms "
            f"during={during['p50_ms']:.2f} ms | p99 unloaded={unloaded['p99_ms']:.2f} ms "
            f"during={during['p99_ms']:.2f} ms | n={unloaded['n']}/{during['n']} "
            f"errors={len(during['errors'])}")
    if rss:
        line += f" | RssAnon KiB before={rss[0]} peak={rss[1]} after={rss[2]}"
    if fds:
        line += f" | fds before={fds[0]} after={fds[1]}"
    if extra:
        line += " | " + extra
    print("\n" + line, flush=True)
    path = os.environ.get("ABUSE_REPORT")
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")
    return line


# -- attacks -----------------------------------------------------------------------------------


def open_many(addr, n, rcvbuf=None, timeout=10):
    """n blocking connects (the listen backlog is 1024; connects queue behind it)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if rcvbuf:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            s.settimeout(timeout)
            s.connect(addr)
            socks.append(s)
    except BaseException:
        for s in socks:
            s.close()
        raise
    return socks


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def poll_reads(sel, timeout):
    """One select() over non-blocking sockets: (socket, bytes) for each that has something.
    b"" means it closed (EOF, or a reset after the server's linger: closed all the same) and
    is unregistered."""
    for key, _ in sel.select(timeout=timeout):
        s = key.fileobj
        try:
            b = s.recv(65536)
        except BlockingIOError:
            continue
        except OSError:
            b = b""
        if not b:
            sel.unregister(s)
        yield s, b


class Slowloris:
    """n connections that each send a request line and then one header line every `interval`
    seconds, never finishing the head. run() keeps trickling until the server has closed every
    one or `deadline` seconds pass; `reaped` counts server closes, `got_408` the 408 answers."""

    def __init__(self, addr, n, interval=0.5):
        self.addr, self.n, self.interval = addr, n, interval
        self.ready = threading.Event()
        self.reaped = 0
        self.got_408 = 0
        self.unexpected = []
        self.opened_at = None

    def run(self, deadline):
        socks = open_many(self.addr, self.n)
        sel = selectors.DefaultSelector()
        data = {}
        try:
            for s in socks:
                s.setblocking(False)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                s.send(b"GET /kv/abuse/k HTTP/1.1\r\nHost: a\r\n")
                sel.register(s, selectors.EVENT_READ)
                data[s] = b""
            self.opened_at = time.monotonic()
            self.ready.set()
            live = set(socks)
            end = time.monotonic() + deadline
            line = 0
            next_trickle = time.monotonic() + self.interval
            while live and time.monotonic() < end:
                for s, b in poll_reads(sel, 0.05):
                    if b:
                        data[s] += b
                        continue
                    live.discard(s)
                    self.reaped += 1
                    if data[s].startswith(b"HTTP/1.1 408 "):
                        self.got_408 += 1
                    elif data[s]:
                        self.unexpected.append(data[s][:100])
                if time.monotonic() >= next_trickle:
                    line += 1
                    for s in list(live):
                        if data[s]:
                            continue  # answered: stop sending, read to EOF
                        try:
                            s.send(b"X-T%d: v\r\n" % line)
                        except BlockingIOError:
                            pass
                        except OSError:
                            pass
                    next_trickle += self.interval
        finally:
            self.ready.set()
            sel.close()
            close_all(socks)


class Idle:
    """n connections that send nothing. open() connects them; wait_reaped() waits for the
    server to close them (EOF on each); close() closes what is left."""

    def __init__(self, addr, n):
        self.addr, self.n = addr, n
        self.socks = []

    def open(self):
        self.socks = open_many(self.addr, self.n)
        self.opened_at = time.monotonic()

    def wait_reaped(self, timeout):
        sel = selectors.DefaultSelector()
        for s in self.socks:
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
        live = set(self.socks)
        unexpected = []
        end = time.monotonic() + timeout
        while live and time.monotonic() < end:
            for s, b in poll_reads(sel, 0.2):
                if b:
                    unexpected.append(b[:100])  # an idle close sends no response
                    continue
                live.discard(s)
        sel.close()
        return len(self.socks) - len(live), unexpected

    def close(self):
        close_all(self.socks)
        self.socks = []


def over_cap_probe(addr, n, timeout=10):
    """n fresh connections each asking for /health with Connection: close. Returns the status
    of each (0 when no complete answer came within `timeout`: the listener stalled)."""
    out = []
    for _ in range(n):
        s = socket.create_connection(addr, timeout=timeout)
        try:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            got = read_to_eof(s)
            status = int(got.split(b" ", 2)[1]) if got.startswith(b"HTTP/1.1 ") else 0
            out.append(status)
        finally:
            s.close()
    return out


class ThreadedAttack:
    """`conns` threads running self._run(i) until stop(); `ok` counts good answers, anything
    else lands in `errors`."""

    def __init__(self, conns):
        self.ok = 0
        self.errors = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                         for i in range(conns)]

    def start(self):
        for t in self._threads:
            t.start()
        return self

    def stop(self, timeout=60):
        self._stop.set()
        for t in self._threads:
            t.join(timeout)
        return not any(t.is_alive() for t in self._threads)


class PipelineFlood(ThreadedAttack):
    """`conns` connections, each sending `depth` pipelined GETs at a time and reading every
    answer before the next batch, until stop() or `max_batches`. `ok` counts 200s; anything
    else lands in `errors`."""

    def __init__(self, addr, conns, depth=200, path="/kv/abuse/k", max_batches=100000):
        self.addr, self.conns, self.depth, self.max_batches = addr, conns, depth, max_batches
        self.batch = (b"GET %s HTTP/1.1\r\nHost: a\r\n\r\n" % path.encode()) * depth
        super().__init__(conns)

    def _run(self, _i):
        marker = b"HTTP/1.1 "
        try:
            s = socket.create_connection(self.addr, timeout=30)
        except OSError as e:
            with self._lock:
                self.errors.append(f"connect: {e}")
            return
        try:
            for _ in range(self.max_batches):
                if self._stop.is_set():
                    break
                s.sendall(self.batch)
                buf = b""
                seen = 0
                while seen < self.depth:
                    b = s.recv(1 << 20)
                    if not b:
                        raise ConnectionError("closed after %d of %d answers" % (seen, self.depth))
                    buf += b  # a batch's answers are small: count over all of them
                    seen = buf.count(marker)
                ok = buf.count(b"HTTP/1.1 200 ")
                with self._lock:
                    self.ok += ok
                    if ok != self.depth:
                        self.errors.append(f"{self.depth - ok} non-200 answers in a batch")
        except OSError as e:
            with self._lock:
                self.errors.append(f"{type(e).__name__}: {e}")
        finally:
            s.close()


class OversizedBodies(ThreadedAttack):
    """`conns` threads, each sending oversized PUTs in turn until stop(): a Content-Length over
    the limit (refused from the head), and a chunked body that grows past it (refused midway).
    Each must get a 413; `ok` counts them."""

    def __init__(self, addr, conns, limit, path="/kv/abuse/big-put", max_rounds=100000):
        self.addr, self.conns, self.limit, self.path = addr, conns, limit, path
        self.max_rounds = max_rounds
        super().__init__(conns)

    def _one(self, chunked):
        s = socket.create_connection(self.addr, timeout=30)
        try:
            size = 2 * self.limit
            piece = b"x" * 65536
            if chunked:
                s.sendall(b"PUT %s HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                          % self.path.encode())
                frame = b"%x\r\n%s\r\n" % (len(piece), piece)
            else:
                s.sendall(b"PUT %s HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n"
                          % (self.path.encode(), size))
                frame = piece
            try:
                for _ in range(size // len(piece)):
                    s.sendall(frame)
                if chunked:
                    s.sendall(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the 413 came first and the linger ended: read it below
            return read_to_eof(s)
        finally:
            s.close()

    def _run(self, i):
        for r in range(self.max_rounds):
            if self._stop.is_set():
                return
            try:
                got = self._one(chunked=(r + i) % 2 == 1)
            except OSError as e:
                got = f"{type(e).__name__}: {e}".encode()
            with self._lock:
                if got.startswith(b"HTTP/1.1 413 "):
                    self.ok += 1
                else:
                    self.errors.append(got[:100])


def non_readers(addr, n, path, max_requests=2000, rcvbuf=4096):
    """n connections that pipeline GETs of `path` (up to `max_requests` each, as fast as the
    server takes them) and never read an answer. Returns the sockets, still open, and the
    number of requests sent."""
    socks = open_many(addr, n, rcvbuf=rcvbuf)
    return socks, send_unread(socks, path, max_requests)


def send_unread(socks, path, max_requests):
    """Pipelines up to `max_requests` GETs of `path` on each socket without reading, until
    sent or the server stops reading (no progress for a second). Returns the requests sent."""
    req = b"GET %s HTTP/1.1\r\nHost: a\r\n\r\n" % path.encode()
    sent = 0
    for s in socks:
        s.setblocking(False)
    pending = {s: req * max_requests for s in socks}
    stalled_since = time.monotonic()
    while pending and time.monotonic() - stalled_since < 1.0:
        progress = False
        for s in list(pending):
            try:
                k = s.send(pending[s])
            except BlockingIOError:
                continue
            except OSError:
                del pending[s]
                continue
            if k:
                progress = True
                sent += k
                pending[s] = pending[s][k:]
                if not pending[s]:
                    del pending[s]
        if progress:
            stalled_since = time.monotonic()
        else:
            time.sleep(0.02)
    return sent // len(req)


if __name__ == "__main__":
    if len(sys.argv) >= 7 and sys.argv[1] == "good":
        _good_client_main(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]),
                          float(sys.argv[5]), sys.argv[6:])
    else:
        sys.exit("usage: abuse.py good HOST PORT PAUSE MAX_SECONDS PATH...")
