// Table-driven JSON parsing of option values: type checks, bounds, error messages with paths.
#include <algorithm>
#include <stdexcept>

#include "config/parse.hpp"
#include "util/address.hpp"
#include "util/json_writer.hpp"
#include "util/strings.hpp"
#include "util/units.hpp"

namespace ec::config::detail {

using simdjson::dom::element_type;

Error error_at(const Ctx& ctx, std::string_view path, std::string_view sentence) {
    std::string msg = ctx.source;
    for (std::string_view part : {path, sentence}) {
        if (part.empty()) continue;
        if (!msg.empty()) msg += ": ";
        msg += part;
    }
    return make_error(0, "config", std::move(msg));
}

std::string describe(element v) {
    std::string s = simdjson::minify(v);
    constexpr size_t limit = 60;
    if (s.size() > limit) {
        size_t cut = limit - 3;
        // Back off to a UTF-8 boundary so the message stays valid text.
        while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80)
            --cut;
        s.resize(cut);
        s += "...";
    }
    return s;
}

std::string child_path(std::string_view path, std::string_view key) {
    bool plain = !key.empty() && !(key[0] >= '0' && key[0] <= '9');
    for (char c : key)
        plain = plain && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '_' || c == '-');
    std::string p(path);
    if (plain) {
        if (!p.empty()) p += '.';
        p += key;
    } else {
        p += '[';
        json_escape(p, key);
        p += ']';
    }
    return p;
}

std::string index_path(std::string_view path, size_t index) {
    return std::string(path) + "[" + std::to_string(index) + "]";
}

bool repeated_key(std::vector<std::string_view>& keys, std::string_view key) {
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) return true;
    keys.push_back(key);
    return false;
}

namespace {

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
            diag = up;
        }
    }
    return row[b.size()];
}

std::string quoted(std::string_view s) {
    std::string q;
    json_escape(q, s);
    return q;
}

// "expected one of "a", "b""
std::string choices_phrase(std::string_view choices) {
    std::string s = "expected one of ";
    size_t start = 0;
    while (true) {
        size_t bar = choices.find('|', start);
        s += quoted(choices.substr(start, bar - start));
        if (bar == std::string_view::npos) break;
        s += ", ";
        start = bar + 1;
    }
    return s;
}

// Index of `s` among the '|'-separated choices, or -1.
int choice_index(std::string_view choices, std::string_view s) {
    int i = 0;
    size_t start = 0;
    while (true) {
        size_t bar = choices.find('|', start);
        if (choices.substr(start, bar - start) == s) return i;
        if (bar == std::string_view::npos) return -1;
        start = bar + 1;
        ++i;
    }
}

// Reads a JSON integer (not a float) that fits int64_t.
bool get_integer(element v, int64_t* out, bool* too_big) {
    *too_big = false;
    if (v.type() == element_type::INT64) return !v.get_int64().get(*out);
    if (v.type() == element_type::UINT64) {
        *too_big = true;
        *out = INT64_MAX;
        return true;
    }
    return false;
}

template <class T> Status set_integer(const Option<T>& o, T& out, int64_t n) {
    if (auto m = std::get_if<int64_t T::*>(&o.field))
        out.*(*m) = n;
    else if (auto m32 = std::get_if<uint32_t T::*>(&o.field))
        out.*(*m32) = static_cast<uint32_t>(n);
    else
        throw std::logic_error("config table: " + std::string(o.name) + " has no integer field");
    return Status::ok();
}

template <class T> std::string integer_phrase(const Option<T>& o) {
    std::string s = o.min >= 0 ? "expected a non-negative integer" : "expected an integer";
    if (o.type == Type::duration)
        s = "expected a duration in milliseconds (a non-negative integer)";
    if (o.nullable) s += " or null";
    return s;
}

// null for a TLS object: TLS off. An origin's keeps the table's settings for a later https://
// url; a listener's is empty (plain HTTP).
template <class T> void parse_option_tls_null(const Option<T>& o, T& out) {
    if (auto ot = std::get_if<OriginTls T::*>(&o.field)) out.*(*ot) = origin_tls_defaults();
    if (auto lt = std::get_if<ListenTls T::*>(&o.field)) out.*(*lt) = ListenTls{};
}

