// AdminClient: blocking Unix-socket HTTP/1.1 with keep-alive, pipelining and streamed bodies.
#include "admin_client.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <llhttp.h>

#include "util/strings.hpp"

#include "build_config.hpp"

namespace ec::ctl {

const std::string* Response::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (iequals(k, name)) return &v;
    return nullptr;
}

std::string resolve_socket(const std::string& flag) {
    if (!flag.empty()) return flag;
    const char* env = std::getenv("EDGECACHE_SOCKET");
    if (env && *env) return env;
    constexpr const char* kSystem = "/run/edgecached/admin.sock";
    constexpr const char* kLocal = "./edgecache-data/admin.sock";
    struct stat st;
    if (::stat(kSystem, &st) == 0) return kSystem;
    // tools/run's socket, relative to the working directory: only a socket of this user's own,
    // never one another user planted in a shared directory (it would read what we send and
    // answer what it likes).
    if (::stat(kLocal, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_uid == ::getuid()) return kLocal;
    return kSystem; // "cannot connect to /run/edgecached/admin.sock: is edgecached running?"
}

namespace {

// What the llhttp callbacks fill in for one response. Callbacks are noexcept C trampolines:
// an exception from the body callback is parked here and rethrown after llhttp returns.
struct ParseState {
    Response* resp = nullptr;
    const BodyCallback* on_body = nullptr;
    size_t head_bytes = 0;       // status line excluded; bounded by kMaxResponseHead
    const char* limit = nullptr; // the bound the response went past
    std::string field, value;
    bool in_value = false;
    bool complete = false;
    bool keep_alive = false;
    std::exception_ptr error;
};

inline ParseState* state(llhttp_t* p) {
    return static_cast<ParseState*>(p->data);
}

// What a reply may make edgecachectl hold: a socket that streams without end (not edgecached,
// or a broken one) gets a clear error instead of all the memory there is. Bodies handed to a
// BodyCallback (streamed NDJSON, `kv get` values) are not held, so not bounded here.
constexpr size_t kMaxResponseHead = 64 * 1024;
constexpr size_t kMaxBufferedBody = 128u << 20;
constexpr const char* kHeadTooLarge = "the response head is larger than 64 KiB";
constexpr const char* kBodyTooLarge = "the response body is larger than 128 MiB";

int fail_in_callback(ParseState* s, const char* what) {
    s->limit = what;
    return -1;
}

void flush_header(ParseState* s) {
    if (!s->in_value && s->field.empty()) return;
    s->resp->headers.emplace_back(std::move(s->field), std::move(s->value));
    s->field.clear();
    s->value.clear();
    s->in_value = false;
}

const llhttp_settings_t& settings() {
    static const llhttp_settings_t s = [] {
        llhttp_settings_t st;
        llhttp_settings_init(&st);
        st.on_header_field = [](llhttp_t* p, const char* at, size_t n) noexcept {
            ParseState* s = state(p);
            if ((s->head_bytes += n) > kMaxResponseHead) return fail_in_callback(s, kHeadTooLarge);
            if (s->in_value) flush_header(s);
            s->field.append(at, n);
            return 0;
        };
        st.on_header_value = [](llhttp_t* p, const char* at, size_t n) noexcept {
            ParseState* s = state(p);
            if ((s->head_bytes += n) > kMaxResponseHead) return fail_in_callback(s, kHeadTooLarge);
            s->value.append(at, n);
            s->in_value = true;
            return 0;
        };
        st.on_headers_complete = [](llhttp_t* p) noexcept {
            ParseState* s = state(p);
            flush_header(s);
            s->resp->status = p->status_code;
            s->keep_alive = llhttp_should_keep_alive(p) != 0;
            return 0;
        };
        st.on_body = [](llhttp_t* p, const char* at, size_t n) noexcept {
            ParseState* s = state(p);
            if (!s->on_body || !*s->on_body) {
                std::string& body = s->resp->body;
                if (n > kMaxBufferedBody - body.size()) return fail_in_callback(s, kBodyTooLarge);
                // Grow by doubling, but never past the limit (a doubling from 64 MiB would
                // take 256 MiB for a body refused at 128).
                if (body.size() + n > body.capacity())
                    body.reserve(
                        std::min(std::max(2 * body.capacity(), body.size() + n), kMaxBufferedBody));
                body.append(at, n);
                return 0;
            }
            try {
                (*s->on_body)(*s->resp, std::string_view(at, n));
            } catch (...) {
                s->error = std::current_exception();
                return -1;
            }
            return 0;
        };
        st.on_message_complete = [](llhttp_t* p) noexcept {
            state(p)->complete = true;
            // Stop right after this message: what follows belongs to the next response.
            return static_cast<int>(HPE_PAUSED);
        };
        return st;
    }();
    return s;
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
    throw CliError(kError, "admin socket " + path + ": " + what);
}

} // namespace

AdminClient::~AdminClient() {
    close();
}

void AdminClient::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    must_close_ = false;
    rbuf_.clear();
}

void AdminClient::use_tcp(const std::string& url) {
    std::string_view rest = url;
    if (!rest.starts_with("http://"))
        throw UsageError("", "--url takes http://HOST:PORT (admin_listen), got '" + url + "'");
    rest.remove_prefix(7);
    while (rest.ends_with('/'))
        rest.remove_suffix(1);
    size_t colon = rest.rfind(':');
    std::string_view host = colon == std::string_view::npos ? rest : rest.substr(0, colon);
    std::string_view port = colon == std::string_view::npos ? "" : rest.substr(colon + 1);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    if (host.empty() || port.empty() || rest.find('/') != std::string_view::npos ||
        port.find_first_not_of("0123456789") != std::string_view::npos)
        throw UsageError("", "--url takes http://HOST:PORT (admin_listen), got '" + url + "'");
    close();
    tcp_host_ = std::string(host);
    tcp_port_ = std::string(port);
    path_ = url;
}

