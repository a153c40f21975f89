// Record layer: codec, writes that keep the expiry index in step, and byte-order scans.
#include "store/record.hpp"

#include <algorithm>

#include "store/bytes.hpp"
#include "store/run_index.hpp"
#include "store/tally.hpp"
#include "util/log.hpp"

namespace ec::store {

using detail::lmdb_error;
using detail::mval;
using detail::sv;

namespace {
constexpr size_t kFixedHeader = 1 + 1 + 8;

Error corrupt(std::string_view what) {
    return make_error(500, "corrupt_record",
                      "corrupt record in storage (" + std::string(what) + ")");
}

// Moves a field written as its 32-bit little-endian length and its bytes from the front of
// *rest into *field. False when *rest is too short for either.
bool take_sized_field(std::string_view* rest, std::string_view* field) {
    if (rest->size() < 4) return false;
    uint32_t len = detail::get_le32(rest->data());
    rest->remove_prefix(4);
    if (rest->size() < len) return false;
    *field = rest->substr(0, len);
    rest->remove_prefix(len);
    return true;
}

} // namespace

bool decode_record(std::string_view ekey, std::string_view value, RecordView* out) {
    if (value.size() < kFixedHeader) return false;
    if (static_cast<uint8_t>(value[0]) != kRecordVersion) return false;
    auto flags = static_cast<uint8_t>(value[1]);
    out->expires_at = static_cast<int64_t>(detail::get_le64(value.data() + 2));
    value.remove_prefix(kFixedHeader);
    if (flags & kFlagFullKey) {
        if (!take_sized_field(&value, &out->key)) return false;
    } else {
        out->key = ekey;
    }
    out->tags = {};
    if ((flags & kFlagTags) && !take_sized_field(&value, &out->tags)) return false;
    out->payload = value;
    return true;
}

std::string encode_tags(std::span<const std::string> tags) {
    std::string out;
    for (const std::string& t : tags) {
        if (t.empty() || t.size() > kMaxTagBytes) continue;
        char len[2];
        len[0] = static_cast<char>(t.size() & 0xff);
        len[1] = static_cast<char>(t.size() >> 8);
        out.append(len, 2);
        out.append(t);
    }
    return out;
}

void for_each_tag(std::string_view block, const std::function<void(std::string_view)>& fn) {
    while (block.size() >= 2) {
        size_t len = static_cast<unsigned char>(block[0]) |
                     (static_cast<size_t>(static_cast<unsigned char>(block[1])) << 8);
        block.remove_prefix(2);
        if (block.size() < len) return;
        fn(block.substr(0, len));
        block.remove_prefix(len);
    }
}

namespace {

// Removes (tag → ekey) for every tag in `block`. The block must not view LMDB pages this
// transaction writes: callers pass a copy.
Status untag(const RecordCtx& c, const std::string& block, std::string_view ekey) {
    Status st = Status::ok();
    for_each_tag(block, [&](std::string_view tag) {
        if (!st) return;
        MDB_val tk = mval(tag), tv = mval(ekey);
        int rc = mdb_del(c.txn, c.dbs->tags, &tk, &tv);
        if (rc != 0 && rc != MDB_NOTFOUND) st = lmdb_error(rc, "update tag index");
    });
    return st;
}

Status tag(const RecordCtx& c, const std::string& block, std::string_view ekey) {
    Status st = Status::ok();
    for_each_tag(block, [&](std::string_view t) {
        if (!st) return;
        MDB_val tk = mval(t), tv = mval(ekey);
        int rc = mdb_put(c.txn, c.dbs->tags, &tk, &tv, MDB_NODUPDATA);
        if (rc != 0 && rc != MDB_KEYEXIST) st = lmdb_error(rc, "update tag index");
    });
    return st;
}

} // namespace

Result<bool> find_record(const RecordCtx& c, std::string_view skey, RecordView* out) {
    std::string ekey = c.codec->encode(skey);
    MDB_val k = mval(ekey), v;
    int rc = mdb_get(c.txn, c.dbs->records, &k, &v);
    if (rc == MDB_NOTFOUND) return false;
    if (rc != 0) return lmdb_error(rc, "read record");
    if (!decode_record(sv(k), sv(v), out)) return corrupt("bad record header");
    // A long key's slot may hold another long key with the same prefix and hash.
    if (out->key != skey) return false;
    // mdb_get leaves `k` pointing at `ekey`, which dies with this function (a short key's view
    // pointed into it: a use-after-free ASan found). The found key is `skey` itself.
    out->key = skey;
    return true;
}

Status put_record(const RecordCtx& c, std::string_view skey,
                  std::span<const std::string_view> parts, int64_t expires_at,
                  std::span<const std::string> tags) {
    if (expires_at < 0)
        return make_error(400, "bad_expiration", "expiration must be a unix time or 0");
    std::string ekey = c.codec->encode(skey);
    bool long_key = c.codec->is_long(skey);
    MDB_val k = mval(ekey), v;

    int rc = mdb_get(c.txn, c.dbs->records, &k, &v);
    const bool replacing = rc == 0;
    const size_t old_value_size = replacing ? v.mv_size : 0;
    if (rc == 0) {
        RecordView old;
        if (decode_record(sv(k), sv(v), &old)) {
            if (old.key != skey) {
                return make_error(500, "hash_collision",
                                  "storage key hash collision: another key with the same "
                                  "prefix occupies this slot; the write was refused");
            }
            std::string old_tags(old.tags); // copied: the writes below may move the page
            if (old.expires_at != 0) {
                std::string xk = detail::expiry_key(old.expires_at);
                MDB_val ik = mval(xk), iv = mval(ekey);
                rc = mdb_del(c.txn, c.dbs->expiry, &ik, &iv);
                if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "update expiry index");
            }
            if (Status st = untag(c, old_tags, ekey); !st) return st;
        } else {
            LOG_WARN("store: overwriting a record with a corrupt header");
        }
    } else if (rc != MDB_NOTFOUND) {
        return lmdb_error(rc, "read record");
    }