template <class T> void set_null(const Option<T>& o, T& out) {
    if (auto s = std::get_if<std::string T::*>(&o.field))
        (out.*(*s)).clear();
    else if (auto i = std::get_if<int64_t T::*>(&o.field))
        out.*(*i) = -1;
    else if (o.type == Type::origin_tls || o.type == Type::listen_tls)
        parse_option_tls_null(o, out);
    else if (auto f = std::get_if<FleetSpec T::*>(&o.field))
        out.*(*f) = FleetSpec{};
    else
        throw std::logic_error("config table: " + std::string(o.name) + " cannot be null");
}

template <class T>
Status parse_status_map(const Option<T>& o, element v, T& out, const Ctx& ctx,
                        std::string_view path) {
    simdjson::dom::object obj;
    if (v.get(obj))
        return error_at(ctx, path,
                        "expected an object mapping HTTP statuses to seconds, like {\"404\": 30}, "
                        "got " +
                            describe(v));
    std::map<int, int64_t> m;
    for (auto field : obj) {
        std::string p = child_path(path, field.key);
        auto status = field.key.size() == 3 ? parse_u64(field.key) : std::nullopt;
        if (!status || *status < 100 || *status > 599)
            return error_at(ctx, p, "expected a 3-digit HTTP status (100-599) as the key");
        if (m.count(static_cast<int>(*status))) return error_at(ctx, p, "duplicate key");
        int64_t n;
        bool too_big;
        if (!get_integer(field.value, &n, &too_big) || n < 0)
            return error_at(
                ctx, p, "expected a non-negative integer (seconds), got " + describe(field.value));
        if (too_big || n > o.max)
            return error_at(ctx, p,
                            "must be between 0 and " + std::to_string(o.max) + ", got " +
                                describe(field.value));
        m[static_cast<int>(*status)] = n;
    }
    out.*std::get<std::map<int, int64_t> T::*>(o.field) = std::move(m);
    return Status::ok();
}

template <class T>
Status parse_string_list(const Option<T>& o, element v, T& out, const Ctx& ctx,
                         std::string_view path) {
    simdjson::dom::array arr;
    if (v.get(arr)) return error_at(ctx, path, "expected an array of strings, got " + describe(v));
    std::vector<std::string> list;
    for (element e : arr) {
        std::string p = index_path(path, list.size());
        std::string_view s;
        if (e.get(s)) return error_at(ctx, p, "expected a string, got " + describe(e));
        if (o.check) {
            std::string why = o.check(s);
            if (!why.empty()) return error_at(ctx, p, why + ", got " + describe(e));
        }
        list.emplace_back(s);
    }
    out.*std::get<std::vector<std::string> T::*>(o.field) = std::move(list);
    return Status::ok();
}

template <class T>
Status parse_servers(const Option<T>& o, element v, T& out, const Ctx& ctx, std::string_view path) {
    simdjson::dom::array arr;
    const char* phrase = "expected a non-empty array of \"host:port\" strings, got ";
    if (v.get(arr) || arr.size() == 0) return error_at(ctx, path, phrase + describe(v));
    std::vector<std::string> list;
    for (element e : arr) {
        std::string p = index_path(path, list.size());
        std::string_view s;
        if (e.get(s))
            return error_at(ctx, p, "expected a \"host:port\" string, got " + describe(e));
        auto hp = parse_host_port(s);
        if (!hp) return error_at(ctx, p, hp.error().message + ", got " + describe(e));
        if (std::find(list.begin(), list.end(), s) != list.end())
            return error_at(ctx, p, "duplicate server " + describe(e));
        list.emplace_back(s);
    }
    out.*std::get<std::vector<std::string> T::*>(o.field) = std::move(list);
    if constexpr (std::is_same_v<T, OriginSpec>) out.url.clear();
    return Status::ok();
}

} // namespace

