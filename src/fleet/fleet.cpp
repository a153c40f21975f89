// Fleet: the loop side — write requests waiting for JetStream and the local apply, the apply
// ops with their sequence, resubscription and resynchronisation.
#include "fleet/fleet.hpp"

#include "fleet/apply.hpp"
#include "store/key_codec.hpp"
#include "util/log.hpp"

namespace ec::fleet {

struct Fleet::Pending {
    std::function<void(Status)> done;
    std::unique_ptr<loop::Timer> timer;
    uint64_t started_ms = 0; // Link::now_ms()
    bool finished = false;
};

Fleet::Fleet(loop::Loop& loop, store::Store& store, const config::FleetSpec& spec, std::string node)
    : loop_(loop), store_(store), spec_(spec), node_(std::move(node)),
      write_hist_(std::size(kWriteBuckets) + 1, 0) {
    state_.reason = "connecting to NATS";
    LinkSettings ls;
    ls.servers = spec.nats;
    ls.token = spec.token;
    ls.credentials_file = spec.credentials_file;
    ls.name = "edgecached " + node_;
    ls.node = node_;
    ls.replicas = int(spec.replicas);
    LinkEvents ev;
    std::weak_ptr<bool> alive = alive_;
    ev.on_connection = [this](bool connected, std::string detail) {
        if (state_.connected != connected)
            LOG_INFO("fleet: %s %s", connected ? "connected to" : "NATS:", detail.c_str());
        state_.connected = connected;
        if (connected) {
            state_.server = detail;
            if (!state_.ready) state_.reason = "opening the JetStream bucket";
        } else {
            state_.server.clear();
            state_.ready = false;
            state_.reason = detail;
        }
    };
    ev.on_ready = [this](int64_t max_payload) {
        state_.max_payload = max_payload;
        state_.ready = state_.connected;
        if (state_.ready) state_.reason.clear();
    };
    ev.on_changes = [this](uint64_t gen, std::vector<Change> changes, uint64_t pending) {
        on_changes(gen, std::move(changes), pending);
    };
    ev.on_purge = [this](uint64_t seq, std::string payload, std::function<void()> ack) {
        if (!purge_applier_) return ack();
        ++state_.purges_pending;
        purge_applier_(seq, std::move(payload), [this, alive = std::weak_ptr<bool>(alive_), ack] {
            // Applied after the fleet stopped (a slice finishing at shutdown): the Link is gone
            // and the purge stays unacknowledged, so it is applied again on the next start.
            if (alive.expired()) return;
            --state_.purges_pending;
            ++state_.purges_applied;
            ack();
        });
    };
    ev.on_purge_gap = [this] {
        LOG_WARN("fleet: node %s was away longer than the purge stream keeps purges (%lld s): "
                 "purging everything it holds",
                 node_.c_str(), static_cast<long long>(kPurgeRetentionS));
        if (purge_everything_) purge_everything_();
    };
    link_ = std::make_unique<Link>(loop_, std::move(ls), std::move(ev));
    resume_timer_ = std::make_unique<loop::Timer>(loop_.uv(), [this] { resume(); });
    resume_timer_->unref();
    resume();
}

Fleet::~Fleet() {
    link_.reset(); // joins the NATS thread: no completion runs after this
    for (auto& [seq, p] : waiters_)
        if (p->timer) p->timer->stop();
}

// ---- writes ----

Fleet::PendingPtr Fleet::begin(std::function<void(Status)> done) {
    auto p = std::make_shared<Pending>();
    p->done = std::move(done);
    p->started_ms = Link::now_ms();
    std::weak_ptr<Pending> weak = p;
    p->timer = std::make_unique<loop::Timer>(loop_.uv(), [this, weak] {
        if (auto pp = weak.lock())
            finish(pp, make_error(503, "fleet_unavailable",
                                  "the fleet did not accept and apply the write within "
                                  "fleet.write_timeout_ms (" +
                                      std::to_string(spec_.write_timeout_ms) + " ms)"));
    });
    p->timer->start(spec_.write_timeout_ms);
    return p;
}

uint64_t Fleet::deadline(const PendingPtr& p) const {
    return p->started_ms + spec_.write_timeout_ms;
}

void Fleet::finish(const PendingPtr& p, Status st) {
    if (p->finished) return;
    p->finished = true;
    p->timer->stop();
    for (auto it = waiters_.begin(); it != waiters_.end(); ++it)
        if (it->second == p) {
            waiters_.erase(it);
            break;
        }
    if (st) {
        ++state_.writes_ok;
        double secs = double(Link::now_ms() - p->started_ms) / 1000.0;
        size_t b = 0;
        while (b < std::size(kWriteBuckets) && secs > kWriteBuckets[b])
            ++b;
        ++write_hist_[b];
        write_sum_ += secs;
    } else {
        ++state_.writes_failed;
    }
    auto done = std::move(p->done);
    if (done) done(std::move(st));
}

void Fleet::wait_applied(const PendingPtr& p, uint64_t seq) {
    if (p->finished) return;
    if (state_.applied_seq >= seq) return finish(p, Status::ok());
    waiters_.emplace(seq, p);
}

void Fleet::publish_entries(const PendingPtr& p, const std::string& ns_id,
                            std::vector<EntryWrite> writes) {
    std::vector<Link::Publication> pubs;
    pubs.reserve(writes.size());
    for (auto& w : writes) {
        Link::Publication pub;
        pub.key = entry_key(ns_id, w.key);
        if (w.del) {
            pub.headers.push_back({"KV-Operation", "DEL"});
        } else {
            pub.payload = encode_entry(w.value, w.metadata, w.expiration);
            // The subject, headers and framing take a little room of their own.
            if (state_.max_payload > 0 &&
                int64_t(pub.payload.size() + pub.key.size() + 256) > state_.max_payload)
                return finish(p, make_error(413, "value_too_large",
                                            "the value is larger than the NATS server's "
                                            "max_payload (" +
                                                std::to_string(state_.max_payload) +
                                                " bytes); raise max_payload in nats-server.conf"));
        }
        pubs.push_back(std::move(pub));
    }
    if (pubs.empty()) return finish(p, Status::ok());
    std::weak_ptr<bool> alive = alive_;
    link_->publish_all(std::move(pubs), deadline(p), [this, alive, p](Result<uint64_t> r) {
        if (alive.expired()) return;
        if (!r) return finish(p, r.error());
        wait_applied(p, *r);
    });
}

void Fleet::write(std::string ns_title, bool create, std::vector<EntryWrite> writes,
                  std::function<void(Status)> done) {
    PendingPtr p = begin(std::move(done));
    if (const store::Namespace* ns = store_.namespace_by_title(ns_title))
        return publish_entries(p, ns->id, std::move(writes));
    if (!create) return finish(p, Status::ok());
    // The first write to a new title claims it for a fresh id; a node that lost the race
    // writes into the winner's namespace.
    auto id = store::random_namespace_id();
    if (!id) return finish(p, id.error());
    std::weak_ptr<bool> alive = alive_;
    auto shared = std::make_shared<std::vector<EntryWrite>>(std::move(writes));
    link_->claim(title_key(ns_title), std::move(*id), deadline(p),
                 [this, alive, p, shared](Result<Link::Claim> r) {
                     if (alive.expired()) return;
                     if (!r) return finish(p, r.error());
                     publish_entries(p, r->holder, std::move(*shared));
                 });
}

void Fleet::write_by_id(std::string ns_id, std::vector<EntryWrite> writes,
                        std::function<void(Status)> done) {
    PendingPtr p = begin(std::move(done));
    if (!store_.namespace_by_id(ns_id)) return finish(p, store::namespace_not_found(ns_id));
    publish_entries(p, ns_id, std::move(writes));
}

std::function<void(Status)>
Fleet::answer_namespace(std::string id, std::function<void(Result<store::Namespace>)> done) {
    return [this, id = std::move(id), done = std::move(done)](Status st) {
        if (!st) return done(st.error());
        const store::Namespace* ns = store_.namespace_by_id(id);
        if (!ns) return done(store::namespace_not_found(id));
        done(*ns);
    };
}

void Fleet::create_namespace(std::string title,
                             std::function<void(Result<store::Namespace>)> done) {
    auto made = store::random_namespace_id();
    if (!made) return done(made.error());
    std::string id = std::move(*made);
    PendingPtr p = begin(answer_namespace(id, std::move(done)));
    if (store_.namespace_by_title(title)) return finish(p, store::namespace_title_taken(title));
    std::weak_ptr<bool> alive = alive_;
    link_->claim(title_key(title), id, deadline(p),
                 [this, alive, p, id, title](Result<Link::Claim> r) {
                     if (alive.expired()) return;
                     if (!r) return finish(p, r.error());
                     if (r->holder != id) return finish(p, store::namespace_title_taken(title));
                     wait_applied(p, r->seq);
                 });
}

void Fleet::rename_namespace(std::string id, std::string title,
                             std::function<void(Result<store::Namespace>)> done) {
    PendingPtr p = begin(answer_namespace(id, std::move(done)));
    const store::Namespace* ns = store_.namespace_by_id(id);
    if (!ns) return finish(p, store::namespace_not_found(id));
    if (ns->title == title) return finish(p, Status::ok());
    std::string old_title = ns->title;
    std::weak_ptr<bool> alive = alive_;
    link_->claim(title_key(title), id, deadline(p),
                 [this, alive, p, id, title, old_title](Result<Link::Claim> r) {
                     if (alive.expired()) return;
                     if (!r) return finish(p, r.error());
                     if (r->holder != id) return finish(p, store::namespace_title_taken(title));
                     // The old title goes; without the drop header its DEL leaves the namespace be.
                     link_->publish(title_key(old_title), "", {{"KV-Operation", "DEL"}},
                                    deadline(p), [this, alive, p](Result<uint64_t> r2) {
                                        if (alive.expired()) return;
                                        if (!r2) return finish(p, r2.error());
                                        wait_applied(p, *r2);
                                    });
                 });
}

void Fleet::delete_namespace(std::string id, std::function<void(Status)> done) {
    PendingPtr p = begin(std::move(done));
    const store::Namespace* ns = store_.namespace_by_id(id);
    if (!ns) return finish(p, store::namespace_not_found(id));
    std::weak_ptr<bool> alive = alive_;
    link_->publish(title_key(ns->title), "", {{"KV-Operation", "DEL"}, {kHeaderDropNs, id}},
                   deadline(p), [this, alive, p, id](Result<uint64_t> r) {
                       if (alive.expired()) return;
                       if (!r) return finish(p, r.error());
                       // Every node drops the namespace at the marker; its entries need not
                       // stay in the stream (a node catching up skips them).
                       link_->purge_subjects("k." + id + ".>");
                       wait_applied(p, *r);
                   });
}

// ---- purges ----

void Fleet::publish_purge(std::string payload, std::function<void(Result<uint64_t>)> done) {
    auto seq = std::make_shared<uint64_t>(0);
    PendingPtr p = begin([seq, done = std::move(done)](Status st) {
        if (st)
            done(*seq);
        else
            done(st.error());
    });
    std::weak_ptr<bool> alive = alive_;
    link_->publish_purge(std::move(payload), deadline(p),
                         [this, alive, p, seq](Result<uint64_t> r) {
                             if (alive.expired()) return;
                             if (!r) return finish(p, r.error());
                             *seq = *r;
                             finish(p, Status::ok());
                         });
}

void Fleet::purge_progress(uint64_t seq, std::function<void(Result<Link::PurgeProgress>)> done) {
    link_->purge_progress(seq, std::move(done));
}

// ---- applying the stream ----

void Fleet::resume() {
    uint64_t gen = ++generation_;
    auto stored = std::make_shared<uint64_t>(0);
    store::WriteOp op;
    op.apply = [stored](store::WriteTxn& txn) -> Status {
        auto r = read_applied_seq(txn);
        if (!r) return r.error();
        *stored = *r;
        return Status::ok();
    };
    std::weak_ptr<bool> alive = alive_;
    op.done = [this, alive, stored, gen](Status st) {
        if (alive.expired() || gen != generation_) return;
        if (!st) {
            LOG_ERROR("fleet: cannot read the applied sequence: %s", st.error().message.c_str());
            resume_timer_->start(1000);
            return;
        }
        state_.applied_seq = std::max(state_.applied_seq, *stored);
        expect_prev_ = *stored;
        restart_at_.reset();
        LOG_INFO("fleet: node %s applies the stream from sequence %llu", node_.c_str(),
                 static_cast<unsigned long long>(*stored + 1));
        link_->subscribe(*stored, gen, [this, alive, gen](uint64_t first, uint64_t msgs) {
            if (!alive.expired() && gen == generation_) on_gap(first, msgs);
        });
    };
    store_.submit(std::move(op));
}

void Fleet::on_gap(uint64_t first, uint64_t msgs) {
    LOG_WARN("fleet: the stream no longer holds sequence %llu (it starts at %llu): "
             "resynchronising every namespace from the bucket's current state",
             static_cast<unsigned long long>(expect_prev_ + 1),
             static_cast<unsigned long long>(first));
    ++state_.resyncs;
    state_.resyncing = true;
    resync_seen_.clear();
    uint64_t gen = ++generation_;
    uint64_t restart = first > 0 ? first - 1 : 0;
    std::weak_ptr<bool> alive = alive_;
    if (msgs == 0) {
        // Nothing will be delivered: record the new position and sweep now.
        on_changes_empty_restart(gen, restart);
    } else {
        restart_at_ = restart;
    }
    link_->subscribe(restart, gen, [this, alive, gen](uint64_t again, uint64_t n) {
        if (!alive.expired() && gen == generation_) on_gap(again, n);
    });
}

void Fleet::on_changes_empty_restart(uint64_t generation, uint64_t restart) {
    auto outcome = std::make_shared<ApplyOutcome>();
    store::WriteOp op;
    op.apply = [outcome, restart](store::WriteTxn& txn) -> Status {
        return apply_changes(txn, {}, 0, outcome.get(), restart);
    };
    std::weak_ptr<bool> alive = alive_;
    op.on_commit = [this, alive, generation, restart] {
        if (alive.expired() || generation != generation_) return;
        state_.applied_seq = restart;
        expect_prev_ = restart;
        finish_resync();
    };
    store_.submit(std::move(op));
}

void Fleet::on_changes(uint64_t generation, std::vector<Change> changes, uint64_t pending) {
    if (generation != generation_ || changes.empty()) return;
    state_.lag_messages = pending;
    last_change_ns_ = changes.back().timestamp_ns;
    bool names_change = false;
    for (const Change& c : changes) {
        if (c.kind == Change::Kind::name_namespace || c.kind == Change::Kind::drop_title)
            names_change = true;
        if (state_.resyncing &&
            (c.kind == Change::Kind::put_entry || c.kind == Change::Kind::delete_entry)) {
            std::string k = c.ns_id + "/" + c.key;
            if (c.kind == Change::Kind::put_entry)
                resync_seen_.insert(std::move(k));
            else
                resync_seen_.erase(k);
        }
    }
    auto run = std::make_shared<std::vector<Change>>(std::move(changes));
    auto outcome = std::make_shared<ApplyOutcome>();
    uint64_t prev = expect_prev_;
    std::optional<uint64_t> restart = restart_at_;
    restart_at_.reset();
    expect_prev_ = run->back().seq;
    bool resync_done = state_.resyncing && pending == 0;
    store::WriteOp op;
    op.apply = [run, outcome, prev, restart](store::WriteTxn& txn) -> Status {
        return apply_changes(txn, *run, prev, outcome.get(), restart);
    };
    std::weak_ptr<bool> alive = alive_;
    bool restarted = restart.has_value();
    op.on_commit = [this, alive, outcome, names_change, resync_done, generation, restarted] {
        if (alive.expired()) return;
        // A resynchronisation may move the position back (the bucket was recreated).
        if (restarted) state_.applied_seq = 0;
        if (names_change || !outcome->unlinked.empty())
            store_.namespaces_changed(outcome->unlinked);
        state_.apply_total += outcome->applied;
        on_applied(outcome->applied_seq);
        if (resync_done && generation == generation_) finish_resync();
    };
    op.done = [this, alive, generation](Status st) {
        if (st || alive.expired() || generation != generation_) return;
        // Later runs of this subscription fail their sequence check: start again from what
        // the store holds, a little later (a full disk needs time).
        LOG_ERROR("fleet: applying changes failed: %s; resubscribing from the stored sequence",
                  st.error().message.c_str());
        ++generation_;
        resume_timer_->start(500);
    };
    size_t bytes = 0;
    for (const Change& c : *run)
        bytes += c.value.size() + c.metadata.size() + c.key.size();
    op.bytes_hint = bytes;
    store_.submit(std::move(op));
}

void Fleet::on_applied(uint64_t seq) {
    if (seq <= state_.applied_seq) return;
    state_.applied_seq = seq;
    while (!waiters_.empty() && waiters_.begin()->first <= seq) {
        PendingPtr p = waiters_.begin()->second;
        waiters_.erase(waiters_.begin());
        finish(p, Status::ok());
    }
}

void Fleet::finish_resync() {
    state_.resyncing = false;
    auto seen = std::make_shared<std::set<std::string>>(std::move(resync_seen_));
    resync_seen_.clear();
    struct Ns {
        uint32_t num;
        std::string id;
    };
    auto spaces = std::make_shared<std::vector<Ns>>();
    for (const store::Namespace* ns : store_.namespaces())
        spaces->push_back({ns->num, ns->id});
    auto deleted = std::make_shared<size_t>(0);
    store::WriteOp op;
    op.apply = [seen, spaces, deleted](store::WriteTxn& txn) -> Status {
        *deleted = 0;
        for (const Ns& ns : *spaces) {
            std::string prefix = store::kv_storage_prefix(ns.num);
            std::string after;
            for (;;) {
                std::vector<std::string> gone;
                auto page = txn.scan_prefix(prefix, after, 1000, [&](const store::RecordView& rv) {
                    std::string_view key = rv.key.substr(prefix.size());
                    if (!seen->count(ns.id + "/" + std::string(key))) gone.emplace_back(rv.key);
                });
                if (!page) return page.error();
                for (const std::string& k : gone) {
                    auto r = txn.delete_record(k);
                    if (!r) return r.error();
                    ++*deleted;
                }
                if (page->complete) break;
                after = page->last_key;
            }
        }
        return Status::ok();
    };
    op.done = [deleted](Status st) {
        if (st)
            LOG_WARN("fleet: resynchronised from the bucket; %zu local key(s) the fleet no "
                     "longer has were deleted",
                     *deleted);
        else
            LOG_ERROR("fleet: resynchronisation could not delete stale keys: %s",
                      st.error().message.c_str());
    };
    store_.submit(std::move(op));
}

// ---- status ----

FleetStatus Fleet::status() const {
    FleetStatus s = state_;
    if (s.lag_messages > 0 && last_change_ns_ > 0) {
        double now_ns = double(loop_.clock().now_ms()) * 1e6;
        s.lag_seconds = std::max(0.0, (now_ns - double(last_change_ns_)) / 1e9);
    }
    return s;
}

std::string Fleet::health_reason() const {
    if (state_.ready) return "";
    return "fleet: " + state_.reason;
}

} // namespace ec::fleet
