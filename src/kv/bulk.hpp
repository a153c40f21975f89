// Bulk bodies shared by the KV front ends: parsing and validation, and the bulk-get map.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "kv/rules.hpp"
#include "kv/write.hpp"
#include "store/store.hpp"
#include "util/status.hpp"

namespace ec::kv {

struct BulkProblem {
    size_t index = 0;
    std::string key;
    Error error;
};

// Parses a JSON array of {key, value, base64?, expiration?, expiration_ttl?, metadata?} (at
// most 10,000). `body` must be followed by 64 readable bytes (http::kBodyPadding). Validation
// is all-or-nothing: on any bad entry, returns 400 invalid_bulk and lists every bad entry in
// *problems (when given). Each entry owns its value.
Result<std::vector<PutEntry>> parse_bulk_put(std::string_view body, int64_t now_s,
                                             const Rules& rules,
                                             std::vector<BulkProblem>* problems);

// Parses a JSON array of key strings (at most 10,000), each checked with check_key.
Result<std::vector<std::string>> parse_key_list(std::string_view body,
                                                std::vector<BulkProblem>* problems);

struct BulkGetRequest {
    std::vector<std::string> keys; // de-duplicated, in request order
    bool with_metadata = false;
    bool as_json = false; // "type":"json": values are parsed and embedded as JSON
    // With metadata, entries are {value, metadata, expiration?}; the workerd protocol's are
    // {value, metadata} (set by the caller, not parsed).
    bool with_expiration = true;
};
// Parses {"keys":[≤100], "withMetadata"?, "type"?: "text"|"json", "cacheTtl"?}.
Result<BulkGetRequest> parse_bulk_get(std::string_view body);

// Writes the bulk-get result object {key: value | {value, metadata, expiration?} | null} for
// the request into `out` (no enclosing braces of the caller's envelope). Errors: 400
// invalid_json_value when as_json and a value is not JSON.
Status write_bulk_get_map(std::string& out, store::Store& store, const store::Namespace* ns,
                          const BulkGetRequest& req);

// Serialises problems as a JSON array of {"index","key","code","message"}.
void write_problems(std::string& out, const std::vector<BulkProblem>& problems);

} // namespace ec::kv
