// Cache-Control parsing (RFC 9111 §5.2): directives, arguments, quoting, duplicates.
#include <doctest/doctest.h>

#include "cache/cache_control.hpp"
#include "cache/targeted.hpp"

using namespace ec::cache;

TEST_SUITE("cache/cache_control") {

    TEST_CASE("delta-seconds: digits only, clamped to 2^31") {
        CHECK(parse_delta_seconds("0") == 0);
        CHECK(parse_delta_seconds("60") == 60);
        CHECK(parse_delta_seconds("2147483647") == 2147483647);
        CHECK(parse_delta_seconds("2147483648") == kDeltaMax);
        CHECK(parse_delta_seconds("99999999999999999999999999") == kDeltaMax);
        CHECK(parse_delta_seconds("") == -1);
        CHECK(parse_delta_seconds("-1") == -1);
        CHECK(parse_delta_seconds("+1") == -1);
        CHECK(parse_delta_seconds("1.5") == -1);
        CHECK(parse_delta_seconds("1 ") == -1);
        CHECK(parse_delta_seconds("abc") == -1);
    }

    TEST_CASE("every response directive, case-insensitively") {
        auto cc = CacheControl::parse("Public, PRIVATE, no-store, No-Cache, must-revalidate, "
                                      "proxy-revalidate, must-understand, no-transform, "
                                      "immutable, max-age=10, S-MAXAGE=20, "
                                      "stale-while-revalidate=30, stale-if-error=40");
        CHECK(cc.public_);
        CHECK(cc.private_);
        CHECK(cc.private_fields.empty());
        CHECK(cc.no_store);
        CHECK(cc.no_cache);
        CHECK(cc.no_cache_fields.empty());
        CHECK(cc.must_revalidate);
        CHECK(cc.proxy_revalidate);
        CHECK(cc.must_understand);
        CHECK(cc.no_transform);
        CHECK(cc.immutable);
        CHECK(cc.max_age.clean());
        CHECK(cc.max_age.value == 10);
        CHECK(cc.s_maxage.value == 20);
        CHECK(cc.stale_while_revalidate.value == 30);
        CHECK(cc.stale_if_error.value == 40);
        CHECK(cc.any);
    }

    TEST_CASE("request directives") {
        auto cc = CacheControl::parse("max-age=5, max-stale=7, min-fresh=3, only-if-cached, "
                                      "no-cache, no-store");
        CHECK(cc.max_age.value == 5);
        CHECK(cc.max_stale.value == 7);
        CHECK(cc.min_fresh.value == 3);
        CHECK(cc.only_if_cached);
        CHECK(cc.no_cache);
        CHECK(cc.no_store);
        auto bare = CacheControl::parse("max-stale");
        CHECK(bare.max_stale.clean());
        CHECK(bare.max_stale.value == kDeltaMax);
    }

    TEST_CASE("quoted arguments: delta-seconds accepted, commas inside quotes don't split") {
        auto cc = CacheControl::parse("max-age=\"60\", no-cache=\"Set-Cookie, X-Foo\", "
                                      "private=\"Authorization\", public");
        CHECK(cc.max_age.clean());
        CHECK(cc.max_age.value == 60);
        // Qualified: only the named fields are limited (RFC 9111 §5.2.2.4, §5.2.2.7).
        CHECK_FALSE(cc.no_cache);
        CHECK(cc.no_cache_fields == "Set-Cookie, X-Foo");
        CHECK_FALSE(cc.private_);
        CHECK(cc.private_fields == "Authorization");
        CHECK(cc.names_field("set-cookie"));
        CHECK(cc.names_field("AUTHORIZATION"));
        CHECK_FALSE(cc.names_field("x-bar"));
        CHECK(cc.public_);
        // X-Foo must not have become a directive, nor broken the rest.
        auto esc = CacheControl::parse(R"(ext="a \" , no-store", max-age=1)");
        CHECK_FALSE(esc.no_store);
        CHECK(esc.max_age.value == 1);
        auto tok = CacheControl::parse("no-cache=Set-Cookie");
        CHECK(tok.no_cache_fields == "Set-Cookie");
        // An empty list is the unqualified directive, and so is a mix.
        CHECK(CacheControl::parse("private=\"\"").private_);
        auto mixed = CacheControl::parse("no-cache=\"X-A\", no-cache");
        CHECK(mixed.no_cache);
        CHECK(mixed.no_cache_fields == "X-A");
    }

    TEST_CASE("all field lines combine; whitespace and empty elements are tolerated") {
        CacheControl cc;
        cc.add("  public ,, ");
        cc.add(",max-age = 30\t");
        cc.add("");
        CHECK(cc.public_);
        CHECK(cc.max_age.clean());
        CHECK(cc.max_age.value == 30);
    }

    TEST_CASE("invalid, negative, overflowing and duplicate delta-seconds are recorded") {
        auto neg = CacheControl::parse("max-age=-1");
        CHECK(neg.max_age.present);
        CHECK(neg.max_age.invalid);
        CHECK_FALSE(neg.max_age.clean());
        auto junk = CacheControl::parse("max-age=abc, s-maxage=, stale-if-error");
        CHECK(junk.max_age.invalid);
        CHECK(junk.s_maxage.invalid);
        CHECK(junk.stale_if_error.invalid);
        CHECK_FALSE(junk.stale_if_error.valid);
        auto big = CacheControl::parse("max-age=9999999999999");
        CHECK(big.max_age.clean());
        CHECK(big.max_age.value == kDeltaMax);
        auto dup =
            CacheControl::parse("max-age=10, max-age=20, stale-if-error=9, stale-if-error=3");
        CHECK(dup.max_age.conflicting);
        CHECK(dup.max_age.value == 10);
        CHECK(dup.max_age.smallest == 10);
        CHECK(dup.stale_if_error.smallest == 3);
        auto same = CacheControl::parse("max-age=10, max-age=10");
        CHECK(same.max_age.clean());
    }

    TEST_CASE("flag directives with arguments still count; junk elements are skipped") {
        auto cc = CacheControl::parse("no-store=1, @@@, must-revalidate junk, max-age=5");
        CHECK(cc.no_store);
        CHECK(cc.must_revalidate);
        CHECK(cc.max_age.value == 5);
        auto unterminated = CacheControl::parse("private=\"a, b");
        CHECK(unterminated.private_); // an unterminated list: the unqualified reading
        CHECK(unterminated.private_fields.empty());
        auto ext = CacheControl::parse("community=\"UCI\", foo");
        CHECK(ext.any);
        CHECK_FALSE(ext.public_);
    }
}

