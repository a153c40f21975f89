// Fuzz driver: bytes → multipart/form-data parsing (multipart_boundary, parse_multipart).
//
// Input: a Content-Type value, a line feed, then the body ("multipart/form-data;
// boundary=XyZ\n--XyZ\r\n..."). Without a line feed the whole input is the body and the
// boundary is "b". The body is parsed from its own heap copy of exactly its size, so reading
// past it is caught. Invariants: nothing crashes; errors are 400 invalid_multipart; an accepted
// boundary is 1-70 characters; an accepted form has 1..kMaxMultipartParts parts, each with a
// name and data that lies inside the body.
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_util.hpp"
#include "kv/multipart.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    size_t nl = in.find('\n');
    std::string boundary = "b";
    std::string_view body_in = in;
    if (nl != std::string_view::npos) {
        std::string_view content_type = in.substr(0, nl);
        body_in = in.substr(nl + 1);
        (void)ec::kv::is_multipart_form(content_type);
        auto b = ec::kv::multipart_boundary(content_type);
        if (!b) {
            FUZZ_CHECK(b.error().http == 400 && b.error().code == "invalid_multipart");
            return 0;
        }
        FUZZ_CHECK(!b->empty() && b->size() <= 70);
        boundary = std::move(*b);
    }
    auto copy = std::make_unique<char[]>(body_in.size() ? body_in.size() : 1);
    std::memcpy(copy.get(), body_in.data(), body_in.size());
    std::string_view body(copy.get(), body_in.size());

    auto parts = ec::kv::parse_multipart(body, boundary);
    if (!parts) {
        FUZZ_CHECK(parts.error().http == 400 && parts.error().code == "invalid_multipart");
        FUZZ_CHECK(!parts.error().message.empty());
        return 0;
    }
    FUZZ_CHECK(parts->size() <= ec::kv::kMaxMultipartParts);
    for (const auto& p : *parts) {
        FUZZ_CHECK(!p.name.empty());
        if (!p.data.empty()) {
            FUZZ_CHECK(p.data.data() >= body.data());
            FUZZ_CHECK(p.data.data() + p.data.size() <= body.data() + body.size());
        }
    }
    return 0;
}
