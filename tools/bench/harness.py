"""harness.py: processes, /proc readings and load generators shared by every bench suite.

Every server under test runs on CPU 0 (taskset), the load generator and the proxies' origin on
CPU 1. A measured run records req/s and latency (from the load generator), the server's CPU
time per request (utime+stime of its process tree from /proc/<pid>/stat, before and after) and
its RssAnon (/proc/<pid>/status), plus how much CPU other processes took meanwhile.
"""
import datetime
import http.client
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
SERVER_CPU, CLIENT_CPU = 0, 1
TICK = os.sysconf("SC_CLK_TCK")
OTHER_LIMIT = 15  # % of a core other processes may take before a run is repeated


def die(msg):
    print(f"bench: error: {msg}", file=sys.stderr)
    sys.exit(1)


def say(msg=""):
    print(msg, flush=True)


def show_cmd(argv, note=""):
    say(f"$ {shlex.join(argv)}" + (f"    # {note}" if note else ""))


def pin(cpu):
    return ["taskset", "-c", str(cpu)]


# ---------------------------------------------------------------- /proc readings


def tree(pid):
    """The pid and all its descendants (nginx master+worker, varnishd manager+child)."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu_ticks(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
            total += int(rest[11]) + int(rest[12])  # utime, stime (fields 14, 15)
        except OSError:
            pass
    return total


def rss_anon_kb(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                total += sum(int(l.split()[1]) for l in f if l.startswith("RssAnon:"))
        except OSError:
            pass
    return total


def core_times():
    """{cpu: (busy ticks, total ticks)} from /proc/stat."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            m = re.match(r"cpu(\d+) (.*)", line)
            if m:
                v = [int(x) for x in m.group(2).split()][:8]
                out[int(m.group(1))] = (sum(v) - v[3] - v[4], sum(v))
    return out


def busy_now(seconds=1.0):
    """Percent of one core the whole machine is busy over `seconds` (all cores summed)."""
    c0 = core_times()
    time.sleep(seconds)
    c1 = core_times()
    return sum(c1[c][0] - c0[c][0] for c in c1) * 100.0 / TICK / seconds


def machine():
    cpuinfo = open("/proc/cpuinfo").read()
    m = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.M)
    mem = re.search(r"^MemTotal:\s*(\d+)", open("/proc/meminfo").read(), re.M)
    virt = ""
    if shutil.which("systemd-detect-virt"):
        virt = subprocess.run(["systemd-detect-virt"], capture_output=True, text=True).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": m.group(1).strip() if m else "?",
        "kernel": platform.release(),
        "memory": f"{int(mem.group(1)) // 1024} MiB" if mem else "?",
        "virtualized": ("VM (CPU hypervisor flag)" if "hypervisor" in cpuinfo
                        else "no hypervisor flag") + (f", systemd-detect-virt: {virt}" if virt else ""),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg": open("/proc/loadavg").read().split()[:3],
    }


def syscall_cost():
    """CPU µs one trivial syscall costs here (perf bench syscall basic on CPU 1): on a
    paravirtualised guest it is many times a bare-metal one, and it sets the per-request floor."""
    loops = 1_000_000
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(pin(CLIENT_CPU) + ["perf", "bench", "syscall", "basic", "-l", str(loops)],
                         capture_output=True, text=True)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        return None
    return round((ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) * 1e6 / loops, 3)


def start_pinned_daemon(bin_path, tmp, cfg):
    """Starts bin_path on CPU 0 with cfg (written to tmp/config.json), data in tmp/data and its
    log in tmp/log, pins this process to CPU 1 and waits (10 s at most) until the daemon
    accepts connections. Returns (Popen, port, log file); the caller terminates and closes."""
    port = free_port()
    with open(os.path.join(tmp, "config.json"), "w") as f:
        json.dump(cfg, f)
    log = open(os.path.join(tmp, "log"), "w")
    cmd = pin(SERVER_CPU) + [bin_path, "--config", os.path.join(tmp, "config.json"),
                             "--data-dir", os.path.join(tmp, "data"),
                             "--listen", f"127.0.0.1:{port}"]
    print("$ " + " ".join(cmd), flush=True)
    daemon = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    os.sched_setaffinity(0, {CLIENT_CPU})
    deadline = time.time() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return daemon, port, log
        except OSError:
            if time.time() > deadline or daemon.poll() is not None:
                daemon.kill()
                raise
            time.sleep(0.05)


