// edgecached: argv → config → run. The only file the tests don't link.
#include <csignal>
#include <cstdio>
#include <exception>
#include <sys/resource.h>

#include "config/cli.hpp"
#include "config/docs.hpp"
#include "daemon/daemon.hpp"
#include "daemon/preflight.hpp"
#include "util/log.hpp"

#include "build_config.hpp"

namespace {

// A workerd client alone may open a thousand connections at once: take every descriptor the
// hard limit allows.
void raise_fd_limit() {
    rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            LOG_WARN("cannot raise the open-file limit to %llu",
                     static_cast<unsigned long long>(rl.rlim_max));
    }
}

} // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN); // a peer closing mid-write is an error code, not a death

    auto cmd = ec::config::parse_command_line(argc, argv);
    if (!cmd) {
        std::fprintf(stderr, "edgecached: %s\nTry 'edgecached --help'.\n",
                     cmd.error().message.c_str());
        return 2;
    }
    if (cmd->help) {
        std::fputs(ec::config::help_text().c_str(), stdout);
        return 0;
    }
    if (cmd->version) {
        std::printf("edgecached %s\n", EC_VERSION);
        return 0;
    }
    auto cfg = ec::config::load(*cmd, ec::config::Environment::from_process());
    if (!cfg) {
        std::fprintf(stderr, "edgecached: %s\n", cfg.error().message.c_str());
        return 1;
    }
    if (cmd->print_config) {
        std::fputs(ec::config::to_pretty_json(*cfg).c_str(), stdout);
        return 0;
    }
    if (cmd->check_config) {
        // What a start would open: files, listeners, the data dir (like nginx -t).
        auto pre = ec::daemon::preflight(*cfg);
        for (const std::string& p : pre.problems)
            std::fprintf(stderr, "edgecached: %s\n", p.c_str());
        if (!pre.problems.empty()) return 1;
        std::printf("edgecached: configuration %s is valid\n",
                    cfg->config_path.empty() ? "(built-in default)" : cfg->config_path.c_str());
        for (const std::string& n : pre.notes)
            std::printf("edgecached: note: %s\n", n.c_str());
        return 0;
    }
    ec::log::Level level;
    if (ec::log::parse_level(cfg->log_level, &level)) ec::log::set_level(level);
    ec::log::Format format;
    if (ec::log::parse_format(cfg->log_format, &format)) ec::log::set_format(format);
    ec::log::detect_journal();
    raise_fd_limit();
    try {
        ec::daemon::Daemon daemon(std::move(*cfg), std::move(*cmd));
        return daemon.run();
    } catch (const std::exception& e) {
        LOG_ERROR("%s", e.what());
        return 1;
    }
}
