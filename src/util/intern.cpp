// Interned names: a node-based set, so pointers into it stay valid forever.
#include "util/intern.hpp"

#include <string>
#include <unordered_set>

namespace ec {

const char* intern(std::string_view s) {
    static std::unordered_set<std::string> names;
    return names.emplace(s).first->c_str();
}

} // namespace ec
