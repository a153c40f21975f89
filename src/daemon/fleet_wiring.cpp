// Fleet wiring: the purge path, the invalidation fan-out and the purge stream's applier.
#include "daemon/fleet_wiring.hpp"

#include "cache/purge_message.hpp"
#include "util/log.hpp"

namespace ec::daemon {

namespace {

// Keys one page of a namespace purge deletes through the fleet (kv_list's largest page).
constexpr size_t kNamespacePurgePage = 1000;

// A namespace purge deletes KV keys, and on a fleet a KV key is what the bucket says: as a
// purge message it would delete them on each node outside the stream's order (a node applying
// an older put afterwards keeps the key; one catching up or resynchronising gets every key
// back). So it is a bulk delete through the fleet, page by page: the keys of a page as this
// node lists them are published as deletes and applied here, then the next page is listed.
// Keys written on another node and not applied here yet are not part of it, as for any delete.
struct NamespacePurge {
    fleet::Fleet& fleet;
    store::Store& store;
    std::string ns_id, prefix, cursor;
    std::function<void(Result<cache::PurgeResult>)> done;
    cache::PurgeResult result;
};

void purge_namespace_page(const std::shared_ptr<NamespacePurge>& job) {
    const store::Namespace* ns = job->store.namespace_by_id(job->ns_id);
    if (!ns) return job->done(job->result); // deleted meanwhile: nothing left to purge
    auto page = job->store.kv_list(*ns, job->prefix, job->cursor, kNamespacePurgePage);
    if (!page) return job->done(page.error());
    std::vector<fleet::EntryWrite> deletes;
    deletes.reserve(page->keys.size());
    for (store::KvListEntry& k : page->keys)
        deletes.push_back({std::move(k.name), true, {}, {}, 0});
    size_t n = deletes.size();
    bool last = page->complete;
    job->cursor = std::move(page->cursor);
    job->fleet.write_by_id(job->ns_id, std::move(deletes), [job, n, last](Status st) {
        if (!st) return job->done(st.error());
        job->result.purged += n;
        if (last) return job->done(job->result);
        purge_namespace_page(job);
    });
}

void purge_namespace(fleet::Fleet& fleet, store::Store& store, const cache::PurgeRequest& req,
                     std::function<void(Result<cache::PurgeResult>)> done) {
    const store::Namespace* ns = store.namespace_by_title(req.namespace_);
    if (!ns) return done(store::namespace_not_found(req.namespace_));
    if (Status st = cache::check_namespace_purge(req); !st) return done(st.error());
    auto job = std::make_shared<NamespacePurge>(
        NamespacePurge{fleet,
                       store,
                       ns->id,
                       req.kind == cache::PurgeRequest::Kind::prefix ? req.prefix : "",
                       "",
                       std::move(done),
                       {}});
    purge_namespace_page(job);
}

} // namespace

void wire_fleet_purges(fleet::Fleet& fleet, cache::Proxy& proxy, store::Store& store) {
    cache::Purger& purger = proxy.purger();
    purger.set_path([&fleet, &purger,
                     &store](cache::PurgeRequest req,
                             std::function<void(Result<cache::PurgeResult>)> done) {
        if (!req.namespace_.empty()) return purge_namespace(fleet, store, req, std::move(done));
        cache::PurgeMessage m;
        m.node = fleet.node();
        m.request = req;
        fleet.publish_purge(
            cache::encode_purge_message(m),
            [&purger, req = std::move(req), done = std::move(done)](Result<uint64_t> seq) mutable {
                if (!seq) return done(seq.error());
                purger.apply(std::move(req), [done, s = *seq](Result<cache::PurgeResult> r) {
                    if (r) r->fleet_seq = s;
                    done(std::move(r));
                });
            });
    });
    proxy.set_invalidation_fanout([&fleet](std::string host, std::string target) {
        cache::PurgeMessage m;
        m.node = fleet.node();
        m.invalidation = true;
        m.host = std::move(host);
        m.target = std::move(target);
        // The origin answered already: this node invalidated; the others follow the stream.
        fleet.publish_purge(
            cache::encode_purge_message(m), [target = m.target](Result<uint64_t> r) {
                if (!r)
                    LOG_WARN("fleet: the invalidation of %s did not reach the fleet: %s",
                             target.c_str(), r.error().message.c_str());
            });
    });
    fleet.set_purge_applier([&fleet, &proxy](uint64_t seq, std::string payload,
                                             std::function<void()> applied) {
        auto m = cache::decode_purge_message(payload);
        if (!m) {
            LOG_WARN("fleet: skipping purge %llu: %s", static_cast<unsigned long long>(seq),
                     m.error().message.c_str());
            return applied();
        }
        if (m->node == fleet.node()) return applied(); // applied when it was published
        if (m->invalidation) {
            proxy.invalidate_here(m->host, m->target);
            return applied();
        }
        proxy.purger().apply(std::move(m->request), [seq, applied](Result<cache::PurgeResult> r) {
            if (!r)
                LOG_WARN("fleet: purge %llu failed here: %s", static_cast<unsigned long long>(seq),
                         r.error().message.c_str());
            applied();
        });
    });
    fleet.set_purge_everything([&proxy] {
        cache::PurgeRequest all;
        all.kind = cache::PurgeRequest::Kind::all;
        proxy.purger().apply(std::move(all), [](Result<cache::PurgeResult> r) {
            if (r)
                LOG_WARN("fleet: purged everything cached here (%llu entries)",
                         static_cast<unsigned long long>(r->purged));
        });
    });
}

namespace {

// The namespace a write addressed, as this node has it now.
const store::Namespace* lookup(store::Store& store, const kv::NamespaceRef& ref) {
    return ref.by == kv::NamespaceRef::By::title ? store.namespace_by_title(ref.name)
                                                 : store.namespace_by_id(ref.name);
}

} // namespace

void wire_fleet_kv(fleet::Fleet& fleet, kv::Ops& ops, store::Store& store) {
    ops.set_write_path([&fleet, &store](kv::Write w, kv::WriteDone done) {
        using Kind = kv::Write::Kind;
        auto namespace_done = [done](Result<store::Namespace> r) {
            kv::WriteResult out;
            if (r) {
                out.ns = r.value();
                out.found = true;
            }
            done(r ? Status::ok() : Status(r.error()), out);
        };
        switch (w.kind) {
        case Kind::create_namespace:
            return fleet.create_namespace(std::move(w.title), namespace_done);
        case Kind::rename_namespace:
            return fleet.rename_namespace(std::move(w.ns.name), std::move(w.title), namespace_done);
        case Kind::delete_namespace:
            return fleet.delete_namespace(std::move(w.ns.name), [done](Status st) {
                done(std::move(st), kv::WriteResult{});
            });
        case Kind::put:
        case Kind::del:
            break;
        }
        std::vector<fleet::EntryWrite> writes;
        size_t count = 0, deleted = 0;
        if (w.kind == Kind::put) {
            count = w.entries.size();
            writes.reserve(count);
            for (kv::PutEntry& e : w.entries)
                writes.push_back({std::move(e.key), false, std::string(e.value()),
                                  std::move(e.metadata), e.expiration});
        } else {
            count = w.keys.size();
            // What existed here when the delete was asked (the bulk answer's "deleted").
            const store::Namespace* ns = lookup(store, w.ns);
            for (std::string& k : w.keys) {
                store::KvValue v;
                if (ns) {
                    auto r = store.kv_get(*ns, k, &v, false);
                    if (r && *r) ++deleted;
                }
                writes.push_back({std::move(k), true, {}, {}, 0});
            }
        }
        auto answer = [&store, ref = w.ns, count, deleted, done](Status st) {
            kv::WriteResult out;
            if (const store::Namespace* ns = lookup(store, ref)) {
                out.ns = *ns;
                out.found = true;
            }
            out.count = count;
            out.deleted = deleted;
            done(std::move(st), out);
        };
        if (w.ns.by == kv::NamespaceRef::By::title)
            fleet.write(std::move(w.ns.name), w.kind == Kind::put, std::move(writes),
                        std::move(answer));
        else
            fleet.write_by_id(std::move(w.ns.name), std::move(writes), std::move(answer));
    });
}

} // namespace ec::daemon
