// Generations: purge counters that stop an in-flight fill from bringing back purged content.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "cache/cache_key.hpp"

namespace ec::cache {

// A fill (or revalidation) takes a snapshot when it starts and stores its response only if
// the snapshot still holds when it completes; a hot-tier copy is valid while its slots hold.
// Purging one URL (every host) bumps that URL's slot; invalidating one URL on one host (an
// unsafe request, RFC 9111 §4.4) bumps the slot of URL and host, so no other host loses
// anything; range purges (prefix, tag, all) bump the epoch, which invalidates every snapshot.
// Slots are a fixed table indexed by a hash, so memory stays constant: two URLs sharing a slot
// only means a purge of one makes a fill of the other skip its store — a lost store, never a
// resurrected entry.
class Generations {
public:
    struct Slots {
        uint32_t url = 0;    // the path-and-query, all hosts
        uint32_t target = 0; // path-and-query and host
        bool operator==(const Slots&) const = default;
    };
    struct Snapshot {
        Slots slots;
        uint64_t epoch = 0;
        bool operator==(const Snapshot&) const = default;
    };

    // key: a cache key (a base key or a variant's key).
    Slots slots(std::string_view key) const {
        return {slots_[index(key_url(key))], slots_[index(key_base(key))]};
    }
    Snapshot snapshot(std::string_view key) const { return {slots(key), epoch_}; }
    bool still_valid(std::string_view key, const Snapshot& s) const { return snapshot(key) == s; }
    // url: a path-and-query as in key_url() (a purge of that URL on every host).
    void bump_url(std::string_view url) { ++slots_[index(url)]; }
    // base: a base key (an invalidation of that URL on that key's host).
    void bump_target(std::string_view base) { ++slots_[index(key_base(base))]; }
    void bump_all() { ++epoch_; }

private:
    static constexpr size_t kSlots = 1 << 14;
    static size_t index(std::string_view s) {
        uint64_t h = 1469598103934665603ULL; // FNV-1a: collisions cost a store, never safety
        for (unsigned char c : s)
            h = (h ^ c) * 1099511628211ULL;
        return static_cast<size_t>(h & (kSlots - 1));
    }

    std::array<uint32_t, kSlots> slots_{};
    uint64_t epoch_ = 0;
};

} // namespace ec::cache
