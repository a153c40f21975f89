// Route: the body limits of the KV front ends' rows and how a value is sent.
#include "kv/route.hpp"

#include "http/write_batch.hpp"

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

void send_value(http::Exchange& ex, store::KvValue& v) {
    if (v.value.size() < http::WriteBatch::kCopyLimit)
        ex.send(http::Body::copy(v.value));
    else
        ex.send(http::Body::owned(std::move(v.value)));
}

} // namespace ec::kv
