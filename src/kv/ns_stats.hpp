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
    // The counters of a namespace. Callers ask only for namespaces that exist (or that a
    // write just created), so every title here was validated by the store. Bounded all the
    // same: past kMaxNamespaces titles, new ones share a scratch slot that is never reported.
    NamespaceCounters& of(std::string_view title) {
        auto it = by_title_.find(title);
        if (it != by_title_.end()) return it->second;
        if (by_title_.size() >= kMaxNamespaces) return overflow_;
        return by_title_.emplace(std::string(title), NamespaceCounters{}).first->second;
    }
    static constexpr size_t kMaxNamespaces = 10000;
    const std::map<std::string, NamespaceCounters, std::less<>>& all() const { return by_title_; }
    void reset() { by_title_.clear(); }
    // A namespace was deleted: its counters go with it.
    void forget(std::string_view title) {
        if (auto it = by_title_.find(title); it != by_title_.end()) by_title_.erase(it);
    }
    // A namespace was renamed: its counters follow it.
    void rename(std::string_view from, std::string_view to) {
        auto it = by_title_.find(from);
        if (it == by_title_.end() || from == to) return;
        NamespaceCounters c = it->second;
        by_title_.erase(it);
        of(to) = c;
    }

private:
    std::map<std::string, NamespaceCounters, std::less<>> by_title_;
    NamespaceCounters overflow_;
};

} // namespace ec::kv
