// PurgeMessage: a purge or an unsafe-method invalidation as the fleet's purge stream carries it.
#pragma once

#include <string>
#include <string_view>

#include "cache/purge.hpp"
#include "util/status.hpp"

namespace ec::cache {

struct PurgeMessage {
    std::string node;          // the node that published it (it applied it already)
    bool invalidation = false; // an unsafe request's invalidation of host + target
    std::string host, target;  // invalidation
    PurgeRequest request;      // otherwise
};

// JSON: {"node", "kind": "paths|prefix|tags|all|invalidate", "paths", "prefix", "tags",
// "soft", "route", "namespace", "host", "target"}.
std::string encode_purge_message(const PurgeMessage& m);
// Errors: 400 bad_purge_message naming what was wrong.
Result<PurgeMessage> decode_purge_message(std::string_view json);

} // namespace ec::cache
