#!/usr/bin/python3
"""TLS beside nginx in one run: cache hits over TLS (wrk, 16 connections, 1 KiB body) and full
handshakes (openssl s_time -new), each server's CPU per request and per handshake from
/proc/PID/stat. Same certificate (EC P-256, made with openssl), same TLS 1.3 defaults, nginx
with one worker. Two alternating rounds. Usage: tools/bench/tls_vs_nginx.py [EDGECACHED_BIN]"""
import json, os, re, subprocess, sys, time, tempfile, socket
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from tls_certs import Pki
from origin import Origin
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "edgecached")
d = tempfile.mkdtemp(prefix="tlsb", dir="/tmp")
pki = Pki(d + "/pki"); cert, key = pki.leaf("a", ["a.test"])
def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
def cpu_tree(pids): return sum(cpu(p) for p in pids)
body = b"x" * 1024
o = Origin().start(); o.route("/hit", body=body, headers={"Cache-Control": "max-age=600"})
ep = free_port()
cfg = {"listen": [{"address": f"127.0.0.1:{ep}", "tls": {"certificates": [{"cert": cert, "key": key}]}}],
       "origins": {"o": {"url": o.url}}, "routes": [{"prefix": "/", "origin": "o"}], "log_level": "warn"}
open(d + "/c.json", "w").write(json.dumps(cfg))
ec = subprocess.Popen([BIN, "--config", d + "/c.json", "--data-dir", d + "/data"], stderr=open(d + "/ec.log", "w"))
np_ = free_port()
os.makedirs(d + "/www"); open(d + "/www/hit", "wb").write(body)
open(d + "/nginx.conf", "w").write(f"""worker_processes 1; daemon off; pid {d}/nginx.pid; error_log {d}/nginx.err;
events {{ worker_connections 1024; }}
http {{ access_log off; server {{ listen 127.0.0.1:{np_} ssl; ssl_certificate {cert}; ssl_certificate_key {key};
 ssl_protocols TLSv1.2 TLSv1.3; ssl_session_tickets on; root {d}/www; location / {{ }} }} }}""")
ng = subprocess.Popen(["nginx", "-c", d + "/nginx.conf", "-p", d], stderr=subprocess.DEVNULL)
time.sleep(1.5)
ng_pids = [int(p) for p in subprocess.run(["pgrep", "-P", str(ng.pid)], capture_output=True, text=True).stdout.split()] + [ng.pid]
subprocess.run(["curl", "-sk", f"https://127.0.0.1:{ep}/hit", "-o", "/dev/null"])
time.sleep(0.5)
res = {}
for name, port, pids in [("edgecached", ep, [ec.pid]), ("nginx", np_, ng_pids)] * 2:
    c0 = cpu_tree(pids)
    out = subprocess.run(["wrk", "-t1", "-c16", "-d5s", f"https://127.0.0.1:{port}/hit"], capture_output=True, text=True).stdout
    n = int(re.search(r"(\d+) requests in", out).group(1)); c1 = cpu_tree(pids)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    c2 = cpu_tree(pids)
    st = subprocess.run(["openssl", "s_time", "-connect", f"127.0.0.1:{port}", "-new", "-time", "5"], capture_output=True, text=True, stdin=subprocess.DEVNULL).stdout
    m = re.search(r"(\d+) connections in ([\d.]+)s; ([\d.]+) connections/user sec", st)
    hs = int(m.group(1)); c3 = cpu_tree(pids)
    res.setdefault(name, []).append((rps, (c1 - c0) / n * 1e6, hs / 5.0, (c3 - c2) / max(hs, 1) * 1e6))
for k, v in res.items():
    for r in v:
        print(f"{k:11s} hits/s {r[0]:9.0f}  cpu_us/req {r[1]:6.1f}  handshakes/s {r[2]:7.1f}  cpu_us/handshake {r[3]:7.1f}")
ec.terminate(); ng.terminate(); o.stop(); ec.wait(); ng.wait()
