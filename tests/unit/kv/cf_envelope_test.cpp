// Cloudflare envelope codes and Cloudflare-worded expiration checks.
#include <doctest/doctest.h>

#include "kv/cf_envelope.hpp"

using namespace ec;
using namespace ec::kv;

TEST_SUITE("kv/cf_envelope") {

    TEST_CASE("our error codes map to Cloudflare's") {
        auto code = [](const char* c) { return cf_code_for(make_error(400, c, "")); };
        CHECK(code("not_found") == 10009);
        CHECK(code("namespace_not_found") == 10013);
        CHECK(code("namespace_exists") == 10014);
        CHECK(code("bad_namespace_title") == 10019);
        CHECK(code("key_too_long") == 10020);
        CHECK(code("invalid_key") == 10020);
        CHECK(code("invalid_expiration") == 10021);
        CHECK(code("metadata_too_large") == 10022);
        CHECK(code("value_too_large") == 10023);
        CHECK(code("invalid_multipart") == 10012);
        CHECK(code("invalid_bulk") == 10012);
        CHECK(code("bad_cursor") == 10024);
        CHECK(code("storage_error") == 10001);
        CHECK(code("something_new") == 10001);
    }

    TEST_CASE("expirations: Cloudflare's messages, the TTL wins, min_ttl applies") {
        Rules r;
        r.min_ttl = 60;
        using OV = std::optional<std::string_view>;
        CHECK(*cf_resolve_expiration(OV("60"), std::nullopt, 1000, r) == 1060);
        CHECK(*cf_resolve_expiration(OV("120"), OV("5"), 1000, r) == 1120);
        CHECK(*cf_resolve_expiration(std::nullopt, OV("1060"), 1000, r) == 1060);
        CHECK(*cf_resolve_expiration(std::nullopt, std::nullopt, 1000, r) == 0);
        auto e = cf_resolve_expiration(OV("59"), std::nullopt, 1000, r);
        REQUIRE_FALSE(e.is_ok());
        CHECK(e.error().http == 400);
        CHECK(e.error().code == "invalid_expiration");
        CHECK(e.error().message ==
              "Invalid expiration_ttl of 59. Expiration TTL must be at least 60.");
        CHECK(cf_resolve_expiration(OV("nan"), std::nullopt, 1000, r).error().message ==
              "Invalid expiration_ttl of nan. Please specify integer greater than 0.");
        CHECK(cf_resolve_expiration(OV("0"), std::nullopt, 1000, r).error().code ==
              "invalid_expiration");
        CHECK(
            cf_resolve_expiration(OV("99999999999999999999"), std::nullopt, 1000, r).error().code ==
            "invalid_expiration");
        CHECK(cf_resolve_expiration(std::nullopt, OV("1059"), 1000, r).error().message ==
              "Invalid expiration of 1059. Expiration times must be at least 60 seconds in the "
              "future.");
        r.min_ttl = 1;
        CHECK(*cf_resolve_expiration(OV("1"), std::nullopt, 1000, r) == 1001);
    }
}