TEST_SUITE("cache/targeted") {
    TEST_CASE("an RFC 8941 Dictionary of cache directives") {
        auto cc = parse_targeted_cache_control(
            "max-age=60, stale-while-revalidate=5;x=1, must-revalidate, private=\"X-A, X-B\"");
        REQUIRE(cc);
        CHECK(cc->max_age.clean());
        CHECK(cc->max_age.value == 60);
        CHECK(cc->stale_while_revalidate.value == 5);
        CHECK(cc->must_revalidate);
        CHECK_FALSE(cc->private_);
        CHECK(cc->private_fields == "X-A, X-B");
        // Booleans: ?1 is the directive, ?0 leaves it out; a later duplicate wins.
        auto b = parse_targeted_cache_control("no-store=?1, public=?0, max-age=1, max-age=2");
        REQUIRE(b);
        CHECK(b->no_store);
        CHECK_FALSE(b->public_);
        CHECK(b->max_age.clean());
        CHECK(b->max_age.value == 2);
        // Values no directive takes (Decimal, Byte Sequence, Inner List, negative) are invalid
        // for that directive only; the field stands.
        auto odd = parse_targeted_cache_control("max-age=1.5, s-maxage=:AAE=:, x=(a b);q=1, "
                                                "stale-if-error=-3, no-cache=\"\"");
        REQUIRE(odd);
        CHECK(odd->max_age.invalid);
        CHECK(odd->s_maxage.invalid);
        CHECK(odd->stale_if_error.invalid);
        CHECK(odd->no_cache); // an empty list: the unqualified directive
        // A String keeps its escapes' meaning; a Token may hold ':' and '/'.
        auto s = parse_targeted_cache_control(R"(private="a\"b", ext=tok:en/x)");
        REQUIRE(s);
        CHECK(s->private_fields.empty()); // a"b is no field name: the unqualified reading
        CHECK(s->private_);
    }

    TEST_CASE("empty or not a Dictionary: ignored as if absent") {
        for (const char* v : {"", "   ", "max-age=60,", ",max-age=60", "Max-Age=60", "max-age=60;",
                              "max-age=\"60", "max-age=60 60", "max-age=(1", "a=?2", "a=:!:",
                              "a=1234567890123456", "a=1.2345", "a=\"\\x\"", "a=\"\x01\""}) {
            CAPTURE(v);
            CHECK_FALSE(parse_targeted_cache_control(v));
        }
        // ?0 everywhere is still a valid, non-empty field: it governs (and allows nothing).
        auto off = parse_targeted_cache_control("no-store=?0");
        REQUIRE(off);
        CHECK_FALSE(off->no_store);
        CHECK(off->any);
    }
}
