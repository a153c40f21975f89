// JSON access and pretty-printing over simdjson's DOM; human number formats.
#include "json_util.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cli_error.hpp"
#include "util/json_writer.hpp"
#include "util/units.hpp"
#include "util/utf8.hpp"

namespace ec::ctl {

Json parse_json(simdjson::dom::parser& parser, std::string_view text, const char* what) {
    Json e;
    if (parser.parse(text.data(), text.size(), true).get(e) != simdjson::SUCCESS)
        throw CliError(kError, std::string(what) + ": not valid JSON");
    return e;
}

std::optional<Json> at(Json e, std::initializer_list<std::string_view> path) {
    for (std::string_view k : path) {
        simdjson::dom::object o;
        if (e.get(o) != simdjson::SUCCESS) return std::nullopt;
        if (o.at_key(k).get(e) != simdjson::SUCCESS) return std::nullopt;
    }
    return e;
}

bool is_number(Json e) {
    auto t = e.type();
    return t == simdjson::dom::element_type::INT64 || t == simdjson::dom::element_type::UINT64 ||
           t == simdjson::dom::element_type::DOUBLE;
}

double as_number(Json e) {
    switch (e.type()) {
    case simdjson::dom::element_type::INT64:
        return static_cast<double>(int64_t(e));
    case simdjson::dom::element_type::UINT64:
        return static_cast<double>(uint64_t(e));
    case simdjson::dom::element_type::DOUBLE:
        return double(e);
    default:
        return 0;
    }
}

double num(Json e, std::initializer_list<std::string_view> path, double fallback) {
    auto v = at(e, path);
    return v && is_number(*v) ? as_number(*v) : fallback;
}

std::string str(Json e, std::initializer_list<std::string_view> path, std::string fallback) {
    auto v = at(e, path);
    std::string_view s;
    if (!v || v->get(s) != simdjson::SUCCESS) return fallback;
    return std::string(s);
}

bool boolean(Json e, std::initializer_list<std::string_view> path, bool fallback) {
    auto v = at(e, path);
    bool b = fallback;
    if (!v || v->get(b) != simdjson::SUCCESS) return fallback;
    return b;
}

std::string minify(Json e) {
    return simdjson::minify(e);
}

std::string scalar_text(Json e) {
    std::string_view s;
    if (e.get(s) == simdjson::SUCCESS) return std::string(s);
    return minify(e);
}

namespace {

void pretty_into(std::string& out, Json e, size_t indent) {
    simdjson::dom::object obj;
    simdjson::dom::array arr;
    if (e.get(obj) == simdjson::SUCCESS) {
        if (obj.size() == 0) {
            out += "{}";
            return;
        }
        out += "{\n";
        bool first = true;
        for (auto field : obj) {
            if (!first) out += ",\n";
            first = false;
            out.append(indent + 2, ' ');
            json_escape(out, field.key);
            out += ": ";
            pretty_into(out, field.value, indent + 2);
        }
        out += "\n";
        out.append(indent, ' ');
        out += "}";
    } else if (e.get(arr) == simdjson::SUCCESS) {
        if (arr.size() == 0) {
            out += "[]";
            return;
        }
        // Arrays of scalars stay on one line: listen addresses, tags, query patterns.
        bool scalars = true;
        for (auto v : arr)
            if (v.is_object() || v.is_array()) scalars = false;
        if (scalars) {
            out += minify(e);
            return;
        }
        out += "[\n";
        bool first = true;
        for (auto v : arr) {
            if (!first) out += ",\n";
            first = false;
            out.append(indent + 2, ' ');
            pretty_into(out, v, indent + 2);
        }
        out += "\n";
        out.append(indent, ' ');
        out += "]";
    } else {
        out += minify(e);
    }
}

std::string with_commas(uint64_t n) {
    std::string digits = std::to_string(n);
    std::string r;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0) r += ',';
        r += digits[i];
    }
    return r;
}

} // namespace

std::string pretty(Json e) {
    std::string out;
    pretty_into(out, e, 0);
    out += "\n";
    return out;
}

std::string fmt_count(double n) {
    if (n < 0) return "-" + fmt_count(-n);
    return with_commas(static_cast<uint64_t>(std::llround(n)));
}

std::string fmt_rate(double n) {
    if (n >= 100 || n == 0) return fmt_count(n);
    char buf[32];
    std::snprintf(buf, sizeof buf, n >= 10 ? "%.1f" : "%.2f", n);
    return buf;
}

std::string fmt_pct(double fraction) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f%%", fraction * 100.0);
    return buf;
}

std::string fmt_duration(double seconds) {
    auto s = static_cast<uint64_t>(seconds < 0 ? 0 : seconds);
    uint64_t d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60, sec = s % 60;
    if (d) return std::to_string(d) + "d " + std::to_string(h) + "h";
    if (h) return std::to_string(h) + "h " + std::to_string(m) + "m";
    if (m) return std::to_string(m) + "m " + std::to_string(sec) + "s";
    return std::to_string(sec) + "s";
}

std::string fmt_bytes(double bytes) {
    return format_size(static_cast<uint64_t>(bytes < 0 ? 0 : bytes));
}

std::string printable(std::string_view s) {
    std::string r;
    r.reserve(s.size());
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    auto hex = [&r](unsigned char u) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02x", u);
        r += buf;
    };
    for (size_t i = 0; i < s.size();) {
        size_t n = utf8_seq_len(p + i, s.size() - i);
        // C0 controls and DEL; C1 controls (U+0080-U+009F: CSI and friends for a terminal);
        // bytes that are not UTF-8 (a terminal may read them as C1 controls too).
        bool c1 = n == 2 && p[i] == 0xC2 && p[i + 1] < 0xA0;
        if (n == 0 || (n == 1 && (p[i] < 0x20 || p[i] == 0x7f)) || c1) {
            for (size_t j = 0; j < std::max<size_t>(n, 1); ++j)
                hex(p[i + j]);
            i += std::max<size_t>(n, 1);
            continue;
        }
        r.append(s.substr(i, n));
        i += n;
    }
    return r;
}

std::string printable_lines(std::string_view s) {
    std::string r;
    size_t from = 0;
    for (size_t nl; (nl = s.find('\n', from)) != std::string_view::npos; from = nl + 1)
        r += printable(s.substr(from, nl - from)) + "\n";
    return r + printable(s.substr(from));
}

bool valid_utf8(std::string_view s) {
    return simdjson::validate_utf8(s.data(), s.size());
}

} // namespace ec::ctl
