"""A JetStream cluster of nats-servers on loopback for the fleet tests: each server has its own
store dir and config file, all routed to each other; kill -9 and restart one by one."""
import os
import shutil
import signal
import socket
import subprocess
import time

NATS_SERVER = os.environ.get("NATS_SERVER_BIN") or shutil.which("nats-server") \
    or "/usr/sbin/nats-server"


def free_port():
    """A loopback port that was free a moment ago (routes need ports known in advance)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NatsServer:
    def __init__(self, tmp, name, client_port, route_port, peers, max_payload):
        self.name = name
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.client_port = client_port
        self.route_port = route_port
        self.conf = os.path.join(self.dir, "nats-server.conf")
        routes = ", ".join("nats-route://127.0.0.1:%d" % p for p in peers)
        with open(self.conf, "w") as f:
            f.write(
                "server_name: %s\n"
                "listen: 127.0.0.1:%d\n"
                "max_payload: %d\n"
                "jetstream {\n  store_dir: \"%s\"\n  max_memory_store: 64MB\n"
                "  max_file_store: 2GB\n}\n"
                "cluster {\n  name: ectest\n  listen: 127.0.0.1:%d\n  routes: [%s]\n}\n"
                % (name, client_port, max_payload, os.path.join(self.dir, "js"), route_port,
                   routes))
        self.log_path = os.path.join(self.dir, "nats.log")
        self.proc = None

    @property
    def url(self):
        return "nats://127.0.0.1:%d" % self.client_port

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([NATS_SERVER, "-c", self.conf], stdout=log, stderr=log,
                                     start_new_session=True)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("nats-server %s exited: %s" % (self.name, self.log()[-2000:]))
            try:
                with socket.create_connection(("127.0.0.1", self.client_port), timeout=1) as s:
                    if s.recv(4096).startswith(b"INFO"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nats-server %s did not listen: %s" % (self.name, self.log()[-2000:]))

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.proc = None


class NatsCluster:
    """Three clustered JetStream servers; `urls` is what a node's fleet.nats lists."""

    def __init__(self, tmp, size=3, max_payload=8 << 20):
        clients = [free_port() for _ in range(size)]
        routes = [free_port() for _ in range(size)]
        self.servers = [
            NatsServer(tmp, "n%d" % (i + 1), clients[i], routes[i],
                       [r for j, r in enumerate(routes) if j != i], max_payload)
            for i in range(size)
        ]

    @property
    def urls(self):
        return [s.url for s in self.servers]

    def start(self):
        for s in self.servers:
            s.start()
        return self

    def leader_of(self, stream):
        """The running server that last became `stream`'s leader, from the servers' logs (each
        logs "new stream leader" when it takes over), or None."""
        marker = "new stream leader for '$G > %s'" % stream
        best = None
        for s in self.servers:
            if s.proc is None:
                continue
            for line in s.log().splitlines():
                if marker in line:
                    # "[pid] 2026/12/06 10:51:08.692345 [INF] JetStream cluster new ..."
                    stamp = " ".join(line.split()[1:3])
                    if best is None or stamp > best[0]:
                        best = (stamp, s)
        return best[1] if best else None

    def stop(self):
        for s in self.servers:
            s.stop()
