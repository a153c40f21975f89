// head_check: a request head's pieces, the Request made from them, request-target forms, Host
// syntax and the head checks llhttp leaves to us.
#include "http/head_check.hpp"

#include <algorithm>
#include <cstring>

#include "util/strings.hpp"

namespace ec::http {

namespace {
// RFC 3986 unreserved and sub-delims, plus '%' (pct-encoded): what a reg-name may hold.
bool is_reg_name_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::strchr("-._~%!$&'()*+,;=", c) != nullptr;
}
} // namespace

void HeadSpans::clear() {
    method = url = Span{};
    headers.clear();
    part_ = Part::none;
}

void HeadSpans::extend(Span& s, uint32_t off, uint32_t len) {
    if (s.len == 0) s.off = off;
    s.len += len;
}

HeadSpans::Piece HeadSpans::add_name(uint32_t off, uint32_t len) {
    if (part_ != Part::name) {
        if (headers.size() >= Request::kMaxHeaders) return Piece::too_many;
        headers.push_back(HeaderSpan{Span{off, 0}, Span{}});
        part_ = Part::name;
    } else if (off != headers.back().name.off + headers.back().name.len) {
        return Piece::bad_name;
    }
    headers.back().name.len += len;
    return Piece::ok;
}

HeadSpans::Piece HeadSpans::add_value(uint32_t off, uint32_t len) {
    HeaderSpan& h = headers.back();
    if (part_ == Part::value_pending) {
        h.value = Span{off, len};
        part_ = Part::value;
    } else if (off == h.value.off + h.value.len) {
        h.value.len += len; // the same value, split across reads
    } else {
        return Piece::obs_fold;
    }
    return Piece::ok;
}

size_t HeadSpans::end() const {
    auto end_of = [](Span s) { return static_cast<size_t>(s.off) + s.len; };
    size_t e = std::max(end_of(method), end_of(url));
    for (const HeaderSpan& h : headers)
        e = std::max({e, end_of(h.name), end_of(h.value)});
    return e;
}

void fill_request(Request& r, const HeadSpans& spans, const char* base, const HeadFacts& facts,
                  const sockaddr* peer) {
    auto view = [base](HeadSpans::Span s) { return std::string_view(base + s.off, s.len); };
    r.method = facts.method;
    r.method_name = view(spans.method);
    r.target = view(spans.url);
    r.version_minor = facts.version_minor;
    r.keep_alive = facts.keep_alive;
    r.chunked = facts.chunked;
    r.content_length = facts.content_length;
    r.expect_continue = false;
    r.headers.clear();
    r.host = {};
    r.peer = peer;
    r.route = {};
    for (const HeadSpans::HeaderSpan& h : spans.headers) {
        r.headers.push_back(Header{view(h.name), trim_ows(view(h.value))});
        if (iequals(r.headers.back().name, "host")) r.host = r.headers.back().value;
    }
    r.body = {};
    split_target(r);
}

bool valid_authority(std::string_view a, bool allow_empty) {
    if (a.empty()) return allow_empty;
    std::string_view port;
    if (a[0] == '[') { // IP-literal
        size_t close = a.find(']');
        if (close == std::string_view::npos || close == 1) return false;
        for (char c : a.substr(1, close - 1))
            if (c != ':' && !is_reg_name_char(static_cast<unsigned char>(c))) return false;
        std::string_view rest = a.substr(close + 1);
        if (!rest.empty() && rest[0] != ':') return false;
        if (!rest.empty()) port = rest.substr(1);
    } else {
        size_t colon = a.find(':');
        std::string_view host = a.substr(0, colon);
        if (host.empty()) return false;
        for (char c : host)
            if (!is_reg_name_char(static_cast<unsigned char>(c))) return false;
        if (colon != std::string_view::npos) port = a.substr(colon + 1);
    }
    for (char c : port)
        if (c < '0' || c > '9') return false;
    return true;
}

void split_target(Request& r) {
    // Origin-form, absolute-form (RFC 9112 §3.2.2: its authority replaces Host) or asterisk-form.
    std::string_view t = r.target;
    if (istarts_with(t, "http://")) {
        std::string_view rest = t.substr(7);
        size_t end = rest.find_first_of("/?");
        r.host = rest.substr(0, end);
        t = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    }
    size_t q = t.find('?');
    r.path = t.substr(0, q);
    r.query = q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
    if (r.path.empty()) r.path = "/";
}

HeadError check_request_head(Request& r, int http_major) {
    if (http_major != 1 || r.version_minor > 1) {
        return HeadError{505, "http_version_not_supported",
                         "only HTTP/1.0 and HTTP/1.1 are supported"};
    }
    if (r.method == HTTP_CONNECT) {
        return HeadError{405, "method_not_allowed", "CONNECT is not supported"};
    }
    if (!r.target.empty() && r.target[0] != '/' && r.target != "*" &&
        !istarts_with(r.target, "http://")) {
        return HeadError{400, "bad_target",
                         "request target must be origin-form or an http:// absolute URI"};
    }
    if (r.target == "*" && r.method != HTTP_OPTIONS) {
        return HeadError{400, "bad_target", "asterisk-form is only valid for OPTIONS"};
    }
    if (istarts_with(r.target, "http://") && !valid_authority(r.host, false)) {
        return HeadError{400, "bad_target",
                         "the request target's authority is not a valid host[:port]"};
    }
    int hosts = 0;
    bool te_unknown = false;      // a transfer coding other than chunked
    bool te_last_chunked = false; // ... and whether chunked was the last one
    for (const Header& h : r.headers) {
        if (!is_token(h.name)) {
            // llhttp 8.1 lets spaces in or before the colon through; RFC 9112 §5.1 says 400.
            return HeadError{400, "bad_header_name", "header field name is not a valid token"};
        }
        if (iequals(h.name, "host")) {
            ++hosts;
            // RFC 9112 §3.2: an invalid Host is a 400. Forwarded, it could name one site to
            // the origin (or a router in front of it) and another to our cache key.
            if (!valid_authority(h.value, true)) {
                return HeadError{400, "bad_host", "Host is not a valid host[:port]"};
            }
        } else if (iequals(h.name, "transfer-encoding") && r.version_minor == 0) {
            return HeadError{400, "bad_transfer_encoding",
                             "Transfer-Encoding in an HTTP/1.0 request"};
        } else if (iequals(h.name, "transfer-encoding")) {
            // llhttp accepts codings before chunked and drops them silently; the body would
            // then be forwarded or stored still coded. RFC 9112 §6.1: 501 for a coding we do
            // not implement (400 when chunked is not last: the length is unknowable, §6.3).
            for_each_list_item(h.value, [&](std::string_view coding) {
                te_last_chunked = iequals(coding, "chunked");
                if (!te_last_chunked) te_unknown = true;
            });
        } else if (iequals(h.name, "expect")) {
            if (!iequals(h.value, "100-continue")) {
                return HeadError{417, "expectation_failed",
                                 "only Expect: 100-continue is supported"};
            }
            r.expect_continue = r.version_minor == 1;
        }
    }
    if (te_unknown) {
        if (te_last_chunked)
            return HeadError{501, "unsupported_transfer_encoding",
                             "only the chunked transfer coding is supported"};
        return HeadError{400, "bad_transfer_encoding", "chunked must be the final transfer coding"};
    }
    if (hosts > 1) {
        return HeadError{400, "duplicate_host", "more than one Host header"};
    }
    if (hosts == 0 && r.version_minor == 1) {
        return HeadError{400, "missing_host", "HTTP/1.1 request without a Host header"};
    }
    return {};
}

} // namespace ec::http
