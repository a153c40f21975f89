// Env: opening, locking and initialising a data dir's LMDB environment.
#include "store/env.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <stdexcept>
#include <sys/file.h>
#include <unistd.h>

#include "store/bytes.hpp"
#include "store/run_index.hpp"
#include "util/log.hpp"

namespace ec::store {

using detail::mval;
using detail::sv;

namespace {

[[noreturn]] void fail(const std::string& msg) {
    throw std::runtime_error(msg);
}

std::string mdb_msg(int rc) {
    return mdb_strerror(rc);
}

} // namespace

std::unique_ptr<Env> Env::open(const Options& opts) {
    if (opts.data_dir.empty()) fail("data_dir is empty");
    std::unique_ptr<Env> e(new Env());
    e->dir_ = opts.data_dir;
    const std::string& dir = e->dir_;

    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) fail("cannot create data dir " + dir + ": " + ec.message());

    std::string lock_path = dir + "/lock";
    e->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (e->lock_fd_ < 0) fail("cannot open lock file " + lock_path + ": " + strerror(errno));
    if (flock(e->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            fail("data dir " + dir + " is in use by another edgecached (lock held on " + lock_path +
                 ")");
        }
        fail("cannot lock " + lock_path + ": " + strerror(errno));
    }

    int rc = mdb_env_create(&e->env_);
    if (rc != 0) {
        e->env_ = nullptr;
        fail("mdb_env_create: " + mdb_msg(rc));
    }
    if ((rc = mdb_env_set_mapsize(e->env_, opts.map_size)) != 0)
        fail("bad map_size " + std::to_string(opts.map_size) + ": " + mdb_msg(rc));
    if ((rc = mdb_env_set_maxreaders(e->env_, opts.max_readers)) != 0)
        fail("bad max_readers " + std::to_string(opts.max_readers) + ": " + mdb_msg(rc));
    if ((rc = mdb_env_set_maxdbs(e->env_, 8)) != 0) fail("mdb_env_set_maxdbs: " + mdb_msg(rc));
    // MDB_NOSYNC: commits do not fsync; the store syncs on the thread pool (see Store).
    rc = mdb_env_open(e->env_, dir.c_str(), MDB_NOTLS | MDB_NOSYNC, 0600);
    if (rc != 0) fail("cannot open LMDB environment in " + dir + ": " + mdb_msg(rc));
    e->max_key_size_ = static_cast<size_t>(mdb_env_get_maxkeysize(e->env_));
    if (e->max_key_size_ < 64)
        fail("LMDB max key size " + std::to_string(e->max_key_size_) + " is too small");
    e->init_databases();
    return e;
}

void Env::init_databases() {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc != 0) fail("cannot begin a write transaction in " + dir_ + ": " + mdb_msg(rc));
    struct Guard {
        MDB_txn* t;
        ~Guard() {
            if (t) mdb_txn_abort(t);
        }
    } guard{txn};

    auto open_db = [&](const char* name, unsigned flags, MDB_dbi* dbi) {
        int r = mdb_dbi_open(txn, name, flags | MDB_CREATE, dbi);
        if (r != 0)
            fail("cannot open database '" + std::string(name) + "' in " + dir_ + ": " + mdb_msg(r));
    };
    open_db("records", 0, &dbs_.records);
    open_db("expiry", MDB_DUPSORT, &dbs_.expiry);
    open_db("tags", MDB_DUPSORT, &dbs_.tags);
    open_db("namespaces", 0, &dbs_.namespaces);
    open_db("meta", 0, &dbs_.meta);
    open_db("runs", MDB_DUPSORT, &dbs_.runs);

    auto get = [&](std::string_view key, std::string* out) {
        MDB_val k = mval(key), v;
        int r = mdb_get(txn, dbs_.meta, &k, &v);
        if (r == MDB_NOTFOUND) return false;
        if (r != 0) fail("cannot read meta in " + dir_ + ": " + mdb_msg(r));
        out->assign(sv(v));
        return true;
    };
    auto put = [&](std::string_view key, std::string_view value) {
        MDB_val k = mval(key), v = mval(value);
        int r = mdb_put(txn, dbs_.meta, &k, &v, 0);
        if (r != 0) fail("cannot write meta in " + dir_ + ": " + mdb_msg(r));
    };
    auto u32 = [](uint32_t n) {
        std::string s;
        detail::put_le32(s, n);
        return s;
    };

    std::string format, hk, maxkey;
    if (!get(kMetaFormat, &format)) {
        // First open: fix the format, the key encoding and a secret hash key for good.
        unsigned char key[16];
        if (!detail::random_bytes(key, sizeof key))
            fail("cannot read random bytes for the hash key");
        put(kMetaFormat, u32(kFormatVersion));
        put(kMetaHashKey, std::string_view(reinterpret_cast<char*>(key), sizeof key));
        put(kMetaMaxKey, u32(static_cast<uint32_t>(max_key_size_)));
        put(kMetaNsNext, u32(1));
        LOG_INFO("store: initialised a new data dir in %s", dir_.c_str());
    } else {
        uint32_t version = format.size() == 4 ? detail::get_le32(format.data()) : 0;
        if (version != kFormatVersion && version != 1) {
            fail("data dir " + dir_ + " has storage format version " + std::to_string(version) +
                 "; this edgecached supports versions 1 and " + std::to_string(kFormatVersion));
        }
        if (!get(kMetaMaxKey, &maxkey) || maxkey.size() != 4)
            fail("data dir " + dir_ + " has no key-encoding record in its meta database");
        uint32_t stored = detail::get_le32(maxkey.data());
        if (stored != max_key_size_) {
            fail("data dir " + dir_ + " was written by an LMDB with max key size " +
                 std::to_string(stored) + ", but this build's LMDB has " +
                 std::to_string(max_key_size_));
        }
        if (version == 1) {
            // Format 2 adds the run index (run_index.hpp), built here from the records in the
            // same transaction as the version bump; an older edgecached refuses format 2 rather
            // than write records without index entries.
            auto n = build_run_index(txn, dbs_, max_key_size_ - KeyCodec::kHashBytes);
            if (!n) fail("cannot upgrade " + dir_ + " to storage format 2: " + n.error().message);
            put(kMetaFormat, u32(kFormatVersion));
            LOG_INFO("store: upgraded %s to storage format %u (run index: %zu long keys)",
                     dir_.c_str(), kFormatVersion, *n);
        }
    }
    if (!get(kMetaHashKey, &hk) || hk.size() != 16)
        fail("data dir " + dir_ + " has no hash key in its meta database");
    hash_key_.k0 = detail::get_le64(hk.data());
    hash_key_.k1 = detail::get_le64(hk.data() + 8);

    rc = mdb_txn_commit(txn);
    guard.t = nullptr;
    if (rc != 0) fail("cannot initialise " + dir_ + ": " + mdb_msg(rc));
    rc = mdb_env_sync(env_, 1);
    if (rc != 0) fail("cannot sync " + dir_ + ": " + mdb_msg(rc));
}

Env::~Env() {
    if (env_) mdb_env_close(env_);
    if (lock_fd_ >= 0) ::close(lock_fd_); // releases the flock
}

} // namespace ec::store
