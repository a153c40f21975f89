// Tags (Cache-Tag, Surrogate-Key) and Vary parsing with Accept-Encoding classes.
#include <doctest/doctest.h>

#include <vector>

#include "cache/tags.hpp"
#include "cache/vary.hpp"

using namespace ec::cache;
using Tags = std::vector<std::string>;

TEST_SUITE("cache/tags") {

    TEST_CASE("Cache-Tag is comma-separated, Surrogate-Key space-separated; merged, deduped") {
        std::vector<FieldView> f = {{"Cache-Tag", " product-1 , , shoes,product-1"},
                                    {"Surrogate-Key", "  shoes\tsale  summer "},
                                    {"cache-tag", "Shoes"},
                                    {"Content-Type", "a, b"}};
        CHECK(parse_tags(f) == Tags{"product-1", "shoes", "sale", "summer", "Shoes"});
        CHECK(parse_tags(std::vector<FieldView>{}).empty());
        CHECK(is_tag_field("Surrogate-Key"));
        CHECK_FALSE(is_tag_field("Cache-Control"));
    }

    TEST_CASE("limits: too many and too long tags are dropped, never truncated") {
        TagLimits lim;
        lim.max_tags = 3;
        lim.max_tag_bytes = 5;
        TagSet set(lim);
        set.add_cache_tag("a, toolong, b, a, c, d, e");
        CHECK(set.tags() == Tags{"a", "b", "c"});
        CHECK(set.dropped() == 3); // toolong, d, e; the duplicate "a" is not a drop
        TagSet ctl;
        CHECK_FALSE(ctl.add(std::string("a\x01") + "b"));
        CHECK(ctl.add("ok"));
        CHECK(ctl.dropped() == 1);
        TagSet def;
        CHECK(def.add(std::string(1024, 't')));
        CHECK_FALSE(def.add(std::string(1025, 't')));
    }
}

TEST_SUITE("cache/vary") {

    TEST_CASE("field names lower-cased, sorted, deduplicated across lines") {
        std::vector<FieldView> f = {{"Vary", "Accept-Encoding, User-Agent"},
                                    {"vary", "accept-encoding ,Accept-Language,,"}};
        auto v = VaryInfo::from_fields(f);
        CHECK_FALSE(v.star);
        CHECK(v.names == Tags{"accept-encoding", "accept-language", "user-agent"});
    }

    TEST_CASE("* anywhere, or a member that is not a field name, means never reuse") {
        CHECK(VaryInfo::from_fields(std::vector<FieldView>{{"Vary", "Accept, *"}}).star);
        CHECK(
            VaryInfo::from_fields(std::vector<FieldView>{{"Vary", "Accept"}, {"Vary", "*"}}).star);
        CHECK(VaryInfo::from_fields(std::vector<FieldView>{{"Vary", "Accept Language"}}).star);
        CHECK(vary_has_star("*"));
        CHECK(vary_has_star("a b"));
        CHECK_FALSE(vary_has_star("Accept, Cookie"));
        CHECK_FALSE(vary_has_star(""));
    }

    TEST_CASE("Accept-Encoding classes") {
        auto c = [](const char* v) { return std::string(AcceptEncoding::classify(v)); };
        CHECK(c("gzip, deflate, br, zstd") == "br,deflate,gzip,zstd"); // Chrome
        CHECK(c("gzip, deflate, br") == "br,deflate,gzip");            // Safari
        CHECK(c("br;q=1.0, gzip;q=0.8, *;q=0.1") == "br,deflate,gzip,zstd");
        CHECK(c("gzip") == "gzip");
        CHECK(c("x-gzip") == "gzip");
        CHECK(c("GZIP ; q=0.5") == "gzip");
        CHECK(c("gzip;q=0") == "identity");
        CHECK(c("gzip;q=0.000, br") == "br");
        CHECK(c("gzip;q=0.001") == "gzip");
        CHECK(c("gzip;q=bogus") == "gzip"); // malformed q counts as acceptable
        CHECK(c("identity") == "identity");
        CHECK(c("") == "identity");
        CHECK(c("compress, exotic") == "identity");
        CHECK(c("*") == "br,deflate,gzip,zstd");
        CHECK(c("*;q=0, gzip") == "gzip");
        CHECK(c("br;q=0, *") == "deflate,gzip,zstd");
        AcceptEncoding two;
        two.add("gzip");
        two.add("br");
        CHECK(two.class_name() == "br,gzip");
    }

    TEST_CASE("secondary key: name=value lines, absent distinct from empty") {
        VaryInfo v;
        v.add("Accept-Encoding, Accept-Language, X-Empty, X-Absent");
        std::vector<FieldView> req = {{"Accept-Encoding", "gzip, br"},
                                      {"Accept-Language", " en "},
                                      {"accept-language", "fr"},
                                      {"X-Empty", ""}};
        std::string key;
        append_vary_key(key, v, req);
        CHECK(key == "accept-encoding=br,gzip\naccept-language=en,fr\nx-absent\nx-empty=\n");
        std::string none;
        append_vary_key(none, VaryInfo{}, req);
        CHECK(none.empty());
        std::string no_ae;
        VaryInfo ae;
        ae.add("accept-encoding");
        append_vary_key(no_ae, ae, std::vector<FieldView>{});
        CHECK(no_ae == "accept-encoding\n");
    }

    TEST_CASE("Accept, Accept-Charset, Accept-Language: case, whitespace, order and q normalised") {
        CHECK(normalize_list_field("en-US, en;q=0.9") == "en-us,en;q=0.9");
        CHECK(normalize_list_field("EN ; Q=0.90 ,en-us") == "en-us,en;q=0.9");
        CHECK(normalize_list_field("en;q=1.000, fr;q=0") == "en,fr;q=0");
        CHECK(normalize_list_field("text/html, */*;q=0.8, application/xml") ==
              "application/xml,text/html,*/*;q=0.8");
        CHECK(normalize_list_field(" , da ,, ") == "da");
        // Parameters keep their values; a malformed q stays as written and matches only itself.
        CHECK(normalize_list_field("text/plain;Format=Flowed;q=0.5") ==
              "text/plain;format=Flowed;q=0.5");
        CHECK(normalize_list_field("a;q=2, b") == "a;q=2,b");
        CHECK(normalize_list_field("text/x;p=\"a,b\", x/y") == "text/x;p=\"a,b\",x/y");
        CHECK(normalize_list_field("de;q=0.25") == "de;q=0.25");
        CHECK(normalized_list_field("ACCEPT-language") == 2);
        CHECK(normalized_list_field("accept-encoding") == -1);

        VaryInfo v;
        v.add("Accept-Language");
        auto key = [&](std::vector<FieldView> fields) {
            std::string k;
            append_vary_key(k, v, fields);
            return k;
        };
        CHECK(key({{"Accept-Language", "en-US, en;q=0.9, fr;q=0.5"}}) ==
              key({{"accept-language", "en-us,fr;q=0.500"}, {"Accept-Language", "EN;q=0.9"}}));
        CHECK(key({{"Accept-Language", "en, fr"}}) == key({{"Accept-Language", "fr,en"}}));
        CHECK(key({{"Accept-Language", "en, fr;q=0.5"}}) != key({{"Accept-Language", "fr, en"}}));
        CHECK(key({{"Accept-Language", ""}}) != key({}));
    }
}
