// util: JSON escaping, percent-decoding, base64, sizes, HTTP dates.
#include <doctest/doctest.h>

#include <vector>

#include "util/base64.hpp"
#include "util/json_writer.hpp"
#include "util/log.hpp"
#include "util/percent.hpp"
#include "util/time_format.hpp"
#include "util/units.hpp"

using namespace ec;

TEST_SUITE("util") {

    TEST_CASE("JSON strings are escaped and invalid UTF-8 becomes U+FFFD") {
        std::string out;
        json_escape(out, std::string_view("a\"b\\c\n\x01\xc3\xa9\xff", 10));
        CHECK(out == "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\xef\xbf\xbd\"");
        out.clear();
        json_escape(out, "\xed\xa0\x80"); // a UTF-16 surrogate encoded in UTF-8 is not valid
        CHECK(out == "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    }

    TEST_CASE("JsonWriter inserts commas and nests") {
        std::string out;
        JsonWriter w(out);
        w.begin_object().field("a", 1).key("b").begin_array().value(true).null().value("x");
        w.end_array().key("c").raw("{\"d\":2}").field("e", 0.5).end_object();
        CHECK(out == "{\"a\":1,\"b\":[true,null,\"x\"],\"c\":{\"d\":2},\"e\":0.5}");
    }

    TEST_CASE("percent_decode decodes once; '+' only in form encoding") {
        CHECK(*percent_decode("a%2Fb") == "a/b");
        CHECK(*percent_decode("100%2541") == "100%41");
        CHECK(*percent_decode("a+b") == "a+b");
        CHECK(*percent_decode("a+b", true) == "a b");
        CHECK_FALSE(percent_decode("bad%2"));
        CHECK_FALSE(percent_decode("bad%zz"));
        CHECK_FALSE(percent_decode("%"));
    }

    TEST_CASE("query_param finds decoded names and values") {
        CHECK(*query_param("a=1&prefix=x%2By&b", "prefix") == "x+y");
        CHECK(*query_param("prefix=a+b", "prefix") == "a b");
        CHECK_FALSE(query_param("a=1", "prefix"));
        bool bad = false;
        CHECK_FALSE(query_param("k=%zz", "k", true, &bad));
        CHECK(bad);
    }

    TEST_CASE("base64 round-trips and rejects junk") {
        for (std::string s : std::vector<std::string>{"", "h", "hi", "hey", "hello world",
                                                      std::string("\0\xff\x10", 3)}) {
            std::string enc;
            base64_encode(enc, s);
            CHECK(*base64_decode(enc) == s);
        }
        CHECK(*base64_decode("aGk") == "hi"); // unpadded
        CHECK_FALSE(base64_decode("a*b="));
    }

    TEST_CASE("sizes") {
        CHECK(*parse_size("4GiB") == 4ull << 30);
        CHECK(*parse_size("256MiB") == 256ull << 20);
        CHECK(*parse_size("512") == 512);
        CHECK(*parse_size("16k") == 16384);
        // The SI units are decimal, the IEC ones binary (issue 14: "1 GB" was 1 GiB).
        CHECK(*parse_size("1 GB") == 1000000000ull);
        CHECK(*parse_size("1gb") == 1000000000ull);
        CHECK(*parse_size("5MB") == 5000000ull);
        CHECK(*parse_size("64kB") == 64000ull);
        CHECK(*parse_size("2TB") == 2000000000000ull);
        CHECK(*parse_size("1 GiB") == 1ull << 30);
        CHECK(*parse_size("1G") == 1ull << 30);
        CHECK_FALSE(parse_size("1 GBs"));
        CHECK_FALSE(parse_size("lots"));
        CHECK_FALSE(parse_size("-1"));
        CHECK_FALSE(parse_size("99999999999TiB"));
        CHECK(format_size(1ull << 30) == "1GiB");
        CHECK(format_size(1000) == "1000B");
    }

    TEST_CASE("RFC 850 two-digit years: never more than 50 years ahead (RFC 9110 §5.6.7)") {
        CHECK(rfc850_full_year(94, 2026) == 1994);
        CHECK(rfc850_full_year(26, 2026) == 2026);
        CHECK(rfc850_full_year(72, 2026) == 2072);
        CHECK(rfc850_full_year(76, 2026) == 2076); // exactly 50 years ahead
        CHECK(rfc850_full_year(77, 2026) == 1977);
        CHECK(rfc850_full_year(0, 2099) == 2100);
        CHECK(rfc850_full_year(50, 2099) == 2050);
    }

    TEST_CASE("HTTP dates: all three forms parse, IMF-fixdate formats") {
        CHECK(*parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
        CHECK(*parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777);
        CHECK(*parse_http_date("Sun Nov  6 08:49:37 1994") == 784111777);
        CHECK_FALSE(parse_http_date("yesterday"));
        // Case-sensitive zone (RFC 9110 §5.6.7): only "GMT".
        CHECK_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 gmt"));
        CHECK_FALSE(parse_http_date("Sunday, 06-Nov-94 08:49:37 Gmt"));
        CHECK_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"));
        CHECK(*parse_http_date("Sun Nov 16 08:49:37 1994") == 784111777 + 10 * 86400);
        CHECK_FALSE(parse_http_date("0"));
        std::string out;
        append_http_date(out, 784111777);
        CHECK(out == "Sun, 06 Nov 1994 08:49:37 GMT");
        CHECK(iso8601_ms(784111777123) == "1994-11-06T08:49:37.123Z");
    }

    TEST_CASE("log::Throttle: one line per interval, counting the ones held back") {
        log::Throttle t(1000);
        uint64_t held = 99;
        CHECK(t.allow(5, &held)); // the first always goes through
        CHECK(held == 0);
        CHECK_FALSE(t.allow(6, &held));
        CHECK_FALSE(t.allow(1004, &held));
        CHECK(t.allow(1005, &held));
        CHECK(held == 2);
        CHECK(t.allow(5000, &held));
        CHECK(held == 0);
    }

} // TEST_SUITE
