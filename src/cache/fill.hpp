// Fill: one origin request that answers every client waiting on the same key (coalescing).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache/entry.hpp"
#include "cache/freshness.hpp"
#include "cache/generations.hpp"
#include "cache/partial.hpp"
#include "cache/respond.hpp"
#include "cache/routes.hpp"
#include "cache/vary.hpp"
#include "http/exchange.hpp"
#include "loop/deferred.hpp"
#include "loop/loop.hpp"
#include "origin/fetch.hpp"
#include "origin/pool.hpp"
#include "origin/types.hpp"

namespace ec::cache {

class Fill;

// What a fill sends upstream and keys on, copied out of the client request that caused it:
// a fill outlives its clients (a background revalidation runs long after the STALE answer).
struct FillRequest {
    std::string target;                  // path?query as received: what goes upstream
    std::vector<origin::Header> headers; // forwarded (upstream_headers with `cacheable`)
    FieldList fields;                    // the client's header fields: Vary keys, preconditions
    RequestInfo info;                    // what freshness needs from the request
    bool ranged = false;                 // asks for part of the representation
    std::string forward_range;           // the Range sent upstream (partial.hpp); "" = the whole

    // Copies what a fill needs from `req` (whose views must be valid now). `spec` is the
    // route's origin (nullptr when it is not configured). A background request is the daemon's
    // own: no client address, request id or client HTTP version go upstream.
    static FillRequest from(const http::Request& req, const config::OriginSpec* spec,
                            const ProxySettings& settings, bool background);
    // Bytes this request holds, for queue budgets.
    size_t bytes() const;
};

// The host's slot for a fill storing under `key`: the key itself, or for a fill forwarding a
// Range the key and the range (only requests for that same range coalesce on it).
std::string fill_slot(const std::string& key, std::string_view forward_range);

// A completed response a fill asks its host to store (a part set of one part when the fill
// forwarded a Range and got a 206 to keep: the host merges it, partial.hpp).
struct StoreRequest {
    std::string base;                    // the URL's base key (the Vary marker's key)
    std::string key;                     // the variant's key (== base without Vary)
    std::shared_ptr<const Entry> entry;  //
    std::vector<std::string> vary_names; // non-empty: store a Vary marker under `base` too
    std::vector<std::string> tags;       //
    Generations::Snapshot snap;          // taken when the fill was made: a purge since wins
};

// What a fill needs from the proxy that owns it (the proxy implements it; unit tests fake it).
// A fill never calls back into request handling: clients it cannot answer are handed back
// through `hand_back`, once the fill's own state is settled.
class FillHost {
public:
    virtual loop::Loop& loop() = 0;
    virtual const ProxySettings& settings() const = 0;
    // The route's origin pool; nullptr when the origin is not configured.
    virtual origin::Pool* pool_for(const Route& route) = 0;
    // Stores a completed response unless a purge moved its generation since `snap`.
    // `settled` runs exactly once: when lookups can find the entry, or never will (skipped,
    // failed) — possibly before store() returns.
    virtual void store(StoreRequest req, Route& route, std::function<void()> settled) = 0;
    // True when a purge or invalidation of `base` happened since `snap`.
    virtual bool purged_since(const std::string& base, const Generations::Snapshot& snap) = 0;
    // The key's answers are not shareable: send the next requests past coalescing for a while.
    virtual void mark_hit_for_pass(const std::string& base) = 0;
    // Answers an origin failure (502 / 503 / 504, the operator's error page when configured).
    virtual void send_gateway_error(http::Exchange& ex, origin::ErrorKind kind,
                                    std::string_view origin, std::string_view message) = 0;
    // The fill has left its slot: later requests for its key start a new fill.
    virtual void fill_done(const Fill& fill) = 0;
    // Clients this fill cannot answer (the response is not shareable, too large to keep, or
    // another Vary variant): to be handled as if they had just arrived.
    virtual void hand_back(std::vector<http::ExchangeRef> clients,
                           const std::shared_ptr<Route>& route) = 0;

protected:
    ~FillHost() = default;
};

// One origin request per key, as a state machine. Every change of phase_ goes through
// enter(); every end through finish(outcome).
//
//   queued ──its deferred task runs, or a client joins──► requesting   (background kind)
//   requesting ──head──► streaming  (the body goes to the primary as it arrives; no joins)
//              ──head──► buffering  (the body is kept for waiters and the store; the primary
//                                    may stream it too)
//   requesting ──304 or stale-if-error──► settling | done  (answered from the entry)
//   streaming | buffering ──end of body──► settling (the entry is committing; clients joining
//                                          now are answered from it) ──committed──► done
//   any phase ──failure, nobody left, purged while queued, shutdown──► done
//
// A fill forwarding a Range (FillRequest::forward_range) has no stale entry; its primary
// streams the origin's answer (the 206 is the answer to its range), a single-part 206 with a
// known length is kept as a part (partial.hpp), a 200 as the complete response, and nothing
// else is stored.
//
// Clients: the origin's interim (1xx) responses go to the client whose request went upstream
// (the primary, or the client that started a queued revalidation) and to no waiter: the others
// did not ask the origin anything, and 103 hints are for one response. The one that caused a
// client fill ("primary") streams the response as it arrives when it can — a plain GET with no
// stale entry to fall back on; every other client (join()) waits and is answered from the complete
// response, or handed back to the host when the response turns out not shareable, too large to
// keep, or another Vary variant — except the client whose request went upstream, which is
// streamed such a response. With a stale entry the request is conditional: a 304 refreshes the
// entry (RFC 9111 §4.3.4); an origin failure inside stale-if-error serves it. A background fill
// (stale-while-revalidate) is made queued by the host, which schedules a deferred task to run it;
// it has no clients unless some join (a queued one then starts at once), and reports its end to the
// task's Done.
//
// Ownership: the host's map holds the fill until fill_done(); the origin callbacks hold it
// while the request runs.
class Fill : public std::enable_shared_from_this<Fill> {
public:
    enum class Kind : uint8_t {
        client,     // a miss or a stale entry a client needs validated now
        background, // a revalidation the client did not wait for (stale-while-revalidate)
    };
    enum class Phase : uint8_t {
        queued,     // background: waiting for its deferred task
        requesting, // the request is out; no response head yet; clients join and wait
        streaming,  // the response goes to the primary as it arrives, and nowhere else
        buffering,  // the response is being kept (for waiters, the store, or both)
        settling,   // complete and committing; joins are answered from the entry
        done,       // out of the host's slot; nothing more happens
    };
    // How a fill ended, for finish().
    enum class Outcome : uint8_t {
        answered,     // the response (or its 304 refresh) went to every client it could
        abandoned,    // nobody left to deliver to and nothing to keep: the request is cancelled
        stale_served, // the origin failed; the stale entry answered (stale-if-error)
        failed,       // the origin failed; the clients got 502 / 504
        superseded,   // a queued revalidation whose entry was purged meanwhile
        shut_down,    // the host is shutting down; the clients got 503
    };

