// Args: edgecachectl's command line — global options, the subcommand words, its options.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ec::ctl {

// How an option takes its value.
enum class Arity {
    flag,     // --all
    value,    // --file F or --file=F
    optional, // --watch [SECONDS]: the next word is taken only when it is a number
    greedy,   // --path P...: takes the next word and every following word not starting with '-'
};

struct OptionSpec {
    const char* name; // without the leading "--"
    Arity arity;
};

// The parsed command line. Options may appear anywhere after the program name; "--" ends
// them. Repeated options keep every value in order.
struct Args {
    std::vector<std::string> words; // positional words: subcommand, its verbs, its operands
    std::map<std::string, std::vector<std::string>> options;

    bool has(const std::string& name) const { return options.count(name) != 0; }
    // The last value given for `name`; nullopt when absent.
    std::optional<std::string> get(const std::string& name) const;
    const std::vector<std::string>& all(const std::string& name) const;
};

// Parses argv[1..] against `specs`. Throws UsageError("", ...) on an unknown option or a
// missing value.
Args parse_args(int argc, char** argv, const std::vector<OptionSpec>& specs);

// Checks that only the options in `allowed` (plus the global ones) were given; throws
// UsageError(command, "unknown option --x") otherwise.
void allow_only(const Args& args, const std::string& command,
                const std::vector<std::string>& allowed);

// Parses a whole non-negative decimal integer option value; throws UsageError(command, ...).
uint64_t number_option(const Args& args, const std::string& command, const std::string& name,
                       uint64_t min, uint64_t max, uint64_t fallback);

} // namespace ec::ctl
