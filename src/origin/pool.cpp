// Pool: the public face of PoolCore.
#include "origin/pool.hpp"

#include "origin/pool_core.hpp"

namespace ec::origin {

Pool::Pool(loop::Loop& loop, const config::OriginSpec& spec, Tuning tuning)
    : core_(std::make_unique<PoolCore>(loop, spec, tuning)) {}

Pool::~Pool() = default; // PoolCore's destructor shuts down

std::shared_ptr<Fetch> Pool::fetch(UpstreamRequest request, Sink sink) {
    return core_->fetch(std::move(request), std::move(sink));
}
void Pool::update(const config::OriginSpec& spec) {
    core_->update(spec);
}
void Pool::set_max_pause_ms(uint32_t ms) {
    core_->set_max_pause_ms(ms);
}
void Pool::shutdown() {
    core_->shutdown();
}
void Pool::on_drained(std::function<void()> fn) {
    core_->on_drained(std::move(fn));
}
const std::string& Pool::name() const {
    return core_->spec().name;
}
const config::OriginSpec& Pool::spec() const {
    return core_->spec();
}
PoolStats Pool::stats() const {
    return core_->snapshot();
}
std::vector<ServerStatus> Pool::servers() const {
    return core_->server_status();
}
bool Pool::set_admin_health(std::string_view server, AdminHealth h) {
    return core_->set_admin_health(server, h);
}
void Pool::reset_stats() {
    core_->stats() = PoolStats{};
}
void Pool::set_stream_wrap(net::StreamWrap wrap) {
    core_->set_stream_wrap(std::move(wrap));
}

} // namespace ec::origin
