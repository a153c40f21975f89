// Write: constructors and the transaction body of puts and deletes.
#include "kv/write.hpp"

namespace ec::kv {

Write Write::put(NamespaceRef ns, std::vector<PutEntry> entries) {
    Write w;
    w.kind = Kind::put;
    w.ns = std::move(ns);
    w.entries = std::move(entries);
    return w;
}

Write Write::put(NamespaceRef ns, PutEntry entry) {
    std::vector<PutEntry> one;
    one.push_back(std::move(entry));
    return put(std::move(ns), std::move(one));
}

Write Write::del(NamespaceRef ns, std::vector<std::string> keys) {
    Write w;
    w.kind = Kind::del;
    w.ns = std::move(ns);
    w.keys = std::move(keys);
    return w;
}

Write Write::create_namespace(std::string title) {
    Write w;
    w.kind = Kind::create_namespace;
    w.title = std::move(title);
    return w;
}

Write Write::rename_namespace(std::string id, std::string title) {
    Write w;
    w.kind = Kind::rename_namespace;
    w.ns = NamespaceRef::id(std::move(id));
    w.title = std::move(title);
    return w;
}

Write Write::delete_namespace(std::string id) {
    Write w;
    w.kind = Kind::delete_namespace;
    w.ns = NamespaceRef::id(std::move(id));
    return w;
}

Status apply_write(store::WriteTxn& txn, const Write& w, WriteResult* result) {
    *result = WriteResult{};
    if (w.kind != Write::Kind::put && w.kind != Write::Kind::del)
        return make_error(500, "internal", "a namespace write is not applied as a key write");
    bool put = w.kind == Write::Kind::put;
    auto ns = w.ns.by == NamespaceRef::By::id ? txn.namespace_for_id(w.ns.name)
                                              : txn.namespace_for_title(w.ns.name, put);
    if (!ns) {
        // Deleting from a namespace that does not exist succeeds and creates nothing.
        if (!put && w.ns.by == NamespaceRef::By::title &&
            ns.error().code == "namespace_not_found") {
            result->count = w.keys.size();
            return Status::ok();
        }
        return ns.error();
    }
    if (put) {
        for (const PutEntry& e : w.entries)
            if (Status st = txn.kv_put(*ns, e.key, e.value(), e.metadata, e.expiration); !st)
                return st;
        result->count = w.entries.size();
    } else {
        for (const std::string& k : w.keys) {
            auto r = txn.kv_delete(*ns, k);
            if (!r) return r.error();
            result->deleted += *r ? 1 : 0;
        }
        result->count = w.keys.size();
    }
    result->ns = std::move(*ns);
    result->found = true;
    return Status::ok();
}

} // namespace ec::kv
