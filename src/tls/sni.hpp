// SNI selection: which of a listener's certificates answers a client's server name.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ec::tls {

// Names map to certificate indexes. lookup() tries the exact name, then the wildcard one level
// up ("a.example.com" matches "*.example.com", never "b.a.example.com" nor "example.com"),
// then the default: index 0, the first certificate. Case-insensitive; a trailing dot is ignored.
// The first certificate to claim a name keeps it.
class SniTable {
public:
    void add(std::string_view name, size_t index);
    size_t lookup(std::string_view server_name) const;

private:
    std::unordered_map<std::string, size_t> exact_;
    std::unordered_map<std::string, size_t> wildcard_; // keyed by the part after "*."
};

} // namespace ec::tls
