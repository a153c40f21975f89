// The hot tier: an in-memory, byte-bounded S3-FIFO cache of shared immutable objects.
//
// S3-FIFO (Yang et al., "FIFO queues are all you need for cache eviction", SOSP '23): new
// keys enter a small FIFO (10% of the bytes); one that was read again by the time it reaches
// the small queue's tail moves to the main FIFO, the others leave and are remembered (by
// hash) in a ghost FIFO; a key found in the ghost on insertion goes straight to main. Main is
// a FIFO with reinsertion (CLOCK): a tail entry with a non-zero 2-bit frequency is moved to
// the head with its frequency decremented. One-hit wonders — scans — pass through the small
// queue without disturbing main, which is what makes it beat LRU on skewed traffic (see
// tests/unit/cache/hot_tier_test.cpp for the Zipf comparison).
//
// Single-threaded (the loop thread); no locks. Lookups and insertions are O(1) amortised:
// a hash map from key to a node index, nodes in a vector with intrusive links.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

namespace ec::cache {

struct HotTierStats {
    uint64_t hits = 0;
    uint64_t misses = 0;       // includes expirations found by get()
    uint64_t insertions = 0;   // new keys stored
    uint64_t replacements = 0; // put() over an existing key
    uint64_t refusals = 0;     // put() refused: over hot_object_max or the whole capacity
    uint64_t evictions = 0;    // entries dropped for space
    uint64_t expirations = 0;  // entries dropped because their deadline passed
    uint64_t erasures = 0;     // erase(), erase_if(), replacements refused
    uint64_t ghost_hits = 0;   // insertions that went straight to main
    uint64_t bytes = 0;        // accounted bytes now (entries + ghost), ≤ capacity
    uint64_t entries = 0;
    uint64_t small_entries = 0;
    uint64_t ghost_entries = 0;
    uint64_t capacity = 0;
};

// The untyped core; use HotTier<V> below.
class HotTierBase {
public:
    static constexpr int64_t kNoDeadline = std::numeric_limits<int64_t>::max();

    struct Options {
        uint64_t capacity_bytes = 0; // memory_cache; 0 disables the tier (every put refused)
        uint64_t max_object_bytes = std::numeric_limits<uint64_t>::max(); // hot_object_max
        uint32_t small_percent = 10; // share of capacity for the small FIFO
        // Reads in the small queue needed to be promoted to main (the paper's "accessed at
        // least once").
        uint8_t promote_threshold = 1;
    };

    // What one entry costs beyond its key and charge: the node, the index's hash node with
    // its std::string, and a bucket slot. An estimate, deliberately on the high side.
    static constexpr uint64_t kEntryOverhead = 160;
    // What one ghost record costs: a deque slot and a hash map node.
    static constexpr uint64_t kGhostOverhead = 64;

    // Bytes an entry counts against the capacity: charge + key bytes + kEntryOverhead.
    static uint64_t footprint(std::string_view key, uint64_t charge) {
        return charge + key.size() + kEntryOverhead;
    }

    explicit HotTierBase(Options options);
    HotTierBase(const HotTierBase&) = delete;
    HotTierBase& operator=(const HotTierBase&) = delete;

    // Removes `key`; returns whether it was present. Its ghost is not recorded.
    bool erase(std::string_view key);

    // Whether `key` is resident and not past its deadline at now_ms. No statistics, no
    // frequency bump, no removal.
    bool contains(std::string_view key, int64_t now_ms) const;

    // Drops every entry and the ghost history. Counters (hits, ...) are kept.
    void clear();

    // A resumable position for the time-sliced sweeps below. Entries inserted while a sweep
    // is in progress may or may not be visited; every entry present throughout is visited
    // exactly once.
    struct Cursor {
        size_t next = 0;
        bool done = false;
    };

    // Visits up to `max_steps` node slots from `cursor`, removing entries whose deadline is
    // ≤ now_ms. Returns the number removed; sets cursor.done at the end.
    size_t sweep_expired(Cursor& cursor, int64_t now_ms, size_t max_steps);

    HotTierStats stats() const;
    uint64_t bytes() const { return resident_bytes_ + ghost_bytes(); }
    uint64_t capacity() const { return opt_.capacity_bytes; }
    size_t size() const { return index_.size(); }

protected:
    std::shared_ptr<const void> get_erased(std::string_view key, int64_t now_ms);
    bool put_erased(std::string_view key, std::shared_ptr<const void> value, uint64_t charge,
                    int64_t deadline_ms);
    using ErasedPred = bool (*)(void* ctx, std::string_view key, const void* value);
    size_t erase_if_step_erased(Cursor& cursor, size_t max_steps, ErasedPred pred, void* ctx);

private:
    static constexpr uint32_t kNil = std::numeric_limits<uint32_t>::max();
    enum Queue : uint8_t { kFree, kSmall, kMain };