std::string unknown_key_message(std::span<const std::string_view> names, std::string_view key) {
    std::string_view best;
    size_t best_d = 3; // suggest only close matches
    for (std::string_view n : names) {
        size_t d = edit_distance(key, n);
        if (d < best_d) best = n, best_d = d;
    }
    if (best.empty()) {
        // "timeout" for "timeout_ms": a unit or qualifier left off is as likely as a typo.
        for (std::string_view n : names)
            if (key.size() >= 3 && n.starts_with(key) && n[key.size()] == '_') {
                best = n;
                break;
            }
    }
    std::string msg = "unknown key";
    if (!best.empty()) msg += " (did you mean " + quoted(best) + "?)";
    return msg;
}

template <class T>
Status parse_option(const Option<T>& o, element v, T& out, const Ctx& ctx, std::string_view path) {
    auto expected = [&](std::string_view phrase) -> Status {
        return error_at(ctx, path, std::string(phrase) + ", got " + describe(v));
    };
    if (v.is_null() && o.nullable) {
        set_null(o, out);
        return Status::ok();
    }
    switch (o.type) {
    case Type::boolean: {
        bool b;
        if (v.get(b)) return expected("expected true or false");
        out.*std::get<bool T::*>(o.field) = b;
        return Status::ok();
    }
    case Type::integer:
    case Type::duration: {
        int64_t n;
        bool too_big;
        if (!get_integer(v, &n, &too_big) || (n < 0 && o.min >= 0))
            return expected(integer_phrase(o));
        if (too_big || n < o.min || n > o.max)
            return expected("must be between " + std::to_string(o.min) + " and " +
                            std::to_string(o.max));
        return set_integer(o, out, n);
    }
    case Type::size: {
        const char* phrase = "expected a size: bytes, or a string like \"256MiB\" (KiB, MiB, "
                             "GiB, TiB are powers of 1024; kB, MB, GB, TB powers of 1000)";
        uint64_t n = 0;
        std::string_view s;
        int64_t i;
        bool too_big;
        if (!v.get(s)) {
            auto parsed = parse_size(s);
            if (!parsed) return expected(phrase);
            n = *parsed;
        } else if (get_integer(v, &i, &too_big) && i >= 0) {
            n = too_big ? UINT64_MAX : static_cast<uint64_t>(i);
        } else {
            return expected(phrase);
        }
        if (n < static_cast<uint64_t>(o.min) || n > static_cast<uint64_t>(o.max))
            return expected("must be between " + format_size(static_cast<uint64_t>(o.min)) +
                            " and " + format_size(static_cast<uint64_t>(o.max)));
        out.*std::get<uint64_t T::*>(o.field) = n;
        return Status::ok();
    }
    case Type::string: {
        std::string_view s;
        if (v.get(s))
            return expected(o.nullable ? "expected a string or null" : "expected a string");
        if (o.check) {
            std::string why = o.check(s);
            if (!why.empty()) return expected(why);
        }
        out.*std::get<std::string T::*>(o.field) = std::string(s);
        return Status::ok();
    }
    case Type::enumeration: {
        std::string_view s;
        int idx = v.get(s) ? -1 : choice_index(o.choices, s);
        if (idx < 0) return expected(choices_phrase(o.choices));
        if (auto str = std::get_if<std::string T::*>(&o.field))
            out.*(*str) = std::string(s);
        else if (auto d = std::get_if<Durability T::*>(&o.field))
            out.*(*d) = Durability(idx);
        else
            out.*std::get<WriteMode T::*>(o.field) = WriteMode(idx);
        return Status::ok();
    }
    case Type::string_list:
        return parse_string_list(o, v, out, ctx, path);
    case Type::listen:
        return parse_listen(v, out.*std::get<std::vector<ListenSpec> T::*>(o.field), ctx, path);
    case Type::origins:
        return parse_origins(v, out.*std::get<std::map<std::string, OriginSpec> T::*>(o.field), ctx,
                             path);
    case Type::routes:
        return parse_routes(v, out.*std::get<std::vector<RouteSpec> T::*>(o.field), ctx, path);
    case Type::status_map:
        return parse_status_map(o, v, out, ctx, path);
    case Type::url: {
        std::string_view s;
        if (v.get(s)) return expected("expected a URL string like \"http://127.0.0.1:9000\"");
        auto hp = parse_origin_url(s);
        if (!hp) return error_at(ctx, path, hp.error().message);
        out.*std::get<std::vector<std::string> T::*>(o.field) = {hp.value()};
        if constexpr (std::is_same_v<T, OriginSpec>) {
            out.url = std::string(s);
            // https:// turns TLS on; its settings keep their defaults unless "tls" gives them.
            if (istarts_with(s, "https://")) out.tls.enabled = true;
        }
        return Status::ok();
    }
    case Type::servers:
        return parse_servers(o, v, out, ctx, path);
    case Type::origin_tls:
        return parse_origin_tls(v, out.*std::get<OriginTls T::*>(o.field), ctx, path);
    case Type::listen_tls:
        return parse_listen_tls(v, out.*std::get<ListenTls T::*>(o.field), ctx, path);
    case Type::certificates:
        return parse_certificates(v, out.*std::get<std::vector<CertificateSpec> T::*>(o.field), ctx,
                                  path);
    case Type::fleet:
        return parse_fleet(v, out.*std::get<FleetSpec T::*>(o.field), ctx, path);
    }
    return expected("unsupported option type");
}

