// AdminClient: a blocking HTTP/1.1 client over the admin Unix socket (llhttp parses replies).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli_error.hpp"

namespace ec::ctl {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Response;
using BodyCallback = std::function<void(const Response& head, std::string_view piece)>;

struct Response {
    int status = 0;
    Headers headers;  // as received
    std::string body; // empty when the body was streamed to a callback

    // The first header with this name (case-insensitive); nullptr when absent.
    const std::string* header(std::string_view name) const;
};

// The socket edgecachectl talks to: --socket, then $EDGECACHE_SOCKET, then
// /run/edgecached/admin.sock when it exists, else ./edgecache-data/admin.sock.
std::string resolve_socket(const std::string& flag);

// One keep-alive connection to the daemon's admin socket, opened on first use and reopened
// after the daemon closes it. Every failure throws CliError: a socket nobody listens on
// (ENOENT, ECONNREFUSED) gives exit 1 with "cannot connect to <path>: is edgecached running?".
class AdminClient {
public:
    explicit AdminClient(std::string socket_path) : path_(std::move(socket_path)) {}
    ~AdminClient();
    AdminClient(const AdminClient&) = delete;
    AdminClient& operator=(const AdminClient&) = delete;

    const std::string& path() const { return path_; }

    // Talks to admin_listen over TCP instead: `url` is "http://host:port" (what path() shows
    // from then on). Throws UsageError for anything else.
    void use_tcp(const std::string& url);
    // Sends "Authorization: Bearer <token>" with every request (admin_listen requires it).
    void set_token(std::string token) { token_ = std::move(token); }

    // Sends one request and reads its response. With on_body, the (de-chunked) body is handed
    // over piece by piece as it arrives — for streaming NDJSON — together with the response's
    // status and headers, and Response::body stays empty.
    Response request(std::string_view method, std::string_view target, std::string_view body = {},
                     const Headers& headers = {}, const BodyCallback& on_body = nullptr);

    // Pipelining: send() several requests, then receive() their responses in order.
    void send(std::string_view method, std::string_view target, std::string_view body = {},
              const Headers& headers = {});
    Response receive(const BodyCallback& on_body = nullptr);

    // Closes the connection; the next request opens a new one.
    void close();

private:
    void connect();
    void write_all(std::string_view data);

    void connect_tcp();

    std::string path_;
    std::string tcp_host_, tcp_port_; // set by use_tcp(): connect over TCP, not path_
    std::string token_;
    int fd_ = -1;
    bool must_close_ = false; // the last response said "Connection: close"
    std::string rbuf_;        // bytes read but not yet parsed (the next pipelined response)
};

} // namespace ec::ctl