    struct Node {
        std::shared_ptr<const void> value;
        const std::string* key = nullptr; // the index's key: stable while the entry lives
        uint64_t footprint = 0;
        uint64_t hash = 0;
        int64_t deadline_ms = kNoDeadline;
        uint32_t prev = kNil;
        uint32_t next = kNil;
        uint8_t freq = 0;
        Queue queue = kFree;
    };
    struct List {
        uint32_t head = kNil; // oldest: evicted first
        uint32_t tail = kNil; // newest
        uint64_t bytes = 0;
        uint64_t count = 0;
    };
    struct KeyHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    using Index = std::unordered_map<std::string, uint32_t, KeyHash, std::equal_to<>>;

    List& list_of(Queue q) { return q == kSmall ? small_ : main_; }
    void link_tail(Queue q, uint32_t i);
    void unlink(uint32_t i);
    void remove(uint32_t i, bool to_ghost); // unlinks, frees the slot, erases from the index
    // One slice of a sweep: visits up to `max_steps` slots from `cursor`, removes the entries
    // `doomed(node)` picks and counts each in `counter`. Returns how many it removed.
    template <class Doomed>
    size_t remove_step(Cursor& cursor, size_t max_steps, uint64_t& counter, Doomed doomed);
    bool evict_one();
    bool evict_small();
    bool evict_main();
    void ghost_add(uint64_t hash);
    bool ghost_take(uint64_t hash);
    void ghost_trim();
    void ghost_pop();
    void make_room(uint64_t need); // evicts until bytes() + need ≤ capacity (or nothing left)
    uint64_t ghost_bytes() const { return ghost_fifo_.size() * kGhostOverhead; }
    uint64_t small_target() const;

    Options opt_;
    std::vector<Node> nodes_;
    std::vector<uint32_t> free_;
    Index index_;
    List small_, main_;
    uint64_t resident_bytes_ = 0;
    // Ghost: FIFO of (hash, sequence); the map holds the live sequence of each hash, so a
    // record taken early (promotion) leaves a stale FIFO slot that is skipped when popped.
    std::deque<std::pair<uint64_t, uint64_t>> ghost_fifo_;
    std::unordered_map<uint64_t, uint64_t> ghost_index_;
    uint64_t ghost_seq_ = 0;
    HotTierStats st_;
};

// HotTier<V>: keys are strings, values std::shared_ptr<const V> (shared with whoever is
// writing them to a client: an entry evicted mid-write stays alive through that reference).
template <class V> class HotTier : public HotTierBase {
public:
    using HotTierBase::HotTierBase;

    // The value of `key`, or nullptr on a miss. An entry whose deadline is ≤ now_ms is
    // removed and counted as a miss and an expiration. A hit bumps the entry's frequency.
    std::shared_ptr<const V> get(std::string_view key, int64_t now_ms) {
        return std::static_pointer_cast<const V>(get_erased(key, now_ms));
    }

    // Stores `value` under `key`, replacing any previous value (its queue position and
    // frequency are kept). `charge` is the bytes the value holds (payload, headers, its own
    // bookkeeping); the entry counts footprint(key, charge) against the capacity.
    // `deadline_ms`: get() treats the entry as absent from then on (edge_ttl, freshness).
    // Returns false — and removes any previous value, so a stale one cannot linger — when
    // charge > max_object_bytes or the footprint exceeds the whole capacity. May evict
    // other entries to make room; never fails otherwise.
    bool put(std::string_view key, std::shared_ptr<const V> value, uint64_t charge,
             int64_t deadline_ms = kNoDeadline) {
        return put_erased(key, std::move(value), charge, deadline_ms);
    }

    // Removes the entries for which pred(std::string_view key, const V& value) is true,
    // visiting at most `max_steps` node slots from `cursor` (O(max_steps)); call again
    // until cursor.done to finish — e.g. one slice per loop iteration for a prefix or tag
    // purge. `pred` must not call into the tier. Returns the number removed in this slice.
    template <class Pred> size_t erase_if_step(Cursor& cursor, size_t max_steps, Pred&& pred) {
        auto trampoline = [](void* ctx, std::string_view key, const void* v) -> bool {
            return (*static_cast<std::remove_reference_t<Pred>*>(ctx))(key,
                                                                       *static_cast<const V*>(v));
        };
        return erase_if_step_erased(cursor, max_steps, trampoline, &pred);
    }

    // The whole sweep at once: O(slots). Fine for tests and small tiers; the proxy should
    // time-slice with erase_if_step.
    template <class Pred> size_t erase_if(Pred&& pred) {
        Cursor c;
        size_t n = 0;
        while (!c.done)
            n += erase_if_step(c, std::numeric_limits<size_t>::max(), pred);
        return n;
    }
};

} // namespace ec::cache
