// Fuzz driver: bytes from an origin → ResponseParser in streaming mode, split at random points.
//
// Input: one mode byte, then the bytes the origin sends. Mode bit 0: the request was HEAD;
// bit 1: a 512-byte head limit (else 64 KiB); the whole byte also seeds the split schedule
// (fuzz_util.hpp). Each piece is fed from its own heap copy, freed right after the parser and
// the body consumer are done with it, as the origin client's read buffer is reused. When a
// response completes with keep-alive, the parser is reset and the rest is parsed as the next
// response on the same connection. At the end of the input the origin "closes" (finish()).
//
// Invariants: nothing crashes; failures carry a kind and a message; body spans lie inside the
// piece just fed; a complete response with Content-Length delivered exactly that many bytes;
// HEAD, 204 and 304 responses deliver none; the final head is HTTP/1.x with a 2xx-5xx status
// (never 101) and never carries two Content-Lengths or Content-Length with Transfer-Encoding;
// the codings it says are left on the body are tokens, never chunked or identity; interim heads
// are 1xx but 101, at most 8 per response, and all come before the final head.
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "fuzz_util.hpp"
#include "origin/response_parser.hpp"
#include "util/strings.hpp"

using ec::origin::InterimHead;
using ec::origin::ResponseHead;
using ec::origin::ResponseParser;

namespace {

struct Response {
    bool have_head = false;
    ResponseHead head;
    uint64_t body_bytes = 0;
    int interim = 0;
};

void check_head(const ResponseHead& h) {
    FUZZ_CHECK(h.status >= 200 && h.status <= 599);
    FUZZ_CHECK(h.version_minor == 0 || h.version_minor == 1);
    int cl = 0, te = 0;
    for (const auto& hd : h.headers) {
        FUZZ_CHECK(ec::is_token(hd.name));
        if (ec::iequals(hd.name, "content-length")) ++cl;
        if (ec::iequals(hd.name, "transfer-encoding")) ++te;
    }
    FUZZ_CHECK(cl <= 1 && te <= 1 && !(cl && te));
    FUZZ_CHECK(!(h.chunked && h.content_length));
    if (h.chunked) FUZZ_CHECK(te == 1);
    // Codings left on the body come from the one Transfer-Encoding, never chunked itself.
    if (!h.transfer_coding.empty()) FUZZ_CHECK(te == 1);
    ec::for_each_list_item(h.transfer_coding, [](std::string_view c) {
        FUZZ_CHECK(ec::is_token(c) && !ec::iequals(c, "chunked") && !ec::iequals(c, "identity"));
    });
    if (h.content_length) FUZZ_CHECK(cl == 1);
}

void check_complete(const ResponseParser& p, const Response& r, bool head_request) {
    FUZZ_CHECK(p.failed() == ResponseParser::Fail::none);
    FUZZ_CHECK(r.have_head);
    const ResponseHead& h = r.head;
    bool bodyless = head_request || h.status == 204 || h.status == 304;
    if (bodyless)
        FUZZ_CHECK(r.body_bytes == 0);
    else if (h.content_length)
        FUZZ_CHECK(r.body_bytes == *h.content_length);
    if (!bodyless && h.content_length && *h.content_length > 0)
        FUZZ_CHECK(!p.skipped_declared_body());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    uint8_t mode = data[0];
    const bool head_request = mode & 1;
    const size_t max_head = (mode & 2) ? 512 : 64 * 1024;
    data += 1;
    size -= 1;

    ResponseParser parser(max_head);
    parser.reset(head_request);
    ec::fuzz::Splitter split(mode, size);
    Response cur;
    bool cur_head_request = head_request;
    size_t off = 0;
    bool stop = false;
    while (off < size && !stop) {
        size_t n = split.next(size - off);
        auto piece = std::make_unique<char[]>(n);
        std::memcpy(piece.get(), data + off, n);
        size_t at = 0;
        // One piece may hold the end of one response and the start of the next.
        while (at < n) {
            size_t used = parser.feed(piece.get() + at, n - at);
            FUZZ_CHECK(used <= n - at);
            for (const InterimHead& h : parser.interim()) {
                FUZZ_CHECK(!cur.have_head);
                FUZZ_CHECK(h.status >= 100 && h.status <= 199 && h.status != 101);
                FUZZ_CHECK(++cur.interim <= 8);
                for (const auto& hd : h.headers)
                    FUZZ_CHECK(ec::is_token(hd.name));
            }
            parser.interim().clear();
            if (parser.head_ready()) {
                FUZZ_CHECK(!cur.have_head);
                cur.head = parser.take_head();
                cur.have_head = true;
                check_head(cur.head);
            }
            for (const auto& s : parser.body()) {
                FUZZ_CHECK(s.len > 0);
                FUZZ_CHECK(s.data >= piece.get() + at && s.data + s.len <= piece.get() + at + used);
                FUZZ_CHECK(cur.have_head);
                cur.body_bytes += s.len;
            }
            parser.body().clear();
            if (parser.failed() == ResponseParser::Fail::none && !parser.complete())
                FUZZ_CHECK(used == n - at); // neither complete nor failed: all consumed
            at += used;
            if (parser.failed() != ResponseParser::Fail::none) {
                FUZZ_CHECK(!parser.message().empty());
                FUZZ_CHECK(!parser.complete());
                stop = true;
                break;
            }
            if (parser.complete()) {
                check_complete(parser, cur, cur_head_request);
                if (!parser.keep_alive()) {
                    stop = true; // the client closes the connection; the rest is ignored
                    break;
                }
                // Keep-alive: the next response on this connection (its request is a GET).
                parser.reset(false);
                cur_head_request = false;
                cur = Response{};
                continue;
            }
        }
        off += n;
    }
    if (!stop) {
        // The origin closed the connection.
        bool had_bytes = parser.bytes_seen();
        parser.finish();
        if (parser.head_ready()) {
            cur.head = parser.take_head();
            cur.have_head = true;
            check_head(cur.head);
        }
        // finish() may complete a close-delimited body; it delivers no new body bytes.
        FUZZ_CHECK(parser.body().empty());
        if (parser.complete()) {
            check_complete(parser, cur, cur_head_request);
        } else {
            FUZZ_CHECK(parser.failed() != ResponseParser::Fail::none);
            FUZZ_CHECK(!parser.message().empty());
            if (!had_bytes) FUZZ_CHECK(parser.failed() == ResponseParser::Fail::closed_early);
            if (parser.failed() == ResponseParser::Fail::truncated) FUZZ_CHECK(cur.have_head);
        }
    }
    return 0;
}
