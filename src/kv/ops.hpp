// Ops: every KV operation written once — lookups, validation, per-namespace counters, writes.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "kv/bulk.hpp"
#include "kv/ns_stats.hpp"
#include "kv/rules.hpp"
#include "kv/write.hpp"
#include "loop/clock.hpp"
#include "store/store.hpp"

namespace ec::kv {

// How a protocol words what it validates: the native routes (which also take `ttl` for
// `expiration_ttl`) or Cloudflare's messages (the REST routes and the workerd backend).
enum class Dialect { native, cloudflare };

// A single-key put as a protocol decoded it. The views must stay valid until the write's done
// has run (they point into the request, which reply_when_done keeps alive).
struct PutRequest {
    std::string key; // checked with check_key by the caller
    std::string_view value;
    std::optional<std::string_view> metadata; // as sent: a header or a multipart part
    std::string_view query;                   // raw: expiration_ttl | expiration
};

// The one object through which the native routes, the Cloudflare routes, the workerd backend
// and bulk bodies read and write KV. The protocol files decode requests into these calls and
// encode the answers; nothing else touches the store's KV records or the namespace counters.
class Ops {
public:
    Ops(store::Store& store, loop::Clock& clock, NamespaceStats& stats);

    void set_rules(const Rules& rules) { rules_ = rules; }
    const Rules& rules() const { return rules_; }
    int64_t now_s() { return clock_.now_s(); }

    // ---- namespaces ----
    // nullptr when it does not exist. Valid until the store commits again (store.hpp).
    const store::Namespace* find(const NamespaceRef& ns) const;
    // The same without building a NamespaceRef (the read paths: no copy of the name).
    const store::Namespace* by_title(std::string_view title) const {
        return store_.namespace_by_title(title);
    }
    const store::Namespace* by_id(std::string_view id) const { return store_.namespace_by_id(id); }
    std::vector<const store::Namespace*> namespaces() const { return store_.namespaces(); }

    // ---- reads (counted as the namespace's reads, hits and lists) ----
    // Returns the live value of `key`, or nullptr when it is missing, expired, or `ns` is
    // nullptr. The value stays valid until the next get() (its buffer is reused, so a warm GET
    // allocates nothing); a large value may be moved out. want_value=false skips the value.
    Result<store::KvValue*> get(const store::Namespace* ns, std::string_view key,
                                bool want_value = true);
    // One page of `ns`'s keys. A namespace that does not exist lists as empty and complete,
    // but refuses a cursor. Errors: 400 bad_cursor, 400 bad_limit, 500 storage_error.
    Result<store::KvListPage> list(const store::Namespace* ns, std::string_view prefix,
                                   std::string_view cursor, size_t limit);
    // Appends the bulk-get map for `req` to `out` (bulk.hpp's write_bulk_get_map).
    Status bulk_get(std::string& out, const store::Namespace* ns, const BulkGetRequest& req);

    // ---- validation ----
    // Checks a single-key put (value size, metadata, the expiration in its query) and returns
    // its entry, the value borrowed from req.value. Errors: 413 value_too_large, 400
    // invalid_metadata / metadata_too_large, 400 invalid_query (percent-encoding), 400
    // invalid_expiration worded per dialect.
    Result<PutEntry> make_entry(PutRequest req, Dialect dialect) const;
    // The page size a `limit` text asks for (absent = the maximum). Errors: 400 invalid_limit.
    static Result<size_t> list_limit(std::optional<std::string_view> text);

    // ---- writes: the one place a KV write is submitted and its completion reported ----
    // Submits `w`; `done` runs once on the loop when the write is durable (and applied
    // locally) or failed. On success the namespace counters are updated here, whichever path
    // the write took. A delete by title in a namespace that does not exist answers at once
    // (done runs before submit returns) without writing anything.
    void submit(Write w, WriteDone done);

    // Where submitted writes go. By default they are applied to the local store
    // (apply_locally); a fleet replaces this to publish first and apply once accepted. The
    // path must call its done exactly once, on the loop.
    using WritePath = std::function<void(Write, WriteDone)>;
    void set_write_path(WritePath path) { write_path_ = std::move(path); }
    // Applies `w` to the local store: puts and deletes as one write op each (apply_write),
    // namespace writes through the store's namespace operations.
    void apply_locally(Write w, WriteDone done);

private:
    // A put or delete as one store write op; `count` updates the namespace counters on success
    // (the local path, where submit() has not wrapped done to count).
    void apply_key_write(Write w, WriteDone done, bool count);

    store::Store& store_;
    loop::Clock& clock_;
    NamespaceStats& stats_;
    Rules rules_;
    WritePath write_path_;
    store::KvValue value_; // reused across gets
};

} // namespace ec::kv
