// Fuzz driver: bytes → config::load_json, the JSON config loader, on top of the defaults.
//
// Input: a config file, as is. Invariants: nothing crashes and nothing throws (load_json
// reports errors as values); an error is code "config" and names the source; an accepted
// config dumps (to_json, what GET /admin/config serves) to JSON that loads again and dumps
// to the same text.
#include <string>
#include <string_view>

#include "config/docs.hpp"
#include "config/loader.hpp"
#include "config/options.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view json(reinterpret_cast<const char*>(data), size);
    auto cfg = ec::config::load_json(json, "fuzz.json", ec::config::defaults());
    if (!cfg) {
        FUZZ_CHECK(cfg.error().code == "config");
        FUZZ_CHECK(cfg.error().message.rfind("fuzz.json:", 0) ==
                   0); // "fuzz.json: " or "fuzz.json:L:C: "
        return 0;
    }
    std::string dumped = ec::config::to_json(*cfg);
    auto again = ec::config::load_json(dumped, "dumped.json", ec::config::defaults());
    if (!again) {
        std::fprintf(stderr, "dump does not load: %s\n%s\n", again.error().message.c_str(),
                     dumped.c_str());
        FUZZ_CHECK(again);
    }
    std::string dumped_again = ec::config::to_json(*again);
    if (dumped_again != dumped) {
        std::fprintf(stderr, "dump differs after reload:\n%s\n%s\n", dumped.c_str(),
                     dumped_again.c_str());
        FUZZ_CHECK(dumped_again == dumped);
    }
    return 0;
}
