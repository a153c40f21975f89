// Fill: the coalesced origin request behind a miss or a revalidation, one step per origin event.
#include "cache/fill.hpp"

#include <algorithm>

#include "cache/cache_key.hpp"
#include "cache/conditional.hpp"
#include "cache/fields.hpp"
#include "cache/tags.hpp"
#include "http/json_reply.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"

namespace ec::cache {

FillRequest FillRequest::from(const http::Request& req, const config::OriginSpec* spec,
                              const ProxySettings& settings, bool background) {
    FillRequest r;
    r.target = std::string(req.path);
    if (!req.query.empty()) {
        r.target.push_back('?');
        r.target.append(req.query);
    }
    if (background) {
        http::Request own = req; // views into the client's request, used only here
        own.peer = nullptr;
        own.request_id = {};
        own.version_minor = 1;
        r.headers = upstream_headers(own, spec, true, settings);
    } else {
        r.headers = upstream_headers(req, spec, true, settings);
    }
    r.fields.reserve(req.headers.size());
    for (const auto& h : req.headers)
        r.fields.push_back(Field{std::string(h.name), std::string(h.value)});
    r.info = RequestInfo::from_fields(true, req.headers);
    r.ranged = req.header("range").has_value();
    return r;
}

size_t FillRequest::bytes() const {
    size_t n = sizeof(FillRequest) + target.size() + forward_range.size();
    for (const auto& h : headers)
        n += h.name.size() + h.value.size() + 64;
    for (const auto& f : fields)
        n += f.name.size() + f.value.size() + 64;
    return n;
}

std::string fill_slot(const std::string& key, std::string_view forward_range) {
    if (forward_range.empty()) return key;
    std::string slot = key;
    slot.push_back('\0'); // in no key: a request field or target holds no NUL
    slot.append(forward_range);
    return slot;
}

// ---------------------------------------------------------------------------------------------

Fill::Fill(FillHost& host, Kind kind, std::shared_ptr<Route> route, std::string base,
           std::string key, std::shared_ptr<const Entry> stale, FillRequest req,
           Generations::Snapshot snap)
    : host_(host), kind_(kind),
      phase_(kind == Kind::background ? Phase::queued : Phase::requesting),
      route_(std::move(route)), base_(std::move(base)),
      slot_key_(fill_slot(key, req.forward_range)), key_(std::move(key)), url_(key_url(base_)),
      stale_(std::move(stale)), req_(std::move(req)), snap_(snap) {}

void Fill::start(http::ExchangeRef primary) {
    // The primary streams the response as it arrives unless it may need the stale entry
    // instead, or asks for a part of the representation that the whole is fetched for.
    primary_streams_ = primary && !stale_ && (!req_.ranged || !req_.forward_range.empty());
    asker_ = primary;
    if (primary_streams_)
        primary_ = std::move(primary);
    else if (primary)
        waiters_.insert(waiters_.begin(), std::move(primary));
    send_request();
}

void Fill::run_background(loop::DeferredQueue::Done done) {
    if (phase_ != Phase::queued) {
        done(true, ""); // a client started it meanwhile, or it ended
        return;
    }
    done_ = std::move(done);
    if (host_.purged_since(base_, snap_)) {
        finish(Outcome::superseded); // its stale entry is gone: nothing to revalidate
        return;
    }
    ++route_->stats.background_revalidations;
    send_request();
}

void Fill::send_request() {
    enter(Phase::requesting);
    origin::Pool* pool = host_.pool_for(*route_);
    if (!pool) {
        on_error(origin::ErrorKind::no_server,
                 "origin \"" + route_->spec.origin + "\" is not configured");
        return;
    }
    origin::UpstreamRequest up;
    up.method = "GET";
    up.target = req_.target;
    up.headers = std::move(req_.headers); // sent once
    if (!req_.forward_range.empty()) up.headers.push_back({"Range", req_.forward_range});
    if (stale_) {
        // §4.3.1: validate the stored response rather than fetch it again.
        RevalidationFields rv = revalidation_fields(stale_->fields());
        if (!rv.if_none_match.empty()) up.headers.push_back({"If-None-Match", rv.if_none_match});
        if (!rv.if_modified_since.empty())
            up.headers.push_back({"If-Modified-Since", rv.if_modified_since});
        ++route_->stats.revalidations;
    }
    request_time_ = host_.loop().clock().now_s();
    origin::Sink sink;
    sink.on_interim = [self = shared_from_this()](origin::InterimHead&& h) {
        self->on_interim(std::move(h));
    };
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
    switch (phase_) {
    case Phase::queued:
        // A client needs the queued revalidation now: it runs at once, with the client waiting.
        if (host_.purged_since(base_, snap_)) {
            finish(Outcome::superseded); // its stale entry is gone; the client fetches afresh
            return false;
        }
        asker_ = waiter;
        waiters_.push_back(std::move(waiter));
        ++route_->stats.misses; // this client's request is the one going upstream
        send_request();
        return true;
    case Phase::requesting:
    case Phase::buffering:
        waiters_.push_back(std::move(waiter));
        ++route_->stats.coalesced;
        return true;
    case Phase::settling: {
        http::Exchange* ex = waiter.get();
        if (!ex) return true;
        if (!same_variant(*ex)) return false;
        ++route_->stats.coalesced;
        serve_entry(*ex, *settle_, settle_verdict_, host_.loop().clock().now_s(), host_.settings(),
                    route_->stats);
        return true;
    }
    case Phase::streaming:
    case Phase::done:
        return false;
    }
    return false;
}

void Fill::abort() {
    if (phase_ == Phase::settling || phase_ == Phase::done) return;
    stream_.abort();
    if (primary_) waiters_.insert(waiters_.begin(), std::move(primary_));
    primary_ = {};
    for (auto& w : waiters_) {
        http::Exchange* ex = w.get();
        if (!ex) continue;
        if (ex->started())
            ex->stream_abort();
        else
            http::send_error(*ex, 503, "shutting_down", "edgecached is shutting down");
    }
    waiters_.clear();
    finish(Outcome::shut_down, "shutdown");
}

void Fill::finish(Outcome outcome, std::string_view why) {
    if (phase_ == Phase::settling || phase_ == Phase::done) return;
    auto self = shared_from_this(); // the host may drop its reference below
    asker_ = {};
    // A 304 refresh ends the fill before the origin's (empty) body is read: let it complete so
    // the connection is reused. Otherwise nothing more is wanted from the origin.
    if (outcome != Outcome::answered && upstream_) upstream_->cancel();
    if (settle_) {
        enter(Phase::settling);
        StoreRequest sr{base_, key_, settle_, std::move(settle_vary_), tags_, snap_};
        std::weak_ptr<Fill> weak = self;
        host_.store(std::move(sr), *route_, [weak] {
            auto fill = weak.lock();
            if (!fill) return;
            fill->settle_ = nullptr;
            if (fill->phase_ != Phase::settling) return;
            fill->enter(Phase::done);
            fill->leave_slot();
        });
    } else {
        enter(Phase::done);
        leave_slot();
    }
    hand_back_released();
    if (done_) {
        auto done = std::move(done_);
        done_ = nullptr;
        bool ok = outcome == Outcome::answered || outcome == Outcome::abandoned ||
                  outcome == Outcome::superseded;
        if (!ok) ++route_->stats.background_failures;
        done(ok, why);
    }
}

void Fill::leave_slot() {
    host_.fill_done(*this);
}

// ---------------------------------------------------------------------------------------------
// Origin events

void Fill::on_interim(origin::InterimHead&& head) {
    if (phase_ != Phase::requesting) return;
    if (http::Exchange* ex = asker_.get())
        relay_interim(*ex, head, route_->policy.targeted_field, route_->stats);
}

void Fill::on_head(origin::ResponseHead&& head) {
    if (phase_ != Phase::requesting) return;
    http::ExchangeRef asker = std::move(asker_);
    asker_ = {};
    status_ = head.status;
    fields_ = storable_fields(head.headers); // hop-by-hop and Connection-listed fields go
    content_length_ = head.content_length;
    int64_t now = host_.loop().clock().now_s();

    if (stale_ && status_ == 304) {
        refresh_from_304(fields_);
        return;
    }
    if (stale_ && status_ >= 500 && usable_on_error(stale_->freshness(), now)) {
        LOG_DEBUG("cache %s: origin answered %d; serving the stale copy (inside stale-if-error)",
                  url_.c_str(), status_);
        serve_stale("origin answered 5xx");
        return;
    }
    transfer_coding_ = std::move(head.transfer_coding);
    if (status_ == 206 && !req_.forward_range.empty()) {
        if (auto cr = find_field(fields_, "content-range")) part_ = parse_content_range(*cr);
        if (part_ && content_length_ && *content_length_ != part_->last - part_->first + 1)
            part_.reset(); // the body is not the span named
    }
    decide();
    const ProxySettings& settings = host_.settings();
    bool fits = !content_length_ || *content_length_ <= settings.max_object_size;
    // Too large to share: don't queue behind it (behind a range, only that range queues).
    if (!fits && req_.forward_range.empty()) host_.mark_hit_for_pass(base_);
    if (primary_ && primary_streams_ && !req_.forward_range.empty() && status_ == 200 &&
        shareable_ && fits) {
        // The origin ignored the Range: the primary gets its range cut from the complete
        // response once it is in, like any waiter.
        primary_streams_ = false;
        waiters_.insert(waiters_.begin(), std::move(primary_));
        primary_ = {};
    }
    bool keep = shareable_ && fits && (storable_ || !waiters_.empty() || !primary_streams_);
    enter(keep ? Phase::buffering : Phase::streaming);
    if (!keep) {
        // The client whose request went upstream gets this answer itself, streamed. Handed
        // back it would only ask the origin again — forever when nothing marks the key
        // hit-for-pass, as for a response kept from sharing by that client's Authorization.
        if (!primary_streams_ && take_waiter(asker)) {
            primary_ = std::move(asker);
            primary_streams_ = true;
        }
        release_waiters(); // the others cannot be answered from this response
    }
    if (primary_streams_) begin_primary_stream(head.more_in_hand);
    if (phase_ == Phase::streaming && !stream_.client()) {
        finish(Outcome::abandoned); // nobody to deliver to and nothing to keep
        return;
    }
    hand_back_released();
}

void Fill::decide() {
    int64_t now = host_.loop().clock().now_s();
    const ProxySettings& settings = host_.settings();
    // A part is stored by the rules for the complete response it is part of (RFC 9111 §3.3).
    ResponseInfo info = ResponseInfo::from_fields(part_ ? 200 : status_, fields_);
    fresh_ = evaluate(req_.info, info, route_->policy, request_time_, now);
    // Fields the stored copy leaves out (qualified private/no-cache, RFC 9111 §5.2.2.4/.7);
    // the field targeted at this cache goes for everyone (RFC 9213). `info` is done with.
    withheld_ = withheld_fields(info, route_->policy);
    erase_fields(fields_, route_->policy.targeted_field);
    vary_ = VaryInfo::from_fields(fields_);
    // A body with a transfer coding left on it (RFC 9112 §6.3) is not the representation: it
    // is relayed, coded, to the client that asked, and neither shared nor stored.
    shareable_ = fresh_.shareable && !vary_.star && transfer_coding_.empty();
    storable_ = fresh_.storable && !vary_.star && transfer_coding_.empty();
    if (content_length_ && *content_length_ > settings.max_object_size) storable_ = false;
    // Behind a forwarded Range only a part or the complete response is the representation's
    // (a 416, say, is not).
    if (!req_.forward_range.empty() && status_ != 200 && !part_) storable_ = false;
    if (log::enabled(log::Level::debug)) log_verdict();
    // Not shareable only because this client sent credentials: the URL is not private, and
    // the next anonymous request must not be sent past the cache (issue 11 defect 5).
    if (!shareable_ && fresh_.why_not != "authorization") host_.mark_hit_for_pass(base_);
    if (!vary_.names.empty()) {
        // The response varies: the entry belongs to the primary's variant.
        key_ = base_;
        append_vary_key(key_, vary_, req_.fields);
    }
    tags_ = parse_tags(fields_, TagLimits{128, 255});
}

void Fill::begin_primary_stream(bool hold_head) {
    http::ExchangeRef ref = std::move(primary_);
    primary_ = {};
    http::Exchange* ex = ref.get();
    if (!ex) return;
    int64_t now = host_.loop().clock().now_s();
    std::string cs = "fwd=miss; fwd-status=" + std::to_string(status_);
    if (storable_) cs += "; stored";
    Verdict verdict{"MISS", cs};
    ex->set_log_tag("MISS");
    // A client revalidating its own copy gets 304 from the fresh response (RFC 9110 §13.2.2).
    if (status_ == 200) {
        Validators v = Validators::from_fields(fields_, now);
        if (evaluate_preconditions(req_.fields, v) == Precondition::not_modified) {
            send_not_modified(*ex, Entry::header_block(fields_),
                              static_cast<uint64_t>(fresh_.corrected_initial_age), verdict,
                              host_.settings());
            ++route_->stats.not_modified;
            return;
        }
    }
    if (!transfer_coding_.empty() && !ex->relay_transfer_coding(transfer_coding_)) {
        host_.send_gateway_error(*ex, origin::ErrorKind::bad_response, route_->spec.origin,
                                 "a transfer coding an HTTP/1.0 client cannot take");
        return;
    }
    std::string age = std::to_string(fresh_.corrected_initial_age);
    write_upstream_head(*ex, status_, fields_, age, verdict, host_.settings(),
                        host_.loop().clock().mono_ms());
    if (host_.settings().expose_tags) add_cache_tag(*ex, tags_);
    ex->begin_stream(content_length_, hold_head); // held: the body follows from the same read
    stream_ = ClientStream(std::move(ref));
}

void Fill::on_body(std::string_view chunk) {
    if (phase_ != Phase::streaming && phase_ != Phase::buffering) return;
    if (stream_.client()) {
        if (!stream_.write(chunk)) {
            stream_.release(); // the client went away; the fill goes on for the others
        } else if (phase_ == Phase::streaming) {
            // Pure streaming: let the slow client set the pace instead of buffering.
            stream_.pace(*upstream_, weak_from_this(), [this] { on_primary_drained(); });
        }
    }
    if (phase_ == Phase::buffering) {
        if (body_.size() + chunk.size() > host_.settings().max_object_size)
            stop_buffering();
        else
            body_.append(chunk);
    }
    if (phase_ == Phase::streaming && !stream_.client()) {
        finish(Outcome::abandoned);
        return;
    }
    hand_back_released();
}

// The paused primary read what it had, or left (then nothing is being kept for anyone: a
// paused fill only streams).
void Fill::on_primary_drained() {
    if (phase_ != Phase::streaming && phase_ != Phase::buffering) return;
    if (stream_.client() || phase_ == Phase::buffering) {
        upstream_->resume_body();
        return;
    }
    finish(Outcome::abandoned);
}

void Fill::on_complete() {
    if (phase_ != Phase::streaming && phase_ != Phase::buffering) return;
    Route& route = *route_;
    route.stats.bytes_served += stream_.end();
    if (phase_ == Phase::streaming) {
        finish(Outcome::answered);
        return;
    }
    std::shared_ptr<const Entry> entry;
    if (part_ && body_.size() == part_->last - part_->first + 1) {
        // Kept without its Content-Range: the part set says which bytes it holds.
        std::vector<std::string> leave_out = withheld_;
        leave_out.emplace_back("content-range");
        const ByteSpan span{part_->first, body_.size()};
        entry = Entry::decode(Entry::encode_partial(fresh_, tags_,
                                                    Entry::header_block(fields_, leave_out),
                                                    part_->length, {&span, 1}, body_));
    } else {
        if (part_) storable_ = false; // the body is not the span its Content-Range names
        entry = Entry::decode(Entry::encode_response(
            status_, fresh_, tags_, Entry::header_block(fields_, withheld_), body_));
    }
    body_.clear();
    std::string cs = "fwd=miss; fwd-status=" + std::to_string(status_) + "; collapsed";
    if (storable_) {
        settle_ = entry;
        settle_status_ = cs;
        settle_verdict_ = Verdict{"MISS", settle_status_};
        settle_vary_ = vary_.names;
    } else {
        ++route.stats.not_stored;
    }
    answer_waiters(entry, Verdict{"MISS", cs});
    finish(Outcome::answered);
}

void Fill::on_error(origin::ErrorKind kind, std::string message) {
    if (phase_ != Phase::requesting && phase_ != Phase::streaming && phase_ != Phase::buffering)
        return;
    Route& route = *route_;
    ++route.stats.origin_errors;
    ++route.stats.origin_errors_by_kind[static_cast<size_t>(kind)];
    const char* server = upstream_ ? upstream_->server() : "";
    LOG_WARN("origin %s (%s) failed for %s: %s: %s", route.spec.origin.c_str(), server,
             url_.c_str(), origin::error_kind_name(kind), message.c_str());
    stream_.abort(); // mid-body: cut the client off rather than pass a truncated body as whole
    int64_t now = host_.loop().clock().now_s();
    if (stale_ && usable_on_error(stale_->freshness(), now)) {
        LOG_DEBUG("cache %s: origin failed; serving the stale copy (inside stale-if-error)",
                  url_.c_str());
        serve_stale(origin::error_kind_name(kind));
        return;
    }
    if (stale_)
        LOG_DEBUG("cache %s: origin failed; the stale copy is past stale-if-error, answering "
                  "with an error",
                  url_.c_str());
    if (primary_) waiters_.insert(waiters_.begin(), std::move(primary_));
    primary_ = {};
    for (auto& w : waiters_)
        if (http::Exchange* ex = w.get())
            host_.send_gateway_error(*ex, kind, route.spec.origin, message);
    waiters_.clear();
    finish(Outcome::failed, origin::error_kind_name(kind));
}

// ---------------------------------------------------------------------------------------------
// Steps

void Fill::refresh_from_304(const FieldList& not_modified) {
    Route& route = *route_;
    ++route.stats.revalidated;
    int64_t now = host_.loop().clock().now_s();
    FieldList merged = merge_304(stale_->fields(), not_modified);
    ResponseInfo info = ResponseInfo::from_fields(stale_->status(), merged);
    Freshness f = evaluate(req_.info, info, route.policy, request_time_, now);
    tags_.assign(stale_->tags().begin(), stale_->tags().end());
    auto entry = Entry::decode(Entry::encode_response(
        stale_->status(), f, tags_,
        Entry::header_block(merged, withheld_fields(info, route.policy)), stale_->body()));
    Verdict verdict{"REVALIDATED", "fwd=stale; fwd-status=304"};
    if (f.storable) {
        settle_ = entry;
        settle_verdict_ = verdict;
        settle_vary_ = VaryInfo::from_fields(merged).names;
    }
    answer_waiters(entry, verdict);
    finish(Outcome::answered);
}

void Fill::serve_stale(const char* why) {
    size_t n = 0;
    for (auto& w : waiters_)
        n += w.get() != nullptr;
    route_->stats.stale_if_error += n;
    LOG_INFO("serving stale %s to %zu client(s): %s", url_.c_str(), n, why);
    answer_waiters(stale_, Verdict{"STALE", "fwd=stale; detail=stale-if-error"});
    finish(Outcome::stale_served, why);
}

// The body outgrew max_object_size: it is streamed to the primary but neither kept nor shared.
void Fill::stop_buffering() {
    enter(Phase::streaming);
    storable_ = false;
    body_.clear();
    body_.shrink_to_fit();
    host_.mark_hit_for_pass(base_);
    release_waiters();
}

bool Fill::same_variant(const http::Exchange& ex) const {
    // A revalidation's key is already the variant's; a miss coalesced on the base key shares
    // its response only with the same variant.
    if (stale_ || vary_.names.empty()) return true;
    std::string mine = base_;
    append_vary_key(mine, vary_, ex.request().headers);
    return mine == key_;
}

void Fill::answer_waiters(const std::shared_ptr<const Entry>& e, Verdict v) {
    std::vector<http::ExchangeRef> waiters = std::move(waiters_);
    waiters_.clear();
    int64_t now = host_.loop().clock().now_s();
    const ProxySettings& settings = host_.settings();
    for (auto& w : waiters) {
        http::Exchange* ex = w.get();
        if (!ex) continue;
        if (!same_variant(*ex))
            released_.push_back(std::move(w));
        else
            serve_entry(*ex, *e, v, now, settings, route_->stats);
    }
}

bool Fill::take_waiter(const http::ExchangeRef& client) {
    http::Exchange* ex = client.get();
    if (!ex) return false;
    auto it = std::find_if(waiters_.begin(), waiters_.end(),
                           [ex](const http::ExchangeRef& w) { return w.get() == ex; });
    if (it == waiters_.end()) return false;
    waiters_.erase(it);
    return true;
}

void Fill::release_waiters() {
    for (auto& w : waiters_)
        released_.push_back(std::move(w));
    waiters_.clear();
}

void Fill::hand_back_released() {
    if (released_.empty()) return;
    auto self = shared_from_this(); // the host may replace this fill in its slot
    std::vector<http::ExchangeRef> clients = std::move(released_);
    released_.clear();
    host_.hand_back(std::move(clients), route_);
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
    bool not_a_part = !req_.forward_range.empty() && status_ != 200 && !part_;
    std::string_view why = !fresh_.why_not.empty() ? fresh_.why_not
                           : vary_.star            ? "vary-star"
                           : not_a_part ? "a Range answered with neither a 200 nor a part"
                                        : "larger than max_object_size";
    LOG_DEBUG("cache %s: status %d not stored: %.*s%s", url_.c_str(), status_,
              static_cast<int>(why.size()), why.data(),
              shareable_ ? ""
              : fresh_.why_not == "authorization"
                  ? "; not shareable (this client's credentials)"
                  : "; not shareable, so the key goes hit-for-pass");
}

} // namespace ec::cache
