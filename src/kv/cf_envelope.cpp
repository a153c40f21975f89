// Cloudflare API v4 envelopes and error codes, and Cloudflare-worded expiration checks.
#include "kv/cf_envelope.hpp"

#include <map>

#include "util/json_writer.hpp"
#include "util/strings.hpp"

namespace ec::kv {

int cf_code_for(const Error& e) {
    static const std::map<std::string, int, std::less<>> table = {
        {"unauthorized", cf_code::kAuth},
        {"not_found", cf_code::kKeyNotFound},
        {"key_not_found", cf_code::kKeyNotFound},
        {"namespace_not_found", cf_code::kNamespaceNotFound},
        {"namespace_exists", cf_code::kDuplicateTitle},
        {"bad_namespace_title", cf_code::kInvalidTitle},
        {"invalid_key", cf_code::kInvalidKey},
        {"key_too_long", cf_code::kInvalidKey},
        {"invalid_expiration", cf_code::kInvalidExpiration},
        {"bad_expiration", cf_code::kInvalidExpiration},
        {"invalid_metadata", cf_code::kInvalidMetadata},
        {"metadata_too_large", cf_code::kInvalidMetadata},
        {"value_too_large", cf_code::kValueTooLarge},
        {"body_too_large", cf_code::kValueTooLarge},
        {"invalid_json", cf_code::kInvalidBody},
        {"invalid_bulk", cf_code::kInvalidBody},
        {"invalid_entry", cf_code::kInvalidBody},
        {"invalid_value", cf_code::kInvalidBody},
        {"invalid_multipart", cf_code::kInvalidBody},
        {"too_many_keys", cf_code::kInvalidBody},
        {"too_many_entries", cf_code::kInvalidBody},
        {"invalid_json_value", cf_code::kInvalidBody},
        {"invalid_query", cf_code::kInvalidQuery},
        {"invalid_limit", cf_code::kInvalidQuery},
        {"bad_limit", cf_code::kInvalidQuery},
        {"bad_cursor", cf_code::kInvalidQuery},
        {"method_not_allowed", cf_code::kMethodNotAllowed},
        {"no_route", cf_code::kNoRoute},
    };
    auto it = table.find(e.code);
    return it == table.end() ? cf_code::kInternal : it->second;
}

namespace {
std::string error_body(const std::vector<CfError>& errors) {
    std::string body;
    JsonWriter w(body);
    w.begin_object().field("success", false).key("errors").begin_array();
    for (const CfError& e : errors)
        w.begin_object().field("code", e.code).field("message", e.message).end_object();
    w.end_array().key("messages").begin_array().end_array().key("result").null().end_object();
    body.push_back('\n');
    return body;
}
} // namespace

void send_cf_errors(http::Exchange& ex, int status, const std::vector<CfError>& errors) {
    ex.status(status).header("Content-Type", "application/json");
    ex.send(http::Body::owned(error_body(errors)));
}

void send_cf_method_not_allowed(http::Exchange& ex, std::string_view allow) {
    std::string message = std::string(ex.request().method_name) +
                          " is not allowed here; allowed: " + std::string(allow);
    ex.status(405).header("Content-Type", "application/json").header("Allow", allow);
    ex.send(http::Body::owned(error_body({CfError{cf_code::kMethodNotAllowed, message}})));
}

void send_cf_error(http::Exchange& ex, int status, int code, std::string_view message) {
    send_cf_errors(ex, status, {CfError{code, std::string(message)}});
}

void send_cf_error(http::Exchange& ex, const Error& e) {
    int code = cf_code_for(e);
    std::string_view message = e.message;
    if (code == cf_code::kKeyNotFound) message = "get: 'key not found'";
    if (code == cf_code::kNamespaceNotFound) message = "namespace not found";
    if (code == cf_code::kDuplicateTitle)
        message = "a namespace with this account ID and title already exists";
    send_cf_error(ex, e.http ? e.http : 500, code, message);
}

void send_cf_result(http::Exchange& ex, std::string_view result_json,
                    std::optional<std::string_view> result_info_json) {
    std::string body;
    body.reserve(result_json.size() + 80);
    body += R"({"success":true,"errors":[],"messages":[],"result":)";
    body += result_json;
    if (result_info_json) {
        body += R"(,"result_info":)";
        body += *result_info_json;
    }
    body += "}\n";
    ex.status(200).header("Content-Type", "application/json");
    ex.send(http::Body::owned(std::move(body)));
}

Result<int64_t> cf_resolve_expiration(std::optional<std::string_view> ttl,
                                      std::optional<std::string_view> expiration, int64_t now_s,
                                      const Rules& rules) {
    std::string min = std::to_string(rules.min_ttl);
    if (ttl) {
        auto n = parse_i64(*ttl);
        if (!n || *n <= 0)
            return make_error(400, "invalid_expiration",
                              "Invalid expiration_ttl of " + std::string(*ttl) +
                                  ". Please specify integer greater than 0.");
        if (*n < rules.min_ttl || *n > INT64_MAX / 2)
            return make_error(400, "invalid_expiration",
                              "Invalid expiration_ttl of " + std::string(*ttl) +
                                  ". Expiration TTL must be at least " + min + ".");
        return now_s + *n;
    }
    if (expiration) {
        auto n = parse_i64(*expiration);
        if (!n || *n <= 0)
            return make_error(400, "invalid_expiration",
                              "Invalid expiration of " + std::string(*expiration) +
                                  ". Please specify integer greater than the current number "
                                  "of seconds since the UNIX epoch.");
        if (*n < now_s + rules.min_ttl)
            return make_error(400, "invalid_expiration",
                              "Invalid expiration of " + std::string(*expiration) +
                                  ". Expiration times must be at least " + min +
                                  " seconds in the future.");
        return *n;
    }
    return int64_t{0};
}

} // namespace ec::kv
