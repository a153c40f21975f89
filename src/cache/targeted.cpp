// RFC 9213 targeted fields: a strict RFC 8941 Dictionary parser feeding CacheControl.
#include "cache/targeted.hpp"

#include <string>
#include <vector>

#include "util/strings.hpp"

namespace ec::cache {

namespace {

// What one Dictionary member's value means for its cache directive.
struct TargetedMember {
    std::string key;
    enum class Kind { flag, off, integer, string, token, invalid } kind = Kind::flag;
    std::string arg; // integer digits (with sign), string contents or token
};

bool sf_lcalpha(char c) {
    return c >= 'a' && c <= 'z';
}
bool sf_alpha(char c) {
    return sf_lcalpha(c) || (c >= 'A' && c <= 'Z');
}
bool sf_digit(char c) {
    return c >= '0' && c <= '9';
}

// A cursor over the field value; every parse_* returns false on a syntax error (RFC 8941 §4.2:
// the whole field then fails).
class SfParser {
public:
    explicit SfParser(std::string_view s) : s_(s) {}

    bool parse_dictionary(std::vector<TargetedMember>& out) {
        skip_sp();
        while (!at_end()) {
            TargetedMember m;
            if (!parse_key(m.key)) return false;
            if (peek() == '=') {
                ++i_;
                if (peek() == '(') {
                    if (!skip_inner_list()) return false;
                    m.kind = TargetedMember::Kind::invalid;
                } else if (!parse_bare_item(m) || !skip_parameters()) {
                    return false;
                }
            } else if (!skip_parameters()) {
                return false;
            }
            std::erase_if(out, [&](const TargetedMember& o) { return o.key == m.key; });
            out.push_back(std::move(m));
            skip_ows();
            if (at_end()) return true;
            if (peek() != ',') return false;
            ++i_;
            skip_ows();
            if (at_end()) return false; // a trailing comma
        }
        return true;
    }

private:
    bool at_end() const { return i_ >= s_.size(); }
    char peek() const { return at_end() ? '\0' : s_[i_]; }
    void skip_sp() {
        while (peek() == ' ')
            ++i_;
    }
    void skip_ows() {
        while (peek() == ' ' || peek() == '\t')
            ++i_;
    }

    bool parse_key(std::string& key) {
        char c = peek();
        if (!sf_lcalpha(c) && c != '*') return false;
        size_t start = i_;
        while (!at_end()) {
            c = s_[i_];
            if (!sf_lcalpha(c) && !sf_digit(c) && c != '_' && c != '-' && c != '.' && c != '*')
                break;
            ++i_;
        }
        key.assign(s_.substr(start, i_ - start));
        return true;
    }

    bool parse_bare_item(TargetedMember& m) {
        char c = peek();
        if (c == '-' || sf_digit(c)) return parse_number(m);
        if (c == '"') return parse_string(m);
        if (c == ':') return skip_byte_sequence(m);
        if (c == '?') return parse_boolean(m);
        if (sf_alpha(c) || c == '*') return parse_token(m);
        return false;
    }

    bool parse_number(TargetedMember& m) {
        size_t start = i_;
        if (peek() == '-') ++i_;
        size_t digits = 0, frac = 0;
        bool decimal = false;
        while (!at_end()) {
            char c = s_[i_];
            if (sf_digit(c)) {
                decimal ? ++frac : ++digits;
            } else if (c == '.' && !decimal) {
                if (digits > 12) return false;
                decimal = true;
            } else {
                break;
            }
            ++i_;
        }
        if (digits == 0) return false;
        if (decimal) {
            if (frac == 0 || frac > 3) return false;
            m.kind = TargetedMember::Kind::invalid; // no cache directive takes a Decimal
            return true;
        }
        if (digits > 15) return false;
        m.kind = TargetedMember::Kind::integer;
        m.arg.assign(s_.substr(start, i_ - start));
        return true;
    }

    bool parse_string(TargetedMember& m) {
        ++i_; // opening quote
        std::string out;
        while (!at_end()) {
            char c = s_[i_++];
            if (c == '\\') {
                if (at_end() || (s_[i_] != '"' && s_[i_] != '\\')) return false;
                out.push_back(s_[i_++]);
            } else if (c == '"') {
                m.kind = TargetedMember::Kind::string;
                m.arg = std::move(out);
                return true;
            } else if (c < 0x20 || c > 0x7e) {
                return false;
            } else {
                out.push_back(c);
            }
        }
        return false; // unterminated
    }

    bool parse_token(TargetedMember& m) {
        size_t start = i_++;
        while (!at_end() &&
               (is_tchar(static_cast<unsigned char>(s_[i_])) || s_[i_] == ':' || s_[i_] == '/'))
            ++i_;
        m.kind = TargetedMember::Kind::token;
        m.arg.assign(s_.substr(start, i_ - start));
        return true;
    }

    bool skip_byte_sequence(TargetedMember& m) {
        ++i_;
        while (!at_end() && s_[i_] != ':') {
            char c = s_[i_++];
            if (!sf_alpha(c) && !sf_digit(c) && c != '+' && c != '/' && c != '=') return false;
        }
        if (at_end()) return false;
        ++i_;
        m.kind = TargetedMember::Kind::invalid;
        return true;
    }

    bool parse_boolean(TargetedMember& m) {
        ++i_;
        char c = peek();
        if (c != '0' && c != '1') return false;
        ++i_;
        m.kind = c == '1' ? TargetedMember::Kind::flag : TargetedMember::Kind::off;
        return true;
    }

    bool skip_parameters() {
        while (peek() == ';') {
            ++i_;
            skip_sp();
            std::string key;
            if (!parse_key(key)) return false;
            if (peek() == '=') {
                ++i_;
                TargetedMember ignored;
                if (!parse_bare_item(ignored)) return false;
            }
        }
        return true;
    }

    bool skip_inner_list() {
        ++i_; // '('
        while (!at_end()) {
            skip_sp();
            if (peek() == ')') {
                ++i_;
                return skip_parameters();
            }
            TargetedMember ignored;
            if (!parse_bare_item(ignored) || !skip_parameters()) return false;
            if (peek() != ' ' && peek() != ')') return false;
        }
        return false;
    }

    std::string_view s_;
    size_t i_ = 0;
};

// The member as Cache-Control text, so that CacheControl gives it the same meaning.
void append_as_cache_control(std::string& cc, const TargetedMember& m) {
    using Kind = TargetedMember::Kind;
    if (m.kind == Kind::off) return;
    if (!cc.empty()) cc += ", ";
    cc += m.key;
    switch (m.kind) {
    case Kind::flag:
    case Kind::off:
        return;
    case Kind::integer:
    case Kind::token:
        cc += '=';
        cc += m.arg;
        return;
    case Kind::string:
        cc += "=\"";
        for (char c : m.arg) {
            if (c == '"' || c == '\\') cc += '\\';
            cc += c;
        }
        cc += '"';
        return;
    case Kind::invalid:
        cc += "=\"\""; // an empty argument: invalid for a delta, unqualified for a list
        return;
    }
}

} // namespace

std::optional<CacheControl> parse_targeted_cache_control(std::string_view value) {
    std::vector<TargetedMember> members;
    SfParser parser(value);
    if (!parser.parse_dictionary(members) || members.empty()) return std::nullopt;
    std::string text;
    for (const TargetedMember& m : members)
        append_as_cache_control(text, m);
    CacheControl cc = CacheControl::parse(text);
    cc.any = true; // a valid, non-empty field governs even when every member was ?0
    return cc;
}

} // namespace ec::cache
