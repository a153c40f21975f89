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
