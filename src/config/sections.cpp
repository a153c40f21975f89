// The structured options: listeners, origins and routes, plus checks that span several options.
#include <algorithm>

#include "config/parse.hpp"
#include "util/address.hpp"
#include "util/strings.hpp"

namespace ec::config::detail {

namespace {

constexpr std::string_view listen_keys[] = {"address", "serve", "kv_backend", "tls"};

Status parse_serve(element v, ListenSpec& ls, const Ctx& ctx, std::string_view path) {
    simdjson::dom::array arr;
    const char* phrase =
        "expected a non-empty array of \"kv\", \"proxy\", \"health\", \"metrics\", got ";
    if (v.get(arr) || arr.size() == 0) return error_at(ctx, path, phrase + describe(v));
    ls.serve_kv = ls.serve_proxy = ls.serve_health = ls.serve_metrics = false;
    size_t i = 0;
    for (element e : arr) {
        std::string p = index_path(path, i++);
        std::string_view s;
        bool* flag = nullptr;
        if (!e.get(s)) {
            if (s == "kv")
                flag = &ls.serve_kv;
            else if (s == "proxy")
                flag = &ls.serve_proxy;
            else if (s == "health")
                flag = &ls.serve_health;
            else if (s == "metrics")
                flag = &ls.serve_metrics;
        }
        if (!flag)
            return error_at(ctx, p,
                            "expected one of \"kv\", \"proxy\", \"health\", \"metrics\", got " +
                                describe(e));
        if (*flag) return error_at(ctx, p, "duplicate " + describe(e));
        *flag = true;
    }
    return Status::ok();
}

Result<ListenSpec> parse_listen_object(element v, const Ctx& ctx, std::string_view path) {
    simdjson::dom::object obj;
    if (v.get(obj)) return error_at(ctx, path, "expected an object, got " + describe(v));
    ListenSpec ls;
    std::vector<std::string_view> keys;
    for (auto field : obj) {
        std::string p = child_path(path, field.key);
        if (repeated_key(keys, field.key)) return error_at(ctx, p, "duplicate key");
        std::string_view s;
        if (field.key == "address") {
            if (field.value.get(s))
                return error_at(ctx, p, "expected an address string, got " + describe(field.value));
            auto a = parse_listen_address(s);
            if (!a) return error_at(ctx, p, a.error().message + ", got " + describe(field.value));
            ls.address = std::string(s);
        } else if (field.key == "serve") {
            Status st = parse_serve(field.value, ls, ctx, p);
            if (!st) return st.error();
        } else if (field.key == "kv_backend") {
            if (field.value.get(s))
                return error_at(ctx, p, "expected a namespace title, got " + describe(field.value));
            std::string why = check_namespace_title(s);
            if (!why.empty()) return error_at(ctx, p, why + ", got " + describe(field.value));
            ls.kv_backend = std::string(s);
        } else if (field.key == "tls") {
            Status st = parse_listen_tls(field.value, ls.tls, ctx, p);
            if (!st) return st.error();
        } else {
            return error_at(ctx, p, unknown_key_message(listen_keys, field.key));
        }
    }
    auto has = [&](std::string_view k) {
        return std::find(keys.begin(), keys.end(), k) != keys.end();
    };
    if (!has("address")) return error_at(ctx, path, "missing required key \"address\"");
    if (has("serve") && has("kv_backend"))
        return error_at(ctx, path,
                        "\"serve\" and \"kv_backend\" are exclusive: a kv_backend listener speaks "
                        "only the workerd KV protocol");
    if (has("kv_backend"))
        ls.serve_kv = ls.serve_proxy = ls.serve_health = ls.serve_metrics = false;
    return ls;
}

// "/api/v1/" -> "api_v1"; "/" -> "root". Always a valid name (check_name).
std::string name_from_prefix(std::string_view prefix) {
    std::string name;
    for (char c : prefix) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.';
        if (ok)
            name += c;
        else if (!name.empty() && name.back() != '_')
            name += '_';
    }
    while (!name.empty() && name.back() == '_')
        name.pop_back();
    if (name.size() > 64) name.resize(64);
    return name.empty() ? "root" : name;
}

} // namespace

Result<ListenSpec> listen_from_string(std::string_view address) {
    auto a = parse_listen_address(address);
    if (!a) return a.error();
    ListenSpec ls;
    ls.address = std::string(address);
    return ls;
}

Status parse_listen(element v, std::vector<ListenSpec>& out, const Ctx& ctx,
                    std::string_view path) {
    simdjson::dom::array arr;
    if (v.get(arr))
        return error_at(ctx, path,
                        "expected an array of listeners (strings or objects), got " + describe(v));
    std::vector<ListenSpec> list;
    for (element e : arr) {
        std::string p = index_path(path, list.size());
        std::string_view s;
        Result<ListenSpec> ls = ListenSpec{};
        if (!e.get(s)) {
            ls = listen_from_string(s);
            if (!ls) return error_at(ctx, p, ls.error().message + ", got " + describe(e));
        } else if (e.is_object()) {
            ls = parse_listen_object(e, ctx, p);
            if (!ls) return ls.error();
        } else {
            return error_at(ctx, p, "expected an address string or an object, got " + describe(e));
        }
        // Two ephemeral-port listeners on one address are distinct sockets; others collide.
        const std::string& addr = ls->address;
        bool ephemeral = addr.size() > 2 && addr.ends_with(":0") && !addr.starts_with("unix:");
        for (size_t j = 0; j < list.size() && !ephemeral; ++j)
            if (list[j].address == addr)
                return error_at(ctx, p,
                                "duplicate address \"" + addr + "\" (also " + index_path(path, j) +
                                    ")");
        list.push_back(std::move(ls.value()));
    }
    if (list.empty()) return error_at(ctx, path, "at least one listener is required");
    out = std::move(list);
    return Status::ok();
}

