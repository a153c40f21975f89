// Workers KV rules shared by every KV front end: keys, metadata, expirations, sizes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/options.hpp"
#include "util/status.hpp"

namespace ec::kv {

inline constexpr size_t kMaxKeyBytes = 512;
inline constexpr size_t kMaxMetadataBytes = 1024;
inline constexpr size_t kMaxListLimit = 1000;
inline constexpr size_t kMaxBulkWrite = 10000;
inline constexpr size_t kMaxBulkGet = 100;
// Namespace titles: bytes (the store's limit; titles are names, not data).
inline constexpr size_t kMaxTitleBytes = 256;

// The operator's KV limits (min_ttl, max_value_size), from the option table.
struct Rules : config::KvLimits {
    // Every limit at its option-table default.
    Rules() : config::KvLimits(config::defaults()) {}
    explicit Rules(const config::KvLimits& limits) : config::KvLimits(limits) {}
};

// 1..512 bytes, not "." or "..". Errors: 414 key_too_long, 400 invalid_key.
Status check_key(std::string_view key);

// A namespace title as a client sends it: 1..256 bytes of valid UTF-8 without control
// characters (C0 including NUL/CR/LF, DEL, C1) or '/'. Checked before anything is created or
// counted for it. Errors: 400 bad_namespace_title naming what is wrong.
Status check_title(std::string_view title);

// Metadata as sent: valid JSON, at most 1024 bytes. Returns it minified (safe to echo in a
// header and to embed in JSON output). Errors: 400 invalid_metadata / metadata_too_large.
Result<std::string> check_metadata(std::string_view json);

// Resolves an expiration from optional `expiration_ttl` / `expiration` texts (the TTL wins when
// both are given). Returns unix seconds, 0 for none. Errors: 400 invalid_expiration (not a
// number, or closer than min_ttl seconds from now).
Result<int64_t> resolve_expiration(std::optional<std::string_view> ttl,
                                   std::optional<std::string_view> expiration, int64_t now_s,
                                   const Rules& rules);
// The same from numbers already parsed (bulk JSON bodies).
Result<int64_t> resolve_expiration(std::optional<int64_t> ttl, std::optional<int64_t> expiration,
                                   int64_t now_s, const Rules& rules);

// Status for a value of `size` bytes: 413 value_too_large beyond max_value_size.
Status check_value_size(uint64_t size, const Rules& rules);

} // namespace ec::kv
