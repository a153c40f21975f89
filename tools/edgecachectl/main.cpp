// edgecachectl: the admin CLI — argv → subcommand → HTTP over the admin socket → exit code.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "json_util.hpp"
#include "util/json_writer.hpp"

#include "build_config.hpp"

namespace ec::ctl {

namespace {

// Every option any subcommand knows; each subcommand narrows them with allow_only().
const std::vector<OptionSpec> kOptions = {
    {"socket", Arity::value},       {"json", Arity::flag},         {"help", Arity::flag},
    {"version", Arity::flag},       {"watch", Arity::optional},    {"path", Arity::greedy},
    {"prefix", Arity::value},       {"tag", Arity::greedy},        {"all", Arity::flag},
    {"soft", Arity::flag},          {"route", Arity::value},       {"namespace", Arity::value},
    {"file", Arity::value},         {"concurrency", Arity::value}, {"host", Arity::value},
    {"ttl", Arity::value},          {"expiration", Arity::value},  {"metadata", Arity::value},
    {"limit", Arity::value},        {"url", Arity::value},         {"token", Arity::value},
    {"allow-pending", Arity::flag}, {"server", Arity::value},      {"filter", Arity::value},
    {"count", Arity::value},        {"seconds", Arity::value},     {"interval", Arity::value},
    {"once", Arity::value},         {"wait", Arity::optional},
};

constexpr const char* kOverview =
    "Usage: edgecachectl [--socket PATH | --url URL [--token T]] [--json] COMMAND [ARGS...]\n"
    "\n"
    "Administers a running edgecached over its admin socket (or admin_listen over TCP).\n"
    "\n"
    "Commands:\n"
    "  health                      is the daemon up? (GET /health)\n"
    "  stats [--watch [SECONDS]]   counters: requests, hit rate, tiers, routes, namespaces\n"
    "  stats reset                 zero the counters\n"
    "  purge --path P... | --prefix P | --tag T... | --all [--soft]\n"
    "                              remove (or mark stale) cached entries\n"
    "  warm PATH... | --file F     fetch paths into the cache, with a progress bar\n"
    "  inspect PATH                show the stored entry for a path\n"
    "  kv get|put|del|list|import|export ...\n"
    "                              the KV store (import/export: wrangler's bulk JSON)\n"
    "  reload                      re-read the config file (like SIGHUP)\n"
    "  backup DIR                  copy the data (compacted) into a new directory\n"
    "  config                      show the running configuration\n"
    "  origin list                 origins' servers: health, connections, errors\n"
    "  origin sick|healthy|drain|auto NAME [--server H:P]\n"
    "                              override a server's health (drain: no new requests)\n"
    "  tail [--filter F]...        stream access records live (status>=500, cache=MISS, /api/)\n"
    "  top [--filter F]...         hottest paths, miss and error rates by route and origin\n"
    "  fleet status                the fleet: NATS connection, lag, nodes, pending purges\n"
    "\n"
    "Options:\n"
    "  --socket PATH   admin socket (default: $EDGECACHE_SOCKET, then\n"
    "                  /run/edgecached/admin.sock, else ./edgecache-data/admin.sock if it\n"
    "                  exists and is your own)\n"
    "  --url URL       the admin API over TCP, http://HOST:PORT (admin_listen; default\n"
    "                  $EDGECACHE_URL when no socket is given)\n"
    "  --token TOKEN   admin_token for --url (default $EDGECACHE_TOKEN)\n"
    "  --json          print the daemon's JSON instead of a summary; errors too, on stdout\n"
    "                  as {\"error\":{\"code\",\"message\",\"exit\"}} (and on stderr as usual)\n"
    "  --help          help for a command: edgecachectl COMMAND --help\n"
    "  --version       print the version\n"
    "\n"
    "Exit status: 0 ok, 1 error, 2 usage, 3 not found.\n";

constexpr const char* kHealth = "Usage: edgecachectl health [--json]\n"
                                "\n"
                                "Asks the daemon whether it is up (GET /health). Exits 0 when it "
                                "answers \"ok\", 1 when it is\ndraining or unreachable.\n";

constexpr const char* kStats =
    "Usage: edgecachectl stats [--json] [--watch [SECONDS]]\n"
    "       edgecachectl stats reset\n"
    "\n"
    "Prints the daemon's counters (GET /admin/stats): requests, hit rate, hits by tier, misses,\n"
    "stale serves, origin errors, the hot tier, the store's map usage, per route and per\n"
    "namespace.\n"
    "\n"
    "  --watch [SECONDS]  redraw every SECONDS (default 2) with per-second rates until Ctrl-C;\n"
    "                     when stdout is not a terminal, print one line per interval instead\n"
    "  --json             the daemon's JSON (with --watch: one document per line)\n"
    "\n"
    "'stats reset' zeroes every counter (POST /admin/stats/reset).\n";

constexpr const char* kPurge =
    "Usage: edgecachectl purge --path P... [options]\n"
    "       edgecachectl purge --prefix P [options]\n"
    "       edgecachectl purge --tag T... [options]\n"
    "       edgecachectl purge --all [options]\n"
    "\n"
    "Removes cached entries (POST /admin/purge) and prints how many.\n"
    "\n"
    "  --path P...       these URL paths, every variant (repeatable; bare words are paths too)\n"
    "  --prefix P        every path starting with P (a range delete, in time-sliced batches)\n"
    "  --tag T...        every entry whose Cache-Tag / Surrogate-Key names T\n"
    "  --all             everything cached (KV data only with --namespace)\n"
    "  --soft            mark stale instead of deleting (stale-while-revalidate and\n"
    "                    stale-if-error keep a copy to serve)\n"
    "  --route NAME      only entries of this route\n"
    "  --namespace NS    a KV namespace instead of the cache\n"
    "  --wait [SECONDS]  in a fleet: wait until every known node applied the purge\n"
    "                    (default 10 s); exit 1 when some did not in time\n"
    "\n"
    "In a fleet the purge goes to every node; the output says how many have applied it.\n";

constexpr const char* kFleet =
    "Usage: edgecachectl fleet status\n"
    "\n"
    "The fleet this node belongs to (GET /admin/fleet): the NATS server it is connected to,\n"
    "the KV stream's last applied sequence and lag (messages, seconds), the nodes known to the\n"
    "purge stream and purges pending here.\n";

constexpr const char* kWarm =
    "Usage: edgecachectl warm PATH... [options]\n"
    "       edgecachectl warm --file FILE [options]\n"
    "\n"
    "Fetches paths through the cache (POST /admin/warm); fresh entries are skipped. On a\n"
    "terminal a progress bar shows done/total, failures and the rate; otherwise one line per\n"
    "path and a summary. Exits 1 when any path failed.\n"
    "\n"
    "  --file FILE        one path per line ('-' for stdin; blank lines and # comments skipped)\n"
    "  --concurrency N    fetches at once (default: the daemon's, 8)\n"
    "  --host H           Host header (default: the daemon's first TCP listener)\n"
    "  --json             pass the daemon's NDJSON lines through\n";

constexpr const char* kInspect =
    "Usage: edgecachectl inspect PATH [--host H] [--json]\n"
    "\n"
    "Shows the stored entry for PATH (GET /admin/inspect): key, tier, status, age, TTL,\n"
    "stale windows, tags and stored headers. Exits 3 with \"not cached: PATH\" when there is\n"
    "none.\n";

constexpr const char* kKv =
    "Usage: edgecachectl kv get NS KEY\n"
    "       edgecachectl kv put NS KEY [VALUE | --file F] [--ttl N] [--expiration T]\n"
    "                                  [--metadata JSON]\n"
    "       edgecachectl kv del NS KEY\n"
    "       edgecachectl kv list NS [--prefix P] [--limit N]\n"
    "       edgecachectl kv import NS FILE\n"
    "       edgecachectl kv export NS [FILE]\n"
    "\n"
    "The KV store over the admin socket (the native /kv routes). Namespaces are titles, created\n"
    "on first write.\n"
    "\n"
    "  get      prints the value as stored (exit 3 when missing); --json adds metadata and\n"
    "           expiration\n"
    "  put      VALUE, or the contents of --file F ('-' for stdin); --ttl N seconds or\n"
    "           --expiration UNIX-TIME; --metadata a JSON value\n"
    "  del      deletes (succeeds when the key did not exist)\n"
    "  list     key names in byte order, every page unless --limit N\n"
    "  import   a JSON array of {key, value, base64?, expiration?, expiration_ttl?, metadata?}\n"
    "           (wrangler's bulk format; '-' for stdin), written in batches of 10,000\n"
    "  export   the namespace in the same format (binary values base64 with \"base64\": true),\n"
    "           to FILE or stdout\n";

constexpr const char* kReload =
    "Usage: edgecachectl reload [--allow-pending] [--json]\n"
    "\n"
    "Re-reads the config file (POST /admin/reload), as SIGHUP does, and waits for the result;\n"
    "command-line flags still win. A file the daemon cannot apply (invalid, or naming a file\n"
    "or port it cannot open) is refused with the reason, the running config stays, exit 1.\n"
    "Options that only a restart applies (the \"reloadable: no\" rows of the reference) keep\n"
    "their running values and are listed as \"pending restart\": exit 1 unless\n"
    "\n"
    "  --allow-pending    a pending restart is expected: exit 0\n";

constexpr const char* kBackup =
    "Usage: edgecachectl backup DIR [--json]\n"
    "\n"
    "Copies the LMDB environment, compacted, into DIR (POST /admin/backup) while the daemon\n"
    "keeps serving. DIR must not exist; a relative DIR is taken from the current directory.\n"
    "The daemon writes it, so its user needs write access to DIR's parent.\n"
    "Restore: stop edgecached, replace the data directory with DIR, start it again.\n";

constexpr const char* kConfig = "Usage: edgecachectl config [--json]\n"
                                "\n"
                                "Prints the running configuration (GET /admin/config).\n";

constexpr const char* kOrigin =
    "Usage: edgecachectl origin list [--json]\n"
    "       edgecachectl origin sick|healthy|drain|auto NAME [--server HOST:PORT] [--json]\n"
    "\n"
    "Shows and overrides the health of an origin's servers (GET /admin/origins,\n"
    "POST /admin/origins/health), like varnishadm backend.set_health.\n"
    "\n"
    "  list      every origin's servers: up/down, the override, open and idle connections,\n"
    "            requests, failures and the last error\n"
    "  sick      take the servers out as if their health checks failed\n"
    "  healthy   keep the servers in whatever their checks and failures say\n"
    "  drain     send no new requests; requests in flight finish, idle connections close\n"
    "  auto      back to the health checks and failure counting\n"
    "\n"
    "  --server HOST:PORT  one server of the origin (as configured) instead of all of them\n"
    "\n"
    "An override lasts until changed or the daemon restarts; a reload keeps it for servers it\n"
    "keeps. Exits 3 when the origin or server does not exist.\n";

constexpr const char* kTail =
    "Usage: edgecachectl tail [--filter F]... [--count N] [--seconds N] [--json]\n"
    "\n"
    "Streams the daemon's access records as requests complete (GET /admin/tail), like\n"
    "varnishncsa or redis-cli MONITOR, without touching the access log file. Lines look like\n"
    "the default access log; --json prints each record as the JSON access-log form.\n"
    "\n"
    "  --filter F   keep records matching F (repeatable; all must match):\n"
    "                 status>=500  status=404  status!=200   (= != >= <= > <)\n"
    "                 cache=MISS   method=POST  host=H  route=R  origin=O   (= or !=)\n"
    "                 path=/api/ or just /api/  (the path starts with it)\n"
    "  --count N    stop after N records\n"
    "  --seconds N  stop after N seconds\n"
    "\n"
    "A reader slower than the traffic loses records rather than slow the daemon; the count\n"
    "lost so far is reported on stderr (a {\"dropped\":N} line with --json).\n";

constexpr const char* kTop =
    "Usage: edgecachectl top [--filter F]... [--interval S] [--once S] [--limit N] [--json]\n"
    "\n"
    "Watches live traffic (GET /admin/tail) and shows the hottest paths and, per route and\n"
    "origin, request counts, miss and 5xx rates since it started, like varnishtop. On a\n"
    "terminal it redraws every --interval seconds (default 2) until Ctrl-C; otherwise (or\n"
    "with --once S or --json) it prints one report after S seconds (default --interval).\n"
    "\n"
    "  --filter F   as for tail\n"
    "  --limit N    paths shown (default 20)\n";

struct Command {
    const char* name;
    int (*run)(Context&);
    const char* help;
};

const Command kCommands[] = {
    {"health", cmd_health, kHealth},    {"stats", cmd_stats, kStats},
    {"purge", cmd_purge, kPurge},       {"warm", cmd_warm, kWarm},
    {"inspect", cmd_inspect, kInspect}, {"kv", cmd_kv, kKv},
    {"reload", cmd_reload, kReload},    {"backup", cmd_backup, kBackup},
    {"config", cmd_config, kConfig},    {"origin", cmd_origin, kOrigin},
    {"tail", cmd_tail, kTail},          {"top", cmd_top, kTop},
    {"fleet", cmd_fleet, kFleet},
};

const Command* find_command(std::string_view name) {
    for (const Command& c : kCommands)
        if (name == c.name) return &c;
    return nullptr;
}

} // namespace

const char* help_text(std::string_view command) {
    if (command.empty()) return kOverview;
    const Command* c = find_command(command);
    return c ? c->help : nullptr;
}

std::string error_message(const Response& r) {
    simdjson::dom::parser parser;
    Json doc;
    if (parser.parse(r.body.data(), r.body.size(), true).get(doc) == simdjson::SUCCESS) {
        std::string msg = str(doc, {"error", "message"});
        if (!msg.empty()) return msg;
        // A plain string error, {"error":"..."}.
        msg = str(doc, {"error"});
        if (!msg.empty()) return msg;
    }
    std::string body = r.body.substr(0, r.body.find('\n'));
    if (body.size() > 200) body.resize(200);
    return "HTTP " + std::to_string(r.status) + (body.empty() ? "" : ": " + body);
}

void expect_success(const Response& r) {
    if (r.status >= 200 && r.status < 300) return;
    throw CliError(r.status == 404 ? kNotFound : kError, error_message(r));
}

void out(std::string_view s) {
    if (s.empty()) return;
    if (std::fwrite(s.data(), 1, s.size(), stdout) != s.size())
        throw CliError(kError, std::string("cannot write output: ") + std::strerror(errno));
}

std::string read_file(const std::string& path) {
    if (path == "-") {
        std::ostringstream ss;
        ss << std::cin.rdbuf();
        return ss.str();
    }
    std::ifstream f(path, std::ios::binary);
    if (!f) throw CliError(kError, "cannot read " + path + ": " + std::strerror(errno));
    std::ostringstream ss;
    ss << f.rdbuf();
    if (f.bad()) throw CliError(kError, "cannot read " + path);
    return ss.str();
}

static void print_json_error(const CliError& e) {
    const char* code = e.code == kUsage ? "usage" : e.code == kNotFound ? "not_found" : "error";
    std::string doc;
    JsonWriter(doc)
        .begin_object()
        .key("error")
        .begin_object()
        .field("code", code)
        .field("message", e.what())
        .field("exit", static_cast<int64_t>(e.code))
        .end_object()
        .end_object();
    doc.push_back('\n');
    std::fwrite(doc.data(), 1, doc.size(), stdout);
}

} // namespace ec::ctl

