// Group commit, loop side: batches to the writer thread, completions, map-full retries, flush.
#include <exception>
#include <sys/statvfs.h>

#include "store/bytes.hpp"
#include "store/store_impl.hpp"
#include "store/write_txn_impl.hpp"
#include "util/log.hpp"

namespace ec::store {

using detail::lmdb_error;

namespace {

// Runs user code that must not throw into the loop.
template <class Fn> void call_safely(const char* what, Fn&& fn) {
    try {
        fn();
    } catch (const std::exception& e) {
        LOG_ERROR("store: %s callback threw: %s", what, e.what());
    } catch (...) {
        LOG_ERROR("store: %s callback threw", what);
    }
}

} // namespace

void Store::Impl::submit(WriteOp op) {
    queue_.push_back(std::move(op));
    // The hand-off runs in this iteration's check phase; make sure the loop gets there without
    // blocking in poll when the caller is a timer or a posted callback.
    loop_.wake();
}

void Store::Impl::on_iteration() {
    // No snapshot is held across iterations (it would pin the pages commits free).
    reset_read_txn();
    dispatch();
    reset_read_txn();
}

void Store::Impl::dispatch() {
    // What arrives while the writer commits forms the next transaction.
    if (!writer_ || writer_->busy()) return;
    std::unique_ptr<Batch> b = std::move(retry_);
    if (b) {
        b->evict = plan_eviction(b->map_full_round == 1 ? 1000 : 20000);
    } else {
        if (queue_.empty()) return;
        b = std::make_unique<Batch>();
        // Big writes in one transaction could fill the map past the point where eviction
        // (which needs free pages itself) can run: at most map_size / 20 bytes per batch.
        size_t take = 0;
        for (uint64_t bytes = 0, budget = opts_.map_size / 20; take < queue_.size(); ++take) {
            bytes += queue_[take].bytes_hint;
            if (take > 0 && bytes > budget) break;
        }
        if (take == queue_.size()) {
            b->ops.swap(queue_);
        } else {
            b->ops.assign(std::make_move_iterator(queue_.begin()),
                          std::make_move_iterator(queue_.begin() + static_cast<ptrdiff_t>(take)));
            queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(take));
        }
        b->idx.resize(b->ops.size());
        for (size_t i = 0; i < b->ops.size(); ++i)
            b->idx[i] = i;
        b->evict = plan_evict_ahead();
    }
    b->now_s = now_s();
    writer_->start(std::move(b));
}

void Store::Impl::retry_map_full(Batch& b, std::vector<bool>& handed_on) {
    if (b.map_full_round >= 2) return;
    auto next = std::make_unique<Batch>();
    next->map_full_round = b.map_full_round + 1;
    for (size_t i = 0; i < b.ops.size(); ++i) {
        if (b.committed[i] || b.fault[i] != StorageFault::map_full) continue;
        next->idx.push_back(next->ops.size());
        next->ops.push_back(std::move(b.ops[i]));
        // Kept when the writer finds nothing to evict and does not run the op again.
        next->status.push_back(b.status[i]);
        next->fault.push_back(StorageFault::map_full);
        handed_on[i] = true;
    }
    if (next->ops.empty()) return;
    uint64_t held_back = 0;
    if (map_full_log_.allow(loop_.clock().mono_ms(), &held_back))
        LOG_WARN("store: map full: evicting to retry %zu write(s) (%llu more since the last line)",
                 next->ops.size(), static_cast<unsigned long long>(held_back));
    retry_ = std::move(next);
}

void Store::Impl::note_fault(StorageFault f, const std::string& error) {
    bool new_state = fault_ != f;
    fault_ = f;
    fault_message_ = error;
    uint64_t held_back = 0;
    if (!new_state && !fault_log_.allow(loop_.clock().mono_ms(), &held_back)) return;
    struct statvfs fs;
    unsigned long long free_bytes = 0;
    if (::statvfs(opts_.data_dir.c_str(), &fs) == 0)
        free_bytes = static_cast<unsigned long long>(fs.f_bavail) * fs.f_frsize;
    if (f == StorageFault::map_full)
        LOG_ERROR("store: writes to %s fail: the map is full (map_size %llu bytes) and nothing "
                  "more can be evicted: %s (%llu more since the last line)",
                  opts_.data_dir.c_str(), static_cast<unsigned long long>(opts_.map_size),
                  error.c_str(), static_cast<unsigned long long>(held_back));
    else
        LOG_ERROR("store: writes to %s fail (%s, %llu bytes free on its filesystem): %s (%llu "
                  "more since the last line)",
                  opts_.data_dir.c_str(), fault_name(f), free_bytes, error.c_str(),
                  static_cast<unsigned long long>(held_back));
}

