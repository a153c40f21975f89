// Fleet wiring: the purge path, the invalidation fan-out and the purge stream's applier.
#include "daemon/fleet_wiring.hpp"

#include "cache/purge_message.hpp"
#include "util/log.hpp"

namespace ec::daemon {

void wire_fleet_purges(fleet::Fleet& fleet, cache::Proxy& proxy) {
    cache::Purger& purger = proxy.purger();
    purger.set_path([&fleet, &purger](cache::PurgeRequest req,
                                      std::function<void(Result<cache::PurgeResult>)> done) {
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

} // namespace ec::daemon
