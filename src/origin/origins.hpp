// Origins: the daemon's pools, one per configured origin, kept in step with config reloads.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "loop/loop.hpp"
#include "origin/pool.hpp"

namespace ec::origin {

class Origins {
public:
    explicit Origins(loop::Loop& loop, Tuning tuning = {});
    ~Origins(); // shutdown()
    Origins(const Origins&) = delete;
    Origins& operator=(const Origins&) = delete;

    // Makes the set of pools match `specs`: existing pools get Pool::update(), new ones are
    // made, removed ones stop being found at once and are destroyed when their in-flight
    // fetches are done.
    void configure(const std::map<std::string, config::OriginSpec>& specs);

    // Tuning::max_pause_ms for every pool, now and made later; fetches already started keep
    // the limit they began with.
    void set_max_pause_ms(uint32_t ms);

    // The pool for an origin name, or nullptr. Valid until the next configure() or shutdown():
    // callers look it up per request rather than keep it.
    Pool* find(std::string_view name);

    // The live pools, by name (for stats and metrics).
    const std::map<std::string, std::unique_ptr<Pool>, std::less<>>& pools() const {
        return pools_;
    }

    // Shuts every pool down (including retired ones still draining). Idempotent.
    void shutdown();

private:
    // Connections opened from now on use TLS as spec.tls says (or plain TCP).
    void set_tls(Pool& pool, const config::OriginSpec& spec);

    loop::Loop& loop_;
    Tuning tuning_;
    std::map<std::string, std::unique_ptr<Pool>, std::less<>> pools_;
    std::vector<std::unique_ptr<Pool>> retired_;
};

} // namespace ec::origin
