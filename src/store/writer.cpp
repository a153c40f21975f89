// Writer: runs each batch's ops in LMDB write transactions on its own thread (group commit).
#include "store/writer.hpp"

#include <cerrno>
#include <chrono>
#include <exception>
#include <sys/statvfs.h>

#include "store/bytes.hpp"
#include "store/tally.hpp"
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

// Below this much free space an EIO from a write is taken for a full disk.
constexpr uint64_t kNearlyFullBytes = 1 << 20;

} // namespace

const char* fault_name(StorageFault f) {
    switch (f) {
    case StorageFault::map_full:
        return "map_full";
    case StorageFault::disk_full:
        return "disk_full";
    case StorageFault::io:
        return "io";
    case StorageFault::none:
        break;
    }
    return "";
}

StorageFault classify_fault(int rc, const std::string& dir) {
    if (rc == MDB_MAP_FULL) return StorageFault::map_full;
    if (rc == ENOSPC || rc == EDQUOT) return StorageFault::disk_full;
    if (rc == EIO) {
        struct statvfs fs;
        if (::statvfs(dir.c_str(), &fs) == 0 &&
            static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize < kNearlyFullBytes)
            return StorageFault::disk_full;
    }
    return StorageFault::io;
}

Writer::Writer(uv_loop_t* loop, const Env& env, const KeyCodec& codec, Durability durability,
               uint32_t sync_interval_ms, std::function<void(std::unique_ptr<Batch>)> on_done)
    : env_(env), codec_(codec), durability_(durability), sync_interval_ms_(sync_interval_ms),
      on_done_(std::move(on_done)) {
    int rc = uv_async_init(loop, async_.get(), &Writer::on_async);
    if (rc != 0)
        throw std::runtime_error(std::string("cannot create the store's async handle: ") +
                                 uv_strerror(rc));
    async_.mark_initialized();
    async_.get()->data = this;
    // Only a batch in flight keeps the loop alive.
    uv_unref(reinterpret_cast<uv_handle_t*>(async_.get()));
    thread_ = std::thread([this] { thread_main(); });
}

Writer::~Writer() {
    {
        std::lock_guard<std::mutex> lk(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    async_.close(); // no callback after this; libuv frees the handle in its close callback
}

void Writer::set_sync_interval(uint32_t ms) {
    {
        std::lock_guard<std::mutex> lk(mu_);
        sync_interval_ms_ = ms;
        interval_changed_ = true;
    }
    cv_.notify_all();
}

void Writer::start(std::unique_ptr<Batch> b) {
    in_flight_ = true;
    uv_ref(reinterpret_cast<uv_handle_t*>(async_.get()));
    {
        std::lock_guard<std::mutex> lk(mu_);
        in_ = std::move(b);
    }
    cv_.notify_all();
}

std::unique_ptr<Batch> Writer::wait() {
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [this] { return out_ != nullptr; });
    in_flight_ = false;
    uv_unref(reinterpret_cast<uv_handle_t*>(async_.get()));
    return std::move(out_);
}

void Writer::on_async(uv_async_t* h) {
    auto* self = static_cast<Writer*>(h->data);
    if (!self) return;
    std::unique_ptr<Batch> b;
    {
        std::lock_guard<std::mutex> lk(self->mu_);
        b = std::move(self->out_);
    }
    // A periodic sync's report, or a batch wait() already took.
    if (!b) {
        if (!self->in_flight_) self->on_done_(nullptr);
        return;
    }
    self->in_flight_ = false;
    uv_unref(reinterpret_cast<uv_handle_t*>(self->async_.get()));
    self->on_done_(std::move(b));
}

void Writer::thread_main() {
    using Clock = std::chrono::steady_clock;
    bool dirty = false;            // batch durability: committed since the last sync
    Clock::time_point dirty_since; // the first commit since the last sync
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
        // Read under the lock each time round: a reload may have changed the interval.
        auto sync_due = dirty_since + std::chrono::milliseconds(sync_interval_ms_);
        auto woken = [this] { return in_ || stop_ || interval_changed_; };
        if (dirty && sync_interval_ms_ > 0)
            cv_.wait_until(lk, sync_due, woken);
        else
            cv_.wait(lk, woken);
        interval_changed_ = false;
        sync_due = dirty_since + std::chrono::milliseconds(sync_interval_ms_);
        if (in_) {
            std::unique_ptr<Batch> b = std::move(in_);
            lk.unlock();
            run(*b);
            if (durability_ == Durability::batch && b->commits > 0 && !dirty) {
                dirty = true;
                dirty_since = Clock::now();
            }
            lk.lock();
            out_ = std::move(b);
            done_cv_.notify_all();
            uv_async_send(async_.get());
            continue;
        }
        if (stop_) return; // the loop waited for its last batch before destroying us
        if (dirty && Clock::now() >= sync_due) {
            lk.unlock();
            // MDB_NOMETASYNC left the last meta page unsynced: this makes it durable.
            int rc = mdb_env_sync(env_.env(), 1);
            syncs_.fetch_add(1, std::memory_order_relaxed);
            dirty = false;
            if (rc != 0) {
                sync_error_.store(rc);
                uv_async_send(async_.get());
            }
            lk.lock();
        }
    }
}

