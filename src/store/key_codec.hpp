// KeyCodec: maps unbounded logical storage keys onto LMDB keys of at most maxkeysize bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/hash.hpp"

namespace ec::store {

// Encoding (T = maxkeysize - 8): a logical key shorter than T is stored as is; a longer one is
// stored as its first T bytes + be64(siphash24(hash_key, whole key)), so encoded keys are at
// most maxkeysize bytes, and the record keeps the full key. Properties the listing relies on:
//  - short keys sort among themselves and against long keys exactly as the logical keys do;
//  - all long keys sharing a T-byte prefix (a "run") are contiguous in LMDB, ordered by hash,
//    so a scan reads a run whole and sorts it by full key.
class KeyCodec {
public:
    KeyCodec(size_t max_key_size, HashKey hash_key)
        : t_(max_key_size - kHashBytes), hash_key_(hash_key) {}

    static constexpr size_t kHashBytes = 8;

    size_t threshold() const { return t_; }
    // True when `logical` is stored truncated + hashed (so its record carries the full key).
    bool is_long(std::string_view logical) const { return logical.size() >= t_; }
    // True when an encoded LMDB key belongs to a run (a long key's encoding).
    bool is_run_key(std::string_view encoded) const { return encoded.size() >= t_; }
    std::string_view run_prefix(std::string_view encoded) const { return encoded.substr(0, t_); }

    std::string encode(std::string_view logical) const;
    // The LMDB key to MDB_SET_RANGE to so that every logical key >= x is at or after it (and
    // every entry before it is < x): x itself when short, else the run prefix of x.
    std::string_view seek_key(std::string_view x) const {
        return x.size() < t_ ? x : x.substr(0, t_);
    }

    // Test hook: replaces the hash (e.g. by a constant, to force collisions).
    void set_hash_for_test(uint64_t (*fn)(std::string_view)) { hash_for_test_ = fn; }

private:
    size_t t_;
    HashKey hash_key_;
    uint64_t (*hash_for_test_)(std::string_view) = nullptr;
};

// KV storage keys: 'K' + be32(ns num) + user key. The prefix alone selects a namespace.
std::string kv_storage_prefix(uint32_t ns_num);
std::string kv_storage_key(uint32_t ns_num, std::string_view key);
inline constexpr size_t kKvPrefixLen = 5;
inline constexpr size_t kMaxKvKey = 512;

// List cursors: base64url (no padding) of the last key a page examined. decode_cursor returns
// nullopt for anything that is not such an encoding of a 1..512-byte key.
std::string encode_cursor(std::string_view key);
std::optional<std::string> decode_cursor(std::string_view cursor);

} // namespace ec::store
