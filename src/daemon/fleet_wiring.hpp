// Fleet wiring: purges and invalidations go through the fleet's purge stream to every node.
#pragma once

#include "cache/proxy.hpp"
#include "fleet/fleet.hpp"

namespace ec::daemon {

// Purges submitted here are published first (503 fleet_unavailable without JetStream), then
// applied here; other nodes' purges and invalidations arriving on the stream are applied here.
// Both objects must outlive the fleet's deliveries (the daemon destroys the fleet first).
void wire_fleet_purges(fleet::Fleet& fleet, cache::Proxy& proxy);

} // namespace ec::daemon
