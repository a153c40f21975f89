// Bulk KV operations: simdjson parsing with per-entry validation, and their write ops.
#include "kv/bulk.hpp"

#include <unordered_set>

#include <simdjson.h>

#include "util/base64.hpp"
#include "util/json_writer.hpp"

namespace ec::kv {

namespace dom = simdjson::dom;

namespace {

Error bad_json(std::string_view what) {
    return make_error(400, "invalid_json",
                      std::string("request body is not valid JSON: ") + std::string(what));
}

// Reads an integer field that may be given as a JSON number or a numeric string.
bool read_int(dom::element v, std::optional<int64_t>* out) {
    int64_t i;
    if (v.get_int64().get(i) == simdjson::SUCCESS) {
        *out = i;
        return true;
    }
    // A whole number written as a double (1e3); the range check comes first because casting
    // an out-of-range double is undefined (found by fuzz_kv_bulk with 3.3e48).
    double d;
    if (v.get_double().get(d) == simdjson::SUCCESS && d >= -0x1p63 && d < 0x1p63 &&
        d == static_cast<double>(static_cast<int64_t>(d))) {
        *out = static_cast<int64_t>(d);
        return true;
    }
    std::string_view s;
    if (v.get_string().get(s) == simdjson::SUCCESS) {
        try {
            size_t pos = 0;
            long long n = std::stoll(std::string(s), &pos);
            if (pos == s.size()) {
                *out = n;
                return true;
            }
        } catch (...) {
        }
    }
    return false;
}

// Parses `body` (followed by simdjson's padding) into `parser`'s document. Errors: 400
// invalid_json.
Result<dom::element> parse_json(dom::parser& parser, std::string_view body) {
    dom::element doc;
    auto err = parser.parse(body.data(), body.size(), false).get(doc);
    if (err) return bad_json(simdjson::error_message(err));
    return doc;
}

// Parses `body` as a bulk write's array of at most kMaxBulkWrite `items` ("entries", "keys")
// for `op` ("bulk write"). Errors: 400 invalid_json, 400 invalid_bulk (not an array of
// `shape`), 413 too_many_entries.
Result<dom::array> bulk_write_array(dom::parser& parser, std::string_view body,
                                    std::string_view shape, std::string_view items,
                                    std::string_view op) {
    auto doc = parse_json(parser, body);
    if (!doc) return doc.error();
    dom::array arr;
    if (doc->get_array().get(arr))
        return make_error(400, "invalid_bulk",
                          "body must be a JSON array of " + std::string(shape));
    if (arr.size() > kMaxBulkWrite)
        return make_error(413, "too_many_entries",
                          "at most " + std::to_string(kMaxBulkWrite) + " " + std::string(items) +
                              " per " + std::string(op) + "; got " + std::to_string(arr.size()));
    return arr;
}

} // namespace

Result<std::vector<PutEntry>> parse_bulk_put(std::string_view body, int64_t now_s,
                                             const Rules& rules,
                                             std::vector<BulkProblem>* problems) {
    dom::parser parser;
    auto parsed = bulk_write_array(parser, body, "entries", "entries", "bulk write");
    if (!parsed) return parsed.error();
    dom::array arr = *parsed;
    std::vector<PutEntry> entries;
    entries.reserve(arr.size());
    std::vector<BulkProblem> bad;
    size_t index = 0;
    for (dom::element item : arr) {
        PutEntry e;
        auto problem = [&](Error er) { bad.push_back(BulkProblem{index, e.key, std::move(er)}); };
        dom::object obj;
        if (item.get_object().get(obj)) {
            problem(make_error(400, "invalid_entry", "entry is not an object"));
            ++index;
            continue;
        }
        std::string_view key;
        bool ok = true;
        if (obj["key"].get_string().get(key)) {
            problem(make_error(400, "invalid_key", "entry has no string \"key\""));
            ++index;
            continue;
        }
        e.key = std::string(key);
        if (Status st = check_key(e.key); !st) {
            problem(st.error());
            ok = false;
        }
        bool b64 = false;
        dom::element flag;
        if (obj["base64"].get(flag) == simdjson::SUCCESS && flag.get_bool().get(b64)) {
            problem(make_error(400, "invalid_entry", "\"base64\" must be a boolean"));
            ok = false;
        }
        std::string_view value;
        if (obj["value"].get_string().get(value)) {
            problem(make_error(400, "invalid_value", "entry has no string \"value\""));
            ok = false;
        } else if (b64) {
            auto decoded = base64_decode(value);
            if (!decoded) {
                problem(make_error(400, "invalid_value", "\"value\" is not valid base64"));
                ok = false;
            } else {
                e.owned = std::move(*decoded);
            }
        } else {
            e.owned = std::string(value);
        }
        if (ok) {
            if (Status st = check_value_size(e.owned.size(), rules); !st) {
                problem(st.error());
                ok = false;
            }
        }
        std::optional<int64_t> ttl, exp;
        dom::element v;
        if (obj["expiration_ttl"].get(v) == simdjson::SUCCESS && !v.is_null() &&
            !read_int(v, &ttl)) {
            problem(make_error(400, "invalid_expiration", "\"expiration_ttl\" must be an integer"));
            ok = false;
        }
        if (obj["expiration"].get(v) == simdjson::SUCCESS && !v.is_null() && !read_int(v, &exp)) {
            problem(make_error(400, "invalid_expiration", "\"expiration\" must be an integer"));
            ok = false;
        }
        if (ok) {
            auto r = resolve_expiration(ttl, exp, now_s, rules);
            if (!r) {
                problem(r.error());
                ok = false;
            } else {
                e.expiration = *r;
            }
        }
        if (obj["metadata"].get(v) == simdjson::SUCCESS && !v.is_null()) {
            std::string meta = simdjson::minify(v);
            if (meta.size() > kMaxMetadataBytes) {
                problem(make_error(400, "metadata_too_large",
                                   "metadata is " + std::to_string(meta.size()) +
                                       " bytes; the limit is 1024"));
                ok = false;
            } else {
                e.metadata = std::move(meta);
            }
        }
        if (ok) entries.push_back(std::move(e));
        ++index;
    }
    if (!bad.empty()) {
        std::string msg = std::to_string(bad.size()) + " of " + std::to_string(arr.size()) +
                          " entries are invalid; nothing was written (first: entry " +
                          std::to_string(bad[0].index) + ": " + bad[0].error.message + ")";
        if (problems) *problems = std::move(bad);
        return make_error(400, "invalid_bulk", msg);
    }
    return entries;
}

Result<std::vector<std::string>> parse_key_list(std::string_view body,
                                                std::vector<BulkProblem>* problems) {
    dom::parser parser;
    auto parsed = bulk_write_array(parser, body, "key strings", "keys", "bulk delete");
    if (!parsed) return parsed.error();
    dom::array arr = *parsed;
    std::vector<std::string> keys;
    std::vector<BulkProblem> bad;
    size_t index = 0;
    for (dom::element item : arr) {
        std::string_view k;
        if (item.get_string().get(k)) {
            bad.push_back(BulkProblem{index, "", make_error(400, "invalid_key", "not a string")});
        } else if (Status st = check_key(k); !st) {
            bad.push_back(BulkProblem{index, std::string(k), st.error()});
        } else {
            keys.emplace_back(k);
        }
        ++index;
    }
    if (!bad.empty()) {
        std::string msg = std::to_string(bad.size()) + " keys are invalid; nothing was deleted";
        if (problems) *problems = std::move(bad);
        return make_error(400, "invalid_bulk", msg);
    }
    return keys;
}

Result<BulkGetRequest> parse_bulk_get(std::string_view body) {
    dom::parser parser;
    auto doc = parse_json(parser, body);
    if (!doc) return doc.error();
    dom::object obj;
    if (doc->get_object().get(obj))
        return make_error(400, "invalid_bulk", "body must be an object with \"keys\"");
    dom::array arr;
    if (obj["keys"].get_array().get(arr))
        return make_error(400, "invalid_bulk", "\"keys\" must be an array of strings");
    if (arr.size() > kMaxBulkGet)
        return make_error(400, "too_many_keys",
                          "at most 100 keys per bulk get; got " + std::to_string(arr.size()));
    BulkGetRequest req;
    std::unordered_set<std::string_view> seen;
    for (dom::element item : arr) {
        std::string_view k;
        if (item.get_string().get(k))
            return make_error(400, "invalid_key", "every key must be a string");
        if (Status st = check_key(k); !st) return st.error();
        if (seen.insert(k).second) req.keys.emplace_back(k);
    }
    dom::element v;
    if (obj["withMetadata"].get(v) == simdjson::SUCCESS && !v.is_null() &&
        v.get_bool().get(req.with_metadata))
        return make_error(400, "invalid_bulk", "\"withMetadata\" must be a boolean");
    std::string_view type;
    if (obj["type"].get(v) == simdjson::SUCCESS && !v.is_null()) {
        if (v.get_string().get(type) || (type != "text" && type != "json"))
            return make_error(400, "invalid_bulk", "\"type\" must be \"text\" or \"json\"");
        req.as_json = type == "json";
    }
    return req;
}

Status write_bulk_get_map(std::string& out, store::Store& store, const store::Namespace* ns,
                          const BulkGetRequest& req) {
    JsonWriter w(out);
    w.begin_object();
    store::KvValue val;
    dom::parser parser;
    for (const std::string& key : req.keys) {
        w.key(key);
        bool found = false;
        if (ns) {
            auto r = store.kv_get(*ns, key, &val);
            if (!r) return r.error();
            found = *r;
        }
        if (!found) {
            w.null();
            continue;
        }
        if (req.with_metadata) w.begin_object().key("value");
        if (req.as_json) {
            simdjson::padded_string padded(val.value);
            dom::element doc;
            if (parser.parse(padded).get(doc))
                return make_error(400, "invalid_json_value",
                                  "value of key \"" + key + "\" is not JSON");
            w.raw(simdjson::minify(doc));
        } else {
            w.value(val.value);
        }
        if (req.with_metadata) {
            w.key("metadata");
            if (val.metadata.empty())
                w.null();
            else
                w.raw(val.metadata);
            if (val.expiration && req.with_expiration) w.field("expiration", val.expiration);
            w.end_object();
        }
    }
    w.end_object();
    return Status::ok();
}

void write_problems(std::string& out, const std::vector<BulkProblem>& problems) {
    JsonWriter w(out);
    w.begin_array();
    for (const BulkProblem& p : problems) {
        w.begin_object();
        w.field("index", static_cast<uint64_t>(p.index));
        w.field("key", p.key);
        w.field("code", p.error.code);
        w.field("message", p.error.message);
        w.end_object();
    }
    w.end_array();
}

} // namespace ec::kv
