// Purge messages on the fleet's purge stream: every kind of purge and an invalidation
// round-trip; malformed messages are refused with the reason.
#include <doctest/doctest.h>

#include "cache/purge_message.hpp"

using namespace ec::cache;

TEST_SUITE("cache purge message") {
    TEST_CASE("a purge round-trips with its scope and softness") {
        PurgeMessage m;
        m.node = "edge-a";
        m.request.kind = PurgeRequest::Kind::tags;
        m.request.tags = {"blue", "q\"uote"};
        m.request.soft = true;
        m.request.route = "api";
        auto back = decode_purge_message(encode_purge_message(m));
        REQUIRE(back);
        CHECK(back->node == "edge-a");
        CHECK_FALSE(back->invalidation);
        CHECK(back->request.kind == PurgeRequest::Kind::tags);
        CHECK(back->request.tags == m.request.tags);
        CHECK(back->request.soft);
        CHECK(back->request.route == "api");

        m.request = PurgeRequest{};
        m.request.kind = PurgeRequest::Kind::paths;
        m.request.paths = {"/a?b=1"};
        m.request.namespace_ = "";
        back = decode_purge_message(encode_purge_message(m));
        REQUIRE(back);
        CHECK(back->request.paths == std::vector<std::string>{"/a?b=1"});
    }

    TEST_CASE("an invalidation carries its host and target") {
        PurgeMessage m;
        m.node = "edge-b";
        m.invalidation = true;
        m.host = "example.com";
        m.target = "/x?y";
        auto back = decode_purge_message(encode_purge_message(m));
        REQUIRE(back);
        CHECK(back->invalidation);
        CHECK(back->host == "example.com");
        CHECK(back->target == "/x?y");
    }

    TEST_CASE("malformed messages are refused") {
        for (const char* bad :
             {"", "[]", "{\"kind\":\"all\"}", "{\"node\":\"a\",\"kind\":\"everything\"}",
              "{\"node\":\"a\",\"kind\":\"invalidate\"}"}) {
            auto r = decode_purge_message(bad);
            CHECK_FALSE(r);
            if (!r) CHECK(r.error().code == "bad_purge_message");
        }
    }
}
