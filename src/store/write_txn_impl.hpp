// WriteTxnImpl: the WriteTxn group commit hands to ops — records, KV entries, namespaces.
#pragma once

#include <vector>

#include "store/record.hpp"
#include "store/store.hpp"
#include "store/tally.hpp"

namespace ec::store {

inline constexpr size_t kMaxTitle = 256; // bytes; namespace titles are short names

// The storage rule for a namespace title: 1 to kMaxTitle bytes, no '/'. Errors: 400
// bad_namespace_title. (The KV front ends check Workers KV's stricter rules first.)
Status check_namespace_title(std::string_view title);

class WriteTxnImpl final : public WriteTxn {
public:
    // Borrows txn (owned by the committer) and the codec; `now` is the loop clock's time.
    WriteTxnImpl(MDB_txn* txn, const Dbs& dbs, const KeyCodec& codec, int64_t now)
        : ctx_{txn, &dbs, &codec, &tally_}, now_(now) {}

    // Errors: 404 namespace_not_found (create=false), 400 bad_namespace_title, storage errors.
    Result<Namespace> namespace_for_title(std::string_view title, bool create) override;
    // Errors: 400 invalid_key (empty), 414 key_too_long (> 512 bytes), storage errors.
    Status kv_put(const Namespace& ns, std::string_view key, std::string_view value,
                  std::string_view metadata, int64_t expiration) override;
    Result<bool> kv_delete(const Namespace& ns, std::string_view key) override;
    int64_t now_s() const override { return now_; }

    // ---- namespace administration (namespaces.cpp) ----
    // Errors: 404 namespace_not_found, storage errors.
    Result<Namespace> namespace_for_id(std::string_view id) override;
    // Moves `ns` to `title`. Errors: 400 namespace_exists, 400 bad_namespace_title.
    Status rename_namespace(const Namespace& ns, std::string_view title);
    // Removes the title and id records of `ns` and marks its keys for deletion.
    Status unlink_namespace(const Namespace& ns);
    // Deletes up to `budget` records of the unlinked namespace `num`; clears the mark when none
    // are left (more = false).
    Result<SweepResult> delete_namespace_records(uint32_t num, size_t budget);

    Result<bool> get_record(std::string_view skey, Record* out) override;
    Status put_record(std::string_view skey, std::string_view payload, int64_t expires_at) override;
    Status put_tagged_record(std::string_view skey, std::string_view payload, int64_t expires_at,
                             std::span<const std::string> tags) override;
    Result<std::string> scan_tag(std::string_view tag, std::string_view after, size_t limit,
                                 const std::function<void(const RecordView&)>& fn) override;
    Result<bool> delete_record(std::string_view skey) override;
    Result<ScanPage> scan_prefix(std::string_view prefix, std::string_view after, size_t limit,
                                 const std::function<void(const RecordView&)>& fn) override;
    Result<SweepResult> delete_expired(size_t budget) override;

    Result<bool> read_meta(std::string_view key, std::string* out) override;
    Status write_meta(std::string_view key, std::string_view value) override;
    Result<Namespace> adopt_namespace(std::string_view id, std::string_view title,
                                      std::vector<uint32_t>* unlinked) override;
    Result<bool> drop_namespace(std::string_view id, std::vector<uint32_t>* unlinked) override;

    // Writes the record tally's changes of every op so far (collected, not written per record:
    // tally.hpp). Call before committing. Errors: 500 storage_error / 507 storage_full.
    Status flush_tally() { return store::flush_tally(ctx_.txn, *ctx_.dbs, tally_); }

    // Namespaces this transaction created, for the in-memory mirror once it commits.
    const std::vector<Namespace>& created() const { return created_; }
    uint64_t expired_skipped() const { return expired_skipped_; }

private:
    // Takes the next namespace num from the counter in meta.
    Result<uint32_t> allocate_namespace_num();
    // Writes the title and id records of `ns` (a new namespace or a new title).
    Status write_namespace_records(const Namespace& ns);

    TallyDelta tally_;
    RecordCtx ctx_;
    int64_t now_;
    std::vector<Namespace> created_;
    uint64_t expired_skipped_ = 0;
};

// Parses a namespaces-DB title record (u32le num + id). False when malformed.
bool decode_namespace(std::string_view title, std::string_view value, Namespace* out);

// KV payload: u32le metadata_len + metadata + value. False when malformed.
bool decode_kv_payload(std::string_view payload, std::string_view* metadata,
                       std::string_view* value);

} // namespace ec::store
