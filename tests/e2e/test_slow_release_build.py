"""The README's release build (--buildtype release) compiles warning-free with GCC, -Werror on:
GCC 12 at -O3 once stopped on a false -Wrestrict in http/server.cpp (issue 14 item 1)."""
import os
import shutil
import subprocess
import tempfile

from ectest import ROOT


def test_release_build_has_no_warnings():
    build = tempfile.mkdtemp(prefix="ec-rel", dir="/tmp")
    try:
        llhttp = subprocess.run([os.path.join(ROOT, "tools", "llhttp-args")], capture_output=True,
                                text=True, check=True).stdout.split()
        env = dict(os.environ, CC="gcc", CXX="g++")
        subprocess.run(["meson", "setup", build, "--buildtype", "release", "-Dwerror=true",
                        *llhttp], cwd=ROOT, env=env, check=True, capture_output=True,
                       timeout=600)
        out = subprocess.run(["ninja", "-C", build, "edgecached", "tools/edgecachectl"],
                             capture_output=True, text=True, timeout=3000)
        assert out.returncode == 0, out.stdout[-6000:]
    finally:
        shutil.rmtree(build, ignore_errors=True)
