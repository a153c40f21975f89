// Args: a small getopt_long-like parser shared by every subcommand.
#include "args.hpp"

#include <algorithm>

#include "cli_error.hpp"
#include "util/strings.hpp"

namespace ec::ctl {

namespace {
const std::vector<std::string> kNone;
const char* const kGlobal[] = {"socket", "url", "token", "json", "help", "version"};

bool looks_like_number(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(),
                                     [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}
} // namespace

std::optional<std::string> Args::get(const std::string& name) const {
    auto it = options.find(name);
    if (it == options.end() || it->second.empty()) return std::nullopt;
    return it->second.back();
}

const std::vector<std::string>& Args::all(const std::string& name) const {
    auto it = options.find(name);
    return it == options.end() ? kNone : it->second;
}

Args parse_args(int argc, char** argv, const std::vector<OptionSpec>& specs) {
    Args a;
    bool options_done = false;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (options_done || arg.size() < 2 || arg[0] != '-' || arg == "-") {
            a.words.push_back(arg);
            continue;
        }
        if (arg == "--") {
            options_done = true;
            continue;
        }
        if (arg == "-h") arg = "--help";
        if (arg.compare(0, 2, "--") != 0) throw UsageError("", "unknown option " + arg);
        std::string name = arg.substr(2);
        std::optional<std::string> inline_value;
        if (size_t eq = name.find('='); eq != std::string::npos) {
            inline_value = name.substr(eq + 1);
            name.resize(eq);
        }
        auto spec = std::find_if(specs.begin(), specs.end(),
                                 [&](const OptionSpec& s) { return name == s.name; });
        if (spec == specs.end()) throw UsageError("", "unknown option --" + name);
        auto& values = a.options[name];
        switch (spec->arity) {
        case Arity::flag:
            if (inline_value) throw UsageError("", "option --" + name + " takes no value");
            values.emplace_back();
            break;
        case Arity::optional:
            if (inline_value)
                values.push_back(*inline_value);
            else if (i + 1 < argc && looks_like_number(argv[i + 1]))
                values.push_back(argv[++i]);
            else
                values.emplace_back();
            break;
        case Arity::value:
        case Arity::greedy:
            if (inline_value) {
                values.push_back(*inline_value);
            } else {
                if (i + 1 >= argc) throw UsageError("", "option --" + name + " needs a value");
                values.push_back(argv[++i]);
            }
            if (spec->arity == Arity::greedy)
                while (i + 1 < argc && argv[i + 1][0] != '-')
                    values.push_back(argv[++i]);
            break;
        }
    }
    return a;
}

void allow_only(const Args& args, const std::string& command,
                const std::vector<std::string>& allowed) {
    for (const auto& [name, values] : args.options) {
        if (std::find(std::begin(kGlobal), std::end(kGlobal), name) != std::end(kGlobal)) continue;
        if (std::find(allowed.begin(), allowed.end(), name) == allowed.end())
            throw UsageError(command, "unknown option --" + name + " for '" + command + "'");
    }
}

uint64_t number_option(const Args& args, const std::string& command, const std::string& name,
                       uint64_t min, uint64_t max, uint64_t fallback) {
    auto v = args.get(name);
    if (!v) return fallback;
    auto n = parse_u64(*v);
    if (!n || *n < min || *n > max)
        throw UsageError(command, "--" + name + " must be an integer from " + std::to_string(min) +
                                      " to " + std::to_string(max) + " (got '" + *v + "')");
    return *n;
}

} // namespace ec::ctl
