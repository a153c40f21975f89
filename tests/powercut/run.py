#!/usr/bin/python3
"""Power-cut test: edgecached in a qemu guest, qemu SIGKILLed at random moments, disk checked.

Each round boots a Debian kernel (TCG) with a busybox initramfs holding edgecached, the writer
client (client.c), mdb_stat and mdb_dump. The data dir is on an ext4 virtio disk backed by a host
file opened with cache=none (O_DIRECT: the guest's flushes reach the host file, nothing is held
in the host's page cache), and the guest's writeback is turned up so dirty pages reach the disk
early and out of order. The guest first checks what the previous round left: `mdb_stat -a -f`
and `mdb_dump -a` must succeed, the daemon must start, every key is read back (the client checks
each value's bytes against its version) and one write must be accepted. Then many pipelined
connections write (plain: small values, new keys; churn: overwrites, deletes and values up to
256 KiB, so LMDB recycles pages), printing every acknowledged write on the serial console, and
the host SIGKILLs qemu at a random moment. The host keeps the acknowledged state and compares it
with what the next boot reads back:

- durability "sync": every acknowledged write is there with its exact value, every
  acknowledged delete stays deleted, unless a later write of that key (sent, maybe not
  acknowledged) explains the difference;
- durability "batch": the same, except that writes acknowledged within --batch-window-ms of the
  last acknowledgement seen before the kill may be missing (the documented loss window).

A round that fails is reported with its evidence; the disk is then re-made so the next round
starts clean (a damaged environment would fail every later round for the same reason).

  tests/powercut/run.py --rounds 30 --seed 1 [--durability sync|batch] [--mode mix|plain|churn]

Needs qemu-system-x86_64, busybox (static), lmdb-utils and a Debian kernel; the kernel is fetched
with `apt-get download` and unpacked (dpkg -x) into ~/.cache/edgecached/powercut when missing.
Prints one summary line: POWERCUT rounds=N failed=F acked=A ... and exits 1 if any round failed.
"""
import argparse
import glob
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = 8787
CONNS = 12
KEYS = {"plain": 128, "churn": 8}
VERSION_BASE = 1_000_000
MODULES = ["virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev",
           "virtio_pci", "virtio_blk"]
KERNEL_PACKAGE = "linux-image-cloud-amd64"

