// JsonWriter: compact JSON output with UTF-8-safe string escaping.
#include "util/json_writer.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace ec {

namespace {

// Length of the valid UTF-8 sequence starting at p (1..4), or 0 when it is not valid.
size_t utf8_seq_len(const unsigned char* p, size_t left) {
    unsigned char c = p[0];
    if (c < 0x80) return 1;
    size_t n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0)
        n = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0)
        n = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0)
        n = 4, cp = c & 0x07;
    else
        return 0;
    if (left < n) return 0;
    for (size_t i = 1; i < n; ++i) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    // Reject overlong forms, surrogates and values past U+10FFFF.
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)) return 0;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

} // namespace

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
