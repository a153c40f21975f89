// Writer: the thread that owns every LMDB write transaction; the loop hands it batches.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <uv.h>

#include "loop/handle.hpp"
#include "store/env.hpp"
#include "store/key_codec.hpp"
#include "store/store.hpp"

namespace ec::store {

// Why a write could not be stored, for the metric and /health. `none` = an op's own error.
enum class StorageFault : uint8_t { none, map_full, disk_full, io };
const char* fault_name(StorageFault f); // "map_full", "disk_full", "io", ""

// Classifies an errno / LMDB code from a commit or a sync. EIO counts as disk_full when the
// filesystem holding `dir` is (nearly) out of space: a short write onto a full disk is
// reported by LMDB as EIO.
StorageFault classify_fault(int rc, const std::string& dir);

// Eviction planned on the loop (which knows what the hot tier holds) and carried out by the
// writer before the batch's ops, each step in its own transaction: first up to `want` expired
// records, then `victims` (cold evictable keys) until `want` records went.
struct EvictPlan {
    size_t want = 0; // 0 = no eviction
    std::vector<std::string> victims;
};

// One trip to the writer thread and back. The loop owns the ops (their captures are loop
// objects: they are created and destroyed on the loop); the writer only calls `apply`.
struct Batch {
    std::vector<WriteOp> ops;
    std::vector<size_t> idx; // the ops to run
    int64_t now_s = 0;       // the loop clock's time at hand-off
    EvictPlan evict;
    int map_full_round = 0; // 0 = first try; n = retry after the n-th eviction round

    // Filled by the writer, read by the loop after the completion.
    std::vector<Status> status; // per op
    std::vector<bool> committed;
    std::vector<StorageFault> fault;
    std::vector<Namespace> created; // namespaces the committed transaction created
    uint64_t commits = 0, expired_skipped = 0, expired_swept = 0, evicted = 0;
    size_t freed = 0;  // records the eviction steps deleted
    int commit_rc = 0; // the last failed commit's code (for the log line), 0 = none
};

class Writer {
public:
    // Starts the thread. `on_done` runs on the loop thread (from the uv_async_t) with each
    // finished batch. batch durability: every sync_interval_ms after a commit, the thread
    // calls mdb_env_sync.
    Writer(uv_loop_t* loop, const Env& env, const KeyCodec& codec, Durability durability,
           uint32_t sync_interval_ms, std::function<void(std::unique_ptr<Batch>)> on_done);
    ~Writer(); // stops and joins the thread (finishing the batch in flight), closes the handle
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

    // Loop thread. One batch at a time: hands `b` over; busy() until on_done got it back.
    void start(std::unique_ptr<Batch> b);
    bool busy() const { return in_flight_; }
    // Loop thread, shutdown path: blocks until the batch in flight is back and returns it
    // (on_done is not called for it).
    std::unique_ptr<Batch> wait();

    // Loop thread (a reload): the batch durability sync period from now on, also for the
    // commit already waiting for its sync.
    void set_sync_interval(uint32_t ms);

    // mdb_env_sync calls so far (the periodic ones of batch durability). Any thread.
    uint64_t syncs() const { return syncs_.load(std::memory_order_relaxed); }
    // The error of the last failed periodic sync since the previous call, 0 if none. Loop.
    int take_sync_error() { return sync_error_.exchange(0); }
    // Test hook: runs on the writer thread before each batch. Set it while idle.
    void set_gate_for_test(std::function<void()> gate) { gate_ = std::move(gate); }

private:
    void thread_main();
    void run(Batch& b);
    // Runs ops idx in one write transaction, dropping ops that fail and retrying; on a failed
    // commit of several ops, commits them one by one.
    void run_ops(Batch& b, std::vector<size_t> idx);
    void evict(Batch& b);
    // Commits a transaction that changes nothing (the tally rewritten as it is), so that the
    // next one may reuse what the last commit freed. Returns whether it committed.
    bool commit_to_reuse_freed_pages(Batch& b);
    static void on_async(uv_async_t* h);

    const Env& env_;
    const KeyCodec& codec_;
    const Durability durability_;
    uint32_t sync_interval_ms_; // under mu_
    std::function<void(std::unique_ptr<Batch>)> on_done_;
    std::function<void()> gate_;
    // Writer thread: the last commit was commit_to_reuse_freed_pages' (so what every commit
    // before it freed is reusable now).
    bool freed_pages_reusable_ = false;
    loop::HandleBox<uv_async_t> async_;
    bool in_flight_ = false; // loop thread only

    std::mutex mu_;
    std::condition_variable cv_;      // wakes the thread: a batch or stop
    std::condition_variable done_cv_; // wakes wait(): a batch came back
    std::unique_ptr<Batch> in_, out_;
    bool stop_ = false;
    bool interval_changed_ = false; // wakes the thread to recompute a pending sync's time
    std::atomic<uint64_t> syncs_{0};
    std::atomic<int> sync_error_{0};
    std::thread thread_; // last: started once everything above exists
};

} // namespace ec::store
