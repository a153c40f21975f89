// Preflight: what `edgecached --check-config` checks beyond the file, as a start would.
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"

namespace ec::daemon {

struct PreflightResult {
    std::vector<std::string> problems; // each would stop a start: "<what>: <why>"
    std::vector<std::string> notes;    // worth saying, not failures
};

// Opens the access log (creating it as a start would), binds every listener, the admin socket
// and admin_listen on a scratch loop and closes them again, and checks that the data dir is
// (or can be created as) a writable directory. When another edgecached holds the data dir's
// lock, its addresses are in use by it: the listeners are then not bound, and a note says so
// (a reload checks them). With socket activation (LISTEN_FDS) `listen` is not bound either.
PreflightResult preflight(const config::Config& cfg);

} // namespace ec::daemon
