// S3-FIFO hot tier: queues, ghost history and byte accounting (see hot_tier.hpp).
#include "cache/hot_tier.hpp"

#include <algorithm>

namespace ec::cache {

HotTierBase::HotTierBase(Options options) : opt_(options) {
    opt_.small_percent = std::min<uint32_t>(opt_.small_percent, 100);
    st_.capacity = opt_.capacity_bytes;
}

uint64_t HotTierBase::small_target() const {
    return opt_.capacity_bytes / 100 * opt_.small_percent +
           opt_.capacity_bytes % 100 * opt_.small_percent / 100;
}

void HotTierBase::link_tail(Queue q, uint32_t i) {
    List& l = list_of(q);
    Node& n = nodes_[i];
    n.queue = q;
    n.prev = l.tail;
    n.next = kNil;
    if (l.tail != kNil)
        nodes_[l.tail].next = i;
    else
        l.head = i;
    l.tail = i;
    l.bytes += n.footprint;
    ++l.count;
}

void HotTierBase::unlink(uint32_t i) {
    Node& n = nodes_[i];
    List& l = list_of(n.queue);
    if (n.prev != kNil)
        nodes_[n.prev].next = n.next;
    else
        l.head = n.next;
    if (n.next != kNil)
        nodes_[n.next].prev = n.prev;
    else
        l.tail = n.prev;
    l.bytes -= n.footprint;
    --l.count;
    n.prev = n.next = kNil;
}

void HotTierBase::remove(uint32_t i, bool to_ghost) {
    unlink(i);
    Node& n = nodes_[i];
    resident_bytes_ -= n.footprint;
    if (to_ghost) ghost_add(n.hash);
    // Erase from the index last: n.key points at the index's own key string.
    index_.erase(*n.key);
    n = Node{}; // drops the value reference
    free_.push_back(i);
}

void HotTierBase::ghost_add(uint64_t hash) {
    uint64_t seq = ++ghost_seq_;
    ghost_index_[hash] = seq;
    ghost_fifo_.emplace_back(hash, seq);
    ghost_trim();
}

bool HotTierBase::ghost_take(uint64_t hash) {
    return ghost_index_.erase(hash) != 0;
}

void HotTierBase::ghost_trim() {
    // The paper sizes the ghost like the main queue, in entries. Stale FIFO slots (records
    // taken by a re-insertion) are bounded too, so the ghost's memory stays proportional.
    uint64_t limit = std::max<uint64_t>(main_.count, 16);
    while (!ghost_fifo_.empty() && (ghost_index_.size() > limit || ghost_fifo_.size() > 2 * limit))
        ghost_pop();
}

void HotTierBase::ghost_pop() {
    auto [hash, seq] = ghost_fifo_.front();
    ghost_fifo_.pop_front();
    auto it = ghost_index_.find(hash);
    if (it != ghost_index_.end() && it->second == seq) ghost_index_.erase(it);
}

void HotTierBase::make_room(uint64_t need) {
    while (bytes() + need > opt_.capacity_bytes) {
        if (evict_one()) continue;
        if (ghost_fifo_.empty()) break;
        ghost_pop(); // only ghost records left to give back (a tiny capacity)
    }
}

bool HotTierBase::evict_small() {
    while (small_.head != kNil) {
        uint32_t i = small_.head;
        Node& n = nodes_[i];
        if (n.freq >= opt_.promote_threshold) {
            unlink(i);
            n.freq = 0;
            link_tail(kMain, i);
            continue;
        }
        remove(i, true);
        ++st_.evictions;
        return true;
    }
    return evict_main();
}

bool HotTierBase::evict_main() {
    // Terminates: every pass over an entry either evicts it or decrements its 2-bit counter.
    while (main_.head != kNil) {
        uint32_t i = main_.head;
        Node& n = nodes_[i];
        if (n.freq > 0) {
            --n.freq;
            unlink(i);
            link_tail(kMain, i);
            continue;
        }
        remove(i, true);
        ++st_.evictions;
        return true;
    }
    return small_.head != kNil && evict_small();
}

bool HotTierBase::evict_one() {
    if (small_.head != kNil && (small_.bytes >= small_target() || main_.head == kNil))
        return evict_small();
    if (main_.head != kNil) return evict_main();
    return false;
}

std::shared_ptr<const void> HotTierBase::get_erased(std::string_view key, int64_t now_ms) {
    auto it = index_.find(key);
    if (it == index_.end()) {
        ++st_.misses;
        return nullptr;
    }
    uint32_t i = it->second;
    Node& n = nodes_[i];
    if (n.deadline_ms <= now_ms) {
        remove(i, false);
        ++st_.expirations;
        ++st_.misses;
        return nullptr;
    }
    if (n.freq < 3) ++n.freq;
    ++st_.hits;
    return n.value;
}

bool HotTierBase::put_erased(std::string_view key, std::shared_ptr<const void> value,
                             uint64_t charge, int64_t deadline_ms) {
    const uint64_t fp = footprint(key, charge);
    auto it = index_.find(key);
    if (charge > opt_.max_object_bytes || fp > opt_.capacity_bytes || !value) {
        ++st_.refusals;
        if (it != index_.end()) {
            remove(it->second, false);
            ++st_.erasures;
        }
        return false;
    }

    if (it != index_.end()) {
        // Replace in place: same queue position and frequency, new size.
        uint32_t i = it->second;
        Node& n = nodes_[i];
        List& l = list_of(n.queue);
        l.bytes = l.bytes - n.footprint + fp;
        resident_bytes_ = resident_bytes_ - n.footprint + fp;
        n.footprint = fp;
        n.value = std::move(value);
        n.deadline_ms = deadline_ms;
        ++st_.replacements;
        // Make room if it grew. The entry itself may be chosen: it then simply leaves.
        make_room(0);
        return true;
    }

    const uint64_t hash = KeyHash{}(key);
    const bool from_ghost = ghost_take(hash);
    make_room(fp);

    uint32_t i;
    if (!free_.empty()) {
        i = free_.back();
        free_.pop_back();
    } else {
        i = static_cast<uint32_t>(nodes_.size());
        nodes_.emplace_back();
    }
    auto [pos, inserted] = index_.emplace(std::string(key), i);
    (void)inserted;
    Node& n = nodes_[i];
    n.value = std::move(value);
    n.key = &pos->first;
    n.footprint = fp;
    n.hash = hash;
    n.deadline_ms = deadline_ms;
    n.freq = 0;
    resident_bytes_ += fp;
    link_tail(from_ghost ? kMain : kSmall, i);
    if (from_ghost) ++st_.ghost_hits;
    ++st_.insertions;
    return true;
}

bool HotTierBase::erase(std::string_view key) {
    auto it = index_.find(key);
    if (it == index_.end()) return false;
    remove(it->second, false);
    ++st_.erasures;
    return true;
}

bool HotTierBase::contains(std::string_view key, int64_t now_ms) const {
    auto it = index_.find(key);
    return it != index_.end() && nodes_[it->second].deadline_ms > now_ms;
}

void HotTierBase::clear() {
    nodes_.clear();
    free_.clear();
    index_.clear();
    small_ = List{};
    main_ = List{};
    resident_bytes_ = 0;
    ghost_fifo_.clear();
    ghost_index_.clear();
}

template <class Doomed>
size_t HotTierBase::remove_step(Cursor& c, size_t max_steps, uint64_t& counter, Doomed doomed) {
    size_t removed = 0;
    for (size_t step = 0; step < max_steps && c.next < nodes_.size(); ++step, ++c.next) {
        Node& n = nodes_[c.next];
        if (n.queue != kFree && doomed(n)) {
            remove(static_cast<uint32_t>(c.next), false);
            ++counter;
            ++removed;
        }
    }
    c.done = c.next >= nodes_.size();
    return removed;
}

size_t HotTierBase::sweep_expired(Cursor& c, int64_t now_ms, size_t max_steps) {
    return remove_step(c, max_steps, st_.expirations,
                       [now_ms](const Node& n) { return n.deadline_ms <= now_ms; });
}

size_t HotTierBase::erase_if_step_erased(Cursor& c, size_t max_steps, ErasedPred pred, void* ctx) {
    return remove_step(c, max_steps, st_.erasures,
                       [pred, ctx](const Node& n) { return pred(ctx, *n.key, n.value.get()); });
}

HotTierStats HotTierBase::stats() const {
    HotTierStats s = st_;
    s.bytes = bytes();
    s.entries = index_.size();
    s.small_entries = small_.count;
    s.ghost_entries = ghost_index_.size();
    s.capacity = opt_.capacity_bytes;
    return s;
}

} // namespace ec::cache
