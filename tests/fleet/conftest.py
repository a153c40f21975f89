"""Fixtures of the fleet tests: a 3-server JetStream cluster and edgecached nodes joined to it.
The daemons are the e2e tests' (tests/e2e/ectest.py), checked the same way when a test ends."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)
import ectest  # noqa: E402
from ectest import Daemon  # noqa: E402
from natscluster import NatsCluster  # noqa: E402
from fleetutil import wait_fleet_ready  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Every node a test started is stopped and checked (exit 0, no crash) when its body ends."""
    outcome = yield
    rep = outcome.get_result()
    if call.when != "call":
        return
    problems = []
    for d in list(ectest.started):
        problems += d.finish()
        ectest.started.remove(d)
    if problems and not rep.failed:
        rep.outcome = "failed"
        rep.longrepr = "node check at the end of the test:\n" + "\n".join(problems)


@pytest.fixture
def nats_cluster():
    c = NatsCluster(ectest.short_tmpdir()).start()
    yield c
    c.stop()


@pytest.fixture
def make_node(nats_cluster):
    """make_node("edge-a", fleet={...}, config={...}) → a started node of the cluster's fleet."""
    made = []

    def make(name, fleet=None, config=None, start=True, wait=True, **kw):
        f = {"nats": nats_cluster.urls, "node": name, "replicas": 3, "write_timeout_ms": 5000}
        f.update(fleet or {})
        cfg = {"fleet": f}
        cfg.update(config or {})
        d = Daemon(config=cfg, **kw)
        made.append(d)
        if start:
            d.start()
            if wait:
                wait_fleet_ready(d)
        return d

    yield make
    for d in made:
        d.cleanup()


@pytest.fixture
def three_nodes(make_node):
    return [make_node(n) for n in ("edge-a", "edge-b", "edge-c")]
