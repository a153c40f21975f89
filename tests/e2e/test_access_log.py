"""The optional access log: one line per request; SIGUSR1 reopens it after rotation."""
import os
import signal
import time


def test_access_log_lines_and_reopen(make_daemon, tmp_path):
    log = tmp_path / "access.log"
    d = make_daemon(config={"access_log": str(log)})
    d.put("/kv/ns/k", b"hello")
    d.get("/kv/ns/k")
    d.get("/kv/ns/missing")
    deadline = time.time() + 5
    while time.time() < deadline and len(log.read_text().splitlines()) < 3:
        time.sleep(0.05)
    lines = log.read_text().splitlines()
    assert len(lines) == 3
    assert '"PUT /kv/ns/k HTTP/1.1" 200' in lines[0]
    assert '"GET /kv/ns/k HTTP/1.1" 200 5 ' in lines[1]
    assert '"GET /kv/ns/missing HTTP/1.1" 404' in lines[2]

    os.rename(log, tmp_path / "access.log.1")
    d.send_signal(signal.SIGUSR1)
    d.wait_log("access log reopened")
    d.get("/health")
    deadline = time.time() + 5
    while time.time() < deadline and not (log.exists() and log.read_text()):
        time.sleep(0.05)
    assert '"GET /health HTTP/1.1" 200' in log.read_text()