    // `key` is the host's slot for the fill (the variant's key when Vary is already known);
    // `stale` the stored entry to validate, if any; `snap` the generations when the fill was
    // decided. A background fill starts queued; a client fill waits for start().
    Fill(FillHost& host, Kind kind, std::shared_ptr<Route> route, std::string base, std::string key,
         std::shared_ptr<const Entry> stale, FillRequest req, Generations::Snapshot snap);

    // Client kind: sends the request. `primary` is the client that caused the fill.
    void start(http::ExchangeRef primary);
    // Background kind, from its deferred task: sends the request and reports the end to
    // `done` — at once (ok) when a client already started it or it ended meanwhile.
    void run_background(loop::DeferredQueue::Done done);
    // Adds a client to answer from this fill. False when it cannot take it (the response is not
    // shareable, too large to keep, another Vary variant, or the fill is over): the caller
    // handles the client otherwise (its own fill, or a pass).
    bool join(http::ExchangeRef waiter);
    // Shutdown: cancels the origin request and answers the clients with 503.
    void abort();

    Kind kind() const { return kind_; }
    Phase phase() const { return phase_; }
    const std::string& key() const { return slot_key_; }

private:
    void send_request();
    // Origin callbacks: each one step of the machine.
    void on_interim(origin::InterimHead&& head);
    void on_head(origin::ResponseHead&& head);
    void on_body(std::string_view chunk);
    void on_complete();
    void on_error(origin::ErrorKind kind, std::string message);
    void on_primary_drained();