    size_t payload_size = 0;
    for (auto p : parts)
        payload_size += p.size();
    std::string tag_block = encode_tags(tags);
    size_t header = kFixedHeader + (long_key ? 4 + skey.size() : 0) +
                    (tag_block.empty() ? 0 : 4 + tag_block.size());
    if (skey.size() > UINT32_MAX || payload_size > SIZE_MAX - header)
        return make_error(413, "value_too_large", "record too large for storage");
    k = mval(ekey);
    v = MDB_val{header + payload_size, nullptr};
    rc = mdb_put(c.txn, c.dbs->records, &k, &v, MDB_RESERVE);
    if (rc != 0) return lmdb_error(rc, "put record");
    // MDB_RESERVE hands back space in the dirty page; fill it before any other write.
    char* p = static_cast<char*>(v.mv_data);
    p[0] = static_cast<char>(kRecordVersion);
    p[1] = static_cast<char>((long_key ? kFlagFullKey : 0) | (tag_block.empty() ? 0 : kFlagTags));
    detail::put_le64(p + 2, static_cast<uint64_t>(expires_at));
    p += kFixedHeader;
    if (long_key) {
        detail::put_le32(p, static_cast<uint32_t>(skey.size()));
        std::memcpy(p + 4, skey.data(), skey.size());
        p += 4 + skey.size();
    }
    if (!tag_block.empty()) {
        detail::put_le32(p, static_cast<uint32_t>(tag_block.size()));
        std::memcpy(p + 4, tag_block.data(), tag_block.size());
        p += 4 + tag_block.size();
    }
    for (auto part : parts) {
        if (!part.empty()) std::memcpy(p, part.data(), part.size());
        p += part.size();
    }

    if (expires_at != 0) {
        std::string xk = detail::expiry_key(expires_at);
        MDB_val ik = mval(xk), iv = mval(ekey);
        rc = mdb_put(c.txn, c.dbs->expiry, &ik, &iv, 0);
        if (rc != 0) return lmdb_error(rc, "update expiry index");
    }
    if (long_key) {
        if (Status st = run_index_add(c, skey, ekey); !st) return st;
    }
    // A replacement changes the value's size; a new record adds its key and value.
    auto new_bytes = static_cast<int64_t>(header + payload_size);
    int64_t grown = replacing ? new_bytes - static_cast<int64_t>(old_value_size)
                              : new_bytes + static_cast<int64_t>(ekey.size());
    if (Status st = tally_add(c, ekey, replacing ? 0 : 1, grown); !st) return st;
    return tag(c, tag_block, ekey);
}

