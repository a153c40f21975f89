"""The official `cloudflare` npm client (pinned v7) against the KV REST v4 routes.

Each scenario of compat/cf_client.cjs is one test: namespaces (create, get, rename, list with
auto-pagination and ordering, duplicate titles, delete), values (raw, file, metadata, TTLs and
the minimum, odd key names, missing keys, unknown namespaces), keys (cursor auto-pagination),
bulk (write, get text/json/metadata, delete, all-or-nothing validation) and auth (api_token).
Skipped with a message when Node.js >= 20 is not installed.
"""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "compat"))
import npm_env  # noqa: E402
from ectest import Daemon  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "compat", "cf_client.cjs")
TOKEN = "s3cret-token"


def run_scenario(daemon, scenario, token=None):
    env = npm_env.node_env()
    host, port = daemon.tcp_address()
    env["EC_BASE_URL"] = f"http://{host}:{port}/client/v4"
    if token:
        env["EC_API_TOKEN"] = token
    r = subprocess.run(["node", SCRIPT, scenario], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, f"{scenario} failed:\n{r.stdout}\n{r.stderr}\n" + \
        daemon.log_since_start()[-3000:]
    assert f"ok {scenario}" in r.stdout


@pytest.fixture(scope="module")
def daemon():
    npm_env.cache_dir()  # install (or skip) before starting anything
    d = Daemon(shared=True)
    d.start()
    yield d
    try:
        d.stop()
    finally:
        d.cleanup()


@pytest.fixture(scope="module")
def token_daemon():
    npm_env.cache_dir()
    d = Daemon(config={"api_token": TOKEN}, shared=True)
    d.start()
    yield d
    try:
        d.stop()
    finally:
        d.cleanup()


@pytest.mark.parametrize("scenario", ["namespaces", "values", "keys", "bulk"])
def test_official_client(daemon, scenario):
    run_scenario(daemon, scenario)


def test_official_client_with_api_token(token_daemon):
    run_scenario(token_daemon, "auth", token=TOKEN)


def readme_block(name):
    """The fenced code block between <!-- name:begin --> and <!-- name:end --> in README.md."""
    with open(os.path.join(os.path.dirname(os.path.dirname(HERE)), "README.md")) as f:
        text = f.read()
    block = text.split(f"<!-- {name}:begin -->", 1)[1].split(f"<!-- {name}:end -->", 1)[0]
    return block.split("\n", 2)[2].rsplit("```", 1)[0]


def test_readme_client_snippet_works_as_written(daemon, tmp_path):
    host, port = daemon.tcp_address()
    code = readme_block("cf-client-snippet").replace("127.0.0.1:8787", f"{host}:{port}")
    script = tmp_path / "snippet.cjs"
    script.write_text(code)
    r = subprocess.run(["node", str(script)], env=npm_env.node_env(), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "Hello, edge"
    assert "name: 'greeting'" in r.stdout and "lang: 'en'" in r.stdout


INSTALL = os.path.join(HERE, "compat", "install.sh")


def test_install_script_reports_a_missing_or_old_node(tmp_path):
    r = subprocess.run(["/bin/bash", INSTALL], env={"PATH": str(tmp_path)}, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 3 and "Node.js >= 20 is not installed" in r.stderr
    fake = tmp_path / "node"
    fake.write_text('#!/bin/sh\nif [ "$1" = -p ]; then echo 18; else echo v18.19.0; fi\n')
    fake.chmod(0o755)
    r = subprocess.run(["/bin/bash", INSTALL], env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 3 and "found v18.19.0" in r.stderr


def test_a_missing_node_skips_with_the_reason(monkeypatch):
    monkeypatch.setattr(npm_env, "_install", lambda: (3, "", "Node.js >= 20 is required"))
    with pytest.raises(pytest.skip.Exception, match="Node.js >= 20 is required"):
        npm_env.cache_dir()
