// Config: the daemon's settings after defaults, the config file, the environment and flags.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ec::config {

enum class Durability { sync, batch };
enum class WriteMode { invalidate, through };

// Like Redis's standardConfig, the option tables (options.cpp, tls_options.cpp) are the only
// place a default is written: members here carry `{}` (so designated initialisers compile under
// -Wextra) and get their values from defaults(), origin_defaults(), route_defaults(),
// origin_tls_defaults() and listen_tls_defaults() (options.hpp), or from load() (cli.hpp).
// ListenSpec is the exception: its roles are not option rows but what a plain listener string
// means, so they are written with it.

// One certificate of a TLS listener: PEM files (relative names are looked up in
// $CREDENTIALS_DIRECTORY first, tls/credentials.hpp). `cert` holds the leaf then its intermediates.
struct CertificateSpec {
    std::string cert{};
    std::string key{};
    std::string ocsp{}; // DER OCSP response stapled when a client asks; empty = none

    bool operator==(const CertificateSpec&) const = default;
};

// A listener's `tls` object; TLS is on when it lists a certificate (the object requires one).
// The first certificate is the default for clients that send no SNI name or one no
// certificate covers. Without TLS (no object, or null) it is empty: `ListenTls{}`.
struct ListenTls {
    std::vector<CertificateSpec> certificates{};
    std::string min_version{}; // "1.2" | "1.3"
    uint32_t handshake_timeout_ms{};
    uint32_t max_handshakes{}; // concurrent handshakes on this listener; more are closed

    bool operator==(const ListenTls&) const = default;
};

// An origin's `tls` object (an https:// url turns TLS on with the table's defaults). Without
// TLS it still holds those defaults (`enabled` false), so a later https:// url gets them.
struct OriginTls {
    bool enabled{};
    bool verify{};
    std::string ca_file{};     // empty = the system store (/etc/ssl/certs)
    std::string server_name{}; // SNI and the name verified; empty = `host`, else the server's host
    std::string client_cert{};
    std::string client_key{};
    std::string min_version{};

    bool operator==(const OriginTls&) const = default;
};

// One `listen` entry. A plain string serves kv + proxy + health; an object narrows it with
// `serve`, or turns it into a workerd KV backend for one namespace with `kv_backend`.
struct ListenSpec {
    std::string address{}; // "127.0.0.1:8787", "[::1]:8787", "unix:/path/to.sock"
    bool serve_kv = true;
    bool serve_proxy = true;
    bool serve_health = true;
    bool serve_metrics = false;
    std::string kv_backend{}; // non-empty: only the workerd KV protocol, for this namespace title
    ListenTls tls{};          // no certificates = plain HTTP

    bool operator==(const ListenSpec&) const = default;
};

struct OriginSpec {
    std::string name{};
    std::vector<std::string> servers{}; // "host:port"; `url` is stored as its single server
    std::string url{};  // the `url` as written, when given (for to_json); else empty
    std::string host{}; // Host header sent upstream; empty = the client's
    uint32_t connect_timeout_ms{};
    uint32_t first_byte_timeout_ms{}; // 0 = timeout_ms
    uint32_t timeout_ms{};            // whole exchange
    uint32_t max_connections{};       // per server
    std::string health_check{};       // path for active checks; empty = passive only
    uint32_t health_interval_ms{};
    uint32_t dns_refresh_ms{}; // 0 = resolve once
    OriginTls tls{};
    bool parent{}; // a parent edgecached: requests carry our node name in Via

    bool operator==(const OriginSpec&) const = default;
};

// One proxy route. `Config::routes` is sorted longest-prefix-first after loading (ties keep
// file order; duplicate prefixes are rejected), so the first route whose prefix starts the
// request path is the match.
struct RouteSpec {
    std::string name{}; // unique; derived from the prefix when the file omits it
    std::string prefix{};
    std::string origin{};
    int64_t ttl{}; // seconds, for responses without freshness information; 0 = don't store
    bool force_ttl{};
    int64_t edge_ttl{}; // seconds an entry may live in the memory tier; -1 = no extra bound
    int64_t stale_while_revalidate{};
    int64_t stale_if_error{};
    std::map<int, int64_t> ttl_by_status{};
    std::vector<std::string> ignore_query_params{}; // exact names or "prefix*" globs
    WriteMode write{};

    bool operator==(const RouteSpec&) const = default;
};