Result<std::optional<int64_t>> delete_record(const RecordCtx& c, std::string_view skey) {
    RecordView rv;
    auto found = find_record(c, skey, &rv);
    if (!found) return found.error();
    if (!*found) return std::optional<int64_t>{};
    int64_t exp = rv.expires_at; // rv dies with the first write below
    std::string tags(rv.tags);
    std::string ekey = c.codec->encode(skey);
    MDB_val k = mval(ekey), v;
    int rc = mdb_get(c.txn, c.dbs->records, &k, &v);
    if (rc != 0) return lmdb_error(rc, "read record");
    const size_t value_size = v.mv_size; // for the tally, before the delete frees the page
    rc = mdb_del(c.txn, c.dbs->records, &k, nullptr);
    if (rc != 0) return lmdb_error(rc, "delete record");
    if (Status st = tally_add(c, ekey, -1, -static_cast<int64_t>(ekey.size() + value_size)); !st)
        return st.error();
    if (c.codec->is_long(skey)) {
        if (Status st = run_index_remove(c, skey, ekey); !st) return st.error();
    }
    if (Status st = untag(c, tags, ekey); !st) return st.error();
    if (exp != 0) {
        std::string xk = detail::expiry_key(exp);
        MDB_val ik = mval(xk), iv = mval(ekey);
        rc = mdb_del(c.txn, c.dbs->expiry, &ik, &iv);
        if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "update expiry index");
    }
    return std::optional<int64_t>{exp};
}

Result<bool> expiry_due(const RecordCtx& c, int64_t now) {
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(c.txn, c.dbs->expiry, &cur);
    if (rc != 0) return lmdb_error(rc, "open expiry cursor");
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND) return false;
    if (rc != 0) return lmdb_error(rc, "read expiry index");
    return k.mv_size != 8 || static_cast<int64_t>(detail::get_be64(sv(k).data())) <= now;
}

Result<SweepResult> delete_expired(const RecordCtx& c, int64_t now, size_t budget) {
    SweepResult res;
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(c.txn, c.dbs->expiry, &cur);
    if (rc != 0) return lmdb_error(rc, "open expiry cursor");
    detail::CursorCloser closer(cur);

    size_t examined = 0;
    MDB_val k, v;
    for (;;) {
        // Always restart from the first (oldest) entry: the deletes below reshape the tree.
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        if (rc == MDB_NOTFOUND) return res;
        if (rc != 0) return lmdb_error(rc, "read expiry index");
        if (k.mv_size == 8 && static_cast<int64_t>(detail::get_be64(sv(k).data())) > now)
            return res;
        if (examined == budget) {
            res.more = true;
            return res;
        }
        ++examined;
        bool bad_key = k.mv_size != 8;
        int64_t exp = bad_key ? 0 : static_cast<int64_t>(detail::get_be64(sv(k).data()));
        std::string ekey(sv(v));

        if (!bad_key) {
            MDB_val rk = mval(ekey), rv;
            rc = mdb_get(c.txn, c.dbs->records, &rk, &rv);
            if (rc == 0) {
                RecordView rec;
                // Only delete the record the entry describes; otherwise the entry is stale.
                if (decode_record(sv(rk), sv(rv), &rec) && rec.expires_at == exp) {
                    std::string tags(rec.tags);
                    std::string full_key(c.codec->is_run_key(ekey) ? rec.key : "");
                    const size_t value_size = rv.mv_size;
                    rc = mdb_del(c.txn, c.dbs->records, &rk, nullptr);
                    if (rc != 0) return lmdb_error(rc, "delete expired record");
                    auto freed = static_cast<int64_t>(ekey.size() + value_size);
                    if (Status st = tally_add(c, ekey, -1, -freed); !st) return st.error();
                    if (!full_key.empty()) {
                        if (Status st = run_index_remove(c, full_key, ekey); !st) return st.error();
                    }
                    if (Status st = untag(c, tags, ekey); !st) return st.error();
                    ++res.deleted;
                }
            } else if (rc != MDB_NOTFOUND) {
                return lmdb_error(rc, "read record");
            }
        }
        // The cursor still sits on the entry: the record delete was in another database.
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        if (rc != 0) return lmdb_error(rc, "read expiry index");
        rc = mdb_cursor_del(cur, 0);
        if (rc != 0) return lmdb_error(rc, "delete expiry entry");
    }
}

// ---- RecordScanner ----

RecordScanner::RecordScanner(const RecordCtx& c, std::string_view prefix, std::string_view after)
    : c_(c), prefix_(prefix), after_(after) {
    open_rc_ = mdb_cursor_open(c_.txn, c_.dbs->records, &cur_);
    if (open_rc_ != 0) cur_ = nullptr;
}

RecordScanner::~RecordScanner() {
    if (cur_) mdb_cursor_close(cur_);
    if (runs_) mdb_cursor_close(runs_);
}

bool RecordScanner::matches(std::string_view key) const {
    return key.starts_with(prefix_) && (after_.empty() || key > after_);
}

bool RecordScanner::beyond(std::string_view key) const {
    return !key.starts_with(prefix_) && key > prefix_;
}

