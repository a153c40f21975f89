// Apply: one run of fleet changes in one write transaction, with the sequence they reach.
#include "fleet/apply.hpp"

#include <string>

#include "util/log.hpp"

namespace ec::fleet {

namespace {

std::string encode_u64(uint64_t v) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i)
        s[size_t(i)] = char((v >> (8 * i)) & 0xff);
    return s;
}

// The namespace `id` as this transaction sees it; created under the title `id` when a change
// for it arrives before its title (a rename moved the title record past the namespace's keys
// in the stream). The title change that follows renames it.
Result<store::Namespace> namespace_for(store::WriteTxn& txn, const std::string& id,
                                       ApplyOutcome* out) {
    auto ns = txn.namespace_for_id(id);
    if (ns || ns.error().code != "namespace_not_found") return ns;
    return txn.adopt_namespace(id, id, &out->unlinked);
}

Status apply_one(store::WriteTxn& txn, const Change& c, ApplyOutcome* out) {
    switch (c.kind) {
    case Change::Kind::put_entry: {
        auto ns = namespace_for(txn, c.ns_id, out);
        if (!ns) return ns.error();
        return txn.kv_put(*ns, c.key, c.value, c.metadata, c.expiration);
    }
    case Change::Kind::delete_entry: {
        auto ns = txn.namespace_for_id(c.ns_id);
        if (!ns) return ns.error().code == "namespace_not_found" ? Status::ok() : ns.error();
        auto r = txn.kv_delete(*ns, c.key);
        if (!r) return r.error();
        return Status::ok();
    }
    case Change::Kind::name_namespace: {
        auto ns = txn.adopt_namespace(c.ns_id, c.title, &out->unlinked);
        if (!ns) return ns.error();
        return Status::ok();
    }
    case Change::Kind::drop_title: {
        // A rename's old title needs nothing: the new title already moved the namespace.
        if (c.ns_id.empty()) return Status::ok();
        auto r = txn.drop_namespace(c.ns_id, &out->unlinked);
        if (!r) return r.error();
        return Status::ok();
    }
    case Change::Kind::ignore:
        return Status::ok();
    }
    return Status::ok();
}

} // namespace

Result<uint64_t> read_applied_seq(store::WriteTxn& txn) {
    std::string v;
    auto found = txn.read_meta(kMetaAppliedSeq, &v);
    if (!found) return found.error();
    if (!*found) return uint64_t(0);
    if (v.size() != 8) return make_error(500, "corrupt_record", "corrupt fleet sequence record");
    uint64_t seq = 0;
    for (int i = 7; i >= 0; --i)
        seq = (seq << 8) | uint8_t(v[size_t(i)]);
    return seq;
}

Status apply_changes(store::WriteTxn& txn, std::span<const Change> changes, uint64_t expect_prev,
                     ApplyOutcome* out, std::optional<uint64_t> restart_at) {
    // apply may run again when its batch is retried: start from scratch each time.
    *out = ApplyOutcome{};
    auto stored = read_applied_seq(txn);
    if (!stored) return stored.error();
    out->applied_seq = restart_at ? *restart_at : *stored;
    if (!restart_at && *stored != expect_prev)
        return make_error(409, "fleet_out_of_order",
                          "the store holds fleet sequence " + std::to_string(*stored) +
                              ", this run follows " + std::to_string(expect_prev));
    for (const Change& c : changes) {
        if (c.seq <= out->applied_seq) continue; // delivered again: applied already
        if (Status st = apply_one(txn, c, out); !st) {
            if (st.error().http < 400 || st.error().http >= 500) return st;
            LOG_WARN("fleet: skipping change %llu: %s", static_cast<unsigned long long>(c.seq),
                     st.error().message.c_str());
        }
        out->applied_seq = c.seq;
        ++out->applied;
    }
    if (out->applied_seq != *stored)
        if (Status st = txn.write_meta(kMetaAppliedSeq, encode_u64(out->applied_seq)); !st)
            return st;
    return Status::ok();
}

} // namespace ec::fleet
