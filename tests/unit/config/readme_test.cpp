// The README's configuration reference is the option table's: fails when they drift apart.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "config/docs.hpp"

TEST_SUITE("config/readme") {

    TEST_CASE("README's reference block equals reference_markdown() (run tools/update-docs)") {
        std::ifstream f(std::string(EC_SOURCE_ROOT) + "/README.md"); // from tests/meson.build
        REQUIRE(f.good());
        std::stringstream ss;
        ss << f.rdbuf();
        std::string text = ss.str();
        const std::string begin = "<!-- config-reference:begin -->\n";
        const std::string end = "<!-- config-reference:end -->";
        size_t b = text.find(begin);
        size_t e = text.find(end);
        REQUIRE(b != std::string::npos);
        REQUIRE(e != std::string::npos);
        std::string block = text.substr(b + begin.size(), e - b - begin.size());
        std::string want = ec::config::reference_markdown();
        while (!want.empty() && want.back() == '\n')
            want.pop_back();
        CHECK(block == want + "\n");
    }

} // TEST_SUITE