GUEST_INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
exec >/dev/ttyS0 2>&1 </dev/null
for m in __MODULES__; do insmod /lib/pcmod/$m.ko || echo "PC insmod $m failed: $(dmesg | tail -n 2)"; done
for a in $(cat /proc/cmdline); do case $a in pc.*=*) a=${a#pc.}; eval "PC_${a%%=*}=${a#*=}";; esac; done
ip link set lo up
i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
mkdir -p /data
mount -t ext4 /dev/vda /data || { echo "PC mount-failed"; poweroff -f; }
# Writeback early and often, so dirty pages reach the disk in no particular order.
echo 5 > /proc/sys/vm/dirty_writeback_centisecs
echo 10 > /proc/sys/vm/dirty_expire_centisecs
echo 65536 > /proc/sys/vm/dirty_background_bytes
echo 100000000 > /proc/sys/vm/dirty_bytes
mkdir -p /data/ec
if [ -f /data/ec/data.mdb ]; then
  mdb_stat -a -f /data/ec > /tmp/stat.out 2>&1; echo "PC mdb_stat rc=$?"
  tail -n 3 /tmp/stat.out | sed 's/^/PC stat| /'
  mdb_dump -a /data/ec > /dev/null 2> /tmp/dump.err; echo "PC mdb_dump rc=$?"
  head -n 3 /tmp/dump.err | sed 's/^/PC dump| /'
fi
edgecached --config /etc/powercut.json > /tmp/daemon.log 2>&1 &
pid=$!
i=0; up=down
while [ $i -lt 120 ] && kill -0 $pid 2>/dev/null; do
  if powercut_client wait __PORT__ 1; then up=up; break; fi
  i=$((i+1))
done
echo "PC daemon $up"
if [ "$PC_verify" = 1 ]; then
  powercut_client verify __PORT__ __CONNS__ __KEYS__; echo "PC verify rc=$?"
fi
if ! kill -0 $pid 2>/dev/null; then
  wait $pid; echo "PC daemon exited rc=$?"
  grep -v ' debug ' /tmp/daemon.log | tail -n 5 | sed 's/^/PC log| /'
  poweroff -f
fi
grep -iE 'warn|error|initialised' /tmp/daemon.log | head -n 5 | sed 's/^/PC log| /'
if [ "$PC_write" = plain ] || [ "$PC_write" = churn ]; then
  exec powercut_client write __PORT__ $PC_round $PC_seed __CONNS__ $PC_keys $PC_write
fi
echo "PC final"
kill -KILL $pid
sync
poweroff -f
"""


def log(*a):
    print(*a, flush=True)


# ---------------------------------------------------------------- guest image

def ensure_kernel(cache):
    """Returns (vmlinuz, module dir) of a Debian cloud kernel unpacked into cache."""
    kernels = sorted(glob.glob(os.path.join(cache, "kernel/boot/vmlinuz-*")))
    if not kernels:
        os.makedirs(cache, exist_ok=True)
        dep = subprocess.run(["apt-cache", "depends", KERNEL_PACKAGE], capture_output=True,
                             text=True, check=True).stdout
        m = re.search(r"Depends: (linux-image-\S+)", dep)
        if not m:
            sys.exit(f"powercut: cannot tell which kernel {KERNEL_PACKAGE} depends on")
        log(f"powercut: fetching {m.group(1)} into {cache}")
        subprocess.run(["apt-get", "download", "-qq", m.group(1)], cwd=cache, check=True)
        deb = glob.glob(os.path.join(cache, m.group(1) + "_*.deb"))[0]
        subprocess.run(["dpkg", "-x", deb, os.path.join(cache, "kernel")], check=True)
        os.unlink(deb)
        kernels = sorted(glob.glob(os.path.join(cache, "kernel/boot/vmlinuz-*")))
    version = os.path.basename(kernels[-1])[len("vmlinuz-"):]
    return kernels[-1], os.path.join(cache, "kernel/lib/modules", version)


def shared_libraries(binary):
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    libs = []
    for line in out.splitlines():
        m = re.search(r"(/\S+) \(0x", line)
        if m:
            libs.append(m.group(1))
    return libs


def cpio_newc(root, out_path):
    """Writes the tree under root as an uncompressed newc cpio archive (what the kernel
    unpacks as an initramfs)."""
    ino = 1
    with open(out_path, "wb") as out:
        def entry(name, st, data):
            nonlocal ino
            fields = [ino, st.st_mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
            ino += 1
            hdr = b"070701" + b"".join(b"%08X" % f for f in fields)
            out.write(hdr + name.encode() + b"\0")
            out.write(b"\0" * ((4 - (len(hdr) + len(name) + 1) % 4) % 4))
            out.write(data)
            out.write(b"\0" * ((4 - len(data) % 4) % 4))

        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(dirnames) + sorted(filenames):
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, root)
                st = os.lstat(full)
                if stat.S_ISLNK(st.st_mode):
                    entry(rel, st, os.readlink(full).encode())
                elif stat.S_ISDIR(st.st_mode):
                    entry(rel, st, b"")
                else:
                    with open(full, "rb") as f:
                        entry(rel, st, f.read())
        entry("TRAILER!!!", os.stat(root), b"")


def build_initramfs(work, edgecached, client, moddir, config):
    root = os.path.join(work, "root")
    for d in ["bin", "dev", "proc", "sys", "tmp", "etc", "lib/pcmod", "data"]:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    binaries = {"busybox": shutil.which("busybox") or "/bin/busybox",
                "edgecached": edgecached, "powercut_client": client,
                "mdb_stat": shutil.which("mdb_stat"), "mdb_dump": shutil.which("mdb_dump")}
    for name, path in binaries.items():
        if not path or not os.path.exists(path):
            sys.exit(f"powercut: {name} not found (tools/deps powercut installs what is missing)")
        # Without debug info: a smaller initramfs unpacks faster under TCG.
        subprocess.run(["strip", "--strip-debug", "-o", os.path.join(root, "bin", name), path],
                       check=True)
        os.chmod(os.path.join(root, "bin", name), 0o755)
        for lib in shared_libraries(path):
            dest = os.path.join(root, lib.lstrip("/"))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copy(os.path.realpath(lib), dest)
    for m in MODULES:
        found = glob.glob(os.path.join(moddir, "kernel", "**", m + ".ko"), recursive=True)
        if not found:
            sys.exit(f"powercut: module {m}.ko not in {moddir}")
        shutil.copy(found[0], os.path.join(root, "lib/pcmod", m + ".ko"))
    init = (GUEST_INIT.replace("__MODULES__", " ".join(MODULES))
            .replace("__PORT__", str(PORT)).replace("__CONNS__", str(CONNS))
            .replace("__KEYS__", str(max(KEYS.values()))))
    with open(os.path.join(root, "init"), "w") as f:
        f.write(init)
    os.chmod(os.path.join(root, "init"), 0o755)
    with open(os.path.join(root, "etc/powercut.json"), "w") as f:
        f.write(config)
    image = os.path.join(work, "initramfs.cpio")
    cpio_newc(root, image)
    shutil.rmtree(root)
    return image


def make_disk(path, size_mib):
    with open(path, "wb") as f:
        f.truncate(size_mib << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0",
                    path], check=True)


# ---------------------------------------------------------------- one boot

class Boot:
    """One qemu run; collects serial lines; kill() is the power cut."""

    running = set()  # killed on the way out, whatever ends the run

    def __init__(self, qemu, kernel, initramfs, disk, cmdline, cache_mode):
        self.lines = []
        self.cond = threading.Condition()
        self.done = False
        self.proc = subprocess.Popen(
            [qemu, "-accel", "tcg", "-m", "768", "-smp", "1", "-no-reboot",
             "-display", "none", "-monitor", "none", "-serial", "stdio", "-nodefaults",
             "-kernel", kernel, "-initrd", initramfs,
             # A few boots panicked in start_kernel on the loaded host; no_timer_check skips
             # the IO-APIC timer check that slow TCG is known to fail (boots that still never
             # reach /init are retried).
             "-append", "console=ttyS0 quiet loglevel=1 panic=-1 no_timer_check " + cmdline,
             "-drive", f"file={disk},if=virtio,format=raw,{cache_mode}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        Boot.running.add(self.proc)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            if not raw.endswith(b"\n"):
                break  # a line cut by the kill says nothing
            line = raw.decode(errors="replace").rstrip("\r\n")
            with self.cond:
                self.lines.append((time.monotonic(), line))
                self.cond.notify_all()
        with self.cond:
            self.done = True
            self.cond.notify_all()

    def wait_for(self, prefix, timeout):
        """Returns the time the first line starting with prefix arrived, or None."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for t, line in self.lines:
                    if line.startswith(prefix):
                        return t
                left = end - time.monotonic()
                if self.done or left <= 0:
                    return None
                self.cond.wait(left)

    def wait_exit(self, timeout):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        with self.cond:
            while not self.done:
                self.cond.wait(5)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        Boot.running.discard(self.proc)

    def text(self):
        with self.cond:
            return [line for _, line in self.lines]


# ---------------------------------------------------------------- expectations

def judge(want, got, sent_deletes, round_no):
    """Why found state got cannot follow want (the state the key must at least have), or None.
    want: ("put", ver, len, hash) | ("del", ver) | None; got: ("put", ver, len, hash, ok) | None.
    A key may hold a later version than want's if this round sent it (every value names its
    version and the guest checked its bytes), or be absent if this round sent a later delete."""
    want_ver = want[1] if want else 0
    if got is None:
        if want and want[0] == "put" and not any(v > want_ver for v in sent_deletes):
            return f"missing, acknowledged put version {want_ver}"
        return None
    _, ver, length, hsh, ok = got
    if ok != "ok":
        return f"value bytes damaged (version {ver}, {length} bytes)"
    if ver < want_ver:
        return f"holds version {ver}, acknowledged {want[0]} version {want_ver}"
    if ver == want_ver and want[0] == "del":
        return f"version {ver} was a delete"
    if ver == want_ver and (length, hsh) != tuple(want[2:4]):
        return f"version {ver} has {length} bytes {hsh}, acknowledged {want[2]} bytes {want[3]}"
    if ver > want_ver and ver // VERSION_BASE != round_no:
        return f"holds version {ver}, not written in round {round_no}"
    return None


class Keys:
    """What each key must hold: the state seen at the last check, overridden by what this
    round's acknowledgements say."""

    def __init__(self):
        self.state = {}  # key -> ("put", ver, len, hash) | ("del", ver)

    def check(self, lines, round_no, durability, window_ms):
        """Checks a boot's GOT/NONE lines against the previous boot's log; returns
        (problems, keys excused by the batch window, acknowledged count) and moves the state to
        what was found."""
        acks_of, sent_deletes, last_ms, acked = {}, {}, 0, 0
        for line in lines["prev"]:
            f = line.split()
            if f[0] == "ACK" and len(f) == 6:
                acks_of.setdefault(f[1], []).append(
                    (("put", int(f[2]), int(f[3]), f[4]), int(f[5])))
            elif f[0] == "AD" and len(f) == 4:
                acks_of.setdefault(f[1], []).append((("del", int(f[2])), int(f[3])))
            elif f[0] == "SD" and len(f) == 3:
                sent_deletes.setdefault(f[1], []).append(int(f[2]))
                continue
            else:
                continue
            acked += 1
            last_ms = max(last_ms, acks_of[f[1]][-1][1])
        found = {}
        for line in lines["now"]:
            f = line.split()
            if f[0] == "GOT" and len(f) == 6:
                found[f[1]] = ("put", int(f[2]), int(f[3]), f[4], f[5])
            elif f[0] == "NONE" and len(f) == 2:
                found[f[1]] = None
        problems, in_window = [], 0
        for key in sorted(set(self.state) | set(acks_of) | set(found)):
            if key not in found:
                problems.append(f"{key}: not read back")
                continue
            got, acks = found[key], acks_of.get(key, [])
            want = acks[-1][0] if acks else self.state.get(key)
            bad = judge(want, got, sent_deletes.get(key, []), round_no)
            if bad and durability == "batch":
                # Allowed to have lost what was acknowledged within the window before the cut:
                # judge against the state as of last_ms - window_ms.
                early = [a for a, ms in acks if ms < last_ms - window_ms]
                base = early[-1] if early else self.state.get(key)
                if "damaged" not in bad and judge(base, got, sent_deletes.get(key, []),
                                                  round_no) is None:
                    in_window += 1
                    bad = None
            if bad:
                problems.append(f"{key}: {bad}")
            # What the disk holds now is what later rounds must keep.
            self.state[key] = got[:4] if got else ("del", (round_no + 1) * VERSION_BASE - 1)
        return problems, in_window, acked

    def reset(self):
        self.state = {}


# ---------------------------------------------------------------- driver

def boot_and_check(args, env, round_no, write_mode, verify):
    """One boot: check the disk, verify (if asked), then write until the kill (if write_mode).
    Returns (lines, problems about the boot itself)."""
    kernel, initramfs, disk, rng = env["kernel"], env["initramfs"], env["disk"], env["rng"]
    keys = KEYS.get(write_mode, 0)
    cmdline = (f"pc.round={round_no} pc.seed={rng.randrange(1 << 30)} pc.keys={keys} "
               f"pc.write={write_mode or 'none'} pc.verify={1 if verify else 0}")
    for attempt in range(3):
        b = Boot(args.qemu, kernel, initramfs, disk, cmdline, env["cache_mode"])
        problems = []
        started = b.wait_for("WRITING" if write_mode else "PC ", args.boot_timeout)
        if b.wait_for("PC ", 0) is not None:
            break
        # The guest never reached /init (qemu or the kernel failed before it; the disk was
        # not touched): not a verdict on the data dir, so boot again.
        b.kill()
        log(f"round {round_no}: the guest never reached /init, booting again: "
            f"{b.text()[-3:]} (qemu exit status {b.proc.returncode})")
    if write_mode:
        if started is None:
            b.kill()
            problems.append("guest did not start writing")
        else:
            delay = rng.uniform(args.kill_min, args.kill_max)
            time.sleep(max(0.0, started + delay - time.monotonic()))
            b.kill()  # the power cut
    else:
        b.wait_exit(args.boot_timeout)
    lines = b.text()
    if args.verbose:
        for line in lines:
            log("  | " + line)
    pc = [line for line in lines if line.startswith("PC ")]
    for line in pc:
        if re.match(r"PC mdb_(stat|dump) rc=(?!0$)", line) or "daemon down" in line or \
                "daemon exited" in line or "mount-failed" in line or \
                re.match(r"PC verify rc=(?!0$)", line) or "insmod" in line:
            problems.append(line[3:])
    if len(problems) > 1 and problems[0] == "guest did not start writing":
        problems.pop(0)  # the reason follows
    if any("initialised a new data dir" in line for line in pc) and verify:
        problems.append("daemon initialised a new data dir over the old one")
    if verify and not any(line.startswith("PROBE 200") for line in lines):
        problems.append("no write accepted after reboot: " +
                        next((line for line in lines if line.startswith("PROBE")), "no PROBE"))
    for line in lines:
        if line.startswith(("FAIL", "FATAL")) and len(problems) < 12:
            problems.append(line)
    evidence = [line for line in pc if "log|" in line or "stat|" in line or "dump|" in line][:6]
    if problems:
        evidence += ["last serial line: " + line for line in lines[-2:]]
        evidence.append(f"qemu exit status {b.proc.returncode}")
    return lines, problems, evidence


def acks(lines):
    return [line for line in lines if line.startswith(("ACK ", "AD ", "SD "))]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--edgecached", default=os.environ.get("EDGECACHED_BIN"))
    p.add_argument("--client", default=os.environ.get("POWERCUT_CLIENT_BIN"))
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--seed", type=int, default=int(time.time()))
    p.add_argument("--mode", choices=["mix", "plain", "churn"], default="mix")
    p.add_argument("--durability", choices=["sync", "batch"], default="sync")
    p.add_argument("--batch-window-ms", type=int, default=3000,
                   help="batch: acknowledged writes this close to the cut may be lost")
    p.add_argument("--kill-min", type=float, default=0.5)
    p.add_argument("--kill-max", type=float, default=8.0)
    p.add_argument("--boot-timeout", type=float, default=240)
    p.add_argument("--disk-mib", type=int, default=512)
    p.add_argument("--cache", default=os.path.expanduser("~/.cache/edgecached/powercut"))
    p.add_argument("--keep", help="directory to copy the disk image of each failed round into")
    p.add_argument("--verbose", action="store_true", help="print the guest's serial output")
    p.add_argument("--qemu", default=shutil.which("qemu-system-x86_64"))
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("powercut: terminated"))
    for name in ["edgecached", "client", "qemu"]:
        if not getattr(args, name):
            sys.exit(f"powercut: --{name} not given and not found")

    log(f"powercut: seed {args.seed}, {args.rounds} rounds, mode {args.mode}, "
        f"durability {args.durability}")
    rng = random.Random(args.seed)
    kernel, moddir = ensure_kernel(args.cache)
    config = ('{"listen": ["127.0.0.1:%d"], "data_dir": "/data/ec", "durability": "%s", '
              '"sync_interval_ms": 1000, "map_size": "400MiB", "log_level": "info"}'
              % (PORT, args.durability))
    work = tempfile.mkdtemp(prefix="powercut-", dir=os.environ.get("TMPDIR", "/var/tmp"))
    try:
        env = {"kernel": kernel, "rng": rng, "disk": os.path.join(work, "disk.img"),
               "initramfs": build_initramfs(work, args.edgecached, args.client, moddir, config)}
        with open(env["disk"], "wb") as f:
            f.truncate(args.disk_mib << 20)
        env["cache_mode"] = "cache=none,aio=native"
        try:
            fd = os.open(env["disk"], os.O_RDONLY | os.O_DIRECT)
            os.close(fd)
        except OSError:
            log("powercut: the host filesystem refuses O_DIRECT; using cache=directsync")
            env["cache_mode"] = "cache=directsync"
        keys, prev, failed, acked, in_window, started = Keys(), None, [], 0, 0, time.time()
        for round_no in range(1, args.rounds + 2):
            last = round_no == args.rounds + 1
            mode = None if last else (args.mode if args.mode != "mix" else
                                      ("churn" if round_no % 2 else "plain"))
            # Plain rounds start on a fresh disk (data.mdb grows from nothing); churn rounds go
            # on with the disk the previous round left, so LMDB reuses freed pages.
            fresh = mode == "plain" or prev is None
            if prev is not None:
                t0 = time.time()
                chained = mode == "churn"  # this boot checks round_no - 1, then writes round_no
                lines, problems, evidence = boot_and_check(args, env, round_no,
                                                           mode if chained else None, True)
                kp, w, n = keys.check({"prev": prev, "now": lines}, round_no - 1,
                                      args.durability, args.batch_window_ms)
                problems += kp
                in_window += w
                acked += n
                r = round_no - 1
                log(f"round {r} ({prev_mode}): {n} acknowledged, "
                    f"{'FAILED' if problems else 'ok'} [{time.time() - t0:.0f} s]")
                if problems:
                    failed.append(r)
                    for line in problems[:8] + evidence:
                        log(f"  round {r}: {line}")
                    if len(problems) > 8:
                        log(f"  round {r}: ... {len(problems) - 8} more")
                    if args.keep:
                        os.makedirs(args.keep, exist_ok=True)
                        shutil.copy(env["disk"], os.path.join(args.keep, f"round{r}.img"))
                    # Start clean so later rounds test the commit path, not this damage.
                    fresh = True
                elif chained:
                    prev, prev_mode = acks(lines), mode
                    continue
            if last:
                break
            if fresh:
                keys.reset()
                make_disk(env["disk"], args.disk_mib)
            lines, problems, evidence = boot_and_check(args, env, round_no, mode, False)
            if problems:
                log(f"round {round_no}: the write boot failed: {problems[:4] + evidence}")
                failed.append(round_no)
                prev = None
                continue
            prev, prev_mode = acks(lines), mode
        log(f"POWERCUT rounds={args.rounds} failed={len(failed)} acked={acked} "
            f"lost_in_window={in_window} durability={args.durability} mode={args.mode} "
            f"seed={args.seed} seconds={time.time() - started:.0f}"
            + (f" failed_rounds={','.join(map(str, failed))}" if failed else ""))
        return 1 if failed else 0
    finally:
        for proc in list(Boot.running):
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
