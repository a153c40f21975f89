// TlsStream: the memory-BIO Engine driven over a plain net::Stream.
#include "tls/tls_stream.hpp"

#include <cstring>
#include <utility>

namespace ec::tls {

TlsStream::TlsStream(loop::Loop& loop, net::Stream* inner, std::unique_ptr<Engine> engine,
                     bool client, uint32_t handshake_timeout_ms,
                     std::function<void()> on_handshake_end, std::string failure)
    : loop_(loop), inner_(inner), engine_(std::move(engine)), client_(client),
      failure_(std::move(failure)), on_handshake_end_(std::move(on_handshake_end)) {
    inner_->set_events(this);
    if (!engine_) {
        failed_ = true;
        end_ = net::kErrTls;
        if (failure_.empty()) failure_ = "no TLS context";
        handshake_over();
        return;
    }
    if (!client_) {
        if (handshake_timeout_ms > 0) {
            handshake_timer_.emplace(loop.uv(), [this] {
                if (!handshake_done_ && !failed_) fail("TLS handshake timed out");
            });
            handshake_timer_->start(handshake_timeout_ms);
        }
        // The handshake runs whether or not the owner reads yet.
        inner_->read_start();
    }
}

TlsStream::~TlsStream() = default;

int TlsStream::connect(const sockaddr* addr) {
    if (!engine_ || !inner_) return net::kErrTls;
    connecting_ = true;
    int rc = inner_->connect(addr);
    if (rc != 0) connecting_ = false;
    return rc;
}

int TlsStream::read_start() {
    reading_ = true;
    if (!plain_.empty() || end_ != 0) post_delivery(); // held bytes: not on this stack
    return inner_ && !failed_ ? inner_->read_start() : 0;
}

void TlsStream::read_stop() {
    reading_ = false;
    // Before the handshake is done it goes on regardless (the owner has nothing to read yet).
    if (handshake_done_ && inner_) inner_->read_stop();
}

int TlsStream::try_write(uv_buf_t* bufs, unsigned n) {
    if (failed_ || !inner_ || !handshake_done_) return failed_ ? UV_EPIPE : 0;
    // As uv_try_write does while a socket's write queue is not empty: take nothing until the
    // earlier records went out, so the owner queues a write() and sees the queue grow (a client
    // that stops reading meets the owner's high-water mark instead of records piling up here).
    if (held_ > 0) return 0;
    for (unsigned i = 0; i < n; ++i)
        if (!engine_->write(bufs[i].base, bufs[i].len)) return UV_EPIPE;
    int rc = send(engine_->take_output(), nullptr);
    return rc != 0 ? rc : static_cast<int>(n);
}

int TlsStream::write(net::WriteReq& req, const uv_buf_t* bufs, unsigned n) {
    if (failed_ || !inner_ || closing_) return UV_EPIPE;
    for (unsigned i = 0; i < n; ++i)
        if (!engine_->write(bufs[i].base, bufs[i].len)) return UV_EPIPE;
    return send(engine_->take_output(), &req);
}

int TlsStream::shutdown() {
    if (!inner_) return UV_ENOTCONN;
    if (engine_ && !failed_) {
        engine_->shutdown(); // close_notify goes out before the FIN
        flush();
    }
    return inner_->shutdown();
}

void TlsStream::close() {
    if (closing_) return;
    closing_ = true;
    handshake_over();
    if (inner_) inner_->close();
}

bool TlsStream::peer(sockaddr_storage& out) const {
    return inner_ && inner_->peer(out);
}

bool TlsStream::is_unix() const {
    return inner_ && inner_->is_unix();
}

int TlsStream::send(std::string bytes, net::WriteReq* owner) {
    if (bytes.empty() && !owner) return 0;
    Out& o = out_.emplace_back();
    o.bytes = std::move(bytes);
    o.owner = owner;
    o.inner_req.data = &o;
    held_ += o.bytes.size();
    uv_buf_t b = uv_buf_init(o.bytes.data(), static_cast<unsigned>(o.bytes.size()));
    int rc = inner_->write(o.inner_req, &b, 1);
    if (rc != 0) {
        held_ -= o.bytes.size();
        out_.pop_back();
    }
    return rc;
}

int TlsStream::flush() {
    if (!inner_ || !engine_) return 0;
    return send(engine_->take_output(), nullptr);
}

void TlsStream::advance() {
    if (failed_ || closing_) return;
    if (!handshake_done_) {
        Engine::Io io = engine_->handshake();
        flush();
        if (io == Engine::Io::failed) return fail(nullptr);
        if (io != Engine::Io::ok) return;
        handshake_done_ = true;
        handshake_over();
        if (connecting_) {
            connecting_ = false;
            if (events_) events_->on_connect(0);
            if (closing_) return;
        }
        if (!reading_ && inner_) inner_->read_stop();
    }
    char buf[16 * 1024];
    for (;;) {
        Engine::Read r = engine_->read(buf, sizeof buf);
        if (r.io == Engine::Io::ok) {
            plain_.append(buf, r.n);
            continue;
        }
        if (r.io == Engine::Io::closed) end_ = UV_EOF;
        if (r.io == Engine::Io::failed) {
            failed_ = true;
            failure_ = engine_->failure();
            end_ = net::kErrTls;
        }
        break;
    }
    flush(); // a key update or an alert
    deliver();
}

void TlsStream::fail(const char* why) {
    if (failed_) return;
    failed_ = true;
    failure_ = why ? why : engine_->failure();
    flush(); // the alert, if any
    handshake_over();
    if (connecting_) {
        connecting_ = false;
        if (events_) events_->on_connect(net::kErrTls);
        return;
    }
    end_ = net::kErrTls;
    deliver(); // or at the owner's next read_start
}

void TlsStream::deliver() {
    while (reading_ && !plain_.empty() && events_ && !closing_) {
        uv_buf_t into = events_->on_alloc(plain_.size());
        if (into.len == 0) {
            events_->on_read(UV_ENOBUFS, into); // the rest waits for the next read_start
            return;
        }
        size_t n = std::min<size_t>(into.len, plain_.size());
        std::memcpy(into.base, plain_.data(), n);
        plain_.erase(0, n);
        events_->on_read(static_cast<ssize_t>(n), into);
    }
    if (reading_ && plain_.empty() && end_ != 0 && events_ && !closing_) {
        uv_buf_t none = uv_buf_init(nullptr, 0);
        events_->on_read(std::exchange(end_, 0), none);
    }
}

void TlsStream::handshake_over() {
    handshake_timer_.reset();
    if (auto done = std::exchange(on_handshake_end_, nullptr)) done();
}

void TlsStream::post_delivery() {
    if (posted_) return;
    posted_ = true;
    ++keep_; // our memory stays until the posted call ran
    loop_.post([this] {
        posted_ = false;
        deliver();
        release();
    });
}

void TlsStream::release() {
    if (--keep_ == 0) delete this;
}

uv_buf_t TlsStream::on_alloc(size_t) {
    return uv_buf_init(raw_, sizeof raw_);
}

void TlsStream::on_read(ssize_t nread, const uv_buf_t& buf) {
    if (nread == 0 || closing_) return;
    if (nread < 0) {
        if (!handshake_done_)
            return fail(nread == UV_EOF ? "connection closed during the TLS handshake"
                                        : uv_strerror(static_cast<int>(nread)));
        // After the handshake an EOF without close_notify ends the stream like a plain one:
        // HTTP's own framing says whether the message was complete.
        if (end_ == 0) end_ = static_cast<int>(nread);
        deliver();
        return;
    }
    if (failed_) return;
    engine_->feed(buf.base, static_cast<size_t>(nread));
    advance();
}

void TlsStream::on_write(net::WriteReq& req, int status) {
    // Writes complete in order (cancelled ones too): this is the oldest.
    auto* o = static_cast<Out*>(req.data);
    held_ -= o->bytes.size();
    net::WriteReq* owner = o->owner;
    out_.pop_front();
    if (!events_) return;
    if (owner)
        events_->on_write(*owner, status);
    else
        events_->on_output_written();
}

void TlsStream::on_connect(int status) {
    if (status != 0 || closing_) {
        connecting_ = false;
        if (events_) events_->on_connect(status);
        return;
    }
    inner_->read_start();
    advance(); // the ClientHello
}

void TlsStream::on_shutdown(int status) {
    if (events_) events_->on_shutdown(status);
}

void TlsStream::on_closed() {
    inner_ = nullptr;
    handshake_over();
    if (events_) events_->on_closed();
    events_ = nullptr;
    release();
}

} // namespace ec::tls
