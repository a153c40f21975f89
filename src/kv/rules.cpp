// Workers KV validation rules.
#include "kv/rules.hpp"

#include <simdjson.h>

#include "util/strings.hpp"
#include "util/utf8.hpp"

namespace ec::kv {

Status check_key(std::string_view key) {
    if (key.size() > kMaxKeyBytes)
        return make_error(414, "key_too_long",
                          "key is " + std::to_string(key.size()) + " bytes; the limit is 512");
    if (key.empty()) return make_error(400, "invalid_key", "key must not be empty");
    if (key == "." || key == "..")
        return make_error(400, "invalid_key", "key must not be \".\" or \"..\"");
    return Status::ok();
}

Status check_title(std::string_view title) {
    auto bad = [](std::string why) {
        return make_error(400, "bad_namespace_title", "namespace title " + why);
    };
    if (title.empty()) return bad("is empty");
    if (title.size() > kMaxTitleBytes)
        return bad("is " + std::to_string(title.size()) + " bytes; the limit is 256");
    if (!is_valid_utf8(title)) return bad("is not valid UTF-8");
    for (size_t i = 0; i < title.size(); ++i) {
        auto u = static_cast<unsigned char>(title[i]);
        // C0 controls, DEL, and C1 controls (U+0080-U+009F, encoded C2 80-9F).
        bool c1 =
            u == 0xC2 && i + 1 < title.size() && static_cast<unsigned char>(title[i + 1]) < 0xA0;
        if (u < 0x20 || u == 0x7f || c1) return bad("contains a control character");
        if (u == '/') return bad("contains '/'");
    }
    return Status::ok();
}

Result<std::string> check_metadata(std::string_view json) {
    if (json.size() > kMaxMetadataBytes)
        return make_error(400, "metadata_too_large",
                          "metadata is " + std::to_string(json.size()) +
                              " bytes; the limit is 1024");
    simdjson::padded_string padded(json);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(padded).get(doc) != simdjson::SUCCESS)
        return make_error(400, "invalid_metadata", "metadata is not valid JSON");
    return simdjson::minify(doc);
}

namespace {
Result<int64_t> check_expiration(int64_t expiration, int64_t now_s, const Rules& rules,
                                 bool from_ttl, int64_t given) {
    if (expiration < now_s + rules.min_ttl) {
        std::string what = from_ttl ? "expiration_ttl of " + std::to_string(given) +
                                          " is below the minimum of " +
                                          std::to_string(rules.min_ttl) + " seconds"
                                    : "expiration " + std::to_string(given) + " must be at least " +
                                          std::to_string(rules.min_ttl) + " seconds in the future";
        return make_error(400, "invalid_expiration", what);
    }
    return expiration;
}
} // namespace

Result<int64_t> resolve_expiration(std::optional<int64_t> ttl, std::optional<int64_t> expiration,
                                   int64_t now_s, const Rules& rules) {
    if (ttl) {
        if (*ttl > INT64_MAX / 2)
            return make_error(400, "invalid_expiration", "expiration_ttl is too large");
        return check_expiration(now_s + *ttl, now_s, rules, true, *ttl);
    }
    if (expiration) return check_expiration(*expiration, now_s, rules, false, *expiration);
    return int64_t{0};
}

Result<int64_t> resolve_expiration(std::optional<std::string_view> ttl,
                                   std::optional<std::string_view> expiration, int64_t now_s,
                                   const Rules& rules) {
    std::optional<int64_t> t, e;
    if (ttl) {
        t = parse_i64(*ttl);
        if (!t)
            return make_error(400, "invalid_expiration",
                              "expiration_ttl must be an integer number of seconds");
    }
    if (expiration && !ttl) {
        e = parse_i64(*expiration);
        if (!e)
            return make_error(400, "invalid_expiration",
                              "expiration must be an integer unix timestamp in seconds");
    }
    return resolve_expiration(t, e, now_s, rules);
}

Status check_value_size(uint64_t size, const Rules& rules) {
    if (size > rules.max_value_size)
        return make_error(413, "value_too_large",
                          "value is " + std::to_string(size) + " bytes; the limit is " +
                              std::to_string(rules.max_value_size));
    return Status::ok();
}

} // namespace ec::kv