// `fleet`: KV namespaces and purges shared with other nodes through NATS JetStream. Absent or
// null = a single node: `FleetSpec{}` (`enabled` false, the other fields unused).
struct FleetSpec {
    bool enabled{};
    std::vector<std::string> nats{}; // "nats://host:port" servers of one JetStream cluster
    std::string node{};              // this node's name; "" = Config::node, else the host name
    uint32_t replicas{};             // JetStream replicas of the fleet's streams
    uint32_t write_timeout_ms{};
    std::string token{};            // NATS auth token; "" = none
    std::string credentials_file{}; // NATS .creds file; "" = none

    bool operator==(const FleetSpec&) const = default;
};

// The settings each subsystem takes, as plain structs: `Config` is made of them, so the option
// table's rows (options.cpp) point straight at the fields a subsystem reads, and the daemon
// hands a subsystem its whole struct (`http::Limits`, `store::Options`, `cache::ProxySettings`
// and `kv::Rules` extend these with knobs that are not operator configuration). Their zero
// values are placeholders until defaults() (options.hpp) or load() (cli.hpp) fills them.

// Client connections (http::Server): one set for every listener.
struct ClientLimits {
    uint64_t max_header_size = 0;
    uint32_t header_timeout_ms = 0;
    uint32_t idle_timeout_ms = 0;
    uint32_t max_connections = 0;
    // Output copied for clients and waiting in write requests, over all connections. Above
    // it, the connections whose clients have gone longest without reading are closed.
    uint64_t max_queued_output = 0;
    // Request body bytes held over all connections, from the first byte received until the
    // response is complete. Above it, the uploads in progress that advanced least recently
    // get 503 and are closed.
    uint64_t max_buffered_bodies = 0;
};

// The LMDB environment and its writer (store::Store). A reload applies sync_interval_ms and
// evictable_namespaces; the others are restart-only.
struct StoreSettings {
    std::string data_dir{}; // file "": $STATE_DIRECTORY, else ./edgecache-data
    uint64_t map_size = 0;
    uint32_t max_readers = 0;
    Durability durability = Durability::sync;
    uint32_t sync_interval_ms = 0; // batch: mdb_env_sync this long after a commit
    // KV namespaces whose records may be evicted like cache entries when the map is full.
    std::vector<std::string> evictable_namespaces{};
};

// The HTTP cache (cache::Proxy): what it stores, reuses and forwards.
struct CacheSettings {
    uint64_t memory_cache = 0; // restart-only: the hot tier is sized once
    uint64_t hot_object_max = 0;
    uint64_t max_object_size = 0;
    uint64_t max_body_size = 0;
    uint32_t deferred_concurrency = 0;
    bool honor_client_no_cache = false;
    bool expose_tags = false;
    bool heuristic_freshness = false;
    int64_t heuristic_freshness_max = 0;
    std::string targeted_cache_control{}; // empty = none
    bool x_forwarded = false;
    bool forwarded = false;
    std::vector<std::string> trusted_proxies{}; // IPs / CIDRs as written
};

// Workers KV rules (kv::Ops) shared by every KV front end.
struct KvLimits {
    int64_t min_ttl = 0; // seconds
    uint64_t max_value_size = 0;
};

// After load() (cli.hpp) `data_dir` and `admin_socket` are resolved (never empty) and `routes`
// is sorted longest-prefix-first.
struct Config : ClientLimits, StoreSettings, CacheSettings, KvLimits {
    std::vector<ListenSpec> listen{};
    // file "": $RUNTIME_DIRECTORY/admin.sock, else <data_dir>/admin.sock
    std::string admin_socket{};
    std::string admin_listen{}; // empty = no TCP admin listener
    ListenTls admin_tls{};      // no certificates = plain HTTP
    std::string admin_token{};
    std::string api_token{};
    uint32_t drain_timeout_ms = 0;

    std::string log_level{};
    std::string log_format{};
    std::string access_log{}; // empty = off
    std::string access_log_format{};
    bool request_id = false;
    std::string error_pages{}; // directory of 502/503/504 pages; empty = generic JSON errors

    std::map<std::string, OriginSpec> origins{};
    std::vector<RouteSpec> routes{};
    std::string node{}; // this node's name (Via, Cache-Status, loop check); "" = fleet.node / host
    FleetSpec fleet{};

    std::string config_path{}; // the file this came from; empty = embedded default
};

} // namespace ec::config
