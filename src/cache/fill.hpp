// Fill: one origin request that answers every client waiting on the same key (coalescing).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cache/entry.hpp"
#include "cache/freshness.hpp"
#include "cache/generations.hpp"
#include "cache/respond.hpp"
#include "cache/routes.hpp"
#include "cache/vary.hpp"
#include "http/exchange.hpp"
#include "loop/deferred.hpp"
#include "origin/fetch.hpp"
#include "origin/types.hpp"

namespace ec::cache {

class Proxy;

// Lifecycle: start() sends the request; the first client ("primary") streams the response as
// it arrives when it can (a plain GET with no stale entry to fall back on); every other client
// (`join`) is answered from the buffered response once it is complete, or — when the response
// turns out not shareable, too large to buffer, or a different Vary variant — sent back through
// the proxy to make its own request. With a stale entry the request is conditional: a 304
// refreshes the entry (§4.3.4) and an origin failure inside stale-if-error serves it. A
// background fill (stale-while-revalidate) has no clients at all and reports to a deferred
// task's Done. The proxy's map holds the fill until it finishes; the origin callbacks hold it
// after that.
class Fill : public std::enable_shared_from_this<Fill> {
public:
    Fill(Proxy& proxy, std::shared_ptr<Route> route, std::string base, std::string key,
         std::shared_ptr<const Entry> stale);

    // Sends the origin request built from `req` (the client that caused the fill). `primary`
    // is that client, or empty for a background revalidation.
    void start(const http::Request& req, http::ExchangeRef primary, bool is_background);
    // Adds a client to answer from this fill. False when the fill can no longer take waiters
    // (its response is not shareable or too large to buffer): the caller goes to the origin.
    bool join(http::ExchangeRef waiter);
    void on_background_done(loop::DeferredQueue::Done done) { done_ = std::move(done); }
    // Shutdown: cancels the origin request and answers clients with 503.
    void abort();
    const std::string& key() const { return key_; }

private:
    void on_head(origin::ResponseHead&& head);
    void on_body(std::string_view chunk);
    void on_complete();
    void on_error(origin::ErrorKind kind, std::string message);

    void refresh_from_304(const FieldList& not_modified);
    void serve_stale_on_error(const char* why);
    void begin_primary_stream(bool hold_head);
    void stop_buffering();
    void primary_drained();
    // The debug line saying whether the response is stored, and why (not).
    void log_verdict() const;
    // Removes the fill from the proxy's map: later requests start a new fill.
    void detach();
    void serve_all(const std::shared_ptr<const Entry>& e, const char* x_cache,
                   std::string_view cache_status);
    void release_waiters();
    // Keeps the fill joinable with `e` until the store settles, then leaves the map.
    void settle_with(const std::shared_ptr<const Entry>& e, const char* x_cache,
                     std::string cache_status, std::vector<std::string> vary_names,
                     std::vector<std::string> tags);
    void finish_background(bool ok, std::string_view why);

    Proxy& proxy_;
    std::shared_ptr<Route> route_;
    std::string base_;
    std::string map_key_; // where the proxy's map holds this fill
    std::string key_;     // where the response is stored: the variant's key once Vary is known
    std::string url_;     // path-and-query part of base_, for logs
    std::shared_ptr<const Entry> stale_;
    Generations::Snapshot snap_;
    FieldList req_fields_; // the primary's request headers (Vary keys, conditionals)
    RequestInfo req_info_;
    bool background_ = false;
    loop::DeferredQueue::Done done_;

    http::ExchangeRef primary_;
    bool primary_streams_ = false;   // the primary gets the response as it arrives
    bool primary_streaming_ = false; // ...and its head is out: it is in stream_
    ClientStream stream_;
    std::vector<http::ExchangeRef> waiters_;
    std::shared_ptr<origin::Fetch> upstream_;

    // The response.
    bool got_head_ = false;
    bool finished_ = false;
    bool detached_ = false;
    int64_t request_time_ = 0;
    int status_ = 0;
    FieldList fields_;
    std::vector<std::string> withheld_; // field names the stored copy leaves out
    std::string transfer_coding_;       // codings left on the body (relayed, never stored)
    std::optional<uint64_t> content_length_;
    Freshness fresh_;
    VaryInfo vary_;
    std::vector<std::string> tags_;
    bool shareable_ = false;
    bool storable_ = false;
    bool buffering_ = false;
    std::string body_;
    // The finished response while its store commits: later requests for the key are answered
    // from it, so nothing slips between "fill done" and "entry visible" to start a second fill.
    std::shared_ptr<const Entry> completed_;
    const char* completed_x_cache_ = "MISS";
    std::string completed_status_;
};

} // namespace ec::cache
