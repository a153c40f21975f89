// Request header lookup.
#include "http/request.hpp"

#include "util/strings.hpp"

namespace ec::http {

std::optional<std::string_view> Request::header(std::string_view name) const {
    for (const Header& h : headers)
        if (iequals(h.name, name)) return h.value;
    return std::nullopt;
}

} // namespace ec::http
