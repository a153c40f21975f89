// Conditional requests: entity-tag comparison, the client precondition matrix, revalidation
// fields, and the 304 header merge (RFC 9110 §8.8, §13; RFC 9111 §4.3).
#include <doctest/doctest.h>

#include <vector>

#include "cache/conditional.hpp"
#include "cache/freshness.hpp"
#include "tests/unit/cache/http_date.hpp"

using namespace ec::cache;
using namespace ec::cache::test;

namespace {

Precondition pre(std::vector<FieldView> req, const Validators& v) {
    return evaluate_preconditions(req, v);
}

} // namespace

TEST_SUITE("cache/conditional") {

    TEST_CASE("entity-tag comparison (RFC 9110 §8.8.3.2 table)") {
        auto t = [](const char* s) { return *parse_entity_tag(s); };
        // W/"1" vs W/"1": no strong, weak match.
        CHECK_FALSE(strong_match(t("W/\"1\""), t("W/\"1\"")));
        CHECK(weak_match(t("W/\"1\""), t("W/\"1\"")));
        // W/"1" vs W/"2": neither.
        CHECK_FALSE(weak_match(t("W/\"1\""), t("W/\"2\"")));
        // W/"1" vs "1": no strong, weak match.
        CHECK_FALSE(strong_match(t("W/\"1\""), t("\"1\"")));
        CHECK(weak_match(t("W/\"1\""), t("\"1\"")));
        // "1" vs "1": both.
        CHECK(strong_match(t("\"1\""), t("\"1\"")));
        CHECK(weak_match(t("\"1\""), t("\"1\"")));
        CHECK_FALSE(parse_entity_tag("  ").has_value());
        CHECK(parse_entity_tag(" \"a\" ")->opaque == "\"a\"");
    }

    TEST_CASE("entity-tag lists: commas inside quotes, *, junk, unquoted tags") {
        auto cur = *parse_entity_tag("\"a,b\"");
        CHECK(etag_list_matches("\"x\", \"a,b\"", cur, true));
        CHECK_FALSE(etag_list_matches("\"a\", \"b\"", cur, true));
        CHECK(etag_list_matches("*", cur, true));
        CHECK(etag_list_matches(" ,, W/\"a,b\" ,", cur, true));
        CHECK_FALSE(etag_list_matches("W/\"a,b\"", cur, false));
        auto bare = *parse_entity_tag("abc123");
        CHECK(etag_list_matches("xyz, abc123", bare, true));
        CHECK_FALSE(etag_list_matches("\"unterminated", cur, true));
    }

    TEST_CASE("If-None-Match: weak comparison over every line; beats If-Modified-Since") {
        Validators v;
        v.etag = "\"v2\"";
        v.last_modified = T - 100;
        CHECK(pre({{"If-None-Match", "\"v2\""}}, v) == Precondition::not_modified);
        CHECK(pre({{"If-None-Match", "W/\"v2\""}}, v) == Precondition::not_modified);
        CHECK(pre({{"If-None-Match", "\"v1\", \"v2\""}}, v) == Precondition::not_modified);
        CHECK(pre({{"If-None-Match", "\"v1\""}, {"if-none-match", "\"v2\""}}, v) ==
              Precondition::not_modified);
        CHECK(pre({{"If-None-Match", "*"}}, v) == Precondition::not_modified);
        CHECK(pre({{"If-None-Match", "\"v1\""}}, v) == Precondition::false_);
        // If-Modified-Since would say 304, but If-None-Match is present and false.
        CHECK(pre({{"If-None-Match", "\"v1\""}, {"If-Modified-Since", date(T)}}, v) ==
              Precondition::false_);
        // * also matches a stored response without an ETag.
        Validators none;
        CHECK(pre({{"If-None-Match", "*"}}, none) == Precondition::not_modified);
        CHECK(pre({{"If-None-Match", "\"x\""}}, none) == Precondition::false_);
    }

    TEST_CASE("If-Modified-Since: Last-Modified, else Date, else the response time") {
        Validators v;
        v.last_modified = T - 100;
        v.date = T;
        v.response_time = T + 5;
        CHECK(pre({{"If-Modified-Since", date(T - 100)}}, v) == Precondition::not_modified);
        CHECK(pre({{"If-Modified-Since", date(T - 50)}}, v) == Precondition::not_modified);
        CHECK(pre({{"If-Modified-Since", date(T - 101)}}, v) == Precondition::false_);
        CHECK(pre({{"If-Modified-Since", "not a date"}}, v) == Precondition::none);
        v.last_modified.reset();
        CHECK(pre({{"If-Modified-Since", date(T - 1)}}, v) == Precondition::false_);
        CHECK(pre({{"If-Modified-Since", date(T)}}, v) == Precondition::not_modified);
        v.date.reset();
        CHECK(pre({{"If-Modified-Since", date(T)}}, v) == Precondition::false_);
        CHECK(pre({{"If-Modified-Since", date(T + 5)}}, v) == Precondition::not_modified);
        // The three date formats a recipient must accept.
        Validators w;
        w.last_modified = 784111777; // Sun, 06 Nov 1994 08:49:37 GMT
        CHECK(pre({{"If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT"}}, w) ==
              Precondition::not_modified);
        CHECK(pre({{"If-Modified-Since", "Sunday, 06-Nov-94 08:49:37 GMT"}}, w) ==
              Precondition::not_modified);
        CHECK(pre({{"If-Modified-Since", "Sun Nov  6 08:49:37 1994"}}, w) ==
              Precondition::not_modified);
    }

    TEST_CASE("If-Match / If-Unmodified-Since are for the origin; no conditionals → none") {
        Validators v;
        v.etag = "\"a\"";
        CHECK(pre({{"If-Match", "\"a\""}}, v) == Precondition::forward);
        CHECK(pre({{"If-Unmodified-Since", date(T)}, {"If-None-Match", "\"a\""}}, v) ==
              Precondition::forward);
        CHECK(pre({{"Accept", "*/*"}}, v) == Precondition::none);
    }

    TEST_CASE("validators from stored fields; strong Last-Modified needs Date ≥ LM + 1") {
        // FieldViews borrow: keep the dates alive.
        const std::string lm = date(T - 10), d = date(T);
        std::vector<FieldView> stored = {{"ETag", " \"e\" "}, {"Last-Modified", lm}, {"Date", d}};
        auto v = Validators::from_fields(stored, T + 1);
        CHECK(v.etag == "\"e\"");
        CHECK(v.last_modified == T - 10);
        CHECK(v.date == T);
        CHECK(v.response_time == T + 1);
        CHECK(v.last_modified_is_strong());
        v.date = T - 10;
        CHECK_FALSE(v.last_modified_is_strong());
    }

    TEST_CASE("revalidation fields: If-None-Match from ETag, If-Modified-Since from LM") {
        const std::string lm = date(T);
        std::vector<FieldView> both = {{"ETag", "W/\"e\""}, {"Last-Modified", lm}};
        auto r = revalidation_fields(both);
        CHECK(r.if_none_match == "W/\"e\"");
        CHECK(r.if_modified_since == date(T));
        std::vector<FieldView> none = {{"Content-Type", "text/plain"}};
        auto n = revalidation_fields(none);
        CHECK(n.if_none_match.empty());
        CHECK(n.if_modified_since.empty());
    }

    TEST_CASE("fields a 304 carries") {
        for (const char* n : {"Cache-Control", "content-location", "Date", "ETag", "Expires",
                              "Vary", "Last-Modified"})
            CHECK(keep_in_304(n));
        for (const char* n : {"Content-Type", "Content-Length", "Set-Cookie", "Cache-Tag"})
            CHECK_FALSE(keep_in_304(n));
    }

    TEST_CASE("freshening applies only to the matching stored response (§4.3.4)") {
        Validators stored;
        stored.etag = "\"v1\"";
        stored.last_modified = T - 10;
        Validators nm;
        nm.etag = "\"v1\"";
        CHECK(freshening_applies(stored, nm));
        nm.etag = "\"v2\"";
        CHECK_FALSE(freshening_applies(stored, nm));
        nm.etag = "W/\"v1\"";
        CHECK(freshening_applies(stored, nm)); // weak: weak comparison
        nm.etag = {};
        nm.last_modified = T - 10;
        CHECK(freshening_applies(stored, nm));
        nm.last_modified = T - 5;
        CHECK_FALSE(freshening_applies(stored, nm));
        CHECK(freshening_applies(stored, Validators{}));
    }

    TEST_CASE("304 merge: replace what the 304 carries, keep the rest, never Content-Length") {
        FieldList stored = {{"Content-Type", "text/html"},
                            {"Cache-Control", "max-age=60"},
                            {"Content-Length", "1234"},
                            {"Set-Cookie", "keep=1"},
                            {"ETag", "\"v1\""},
                            {"X-Multi", "a"},
                            {"x-multi", "b"},
                            {"Date", date(T - 100)}};
        FieldList nm = {{"Date", date(T)},       {"cache-control", "max-age=600"},
                        {"Content-Length", "0"}, {"Connection", "close, X-Hop"},
                        {"X-Hop", "1"},          {"Transfer-Encoding", "chunked"},
                        {"X-Multi", "c"},        {"ETag", "\"v1\""},
                        {"X-New", "n"}};
        FieldList want = {{"Content-Type", "text/html"},
                          {"cache-control", "max-age=600"},
                          {"Content-Length", "1234"},
                          {"Set-Cookie", "keep=1"},
                          {"ETag", "\"v1\""},
                          {"X-Multi", "c"},
                          {"Date", date(T)},
                          {"X-New", "n"}};
        CHECK(merge_304(stored, nm) == want);
        std::vector<FieldView> views = {{"Date", "x"}};
        auto merged = merge_304(FieldList{{"Date", "old"}}, views);
        REQUIRE(merged.size() == 1);
        CHECK(merged[0].value == "x");
    }

    TEST_CASE("after a 304: merged headers re-evaluated with the new times") {
        FieldList stored = {{"Date", date(T)}, {"Cache-Control", "max-age=60"}, {"ETag", "\"v1\""}};
        auto f0 = evaluate({}, ResponseInfo::from_fields(200, stored), {}, T, T);
        CHECK(state_at(f0, T + 100) == State::expired);
        FieldList nm = {
            {"Date", date(T + 100)}, {"Cache-Control", "max-age=120"}, {"ETag", "\"v1\""}};
        REQUIRE(freshening_applies(Validators::from_fields(stored, T),
                                   Validators::from_fields(nm, T + 101)));
        auto merged = merge_304(stored, nm);
        auto f1 = evaluate({}, ResponseInfo::from_fields(200, merged), {}, T + 100, T + 101);
        CHECK(f1.lifetime == 120);
        CHECK(current_age(f1, T + 101) == 1);
        CHECK(state_at(f1, T + 150) == State::fresh);
    }

    TEST_CASE("storable fields drop hop-by-hop, proxy auth and Connection-listed fields") {
        std::vector<FieldView> in = {{"Content-Type", "a"},       {"Connection", "X-Secret"},
                                     {"X-Secret", "s"},           {"Keep-Alive", "5"},
                                     {"Proxy-Authenticate", "x"}, {"TE", "trailers"},
                                     {"Upgrade", "h2c"},          {"ETag", "\"e\""}};
        FieldList want = {{"Content-Type", "a"}, {"ETag", "\"e\""}};
        CHECK(storable_fields(in) == want);
        CHECK(is_hop_by_hop("Transfer-Encoding"));
        CHECK_FALSE(is_hop_by_hop("Trailer-X"));
    }
}
