"""A short run of tools/soak (the mixed gets/puts/purges/expirations/origin-flaps run), so the
tool cannot rot: it must finish with no unexplained errors, fds flat, RssAnon within tolerance
(not judged under ASan). The real soak is minutes long: RELIABILITY.md has its figures."""
import os
import subprocess
import sys

from ectest import ROOT


def test_short_soak():
    cmd = [sys.executable, os.path.join(ROOT, "tools", "soak"), "--seconds", "15",
           "--warmup", "5", "--clients", "3", "--sample-every", "5", "--flap-every", "8",
           "--memory-cache", "2MiB"]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    out = p.stdout.decode(errors="replace")
    print("\n" + out)
    assert p.returncode == 0, out
    summary = [l for l in out.splitlines() if l.startswith("SOAK ")]
    assert summary and " errors=0 " in summary[-1], out
