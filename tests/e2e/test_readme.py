"""Every console block of the README, run as written against a fresh daemon and compared line
by line (issue 14 item 5): the KV walk-through, and each block marked <!-- console-test: NAME -->
with the setup NAME below. In an expected line "…" stands for any text (a rate, a date)."""
import json
import os
import re
import subprocess

import pytest

from ectest import EDGECACHECTL, EDGECACHED, ROOT, Daemon, short_tmpdir
from origin import Origin


def readme():
    return open(os.path.join(ROOT, "README.md")).read()


def parse_steps(block):
    steps = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return steps


def walkthrough():
    block = re.search(r"<!-- walkthrough:begin -->\n```console\n(.*?)```\n<!-- walkthrough:end -->",
                      readme(), re.S).group(1)
    return parse_steps(block)


def marked_blocks():
    """[(setup name, steps)] for every console block outside the walk-through."""
    text = readme()
    text = re.sub(r"<!-- walkthrough:begin -->.*?<!-- walkthrough:end -->", "", text, flags=re.S)
    out = []
    for m in re.finditer(r"(?:<!-- console-test: ([\w-]+) -->\n)?```console\n(.*?)```", text,
                         re.S):
        out.append((m.group(1), parse_steps(m.group(2))))
    return out


def run_steps(steps, cwd, env, subst):
    for cmd, expected in steps:
        real = cmd
        for a, b in subst.items():
            real = real.replace(a, b)
        out = subprocess.run(["bash", "-c", real], capture_output=True, text=True, timeout=30,
                             cwd=cwd, env=env)
        got = (out.stdout + out.stderr).rstrip("\n").split("\n") if (out.stdout + out.stderr).strip() else []
        got = [g.rstrip("\r") for g in got]
        want = []
        for line in expected:
            for a, b in subst.items():
                line = line.replace(a, b)
            want.append(line)
        ok = len(got) == len(want) and all(
            re.fullmatch(".*".join(map(re.escape, w.split("…"))), g) for w, g in zip(want, got))
        assert ok, f"$ {cmd}\nexpected: {want}\ngot:      {got}"


def test_readme_walkthrough_works_as_written(daemon):
    steps = walkthrough()
    assert len(steps) >= 10
    host = "%s:%d" % daemon.tcp_address()
    for cmd, expected in steps:
        real = cmd.replace("127.0.0.1:8787", host)
        out = subprocess.run(["bash", "-c", real], capture_output=True, text=True, timeout=10)
        got = out.stdout.rstrip("\n").split("\n") if out.stdout.strip() else []
        got = [g.rstrip("\r") for g in got]
        assert got == expected, f"$ {cmd}\nexpected: {expected}\ngot:      {got}"


# -- setups for the marked blocks ----------------------------------------------------------------
class Env:
    """A temp dir as the working directory, edgecachectl and edgecached on PATH, maybe a daemon
    with its data in ./edgecache-data (where edgecachectl looks by default)."""

    def __init__(self):
        self.cwd = short_tmpdir()
        bindir = os.path.join(self.cwd, "bin")
        os.mkdir(bindir)
        os.symlink(EDGECACHECTL, os.path.join(bindir, "edgecachectl"))
        os.symlink(EDGECACHED, os.path.join(bindir, "edgecached"))
        self.env = dict(os.environ, PATH=bindir + ":" + os.environ["PATH"])
        for k in ("EDGECACHE_SOCKET", "EDGECACHE_URL", "EDGECACHE_TOKEN"):
            self.env.pop(k, None)
        self.subst = {"/var/lib/edgecached-backups": os.path.join(self.cwd, "backups")}
        os.mkdir(self.subst["/var/lib/edgecached-backups"])
        self.daemon = None
        self.origin = None

    def start(self, config):
        self.daemon = Daemon(config=config, tmp=short_tmpdir(),
                             data_dir=os.path.join(self.cwd, "edgecache-data"))
        self.daemon.start()
        self.subst["127.0.0.1:8787"] = "%s:%d" % self.daemon.tcp_address()

    def proxy(self):
        self.origin = Origin().start()
        for i in (1, 2, 3):
            headers = {"Cache-Control": "max-age=300"}
            if i == 1:
                headers["Cache-Tag"] = "product-42"
            self.origin.route(f"/api/users/{i}", body=json.dumps({"id": i}), headers=headers)
        self.start({"origins": {"api": {"url": self.origin.url}},
                    "routes": [{"prefix": "/api/", "origin": "api"}]})

    def close(self):
        if self.daemon:
            self.daemon.stop()
            self.daemon.cleanup()
        if self.origin:
            self.origin.stop()


def setup_not_running(e):
    pass


def setup_check_config(e):
    with open(os.path.join(e.cwd, "bad.json"), "w") as f:
        json.dump({"routes": [{"prefix": "/", "origin": "nope"}]}, f)
    with open(os.path.join(e.cwd, "typo.json"), "w") as f:
        f.write('{\n  "listen": ["127.0.0.1:8787"]\n  "map_size": "4GiB"\n}\n')


def setup_admin_purge(e):
    e.proxy()
    for i in (1, 2, 3):
        assert e.daemon.get(f"/api/users/{i}").status == 200


def setup_session(e):
    e.proxy()


def setup_operator(e):
    """"Watching and steering a running node": an origin "app" (shown as 127.0.0.1:8080)."""
    e.origin = Origin().start()
    e.start({"origins": {"app": {"url": e.origin.url}},
             "routes": [{"name": "api", "prefix": "/api/", "origin": "app"}]})
    del e.subst["127.0.0.1:8787"]  # --print-config shows the file's listen, not the daemon's
    e.subst["127.0.0.1:8080"] = e.origin.address
    e.subst["/etc/edgecached/edgecached.json"] = os.path.join(ROOT, "systemd", "edgecached.json")


SETUPS = {"not-running": setup_not_running, "check-config": setup_check_config,
          "admin-purge": setup_admin_purge, "session": setup_session,
          "operator": setup_operator}


def test_every_console_block_is_tested():
    blocks = marked_blocks()
    assert len(blocks) >= 4
    for name, steps in blocks:
        assert name in SETUPS, f"a console block without a known <!-- console-test: --> marker: " \
                               f"{steps[:1]}"


@pytest.mark.parametrize("name", sorted(SETUPS))
def test_readme_console_block_works_as_written(name):
    blocks = [steps for n, steps in marked_blocks() if n == name]
    assert blocks, f"no console block is marked {name!r}"
    e = Env()
    try:
        SETUPS[name](e)
        for steps in blocks:
            run_steps(steps, e.cwd, e.env, e.subst)
    finally:
        e.close()
