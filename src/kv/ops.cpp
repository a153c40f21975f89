// Ops: KV reads, validation and writes for every front end, with the namespace counters.
#include "kv/ops.hpp"

#include <memory>

#include "kv/cf_envelope.hpp"
#include "util/percent.hpp"
#include "util/strings.hpp"

namespace ec::kv {

namespace {

// Counts a successful write against its namespace. Only what committed is counted, and only
// for a namespace that exists then, so a title nobody created gets no counters.
void count_write(NamespaceStats& stats, Write::Kind kind, std::string_view old_title,
                 const WriteResult& r) {
    switch (kind) {
    case Write::Kind::put:
        if (r.found) stats.of(r.ns.title).writes += r.count;
        break;
    case Write::Kind::del:
        if (r.found) stats.of(r.ns.title).deletes += r.count;
        break;
    case Write::Kind::rename_namespace:
        if (r.found) stats.rename(old_title, r.ns.title);
        break;
    case Write::Kind::delete_namespace:
        stats.forget(old_title);
        break;
    case Write::Kind::create_namespace:
        break;
    }
}

// A namespace write's answer from the store as a WriteResult.
WriteResult namespace_result(const Result<store::Namespace>& r) {
    WriteResult out;
    if (r) {
        out.ns = r.value();
        out.found = true;
    }
    return out;
}

} // namespace

Ops::Ops(store::Store& store, loop::Clock& clock, NamespaceStats& stats)
    : store_(store), clock_(clock), stats_(stats) {}

const store::Namespace* Ops::find(const NamespaceRef& ns) const {
    return ns.by == NamespaceRef::By::id ? store_.namespace_by_id(ns.name)
                                         : store_.namespace_by_title(ns.name);
}

Result<store::KvValue*> Ops::get(const store::Namespace* ns, std::string_view key,
                                 bool want_value) {
    if (!ns) return static_cast<store::KvValue*>(nullptr);
    auto found = store_.kv_get(*ns, key, &value_, want_value);
    if (!found) return found.error();
    NamespaceCounters& c = stats_.of(ns->title);
    ++c.reads;
    c.hits += *found;
    return *found ? &value_ : nullptr;
}

Result<store::KvListPage> Ops::list(const store::Namespace* ns, std::string_view prefix,
                                    std::string_view cursor, size_t limit) {
    if (!ns) {
        if (!cursor.empty())
            return make_error(400, "bad_cursor", "cursor does not belong to this namespace");
        return store::KvListPage{};
    }
    ++stats_.of(ns->title).lists;
    return store_.kv_list(*ns, prefix, cursor, limit);
}

Status Ops::bulk_get(std::string& out, const store::Namespace* ns, const BulkGetRequest& req) {
    if (ns) stats_.of(ns->title).reads += req.keys.size();
    return write_bulk_get_map(out, store_, ns, req);
}

Result<PutEntry> Ops::make_entry(PutRequest req, Dialect dialect) const {
    if (Status st = check_value_size(req.value.size(), rules_); !st) return st.error();
    PutEntry e;
    if (req.metadata) {
        auto m = check_metadata(*req.metadata);
        if (!m) return m.error();
        e.metadata = std::move(*m);
    }
    bool bad = false;
    std::optional<std::string> ttl, exp;
    if (!req.query.empty()) { // most puts carry none: skip three scans of nothing
        ttl = query_param(req.query, "expiration_ttl", true, &bad);
        if (!ttl && dialect == Dialect::native) ttl = query_param(req.query, "ttl", true, &bad);
        exp = query_param(req.query, "expiration", true, &bad);
    }
    if (bad) return make_error(400, "invalid_query", "query string is not valid percent-encoding");
    auto view = [](const std::optional<std::string>& s) {
        return s ? std::optional<std::string_view>(*s) : std::nullopt;
    };
    auto expiration = dialect == Dialect::native
                          ? resolve_expiration(view(ttl), view(exp), clock_.now_s(), rules_)
                          : cf_resolve_expiration(view(ttl), view(exp), clock_.now_s(), rules_);
    if (!expiration) return expiration.error();
    e.expiration = *expiration;
    e.key = std::move(req.key);
    e.borrowed = req.value;
    return e;
}

Result<size_t> Ops::list_limit(std::optional<std::string_view> text) {
    if (!text) return kMaxListLimit;
    auto n = parse_u64(*text);
    if (!n || *n < 1 || *n > kMaxListLimit)
        return make_error(400, "invalid_limit", "limit must be an integer from 1 to 1000");
    return static_cast<size_t>(*n);
}

void Ops::submit(Write w, WriteDone done) {
    bool key_write = w.kind == Write::Kind::put || w.kind == Write::Kind::del;
    if (w.kind == Write::Kind::del && w.ns.by == NamespaceRef::By::title && !find(w.ns)) {
        WriteResult nothing;
        nothing.count = w.keys.size();
        return done(Status::ok(), nothing); // deleting is idempotent: no write, no counters
    }
    if (key_write && !write_path_) return apply_key_write(std::move(w), std::move(done), true);
    // The title a rename or delete starts from, for the counters that follow the namespace.
    std::string old_title;
    if (!key_write)
        if (const store::Namespace* before = find(w.ns)) old_title = before->title;
    // Captures the counters, not `this`: the stats outlive the store, whose shutdown may run
    // the last done after the front ends are gone.
    WriteDone counted = [stats = &stats_, kind = w.kind, old_title = std::move(old_title),
                         done = std::move(done)](Status st, const WriteResult& r) {
        if (st) count_write(*stats, kind, old_title, r);
        done(std::move(st), r);
    };
    if (write_path_) return write_path_(std::move(w), std::move(counted));
    apply_locally(std::move(w), std::move(counted));
}

void Ops::apply_locally(Write w, WriteDone done) {
    switch (w.kind) {
    case Write::Kind::create_namespace:
        return store_.create_namespace(
            std::move(w.title), [done = std::move(done)](Result<store::Namespace> r) {
                done(r ? Status::ok() : Status(r.error()), namespace_result(r));
            });
    case Write::Kind::rename_namespace:
        return store_.rename_namespace(std::move(w.ns.name), std::move(w.title),
                                       [done = std::move(done)](Result<store::Namespace> r) {
                                           done(r ? Status::ok() : Status(r.error()),
                                                namespace_result(r));
                                       });
    case Write::Kind::delete_namespace:
        return store_.delete_namespace(std::move(w.ns.name), [done = std::move(done)](Status st) {
            done(std::move(st), WriteResult{});
        });
    case Write::Kind::put:
    case Write::Kind::del:
        break;
    }
    apply_key_write(std::move(w), std::move(done), false);
}

void Ops::apply_key_write(Write w, WriteDone done, bool count) {
    // One allocation holds the write, what applying it found and the answer. apply may run on
    // the writer thread more than once; done runs once, on the loop, after the last run (the
    // store calls every op's done exactly once, store.hpp) and frees it. Both callbacks capture
    // only the pointer, which std::function keeps in place: no allocation per callback.
    struct InFlight {
        Write write;
        WriteResult result;
        WriteDone done;
        NamespaceStats* stats; // counts here when submit() did not wrap done to count
    };
    auto* f = new InFlight{std::move(w), {}, std::move(done), count ? &stats_ : nullptr};
    store::WriteOp op;
    op.apply = [f](store::WriteTxn& txn) { return apply_write(txn, f->write, &f->result); };
    op.done = [f](Status st) {
        std::unique_ptr<InFlight> own(f);
        if (st && own->stats) count_write(*own->stats, own->write.kind, {}, own->result);
        own->done(std::move(st), own->result);
    };
    store_.submit(std::move(op));
}

} // namespace ec::kv
