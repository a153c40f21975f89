// A small recursive-descent JSON checker that reports the first error's position and cause.
#include "config/json_syntax.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>

namespace ec::config {

namespace {

constexpr int kMaxDepth = 1024;

class Checker {
public:
    explicit Checker(std::string_view t) : t_(t) {}

    std::optional<JsonSyntaxError> run() {
        ws();
        if (!value(0)) return error_;
        ws();
        if (i_ < t_.size()) fail("unexpected text after the top-level value");
        return error_;
    }

private:
    bool fail(std::string what) {
        if (!error_) error_ = JsonSyntaxError{i_, 0, 0, std::move(what), ""};
        return false;
    }
    bool at_end() const { return i_ >= t_.size(); }
    char peek() const { return at_end() ? '\0' : t_[i_]; }

    void ws() {
        while (!at_end() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r'))
            ++i_;
    }

    // After an object member or array element: nullopt when a "," says another follows, true
    // when `close` ends the list, false (with the error set) for anything else.
    std::optional<bool> after_item(char close, const char* ends_inside, const char* expected) {
        ws();
        if (peek() == ',') {
            ++i_;
            ws();
            return std::nullopt;
        }
        if (peek() == close) {
            ++i_;
            return true;
        }
        return fail(at_end() ? ends_inside : expected);
    }

    bool value(int depth) {
        if (at_end()) return fail("the text ends where a value was expected");
        char c = peek();
        if (c == '{') return object(depth + 1);
        if (c == '[') return array(depth + 1);
        if (c == '"') return string();
        if (c == '-' || (c >= '0' && c <= '9')) return number();
        for (std::string_view word : {"true", "false", "null"})
            if (t_.substr(i_, word.size()) == word) {
                i_ += word.size();
                return true;
            }
        if (c == '/') return fail("comments are not allowed in JSON");
        if (c == '\'') return fail("strings must be in double quotes");
        return fail("expected a value (a string, number, object, array, true, false or null)");
    }

    bool object(int depth) {
        if (depth > kMaxDepth) return fail("nested deeper than 1024 levels");
        ++i_; // '{'
        ws();
        if (peek() == '}') {
            ++i_;
            return true;
        }
        for (;;) {
            if (at_end()) return fail("the text ends inside an object (a \"}\" is missing)");
            if (peek() == '}') return fail("a trailing comma before \"}\" is not allowed");
            if (peek() == '/') return fail("comments are not allowed in JSON");
            if (peek() != '"') return fail("expected a key in double quotes");
            if (!string()) return false;
            ws();
            if (peek() != ':') return fail("expected \":\" after the key");
            ++i_;
            ws();
            if (!value(depth)) return false;
            if (auto closed = after_item('}', "the text ends inside an object (a \"}\" is missing)",
                                         "expected \",\" or \"}\" after an object member"))
                return *closed;
        }
    }

    bool array(int depth) {
        if (depth > kMaxDepth) return fail("nested deeper than 1024 levels");
        ++i_; // '['
        ws();
        if (peek() == ']') {
            ++i_;
            return true;
        }
        for (;;) {
            if (peek() == ']') return fail("a trailing comma before \"]\" is not allowed");
            if (!value(depth)) return false;
            if (auto closed = after_item(']', "the text ends inside an array (a \"]\" is missing)",
                                         "expected \",\" or \"]\" after an array element"))
                return *closed;
        }
    }

    bool string() {
        ++i_; // '"'
        for (;;) {
            if (at_end()) return fail("the text ends inside a string (a closing '\"' is missing)");
            auto c = static_cast<unsigned char>(t_[i_]);
            if (c == '"') {
                ++i_;
                return true;
            }
            if (c < 0x20) return fail("a control character in a string must be escaped");
            if (c == '\\') {
                char e = i_ + 1 < t_.size() ? t_[i_ + 1] : '\0';
                if (e == 'u') {
                    for (size_t k = 2; k < 6; ++k) {
                        char h = i_ + k < t_.size() ? t_[i_ + k] : '\0';
                        bool hex = (h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') ||
                                   (h >= 'A' && h <= 'F');
                        if (!hex) return fail("\\u must be followed by four hex digits");
                    }
                    i_ += 6;
                    continue;
                }
                if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos || !e)
                    return fail("an invalid escape in a string");
                i_ += 2;
                continue;
            }
            if (c < 0x80) {
                ++i_;
                continue;
            }
            if (!utf8()) return fail("invalid UTF-8 in a string");
        }
    }

    // One multi-byte UTF-8 sequence at i_ (RFC 3629: no overlongs, no surrogates).
    bool utf8() {
        auto b = [&](size_t k) {
            return i_ + k < t_.size() ? static_cast<unsigned char>(t_[i_ + k]) : 0;
        };
        unsigned char c = b(0);
        size_t n;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
            n = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else
            return false;
        if (b(1) < lo || b(1) > hi) return false;
        for (size_t k = 2; k < n; ++k)
            if (b(k) < 0x80 || b(k) > 0xBF) return false;
        i_ += n;
        return true;
    }

    bool number() {
        size_t start = i_;
        auto digits = [&] {
            size_t from = i_;
            while (!at_end() && peek() >= '0' && peek() <= '9')
                ++i_;
            return i_ > from;
        };
        if (peek() == '-') ++i_;
        if (peek() == '0') {
            ++i_;
        } else if (!digits()) {
            i_ = start;
            return fail("an invalid number");
        }
        if (peek() == '.') {
            ++i_;
            if (!digits()) {
                i_ = start;
                return fail("an invalid number (digits must follow \".\")");
            }
        }
        if (peek() == 'e' || peek() == 'E') {
            ++i_;
            if (peek() == '+' || peek() == '-') ++i_;
            if (!digits()) {
                i_ = start;
                return fail("an invalid number (digits must follow the exponent)");
            }
        }
        if (!at_end() && peek() >= '0' && peek() <= '9') {
            i_ = start;
            return fail("an invalid number (no leading zeros)");
        }
        return true;
    }

    std::string_view t_;
    size_t i_ = 0;
    std::optional<JsonSyntaxError> error_;
};

} // namespace

std::string strip_json_comments(std::string_view text) {
    std::string out(text);
    bool in_string = false;
    for (size_t i = 0; i < out.size(); ++i) {
        char c = out[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '/' && i + 1 < out.size() && out[i + 1] == '/') {
            while (i < out.size() && out[i] != '\n')
                out[i++] = ' ';
        } else if (c == '/' && i + 1 < out.size() && out[i + 1] == '*') {
            size_t end = out.find("*/", i + 2);
            if (end == std::string::npos) break;
            for (size_t k = i; k < end + 2; ++k)
                if (out[k] != '\n') out[k] = ' ';
            i = end + 1;
        }
    }
    return out;
}

std::optional<JsonSyntaxError> find_json_syntax_error(std::string_view text) {
    auto err = Checker(text).run();
    if (!err) return err;
    size_t line_start = 0;
    err->line = 1;
    for (size_t k = 0; k < err->offset; ++k)
        if (text[k] == '\n') {
            ++err->line;
            line_start = k + 1;
        }
    err->column = 1;
    for (size_t k = line_start; k < err->offset; ++k)
        if ((static_cast<unsigned char>(text[k]) & 0xC0) != 0x80) ++err->column;
    std::string_view rest = text.substr(err->offset);
    rest = rest.substr(0, std::min(rest.find_first_of("\r\n"), size_t{40}));
    for (char c : rest) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f || u >= 0x80) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", u);
            err->found += buf;
        } else {
            err->found.push_back(c);
        }
    }
    return err;
}

} // namespace ec::config
