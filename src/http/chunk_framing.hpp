// ChunkFraming: the chunked-framing checks llhttp 8.1 (loose mode) leaves out: line ends, folds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <llhttp.h>

namespace ec::http {

// llhttp 8.1 in loose mode takes the byte after a chunk-size line's CR as its LF, and the two
// bytes after a chunk's data as its CRLF, without looking at them: "3\r\nabcXY" passes as a
// chunk "abc". (Its strict mode checks them, but also refuses non-ASCII request targets.) The
// parser's owner reports every buffer it hands llhttp and every body span; this checks those
// bytes in the stream, across buffer boundaries, without copying anything.
class ChunkFraming {
public:
    // A new message starts (the stream position carries on).
    void reset() {
        need_ = 0;
        chunk_start_ = chunked_ = false;
        last_end_ = nullptr;
        bad_ = nullptr;
    }
    // Before llhttp_execute(data, len): `data` continues the stream after the bytes llhttp has
    // consumed so far.
    void buffer(const char* data, size_t len) {
        begin_ = data;
        end_ = data + len;
        if (need_) expect_at(data);
    }
    // After llhttp_execute: it consumed data[0, used).
    void consumed(const char* data, size_t used) {
        if (used) last_ = data[used - 1];
        for (size_t i = used > 4 ? used - 4 : 0; i < used; ++i) {
            std::memmove(tail_, tail_ + 1, 3);
            tail_[3] = data[i];
        }
    }
    // From on_chunk_header: a chunk's data follows the size line llhttp has just consumed.
    void chunk_header() {
        chunk_start_ = true;
        chunked_ = true;
    }
    // After llhttp_execute stopped at the end of a message (consumed() called): a chunked one
    // ends with CRLF CRLF (the last chunk's line or a trailer, then the empty line), which
    // llhttp does not check in "0\rX\r\n". False (see problem()) when it does not.
    bool message_end() {
        if (chunked_ && std::memcmp(tail_, "\r\n\r\n", 4) != 0 && !bad_)
            bad_ = "last chunk or trailer section does not end in CRLF";
        return bad_ == nullptr;
    }
    // From on_body of a chunked message. Returns false (see problem()) on a framing error.
    bool body(const llhttp_t& p, const char* at, size_t len) {
        if (chunk_start_) {
            // The byte before the data is the one llhttp took as the size line's LF.
            chunk_start_ = false;
            char before = at > begin_ ? at[-1] : last_;
            if (before != '\n') bad_ = "chunk size line does not end in CRLF";
        }
        if (p.content_length == 0) { // the chunk's data ends here: "\r\n" must follow
            need_ = 2;
            expect_at(at + len);
        }
        return bad_ == nullptr;
    }
    // From on_chunk_complete: false when the CRLF after the chunk's data was something else.
    bool chunk_complete() const { return bad_ == nullptr; }
    // From on_header_field / on_header_value in the trailer section. llhttp 8.1 takes an
    // obs-fold line as more of the value, handed over as a piece that does not continue the
    // last one; the head's own check (by offsets in the connection's buffer) does not see the
    // trailers, so this refuses it by pointers. False (see problem()) for a fold.
    void trailer_field() { last_end_ = nullptr; }
    bool trailer_value(const char* at, size_t len) {
        // A value split by a read continues at the next buffer's start (the stream goes on
        // there, wherever the connection keeps it).
        bool continues =
            last_end_ == nullptr || at == last_end_ || (at == begin_ && last_end_at_buffer_end_);
        if (!continues && !bad_) bad_ = "obsolete line folding in a trailer field";
        last_end_ = at + len;
        last_end_at_buffer_end_ = last_end_ == end_;
        return bad_ == nullptr;
    }
    const char* problem() const { return bad_; }

private:
    void expect_at(const char* p) {
        for (; need_ && p < end_; ++p, --need_)
            if (*p != "\r\n"[2 - need_] && !bad_) bad_ = "chunk data is not followed by CRLF";
    }

    const char* begin_ = nullptr;
    const char* end_ = nullptr;
    char last_ = 0;        // the last byte llhttp consumed from an earlier buffer
    char tail_[4] = {};    // the last four bytes llhttp consumed
    bool chunked_ = false; // the message has had a chunk header
    int need_ = 0;         // bytes of the CRLF after chunk data not yet seen
    bool chunk_start_ = false;
    const char* last_end_ = nullptr; // just past the trailer value's last piece
    bool last_end_at_buffer_end_ = false;
    const char* bad_ = nullptr;
};

} // namespace ec::http
