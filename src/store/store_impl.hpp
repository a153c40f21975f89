// Store::Impl: the state behind Store — env, read txn, namespace mirror, commit queue, syncs.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "loop/handle.hpp"
#include "store/env.hpp"
#include "store/key_codec.hpp"
#include "store/record.hpp"
#include "store/store.hpp"
#include "util/log.hpp"

namespace ec::store {

// One background mdb_env_sync. Shared by the loop thread and the worker: `finished` and `rc`
// under `mu`; `owner` and `waiters` are touched on the loop thread only.
struct SyncJob {
    std::mutex mu;
    std::condition_variable cv;
    bool finished = false;
    int rc = 0;
    Store::Impl* owner = nullptr; // cleared when the store stops caring (flush, destruction)
    std::vector<std::function<void(Status)>> waiters; // dones released by this sync
};

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

    // ---- group commit and syncs (commit.cpp) ----
    void submit(WriteOp op);
    void on_iteration();
    // Commits every queued op; start_sync=false leaves the sync to the caller (flush).
    void commit_queued(bool start_sync);
    void flush();
    void start_sweep();

    loop::Loop& loop_;
    Options opts_;
    std::unique_ptr<Env> env_;
    KeyCodec codec_;
    StoreStats stats_;
    // Under a sustained full map every commit fails the same way: a line a second is enough.
    log::Throttle commit_fail_log_, map_full_log_;

    // The iteration's read transaction: begun once, then reset / renewed (MDB_NOTLS).
    MDB_txn* rtxn_ = nullptr;
    bool rtxn_active_ = false;

    // Namespace mirror, updated after the commit that created a namespace.
    std::map<std::string, std::unique_ptr<Namespace>, std::less<>> by_title_;
    std::map<std::string, const Namespace*, std::less<>> by_id_;

    std::vector<WriteOp> queue_;        // submitted, not yet committed
    std::shared_ptr<BackupJob> backup_; // the copy in progress (backup.cpp)
    // Map full: deletes expired records, then up to `want` cold evictable ones, each step in
    // its own transaction (evict.cpp). Returns how many records went.
    size_t evict_for_space(size_t want);
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
    void evict_ahead();
    std::function<bool(std::string_view key)> eviction_skip_; // true = recently used
    std::function<void(size_t)> evicted_hook_;
    // Blocks until the backup in progress has finished: the env must outlive it.
    void wait_for_backup();
    bool committing_ = false;

private:
    struct BatchResult {
        std::vector<Status> status;  // per op; ok unless it failed alone
        std::vector<bool> committed; // per op
    };
    // Runs ops[idx...] in one write transaction, dropping ops that fail and retrying; on a
    // failed commit of several ops, commits them one by one.
    void run_batch(std::vector<WriteOp>& ops, std::vector<size_t> idx, BatchResult& res);
    void maybe_start_sync();
    void on_sync_done(const std::shared_ptr<SyncJob>& job, int status);
    // Waits for the in-flight sync, then syncs once more, and releases every waiter.
    void sync_now();
    void complete(std::function<void(Status)> done, Status st);
    void drain_completions();

    // Committed data not yet covered by a started sync; dones waiting for that sync (sync mode).
    bool dirty_ = false;
    std::vector<std::function<void(Status)>> sync_waiting_;
    std::shared_ptr<SyncJob> sync_job_;

public:
    std::function<void()> sync_gate_; // test hook, runs on the worker before mdb_env_sync

private:
    // Callbacks ready to run, drained in order; survives the store being destroyed mid-drain.
    std::deque<std::pair<std::function<void(Status)>, Status>> completions_;
    bool draining_ = false;
    bool closing_ = false;
    bool sweep_in_flight_ = false;
    size_t hook_id_ = 0;
    std::unique_ptr<loop::Timer> sweep_timer_;
    std::unique_ptr<loop::Timer> sync_timer_;

public:
    // Expires with the Impl: posted callbacks and re-entrant callers check it.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

} // namespace ec::store
