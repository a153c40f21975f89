// XorStream: a test net::Stream that wraps another and XORs every byte both ways — shaped like
// TLS over memory BIOs (its own read buffer, transformed copies of output held until the socket
// took them, delivery into the owner's buffers), so the seam is proven to fit one.
#pragma once

#include <cstring>
#include <deque>
#include <string>
#include <utility>

#include <doctest/doctest.h>

#include "loop/loop.hpp"
#include "net/stream.hpp"

namespace ec::net::test {

class XorStream final : public Stream, private StreamEvents {
public:
    XorStream(loop::Loop& loop, Stream* inner, unsigned char key)
        : loop_(loop), inner_(inner), key_(key) {
        inner_->set_events(this);
    }

    uint64_t bytes_in = 0;  // transformed bytes delivered to the owner
    uint64_t bytes_out = 0; // transformed bytes handed to the inner stream

    int connect(const sockaddr* addr) override { return inner_->connect(addr); }
    int read_start() override {
        reading_ = true;
        if (!pending_.empty() || end_ != 0)
            post_delivery(); // bytes held from before: not on this stack
        return inner_->read_start();
    }
    void read_stop() override {
        reading_ = false;
        inner_->read_stop();
    }
    // Everything is accepted at once: the transformed copy is ours until the socket takes it.
    int try_write(uv_buf_t* bufs, unsigned n) override {
        Out& o = out_.emplace_back();
        o.bytes = transform(bufs, n);
        int rc = send(o);
        if (rc != 0) return rc;
        return static_cast<int>(n);
    }
    int write(WriteReq& req, const uv_buf_t* bufs, unsigned n) override {
        Out& o = out_.emplace_back();
        o.bytes = transform(bufs, n);
        o.owner = &req;
        return send(o);
    }
    size_t write_queue_size() const override { return held_ + inner_->write_queue_size(); }
    size_t owned_output_bytes() const override { return held_; }
    int shutdown() override { return inner_->shutdown(); }
    void close() override {
        if (closing_) return;
        closing_ = true;
        inner_->close();
    }
    bool peer(sockaddr_storage& out) const override { return inner_->peer(out); }
    bool is_unix() const override { return inner_->is_unix(); }

private:
    struct Out {
        std::string bytes;
        WriteReq inner_req;
        WriteReq* owner = nullptr;
    };

    std::string transform(const uv_buf_t* bufs, unsigned n) {
        std::string s;
        for (unsigned i = 0; i < n; ++i)
            s.append(bufs[i].base, bufs[i].len);
        for (char& c : s)
            c = static_cast<char>(c ^ key_);
        return s;
    }
    int send(Out& o) {
        held_ += o.bytes.size();
        bytes_out += o.bytes.size();
        o.inner_req.data = &o;
        uv_buf_t b = uv_buf_init(o.bytes.data(), static_cast<unsigned>(o.bytes.size()));
        int rc = inner_->write(o.inner_req, &b, 1);
        if (rc != 0) {
            held_ -= o.bytes.size();
            out_.pop_back();
        }
        return rc;
    }

    // Inner stream events.
    uv_buf_t on_alloc(size_t) override { return uv_buf_init(raw_, sizeof raw_); }
    void on_read(ssize_t nread, const uv_buf_t& buf) override {
        if (nread == 0) return;
        if (nread < 0) {
            end_ = static_cast<int>(nread); // after what is still pending
            deliver();
            return;
        }
        for (ssize_t i = 0; i < nread; ++i)
            pending_.push_back(static_cast<char>(buf.base[i] ^ key_));
        deliver();
    }
    void deliver() {
        while (reading_ && !pending_.empty() && events_ && !closing_) {
            uv_buf_t into = events_->on_alloc(pending_.size());
            if (into.len == 0) {
                events_->on_read(UV_ENOBUFS, into); // the rest waits for the next read_start
                return;
            }
            size_t n = std::min<size_t>(into.len, pending_.size());
            std::memcpy(into.base, pending_.data(), n);
            pending_.erase(0, n);
            bytes_in += n;
            events_->on_read(static_cast<ssize_t>(n), into);
        }
        if (reading_ && pending_.empty() && end_ != 0 && events_ && !closing_) {
            uv_buf_t none = uv_buf_init(nullptr, 0);
            events_->on_read(std::exchange(end_, 0), none);
        }
    }
    void post_delivery() {
        if (posted_) return;
        posted_ = true;
        ++keep_; // our memory stays until the posted call ran
        loop_.post([this] {
            posted_ = false;
            deliver();
            release();
        });
    }
    void on_write(WriteReq& req, int status) override {
        // Writes complete in order (cancelled ones too): this is the oldest. Only the front is
        // erased, so the others' requests never move.
        auto* o = static_cast<Out*>(req.data);
        REQUIRE(o == &out_.front());
        held_ -= o->bytes.size();
        WriteReq* owner = o->owner;
        out_.pop_front();
        if (!events_) return;
        if (owner)
            events_->on_write(*owner, status);
        else
            events_->on_output_written();
    }
    void on_connect(int status) override {
        if (events_) events_->on_connect(status);
    }
    void on_shutdown(int status) override {
        if (events_) events_->on_shutdown(status);
    }
    void on_closed() override {
        inner_ = nullptr;
        if (events_) events_->on_closed();
        events_ = nullptr;
        release();
    }
    void release() {
        if (--keep_ == 0) delete this;
    }

    loop::Loop& loop_;
    Stream* inner_;
    unsigned char key_;
    char raw_[4096];
    std::string pending_; // received and transformed, not yet taken by the owner
    std::deque<Out> out_; // transformed output until the inner stream wrote it
    size_t held_ = 0;
    bool reading_ = false;
    bool posted_ = false;
    int end_ = 0;  // UV_EOF or an error from the inner stream, not yet delivered
    int keep_ = 1; // our own reference, dropped once closed
};

} // namespace ec::net::test
