// Fetch: the caller's handle on one request in flight to an origin.
#pragma once

namespace ec::origin {

// Returned by Pool::fetch() as a shared_ptr; the pool keeps its own reference until the
// fetch finishes, so the caller may drop the handle at any time (the fetch still runs and
// calls its Sink). All methods are safe to call from inside the fetch's own Sink callbacks,
// and after it finished (then they do nothing).
class Fetch {
public:
    Fetch(const Fetch&) = delete;
    Fetch& operator=(const Fetch&) = delete;

    // Abandons the fetch: no Sink callback runs after this returns, the connection it used
    // is closed (never reused mid-response), it leaves the wait queue. Idempotent.
    void cancel();

    // Backpressure for a slow downstream client: stop reading from the origin; no on_body or
    // on_complete until resume_body(). Time spent paused does not count against the timeouts
    // (the downstream connection has its own), but one pause longer than Tuning::max_pause_ms
    // fails the fetch with timeout. Buffered bytes (at most one read) stay put.
    void pause_body();
    // Undoes pause_body(); delivery continues from a posted callback, never on this stack.
    void resume_body();

    // True once on_complete / on_error was delivered or cancel() was called.
    bool done() const;
    // "host:port" of the server currently or last used; empty before the first attempt.
    const char* server() const;
    // True when the request went out on a reused keep-alive connection.
    bool reused_connection() const;

protected:
    Fetch() = default;
    ~Fetch() = default; // owned through shared_ptr<FetchImpl>
};

} // namespace ec::origin