int main(int argc, char** argv) {
    using namespace ec::ctl;
    // SIGPIPE stays at its default: `edgecachectl stats --watch | head` ends quietly, as any
    // filter would. Socket writes use MSG_NOSIGNAL, so a daemon going away is an error message.
    std::string command;
    // With --json, errors are also a JSON document on stdout, for scripts that parse stdout.
    bool json_errors = false;
    for (int i = 1; i < argc; ++i)
        json_errors = json_errors || std::string_view(argv[i]) == "--json";
    try {
        Args args = parse_args(argc, argv, kOptions);
        if (!args.words.empty()) command = args.words[0];
        if (args.has("version")) {
            std::printf("edgecachectl %s\n", EC_VERSION);
            return kOk;
        }
        if (command == "help") {
            std::string topic = args.words.size() > 1 ? args.words[1] : "";
            const char* text = help_text(topic);
            if (!text) throw UsageError("", "unknown command '" + topic + "'");
            std::fputs(text, stdout);
            return kOk;
        }
        if (args.has("help")) {
            const char* text = help_text(command);
            if (!text) throw UsageError("", "unknown command '" + command + "'");
            std::fputs(text, stdout);
            return kOk;
        }
        if (command.empty()) {
            std::fputs(kOverview, stderr);
            return kUsage;
        }
        const Command* c = find_command(command);
        if (!c) throw UsageError("", "unknown command '" + command + "'");
        // --socket, --url, then $EDGECACHE_SOCKET, $EDGECACHE_URL, then the default sockets.
        std::string url = args.get("url").value_or("");
        if (!url.empty() && args.has("socket"))
            throw UsageError("", "give --socket or --url, not both");
        const char* env_socket = std::getenv("EDGECACHE_SOCKET");
        const char* env_url = std::getenv("EDGECACHE_URL");
        if (url.empty() && !args.has("socket") && !(env_socket && *env_socket) && env_url)
            url = env_url;
        std::string token = args.get("token").value_or("");
        if (token.empty())
            if (const char* t = std::getenv("EDGECACHE_TOKEN")) token = t;
        for (char ch : token)
            if (static_cast<unsigned char>(ch) < 0x21 || ch == 0x7f)
                throw UsageError("", "the token must not contain spaces or control characters");
        std::string socket = url.empty() ? resolve_socket(args.get("socket").value_or("")) : url;
        Context ctx{std::move(args), AdminClient(std::move(socket)), false};
        if (!url.empty()) ctx.client.use_tcp(url);
        ctx.client.set_token(std::move(token));
        ctx.json = ctx.args.has("json");
        int rc = c->run(ctx);
        if (std::fflush(stdout) != 0) {
            std::fprintf(stderr, "edgecachectl: cannot write output: %s\n", std::strerror(errno));
            return kError;
        }
        return rc;
    } catch (const UsageError& e) {
        if (json_errors) print_json_error(e);
        std::fflush(stdout);
        std::fprintf(stderr, "edgecachectl: %s\n", e.what());
        std::string topic = e.command.empty() && find_command(command) ? command : e.command;
        std::fprintf(stderr, "Try 'edgecachectl %s--help'.\n",
                     topic.empty() ? "" : (topic + " ").c_str());
        return kUsage;
    } catch (const CliError& e) {
        if (json_errors) print_json_error(e);
        std::fflush(stdout);
        // Messages may quote what the daemon (or whatever holds the socket) said.
        std::string msg = printable_lines(e.what());
        if (e.bare)
            std::fprintf(stderr, "%s\n", msg.c_str());
        else
            std::fprintf(stderr, "edgecachectl: %s\n", msg.c_str());
        return e.code;
    }
}
