// Proxy and part sets (partial.hpp): answering ranges from stored parts, storing a new part.
#include "cache/cache_key.hpp"
#include "cache/partial.hpp"
#include "cache/proxy.hpp"

namespace ec::cache {

bool Proxy::serve_parts(http::Exchange& ex, Route& route, const Entry& parts,
                        const CacheControl& cc, int64_t now, bool memory) {
    const http::Request& req = ex.request();
    if (req.method != HTTP_GET) return false; // HEAD needs the complete response's head
    // Only fresh parts answer: a stale set is neither served nor revalidated (partial.hpp).
    if (decide_reuse(parts.freshness(), cc, now, settings_.honor_client_no_cache) != Reuse::serve)
        return false;
    if (answer_from_parts(parts, req.headers).range.kind == RangeAnswer::Kind::full) return false;
    ++(memory ? route.stats.hits_memory : route.stats.hits_disk);
    int64_t ttl = fresh_until(parts.freshness()) - now;
    std::string cs = "hit; ttl=" + std::to_string(ttl) + "; detail=partial";
    serve_entry(ex, parts, Verdict{"HIT", cs}, now, settings_, route.stats);
    return true;
}

void Proxy::store_part(const std::string& base, const std::string& key,
                       std::shared_ptr<const Entry> part, std::vector<std::string> vary_names,
                       std::vector<std::string> tags, Generations::Snapshot snap, Route& route,
                       std::function<void()> settled) {
    auto settle = [&settled] {
        if (settled) settled();
    };
    if (!gens_.still_valid(base, snap)) {
        ++route.stats.stores_skipped; // purged while in flight: don't bring it back
        settle();
        return;
    }
    int64_t expires = retain_until(part->freshness());
    if (expires <= loop_.clock().now_s() || !store_.admit_optional_write()) {
        ++route.stats.not_stored;
        settle();
        return;
    }
    ++route.stats.stores;
    std::shared_ptr<const Entry> marker;
    if (!vary_names.empty()) marker = Entry::decode(Entry::encode_vary(vary_names));
    // What apply wrote at `key` (the combined set, the complete response, or the part alone);
    // empty when a complete response already held the part. Read on the loop after the commit.
    auto written = std::make_shared<std::string>();
    store::WriteOp op;
    op.apply = [base, key, part, marker, tags = std::move(tags), expires,
                max_bytes = settings_.max_object_size, written](store::WriteTxn& txn) -> Status {
        written->clear(); // apply may run again
        if (marker) {
            if (Status st = txn.put_record(base, *marker->blob(), expires); !st) return st;
        }
        store::Record rec;
        auto found = txn.get_record(key, &rec);
        if (!found) return found.error();
        std::shared_ptr<const Entry> stored;
        if (*found) stored = Entry::decode(std::move(rec.payload));
        auto payload = merge_part(stored.get(), *part, max_bytes);
        if (!payload) return Status::ok();
        *written = std::move(*payload);
        return txn.put_tagged_record(key, *written, expires, tags);
    };
    op.bytes_hint = part->blob()->size();
    auto once = std::make_shared<std::function<void()>>(std::move(settled));
    // The hot tier learns the result only once LMDB holds it; until then the fill answers its
    // own waiters from the part (its settling phase).
    // Not while a purge runs either: it may delete this record in a later op, after its sweep
    // of memory (as in load()).
    op.on_commit = [this, base, key, snap, marker, written, once] {
        if (!written->empty()) hot_.erase(key); // the set it replaces, whatever comes next
        if (gens_.still_valid(base, snap) && purger_->in_progress() == 0) {
            if (marker) remember(base, marker);
            if (!written->empty()) {
                if (auto e = Entry::decode(std::move(*written))) remember(key, e);
            }
        }
        if (auto fn = std::exchange(*once, nullptr)) fn();
    };
    op.done = [base, once](Status st) {
        if (!st)
            LOG_WARN("storing a part of %s failed: %s", std::string(key_url(base)).c_str(),
                     st.error().message.c_str());
        if (auto fn = std::exchange(*once, nullptr)) fn();
    };
    store_.submit(std::move(op));
}

} // namespace ec::cache
