// Run index: the long keys of each run (storage keys sharing their truncated prefix) in the
// byte order of the full keys, so a listing seeks inside a run instead of reading it whole.
#pragma once

#include <string>
#include <string_view>

#include <lmdb.h>

#include "store/record.hpp"

namespace ec::store {

// The records database orders a run's long keys by hash (their LMDB keys are prefix + hash).
// The `runs` database (DUPSORT) holds, per run prefix P, one entry per long key K:
//   data = order(K[T:]) cut to T bytes, then K's 8 hash bytes (so P + hash is K's LMDB key)
// order() maps bytes so that byte order is kept and no encoding is a prefix of another: 00
// becomes 00 FF, and 00 00 ends it. Entries sort as the full keys do, except that keys whose
// order() agree on the first T bytes (keys of 2T+ bytes sharing about 2T bytes; never KV keys,
// which are at most 517 bytes) form a group sorted by hash, which a scan reads whole.

// The index entry of long logical key `skey` stored under `ekey` (its encoded key).
std::string run_entry(size_t threshold, std::string_view skey, std::string_view ekey);
// Entry data at or before that of every key >= x in x's run (x has >= `threshold` bytes).
std::string run_seek(size_t threshold, std::string_view x);
// True when the entry's order() part was cut (it may share it with other entries).
bool run_entry_cut(size_t threshold, std::string_view entry);

// Keep the index in step with the records (long keys only). Errors: 500 storage_error.
Status run_index_add(const RecordCtx& c, std::string_view skey, std::string_view ekey);
Status run_index_remove(const RecordCtx& c, std::string_view skey, std::string_view ekey);

// Fills the index from the records database: the storage format 1 -> 2 upgrade. Returns the
// number of entries written, or a message naming the LMDB error.
Result<size_t> build_run_index(MDB_txn* txn, const Dbs& dbs, size_t threshold);

} // namespace ec::store
