"""pytest fixtures: a running daemon per test (or per module where state is shared)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ectest  # noqa: E402
from ectest import Daemon  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """When a test's body has run, every daemon it started is stopped (SIGTERM) and checked:
    exit status 0, no crash, no sanitizer report; one that died on its own fails the test with
    its log tail. Module-scoped (shared) daemons are checked by their fixtures."""
    outcome = yield
    rep = outcome.get_result()
    if call.when != "call":
        return
    problems = []
    for d in [d for d in ectest.started if not d.shared]:
        problems += d.finish()
        ectest.started.remove(d)
    if not problems:
        return
    text = "daemon check at the end of the test:\n" + "\n".join(problems)
    if rep.failed:
        rep.sections.append(("edgecached exit check", text))
    else:
        rep.outcome = "failed"
        rep.longrepr = text


@pytest.fixture
def make_daemon():
    """Factory: make_daemon(args=..., config=...) starts a daemon; all are stopped at the end."""
    made = []

    def make(start=True, **kw):
        d = Daemon(**kw)
        made.append(d)
        if start:
            d.start()
        return d

    yield make
    # The daemons were stopped and checked when the test body ended (pytest_runtest_makereport).
    for d in made:
        d.cleanup()


@pytest.fixture
def daemon(make_daemon):
    return make_daemon()


@pytest.fixture
def origin():
    """A scriptable test origin (tests/e2e/origin.py) on an ephemeral port."""
    from origin import Origin

    o = Origin().start()
    yield o
    o.stop()


@pytest.fixture
def make_proxy(make_daemon):
    """make_proxy(origin, route={...}, config={...}, origin_opts={...}) → a daemon whose route
    "r" sends every path to the origin (route options override the defaults)."""

    def make(origin, route=None, config=None, origin_opts=None, **kw):
        o = {"url": "http://" + origin.address, "timeout_ms": 3000}
        o.update(origin_opts or {})
        r = {"name": "r", "prefix": "/", "origin": "o"}
        r.update(route or {})
        cfg = {"origins": {"o": o}, "routes": [r]}
        cfg.update(config or {})
        return make_daemon(config=cfg, **kw)

    return make
