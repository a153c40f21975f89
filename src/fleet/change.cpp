// Change: bucket keys, base64url tokens and the entry payload codec.
#include "fleet/change.hpp"

#include <cstring>

#include "store/store.hpp"

namespace ec::fleet {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int token_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

} // namespace

std::string encode_token(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() * 4 + 2) / 3);
    size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        uint32_t n = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8 |
                     uint8_t(bytes[i + 2]);
        out += kAlphabet[n >> 18];
        out += kAlphabet[(n >> 12) & 63];
        out += kAlphabet[(n >> 6) & 63];
        out += kAlphabet[n & 63];
    }
    size_t left = bytes.size() - i;
    if (left == 1) {
        uint32_t n = uint32_t(uint8_t(bytes[i])) << 16;
        out += kAlphabet[n >> 18];
        out += kAlphabet[(n >> 12) & 63];
    } else if (left == 2) {
        uint32_t n = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8;
        out += kAlphabet[n >> 18];
        out += kAlphabet[(n >> 12) & 63];
        out += kAlphabet[(n >> 6) & 63];
    }
    return out;
}

std::optional<std::string> decode_token(std::string_view token) {
    if (token.size() % 4 == 1) return std::nullopt;
    std::string out;
    out.reserve(token.size() * 3 / 4);
    uint32_t acc = 0;
    int bits = 0;
    for (char c : token) {
        int v = token_value(c);
        if (v < 0) return std::nullopt;
        acc = (acc << 6) | uint32_t(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += char((acc >> bits) & 0xff);
        }
    }
    // Canonical form only: the leftover bits of the last character are zero.
    if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
    return out;
}

std::string entry_key(std::string_view ns_id, std::string_view key) {
    return "k." + std::string(ns_id) + "." + encode_token(key);
}

std::string title_key(std::string_view title) {
    return "t." + encode_token(title);
}

std::string encode_entry(std::string_view value, std::string_view metadata, int64_t expiration) {
    std::string out;
    out.reserve(14 + metadata.size() + value.size());
    out += 'E';
    out += char(1);
    uint64_t e = static_cast<uint64_t>(expiration);
    for (int i = 0; i < 8; ++i)
        out += char((e >> (8 * i)) & 0xff);
    uint32_t m = static_cast<uint32_t>(metadata.size());
    for (int i = 0; i < 4; ++i)
        out += char((m >> (8 * i)) & 0xff);
    out.append(metadata);
    out.append(value);
    return out;
}

std::optional<Change> decode_change(std::string_view key, std::string_view operation,
                                    std::string_view drop_ns, std::string_view payload) {
    Change c;
    bool deleted = operation == "DEL" || operation == "PURGE";
    if (!operation.empty() && !deleted) return std::nullopt;
    if (key.starts_with("k.")) {
        std::string_view rest = key.substr(2);
        size_t dot = rest.find('.');
        if (dot == std::string_view::npos || !store::is_namespace_id(rest.substr(0, dot)))
            return std::nullopt;
        auto k = decode_token(rest.substr(dot + 1));
        if (!k || k->empty()) return std::nullopt;
        c.ns_id.assign(rest.substr(0, dot));
        c.key = std::move(*k);
        if (deleted) {
            c.kind = Change::Kind::delete_entry;
            return c;
        }
        c.kind = Change::Kind::put_entry;
        if (payload.size() < 14 || payload[0] != 'E' || payload[1] != 1) return std::nullopt;
        const auto* p = reinterpret_cast<const unsigned char*>(payload.data());
        uint64_t e = 0;
        for (int i = 7; i >= 0; --i)
            e = (e << 8) | p[2 + i];
        uint32_t m = 0;
        for (int i = 3; i >= 0; --i)
            m = (m << 8) | p[10 + i];
        if (payload.size() - 14 < m) return std::nullopt;
        c.expiration = static_cast<int64_t>(e);
        c.metadata.assign(payload.substr(14, m));
        c.value.assign(payload.substr(14 + m));
        return c;
    }
    if (key.starts_with("t.")) {
        auto title = decode_token(key.substr(2));
        if (!title || title->empty()) return std::nullopt;
        c.title = std::move(*title);
        if (deleted) {
            c.kind = Change::Kind::drop_title;
            if (!drop_ns.empty() && !store::is_namespace_id(drop_ns)) return std::nullopt;
            c.ns_id.assign(drop_ns);
            return c;
        }
        if (!store::is_namespace_id(payload)) return std::nullopt;
        c.kind = Change::Kind::name_namespace;
        c.ns_id.assign(payload);
        return c;
    }
    return std::nullopt;
}

} // namespace ec::fleet