template <class T>
Status parse_object(std::span<const Option<T>> table, element v, T& out, const Ctx& ctx,
                    std::string_view path, std::vector<std::string_view>* seen) {
    simdjson::dom::object obj;
    if (v.get(obj)) return error_at(ctx, path, "expected an object, got " + describe(v));
    std::vector<std::string_view> keys;
    for (auto field : obj) {
        std::string p = child_path(path, field.key);
        if (repeated_key(keys, field.key)) return error_at(ctx, p, "duplicate key");
        auto it = std::find_if(table.begin(), table.end(),
                               [&](const Option<T>& o) { return o.name == field.key; });
        if (it == table.end()) {
            std::vector<std::string_view> names;
            for (const auto& o : table)
                names.push_back(o.name);
            return error_at(ctx, p, unknown_key_message(names, field.key));
        }
        Status st = parse_option(*it, field.value, out, ctx, p);
        if (!st) return st;
    }
    for (const auto& o : table)
        if (o.required && std::find(keys.begin(), keys.end(), o.name) == keys.end())
            return error_at(ctx, path, "missing required key " + quoted(o.name));
    if (seen) *seen = std::move(keys);
    return Status::ok();
}

template <class T> void apply_default(const Option<T>& o, T& out) {
    if (o.default_json.empty()) return;
    simdjson::dom::parser parser;
    simdjson::padded_string json(o.default_json);
    element v;
    if (parser.parse(json).get(v))
        throw std::logic_error("config table: bad default for " + std::string(o.name));
    Status st = parse_option(o, v, out, Ctx{"built-in default"}, o.name);
    if (!st) throw std::logic_error("config table: " + st.error().message);
}

#define EC_CONFIG_INSTANTIATE(T)                                                                   \
    template Status parse_option<T>(const Option<T>&, element, T&, const Ctx&, std::string_view);  \
    template Status parse_object<T>(std::span<const Option<T>>, element, T&, const Ctx&,           \
                                    std::string_view, std::vector<std::string_view>*);             \
    template void apply_default<T>(const Option<T>&, T&);
EC_CONFIG_INSTANTIATE(Config)
EC_CONFIG_INSTANTIATE(OriginSpec)
EC_CONFIG_INSTANTIATE(RouteSpec)
EC_CONFIG_INSTANTIATE(OriginTls)
EC_CONFIG_INSTANTIATE(ListenTls)
EC_CONFIG_INSTANTIATE(CertificateSpec)
EC_CONFIG_INSTANTIATE(FleetSpec)
#undef EC_CONFIG_INSTANTIATE

} // namespace ec::config::detail