# ---------------------------------------------------------------- small clients


def free_port():
    """A port nobody listens on: the kernel's pick for port 0, checked again before use."""
    for _ in range(50):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            return port
    die("no free TCP port on 127.0.0.1")


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def http_req(where, method, path, body=None, headers=None, timeout=10):
    """One request to a TCP port (int) or a Unix socket path (str): (status, headers, body)."""
    conn = (UnixHTTPConnection(where, timeout) if isinstance(where, str)
            else http.client.HTTPConnection("127.0.0.1", where, timeout=timeout))
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def fill_template(name, dest, **values):
    """Copies tools/bench/<name> to dest with every @KEY@ replaced."""
    with open(os.path.join(HERE, name)) as f:
        text = f.read()
    for k, v in values.items():
        text = text.replace(f"@{k}@", str(v))
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        die(f"{name}: unfilled placeholders {left}")
    with open(dest, "w") as f:
        f.write(text)
    return dest


def wrk_result(stdout):
    """The BENCH line report.lua prints, as a dict of ints."""
    line = next((l for l in stdout.splitlines() if l.startswith("BENCH ")), None)
    return {k: int(v) for k, v in (kv.split("=") for kv in line.split()[1:])} if line else None


# ---------------------------------------------------------------- processes


class Proc:
    def __init__(self, name, popen, log):
        self.name, self.popen, self.log = name, popen, log

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def log_tail(self, n=20):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


class Measure:
    """Server CPU, RssAnon and per-core busy time around one load run.

    "other" estimates the CPU other processes took meanwhile: busy time on every core minus
    the server's, the load generator's (RUSAGE_CHILDREN: the load command is the only child
    reaped inside) and the origin's, as a percentage of one core.
    """

    def __init__(self, proc, extra_procs=()):
        self.proc = proc
        self.extra = [p for p in extra_procs if p]

    def _extra_ticks(self):
        return sum(cpu_ticks(tree(p.pid)) for p in self.extra)

    @staticmethod
    def _children_cpu():
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return ru.ru_utime + ru.ru_stime

    def __enter__(self):
        pids = tree(self.proc.pid)
        self.ticks0, self.rss0 = cpu_ticks(pids), rss_anon_kb(pids)
        self.extra0, self.client0 = self._extra_ticks(), self._children_cpu()
        self.cores0, self.t0 = core_times(), time.monotonic()
        return self

    def __exit__(self, *exc):
        pids = tree(self.proc.pid)
        cores1, wall = core_times(), time.monotonic() - self.t0
        self.client_s = self._children_cpu() - self.client0
        self.rss1 = rss_anon_kb(pids)
        self.cpu_s = (cpu_ticks(pids) - self.ticks0) / TICK
        extra_s = (self._extra_ticks() - self.extra0) / TICK

        def busy(cpu):
            b, t = (cores1[cpu][i] - self.cores0[cpu][i] for i in (0, 1))
            return 100.0 * b / t if t else 0.0

        self.srv_busy, self.cli_busy = busy(SERVER_CPU), busy(CLIENT_CPU)
        busy_s = sum(cores1[c][0] - self.cores0[c][0] for c in cores1) / TICK
        self.other_pct = max(0.0, 100.0 * (busy_s - self.cpu_s - self.client_s - extra_s) / wall)


