// Cloudflare API v4 envelope: {"success","errors":[{"code","message"}],"messages","result"...}.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/exchange.hpp"
#include "kv/rules.hpp"
#include "util/status.hpp"

namespace ec::kv {

// Numeric error codes of the envelope (Cloudflare's where it has one, else in its style).
namespace cf_code {
inline constexpr int kAuth = 10000;              // 401 missing or wrong API token
inline constexpr int kInternal = 10001;          // 500 storage error (507 when full)
inline constexpr int kKeyNotFound = 10009;       // 404 get: 'key not found'
inline constexpr int kInvalidBody = 10012;       // 400 malformed JSON / multipart / bulk body
inline constexpr int kNamespaceNotFound = 10013; // 404 namespace not found
inline constexpr int kDuplicateTitle = 10014;    // 400 a namespace with this title exists
inline constexpr int kInvalidTitle = 10019;      // 400 title empty, too long, or with '/'
inline constexpr int kInvalidKey = 10020;        // 400 empty, ".", ".."; 414 longer than 512
inline constexpr int kInvalidExpiration = 10021; // 400 not a number, or closer than min_ttl
inline constexpr int kInvalidMetadata = 10022;   // 400 not JSON, or over 1024 bytes
inline constexpr int kValueTooLarge = 10023;     // 413 value over max_value_size
inline constexpr int kInvalidQuery = 10024;      // 400 limit, cursor, page, per_page, order...
inline constexpr int kNoRoute = 7000;            // 404 no such route
inline constexpr int kMethodNotAllowed = 7001;   // 405
} // namespace cf_code

// The envelope code for one of our errors (by its `code` string).
int cf_code_for(const Error& e);

struct CfError {
    int code;
    std::string message;
};

// Sends {"success":false,"errors":[...],"messages":[],"result":null} with `status`.
void send_cf_errors(http::Exchange& ex, int status, const std::vector<CfError>& errors);
void send_cf_error(http::Exchange& ex, int status, int code, std::string_view message);
// 405 / 7001 with an Allow header.
void send_cf_method_not_allowed(http::Exchange& ex, std::string_view allow);
// Maps e with cf_code_for and sends it with e.http. Key-not-found and namespace-not-found use
// Cloudflare's own messages.
void send_cf_error(http::Exchange& ex, const Error& e);

// Sends {"success":true,"errors":[],"messages":[],"result":<result_json>} plus
// ,"result_info":<result_info_json> when that is given. Both are complete JSON texts.
void send_cf_result(http::Exchange& ex, std::string_view result_json,
                    std::optional<std::string_view> result_info_json = std::nullopt);

// Validates and resolves expiration query texts with Cloudflare's wording ("Invalid
// expiration_ttl of 5. Expiration TTL must be at least 60."). Returns unix seconds, 0 = none.
// Errors: 400 invalid_expiration.
Result<int64_t> cf_resolve_expiration(std::optional<std::string_view> ttl,
                                      std::optional<std::string_view> expiration, int64_t now_s,
                                      const Rules& rules);

} // namespace ec::kv