void Writer::run(Batch& b) {
    if (gate_) gate_();
    size_t n = b.ops.size();
    b.status.resize(n, Status::ok());
    b.committed.resize(n, false);
    b.fault.resize(n, StorageFault::none);
    if (b.evict.want > 0) evict(b);
    if (b.commits > 0) freed_pages_reusable_ = false;
    if (b.map_full_round > 0) {
        // Pointless when this round made no room: nothing evicted, and nothing committed since
        // the last commit below (so a write refused at a full map costs no commit).
        if (b.freed == 0 && freed_pages_reusable_) return;
        // LMDB hands out the pages a transaction freed only from the second transaction after
        // it. Run right after the eviction, the ops could not use what it freed: they got 507
        // with the room right there, and when the eviction had taken the last evictable record,
        // so did every later write, for good. One more commit first; it also makes what a
        // delete just before this batch freed usable.
        if (!commit_to_reuse_freed_pages(b) && b.freed == 0) return;
    }
    uint64_t commits = b.commits;
    run_ops(b, b.idx);
    if (b.commits != commits) freed_pages_reusable_ = false;
}

bool Writer::commit_to_reuse_freed_pages(Batch& b) {
    MDB_txn* txn = nullptr;
    if (mdb_txn_begin(env_.env(), nullptr, 0, &txn) != 0) return false;
    if (!rewrite_tally(txn, env_.dbs())) {
        mdb_txn_abort(txn);
        return false;
    }
    if (mdb_txn_commit(txn) != 0) return false; // the commit freed the transaction
    ++b.commits;
    freed_pages_reusable_ = true;
    return true;
}

void Writer::run_ops(Batch& b, std::vector<size_t> idx) {
    while (!idx.empty()) {
        MDB_txn* txn = nullptr;
        int rc = mdb_txn_begin(env_.env(), nullptr, 0, &txn);
        if (rc != 0) {
            Error e = lmdb_error(rc, "begin write transaction");
            for (size_t i : idx) {
                b.status[i] = e;
                b.fault[i] = classify_fault(rc, env_.dir());
            }
            b.commit_rc = rc;
            return;
        }
        WriteTxnImpl wt(txn, env_.dbs(), codec_, b.now_s);
        bool retry = false;
        for (size_t pos = 0; pos < idx.size(); ++pos) {
            Status st = apply_op(b.ops[idx[pos]], wt);
            if (!st) {
                // The op may have written half its changes: drop the whole txn and rerun the
                // batch without it, so one bad write never fails the others.
                mdb_txn_abort(txn);
                b.status[idx[pos]] = st;
                // Inside a transaction LMDB only runs out of room in the map (pages reach the
                // disk at commit).
                if (st.error().http == 507) b.fault[idx[pos]] = StorageFault::map_full;
                idx.erase(idx.begin() + static_cast<ptrdiff_t>(pos));
                retry = true;
                break;
            }
        }
        if (retry) continue;
        // The record tally's one update for the whole transaction.
        if (Status st = wt.flush_tally(); !st) {
            mdb_txn_abort(txn);
            if (idx.size() > 1) {
                for (size_t i : idx) // as for a failed commit: find the op by running each alone
                    run_ops(b, {i});
                return;
            }
            b.status[idx[0]] = st;
            if (st.error().http == 507) b.fault[idx[0]] = StorageFault::map_full;
            return;
        }
        b.expired_skipped += wt.expired_skipped();
        // sync durability: data pages fsynced, then the meta page written and fsynced.
        // batch (MDB_NOMETASYNC): the same without the meta page's fsync.
        rc = mdb_txn_commit(txn);
        if (rc != 0) {
            b.commit_rc = rc;
            if (idx.size() > 1) {
                // Can't tell which op made the commit fail (MDB_MAP_FULL while saving the free
                // list, a full disk under a big value): commit them one by one.
                for (size_t i : idx)
                    run_ops(b, {i});
                return;
            }
            b.status[idx[0]] = lmdb_error(rc, "commit");
            b.fault[idx[0]] = classify_fault(rc, env_.dir());
            return;
        }
        ++b.commits;
        for (size_t i : idx)
            b.committed[i] = true;
        for (const auto& ns : wt.created())
            b.created.push_back(ns);
        return;
    }
}

void Writer::evict(Batch& b) {
    RecordCtx c{nullptr, &env_.dbs(), &codec_};
    // 1. Expired records: nobody can read them any more.
    MDB_txn* txn = nullptr;
    if (mdb_txn_begin(env_.env(), nullptr, 0, &txn) == 0) {
        c.txn = txn;
        auto r = delete_expired(c, b.now_s, b.evict.want);
        if (r && r->deleted > 0 && mdb_txn_commit(txn) == 0) {
            ++b.commits;
            b.freed += r->deleted;
            b.expired_swept += r->deleted;
        } else if (!r || r->deleted == 0) {
            mdb_txn_abort(txn);
        }
    }
    if (b.freed >= b.evict.want || b.evict.victims.empty()) return;

    // 2. The cold records the loop chose, until enough went.
    if (mdb_txn_begin(env_.env(), nullptr, 0, &txn) != 0) return;
    c.txn = txn;
    size_t deleted = 0;
    for (const std::string& key : b.evict.victims) {
        if (b.freed + deleted >= b.evict.want) break;
        auto r = delete_record(c, key);
        if (!r) break;
        deleted += r->has_value();
    }
    if (deleted == 0) {
        mdb_txn_abort(txn);
        return;
    }
    if (mdb_txn_commit(txn) != 0) return;
    ++b.commits;
    b.evicted += deleted;
    b.freed += deleted;
}

} // namespace ec::store
