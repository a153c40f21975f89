// Run index: order-preserving entries for long keys, their upkeep, and the format 2 upgrade.
#include "store/run_index.hpp"

#include "store/bytes.hpp"

namespace ec::store {

using detail::lmdb_error;
using detail::mval;
using detail::sv;

namespace {

// order(s) cut to `cap` bytes.
std::string order(std::string_view s, size_t cap) {
    std::string out;
    out.reserve(std::min(cap, s.size() + 2));
    for (char c : s) {
        if (out.size() >= cap) break;
        out.push_back(c);
        if (c == '\0') out.push_back('\xff');
    }
    out.append(2, '\0');
    if (out.size() > cap) out.resize(cap);
    return out;
}

} // namespace

std::string run_entry(size_t threshold, std::string_view skey, std::string_view ekey) {
    std::string e = order(skey.substr(threshold), threshold);
    e.append(ekey.substr(threshold, KeyCodec::kHashBytes));
    return e;
}

std::string run_seek(size_t threshold, std::string_view x) {
    // x's own entry without its hash: x's entry sorts after it, and any key > x differs from x
    // at a byte where order() is greater, or extends x (the terminator 00 00 is the least
    // continuation there is).
    return order(x.substr(threshold), threshold);
}

bool run_entry_cut(size_t threshold, std::string_view entry) {
    return entry.size() == threshold + KeyCodec::kHashBytes;
}

Status run_index_add(const RecordCtx& c, std::string_view skey, std::string_view ekey) {
    size_t t = c.codec->threshold();
    std::string data = run_entry(t, skey, ekey);
    MDB_val k = mval(ekey.substr(0, t)), v = mval(data);
    int rc = mdb_put(c.txn, c.dbs->runs, &k, &v, MDB_NODUPDATA);
    if (rc != 0 && rc != MDB_KEYEXIST) return lmdb_error(rc, "update run index");
    return Status::ok();
}

Status run_index_remove(const RecordCtx& c, std::string_view skey, std::string_view ekey) {
    size_t t = c.codec->threshold();
    std::string data = run_entry(t, skey, ekey);
    MDB_val k = mval(ekey.substr(0, t)), v = mval(data);
    int rc = mdb_del(c.txn, c.dbs->runs, &k, &v);
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "update run index");
    return Status::ok();
}

Result<size_t> build_run_index(MDB_txn* txn, const Dbs& dbs, size_t threshold) {
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn, dbs.records, &cur);
    if (rc != 0) return lmdb_error(rc, "open record cursor");
    detail::CursorCloser closer(cur);
    size_t added = 0;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        std::string_view ekey = sv(k);
        RecordView rv;
        if (ekey.size() < threshold + KeyCodec::kHashBytes || !decode_record(ekey, sv(v), &rv) ||
            rv.key.size() < threshold)
            continue;
        std::string data = run_entry(threshold, rv.key, ekey);
        MDB_val ik = mval(ekey.substr(0, threshold)), iv = mval(data);
        int r = mdb_put(txn, dbs.runs, &ik, &iv, MDB_NODUPDATA);
        if (r != 0 && r != MDB_KEYEXIST) return lmdb_error(r, "build run index");
        ++added;
    }
    if (rc != MDB_NOTFOUND) return lmdb_error(rc, "read records");
    return added;
}

} // namespace ec::store
