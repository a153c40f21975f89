// WriteTxnImpl: namespace creation inside the batch's transaction, KV and generic record writes.
#include "store/write_txn_impl.hpp"

#include "store/bytes.hpp"
#include "store/env.hpp"

namespace ec::store {

using detail::lmdb_error;
using detail::mval;
using detail::sv;

bool decode_namespace(std::string_view title, std::string_view value, Namespace* out) {
    if (value.size() != 4 + 32) return false;
    out->num = detail::get_le32(value.data());
    out->id.assign(value.substr(4));
    out->title.assign(title);
    return true;
}

bool decode_kv_payload(std::string_view payload, std::string_view* metadata,
                       std::string_view* value) {
    if (payload.size() < 4) return false;
    uint32_t mlen = detail::get_le32(payload.data());
    if (payload.size() - 4 < mlen) return false;
    *metadata = payload.substr(4, mlen);
    *value = payload.substr(4 + mlen);
    return true;
}

Result<Namespace> WriteTxnImpl::namespace_for_title(std::string_view title, bool create) {
    // Read through the transaction, so a namespace an earlier op of this batch created is seen.
    std::string tkey = "t" + std::string(title);
    MDB_val k = mval(tkey), v;
    int rc = mdb_get(ctx_.txn, ctx_.dbs->namespaces, &k, &v);
    if (rc == 0) {
        Namespace ns;
        if (!decode_namespace(title, sv(v), &ns))
            return make_error(500, "corrupt_record", "corrupt namespace record");
        return ns;
    }
    if (rc != MDB_NOTFOUND) return lmdb_error(rc, "read namespace");
    if (!create) return namespace_not_found(title);
    if (Status st = check_namespace_title(title); !st) return st.error();

    auto num = allocate_namespace_num();
    if (!num) return num.error();
    Namespace ns;
    ns.num = *num;
    ns.title.assign(title);
    // A random id, unique among ids (a clash is a 2^-128 event, but cheap to rule out).
    for (int attempt = 0;; ++attempt) {
        if (attempt == 8) return make_error(500, "internal", "cannot generate a namespace id");
        auto id = random_namespace_id();
        if (!id) return id.error();
        ns.id = std::move(*id);
        std::string ikey = "i" + ns.id;
        MDB_val ik = mval(ikey), iv;
        rc = mdb_get(ctx_.txn, ctx_.dbs->namespaces, &ik, &iv);
        if (rc == MDB_NOTFOUND) break;
        if (rc != 0) return lmdb_error(rc, "read namespace");
    }
    if (Status st = write_namespace_records(ns); !st) return st.error();
    created_.push_back(ns);
    return ns;
}

Result<uint32_t> WriteTxnImpl::allocate_namespace_num() {
    MDB_val mk = mval(kMetaNsNext), mv;
    int rc = mdb_get(ctx_.txn, ctx_.dbs->meta, &mk, &mv);
    if (rc != 0) return lmdb_error(rc, "read namespace counter");
    if (mv.mv_size != 4) return make_error(500, "corrupt_record", "corrupt namespace counter");
    uint32_t num = detail::get_le32(sv(mv).data());
    if (num == UINT32_MAX) return make_error(507, "storage_full", "namespace numbers exhausted");
    char next[4];
    detail::put_le32(next, num + 1);
    mv = MDB_val{4, next};
    rc = mdb_put(ctx_.txn, ctx_.dbs->meta, &mk, &mv, 0);
    if (rc != 0) return lmdb_error(rc, "update namespace counter");
    return num;
}

Status WriteTxnImpl::write_namespace_records(const Namespace& ns) {
    std::string tkey = "t" + ns.title, rec;
    detail::put_le32(rec, ns.num);
    rec += ns.id;
    MDB_val k = mval(tkey), v = mval(rec);
    int rc = mdb_put(ctx_.txn, ctx_.dbs->namespaces, &k, &v, 0);
    if (rc != 0) return lmdb_error(rc, "create namespace");
    std::string ikey = "i" + ns.id;
    k = mval(ikey);
    v = mval(ns.title);
    rc = mdb_put(ctx_.txn, ctx_.dbs->namespaces, &k, &v, 0);
    if (rc != 0) return lmdb_error(rc, "create namespace");
    return Status::ok();
}

Status WriteTxnImpl::kv_put(const Namespace& ns, std::string_view key, std::string_view value,
                            std::string_view metadata, int64_t expiration) {
    if (key.empty()) return make_error(400, "invalid_key", "a key must not be empty");
    if (key.size() > kMaxKvKey)
        return make_error(414, "key_too_long", "a key is at most 512 bytes");
    if (metadata.size() > UINT32_MAX)
        return make_error(413, "metadata_too_large", "metadata too large for storage");
    std::string skey = kv_storage_key(ns.num, key);
    char mlen[4];
    detail::put_le32(mlen, static_cast<uint32_t>(metadata.size()));
    std::string_view parts[] = {std::string_view(mlen, 4), metadata, value};
    return store::put_record(ctx_, skey, parts, expiration);
}

Result<bool> WriteTxnImpl::kv_delete(const Namespace& ns, std::string_view key) {
    if (key.empty() || key.size() > kMaxKvKey) return false; // such keys are never stored
    auto r = store::delete_record(ctx_, kv_storage_key(ns.num, key));
    if (!r) return r.error();
    const auto& exp = *r;
    return exp.has_value() && (*exp == 0 || *exp > now_);
}

Result<bool> WriteTxnImpl::read_meta(std::string_view key, std::string* out) {
    MDB_val k = mval(key), v;
    int rc = mdb_get(ctx_.txn, ctx_.dbs->meta, &k, &v);
    if (rc == MDB_NOTFOUND) return false;
    if (rc != 0) return lmdb_error(rc, "read meta");
    out->assign(sv(v));
    return true;
}

Status WriteTxnImpl::write_meta(std::string_view key, std::string_view value) {
    MDB_val k = mval(key), v = mval(value);
    int rc = mdb_put(ctx_.txn, ctx_.dbs->meta, &k, &v, 0);
    if (rc != 0) return lmdb_error(rc, "write meta");
    return Status::ok();
}

Result<bool> WriteTxnImpl::get_record(std::string_view skey, Record* out) {
    RecordView rv;
    auto found = find_record(ctx_, skey, &rv);
    if (!found) return found.error();
    if (!*found || (rv.expires_at != 0 && rv.expires_at <= now_)) return false;
    out->key.assign(rv.key);
    out->expires_at = rv.expires_at;
    out->payload.assign(rv.payload);
    return true;
}

Status WriteTxnImpl::put_record(std::string_view skey, std::string_view payload,
                                int64_t expires_at) {
    std::string_view parts[] = {payload};
    return store::put_record(ctx_, skey, parts, expires_at);
}

Result<bool> WriteTxnImpl::delete_record(std::string_view skey) {
    auto r = store::delete_record(ctx_, skey);
    if (!r) return r.error();
    return r->has_value();
}

Result<ScanPage> WriteTxnImpl::scan_prefix(std::string_view prefix, std::string_view after,
                                           size_t limit,
                                           const std::function<void(const RecordView&)>& fn) {
    return scan_live(ctx_, prefix, after, limit, now_, fn, &expired_skipped_);
}

Result<SweepResult> WriteTxnImpl::delete_expired(size_t budget) {
    return store::delete_expired(ctx_, now_, budget);
}

} // namespace ec::store

namespace ec::store {

Status WriteTxnImpl::put_tagged_record(std::string_view skey, std::string_view payload,
                                       int64_t expires_at, std::span<const std::string> tags) {
    std::string_view parts[] = {payload};
    return store::put_record(ctx_, skey, parts, expires_at, tags);
}

Result<std::string> WriteTxnImpl::scan_tag(std::string_view tag, std::string_view after,
                                           size_t limit,
                                           const std::function<void(const RecordView&)>& fn) {
    std::string last;
    auto r = for_each_tagged(ctx_, tag, after, limit, fn, &last);
    if (!r) return r.error();
    return last;
}

void for_each_record_tag(std::string_view tags_block,
                         const std::function<void(std::string_view)>& fn) {
    for_each_tag(tags_block, fn);
}

} // namespace ec::store
