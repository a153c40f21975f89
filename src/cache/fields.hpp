// Header-field plumbing shared by the cache modules: any range of {name, value} pairs will do.
#pragma once

#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <vector>

#include "util/strings.hpp"

namespace ec::cache {

// An owned header field, as a stored response keeps it. Names keep the case they arrived in.
struct Field {
    std::string name;
    std::string value;
    bool operator==(const Field&) const = default;
};
using FieldList = std::vector<Field>;

// A borrowed header field; valid as long as the bytes it points into.
struct FieldView {
    std::string_view name;
    std::string_view value;
};

// Any range whose elements have `name` and `value` members convertible to string_view:
// std::vector<http::Header>, FieldList, std::vector<FieldView>, a std::span of them...
// Templates below take a FieldRange so the proxy can pass its request or response header
// vector without converting it.
template <class R>
concept FieldRange = std::ranges::input_range<const R> &&
    requires(std::ranges::range_reference_t<const R> f) {
    std::string_view(f.name);
    std::string_view(f.value);
};

// First value of the field `name` (ASCII case-insensitive), or nullopt. The view points into
// `fields`.
template <FieldRange R>
std::optional<std::string_view> find_field(const R& fields, std::string_view name) {
    for (const auto& f : fields)
        if (iequals(std::string_view(f.name), name)) return std::string_view(f.value);
    return std::nullopt;
}

// Calls fn(value) for every line of the field `name`, in order.
template <FieldRange R, class Fn>
void for_each_field(const R& fields, std::string_view name, Fn&& fn) {
    for (const auto& f : fields)
        if (iequals(std::string_view(f.name), name)) fn(std::string_view(f.value));
}

// True for the hop-by-hop fields RFC 9110 §7.6.1 names (Connection, Proxy-Connection,
// Keep-Alive, TE, Transfer-Encoding, Upgrade). Fields *listed* in Connection are hop-by-hop
// too; callers that have the message check those with `listed_in_connection`.
bool is_hop_by_hop(std::string_view name);

// True for what RFC 9111 §3.1 says a cache must not store: the hop-by-hop fields above plus
// Proxy-Authenticate, Proxy-Authentication-Info and Proxy-Authorization.
bool is_unstorable(std::string_view name);

// True when `name` is one of the comma-separated names in a Connection field value.
bool listed_in_connection(std::string_view connection_value, std::string_view name);

// Removes every field named `name` (case-insensitive) from `fields`; an empty name removes
// nothing.
void erase_fields(FieldList& fields, std::string_view name);

// The fields of a response that a cache may store (RFC 9111 §3.1): `fields` minus
// is_unstorable() ones and any named by its Connection field(s). Copies; order is kept.
template <FieldRange R> FieldList storable_fields(const R& fields) {
    FieldList out;
    bool has_connection = find_field(fields, "connection").has_value(); // rare: skip the lists
    out.reserve(std::ranges::size(fields));
    for (const auto& f : fields) {
        std::string_view name(f.name);
        if (is_unstorable(name)) continue;
        bool listed = false;
        if (has_connection)
            for_each_field(fields, "connection", [&](std::string_view conn) {
                listed = listed || listed_in_connection(conn, name);
            });
        if (listed) continue;
        out.push_back(Field{std::string(name), std::string(std::string_view(f.value))});
    }
    return out;
}

} // namespace ec::cache
