// Tests for the JSON syntax checker behind config errors: it accepts what JSON allows, and
// finds the first error's line, column and text.
#include <doctest/doctest.h>

#include "config/docs.hpp"
#include "config/json_syntax.hpp"

using namespace ec::config;

TEST_SUITE("config/json_syntax") {
    TEST_CASE("well-formed JSON has no error") {
        for (const char* ok :
             {"{}", "[]", "0", "-0.5e+10", "\"\\u00e9\\n\"", "true", " null ", "[1,[2,{}]]",
              "{\"a\":{\"b\":[false,\"caf\xc3\xa9\",\"\xf0\x9f\x99\x82\"]}}"})
            CHECK_MESSAGE(!find_json_syntax_error(ok), ok);
        CHECK(!find_json_syntax_error(example_config_json()));
        CHECK(!find_json_syntax_error(strip_json_comments(commented_example_config())));
    }

    TEST_CASE("the first error, where it is") {
        auto e = find_json_syntax_error("{\n  \"a\": [1, 2\n}");
        REQUIRE(e);
        CHECK(e->line == 3);
        CHECK(e->column == 1);
        CHECK(e->what == "expected \",\" or \"]\" after an array element");
        CHECK(e->found == "}");
        e = find_json_syntax_error("{\"caf\xc3\xa9\": tru}");
        REQUIRE(e);
        CHECK(e->column == 10); // characters, not bytes
        CHECK(e->what.starts_with("expected a value"));
        CHECK(find_json_syntax_error("{\"a\": 1} x")->what ==
              "unexpected text after the top-level value");
        CHECK(find_json_syntax_error("\"\xed\xa0\x80\"")->what == "invalid UTF-8 in a string");
        CHECK(find_json_syntax_error(std::string(1100, '['))->what ==
              "nested deeper than 1024 levels");
    }

    TEST_CASE("comments are blanked out, strings kept, positions unchanged") {
        CHECK(strip_json_comments("{\"a\": \"//x\"} // c\n/* d\n */") ==
              "{\"a\": \"//x\"}     \n    \n   ");
        CHECK(strip_json_comments("[1 /* open") == "[1 /* open");
    }
}
