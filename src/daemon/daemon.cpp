// Daemon: wiring config to the loop, store and listeners; signals and graceful shutdown.
#include "daemon/daemon.hpp"

#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/fleet_wiring.hpp"
#include "http/exchange.hpp"
#include "util/log.hpp"
#include "util/units.hpp"

#include "build_config.hpp"

namespace ec::daemon {

namespace {

std::string roles_text(const Roles& r) {
    if (!r.kv_backend.empty()) return "workerd KV backend for namespace " + r.kv_backend;
    std::string s;
    auto add = [&s](bool on, const char* name) {
        if (!on) return;
        if (!s.empty()) s += ", ";
        s += name;
    };
    add(r.kv, "kv");
    add(r.proxy, "proxy");
    add(r.health, "health");
    add(r.metrics, "metrics");
    add(r.admin, "admin");
    return s;
}

Roles roles_of(const config::ListenSpec& spec) {
    Roles roles;
    roles.kv = spec.serve_kv;
    roles.proxy = spec.serve_proxy;
    roles.health = spec.serve_health;
    roles.metrics = spec.serve_metrics;
    roles.kv_backend = spec.kv_backend;
    if (!spec.kv_backend.empty()) roles.kv = roles.proxy = roles.health = roles.metrics = false;
    return roles;
}

// The contexts a listener's TLS object asks for; null for plaintext (no certificates). Throws,
// naming `where`, when they cannot be built.
std::shared_ptr<const tls::ServerTls> server_contexts(const config::ListenTls& spec,
                                                      const std::string& where) {
    if (spec.certificates.empty()) return nullptr;
    auto contexts = tls::ServerTls::build(spec);
    if (!contexts) throw std::runtime_error(where + ": TLS: " + contexts.error().message);
    return std::move(contexts.value());
}

// A socket passed by systemd serves what the `listen` entry with the same address would, so
// "serve" and "kv_backend" still apply; any other one serves what a plain string entry does.
// nullptr when no entry has its address.
const config::ListenSpec* spec_for_socket(const std::string& bound,
                                          const std::vector<config::ListenSpec>& listen) {
    for (const config::ListenSpec& spec : listen)
        if (spec.address == bound) return &spec;
    return nullptr;
}

std::string socket_address(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "";
    return http::describe_address(reinterpret_cast<sockaddr*>(&ss));
}

} // namespace

Daemon::Daemon(config::Config cfg, config::CommandLine cli)
    : cfg_(std::move(cfg)), cli_(std::move(cli)) {
    started_at_ = loop_.clock().now_s();

    store_ = store::Store::open(loop_, store::Options(cfg_));
    // One name for this node: the configured one, else the host name. Clients are shown the
    // host name only when the operator chose it as the node's name.
    const std::string& named = cfg_.node.empty() ? cfg_.fleet.node : cfg_.node;
    std::string node = named;
    if (node.empty()) {
        char host[256] = "";
        if (::gethostname(host, sizeof host - 1) == 0) node = host;
        if (node.empty()) node = "edgecached";
    }
    if (cfg_.fleet.enabled) {
        fleet_ = std::make_unique<fleet::Fleet>(loop_, *store_, cfg_.fleet, node);
        LOG_INFO("fleet: node %s joins the fleet at %zu NATS server(s)", node.c_str(),
                 cfg_.fleet.nats.size());
    }

    server_ = std::make_unique<http::Server>(loop_, http::Limits(cfg_));
    kv_ops_ = std::make_unique<kv::Ops>(*store_, loop_.clock(), ns_stats_);
    native_kv_ = std::make_unique<kv::NativeApi>(*kv_ops_);
    cloudflare_kv_ = std::make_unique<kv::CloudflareApi>(*kv_ops_);
    workerd_kv_ = std::make_unique<kv::WorkerdBackend>(*kv_ops_);
    origins_ = std::make_unique<origin::Origins>(loop_);
    origins_->configure(cfg_.origins);
    proxy_ = std::make_unique<cache::Proxy>(loop_, *store_, *origins_, cfg_);
    proxy_->set_node(node, named.empty() ? "edgecached" : named);
    auto pages = cache::load_error_pages(cfg_.error_pages);
    if (!pages) throw std::runtime_error(pages.error().message);
    proxy_->set_error_pages(std::move(*pages));
    if (fleet_) {
        wire_fleet_purges(*fleet_, *proxy_, *store_);
        wire_fleet_kv(*fleet_, *kv_ops_, *store_);
    }
    // When the map fills up, what the memory tier served recently is evicted last.
    store_->set_eviction_filter([this](std::string_view key) {
        return proxy_->hot().contains(key, loop_.clock().now_ms());
    });
    access_log_ = std::make_unique<AccessLog>(loop_);
    access_log_->open(cfg_.access_log);
    tail_ = std::make_unique<Tail>(loop_, *access_log_);
    admin_ = std::make_unique<admin::AdminApi>(admin::AdminDeps{
        loop_, *server_, *store_, *proxy_, *origins_, latency_, ns_stats_,
        [this]() -> const config::Config& { return cfg_; }, [this] { return reload(); },
        [this] { return first_tcp_listener(); }, started_at_,
        [this] {
            std::vector<tls::CertificateInfo> all;
            for (const Bound& b : bound_)
                if (b.tls && !b.listener->closing)
                    for (const auto& c : b.tls->contexts->certificates())
                        all.push_back(c);
            if (admin_tls_)
                for (const auto& c : admin_tls_->contexts->certificates())
                    all.push_back(c);
            return all;
        },
        [this] {
            std::vector<tls::HandshakeCounts> all;
            for (const Bound& b : bound_)
                if (b.tls && !b.listener->closing)
                    all.push_back({b.listener->bound, b.tls->handshakes, b.tls->refused});
            if (admin_tls_ && admin_tcp_)
                all.push_back({admin_tcp_->bound, admin_tls_->handshakes, admin_tls_->refused});
            return all;
        },
        fleet_.get()});
    apply_runtime_settings();
    server_->on_exchange_done = [this](http::Exchange& ex) {
        // The histogram times the data plane; an operator's polling (stats --watch, scrapes
        // on the admin socket) is not traffic.
        if (!ex.admin()) latency_.record(uv_hrtime() - ex.start_ns());
        access_log_->record(ex);
        tail_->publish(ex);
    };
    systemd_ = std::make_unique<SystemdNotify>(loop_);
    ticket_rotation_ = std::make_unique<tls::TicketRotation>(loop_.uv());
    open_listeners();

    signals_.push_back(
        std::make_unique<loop::Signal>(loop_.uv(), SIGTERM, [this] { begin_shutdown("SIGTERM"); }));
    signals_.push_back(
        std::make_unique<loop::Signal>(loop_.uv(), SIGINT, [this] { begin_shutdown("SIGINT"); }));
    signals_.push_back(
        std::make_unique<loop::Signal>(loop_.uv(), SIGUSR1, [this] { access_log_->reopen(); }));
    signals_.push_back(std::make_unique<loop::Signal>(loop_.uv(), SIGHUP, [this] {
        auto r = reload();
        if (!r)
            LOG_ERROR("reload refused, keeping the running configuration: %s",
                      r.error().message.c_str());
    }));
    for (auto& s : signals_)
        s->unref();
}

Daemon::~Daemon() {
    finish();
}

void Daemon::apply_runtime_settings() {
    server_->set_limits(cfg_);
    store_->apply(cfg_);
    kv_ops_->set_rules(kv::Rules(cfg_));
    proxy_->configure(cfg_);
    // An origin response paused for a stalled client is given up when the client would be.
    origins_->set_max_pause_ms(cfg_.idle_timeout_ms);
    std::string format_error;
    if (auto format = config::compile_access_format(cfg_.access_log_format, &format_error))
        access_log_->set_format(*format); // the loader checked it; this cannot fail
    ec::log::Level lvl;
    if (ec::log::parse_level(cfg_.log_level, &lvl)) ec::log::set_level(lvl);
    ec::log::Format format;
    if (ec::log::parse_format(cfg_.log_format, &format)) ec::log::set_format(format);
}

void Daemon::open_listeners() {
    if (Status st = tls::check_files(cfg_); !st) throw std::runtime_error(st.error().message);
    // Socket activation: the sockets systemd passes replace the configured `listen` list.
    auto activated = SystemdNotify::take_listen_fds();
    socket_activated_ = !activated.empty();
    for (const SystemdNotify::ActivatedSocket& s : activated) {
        static const config::ListenSpec plain{};
        const config::ListenSpec* spec = spec_for_socket(socket_address(s.fd), cfg_.listen);
        Roles roles = roles_of(spec ? *spec : plain);
        auto contexts = spec ? server_contexts(spec->tls, spec->address) : nullptr;
        routers_.push_back(std::make_unique<Router>(*this, roles));
        http::Listener& l = server_->adopt(s.fd, routers_.back().get(), s.name);
        // Its listen entry's TLS too, and reloads swap its certificates like any listener's.
        std::shared_ptr<tls::ListenerTls> tls_state;
        use_tls(l, tls_state, std::move(contexts));
        if (spec) bound_.push_back(Bound{*spec, &l, tls_state});
        // systemd names a socket after its unit unless FileDescriptorName= says otherwise;
        // "unknown" is sd_listen_fds_with_names' word for a socket passed without a name.
        std::string from =
            s.name.empty() || s.name == "unknown" ? "fd " + std::to_string(s.fd) : s.name;
        LOG_INFO("listening on %s (%s%s; socket activation: %s, %s)", l.bound.c_str(),
                 roles_text(roles).c_str(), tls_state ? "; TLS" : "", from.c_str(),
                 spec ? "as its listen entry says" : "no listen entry has this address");
    }
    const std::vector<config::ListenSpec> none;
    for (const config::ListenSpec& spec : socket_activated_ ? none : cfg_.listen)
        open_listener(spec);
    admin_socket_path_ = cfg_.admin_socket;
    if (admin_socket_path_.empty()) {
        const char* rt = std::getenv("RUNTIME_DIRECTORY");
        admin_socket_path_ = (rt && *rt ? std::string(rt) : cfg_.data_dir) + "/admin.sock";
    }
    Roles admin;
    admin.kv = admin.health = admin.admin = true;
    admin.proxy = false;
    routers_.push_back(std::make_unique<Router>(*this, admin));
    http::Listener& l =
        server_->listen("unix:" + admin_socket_path_, routers_.back().get(), "admin");
    l.admin = true;
    if (!cfg_.admin_listen.empty()) {
        auto contexts = server_contexts(cfg_.admin_tls, "admin_tls");
        admin_tcp_ = &bind_admin_tcp(cfg_.admin_listen);
        use_tls(*admin_tcp_, admin_tls_, std::move(contexts));
        admin_tcp_address_ = cfg_.admin_listen;
        LOG_INFO("admin API on %s (bearer token required)", admin_tcp_->bound.c_str());
    }
    // Operators reach the admin socket through the service's group, never the world.
    ::chmod(admin_socket_path_.c_str(), 0660);
    LOG_INFO("admin socket %s", l.bound.c_str() + 5);
}

void Daemon::open_listener(const config::ListenSpec& spec) {
    auto contexts = server_contexts(spec.tls, spec.address);
    Roles roles = roles_of(spec);
    routers_.push_back(std::make_unique<Router>(*this, roles));
    http::Listener& l = server_->listen(spec.address, routers_.back().get(), spec.address);
    std::shared_ptr<tls::ListenerTls> tls_state;
    use_tls(l, tls_state, std::move(contexts));
    bound_.push_back(Bound{spec, &l, tls_state});
    LOG_INFO("listening on %s (%s%s)", l.bound.c_str(), roles_text(roles).c_str(),
             tls_state ? "; TLS" : "");
}

void Daemon::use_tls(http::Listener& l, std::shared_ptr<tls::ListenerTls>& state,
                     std::shared_ptr<const tls::ServerTls> contexts) {
    if (!contexts) {
        l.wrap = {};
        state.reset();
        return;
    }
    if (!state) {
        state = std::make_shared<tls::ListenerTls>();
        l.wrap = tls::server_wrap(loop_, state);
    }
    state->contexts = std::move(contexts); // handshakes from now on; sessions keep theirs
}

http::Listener& Daemon::bind_admin_tcp(const std::string& address) {
    Roles roles;
    roles.kv = roles.health = roles.admin = roles.admin_token = true;
    roles.proxy = false;
    routers_.push_back(std::make_unique<Router>(*this, roles));
    http::Listener& l = server_->listen(address, routers_.back().get(), "admin-tcp");
    l.admin = true;
    return l;
}

std::string Daemon::first_tcp_listener() const {
    for (const Bound& b : bound_)
        if (!b.listener->is_unix && !b.listener->closing && b.spec.serve_proxy)
            return b.listener->bound;
    for (const auto& l : server_->listeners())
        if (!l->is_unix && !l->closing && l.get() != admin_tcp_) return l->bound;
    return "";
}

int Daemon::run() {
    LOG_INFO("edgecached %s ready (data dir %s, map size %s, durability %s)", EC_VERSION,
             cfg_.data_dir.c_str(), format_size(cfg_.map_size).c_str(),
             cfg_.durability == config::Durability::sync ? "sync" : "batch");
    // Listeners are bound and listening: connections queue in their backlogs from now on.
    notify_ready();
    systemd_->start_watchdog();
    loop_.run();
    finish();
    LOG_INFO("edgecached stopped");
    return 0;
}

void Daemon::begin_shutdown(const char* why) {
    if (draining_) {
        LOG_WARN("%s during shutdown: closing remaining connections now", why);
        server_->close_all_connections();
        return;
    }
    draining_ = true;
    tail_->shutdown(); // tail streams never end by themselves
    systemd_->stopping("draining " + std::to_string(server_->connection_count()) +
                       " connection(s)");
    LOG_INFO("%s: draining %zu connection(s), up to %u ms", why, server_->connection_count(),
             cfg_.drain_timeout_ms);
    drain_timer_ = std::make_unique<loop::Timer>(loop_.uv(), [this] {
        LOG_WARN("drain timeout: closing %zu connection(s)", server_->connection_count());
        server_->close_all_connections();
    });
    drain_timer_->start(cfg_.drain_timeout_ms);
    server_->drain([this] {
        drain_timer_.reset();
        ticket_rotation_.reset();
        finish();
    });
}

void Daemon::notify_reloading() {
    systemd_->reloading();
}

void Daemon::notify_ready() {
    // "serving 2 listener(s): 127.0.0.1:8787, unix:/run/x.sock" for `systemctl status`.
    std::string text;
    size_t n = 0;
    for (const auto& l : server_->listeners()) {
        if (l->name == "admin") continue;
        text += (n++ ? ", " : ": ") + l->bound;
    }
    systemd_->ready("serving " + std::to_string(n) + " listener(s)" + text);
}

// Closes listeners and connections, commits and closes the store, and stops every handle so
// the loop runs dry. Objects are destroyed only after the loop has run their close callbacks.
void Daemon::finish() {
    if (finished_) return;
    finished_ = true;
    if (systemd_) systemd_->stop_watchdog();
    signals_.clear();
    // Closing the watchers restored the default actions: a second SIGTERM during the final
    // commit must not kill the process half-way (SIGKILL still does).
    std::signal(SIGTERM, SIG_IGN);
    std::signal(SIGINT, SIG_IGN);
    drain_timer_.reset();
    if (server_) server_->shutdown();
    if (admin_) admin_->shutdown();
    if (proxy_) proxy_->shutdown();
    if (origins_) origins_->shutdown();
    // The NATS thread stops before the store closes: no apply is submitted after this.
    fleet_.reset();
    if (store_) store_->flush();
    store_.reset();
    if (access_log_) access_log_->flush();
}

} // namespace ec::daemon
