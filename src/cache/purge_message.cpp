// PurgeMessage: the JSON form of purges and invalidations on the fleet's purge stream.
#include "cache/purge_message.hpp"

#include <simdjson.h>

#include "util/json_writer.hpp"

namespace ec::cache {

namespace {

const char* kind_name(PurgeRequest::Kind k) {
    switch (k) {
    case PurgeRequest::Kind::paths:
        return "paths";
    case PurgeRequest::Kind::prefix:
        return "prefix";
    case PurgeRequest::Kind::tags:
        return "tags";
    case PurgeRequest::Kind::all:
        return "all";
    }
    return "paths";
}

Error bad(std::string what) {
    return make_error(400, "bad_purge_message", "purge message: " + std::move(what));
}

} // namespace

std::string encode_purge_message(const PurgeMessage& m) {
    std::string out;
    JsonWriter w(out);
    w.begin_object().field("node", m.node);
    if (m.invalidation) {
        w.field("kind", "invalidate").field("host", m.host).field("target", m.target);
        w.end_object();
        return out;
    }
    const PurgeRequest& r = m.request;
    w.field("kind", kind_name(r.kind));
    w.key("paths").begin_array();
    for (const auto& p : r.paths)
        w.value(p);
    w.end_array();
    w.field("prefix", r.prefix);
    w.key("tags").begin_array();
    for (const auto& t : r.tags)
        w.value(t);
    w.end_array();
    w.field("soft", r.soft).field("route", r.route).field("namespace", r.namespace_);
    w.end_object();
    return out;
}

Result<PurgeMessage> decode_purge_message(std::string_view json) {
    simdjson::dom::parser parser;
    simdjson::padded_string padded(json);
    simdjson::dom::object obj;
    if (parser.parse(padded).get(obj)) return bad("not a JSON object");
    PurgeMessage m;
    std::string_view s;
    if (obj["node"].get(s)) return bad("no \"node\"");
    m.node = std::string(s);
    if (obj["kind"].get(s)) return bad("no \"kind\"");
    std::string_view kind = s;
    auto text = [&](const char* k, std::string& out) -> bool {
        std::string_view v;
        if (obj[k].get(v)) return false;
        out = std::string(v);
        return true;
    };
    if (kind == "invalidate") {
        m.invalidation = true;
        if (!text("host", m.host) || !text("target", m.target)) return bad("no host or target");
        return m;
    }
    PurgeRequest& r = m.request;
    if (kind == "paths")
        r.kind = PurgeRequest::Kind::paths;
    else if (kind == "prefix")
        r.kind = PurgeRequest::Kind::prefix;
    else if (kind == "tags")
        r.kind = PurgeRequest::Kind::tags;
    else if (kind == "all")
        r.kind = PurgeRequest::Kind::all;
    else
        return bad("unknown kind \"" + std::string(kind) + "\"");
    for (const char* list : {"paths", "tags"}) {
        simdjson::dom::array arr;
        if (obj[list].get(arr)) return bad(std::string("no \"") + list + "\" array");
        for (auto e : arr) {
            std::string_view v;
            if (e.get(v)) return bad(std::string("\"") + list + "\" holds a non-string");
            (list[0] == 'p' ? r.paths : r.tags).emplace_back(v);
        }
    }
    if (!text("prefix", r.prefix) || !text("route", r.route) || !text("namespace", r.namespace_))
        return bad("no prefix, route or namespace");
    if (obj["soft"].get(r.soft)) return bad("no \"soft\"");
    return m;
}

} // namespace ec::cache
