// CliError: how a subcommand stops with a message and an exit code (caught in main).
#pragma once

#include <stdexcept>
#include <string>

namespace ec::ctl {

// Exit codes, as SPEC's "Admin plane" defines them.
enum Exit : int { kOk = 0, kError = 1, kUsage = 2, kNotFound = 3 };

// Thrown by commands and the client; main prints the message on stderr and exits with `code`.
// Usage errors add a "Try ... --help" line. A `bare` message is printed as it is, without the
// "edgecachectl: " prefix (the not-running and not-cached messages scripts match on).
struct CliError : std::runtime_error {
    CliError(int exit_code, const std::string& message, bool bare_message = false)
        : std::runtime_error(message), code(exit_code), bare(bare_message) {}
    int code;
    bool bare;
};

// A usage error for subcommand `command` ("" for the top level): exit 2.
struct UsageError : CliError {
    UsageError(std::string command_name, const std::string& message)
        : CliError(kUsage, message), command(std::move(command_name)) {}
    std::string command;
};

} // namespace ec::ctl
