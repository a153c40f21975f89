"""systemd integration: the sd_notify protocol through a NOTIFY_SOCKET the test owns, socket
activation the way systemd passes sockets (LISTEN_FDS / LISTEN_PID, fds from 3), the unit
files through systemd-analyze verify, and `meson install` into a DESTDIR."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from ectest import BUILD, EDGECACHECTL, EDGECACHED, ROOT, Daemon, short_tmpdir
from tls_certs import Pki
from tls_harness import https_get, peer_names

# Starts argv[2:] with argv[1]'s fd moved to fd 3 and LISTEN_PID naming the process itself:
# execv keeps the pid, so this is exactly what systemd hands a socket-activated service.
SHIM = r"""
import os, sys
fd = int(sys.argv[1])
if fd != 3:
    os.dup2(fd, 3)
    os.close(fd)
env = dict(os.environ)
env.setdefault("LISTEN_PID", str(os.getpid()))
if env["LISTEN_PID"] == "self":
    env["LISTEN_PID"] = str(os.getpid())
if env.get("WATCHDOG_PID") == "self":
    env["WATCHDOG_PID"] = str(os.getpid())
os.execve(sys.argv[2], sys.argv[2:], env)
"""

# Like SHIM without a socket: for WATCHDOG_PID=self.
PID_SHIM = r"""
import os, sys
env = dict(os.environ)
if env.get("WATCHDOG_PID") == "self":
    env["WATCHDOG_PID"] = str(os.getpid())
