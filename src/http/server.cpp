// Server: binding listeners, accepting under the connection cap, sweeping timeouts, draining.
#include "http/server.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "http/connection.hpp"
#include "net/socket_stream.hpp"
#include "util/address.hpp"
#include "util/log.hpp"
#include "util/time_format.hpp"

namespace ec::http {

namespace {

constexpr int kBacklog = 1024;
constexpr size_t kMaxPooledBuffers = 256;
constexpr size_t kMaxPooledBatches = 256;
constexpr size_t kMaxRejecting = 1024; // busy 503s in flight; beyond that, close at once
constexpr size_t kAdminReserve = 16;   // admin listeners' connections past the cap

[[noreturn]] void listen_error(const std::string& address, const std::string& why) {
    throw std::runtime_error("cannot listen on " + address + ": " + why);
}

// True when something accepts connections on the unix socket at path (a live daemon).
bool unix_socket_alive(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
    bool alive = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    ::close(fd);
    return alive;
}

} // namespace

std::string describe_address(const sockaddr* sa) {
    // Formatted into a buffer: GCC 12 at -O3 reports a false -Wrestrict for string
    // concatenation here (`"[" + std::string(host)`, and appends alike).
    char host[INET6_ADDRSTRLEN] = "?";
    char out[sizeof(sockaddr_un::sun_path) + 16];
    if (sa->sa_family == AF_INET) {
        auto* in = reinterpret_cast<const sockaddr_in*>(sa);
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        std::snprintf(out, sizeof out, "%s:%u", host, unsigned{ntohs(in->sin_port)});
    } else if (sa->sa_family == AF_INET6) {
        auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        std::snprintf(out, sizeof out, "[%s]:%u", host, unsigned{ntohs(in6->sin6_port)});
    } else if (sa->sa_family == AF_UNIX) {
        const char* path = reinterpret_cast<const sockaddr_un*>(sa)->sun_path;
        std::snprintf(out, sizeof out, "unix:%.*s",
                      static_cast<int>(::strnlen(path, sizeof(sockaddr_un::sun_path))), path);
    } else {
        return "?";
    }
    return out;
}

Server::Server(loop::Loop& loop, Limits limits) : loop_(loop), limits_(limits) {
    sweep_timer_ = std::make_unique<loop::Timer>(loop_.uv(), [this] { sweep(); });
    arm_sweep();
}

Server::~Server() {
    shutdown();
    for (char* b : free_bufs_)
        delete[] b;
    for (WriteBatch* b : free_batches_)
        delete b;
}

void Server::shutdown() {
    for (auto& l : listeners_)
        close_listener(*l);
    close_all_connections();
    sweep_timer_.reset();
}

// Sweep often enough that the shortest timeout fires within a quarter of its length.
void Server::arm_sweep() {
    uint64_t shortest = std::min<uint64_t>(limits_.header_timeout_ms, limits_.idle_timeout_ms);
    shortest = std::min<uint64_t>(shortest, limits_.linger_ms);
    uint64_t every = std::clamp<uint64_t>(shortest / 4, 10, 1000);
    sweep_timer_->start(every, every);
    sweep_timer_->unref(); // connections keep the loop alive, not the sweeper
}

void Server::set_limits(const config::ClientLimits& limits) {
    static_cast<config::ClientLimits&>(limits_) = limits;
    if (sweep_timer_) arm_sweep();
}

Listener& Server::listen(const std::string& address, Handler* handler, std::string name) {
    auto l = std::make_unique<Listener>();
    l->server = this;
    l->handler = handler;
    l->name = std::move(name);
    l->address = address;
    uv_loop_t* uvl = loop_.uv();
    auto parsed = parse_listen_address(address);
    if (!parsed) listen_error(address, parsed.error().message);
    int rc;
    if (parsed->kind == Address::Kind::unix_path) {
        const std::string& path = parsed->path;
        struct stat st;
        if (::lstat(path.c_str(), &st) == 0) {
            if (!S_ISSOCK(st.st_mode)) listen_error(address, "path exists and is not a socket");
            if (unix_socket_alive(path)) listen_error(address, "another process is listening");
            ::unlink(path.c_str()); // stale socket left by a crashed run
        }
        uv_pipe_t* pipe = &l->handle.get()->pipe;
        uv_pipe_init(uvl, pipe, 0);
        l->handle.mark_initialized();
        l->is_unix = true;
        rc = uv_pipe_bind(pipe, path.c_str());
        if (rc == 0) l->bound = address;
    } else {
        // parse_listen_address accepted an IP literal of this family: the conversion succeeds.
        sockaddr_storage ss{};
        if (parsed->kind == Address::Kind::ipv6)
            uv_ip6_addr(parsed->host.c_str(), parsed->port, reinterpret_cast<sockaddr_in6*>(&ss));
        else
            uv_ip4_addr(parsed->host.c_str(), parsed->port, reinterpret_cast<sockaddr_in*>(&ss));
        uv_tcp_t* tcp = &l->handle.get()->tcp;
        uv_tcp_init(uvl, tcp);
        l->handle.mark_initialized();
        rc = uv_tcp_bind(tcp, reinterpret_cast<sockaddr*>(&ss),
                         ss.ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
        if (rc == 0) {
            sockaddr_storage bound{};
            int len = sizeof bound;
            uv_tcp_getsockname(tcp, reinterpret_cast<sockaddr*>(&bound), &len);
            l->bound = describe_address(reinterpret_cast<sockaddr*>(&bound));
        }
    }
    l->handle.get()->handle.data = l.get();
    if (rc == 0) rc = uv_listen(l->stream(), kBacklog, on_connection);
    if (rc != 0) { // the handle closes with `l`
        listen_error(address, uv_strerror(rc));
    }
    listeners_.push_back(std::move(l));
    return *listeners_.back();
}

Listener& Server::adopt(int fd, Handler* handler, std::string name) {
    auto l = std::make_unique<Listener>();
    l->server = this;
    l->handler = handler;
    l->name = std::move(name);
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
        throw std::runtime_error("socket activation: fd " + std::to_string(fd) +
                                 " is not a socket");
    l->bound = l->address = describe_address(reinterpret_cast<sockaddr*>(&ss));
    int rc;
    if (ss.ss_family == AF_UNIX) {
        uv_pipe_t* pipe = &l->handle.get()->pipe;
        uv_pipe_init(loop_.uv(), pipe, 0);
        l->handle.mark_initialized();
        l->is_unix = true;
        rc = uv_pipe_open(pipe, fd);
    } else {
        uv_tcp_t* tcp = &l->handle.get()->tcp;
        uv_tcp_init(loop_.uv(), tcp);
        l->handle.mark_initialized();
        rc = uv_tcp_open(tcp, fd);
    }
    l->handle.get()->handle.data = l.get();
    if (rc == 0) rc = uv_listen(l->stream(), kBacklog, on_connection);
    if (rc != 0) { // the handle closes with `l`
        throw std::runtime_error("socket activation: cannot listen on fd " + std::to_string(fd) +
                                 ": " + uv_strerror(rc));
    }
    listeners_.push_back(std::move(l));
    return *listeners_.back();
}

void Server::close_listener(Listener& l) {
    if (l.closing) return;
    l.closing = true;
    if (l.is_unix && l.address.rfind("unix:", 0) == 0) ::unlink(l.address.c_str() + 5);
    l.handle.close(); // no accept callback after this
    // Connections accepted on it keep a pointer to the Listener: it stays allocated (and in
    // listeners_) until they are gone; a closed listener is never used to accept again.
}

bool Server::adopt_connection_for_test(int fd, Listener& l) {
    auto* s = net::SocketStream::create(loop_.uv(), net::SocketStream::Kind::unix_socket);
    if (!l.is_unix || s->open(fd) != 0) {
        ::close(fd);
        s->close();
        return false;
    }
    auto* c = new Connection(*this, l, l.wrap ? l.wrap(s, {}) : s);
    link(c);
    ++(l.admin ? stats_.admin_accepted : stats_.accepted);
    c->start();
    return true;
}

void Server::on_connection(uv_stream_t* server, int status) noexcept {
    auto* l = static_cast<Listener*>(server->data);
    if (!l) return;
    if (status < 0) {
        LOG_WARN("accept on %s failed: %s", l->bound.c_str(), uv_strerror(status));
        return;
    }
    l->server->accept_one(*l);
}

void Server::accept_one(Listener& l) {
    auto* s = net::SocketStream::create(loop_.uv(), l.is_unix ? net::SocketStream::Kind::unix_socket
                                                              : net::SocketStream::Kind::tcp);
    if (s->accept(l.stream()) != 0) {
        s->close();
        return;
    }
    auto* c = new Connection(*this, l, l.wrap ? l.wrap(s, {}) : s);
    link(c);
    // An operator's polling (edgecachectl stats --watch) is not traffic.
    ++(l.admin ? stats_.admin_accepted : stats_.accepted);
    if (draining_) {
        c->close();
        return;
    }
    if (connections_ > limits_.max_connections + (l.admin ? kAdminReserve : 0)) {
        // At the cap: answer 503 instead of leaving the client hanging in the backlog. These
        // connections don't count against the cap, but are themselves bounded.
        --connections_;
        if (l.admin) --admin_connections_;
        ++rejecting_;
        ++stats_.rejected_busy;
        c->reject_busy(rejecting_ <= kMaxRejecting);
        return;
    }
    c->start();
}

void Server::link(Connection* c) {
    c->next = head_;
    if (head_) head_->prev = c;
    head_ = c;
    ++connections_;
    if (c->admin()) ++admin_connections_;
}

void Server::unlink(Connection* c) {
    if (!c->prev && head_ != c) return; // not in the list
    if (c->prev)
        c->prev->next = c->next;
    else
        head_ = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = nullptr;
    // Busy rejections were taken off the connection count at accept.
    if (c->rejected()) {
        --rejecting_;
    } else {
        --connections_;
        if (c->admin()) --admin_connections_;
    }
    check_drained();
}

void Server::sweep() {
    uint64_t now = loop_.clock().mono_ms();
    for (Connection* c = head_; c;) {
        Connection* next = c->next; // check_timeouts may close (and unlink) c
        c->check_timeouts(now);
        c = next;
    }
}

void Server::output_queued(size_t n) {
    queued_output_ += n;
    if (queued_output_ > limits_.max_queued_output) shed_output();
}

// Closes connections holding output until what is held fits the budget again: first those
// never seen reading, oldest first, then those seen reading longest ago. A client that reads,
// however slowly, keeps its read_seen_ms_ recent; a newcomer that has not read yet is not
// preferred over it. The scan is linear, but it runs only over the budget, and each run
// brings the total back under it.
void Server::shed_output() {
    uint64_t now = loop_.clock().mono_ms();
    size_t reached = queued_output_;
    std::vector<Connection*> held;
    for (Connection* c = head_; c; c = c->next) {
        if (c->output_held() == 0 || c->admin()) continue;
        c->note_write_progress(now);
        held.push_back(c);
    }
    std::sort(held.begin(), held.end(), [](const Connection* a, const Connection* b) {
        if (a->read_seen_ms() != b->read_seen_ms()) return a->read_seen_ms() < b->read_seen_ms();
        return a->held_since_ms() < b->held_since_ms();
    });
    size_t closed = 0;
    uint64_t stalled_ms = 0;
    if (!held.empty()) {
        const Connection* c = held.front();
        stalled_ms = now - (c->read_seen_ms() ? c->read_seen_ms() : c->held_since_ms());
    }
    for (Connection* c : held) {
        if (queued_output_ <= limits_.max_queued_output) break;
        ++closed;
        c->close(); // takes its bytes off queued_output_
    }
    stats_.shed += closed;
    uint64_t held_back = 0;
    if (closed > 0 && shed_log_.allow(now, &held_back))
        LOG_WARN("queued output reached %zu bytes (max_queued_output %zu): closed %zu "
                 "connection(s) whose clients had stopped reading (longest for %llu ms); "
                 "%llu more such run(s) since the last line",
                 reached, limits_.max_queued_output, closed,
                 static_cast<unsigned long long>(stalled_ms),
                 static_cast<unsigned long long>(held_back));
}

// Refuses the uploads in progress that advanced least recently until the bodies held fit the
// budget again; the caller's own upload, which just advanced, goes last. Bodies of requests
// being handled are counted but not refused: their responses are on the way.
bool Server::body_buffered(size_t n, Connection* self) {
    buffered_bodies_ += n;
    if (buffered_bodies_ <= limits_.max_buffered_bodies) return true;
    size_t reached = buffered_bodies_;
    std::vector<Connection*> uploads;
    for (Connection* c = head_; c; c = c->next)
        if (c != self && c->uploading() && !c->admin()) uploads.push_back(c);
    std::sort(uploads.begin(), uploads.end(), [](const Connection* a, const Connection* b) {
        return a->body_progress_ms() < b->body_progress_ms();
    });
    size_t refused = 0;
    for (Connection* c : uploads) {
        if (buffered_bodies_ <= limits_.max_buffered_bodies) break;
        ++refused;
        c->refuse_upload(); // takes its bytes off buffered_bodies_
    }
    bool fits = buffered_bodies_ <= limits_.max_buffered_bodies;
    if (!fits) ++refused; // the caller refuses its own
    stats_.bodies_shed += refused;
    uint64_t held_back = 0;
    if (refused > 0 && body_shed_log_.allow(loop_.clock().mono_ms(), &held_back))
        LOG_WARN("request bodies held reached %zu bytes (max_buffered_bodies %zu): refused %zu "
                 "upload(s) with 503; %llu more such run(s) since the last line",
                 reached, limits_.max_buffered_bodies, refused,
                 static_cast<unsigned long long>(held_back));
    return fits;
}

void Server::drain(std::function<void()> on_drained) {
    draining_ = true;
    on_drained_ = std::move(on_drained);
    for (auto& l : listeners_)
        close_listener(*l);
    for (Connection* c = head_; c;) {
        Connection* next = c->next;
        c->drain();
        c = next;
    }
    check_drained();
}

void Server::check_drained() {
    if (draining_ && head_ == nullptr && on_drained_) {
        auto cb = std::move(on_drained_);
        on_drained_ = nullptr;
        loop_.post(std::move(cb));
    }
}

void Server::close_all_connections() {
    while (head_)
        head_->close();
}

std::string_view Server::date() {
    int64_t now = loop_.clock().now_s();
    if (now != date_second_) {
        date_second_ = now;
        date_.clear();
        append_http_date(date_, now);
    }
    return date_;
}

char* Server::take_read_buffer() {
    if (free_bufs_.empty()) return new char[kReadBufSize];
    char* b = free_bufs_.back();
    free_bufs_.pop_back();
    return b;
}

void Server::give_read_buffer(char* buf, size_t cap) {
    if (cap == kReadBufSize && free_bufs_.size() < kMaxPooledBuffers)
        free_bufs_.push_back(buf);
    else
        delete[] buf;
}

WriteBatch* Server::take_batch() {
    if (free_batches_.empty()) return new WriteBatch;
    WriteBatch* b = free_batches_.back();
    free_batches_.pop_back();
    return b;
}

void Server::give_batch(WriteBatch* b) {
    // A batch that once carried a huge head keeps a huge buffer: don't pool those.
    if (free_batches_.size() < kMaxPooledBatches && b->bytes.capacity() <= 64 * 1024) {
        b->clear();
        free_batches_.push_back(b);
    } else {
        delete b;
    }
}

} // namespace ec::http