    void enter(Phase p) { phase_ = p; }
    // The one way out: cancels the origin request if it still runs, starts the store of
    // `settle_` (phase settling) or leaves the host's slot (phase done), hands back released
    // clients, and reports to a background fill's Done. Idempotent.
    void finish(Outcome outcome, std::string_view why = {});
    void leave_slot();

    void decide(); // freshness, shareability, the variant key
    void begin_primary_stream(bool hold_head);
    void refresh_from_304(const FieldList& not_modified);
    void serve_stale(const char* why);
    void stop_buffering();
    // Answers every waiter from `e`; those of another variant are released.
    void answer_waiters(const std::shared_ptr<const Entry>& e, Verdict v);
    // Moves the waiters to the hand-back list (the host gets them in finish() or at the end of
    // the step).
    void release_waiters();
    // Removes `client` from the waiters; false when it is not one (or is gone).
    bool take_waiter(const http::ExchangeRef& client);
    void hand_back_released();
    bool same_variant(const http::Exchange& ex) const;
    // The debug line saying whether the response is stored, and why (not).
    void log_verdict() const;

    FillHost& host_;
    const Kind kind_;
    Phase phase_;
    std::shared_ptr<Route> route_;
    std::string base_;
    std::string slot_key_; // where the host holds this fill
    std::string key_;      // where the response is stored: the variant's key once Vary is known
    std::string url_;      // path-and-query part of base_, for logs
    std::shared_ptr<const Entry> stale_;
    FillRequest req_;
    Generations::Snapshot snap_;
    loop::DeferredQueue::Done done_; // background: its task's completion

    // Clients. A primary that may stream waits in primary_ for the head, then moves to
    // stream_; one that may not is the first waiter.
    http::ExchangeRef primary_;
    bool primary_streams_ = false;
    ClientStream stream_;
    std::vector<http::ExchangeRef> waiters_;
    std::vector<http::ExchangeRef> released_; // to hand back to the host
    // The client whose request went upstream (the primary, or the one that started a queued
    // revalidation) until the final head: the origin's interim (1xx) responses go to it alone.
    http::ExchangeRef asker_;
    std::shared_ptr<origin::Fetch> upstream_;

    // The response.
    int64_t request_time_ = 0;
    int status_ = 0;
    std::optional<ContentRange> part_; // a 206 to a forwarded Range that can be kept
    FieldList fields_;
    std::vector<std::string> withheld_; // field names the stored copy leaves out
    std::string transfer_coding_;       // codings left on the body (relayed, never stored)
    std::optional<uint64_t> content_length_;
    Freshness fresh_;
    VaryInfo vary_;
    std::vector<std::string> tags_;
    bool shareable_ = false;
    bool storable_ = false;
    std::string body_;
    // The complete response while it settles: joins are answered from it, so nothing slips
    // between "fill done" and "entry visible" to start a second fill.
    std::shared_ptr<const Entry> settle_;
    Verdict settle_verdict_{"MISS", {}};
    std::string settle_status_;
    std::vector<std::string> settle_vary_;
};

} // namespace ec::cache
