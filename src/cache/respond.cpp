// respond: writing cache answers to clients, and the headers a request forwards upstream.
#include "cache/respond.hpp"

#include <sys/socket.h>

#include <array>

#include "cache/conditional.hpp"
#include "cache/partial.hpp"
#include "cache/range.hpp"
#include "cache/vary.hpp"
#include "util/json_writer.hpp"
#include "util/strings.hpp"
#include "util/time_format.hpp"

namespace ec::cache {

void add_verdict(http::Exchange& ex, Verdict v, const ProxySettings& settings) {
    ex.header("X-Cache", v.x_cache);
    std::string line;
    line.reserve(settings.shown_name.size() + 2 + v.cache_status.size());
    line.append(settings.shown_name).append("; ").append(v.cache_status);
    ex.header("Cache-Status", line);
    line.assign("1.1 ").append(settings.shown_name);
    ex.header("Via", line);
}

void send_not_modified(http::Exchange& ex, std::string_view block, uint64_t age, Verdict v,
                       const ProxySettings& settings) {
    ex.status(304);
    bool has_date = false;
    for_each_block_field(block, [&](std::string_view n, std::string_view val) {
        if (keep_in_304(n)) ex.header(n, val);
        has_date = has_date || iequals(n, "date");
    });
    if (has_date) ex.omit_date();
    ex.header("Age", age);
    add_verdict(ex, v, settings);
    ex.send();
}

void serve_entry(http::Exchange& ex, const Entry& e, Verdict v, int64_t now,
                 const ProxySettings& settings, CacheCounters& stats) {
    const http::Request& req = ex.request();
    ex.set_log_tag(v.x_cache);
    std::string_view body = e.body();
    uint64_t age = static_cast<uint64_t>(current_age(e.freshness(), now));

    // Conditional and range requests need the stored validators; most requests have neither.
    bool conditional = false, ranged = false;
    for (const auto& h : req.headers) {
        if (istarts_with(h.name, "if-"))
            conditional = true;
        else if (iequals(h.name, "range"))
            ranged = true;
    }
    RangeAnswer range;
    if (conditional || ranged) {
        Validators val = entry_validators(e);
        if (conditional && (e.status() == 200 || e.is_partial()) &&
            evaluate_preconditions(req.headers, val) == Precondition::not_modified) {
            send_not_modified(ex, e.header_block(), age, v, settings);
            ++stats.not_modified;
            return;
        }
        if (ranged && e.status() == 200 && req.method == HTTP_GET)
            range = evaluate_range(req.headers, body.size(), val);
    }

    int status = e.status();
    if (e.is_partial()) {
        // A part set: the range it holds, or (a fill's waiter whose range the origin answered
        // otherwise) its part as the origin sent it.
        PartAnswer part = answer_from_parts(e, req.headers);
        range = part.range;
        if (range.kind == RangeAnswer::Kind::full) {
            const ByteSpan& s = e.spans().front();
            range.kind = RangeAnswer::Kind::partial;
            range.first = s.first;
            range.last = s.end() - 1;
            range.content_range = content_range(range.first, range.last, e.complete_length());
            part.offset = 0;
        }
        body = body.substr(part.offset, range.size());
    } else if (range.kind == RangeAnswer::Kind::partial) {
        body = body.substr(range.first, range.size());
    }
    if (range.kind == RangeAnswer::Kind::partial) {
        status = 206;
    } else if (range.kind == RangeAnswer::Kind::unsatisfiable) {
        ex.status(416).header("Content-Range", range.content_range);
        ex.header("Content-Type", "application/json");
        add_verdict(ex, v, settings);
        ex.send(
            http::Body::static_bytes("{\"error\":{\"code\":\"range_not_satisfiable\",\"message\":"
                                     "\"the range is outside the stored body\"}}\n"));
        return;
    }
    ex.status(status);
    ex.raw_headers(e.header_block());
    if (e.header("date")) ex.omit_date();
    // Only a range cut here adds one: a 206 the origin sent keeps its own (RFC 9110 §14.4).
    if (range.kind == RangeAnswer::Kind::partial) ex.header("Content-Range", range.content_range);
    ex.header("Age", age);
    add_verdict(ex, v, settings);
    if (settings.expose_tags) add_cache_tag(ex, e.tags());
    if (req.method != HTTP_HEAD) stats.bytes_served += body.size();
    ex.send(http::Body::shared(e.blob(), body));
}

void write_upstream_head(http::Exchange& ex, int status, const FieldList& fields,
                         std::string_view age, Verdict v, const ProxySettings& settings,
                         uint64_t now_mono_ms) {
    ex.mark_upstream_head(now_mono_ms);
    ex.status(status);
    ex.raw_headers(Entry::header_block(fields));
    if (find_field(fields, "date")) ex.omit_date();
    if (!age.empty()) ex.header("Age", age);
    add_verdict(ex, v, settings);
}

void relay_interim(http::Exchange& ex, const origin::InterimHead& head,
                   std::string_view targeted_field, CacheCounters& stats) {
    FieldList fields = storable_fields(head.headers);
    erase_fields(fields, targeted_field);
    // header_block() also drops Content-Length, which a 1xx must not carry (RFC 9110 §8.6).
    if (ex.send_interim(head.status, Entry::header_block(fields))) ++stats.interim_relayed;
}

// ---------------------------------------------------------------------------------------------

bool ClientStream::write(std::string_view chunk) {
    http::Exchange* ex = client_.get();
    return ex && ex->stream_write(http::Body::copy(chunk));
}

void ClientStream::pace(origin::Fetch& upstream, std::weak_ptr<const void> owner,
                        std::function<void()> drained) {
    http::Exchange* ex = client_.get();
    if (paused_ || !ex || !ex->congested()) return;
    paused_ = true;
    upstream.pause_body();
    // The drain callback may run after the owner (and this stream inside it) is gone.
    ex->on_drain([this, owner = std::move(owner), drained = std::move(drained)] {
        auto alive = owner.lock();
        if (!alive) return;
        paused_ = false;
        drained();
    });
}

uint64_t ClientStream::end() {
    uint64_t sent = 0;
    if (http::Exchange* ex = client_.get()) {
        sent = ex->body_bytes_sent();
        ex->stream_end();
    }
    client_ = {};
    return sent;
}

void ClientStream::abort() {
    if (http::Exchange* ex = client_.get()) ex->stream_abort();
    client_ = {};
}

// ---------------------------------------------------------------------------------------------
void ProxySettings::apply(const config::CacheSettings& settings) {
    static_cast<config::CacheSettings&>(*this) = settings;
    trusted_peers.clear();
    for (const std::string& s : trusted_proxies) {
        std::string error;
        if (auto c = parse_cidr(s, &error)) trusted_peers.push_back(*c);
    }
}

std::vector<origin::Header> upstream_headers(const http::Request& req,
                                             const config::OriginSpec* spec, bool cacheable,
                                             const ProxySettings& settings) {
    std::vector<origin::Header> out;
    out.reserve(req.headers.size() + 5);
    std::string_view connection;
    for (const auto& h : req.headers)
        if (iequals(h.name, "connection")) connection = h.value;
    bool trusted = false;
    if (req.peer && req.peer->sa_family == AF_UNIX) {
        trusted = true; // a local process allowed by the socket's permissions (a TLS terminator)
    } else if (req.peer) {
        for (const Cidr& c : settings.trusted_peers)
            trusted = trusted || cidr_contains(c, req.peer);
    }
    std::string via, xff, forwarded, xf_proto;
    AcceptEncoding accept_encoding;
    bool has_accept_encoding = false;
    std::array<std::optional<std::string>, kNormalizedListFields.size()> normalized; // lines
    for (const auto& h : req.headers) {
        std::string_view n = h.name;
        if (is_unstorable(n) || iequals(n, "host") || iequals(n, "content-length") ||
            iequals(n, "expect") || listed_in_connection(connection, n))
            continue;
        if (iequals(n, "via")) {
            via = std::string(h.value) + ", ";
            continue;
        }
        if (cacheable && (istarts_with(n, "if-") || iequals(n, "range"))) continue;
        if (cacheable && iequals(n, "accept-encoding")) {
            accept_encoding.add(h.value);
            has_accept_encoding = true;
            continue;
        }
        if (int i = cacheable ? normalized_list_field(n) : -1; i >= 0) {
            // Sent below in the normal form a Vary key on it names (RFC 9111 §4.1).
            std::optional<std::string>& lines = normalized[static_cast<size_t>(i)];
            lines = lines ? *lines + "," + std::string(h.value) : std::string(h.value);
            continue;
        }
        // The client's claims about who it is are kept only from a trusted proxy.
        bool is_xff = iequals(n, "x-forwarded-for"), is_xfp = iequals(n, "x-forwarded-proto");
        if (settings.x_forwarded && (is_xff || is_xfp)) {
            if (trusted && is_xff) xff += std::string(h.value) + ", ";
            if (trusted && is_xfp && xf_proto.empty()) xf_proto = h.value;
            continue;
        }
        if (!req.request_id.empty() && iequals(n, "x-request-id")) continue; // sent below
        if (settings.forwarded && iequals(n, "forwarded")) {
            if (trusted) forwarded += std::string(h.value) + ", ";
            continue;
        }
        out.push_back(origin::Header{std::string(n), std::string(h.value)});
    }
    // A fill asks with the Accept-Encoding class its Vary key names, so the coding the origin
    // picks is one every client of that variant accepts (issue 11 defect 10).
    if (has_accept_encoding)
        out.push_back(origin::Header{"Accept-Encoding", std::string(accept_encoding.class_name())});
    // Likewise Accept, Accept-Charset and Accept-Language: the normal form their key uses.
    for (size_t i = 0; i < normalized.size(); ++i)
        if (normalized[i])
            out.push_back(origin::Header{std::string(kNormalizedListFields[i]),
                                         normalize_list_field(*normalized[i])});
    std::string host = spec && !spec->host.empty() ? spec->host : std::string(req.host);
    out.insert(out.begin(), origin::Header{"Host", host});
    // A parent edgecached is told our node name, so a request that comes back here is seen.
    const std::string& by =
        spec && spec->parent && !settings.node.empty() ? settings.node : settings.shown_name;
    out.push_back(origin::Header{"Via", via + (req.version_minor ? "1.1 " : "1.0 ") + by});
    if (!req.request_id.empty())
        out.push_back(origin::Header{"X-Request-Id", std::string(req.request_id)});
    if (!req.peer) return out;              // our own request: no client to speak of
    std::string client = ip_text(req.peer); // "" for a Unix-socket peer
    if (settings.x_forwarded) {
        if (!client.empty())
            xff += client;
        else if (xff.size() >= 2)
            xff.resize(xff.size() - 2);
        if (!xff.empty()) out.push_back(origin::Header{"X-Forwarded-For", std::move(xff)});
        out.push_back(origin::Header{"X-Forwarded-Proto", xf_proto.empty() ? "http" : xf_proto});
    }
    if (settings.forwarded) {
        // RFC 7239 §6: an IPv6 node is bracketed and quoted; an unknown one is "unknown".
        if (client.empty())
            forwarded += "for=unknown";
        else if (client.find(':') != std::string::npos)
            forwarded += "for=\"[" + client + "]\"";
        else
            forwarded += "for=" + client;
        forwarded += ";proto=http";
        out.push_back(origin::Header{"Forwarded", std::move(forwarded)});
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
bool via_lists(std::string_view via, std::string_view name) {
    // Via = #( received-protocol RWS received-by [ RWS comment ] )
    size_t i = 0;
    auto skip = [&](auto in_run) {
        while (i < via.size() && in_run(via[i]))
            ++i;
    };
    auto is_space = [](char c) { return c == ' ' || c == '\t'; };
    auto in_token = [&](char c) { return !is_space(c) && c != ','; };
    while (i < via.size()) {
        skip([&](char c) { return is_space(c) || c == ','; });
        skip(in_token); // received-protocol
        skip(is_space);
        size_t by = i;
        skip(in_token); // received-by
        if (i > by && iequals(via.substr(by, i - by), name)) return true;
        // The rest of the member: a comment may nest and hold commas and quoted pairs.
        for (int depth = 0; i < via.size() && (depth > 0 || via[i] != ','); ++i) {
            if (via[i] == '\\' && depth > 0)
                ++i;
            else if (via[i] == '(')
                ++depth;
            else if (via[i] == ')' && depth > 0)
                --depth;
        }
    }
    return false;
}

bool refuse_loop(http::Exchange& ex, const ProxySettings& settings) {
    if (settings.node.empty()) return false;
    bool looped = false;
    for (const auto& h : ex.request().headers)
        looped = looped || (iequals(h.name, "via") && via_lists(h.value, settings.node));
    if (!looped) return false;
    std::string body;
    JsonWriter w(body);
    w.begin_object().key("error").begin_object();
    w.field("code", "loop_detected");
    w.field("message", "this request has passed through node " + settings.node +
                           " already (its Via lists it): the parent origins form a loop");
    w.end_object().end_object();
    body.push_back('\n');
    ex.set_log_tag("LOOP");
    ex.status(508).header("Content-Type", "application/json").header("Cache-Control", "no-store");
    ex.send(http::Body::owned(std::move(body)));
    return true;
}

} // namespace ec::cache
