// Access log format templates: field names and the compiler.
#include "config/access_format.hpp"

#include <array>

namespace ec::config {

namespace {
constexpr std::array<const char*, kLogFields> kNames = {
    "time",       "peer",    "client",     "method",      "target", "protocol",
    "request",    "status",  "bytes",      "duration_ms", "cache",  "host",
    "user_agent", "referer", "request_id", "upstream_ms", "route",  "origin"};

bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || c == '_';
}
} // namespace

const char* access_field_name(LogField f) {
    return kNames[static_cast<size_t>(f)];
}

std::optional<AccessFormat> compile_access_format(std::string_view spec, std::string* error) {
    AccessFormat out;
    if (spec == "json") {
        out.json = true;
        return out;
    }
    if (spec == "default") spec = kDefaultAccessFormat;
    std::string literal;
    for (size_t i = 0; i < spec.size();) {
        if (spec[i] != '$') {
            literal += spec[i++];
            continue;
        }
        if (i + 1 < spec.size() && spec[i + 1] == '$') {
            literal += '$';
            i += 2;
            continue;
        }
        bool braced = i + 1 < spec.size() && spec[i + 1] == '{';
        size_t start = i + (braced ? 2 : 1), end = start;
        while (end < spec.size() && name_char(spec[end]))
            ++end;
        std::string_view name = spec.substr(start, end - start);
        if (braced && (end >= spec.size() || spec[end] != '}')) {
            *error = "\"${\" at byte " + std::to_string(i) + " has no closing \"}\"";
            return std::nullopt;
        }
        std::optional<LogField> field;
        for (size_t f = 0; f < kLogFields; ++f)
            if (name == kNames[f]) field = static_cast<LogField>(f);
        if (!field) {
            *error = "unknown field \"$" + std::string(name) + "\"; known fields:";
            for (const char* n : kNames)
                *error += std::string(" $") + n;
            return std::nullopt;
        }
        out.segments.push_back({std::move(literal), field});
        literal.clear();
        i = end + (braced ? 1 : 0);
    }
    if (!literal.empty()) out.segments.push_back({std::move(literal), std::nullopt});
    return out;
}

} // namespace ec::config