os.execve(sys.argv[1], sys.argv[1:], env)
"""


def has_systemd_support():
    path = os.path.join(BUILD, "build_config.hpp")
    try:
        return "#define EC_HAVE_SYSTEMD 1" in open(path).read()
    except OSError:
        return True


needs_libsystemd = pytest.mark.skipif(not has_systemd_support(),
                                      reason="built without libsystemd (-Dsystemd=disabled)")


class NotifySocket:
    """The service manager's end of the notify protocol: a datagram socket we read."""

    def __init__(self):
        self.dir = short_tmpdir()
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []  # each a dict of the datagram's KEY=VALUE lines

    def wait_for(self, key, value=None, timeout=10):
        """Reads datagrams until one has key (=value); returns it."""
        deadline = time.time() + timeout
        for m in self.messages:
            if key in m and (value is None or m[key] == value):
                return m
        while time.time() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.time()))
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                break
            m = dict(l.split("=", 1) for l in data.decode().splitlines() if "=" in l)
            self.messages.append(m)
            if key in m and (value is None or m[key] == value):
                return m
        raise AssertionError(f"no {key}={value} within {timeout}s; got {self.messages}")

    def drain(self, seconds):
        """Collects every datagram for `seconds`."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.time()))
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                break
            self.messages.append(
                dict(l.split("=", 1) for l in data.decode().splitlines() if "=" in l))
        return self.messages

    def close(self):
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def notify():
    n = NotifySocket()
    yield n
    n.close()


class ShimDaemon(Daemon):
    """A Daemon started through a python shim (socket activation, WATCHDOG_PID=self)."""

    def __init__(self, listen_sock=None, **kw):
        super().__init__(**kw)
        self.listen_sock = listen_sock

    def start(self, wait=True):
        self.log_offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        self.logf = open(self.log_path, "ab")
        if self.listen_sock is not None:
            fd = self.listen_sock.fileno()
            cmd = [sys.executable, "-c", SHIM, str(fd)] + self.command()
            pass_fds = (fd,)
        else:
            cmd = [sys.executable, "-c", PID_SHIM] + self.command()
            pass_fds = ()
        self.proc = subprocess.Popen(cmd, stdout=self.logf, stderr=self.logf, env=self.env,
                                     cwd=self.tmp, pass_fds=pass_fds)
        if wait:
            self.wait_ready()
        return self


@pytest.fixture
def make_shim_daemon():
    made = []

    def make(**kw):
        d = ShimDaemon(**kw)
        made.append(d)
        return d.start()

    yield make
    # Stopped and checked when the test body ended (conftest.py), like make_daemon's.
    for d in made:
        d.cleanup()


# -- notify protocol ---------------------------------------------------------------------------
@needs_libsystemd
def test_ready_status_and_stopping(make_daemon, notify):
    d = make_daemon(start=False, env={"NOTIFY_SOCKET": notify.path})
    d.start(wait=False)
    m = notify.wait_for("READY", "1")
    # READY=1 comes once the listeners are bound: the data plane answers right away.
    d.wait_ready()
    assert d.get("/health").status == 200
    assert re.match(r"serving 1 listener\(s\): 127\.0\.0\.1:\d+$", m.get("STATUS", "")), m
    assert m["STATUS"].endswith(d.addresses[0])
    # Nothing is said before READY except STATUS lines.
    first = notify.messages.index(m)
    assert all(set(x) <= {"STATUS"} for x in notify.messages[:first]), notify.messages

    d.send_signal(signal.SIGTERM)
    m = notify.wait_for("STOPPING", "1")
    assert m.get("STATUS", "").startswith("draining")
    # One SIGTERM, as systemd sends: the daemon drains and exits 0 by itself.
    assert d.wait_exit(20) == 0


@needs_libsystemd
def test_watchdog_pings(make_daemon, notify):
    d = make_daemon(env={"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "200000"})
    notify.wait_for("READY", "1")
    d.wait_log(r"systemd watchdog: pinging every 100 ms")
    msgs = notify.drain(1.0)
    pings = [m for m in msgs if m.get("WATCHDOG") == "1"]
    assert len(pings) >= 4, msgs
    # Pings keep coming while requests are served (they run on the loop).
    for _ in range(20):
        d.get("/health")
    notify.messages.clear()
    notify.wait_for("WATCHDOG", "1", timeout=2)


@needs_libsystemd
def test_watchdog_pid_must_match(make_daemon, make_shim_daemon, notify):
    # WATCHDOG_PID naming another process: the watchdog is not ours, no pings.
    d = make_daemon(env={"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "100000",
                         "WATCHDOG_PID": "1"})
    notify.wait_for("READY", "1")
    assert not [m for m in notify.drain(0.5) if "WATCHDOG" in m]
    assert "watchdog" not in d.log_since_start()
    d.stop()
    # WATCHDOG_PID naming the daemon itself (set by the shim before exec): pings.
    notify.messages.clear()
    make_shim_daemon(env={"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "100000",
                          "WATCHDOG_PID": "self"})
    notify.wait_for("READY", "1")
    notify.wait_for("WATCHDOG", "1", timeout=2)


@needs_libsystemd
def test_reloading_on_sighup(make_daemon, notify):
    d = make_daemon(config={"min_ttl": 60}, env={"NOTIFY_SOCKET": notify.path})
    notify.wait_for("READY", "1")
    notify.messages.clear()
    d.send_signal(signal.SIGHUP)
    m = notify.wait_for("RELOADING", "1", timeout=5)
    ready = notify.wait_for("READY", "1", timeout=5)
    assert notify.messages.index(ready) > notify.messages.index(m)
    assert d.get("/health").status == 200
    assert d.stop() == 0


def test_no_notify_socket_is_fine(daemon):
    # Outside systemd nothing is sent and nothing is logged about it.
    assert daemon.get("/health").status == 200
    assert "NOTIFY_SOCKET" not in daemon.log()


# -- socket activation -------------------------------------------------------------------------
def listening_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    return s


@needs_libsystemd
def test_socket_activation(make_shim_daemon, notify):
    s = listening_socket()
    port = s.getsockname()[1]
    d = make_shim_daemon(listen_sock=s, env={"LISTEN_FDS": "1", "LISTEN_PID": "self",
                                             "LISTEN_FDNAMES": "web",
                                             "NOTIFY_SOCKET": notify.path})
    s.close()  # the daemon holds its own copy
    # The passed socket replaces `listen` (the harness passes --listen 127.0.0.1:0).
    assert d.addresses == [f"127.0.0.1:{port}"], d.log()
    assert "(kv, proxy, health; socket activation: web, no listen entry has this address)" \
        in d.log()
    m = notify.wait_for("READY", "1")
    assert m["STATUS"] == f"serving 1 listener(s): 127.0.0.1:{port}"
    assert d.get("/health").status == 200
    assert d.put("/kv/act/k", b"v").status == 200
    assert d.get("/kv/act/k").body == b"v"
    assert d.stop() == 0


@needs_libsystemd
def test_socket_activation_takes_roles_from_matching_listen_entry(make_shim_daemon):
    s = listening_socket()
    port = s.getsockname()[1]
    cfg = {"listen": [{"address": f"127.0.0.1:{port}", "serve": ["health"]}]}
    d = make_shim_daemon(listen_sock=s, listen=[], config=cfg,
                         env={"LISTEN_FDS": "1", "LISTEN_PID": "self"})
    s.close()
    assert d.addresses == [f"127.0.0.1:{port}"]
    # Which socket, and whether a listen entry decided its roles; never "fd 3 unknown".
    assert "(health; socket activation: fd 3, as its listen entry says)" in d.log(), d.log()
    assert "unknown" not in d.log()
    assert d.get("/health").status == 200
    assert d.get("/kv/ns/k").status == 404


@needs_libsystemd
def test_reload_under_socket_activation_opens_no_listen_entries(make_shim_daemon):
    # The passed sockets replace `listen`: a reload must not bind the entries they replaced.
    s = listening_socket()
    d = make_shim_daemon(listen_sock=s, env={"LISTEN_FDS": "1", "LISTEN_PID": "self"})
    s.close()
    assert d.admin("POST", "/admin/reload").status == 200
    assert len(re.findall(r"listening on ", d.log())) == 1, d.log()


@needs_libsystemd
def test_socket_activation_speaks_tls_when_its_listen_entry_has_it(make_shim_daemon, tmp_path):
    # The TLS of the matching listen entry applies to the passed socket (it was served as
    # plaintext before), and a reload rereads its certificate files.
    pki = Pki(tmp_path / "pki")
    cert, key = pki.leaf("a", ["a.test"])
    s = listening_socket()
    port = s.getsockname()[1]
    cfg = {"listen": [{"address": f"127.0.0.1:{port}",
                       "tls": {"certificates": [{"cert": cert, "key": key}]}}]}
    d = make_shim_daemon(listen_sock=s, listen=[], config=cfg,
                         env={"LISTEN_FDS": "1", "LISTEN_PID": "self"})
    s.close()
    assert b"HTTP/1.1" not in d.raw(b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
    status, _, peer = https_get(d, pki, "/health", "a.test")
    assert status == 200 and peer_names(peer) == ["a.test"]
    assert "(kv, proxy, health; TLS; socket activation: fd 3, as its listen entry says)" \
        in d.log(), d.log()
    new_cert, new_key = pki.leaf("a2", ["a.test", "a2.test"])
    os.replace(new_cert, cert)
    os.replace(new_key, key)
    assert d.admin("POST", "/admin/reload").status == 200
    assert peer_names(https_get(d, pki, "/health", "a.test")[2]) == ["a.test", "a2.test"]


@needs_libsystemd
def test_socket_activation_ignores_fds_for_another_pid(make_shim_daemon):
    s = listening_socket()
    port = s.getsockname()[1]
    d = make_shim_daemon(listen_sock=s, env={"LISTEN_FDS": "1", "LISTEN_PID": "1"})
    s.close()
    assert "socket activation" not in d.log()
    assert d.addresses and d.addresses[0] != f"127.0.0.1:{port}"
    assert d.get("/health").status == 200


@needs_libsystemd
def test_socket_activation_refuses_a_non_listening_fd(make_shim_daemon):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # never listen()ed
    with pytest.raises(RuntimeError, match="not a listening stream socket"):
        make_shim_daemon(listen_sock=s, env={"LISTEN_FDS": "1", "LISTEN_PID": "self"})
    s.close()


# -- unit files --------------------------------------------------------------------------------
def built_unit(name):
    path = os.path.join(BUILD, "systemd", name)
    return path if os.path.exists(path) else os.path.join(ROOT, "systemd", name)


def unit_settings(path):
    settings = {}
    for line in open(path):
        line = line.strip()
        if line and not line.startswith(("#", "[")) and "=" in line:
            k, v = line.split("=", 1)
            settings.setdefault(k, []).append(v)
    return settings


def test_service_unit_settings():
    s = unit_settings(built_unit("edgecached.service"))
    one = {k: v[-1] for k, v in s.items()}
    assert one["Type"] == "notify"
    # Synchronous: `systemctl reload` fails when the daemon refuses the new config.
    assert re.match(r"/\S+/edgecachectl reload$", one["ExecReload"]), one["ExecReload"]
    assert re.match(r"/\S+/edgecached --config /etc/edgecached/edgecached\.json$",
                    one["ExecStart"]), one["ExecStart"]
    assert one["User"] == one["Group"] == "edgecached"
    assert one["StateDirectory"].split()[0] == "edgecached"
    assert one["RuntimeDirectory"] == "edgecached"
    assert one["RuntimeDirectoryMode"] == "0750"
    assert int(one["LimitNOFILE"]) > 10000  # max_connections' default, plus headroom
    assert one["WatchdogSec"]
    for k, v in {"ProtectSystem": "strict", "NoNewPrivileges": "yes", "PrivateTmp": "yes",
                 "SystemCallFilter": "@system-service"}.items():
        assert one[k] == v, k
    assert set(one["RestrictAddressFamilies"].split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    sock = unit_settings(os.path.join(ROOT, "systemd", "edgecached.socket"))
    assert sock["ListenStream"] == ["127.0.0.1:8787"]
    users = open(os.path.join(ROOT, "systemd", "edgecached.sysusers")).read()
    assert re.search(r'^u edgecached - "[^"]+" /var/lib/edgecached$', users, re.M)


def test_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze is not installed")
    # verify checks that ExecStart exists: point it at the build's binary and the example
    # config, in a copy of the units.
    text = open(built_unit("edgecached.service")).read()
    text = re.sub(r"^ExecStart=\S+", f"ExecStart={EDGECACHED}", text, flags=re.M)
    text = re.sub(r"^ExecReload=\S+", f"ExecReload={EDGECACHECTL}", text, flags=re.M)
    text = text.replace("/etc/edgecached/edgecached.json",
                        os.path.join(ROOT, "systemd", "edgecached.json"))
    (tmp_path / "edgecached.service").write_text(text)
    shutil.copy(os.path.join(ROOT, "systemd", "edgecached.socket"), tmp_path)
    p = subprocess.run([analyze, "verify", "--man=no",
                        str(tmp_path / "edgecached.service"), str(tmp_path / "edgecached.socket")],
                       capture_output=True, text=True, timeout=60)
    # Lines about the host (other units, no running systemd) are not ours.
    ours = [l for l in (p.stdout + p.stderr).splitlines() if "edgecached" in l]
    assert p.returncode == 0 and not ours, p.stdout + p.stderr


def test_sysusers_file_parses(tmp_path):
    sysusers = shutil.which("systemd-sysusers")
    if not sysusers:
        pytest.skip("systemd-sysusers is not installed")
    src = os.path.join(ROOT, "systemd", "edgecached.sysusers")
    # --root creates the user in a scratch tree, never on this machine.
    (tmp_path / "etc").mkdir()
    for f in ("passwd", "group", "shadow", "gshadow"):
        (tmp_path / "etc" / f).write_text("")
    p = subprocess.run([sysusers, "--root", str(tmp_path), src], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert re.search(r"^edgecached:x:\d+:\d+:edgecached edge cache:/var/lib/edgecached:",
                     (tmp_path / "etc" / "passwd").read_text(), re.M)
    assert re.search(r"^edgecached:x:\d+:", (tmp_path / "etc" / "group").read_text(), re.M)


# -- meson install -----------------------------------------------------------------------------
def test_meson_install_into_destdir(tmp_path):
    meson = shutil.which("meson")
    if not meson or not os.path.exists(os.path.join(BUILD, "meson-info")):
        pytest.skip("meson or the build directory's meson-info is not available")
    opts = json.loads(subprocess.run([meson, "introspect", "--buildoptions", BUILD],
                                     capture_output=True, check=True).stdout)
    opt = {o["name"]: o["value"] for o in opts}
    prefix, bindir = opt["prefix"], opt["bindir"]
    bin_path = bindir if bindir.startswith("/") else os.path.join(prefix, bindir)
    dest = tmp_path / "root"

    def install():
        p = subprocess.run([meson, "install", "-C", BUILD, "--no-rebuild", "--quiet",
                            "--destdir", str(dest)], capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr

    install()

    def at(path):
        return dest / path.lstrip("/")

    for exe in ("edgecached", "edgecachectl"):
        assert os.access(at(os.path.join(bin_path, exe)), os.X_OK), exe
    unitdirs = [d for d in ("/lib/systemd/system", "/usr/lib/systemd/system")
                if at(d + "/edgecached.service").exists()]
    assert unitdirs, list(dest.rglob("*"))
    unit = at(unitdirs[0] + "/edgecached.service").read_text()
    assert f"ExecStart={bin_path}/edgecached --config /etc/edgecached/edgecached.json" in unit
    assert at(unitdirs[0] + "/edgecached.socket").exists()
    assert any(at(d + "/edgecached.conf").exists()
               for d in ("/usr/lib/sysusers.d", "/lib/sysusers.d"))
    cfg = at("/etc/edgecached/edgecached.json")
    assert cfg.read_text() == open(os.path.join(ROOT, "systemd", "edgecached.json")).read()
    example = at("/etc/edgecached/edgecached.example.json")
    assert example.read_text() == open(os.path.join(ROOT, "systemd",
                                                    "edgecached.example.json")).read()
    # The installed binary accepts both installed files (with paths the test can use: a start
    # binds the listeners and writes the data dir, and so does --check-config).
    for f in (cfg, example):
        p = subprocess.run([str(at(os.path.join(bin_path, "edgecached"))), "--config", str(f),
                            "--check-config", "--listen", "127.0.0.1:0", "--data-dir",
                            str(tmp_path / "data")], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr

    # A re-install keeps an operator's edits to the config.
    cfg.write_text('{"min_ttl": 30}\n')
    install()
    assert cfg.read_text() == '{"min_ttl": 30}\n'
