// Daemon: the process — owns the loop, store, servers and handlers; start, drain, stop.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "daemon/access_log.hpp"
#include "daemon/router.hpp"
#include "http/server.hpp"
#include "kv/native_api.hpp"
#include "loop/handle.hpp"
#include "loop/loop.hpp"
#include "store/store.hpp"

namespace ec::daemon {

class Daemon {
public:
    // Opens the store and binds every listener; throws std::runtime_error with a message fit
    // for the operator when any of that fails.
    explicit Daemon(config::Config cfg);
    ~Daemon();

    // Runs the loop until a signal drains and stops the daemon. Returns the exit code.
    int run();

    // Starts a graceful shutdown: stop accepting, /health 503, finish in-flight requests for
    // up to drain_timeout_ms, commit, close the store.
    void begin_shutdown(const char* why);

    loop::Loop& loop() { return loop_; }
    const config::Config& config() const { return cfg_; }
    kv::NativeApi& native_kv() { return *native_kv_; }
    store::Store& store() { return *store_; }
    http::Server& server() { return *server_; }
    bool draining() const { return draining_; }
    // EDGECACHED_TEST_HOOKS=1 enables test-only admin routes (moving the clock).
    bool test_hooks() const { return test_hooks_; }

private:
    void open_listeners();
    void apply_runtime_settings();
    void finish();

    config::Config cfg_;
    loop::Loop loop_;
    std::unique_ptr<store::Store> store_;
    std::unique_ptr<http::Server> server_;
    std::unique_ptr<kv::NativeApi> native_kv_;
    std::unique_ptr<AccessLog> access_log_;
    std::vector<std::unique_ptr<Router>> routers_;
    std::vector<std::unique_ptr<loop::Signal>> signals_;
    std::unique_ptr<loop::Timer> drain_timer_;
    std::string admin_socket_path_;
    bool draining_ = false;
    bool finished_ = false;
    bool test_hooks_ = false;
};

http::Limits limits_from(const config::Config& cfg);

} // namespace ec::daemon