void AdminClient::connect_tcp() {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = ::getaddrinfo(tcp_host_.c_str(), tcp_port_.c_str(), &hints, &res);
    if (rc != 0) throw CliError(kError, "cannot resolve " + path_ + ": " + ::gai_strerror(rc));
    int err = ECONNREFUSED;
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
        int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int c;
        do {
            c = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
        } while (c != 0 && errno == EINTR);
        if (c == 0) {
            fd_ = fd;
            ::freeaddrinfo(res);
            return;
        }
        err = errno;
        ::close(fd);
    }
    ::freeaddrinfo(res);
    if (err == ECONNREFUSED)
        throw CliError(kError, "cannot connect to " + path_ + ": is edgecached running?", true);
    throw CliError(kError, "cannot connect to " + path_ + ": " + std::strerror(err));
}

void AdminClient::connect() {
    close();
    if (!tcp_host_.empty()) return connect_tcp();
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path_.size() >= sizeof sa.sun_path)
        throw CliError(kError, "socket path is too long (" + std::to_string(path_.size()) +
                                   " bytes, at most " + std::to_string(sizeof sa.sun_path - 1) +
                                   "): " + path_);
    std::memcpy(sa.sun_path, path_.data(), path_.size());
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail(path_, std::strerror(errno));
    int rc;
    do {
        rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        int err = errno;
        ::close(fd);
        // Nothing there, or a socket file left behind by a daemon that is gone.
        if (err == ENOENT || err == ECONNREFUSED || err == ENOTDIR)
            throw CliError(kError, "cannot connect to " + path_ + ": is edgecached running?", true);
        if (err == EACCES || err == EPERM)
            throw CliError(kError, "cannot connect to " + path_ + ": " + std::strerror(err) +
                                       " (is your user in the edgecached group?)");
        throw CliError(kError, "cannot connect to " + path_ + ": " + std::strerror(err));
    }
    fd_ = fd;
}

void AdminClient::write_all(std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            close();
            fail(path_, std::string("write failed: ") + std::strerror(err));
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
}

void AdminClient::send(std::string_view method, std::string_view target, std::string_view body,
                       const Headers& headers) {
    if (fd_ < 0 || must_close_) connect();
    std::string req;
    req.reserve(256 + body.size());
    req.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
    req.append("Host: localhost\r\nUser-Agent: edgecachectl/" EC_VERSION "\r\n");
    if (!token_.empty()) req.append("Authorization: Bearer ").append(token_).append("\r\n");
    bool has_type = false;
    for (const auto& [k, v] : headers) {
        if (iequals(k, "Content-Type")) has_type = true;
        req.append(k).append(": ").append(v).append("\r\n");
    }
    if (!body.empty() || method == "POST" || method == "PUT") {
        if (!has_type && !body.empty()) req.append("Content-Type: application/json\r\n");
        req.append("Content-Length: ");
        append_u64(req, body.size());
        req.append("\r\n");
    }
    req.append("\r\n");
    if (body.size() < 64 * 1024) {
        req.append(body);
        write_all(req);
    } else {
        write_all(req);
        write_all(body);
    }
}

Response AdminClient::receive(const BodyCallback& on_body) {
    if (fd_ < 0) fail(path_, "no request in flight");
    Response resp;
    ParseState st;
    st.resp = &resp;
    st.on_body = &on_body;
    llhttp_t parser;
    llhttp_init(&parser, HTTP_RESPONSE, &settings());
    parser.data = &st;
    char buf[64 * 1024];
    for (;;) {
        if (!rbuf_.empty()) {
            llhttp_errno_t err = llhttp_execute(&parser, rbuf_.data(), rbuf_.size());
            if (st.limit) {
                close();
                fail(path_, std::string(st.limit) + "; stopped reading (is this edgecached?)");
            }
            if (st.error) {
                close();
                std::rethrow_exception(st.error);
            }
            if (err == HPE_PAUSED) {
                size_t used = static_cast<size_t>(llhttp_get_error_pos(&parser) - rbuf_.data());
                rbuf_.erase(0, used);
                if (resp.status >= 100 && resp.status < 200) {
                    // An interim response (100 Continue): the real one follows.
                    resp = Response{};
                    st = ParseState{};
                    st.resp = &resp;
                    st.on_body = &on_body;
                    llhttp_init(&parser, HTTP_RESPONSE, &settings());
                    parser.data = &st;
                    continue;
                }
                must_close_ = !st.keep_alive;
                return resp;
            }
            if (err != HPE_OK) {
                std::string why = llhttp_get_error_reason(&parser);
                close();
                fail(path_, "malformed response: " + why);
            }
            rbuf_.clear();
        }
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            close();
            fail(path_, std::string("read failed: ") + std::strerror(err));
        }
        if (n == 0) {
            // A body delimited by the end of the connection completes here.
            llhttp_finish(&parser);
            if (st.error) {
                close();
                std::rethrow_exception(st.error);
            }
            close();
            if (st.complete) return resp;
            fail(path_, "edgecached closed the connection before the response was complete");
        }
        rbuf_.assign(buf, static_cast<size_t>(n));
    }
}

Response AdminClient::request(std::string_view method, std::string_view target,
                              std::string_view body, const Headers& headers,
                              const BodyCallback& on_body) {
    send(method, target, body, headers);
    return receive(on_body);
}

} // namespace ec::ctl
