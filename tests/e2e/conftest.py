"""pytest fixtures: a running daemon per test (or per module where state is shared)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ectest import Daemon  # noqa: E402


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
    for d in made:
        try:
            if d.proc and d.proc.poll() is None:
                d.stop()
        finally:
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
