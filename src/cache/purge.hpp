// Purger: invalidation by URL, prefix, tag or everything — time-sliced, as deferred loop tasks.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "util/status.hpp"

namespace ec::loop {
class Loop;
}
namespace ec::store {
class Store;
}

namespace ec::cache {

class Proxy;

// A purge is a message, not a call into the store: the same request can later arrive from a
// fleet-wide subject (SPEC "Beyond one machine") and be applied here unchanged.
struct PurgeRequest {
    enum class Kind { paths, prefix, tags, all };
    Kind kind = Kind::paths;
    std::vector<std::string> paths; // "/a?b=1": every variant on every host (query normalised)
    std::string prefix;             // path prefix
    std::vector<std::string> tags;
    bool soft = false; // mark stale (keep for stale-while-revalidate / -if-error) instead
    std::string route; // scope to one route's prefix ("" = all routes)
    std::string
        namespace_; // KV namespace instead of the cache (prefix = key prefix, all = all keys)
};

struct PurgeResult {
    uint64_t purged = 0;    // records deleted (or marked stale)
    uint64_t memory = 0;    // hot-tier entries dropped
    uint64_t fleet_seq = 0; // the purge stream's sequence when a fleet carried it; 0 = none
};

// What a purge of KV namespace keys (req.namespace_ set) may ask: 400 bad_purge for a soft
// purge or a kind other than prefix and all. The namespace itself is the caller's to find.
Status check_namespace_purge(const PurgeRequest& req);

// Runs purges one slice at a time: each slice is one write op of at most `batch` records,
// and the next slice is posted after the previous commit, so a million-entry purge never holds
// the loop for long and other requests are served between slices. The hot tier is swept in
// step (a bounded number of slots per slice); fills in flight are invalidated at once through
// the generations (a purged URL's generation, or the epoch for ranges), so nothing purged can
// come back from a response that was already on its way, and while a purge runs a lookup does
// not put what it reads from LMDB into the hot tier (the record may be one still to delete).
//
// The purger works through the proxy's public interface (its routes, cache keys, generations
// and hot tier) and writes through `store`; all three must outlive it.
class Purger {
public:
    Purger(Proxy& proxy, loop::Loop& loop, store::Store& store, size_t batch = 1000);
    ~Purger();

    // Validates and starts a purge; `done` gets the counts once every slice has committed, or
    // the first error (400 for a bad request, storage errors). Errors: 400 bad_purge (no
    // paths/prefix/tags/all, unknown route, a path not starting with "/"), 404 for an unknown
    // namespace.
    void submit(PurgeRequest req, std::function<void(Result<PurgeResult>)> done);
    // Carries out a purge on this node only (what submit does without a path).
    void apply(PurgeRequest req, std::function<void(Result<PurgeResult>)> done);
    // Where submitted purges go instead of apply(): a fleet publishes them to every node first.
    using Path = std::function<void(PurgeRequest, std::function<void(Result<PurgeResult>)>)>;
    void set_path(Path path) { path_ = std::move(path); }

    size_t in_progress() const { return running_; }
    uint64_t total_purged() const { return total_; }

private:
    struct Job;
    void slice(const std::shared_ptr<Job>& job);

    Proxy& proxy_;
    loop::Loop& loop_;
    store::Store& store_;
    Path path_;
    size_t batch_;
    size_t running_ = 0;
    uint64_t total_ = 0;
    std::shared_ptr<bool> alive_;
};

} // namespace ec::cache
