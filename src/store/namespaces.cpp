// Namespace administration: create, rename, delete (keys removed in bounded, resumable batches).
#include <map>

#include "store/bytes.hpp"
#include "store/env.hpp"
#include "store/store_impl.hpp"
#include "store/write_txn_impl.hpp"
#include "util/log.hpp"

namespace ec::store {

using detail::lmdb_error;
using detail::mval;
using detail::sv;

namespace {

// Meta-database key marking namespace `num` as deleted with keys still to remove.
constexpr std::string_view kDeletingPrefix = "ns_deleting:";

std::string deleting_key(uint32_t num) {
    std::string k(kDeletingPrefix);
    detail::put_be32(k, num);
    return k;
}

// Rebuilds the in-memory mirror from the committed namespace records. Objects of namespaces
// that still exist keep their address (a rename only changes the title).
void resync_mirror(Store::Impl& im) {
    auto t = im.read_txn();
    if (!t) {
        LOG_ERROR("store: cannot reload namespaces: %s", t.error().message.c_str());
        return;
    }
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(*t, im.env_->dbs().namespaces, &cur);
    if (rc != 0) {
        LOG_ERROR("store: cannot reload namespaces: %s", mdb_strerror(rc));
        return;
    }
    std::vector<Namespace> fresh;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        std::string_view key = sv(k);
        Namespace ns;
        if (!key.empty() && key[0] == 't' && decode_namespace(key.substr(1), sv(v), &ns))
            fresh.push_back(std::move(ns));
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND) {
        LOG_ERROR("store: cannot reload namespaces: %s", mdb_strerror(rc));
        return;
    }
    std::map<std::string, std::unique_ptr<Namespace>, std::less<>> old_by_id;
    for (auto& [title, owned] : im.by_title_)
        old_by_id.emplace(owned->id, std::move(owned));
    im.by_title_.clear();
    im.by_id_.clear();
    for (Namespace& ns : fresh) {
        std::unique_ptr<Namespace> owned;
        if (auto it = old_by_id.find(ns.id); it != old_by_id.end()) {
            owned = std::move(it->second);
            *owned = std::move(ns);
        } else {
            owned = std::make_unique<Namespace>(std::move(ns));
        }
        im.by_id_[owned->id] = owned.get();
        im.by_title_.emplace(owned->title, std::move(owned));
    }
}

// Submits one batch of the key deletion of unlinked namespace `num`; the next batch is
// submitted when this one commits, so each commit carries at most one bounded batch.
void submit_delete_batch(Store::Impl& im, uint32_t num) {
    auto more = std::make_shared<bool>(false);
    WriteOp op;
    op.apply = [num, more](WriteTxn& txn) -> Status {
        // Ops of this store always run in a WriteTxnImpl (commit.cpp builds it).
        auto r = static_cast<WriteTxnImpl&>(txn).delete_namespace_records(
            num, Store::kNamespaceDeleteBatch);
        if (!r) return r.error();
        *more = r->more; // assigned, not accumulated: apply may run again on a retry
        return Status::ok();
    };
    Store::Impl* imp = &im;
    op.on_commit = [imp, num, more] {
        if (*more) submit_delete_batch(*imp, num);
    };
    op.done = [num](Status st) {
        // The mark stays: the deletion resumes at the next start.
        if (!st)
            LOG_WARN("store: deleting the keys of namespace #%u failed: %s", num,
                     st.error().message.c_str());
    };
    im.submit(std::move(op));
}

} // namespace

// ---- WriteTxnImpl: the namespace records ----

Result<Namespace> WriteTxnImpl::namespace_for_id(std::string_view id) {
    std::string ikey = "i" + std::string(id);
    MDB_val k = mval(ikey), v;
    int rc = mdb_get(ctx_.txn, ctx_.dbs->namespaces, &k, &v);
    if (rc == MDB_NOTFOUND) return namespace_not_found(id);
    if (rc != 0) return lmdb_error(rc, "read namespace");
    std::string title(sv(v));
    auto ns = namespace_for_title(title, false);
    if (!ns || ns->id != id) return make_error(500, "corrupt_record", "corrupt namespace record");
    return ns;
}

