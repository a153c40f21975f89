// Preflight: the files, sockets and directories a start would open, tried without starting.
#include "daemon/preflight.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/file.h>
#include <unistd.h>

#include "cache/error_pages.hpp"
#include "daemon/access_log.hpp"
#include "http/server.hpp"
#include "loop/loop.hpp"
#include "tls/listener_tls.hpp"

namespace ec::daemon {

namespace {

// "" when `dir` is (or can be created as) a directory this process may write in.
std::string check_data_dir(const std::string& dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path p(dir);
    auto st = fs::status(p, ec);
    if (!ec && fs::exists(st)) {
        if (!fs::is_directory(st)) return "data_dir " + dir + ": not a directory";
        if (::access(dir.c_str(), W_OK | X_OK) != 0)
            return "data_dir " + dir + ": " + std::strerror(errno);
        return "";
    }
    // A start creates it and its missing parents: the nearest existing ancestor must be writable.
    fs::path parent = fs::absolute(p, ec).parent_path();
    while (!parent.empty() && !fs::exists(parent, ec) && parent != parent.parent_path())
        parent = parent.parent_path();
    if (!fs::is_directory(parent, ec))
        return "data_dir " + dir + ": cannot be created (" + parent.string() +
               " is not a directory)";
    if (::access(parent.c_str(), W_OK | X_OK) != 0)
        return "data_dir " + dir + ": cannot be created in " + parent.string() + ": " +
               std::strerror(errno);
    return "";
}

// Whether another process holds the data dir's lock (a running edgecached).
bool data_dir_in_use(const std::string& dir) {
    std::string path = dir + "/lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return false;
    bool held = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    ::close(fd); // releases the lock if we took it
    return held;
}

} // namespace

PreflightResult preflight(const config::Config& cfg) {
    PreflightResult r;
    if (std::string p = check_data_dir(cfg.data_dir); !p.empty()) r.problems.push_back(p);

    if (auto f = open_access_log(cfg.access_log); !f) r.problems.push_back(f.error().message);
    if (auto p = cache::load_error_pages(cfg.error_pages); !p)
        r.problems.push_back(p.error().message);
    if (Status st = tls::check_files(cfg); !st) r.problems.push_back(st.error().message);

    if (data_dir_in_use(cfg.data_dir)) {
        r.notes.push_back("data dir " + cfg.data_dir +
                          " is in use by a running edgecached: its listeners were not tried "
                          "(edgecachectl reload binds the new ones or refuses)");
        return r;
    }
    std::vector<std::string> addresses;
    const char* fds = std::getenv("LISTEN_FDS");
    if (fds && *fds)
        r.notes.push_back("LISTEN_FDS is set: listen is replaced by the sockets systemd passes");
    else
        for (const config::ListenSpec& spec : cfg.listen)
            addresses.push_back(spec.address);
    // The admin socket usually lives in the data dir, which a start creates first.
    std::error_code ec;
    auto socket_dir = std::filesystem::path(cfg.admin_socket).parent_path();
    if (socket_dir.empty() || std::filesystem::is_directory(socket_dir, ec))
        addresses.push_back("unix:" + cfg.admin_socket);
    if (!cfg.admin_listen.empty()) addresses.push_back(cfg.admin_listen);

    loop::Loop loop;
    {
        http::Server server(loop, http::Limits{});
        for (const std::string& a : addresses) {
            try {
                server.listen(a, nullptr, "preflight");
            } catch (const std::exception& e) {
                r.problems.push_back(e.what());
            }
        }
        server.shutdown();
        loop.run(); // the close callbacks
    }
    return r;
}

} // namespace ec::daemon
