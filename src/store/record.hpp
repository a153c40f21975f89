// Record layer: the record value codec, put/get/delete with expiry-index upkeep, ordered scans.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <lmdb.h>

#include "store/key_codec.hpp"
#include "store/store.hpp"

namespace ec::store {

// The named databases of the environment.
struct Dbs {
    MDB_dbi records = 0;    // encoded key → record value
    MDB_dbi expiry = 0;     // DUPSORT: be64 expires_at → encoded key
    MDB_dbi tags = 0;       // DUPSORT: tag → encoded key (cache layer)
    MDB_dbi namespaces = 0; // "t"+title → u32le num + id; "i"+id → title
    MDB_dbi meta = 0;       // format version, hash key, key threshold, counters
    MDB_dbi runs = 0;       // DUPSORT: run prefix → long key in byte order (run_index.hpp)
};

struct TallyDelta;

// A transaction and what is needed to address records in it. Borrows everything.
struct RecordCtx {
    MDB_txn* txn;
    const Dbs* dbs;
    const KeyCodec* codec;
    // Where record writes add up their tally changes until the transaction writes them once
    // (flush_tally, tally.hpp); nullptr = each write updates the tally record itself.
    TallyDelta* tally = nullptr;
};

// Record value layout (little-endian): u8 version, u8 flags, i64 expires_at,
// [u32 len + full logical key when flags & kFlagFullKey],
// [u32 len + tags (u16le len + bytes each) when flags & kFlagTags], payload.
// Tags are mirrored in the tag index (tag → encoded key), kept in step by every put, delete and
// sweep, so purging by tag is a scan of one DUPSORT key.
inline constexpr uint8_t kRecordVersion = 1;
inline constexpr uint8_t kFlagFullKey = 1;
inline constexpr uint8_t kFlagTags = 2;
inline constexpr size_t kMaxTagBytes = 255;

// The tags block of a record for `tags` (empty and over-long tags dropped).
std::string encode_tags(std::span<const std::string> tags);
// Calls fn for each tag of a record's tags block.
void for_each_tag(std::string_view block, const std::function<void(std::string_view)>& fn);

// Decodes the value stored under encoded key `ekey`. Returns false when malformed. The views in
// *out point into ekey / value.
bool decode_record(std::string_view ekey, std::string_view value, RecordView* out);

// Finds the record of logical key `skey`, expired or not. Returns true with *out viewing LMDB
// memory (valid until the transaction writes or ends) and out->key viewing `skey`; false when
// absent, or when the encoded
// key holds a different long key. Errors: 500 storage_error, 500 corrupt_record.
Result<bool> find_record(const RecordCtx& c, std::string_view skey, RecordView* out);

// Inserts or replaces the record of `skey` with payload = the concatenation of `parts`,
// moving its expiry-index entry. Errors: see WriteTxn::put_record.
Status put_record(const RecordCtx& c, std::string_view skey,
                  std::span<const std::string_view> parts, int64_t expires_at,
                  std::span<const std::string> tags = {});

// Deletes the record of `skey`. Returns its expires_at, or nullopt when there was none.
Result<std::optional<int64_t>> delete_record(const RecordCtx& c, std::string_view skey);

// Deletes up to `budget` records with expires_at <= now, oldest first, with their index entries
// (stale index entries are dropped too and count against the budget).
Result<SweepResult> delete_expired(const RecordCtx& c, int64_t now, size_t budget);
// True when the expiry index holds an entry due at `now` (or one it cannot read).
Result<bool> expiry_due(const RecordCtx& c, int64_t now);

// Iterates records whose logical key starts with `prefix` and is > `after`, in byte order of the
// logical keys, expired ones included. Inside a run of long keys it walks the run index, so a
// page costs O(records returned · log n) whatever the run's length. The transaction must not be
// written while the scanner lives; views stay valid until then.
class RecordScanner {
public:
    RecordScanner(const RecordCtx& c, std::string_view prefix, std::string_view after);
    ~RecordScanner();
    RecordScanner(const RecordScanner&) = delete;
    RecordScanner& operator=(const RecordScanner&) = delete;

    // Returns true with the next record in *out, false at the end. Errors: 500 storage_error.
    Result<bool> next(RecordView* out);
    // Records read from the database so far (returned or passed over): what a page costs.
    size_t records_read() const { return records_read_; }

private:
    enum class Pos { start, moved, at_current, end };
    // Reads the LMDB entry after the last one consumed. False at the end of the database.
    Result<bool> fetch(MDB_val* k, MDB_val* v);
    Status enter_run(std::string_view run_prefix);
    // Fills group_ with the run's next records in key order. False when the run is done.
    Result<bool> next_group();
    Status leave_run();
    bool matches(std::string_view key) const;
    bool beyond(std::string_view key) const;

    RecordCtx c_;
    std::string prefix_;
    std::string after_;
    MDB_cursor* cur_ = nullptr;
    MDB_cursor* runs_ = nullptr; // on the run index while in_run_
    int open_rc_ = 0;
    Pos pos_ = Pos::start;
    bool in_run_ = false;    // the records cursor is on a run, which runs_ walks
    bool run_taken_ = false; // runs_ has handed out the run's last entry
    bool stop_ = false;      // a key past the prefix was seen: nothing after it can match
    std::string run_prefix_;
    std::vector<RecordView> group_;
    size_t group_pos_ = 0;
    size_t records_read_ = 0;
};

// Calls fn for up to `limit` records tagged `tag` (expired ones included), in encoded-key order,
// starting after `after_ekey` ("" = from the first). *last_ekey gets the resume point, or ""
// when the tag has no more entries. Returns how many records fn saw. Stale index entries
// (record gone) are skipped. Views are valid until the transaction writes.
Result<size_t> for_each_tagged(const RecordCtx& c, std::string_view tag,
                               std::string_view after_ekey, size_t limit,
                               const std::function<void(const RecordView&)>& fn,
                               std::string* last_ekey);

// Runs a scanner and hands up to `limit` live records to fn; see Store::scan_prefix. Adds the
// number of expired records passed over to *expired_skipped.
Result<ScanPage> scan_live(const RecordCtx& c, std::string_view prefix, std::string_view after,
                           size_t limit, int64_t now,
                           const std::function<void(const RecordView&)>& fn,
                           uint64_t* expired_skipped);

} // namespace ec::store
