"""Process figures for leak checks: RssAnon (LMDB's map is file-backed, so not anonymous), fds."""
import os


def rss_anon_kb(pid):
    """RssAnon of process pid in KiB (from /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise RuntimeError(f"no RssAnon in /proc/{pid}/status")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def is_asan(binary):
    """True when binary was built with AddressSanitizer: its quarantine and shadow memory grow
    RssAnon by design, so RSS growth is reported but not judged."""
    try:
        with open(binary, "rb") as f:
            return b"AddressSanitizer" in f.read()
    except OSError:
        return False
