// Link: nats.c on its own thread; results and deliveries reach the loop through a uv_async_t.
#include "fleet/link.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <utility>

#include "util/log.hpp"

namespace ec::fleet {

namespace {

const std::string kStream = "KV_" + std::string(kBucket);

// "nats: <status text> (<the library's last error>)" for logs and 503 bodies.
std::string nats_error(const char* what, natsStatus s, jsErrCode jerr = jsErrCode(0)) {
    std::string msg = std::string(what) + ": " + natsStatus_GetText(s);
    natsStatus last = NATS_OK;
    const char* text = nats_GetLastError(&last);
    if (text && *text) msg += std::string(" (") + text + ")";
    if (jerr != 0) msg += " [JetStream error " + std::to_string(int(jerr)) + "]";
    return msg;
}

Error unavailable(std::string why) {
    return make_error(503, "fleet_unavailable", std::move(why));
}

} // namespace

uint64_t Link::now_ms() {
    using namespace std::chrono;
    return uint64_t(duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

Link::Link(loop::Loop& loop, LinkSettings settings, LinkEvents events)
    : loop_(loop), settings_(std::move(settings)), events_(std::move(events)) {
    int rc = uv_async_init(loop_.uv(), async_.get(), &Link::on_async);
    if (rc != 0)
        throw std::runtime_error(std::string("fleet: cannot create an async handle: ") +
                                 uv_strerror(rc));
    async_.mark_initialized();
    async_.get()->data = this;
    uv_unref(reinterpret_cast<uv_handle_t*>(async_.get()));

    auto check = [&](natsStatus s, const char* what) {
        if (s == NATS_OK) return;
        std::string msg = nats_error(what, s);
        if (opts_) natsOptions_Destroy(opts_);
        opts_ = nullptr;
        throw std::runtime_error("fleet: " + msg);
    };
    check(natsOptions_Create(&opts_), "cannot create NATS options");
    std::vector<const char*> urls;
    for (const auto& s : settings_.servers)
        urls.push_back(s.c_str());
    check(natsOptions_SetServers(opts_, urls.data(), int(urls.size())), "bad fleet.nats");
    check(natsOptions_SetName(opts_, settings_.name.c_str()), "bad fleet.node");
    if (!settings_.token.empty())
        check(natsOptions_SetToken(opts_, settings_.token.c_str()), "bad fleet.token");
    if (!settings_.credentials_file.empty())
        check(natsOptions_SetUserCredentialsFromFiles(opts_, settings_.credentials_file.c_str(),
                                                      nullptr),
              "bad fleet.credentials_file");
    // Reconnect across the list forever; notice a dead server within a few seconds.
    check(natsOptions_SetMaxReconnect(opts_, -1), "cannot set reconnects");
    check(natsOptions_SetReconnectWait(opts_, 250), "cannot set the reconnect wait");
    check(natsOptions_SetTimeout(opts_, 2000), "cannot set the connect timeout");
    check(natsOptions_SetPingInterval(opts_, 2000), "cannot set the ping interval");
    check(natsOptions_SetMaxPingsOut(opts_, 2), "cannot set max pings");
    check(natsOptions_SetRetryOnFailedConnect(opts_, true, &Link::on_connected, this),
          "cannot set connect retries");
    check(natsOptions_SetDisconnectedCB(opts_, &Link::on_disconnected, this),
          "cannot set the disconnect handler");
    check(natsOptions_SetReconnectedCB(opts_, &Link::on_reconnected, this),
          "cannot set the reconnect handler");
    check(natsOptions_SetErrorHandler(opts_, &Link::on_async_error, this),
          "cannot set the error handler");
    check(natsOptions_SetClosedCB(opts_, &Link::on_closed, this), "cannot set the closed handler");
    thread_ = std::thread([this] { thread_main(); });
}

Link::~Link() {
    {
        std::lock_guard<std::mutex> lk(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    room_cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (opts_) natsOptions_Destroy(opts_);
}

void Link::run_on_nats(Job job) {
    {
        std::lock_guard<std::mutex> lk(mu_);
        jobs_.push_back(std::move(job));
    }
    cv_.notify_all();
}

void Link::run_on_loop(std::function<void()> fn) {
    {
        std::lock_guard<std::mutex> lk(mu_);
        if (stop_) return;
        to_loop_.push_back(std::move(fn));
    }
    uv_async_send(async_.get());
}

void Link::on_async(uv_async_t* h) {
    auto* self = static_cast<Link*>(h->data);
    if (!self) return;
    std::vector<std::function<void()>> fns;
    std::vector<Delivery> deliveries;
    {
        std::lock_guard<std::mutex> lk(self->mu_);
        fns.swap(self->to_loop_);
        deliveries.swap(self->inbox_);
        self->queued_changes_ = 0;
    }
    self->room_cv_.notify_all();
    for (auto& fn : fns) {
        try {
            fn();
        } catch (const std::exception& e) {
            LOG_ERROR("fleet: a completion threw: %s", e.what());
        }
    }
    // Hand the changes over in runs of one generation, in delivery order.
    size_t i = 0;
    while (i < deliveries.size()) {
        uint64_t gen = deliveries[i].generation;
        std::vector<Change> run;
        uint64_t pending = 0;
        for (; i < deliveries.size() && deliveries[i].generation == gen; ++i) {
            run.push_back(std::move(deliveries[i].change));
            pending = deliveries[i].pending;
        }
        try {
            self->events_.on_changes(gen, std::move(run), pending);
        } catch (const std::exception& e) {
            LOG_ERROR("fleet: applying changes threw: %s", e.what());
        }
    }
}

std::string Link::connected_url() const {
    std::lock_guard<std::mutex> lk(mu_);
    return url_;
}

void Link::on_connected(natsConnection* nc, void* closure) noexcept {
    auto* self = static_cast<Link*>(closure);
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof url);
    {
        std::lock_guard<std::mutex> lk(self->mu_);
        self->url_ = url;
        self->connected_ = true;
        // Check the streams again (a server may have lost them) and report readiness.
        self->need_setup_ = true;
    }
    self->cv_.notify_all();
    std::string u = url;
    self->run_on_loop([self, u] { self->events_.on_connection(true, u); });
}

void Link::on_reconnected(natsConnection* nc, void* closure) noexcept {
    on_connected(nc, closure);
}

void Link::on_disconnected(natsConnection*, void* closure) noexcept {
    auto* self = static_cast<Link*>(closure);
    std::string was;
    {
        std::lock_guard<std::mutex> lk(self->mu_);
        if (self->stop_) return;
        was = self->url_;
        self->url_.clear();
        self->connected_ = false;
    }
    self->run_on_loop([self, was] {
        self->events_.on_connection(false, "disconnected from " + (was.empty() ? "NATS" : was) +
                                               ", reconnecting");
    });
}

void Link::on_closed(natsConnection*, void* closure) noexcept {
    // nats.c runs a connection's callbacks in order on its own thread, the closed one last.
    auto* self = static_cast<Link*>(closure);
    {
        std::lock_guard<std::mutex> lk(self->mu_);
        self->closed_ = true;
    }
    self->cv_.notify_all();
}

void Link::track_dispatch(natsSubscription* sub) {
    natsStatus s = natsSubscription_SetOnCompleteCB(sub, &Link::on_dispatch_complete, this);
    if (s != NATS_OK) {
        // Only a subscription closed already gets here (the connection went away at once).
        LOG_WARN("fleet: %s", nats_error("watching a subscription's dispatch", s).c_str());
        return;
    }
    std::lock_guard<std::mutex> lk(mu_);
    ++dispatching_;
}

void Link::on_dispatch_complete(void* closure) noexcept {
    // nats.c's dispatch thread of a closed subscription, after its last message handler.
    auto* self = static_cast<Link*>(closure);
    {
        std::lock_guard<std::mutex> lk(self->mu_);
        --self->dispatching_;
    }
    self->cv_.notify_all();
}

void Link::on_async_error(natsConnection*, natsSubscription*, natsStatus err, void*) noexcept {
    LOG_WARN("fleet: NATS: %s", natsStatus_GetText(err));
}

void Link::on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) noexcept {
    auto* ctx = static_cast<SubCtx*>(closure);
    Link* self = ctx->link;
    Delivery d;
    d.generation = ctx->generation;
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
        d.change.seq = meta->Sequence.Stream;
        d.change.timestamp_ns = meta->Timestamp;
        d.pending = meta->NumPending;
        jsMsgMetaData_Destroy(meta);
    }
    if (d.change.seq == 0) { // not a stream message (no metadata): nothing to apply
        natsMsg_Destroy(msg);
        return;
    }
    const char* subject = natsMsg_GetSubject(msg);
    std::string_view key = subject ? subject : "";
    const char* op = nullptr;
    const char* drop = nullptr;
    if (natsMsgHeader_Get(msg, "KV-Operation", &op) != NATS_OK) op = nullptr;
    if (natsMsgHeader_Get(msg, kHeaderDropNs, &drop) != NATS_OK) drop = nullptr;
    std::optional<Change> c;
    try {
        if (key.starts_with(kSubjectPrefix))
            c = decode_change(
                key.substr(kSubjectPrefix.size()), op ? op : "", drop ? drop : "",
                std::string_view(natsMsg_GetData(msg), size_t(natsMsg_GetDataLength(msg))));
        if (c) {
            c->seq = d.change.seq;
            c->timestamp_ns = d.change.timestamp_ns;
            d.change = std::move(*c);
        } else {
            LOG_WARN("fleet: skipping message %llu on %.*s: not an edgecached change",
                     static_cast<unsigned long long>(d.change.seq), int(key.size()), key.data());
            d.change.kind = Change::Kind::ignore;
        }
    } catch (const std::exception& e) {
        LOG_ERROR("fleet: cannot decode message %llu: %s",
                  static_cast<unsigned long long>(d.change.seq), e.what());
        d.change.kind = Change::Kind::ignore;
    }
    natsMsg_Destroy(msg);
    {
        std::unique_lock<std::mutex> lk(self->mu_);
        // Backpressure: this is nats.c's delivery thread, not the loop; waiting here lets
        // JetStream's flow control hold the rest on the server.
        self->room_cv_.wait(
            lk, [&] { return self->stop_ || self->queued_changes_ < kMaxQueuedChanges; });
        if (self->stop_) return;
        self->inbox_.push_back(std::move(d));
        ++self->queued_changes_;
    }
    uv_async_send(self->async_.get());
}

bool Link::setup() {
    natsStatus s;
    jsErrCode jerr = jsErrCode(0);
    if (!js_) {
        jsOptions o;
        jsOptions_Init(&o);
        o.Wait = 5000;
        if ((s = natsConnection_JetStream(&js_, nc_, &o)) != NATS_OK) {
            LOG_WARN("fleet: %s", nats_error("JetStream context", s).c_str());
            js_ = nullptr;
            return false;
        }
    }
    if (!kv_) {
        s = js_KeyValue(&kv_, js_, std::string(kBucket).c_str());
        if (s == NATS_NOT_FOUND) {
            kvConfig cfg;
            kvConfig_Init(&cfg);
            std::string bucket(kBucket);
            cfg.Bucket = bucket.c_str();
            cfg.History = 1;
            cfg.Replicas = settings_.replicas;
            cfg.StorageType = js_FileStorage;
            s = js_CreateKeyValue(&kv_, js_, &cfg);
            if (s == NATS_OK)
                LOG_INFO("fleet: created the JetStream bucket %s (replicas %d)", bucket.c_str(),
                         settings_.replicas);
        }
        if (s != NATS_OK) {
            kv_ = nullptr;
            static uint64_t last_log = 0;
            if (now_ms() - last_log > 5000) {
                last_log = now_ms();
                LOG_WARN("fleet: %s", nats_error("opening the bucket", s, jerr).c_str());
            }
            return false;
        }
    }
    // The purge stream: limits retention, so a node away longer than that purges everything.
    jsStreamInfo* si = nullptr;
    s = js_GetStreamInfo(&si, js_, kPurgeStream, nullptr, &jerr);
    if (s == NATS_NOT_FOUND) {
        jsStreamConfig cfg;
        jsStreamConfig_Init(&cfg);
        const char* subjects[] = {kPurgeSubject};
        cfg.Name = kPurgeStream;
        cfg.Subjects = subjects;
        cfg.SubjectsLen = 1;
        cfg.Storage = js_FileStorage;
        cfg.Replicas = settings_.replicas;
        cfg.MaxAge = kPurgeRetentionS * 1000000000LL;
        s = js_AddStream(&si, js_, &cfg, nullptr, &jerr);
    }
    if (s != NATS_OK) {
        LOG_WARN("fleet: %s", nats_error("opening the purge stream", s, jerr).c_str());
        return false;
    }
    jsStreamInfo_Destroy(si);
    // Ready once the purge consumer is bound too (then, after a reconnect, at once).
    if (purge_sub_) post_ready();
    return true;
}

void Link::post_ready() {
    int64_t max_payload = natsConnection_GetMaxPayload(nc_);
    run_on_loop([this, max_payload] { events_.on_ready(max_payload); });
}

bool Link::ensure_ready(uint64_t deadline_ms) {
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
        if (stop_) return false;
        if (connected_ && !need_setup_) return true;
        if (connected_ && need_setup_) {
            lk.unlock();
            bool ok = setup();
            lk.lock();
            if (ok) {
                need_setup_ = false;
                return true;
            }
        }
        uint64_t now = now_ms();
        if (now >= deadline_ms) return false;
        cv_.wait_for(lk, std::chrono::milliseconds(std::min<uint64_t>(250, deadline_ms - now)));
    }
}

void Link::thread_main() {
    natsStatus s = natsConnection_Connect(&nc_, opts_);
    if (s == NATS_OK) {
        on_connected(nc_, this);
    } else if (s != NATS_NOT_YET_CONNECTED) {
        // With retries on, only a configuration problem gets here (bad credentials file...).
        LOG_ERROR("fleet: %s", nats_error("cannot connect to NATS", s).c_str());
        nc_ = nullptr;
    }
    std::unique_lock<std::mutex> lk(mu_);
    while (!stop_) {
        if (!jobs_.empty()) {
            Job job = std::move(jobs_.front());
            jobs_.pop_front();
            lk.unlock();
            job();
            lk.lock();
            continue;
        }
        bool can_setup = connected_ && nc_;
        if (can_setup && need_setup_) {
            lk.unlock();
            bool ok = ensure_ready(now_ms());
            lk.lock();
            if (!ok) cv_.wait_for(lk, std::chrono::milliseconds(250));
            continue;
        }
        if (can_setup && !need_setup_ && !purge_sub_) {
            lk.unlock();
            bool ok = subscribe_purges_now();
            if (ok) post_ready();
            lk.lock();
            if (!ok) cv_.wait_for(lk, std::chrono::milliseconds(250));
            continue;
        }
        if (can_setup && want_sub_) {
            lk.unlock();
            bool ok = subscribe_now();
            lk.lock();
            if (!ok) cv_.wait_for(lk, std::chrono::milliseconds(250));
            continue;
        }
        cv_.wait(lk);
    }
    lk.unlock();
    // Both subscriptions are closed explicitly: the purge consumer was created by js_AddConsumer,
    // so unsubscribing leaves it (and this node's position) on the server.
    for (natsSubscription** sub : {&sub_, &purge_sub_}) {
        if (!*sub) continue;
        natsSubscription_Unsubscribe(*sub);
        natsSubscription_Destroy(*sub);
        *sub = nullptr;
    }
    if (kv_) kvStore_Destroy(kv_);
    if (js_) jsCtx_Destroy(js_);
    if (nc_) natsConnection_Close(nc_);
    // A message handler may still be running on a subscription's dispatch thread, and the
    // disconnected callback of this close is still queued on nats.c's callback thread; both
    // read *this. Wait for the subscriptions' completion and the closed callback (which comes
    // after the disconnected one) before ~Link frees us; bounded, so a nats.c that never calls
    // them cannot hang the shutdown.
    {
        std::unique_lock<std::mutex> wait_lk(mu_);
        bool done = cv_.wait_for(wait_lk, std::chrono::seconds(5),
                                 [this] { return (closed_ || !nc_) && dispatching_ == 0; });
        if (!done)
            LOG_WARN("fleet: NATS callbacks still pending after 5 s (%zu subscription(s))",
                     dispatching_);
    }
    if (nc_) natsConnection_Destroy(nc_);
    kv_ = nullptr;
    js_ = nullptr;
    nc_ = nullptr;
}

natsStatus Link::while_electing(uint64_t deadline_ms, const std::function<natsStatus()>& call) {
    static constexpr uint64_t kRetryMs = 100;
    for (;;) {
        natsStatus s = call();
        if (s != NATS_NO_RESPONDERS || now_ms() + kRetryMs >= deadline_ms) return s;
        std::unique_lock<std::mutex> lk(mu_);
        if (cv_.wait_for(lk, std::chrono::milliseconds(kRetryMs), [this] { return stop_; }))
            return s;
    }
}

Result<uint64_t> Link::publish_now(const Publication& p, uint64_t deadline_ms) {
    if (!ensure_ready(deadline_ms))
        return unavailable("no JetStream connection within fleet.write_timeout_ms");
    if (now_ms() >= deadline_ms) return unavailable("fleet.write_timeout_ms passed");
    std::string subject = std::string(kSubjectPrefix) + p.key;
    natsMsg* m = nullptr;
    natsStatus s =
        natsMsg_Create(&m, subject.c_str(), nullptr, p.payload.data(), int(p.payload.size()));
    for (const Header& h : p.headers)
        if (s == NATS_OK) s = natsMsgHeader_Set(m, h.name.c_str(), h.value.c_str());
    if (s != NATS_OK) {
        natsMsg_Destroy(m);
        return make_error(500, "fleet_error", nats_error("building a message", s));
    }
    jsPubAck* ack = nullptr;
    jsErrCode jerr = jsErrCode(0);
    s = while_electing(deadline_ms, [&] {
        uint64_t t = now_ms();
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = int64_t(deadline_ms > t ? deadline_ms - t : 1);
        return js_PublishMsg(&ack, js_, m, &po, &jerr);
    });
    natsMsg_Destroy(m);
    if (s != NATS_OK) {
        if (s == NATS_MAX_PAYLOAD)
            return make_error(413, "value_too_large",
                              "the change is larger than the NATS server's max_payload");
        return unavailable(nats_error("JetStream did not accept the write", s, jerr));
    }
    uint64_t seq = ack->Sequence;
    jsPubAck_Destroy(ack);
    return seq;
}

void Link::publish(std::string key, std::string payload, std::vector<Header> headers,
                   uint64_t deadline_ms, std::function<void(Result<uint64_t>)> done) {
    std::vector<Publication> pubs;
    pubs.push_back({std::move(key), std::move(payload), std::move(headers)});
    publish_all(std::move(pubs), deadline_ms, std::move(done));
}

void Link::publish_all(std::vector<Publication> pubs, uint64_t deadline_ms,
                       std::function<void(Result<uint64_t>)> done) {
    auto shared = std::make_shared<std::vector<Publication>>(std::move(pubs));
    auto cb = std::make_shared<std::function<void(Result<uint64_t>)>>(std::move(done));
    run_on_nats([this, shared, cb, deadline_ms] {
        Result<uint64_t> last = uint64_t(0);
        for (const auto& p : *shared) {
            last = publish_now(p, deadline_ms);
            if (!last) break;
        }
        run_on_loop([cb, last]() mutable { (*cb)(std::move(last)); });
    });
}

void Link::claim(std::string key, std::string id, uint64_t deadline_ms,
                 std::function<void(Result<Claim>)> done) {
    auto cb = std::make_shared<std::function<void(Result<Claim>)>>(std::move(done));
    run_on_nats([this, key = std::move(key), id = std::move(id), cb, deadline_ms] {
        auto finish = [&](Result<Claim> r) {
            run_on_loop([cb, r]() mutable { (*cb)(std::move(r)); });
        };
        if (!ensure_ready(deadline_ms))
            return finish(unavailable("no JetStream connection within fleet.write_timeout_ms"));
        // Create fails when the key holds a value; then whoever holds it wins. Between the two
        // calls the holder may let go (a rename, a delete): try again a few times.
        for (int attempt = 0; attempt < 4 && now_ms() < deadline_ms; ++attempt) {
            uint64_t rev = 0;
            natsStatus s = while_electing(deadline_ms, [&] {
                return kvStore_Create(&rev, kv_, key.c_str(), id.data(), int(id.size()));
            });
            if (s == NATS_OK) return finish(Claim{id, rev});
            kvEntry* e = nullptr;
            natsStatus g =
                while_electing(deadline_ms, [&] { return kvStore_Get(&e, kv_, key.c_str()); });
            if (g == NATS_OK) {
                std::string holder(static_cast<const char*>(kvEntry_Value(e)),
                                   size_t(kvEntry_ValueLen(e)));
                kvEntry_Destroy(e);
                return finish(Claim{holder, 0});
            }
            if (g != NATS_NOT_FOUND)
                return finish(unavailable(nats_error("reading a namespace title", g)));
        }
        finish(unavailable("could not claim the namespace title before fleet.write_timeout_ms"));
    });
}

void Link::purge_subjects(std::string filter) {
    run_on_nats([this, filter = std::move(filter)] {
        if (!ensure_ready(now_ms() + 5000)) {
            LOG_WARN("fleet: not purging %s from the stream: no JetStream connection",
                     filter.c_str());
            return;
        }
        jsOptions o;
        jsOptions_Init(&o);
        std::string subject = std::string(kSubjectPrefix) + filter;
        o.Stream.Purge.Subject = subject.c_str();
        jsErrCode jerr = jsErrCode(0);
        natsStatus s = js_PurgeStream(js_, kStream.c_str(), &o, &jerr);
        if (s != NATS_OK)
            LOG_WARN("fleet: %s", nats_error(("purging " + subject).c_str(), s, jerr).c_str());
    });
}

void Link::subscribe(uint64_t after, uint64_t generation,
                     std::function<void(uint64_t first, uint64_t msgs)> on_gap) {
    {
        std::lock_guard<std::mutex> lk(mu_);
        want_sub_ = std::make_unique<SubRequest>(SubRequest{after, generation, std::move(on_gap)});
    }
    cv_.notify_all();
}

bool Link::subscribe_now() {
    std::unique_ptr<SubRequest> req;
    {
        std::lock_guard<std::mutex> lk(mu_);
        req = std::move(want_sub_);
    }
    if (!req) return true;
    auto retry = [&] {
        std::lock_guard<std::mutex> lk(mu_);
        if (!want_sub_) want_sub_ = std::move(req);
        return false;
    };
    if (sub_) {
        natsSubscription_Unsubscribe(sub_);
        natsSubscription_Destroy(sub_);
        sub_ = nullptr;
    }
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = jsErrCode(0);
    natsStatus s = js_GetStreamInfo(&si, js_, kStream.c_str(), nullptr, &jerr);
    if (s != NATS_OK) {
        LOG_WARN("fleet: %s", nats_error("reading the bucket's stream info", s, jerr).c_str());
        return retry();
    }
    uint64_t first = si->State.FirstSeq, last = si->State.LastSeq, msgs = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    // The stream no longer holds what follows our position: it was purged past it, or the
    // bucket was recreated (its sequence went back).
    bool gap = req->after > last || (req->after > 0 && msgs > 0 && req->after + 1 < first);
    if (gap) {
        auto on_gap = std::move(req->on_gap);
        run_on_loop([on_gap, first, msgs] { on_gap(first, msgs); });
        return true;
    }
    auto ctx = std::make_unique<SubCtx>(SubCtx{this, req->generation});
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = kStream.c_str();
    so.Ordered = true;
    if (req->after > 0) {
        so.Config.DeliverPolicy = js_DeliverByStartSequence;
        so.Config.OptStartSeq = req->after + 1;
    } else {
        so.Config.DeliverPolicy = js_DeliverAll;
    }
    std::string subject = std::string(kSubjectPrefix) + ">";
    s = js_Subscribe(&sub_, js_, subject.c_str(), &Link::on_message, ctx.get(), nullptr, &so,
                     &jerr);
    if (s != NATS_OK) {
        sub_ = nullptr;
        LOG_WARN("fleet: %s", nats_error("subscribing to the bucket", s, jerr).c_str());
        return retry();
    }
    natsSubscription_SetPendingLimits(sub_, -1, -1);
    track_dispatch(sub_);
    subs_ctx_.push_back(std::move(ctx));
    return true;
}

void Link::publish_purge(std::string payload, uint64_t deadline_ms,
                         std::function<void(Result<uint64_t>)> done) {
    auto cb = std::make_shared<std::function<void(Result<uint64_t>)>>(std::move(done));
    run_on_nats([this, payload = std::move(payload), cb, deadline_ms] {
        Result<uint64_t> r = uint64_t(0);
        if (!ensure_ready(deadline_ms)) {
            r = unavailable("no JetStream connection within fleet.write_timeout_ms");
        } else {
            jsPubAck* ack = nullptr;
            jsErrCode jerr = jsErrCode(0);
            natsStatus s = while_electing(deadline_ms, [&] {
                uint64_t now = now_ms();
                jsPubOptions po;
                jsPubOptions_Init(&po);
                po.MaxWait = int64_t(deadline_ms > now ? deadline_ms - now : 1);
                return js_Publish(&ack, js_, kPurgeSubject, payload.data(), int(payload.size()),
                                  &po, &jerr);
            });
            if (s == NATS_OK) {
                r = ack->Sequence;
                jsPubAck_Destroy(ack);
            } else {
                r = unavailable(nats_error("JetStream did not accept the purge", s, jerr));
            }
        }
        run_on_loop([cb, r]() mutable { (*cb)(std::move(r)); });
    });
}

void Link::purge_progress(uint64_t seq, std::function<void(Result<PurgeProgress>)> done) {
    auto cb = std::make_shared<std::function<void(Result<PurgeProgress>)>>(std::move(done));
    run_on_nats([this, seq, cb] {
        Result<PurgeProgress> r = PurgeProgress{};
        jsConsumerInfoList* list = nullptr;
        jsErrCode jerr = jsErrCode(0);
        natsStatus s = NATS_NOT_YET_CONNECTED;
        if (ensure_ready(now_ms() + 2000))
            s = js_Consumers(&list, js_, kPurgeStream, nullptr, &jerr);
        if (s == NATS_OK) {
            PurgeProgress p;
            for (int i = 0; i < list->Count; ++i) {
                const jsConsumerInfo* ci = list->List[i];
                if (!ci->Config || !ci->Config->Durable) continue;
                ++p.known;
                if (ci->AckFloor.Stream >= seq) ++p.applied;
            }
            jsConsumerInfoList_Destroy(list);
            r = p;
        } else if (s != NATS_NOT_FOUND) {
            r = unavailable(nats_error("listing the purge consumers", s, jerr));
        }
        run_on_loop([cb, r]() mutable { (*cb)(std::move(r)); });
    });
}

bool Link::subscribe_purges_now() {
    std::string durable = "purge_" + settings_.node;
    jsErrCode jerr = jsErrCode(0);
    // A consumer whose position fell out of the stream (retention) missed purges.
    jsConsumerInfo* ci = nullptr;
    natsStatus s = js_GetConsumerInfo(&ci, js_, kPurgeStream, durable.c_str(), nullptr, &jerr);
    if (s == NATS_NOT_FOUND) {
        // Created here, bound below: a consumer the library did not create is never deleted
        // by it (an unsubscribe must not lose this node's position).
        std::string deliver = "_edgecached.purge." + settings_.node;
        jsConsumerConfig cc;
        jsConsumerConfig_Init(&cc);
        cc.Durable = durable.c_str();
        cc.DeliverSubject = deliver.c_str();
        cc.AckPolicy = js_AckExplicit;
        cc.AckWait = 30LL * 1000000000LL;
        cc.MaxAckPending = 1000;
        // A node that joins later has nothing cached that older purges concern.
        cc.DeliverPolicy = js_DeliverNew;
        s = js_AddConsumer(&ci, js_, kPurgeStream, &cc, nullptr, &jerr);
        if (s != NATS_OK) {
            LOG_WARN("fleet: %s", nats_error("creating the purge consumer", s, jerr).c_str());
            return false;
        }
        jsConsumerInfo_Destroy(ci);
    } else if (s == NATS_OK) {
        uint64_t floor = ci->AckFloor.Stream, delivered = ci->Delivered.Stream;
        jsConsumerInfo_Destroy(ci);
        jsStreamInfo* si = nullptr;
        if (js_GetStreamInfo(&si, js_, kPurgeStream, nullptr, &jerr) == NATS_OK) {
            uint64_t first = si->State.FirstSeq;
            jsStreamInfo_Destroy(si);
            if (delivered > 0 && floor + 1 < first) run_on_loop([this] { events_.on_purge_gap(); });
        }
    } else {
        LOG_WARN("fleet: %s", nats_error("reading the purge consumer", s, jerr).c_str());
        return false;
    }
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = kPurgeStream;
    so.Consumer = durable.c_str();
    so.ManualAck = true;
    s = js_Subscribe(&purge_sub_, js_, kPurgeSubject, &Link::on_purge_message, this, nullptr, &so,
                     &jerr);
    if (s != NATS_OK) {
        purge_sub_ = nullptr;
        LOG_WARN("fleet: %s", nats_error("subscribing to the purge stream", s, jerr).c_str());
        return false;
    }
    track_dispatch(purge_sub_);
    return true;
}

void Link::on_purge_message(natsConnection*, natsSubscription*, natsMsg* msg,
                            void* closure) noexcept {
    auto* self = static_cast<Link*>(closure);
    uint64_t seq = 0;
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
        seq = meta->Sequence.Stream;
        jsMsgMetaData_Destroy(meta);
    }
    try {
        std::string payload(natsMsg_GetData(msg), size_t(natsMsg_GetDataLength(msg)));
        // The ack goes out from the NATS thread once the loop applied the purge. The message
        // is freed with the last copy of the ack, whether it ran or was dropped (a purge not
        // acknowledged is delivered again).
        std::shared_ptr<natsMsg> owned(std::exchange(msg, nullptr), &natsMsg_Destroy);
        auto ack = [self, owned] {
            self->run_on_nats([owned] { natsMsg_Ack(owned.get(), nullptr); });
        };
        self->run_on_loop([self, seq, payload = std::move(payload), ack]() mutable {
            self->events_.on_purge(seq, std::move(payload), std::move(ack));
        });
    } catch (const std::exception& e) {
        LOG_ERROR("fleet: cannot take purge %llu: %s", static_cast<unsigned long long>(seq),
                  e.what());
        if (msg) natsMsg_Destroy(msg);
    }
}

} // namespace ec::fleet
