// Purger: time-sliced purges of cache entries (by URL, prefix, tag, all) and KV namespaces.
#include "cache/purge.hpp"

#include <algorithm>

#include "cache/cache_key.hpp"
#include "cache/proxy.hpp"
#include "store/key_codec.hpp"
#include "util/log.hpp"

namespace ec::cache {

namespace {
constexpr size_t kHotStepsPerSlice = 4096; // hot-tier slots visited per slice

// A stored entry made stale now, with its stale windows starting now: stale-while-revalidate
// and stale-if-error keep a copy to serve, and the next use revalidates it.
std::string soften(const Entry& e, int64_t now, int64_t* expires) {
    Freshness f = e.freshness();
    f.lifetime = 0;
    f.request_time = f.response_time = now;
    f.corrected_initial_age = 0;
    *expires = retain_until(f);
    std::vector<std::string> tags(e.tags().begin(), e.tags().end());
    return Entry::encode_response(e.status(), f, tags, e.header_block(), e.body());
}
} // namespace

struct Purger::Job {
    PurgeRequest req;
    std::function<void(Result<PurgeResult>)> done;
    PurgeResult result;
    std::vector<std::string> ranges; // key prefixes to delete, in order
    size_t range_i = 0;
    std::string after; // resume point in ranges[range_i]
    size_t tag_i = 0;
    std::string tag_after;
    bool kv = false;
    // Hot tier: which entries the purge covers.
    bool hot_sweep = false;
    HotTierBase::Cursor hot_cursor;
    std::vector<std::string> hot_prefixes;
    bool finished() const {
        return range_i >= ranges.size() && tag_i >= req.tags.size() &&
               (!hot_sweep || hot_cursor.done);
    }
};

Status check_namespace_purge(const PurgeRequest& req) {
    if (req.soft)
        return make_error(400, "bad_purge", "soft purges apply to cache entries, not KV keys");
    if (req.kind != PurgeRequest::Kind::prefix && req.kind != PurgeRequest::Kind::all)
        return make_error(400, "bad_purge", "a namespace purge takes \"prefix\" or \"all\"");
    return Status::ok();
}

Purger::Purger(Proxy& proxy, loop::Loop& loop, store::Store& store, size_t batch)
    : proxy_(proxy), loop_(loop), store_(store), batch_(batch),
      alive_(std::make_shared<bool>(true)) {}

Purger::~Purger() {
    *alive_ = false;
}

void Purger::submit(PurgeRequest req, std::function<void(Result<PurgeResult>)> done) {
    if (path_) return path_(std::move(req), std::move(done));
    apply(std::move(req), std::move(done));
}

void Purger::apply(PurgeRequest req, std::function<void(Result<PurgeResult>)> done) {
    auto job = std::make_shared<Job>();
    job->done = std::move(done);
    auto fail = [&](int http, std::string code, std::string msg) {
        job->done(make_error(http, std::move(code), std::move(msg)));
    };

    std::string scope; // route prefix
    if (!req.route.empty()) {
        auto r = proxy_.route_table().find(req.route);
        if (!r) return fail(400, "bad_purge", "no route named \"" + req.route + "\"");
        scope = r->spec.prefix;
    }
    if (!req.namespace_.empty()) {
        const store::Namespace* ns = store_.namespace_by_title(req.namespace_);
        if (!ns) return job->done(store::namespace_not_found(req.namespace_));
        if (Status st = check_namespace_purge(req); !st) return job->done(st.error());
        job->kv = true;
        job->ranges.push_back(store::kv_storage_key(
            ns->num, req.kind == PurgeRequest::Kind::prefix ? req.prefix : ""));
    } else {
        switch (req.kind) {
        case PurgeRequest::Kind::paths:
            if (req.paths.empty()) return fail(400, "bad_purge", "\"paths\" is empty");
            for (const std::string& p : req.paths) {
                if (p.empty() || p[0] != '/')
                    return fail(400, "bad_purge", "paths must start with \"/\": \"" + p + "\"");
                if (!scope.empty() && p.rfind(scope, 0) != 0) continue;
                // The key derivation lookups use (every host: the range is the URL's).
                std::string url(key_url(proxy_.target_key("", p)));
                proxy_.generations().bump_url(
                    url); // hot-tier copies and fills of this URL, at once
                job->ranges.push_back(url_range(url));
            }
            break;
        case PurgeRequest::Kind::prefix: {
            if (req.prefix.empty() || req.prefix[0] != '/')
                return fail(400, "bad_purge", "\"prefix\" must start with \"/\"");
            std::string prefix = req.prefix;
            if (!scope.empty()) {
                // Both must hold: purge the longer one when one contains the other.
                if (prefix.rfind(scope, 0) == 0) {
                } else if (scope.rfind(prefix, 0) == 0) {
                    prefix = scope;
                } else {
                    prefix.clear();
                }
            }
            if (!prefix.empty()) {
                job->ranges.push_back(prefix_range(prefix));
                job->hot_prefixes.push_back(prefix_range(prefix));
            }
            proxy_.generations().bump_all();
            job->hot_sweep = true;
            break;
        }
        case PurgeRequest::Kind::tags:
            if (req.tags.empty()) return fail(400, "bad_purge", "\"tags\" is empty");
            proxy_.generations().bump_all();
            job->hot_sweep = true;
            if (!scope.empty()) job->hot_prefixes.push_back(prefix_range(scope));
            break;
        case PurgeRequest::Kind::all:
            job->ranges.push_back(scope.empty() ? std::string(1, kCachePrefix)
                                                : prefix_range(scope));
            job->hot_prefixes.push_back(job->ranges.back());
            proxy_.generations().bump_all();
            job->hot_sweep = true;
            break;
        }
    }
    job->req = std::move(req);
    ++running_;
    slice(job);
}

void Purger::slice(const std::shared_ptr<Job>& job) {
    // The hot tier first: nothing purged may be served from memory once this slice returns.
    if (job->hot_sweep && !job->hot_cursor.done) {
        const bool soft = job->req.soft;
        const auto& prefixes = job->hot_prefixes;
        const auto& tags = job->req.tags;
        const bool by_tag = job->req.kind == PurgeRequest::Kind::tags;
        job->result.memory += proxy_.hot().erase_if_step(
            job->hot_cursor, kHotStepsPerSlice, [&](std::string_view key, const HotItem& item) {
                (void)soft;
                bool in_scope = prefixes.empty();
                for (const auto& p : prefixes)
                    in_scope = in_scope || key.substr(0, p.size()) == p;
                if (!in_scope) return false;
                if (!by_tag) return true;
                for (std::string_view t : item.entry->tags())
                    if (std::find(tags.begin(), tags.end(), t) != tags.end()) return true;
                return false;
            });
    }
    if (job->range_i >= job->ranges.size() && job->tag_i >= job->req.tags.size()) {
        if (!job->finished()) {
            std::weak_ptr<bool> alive = alive_;
            loop_.post([this, alive, job] {
                if (auto a = alive.lock(); a && *a) slice(job);
            });
            return;
        }
        --running_;
        total_ += job->result.purged;
        LOG_INFO("purge done: %llu record(s), %llu in memory",
                 static_cast<unsigned long long>(job->result.purged),
                 static_cast<unsigned long long>(job->result.memory));
        job->done(job->result);
        return;
    }

    // One write op: the next page of the current range or tag. apply() may run twice (a batch
    // retry), so it only reports through `out`, which on_commit folds into the job.
    struct Out {
        uint64_t count = 0;
        std::string next;
        bool more = false;
    };
    auto out = std::make_shared<Out>();
    bool by_range = job->range_i < job->ranges.size();
    std::string range = by_range ? job->ranges[job->range_i] : std::string();
    std::string tag = by_range ? std::string() : job->req.tags[job->tag_i];
    std::string after = by_range ? job->after : job->tag_after;
    size_t batch = batch_;
    bool soft = job->req.soft;
    std::string scope_prefix = !by_range && !job->hot_prefixes.empty() ? job->hot_prefixes[0] : "";
    int64_t now = loop_.clock().now_s();

    store::WriteOp op;
    op.apply = [=](store::WriteTxn& txn) -> Status {
        *out = Out{};
        struct Hit {
            std::string key;
            std::string payload; // soft purges rewrite the entry
        };
        std::vector<Hit> hits;
        auto collect = [&](const store::RecordView& rv) {
            if (!scope_prefix.empty() && rv.key.substr(0, scope_prefix.size()) != scope_prefix)
                return;
            hits.push_back(
                Hit{std::string(rv.key), soft ? std::string(rv.payload) : std::string()});
        };
        if (by_range) {
            auto page = txn.scan_prefix(range, after, batch, collect);
            if (!page) return page.error();
            out->more = !page->complete;
            out->next = page->last_key;
        } else {
            auto next = txn.scan_tag(tag, after, batch, collect);
            if (!next) return next.error();
            out->next = *next;
            out->more = !next->empty();
        }
        for (Hit& h : hits) {
            auto e = soft ? Entry::decode(std::move(h.payload)) : nullptr;
            if (soft && e && e->is_partial()) {
                // A part set is never served stale (partial.hpp): a soft purge drops it.
                if (auto r = txn.delete_record(h.key); !r) return r.error();
            } else if (soft) {
                if (!e || e->is_vary()) continue;
                int64_t expires = 0;
                std::string payload = soften(*e, now, &expires);
                std::vector<std::string> tags(e->tags().begin(), e->tags().end());
                if (Status st = txn.put_tagged_record(h.key, payload, expires, tags); !st)
                    return st;
            } else if (auto r = txn.delete_record(h.key); !r) {
                return r.error();
            }
            ++out->count;
        }
        return Status::ok();
    };
    op.on_commit = [job, out, by_range] {
        job->result.purged += out->count;
        if (by_range) {
            if (out->more) {
                job->after = out->next;
            } else {
                ++job->range_i;
                job->after.clear();
            }
        } else if (out->more) {
            job->tag_after = out->next;
        } else {
            ++job->tag_i;
            job->tag_after.clear();
        }
    };
    std::weak_ptr<bool> alive = alive_;
    op.done = [this, alive, job](Status st) {
        if (auto a = alive.lock(); !a || !*a) return;
        if (!st) {
            --running_;
            job->done(st.error());
            return;
        }
        // The next slice on a later iteration: requests queued meanwhile are served first.
        loop_.post([this, alive, job] {
            if (auto a = alive.lock(); a && *a) slice(job);
        });
    };
    store_.submit(std::move(op));
}

} // namespace ec::cache
