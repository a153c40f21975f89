// Link: nats.c on its own thread; results and deliveries reach the loop through a uv_async_t.
#include "fleet/link.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <utility>

#include "fleet/link_errors.hpp"
#include "util/log.hpp"

namespace ec::fleet {

std::string nats_error(const char* what, natsStatus s, jsErrCode jerr) {
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

} // namespace ec::fleet
