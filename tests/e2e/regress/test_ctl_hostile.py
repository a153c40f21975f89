"""Issue 11 defect 12: edgecachectl wrote client-controlled bytes (escape sequences in keys and
titles) to the terminal, buffered an endless body from a hostile socket (2 GB in 6 s), and fell
back to a socket path relative to the working directory. Now control characters and bytes that
are not UTF-8 are shown as \\xNN, what it holds of a reply is bounded (64 KiB of head, 128 MiB
of buffered body), and ./edgecache-data/admin.sock is used only when it is the user's own.
"""
import os
import resource
import socket
import subprocess
import sys
import threading

import pytest

from ectest import check_cli, short_tmpdir

EDGECACHECTL = os.environ.get("EDGECACHECTL_BIN", "edgecachectl")
ESC = "\x1b]0;pwned\x07\x1b[2J"
with open(EDGECACHECTL, "rb") as _f:
    SANITIZED = b"__asan_init" in _f.read()


def run_ctl(*args, sock=None, cwd=None, timeout=60):
    """edgecachectl ARGS; returns (CompletedProcess, its peak RSS in KiB).

    A small Python process forks and execs it and reports its peak RSS: forked from this
    (large) pytest process directly, the RSS at fork time would count in the peak."""
    cmd = [EDGECACHECTL] + (["--socket", sock] if sock else []) + list(args)
    env = dict(os.environ)
    env.pop("EDGECACHE_SOCKET", None)
    report = os.path.join(short_tmpdir(), "peak")
    limit = "0" if SANITIZED else str(1 << 30)  # ASan cannot start under an address-space limit
    p = subprocess.run([sys.executable, "-c", WAITER, report, limit] + cmd, capture_output=True,
                       cwd=cwd, env=env, timeout=timeout)
    with open(report) as f:
        rc, peak = (int(x) for x in f.read().split())
    # Crash detection as for every command-line run (ectest.run_cli).
    return check_cli(subprocess.CompletedProcess(cmd, rc, p.stdout, p.stderr)), peak


# Runs argv[3:] as its child, with argv[2] bytes of address space at most (a client that does
# not bound its reads dies, not the host; 0: no limit), and writes "exit-code peak-RSS-KiB" to
# argv[1].
WAITER = """
import os, resource, sys
pid = os.fork()
if pid == 0:
    if int(sys.argv[2]):
        resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[2]), int(sys.argv[2])))
    os.execv(sys.argv[3], sys.argv[3:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write("%d %d" % (os.waitstatus_to_exitcode(status), usage.ru_maxrss))
"""


def test_regress_kv_list_escapes_control_characters(daemon):
    d = daemon
    key = "a" + ESC + "b\x9bc"  # the key's UTF-8 holds C1 CSI (c2 9b)
    enc = "".join(c if c.isascii() and c.isalnum() else "".join("%%%02X" % b for b in c.encode()) for c in key)
    assert d.put(f"/kv/ns/{enc}", b"v").status == 200
    p, _ = run_ctl("kv", "list", "ns", sock=d.admin_sock)
    assert p.returncode == 0, p
    assert b"\x1b" not in p.stdout and b"\x07" not in p.stdout and b"\xc2\x9b" not in p.stdout
    assert p.stdout == b"a\\x1b]0;pwned\\x07\\x1b[2Jb\\xc2\\x9bc\n"
    # --json stays exact for scripts.
    p, _ = run_ctl("--json", "kv", "list", "ns", sock=d.admin_sock)
    assert '"name":"a\\u001b]0;pwned\\u0007\\u001b[2Jb\u009bc"' in p.stdout.decode()


class HostileSocket:
    """A Unix socket that answers every connection with `head` and then `body_chunk` forever."""

    def __init__(self, head, body_chunk=b""):
        self.dir = short_tmpdir()
        self.path = os.path.join(self.dir, "s")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(4)
        self.head, self.chunk = head, body_chunk
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.stream, args=(c,), daemon=True).start()

    def stream(self, c):
        try:
            c.recv(65536)
            c.sendall(self.head)
            while self.chunk:
                c.sendall(self.chunk)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.sock.close()


ENDLESS = {
    "endless body": (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100000000000\r\n\r\n", b"0" * 65536,
                     "response body is larger than 128 MiB"),
    "endless chunked body": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                             b"10000\r\n" + b"0" * 65536 + b"\r\n",
                             "response body is larger than 128 MiB"),
    "endless header": (b"HTTP/1.1 200 OK\r\nX-A: ", b"a" * 65536,
                       "response head is larger than 64 KiB"),
}


@pytest.mark.parametrize("what", list(ENDLESS))
def test_regress_hostile_socket_cannot_grow_memory(what):
    head, chunk, message = ENDLESS[what]
    h = HostileSocket(head, chunk)
    try:
        p, peak = run_ctl("stats", sock=h.path, timeout=60)
    finally:
        h.close()
    assert p.returncode == 1, p
    assert message in p.stderr.decode(), p.stderr
    print(f"CTL {what}: exit {p.returncode}, peak RSS {peak} KiB")
    # The body limit is 128 MiB and the buffer never grows past it; copying it as it grows
    # peaks near 135 MiB alone, up to ~390 MiB when the address-space limit above changes
    # how glibc grows it. Before the fix: killed by that limit, or 2 GB in 6 s without it.
    # (ASan's quarantine keeps freed buffers mapped a while: a looser bound there.)
    assert peak < (1024 if SANITIZED else 450) * 1024, f"edgecachectl peaked at {peak} KiB"


def test_regress_error_messages_from_the_socket_are_escaped():
    body = b'{"error":{"code":"x","message":"gone \\u001b[2J\\u001b]0;t\\u0007"}}'
    h = HostileSocket(b"HTTP/1.1 500 Oops\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body) + body)
    try:
        p, _ = run_ctl("stats", sock=h.path)
    finally:
        h.close()
    assert p.returncode == 1
    assert b"\x1b" not in p.stderr and b"\x07" not in p.stderr
    assert b"gone \\x1b[2J\\x1b]0;t\\x07" in p.stderr, p.stderr


def test_regress_no_relative_socket_of_another_user(daemon, tmp_path):
    if os.path.exists("/run/edgecached/admin.sock"):
        pytest.skip("/run/edgecached/admin.sock exists here and would take precedence")
    # Nothing in the working directory: the error names the absolute default.
    p, _ = run_ctl("health", cwd=tmp_path)
    assert p.returncode == 1
    assert p.stderr == b"cannot connect to /run/edgecached/admin.sock: is edgecached running?\n"
    # The user's own ./edgecache-data/admin.sock (tools/run) is still found.
    os.symlink(os.path.dirname(daemon.admin_sock), tmp_path / "edgecache-data")
    p, _ = run_ctl("health", cwd=tmp_path)
    assert p.returncode == 0, p
    if os.geteuid() != 0:
        return
    # One that belongs to someone else is not used: it could be anyone's listener.
    h = HostileSocket(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    try:
        planted = tmp_path / "planted"
        os.makedirs(planted / "edgecache-data")
        os.symlink(h.path, planted / "edgecache-data" / "admin.sock")
        os.chown(h.path, 65534, 65534)
        p, _ = run_ctl("health", cwd=planted)
    finally:
        h.close()
    assert p.returncode == 1
    assert b"/run/edgecached/admin.sock" in p.stderr, p.stderr
