// Fill: the coalesced origin request behind a miss or a revalidation.
#include "cache/fill.hpp"

#include "cache/cache_key.hpp"
#include "cache/conditional.hpp"
#include "cache/fields.hpp"
#include "cache/proxy.hpp"
#include "cache/respond.hpp"
#include "cache/tags.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"

namespace ec::cache {

namespace {

FieldList to_fields(const http::Request& req) {
    FieldList out;
    out.reserve(req.headers.size());
    for (const auto& h : req.headers)
        out.push_back(Field{std::string(h.name), std::string(h.value)});
    return out;
}

std::string upstream_target(const http::Request& req) {
    std::string t(req.path);
    if (!req.query.empty()) {
        t.push_back('?');
        t.append(req.query);
    }
    return t;
}

} // namespace

Fill::Fill(Proxy& proxy, std::shared_ptr<Route> route, std::string base, std::string key,
           std::shared_ptr<const Entry> stale)
    : proxy_(proxy), route_(std::move(route)), base_(std::move(base)), map_key_(key),
      key_(std::move(key)), stale_(std::move(stale)) {
    url_ = std::string(key_url(base_));
    snap_ = proxy_.gens_.snapshot(base_);
}

void Fill::start(const http::Request& req, http::ExchangeRef primary, bool is_background) {
    background_ = is_background;
    primary_ = std::move(primary);
    req_fields_ = to_fields(req);
    req_info_ = RequestInfo::from_fields(true, req.headers);
    // The primary streams the response as it arrives unless it may need the stale entry
    // instead, or asks for a part of the representation.
    primary_streams_ = primary_ && !stale_ && !req.header("range");

    origin::Pool* pool = proxy_.pool_for(*route_);
    if (!pool) {
        on_error(origin::ErrorKind::no_server,
                 "origin \"" + route_->spec.origin + "\" is not configured");
        return;
    }
    origin::Request up;
    up.method = "GET";
    up.target = upstream_target(req);
    up.headers = upstream_headers(req, &pool->spec(), true, proxy_.settings_);
    if (stale_) {
        // §4.3.1: validate the stored response rather than fetch it again.
        RevalidationFields rv = revalidation_fields(stale_->fields());
        if (!rv.if_none_match.empty()) up.headers.push_back({"If-None-Match", rv.if_none_match});
        if (!rv.if_modified_since.empty())
            up.headers.push_back({"If-Modified-Since", rv.if_modified_since});
        ++route_->stats.revalidations;
    }
    request_time_ = proxy_.loop_.clock().now_s();
    origin::Sink sink;
    sink.on_head = [self = shared_from_this()](origin::ResponseHead&& h) {
        self->on_head(std::move(h));
    };
    sink.on_body = [self = shared_from_this()](std::string_view c) { self->on_body(c); };
    sink.on_complete = [self = shared_from_this()] { self->on_complete(); };
    sink.on_error = [self = shared_from_this()](origin::ErrorKind k, std::string m) {
        self->on_error(k, std::move(m));
    };
    upstream_ = pool->fetch(std::move(up), std::move(sink));
}

bool Fill::join(http::ExchangeRef waiter) {
    if (completed_) {
        http::Exchange* ex = waiter.get();
        if (!ex) return true;
        if (!vary_.names.empty()) {
            std::string mine = base_;
            append_vary_key(mine, vary_, ex->request().headers);
            if (mine != key_) return false;
        }
        ++route_->stats.coalesced;
        serve_entry(*ex, *completed_, Verdict{completed_x_cache_, completed_status_},
                    proxy_.loop_.clock().now_s(), proxy_.settings_.expose_tags, route_->stats);
        return true;
    }
    if (finished_) return false;
    if (got_head_ && !buffering_) return false;
    waiters_.push_back(std::move(waiter));
    ++route_->stats.coalesced;
    return true;
}

void Fill::abort() {
    if (finished_) return;
    finished_ = true;
    if (upstream_) upstream_->cancel();
    detach();
    auto fail = [](const http::ExchangeRef& ref) {
        http::Exchange* ex = ref.get();
        if (!ex) return;
        if (ex->started())
            ex->stream_abort();
        else
            ex->status(503)
                .header("Content-Type", "application/json")
                .send(http::Body::static_bytes("{\"error\":{\"code\":\"shutting_down\",\"message\":"
                                               "\"edgecached is shutting down\"}}\n"));
    };
    stream_.abort();
    fail(primary_);
    for (auto& w : waiters_)
        fail(w);
    waiters_.clear();
    finish_background(false, "shutdown");
}

void Fill::detach() {
    if (detached_) return;
    detached_ = true;
    proxy_.fill_finished(map_key_, this);
}

// ---------------------------------------------------------------------------------------------

void Fill::on_head(origin::ResponseHead&& head) {
    if (finished_) return;
    got_head_ = true;
    status_ = head.status;
    fields_ = storable_fields(head.headers); // hop-by-hop and Connection-listed fields go
    content_length_ = head.content_length;
    int64_t now = proxy_.loop_.clock().now_s();

    if (stale_ && status_ == 304) {
        refresh_from_304(fields_);
        return;
    }
    if (stale_ && status_ >= 500 && usable_on_error(stale_->freshness(), now)) {
        LOG_DEBUG("cache %s: origin answered %d; serving the stale copy (inside stale-if-error)",
                  url_.c_str(), status_);
        upstream_->cancel();
        serve_stale_on_error("origin answered 5xx");
        return;
    }

    ResponseInfo info = ResponseInfo::from_fields(status_, fields_);
    fresh_ = evaluate(req_info_, info, route_->policy, request_time_, now);
    // Fields the stored copy leaves out (qualified private/no-cache, RFC 9111 §5.2.2.4/.7);
    // the field targeted at this cache goes for everyone (RFC 9213). `info` is done with.
    withheld_ = withheld_fields(info, route_->policy);
    erase_fields(fields_, route_->policy.targeted_field);
    vary_ = VaryInfo::from_fields(fields_);
    // A body with a transfer coding left on it (RFC 9112 §6.3) is not the representation: it
    // is relayed, coded, to the client that asked, and neither shared nor stored.
    transfer_coding_ = std::move(head.transfer_coding);
    shareable_ = fresh_.shareable && !vary_.star && transfer_coding_.empty();
    storable_ = fresh_.storable && !vary_.star && transfer_coding_.empty();
    if (content_length_ && *content_length_ > proxy_.settings_.max_object_size) storable_ = false;
    if (log::enabled(log::Level::debug)) log_verdict();
    // Not shareable only because this client sent credentials: the URL is not private, and
    // the next anonymous request must not be sent past the cache (issue 11 defect 5).
    if (!shareable_ && fresh_.why_not != "authorization") proxy_.mark_hit_for_pass(base_);
    if (!vary_.names.empty()) {
        // The response varies: the entry belongs to the primary's variant.
        key_ = base_;
        append_vary_key(key_, vary_, req_fields_);
    }
    tags_ = parse_tags(fields_, TagLimits{128, 255});
    bool fits = !content_length_ || *content_length_ <= proxy_.settings_.max_object_size;
    if (!fits) proxy_.mark_hit_for_pass(base_); // too large to share: don't queue behind it
    buffering_ = shareable_ && fits && (storable_ || !waiters_.empty() || !primary_streams_);
    if (!buffering_ && (!waiters_.empty() || (primary_ && !primary_streams_))) {
        // Those waiting cannot be answered from this response: they go to the origin.
        if (primary_ && !primary_streams_) {
            waiters_.push_back(std::move(primary_));
            primary_ = {};
        }
        detach();
        release_waiters();
    }
    if (primary_streams_) begin_primary_stream(head.more_in_hand);
    if (!buffering_ && !primary_streaming_) {
        // Nobody to deliver to and nothing to keep.
        upstream_->cancel();
        finished_ = true;
        detach();
        finish_background(true, "");
    }
}

void Fill::begin_primary_stream(bool hold_head) {
    http::Exchange* ex = primary_.get();
    if (!ex) return;
    int64_t now = proxy_.loop_.clock().now_s();
    std::string cs = "edgecached; fwd=miss; fwd-status=" + std::to_string(status_);
    if (storable_) cs += "; stored";
    Verdict verdict{"MISS", cs};
    // A client revalidating its own copy gets 304 from the fresh response (RFC 9110 §13.2.2).
    if (status_ == 200) {
        Validators v = Validators::from_fields(fields_, now);
        if (evaluate_preconditions(req_fields_, v) == Precondition::not_modified) {
            ex->set_log_tag("MISS");
            send_not_modified(*ex, Entry::header_block(fields_),
                              static_cast<uint64_t>(fresh_.corrected_initial_age), verdict);
            ++route_->stats.not_modified;
            primary_ = {};
            return;
        }
    }
    ex->set_log_tag("MISS");
    if (!transfer_coding_.empty() && !ex->relay_transfer_coding(transfer_coding_)) {
        proxy_.send_gateway_error(*ex, origin::ErrorKind::bad_response, route_->spec.origin,
                                  "a transfer coding an HTTP/1.0 client cannot take");
        primary_ = {};
        return;
    }
    std::string age = std::to_string(fresh_.corrected_initial_age);
    write_upstream_head(*ex, status_, fields_, age, verdict, proxy_.loop_.clock().mono_ms());
    if (proxy_.settings_.expose_tags) add_cache_tag(*ex, tags_);
    ex->begin_stream(content_length_, hold_head); // held: the body follows from the same read
    stream_ = ClientStream(std::move(primary_));
    primary_ = {};
    primary_streaming_ = true;
}

void Fill::on_body(std::string_view chunk) {
    if (finished_) return;
    if (primary_streaming_) {
        if (!stream_.write(chunk)) {
            primary_streaming_ = false; // the client went away; the fill goes on for the others
            stream_.release();
        } else if (!buffering_) {
            // Pure streaming: let the slow client set the pace instead of buffering.
            stream_.pace(*upstream_, weak_from_this(), [this] { primary_drained(); });
        }
    }
    if (buffering_) {
        if (body_.size() + chunk.size() > proxy_.settings_.max_object_size)
            stop_buffering();
        else
            body_.append(chunk);
    }
    if (!buffering_ && !primary_streaming_) {
        upstream_->cancel();
        finished_ = true;
        detach();
        finish_background(true, "");
    }
}

// The paused primary read what it had, or left (then nothing is being kept for anyone: a
// paused fill only streams).
void Fill::primary_drained() {
    if (finished_ || !upstream_) return;
    if (stream_.client() || buffering_) {
        upstream_->resume_body();
        return;
    }
    primary_streaming_ = false;
    stream_.release();
    upstream_->cancel();
    finished_ = true;
    detach();
    finish_background(true, "");
}

void Fill::log_verdict() const {
    if (storable_) {
        LOG_DEBUG("cache %s: status %d stored: lifetime %llds from %s, swr %llds, sie %llds, "
                  "keep %llds%s",
                  url_.c_str(), status_, static_cast<long long>(fresh_.lifetime),
                  lifetime_source_name(fresh_.source), static_cast<long long>(fresh_.swr),
                  static_cast<long long>(fresh_.sie), static_cast<long long>(fresh_.keep),
                  fresh_.revalidate_each_use ? ", no-cache: validated on every use" : "");
        return;
    }
    std::string_view why = !fresh_.why_not.empty() ? fresh_.why_not
                           : vary_.star            ? "vary-star"
                                                   : "larger than max_object_size";
    LOG_DEBUG("cache %s: status %d not stored: %.*s%s", url_.c_str(), status_,
              static_cast<int>(why.size()), why.data(),
              shareable_ ? ""
              : fresh_.why_not == "authorization"
                  ? "; not shareable (this client's credentials)"
                  : "; not shareable, so the key goes hit-for-pass");
}

// The body outgrew max_object_size: it is streamed to the primary but neither kept nor shared.
void Fill::stop_buffering() {
    buffering_ = false;
    storable_ = false;
    body_.clear();
    body_.shrink_to_fit();
    proxy_.mark_hit_for_pass(base_);
    detach();
    release_waiters();
}

void Fill::settle_with(const std::shared_ptr<const Entry>& e, const char* x_cache,
                       std::string cache_status, std::vector<std::string> vary_names,
                       std::vector<std::string> tags) {
    completed_ = e;
    completed_x_cache_ = x_cache;
    completed_status_ = std::move(cache_status);
    std::weak_ptr<Fill> weak = shared_from_this();
    proxy_.store_entry(base_, key_, e, std::move(vary_names), std::move(tags), snap_, *route_,
                       [weak] {
                           if (auto self = weak.lock()) {
                               self->completed_ = nullptr;
                               self->detach();
                           }
                       });
}

void Fill::on_complete() {
    if (finished_) return;
    finished_ = true;
    if (!buffering_ || !storable_) detach();
    Route& route = *route_;
    if (primary_streaming_) route.stats.bytes_served += stream_.end();
    if (!buffering_) {
        finish_background(true, "");
        return;
    }
    auto entry = Entry::decode(Entry::encode_response(
        status_, fresh_, tags_, Entry::header_block(fields_, withheld_), body_));
    body_.clear();
    std::string cs = "edgecached; fwd=miss; fwd-status=" + std::to_string(status_) + "; collapsed";
    if (storable_)
        settle_with(entry, "MISS", cs, vary_.names, tags_);
    else
        ++route.stats.not_stored;
    if (primary_) {
        waiters_.insert(waiters_.begin(), std::move(primary_));
        primary_ = {};
    }
    serve_all(entry, "MISS", cs);
    finish_background(true, "");
}

void Fill::on_error(origin::ErrorKind kind, std::string message) {
    if (finished_) return;
    finished_ = true;
    detach();
    Route& route = *route_;
    ++route.stats.origin_errors;
    ++route.stats.origin_errors_by_kind[static_cast<size_t>(kind)];
    const char* server = upstream_ ? upstream_->server() : "";
    LOG_WARN("origin %s (%s) failed for %s: %s: %s", route.spec.origin.c_str(), server,
             url_.c_str(), origin::error_kind_name(kind), message.c_str());
    if (primary_streaming_) {
        stream_.abort(); // mid-body: cut the client off rather than pass a truncated body as whole
        primary_streaming_ = false;
    }
    int64_t now = proxy_.loop_.clock().now_s();
    if (stale_ && usable_on_error(stale_->freshness(), now)) {
        LOG_DEBUG("cache %s: origin failed; serving the stale copy (inside stale-if-error)",
                  url_.c_str());
        finished_ = false; // serve_stale_on_error finishes
        serve_stale_on_error(origin::error_kind_name(kind));
        return;
    }
    if (stale_)
        LOG_DEBUG("cache %s: origin failed; the stale copy is past stale-if-error, answering "
                  "with an error",
                  url_.c_str());
    if (primary_) {
        waiters_.insert(waiters_.begin(), std::move(primary_));
        primary_ = {};
    }
    for (auto& w : waiters_)
        if (http::Exchange* ex = w.get())
            proxy_.send_gateway_error(*ex, kind, route.spec.origin, message);
    waiters_.clear();
    finish_background(false, origin::error_kind_name(kind));
}

void Fill::refresh_from_304(const FieldList& not_modified) {
    finished_ = true;
    Route& route = *route_;
    ++route.stats.revalidated;
    int64_t now = proxy_.loop_.clock().now_s();
    FieldList merged = merge_304(stale_->fields(), not_modified);
    ResponseInfo info = ResponseInfo::from_fields(stale_->status(), merged);
    Freshness f = evaluate(req_info_, info, route.policy, request_time_, now);
    std::vector<std::string> tags(stale_->tags().begin(), stale_->tags().end());
    auto entry = Entry::decode(Entry::encode_response(
        stale_->status(), f, tags, Entry::header_block(merged, withheld_fields(info, route.policy)),
        stale_->body()));
    if (f.storable) {
        VaryInfo vary = VaryInfo::from_fields(merged);
        settle_with(entry, "REVALIDATED", "edgecached; fwd=stale; fwd-status=304", vary.names,
                    tags);
    } else {
        detach();
    }
    if (primary_) {
        waiters_.insert(waiters_.begin(), std::move(primary_));
        primary_ = {};
    }
    serve_all(entry, "REVALIDATED", "edgecached; fwd=stale; fwd-status=304");
    finish_background(true, "");
}

void Fill::serve_stale_on_error(const char* why) {
    finished_ = true;
    detach();
    Route& route = *route_;
    if (primary_) {
        waiters_.insert(waiters_.begin(), std::move(primary_));
        primary_ = {};
    }
    size_t n = 0;
    for (auto& w : waiters_)
        n += w.get() != nullptr;
    route.stats.stale_if_error += n;
    LOG_INFO("serving stale %s to %zu client(s): %s", url_.c_str(), n, why);
    serve_all(stale_, "STALE", "edgecached; fwd=stale; detail=stale-if-error");
    finish_background(false, why);
}

void Fill::serve_all(const std::shared_ptr<const Entry>& e, const char* x_cache,
                     std::string_view cache_status) {
    std::vector<http::ExchangeRef> waiters = std::move(waiters_);
    waiters_.clear();
    for (auto& w : waiters) {
        http::Exchange* ex = w.get();
        if (!ex) continue;
        if (!vary_.names.empty() && !stale_) {
            // Coalesced on the base key: only the same variant may take this response.
            std::string mine = base_;
            append_vary_key(mine, vary_, ex->request().headers);
            if (mine != key_) {
                proxy_.handle_get(*ex, route_);
                continue;
            }
        }
        serve_entry(*ex, *e, Verdict{x_cache, cache_status}, proxy_.loop_.clock().now_s(),
                    proxy_.settings_.expose_tags, route_->stats);
    }
}

void Fill::release_waiters() {
    std::vector<http::ExchangeRef> waiters = std::move(waiters_);
    waiters_.clear();
    for (auto& w : waiters)
        if (http::Exchange* ex = w.get()) proxy_.handle_get(*ex, route_);
}

void Fill::finish_background(bool ok, std::string_view why) {
    if (!background_ || !done_) return;
    auto done = std::move(done_);
    done_ = nullptr;
    if (!ok) ++route_->stats.background_failures;
    done(ok, why);
}

} // namespace ec::cache
