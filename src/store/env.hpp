// Env: one data dir's LMDB environment — the flock, env flags, named databases and meta record.
#pragma once

#include <memory>
#include <string>

#include <lmdb.h>

#include "store/record.hpp"
#include "store/store.hpp"
#include "util/hash.hpp"

namespace ec::store {

// Keys of the meta database.
inline constexpr std::string_view kMetaFormat = "format_version"; // u32le
inline constexpr std::string_view kMetaHashKey = "hash_key";      // 16 random bytes
inline constexpr std::string_view kMetaMaxKey = "max_key_size";   // u32le, fixes the encoding
inline constexpr std::string_view kMetaNsNext = "ns_next";        // u32le, next namespace num
// 1: records, expiry, tags, namespaces, meta. 2: + runs (the run index; 1 is upgraded on open).
inline constexpr uint32_t kFormatVersion = 2;

class Env {
public:
    // Creates data_dir if missing, takes the flock on data_dir/lock, opens the environment with
    // MDB_NOTLS (plus MDB_NOMETASYNC for batch durability), creates the named databases and the
    // meta record on first open (with a fresh random hash key) and checks them on later opens.
    // Throws std::runtime_error naming the path and the reason ("in use by another edgecached",
    // LMDB's error text, a format version from a newer build...).
    static std::unique_ptr<Env> open(const Options& opts);
    ~Env(); // closes the environment, then releases the lock
    Env(const Env&) = delete;
    Env& operator=(const Env&) = delete;

    MDB_env* env() const { return env_; }
    const Dbs& dbs() const { return dbs_; }
    const HashKey& hash_key() const { return hash_key_; }
    size_t max_key_size() const { return max_key_size_; }
    const std::string& dir() const { return dir_; }

private:
    Env() = default;
    void init_databases();

    std::string dir_;
    int lock_fd_ = -1;
    MDB_env* env_ = nullptr;
    Dbs dbs_;
    HashKey hash_key_;
    size_t max_key_size_ = 0;
    uint64_t file_bytes_ = 0; // size of data.mdb at open (0 = new); see init_databases
};

} // namespace ec::store
