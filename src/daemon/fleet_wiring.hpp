// Fleet wiring: KV writes go through the fleet's bucket, purges and invalidations through its
// purge stream, to every node.
#pragma once

#include "cache/proxy.hpp"
#include "fleet/fleet.hpp"
#include "kv/ops.hpp"

namespace ec::daemon {

// Purges submitted here are published first (503 fleet_unavailable without JetStream), then
// applied here; other nodes' purges and invalidations arriving on the stream are applied here.
// A purge of KV namespace keys is instead a bulk delete through the fleet's bucket, like any
// KV write. The objects must outlive the fleet's deliveries (the daemon destroys the fleet
// first).
void wire_fleet_purges(fleet::Fleet& fleet, cache::Proxy& proxy, store::Store& store);

// Every KV write of every API (kv::Ops' one submit) is published to the fleet and answered
// once JetStream holds it and this node applied it (fleet.hpp); the store's own write path is
// then used only by the fleet's applier.
void wire_fleet_kv(fleet::Fleet& fleet, kv::Ops& ops, store::Store& store);

} // namespace ec::daemon
