// Hop-by-hop and unstorable header fields (RFC 9110 §7.6.1, RFC 9111 §3.1).
#include "cache/fields.hpp"

namespace ec::cache {

bool is_hop_by_hop(std::string_view n) {
    return iequals(n, "connection") || iequals(n, "proxy-connection") || iequals(n, "keep-alive") ||
           iequals(n, "te") || iequals(n, "transfer-encoding") || iequals(n, "upgrade");
}

bool is_unstorable(std::string_view n) {
    return is_hop_by_hop(n) || iequals(n, "proxy-authenticate") ||
           iequals(n, "proxy-authentication-info") || iequals(n, "proxy-authorization");
}

bool listed_in_connection(std::string_view connection_value, std::string_view name) {
    bool listed = false;
    for_each_list_item(connection_value,
                       [&](std::string_view item) { listed = listed || iequals(item, name); });
    return listed;
}

void erase_fields(FieldList& fields, std::string_view name) {
    if (name.empty()) return;
    std::erase_if(fields, [&](const Field& f) { return iequals(f.name, name); });
}

} // namespace ec::cache
