// Vary parsing and Accept-Encoding classes: see vary.hpp.
#include "cache/vary.hpp"

#include <algorithm>
#include <array>
#include <vector>

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

int normalized_list_field(std::string_view name) {
    for (size_t i = 0; i < kNormalizedListFields.size(); ++i)
        if (iequals(name, kNormalizedListFields[i])) return static_cast<int>(i);
    return -1;
}

namespace {

// Splits `s` on `sep` outside quoted strings, calling fn(piece) for each piece (untrimmed).
template <class Fn> void split_unquoted(std::string_view s, char sep, Fn&& fn) {
    bool quoted = false;
    size_t start = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (quoted && c == '\\') {
            ++i;
        } else if (c == '"') {
            quoted = !quoted;
        } else if (!quoted && c == sep) {
            fn(s.substr(start, i - start));
            start = i + 1;
        }
    }
    fn(s.substr(start));
}

// A qvalue (RFC 9110 §12.4.2) in thousandths, or -1 when malformed.
int parse_qvalue(std::string_view q) {
    if (q.empty() || (q[0] != '0' && q[0] != '1')) return -1;
    int whole = q[0] - '0';
    if (q.size() == 1) return whole * 1000;
    if (q[1] != '.' || q.size() > 5) return -1;
    int frac = 0, scale = 100;
    for (char c : q.substr(2)) {
        if (c < '0' || c > '9') return -1;
        frac += (c - '0') * scale;
        scale /= 10;
    }
    int v = whole * 1000 + frac;
    return v > 1000 ? -1 : v;
}

// "0.9" for 900, "0.25" for 250, "0" for 0.
std::string qvalue_text(int thousandths) {
    std::string t = "0." + std::to_string(1000 + thousandths).substr(1);
    while (t.back() == '0')
        t.pop_back();
    if (t.back() == '.') t.pop_back();
    return t;
}

struct WeightedMember {
    int q = 1000;
    std::string text;
};

} // namespace

std::string normalize_list_field(std::string_view value) {
    std::vector<WeightedMember> members;
    split_unquoted(value, ',', [&](std::string_view item) {
        item = trim_ows(item);
        if (item.empty()) return;
        WeightedMember m;
        std::string q_param;
        bool first = true;
        split_unquoted(item, ';', [&](std::string_view part) {
            part = trim_ows(part);
            if (first) {
                m.text = to_lower(part);
                first = false;
                return;
            }
            if (part.empty()) return;
            size_t eq = part.find('=');
            std::string name = to_lower(trim_ows(part.substr(0, eq)));
            std::string_view arg =
                eq == std::string_view::npos ? std::string_view() : trim_ows(part.substr(eq + 1));
            if (name == "q") {
                int q = parse_qvalue(arg);
                if (q >= 0) {
                    m.q = q;
                    return;
                }
            }
            m.text += ';';
            m.text += name;
            if (eq != std::string_view::npos) {
                m.text += '=';
                m.text += arg;
            }
        });
        if (m.q != 1000) m.text += ";q=" + qvalue_text(m.q);
        members.push_back(std::move(m));
    });
    std::sort(members.begin(), members.end(), [](const WeightedMember& a, const WeightedMember& b) {
        return a.q != b.q ? a.q > b.q : a.text < b.text;
    });
    std::string out;
    for (const WeightedMember& m : members) {
        if (!out.empty()) out += ',';
        out += m.text;
    }
    return out;
}

} // namespace ec::cache
