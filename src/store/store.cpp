// Store: opening, the namespace mirror, KV and record reads on the per-iteration read txn.
#include "store/store.hpp"

#include <stdexcept>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "store/bytes.hpp"
#include "store/store_impl.hpp"
#include "store/tally.hpp"
#include "store/write_txn_impl.hpp"
#include "util/log.hpp"

namespace ec::store {

using detail::lmdb_error;
using detail::sv;

// ---- Impl: construction and reads ----

Store::Impl::Impl(loop::Loop& loop, const Options& opts, std::unique_ptr<Env> env)
    : loop_(loop), opts_(opts), env_(std::move(env)),
      codec_(env_->max_key_size(), env_->hash_key()) {
    try {
        load_namespaces();
    } catch (...) {
        // ~Impl does not run for a half-built Impl: drop the reader before env_ closes the env.
        if (rtxn_) mdb_txn_abort(rtxn_);
        throw;
    }
    hook_id_ = loop_.add_iteration_hook([this] { on_iteration(); });
    // Background timers must not keep the loop alive on their own.
    sweep_timer_ = std::make_unique<loop::Timer>(loop_.uv(), [this] { start_sweep(); });
    if (opts_.sweep_interval_ms > 0) {
        sweep_timer_->start(opts_.sweep_interval_ms, opts_.sweep_interval_ms);
        sweep_timer_->unref();
    }
    writer_ = std::make_unique<Writer>(
        loop_.uv(), *env_, codec_, opts_.durability, opts_.sync_interval_ms,
        [this](std::unique_ptr<Batch> b) { on_batch_done(std::move(b)); });
}

Result<MDB_txn*> Store::Impl::read_txn() {
    if (rtxn_active_) return rtxn_;
    int rc;
    if (rtxn_) {
        rc = mdb_txn_renew(rtxn_);
    } else {
        rc = mdb_txn_begin(env_->env(), nullptr, MDB_RDONLY, &rtxn_);
        if (rc != 0) rtxn_ = nullptr;
    }
    if (rc != 0) return lmdb_error(rc, "begin read transaction");
    rtxn_active_ = true;
    return rtxn_;
}

void Store::Impl::reset_read_txn() {
    // Releases the snapshot (so LMDB can reuse freed pages) but keeps the reader slot.
    if (rtxn_active_) {
        mdb_txn_reset(rtxn_);
        rtxn_active_ = false;
    }
}

void Store::Impl::add_namespace(const Namespace& ns) {
    if (by_title_.count(ns.title)) return;
    auto owned = std::make_unique<Namespace>(ns);
    by_id_[owned->id] = owned.get();
    by_title_.emplace(owned->title, std::move(owned));
}

void Store::Impl::load_namespaces() {
    auto t = read_txn();
    if (!t) throw std::runtime_error("cannot read namespaces: " + t.error().message);
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(*t, env_->dbs().namespaces, &cur);
    if (rc != 0)
        throw std::runtime_error(std::string("cannot read namespaces: ") + mdb_strerror(rc));
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        std::string_view key = sv(k);
        if (key.empty() || key[0] != 't') continue;
        Namespace ns;
        if (!decode_namespace(key.substr(1), sv(v), &ns)) {
            LOG_WARN("store: skipping a corrupt namespace record");
            continue;
        }
        add_namespace(ns);
    }
    mdb_cursor_close(cur);
    reset_read_txn();
    if (rc != MDB_NOTFOUND)
        throw std::runtime_error(std::string("cannot read namespaces: ") + mdb_strerror(rc));
}

Result<bool> Store::Impl::get_record(std::string_view skey, Record* out, bool want_payload) {
    auto t = read_txn();
    if (!t) return t.error();
    RecordView rv;
    auto found = find_record(ctx(*t), skey, &rv);
    if (!found || !*found) return found;
    if (rv.expires_at != 0 && rv.expires_at <= now_s()) {
        ++stats_.expired_on_read;
        return false;
    }
    out->key.assign(rv.key);
    out->expires_at = rv.expires_at;
    if (want_payload)
        out->payload.assign(rv.payload);
    else
        out->payload.clear();
    return true;
}

Result<bool> Store::Impl::kv_get(const Namespace& ns, std::string_view key, KvValue* out,
                                 bool want_value) {
    if (key.empty() || key.size() > kMaxKvKey) return false; // never stored
    auto t = read_txn();
    if (!t) return t.error();
    RecordView rv;
    auto found = find_record(ctx(*t), kv_storage_key(ns.num, key), &rv);
    if (!found || !*found) return found;
    if (rv.expires_at != 0 && rv.expires_at <= now_s()) {
        ++stats_.expired_on_read;
        return false;
    }
    std::string_view metadata, value;
    if (!decode_kv_payload(rv.payload, &metadata, &value))
        return make_error(500, "corrupt_record", "corrupt KV record in storage");
    // Copy out: the views die when the read transaction resets at the end of the iteration.
    out->metadata.assign(metadata);
    out->expiration = rv.expires_at;
    if (want_value)
        out->value.assign(value);
    else
        out->value.clear();
    return true;
}

