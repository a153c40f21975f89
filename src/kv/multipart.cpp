// multipart/form-data parsing: delimiters, part headers, Content-Disposition parameters.
#include "kv/multipart.hpp"

#include "util/strings.hpp"

namespace ec::kv {

namespace {

Error bad(std::string message) {
    return make_error(400, "invalid_multipart", "multipart body: " + std::move(message));
}

bool is_bchar(char c) {
    // RFC 2046 bcharsnospace, plus space (allowed except as the last character).
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

// One `;`-separated parameter list (after the media type or disposition type). Calls
// fn(name lower-cased, value unquoted) for each; returns false on malformed syntax.
template <class Fn> bool for_each_param(std::string_view s, Fn&& fn) {
    size_t i = 0;
    auto skip_ows = [&] {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t'))
            ++i;
    };
    for (;;) {
        skip_ows();
        if (i == s.size()) return true;
        if (s[i] != ';') return false;
        ++i;
        skip_ows();
        if (i == s.size()) return true; // a trailing ';' is harmless
        size_t n0 = i;
        while (i < s.size() && is_tchar(static_cast<unsigned char>(s[i])))
            ++i;
        if (i == n0) return false;
        std::string name = to_lower(s.substr(n0, i - n0));
        skip_ows();
        if (i == s.size() || s[i] != '=') return false;
        ++i;
        skip_ows();
        std::string value;
        if (i < s.size() && s[i] == '"') {
            ++i;
            bool closed = false;
            while (i < s.size()) {
                char c = s[i++];
                if (c == '"') {
                    closed = true;
                    break;
                }
                if (c == '\\' && i < s.size()) c = s[i++];
                value.push_back(c);
            }
            if (!closed) return false;
        } else {
            size_t v0 = i;
            while (i < s.size() && s[i] != ';' && s[i] != ' ' && s[i] != '\t')
                ++i;
            value.assign(s.substr(v0, i - v0));
        }
        fn(name, std::move(value));
    }
}

// Parses a part's header block (without the blank line) into *part.
Status parse_part_headers(std::string_view block, MultipartPart* part, size_t index) {
    bool has_disposition = false;
    std::string where = "part " + std::to_string(index);
    while (!block.empty()) {
        size_t eol = block.find("\r\n");
        std::string_view line = block.substr(0, eol);
        block = eol == std::string_view::npos ? std::string_view() : block.substr(eol + 2);
        if (line.empty()) continue;
        if (line[0] == ' ' || line[0] == '\t')
            return bad(where + ": folded header lines are not allowed");
        size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0 || !is_token(line.substr(0, colon)))
            return bad(where + ": malformed header line");
        std::string_view name = line.substr(0, colon);
        std::string_view value = trim_ows(line.substr(colon + 1));
        if (iequals(name, "Content-Type")) {
            part->content_type.assign(value);
        } else if (iequals(name, "Content-Disposition")) {
            if (has_disposition) return bad(where + ": two Content-Disposition headers");
            has_disposition = true;
            size_t semi = value.find(';');
            std::string_view type = trim_ows(value.substr(0, semi));
            if (!iequals(type, "form-data"))
                return bad(where + ": Content-Disposition must be form-data");
            bool has_name = false;
            bool ok = for_each_param(semi == std::string_view::npos ? "" : value.substr(semi),
                                     [&](const std::string& p, std::string v) {
                                         if (p == "name") {
                                             has_name = !v.empty();
                                             part->name = std::move(v);
                                         } else if (p == "filename") {
                                             part->filename = std::move(v);
                                         }
                                     });
            if (!ok) return bad(where + ": malformed Content-Disposition parameters");
            if (!has_name)
                return bad(where + ": Content-Disposition has no name (or an empty one)");
        }
        // Other headers (Content-Transfer-Encoding is deprecated by RFC 7578) are ignored.
    }
    if (!has_disposition) return bad(where + ": no Content-Disposition header");
    return Status::ok();
}

// After a delimiter at body[pos..]: "--" closes; else optional spaces then CRLF. Sets *close
// and returns the offset after the delimiter line, or nullopt when the line has junk.
std::optional<size_t> after_delimiter(std::string_view body, size_t pos, bool* close) {
    if (body.substr(pos, 2) == "--") {
        *close = true;
        return pos + 2;
    }
    *close = false;
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t'))
        ++pos;
    if (body.substr(pos, 2) != "\r\n") return std::nullopt;
    return pos + 2;
}

} // namespace

bool is_multipart_form(std::string_view content_type) {
    std::string_view type = trim_ows(content_type.substr(0, content_type.find(';')));
    return iequals(type, "multipart/form-data");
}

Result<std::string> multipart_boundary(std::string_view content_type) {
    if (!is_multipart_form(content_type)) return bad("Content-Type is not multipart/form-data");
    size_t semi = content_type.find(';');
    std::optional<std::string> boundary;
    bool ok = semi != std::string_view::npos &&
              for_each_param(content_type.substr(semi), [&](const std::string& n, std::string v) {
                  if (n == "boundary" && !boundary) boundary = std::move(v);
              });
    if (!ok && semi != std::string_view::npos) return bad("malformed Content-Type parameters");
    if (!boundary) return bad("Content-Type has no boundary parameter");
    if (boundary->empty() || boundary->size() > 70 || boundary->back() == ' ')
        return bad("the boundary must be 1-70 characters, not ending in a space");
    for (char c : *boundary)
        if (!is_bchar(c)) return bad("the boundary has a character RFC 2046 does not allow");
    return *boundary;
}

Result<std::vector<MultipartPart>> parse_multipart(std::string_view body,
                                                   std::string_view boundary) {
    if (boundary.empty()) return bad("empty boundary");
    const std::string delim = "--" + std::string(boundary);
    const std::string line_delim = "\r\n" + delim;

    // The first delimiter opens the body, or ends the preamble on a line of its own.
    size_t pos;
    if (body.substr(0, delim.size()) == delim) {
        pos = delim.size();
    } else {
        size_t at = body.find(line_delim);
        if (at == std::string_view::npos) return bad("no opening boundary delimiter");
        pos = at + line_delim.size();
    }
    bool close = false;
    auto next = after_delimiter(body, pos, &close);
    if (!next) return bad("the opening delimiter line has trailing characters");
    if (close) return bad("no parts before the closing delimiter");
    pos = *next;

    std::vector<MultipartPart> parts;
    for (;;) {
        size_t end = body.find(line_delim, pos);
        if (end == std::string_view::npos) return bad("no closing boundary delimiter");
        if (parts.size() == kMaxMultipartParts)
            return bad("more than " + std::to_string(kMaxMultipartParts) + " parts");
        std::string_view part_bytes = body.substr(pos, end - pos);
        MultipartPart part;
        // The header block ends at the first empty line; a part may have no headers at all
        // only if it starts with that empty line, which parse_part_headers then refuses.
        std::string_view headers, data;
        if (part_bytes.substr(0, 2) == "\r\n") {
            data = part_bytes.substr(2);
        } else {
            size_t blank = part_bytes.find("\r\n\r\n");
            if (blank == std::string_view::npos) {
                if (part_bytes.size() > kMaxPartHeaderBytes)
                    return bad("part " + std::to_string(parts.size()) + ": headers too large");
                return bad("part " + std::to_string(parts.size()) +
                           ": headers are not terminated by an empty line");
            }
            if (blank > kMaxPartHeaderBytes)
                return bad("part " + std::to_string(parts.size()) + ": headers too large");
            headers = part_bytes.substr(0, blank);
            data = part_bytes.substr(blank + 4);
        }
        if (Status st = parse_part_headers(headers, &part, parts.size()); !st) return st.error();
        part.data = data;
        parts.push_back(std::move(part));

        next = after_delimiter(body, end + line_delim.size(), &close);
        if (!next)
            return bad("a delimiter line has trailing characters (is the boundary inside a part?)");
        if (close) return parts; // the epilogue, if any, is ignored
        pos = *next;
    }
}

} // namespace ec::kv