void Store::Impl::on_batch_done(std::unique_ptr<Batch> b) {
    if (int rc = writer_->take_sync_error(); rc != 0) {
        StorageFault f = classify_fault(rc, opts_.data_dir);
        ++stats_.commit_failures[static_cast<size_t>(f)];
        note_fault(f, std::string("mdb_env_sync: ") + mdb_strerror(rc));
    }
    if (!b) return;
    stats_.commits += b->commits;
    stats_.expired_skipped += b->expired_skipped;
    stats_.expired_swept += b->expired_swept;
    stats_.evicted += b->evicted;
    for (const auto& ns : b->created)
        add_namespace(ns);
    if (b->map_full_round == 0 && b->evict.want > 0) {
        evicted_ahead_ += b->freed;
        if (b->freed == 0) evicting_ahead_ = false; // nothing evictable: MAP_FULL will say so
    }
    std::vector<bool> handed_on(b->ops.size(), false);
    retry_map_full(*b, handed_on);

    // Readers from here on (on_commit, dones) see the commit.
    reset_read_txn();

    // Queue every done before running on_commit, so each is delivered exactly once even if a
    // callback destroys the store (its destructor drains the queue).
    bool wrote = false, faulted = false;
    for (size_t i = 0; i < b->ops.size(); ++i) {
        if (handed_on[i]) continue;
        WriteOp& op = b->ops[i];
        if (b->committed[i]) {
            ++stats_.ops_committed;
            wrote = true;
            complete(std::move(op.done), Status::ok());
            continue;
        }
        ++stats_.ops_failed;
        Status st = std::move(b->status[i]);
        if (st.is_ok()) st = Status(make_error(500, "internal", "write was not committed"));
        if (StorageFault f = b->fault[i]; f != StorageFault::none) {
            ++stats_.commit_failures[static_cast<size_t>(f)];
            if (!faulted) note_fault(f, st.error().message);
            faulted = true;
        }
        complete(std::move(op.done), std::move(st));
    }
    if (wrote && !faulted && fault_ != StorageFault::none) {
        LOG_INFO("store: writes to %s succeed again", opts_.data_dir.c_str());
        fault_ = StorageFault::none;
        fault_message_.clear();
    }
    std::weak_ptr<bool> alive = alive_;
    for (size_t i = 0; i < b->ops.size(); ++i) {
        if (handed_on[i] || !b->committed[i] || !b->ops[i].on_commit) continue;
        call_safely("on_commit", b->ops[i].on_commit);
        if (alive.expired()) return;
    }
    drain_completions();
    if (alive.expired()) return;
    // The ops' captures are loop objects: they die here, on the loop.
    b.reset();
}

void Store::Impl::flush() {
    reset_read_txn();
    std::weak_ptr<bool> alive = alive_;
    // The batch in flight, then what is queued now, then its map-full retries.
    bool handed = false;
    for (;;) {
        if (writer_->busy()) {
            on_batch_done(writer_->wait());
            if (alive.expired()) return;
            continue;
        }
        if (retry_ || (!handed && !queue_.empty())) {
            handed = handed || !retry_;
            dispatch();
            continue;
        }
        break;
    }
    // batch durability: make the last meta page durable too. (sync: already is; harmless.)
    int rc = mdb_env_sync(env_->env(), 1);
    ++stats_.syncs;
    if (rc != 0)
        LOG_ERROR("store: mdb_env_sync of %s failed: %s", opts_.data_dir.c_str(), mdb_strerror(rc));
    drain_completions();
}

void Store::Impl::complete(std::function<void(Status)> done, Status st) {
    if (done) completions_.emplace_back(std::move(done), std::move(st));
}

void Store::Impl::drain_completions() {
    if (draining_) return; // the outer drain delivers what this call queued
    draining_ = true;
    std::weak_ptr<bool> alive = alive_;
    while (!completions_.empty()) {
        auto item = std::move(completions_.front());
        completions_.pop_front();
        call_safely("done", [&] { item.first(std::move(item.second)); });
        if (alive.expired()) return; // the callback destroyed the store, which drained the rest
    }
    draining_ = false;
}

void Store::Impl::start_sweep() {
    if (sweep_in_flight_ || closing_) return;
    // Nothing due: no write transaction. (Every commit, even an empty one, marks the store
    // dirty, so an idle daemon used to fsync once per sweep interval, forever.)
    if (auto t = read_txn()) {
        auto due = expiry_due(ctx(*t), now_s());
        if (due && !*due) return;
    }
    sweep_in_flight_ = true;
    auto result = std::make_shared<SweepResult>();
    size_t budget = opts_.sweep_budget > 0 ? opts_.sweep_budget : 1;
    WriteOp op;
    op.apply = [result, budget](WriteTxn& txn) -> Status {
        auto r = txn.delete_expired(budget);
        if (!r) return r.error();
        *result = *r; // assigned, not added: apply may run again when the batch is retried
        return Status::ok();
    };
    // Expired records need no durability: go on at commit, not after the sync.
    op.on_commit = [this, result] {
        stats_.expired_swept += result->deleted;
        sweep_in_flight_ = false;
        if (result->more && !closing_) {
            std::weak_ptr<bool> alive = alive_;
            loop_.post([this, alive] {
                if (!alive.expired()) start_sweep();
            });
        }
    };
    op.done = [this](Status st) {
        if (!st) {
            sweep_in_flight_ = false;
            LOG_WARN("store: expiry sweep failed: %s", st.error().message.c_str());
        }
    };
    submit(std::move(op));
}

Store::Impl::~Impl() {
    sweep_timer_.reset();
    loop_.remove_iteration_hook(hook_id_);
    // A done callback may have destroyed the store in the middle of a drain: deliver the rest.
    draining_ = false;
    // Dones may submit more writes while we shut down; give them a few rounds.
    for (int round = 0; round < 4; ++round) {
        flush();
        if (queue_.empty()) break;
    }
    closing_ = true;
    // Still more: refuse them (bounded, in case each refusal submits again).
    for (int round = 0; round < 4 && !queue_.empty(); ++round) {
        std::vector<WriteOp> left;
        left.swap(queue_);
        for (auto& op : left) {
            if (op.done)
                call_safely("done", [&] {
                    op.done(Status(make_error(503, "shutting_down", "the store is closing")));
                });
        }
    }
    writer_.reset(); // joins the thread: no write transaction after this
    if (rtxn_) mdb_txn_abort(rtxn_);
    rtxn_ = nullptr;
    wait_for_backup();
    env_.reset();
}

} // namespace ec::store
