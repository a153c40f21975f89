"""What the TLS end-to-end tests share: an origin behind TLS, a daemon with a TLS listener, and
clients that verify against the test CA and send an SNI name."""
import http.client
import socket
import ssl

from origin import Origin, _Handler


class TlsOrigin(Origin):
    """The scriptable origin behind TLS with the given certificate."""

    def __init__(self, cert, key):
        super().__init__()
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)

    def _wrap_listener(self, server):
        server.socket = self.ctx.wrap_socket(server.socket, server_side=True,
                                             do_handshake_on_connect=False)

    def use_certificate(self, cert, key):
        """Connections from now on handshake with this certificate."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.ctx = ctx
        self._server.socket._context = ctx  # a listening SSLSocket has no session to update

    @staticmethod
    def _handler_class():
        class Handler(_Handler):
            def setup(self):
                try:
                    self.request.do_handshake()
                except (ssl.SSLError, OSError):
                    self.failed = True
                super().setup()

            def handle(self):
                if getattr(self, "failed", False):
                    return
                super().handle()
        return Handler


def tls_daemon(make_daemon, pki, certs, extra=None, **kw):
    tls = {"certificates": [{"cert": c, "key": k} for c, k in certs]}
    tls.update(extra or {})
    return make_daemon(config={"listen": [{"address": "127.0.0.1:0", "tls": tls},
                                          "127.0.0.1:0"]}, listen=[], **kw)


def client_ctx(pki, **kw):
    ctx = ssl.create_default_context(cafile=pki.ca_cert)
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


def https_get(d, pki, path, server_name, ctx=None):
    host, port = d.tcp_address(0)
    conn = http.client.HTTPSConnection(host, port, timeout=10,
                                       context=ctx or client_ctx(pki))
    # SNI and verification use the name the client asked for.
    conn.sock = (ctx or client_ctx(pki)).wrap_socket(
        socket.create_connection((host, port), timeout=10), server_hostname=server_name)
    conn.request("GET", path, headers={"Host": server_name})
    r = conn.getresponse()
    body = r.read()
    peer = conn.sock.getpeercert()
    conn.close()
    return r.status, body, peer


def peer_names(peer):
    return sorted(v for k, v in peer.get("subjectAltName", ()) if k == "DNS")


def https_proxy(make_daemon, origin, tls=None, route=None):
    """A daemon whose route "r" sends everything to `origin` over HTTPS."""
    o = {"url": f"https://127.0.0.1:{origin.port}", "timeout_ms": 3000,
         "tls": tls or {}}
    r = {"name": "r", "prefix": "/", "origin": "o", "ttl": 60}
    r.update(route or {})
    return make_daemon(config={"origins": {"o": o}, "routes": [r]})
