"""Helpers of the fleet tests: polling for fleet-wide conditions instead of sleeping."""
import time


def fleet_health(node):
    r = node.get("/health", fresh=True)
    return r.json() if r.status in (200, 503) else {}


def wait_fleet_ready(node, timeout=30):
    """Polls /health until the node's fleet is connected with its bucket open."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fleet_health(node)
        if last.get("status") == "ok":
            return
        time.sleep(0.05)
    raise AssertionError("node never joined the fleet: %s\n%s" % (last, node.log()[-3000:]))


def eventually(fn, timeout=10, interval=0.02, what=None):
    """Calls fn until it returns a truthy value (returned) or the timeout passes (fails, with
    what() in the message when given: a node's log)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("condition not met within %ss (last: %r)%s" % (
        timeout, last, "\n" + what() if what else ""))
