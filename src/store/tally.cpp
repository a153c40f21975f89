// RecordTally: the per-kind record counts and bytes in the meta database, and their recount.
#include "store/tally.hpp"

#include <string>

#include "store/bytes.hpp"

namespace ec::store {

using detail::lmdb_error;
using detail::mval;
using detail::sv;

namespace {

constexpr size_t kTallyBytes = 2 * kRecordKinds * 8;

std::string encode_tally(const RecordTally& t) {
    std::string out(kTallyBytes, '\0');
    for (size_t i = 0; i < kRecordKinds; ++i) {
        detail::put_le64(out.data() + 8 * i, t.count[i]);
        detail::put_le64(out.data() + 8 * (kRecordKinds + i), t.bytes[i]);
    }
    return out;
}

Status write_tally(MDB_txn* txn, const Dbs& dbs, const RecordTally& t) {
    std::string v = encode_tally(t);
    MDB_val k = mval(kMetaTally), d = mval(v);
    int rc = mdb_put(txn, dbs.meta, &k, &d, 0);
    if (rc != 0) return lmdb_error(rc, "update record tally");
    return Status::ok();
}

// Adds a signed delta to a tally cell; a cell never wraps below zero.
uint64_t tally_apply(uint64_t cell, int64_t delta) {
    if (delta >= 0) return cell + static_cast<uint64_t>(delta);
    uint64_t down = static_cast<uint64_t>(-(delta + 1)) + 1;
    return cell >= down ? cell - down : 0;
}

} // namespace

RecordKind record_kind(std::string_view key) {
    if (key.empty()) return RecordKind::other;
    if (key[0] == 'K') return RecordKind::kv;
    if (key[0] == 'C') return RecordKind::cache;
    return RecordKind::other;
}

Result<bool> read_tally(MDB_txn* txn, const Dbs& dbs, RecordTally* out) {
    MDB_val k = mval(kMetaTally), v;
    int rc = mdb_get(txn, dbs.meta, &k, &v);
    if (rc == MDB_NOTFOUND) return false;
    if (rc != 0) return lmdb_error(rc, "read record tally");
    if (v.mv_size != kTallyBytes) return false; // unreadable: recounted like a missing one
    const char* p = static_cast<const char*>(v.mv_data);
    for (size_t i = 0; i < kRecordKinds; ++i) {
        out->count[i] = detail::get_le64(p + 8 * i);
        out->bytes[i] = detail::get_le64(p + 8 * (kRecordKinds + i));
    }
    return true;
}

Status tally_add(const RecordCtx& c, std::string_view ekey, int64_t records, int64_t bytes) {
    auto kind = static_cast<size_t>(record_kind(ekey));
    if (c.tally) {
        c.tally->count[kind] += records;
        c.tally->bytes[kind] += bytes;
        c.tally->pending = true;
        return Status::ok();
    }
    RecordTally t;
    auto found = read_tally(c.txn, *c.dbs, &t);
    if (!found) return found.error();
    t.count[kind] = tally_apply(t.count[kind], records);
    t.bytes[kind] = tally_apply(t.bytes[kind], bytes);
    return write_tally(c.txn, *c.dbs, t);
}

Status flush_tally(MDB_txn* txn, const Dbs& dbs, TallyDelta& delta) {
    if (!delta.pending) return Status::ok();
    RecordTally t;
    auto found = read_tally(txn, dbs, &t);
    if (!found) return found.error();
    for (size_t k = 0; k < kRecordKinds; ++k) {
        t.count[k] = tally_apply(t.count[k], delta.count[k]);
        t.bytes[k] = tally_apply(t.bytes[k], delta.bytes[k]);
    }
    delta = TallyDelta{};
    return write_tally(txn, dbs, t);
}

Status rewrite_tally(MDB_txn* txn, const Dbs& dbs) {
    RecordTally t;
    auto found = read_tally(txn, dbs, &t);
    if (!found) return found.error();
    if (!*found) {
        auto counted = recount_tally(txn, dbs);
        return counted ? Status::ok() : Status(counted.error());
    }
    return write_tally(txn, dbs, t);
}

Result<RecordTally> recount_tally(MDB_txn* txn, const Dbs& dbs) {
    RecordTally t;
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn, dbs.records, &cur);
    if (rc != 0) return lmdb_error(rc, "open records cursor");
    MDB_val k, v;
    // Only node headers are read: a big value's overflow pages are never touched.
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        auto kind = static_cast<size_t>(record_kind(sv(k)));
        ++t.count[kind];
        t.bytes[kind] += k.mv_size + v.mv_size;
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND) return lmdb_error(rc, "count records");
    if (Status st = write_tally(txn, dbs, t); !st) return st.error();
    return t;
}

} // namespace ec::store