Result<ScanPage> Store::Impl::scan_prefix(std::string_view prefix, std::string_view after,
                                          size_t limit,
                                          const std::function<void(const RecordView&)>& fn) {
    auto t = read_txn();
    if (!t) return t.error();
    return scan_live(ctx(*t), prefix, after, limit, now_s(), fn, &stats_.expired_skipped);
}

Result<KvListPage> Store::Impl::kv_list(const Namespace& ns, std::string_view prefix,
                                        std::string_view cursor, size_t limit) {
    if (limit < 1 || limit > 1000)
        return make_error(400, "bad_limit", "limit must be between 1 and 1000");
    std::string after;
    if (!cursor.empty()) {
        auto last = decode_cursor(cursor);
        if (!last) return make_error(400, "bad_cursor", "the cursor is not one this server issued");
        after = kv_storage_key(ns.num, *last);
    }
    KvListPage page;
    auto scanned =
        scan_prefix(kv_storage_key(ns.num, prefix), after, limit, [&](const RecordView& rv) {
            KvListEntry e;
            e.name.assign(rv.key.substr(kKvPrefixLen));
            std::string_view metadata, value;
            if (decode_kv_payload(rv.payload, &metadata, &value)) e.metadata.assign(metadata);
            e.expiration = rv.expires_at;
            page.keys.push_back(std::move(e));
        });
    if (!scanned) return scanned.error();
    page.complete = scanned->complete;
    if (!page.complete) page.cursor = encode_cursor(scanned->last_key.substr(kKvPrefixLen));
    return page;
}

Result<EntryCounts> Store::Impl::entry_counts() {
    auto t = read_txn();
    if (!t) return t.error();
    EntryCounts c;
    MDB_stat st;
    int rc = mdb_stat(*t, env_->dbs().records, &st);
    if (rc != 0) return lmdb_error(rc, "stat records");
    c.records = st.ms_entries;
    RecordTally tally;
    auto has_tally = read_tally(*t, env_->dbs(), &tally);
    if (!has_tally) return has_tally.error();
    c.kv_records = tally.count_of(RecordKind::kv);
    c.kv_bytes = tally.bytes_of(RecordKind::kv);
    c.cache_entries = tally.count_of(RecordKind::cache);
    c.cache_bytes = tally.bytes_of(RecordKind::cache);
    if ((rc = mdb_stat(*t, env_->dbs().expiry, &st)) != 0) return lmdb_error(rc, "stat expiry");
    c.expiry_entries = st.ms_entries;
    if ((rc = mdb_stat(*t, env_->dbs().namespaces, &st)) != 0)
        return lmdb_error(rc, "stat namespaces");
    c.namespaces = st.ms_entries / 2; // a title record and an id record each
    return c;
}

Store::MapUsage Store::Impl::map_usage() {
    MDB_envinfo info{};
    MDB_stat st{};
    mdb_env_info(env_->env(), &info);
    mdb_env_stat(env_->env(), &st);
    MapUsage u{static_cast<uint64_t>(info.me_mapsize), 0,
               (static_cast<uint64_t>(info.me_last_pgno) + 1) * st.ms_psize};
    // Pages in use now; freed pages below the high-water mark are reused by later writes.
    MDB_txn* txn = nullptr;
    if (mdb_txn_begin(env_->env(), nullptr, MDB_RDONLY, &txn) == 0) {
        const Dbs& d = env_->dbs();
        uint64_t pages = 0;
        for (MDB_dbi dbi :
             {MDB_dbi{0}, MDB_dbi{1}, d.records, d.expiry, d.tags, d.namespaces, d.meta, d.runs})
            if (mdb_stat(txn, dbi, &st) == 0)
                pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
        mdb_txn_abort(txn);
        u.used_bytes = pages * st.ms_psize;
    }
    return u;
}

// ---- Store: the public face ----

