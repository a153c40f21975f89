// Apply: changes from the fleet's stream written to LMDB with the last applied sequence, in one
// transaction, so each change is applied exactly once however often it is delivered.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "fleet/change.hpp"
#include "store/store.hpp"

namespace ec::fleet {

// The meta-database record holding the last applied stream sequence (u64le).
inline constexpr std::string_view kMetaAppliedSeq = "fleet:kv_applied_seq";

// Reads the last applied sequence (0 when nothing was ever applied).
Result<uint64_t> read_applied_seq(store::WriteTxn& txn);

struct ApplyOutcome {
    uint64_t applied_seq = 0;       // the stored sequence after the op
    size_t applied = 0;             // changes applied (not skipped as already applied)
    std::vector<uint32_t> unlinked; // namespaces dropped: Store::namespaces_changed after commit
};

// Applies `changes` (stream order) inside `txn`. `expect_prev` is the sequence the caller
// believes is stored: when the store holds another one, an earlier op failed or a subscription
// was replaced, and nothing is applied (409 fleet_out_of_order; the caller resubscribes from
// what is stored). Changes at or below the stored sequence are skipped. The stored sequence
// becomes the last change's. Storage errors are returned as they are.
// With `restart_at` set (a resynchronisation from the stream's first message), the check is
// skipped and the stored sequence is first set to *restart_at.
// A change the store refuses as bad input (4xx: a foreign message with an invalid key) is
// skipped; storage errors fail the op.
Status apply_changes(store::WriteTxn& txn, std::span<const Change> changes, uint64_t expect_prev,
                     ApplyOutcome* out, std::optional<uint64_t> restart_at = std::nullopt);

} // namespace ec::fleet
