// Range on a stored full response (RFC 9110 §14): single ranges, 416, If-Range, policies.
#include <doctest/doctest.h>

#include <vector>

#include "cache/range.hpp"
#include "util/time_format.hpp"

using namespace ec::cache;
using Kind = RangeAnswer::Kind;

namespace {

constexpr int64_t kRangeNow = 1'700'000'000;

std::string http_date(int64_t t) {
    std::string s;
    ec::append_http_date(s, t);
    return s;
}

RangeAnswer rng(const char* range, uint64_t len = 10000, Validators v = {}) {
    return evaluate_range(std::optional<std::string_view>(range), std::nullopt, len, v);
}

} // namespace

TEST_SUITE("cache/range") {

    TEST_CASE("the RFC 9110 §14.1.2 examples on a 10000-byte representation") {
        auto a = rng("bytes=0-499");
        CHECK(a.kind == Kind::partial);
        CHECK(a.first == 0);
        CHECK(a.last == 499);
        CHECK(a.size() == 500);
        CHECK(a.content_range == "bytes 0-499/10000");
        CHECK(rng("bytes=500-999").content_range == "bytes 500-999/10000");
        CHECK(rng("bytes=-500").content_range == "bytes 9500-9999/10000");
        CHECK(rng("bytes=9500-").content_range == "bytes 9500-9999/10000");
        CHECK(rng("bytes=0-0").content_range == "bytes 0-0/10000");
        CHECK(rng("bytes=-1").content_range == "bytes 9999-9999/10000");
    }

    TEST_CASE("clamping, case, whitespace") {
        CHECK(rng("bytes=9000-20000").content_range == "bytes 9000-9999/10000");
        CHECK(rng("bytes=-20000").content_range == "bytes 0-9999/10000");
        CHECK(rng("Bytes=1-2").kind == Kind::partial);
        CHECK(rng(" bytes=1-2 ").kind == Kind::partial);
        CHECK(rng("bytes=1-2,").kind == Kind::partial); // empty list elements don't count
    }

    TEST_CASE("unsatisfiable → 416 with bytes */length") {
        auto a = rng("bytes=10000-");
        CHECK(a.kind == Kind::unsatisfiable);
        CHECK(a.content_range == "bytes */10000");
        CHECK(rng("bytes=20000-30000").kind == Kind::unsatisfiable);
        CHECK(rng("bytes=-0").kind == Kind::unsatisfiable);
        CHECK(rng("bytes=0-", 0).content_range == "bytes */0");
        CHECK(rng("bytes=-5", 0).kind == Kind::unsatisfiable);
    }

    TEST_CASE("ignored (200 full): absent, other units, malformed, multiple ranges") {
        CHECK(evaluate_range(std::nullopt, std::nullopt, 10, {}).kind == Kind::full);
        for (const char* r :
             {"items=0-5", "bytes", "bytes=", "bytes=5-1", "bytes=a-b", "bytes=-", "bytes=1",
              "bytes=--5", "bytes=0-1, 5-6", "bytes=0-1,-1", "bytes=99999999999999999999999-"}) {
            CAPTURE(r);
            auto a = rng(r);
            CHECK(a.kind == Kind::full);
            CHECK(a.content_range.empty());
        }
    }

    TEST_CASE("If-Range with an entity-tag: strong comparison only") {
        Validators v;
        v.etag = "\"v1\"";
        auto with = [&](const char* ir) {
            return evaluate_range(std::optional<std::string_view>("bytes=0-9"),
                                  std::optional<std::string_view>(ir), 100, v);
        };
        CHECK(with("\"v1\"").kind == Kind::partial);
        CHECK(with("\"v2\"").kind == Kind::full);
        CHECK(with("W/\"v1\"").kind == Kind::full);
        v.etag = "W/\"v1\"";
        CHECK(with("\"v1\"").kind == Kind::full);
        // If-Range false also skips the 416: the full response is the answer.
        v.etag = "\"v1\"";
        CHECK(evaluate_range(std::optional<std::string_view>("bytes=500-"),
                             std::optional<std::string_view>("\"v0\""), 100, v)
                  .kind == Kind::full);
    }

    TEST_CASE("If-Range with a date: exact Last-Modified match, and it must be strong") {
        Validators v;
        v.last_modified = kRangeNow - 60;
        v.date = kRangeNow;
        std::string lm = http_date(kRangeNow - 60);
        auto with = [&](const std::string& ir) {
            return evaluate_range(std::optional<std::string_view>("bytes=0-9"),
                                  std::optional<std::string_view>(ir), 100, v);
        };
        CHECK(with(lm).kind == Kind::partial);
        CHECK(with(http_date(kRangeNow - 59)).kind == Kind::full);
        CHECK(with("garbage").kind == Kind::full);
        v.date = kRangeNow - 60; // Date == Last-Modified: weak
        CHECK(with(lm).kind == Kind::full);
        v.date.reset();
        CHECK(with(lm).kind == Kind::full);
    }

    TEST_CASE("from request fields") {
        std::vector<FieldView> req = {{"Range", "bytes=2-3"}, {"If-Range", "\"e\""}};
        Validators v;
        v.etag = "\"e\"";
        auto a = evaluate_range(req, 10, v);
        CHECK(a.kind == Kind::partial);
        CHECK(a.content_range == "bytes 2-3/10");
    }
}
