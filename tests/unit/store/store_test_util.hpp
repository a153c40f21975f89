// Shared helpers for the store unit tests: temp dirs, driving the loop, synchronous writes.
#pragma once

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unistd.h>

#include <doctest/doctest.h>

#include "loop/loop.hpp"
#include "store/store.hpp"

namespace ec::store::test {

// A fresh directory under /tmp, removed with everything in it.
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/ec-store-XXXXXX";
        char* p = mkdtemp(tmpl);
        REQUIRE(p != nullptr);
        path = p;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

inline Options options(const std::string& dir) {
    Options o;
    o.data_dir = dir;
    o.map_size = 64ULL << 20;
    o.sweep_interval_ms = 0; // tests sweep explicitly unless they test the timer
    return o;
}

// Runs loop iterations (non-blocking, with short sleeps for the thread pool) until pred holds.
// Bounded: returns false after ~max_iters iterations.
template <class Pred> bool run_until(loop::Loop& loop, Pred pred, int max_iters = 3000) {
    for (int i = 0; i < max_iters; ++i) {
        if (pred()) return true;
        uv_run(loop.uv(), UV_RUN_NOWAIT);
        if (pred()) return true;
        usleep(1000);
    }
    return pred();
}

// Submits a KV put and drives the loop until it is acknowledged.
inline Status put_sync(loop::Loop& loop, Store& store, const std::string& ns,
                       const std::string& key, const std::string& value,
                       const std::string& metadata = "", int64_t expiration = 0) {
    std::optional<Status> result;
    store.kv_put(ns, key, value, metadata, expiration, [&](Status s) { result = std::move(s); });
    REQUIRE(run_until(loop, [&] { return result.has_value(); }));
    return *result;
}

inline Status delete_sync(loop::Loop& loop, Store& store, const std::string& ns,
                          const std::string& key) {
    std::optional<Status> result;
    store.kv_delete(ns, key, [&](Status s) { result = std::move(s); });
    REQUIRE(run_until(loop, [&] { return result.has_value(); }));
    return *result;
}

inline uint64_t record_count(Store& store) {
    auto c = store.entry_counts();
    REQUIRE(c.is_ok());
    return c->records;
}

// A gate the writer thread waits on before a batch; opened by the test, and always on destruction
// so a failing test cannot leave the worker (and the store's destructor) blocked.
struct CommitGate {
    struct State {
        std::mutex mu;
        std::condition_variable cv;
        bool open = false;
    };
    std::shared_ptr<State> st = std::make_shared<State>();

    std::function<void()> fn() {
        auto s = st;
        return [s] {
            std::unique_lock<std::mutex> lk(s->mu);
            s->cv.wait(lk, [&] { return s->open; });
        };
    }
    void release() {
        {
            std::lock_guard<std::mutex> lk(st->mu);
            st->open = true;
        }
        st->cv.notify_all();
    }
    ~CommitGate() { release(); }
};

} // namespace ec::store::test
