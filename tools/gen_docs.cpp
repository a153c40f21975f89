// edgecached-docs: prints what the option table and the CLIs' own help generate: the example
// config, the README reference, and the manual pages. tools/update-docs and the build use it;
// tests compare the committed copies with the same functions.
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "config/docs.hpp"

namespace {

// The standard output of `ctl args`, or "" when it cannot be run.
std::string run(const std::string& ctl, const std::string& args) {
    std::string cmd = "'" + ctl + "' " + args;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return "";
    std::string out;
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;)
        out.append(buf, n);
    return pclose(p) == 0 ? out : "";
}

// The command names of edgecachectl's overview: the first word of each line indented by two
// spaces under "Commands:".
std::vector<std::string> ctl_commands(const std::string& overview) {
    std::vector<std::string> names;
    std::set<std::string> seen;
    size_t at = overview.find("\nCommands:\n");
    if (at == std::string::npos) return names;
    for (size_t pos = overview.find('\n', at + 1) + 1; pos < overview.size();) {
        size_t end = overview.find('\n', pos);
        std::string line = overview.substr(pos, end - pos);
        pos = end == std::string::npos ? overview.size() : end + 1;
        if (line.empty()) break;
        if (line.size() < 3 || line.compare(0, 2, "  ") != 0 || line[2] < 'a' || line[2] > 'z')
            continue;
        std::string name = line.substr(2, line.find_first_of(" |", 2) - 2);
        if (seen.insert(name).second) names.push_back(name);
    }
    return names;
}

// edgecachectl(8): the overview and every command's help, as the binary prints them.
int man_ctl(const std::string& ctl) {
    std::string overview = run(ctl, "help");
    std::vector<std::string> commands = ctl_commands(overview);
    if (overview.empty() || commands.empty()) {
        std::fprintf(stderr, "edgecached-docs: cannot read the help of %s\n", ctl.c_str());
        return 1;
    }
    std::string out = ".TH EDGECACHECTL 8 \"\" \"edgecached\" \"System Administration\"\n"
                      ".SH NAME\nedgecachectl \\- administer a running edgecached\n"
                      ".SH SYNOPSIS\n.B edgecachectl\n[\\fIOPTIONS\\fR] \\fICOMMAND\\fR "
                      "[\\fIARGS\\fR...]\n.SH DESCRIPTION\n.nf\n";
    out += ec::config::roff_escape(overview) + ".fi\n.SH COMMANDS\n";
    for (const std::string& c : commands) {
        std::string help = run(ctl, "help " + c);
        if (help.empty()) {
            std::fprintf(stderr, "edgecached-docs: no help for command %s\n", c.c_str());
            return 1;
        }
        out += ".SS " + c + "\n.nf\n" + ec::config::roff_escape(help) + ".fi\n";
    }
    out += ".SH SEE ALSO\n\\fBedgecached\\fR(8), \\fBedgecached.json\\fR(5)\n";
    std::fputs(out.c_str(), stdout);
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    std::string what = argc >= 2 ? argv[1] : "";
    if (argc == 2 && what == "default") {
        std::fputs(ec::config::default_config_json().c_str(), stdout);
        return 0;
    }
    if (argc == 2 && what == "example") {
        std::fputs(ec::config::commented_example_config().c_str(), stdout);
        return 0;
    }
    if (argc == 2 && what == "reference") {
        std::fputs(ec::config::reference_markdown().c_str(), stdout);
        return 0;
    }
    if (argc == 2 && what == "man-daemon") {
        std::fputs(ec::config::man_daemon().c_str(), stdout);
        return 0;
    }
    if (argc == 2 && what == "man-config") {
        std::fputs(ec::config::man_config().c_str(), stdout);
        return 0;
    }
    if (argc == 3 && what == "man-ctl") return man_ctl(argv[2]);
    std::fprintf(stderr, "usage: edgecached-docs default|example|reference|man-daemon|man-config|"
                         "man-ctl EDGECACHECTL\n");
    return 2;
}
