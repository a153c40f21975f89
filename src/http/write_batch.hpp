// WriteBatch: the bytes of one stream write — heads copied in, bodies referenced — and their
// owners.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <uv.h>

#include "http/body.hpp"
#include "net/stream.hpp"

namespace ec::http {

struct WriteBatch {
    // Bodies at least this large are referenced instead of copied into `bytes`.
    static constexpr size_t kCopyLimit = 4096;

    net::WriteReq req;
    std::string bytes; // heads and small bodies
    struct Segment {
        const char* ext = nullptr; // external bytes, or nullptr: [off, off+len) of `bytes`
        size_t off = 0;
        size_t len = 0;
    };
    std::vector<Segment> segs;
    std::deque<std::unique_ptr<std::string>> owned;
    std::vector<std::shared_ptr<const std::string>> shared;
    std::vector<uv_buf_t> bufs;

    // Memory this batch owns (copies), counted against the server's output budget while it
    // waits in a write request; `shared` bodies are not counted: they belong to the hot tier.
    size_t held = 0;

    bool empty() const { return segs.empty() && bytes.empty(); }
    size_t total() const;
    size_t owned_bytes() const;

    // Appends raw bytes (copied).
    void append(std::string_view s);
    // Appends a body, copying it when small, referencing it (and taking its owner) otherwise.
    void append(Body&& body);
    // Resolves segments into uv_buf_t's; valid until the batch is modified or cleared.
    void build_bufs();
    // Drops everything but keeps capacity, so a pooled batch allocates nothing in steady state.
    void clear();

private:
    void close_copy_segment();
    size_t copy_start_ = 0; // start of the open copy segment in `bytes`
};

} // namespace ec::http
