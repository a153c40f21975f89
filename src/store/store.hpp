// Store: the LMDB environment, namespaces, KV records with TTL and metadata, group commit.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/options.hpp"
#include "loop/loop.hpp"
#include "util/status.hpp"

namespace ec::store {

// sync: a plain mdb_txn_commit (meta page fsynced too) before any done of the batch runs: an
// acknowledged write survives a process kill, a kernel crash and a power cut.
// batch: MDB_NOMETASYNC; done runs at commit, and the writer calls mdb_env_sync
// sync_interval_ms after a commit. A power cut or kernel crash may undo the last committed
// transaction (one group commit), never more and never the environment; a process kill loses
// nothing. Either way every write transaction commits on the writer thread with LMDB's own
// ordering (data pages fsynced before the meta page that points at them; never MDB_NOSYNC).
using Durability = config::Durability;

// The operator's settings (config::StoreSettings, from the option table) and the knobs that are
// not configuration. data_dir is created if missing and locked with flock(LOCK_EX|LOCK_NB).
struct Options : config::StoreSettings {
    // Every operator setting at its option-table default (data_dir "": set it).
    Options() : config::StoreSettings(config::defaults()) {}
    explicit Options(const config::StoreSettings& settings) : config::StoreSettings(settings) {}

    uint32_t sweep_interval_ms = 1000; // 0 = no sweep timer (tests sweep by hand)
    uint32_t sweep_budget = 1000;      // expired records deleted per sweep slice
};

// A KV namespace: `num` prefixes its storage keys; `id` (32 lowercase hex) is the Cloudflare id.
struct Namespace {
    uint32_t num = 0;
    std::string id;
    std::string title;
};

// True when `id` has the form of a Namespace id: 32 lowercase hex digits.
bool is_namespace_id(std::string_view id);
// A new Namespace id: 16 bytes from the kernel CSPRNG in hex (unique only by chance: who stores
// it checks). Errors: 500 internal when no random bytes can be read.
Result<std::string> random_namespace_id();
// The store's namespace errors, for whoever answers in its name (the fleet decides some before
// the store sees them): 404 namespace_not_found naming `name` (an id or a title), and 400
// namespace_exists for a title another namespace holds.
Error namespace_not_found(std::string_view name);
Error namespace_title_taken(std::string_view title);

// One KV entry as read: everything copied out of LMDB (safe after the read txn resets).
struct KvValue {
    std::string value;
    std::string metadata;   // raw JSON as sent; empty = none
    int64_t expiration = 0; // unix seconds; 0 = never
};

struct KvListEntry {
    std::string name;
    std::string metadata;
    int64_t expiration = 0;
};

struct KvListPage {
    std::vector<KvListEntry> keys;
    bool complete = true;
    std::string cursor; // opaque; non-empty iff !complete
};

// ---- generic record layer (KV records today, cache entries later) ----
// Storage keys are "logical" byte strings of any length: 'K' + be32(ns.num) + KV key for KV
// records, 'C' + cache key for cache entries. The store encodes them for LMDB's key limit.

// A record as copied out of LMDB: owns its bytes.
struct Record {
    std::string key;        // full logical storage key
    int64_t expires_at = 0; // unix seconds; 0 = never
    std::string payload;    // layer-specific bytes (KV: u32le metadata_len + metadata + value)
};

// A record seen during a scan. The views point into LMDB memory and are valid only inside the
// scan callback (until the read transaction resets, or until the write transaction writes).
struct RecordView {
    std::string_view key;
    int64_t expires_at = 0;
    std::string_view payload;
    std::string_view tags; // encoded tags block; iterate with for_each_record_tag
};

// Calls fn(tag) for each tag in a RecordView's tags block.
void for_each_record_tag(std::string_view tags_block,
                         const std::function<void(std::string_view)>& fn);

// Where a scan stopped. `complete` is false when more matching records may follow; resume by
// passing `last_key` as `after` (it is the last key the scan examined, possibly an expired one).
struct ScanPage {
    bool complete = true;
    std::string last_key;
};

// Counts of entries in the LMDB databases (mdb_stat), for stats and tests.
struct EntryCounts {
    uint64_t records = 0;
    // From the record tally (tally.hpp): records and bytes (encoded key + stored value) by kind.
    uint64_t kv_records = 0;
    uint64_t kv_bytes = 0;
    uint64_t cache_entries = 0; // every stored response and Vary marker
    uint64_t cache_bytes = 0;
    uint64_t expiry_entries = 0; // expiry-index entries (one per record with an expiration)
    uint64_t namespaces = 0;
};

// What one expiry sweep slice did.
struct SweepResult {
    size_t deleted = 0; // records deleted
    bool more = false;  // the budget ran out: more expired entries may remain
};

// Records a scan may pass over as expired before it stops with a short page (and a cursor).
inline constexpr size_t kScanSkipBudget = 1000;

// Counters the stats endpoints read.
struct StoreStats {
    uint64_t commits = 0;         // write transactions committed
    uint64_t ops_committed = 0;   // operations acknowledged OK
    uint64_t ops_failed = 0;      // operations that failed alone (batch retried without them)
    uint64_t syncs = 0;           // mdb_env_sync calls (batch durability's periodic ones, flush)
    uint64_t expired_swept = 0;   // records deleted by the sweeper
    uint64_t expired_on_read = 0; // point reads that found an expired record (not returned)
    uint64_t evicted = 0;         // records evicted because the map was full
    uint64_t expired_skipped = 0; // expired records passed over by listings and scans
    // Writes that failed for lack of room or a failing disk, by reason, indexed by
    // StorageFault: [1] map_full (nothing left to evict), [2] disk_full (ENOSPC, EDQUOT, EIO
    // on a full filesystem), [3] io (other EIO, a failed sync). [0] is unused.
    uint64_t commit_failures[4] = {0, 0, 0, 0};
};

class WriteTxn;

// A unit of work for group commit. `apply` runs on the writer thread inside the shared write
// transaction and may run more than once (when the batch is retried without another failed
// op), so it must only touch the transaction and what it captured by value (or through a
// shared_ptr the loop leaves alone until `done`), never loop state. The op itself is created
// and destroyed on the loop. `on_commit` runs once, on the loop, after the commit that
// included the op (update in-memory mirrors here). `done` runs on the loop once the op is
// durable per `durability`, or with the op's error; it is always called exactly once.
struct WriteOp {
    std::function<Status(WriteTxn&)> apply;
    std::function<void()> on_commit;
    std::function<void(Status)> done;
    // About how many bytes apply writes (0 = small). A transaction takes queued ops up to
    // map_size / 20 of them, so eviction ahead of a full map gets a turn between big ones.
    size_t bytes_hint = 0;
};

class Store {
public:
    // Opens (creating) the environment in opts.data_dir. Throws std::runtime_error with a clear
    // message on failure (dir not writable, locked by another daemon, bad map size...).
    static std::unique_ptr<Store> open(loop::Loop& loop, const Options& opts);
    ~Store(); // commits any pending batch, waits for syncs, closes the env

