// Via parsing for the loop check (RFC 9110 §7.6.3): which hops a Via field value lists.
#include <doctest/doctest.h>

#include "cache/respond.hpp"

using ec::cache::via_lists;

TEST_CASE("via_lists finds a hop's received-by in any member") {
    CHECK(via_lists("1.1 edge-a", "edge-a"));
    CHECK(via_lists("1.0 fred, 1.1 edge-a", "edge-a"));
    CHECK(via_lists("1.1 edge-a, 1.0 fred", "edge-a"));
    CHECK(via_lists("HTTP/1.1 edge-a", "edge-a"));
    CHECK(via_lists("1.1\tedge-a\t(edgecached)", "edge-a"));
    CHECK(via_lists("1.1 EDGE-A", "edge-a")); // host names are case-insensitive
    CHECK(via_lists(",, 1.1 x ,1.1 edge-a", "edge-a"));
}

TEST_CASE("via_lists ignores protocols, comments and other names") {
    CHECK_FALSE(via_lists("", "edge-a"));
    CHECK_FALSE(via_lists("edge-a", "edge-a")); // a lone token is the protocol, not a hop
    CHECK_FALSE(via_lists("1.1 edge-ab", "edge-a"));
    CHECK_FALSE(via_lists("1.1 x-edge-a", "edge-a"));
    CHECK_FALSE(via_lists("1.1 other (edge-a)", "edge-a"));
    // A comment may hold commas, nested comments and quoted pairs: still one member.
    CHECK_FALSE(via_lists("1.1 other (a, 1.1 edge-a)", "edge-a"));
    CHECK_FALSE(via_lists("1.1 other (a (b, 1.1 edge-a) \\), 1.1 edge-a)", "edge-a"));
    CHECK(via_lists("1.1 other (a (b) c), 1.1 edge-a", "edge-a"));
    CHECK_FALSE(via_lists("1.1 other (unterminated, 1.1 edge-a", "edge-a"));
}
