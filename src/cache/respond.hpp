// respond: the one place the cache writes to clients — X-Cache / Cache-Status / Via, 304s,
// answers from a stored entry, origin responses streamed at the client's pace — and the
// headers a client request forwards upstream.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache/entry.hpp"
#include "cache/fields.hpp"
#include "cache/stats.hpp"
#include "config/options.hpp"
#include "http/exchange.hpp"
#include "origin/fetch.hpp"
#include "origin/types.hpp"
#include "util/ip.hpp"

namespace ec::cache {

// The operator's cache settings (config::CacheSettings, from the option table) as the proxy
// reads them, with what it derives from them and the knobs that are not configuration.
struct ProxySettings : config::CacheSettings {
    // Every operator setting at its option-table default.
    ProxySettings() : ProxySettings(config::defaults()) {}
    explicit ProxySettings(const config::CacheSettings& settings) { apply(settings); }
    // Takes the operator's settings (at start, on reload) and parses trusted_proxies (the
    // loader checked every entry); the members below that are not configuration stay.
    void apply(const config::CacheSettings& settings);

    // trusted_proxies parsed: the peers whose forwarding headers are kept.
    std::vector<Cidr> trusted_peers;
    int64_t hit_for_pass_s = 30; // how long a non-shareable answer sends a key past coalescing
    // Who this node is to other hops (set once at start; `node` is not reloadable).
    std::string node{}; // in Via to parent origins, and the loop check's name; "" = no check
    std::string shown_name = "edgecached"; // in the Via and Cache-Status of responses
};

// How the cache answered, as the client is told: `x_cache` is the X-Cache value (HIT, MISS,
// STALE, REVALIDATED, BYPASS; static storage) and `cache_status` the parameters of our
// Cache-Status member after the cache's name ("hit; ttl=42", RFC 9211). Every cache answer
// carries both, and Via.
struct Verdict {
    const char* x_cache;
    std::string_view cache_status;
};

// Adds X-Cache, Cache-Status ("<shown_name>; <v.cache_status>") and Via ("1.1 <shown_name>").
// They follow the response's own lines of those fields — an upstream cache's, such as a parent
// edgecached's — so a client reads every layer, the one nearest the origin first (RFC 9211 §2,
// RFC 9110 §7.6.3).
void add_verdict(http::Exchange& ex, Verdict v, const ProxySettings& settings);

// Adds Cache-Tag with `tags` joined by commas; nothing when there are none. For responses
// whose tags the operator exposes (expose_tags): the tag fields are not replayed otherwise.
template <class Tags> void add_cache_tag(http::Exchange& ex, const Tags& tags) {
    if (tags.empty()) return;
    std::string joined;
    for (std::string_view t : tags) {
        if (!joined.empty()) joined.push_back(',');
        joined.append(t);
    }
    ex.header("Cache-Tag", joined);
}

// Answers 304 Not Modified for a response whose header block (Entry::header_block) is
// `block`: the fields RFC 9110 §15.4.5 keeps (keep_in_304), its Date rather than ours, Age
// and the verdict. Completes the exchange.
void send_not_modified(http::Exchange& ex, std::string_view block, uint64_t age, Verdict v,
                       const ProxySettings& settings);

// Answers from a stored response: 304 when the client's preconditions say its copy is current,
// 206 / 416 for a Range request on a full 200 or on a part set (partial.hpp), else the whole
// response — the stored header block replayed, Age at `now`, the verdict, Cache-Tag when
// settings.expose_tags. The body is sent from the entry's shared payload without copying.
// Counts not_modified and bytes_served in `stats`. Completes the exchange.
void serve_entry(http::Exchange& ex, const Entry& e, Verdict v, int64_t now,
                 const ProxySettings& settings, CacheCounters& stats);

// Writes the head of an origin response being streamed to a client: `status`, `fields` (the
// storable ones, as Entry::header_block keeps them), the origin's Date rather than ours, `age`
// when non-empty, the verdict; marks when the origin answered for the access log. The caller
// adds any further fields (Cache-Tag) and then calls ex.begin_stream().
void write_upstream_head(http::Exchange& ex, int status, const FieldList& fields,
                         std::string_view age, Verdict v, const ProxySettings& settings,
                         uint64_t now_mono_ms);

// Relays an origin's interim response (RFC 9110 §15.2: a proxy MUST forward 1xx responses) to
// the client whose request went upstream: the status and its fields but the hop-by-hop ones
// (and those its Connection names), `targeted_field` (RFC 9213, aimed at this cache) and what a
// stored header block leaves out (Content-Length, Age, tag fields). Never
// stored, never merged into the final response. Nothing is sent to an HTTP/1.0 client or once
// the final head has begun (Exchange::send_interim). Counts interim_relayed in `stats`.
void relay_interim(http::Exchange& ex, const origin::InterimHead& head,
                   std::string_view targeted_field, CacheCounters& stats);

// An origin response body streamed to one client at the client's pace: while the client's
// output is congested, the origin is paused (a slow reader never makes us buffer its body).
// Owned by a fill or a pass, which decides what happens when the client drains or leaves.
class ClientStream {
public:
    ClientStream() = default;
    explicit ClientStream(http::ExchangeRef client) : client_(std::move(client)) {}

    // The client while its connection is open and its response incomplete; nullptr after.
    http::Exchange* client() const { return client_.get(); }
    // Copies `chunk` to the client. False when the client is gone (nothing written): stop
    // producing for it.
    bool write(std::string_view chunk);
    // Call after a write: when the client's output is congested (and the origin is not paused
    // already), pauses `upstream` and runs `drained` once the client has taken its backlog or
    // left (client() is nullptr then) — unless `owner` is gone by then. `drained` decides
    // whether to resume_body() or cancel the origin.
    void pace(origin::Fetch& upstream, std::weak_ptr<const void> owner,
              std::function<void()> drained);
    // Ends the response (whole body sent); returns the body bytes the client got.
    uint64_t end();
    // Cuts the response off (the origin failed mid-body): the client sees it incomplete.
    void abort();
    // Forgets the client (it goes elsewhere or left).
    void release() { client_ = {}; }
    bool paused() const { return paused_; }

private:
    http::ExchangeRef client_;
    bool paused_ = false;
};

// Headers a client request forwards upstream: everything but hop-by-hop, framing and Host
// (set from the origin's `host` or the client's), plus Via — appended to the client's, naming
// settings.node when `spec` is a parent edgecached (so it can see a loop), else
// settings.shown_name. With `cacheable`, the client's
// conditional and Range headers are dropped too: a fill asks for the whole representation,
// and Accept-Encoding is sent as the class the Vary key uses (AcceptEncoding::class_name).
// With settings.x_forwarded / settings.forwarded, the client's address is appended to
// X-Forwarded-For / Forwarded (and X-Forwarded-Proto set) — keeping the incoming values only
// when the peer is in settings.trusted_peers or on a Unix socket; a request without a peer
// (background revalidation) carries none of them.
std::vector<origin::Header> upstream_headers(const http::Request& req,
                                             const config::OriginSpec* spec, bool cacheable,
                                             const ProxySettings& settings);

// True when a Via field value lists `name` as a hop's received-by (RFC 9110 §7.6.3), ASCII
// case-insensitively; comments ("(...)") are skipped. A request to this node carrying its own
// name has been here before: a forwarding loop.
bool via_lists(std::string_view via, std::string_view name);

// Answers 508 Loop Detected (RFC 5842 §7.2), never stored, when a Via of the request lists
// settings.node; returns true then (the exchange is complete).
bool refuse_loop(http::Exchange& ex, const ProxySettings& settings);

} // namespace ec::cache
