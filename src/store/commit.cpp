// Group commit: queued ops share one write txn per loop iteration; syncs run on the thread pool.
#include <exception>

#include "store/bytes.hpp"
#include "store/store_impl.hpp"
#include "store/write_txn_impl.hpp"
#include "util/log.hpp"

namespace ec::store {

using detail::lmdb_error;

namespace {

Status apply_op(WriteOp& op, WriteTxn& txn) {
    if (!op.apply) return Status::ok();
    try {
        return op.apply(txn);
    } catch (const std::exception& e) {
        return make_error(500, "internal", std::string("write failed: ") + e.what());
    } catch (...) {
        return make_error(500, "internal", "write failed");
    }
}

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
    // The commit runs in this iteration's check phase; make sure the loop gets there without
    // blocking in poll when the caller is a timer or a posted callback.
    loop_.wake();
}

void Store::Impl::on_iteration() {
    // No snapshot is held across the commit (it would pin the pages the commit frees).
    reset_read_txn();
    commit_queued(true);
    reset_read_txn();
}

void Store::Impl::run_batch(std::vector<WriteOp>& ops, std::vector<size_t> idx, BatchResult& res) {
    while (!idx.empty()) {
        MDB_txn* txn = nullptr;
        int rc = mdb_txn_begin(env_->env(), nullptr, 0, &txn);
        if (rc != 0) {
            Error e = lmdb_error(rc, "begin write transaction");
            for (size_t i : idx)
                res.status[i] = e;
            return;
        }
        WriteTxnImpl wt(txn, env_->dbs(), codec_, now_s());
        bool retry = false;
        for (size_t pos = 0; pos < idx.size(); ++pos) {
            Status st = apply_op(ops[idx[pos]], wt);
            if (!st) {
                // The op may have written half its changes: drop the whole txn and rerun the
                // batch without it, so one bad write never fails the others.
                mdb_txn_abort(txn);
                res.status[idx[pos]] = st;
                idx.erase(idx.begin() + static_cast<ptrdiff_t>(pos));
                retry = true;
                break;
            }
        }
        if (retry) continue;
        stats_.expired_skipped += wt.expired_skipped();
        rc = mdb_txn_commit(txn);
        if (rc != 0) {
            if (idx.size() > 1) {
                // Can't tell which op made the commit fail (e.g. MDB_MAP_FULL while saving the
                // free list): commit them one by one.
                uint64_t held_back = 0;
                if (commit_fail_log_.allow(loop_.clock().mono_ms(), &held_back))
                    LOG_WARN("store: commit of %zu ops failed (%s); committing them one by one "
                             "(%llu more since the last line)",
                             idx.size(), mdb_strerror(rc),
                             static_cast<unsigned long long>(held_back));
                for (size_t i : idx)
                    run_batch(ops, {i}, res);
                return;
            }
            res.status[idx[0]] = lmdb_error(rc, "commit");
            return;
        }
        ++stats_.commits;
        dirty_ = true;
        for (size_t i : idx)
            res.committed[i] = true;
        for (const auto& ns : wt.created())
            add_namespace(ns);
        return;
    }
}

void Store::Impl::commit_queued(bool start_sync) {
    // A callback below may flush() or submit(): new ops wait for the next round.
    if (committing_ || queue_.empty()) return;
    committing_ = true;
    evict_ahead();
    std::vector<WriteOp> ops;
    ops.swap(queue_);
    BatchResult res;
    res.status.assign(ops.size(), Status::ok());
    res.committed.assign(ops.size(), false);
    std::vector<size_t> idx(ops.size());
    for (size_t i = 0; i < ops.size(); ++i)
        idx[i] = i;
    run_batch(ops, std::move(idx), res);

    // The map is full: make room and retry what failed for lack of it (two rounds, the second
    // evicting more).
    for (size_t want : {size_t{1000}, size_t{20000}}) {
        std::vector<size_t> full;
        for (size_t i = 0; i < ops.size(); ++i)
            if (!res.committed[i] && !res.status[i].is_ok() && res.status[i].error().http == 507)
                full.push_back(i);
        if (full.empty()) break;
        size_t evicted = evict_for_space(want);
        uint64_t held_back = 0;
        if (map_full_log_.allow(loop_.clock().mono_ms(), &held_back))
            LOG_WARN("store: map full: evicted %zu record(s) to retry %zu write(s) (%llu more "
                     "since the last line)",
                     evicted, full.size(), static_cast<unsigned long long>(held_back));
        if (evicted == 0) break;
        for (size_t i : full)
            res.status[i] = Status::ok();
        run_batch(ops, std::move(full), res);
    }

    // Readers from here on (on_commit, dones) see the commit.
    reset_read_txn();

    // Queue every done before running on_commit, so each is delivered exactly once even if a
    // callback destroys the store (its destructor drains the queue).
    for (size_t i = 0; i < ops.size(); ++i) {
        if (!res.committed[i]) {
            ++stats_.ops_failed;
            if (res.status[i].is_ok())
                res.status[i] = Status(make_error(500, "internal", "write was not committed"));
            complete(std::move(ops[i].done), res.status[i]);
        } else {
            ++stats_.ops_committed;
            if (opts_.durability == Durability::sync)
                sync_waiting_.push_back(std::move(ops[i].done));
            else
                complete(std::move(ops[i].done), Status::ok());
        }
    }
    committing_ = false;
    std::weak_ptr<bool> alive = alive_;
    for (size_t i = 0; i < ops.size(); ++i) {
        if (!res.committed[i] || !ops[i].on_commit) continue;
        call_safely("on_commit", ops[i].on_commit);
        if (alive.expired()) return;
    }
    if (start_sync && opts_.durability == Durability::sync) maybe_start_sync();
    drain_completions();
}

void Store::Impl::maybe_start_sync() {
    if (sync_job_ || !dirty_ || closing_) return;
    auto job = std::make_shared<SyncJob>();
    job->owner = this;
    job->waiters.swap(sync_waiting_);
    dirty_ = false;
    sync_job_ = job;
    MDB_env* env = env_->env();
    std::function<void()> gate = sync_gate_;
    // The worker touches only the env and the job; a later batch's dones wait in
    // sync_waiting_ and share the next sync.
    loop::queue_work(
        loop_.uv(),
        [job, env, gate] {
            if (gate) gate();
            int rc = mdb_env_sync(env, 1);
            {
                std::lock_guard<std::mutex> lk(job->mu);
                job->rc = rc;
                job->finished = true;
            }
            job->cv.notify_all();
        },
        [job](int status) {
            if (job->owner) job->owner->on_sync_done(job, status);
        });
}

void Store::Impl::on_sync_done(const std::shared_ptr<SyncJob>& job, int status) {
    job->owner = nullptr;
    if (sync_job_ == job) sync_job_.reset();
    int rc;
    bool ran;
    {
        std::lock_guard<std::mutex> lk(job->mu);
        ran = job->finished;
        rc = ran ? job->rc : status;
    }
    if (ran) ++stats_.syncs;
    Status st = Status::ok();
    if (rc != 0) {
        LOG_ERROR("store: mdb_env_sync failed: %s", mdb_strerror(rc));
        st =
            Status(make_error(500, "sync_failed",
                              std::string("syncing the data to disk failed: ") + mdb_strerror(rc)));
        // No immediate retry: Linux reports a writeback error once, so a second fsync would
        // "succeed" without the lost pages. The next commit starts the next sync.
    }
    for (auto& w : job->waiters)
        complete(std::move(w), st);
    job->waiters.clear();
    maybe_start_sync();
    drain_completions();
}

void Store::Impl::sync_now() {
    std::vector<std::function<void(Status)>> waiters;
    if (auto job = sync_job_) {
        // The worker only touches the env and the job: wait for it, never for the loop.
        std::unique_lock<std::mutex> lk(job->mu);
        job->cv.wait(lk, [&] { return job->finished; });
        lk.unlock();
        ++stats_.syncs;
        job->owner = nullptr; // its after-work callback becomes a no-op
        sync_job_.reset();
        waiters.swap(job->waiters);
    }
    for (auto& w : sync_waiting_)
        waiters.push_back(std::move(w));
    sync_waiting_.clear();
    // One more sync covers everything committed, including what the in-flight job missed.
    int rc = mdb_env_sync(env_->env(), 1);
    ++stats_.syncs;
    dirty_ = false;
    Status st = Status::ok();
    if (rc != 0) {
        LOG_ERROR("store: mdb_env_sync failed: %s", mdb_strerror(rc));
        st =
            Status(make_error(500, "sync_failed",
                              std::string("syncing the data to disk failed: ") + mdb_strerror(rc)));
    }
    for (auto& w : waiters)
        complete(std::move(w), st);
}

void Store::Impl::flush() {
    reset_read_txn();
    commit_queued(false);
    sync_now();
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
    sync_timer_.reset();
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
    if (rtxn_) mdb_txn_abort(rtxn_);
    rtxn_ = nullptr;
    wait_for_backup();
    env_.reset();
}

} // namespace ec::store