    // ---- namespaces (served from an in-memory mirror, updated after commit) ----
    const Namespace* namespace_by_title(std::string_view title) const;
    const Namespace* namespace_by_id(std::string_view id) const;
    std::vector<const Namespace*> namespaces() const; // sorted by title

    // ---- KV reads: snapshot of the iteration's read txn; expired entries are never returned ----
    // Returns true and fills *out when found. want_value=false skips copying the value (HEAD).
    // Keys outside 1..512 bytes are simply not found. Errors: 500 storage_error/corrupt_record.
    Result<bool> kv_get(const Namespace& ns, std::string_view key, KvValue* out,
                        bool want_value = true);
    // Byte-order listing of keys starting with prefix, after `cursor` (as returned earlier).
    // limit 1..1000. The cursor is base64url of the last key the page examined; a page may be
    // short (expired keys skipped, at most kScanSkipBudget per page). Errors: 400 bad_limit,
    // 400 bad_cursor, 500 storage_error.
    Result<KvListPage> kv_list(const Namespace& ns, std::string_view prefix,
                               std::string_view cursor, size_t limit);

    // ---- writes: queued, committed together on the writer thread ----
    // Queues op and wakes the loop. At the end of the iteration the queue goes to the writer as
    // one transaction if it is idle; otherwise it waits, growing, for the commit in flight.
    void submit(WriteOp op);

    // Convenience ops built on submit(). Validation of key/value/metadata is the caller's job;
    // these only enforce storage limits. `expiration` is unix seconds (0 = none). kv_put creates
    // the namespace on first write. done errors: 400 invalid_key / bad_namespace_title /
    // bad_expiration, 414 key_too_long, 507 storage_full, 500 storage_error / hash_collision /
    // sync_failed. kv_delete succeeds for missing keys and namespaces (creating nothing).
    void kv_put(std::string ns_title, std::string key, std::string value, std::string metadata,
                int64_t expiration, std::function<void(Status)> done);
    void kv_delete(std::string ns_title, std::string key, std::function<void(Status)> done);

    // ---- namespace administration (namespaces.cpp) ----
    // The mirror is updated after each commit: a `const Namespace*` from the lookups above is
    // valid only until the store commits again (a deleted namespace's object is freed).

