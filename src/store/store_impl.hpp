// Store::Impl: the state behind Store — env, read txn, namespace mirror, the writer and its queue.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "loop/handle.hpp"
#include "store/env.hpp"
#include "store/key_codec.hpp"
#include "store/record.hpp"
#include "store/store.hpp"
#include "store/writer.hpp"
#include "util/log.hpp"

namespace ec::store {

struct BackupJob;

class Store::Impl {
public:
    // Takes the opened env; loads the namespace mirror, registers the commit hook and timers.
    // Throws std::runtime_error when the namespaces cannot be read.
    Impl(loop::Loop& loop, const Options& opts, std::unique_ptr<Env> env);
    ~Impl(); // flush(), then closes the env

    // ---- reads (store.cpp) ----
    // The iteration's read transaction, begun or renewed on first use. Borrowed; valid until
    // the next reset_read_txn(). Errors: 500 storage_error.
    Result<MDB_txn*> read_txn();
    void reset_read_txn();
    RecordCtx ctx(MDB_txn* t) const { return {t, &env_->dbs(), &codec_}; }
    int64_t now_s() { return loop_.clock().now_s(); }
    void load_namespaces();
    void add_namespace(const Namespace& ns);

    Result<bool> kv_get(const Namespace& ns, std::string_view key, KvValue* out, bool want_value);
    Result<KvListPage> kv_list(const Namespace& ns, std::string_view prefix,
                               std::string_view cursor, size_t limit);
    Result<bool> get_record(std::string_view skey, Record* out, bool want_payload);
    Result<ScanPage> scan_prefix(std::string_view prefix, std::string_view after, size_t limit,
                                 const std::function<void(const RecordView&)>& fn);
    Result<EntryCounts> entry_counts();
    MapUsage map_usage();

    // ---- group commit on the writer thread (commit.cpp) ----
    void submit(WriteOp op);
    void on_iteration();
    // Hands the next batch (a map-full retry first, else every queued op) to the idle writer.
    void dispatch();
    // The writer finished `b` (nullptr: only a periodic sync's report).
    void on_batch_done(std::unique_ptr<Batch> b);
    void flush();
    void start_sweep();

    loop::Loop& loop_;
    Options opts_;
    std::unique_ptr<Env> env_;
    KeyCodec codec_;
    StoreStats stats_;
    uint64_t writer_syncs_seen_ = 0; // the writer's sync count already added to stats_
    // Under a sustained full map or disk every commit fails the same way: a line a second.
    log::Throttle map_full_log_, fault_log_;

    // The iteration's read transaction: begun once, then reset / renewed (MDB_NOTLS).
    MDB_txn* rtxn_ = nullptr;
    bool rtxn_active_ = false;

    // Namespace mirror, updated after the commit that created a namespace.
    std::map<std::string, std::unique_ptr<Namespace>, std::less<>> by_title_;
    std::map<std::string, const Namespace*, std::less<>> by_id_;

    std::vector<WriteOp> queue_;        // submitted, not yet handed to the writer
    std::unique_ptr<Batch> retry_;      // ops that found the map full, after eviction
    std::unique_ptr<Writer> writer_;    // owns every write transaction
    std::shared_ptr<BackupJob> backup_; // the copy in progress (backup.cpp)
    // Map full: plans the eviction of up to `want` records — expired ones, then cold
    // evictable ones the loop picks here (it knows what is hot) — for the writer (evict.cpp).
    EvictPlan plan_eviction(size_t want);
    // LMDB needs free pages to commit anything — deletes included — so waiting for
    // MDB_MAP_FULL is too late: above kEvictAheadPercent of the map in real use, evict down to
    // kEvictTargetPercent before committing (a cheap check until the high-water mark gets there).
    static constexpr uint64_t kEvictAheadPercent = 85;
    static constexpr uint64_t kEvictTargetPercent = 75;
    static constexpr size_t kEvictSlice = 1000; // records per commit while evicting ahead
    bool evicting_ahead_ = false;               // between the high and the low-water mark
    size_t evicted_ahead_ = 0;
    struct PageUse {
        uint64_t page_size = 0, map_pages = 0, high_water = 0, used = 0, records = 0;
    };
    PageUse page_use();
    // Plans a slice of eviction for the next batch while the map is above the high-water mark.
    EvictPlan plan_evict_ahead();
    std::function<bool(std::string_view key)> eviction_skip_; // true = recently used
    // Blocks until the backup in progress has finished: the env must outlive it.
    void wait_for_backup();

private:
    // Moves the ops of `b` that found the map full into retry_, with an eviction round.
    void retry_map_full(Batch& b, std::vector<bool>& handed_on);
    // Enters (or stays in) the fault state `f` and logs it, a line a second at most.
    void note_fault(StorageFault f, const std::string& error);
    void complete(std::function<void(Status)> done, Status st);
    void drain_completions();

    // Callbacks ready to run, drained in order; survives the store being destroyed mid-drain.
    std::deque<std::pair<std::function<void(Status)>, Status>> completions_;
    bool draining_ = false;
    bool closing_ = false;
    bool sweep_in_flight_ = false;

public:
    // The disk or map condition the last failed write ran into; none once a write commits.
    StorageFault fault_ = StorageFault::none;
    std::string fault_message_;
    uint64_t last_probe_ms_ = 0; // admit_optional_write's last admission during a fault
    size_t hook_id_ = 0;
    std::unique_ptr<loop::Timer> sweep_timer_;

public:
    // Expires with the Impl: posted callbacks and re-entrant callers check it.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

} // namespace ec::store
