// Vary parsing and Accept-Encoding classes: see vary.hpp.
#include "cache/vary.hpp"

#include <algorithm>
#include <array>

namespace ec::cache {

void VaryInfo::add(std::string_view line) {
    for_each_list_item(line, [&](std::string_view item) {
        if (item == "*" || !is_token(item)) {
            star = true;
            if (item != "*") return;
        }
        std::string n = to_lower(item);
        auto it = std::lower_bound(names.begin(), names.end(), n);
        if (it == names.end() || *it != n) names.insert(it, std::move(n));
    });
}

bool vary_has_star(std::string_view line) {
    bool star = false;
    for_each_list_item(
        line, [&](std::string_view item) { star = star || item == "*" || !is_token(item); });
    return star;
}

namespace {

constexpr uint8_t kBr = 1, kDeflate = 2, kGzip = 4, kZstd = 8;

constexpr std::array<std::string_view, 16> kClassNames = {
    "identity",  "br",           "deflate",           "br,deflate",
    "gzip",      "br,gzip",      "deflate,gzip",      "br,deflate,gzip",
    "zstd",      "br,zstd",      "deflate,zstd",      "br,deflate,zstd",
    "gzip,zstd", "br,gzip,zstd", "deflate,gzip,zstd", "br,deflate,gzip,zstd",
};

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ). Only an exact zero means
// "not acceptable"; anything else, malformed included, counts as acceptable.
bool q_is_zero(std::string_view q) {
    if (q.empty() || q[0] != '0') return false;
    if (q.size() == 1) return true;
    if (q[1] != '.' || q.size() > 5) return false;
    for (char c : q.substr(2))
        if (c != '0') return false;
    return true;
}

} // namespace

void AcceptEncoding::add(std::string_view line) {
    for_each_list_item(line, [&](std::string_view item) {
        std::string_view coding = trim_ows(item.substr(0, item.find(';')));
        bool zero = false;
        size_t semi = item.find(';');
        while (semi != std::string_view::npos) {
            std::string_view rest = item.substr(semi + 1);
            size_t next = rest.find(';');
            std::string_view param = trim_ows(rest.substr(0, next));
            if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=')
                zero = q_is_zero(trim_ows(param.substr(2)));
            semi = next == std::string_view::npos ? next : semi + 1 + next;
        }
        uint8_t bit = 0;
        if (iequals(coding, "br"))
            bit = kBr;
        else if (iequals(coding, "gzip") || iequals(coding, "x-gzip"))
            bit = kGzip;
        else if (iequals(coding, "deflate"))
            bit = kDeflate;
        else if (iequals(coding, "zstd"))
            bit = kZstd;
        else if (coding == "*") {
            star_ = !zero;
            return;
        }
        if (!bit) return;
        listed_ |= bit;
        if (zero)
            accepted_ &= static_cast<uint8_t>(~bit);
        else
            accepted_ |= bit;
    });
}

uint8_t AcceptEncoding::bits() const {
    uint8_t b = accepted_;
    if (star_) b |= static_cast<uint8_t>(~listed_ & 0x0f);
    return b;
}

std::string_view AcceptEncoding::class_name() const {
    return kClassNames[bits()];
}

} // namespace ec::cache
