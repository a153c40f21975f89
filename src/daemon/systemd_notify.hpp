// SystemdNotify: the sd_notify protocol (ready, status, reload, stop, watchdog) and sockets
// passed by socket activation, over libsystemd.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "loop/handle.hpp"
#include "loop/loop.hpp"

namespace ec::daemon {

// libsystemd is optional at build time (EC_HAVE_SYSTEMD). Without it every notification is a
// no-op and no socket is adopted; when $NOTIFY_SOCKET or $LISTEN_FDS is set anyway, that is
// logged once, because a Type=notify unit would then time out.
// With libsystemd but no $NOTIFY_SOCKET (not started by systemd), notifications are no-ops too.
class SystemdNotify {
public:
    explicit SystemdNotify(loop::Loop& loop);
    ~SystemdNotify();
    SystemdNotify(const SystemdNotify&) = delete;
    SystemdNotify& operator=(const SystemdNotify&) = delete;

    // A listening socket passed by the service manager (LISTEN_FDS / LISTEN_PID, numbered from
    // fd 3) and its LISTEN_FDNAMES name ("edgecached.socket" unless FileDescriptorName= says
    // otherwise). The caller owns the fd.
    struct ActivatedSocket {
        int fd = -1;
        std::string name;
    };
    // The sockets passed to this process, taken once: the LISTEN_* variables are unset so a
    // second call (or a child) sees none. Empty when not socket-activated. Throws
    // std::runtime_error when a passed fd is not a listening stream socket.
    static std::vector<ActivatedSocket> take_listen_fds();

    // READY=1 with STATUS=<status>: listeners are bound and the loop is about to run. Also sent
    // after a reload (RELOADING=1 ... READY=1).
    void ready(const std::string& status);
    // STATUS=<status>: one line shown by `systemctl status`.
    void status(const std::string& status);
    // RELOADING=1: a config reload has started; ready() must follow when it is done.
    void reloading();
    // STOPPING=1 with STATUS=<status>: a graceful shutdown has started.
    void stopping(const std::string& status);

    // Starts sending WATCHDOG=1 from a loop timer every half of $WATCHDOG_USEC when the
    // service manager asked for it (WatchdogSec=, and $WATCHDOG_PID unset or ours). The timer
    // does not keep the loop alive; a stalled loop stops the pings, which is the point.
    void start_watchdog();
    void stop_watchdog();

private:
    void send(const std::string& state);

    loop::Loop& loop_;
    std::unique_ptr<loop::Timer> watchdog_;
    uint64_t watchdog_ms_ = 0;
};

} // namespace ec::daemon