Status WriteTxnImpl::rename_namespace(const Namespace& ns, std::string_view title) {
    if (title == ns.title) return Status::ok();
    if (Status st = check_namespace_title(title); !st) return st;
    auto existing = namespace_for_title(title, false);
    if (existing) return namespace_title_taken(title);
    if (existing.error().code != "namespace_not_found") return existing.error();
    std::string old_key = "t" + ns.title, new_key = "t" + std::string(title);
    MDB_val k = mval(old_key);
    int rc = mdb_del(ctx_.txn, ctx_.dbs->namespaces, &k, nullptr);
    if (rc != 0) return lmdb_error(rc, "rename namespace");
    std::string rec;
    detail::put_le32(rec, ns.num);
    rec += ns.id;
    k = mval(new_key);
    MDB_val v = mval(rec);
    if ((rc = mdb_put(ctx_.txn, ctx_.dbs->namespaces, &k, &v, 0)) != 0)
        return lmdb_error(rc, "rename namespace");
    std::string ikey = "i" + ns.id;
    k = mval(ikey);
    v = mval(title);
    if ((rc = mdb_put(ctx_.txn, ctx_.dbs->namespaces, &k, &v, 0)) != 0)
        return lmdb_error(rc, "rename namespace");
    return Status::ok();
}

Status WriteTxnImpl::unlink_namespace(const Namespace& ns) {
    std::string tkey = "t" + ns.title, ikey = "i" + ns.id;
    for (const std::string& key : {tkey, ikey}) {
        MDB_val k = mval(key);
        int rc = mdb_del(ctx_.txn, ctx_.dbs->namespaces, &k, nullptr);
        if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "delete namespace");
    }
    std::string mkey = deleting_key(ns.num);
    MDB_val k = mval(mkey), v = mval(ns.title);
    int rc = mdb_put(ctx_.txn, ctx_.dbs->meta, &k, &v, 0);
    if (rc != 0) return lmdb_error(rc, "mark namespace deleted");
    return Status::ok();
}

Result<SweepResult> WriteTxnImpl::delete_namespace_records(uint32_t num, size_t budget) {
    // Collect first: the scanner's views die with the first write.
    std::vector<std::string> keys;
    bool exhausted = false;
    {
        RecordScanner scan(ctx_, kv_storage_prefix(num), "");
        RecordView rv;
        while (keys.size() < budget) {
            auto r = scan.next(&rv);
            if (!r) return r.error();
            if (!*r) {
                exhausted = true;
                break;
            }
            keys.emplace_back(rv.key);
        }
    }
    SweepResult res;
    for (const std::string& key : keys) {
        auto r = store::delete_record(ctx_, key);
        if (!r) return r.error();
        ++res.deleted;
    }
    res.more = !exhausted;
    if (exhausted) {
        std::string mkey = deleting_key(num);
        MDB_val k = mval(mkey);
        int rc = mdb_del(ctx_.txn, ctx_.dbs->meta, &k, nullptr);
        if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "clear namespace deletion");
    }
    return res;
}

Status check_namespace_title(std::string_view title) {
    if (title.empty() || title.size() > kMaxTitle || title.find('/') != std::string_view::npos)
        return make_error(400, "bad_namespace_title",
                          "a namespace title is 1-256 bytes without '/'");
    return Status::ok();
}

Error namespace_not_found(std::string_view name) {
    return make_error(404, "namespace_not_found",
                      "namespace '" + std::string(name) + "' does not exist");
}

Error namespace_title_taken(std::string_view title) {
    return make_error(400, "namespace_exists",
                      "a namespace titled '" + std::string(title) + "' already exists");
}

Result<std::string> random_namespace_id() {
    unsigned char raw[16];
    if (!detail::random_bytes(raw, sizeof raw))
        return make_error(500, "internal", "cannot generate a namespace id");
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id;
    for (unsigned char b : raw) {
        id.push_back(kHex[b >> 4]);
        id.push_back(kHex[b & 15]);
    }
    return id;
}

