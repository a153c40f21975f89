// Link, the stream side: publishing KV changes and purges to JetStream (waiting out a leader
// election), claims, and the ordered subscriptions that deliver changes and purges to the loop.
#include "fleet/link.hpp"

#include <chrono>
#include <utility>

#include "fleet/link_errors.hpp"
#include "util/log.hpp"

namespace ec::fleet {

namespace {

const std::string kStream = "KV_" + std::string(kBucket);

} // namespace

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
    for (const origin::Header& h : p.headers)
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

void Link::publish(std::string key, std::string payload, std::vector<origin::Header> headers,
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
