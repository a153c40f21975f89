// What TLS listeners and origins need from the daemon: the per-listener state its stream wrap
// shares (contexts swapped by reloads, handshakes in progress), and a check of every TLS file of
// a config before it is started or reloaded.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "loop/loop.hpp"
#include "net/stream.hpp"
#include "tls/server_tls.hpp"
#include "util/status.hpp"

namespace ec::tls {

// One TLS listener's live state. `contexts` is replaced by a reload (new handshakes use the new
// certificates; connections keep theirs). Loop thread only.
struct ListenerTls {
    std::shared_ptr<const ServerTls> contexts;
    uint32_t handshakes = 0; // in progress now
    uint64_t refused = 0;    // connections closed because max_handshakes were in progress
};

// A TLS listener's handshake counters; admin/counters.hpp's table says how each reader shows
// them.
struct HandshakeCounts {
    std::string listener; // its bound address
    uint64_t in_progress = 0;
    uint64_t refused = 0;
};

// The listener's http::Listener::wrap: every accepted socket becomes a server TlsStream on the
// current contexts. Over contexts->spec().max_handshakes handshakes in progress, the new
// connection is closed at once (its first read reports kErrTls) instead of queueing work.
net::StreamWrap server_wrap(loop::Loop& loop, std::shared_ptr<ListenerTls> state);

// Builds every TLS context `cfg` asks for (listeners, admin_tls, origins), reading their files:
// the first failure as an Error naming where it is ("listen[1].tls: ...",
// "origins.api.tls: ..."), else ok. Start-up and reload call it before touching anything.
Status check_files(const config::Config& cfg);

} // namespace ec::tls
