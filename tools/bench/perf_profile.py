"""perf_profile.py: --perf — where a server's CPU goes: `perf record` top symbols and syscalls
per request (every sys_enter tracepoint counted over one more load run)."""
import os
import re
import signal
import subprocess
import time

from harness import CLIENT_CPU, HERE, pin, say, show_cmd, tree, wrk_result

# The syscalls worth naming (those this kernel has tracepoints for): perf opens one event per
# syscall and thread, and Varnish has hundreds of threads.
SYSCALLS = """read write readv writev pread64 pwrite64 recvfrom sendto recvmsg sendmsg sendfile64
    epoll_wait epoll_pwait epoll_ctl accept4 openat close newfstatat statx futex fdatasync fsync
    madvise mmap munmap brk io_uring_enter shutdown""".split()


def syscall_events():
    have = subprocess.run(["perf", "list", "syscalls:sys_enter_*"], capture_output=True,
                          text=True).stdout
    return [f"syscalls:sys_enter_{n}" for n in SYSCALLS
            if re.search(rf"syscalls:sys_enter_{n}\b", have)]


def profile(b, proc, label, load_argv, requests_of):
    out_dir = b.args.out
    pids = ",".join(str(p) for p in tree(proc.pid))
    data = os.path.join(out_dir, f"perf-{label}.data")
    say(f"# profile {label}")
    rec = ["perf", "record", "-F", "2999", "-p", pids, "-o", data, "--", "sleep",
           str(max(2, b.dur - 2))]
    show_cmd(rec)
    show_cmd(load_argv)
    perf = subprocess.Popen(rec, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(load_argv, capture_output=True)
    perf.wait()
    rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort",
                          "dso,sym", "--percent-limit", "0.7"], capture_output=True,
                         text=True).stdout
    with open(os.path.join(out_dir, f"perf-{label}.txt"), "w") as f:
        f.write(rep)
    top = [l[:150] for l in rep.splitlines() if l.strip() and not l.startswith("#")][:30]

    csv = os.path.join(b.tmp, f"stat-{label}.csv")
    stat = ["perf", "stat", "-x", ",", "-o", csv, "-e",
            ",".join(["raw_syscalls:sys_enter"] + syscall_events()), "-p", pids]
    show_cmd(stat)
    show_cmd(load_argv)
    sp = subprocess.Popen(stat, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    load = subprocess.run(load_argv, capture_output=True, text=True)
    sp.send_signal(signal.SIGINT)
    sp.wait()
    reqs = requests_of(load.stdout)
    counts = {}
    with open(csv) as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) > 2 and parts[0].isdigit() and int(parts[0]) > 0:
                counts[parts[2].replace("syscalls:sys_enter_", "")] = int(parts[0])
    total = counts.pop("raw_syscalls:sys_enter", 0)  # every syscall; the rest is "other"
    if total > sum(counts.values()):
        counts["other"] = total - sum(counts.values())
    per_req = {k: v / reqs for k, v in sorted(counts.items(), key=lambda kv: -kv[1])
               if v / reqs >= 0.01} if reqs else {}
    b.profiles.append({"label": label, "server": proc.name, "top": top,
                       "syscalls_per_req": per_req,
                       "syscalls_total_per_req": sum(per_req.values()),
                       "report": os.path.join(out_dir, f"perf-{label}.txt")})
    say("  top symbols:\n" + "\n".join("    " + l for l in top[:15]))
    say("  syscalls/request: " + ", ".join(f"{k} {v:.2f}" for k, v in per_req.items()))


def wrk_argv(b, conns, script, url, *args):
    return pin(CLIENT_CPU) + ["wrk", "-t1", f"-c{conns}", f"-d{b.dur}s", "-s",
                              os.path.join(HERE, script), url] + (["--", *args] if args else [])


def wrk_requests(out):
    return (wrk_result(out) or {}).get("requests", 0)


def kv(b, ec, ec_port, redis_peer):
    base = f"http://127.0.0.1:{ec_port}"
    profile(b, ec, "kv-get-edgecached", wrk_argv(b, 50, "get.lua", base + "/kv/bench/k1"),
            wrk_requests)
    profile(b, ec, "kv-put-batch-edgecached",
            wrk_argv(b, 50, "put.lua", base, "bench", f"q{int(time.time())}"), wrk_requests)
    proc, port, _ = redis_peer
    n = b.dur * 60_000
    profile(b, proc, "kv-get-redis",
            pin(CLIENT_CPU) + ["redis-benchmark", "-p", str(port), "-t", "get", "-d", "1024",
                               "-c", "50", "-P", "1", "-n", str(n), "--csv"], lambda _out: n)


def proxy(b, name, proc, port):
    tag, base = name.split()[0], f"http://127.0.0.1:{port}"
    profile(b, proc, f"proxy-hit-1k-{tag}", wrk_argv(b, 256, "get.lua", base + "/obj/1k.bin"),
            wrk_requests)
    profile(b, proc, f"proxy-miss-1k-{tag}",
            wrk_argv(b, 64, "miss.lua", base, "/obj/1k.bin", f"pm{int(time.time())}"),
            wrk_requests)
