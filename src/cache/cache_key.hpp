// Cache keys: how a request maps to storage keys, and the key ranges purges delete.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ec::cache {

// Storage layout of cache entries (the record layer's logical keys):
//   'C' path ['?' query] '\0' host '\0'            base entry: the response, or a Vary marker
//   <base> name '=' value '\n' ...                  one variant per set of Vary-selected values
// Path first, so "everything under /api/" and "every variant of /a?b on every host" are
// contiguous key ranges: purges are range deletes.
inline constexpr char kCachePrefix = 'C';

// Drops parameters matching `ignore` (exact names, or "prefix*" globs; compared on the raw,
// undecoded names) and sorts the rest by name, stably: a=2&b=1&a=1 → a=2&a=1&b=1.
std::string normalize_query(std::string_view query, const std::vector<std::string>& ignore);

// Lower-cases the host and drops a default ":80".
std::string normalize_host(std::string_view host);

// The base key for a request: path as received, normalised query, normalised host.
std::string base_key(std::string_view path, std::string_view normalized_query,
                     std::string_view host);

// THE derivation of a request target's cache key, used by lookup, store, invalidation, purge
// and inspection alike (two derivations that disagree let a stale copy survive): the path as
// received, the query without `ignore_query_params` and sorted, the host normalised.
std::string request_key(std::string_view host, std::string_view path, std::string_view query,
                        const std::vector<std::string>& ignore_query_params);
// The path-and-query part of request_key() (what a purge of a path on every host names).
std::string request_url(std::string_view path, std::string_view query,
                        const std::vector<std::string>& ignore_query_params);
// Splits "path?query" at the first '?'.
std::pair<std::string_view, std::string_view> split_target(std::string_view target);

// The key range of one URL (all hosts, all variants): 'C' path ['?' query] '\0'.
std::string url_range(std::string_view path_and_query);
// The key range of every URL whose path starts with prefix: 'C' prefix.
std::string prefix_range(std::string_view path_prefix);

// The path-and-query part of a cache key ("/a?b"), for logs and inspection.
std::string_view key_url(std::string_view key);
// The host part of a cache key.
std::string_view key_host(std::string_view key);
// The base key a cache key belongs to (itself for a base key; a variant's key without its
// Vary values): also the key range of one URL's variants on one host.
std::string_view key_base(std::string_view key);

} // namespace ec::cache
