// Store::backup: a compacted copy of the environment, written on libuv's thread pool.
#include <cerrno>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

#include "loop/handle.hpp"
#include "store/store_impl.hpp"
#include "util/log.hpp"

namespace ec::store {

// Shared by the loop thread and the worker. ~Impl waits on it: the env must outlive the copy.
struct BackupJob {
    std::mutex mu;
    std::condition_variable cv;
    bool finished = false;
    int rc = 0;
};

namespace {
uint64_t file_size(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}
} // namespace

void Store::backup(std::string path, std::function<void(Status, uint64_t)> done) {
    auto fail = [&](int http, const char* code, std::string msg) {
        done(Status(make_error(http, code, std::move(msg))), 0);
    };
    if (path.empty() || path[0] != '/')
        return fail(400, "bad_backup_path", "backup path must be absolute");
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0)
        return fail(409, "backup_target_exists", "backup target " + path + " already exists");
    if (impl_->backup_) return fail(409, "backup_in_progress", "a backup is already running");
    if (::mkdir(path.c_str(), 0700) != 0)
        return fail(400, "bad_backup_path",
                    "cannot create " + path + ": " + std::string(std::strerror(errno)));
    auto job = std::make_shared<BackupJob>();
    impl_->backup_ = job;
    MDB_env* env = impl_->env_->env();
    LOG_INFO("backup to %s started", path.c_str());
    std::weak_ptr<bool> alive = impl_->alive_;
    Impl* impl = impl_.get();
    loop::queue_work(
        impl_->loop_.uv(),
        [job, env, path] {
            // A read transaction for the whole copy: freed pages can't be reused meanwhile,
            // so the map grows while a backup runs (headroom, see README "Backup").
            int rc = mdb_env_copy2(env, path.c_str(), MDB_CP_COMPACT);
            std::lock_guard<std::mutex> lk(job->mu);
            job->rc = rc;
            job->finished = true;
            job->cv.notify_all();
        },
        [job, path, done = std::move(done), alive, impl](int) {
            if (auto a = alive.lock(); a && *a) impl->backup_.reset();
            if (job->rc != 0) {
                // Leave nothing half-written behind.
                ::unlink((path + "/data.mdb").c_str());
                ::unlink((path + "/lock.mdb").c_str());
                ::rmdir(path.c_str());
                LOG_ERROR("backup to %s failed: %s", path.c_str(), mdb_strerror(job->rc));
                done(Status(make_error(500, "backup_failed",
                                       std::string("backup failed: ") + mdb_strerror(job->rc))),
                     0);
                return;
            }
            uint64_t bytes = file_size(path + "/data.mdb");
            LOG_INFO("backup to %s done (%llu bytes)", path.c_str(),
                     static_cast<unsigned long long>(bytes));
            done(Status::ok(), bytes);
        });
}

bool Store::backup_in_progress() const {
    return impl_->backup_ != nullptr;
}

void Store::Impl::wait_for_backup() {
    if (!backup_) return;
    LOG_INFO("waiting for the backup in progress to finish");
    std::unique_lock<std::mutex> lk(backup_->mu);
    backup_->cv.wait(lk, [this] { return backup_->finished; });
}

} // namespace ec::store
