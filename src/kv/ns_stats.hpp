// NamespaceStats: per-namespace KV counters shared by every KV front end.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace ec::kv {

struct NamespaceCounters {
    uint64_t reads = 0;   // gets (single and bulk keys), found or not
    uint64_t hits = 0;    // reads that found a live value
    uint64_t writes = 0;  // keys written (bulk counts each key)
    uint64_t deletes = 0; // keys deleted
    uint64_t lists = 0;   // list pages served
};

class NamespaceStats {
public:
    // The counters of a namespace. Bounded: past kMaxNamespaces titles, new ones share a
    // scratch slot that is never reported (titles come from clients).
    NamespaceCounters& of(std::string_view title) {
        auto it = by_title_.find(title);
        if (it != by_title_.end()) return it->second;
        if (by_title_.size() >= kMaxNamespaces) return overflow_;
        return by_title_.emplace(std::string(title), NamespaceCounters{}).first->second;
    }
    static constexpr size_t kMaxNamespaces = 10000;
    const std::map<std::string, NamespaceCounters, std::less<>>& all() const { return by_title_; }
    void reset() { by_title_.clear(); }

private:
    std::map<std::string, NamespaceCounters, std::less<>> by_title_;
    NamespaceCounters overflow_;
};

} // namespace ec::kv
