// kv rules and bulk parsing: the validation every KV front end shares.
#include <doctest/doctest.h>

#include "kv/bulk.hpp"
#include "kv/rules.hpp"

using namespace ec;
using namespace ec::kv;

namespace {
// simdjson reads past the end: give parse functions padded input, as the connection does.
std::string padded(std::string s) {
    s.reserve(s.size() + 64);
    return s;
}
} // namespace

TEST_SUITE("kv/rules") {

    TEST_CASE("keys") {
        CHECK(check_key("a"));
        CHECK(check_key(std::string(512, 'k')));
        CHECK(check_key(std::string(513, 'k')).error().http == 414);
        CHECK(check_key("").error().code == "invalid_key");
        CHECK(check_key(".").error().http == 400);
        CHECK(check_key("..").error().http == 400);
        CHECK(check_key("...").is_ok());
    }

    TEST_CASE("metadata is minified, bounded and must be JSON") {
        CHECK(*check_metadata("{ \"a\" : [1, 2] }") == "{\"a\":[1,2]}");
        CHECK(check_metadata("{oops").error().code == "invalid_metadata");
        CHECK(check_metadata(std::string(1025, ' ')).error().code == "metadata_too_large");
    }

    TEST_CASE("expirations: TTL wins, min_ttl enforced") {
        Rules r;
        r.min_ttl = 60;
        CHECK(*resolve_expiration(std::optional<std::string_view>("60"), std::nullopt, 1000, r) ==
              1060);
        CHECK(*resolve_expiration(std::optional<std::string_view>("100"),
                                  std::optional<std::string_view>("5000"), 1000, r) == 1100);
        CHECK(*resolve_expiration(std::nullopt, std::optional<std::string_view>("5000"), 1000, r) ==
              5000);
        CHECK(resolve_expiration(std::optional<std::string_view>("59"), std::nullopt, 1000, r)
                  .error()
                  .code == "invalid_expiration");
        CHECK_FALSE(
            resolve_expiration(std::nullopt, std::optional<std::string_view>("1059"), 1000, r));
        CHECK_FALSE(
            resolve_expiration(std::optional<std::string_view>("1e3"), std::nullopt, 1000, r));
        CHECK(*resolve_expiration(std::optional<std::string_view>(), std::nullopt, 1000, r) == 0);
    }

    TEST_CASE("bulk put validates every entry and reports all problems") {
        Rules r;
        std::vector<BulkProblem> problems;
        std::string body = padded(R"([{"key":"a","value":"1","metadata":{"x":1}},
        {"key":"b","value":"aGk=","base64":true,"expiration_ttl":"120"},
        {"key":"","value":"x"}, {"key":"c"}, 7])");
        auto res = parse_bulk_put(body, 1000, r, &problems);
        REQUIRE_FALSE(res);
        CHECK(res.error().code == "invalid_bulk");
        REQUIRE(problems.size() == 3);
        CHECK(problems[0].index == 2);
        CHECK(problems[1].index == 3);
        CHECK(problems[2].index == 4);

        body = padded(R"([{"key":"a","value":"1","metadata":{"x":1}},
        {"key":"b","value":"aGk=","base64":true,"expiration_ttl":"120"}])");
        auto ok = parse_bulk_put(body, 1000, r, &problems);
        REQUIRE(ok);
        CHECK((*ok)[0].metadata == "{\"x\":1}");
        CHECK((*ok)[1].value() == "hi");
        CHECK((*ok)[1].expiration == 1120);

        // Whole numbers written as doubles are integers; out-of-range ones are not (found by
        // fuzz_kv_bulk: casting 3.3e48 to int64 is undefined, caught under UBSan).
        body = padded(R"([{"key":"a","value":"1","expiration_ttl":1.2e2}])");
        ok = parse_bulk_put(body, 1000, r, &problems);
        REQUIRE(ok);
        CHECK((*ok)[0].expiration == 1120);
        for (const char* big : {"3.33333e48", "-1e19", "9.3e18", "1e308"}) {
            body = padded(std::string(R"([{"key":"a","value":"1","expiration":)") + big + "}]");
            problems.clear();
            CHECK_FALSE(parse_bulk_put(body, 1000, r, &problems));
            REQUIRE(problems.size() == 1);
            CHECK(problems[0].error.message.find("integer") != std::string::npos);
        }
    }

    TEST_CASE("bulk write bodies name what is wrong with their shape or size") {
        Rules r;
        std::vector<BulkProblem> problems;
        auto not_json = parse_bulk_put(padded("[{"), 1000, r, &problems);
        REQUIRE_FALSE(not_json);
        CHECK(not_json.error().code == "invalid_json");
        CHECK(not_json.error().message.rfind("request body is not valid JSON: ", 0) == 0);

        auto put_object = parse_bulk_put(padded(R"({"key":"a"})"), 1000, r, &problems);
        REQUIRE_FALSE(put_object);
        CHECK(put_object.error().http == 400);
        CHECK(put_object.error().code == "invalid_bulk");
        CHECK(put_object.error().message == "body must be a JSON array of entries");
        auto del_object = parse_key_list(padded(R"({"keys":["a"]})"), &problems);
        REQUIRE_FALSE(del_object);
        CHECK(del_object.error().code == "invalid_bulk");
        CHECK(del_object.error().message == "body must be a JSON array of key strings");

        std::string entries = "[", keys = "[";
        for (size_t i = 0; i <= kMaxBulkWrite; ++i) {
            entries += std::string(i ? "," : "") + R"({"key":"a","value":"1"})";
            keys += std::string(i ? "," : "") + R"("a")";
        }
        auto put_many = parse_bulk_put(padded(entries + "]"), 1000, r, &problems);
        REQUIRE_FALSE(put_many);
        CHECK(put_many.error().http == 413);
        CHECK(put_many.error().code == "too_many_entries");
        CHECK(put_many.error().message == "at most 10000 entries per bulk write; got 10001");
        auto del_many = parse_key_list(padded(keys + "]"), &problems);
        REQUIRE_FALSE(del_many);
        CHECK(del_many.error().http == 413);
        CHECK(del_many.error().code == "too_many_entries");
        CHECK(del_many.error().message == "at most 10000 keys per bulk delete; got 10001");
    }

    TEST_CASE("bulk get requests") {
        auto req =
            parse_bulk_get(padded(R"({"keys":["a","b","a"],"withMetadata":true,"type":"json"})"));
        REQUIRE(req);
        CHECK(req->keys == std::vector<std::string>{"a", "b"});
        CHECK(req->with_metadata);
        CHECK(req->as_json);
        CHECK_FALSE(parse_bulk_get(padded(R"({"keys":"a"})")));
        CHECK_FALSE(parse_bulk_get(padded(R"({"keys":["a"],"type":"xml"})")));
    }

} // TEST_SUITE
