// Base64 (RFC 4648, standard alphabet with padding) for bulk KV values.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ec {

void base64_encode(std::string& out, std::string_view in);
// Accepts padded or unpadded input; nullopt on characters outside the alphabet.
std::optional<std::string> base64_decode(std::string_view in);

} // namespace ec
