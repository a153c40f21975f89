// WriteBatch: segment bookkeeping for vectored writes.
#include "http/write_batch.hpp"

namespace ec::http {

size_t WriteBatch::total() const {
    size_t n = bytes.size();
    for (const auto& s : segs)
        if (s.ext) n += s.len;
    return n;
}

size_t WriteBatch::owned_bytes() const {
    size_t n = bytes.size();
    for (const auto& o : owned)
        n += o->size();
    return n;
}

void WriteBatch::append(std::string_view s) {
    bytes.append(s);
}

void WriteBatch::close_copy_segment() {
    if (bytes.size() > copy_start_) {
        segs.push_back(Segment{nullptr, copy_start_, bytes.size() - copy_start_});
        copy_start_ = bytes.size();
    }
}

void WriteBatch::append(Body&& body) {
    if (body.empty()) return;
    if (body.must_copy() || body.size() < kCopyLimit) {
        bytes.append(body.view());
        return;
    }
    close_copy_segment();
    std::string_view v = body.view();
    if (auto o = body.take_owned())
        owned.push_back(std::move(o));
    else if (auto sh = body.take_shared())
        shared.push_back(std::move(sh));
    segs.push_back(Segment{v.data(), 0, v.size()});
}

void WriteBatch::build_bufs() {
    close_copy_segment();
    bufs.clear();
    for (const auto& s : segs) {
        const char* p = s.ext ? s.ext : bytes.data() + s.off;
        bufs.push_back(uv_buf_init(const_cast<char*>(p), static_cast<unsigned>(s.len)));
    }
}

void WriteBatch::clear() {
    bytes.clear();
    segs.clear();
    owned.clear();
    shared.clear();
    bufs.clear();
    copy_start_ = 0;
    held = 0;
}

} // namespace ec::http
