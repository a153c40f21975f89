// The fleet's bucket keys and entry payloads: arbitrary key bytes survive, foreign messages
// are recognised as such.
#include <doctest/doctest.h>

#include "fleet/change.hpp"

using namespace ec::fleet;

namespace {
const std::string kId = "0123456789abcdef0123456789abcdef";
}

TEST_SUITE("fleet change") {
    TEST_CASE("tokens carry any bytes in NATS's key alphabet and decode back") {
        std::string all;
        for (int i = 0; i < 256; ++i)
            all.push_back(char(i));
        for (std::string s : {std::string("a"), std::string("ab"), std::string("abc"),
                              std::string("a.b c/d*>"), all, std::string(512, '\xff')}) {
            std::string t = encode_token(s);
            for (char c : t)
                CHECK(((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_'));
            auto back = decode_token(t);
            REQUIRE(back);
            CHECK(*back == s);
        }
        CHECK_FALSE(decode_token("a.b"));
        CHECK_FALSE(decode_token("A"));  // a lone character cannot hold a byte
        CHECK_FALSE(decode_token("AB")); // leftover bits set: not the canonical encoding
    }

    TEST_CASE("an entry round-trips with its metadata and expiration") {
        std::string key = std::string("k\0y.", 4);
        std::string bucket_key = entry_key(kId, key);
        CHECK(bucket_key.starts_with("k." + kId + "."));
        std::string payload = encode_entry(std::string("v\0al", 4), "{\"a\":1}", 1900000000);
        auto c = decode_change(bucket_key, "", "", payload);
        REQUIRE(c);
        CHECK(c->kind == Change::Kind::put_entry);
        CHECK(c->ns_id == kId);
        CHECK(c->key == key);
        CHECK(c->value == std::string("v\0al", 4));
        CHECK(c->metadata == "{\"a\":1}");
        CHECK(c->expiration == 1900000000);

        auto d = decode_change(bucket_key, "DEL", "", "");
        REQUIRE(d);
        CHECK(d->kind == Change::Kind::delete_entry);
        CHECK(d->key == key);
        auto purged = decode_change(bucket_key, "PURGE", "", "");
        REQUIRE(purged);
        CHECK(purged->kind == Change::Kind::delete_entry);
    }

    TEST_CASE("titles name namespaces; a title's DEL drops the namespace its header names") {
        auto n = decode_change(title_key("my/ns"), "", "", kId);
        REQUIRE(n);
        CHECK(n->kind == Change::Kind::name_namespace);
        CHECK(n->title == "my/ns");
        CHECK(n->ns_id == kId);
        auto renamed = decode_change(title_key("old"), "DEL", "", "");
        REQUIRE(renamed);
        CHECK(renamed->kind == Change::Kind::drop_title);
        CHECK(renamed->ns_id.empty());
        auto dropped = decode_change(title_key("old"), "DEL", kId, "");
        REQUIRE(dropped);
        CHECK(dropped->ns_id == kId);
    }

    TEST_CASE("messages that are not ours are refused, not misapplied") {
        CHECK_FALSE(decode_change("x.y", "", "", ""));
        CHECK_FALSE(decode_change("k.nothex.YQ", "", "", encode_entry("v", "", 0)));
        CHECK_FALSE(decode_change(entry_key(kId, "a"), "", "", "short"));
        CHECK_FALSE(decode_change(entry_key(kId, "a"), "WEIRD", "", ""));
        std::string truncated = encode_entry("v", "{\"m\":1}", 0).substr(0, 16);
        CHECK_FALSE(decode_change(entry_key(kId, "a"), "", "", truncated));
        CHECK_FALSE(decode_change(title_key("t"), "", "", "not-an-id"));
    }
}
