"""The README's KV walk-through, run as written against a fresh daemon."""
import os
import re
import subprocess

from ectest import ROOT


def walkthrough():
    text = open(os.path.join(ROOT, "README.md")).read()
    block = re.search(r"<!-- walkthrough:begin -->\n```console\n(.*?)```\n<!-- walkthrough:end -->",
                      text, re.S).group(1)
    steps = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return steps


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
