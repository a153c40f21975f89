// Route: the body limits of the KV front ends' rows.
#include "kv/route.hpp"

namespace ec::kv {

http::BodyLimit body_limit(BodyLimitKind kind, const Rules& rules, uint64_t max_body_size) {
    switch (kind) {
    case BodyLimitKind::value:
        return http::BodyLimit{rules.max_value_size, "value_too_large",
                               "value is larger than max_value_size"};
    case BodyLimitKind::value_multipart:
        return http::BodyLimit{rules.max_value_size + kMultipartOverhead, "value_too_large",
                               "value is larger than max_value_size"};
    case BodyLimitKind::body:
        break;
    }
    return http::BodyLimit{max_body_size, "body_too_large",
                           "request body is larger than max_body_size"};
}

} // namespace ec::kv
