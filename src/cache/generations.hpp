// Generations: purge counters that stop an in-flight fill from bringing back purged content.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace ec::cache {

// A fill (or revalidation) takes a snapshot when it starts and stores its response only if
// the snapshot still holds when it completes. Purging one URL bumps that URL's slot; range
// purges (prefix, tag, all) bump the epoch, which invalidates every snapshot. Slots are a
// fixed table indexed by a hash of the URL, so memory stays constant: two URLs sharing a slot
// only means a purge of one makes a fill of the other skip its store — a lost store, never a
// resurrected entry.
class Generations {
public:
    struct Snapshot {
        uint32_t slot = 0;
        uint64_t epoch = 0;
        bool operator==(const Snapshot&) const = default;
    };

    // url: the path-and-query part of the cache key (all hosts and variants share it).
    Snapshot snapshot(std::string_view url) const { return {slots_[index(url)], epoch_}; }
    bool still_valid(std::string_view url, const Snapshot& s) const { return snapshot(url) == s; }
    void bump(std::string_view url) { ++slots_[index(url)]; }
    void bump_all() { ++epoch_; }

private:
    static constexpr size_t kSlots = 1 << 14;
    static size_t index(std::string_view url) {
        uint64_t h = 1469598103934665603ULL; // FNV-1a: collisions cost a store, never safety
        for (unsigned char c : url)
            h = (h ^ c) * 1099511628211ULL;
        return static_cast<size_t>(h & (kSlots - 1));
    }

    std::array<uint32_t, kSlots> slots_{};
    uint64_t epoch_ = 0;
};

} // namespace ec::cache
