// The subcommands of edgecachectl and what they share: the context, the checks on responses.
#pragma once

#include <string>
#include <string_view>

#include "admin_client.hpp"
#include "args.hpp"

namespace ec::ctl {

struct Context {
    Args args;
    AdminClient client;
    bool json = false; // --json: print the daemon's JSON instead of the human summary
};

// Each returns the process exit code or throws CliError. `args.words[0]` is the subcommand.
int cmd_health(Context& ctx);
int cmd_stats(Context& ctx); // stats, stats reset, stats --watch
int cmd_purge(Context& ctx);
int cmd_warm(Context& ctx);
int cmd_inspect(Context& ctx);
int cmd_kv(Context& ctx);
int cmd_reload(Context& ctx);
int cmd_backup(Context& ctx);
int cmd_config(Context& ctx);
int cmd_origin(Context& ctx); // origin list|sick|healthy|drain|auto NAME [--server H:P]
int cmd_tail(Context& ctx);   // tail [--filter F]... [--count N] [--seconds N]
int cmd_top(Context& ctx);    // top [--filter F]... [--interval S] [--once S] [--limit N]
int cmd_fleet(Context& ctx);  // fleet status

// The help text of a subcommand ("" for the overview); nullptr for an unknown one.
const char* help_text(std::string_view command);

// Throws CliError for a non-2xx response: the daemon's {"error":{"message"}} (or the status
// line when the body is not that), exit 3 for 404, 1 otherwise.
void expect_success(const Response& r);
// The error message of a non-2xx response, as expect_success would print it.
std::string error_message(const Response& r);

// Writes `s` to stdout; throws CliError when that fails (disk full; a closed pipe raises
// SIGPIPE first, which ends the process quietly like any filter).
void out(std::string_view s);

// Reads a whole file ("-" = stdin); throws CliError naming the file.
std::string read_file(const std::string& path);

} // namespace ec::ctl
