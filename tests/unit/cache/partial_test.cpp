// Partial content: part-set arithmetic, the 'P' codec, combining parts, answering from them.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cache/partial.hpp"
#include "util/time_format.hpp"

using namespace ec::cache;

namespace {

using Spans = std::vector<ByteSpan>;

// A one-part set of the 10-byte representation "0123456789" holding [first, last].
std::shared_ptr<const Entry> part_of(uint64_t first, uint64_t last, std::string headers,
                                     std::string_view whole = "0123456789") {
    const ByteSpan span{first, last - first + 1};
    Freshness f;
    f.lifetime = 60;
    return Entry::decode(Entry::encode_partial(f, {}, headers, whole.size(), {&span, 1},
                                               whole.substr(first, span.size)));
}

const std::string kTagA = "ETag: \"a\"\r\n";
const std::string kTagB = "ETag: \"b\"\r\n";

std::shared_ptr<const Entry> merged(const Entry* stored, const Entry& part,
                                    uint64_t max = 1 << 20) {
    auto payload = merge_part(stored, part, max);
    REQUIRE(payload);
    auto e = Entry::decode(*payload);
    REQUIRE(e);
    return e;
}

} // namespace

TEST_SUITE("cache/partial") {

    TEST_CASE("add_span joins overlapping and adjacent spans, keeps gaps") {
        CHECK(add_span({}, {5, 3}) == Spans{{5, 3}});
        CHECK(add_span(Spans{{0, 4}}, {4, 2}) == Spans{{0, 6}});           // adjacent
        CHECK(add_span(Spans{{0, 4}}, {2, 5}) == Spans{{0, 7}});           // overlapping
        CHECK(add_span(Spans{{0, 4}}, {5, 2}) == Spans{{0, 4}, {5, 2}});   // a one-byte gap
        CHECK(add_span(Spans{{0, 2}, {6, 2}}, {2, 4}) == Spans{{0, 8}});   // fills the gap
        CHECK(add_span(Spans{{2, 2}, {8, 2}}, {0, 10}) == Spans{{0, 10}}); // swallows all
        CHECK(add_span(Spans{{4, 2}}, {0, 1}) == Spans{{0, 1}, {4, 2}});   // sorted
        CHECK(add_span(Spans{{4, 2}}, {1, 0}) == Spans{{4, 2}});           // empty: nothing
    }

    TEST_CASE("locate finds bytes held by one span, as offsets into the concatenation") {
        Spans s{{0, 4}, {6, 3}};
        CHECK(locate(s, 0, 3) == 0u);
        CHECK(locate(s, 2, 2) == 2u);
        CHECK(locate(s, 6, 8) == 4u);
        CHECK(locate(s, 7, 8) == 5u);
        CHECK_FALSE(locate(s, 3, 6)); // across the gap
        CHECK_FALSE(locate(s, 4, 5)); // in the gap
        CHECK_FALSE(locate(s, 8, 9)); // past the last span
    }

    TEST_CASE("Content-Range of a single part: a known length only") {
        auto cr = parse_content_range("bytes 2-5/10");
        REQUIRE(cr);
        CHECK(cr->first == 2);
        CHECK(cr->last == 5);
        CHECK(cr->length == 10);
        CHECK(parse_content_range(" Bytes 0-0/1 "));
        for (const char* bad : {"bytes 0-3/*", "bytes */10", "bytes 5-2/10", "bytes 0-10/10",
                                "items 0-1/2", "bytes 0-1", "bytes a-1/2", ""}) {
            CAPTURE(bad);
            CHECK_FALSE(parse_content_range(bad));
        }
    }

    TEST_CASE("the 'P' payload round-trips, and a malformed span list is refused") {
        Spans spans{{0, 2}, {5, 3}};
        std::string payload =
            Entry::encode_partial(Freshness{}, {}, kTagA, 10, spans, std::string_view("01567"));
        auto e = Entry::decode(payload);
        REQUIRE(e);
        CHECK(e->is_partial());
        CHECK(e->status() == 206);
        CHECK(e->complete_length() == 10);
        CHECK(e->spans() == spans);
        CHECK(e->body() == "01567");
        CHECK(e->header("etag") == "\"a\"");
        // Bytes that do not add up, spans out of order, adjacent or past the length.
        CHECK_FALSE(Entry::decode(Entry::encode_partial({}, {}, "", 10, spans, "0156")));
        CHECK_FALSE(Entry::decode(Entry::encode_partial({}, {}, "", 10, Spans{{5, 3}, {0, 2}},
                                                        std::string_view("56701"))));
        CHECK_FALSE(
            Entry::decode(Entry::encode_partial({}, {}, "", 10, Spans{{0, 2}, {2, 2}}, "0123")));
        CHECK_FALSE(Entry::decode(Entry::encode_partial({}, {}, "", 4, Spans{{2, 3}}, "234")));
        CHECK_FALSE(Entry::decode(Entry::encode_partial({}, {}, "", 4, Spans{}, "")));
    }

    TEST_CASE("parts with the same strong ETag combine; bytes land where they belong") {
        auto a = part_of(0, 2, kTagA);
        auto b = part_of(6, 7, kTagA);
        auto ab = merged(a.get(), *b);
        CHECK(ab->is_partial());
        CHECK(ab->spans() == Spans{{0, 3}, {6, 2}});
        CHECK(ab->body() == "01267");
        auto c = part_of(2, 6, kTagA); // overlaps both
        auto abc = merged(ab.get(), *c);
        CHECK(abc->spans() == Spans{{0, 8}});
        CHECK(abc->body() == "01234567");
    }

    TEST_CASE("parts covering the whole representation become the complete 200") {
        auto head = part_of(0, 4, kTagA);
        auto tail = part_of(5, 9, kTagA);
        auto whole = merged(head.get(), *tail);
        CHECK_FALSE(whole->is_partial());
        CHECK(whole->status() == 200);
        CHECK(whole->body() == "0123456789");
        CHECK(whole->header("etag") == "\"a\"");
        // One part holding everything is complete by itself: with no record, over a set of
        // the same representation or of another.
        auto all = part_of(0, 9, kTagA);
        CHECK(merged(nullptr, *all)->status() == 200);
        CHECK(merged(part_of(3, 4, kTagA).get(), *all)->status() == 200);
        CHECK(merged(part_of(3, 4, kTagB).get(), *all)->body() == "0123456789");
    }

    TEST_CASE("a different, weak or missing validator replaces instead of mixing") {
        auto a = part_of(0, 4, kTagA);
        auto other = part_of(5, 9, kTagB, "abcdefghij");
        auto r = merged(a.get(), *other);
        CHECK(r->is_partial());
        CHECK(r->spans() == Spans{{5, 5}});
        CHECK(r->body() == "fghij");
        auto weak = part_of(5, 9, "ETag: W/\"a\"\r\n");
        CHECK(merged(part_of(0, 4, "ETag: W/\"a\"\r\n").get(), *weak)->spans() == Spans{{5, 5}});
        auto none = part_of(5, 9, "");
        CHECK(merged(part_of(0, 4, "").get(), *none)->spans() == Spans{{5, 5}});
        // The same tag but another length is another representation.
        auto longer = part_of(5, 9, kTagA, "0123456789AB");
        CHECK(merged(a.get(), *longer)->complete_length() == 12);
        CHECK(merged(a.get(), *longer)->spans() == Spans{{5, 5}});
    }

    TEST_CASE("a strong Last-Modified identifies the representation when there is no ETag") {
        std::string lm = "Last-Modified: ";
        ec::append_http_date(lm, 1'700'000'000);
        lm += "\r\nDate: ";
        ec::append_http_date(lm, 1'700'000'100);
        lm += "\r\n";
        auto whole = merged(part_of(0, 4, lm).get(), *part_of(5, 9, lm));
        CHECK(whole->status() == 200);
        CHECK(whole->body() == "0123456789");
    }

    TEST_CASE("a set that would outgrow the object bound keeps only the new part") {
        auto r = merged(part_of(0, 3, kTagA).get(), *part_of(6, 9, kTagA), 6);
        CHECK(r->spans() == Spans{{6, 4}});
        CHECK(r->body() == "6789");
    }

    TEST_CASE("a complete response of the same representation is kept; another one replaced") {
        Freshness f;
        auto full = Entry::decode(Entry::encode_response(200, f, {}, kTagA, "0123456789"));
        CHECK_FALSE(merge_part(full.get(), *part_of(2, 4, kTagA), 1 << 20));
        auto r = merged(full.get(), *part_of(2, 4, kTagB));
        CHECK(r->is_partial());
        CHECK(r->spans() == Spans{{2, 3}});
    }

    TEST_CASE("a set answers ranges it holds, 416 past the end, nothing else") {
        auto set = merged(part_of(0, 2, kTagA).get(), *part_of(6, 8, kTagA));
        auto held = answer_from_parts(*set, std::string_view("bytes=6-7"), std::nullopt);
        CHECK(held.range.kind == RangeAnswer::Kind::partial);
        CHECK(held.range.content_range == "bytes 6-7/10");
        CHECK(set->body().substr(held.offset, held.range.size()) == "67");
        auto suffix = answer_from_parts(*set, std::string_view("bytes=-9"), std::nullopt);
        CHECK(suffix.range.kind == RangeAnswer::Kind::full); // 1-9 is not all held
        auto past = answer_from_parts(*set, std::string_view("bytes=10-"), std::nullopt);
        CHECK(past.range.kind == RangeAnswer::Kind::unsatisfiable);
        CHECK(past.range.content_range == "bytes */10");
        CHECK(answer_from_parts(*set, std::string_view("bytes=2-6"), std::nullopt).range.kind ==
              RangeAnswer::Kind::full);
        CHECK(answer_from_parts(*set, std::nullopt, std::nullopt).range.kind ==
              RangeAnswer::Kind::full);
        // If-Range with the set's tag holds; another tag wants the whole: not from parts.
        CHECK(answer_from_parts(*set, std::string_view("bytes=0-1"), std::string_view("\"a\""))
                  .range.kind == RangeAnswer::Kind::partial);
        CHECK(answer_from_parts(*set, std::string_view("bytes=0-1"), std::string_view("\"b\""))
                  .range.kind == RangeAnswer::Kind::full);
    }

    TEST_CASE("forwardable_range: one byte range and no If-Range, in its plain form") {
        using F = std::vector<Field>;
        CHECK(forwardable_range(F{{"Range", " Bytes=0-99"}}) == "bytes=0-99");
        CHECK(forwardable_range(F{{"Range", "bytes=5-"}}) == "bytes=5-");
        CHECK(forwardable_range(F{{"Range", "bytes=-3"}}) == "bytes=-3");
        CHECK_FALSE(forwardable_range(F{{"Range", "bytes=0-1,4-5"}}));
        CHECK_FALSE(forwardable_range(F{{"Range", "items=0-1"}}));
        CHECK_FALSE(forwardable_range(F{{"Range", "bytes=0-1"}, {"If-Range", "\"a\""}}));
        CHECK_FALSE(forwardable_range(F{}));
    }
}
