// Proxy: routing a request to a lookup, a hit, a coalesced fill or a pass; storing entries.
#include "cache/proxy.hpp"

#include "cache/cache_key.hpp"
#include "cache/conditional.hpp"
#include "cache/fields.hpp"
#include "cache/fill.hpp"
#include "cache/partial.hpp"
#include "http/json_reply.hpp"
#include "util/json_writer.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"
#include "util/time_format.hpp"

namespace ec::cache {

namespace {
// Keys remembered (as hashes: ~40 bytes each, whatever the URL's length, so at most ~4 MiB);
// the map is cleared beyond it.
constexpr size_t kMaxHitForPass = 100000;
constexpr size_t kDeferredQueue = 10000;        // background revalidations waiting at most
constexpr size_t kRevalidationBytes = 16 << 20; // ...and the bytes they hold at most
constexpr size_t kInvalidateBatch = 1000;       // variants deleted per URL invalidation op
} // namespace

Proxy::Proxy(loop::Loop& loop, store::Store& store, origin::Origins& origins,
             const config::CacheSettings& settings)
    : loop_(loop), store_(store), origins_(origins), settings_(settings),
      // hot_object_max is reloadable: remember() checks it, not the tier.
      hot_(HotTierBase::Options{.capacity_bytes = settings.memory_cache}),
      deferred_(loop, settings.deferred_concurrency, kDeferredQueue),
      purger_(std::make_unique<Purger>(*this, loop_, store_)) {}

Proxy::~Proxy() {
    shutdown();
}

void Proxy::configure(const config::Config& cfg) {
    for (const auto& r : table_.routes()) {
        bool kept = false;
        for (const auto& spec : cfg.routes)
            kept = kept || spec.name == r->spec.name;
        if (!kept) retired_.add(r->stats);
    }
    table_.configure(cfg.routes, shared_policy(cfg));
    settings_.apply(cfg);
    deferred_.set_max_running(cfg.deferred_concurrency);
}

void Proxy::shutdown() {
    if (shut_down_) return;
    shut_down_ = true;
    deferred_.drop_queued();
    auto fills = std::move(fills_);
    fills_.clear();
    for (auto& [key, fill] : fills)
        fill->abort();
}

CacheCounters Proxy::totals() const {
    CacheCounters t = retired_;
    for (const auto& r : table_.routes())
        t.add(r->stats);
    return t;
}

void Proxy::reset_stats() {
    retired_ = {};
    for (const auto& r : table_.routes())
        r->stats = {};
    deferred_.reset_stats();
}

origin::Pool* Proxy::pool_for(const Route& route) {
    return origins_.find(route.spec.origin);
}

http::BodyLimit Proxy::body_limit(const http::Request&) const {
    return http::BodyLimit{settings_.max_body_size};
}

// ---------------------------------------------------------------------------------------------
// Entry points

namespace {

// RFC 9110 §7.6.1: fields named in Connection are for this hop only. They go before anything
// reads the request — Vary keys, freshness, forwarding — so no key is built from a field the
// origin never sees (issue 11 defect 8).
void drop_connection_listed(http::Request& req) {
    std::vector<std::string_view> lines; // rarely more than one
    for (const auto& h : req.headers)
        if (iequals(h.name, "connection")) lines.push_back(h.value);
    if (lines.empty()) return;
    std::erase_if(req.headers, [&](const http::Header& h) {
        if (iequals(h.name, "connection")) return false;
        for (std::string_view line : lines)
            if (listed_in_connection(line, h.name)) return true;
        return false;
    });
}

} // namespace

void Proxy::handle(http::Exchange& ex) {
    drop_connection_listed(ex.mutable_request());
    const http::Request& req = ex.request();
    RouteTable::Match m = table_.match_request(req.path);
    if (m.ambiguous) {
        // Issue 11 defect 7: an origin resolving "..%2F" would answer another route's URL.
        http::send_error(ex, 400, "ambiguous_path",
                         "the path chooses another route once %-decoded and dot-segments removed");
        return;
    }
    std::shared_ptr<Route> route = std::move(m.route);
    if (!route) {
        http::send_error(ex, 404, "not_found", "no route for " + std::string(req.path));
        return;
    }
    ex.set_route(route->log_name, route->log_origin);
    if (refuse_loop(ex, settings_)) return;
    if (shut_down_) {
        http::send_error(ex, 503, "shutting_down", "edgecached is shutting down");
        return;
    }
    if (req.method == HTTP_GET || req.method == HTTP_HEAD) {
        ++route->stats.requests;
        handle_get(ex, route);
        return;
    }
    pass(ex, route, false);
}

void Proxy::handle_get(http::Exchange& ex, const std::shared_ptr<Route>& route) {
    const http::Request& req = ex.request();
    std::string base = request_key(req.host, req.path, req.query, route->spec.ignore_query_params);
    CacheControl cc;
    for (const auto& h : req.headers) {
        if (iequals(h.name, "cache-control"))
            cc.add(h.value);
        else if (iequals(h.name, "if-match") || iequals(h.name, "if-unmodified-since")) {
            // Preconditions on the origin's current state: only it can evaluate them.
            pass(ex, route, false);
            return;
        }
    }
    Found found = lookup(base, req);
    int64_t now = loop_.clock().now_s();
    std::shared_ptr<const Entry> parts; // an incomplete response: answers only ranges it holds
    if (found.entry && found.entry->is_partial()) parts = std::move(found.entry);
    if (parts && serve_parts(ex, *route, *parts, cc, now, found.memory)) return;
    if (found.entry) {
        const Entry& e = *found.entry;
        Reuse reuse = decide_reuse(e.freshness(), cc, now, settings_.honor_client_no_cache);
        if (log::enabled(log::Level::debug))
            log_reuse(base, e.freshness(), reuse, now, found.memory);
        switch (reuse) {
        case Reuse::serve: {
            ++(found.memory ? route->stats.hits_memory : route->stats.hits_disk);
            int64_t ttl = fresh_until(e.freshness()) - now;
            std::string cs = "hit; ttl=" + std::to_string(ttl);
            serve_entry(ex, e, Verdict{"HIT", cs}, now, settings_, route->stats);
            return;
        }
        case Reuse::serve_stale: {
            ++route->stats.stale_served;
            int64_t ttl = fresh_until(e.freshness()) - now;
            std::string cs = "hit; ttl=" + std::to_string(ttl) + "; detail=stale-while-revalidate";
            serve_entry(ex, e, Verdict{"STALE", cs}, now, settings_, route->stats);
            schedule_revalidation(route, base, found.key, found.entry, req);
            return;
        }
        case Reuse::revalidate:
            break;
        }
    }
    if (cc.only_if_cached) {
        // RFC 9111 §5.2.1.7: nothing usable stored, and the client forbids asking the origin.
        http::send_error(ex, 504, "not_cached", "only-if-cached: no stored response to use");
        return;
    }
    if (req.method == HTTP_HEAD && !found.entry) {
        pass(ex, route, false); // a HEAD miss is forwarded as HEAD and nothing is stored
        return;
    }
    if (!found.entry) LOG_DEBUG("cache %s: no stored copy", std::string(key_url(base)).c_str());
    if (hit_for_pass(base)) {
        LOG_DEBUG("cache %s: hit-for-pass: a recent answer was not shareable, forwarding "
                  "without coalescing",
                  std::string(key_url(base)).c_str());
        ++route->stats.hit_for_pass;
        pass(ex, route, true);
        return;
    }
    std::string key = found.key.empty() ? base : found.key;
    if (auto it = fills_.find(key); it != fills_.end()) {
        std::shared_ptr<Fill> fill = it->second; // join may end it, and it leaves the map
        if (fill->join(ex.defer())) return;
    }
    // Nothing complete to answer or revalidate: a range is asked for as such (partial.hpp).
    std::optional<std::string> forward;
    if (!found.entry && req.method == HTTP_GET) forward = forwardable_range(req.headers);
    if (forward) {
        if (auto it = fills_.find(fill_slot(key, *forward)); it != fills_.end()) {
            std::shared_ptr<Fill> fill = it->second;
            if (fill->join(ex.defer())) return;
        }
    }
    start_fill(ex, route, std::move(base), std::move(key), found.entry,
               forward ? std::move(*forward) : std::string());
}

void Proxy::log_reuse(const std::string& base, const Freshness& f, Reuse reuse, int64_t now,
                      bool memory) {
    State st = state_at(f, now);
    const char* verdict = reuse == Reuse::serve ? "HIT"
                          : reuse == Reuse::serve_stale
                              ? "STALE served, revalidating in the background"
                              : "not served unvalidated";
    const char* why = reuse != Reuse::revalidate ? ""
                      : st == State::fresh || st == State::stale_while_revalidate
                          ? " (the client's Cache-Control asks for a fresher copy)"
                      : st == State::stale_if_error_only
                          ? " (past stale-while-revalidate; stale-if-error keeps it for failures)"
                          : " (past every stale window)";
    LOG_DEBUG("cache %s: %s: stored copy (%s) is %s%s: age %llds, lifetime %llds from %s, "
              "swr %llds, sie %llds%s",
              std::string(key_url(base)).c_str(), verdict, memory ? "memory" : "disk",
              state_name(st), why, static_cast<long long>(current_age(f, now)),
              static_cast<long long>(f.lifetime), lifetime_source_name(f.source),
              static_cast<long long>(f.swr), static_cast<long long>(f.sie),
              f.revalidate_each_use ? ", no-cache: validated on every use" : "");
}

void Proxy::start_fill(http::Exchange& ex, const std::shared_ptr<Route>& route, std::string base,
                       std::string key, std::shared_ptr<const Entry> stale,
                       std::string forward_range) {
    ++route->stats.misses;
    origin::Pool* pool = pool_for(*route);
    FillRequest req =
        FillRequest::from(ex.request(), pool ? &pool->spec() : nullptr, settings_, false);
    req.forward_range = std::move(forward_range);
    Generations::Snapshot snap = gens_.snapshot(base);
    auto fill = std::make_shared<Fill>(static_cast<FillHost&>(*this), Fill::Kind::client, route,
                                       std::move(base), std::move(key), std::move(stale),
                                       std::move(req), snap);
    fills_[fill->key()] = fill;
    fill->start(ex.defer());
}

void Proxy::schedule_revalidation(const std::shared_ptr<Route>& route, const std::string& base,
                                  const std::string& key, std::shared_ptr<const Entry> stale,
                                  const http::Request& req) {
    if (fills_.count(key)) return; // one is queued or on its way
    // The request is copied now: the task runs when the client may be long gone.
    origin::Pool* pool = pool_for(*route);
    FillRequest fill_req = FillRequest::from(req, pool ? &pool->spec() : nullptr, settings_, true);
    // What a queued revalidation holds: the fill with its keys and request, the map's key, the
    // task. Bounded in bytes as well as in count: a client with long unique URLs would
    // otherwise queue up to kDeferredQueue × tens of KiB. A full queue only means the stale
    // entry keeps being served until a later request schedules its revalidation.
    size_t charge = sizeof(Fill) + fill_req.bytes() + 5 * key.size() + 256;
    if (revalidation_bytes_->held + charge > kRevalidationBytes) return;
    // The charge is released when the task is destroyed (run or dropped).
    struct Charge {
        Charge(std::shared_ptr<QueuedBytes> b, size_t n) : budget(std::move(b)), bytes(n) {
            budget->held += bytes;
        }
        Charge(const Charge&) = delete;
        Charge& operator=(const Charge&) = delete;
        ~Charge() { budget->held -= bytes; }
        std::shared_ptr<QueuedBytes> budget;
        size_t bytes;
    };
    auto held = std::make_shared<Charge>(revalidation_bytes_, charge);
    auto fill =
        std::make_shared<Fill>(static_cast<FillHost&>(*this), Fill::Kind::background, route, base,
                               key, std::move(stale), std::move(fill_req), gens_.snapshot(base));
    // The fill's slot in fills_ is the one de-duplication: the task's key is empty.
    bool queued = deferred_.schedule("", "revalidate " + std::string(key_url(key)),
                                     [this, fill, held](loop::DeferredQueue::Done done) {
                                         if (shut_down_) {
                                             done(true, "");
                                             return;
                                         }
                                         fill->run_background(std::move(done));
                                     });
    if (queued) fills_[key] = fill; // else a full queue: the stale entry keeps being served
}

// ---------------------------------------------------------------------------------------------
// Lookup and storage

std::shared_ptr<const Entry> Proxy::load(const std::string& key, bool* memory) {
    int64_t now_ms = loop_.clock().now_ms();
    if (auto item = hot_.get(key, now_ms)) {
        if (item->gen == gens_.slots(key)) {
            *memory = true;
            return item->entry;
        }
        hot_.erase(key); // invalidated since it was remembered
    }
    *memory = false;
    for (const auto& [range, n] : invalidating_) // rarely more than one, for a few ms
        if (key.compare(0, range.size(), range) == 0) return nullptr;
    store::Record rec;
    auto r = store_.get_record(key, &rec);
    if (!r) {
        LOG_WARN("cache lookup of %s failed: %s", std::string(key_url(key)).c_str(),
                 r.error().message.c_str());
        return nullptr;
    }
    if (!*r) return nullptr;
    auto e = Entry::decode(std::move(rec.payload));
    if (!e) {
        LOG_WARN("cache entry for %s is malformed; ignoring it", std::string(key_url(key)).c_str());
        return nullptr;
    }
    // A purge sweeps memory first and deletes records in later write ops: while one runs,
    // LMDB may still hold what it swept, and a copy remembered now would outlive the purge.
    if (purger_->in_progress() == 0) remember(key, e);
    return e;
}

bool Proxy::remember(const std::string& key, const std::shared_ptr<const Entry>& e) {
    if (hot_.capacity() == 0 || e->charge() > settings_.hot_object_max) return false;
    const std::shared_ptr<Route> route =
        table_.match(key_url(key).substr(0, key_url(key).find('?')));
    int64_t deadline = HotTierBase::kNoDeadline;
    if (!e->is_vary()) deadline = retain_until(e->freshness()) * 1000;
    if (route && route->spec.edge_ttl >= 0)
        deadline = std::min(deadline, loop_.clock().now_ms() + route->spec.edge_ttl * 1000);
    auto item = std::make_shared<HotItem>();
    item->entry = e;
    item->gen = gens_.slots(key);
    hot_.put(key, std::move(item), e->charge(), deadline);
    return true;
}

void Proxy::forget(const std::string& key, const std::shared_ptr<const Entry>& e) {
    auto item = hot_.get(key, loop_.clock().now_ms());
    if (item && item->entry == e) hot_.erase(key);
}

Proxy::Found Proxy::lookup(const std::string& base, const http::Request& req) {
    Found f;
    f.entry = load(base, &f.memory);
    if (!f.entry) return f;
    if (!f.entry->is_vary()) {
        f.key = base;
        return f;
    }
    VaryInfo vary;
    for (std::string_view n : f.entry->vary_names())
        vary.names.emplace_back(n);
    f.key = base;
    append_vary_key(f.key, vary, req.headers);
    f.entry = load(f.key, &f.memory);
    if (f.entry && f.entry->is_vary()) f.entry = nullptr; // a marker where a variant belongs
    return f;
}

Proxy::Peek Proxy::peek(std::string_view host, std::string_view target) {
    Peek p;
    p.base = target_key(host, target);
    p.entry = load(p.base, &p.memory);
    return p;
}

void Proxy::store_entry(const std::string& base, const std::string& key,
                        std::shared_ptr<const Entry> e, std::vector<std::string> vary_names,
                        std::vector<std::string> tags, Generations::Snapshot snap, Route& route,
                        std::function<void()> settled) {
    if (e->is_partial()) {
        store_part(base, key, std::move(e), std::move(vary_names), std::move(tags), snap, route,
                   std::move(settled));
        return;
    }
    std::string url(key_url(base));
    if (!gens_.still_valid(base, snap)) {
        ++route.stats.stores_skipped; // purged while in flight: don't bring it back
        if (settled) settled();
        return;
    }
    int64_t expires = retain_until(e->freshness());
    // A full or failing disk: serve without storing (a fill a second still tries, to notice
    // when space is back).
    if (expires <= loop_.clock().now_s() || !store_.admit_optional_write()) {
        ++route.stats.not_stored;
        if (settled) settled();
        return;
    }
    // Exactly once: once lookups can find the entry (in memory, else in LMDB after the
    // commit), or when the op failed.
    auto once = std::make_shared<std::function<void()>>(std::move(settled));
    ++route.stats.stores;
    std::shared_ptr<const Entry> marker;
    if (!vary_names.empty()) marker = Entry::decode(Entry::encode_vary(vary_names));
    store::WriteOp op;
    op.apply = [base, key, e, marker, tags = std::move(tags),
                expires](store::WriteTxn& txn) -> Status {
        if (marker) {
            if (Status st = txn.put_record(base, *marker->blob(), expires); !st) return st;
        }
        std::string_view payload = *e->blob();
        return txn.put_tagged_record(key, payload, expires, tags);
    };
    op.bytes_hint = e->blob()->size();
    // Served from memory at once: the commit is a round trip to the store's writer thread (an
    // fsync with durability sync), and the next request must not go to the origin meanwhile.
    // A purge meanwhile sweeps memory and deletes the record after this op commits; a failed
    // store takes the entry out again, so memory holds only what LMDB holds or is committing.
    if (marker) remember(base, marker);
    // Lookups find it in memory now: the fill need not hold on to it until the commit.
    if (remember(key, e)) {
        if (auto fn = std::exchange(*once, nullptr)) fn();
    }
    op.on_commit = [once] {
        if (auto fn = std::exchange(*once, nullptr)) fn();
    };
    op.done = [this, base, key, e, marker, url, once](Status st) {
        if (!st) {
            LOG_WARN("storing %s failed: %s", url.c_str(), st.error().message.c_str());
            forget(key, e);
            if (marker) forget(base, marker);
        }
        if (auto fn = std::exchange(*once, nullptr)) fn();
    };
    store_.submit(std::move(op));
}

std::string Proxy::target_key(std::string_view host, std::string_view target) const {
    auto [path, query] = split_target(target);
    static const std::vector<std::string> kNone;
    auto route = table_.match_request(path).route;
    return request_key(host, path, query, route ? route->spec.ignore_query_params : kNone);
}

void Proxy::invalidate(std::string_view host, std::string_view target) {
    invalidate_here(host, target);
    if (invalidation_fanout_) invalidation_fanout_(std::string(host), std::string(target));
}

void Proxy::invalidate_here(std::string_view host, std::string_view target) {
    std::string range = target_key(host, target); // the base key: every variant on this host
    gens_.bump_target(range);                     // its hot-tier entries and fills in flight
    delete_range(std::move(range));
}

// One op per kInvalidateBatch records, the next submitted when one commits, until the range is
// empty: a URL may have any number of variants, and one left behind would be found again once
// a new Vary marker is stored.
void Proxy::delete_range(std::string range) {
    auto more = std::make_shared<bool>(false);
    store::WriteOp op;
    op.apply = [range, more](store::WriteTxn& txn) -> Status {
        std::vector<std::string> keys;
        auto page = txn.scan_prefix(range, "", kInvalidateBatch, [&](const store::RecordView& rv) {
            keys.emplace_back(rv.key);
        });
        if (!page) return page.error();
        for (const auto& k : keys)
            if (auto r = txn.delete_record(k); !r) return r.error();
        *more = !page->complete;
        return Status::ok();
    };
    op.on_commit = [this, range, more] {
        if (*more && !shut_down_) delete_range(range);
    };
    // Until the deletes commit (a round trip to the store's writer), lookups of this base key
    // must not load the old records from LMDB back into memory. The next slice, submitted by
    // on_commit, counts itself before this one's done uncounts.
    ++invalidating_[range];
    op.done = [this, range](Status st) {
        if (!st)
            LOG_WARN("invalidating %s failed: %s", std::string(key_url(range)).c_str(),
                     st.error().message.c_str());
        if (auto it = invalidating_.find(range); it != invalidating_.end() && --it->second == 0)
            invalidating_.erase(it);
    };
    store_.submit(std::move(op));
}

bool Proxy::hit_for_pass(const std::string& base) {
    auto it = hfp_.find(std::hash<std::string_view>{}(base));
    if (it == hfp_.end()) return false;
    if (it->second > loop_.clock().now_s()) return true;
    hfp_.erase(it);
    return false;
}

void Proxy::mark_hit_for_pass(const std::string& base) {
    if (hfp_.size() >= kMaxHitForPass) hfp_.clear(); // forgetting only costs a queued request
    hfp_[std::hash<std::string_view>{}(base)] = loop_.clock().now_s() + settings_.hit_for_pass_s;
}

void Proxy::fill_done(const Fill& fill) {
    auto it = fills_.find(fill.key());
    if (it != fills_.end() && it->second.get() == &fill) fills_.erase(it);
}

size_t Proxy::fills_in_flight() const {
    size_t n = 0;
    for (const auto& [key, fill] : fills_)
        n += fill->phase() != Fill::Phase::queued;
    return n;
}

void Proxy::hand_back(std::vector<http::ExchangeRef> clients, const std::shared_ptr<Route>& route) {
    for (auto& c : clients)
        if (http::Exchange* ex = c.get()) handle_get(*ex, route);
}

void Proxy::store(StoreRequest req, Route& route, std::function<void()> settled) {
    store_entry(req.base, req.key, std::move(req.entry), std::move(req.vary_names),
                std::move(req.tags), req.snap, route, std::move(settled));
}

bool Proxy::purged_since(const std::string& base, const Generations::Snapshot& snap) {
    return !gens_.still_valid(base, snap);
}

// ---------------------------------------------------------------------------------------------
// Answering

namespace {

// What a client is told about an origin failure: the kind, never the origin's name, address or
// system error (those go to the log).
const char* gateway_message(origin::ErrorKind kind) {
    switch (kind) {
    case origin::ErrorKind::connect_timeout:
    case origin::ErrorKind::first_byte_timeout:
    case origin::ErrorKind::timeout:
        return "the origin did not answer in time";
    case origin::ErrorKind::reset:
    case origin::ErrorKind::bad_response:
    case origin::ErrorKind::header_too_large:
    case origin::ErrorKind::truncated:
        return "the origin sent an invalid or incomplete response";
    case origin::ErrorKind::overloaded:
        return "the origin is busy; try again later";
    case origin::ErrorKind::invalid_request:
        return "the request cannot be forwarded to the origin";
    case origin::ErrorKind::tls:
        return "the TLS handshake with the origin failed";
    default:
        return "the origin could not be reached";
    }
}

} // namespace

void Proxy::send_gateway_error(http::Exchange& ex, origin::ErrorKind kind, std::string_view origin,
                               std::string_view message) {
    int status = origin::gateway_status(kind);
    uint64_t held_back = 0;
    if (gateway_error_log_.allow(loop_.clock().mono_ms(), &held_back)) {
        std::string more =
            held_back ? " (and " + std::to_string(held_back) + " more since the last line)" : "";
        LOG_WARN("origin %.*s: %.*s: answered %d%s", static_cast<int>(origin.size()), origin.data(),
                 static_cast<int>(message.size()), message.data(), status, more.c_str());
    }
    ex.set_log_tag("ERROR");
    if (auto it = error_pages_.find(status); it != error_pages_.end()) {
        ex.status(status).header("Content-Type", it->second.content_type);
        ex.header("Cache-Control", "no-store");
        ex.send(http::Body::shared(it->second.body));
        return;
    }
    std::string code = std::string("origin_") + origin::error_kind_name(kind);
    http::send_error(ex, status, code, gateway_message(kind));
}

} // namespace ec::cache
