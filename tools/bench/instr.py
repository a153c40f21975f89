#!/usr/bin/python3
"""instr.py: instructions per request of edgecached binaries, counted by callgrind, per thread.

Wall-clock and CPU figures (ab.py) move with whatever else the machine runs; instruction counts
do not. Each binary runs under `valgrind --tool=callgrind --separate-threads=yes` with counting
switched on only once the daemon answers /health and off before it is stopped, so start-up and
shutdown are left out. A fixed number of requests then goes over a few keep-alive connections,
and each thread's count (the event loop; the store's writer) is divided by that number. Group
commit makes the writer's share depend on how many writes share a transaction, so compare
binaries with the same --connections.

Usage: tools/bench/instr.py A_BIN [B_BIN] [--case kv-put|kv-get] [--requests 4000]
                            [--connections 8] [--keep DIR]
With two binaries it prints B/A per thread and in all. --keep DIR keeps the callgrind files
(callgrind_annotate DIR/<name>.cg-01 shows where a thread's instructions went).
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_health(port, proc, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            harness.die(f"edgecached exited with {proc.returncode} before answering /health")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    harness.die("edgecached did not answer /health under valgrind")


def read_reply(f):
    """Reads one response off a keep-alive connection; returns its status."""
    status = int(f.readline().split()[1])
    length = 0
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    f.read(length)
    return status


def drive(port, case, requests, connections):
    """Sends `requests` requests over `connections` connections; fails on any non-2xx."""
    body = b"v" * 1024
    if case == "kv-get":
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"PUT /kv/bench/k1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n" + body)
            if read_reply(s.makefile("rb")) != 200:
                harness.die("the kv-get case could not store its key")
    errors = []

    def worker(w):
        with socket.create_connection(("127.0.0.1", port)) as s:
            f = s.makefile("rb")
            for i in range(requests // connections):
                if case == "kv-put":
                    req = (b"PUT /kv/bench/p%d-%d HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n"
                           % (w, i)) + body
                else:
                    req = b"GET /kv/bench/k1 HTTP/1.1\r\nHost: x\r\n\r\n"
                s.sendall(req)
                status = read_reply(f)
                if status // 100 != 2:
                    errors.append(status)
                    return

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        harness.die(f"requests failed with status {errors[0]}")


def thread_totals(prefix):
    """{thread number: instructions} from callgrind's per-thread files <prefix>-NN."""
    out = {}
    d, base = os.path.split(prefix)
    for name in sorted(os.listdir(d)):
        m = re.fullmatch(re.escape(base) + r"-(\d+)", name)
        if not m:
            continue
        with open(os.path.join(d, name)) as f:
            for line in f:
                if line.startswith("totals:"):
                    out[int(m.group(1))] = int(line.split()[1])
    return out


def measure(binary, name, args, keep):
    work = tempfile.mkdtemp(prefix="ecinstr.")
    port = free_port()
    config = {"listen": [f"127.0.0.1:{port}"], "data_dir": os.path.join(work, "data"),
              "admin_socket": os.path.join(work, "admin.sock"), "map_size": "1GiB",
              "log_level": "warn", "durability": "batch"}
    with open(os.path.join(work, "edgecached.json"), "w") as f:
        json.dump(config, f)
    prefix = os.path.join(keep or work, f"{name}.cg")
    cmd = ["valgrind", "--tool=callgrind", "--separate-threads=yes", "--instr-atstart=no",
           f"--callgrind-out-file={prefix}", binary, "--config",
           os.path.join(work, "edgecached.json")]
    with open(os.path.join(work, "valgrind.log"), "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_health(port, proc)
        subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True,
                       stdout=subprocess.DEVNULL)
        drive(port, args.case, args.requests, args.connections)
        subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], check=True,
                       stdout=subprocess.DEVNULL)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    totals = thread_totals(prefix)
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return {t: n / args.requests for t, n in totals.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a")
    ap.add_argument("b", nargs="?")
    ap.add_argument("--case", choices=["kv-put", "kv-get"], default="kv-put")
    ap.add_argument("--requests", type=int, default=4000)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--keep")
    args = ap.parse_args()
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        harness.die("valgrind is missing: tools/deps bench installs it")
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
    runs = [("A", args.a)] + ([("B", args.b)] if args.b else [])
    results = {}
    for label, binary in runs:
        results[label] = measure(binary, label, args, args.keep)
    names = {1: "loop", 2: "writer"}
    threads = sorted(set().union(*(r.keys() for r in results.values())))
    print(f"\n{args.case}: {args.requests} requests over {args.connections} connections, "
          "instructions per request (callgrind)\n")
    head = "| thread | " + " | ".join(f"{label} ({os.path.basename(b)})" for label, b in runs)
    print(head + (" | B/A |" if args.b else " |"))
    print("|---|" + "---:|" * (len(runs) + (1 if args.b else 0)))
    rows = [(names.get(t, f"thread {t}"), [results[label].get(t, 0) for label, _ in runs])
            for t in threads]
    rows.append(("all", [sum(results[label].values()) for label, _ in runs]))
    for name, vals in rows:
        cells = " | ".join(f"{v:,.0f}" for v in vals)
        ratio = f" | {vals[1] / vals[0]:.2f}×" if args.b and vals[0] else ""
        print(f"| {name} | {cells}{ratio} |")


if __name__ == "__main__":
    main()
