// Interned names: strings that live for the whole process, for records that outlive a reload.
#pragma once

#include <string_view>

namespace ec {

// A NUL-terminated copy of `s` that is never freed; equal strings give the same pointer.
// Loop thread only. Meant for a small, bounded set (route and origin names), not for input.
const char* intern(std::string_view s);

} // namespace ec
