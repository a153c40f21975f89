"""Finds (installing once per machine) the pinned npm packages of the compatibility tests."""
import functools
import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


@functools.lru_cache(maxsize=None)
def _install():
    r = subprocess.run(["bash", os.path.join(HERE, "install.sh")], capture_output=True,
                       text=True, timeout=900)
    return r.returncode, r.stdout.strip(), r.stderr.strip()


def cache_dir():
    """The cache dir holding node_modules/; skips the test when Node.js >= 20 is missing."""
    rc, out, err = _install()
    if rc == 3:
        pytest.skip("Cloudflare compatibility test skipped: " + err)
    assert rc == 0, f"installing the npm packages failed (exit {rc}):\n{err}"
    return out.splitlines()[-1]


def node_env():
    """Environment for `node script.cjs`: require() finds the cached packages."""
    env = dict(os.environ)
    env["NODE_PATH"] = os.path.join(cache_dir(), "node_modules")
    return env


def workerd_binary():
    """The native workerd binary the `workerd` package's platform package ships."""
    nm = os.path.join(cache_dir(), "node_modules")
    native = os.path.join(nm, "@cloudflare", "workerd-linux-64", "bin", "workerd")
    if os.path.exists(native):
        return native
    shim = os.path.join(nm, ".bin", "workerd")
    if os.path.exists(shim):
        return shim
    pytest.skip("the workerd package ships no binary for this platform")
