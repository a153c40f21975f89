// Write: one KV change as a value (put, delete, namespace create/rename/delete), and how it
// applies inside a write transaction. Every KV front end submits its writes as these.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.hpp"
#include "util/status.hpp"

namespace ec::kv {

// The namespace a request addresses: by title (the native routes and the workerd backend; a
// put creates it) or by id (the Cloudflare routes; it must exist).
struct NamespaceRef {
    enum class By { title, id };
    By by = By::title;
    std::string name;

    static NamespaceRef title(std::string t) { return {By::title, std::move(t)}; }
    static NamespaceRef id(std::string i) { return {By::id, std::move(i)}; }
};

// One key's new value, already validated (rules.hpp). The value is `owned`, or `borrowed` from
// memory the submitter keeps alive until the write's done has run — a request body, which the
// ExchangeRef inside reply_when_done's callback keeps readable.
struct PutEntry {
    std::string key;
    std::string metadata;   // minified JSON; empty = none
    int64_t expiration = 0; // unix seconds; 0 = never
    std::string owned;
    std::optional<std::string_view> borrowed;

    std::string_view value() const { return borrowed ? *borrowed : std::string_view(owned); }
};

struct Write {
    enum class Kind { put, del, create_namespace, rename_namespace, delete_namespace };
    Kind kind = Kind::put;
    NamespaceRef ns;               // put, del; rename_namespace and delete_namespace: by id
    std::vector<PutEntry> entries; // put: every entry, committed in one transaction
    std::vector<std::string> keys; // del: every key (a missing one is deleted successfully)
    std::string title;             // create_namespace, rename_namespace: the (new) title

    static Write put(NamespaceRef ns, std::vector<PutEntry> entries);
    static Write put(NamespaceRef ns, PutEntry entry);
    static Write del(NamespaceRef ns, std::vector<std::string> keys);
    static Write create_namespace(std::string title);
    static Write rename_namespace(std::string id, std::string title);
    static Write delete_namespace(std::string id);
};

// What a write did, for its answer and the per-namespace counters.
struct WriteResult {
    store::Namespace ns; // the namespace written, created, renamed or deleted
    bool found = false;  // ns is set: it existed (or the write created it)
    size_t count = 0;    // put: entries written; del: keys asked to delete
    size_t deleted = 0;  // del: keys that existed
};

// Runs on the loop exactly once, when the write is durable per `durability` or has failed.
using WriteDone = std::function<void(Status, const WriteResult&)>;

// Applies a put or del to `txn` (on the writer thread; group commit may run it again after a
// retry, so *result is reset first). A by-title put creates its namespace; a by-title del in a
// namespace that does not exist deletes nothing and succeeds; a by-id namespace must exist.
// Errors: 404 namespace_not_found, the store's (400 invalid_key / bad_namespace_title, 414,
// 507 storage_full, 500 storage_error...); namespace kinds are the store's (500 internal here).
Status apply_write(store::WriteTxn& txn, const Write& w, WriteResult* result);

} // namespace ec::kv
