// config/access_format: access_log_format templates.
#include <doctest/doctest.h>

#include "config/access_format.hpp"

using namespace ec::config;

TEST_SUITE("config") {
    TEST_CASE("access log templates compile to literals and fields") {
        std::string error;
        auto f = compile_access_format("[$time] ${status}x $$ $cache", &error);
        REQUIRE(f);
        CHECK_FALSE(f->json);
        REQUIRE(f->segments.size() == 3);
        CHECK(f->segments[0].literal == "[");
        CHECK(f->segments[0].field == LogField::time);
        CHECK(f->segments[1].literal == "] ");
        CHECK(f->segments[1].field == LogField::status);
        CHECK(f->segments[2].literal == "x $ ");
        CHECK(f->segments[2].field == LogField::cache);
        CHECK(compile_access_format("json", &error)->json);
        auto d = compile_access_format("default", &error);
        REQUIRE(d);
        CHECK(d->segments.size() == 7);
    }

    TEST_CASE("unknown fields and unclosed braces are refused") {
        std::string error;
        CHECK_FALSE(compile_access_format("$time $nope", &error));
        CHECK(error.find("unknown field \"$nope\"") != std::string::npos);
        CHECK(error.find("$upstream_ms") != std::string::npos);
        CHECK_FALSE(compile_access_format("${time", &error));
        CHECK(error.find("no closing") != std::string::npos);
    }
}
