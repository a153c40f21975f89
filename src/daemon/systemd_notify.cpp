// SystemdNotify: sd_notify / sd_listen_fds / sd_watchdog_enabled, or no-ops without libsystemd.
#include "daemon/systemd_notify.hpp"

#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "util/log.hpp"

#include "build_config.hpp"

#if EC_HAVE_SYSTEMD
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#endif

namespace ec::daemon {

namespace {

#if !EC_HAVE_SYSTEMD
// Says once why a service manager that expects the protocol will not hear from us.
void warn_unsupported(const char* var) {
    static bool warned = false;
    if (warned || !std::getenv(var)) return;
    warned = true;
    LOG_WARN("$%s is set, but this edgecached was built without libsystemd: readiness "
             "notification, the watchdog and socket activation are unavailable "
             "(rebuild with libsystemd-dev, -Dsystemd=enabled)",
             var);
}
#endif

} // namespace

SystemdNotify::SystemdNotify(loop::Loop& loop) : loop_(loop) {
#if !EC_HAVE_SYSTEMD
    warn_unsupported("NOTIFY_SOCKET");
#endif
}

SystemdNotify::~SystemdNotify() = default;

std::vector<SystemdNotify::ActivatedSocket> SystemdNotify::take_listen_fds() {
    std::vector<ActivatedSocket> out;
#if EC_HAVE_SYSTEMD
    char** names = nullptr;
    // unset_environment=1: the variables describe this process only.
    int n = sd_listen_fds_with_names(1, &names);
    if (n < 0) {
        LOG_WARN("socket activation: cannot read LISTEN_FDS: %s", std::strerror(-n));
        n = 0;
    }
    for (int i = 0; i < n; ++i) {
        int fd = SD_LISTEN_FDS_START + i;
        std::string name = names && names[i] ? names[i] : "";
        out.push_back({fd, name});
    }
    if (names) {
        for (int i = 0; names[i]; ++i)
            std::free(names[i]);
        std::free(names);
    }
    for (const ActivatedSocket& s : out) {
        if (sd_is_socket(s.fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0)
            throw std::runtime_error("socket activation: fd " + std::to_string(s.fd) + " (" +
                                     s.name +
                                     ") is not a listening stream socket (use ListenStream=)");
    }
#else
    warn_unsupported("LISTEN_FDS");
#endif
    return out;
}

void SystemdNotify::send(const std::string& state) {
#if EC_HAVE_SYSTEMD
    int rc = sd_notify(0, state.c_str());
    if (rc < 0) LOG_WARN("sd_notify failed: %s", std::strerror(-rc));
#else
    (void)state;
#endif
}

void SystemdNotify::ready(const std::string& status) {
    send("READY=1\nSTATUS=" + status);
}

void SystemdNotify::status(const std::string& status) {
    send("STATUS=" + status);
}

void SystemdNotify::reloading() {
    send("RELOADING=1\nSTATUS=reloading the configuration");
}

void SystemdNotify::stopping(const std::string& status) {
    send("STOPPING=1\nSTATUS=" + status);
}

void SystemdNotify::start_watchdog() {
#if EC_HAVE_SYSTEMD
    uint64_t usec = 0;
    // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID is unset or names this process.
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
    watchdog_ms_ = usec / 2000;
    if (watchdog_ms_ == 0) watchdog_ms_ = 1;
    watchdog_ = std::make_unique<loop::Timer>(loop_.uv(), [this] { send("WATCHDOG=1"); });
    watchdog_->start(watchdog_ms_, watchdog_ms_);
    watchdog_->unref();
    LOG_INFO("systemd watchdog: pinging every %llu ms",
             static_cast<unsigned long long>(watchdog_ms_));
#else
    (void)loop_;
#endif
}

void SystemdNotify::stop_watchdog() {
    watchdog_.reset();
}

} // namespace ec::daemon
