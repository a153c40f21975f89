// Fleet: KV namespaces shared by several nodes through NATS JetStream. Writes go to JetStream
// first and are answered once JetStream holds them and this node applied them; every node
// applies every change, in stream order, through the store's one write path.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "fleet/change.hpp"
#include "fleet/link.hpp"
#include "loop/loop.hpp"
#include "store/store.hpp"
#include "util/status.hpp"

namespace ec::fleet {

// One KV write of a fleet write: a put (value, metadata, expiration) or a delete.
struct EntryWrite {
    std::string key;
    bool del = false;
    std::string value, metadata;
    int64_t expiration = 0; // unix seconds; 0 = never
};

// What `edgecachectl fleet status`, /metrics and /health show.
struct FleetStatus {
    bool connected = false;
    bool ready = false;        // connected and the bucket is open
    std::string server;        // the connected server's URL
    std::string reason;        // why not ready ("" when ready)
    uint64_t applied_seq = 0;  // last stream sequence applied to LMDB
    uint64_t lag_messages = 0; // messages the stream holds beyond what we received
    double lag_seconds = 0;    // age of the last change received when there is lag
    uint64_t apply_total = 0;  // changes applied since start
    uint64_t writes_ok = 0, writes_failed = 0;
    uint64_t purges_pending = 0; // delivered to this node, not applied yet
    uint64_t purges_applied = 0; // from other nodes, since start
    bool resyncing = false;
    uint64_t resyncs = 0;
    int64_t max_payload = 0;
};

class Fleet {
public:
    // `node` is the node's name (settings.node, or the host name). Starts connecting at once;
    // throws std::runtime_error when the NATS options are unusable.
    Fleet(loop::Loop& loop, store::Store& store, const config::FleetSpec& spec, std::string node);
    ~Fleet();
    Fleet(const Fleet&) = delete;
    Fleet& operator=(const Fleet&) = delete;

    const std::string& node() const { return node_; }

    // ---- KV writes. Each done runs on the loop exactly once, within write_timeout_ms: OK once
    // JetStream accepted every change (R = replicas) and this node applied them; else 503
    // fleet_unavailable (JetStream did not answer, or this node did not apply in time), 413
    // value_too_large (a change over the server's max_payload), 404 namespace_not_found.

    // Writes to the namespace titled `ns_title`, claiming the title fleet-wide when no node
    // has it yet and `create` is set (without `create`, writes to a missing namespace succeed
    // doing nothing, as deletes of missing keys do).
    void write(std::string ns_title, bool create, std::vector<EntryWrite> writes,
               std::function<void(Status)> done);
    // Writes to the namespace with id `ns_id` (it must exist here).
    void write_by_id(std::string ns_id, std::vector<EntryWrite> writes,
                     std::function<void(Status)> done);
    // Namespace administration through the fleet; ids are the same on every node. Errors as
    // store::Store's (400 namespace_exists, 404 namespace_not_found) plus the above.
    void create_namespace(std::string title, std::function<void(Result<store::Namespace>)> done);
    void rename_namespace(std::string id, std::string title,
                          std::function<void(Result<store::Namespace>)> done);
    void delete_namespace(std::string id, std::function<void(Status)> done);

    // ---- purges: one durable stream, a durable consumer per node ----
    // Publishes a purge message; done gets its stream sequence once JetStream holds it (R =
    // replicas), or 503 fleet_unavailable within write_timeout_ms. The caller applies it here
    // itself; the other nodes get it from the stream.
    void publish_purge(std::string payload, std::function<void(Result<uint64_t>)> done);
    // Applies a delivered purge message; `applied` must run once it is done (then it is
    // acknowledged; a node that stops before that gets it again).
    using PurgeApplier =
        std::function<void(uint64_t seq, std::string payload, std::function<void()> applied)>;
    void set_purge_applier(PurgeApplier fn) { purge_applier_ = std::move(fn); }
    // Runs when this node missed purges (away longer than the purge stream keeps them).
    void set_purge_everything(std::function<void()> fn) { purge_everything_ = std::move(fn); }
    // How many nodes' consumers acknowledged purge `seq`, of how many there are.
    void purge_progress(uint64_t seq, std::function<void(Result<Link::PurgeProgress>)> done);

    FleetStatus status() const;
    // "" when writes can go through; else why not (for /health's "degraded").
    std::string health_reason() const;
    // Write latency (JetStream + local apply) histogram, seconds: bucket upper bounds, counts.
    static constexpr double kWriteBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,   0.25,   0.5,   1,    2.5};
    const std::vector<uint64_t>& write_histogram() const { return write_hist_; }
    double write_seconds_sum() const { return write_sum_; }

private:
    struct Pending;
    using PendingPtr = std::shared_ptr<Pending>;
    PendingPtr begin(std::function<void(Status)> done);
    void finish(const PendingPtr& p, Status st);
    uint64_t deadline(const PendingPtr& p) const;
    // Publishes `writes` for namespace `ns_id`, then waits for their apply.
    void publish_entries(const PendingPtr& p, const std::string& ns_id,
                         std::vector<EntryWrite> writes);
    // Finishes p once state_.applied_seq reaches seq (or its timer fires).
    void wait_applied(const PendingPtr& p, uint64_t seq);
    // A namespace write's completion: answers `done` with namespace `id` as this node holds it
    // once the write is applied (404 when it is gone by then), or with the write's error.
    std::function<void(Status)>
    answer_namespace(std::string id, std::function<void(Result<store::Namespace>)> done);

    // ---- the apply side ----
    // Reads the stored sequence and subscribes after it (start, and after a failed apply).
    void resume();
    void on_changes(uint64_t generation, std::vector<Change> changes, uint64_t pending);
    void on_gap(uint64_t first, uint64_t msgs);
    void on_applied(uint64_t seq);
    // A resynchronisation against an empty stream: store `restart` as the position, sweep.
    void on_changes_empty_restart(uint64_t generation, uint64_t restart);
    // After a resynchronisation: deletes local keys the stream no longer has.
    void finish_resync();

    loop::Loop& loop_;
    store::Store& store_;
    config::FleetSpec spec_;
    std::string node_;
    std::unique_ptr<Link> link_;

    // What status() reports, kept where it is updated (lag_seconds is computed on demand).
    FleetStatus state_;

    uint64_t generation_ = 0;            // deliveries of older subscriptions are dropped
    uint64_t expect_prev_ = 0;           // the sequence the next apply op follows
    std::optional<uint64_t> restart_at_; // the next op starts a resynchronisation here
    int64_t last_change_ns_ = 0;         // timestamp of the last change received
    std::set<std::string> resync_seen_;  // ns id + '/' + key of every live entry seen
    std::unique_ptr<loop::Timer> resume_timer_;
    std::multimap<uint64_t, PendingPtr> waiters_; // by the sequence they wait for
    std::vector<uint64_t> write_hist_;
    double write_sum_ = 0;
    PurgeApplier purge_applier_;
    std::function<void()> purge_everything_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

} // namespace ec::fleet
