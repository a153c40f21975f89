// RecordTally: how many records and bytes each kind (KV keys, cache entries) holds, kept in the
// meta database by every record write so stats never scan.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include <lmdb.h>

#include "store/record.hpp"
#include "util/status.hpp"

namespace ec::store {

// A record's kind is the first byte of its logical key (encoding keeps it): 'K' KV, 'C' cache.
enum class RecordKind : uint8_t { kv, cache, other };
inline constexpr size_t kRecordKinds = 3;
RecordKind record_kind(std::string_view key);

// Counts and bytes per kind. A record's bytes are its encoded key plus its LMDB value (header,
// full key of a long key, tags, payload): what it occupies before page overhead.
struct RecordTally {
    std::array<uint64_t, kRecordKinds> count{};
    std::array<uint64_t, kRecordKinds> bytes{};

    uint64_t records() const { return count[0] + count[1] + count[2]; }
    uint64_t count_of(RecordKind k) const { return count[static_cast<size_t>(k)]; }
    uint64_t bytes_of(RecordKind k) const { return bytes[static_cast<size_t>(k)]; }
};

// The meta key of the tally: 2 × kRecordKinds u64le (the counts, then the bytes).
inline constexpr std::string_view kMetaTally = "record_tally";

// Tally changes not yet written: a write transaction of many ops reads and writes the tally
// record once, at its end, instead of once per record written (two B-tree operations each).
struct TallyDelta {
    std::array<int64_t, kRecordKinds> count{};
    std::array<int64_t, kRecordKinds> bytes{};
    bool pending = false;
};

// Adds `records` records and `bytes` bytes (either may be negative) of the kind of `ekey` to the
// tally: to c.tally when the transaction collects its changes, else to the tally record in
// c.txn. Every put, delete and sweep of the records database calls it in the same transaction.
// Errors: 500 storage_error / 507 storage_full from LMDB.
Status tally_add(const RecordCtx& c, std::string_view ekey, int64_t records, int64_t bytes);

// Writes the changes collected in `delta` to the tally record in `txn` and clears it; nothing
// when none are pending. Call before committing a transaction whose RecordCtx collected them.
// A cell never goes below zero (the sum of a transaction's changes is applied at once).
// Errors: 500 storage_error / 507 storage_full from LMDB.
Status flush_tally(MDB_txn* txn, const Dbs& dbs, TallyDelta& delta);

// Reads the tally from `txn`. Returns false when the data dir has none (written by an edgecached
// older than the tally). Errors: 500 storage_error.
Result<bool> read_tally(MDB_txn* txn, const Dbs& dbs, RecordTally* out);

// Writes the tally back as it is (recounted when the data dir has none): a change that alters
// nothing, for a write transaction whose commit only has to happen (see Writer::run).
// Errors: 500 storage_error / 507 storage_full from LMDB.
Status rewrite_tally(MDB_txn* txn, const Dbs& dbs);

// Counts every record in one pass over the records database and writes the tally: for a data
// dir without one, or whose tally disagrees with mdb_stat (an older edgecached wrote to it).
// Errors: 500 storage_error / 507 storage_full from LMDB.
Result<RecordTally> recount_tally(MDB_txn* txn, const Dbs& dbs);

} // namespace ec::store
