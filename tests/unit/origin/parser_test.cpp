// origin/parser: ResponseParser framing and strictness, fed whole and split at every byte.
#include <doctest/doctest.h>

#include <string>

#include "origin/response_parser.hpp"

using namespace ec::origin;

namespace {

struct Parsed {
    ResponseParser::Fail fail = ResponseParser::Fail::none;
    bool complete = false;
    bool keep_alive = false;
    bool skipped = false;
    int status = 0;
    std::vector<Header> headers;
    std::vector<InterimHead> interim;
    int interim_after_head = 0; // interim heads that showed up once the final head had
    std::string body;
    std::string transfer_coding;
    size_t leftover = 0;
};

// Feeds `wire` in pieces of `step` bytes (0 = whole); `eof` calls finish() at the end.
Parsed parse(std::string_view wire, bool head = false, size_t step = 0, bool eof = false,
             size_t max_head = 64 * 1024) {
    ResponseParser p(max_head);
    p.reset(head);
    Parsed r;
    size_t off = 0;
    while (off < wire.size() && !p.complete() && p.failed() == ResponseParser::Fail::none) {
        size_t n = step ? std::min(step, wire.size() - off) : wire.size() - off;
        std::string piece(wire.substr(off, n)); // a fresh buffer each time, as reads are
        size_t used = p.feed(piece.data(), piece.size());
        for (auto& h : p.interim()) {
            if (r.status) ++r.interim_after_head;
            r.interim.push_back(std::move(h));
        }
        p.interim().clear();
        if (p.head_ready()) {
            ResponseHead h = p.take_head();
            r.status = h.status;
            r.headers = std::move(h.headers);
            r.transfer_coding = std::move(h.transfer_coding);
        }
        for (auto& s : p.body())
            r.body.append(s.data, s.len);
        p.body().clear();
        if (p.complete()) r.leftover = wire.size() - off - used;
        off += n;
    }
    if (eof) {
        p.finish();
        if (p.head_ready()) r.status = p.take_head().status;
    }
    r.fail = p.failed();
    r.complete = p.complete();
    r.keep_alive = p.complete() && p.keep_alive();
    r.skipped = p.skipped_declared_body();
    return r;
}

using F = ResponseParser::Fail;

} // namespace

