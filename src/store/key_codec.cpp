// KeyCodec, KV storage-key layout and list-cursor encoding.
#include "store/key_codec.hpp"

#include "store/bytes.hpp"
#include "util/base64.hpp"

namespace ec::store {

std::string KeyCodec::encode(std::string_view logical) const {
    if (!is_long(logical)) return std::string(logical);
    std::string out(logical.substr(0, t_));
    uint64_t h = hash_for_test_ ? hash_for_test_(logical) : siphash24(hash_key_, logical);
    detail::put_be64(out, h);
    return out;
}

std::string kv_storage_prefix(uint32_t ns_num) {
    std::string out;
    out.reserve(kKvPrefixLen);
    out.push_back('K');
    detail::put_be32(out, ns_num);
    return out;
}

std::string kv_storage_key(uint32_t ns_num, std::string_view key) {
    std::string out = kv_storage_prefix(ns_num);
    out.append(key);
    return out;
}

std::string encode_cursor(std::string_view key) {
    std::string out;
    base64_encode(out, key);
    while (!out.empty() && out.back() == '=')
        out.pop_back();
    for (char& c : out) {
        if (c == '+')
            c = '-';
        else if (c == '/')
            c = '_';
    }
    return out;
}

std::optional<std::string> decode_cursor(std::string_view cursor) {
    if (cursor.empty() || cursor.size() > 1024) return std::nullopt;
    std::string b64(cursor);
    for (char& c : b64) {
        // The standard alphabet's '+', '/' and '=' are not part of a cursor.
        if (c == '+' || c == '/' || c == '=') return std::nullopt;
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
    }
    auto key = base64_decode(b64);
    if (!key || key->empty() || key->size() > kMaxKvKey) return std::nullopt;
    return key;
}

} // namespace ec::store
