// The option tables themselves, and the helpers that only need the tables (lookup, reload diff).
#include "config/options.hpp"

#include "config/checks.hpp"

namespace ec::config {

namespace {

using namespace detail; // the check_* functions

constexpr int64_t KiB = 1024;
constexpr int64_t MiB = 1024 * KiB;
constexpr int64_t GiB = 1024 * MiB;
constexpr int64_t TiB = 1024 * GiB;
constexpr int64_t year_s = 31536000;
constexpr int64_t max_ttl_s = 10 * year_s;
constexpr int64_t hour_ms = 3600 * 1000;
constexpr int64_t day_ms = 24 * hour_ms;

constexpr std::string_view g_listen = "Listeners and access";
constexpr std::string_view g_storage = "Storage";
constexpr std::string_view g_memory = "Memory tier";
constexpr std::string_view g_limits = "Limits";
constexpr std::string_view g_timeouts = "Timeouts";
constexpr std::string_view g_cache = "Caching behaviour";
constexpr std::string_view g_log = "Logging";
constexpr std::string_view g_proxy = "Origins and routes";
constexpr std::string_view g_fleet = "Fleet";

using C = Config;

const Option<Config> g_config[] = {
    {.name = "listen",
     .type = Type::listen,
     .field = &C::listen,
     .default_json = R"(["127.0.0.1:8787"])",
     .group = g_listen,
     .doc = "Data-plane listeners: \"a.b.c.d:port\", \"[ipv6]:port\" or \"unix:/path\" (KV API, "
            "Cloudflare routes, /health and proxy routes), or an object {\"address\", \"serve\": "
            "[subset of \"kv\", \"proxy\", \"health\", \"metrics\"]} or {\"address\", "
            "\"kv_backend\": \"<namespace title>\"} for the workerd KV protocol."},
    {.name = "admin_socket",
     .type = Type::string,
     .field = &C::admin_socket,
     .default_json = R"("")",
     .reloadable = false,
     .group = g_listen,
     .doc = "Path of the admin Unix socket; empty means $RUNTIME_DIRECTORY/admin.sock when that "
            "is set, else <data_dir>/admin.sock.",
     .check = check_socket_path},
    {.name = "admin_listen",
     .type = Type::string,
     .field = &C::admin_listen,
     .default_json = "null",
     .nullable = true,
     .group = g_listen,
     .doc = "TCP address for the admin API (\"127.0.0.1:8790\"); requires admin_token.",
     .check = check_tcp_address},
    {.name = "admin_tls",
     .type = Type::listen_tls,
     .field = &C::admin_tls,
     .default_json = "null",
     .nullable = true,
     .group = g_listen,
     .doc = "Serve admin_listen over TLS: the same object as a listener's \"tls\" "
            "(listen[].tls.* below); null is plain HTTP."},
    {.name = "admin_token",
     .type = Type::string,
     .field = &C::admin_token,
     .default_json = "null",
     .nullable = true,
     .secret = true,
     .group = g_listen,
     .doc = "Bearer token required on admin_listen (the Unix socket is guarded by its file "
            "permissions)."},
    {.name = "api_token",
     .type = Type::string,
     .field = &C::api_token,
     .default_json = "null",
     .nullable = true,
     .secret = true,
     .group = g_listen,
     .doc = "When set, every KV route (native, Cloudflare, kv_backend) requires "
            "\"Authorization: Bearer <api_token>\"."},

    {.name = "data_dir",
     .type = Type::string,
     .field = &C::data_dir,
     .default_json = R"("")",
     .reloadable = false,
     .group = g_storage,
     .doc = "Directory of the LMDB environment; empty means $STATE_DIRECTORY when that is set, "
            "else ./edgecache-data."},
    {.name = "map_size",
     .type = Type::size,
     .field = &C::map_size,
     .default_json = R"("1GiB")",
     .min = MiB,
     .max = 64 * TiB,
     .reloadable = false,
     .group = g_storage,
     .doc = "Size of the LMDB map: the most data the store can hold (disk use grows as needed)."},
    {.name = "durability",
     .type = Type::enumeration,
     .field = &C::durability,
     .default_json = R"("sync")",
     .choices = "sync|batch",
     .reloadable = false,
     .group = g_storage,
     .doc = "\"sync\" acknowledges writes after their commit is durable; \"batch\" at commit, "
            "with the meta page synced by the next commit or sync_interval_ms later (a power "
            "loss may undo the last transaction)."},
    {.name = "sync_interval_ms",
     .type = Type::duration,
     .field = &C::sync_interval_ms,
     .default_json = "1000",
     .min = 10,
     .max = hour_ms,
     .group = g_storage,
     .doc = "How long after a commit durability \"batch\" syncs the last meta page to disk."},
    {.name = "max_readers",
     .type = Type::integer,
     .field = &C::max_readers,
     .default_json = "126",
     .min = 1,
     .max = 65535,
     .reloadable = false,
     .group = g_storage,
     .doc = "LMDB reader slots (maxreaders): concurrent read transactions, including backups."},
    {.name = "evictable_namespaces",
     .type = Type::string_list,
     .field = &C::evictable_namespaces,
     .default_json = "[]",
     .group = g_storage,
     .doc = "KV namespace titles whose keys may be evicted, like cache entries, when the map is "
            "full.",
     .check = check_namespace_title},

    {.name = "memory_cache",
     .type = Type::size,
     .field = &C::memory_cache,
     .default_json = R"("256MiB")",
     .min = 0,
     .max = TiB,
     .reloadable = false,
     .group = g_memory,
     .doc = "Bytes of the in-memory hot tier in front of LMDB; 0 turns it off."},
    {.name = "hot_object_max",
     .type = Type::size,
     .field = &C::hot_object_max,
     .default_json = R"("1MiB")",
     .min = 0,
     .max = GiB,
     .group = g_memory,
     .doc = "Largest entry the hot tier keeps; larger ones are served from LMDB."},

    {.name = "min_ttl",
     .type = Type::integer,
     .field = &C::min_ttl,
     .default_json = "60",
     .min = 1,
     .max = year_s,
     .group = g_limits,
     .doc = "Shortest KV expiration_ttl (and distance to expiration) accepted, in seconds."},
    {.name = "max_value_size",
     .type = Type::size,
     .field = &C::max_value_size,
     .default_json = R"("25MiB")",
     .min = 1,
     .max = 2 * GiB,
     .group = g_limits,
     .doc = "Largest KV value; larger writes get 413."},
    {.name = "max_body_size",
     .type = Type::size,
     .field = &C::max_body_size,
     .default_json = R"("100MiB")",
     .min = KiB,
     .max = 4 * GiB,
     .group = g_limits,
     .doc = "Largest request body (bulk KV writes included); larger requests get 413."},
    {.name = "max_object_size",
     .type = Type::size,
     .field = &C::max_object_size,
     .default_json = R"("64MiB")",
     .min = 0,
     .max = 16 * GiB,
     .group = g_limits,
     .doc = "Largest origin response that is cached; larger ones stream through unstored."},
    {.name = "max_header_size",
     .type = Type::size,
     .field = &C::max_header_size,
     .default_json = R"("16KiB")",
     .min = KiB,
     .max = MiB,
     .group = g_limits,
     .doc = "Largest request header section; larger ones get 431."},
    {.name = "max_connections",
     .type = Type::integer,
     .field = &C::max_connections,
     .default_json = "10000",
     .min = 1,
     .max = 1000000,
     .group = g_limits,
     .doc = "Open client connections at most; beyond it new connections get 503 and are "
            "closed. The admin socket and admin_listen keep 16 more for operators."},
    {.name = "max_queued_output",
     .type = Type::size,
     .field = &C::max_queued_output,
     .default_json = R"("256MiB")",
     .min = MiB,
     .max = TiB,
     .group = g_limits,
     .doc = "Response bytes copied for clients and not yet taken by them, over all "
            "connections; above it, the clients that went longest without reading are "
            "disconnected."},
    {.name = "max_buffered_bodies",
     .type = Type::size,
     .field = &C::max_buffered_bodies,
     .default_json = R"("1GiB")",
     .min = MiB,
     .max = TiB,
     .group = g_limits,
     .doc = "Request body bytes held over all connections until their responses are done; "
            "above it, the uploads in progress that advanced least recently get 503."},
    {.name = "deferred_concurrency",
     .type = Type::integer,
     .field = &C::deferred_concurrency,
     .default_json = "16",
     .min = 1,
     .max = 4096,
     .group = g_limits,
     .doc = "Background tasks (revalidations, warm fetches) running at once."},

    {.name = "header_timeout_ms",
     .type = Type::duration,
     .field = &C::header_timeout_ms,
     .default_json = "10000",
     .min = 100,
     .max = hour_ms,
     .group = g_timeouts,
     .doc = "Time a client has to send a complete request header section."},
    {.name = "idle_timeout_ms",
     .type = Type::duration,
     .field = &C::idle_timeout_ms,
     .default_json = "60000",
     .min = 100,
     .max = day_ms,
     .group = g_timeouts,
     .doc = "Time a keep-alive connection may sit idle (or a body stall) before it is closed."},
    {.name = "drain_timeout_ms",
     .type = Type::duration,
     .field = &C::drain_timeout_ms,
     .default_json = "10000",
     .min = 0,
     .max = hour_ms,
     .group = g_timeouts,
     .doc = "On SIGTERM, how long in-flight requests may finish before the daemon exits."},

    {.name = "honor_client_no_cache",
     .type = Type::boolean,
     .field = &C::honor_client_no_cache,
     .default_json = "false",
     .group = g_cache,
     .doc = "Let a client's \"Cache-Control: no-cache\" force revalidation (CDNs ignore it)."},
    {.name = "expose_tags",
     .type = Type::boolean,
     .field = &C::expose_tags,
     .default_json = "false",
     .group = g_cache,
     .doc = "Keep Cache-Tag and Surrogate-Key headers in client responses."},
    {.name = "heuristic_freshness",
     .type = Type::boolean,
     .field = &C::heuristic_freshness,
     .default_json = "false",
     .group = g_cache,
     .doc = "Allow RFC 9111 4.2.2 heuristic freshness (10% of Last-Modified age) where permitted."},
    {.name = "heuristic_freshness_max",
     .type = Type::integer,
     .field = &C::heuristic_freshness_max,
     .default_json = "86400",
     .min = 1,
     .max = max_ttl_s,
     .group = g_cache,
     .doc = "Longest lifetime heuristic_freshness gives a response, in seconds."},
    {.name = "targeted_cache_control",
     .type = Type::string,
     .field = &C::targeted_cache_control,
     .default_json = R"("Edgecached-Cache-Control")",
     .group = g_cache,
     .doc = "Response field aimed at this cache alone (RFC 9213): read before CDN-Cache-Control "
            "and Cache-Control, never passed on to clients; \"\" turns it off.",
     .check = check_targeted_field},

    {.name = "log_level",
     .type = Type::enumeration,
     .field = &C::log_level,
     .default_json = R"("info")",
     .choices = "debug|info|warn|error",
     .group = g_log,
     .doc = "Least severe level written to stderr (debug explains every cache decision)."},
    {.name = "log_format",
     .type = Type::enumeration,
     .field = &C::log_format,
     .default_json = R"("text")",
     .choices = "text|json",
     .group = g_log,
     .doc = "stderr lines as text (\"<time> <level> <message>\") or JSON objects {\"time\", "
            "\"level\", \"msg\"}; under journald each line starts with its <N> priority."},
    {.name = "access_log",
     .type = Type::string,
     .field = &C::access_log,
     .default_json = "null",
     .nullable = true,
     .group = g_log,
     .doc = "Access log file (\"-\" for stderr; reopened on SIGUSR1); null turns it off.",
     .check = check_access_log},
    {.name = "access_log_format",
     .type = Type::string,
     .field = &C::access_log_format,
     .default_json = R"("default")",
     .group = g_log,
     .doc =
         "\"default\", \"json\" (one object per line, every field) or a template of text and "
         "$fields: $time $peer $client $method $target $protocol $request $status $bytes "
         "$duration_ms $cache $host $user_agent $referer $request_id $upstream_ms $route $origin.",
     .check = check_access_format},
    {.name = "request_id",
     .type = Type::boolean,
     .field = &C::request_id,
     .default_json = "true",
     .group = g_log,
     .doc = "Give each data-plane request an X-Request-Id (the client's, else generated): sent "
            "to origins, echoed in the response, logged as $request_id."},

    {.name = "x_forwarded",
     .type = Type::boolean,
     .field = &C::x_forwarded,
     .default_json = "true",
     .group = g_proxy,
     .doc = "Tell origins who asked: append the client's address to X-Forwarded-For and set "
            "X-Forwarded-Proto."},
    {.name = "forwarded",
     .type = Type::boolean,
     .field = &C::forwarded,
     .default_json = "true",
     .group = g_proxy,
     .doc = "Append an RFC 7239 Forwarded element (for=<client>;proto=http) on requests to "
            "origins."},
    {.name = "trusted_proxies",
     .type = Type::string_list,
     .field = &C::trusted_proxies,
     .default_json = "[]",
     .group = g_proxy,
     .doc = "Peers (IP or CIDR, like \"10.0.0.0/8\") whose X-Forwarded-For, X-Forwarded-Proto "
            "and Forwarded are kept and appended to; from any other peer they are replaced.",
     .check = check_cidr},

    {.name = "error_pages",
     .type = Type::string,
     .field = &C::error_pages,
     .default_json = "null",
     .nullable = true,
     .group = g_proxy,
     .doc = "Directory of the bodies for the 502, 503 and 504 answers the proxy makes when an "
            "origin fails: files 502.html, 503.json, 504.txt, ... (read at start and reload; an "
            "unreadable one refuses the config); null sends a generic JSON error."},
    {.name = "origins",
     .type = Type::origins,
     .field = &C::origins,
     .default_json = "{}",
     .group = g_proxy,
     .doc = "Origins by name: each an object with the origins.<name>.* keys below."},
    {.name = "routes",
     .type = Type::routes,
     .field = &C::routes,
     .default_json = "[]",
     .group = g_proxy,
     .doc = "Proxy routes, each an object with the routes[].* keys below; the longest matching "
            "prefix wins."},

    {.name = "node",
     .type = Type::string,
     .field = &C::node,
     .default_json = "null",
     .reloadable = false,
     .nullable = true,
     .group = g_proxy,
     .doc = "This node's name: in Via on requests to parent origins (a request that already "
            "carries it is answered 508 Loop Detected) and in the Via and Cache-Status of "
            "responses. null means fleet.node, else the host name upstream and \"edgecached\" "
            "in responses.",
     .check = check_name},
    {.name = "fleet",
     .type = Type::fleet,
     .field = &C::fleet,
     .default_json = "null",
     .reloadable = false,
     .nullable = true,
     .group = g_fleet,
     .doc = "Share KV namespaces and purges with other nodes through NATS JetStream: an object "
            "with the fleet.* keys below; null runs a single node."},
};

using O = OriginSpec;

const Option<OriginSpec> g_origin[] = {
    {.name = "url",
     .type = Type::url,
     .field = &O::servers,
     .group = g_proxy,
     .doc = "The origin as \"http://host[:port]\" or \"https://host[:port]\" (port 80 / 443 by "
            "default); give url or servers."},
    {.name = "servers",
     .type = Type::servers,
     .field = &O::servers,
     .group = g_proxy,
     .doc = "Several \"host:port\" servers balanced with failover (plain HTTP unless \"tls\" is "
            "given); give url or servers."},
    {.name = "host",
     .type = Type::string,
     .field = &O::host,
     .default_json = "null",
     .nullable = true,
     .group = g_proxy,
     .doc = "Host header sent upstream; null forwards the client's Host.",
     .check = check_host_header},
    {.name = "connect_timeout_ms",
     .type = Type::duration,
     .field = &O::connect_timeout_ms,
     .default_json = "1000",
     .min = 1,
     .max = 10 * 60 * 1000,
     .group = g_proxy,
     .doc = "Time to establish a connection to one server before trying the next."},
    {.name = "first_byte_timeout_ms",
     .type = Type::duration,
     .field = &O::first_byte_timeout_ms,
     .default_json = "0",
     .min = 0,
     .max = hour_ms,
     .group = g_proxy,
     .doc = "Time from sending the request to the response's first byte; 0 means timeout_ms."},
    {.name = "timeout_ms",
     .type = Type::duration,
     .field = &O::timeout_ms,
     .default_json = "5000",
     .min = 1,
     .max = hour_ms,
     .group = g_proxy,
     .doc = "Time for the whole exchange with the origin; on expiry the client gets 504 (or "
            "stale content inside stale_if_error)."},
    {.name = "max_connections",
     .type = Type::integer,
     .field = &O::max_connections,
     .default_json = "64",
     .min = 1,
     .max = 65535,
     .group = g_proxy,
     .doc = "Connections to each server at most (the keep-alive pool included)."},
    {.name = "health_check",
     .type = Type::string,
     .field = &O::health_check,
     .default_json = "null",
     .nullable = true,
     .group = g_proxy,
     .doc = "Path probed with GET every health_interval_ms (2xx = healthy); null means passive "
            "checks only.",
     .check = check_path},
    {.name = "health_interval_ms",
     .type = Type::duration,
     .field = &O::health_interval_ms,
     .default_json = "5000",
     .min = 100,
     .max = hour_ms,
     .group = g_proxy,
     .doc = "Interval between active health checks."},
    {.name = "dns_refresh_ms",
     .type = Type::duration,
     .field = &O::dns_refresh_ms,
     .default_json = "60000",
     .min = 0,
     .max = day_ms,
     .group = g_proxy,
     .doc = "How often server host names are re-resolved (off the loop); 0 resolves once."},
    {.name = "tls",
     .type = Type::origin_tls,
     .field = &O::tls,
     .default_json = "null",
     .nullable = true,
     .group = g_proxy,
     .doc = "TLS to the origin (an https:// url turns it on with the defaults): {\"verify\", "
            "\"ca_file\", \"server_name\", \"client_cert\", \"client_key\", "
            "\"min_version\"}; see origins.<name>.tls.* below."},
    {.name = "parent",
     .type = Type::boolean,
     .field = &O::parent,
     .default_json = "false",
     .group = g_proxy,
     .doc = "The origin is a parent edgecached (tiered caching): requests to it carry Via with "
            "this node's name, so a request that loops back here is answered 508 Loop Detected."},
};

using R = RouteSpec;

const Option<RouteSpec> g_route[] = {
    {.name = "name",
     .type = Type::string,
     .field = &R::name,
     .group = g_proxy,
     .doc = "Unique name used in stats and purge scopes; derived from the prefix when omitted "
            "(\"/api/\" gives \"api\", \"/\" gives \"root\").",
     .check = check_name},
    {.name = "prefix",
     .type = Type::string,
     .field = &R::prefix,
     .default_json = R"("/")",
     .group = g_proxy,
     .doc = "Request path prefix this route serves; the longest matching prefix wins.",
     .check = check_path},
    {.name = "origin",
     .type = Type::string,
     .field = &R::origin,
     .required = true,
     .group = g_proxy,
     .doc = "Name of the origin (a key of origins) that serves misses.",
     .check = check_name},
    {.name = "ttl",
     .type = Type::integer,
     .field = &R::ttl,
     .default_json = "0",
     .min = 0,
     .max = max_ttl_s,
     .group = g_proxy,
     .doc = "Seconds to cache responses that carry no freshness information; 0 does not store "
            "them."},
    {.name = "force_ttl",
     .type = Type::boolean,
     .field = &R::force_ttl,
     .default_json = "false",
     .group = g_proxy,
     .doc = "Use ttl even when the origin's Cache-Control or Expires says otherwise."},
    {.name = "edge_ttl",
     .type = Type::integer,
     .field = &R::edge_ttl,
     .default_json = "null",
     .min = 0,
     .max = max_ttl_s,
     .nullable = true,
     .group = g_proxy,
     .doc = "Seconds an entry may stay in the memory tier before it is re-read from LMDB; null "
            "means no extra bound."},
    {.name = "stale_while_revalidate",
     .type = Type::integer,
     .field = &R::stale_while_revalidate,
     .default_json = "0",
     .min = 0,
     .max = max_ttl_s,
     .group = g_proxy,
     .doc = "Seconds past freshness a stale entry is served while one background revalidation "
            "runs (never against must-revalidate, s-maxage or no-cache)."},
    {.name = "stale_if_error",
     .type = Type::integer,
     .field = &R::stale_if_error,
     .default_json = "0",
     .min = 0,
     .max = max_ttl_s,
     .group = g_proxy,
     .doc = "Seconds past freshness a stale entry is served when the origin fails."},
    {.name = "ttl_by_status",
     .type = Type::status_map,
     .field = &R::ttl_by_status,
     .default_json = "{}",
     .min = 0,
     .max = max_ttl_s,
     .group = g_proxy,
     .doc = "Seconds to cache responses without freshness information by status, e.g. "
            "{\"404\": 30} for negative caching; overrides ttl."},
    {.name = "ignore_query_params",
     .type = Type::string_list,
     .field = &R::ignore_query_params,
     .default_json = "[]",
     .group = g_proxy,
     .doc = "Query parameters left out of the cache key: names or \"prefix*\" patterns.",
     .check = check_query_glob},
    {.name = "write",
     .type = Type::enumeration,
     .field = &R::write,
     .default_json = R"("invalidate")",
     .choices = "invalidate|through",
     .group = g_proxy,
     .doc = "After a successful unsafe request: \"invalidate\" the entry, or \"through\" to store "
            "a PUT's body as the new entry."},
};

using F = FleetSpec;

const Option<FleetSpec> g_fleet_rows[] = {
    {.name = "nats",
     .type = Type::string_list,
     .field = &F::nats,
     .reloadable = false,
     .required = true,
     .group = g_fleet,
     .doc = "The NATS servers of one JetStream cluster (\"nats://host:port\"); the client "
            "connects to one and reconnects across the list by itself.",
     .check = check_nats_url},
    {.name = "node",
     .type = Type::string,
     .field = &F::node,
     .default_json = "null",
     .reloadable = false,
     .nullable = true,
     .group = g_fleet,
     .doc = "This node's name in the fleet (purge consumers, Via, fleet status); null means "
            "node, else the host name.",
     .check = check_name},
    {.name = "replicas",
     .type = Type::integer,
     .field = &F::replicas,
     .default_json = "3",
     .min = 1,
     .max = 5,
     .reloadable = false,
     .group = g_fleet,
     .doc = "JetStream replicas of the fleet's streams: a write is acknowledged once this many "
            "servers hold it."},
    {.name = "write_timeout_ms",
     .type = Type::duration,
     .field = &F::write_timeout_ms,
     .default_json = "2000",
     .min = 10,
     .max = 60000,
     .reloadable = false,
     .group = g_fleet,
     .doc = "How long a KV write or purge waits for JetStream (and the local apply) before it "
            "answers 503 fleet_unavailable."},
    {.name = "token",
     .type = Type::string,
     .field = &F::token,
     .default_json = "null",
     .reloadable = false,
     .nullable = true,
     .secret = true,
     .group = g_fleet,
     .doc = "NATS authentication token."},
    {.name = "credentials_file",
     .type = Type::string,
     .field = &F::credentials_file,
     .default_json = "null",
     .reloadable = false,
     .nullable = true,
     .group = g_fleet,
     .doc = "NATS user credentials file (.creds)."},
};

} // namespace

std::span<const Option<FleetSpec>> fleet_options() {
    return g_fleet_rows;
}

std::span<const Option<Config>> config_options() {
    return g_config;
}
std::span<const Option<OriginSpec>> origin_options() {
    return g_origin;
}
std::span<const Option<RouteSpec>> route_options() {
    return g_route;
}

const Option<Config>* find_option(std::string_view name) {
    for (const auto& o : g_config)
        if (o.name == name) return &o;
    return nullptr;
}

std::string type_name(Type t, std::string_view choices, bool nullable) {
    std::string s;
    switch (t) {
    case Type::boolean:
        s = "bool";
        break;
    case Type::integer:
        s = "integer";
        break;
    case Type::size:
        s = "size";
        break;
    case Type::duration:
        s = "duration (ms)";
        break;
    case Type::string:
        s = "string";
        break;
    case Type::enumeration: {
        s = "one of ";
        for (char c : choices)
            s += c == '|' ? std::string(", ") : std::string(1, c);
        break;
    }
    case Type::string_list:
        s = "list of strings";
        break;
    case Type::listen:
        s = "list of listeners";
        break;
    case Type::origins:
        s = "object of origins";
        break;
    case Type::routes:
        s = "list of routes";
        break;
    case Type::status_map:
        s = "object: status -> seconds";
        break;
    case Type::url:
        s = "URL";
        break;
    case Type::servers:
        s = "list of host:port";
        break;
    case Type::origin_tls:
    case Type::listen_tls:
        s = "TLS object";
        break;
    case Type::certificates:
        s = "list of certificates";
        break;
    case Type::fleet:
        s = "fleet object";
        break;
    }
    if (nullable) s += " or null";
    return s;
}

std::vector<std::string> reload_changes(const Config& old_cfg, const Config& next) {
    std::vector<std::string> changed;
    for (const auto& o : g_config) {
        if (o.reloadable) continue;
        bool same =
            std::visit([&](auto member) { return old_cfg.*member == next.*member; }, o.field);
        if (!same) changed.emplace_back(o.name);
    }
    return changed;
}

void keep_restart_only(const Config& running, Config& next) {
    for (const auto& o : g_config)
        if (!o.reloadable)
            std::visit([&](auto member) { next.*member = running.*member; }, o.field);
}

} // namespace ec::config
