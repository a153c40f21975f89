"""Issue 11 defect 13: the access log wrote request targets raw."""
import time


def read_lines(log, n, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if log.exists() and len(log.read_text(errors="replace").splitlines()) >= n:
            break
        time.sleep(0.05)
    return log.read_bytes().decode("ascii").splitlines()


def test_regress_access_log_escapes_request_target(make_daemon, tmp_path):
    """Issue 11 defect 13: a target holding '"', '\\' or a byte over 0x7e was written raw, so a
    client could forge fields (a '"' ends the request field early) and the line was not ASCII.
    Escaped as nginx's escape=default: \\xHH."""
    log = tmp_path / "access.log"
    d = make_daemon(config={"access_log": str(log)})
    d.raw(b'GET /a"b\\c\xff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    lines = read_lines(log, 1)  # .decode("ascii") above fails on a raw 0xFF
    assert len(lines) == 1
    assert '"GET /a\\x22b\\x5Cc\\xFF HTTP/1.1" ' in lines[0], lines[0]
    assert lines[0].count('"') == 2, lines[0]