TEST_SUITE("origin/parser") {

    TEST_CASE("content-length, chunked and close-delimited bodies, whole and byte by byte") {
        std::string cl = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  v  \r\n\r\nhello";
        std::string ch = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "3;ext=1\r\nhel\r\n2\r\nlo\r\n0\r\nTrailer-X: t\r\n\r\n";
        for (size_t step : {0, 1, 2, 7}) {
            CAPTURE(step);
            Parsed a = parse(cl, false, step);
            CHECK(a.complete);
            CHECK(a.keep_alive);
            CHECK(a.status == 200);
            CHECK(a.body == "hello");
            REQUIRE(a.headers.size() == 2);
            CHECK(a.headers[1].name == "X-A");
            CHECK(a.headers[1].value == "v");
            Parsed b = parse(ch, false, step);
            CHECK(b.complete);
            CHECK(b.keep_alive);
            CHECK(b.body == "hello");
            CHECK(b.headers.size() == 1); // the trailer is not a header
        }
        Parsed c = parse("HTTP/1.1 200 OK\r\n\r\nuntil close", false, 3, true);
        CHECK(c.complete);
        CHECK_FALSE(c.keep_alive);
        CHECK(c.body == "until close");
        for (size_t step : {0, 1, 3}) {
            // Empty values are not folds (llhttp reports them on the next line).
            Parsed e = parse("HTTP/1.1 200 OK\r\nX:\r\nY: \r\nZ:  z\r\nContent-Length: 0\r\n\r\n",
                             false, step);
            CHECK(e.complete);
            REQUIRE(e.headers.size() == 4);
            CHECK(e.headers[0].value.empty());
            CHECK(e.headers[1].value.empty());
            CHECK(e.headers[2].value == "z");
        }
        Parsed d = parse("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi");
        CHECK(d.complete);
        CHECK_FALSE(d.keep_alive); // HTTP/1.0 without keep-alive
    }

    TEST_CASE("interim responses are kept apart from the final head; 101 is refused") {
        const char* wire = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n"
                           "Link: </b>\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"
                           "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
        for (size_t step : {size_t{0}, size_t{1}, size_t{5}}) {
            CAPTURE(step);
            Parsed a = parse(wire, false, step);
            CHECK(a.complete);
            CHECK(a.status == 201);
            CHECK(a.body == "ok");
            REQUIRE(a.headers.size() == 1);
            CHECK(a.headers[0].name == "Content-Length");
            REQUIRE(a.interim.size() == 3);
            CHECK(a.interim[0].status == 100);
            CHECK(a.interim[0].headers.empty());
            CHECK(a.interim[1].status == 103);
            REQUIRE(a.interim[1].headers.size() == 2);
            CHECK(a.interim[1].headers[0].value == "</a>");
            CHECK(a.interim[1].headers[1].value == "</b>");
            CHECK(a.interim[2].status == 102);
            CHECK(a.interim_after_head == 0);
        }
        CHECK(parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n")
                  .fail == F::malformed);
        std::string many;
        for (int i = 0; i < 9; ++i)
            many += "HTTP/1.1 100 Continue\r\n\r\n";
        CHECK(parse(many).fail == F::malformed);
    }

    TEST_CASE("HEAD, 204 and 304 have no body whatever the headers say") {
        Parsed a = parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", true);
        CHECK(a.complete);
        CHECK(a.body.empty());
        CHECK(a.skipped);
        CHECK(a.leftover == 5); // the body a broken origin sent anyway
        Parsed b =
            parse("HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\nETag: \"x\"\r\n\r\n");
        CHECK(b.complete);
        CHECK(b.keep_alive);
        Parsed c = parse("HTTP/1.1 204 No Content\r\n\r\n");
        CHECK(c.complete);
        CHECK_FALSE(c.skipped);
    }

    TEST_CASE("ambiguous and malformed responses are refused") {
        const char* bad[] = {
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc",
            "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n",  // obs-fold
            "HTTP/1.1 200 OK\r\nX:\r\n b\r\nContent-Length: 0\r\n\r\n",    // obs-fold after empty
            "HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n", // space in name
            "HTTP/1.1 200 OK\r\nBad : x\r\nContent-Length: 0\r\n\r\n",     // space before colon
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nzz", // chunked not last
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: g@zip\r\n\r\nzz",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: ,\r\n\r\nzz",
            "HTTP/1.1 200 OK\nContent-Length: 0\n\n", // bare LF
            "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 99 OK\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n",
            "garbage\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        };
        for (std::string w : bad) {
            CAPTURE(w);
            CHECK(parse(w).fail == F::malformed);
            CHECK(parse(w, false, 1).fail == F::malformed);
        }
    }

    TEST_CASE("a final coding other than chunked: read to close, the codings named") {
        // RFC 9112 §6.3: the body runs until the origin closes the connection.
        auto gz = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz", false, 0, true);
        CHECK(gz.fail == F::none);
        CHECK(gz.complete);
        CHECK_FALSE(gz.keep_alive);
        CHECK(gz.body == "zz");
        CHECK(gz.transfer_coding == "gzip");
        auto open = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz");
        CHECK_FALSE(open.complete); // not before the close
        auto id = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nab", false, 1, true);
        CHECK(id.complete);
        CHECK(id.body == "ab");
        CHECK(id.transfer_coding.empty());
        // A final chunked is the framing; what is before it stays on the body.
        auto gc = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                        "2\r\nzz\r\n0\r\n\r\n");
        CHECK(gc.complete);
        CHECK(gc.keep_alive);
        CHECK(gc.body == "zz");
        CHECK(gc.transfer_coding == "gzip");
        auto plain = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n");
        CHECK(plain.complete);
        CHECK(plain.transfer_coding.empty());
        // No body, no coding on it.
        auto head = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", true);
        CHECK(head.complete);
        CHECK(head.transfer_coding.empty());
    }

    TEST_CASE("header and trailer sections over the limit") {
        std::string big = "HTTP/1.1 200 OK\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n";
        CHECK(parse(big, false, 0, false, 1024).fail == F::too_large);
        CHECK(parse(big, false, 100, false, 1024).fail == F::too_large);
        std::string many = "HTTP/1.1 200 OK\r\n";
        for (int i = 0; i < 400; ++i)
            many += "A:\r\n"; // empty headers still count
        CHECK(parse(many + "\r\n", false, 0, false, 1024).fail == F::too_large);
        std::string trailers = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: " +
                               std::string(2000, 't') + "\r\n\r\n";
        CHECK(parse(trailers, false, 0, false, 1024).fail == F::too_large);
    }

    TEST_CASE("EOF: nothing, inside the head, inside the body") {
        CHECK(parse("", false, 0, true).fail == F::closed_early);
        CHECK(parse("HTTP/1.1 200 OK\r\nContent-Le", false, 0, true).fail == F::closed_early);
        CHECK(parse("HTTP/1.1 100 Continue\r\n\r\n", false, 0, true).fail == F::closed_early);
        Parsed a = parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", false, 0, true);
        CHECK(a.fail == F::truncated);
        CHECK(a.body == "short");
        CHECK(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", false, 0, true)
                  .fail == F::truncated);
        CHECK(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n", false, 0,
                    true)
                  .fail == F::truncated); // no last chunk
    }

    TEST_CASE("bytes after a complete response are reported as leftover") {
        Parsed a = parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n");
        CHECK(a.complete);
        CHECK(a.body == "ok");
        CHECK(a.leftover == 17);
    }
}
