// Fuzz driver: bytes → the KV bulk body parsers (parse_bulk_put, parse_key_list, parse_bulk_get).
//
// Input: a request body, as is. It is copied into a buffer followed by 64 readable padding
// bytes (http::kBodyPadding: the connection gives every body that much), and each parser sees
// it. Invariants: nothing crashes (UBSan included); an error is a 4xx with a code; what a
// parser accepts obeys the rules it promises (keys 1-512 bytes and not "." or "..", at most
// 10,000 entries or 100 bulk-get keys without duplicates, metadata ≤ 1024 bytes, expirations
// 0 or at least min_ttl ahead); every reported problem names an entry that exists.
#include <cstring>
#include <memory>
#include <set>
#include <string_view>

#include "fuzz_util.hpp"
#include "http/request.hpp"
#include "kv/bulk.hpp"

namespace {

constexpr int64_t kNow = 1700000000;

void check_error(const ec::Error& e) {
    FUZZ_CHECK(e.http >= 400 && e.http <= 499);
    FUZZ_CHECK(!e.code.empty() && !e.message.empty());
}

void check_key_ok(std::string_view k) {
    FUZZ_CHECK(!k.empty() && k.size() <= ec::kv::kMaxKeyBytes && k != "." && k != "..");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto buf = std::make_unique<char[]>(size + ec::http::kBodyPadding);
    std::memcpy(buf.get(), data, size);
    std::memset(buf.get() + size, 0, ec::http::kBodyPadding);
    std::string_view body(buf.get(), size);
    ec::kv::Rules rules;
    rules.max_value_size = 1024; // small, so the 413 path is reachable

    std::vector<ec::kv::BulkProblem> problems;
    auto put = ec::kv::parse_bulk_put(body, kNow, rules, &problems);
    if (put) {
        FUZZ_CHECK(problems.empty());
        FUZZ_CHECK(put->size() <= ec::kv::kMaxBulkWrite);
        for (const auto& e : *put) {
            check_key_ok(e.key);
            FUZZ_CHECK(e.value().size() <= rules.max_value_size);
            FUZZ_CHECK(e.metadata.size() <= ec::kv::kMaxMetadataBytes);
            FUZZ_CHECK(e.expiration == 0 || e.expiration >= kNow + rules.min_ttl);
        }
    } else {
        check_error(put.error());
        size_t last = 0;
        for (const auto& p : problems) {
            FUZZ_CHECK(p.index >= last); // in entry order
            last = p.index;
            FUZZ_CHECK(p.index < ec::kv::kMaxBulkWrite);
            check_error(p.error);
        }
    }

    problems.clear();
    auto keys = ec::kv::parse_key_list(body, &problems);
    if (keys) {
        FUZZ_CHECK(problems.empty());
        FUZZ_CHECK(keys->size() <= ec::kv::kMaxBulkWrite);
        for (const auto& k : *keys)
            check_key_ok(k);
    } else {
        check_error(keys.error());
        for (const auto& p : problems)
            check_error(p.error);
    }

    auto get = ec::kv::parse_bulk_get(body);
    if (get) {
        FUZZ_CHECK(get->keys.size() <= ec::kv::kMaxBulkGet);
        std::set<std::string_view> seen;
        for (const auto& k : get->keys) {
            check_key_ok(k);
            FUZZ_CHECK(seen.insert(k).second);
        }
    } else {
        check_error(get.error());
    }
    return 0;
}