    // Creates a namespace titled `title` with a fresh random id; done gets it once durable.
    // Errors: 400 namespace_exists (the title is taken), 400 bad_namespace_title, storage errors.
    void create_namespace(std::string title, std::function<void(Result<Namespace>)> done);
    // Gives namespace `id` a new title; its id and keys stay. Renaming to its current title
    // succeeds. Errors: 404 namespace_not_found, 400 namespace_exists, 400 bad_namespace_title.
    void rename_namespace(std::string id, std::string title,
                          std::function<void(Result<Namespace>)> done);
    // Removes namespace `id`: once done reports success it is gone from every lookup, and its
    // title is free. Its keys are deleted afterwards in bounded batches (one write op of at most
    // kNamespaceDeleteBatch records per commit, each batch submitted when the previous one
    // commits), so a big namespace never stalls the loop; a deletion cut short by a restart
    // resumes when the store opens. Errors: 404 namespace_not_found, storage errors.
    void delete_namespace(std::string id, std::function<void(Status)> done);
    static constexpr size_t kNamespaceDeleteBatch = 1000;
    // Deleted namespaces whose keys are not all gone yet (read from a snapshot; tests, stats).
    Result<size_t> namespace_deletions_pending();
    // After a commit whose ops used WriteTxn::adopt_namespace / drop_namespace: reloads the
    // namespace mirror and starts the key deletion of the `unlinked` namespaces. Call it from
    // the op's on_commit.
    void namespaces_changed(const std::vector<uint32_t>& unlinked);

    // ---- generic record reads (same snapshot rules as the KV reads) ----
    // Looks up a logical storage key. Returns true and fills *out (copied; payload only when
    // want_payload) for a live record; false when absent or expired. Errors: 500 storage_error,
    // 500 corrupt_record.
    Result<bool> get_record(std::string_view skey, Record* out, bool want_payload = true);
    // Calls fn, in byte order of the logical keys, for up to `limit` live records whose key
    // starts with `prefix` and is greater than `after` ("" = from the start). Expired records
    // are skipped (at most kScanSkipBudget per call, then the page ends short). The views are
    // valid only during fn; fn must not call back into the store. Errors: 500 storage_error.
    Result<ScanPage> scan_prefix(std::string_view prefix, std::string_view after, size_t limit,
                                 const std::function<void(const RecordView&)>& fn);

    // Writes a compacted copy of the environment (mdb_env_copy2, MDB_CP_COMPACT) into `path`,
    // a new directory (absolute; must not exist), on libuv's thread pool while serving goes
    // on. done(status, bytes of the copy). Errors: 400 bad_backup_path, 409
    // backup_target_exists / backup_in_progress, 500 backup_failed (the partial copy is
    // removed). Destroying the store waits for a backup in progress to finish.
    void backup(std::string path, std::function<void(Status, uint64_t bytes)> done);
    bool backup_in_progress() const;

    // When a write fails with MDB_MAP_FULL, the store evicts — expired records, then cache
    // entries ('C' keys) and records of evictable namespaces, nearest expiry first — in their
    // own transactions, and retries the failed ops once per round (two rounds). `skip` says
    // which keys were used recently (the hot tier) so they go last. KV writes that still do
    // not fit fail with 507 storage_full; reads are never affected.
    void set_eviction_filter(std::function<bool(std::string_view key)> skip);

    // A reload: applies the settings that can change while the environment is open
    // (sync_interval_ms, evictable_namespaces); the others keep the values it was opened with.
    void apply(const config::StoreSettings& settings);

    // Writes every pending op now (shutdown path); returns after the final sync, with every
    // done delivered. Blocks the loop on the writer and one fsync: not for the data path.
    void flush();

    // ---- the storage condition (a full disk, a full map, a failing disk) ----
    // "disk_full", "map_full" or "io" from the moment a write fails for lack of room or an I/O
    // error until a later write commits; "" while writes succeed. /health reports it.
    const char* fault_reason() const;
    const std::string& fault_message() const; // the error of the last such failure
    // Whether a write nobody waits for (a cache fill) should be attempted: always while writes
    // succeed; during a disk_full / io condition one a second, to notice when space is back.
    bool admit_optional_write();

    const StoreStats& stats() const;
    void reset_stats();
    // Counts of records (by kind, with their bytes), expiry-index entries and namespaces, from
    // one read snapshot: mdb_stat and the record tally, never a scan.
    Result<EntryCounts> entry_counts();
    struct MapUsage {
        uint64_t map_size;
        uint64_t used_bytes;       // pages in use by the databases
        uint64_t high_water_bytes; // the file's extent: never shrinks (backup/restore does)
    };
    MapUsage map_usage();