bool is_namespace_id(std::string_view id) {
    if (id.size() != 32) return false;
    for (char c : id)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

Result<Namespace> WriteTxnImpl::adopt_namespace(std::string_view id, std::string_view title,
                                                std::vector<uint32_t>* unlinked) {
    if (!is_namespace_id(id))
        return make_error(400, "bad_namespace_id", "a namespace id is 32 lowercase hex digits");
    if (Status st = check_namespace_title(title); !st) return st.error();
    auto holder = namespace_for_title(title, false);
    if (holder) {
        if (holder->id == id) return holder;
        // The title belongs to `id` now (the fleet decided): the other namespace goes.
        if (Status st = unlink_namespace(*holder); !st) return st.error();
        unlinked->push_back(holder->num);
    } else if (holder.error().code != "namespace_not_found") {
        return holder.error();
    }
    auto existing = namespace_for_id(id);
    if (existing) {
        if (Status st = rename_namespace(*existing, title); !st) return st.error();
        existing->title.assign(title);
        return existing;
    }
    if (existing.error().code != "namespace_not_found") return existing.error();
    auto num = allocate_namespace_num();
    if (!num) return num.error();
    Namespace ns{*num, std::string(id), std::string(title)};
    if (Status st = write_namespace_records(ns); !st) return st.error();
    created_.push_back(ns);
    return ns;
}

Result<bool> WriteTxnImpl::drop_namespace(std::string_view id, std::vector<uint32_t>* unlinked) {
    if (!is_namespace_id(id)) return false;
    auto ns = namespace_for_id(id);
    if (!ns) {
        if (ns.error().code == "namespace_not_found") return false;
        return ns.error();
    }
    if (Status st = unlink_namespace(*ns); !st) return st.error();
    unlinked->push_back(ns->num);
    return true;
}

// The done of a write that fills in *ns: hands `done` that namespace, or the write's error.
std::function<void(Status)> answer_namespace(std::shared_ptr<Namespace> ns,
                                             std::function<void(Result<Namespace>)> done) {
    return [ns = std::move(ns), done = std::move(done)](Status st) {
        if (st)
            done(*ns);
        else
            done(st.error());
    };
}

// ---- Store: the public operations ----

void Store::namespaces_changed(const std::vector<uint32_t>& unlinked) {
    resync_mirror(*impl_);
    for (uint32_t num : unlinked)
        submit_delete_batch(*impl_, num);
}

void Store::create_namespace(std::string title, std::function<void(Result<Namespace>)> done) {
    auto created = std::make_shared<Namespace>();
    WriteOp op;
    op.apply = [title = std::move(title), created](WriteTxn& txn) -> Status {
        if (Status st = check_namespace_title(title); !st) return st;
        auto existing = txn.namespace_for_title(title, false);
        if (existing) return namespace_title_taken(title);
        if (existing.error().code != "namespace_not_found") return existing.error();
        auto ns = txn.namespace_for_title(title, true);
        if (!ns) return ns.error();
        *created = *ns;
        return Status::ok();
    };
    op.done = answer_namespace(created, std::move(done));
    impl_->submit(std::move(op));
}

void Store::rename_namespace(std::string id, std::string title,
                             std::function<void(Result<Namespace>)> done) {
    auto renamed = std::make_shared<Namespace>();
    Impl* im = impl_.get();
    WriteOp op;
    op.apply = [id = std::move(id), title = std::move(title), renamed](WriteTxn& txn) -> Status {
        auto ns = txn.namespace_for_id(id);
        if (!ns) return ns.error();
        if (Status st = static_cast<WriteTxnImpl&>(txn).rename_namespace(*ns, title); !st)
            return st;
        *renamed = *ns;
        renamed->title = title;
        return Status::ok();
    };
    op.on_commit = [im] { resync_mirror(*im); };
    op.done = answer_namespace(renamed, std::move(done));
    impl_->submit(std::move(op));
}

void Store::delete_namespace(std::string id, std::function<void(Status)> done) {
    auto num = std::make_shared<uint32_t>(0);
    Impl* im = impl_.get();
    WriteOp op;
    op.apply = [id = std::move(id), num](WriteTxn& txn) -> Status {
        auto ns = txn.namespace_for_id(id);
        if (!ns) return ns.error();
        *num = ns->num;
        return static_cast<WriteTxnImpl&>(txn).unlink_namespace(*ns);
    };
    op.on_commit = [im, num] {
        resync_mirror(*im);
        submit_delete_batch(*im, *num);
    };
    op.done = std::move(done);
    impl_->submit(std::move(op));
}

Result<size_t> Store::namespace_deletions_pending() {
    auto t = impl_->read_txn();
    if (!t) return t.error();
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(*t, impl_->env_->dbs().meta, &cur);
    if (rc != 0) return lmdb_error(rc, "open meta cursor");
    MDB_val k = mval(kDeletingPrefix), v;
    size_t n = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (sv(k).substr(0, kDeletingPrefix.size()) != kDeletingPrefix) break;
        ++n;
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "read meta");
    return n;
}

void Store::resume_namespace_deletions() {
    std::vector<uint32_t> nums;
    auto t = impl_->read_txn();
    if (!t) {
        LOG_ERROR("store: cannot resume namespace deletions: %s", t.error().message.c_str());
        return;
    }
    MDB_cursor* cur = nullptr;
    if (mdb_cursor_open(*t, impl_->env_->dbs().meta, &cur) != 0) return;
    MDB_val k = mval(kDeletingPrefix), v;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        std::string_view key = sv(k);
        if (key.substr(0, kDeletingPrefix.size()) != kDeletingPrefix) break;
        if (key.size() != kDeletingPrefix.size() + 4) continue;
        const auto* p = reinterpret_cast<const unsigned char*>(key.data() + kDeletingPrefix.size());
        nums.push_back(uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3]);
    }
    mdb_cursor_close(cur);
    impl_->reset_read_txn();
    for (uint32_t num : nums) {
        LOG_INFO("store: resuming the deletion of namespace #%u's keys", num);
        submit_delete_batch(*impl_, num);
    }
}

} // namespace ec::store
