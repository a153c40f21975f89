// Change: one KV or namespace change as it travels through the fleet's JetStream bucket.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ec::fleet {

// The fleet's bucket (JetStream stream KV_<kBucket>, subjects $KV.<kBucket>.<key>). Bucket keys:
//   k.<ns id>.<key token>   a KV entry: payload = encode_entry(); KV-Operation DEL = deleted
//   t.<title token>         a namespace title: payload = the namespace id (32 hex); DEL = the
//                           title is gone (renamed away, or the namespace deleted)
// Tokens are base64url without padding, so arbitrary bytes fit NATS's key alphabet.
inline constexpr std::string_view kBucket = "edgecached";
inline constexpr std::string_view kSubjectPrefix = "$KV.edgecached.";
// The header naming the namespace a title's DEL marker drops (empty: a rename).
inline constexpr const char* kHeaderDropNs = "Edgecached-Drop-Namespace";

// base64url (RFC 4648 §5) without padding; decode_token returns nullopt on anything else.
std::string encode_token(std::string_view bytes);
std::optional<std::string> decode_token(std::string_view token);

std::string entry_key(std::string_view ns_id, std::string_view key); // "k.<id>.<token>"
std::string title_key(std::string_view title);                       // "t.<token>"

// An entry's payload: 'E', u8 version 1, i64le expiration, u32le metadata length, metadata,
// value. Expiration (unix seconds, 0 = never) and metadata travel with the value.
std::string encode_entry(std::string_view value, std::string_view metadata, int64_t expiration);

struct Change {
    // ignore: a message that is not one of ours; applying it only advances the sequence.
    enum class Kind { put_entry, delete_entry, name_namespace, drop_title, ignore };
    Kind kind = Kind::put_entry;
    uint64_t seq = 0;         // stream sequence: the per-key order every node agrees on
    int64_t timestamp_ns = 0; // when JetStream stored it (lag in seconds)
    std::string ns_id;        // put/delete_entry, name_namespace; drop_title: the header's id
    std::string key;          // put/delete_entry
    std::string title;        // name_namespace, drop_title
    std::string value, metadata;
    int64_t expiration = 0;
};

// Parses one bucket message: `key` is the subject after kSubjectPrefix, `operation` the
// KV-Operation header ("" for a put, "DEL" or "PURGE"), `drop_ns` kHeaderDropNs ("" if none).
// Returns nullopt for a message that is not one of ours (logged by the caller, skipped).
std::optional<Change> decode_change(std::string_view key, std::string_view operation,
                                    std::string_view drop_ns, std::string_view payload);

} // namespace ec::fleet
