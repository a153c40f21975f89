// Address parsing: listen addresses, origin host:port pairs and origin URLs.
#include "util/address.hpp"

#include <arpa/inet.h>

#include "util/strings.hpp"

namespace ec {

namespace {

Error bad(std::string msg) {
    return make_error(0, "bad_address", std::move(msg));
}

bool parse_port(std::string_view s, uint16_t* out) {
    if (s.empty() || s.size() > 5) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    auto v = parse_u64(s);
    if (!v || *v > 65535) return false;
    *out = static_cast<uint16_t>(*v);
    return true;
}

bool is_ipv4(std::string_view s) {
    in_addr a;
    return inet_pton(AF_INET, std::string(s).c_str(), &a) == 1;
}

bool is_ipv6(std::string_view s) {
    in6_addr a;
    return inet_pton(AF_INET6, std::string(s).c_str(), &a) == 1;
}

// RFC 1123 host name: dot-separated labels of letters, digits and hyphens (underscores too,
// which real DNS zones contain), no empty label, at most 253 bytes.
bool is_hostname(std::string_view s) {
    if (s.empty() || s.size() > 253) return false;
    size_t label = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok || ++label > 63) return false;
    }
    return label > 0;
}

// Splits "host:port" / "[v6]:port" into host (brackets removed) and port text.
bool split_host_port(std::string_view s, std::string_view* host, std::string_view* port,
                     bool* bracketed) {
    *bracketed = !s.empty() && s.front() == '[';
    if (*bracketed) {
        size_t close = s.find(']');
        if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
            return false;
        *host = s.substr(1, close - 1);
        *port = s.substr(close + 2);
        return true;
    }
    size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) return false;
    *host = s.substr(0, colon);
    *port = s.substr(colon + 1);
    return host->find(':') == std::string_view::npos; // a bare IPv6 literal needs brackets
}

} // namespace

Result<Address> parse_listen_address(std::string_view s) {
    Address a;
    if (s.substr(0, 5) == "unix:") {
        std::string_view path = s.substr(5);
        if (path.empty()) return bad("expected a socket path after \"unix:\"");
        if (path.size() > max_unix_path)
            return bad("the Unix socket path is " + std::to_string(path.size()) +
                       " bytes; the limit is " + std::to_string(max_unix_path));
        a.kind = Address::Kind::unix_path;
        a.path = std::string(path);
        return a;
    }
    const char* expected = "expected \"a.b.c.d:port\", \"[ipv6]:port\" or \"unix:/path\"";
    std::string_view host, port;
    bool bracketed = false;
    if (!split_host_port(s, &host, &port, &bracketed)) return bad(expected);
    if (!parse_port(port, &a.port)) return bad("port must be a number from 0 to 65535");
    if (bracketed) {
        if (!is_ipv6(host)) return bad("\"" + std::string(host) + "\" is not an IPv6 address");
        a.kind = Address::Kind::ipv6;
    } else {
        if (!is_ipv4(host)) return bad(expected);
        a.kind = Address::Kind::ipv4;
    }
    a.host = std::string(host);
    return a;
}

Result<Address> parse_host_port(std::string_view s) {
    Address a;
    std::string_view host, port;
    bool bracketed = false;
    if (!split_host_port(s, &host, &port, &bracketed))
        return bad("expected \"host:port\" (IPv6 as \"[::1]:port\")");
    if (!parse_port(port, &a.port) || a.port == 0)
        return bad("port must be a number from 1 to 65535");
    if (bracketed) {
        if (!is_ipv6(host)) return bad("\"" + std::string(host) + "\" is not an IPv6 address");
        a.kind = Address::Kind::ipv6;
    } else {
        // A name whose last label is all digits is a mistyped IPv4 literal, not a DNS name.
        std::string_view last = host.substr(host.rfind('.') + 1);
        bool numeric = last.find_first_not_of("0123456789") == std::string_view::npos;
        if (!is_hostname(host) || (numeric && !is_ipv4(host)))
            return bad("\"" + std::string(host) + "\" is not a host name or IP address");
        a.kind = is_ipv4(host) ? Address::Kind::ipv4 : Address::Kind::dns;
    }
    a.host = std::string(host);
    return a;
}

Result<std::string> parse_origin_url(std::string_view s) {
    bool https = istarts_with(s, "https://");
    if (!https && !istarts_with(s, "http://"))
        return bad("expected an http:// or https:// URL like \"http://127.0.0.1:9000\"");
    std::string_view rest = s.substr(https ? 8 : 7);
    size_t end = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, end);
    std::string_view tail = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    if (!tail.empty() && tail != "/")
        return bad("an origin URL cannot have a path, query or fragment: requests are forwarded "
                   "with the path they arrived with");
    if (authority.find('@') != std::string_view::npos)
        return bad("user info in an origin URL is not supported");
    if (authority.empty()) return bad("the URL has no host");
    // No port: default to 80 (443 for https). "[v6]" or "host" without ':' after the host part.
    bool has_port = authority.front() == '[' ? authority.find("]:") != std::string_view::npos
                                             : authority.find(':') != std::string_view::npos;
    std::string hostport(authority);
    if (!has_port) hostport += https ? ":443" : ":80";
    auto hp = parse_host_port(hostport);
    if (!hp) return hp.error();
    return hostport;
}

} // namespace ec