Result<bool> RecordScanner::fetch(MDB_val* k, MDB_val* v) {
    int rc;
    switch (pos_) {
    case Pos::end:
        return false;
    case Pos::at_current:
        rc = mdb_cursor_get(cur_, k, v, MDB_GET_CURRENT);
        break;
    case Pos::moved:
        rc = mdb_cursor_get(cur_, k, v, MDB_NEXT);
        break;
    case Pos::start:
    default: {
        // Start at the lower bound of every logical key that can match: max(prefix, after).
        std::string_view lb = (!after_.empty() && after_ > prefix_) ? after_ : prefix_;
        std::string_view seek = c_.codec->seek_key(lb);
        if (seek.empty()) {
            rc = mdb_cursor_get(cur_, k, v, MDB_FIRST);
        } else {
            *k = mval(seek);
            rc = mdb_cursor_get(cur_, k, v, MDB_SET_RANGE);
        }
        break;
    }
    }
    pos_ = Pos::moved;
    if (rc == MDB_NOTFOUND) {
        pos_ = Pos::end;
        return false;
    }
    if (rc != 0) return lmdb_error(rc, "scan records");
    return true;
}

Status RecordScanner::enter_run(std::string_view run_prefix) {
    run_prefix_.assign(run_prefix);
    in_run_ = true;
    run_taken_ = false;
    if (!runs_) {
        int rc = mdb_cursor_open(c_.txn, c_.dbs->runs, &runs_);
        if (rc != 0) {
            runs_ = nullptr;
            return lmdb_error(rc, "open run index cursor");
        }
    }
    // Seek to the lower bound inside the run when it lies in this run, else to its start.
    size_t t = c_.codec->threshold();
    std::string_view lb = (!after_.empty() && after_ > prefix_) ? after_ : prefix_;
    MDB_val k = mval(run_prefix_), v;
    int rc;
    std::string seek;
    if (lb.size() >= t && lb.substr(0, t) == run_prefix_) {
        seek = run_seek(t, lb);
        v = mval(seek);
        rc = mdb_cursor_get(runs_, &k, &v, MDB_GET_BOTH_RANGE);
    } else {
        rc = mdb_cursor_get(runs_, &k, &v, MDB_SET_KEY);
    }
    if (rc == MDB_NOTFOUND) {
        in_run_ = false; // nothing of the run is at or after the bound
        return leave_run();
    }
    if (rc != 0) return lmdb_error(rc, "read run index");
    return Status::ok();
}

Result<bool> RecordScanner::next_group() {
    size_t t = c_.codec->threshold();
    group_.clear();
    group_pos_ = 0;
    while (!run_taken_ && !stop_) {
        // The entries of one group: a single key, or every key whose order() was cut alike.
        std::vector<std::string> ekeys;
        std::string cut;
        int rc = 0;
        for (;;) {
            MDB_val k, v;
            rc = mdb_cursor_get(runs_, &k, &v, MDB_GET_CURRENT);
            if (rc != 0) break;
            std::string_view e = sv(v);
            if (e.size() < KeyCodec::kHashBytes) return corrupt("run index entry");
            std::string_view head = e.substr(0, e.size() - KeyCodec::kHashBytes);
            bool is_cut = run_entry_cut(t, e);
            if (!ekeys.empty() && !(is_cut && head == cut)) break;
            ekeys.push_back(run_prefix_ + std::string(e.substr(head.size())));
            rc = mdb_cursor_get(runs_, &k, &v, MDB_NEXT_DUP);
            if (rc != 0 || !is_cut) break;
            cut.assign(head);
        }
        if (rc == MDB_NOTFOUND)
            run_taken_ = true; // the last entry of the run was taken
        else if (rc != 0)
            return lmdb_error(rc, "read run index");
        for (const std::string& ekey : ekeys) {
            MDB_val rk = mval(ekey), rv;
            int grc = mdb_get(c_.txn, c_.dbs->records, &rk, &rv);
            if (grc == MDB_NOTFOUND) {
                LOG_WARN("store: run index names a record that is gone; skipped");
                continue;
            }
            if (grc != 0) return lmdb_error(grc, "read record");
            ++records_read_;
            RecordView rec;
            if (!decode_record(sv(rk), sv(rv), &rec) || rec.key.size() < t) {
                LOG_WARN("store: skipping a record with a corrupt header during a scan");
                continue;
            }
            if (matches(rec.key))
                group_.push_back(rec);
            else if (beyond(rec.key))
                stop_ = true; // keys come in order: the rest are beyond too
        }
        if (group_.size() > 1)
            std::sort(group_.begin(), group_.end(),
                      [](const RecordView& a, const RecordView& b) { return a.key < b.key; });
        if (!group_.empty()) return true;
    }
    return false;
}