    // Test hook: runs on the writer thread before each batch, so a test can hold a commit in
    // flight. Set it while no write is in flight; nullptr clears it.
    void set_commit_gate_for_test(std::function<void()> gate);
    // Runs one expiry sweep slice now (as the sweep timer does); the sweeper and lazy expiry
    // both use the loop's clock, so tests move time with loop.clock().advance_for_test().
    void sweep_now_for_test();

    class Impl;

private:
    explicit Store(std::unique_ptr<Impl> impl);
    // Restarts the key deletion of namespaces deleted before a restart (namespaces.cpp).
    void resume_namespace_deletions();
    std::unique_ptr<Impl> impl_;
};

// The write transaction group commit hands to each op's `apply`. Storage keys are "logical"
// (unbounded length); WriteTxn encodes them for LMDB's 511-byte key limit.
class WriteTxn {
public:
    virtual ~WriteTxn() = default;
    // Finds the namespace, creating it (new num and random id) when `create` is set.
    virtual Result<Namespace> namespace_for_title(std::string_view title, bool create) = 0;
    // Finds a namespace by its id (32 lowercase hex), as this transaction sees it.
    // Errors: 404 namespace_not_found, storage errors.
    virtual Result<Namespace> namespace_for_id(std::string_view id) = 0;
    virtual Status kv_put(const Namespace& ns, std::string_view key, std::string_view value,
                          std::string_view metadata, int64_t expiration) = 0;
    // Returns true when a live record was deleted.
    virtual Result<bool> kv_delete(const Namespace& ns, std::string_view key) = 0;
    virtual int64_t now_s() const = 0;

    // ---- generic record layer ----
    // Every method maps MDB_MAP_FULL to 507 storage_full and other LMDB errors to 500
    // storage_error; after such an error the op must return it (the batch is retried without
    // the op). Writes keep the expiry index in step with the records.

    // Reads a live record (expired = absent) and copies it into *out. Returns false if absent.
    virtual Result<bool> get_record(std::string_view skey, Record* out) = 0;
    // Inserts or replaces the record at `skey`; expires_at is unix seconds, 0 = never, < 0 is
    // 400 bad_expiration. Errors also: 500 hash_collision when a different long key already
    // occupies the encoded key (astronomically unlikely with the keyed hash).
    virtual Status put_record(std::string_view skey, std::string_view payload,
                              int64_t expires_at) = 0;
    // The same, recording `tags` with the record and in the tag index (each tag 1..255 bytes;
    // others are dropped). Replacing or deleting the record (also by the sweeper) drops them.
    virtual Status put_tagged_record(std::string_view skey, std::string_view payload,
                                     int64_t expires_at, std::span<const std::string> tags) = 0;
    // Calls fn for up to `limit` records tagged `tag`, after the opaque position `after` (""
    // = start). Returns the position to continue from, "" when there are no more. fn must not
    // write; collect keys and delete them afterwards.
    virtual Result<std::string> scan_tag(std::string_view tag, std::string_view after, size_t limit,
                                         const std::function<void(const RecordView&)>& fn) = 0;
    // Deletes the record at `skey` if present. Returns true when a record (live or expired)
    // was deleted.
    virtual Result<bool> delete_record(std::string_view skey) = 0;
    // Like Store::scan_prefix, inside this transaction. fn must not write while scanning:
    // collect keys, then delete them after the scan returns.
    virtual Result<ScanPage> scan_prefix(std::string_view prefix, std::string_view after,
                                         size_t limit,
                                         const std::function<void(const RecordView&)>& fn) = 0;
    // Deletes up to `budget` expired records (expires_at <= now_s()) in expiry-index order.
    virtual Result<SweepResult> delete_expired(size_t budget) = 0;

    // ---- replication bookkeeping and fleet-wide namespaces (src/fleet) ----
    // Reads the meta-database value at `key` into *out. Returns false when absent. Keys of
    // other layers start with their name ("fleet:") so they never meet the store's own.
    virtual Result<bool> read_meta(std::string_view key, std::string* out) = 0;
    virtual Status write_meta(std::string_view key, std::string_view value) = 0;
    // Makes namespace `id` (32 lowercase hex, chosen elsewhere) exist under `title`: created
    // with that id, or renamed. A different namespace holding `title` is unlinked first and
    // its num appended to *unlinked (pass them to Store::namespaces_changed after the commit).
    // Errors: 400 bad_namespace_id / bad_namespace_title, storage errors.
    virtual Result<Namespace> adopt_namespace(std::string_view id, std::string_view title,
                                              std::vector<uint32_t>* unlinked) = 0;
    // Unlinks namespace `id` (as delete_namespace does) and appends its num to *unlinked.
    // Returns false when there is no such namespace. Storage errors only.
    virtual Result<bool> drop_namespace(std::string_view id, std::vector<uint32_t>* unlinked) = 0;
};

} // namespace ec::store
