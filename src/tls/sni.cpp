// SNI selection: exact name, then one-label wildcard, then the default certificate.
#include "tls/sni.hpp"

#include <algorithm>

namespace ec::tls {

namespace {
std::string normalise_sni_name(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    std::string s(name);
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}
} // namespace

void SniTable::add(std::string_view name, size_t index) {
    std::string n = normalise_sni_name(name);
    if (n.starts_with("*.") && n.size() > 2)
        wildcard_.emplace(n.substr(2), index);
    else if (!n.empty())
        exact_.emplace(std::move(n), index);
}

size_t SniTable::lookup(std::string_view server_name) const {
    std::string n = normalise_sni_name(server_name);
    if (n.empty()) return 0;
    if (auto it = exact_.find(n); it != exact_.end()) return it->second;
    size_t dot = n.find('.');
    if (dot != std::string::npos && dot > 0) {
        if (auto it = wildcard_.find(n.substr(dot + 1)); it != wildcard_.end()) return it->second;
    }
    return 0;
}

} // namespace ec::tls