class Bench:
    """Starts and stops the servers, runs measured loads, collects the result rows."""

    def __init__(self, args):
        self.args = args
        self.dur = args.duration
        self.bin = os.path.abspath(args.bin)
        if not os.access(self.bin, os.X_OK):
            die(f"{self.bin} is not an executable (build it, or pass --bin)")
        for tool in ("taskset", "wrk", "redis-server", "redis-benchmark", "redis-cli", "nginx",
                     "varnishd", "perf"):
            if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
                die(f"{tool} not found: run tools/deps bench (tools/bench/run does)")
        if os.cpu_count() < 2:
            die("needs 2 CPUs: the server on CPU 0, the load generator on CPU 1")
        self.procs = []
        self.tmp = tempfile.mkdtemp(prefix="ecbench.")
        os.chmod(self.tmp, 0o755)  # nginx workers and varnishd's child may drop privileges
        self.seq = 0
        self.origin_proc = None  # its CPU is counted as ours, not as "other", while it runs
        # What the report is made of.
        self.results, self.notes, self.profiles = [], [], []
        self.long_runs, self.coalescing, self.purges = [], [], []
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, _frame):
        say(f"\nbench: signal {signum}, stopping everything")
        sys.exit(130)  # runs close() through main's finally

    def close(self):
        for p in list(self.procs):
            self.stop(p, quiet=True)
        if self.args.keep_tmp:
            say(f"bench: kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------------------ processes

    def dir(self, name):
        d = os.path.join(self.tmp, name)
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o777)
        return d

    def start(self, name, argv, cpu):
        full = pin(cpu) + argv
        show_cmd(full)
        self.seq += 1
        log = os.path.join(self.tmp, f"{self.seq:02d}-{name}.log")
        with open(log, "wb") as out:
            popen = subprocess.Popen(full, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def stop(self, proc, quiet=False):
        if proc not in self.procs:
            return
        self.procs.remove(proc)
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.popen.wait(timeout=15)
        except ProcessLookupError:
            proc.popen.wait()
        except subprocess.TimeoutExpired:
            pass
        # Leftover children (nginx workers, varnishd's child) share the process group.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.popen.wait()
        if not quiet:
            say(f"# stopped {proc.name}")

    def wait_port(self, proc, port, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not proc.alive():
                die(f"{proc.name} exited with {proc.popen.returncode} before listening on "
                    f"{port}; its log ({proc.log}):\n{proc.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            except OSError:
                time.sleep(0.05)
                continue
            time.sleep(0.2)  # a process that lost the port to someone else exits about now
            if proc.alive():
                return
        die(f"{proc.name} did not listen on 127.0.0.1:{port} within {timeout}s; "
            f"its log ({proc.log}):\n{proc.log_tail()}")

    # ------------------------------------------------------------ servers

    def edgecached(self, name, cfg, proxy=False):
        """Starts edgecached with `cfg` over the bench defaults; proxy=True serves only the
        proxy on the data listener (no KV routes). Returns (proc, port, admin socket path)."""
        d = self.dir(name)
        port = free_port()
        listen = {"address": f"127.0.0.1:{port}", "serve": ["proxy"]} if proxy \
            else f"127.0.0.1:{port}"
        cfg = {"listen": [listen], "data_dir": os.path.join(d, "data"),
               "admin_socket": os.path.join(d, "admin.sock"), "map_size": "8GiB",
               "log_level": "warn", **cfg}
        path = os.path.join(d, "edgecached.json")
        with open(path, "w") as f:
            json.dump(cfg, f, indent=1)
        say(f"# {path}: {json.dumps(cfg)}")
        proc = self.start(name, [self.bin, "--config", path], SERVER_CPU)
        self.wait_port(proc, port)
        return proc, port, cfg["admin_socket"]

    def edgecached_proxy(self, name, origin_port, **cfg):
        return self.edgecached(name, {
            "origins": {"origin": {"url": f"http://127.0.0.1:{origin_port}"}},
            "routes": [{"name": "bench", "prefix": "/", "origin": "origin"}], **cfg}, proxy=True)

    def redis(self, name, conf):
        d = self.dir(name)
        port = free_port()
        proc = self.start(name, ["redis-server", os.path.join(HERE, conf), "--port", str(port),
                                 "--dir", d, "--pidfile", os.path.join(d, "redis.pid")],
                          SERVER_CPU)
        self.wait_port(proc, port)
        return proc, port

    def nginx(self, name, conf, cpu, **values):
        d = self.dir(name)
        port = free_port()
        for sub in ("client_body", "proxy_temp", "fastcgi", "uwsgi", "scgi", "cache"):
            self.dir(f"{name}/{sub}")
        path = fill_template(conf, os.path.join(d, "nginx.conf"), DIR=d, PORT=port,
                             USER="user root;" if os.geteuid() == 0 else "", **values)
        say(f"# {path} from tools/bench/{conf}")
        proc = self.start(name, ["nginx", "-c", path, "-p", d, "-e", os.path.join(d, "error.log")],
                          cpu)
        self.wait_port(proc, port)
        return proc, port

    def varnish(self, name, origin_port):
        d = self.dir(name)
        port = free_port()
        vcl = fill_template("varnish.vcl", os.path.join(d, "varnish.vcl"), ORIGIN_PORT=origin_port)
        say(f"# {vcl} from tools/bench/varnish.vcl")
        argv = ["varnishd", "-F", "-n", os.path.join(d, "work"), "-a", f"127.0.0.1:{port}",
                "-f", vcl, "-s", "malloc,1G", "-T", "none", "-p", "listen_depth=4096"]
        if os.geteuid() != 0:
            argv += ["-j", "none"]
        proc = self.start(name, argv, SERVER_CPU)
        self.wait_port(proc, port, timeout=60)
        return proc, port

    def origin(self):
        """The static origin (nginx on CPU 1) with /obj/1k.bin and /obj/16k.bin, cacheable for
        an hour. Returns (proc, port); it also becomes self.origin_proc."""
        docroot = self.dir("docroot")
        os.makedirs(os.path.join(docroot, "obj"), exist_ok=True)
        for name, size in (("1k.bin", 1024), ("16k.bin", 16384)):
            with open(os.path.join(docroot, "obj", name), "wb") as f:
                f.write(b"o" * size)
        proc, port = self.nginx("origin-nginx", "nginx-origin.conf", CLIENT_CPU, DOCROOT=docroot)
        say(f"# origin: nginx static files on CPU {CLIENT_CPU}, 127.0.0.1:{port}, "
            "Cache-Control: public, max-age=3600")
        self.origin_proc = proc
        return proc, port

    # ------------------------------------------------------------ measured runs

    def quiet(self):
        """Waits (up to 20 s, never more than --wait-idle) for other processes to leave the
        CPUs alone."""
        deadline = time.monotonic() + min(20, self.args.wait_idle)
        while True:
            busy = busy_now()
            if busy < OTHER_LIMIT or time.monotonic() >= deadline:
                return busy
            time.sleep(2)

    def measured(self, proc, make_argv, run, attempts=2):
        """Runs the load command make_argv() gives, once more (with a fresh make_argv()) when
        other processes took more than OTHER_LIMIT % of a core meanwhile (not with
        --wait-idle 0); returns (argv, Measure, run's result)."""
        if self.args.wait_idle == 0:
            attempts = 1
        for attempt in range(1, attempts + 1):
            self.quiet()
            argv = make_argv()
            show_cmd(argv)
            with Measure(proc, [self.origin_proc]) as m:
                res = run(argv)
            if m.other_pct <= OTHER_LIMIT or attempt == attempts:
                return argv, m, res
            say(f"  (other processes took {m.other_pct:.0f}% of a core during that run; again)")

    def wrk(self, proc, suite, group, server, conns, url, script, script_args=(), duration=None,
            attempts=2):
        """wrk -t1 on CPU 1; "@U@" in script_args becomes a token unique to the attempt (the
        key prefix of PUTs and misses, so no run repeats another's keys)."""
        def make_argv():
            argv = pin(CLIENT_CPU) + ["wrk", "-t1", f"-c{conns}", f"-d{duration or self.dur}s",
                                      "--timeout", "5s", "-s", os.path.join(HERE, script), url]
            token = str(time.time_ns() // 1000)
            return argv + (["--"] + [a.replace("@U@", token) for a in script_args]
                           if script_args else [])

        def run(argv):
            out = subprocess.run(argv, capture_output=True, text=True)
            r = wrk_result(out.stdout)
            if out.returncode != 0 or r is None:
                die(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
            return r

        argv, m, r = self.measured(proc, make_argv, run, attempts=attempts)
        res = self.record(suite, group, server, conns, argv, m, r["requests"],
                          r["duration_us"] / 1e6, r["p50_us"], r["p95_us"], r["p99_us"],
                          r["errors"] + r["non2xx"])
        res["script_args"] = argv[argv.index("--") + 1:] if "--" in argv else []
        return res

    def redis_bench(self, proc, port, group, server, test, conns, n, extra=()):
        def make_argv():
            return pin(CLIENT_CPU) + ["redis-benchmark", "-p", str(port), "-t", test, "-d",
                                      "1024", "-c", str(conns), "-P", "1", "-n", str(n), *extra,
                                      "--csv"]

        def run(argv):
            out = subprocess.run(argv, capture_output=True, text=True)
            rows = [l for l in out.stdout.splitlines()
                    if l.startswith('"') and not l.startswith('"test"')]
            if out.returncode != 0 or not rows:
                die(f"redis-benchmark failed:\n{out.stdout}\n{out.stderr}")
            return [x.strip('"') for x in rows[0].split(",")]

        argv, m, f = self.measured(proc, make_argv, run)
        # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",
        # "p99_latency_ms","max_latency_ms"
        p50, p95, p99 = (float(x) * 1000 for x in (f[4], f[5], f[6]))
        return self.record("kv", group, server, conns, argv, m, n, n / float(f[1]), p50, p95,
                           p99, 0)

    def record(self, suite, group, server, conns, argv, m, requests, seconds, p50, p95, p99,
               errors):
        r = {
            "suite": suite, "group": group, "server": server, "conns": conns,
            "cmd": shlex.join(argv), "requests": requests, "seconds": round(seconds, 2),
            "rps": requests / seconds if seconds else 0.0,
            "p50_us": p50, "p95_us": p95, "p99_us": p99,
            "cpu_us_per_req": m.cpu_s * 1e6 / requests if requests else 0.0,
            "server_cpu_s": round(m.cpu_s, 2), "server_core_busy": round(m.srv_busy, 1),
            "client_core_busy": round(m.cli_busy, 1), "other_pct": round(m.other_pct, 1),
            "rss_before_kb": m.rss0, "rss_after_kb": m.rss1, "errors": errors,
        }
        self.results.append(r)
        say(f"  -> {r['server']:<24} {r['group']:<34} c{conns:<4} {r['rps']:>9,.0f} req/s  "
            f"p50 {p50 / 1000:.2f} ms  p99 {p99 / 1000:.2f} ms  "
            f"{r['cpu_us_per_req']:.2f} µs CPU/req  RssAnon {m.rss0}→{m.rss1} KiB  "
            f"cores {m.srv_busy:.0f}%/{m.cli_busy:.0f}%  other {m.other_pct:.0f}%")
        if errors:
            say(f"  !! {errors} errors or non-2xx responses in this run")
            self.notes.append(f"{server} {group} c{conns}: {errors} errors/non-2xx responses")
        return r

    def rounds(self, cases):
        """Runs every case for every server, interleaved (case by case, server by server) and
        repeated --repeat times, so drift of a shared machine hits all servers alike.
        cases: [[callable() for each server] for each case]."""
        for rnd in range(1, self.args.repeat + 1):
            if self.args.repeat > 1:
                say(f"\n-- round {rnd} of {self.args.repeat} --")
            for runs in cases:
                for run in runs:
                    run()["round"] = rnd

    def long_run(self, proc, label, conns, url, script, script_args):
        """One --long-seconds wrk run with RssAnon sampled every 10 s."""
        secs = self.args.long_seconds
        samples, stop = [(0, rss_anon_kb(tree(proc.pid)))], threading.Event()

        def sample():
            t0 = time.monotonic()
            while not stop.wait(10):
                samples.append((round(time.monotonic() - t0), rss_anon_kb(tree(proc.pid))))

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        r = self.wrk(proc, "long", label, proc.name, conns, url, script, script_args,
                     duration=secs, attempts=1)
        stop.set()
        th.join()
        samples.append((secs, rss_anon_kb(tree(proc.pid))))
        vals = [kb for _, kb in samples]
        # Flatness: growth over the second half of the run, where warm-up is over.
        half = [kb for t, kb in samples if t >= secs / 2]
        lr = {"label": label, "server": proc.name, "seconds": secs, "rps": r["rps"],
              "samples_kb": samples, "min_kb": min(vals), "max_kb": max(vals),
              "second_half_growth_kb": half[-1] - half[0] if len(half) > 1 else 0}
        self.long_runs.append(lr)
        say(f"  RssAnon samples (s, KiB): {samples}")
        say(f"  second-half growth: {lr['second_half_growth_kb']} KiB")
