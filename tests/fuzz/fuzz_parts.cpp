// Fuzz driver: stored part sets (cache/partial.hpp) — decoding, combining, answering ranges.
//
// Input, first: the whole input as a record payload: Entry::decode must refuse or accept it
// without reading out of bounds, and a part set it accepts answers any Range inside its body.
// Then the input as a script: byte 0 the representation's length (1..64), byte 1 the bound on
// a set's bytes, then three bytes per part (first, last, version). Version 0 or 1 of the
// representation differ in every byte and in their strong ETag (a third, weak-tagged version
// never combines). Each part is merged into the record the previous merges left, and checked:
//   - the result decodes; a part set's spans are sorted, disjoint and within the length;
//   - every byte it holds is the byte of one version at that offset (parts never mix);
//   - a complete 200 holds exactly one version's whole representation;
//   - its bytes stay within the bound unless it is the new part alone.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "cache/partial.hpp"

using namespace ec::cache;

namespace {

char byte_of(int version, uint64_t at) {
    return static_cast<char>((version == 1 ? 'A' : 'a') + at % 26);
}

void check(bool ok) {
    if (!ok) std::abort();
}

void answer_ranges(const Entry& e) {
    for (const char* range : {"bytes=0-", "bytes=-1", "bytes=3-9", "bytes=0-0", "bytes=40-"}) {
        PartAnswer a = answer_from_parts(e, std::string_view(range), std::nullopt);
        if (a.range.kind == RangeAnswer::Kind::partial)
            check(a.offset + a.range.size() <= e.body().size());
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    if (auto e = Entry::decode(std::string(in)); e && e->is_partial()) answer_ranges(*e);

    if (size < 2) return 0;
    const uint64_t length = data[0] % 64 + 1;
    const uint64_t bound = data[1] % 80 + 1;
    std::shared_ptr<const Entry> stored;
    for (size_t i = 2; i + 3 <= size; i += 3) {
        uint64_t first = data[i] % length, last = data[i + 1] % length;
        if (first > last) std::swap(first, last);
        const int version = data[i + 2] % 3;
        std::string body;
        for (uint64_t at = first; at <= last; ++at)
            body.push_back(byte_of(version, at));
        std::string headers = version == 2
                                  ? "ETag: W/\"w\"\r\n"
                                  : std::string("ETag: \"v") + char('0' + version) + "\"\r\n";
        const ByteSpan span{first, body.size()};
        auto part = Entry::decode(Entry::encode_partial({}, {}, headers, length, {&span, 1}, body));
        check(part != nullptr);
        auto payload = merge_part(stored.get(), *part, bound);
        if (!payload) {
            check(stored && !stored->is_partial()); // only a complete response is kept as is
            continue;
        }
        auto merged = Entry::decode(*payload);
        check(merged != nullptr);
        // The version is the new part's: the set holds its bytes, or it replaced the set.
        const int held_version = version;
        if (!merged->is_partial()) {
            check(merged->status() == 200 && merged->body().size() == length);
            for (uint64_t at = 0; at < length; ++at)
                check(merged->body()[at] == byte_of(held_version, at));
        } else {
            uint64_t offset = 0, next = 0;
            for (const ByteSpan& s : merged->spans()) {
                check(s.first >= next && s.end() <= length && s.size > 0);
                for (uint64_t at = s.first; at < s.end(); ++at)
                    check(merged->body()[offset + (at - s.first)] == byte_of(held_version, at));
                offset += s.size;
                next = s.end() + 1;
            }
            check(offset == merged->body().size());
            check(merged->body().size() <= bound || merged->spans().size() == 1);
            answer_ranges(*merged);
        }
        stored = merged;
    }
    return 0;
}
