// Timer, signal, phase hooks and thread-pool work over libuv.
#include "loop/handle.hpp"

namespace ec::loop {

Timer::Timer(uv_loop_t* loop, std::function<void()> cb) : cb_(std::move(cb)) {
    uv_timer_init(loop, box_.get());
    box_.mark_initialized();
    box_.get()->data = this;
}

void Timer::start(uint64_t timeout_ms, uint64_t repeat_ms) {
    uv_timer_start(
        box_.get(),
        [](uv_timer_t* t) {
            if (auto* self = static_cast<Timer*>(t->data)) self->cb_();
        },
        timeout_ms, repeat_ms);
}

void Timer::stop() {
    uv_timer_stop(box_.get());
}
bool Timer::active() const {
    return uv_is_active(reinterpret_cast<uv_handle_t*>(box_.get()));
}
void Timer::unref() {
    uv_unref(reinterpret_cast<uv_handle_t*>(box_.get()));
}

Signal::Signal(uv_loop_t* loop, int signum, std::function<void()> cb) : cb_(std::move(cb)) {
    uv_signal_init(loop, box_.get());
    box_.mark_initialized();
    box_.get()->data = this;
    uv_signal_start(
        box_.get(),
        [](uv_signal_t* s, int) {
            if (auto* self = static_cast<Signal*>(s->data)) self->cb_();
        },
        signum);
}

void Signal::unref() {
    uv_unref(reinterpret_cast<uv_handle_t*>(box_.get()));
}

namespace {
int phase_init(uv_loop_t* l, uv_check_t* h) {
    return uv_check_init(l, h);
}
int phase_init(uv_loop_t* l, uv_idle_t* h) {
    return uv_idle_init(l, h);
}
int phase_init(uv_loop_t* l, uv_prepare_t* h) {
    return uv_prepare_init(l, h);
}

template <class H> void phase_cb(H* h) {
    if (auto* fn = static_cast<std::function<void()>*>(h->data)) (*fn)();
}
int phase_start(uv_check_t* h) {
    return uv_check_start(h, phase_cb<uv_check_t>);
}
int phase_start(uv_idle_t* h) {
    return uv_idle_start(h, phase_cb<uv_idle_t>);
}
int phase_start(uv_prepare_t* h) {
    return uv_prepare_start(h, phase_cb<uv_prepare_t>);
}
int phase_stop(uv_check_t* h) {
    return uv_check_stop(h);
}
int phase_stop(uv_idle_t* h) {
    return uv_idle_stop(h);
}
int phase_stop(uv_prepare_t* h) {
    return uv_prepare_stop(h);
}
} // namespace

template <class H>
PhaseHook<H>::PhaseHook(uv_loop_t* loop, std::function<void()> cb) : cb_(std::move(cb)) {
    phase_init(loop, box_.get());
    box_.mark_initialized();
    box_.get()->data = &cb_;
}
template <class H> void PhaseHook<H>::start() {
    phase_start(box_.get());
}
template <class H> void PhaseHook<H>::stop() {
    phase_stop(box_.get());
}

template class PhaseHook<uv_check_t>;
template class PhaseHook<uv_idle_t>;
template class PhaseHook<uv_prepare_t>;

namespace {
struct WorkReq {
    uv_work_t req;
    std::function<void()> work;
    std::function<void(int)> done;
};
} // namespace

void queue_work(uv_loop_t* loop, std::function<void()> work, std::function<void(int)> done) {
    auto* w = new WorkReq{{}, std::move(work), std::move(done)};
    w->req.data = w;
    int rc = uv_queue_work(
        loop, &w->req, [](uv_work_t* r) { static_cast<WorkReq*>(r->data)->work(); },
        [](uv_work_t* r, int status) {
            auto* wr = static_cast<WorkReq*>(r->data);
            if (wr->done) wr->done(status);
            delete wr;
        });
    if (rc != 0) {
        // Only fails for invalid arguments; report it the way a cancelled job is reported.
        auto d = std::move(w->done);
        delete w;
        if (d) d(rc);
    }
}

} // namespace ec::loop
