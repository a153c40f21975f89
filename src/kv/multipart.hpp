// multipart/form-data (RFC 7578 over RFC 2046): pure parsing of a complete request body.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.hpp"

namespace ec::kv {

inline constexpr size_t kMaxMultipartParts = 64;
inline constexpr size_t kMaxPartHeaderBytes = 8192;

// One part of a form. `data` views the body passed to parse_multipart: valid while it is.
struct MultipartPart {
    std::string name;                    // Content-Disposition: form-data; name="..."
    std::optional<std::string> filename; // present for file parts
    std::string content_type;            // the part's Content-Type, "" when absent
    std::string_view data;
};

// True when a request's Content-Type names multipart/form-data (case-insensitive).
bool is_multipart_form(std::string_view content_type);

// The `boundary` parameter of a multipart/form-data Content-Type (token or quoted-string).
// Errors: 400 invalid_multipart when it is missing or not 1-70 valid boundary characters.
Result<std::string> multipart_boundary(std::string_view content_type);

// Splits `body` into its parts. The body is: an optional preamble, "--boundary" (at the start
// or after CRLF) with optional trailing spaces and CRLF, then parts each followed by
// CRLF "--boundary", the last one by "--"; an epilogue is ignored. Each part has header lines,
// an empty line and its content. Parts must carry Content-Disposition: form-data with a name.
// Errors: 400 invalid_multipart naming what is wrong (no opening or closing delimiter, a
// delimiter line with trailing junk, unterminated or oversized part headers, a part without a
// name, more than kMaxMultipartParts parts).
Result<std::vector<MultipartPart>> parse_multipart(std::string_view body,
                                                   std::string_view boundary);

} // namespace ec::kv
