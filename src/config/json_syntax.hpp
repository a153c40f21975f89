// JsonSyntax: where a JSON text first goes wrong, for config errors with line and column.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ec::config {

struct JsonSyntaxError {
    size_t offset = 0; // byte offset of the offending text
    size_t line = 1;   // 1-based
    size_t column = 1; // 1-based, in characters (UTF-8 code points)
    std::string what;  // "expected \",\" or \"}\" after an object member"
    std::string found; // the offending text up to the end of its line (at most 40 bytes,
                       // non-printables escaped); "" at the end of the input
};

// `text` with its comments ("// ..." to the end of the line, "/* ... */") outside strings
// replaced by spaces, newlines kept: line and column numbers stay those of the original. An
// unterminated "/*" is left in place (the parser then reports it).
std::string strip_json_comments(std::string_view text);

// The first RFC 8259 syntax error in `text` (a single JSON value, whitespace around it),
// or nullopt when it is well-formed. Nesting deeper than 1024 is an error, as in simdjson.
// Used after simdjson has refused a text, to say where and why in words.
std::optional<JsonSyntaxError> find_json_syntax_error(std::string_view text);

} // namespace ec::config
