// Tail: filters, subscribers, and the bounded fan-out of access records.
#include "daemon/tail.hpp"

#include "http/exchange.hpp"
#include "http/json_reply.hpp"
#include "http/server.hpp"
#include "util/log.hpp"
#include "util/percent.hpp"
#include "util/strings.hpp"

namespace ec::daemon {

namespace {

Error bad_filter(std::string_view f, const std::string& why) {
    return make_error(400, "bad_filter", "filter \"" + std::string(f) + "\": " + why);
}

bool parse_int(std::string_view s, int64_t* out) {
    if (s.empty() || s.size() > 9) return false;
    int64_t n = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        n = n * 10 + (c - '0');
    }
    *out = n;
    return true;
}

} // namespace

Result<TailFilter> TailFilter::parse(std::string_view s) {
    TailFilter f;
    if (!s.empty() && s[0] == '/') {
        f.key = Key::path;
        f.text = std::string(s);
        return f;
    }
    size_t op_at = s.find_first_of("=!<>");
    if (op_at == std::string_view::npos || op_at == 0)
        return bad_filter(s, "expected KEY OP VALUE, like status>=500, cache=MISS or path=/api/");
    std::string_view key = s.substr(0, op_at), rest = s.substr(op_at);
    static constexpr std::pair<std::string_view, Op> ops[] = {{"!=", Op::ne}, {">=", Op::ge},
                                                              {"<=", Op::le}, {"=", Op::eq},
                                                              {">", Op::gt},  {"<", Op::lt}};
    bool found = false;
    for (const auto& [text, op] : ops)
        if (rest.starts_with(text)) {
            f.op = op;
            rest.remove_prefix(text.size());
            found = true;
            break;
        }
    if (!found) return bad_filter(s, "the operator must be one of = != >= <= > <");
    static constexpr std::pair<std::string_view, Key> keys[] = {
        {"status", Key::status}, {"cache", Key::cache}, {"method", Key::method},
        {"host", Key::host},     {"route", Key::route}, {"origin", Key::origin},
        {"path", Key::path}};
    found = false;
    for (const auto& [text, k] : keys)
        if (key == text) {
            f.key = k;
            found = true;
        }
    if (!found)
        return bad_filter(s, "unknown key \"" + std::string(key) +
                                 "\" (status, cache, method, host, route, origin, path)");
    if (f.key == Key::status) {
        if (!parse_int(rest, &f.number)) return bad_filter(s, "status needs a number");
    } else if (f.op != Op::eq && f.op != Op::ne) {
        return bad_filter(s, "only = and != compare " + std::string(key));
    }
    f.text = std::string(rest);
    return f;
}

bool TailFilter::matches(http::Exchange& ex) const {
    if (key == Key::status) {
        int64_t v = ex.response_status();
        switch (op) {
        case Op::eq:
            return v == number;
        case Op::ne:
            return v != number;
        case Op::ge:
            return v >= number;
        case Op::le:
            return v <= number;
        case Op::gt:
            return v > number;
        case Op::lt:
            return v < number;
        }
        return false;
    }
    const http::Request& r = ex.request();
    bool hit = false;
    switch (key) {
    case Key::path:
        hit = r.path.starts_with(text);
        break;
    case Key::cache:
        hit = iequals(ex.log_tag(), text);
        break;
    case Key::method:
        hit = iequals(r.method_name, text);
        break;
    case Key::host:
        hit = iequals(r.host, text);
        break;
    case Key::route:
        hit = ex.route() && text == ex.route();
        break;
    case Key::origin:
        hit = ex.origin() && text == ex.origin();
        break;
    case Key::status:
        break;
    }
    return op == Op::ne ? !hit : hit;
}

Tail::Tail(loop::Loop& loop, const AccessLog& renderer)
    : loop_(loop), renderer_(renderer), ticker_(loop.uv(), [this] { tick(); }) {
    json_.json = true;
    ticker_.unref(); // a tail client never keeps the daemon alive
}

void Tail::prune() {
    std::erase_if(subs_, [](Subscriber& s) { return s.ref.get() == nullptr; });
    if (subs_.empty()) ticker_.stop();
}

void Tail::tick() {
    prune();
    std::string line = "{\"tick\":" + std::to_string(loop_.clock().now_ms()) + "}\n";
    for (Subscriber& s : subs_)
        if (http::Exchange* out = s.ref.get(); out && !out->congested())
            out->stream_write(http::Body::copy(line));
}

void Tail::subscribe(http::Exchange& ex) {
    Subscriber sub;
    QueryIter it(ex.request().query);
    std::string_view name, value;
    while (it.next(&name, &value)) {
        if (name != "filter") continue;
        auto decoded = percent_decode(value, true);
        if (!decoded) return http::send_error(ex, 400, "bad_filter", "filter is not URL-encoded");
        auto f = TailFilter::parse(*decoded);
        if (!f) return http::send_error(ex, f.error());
        sub.filters.push_back(std::move(*f));
    }
    ex.status(200)
        .header("Content-Type", "application/x-ndjson")
        .header("Cache-Control", "no-store");
    ex.begin_stream(std::nullopt);
    ex.stream_write(http::Body::static_bytes("{\"subscribed\":true}\n"));
    sub.ref = ex.defer();
    LOG_INFO("tail: a client subscribed (%zu filter(s), %zu subscriber(s))", sub.filters.size(),
             subs_.size() + 1);
    subs_.push_back(std::move(sub));
    if (!ticker_.active()) ticker_.start(1000, 1000);
}

void Tail::publish_slow(http::Exchange& ex) {
    if (ex.admin()) return; // edgecachectl's own requests are not traffic
    std::string record;
    for (size_t i = 0; i < subs_.size();) {
        Subscriber& s = subs_[i];
        http::Exchange* out = s.ref.get();
        if (!out) {
            subs_.erase(subs_.begin() + static_cast<std::ptrdiff_t>(i));
            continue;
        }
        ++i;
        bool pass = true;
        for (const TailFilter& f : s.filters)
            pass = pass && f.matches(ex);
        if (!pass) continue;
        if (out->congested()) {
            ++s.dropped;
            continue;
        }
        if (record.empty()) {
            renderer_.render(json_, ex, record);
            record += '\n';
        }
        std::string line;
        if (s.dropped != s.dropped_reported) {
            line = "{\"dropped\":" + std::to_string(s.dropped) + "}\n";
            s.dropped_reported = s.dropped;
        }
        line += record;
        out->stream_write(http::Body::owned(std::move(line)));
    }
}

void Tail::shutdown() {
    ticker_.stop();
    auto subs = std::move(subs_);
    subs_.clear();
    for (Subscriber& s : subs)
        if (http::Exchange* out = s.ref.get()) out->stream_end();
}

} // namespace ec::daemon
