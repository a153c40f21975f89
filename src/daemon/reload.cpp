// Daemon::reload: build everything the new configuration needs, then swap it in, or refuse.
#include <functional>
#include <optional>

#include <simdjson.h>

#include "daemon/daemon.hpp"
#include "util/log.hpp"

namespace ec::daemon {

namespace {

// Names of the top-level options whose JSON differs between two configs, in `next`'s order.
std::vector<std::string> changed_options(const config::Config& running,
                                         const config::Config& next) {
    std::vector<std::string> changed;
    std::string old_json = config::to_json(running), new_json = config::to_json(next);
    if (old_json == new_json) return changed;
    simdjson::dom::parser pa, pb;
    simdjson::padded_string ja(old_json), jb(new_json);
    simdjson::dom::object a, b;
    if (pa.parse(ja).get_object().get(a) || pb.parse(jb).get_object().get(b)) return changed;
    for (auto field : b) {
        simdjson::dom::element old;
        if (a[field.key].get(old) || simdjson::minify(old) != simdjson::minify(field.value))
            changed.emplace_back(field.key);
    }
    return changed;
}

// Whether `next` describes the listener `running` already is: the same address and roles. Its
// TLS settings may differ; a reload changes them on the listener.
bool same_listener(const config::ListenSpec& running, const config::ListenSpec& next) {
    config::ListenSpec other_tls = next;
    other_tls.tls = running.tls;
    return other_tls == running;
}

} // namespace

Result<admin::ReloadReport> Daemon::reload() {
    notify_reloading();
    struct ReadyAgain {
        Daemon* d;
        ~ReadyAgain() { d->notify_ready(); }
    } ready_again{this};
    auto next = config::load(cli_, config::Environment::from_process());
    if (!next) return make_error(400, "invalid_config", next.error().message);
    config::Config& n = *next;

    admin::ReloadReport report;
    report.pending_restart = config::reload_changes(cfg_, n);
    for (const std::string& name : report.pending_restart)
        LOG_WARN("reload: %s changed but needs a restart; keeping the running value", name.c_str());
    config::keep_restart_only(cfg_, n);
    if (socket_activated_) n.listen = cfg_.listen;

    // Build: nothing running is touched until everything below has succeeded.
    std::optional<AccessLogFile> log_file;
    if (n.access_log != cfg_.access_log) {
        auto f = open_access_log(n.access_log);
        if (!f) return make_error(400, "access_log", f.error().message);
        log_file.emplace(std::move(*f));
    }
    auto pages = cache::load_error_pages(n.error_pages);
    if (!pages) return make_error(400, "error_pages", pages.error().message);
    // Every certificate and key is read and checked before anything is swapped: an invalid file
    // refuses the reload and the running contexts stay.
    if (Status st = tls::check_files(n); !st) return make_error(400, "tls", st.error().message);
    // A listen entry whose address and roles stay is the same listener: its TLS settings (new
    // certificate files, TLS turned on or off) change in place, since binding its address
    // again would fail while it holds it. Entries are paired with listeners one to one, exact
    // matches first ("127.0.0.1:0" may be listed twice). Sockets from systemd stay as they are.
    struct TlsChange {
        size_t bound; // index in bound_
        config::ListenSpec spec;
        std::shared_ptr<const tls::ServerTls> contexts; // null: plaintext
    };
    std::vector<TlsChange> tls_changes;
    std::vector<bool> kept(bound_.size(), false);
    std::vector<const config::ListenSpec*> unpaired;
    auto pair_with = [&](const config::ListenSpec& spec, auto&& match) -> std::optional<size_t> {
        for (size_t i = 0; i < bound_.size(); ++i)
            if (!kept[i] && !bound_[i].listener->closing && match(bound_[i].spec, spec)) {
                kept[i] = true;
                return i;
            }
        return std::nullopt;
    };
    for (const auto& spec : n.listen) {
        auto i = pair_with(spec, std::equal_to<config::ListenSpec>());
        if (!i) {
            unpaired.push_back(&spec);
            continue;
        }
        if (bound_[*i].tls) tls_changes.push_back({*i, spec, nullptr}); // reread its files
    }
    std::vector<config::ListenSpec> added;
    for (const config::ListenSpec* spec : unpaired) {
        if (auto i = pair_with(*spec, same_listener))
            tls_changes.push_back({*i, *spec, nullptr});
        else if (!socket_activated_)
            added.push_back(*spec);
    }
    for (TlsChange& change : tls_changes) {
        if (change.spec.tls.certificates.empty()) continue;
        auto contexts = tls::ServerTls::build(change.spec.tls);
        if (!contexts) return make_error(400, "tls", contexts.error().message);
        change.contexts = std::move(contexts.value());
    }
    std::shared_ptr<const tls::ServerTls> admin_contexts;
    if (!n.admin_listen.empty() && !n.admin_tls.certificates.empty()) {
        auto contexts = tls::ServerTls::build(n.admin_tls);
        if (!contexts) return make_error(400, "tls", contexts.error().message);
        admin_contexts = std::move(contexts.value());
    }
    const size_t before = bound_.size();
    auto undo_added = [&] {
        for (size_t i = before; i < bound_.size(); ++i)
            server_->close_listener(*bound_[i].listener);
        bound_.resize(before);
    };
    for (const auto& spec : added) {
        try {
            open_listener(spec);
        } catch (const std::exception& e) {
            undo_added();
            return make_error(400, "listen_failed", e.what());
        }
    }
    http::Listener* new_admin_tcp = nullptr;
    const bool admin_tcp_moves = n.admin_listen != admin_tcp_address_;
    if (admin_tcp_moves && !n.admin_listen.empty()) {
        try {
            new_admin_tcp = &bind_admin_tcp(n.admin_listen);
        } catch (const std::exception& e) {
            undo_added();
            return make_error(400, "listen_failed", std::string(e.what()) + " (admin_listen)");
        }
    }

    // Swap: nothing from here on can fail.
    for (TlsChange& change : tls_changes) {
        Bound& b = bound_[change.bound];
        if (!b.tls != !change.contexts)
            LOG_INFO("reload: %s %s", b.listener->bound.c_str(),
                     change.contexts ? "now speaks TLS" : "no longer speaks TLS");
        b.spec = std::move(change.spec);
        use_tls(*b.listener, b.tls, std::move(change.contexts));
    }
    for (size_t i = 0; i < kept.size(); ++i) {
        Bound& b = bound_[i];
        if (!kept[i] && !b.listener->closing) {
            LOG_INFO("reload: no longer listening on %s", b.listener->bound.c_str());
            server_->close_listener(*b.listener);
        }
    }
    std::erase_if(bound_, [](const Bound& b) { return b.listener->closing; });
    if (admin_tcp_moves) {
        if (admin_tcp_) {
            LOG_INFO("no longer serving the admin API on %s", admin_tcp_->bound.c_str());
            server_->close_listener(*admin_tcp_);
        }
        admin_tcp_ = new_admin_tcp;
        admin_tcp_address_ = n.admin_listen;
        admin_tls_.reset(); // the old listener's connections keep the state its wrap holds
        if (admin_tcp_)
            LOG_INFO("admin API on %s (bearer token required)", admin_tcp_->bound.c_str());
    }
    report.changes = changed_options(cfg_, n);
    cfg_ = std::move(n);
    if (log_file) access_log_->use(std::move(*log_file));
    proxy_->set_error_pages(std::move(*pages));
    if (admin_tcp_) use_tls(*admin_tcp_, admin_tls_, std::move(admin_contexts));
    origins_->configure(cfg_.origins);
    apply_runtime_settings();
    LOG_INFO("configuration reloaded (%zu option(s) changed%s)", report.changes.size(),
             report.pending_restart.empty() ? "" : ", some waiting for a restart");
    return report;
}

} // namespace ec::daemon