Status parse_origins(element v, std::map<std::string, OriginSpec>& out, const Ctx& ctx,
                     std::string_view path) {
    simdjson::dom::object obj;
    if (v.get(obj))
        return error_at(ctx, path,
                        "expected an object mapping origin names to origins, got " + describe(v));
    std::map<std::string, OriginSpec> origins;
    for (auto field : obj) {
        std::string p = child_path(path, field.key);
        if (origins.count(std::string(field.key))) return error_at(ctx, p, "duplicate key");
        std::string why = check_name(field.key);
        if (!why.empty()) return error_at(ctx, p, "an origin name " + why);
        OriginSpec o = origin_defaults();
        o.name = std::string(field.key);
        std::vector<std::string_view> seen;
        Status st = parse_object(origin_options(), field.value, o, ctx, p, &seen);
        if (!st) return st;
        bool url = std::find(seen.begin(), seen.end(), "url") != seen.end();
        bool servers = std::find(seen.begin(), seen.end(), "servers") != seen.end();
        if (url && servers)
            return error_at(ctx, p, "\"url\" and \"servers\" are exclusive; give one of them");
        if (!url && !servers)
            return error_at(ctx, p, "missing required key \"url\" or \"servers\"");
        if (url) {
            bool https = istarts_with(o.url, "https://");
            if (!https && o.tls.enabled)
                return error_at(ctx, child_path(p, "tls"),
                                "TLS settings for an http:// url; write the url as https://");
            if (https) o.tls.enabled = true; // also when "tls": null came after the url
        }
        origins.emplace(o.name, std::move(o));
    }
    out = std::move(origins);
    return Status::ok();
}

Status parse_routes(element v, std::vector<RouteSpec>& out, const Ctx& ctx, std::string_view path) {
    simdjson::dom::array arr;
    if (v.get(arr))
        return error_at(ctx, path, "expected an array of route objects, got " + describe(v));
    std::vector<RouteSpec> routes;
    for (element e : arr) {
        std::string p = index_path(path, routes.size());
        RouteSpec r = route_defaults();
        std::vector<std::string_view> seen;
        Status st = parse_object(route_options(), e, r, ctx, p, &seen);
        if (!st) return st;
        bool named = std::find(seen.begin(), seen.end(), "name") != seen.end();
        if (!named) r.name = name_from_prefix(r.prefix);
        for (size_t j = 0; j < routes.size(); ++j) {
            std::string also = " (also " + index_path(path, j) + ")";
            if (routes[j].prefix == r.prefix)
                return error_at(ctx, child_path(p, "prefix"),
                                "duplicate prefix \"" + r.prefix + "\"" + also);
            if (routes[j].name == r.name)
                return error_at(ctx, named ? child_path(p, "name") : p,
                                "duplicate route name \"" + r.name + "\"" + also +
                                    (named ? ""
                                           : "; the name was derived from the prefix, set "
                                             "\"name\" to tell them apart"));
        }
        routes.push_back(std::move(r));
    }
    out = std::move(routes);
    return Status::ok();
}

Status parse_fleet(element v, FleetSpec& out, const Ctx& ctx, std::string_view path) {
    FleetSpec f = fleet_defaults();
    Status st = parse_object(fleet_options(), v, f, ctx, path, nullptr);
    if (!st) return st;
    if (f.nats.empty())
        return error_at(ctx, child_path(path, "nats"), "at least one NATS server is required");
    if (!f.token.empty() && !f.credentials_file.empty())
        return error_at(ctx, path, "\"token\" and \"credentials_file\" are exclusive");
    f.enabled = true;
    out = std::move(f);
    return Status::ok();
}

Status finish_config(Config& cfg, const Ctx& ctx) {
    for (size_t i = 0; i < cfg.routes.size(); ++i) {
        const RouteSpec& r = cfg.routes[i];
        if (cfg.origins.count(r.origin)) continue;
        std::string known;
        for (const auto& [name, o] : cfg.origins)
            known += (known.empty() ? "" : ", ") + name;
        return error_at(ctx, child_path(index_path("routes", i), "origin"),
                        "unknown origin \"" + r.origin + "\" (" +
                            (known.empty() ? "no origins are defined" : "defined: " + known) + ")");
    }
    if (!cfg.node.empty() && !cfg.fleet.node.empty() && cfg.node != cfg.fleet.node)
        return error_at(ctx, "fleet.node",
                        "\"" + cfg.fleet.node + "\" differs from node \"" + cfg.node +
                            "\": a node has one name (set node alone)");
    if (!cfg.admin_listen.empty() && cfg.admin_token.empty())
        return error_at(ctx, "admin_listen",
                        "requires admin_token: the TCP admin API is never served without a token");
    if (!cfg.admin_tls.certificates.empty() && cfg.admin_listen.empty())
        return error_at(ctx, "admin_tls",
                        "requires admin_listen: TLS applies to the TCP admin API");
    // Longest prefix first, so the first route whose prefix matches is the most specific one.
    std::stable_sort(
        cfg.routes.begin(), cfg.routes.end(),
        [](const RouteSpec& a, const RouteSpec& b) { return a.prefix.size() > b.prefix.size(); });
    return Status::ok();
}

} // namespace ec::config::detail
