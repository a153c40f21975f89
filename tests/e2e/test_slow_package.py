"""The Debian package (suite slow): `dpkg-buildpackage -us -uc -b` from a copy of the tree,
`dpkg -i` of the .deb, then the installed files and binaries used as an operator would.

systemd cannot run as PID 1 in this test's container, so the unit is not started with
systemctl; the test checks that the package installed and enabled it, created the user through
sysusers, and then runs the installed daemon by hand (as the unit would, minus the sandbox) and
talks to it with the installed edgecachectl. The package is purged at the end.
"""
import glob
import json
import os
import pwd
import shutil
import subprocess
import time

import pytest

from ectest import ROOT, short_tmpdir

PKG = "edgecached"


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert p.returncode == 0, f"{cmd} failed ({p.returncode}):\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}"
    return p


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("dpkg -i needs root")
    if not shutil.which("dpkg-buildpackage") or not shutil.which("dh"):
        # apt-get install debhelper (build-essential and the build-deps in debian/control).
        pytest.skip("debhelper is not installed")
    work = tmp_path_factory.mktemp("pkg")
    src = work / "edgecached"
    def ignore(directory, names):
        # Build trees and git metadata at the top; caches anywhere.
        top = os.path.samefile(directory, ROOT)
        return [n for n in names if n in ("__pycache__", ".git") or n.endswith(".pyc") or
                (top and (n.startswith("build") or n.startswith("obj-")))]

    shutil.copytree(ROOT, src, ignore=ignore, symlinks=True)
    env = dict(os.environ, DEB_BUILD_OPTIONS="parallel=2")
    run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env)
    debs = glob.glob(str(work / f"{PKG}_*.deb"))
    assert len(debs) == 1, os.listdir(work)
    yield debs[0]
    subprocess.run(["dpkg", "--purge", PKG], capture_output=True)


def test_package_contents(deb):
    files = run(["dpkg-deb", "-c", deb]).stdout
    for path in ["./usr/bin/edgecached", "./usr/bin/edgecachectl",
                 "./lib/systemd/system/edgecached.service", "./lib/systemd/system/edgecached.socket",
                 "./usr/lib/sysusers.d/edgecached.conf", "./etc/edgecached/edgecached.json",
                 "./etc/logrotate.d/edgecached", "./usr/share/man/man8/edgecached.8.gz",
                 "./usr/share/man/man8/edgecachectl.8.gz", "./usr/share/man/man5/edgecached.json.5.gz",
                 "./usr/share/bash-completion/completions/edgecachectl",
                 "./usr/share/doc/edgecached/copyright"]:
        assert path in files, path
    control = short_tmpdir() + "/control"
    run(["dpkg-deb", "-e", deb, control])
    conffiles = open(control + "/conffiles").read().split()
    assert "/etc/edgecached/edgecached.json" in conffiles  # an operator's edits survive upgrades
    assert "/etc/logrotate.d/edgecached" in conffiles


def test_install_creates_user_enables_unit_and_runs(deb):
    run(["dpkg", "-i", deb])
    assert pwd.getpwnam("edgecached").pw_dir == "/var/lib/edgecached"  # sysusers ran
    # deb-systemd-helper enabled the service (systemctl is-enabled needs a running systemd).
    assert os.path.islink("/etc/systemd/system/multi-user.target.wants/edgecached.service")
    assert run(["/usr/bin/edgecached", "--version"]).stdout.startswith("edgecached ")
    cfg = json.loads(run(["/usr/bin/edgecached", "--config", "/etc/edgecached/edgecached.json",
                          "--print-config"]).stdout)
    assert cfg["listen"] == ["127.0.0.1:8787"]
    man = run(["man", "-P", "cat", "edgecachectl"], env=dict(os.environ, MANWIDTH="100")).stdout
    assert "origin sick|healthy|drain|auto" in man

    tmp = short_tmpdir()
    data, sock = os.path.join(tmp, "d"), os.path.join(tmp, "a.sock")
    log = open(os.path.join(tmp, "log"), "wb")
    p = subprocess.Popen(["/usr/bin/edgecached", "--config", "/etc/edgecached/edgecached.json",
                          "--data-dir", data, "--admin-socket", sock, "--listen", "127.0.0.1:0"],
                         stdout=log, stderr=log)
    try:
        deadline = time.time() + 30
        while not os.path.exists(sock):
            assert time.time() < deadline and p.poll() is None, open(log.name).read()
            time.sleep(0.05)
        out = run(["/usr/bin/edgecachectl", "--socket", sock, "health"]).stdout
        assert "ok" in out
    finally:
        p.terminate()
        p.wait(timeout=30)
