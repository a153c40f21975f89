// Origins: pools by name; reloads update, add and retire them.
#include "origin/origins.hpp"

#include <algorithm>

namespace ec::origin {

Origins::Origins(loop::Loop& loop, Tuning tuning) : loop_(loop), tuning_(tuning) {}

Origins::~Origins() {
    shutdown();
}

void Origins::configure(const std::map<std::string, config::OriginSpec>& specs) {
    for (auto it = pools_.begin(); it != pools_.end();) {
        if (specs.count(it->first)) {
            ++it;
            continue;
        }
        // Retired: found no more; destroyed once its last fetch is done.
        Pool* p = it->second.get();
        retired_.push_back(std::move(it->second));
        it = pools_.erase(it);
        p->on_drained([this, p] {
            auto r = std::find_if(retired_.begin(), retired_.end(),
                                  [p](const auto& q) { return q.get() == p; });
            if (r != retired_.end()) retired_.erase(r);
        });
    }
    for (const auto& [name, spec] : specs) {
        config::OriginSpec s = spec;
        if (s.name.empty()) s.name = name;
        auto it = pools_.find(name);
        if (it == pools_.end())
            pools_.emplace(name, std::make_unique<Pool>(loop_, s, tuning_));
        else if (!(it->second->spec() == s))
            it->second->update(s);
    }
}

Pool* Origins::find(std::string_view name) {
    auto it = pools_.find(name);
    return it == pools_.end() ? nullptr : it->second.get();
}

void Origins::shutdown() {
    for (auto& [name, pool] : pools_)
        pool->shutdown();
    for (auto& pool : retired_)
        pool->shutdown();
    retired_.clear();
}

} // namespace ec::origin
