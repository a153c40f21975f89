// JsonWriter: compact JSON output with UTF-8-safe string escaping.
#include "util/json_writer.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "util/utf8.hpp"

namespace ec {

void json_escape(std::string& out, std::string_view s) {
    static const char hex[] = "0123456789abcdef";
    out.push_back('"');
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    size_t n = s.size();
    size_t i = 0;
    while (i < n) {
        // Fast path: copy a run of plain printable ASCII at once.
        size_t run = i;
        while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\')
            ++run;
        if (run > i) {
            out.append(s.data() + i, run - i);
            i = run;
            if (i == n) break;
        }
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(static_cast<char>(c));
            ++i;
        } else if (c < 0x20) {
            switch (c) {
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            default:
                out += "\\u00";
                out.push_back(hex[c >> 4]);
                out.push_back(hex[c & 15]);
            }
            ++i;
        } else {
            size_t len = utf8_seq_len(p + i, n - i);
            if (len == 0) {
                out += "\xEF\xBF\xBD"; // U+FFFD for a byte that starts no valid sequence
                ++i;
            } else {
                out.append(s.data() + i, len);
                i += len;
            }
        }
    }
    out.push_back('"');
}

void JsonWriter::sep() {
    if (need_comma_) out_.push_back(',');
    need_comma_ = true;
}

JsonWriter& JsonWriter::begin_object() {
    sep();
    out_.push_back('{');
    need_comma_ = false;
    return *this;
}

JsonWriter& JsonWriter::end_object() {
    out_.push_back('}');
    need_comma_ = true;
    return *this;
}

JsonWriter& JsonWriter::begin_array() {
    sep();
    out_.push_back('[');
    need_comma_ = false;
    return *this;
}

JsonWriter& JsonWriter::end_array() {
    out_.push_back(']');
    need_comma_ = true;
    return *this;
}

JsonWriter& JsonWriter::key(std::string_view k) {
    sep();
    json_escape(out_, k);
    out_.push_back(':');
    need_comma_ = false;
    return *this;
}

JsonWriter& JsonWriter::value(std::string_view s) {
    sep();
    json_escape(out_, s);
    return *this;
}

JsonWriter& JsonWriter::value(bool b) {
    sep();
    out_ += b ? "true" : "false";
    return *this;
}

JsonWriter& JsonWriter::value(int64_t n) {
    sep();
    char buf[24];
    int len = std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
    out_.append(buf, static_cast<size_t>(len));
    return *this;
}

JsonWriter& JsonWriter::value(uint64_t n) {
    sep();
    char buf[24];
    int len = std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(n));
    out_.append(buf, static_cast<size_t>(len));
    return *this;
}

JsonWriter& JsonWriter::value(double d) {
    sep();
    if (!std::isfinite(d)) {
        out_ += "null"; // JSON has no NaN or Infinity
        return *this;
    }
    char buf[32];
    auto res = std::to_chars(buf, buf + sizeof buf, d); // shortest form that round-trips
    out_.append(buf, res.ptr);
    return *this;
}

JsonWriter& JsonWriter::null() {
    sep();
    out_ += "null";
    return *this;
}

JsonWriter& JsonWriter::raw(std::string_view json) {
    sep();
    out_.append(json);
    return *this;
}

} // namespace ec