std::unique_ptr<Store> Store::open(loop::Loop& loop, const Options& opts) {
    auto env = Env::open(opts);
    // The map is only an upper bound; say so when the disk cannot hold it.
    struct statvfs fs;
    if (::statvfs(opts.data_dir.c_str(), &fs) == 0) {
        uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
        struct stat st;
        uint64_t file = ::stat((opts.data_dir + "/data.mdb").c_str(), &st) == 0
                            ? static_cast<uint64_t>(st.st_size)
                            : 0;
        if (opts.map_size > file + free_bytes)
            LOG_WARN("store: map_size %llu bytes exceeds the %llu bytes free on the filesystem of "
                     "%s (plus %llu in data.mdb): the disk fills before the map; writes then "
                     "answer 507 storage_full",
                     static_cast<unsigned long long>(opts.map_size),
                     static_cast<unsigned long long>(free_bytes), opts.data_dir.c_str(),
                     static_cast<unsigned long long>(file));
    }
    auto impl = std::make_unique<Impl>(loop, opts, std::move(env));
    LOG_INFO("store: opened %s (map %llu bytes, %s durability)", opts.data_dir.c_str(),
             static_cast<unsigned long long>(opts.map_size),
             opts.durability == Durability::sync ? "sync" : "batch");
    std::unique_ptr<Store> store(new Store(std::move(impl)));
    store->resume_namespace_deletions();
    return store;
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

const Namespace* Store::namespace_by_title(std::string_view title) const {
    auto it = impl_->by_title_.find(title);
    return it == impl_->by_title_.end() ? nullptr : it->second.get();
}

const Namespace* Store::namespace_by_id(std::string_view id) const {
    auto it = impl_->by_id_.find(id);
    return it == impl_->by_id_.end() ? nullptr : it->second;
}

std::vector<const Namespace*> Store::namespaces() const {
    std::vector<const Namespace*> out;
    out.reserve(impl_->by_title_.size());
    for (const auto& [title, ns] : impl_->by_title_)
        out.push_back(ns.get());
    return out;
}

Result<bool> Store::kv_get(const Namespace& ns, std::string_view key, KvValue* out,
                           bool want_value) {
    return impl_->kv_get(ns, key, out, want_value);
}

Result<KvListPage> Store::kv_list(const Namespace& ns, std::string_view prefix,
                                  std::string_view cursor, size_t limit) {
    return impl_->kv_list(ns, prefix, cursor, limit);
}

Result<bool> Store::get_record(std::string_view skey, Record* out, bool want_payload) {
    return impl_->get_record(skey, out, want_payload);
}

Result<ScanPage> Store::scan_prefix(std::string_view prefix, std::string_view after, size_t limit,
                                    const std::function<void(const RecordView&)>& fn) {
    return impl_->scan_prefix(prefix, after, limit, fn);
}

void Store::submit(WriteOp op) {
    impl_->submit(std::move(op));
}

void Store::kv_put(std::string ns_title, std::string key, std::string value, std::string metadata,
                   int64_t expiration, std::function<void(Status)> done) {
    WriteOp op;
    op.bytes_hint = value.size() + metadata.size();
    op.apply = [title = std::move(ns_title), key = std::move(key), value = std::move(value),
                metadata = std::move(metadata), expiration](WriteTxn& txn) -> Status {
        auto ns = txn.namespace_for_title(title, true);
        if (!ns) return ns.error();
        return txn.kv_put(*ns, key, value, metadata, expiration);
    };
    op.done = std::move(done);
    impl_->submit(std::move(op));
}

void Store::kv_delete(std::string ns_title, std::string key, std::function<void(Status)> done) {
    WriteOp op;
    op.apply = [title = std::move(ns_title), key = std::move(key)](WriteTxn& txn) -> Status {
        auto ns = txn.namespace_for_title(title, false);
        if (!ns) {
            // Deleting from a namespace that does not exist succeeds and creates nothing.
            if (ns.error().code == "namespace_not_found") return Status::ok();
            return ns.error();
        }
        auto r = txn.kv_delete(*ns, key);
        return r ? Status::ok() : Status(r.error());
    };
    op.done = std::move(done);
    impl_->submit(std::move(op));
}

void Store::flush() {
    impl_->flush();
}

const StoreStats& Store::stats() const {
    uint64_t w = impl_->writer_->syncs();
    impl_->stats_.syncs += w - impl_->writer_syncs_seen_;
    impl_->writer_syncs_seen_ = w;
    return impl_->stats_;
}
const char* Store::fault_reason() const {
    return fault_name(impl_->fault_);
}
const std::string& Store::fault_message() const {
    return impl_->fault_message_;
}
bool Store::admit_optional_write() {
    Impl& im = *impl_;
    if (im.fault_ != StorageFault::disk_full && im.fault_ != StorageFault::io) return true;
    uint64_t now = im.loop_.clock().mono_ms();
    if (im.last_probe_ms_ != 0 && now - im.last_probe_ms_ < 1000) return false;
    im.last_probe_ms_ = now;
    return true;
}

void Store::reset_stats() {
    impl_->stats_ = {};
}
Result<EntryCounts> Store::entry_counts() {
    return impl_->entry_counts();
}
Store::MapUsage Store::map_usage() {
    return impl_->map_usage();
}

void Store::set_commit_gate_for_test(std::function<void()> gate) {
    impl_->writer_->set_gate_for_test(std::move(gate));
}

void Store::sweep_now_for_test() {
    impl_->start_sweep();
}

} // namespace ec::store

namespace ec::store {

void Store::set_eviction_filter(std::function<bool(std::string_view key)> skip) {
    impl_->eviction_skip_ = std::move(skip);
}

void Store::apply(const config::StoreSettings& settings) {
    impl_->opts_.evictable_namespaces = settings.evictable_namespaces;
    impl_->opts_.sync_interval_ms = settings.sync_interval_ms;
    impl_->writer_->set_sync_interval(settings.sync_interval_ms);
}

} // namespace ec::store
