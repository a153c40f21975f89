// Reason phrases for status codes.
#pragma once

#include <string_view>

namespace ec::http {

// "OK" for 200, ..., "Unknown" for codes without a registered phrase.
std::string_view status_text(int status);

} // namespace ec::http
