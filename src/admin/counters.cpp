// The connection and TLS listener counter tables, and reading the server's counts.
#include "admin/counters.hpp"

#include "http/server.hpp"

namespace ec::admin {

namespace {

using C = ConnectionCounts;

// Field order: json, metric, gauge, help, ctl_label, ctl_always, bytes, field.
const StatRow<ConnectionCounts> g_connection_rows[] = {
    {"requests", "edgecached_http_requests_total", false,
     "HTTP requests handled on data-plane listeners.", nullptr, false, false, &C::requests},
    {"admin_requests", "edgecached_admin_requests_total", false,
     "Requests on the admin socket and admin_listen.", nullptr, false, false, &C::admin_requests},
    {"open", "edgecached_connections_open", true,
     "Client connections open on data-plane listeners.", "open", true, false, &C::open},
    {"accepted", "edgecached_connections_accepted_total", false,
     "Client connections accepted on data-plane listeners.", "accepted", true, false, &C::accepted},
    {"rejected", "edgecached_connections_rejected_total", false,
     "Connections answered 503 at the connection cap.", "rejected", true, false, &C::rejected},
    // edgecachectl's own connection is among these: its summary leaves them out.
    {"admin_open", "edgecached_admin_connections_open", true,
     "Connections open on the admin socket and admin_listen.", nullptr, false, false,
     &C::admin_open},
    {"admin_accepted", "edgecached_admin_connections_accepted_total", false,
     "Connections accepted on the admin socket and admin_listen.", nullptr, false, false,
     &C::admin_accepted},
    {"bad_requests", "edgecached_http_bad_requests_total", false,
     "Requests refused as malformed (4xx).", "bad requests", false, false, &C::bad_requests},
    {"too_large", "edgecached_http_too_large_total", false,
     "Requests refused as too large (413/414/431).", "too large", false, false, &C::too_large},
    {"shed", "edgecached_connections_shed_total", false,
     "Connections closed because queued output exceeded max_queued_output.",
     "shed over max_queued_output", false, false, &C::shed},
    {"queued_output_bytes", "edgecached_queued_output_bytes", true,
     "Response bytes copied for clients and not yet written.", "output queued", false, true,
     &C::queued_output_bytes},
    {"bodies_shed", "edgecached_http_bodies_shed_total", false,
     "Uploads refused with 503 because request bodies exceeded max_buffered_bodies.",
     "uploads refused over max_buffered_bodies", false, false, &C::bodies_shed},
    {"buffered_body_bytes", "edgecached_buffered_body_bytes", true,
     "Request body bytes held until their responses are done.", "of request bodies held", false,
     true, &C::buffered_body_bytes},
    {"timeouts", "edgecached_http_timeouts_total", false, "Connections closed by a timeout.",
     "timed out", false, false, &C::timeouts},
    {"bytes_in", "edgecached_http_received_bytes_total", false, "Bytes read from clients.",
     "received", false, true, &C::bytes_in},
    {"bytes_out", "edgecached_http_sent_bytes_total", false, "Bytes written to clients.", "sent",
     false, true, &C::bytes_out},
};

using H = tls::HandshakeCounts;

const StatRow<tls::HandshakeCounts> g_handshake_rows[] = {
    {"handshakes_in_progress", "edgecached_tls_handshakes_in_progress", true,
     "TLS handshakes a listener is running now.", "handshakes in progress", true, false,
     &H::in_progress},
    {"handshakes_refused", "edgecached_tls_handshakes_refused_total", false,
     "Connections a TLS listener closed at once: max_handshakes were in progress.",
     "refused over max_handshakes", true, false, &H::refused},
};

} // namespace

ConnectionCounts connection_counts(const http::Server& server) {
    const http::ServerStats& ss = server.stats();
    const size_t admin_open = server.admin_connection_count();
    ConnectionCounts c;
    c.requests = ss.requests;
    c.admin_requests = ss.admin_requests;
    c.open = server.connection_count() - admin_open;
    c.accepted = ss.accepted;
    c.rejected = ss.rejected_busy;
    c.admin_open = admin_open;
    c.admin_accepted = ss.admin_accepted;
    c.bad_requests = ss.bad_requests;
    c.too_large = ss.too_large;
    c.shed = ss.shed;
    c.queued_output_bytes = server.queued_output();
    c.bodies_shed = ss.bodies_shed;
    c.buffered_body_bytes = server.buffered_bodies();
    c.timeouts = ss.timeouts;
    c.bytes_in = ss.bytes_in;
    c.bytes_out = ss.bytes_out;
    return c;
}

std::span<const StatRow<ConnectionCounts>> connection_rows() {
    return g_connection_rows;
}

std::span<const StatRow<tls::HandshakeCounts>> handshake_rows() {
    return g_handshake_rows;
}

} // namespace ec::admin