Status RecordScanner::leave_run() {
    // Past the run in the records database: every key of the run is run prefix + 8 bytes.
    std::string past = run_prefix_ + std::string(KeyCodec::kHashBytes, '\xff');
    MDB_val k = mval(past), v;
    int rc = mdb_cursor_get(cur_, &k, &v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND) {
        pos_ = Pos::end;
        return Status::ok();
    }
    if (rc != 0) return lmdb_error(rc, "scan records");
    pos_ = sv(k) == past ? Pos::moved : Pos::at_current;
    return Status::ok();
}

Result<bool> RecordScanner::next(RecordView* out) {
    if (!cur_) return lmdb_error(open_rc_, "open record cursor");
    for (;;) {
        if (group_pos_ < group_.size()) {
            *out = group_[group_pos_++];
            return true;
        }
        if (stop_) return false;
        if (in_run_) {
            auto got = next_group();
            if (!got) return got.error();
            if (*got) continue;
            if (stop_) return false;
            in_run_ = false;
            if (Status st = leave_run(); !st) return st.error();
            continue;
        }
        MDB_val k, v;
        auto got = fetch(&k, &v);
        if (!got) return got.error();
        if (!*got) return false;
        std::string_view ek = sv(k);
        if (c_.codec->is_run_key(ek)) {
            if (Status st = enter_run(c_.codec->run_prefix(ek)); !st) return st.error();
            continue;
        }
        // A short key is its own logical key.
        ++records_read_;
        if (beyond(ek)) {
            pos_ = Pos::end;
            return false;
        }
        if (!matches(ek)) continue;
        if (!decode_record(ek, sv(v), out)) {
            LOG_WARN("store: skipping a record with a corrupt header during a scan");
            continue;
        }
        return true;
    }
}

Result<ScanPage> scan_live(const RecordCtx& c, std::string_view prefix, std::string_view after,
                           size_t limit, int64_t now,
                           const std::function<void(const RecordView&)>& fn,
                           uint64_t* expired_skipped) {
    RecordScanner scan(c, prefix, after);
    ScanPage page;
    std::string_view last; // views LMDB memory, valid for the whole scan
    size_t emitted = 0, skipped = 0;
    RecordView rv;
    for (;;) {
        auto got = scan.next(&rv);
        if (!got) {
            *expired_skipped += skipped;
            return got.error();
        }
        if (!*got) break;
        if (rv.expires_at != 0 && rv.expires_at <= now) {
            if (++skipped >= kScanSkipBudget) {
                // Bound the work of one page: end it short, resuming after this record.
                page.complete = false;
                last = rv.key;
                break;
            }
            continue;
        }
        if (emitted == limit) {
            page.complete = false; // a live record follows the page
            break;
        }
        fn(rv);
        ++emitted;
        last = rv.key;
    }
    *expired_skipped += skipped;
    if (!page.complete) page.last_key.assign(last);
    return page;
}

} // namespace ec::store

namespace ec::store {

Result<size_t> for_each_tagged(const RecordCtx& c, std::string_view tag,
                               std::string_view after_ekey, size_t limit,
                               const std::function<void(const RecordView&)>& fn,
                               std::string* last_ekey) {
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(c.txn, c.dbs->tags, &cur);
    if (rc != 0) return lmdb_error(rc, "open tag cursor");
    detail::CursorCloser closer(cur);
    MDB_val k = mval(tag), v;
    if (after_ekey.empty()) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
    } else {
        v = mval(after_ekey);
        rc = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH_RANGE);
        if (rc == 0 && sv(v) == after_ekey) rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP);
    }
    size_t n = 0;
    while (rc == 0 && n < limit) {
        std::string_view ekey = sv(v);
        MDB_val rk = mval(ekey), rv;
        int grc = mdb_get(c.txn, c.dbs->records, &rk, &rv);
        RecordView rec;
        if (grc == 0 && decode_record(sv(rk), sv(rv), &rec)) {
            fn(rec);
            ++n;
        } else if (grc != 0 && grc != MDB_NOTFOUND) {
            return lmdb_error(grc, "read tagged record");
        }
        if (last_ekey) last_ekey->assign(ekey);
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "read tag index");
    if (rc == MDB_NOTFOUND && last_ekey) last_ekey->clear(); // no more: an empty cursor
    return n;
}

} // namespace ec::store
