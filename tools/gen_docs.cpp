// edgecached-docs: prints what the option table generates (default and example configs,
// README reference).
// Used by tools/update-docs; tests compare the committed copies with the same functions.
#include <cstdio>
#include <cstring>

#include "config/docs.hpp"

int main(int argc, char** argv) {
    if (argc == 2 && std::strcmp(argv[1], "default") == 0) {
        std::fputs(ec::config::default_config_json().c_str(), stdout);
        return 0;
    }
    if (argc == 2 && std::strcmp(argv[1], "example") == 0) {
        std::fputs(ec::config::commented_example_config().c_str(), stdout);
        return 0;
    }
    if (argc == 2 && std::strcmp(argv[1], "reference") == 0) {
        std::fputs(ec::config::reference_markdown().c_str(), stdout);
        return 0;
    }
    std::fprintf(stderr, "usage: edgecached-docs default|example|reference\n");
    return 2;
}
