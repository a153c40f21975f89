// Env: opening, locking and initialising a data dir's LMDB environment.
#include "store/env.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <stdexcept>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/bytes.hpp"
#include "store/run_index.hpp"
#include "store/tally.hpp"
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

// What to do about a damaged data.mdb, appended to every refusal.
std::string recovery_hint(const std::string& dir) {
    return ". edgecached refuses to start on it rather than hide its keys behind a fresh, empty "
           "store. Recover by restoring the data dir from a backup (stop the daemon, replace " +
           dir +
           "/data.mdb with the backup's data.mdb; README \"Backup and restore\"), or "
           "salvage what is readable with `mdb_dump -a -f dump.txt " +
           dir + "` and `mdb_load -f dump.txt NEWDIR`, then point data_dir at NEWDIR";
}

[[noreturn]] void damaged(const std::string& dir, const std::string& what) {
    fail(dir + "/data.mdb is damaged: " + what + recovery_hint(dir));
}

uint64_t le(const unsigned char* p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i)
        v = (v << 8) | p[i];
    return v;
}

// LMDB 0.9's on-disk meta page (64-bit builds): a 16-byte page header, then MDB_meta.
constexpr size_t kPageHeader = 16;
constexpr uint32_t kMetaMagic = 0xBEEFC0DE;
constexpr uint32_t kDataVersion = 1;
constexpr uint64_t kNoRoot = ~uint64_t{0}; // P_INVALID: an empty tree
struct MetaPage {
    uint32_t magic, version, page_size;
    uint64_t free_root, main_root, last_pgno, txnid;
};
constexpr size_t kMetaBytes = kPageHeader + 136;

MetaPage parse_meta(const unsigned char* p) {
    const unsigned char* m = p + kPageHeader;
    MetaPage mp;
    mp.magic = static_cast<uint32_t>(le(m, 4));
    mp.version = static_cast<uint32_t>(le(m + 4, 4));
    // mm_dbs[0] (the free list's MDB_db, 48 bytes) starts at 24; its md_pad holds the page size.
    mp.page_size = static_cast<uint32_t>(le(m + 24, 4));
    mp.free_root = le(m + 24 + 40, 8);
    mp.main_root = le(m + 72 + 40, 8);
    mp.last_pgno = le(m + 120, 8);
    mp.txnid = le(m + 128, 8);
    return mp;
}

// Reads both meta pages of an existing, non-empty data.mdb and refuses one LMDB would open
// into garbage or a SIGBUS: no valid meta page, a tree root past the end of the file.
void check_meta_pages(const std::string& dir, const std::string& path, uint64_t size) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("cannot open " + path + ": " + strerror(errno));
    unsigned char buf[kMetaBytes];
    auto read_at = [&](uint64_t off) {
        ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(off));
        return n == static_cast<ssize_t>(sizeof buf);
    };
    if (!read_at(0)) {
        ::close(fd);
        damaged(dir, "it is " + std::to_string(size) + " bytes, too short for LMDB's meta pages");
    }
    MetaPage m0 = parse_meta(buf);
    if (m0.magic != kMetaMagic) {
        ::close(fd);
        damaged(dir, "its first page is not an LMDB meta page (not an LMDB file, or overwritten)");
    }
    uint32_t ps = m0.page_size;
    if (ps < 512 || ps > 65536 || (ps & (ps - 1)) != 0) {
        ::close(fd);
        damaged(dir, "its meta page gives an impossible page size " + std::to_string(ps));
    }
    bool second = size >= 2ULL * ps && read_at(ps);
    ::close(fd);
    if (!second)
        damaged(dir, "it is " + std::to_string(size) +
                         " bytes: the second meta page is "
                         "missing (truncated)");
    MetaPage m1 = parse_meta(buf);
    uint64_t pages = size / ps;
    for (const MetaPage* m : {&m0, &m1}) {
        const char* which = m == &m0 ? "meta page 0" : "meta page 1";
        if (m->magic != kMetaMagic)
            damaged(dir, std::string(which) + " is not a valid LMDB meta page (torn write?)");
        if (m->version != kDataVersion)
            damaged(dir, std::string(which) + " has LMDB data version " +
                             std::to_string(m->version) + ", this LMDB reads version 1");
        for (auto [root, name] :
             {std::pair{m->free_root, "free-list"}, std::pair{m->main_root, "main database"}}) {
            if (root != kNoRoot && root >= pages)
                damaged(dir, std::string(which) + " (transaction " + std::to_string(m->txnid) +
                                 ") puts the " + name + " root at page " + std::to_string(root) +
                                 ", past the end of the file (" + std::to_string(pages) +
                                 " pages of " + std::to_string(ps) +
                                 " bytes): truncated, or a "
                                 "meta page written ahead of its data");
        }
    }
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

    // Only an absent or empty data.mdb is a new store; anything else must prove it is whole.
    std::string data_path = dir + "/data.mdb";
    struct stat st;
    if (::stat(data_path.c_str(), &st) == 0 && st.st_size > 0) {
        e->file_bytes_ = static_cast<uint64_t>(st.st_size);
        check_meta_pages(dir, data_path, static_cast<uint64_t>(st.st_size));
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
    // Never MDB_NOSYNC: LMDB's commit ordering (data pages durable before the meta page that
    // points at them) is what keeps the environment whole through a power cut. batch
    // durability leaves only the meta page's fsync to the next commit or the writer's timer.
    unsigned flags = MDB_NOTLS;
    if (opts.durability == Durability::batch) flags |= MDB_NOMETASYNC;
    rc = mdb_env_open(e->env_, dir.c_str(), flags, 0600);
    if (rc != 0) fail("cannot open LMDB environment in " + dir + ": " + mdb_msg(rc));
    e->max_key_size_ = static_cast<size_t>(mdb_env_get_maxkeysize(e->env_));
    if (e->max_key_size_ < 64)
        fail("LMDB max key size " + std::to_string(e->max_key_size_) + " is too small");
    e->init_databases();
    return e;
}

void Env::init_databases() {
    // An environment that has never committed is new (LMDB just created it, or a first start
    // died before its first commit); every other one must already hold our databases.
    MDB_envinfo info;
    int rc0 = mdb_env_info(env_, &info);
    if (rc0 != 0) fail("cannot read the environment info of " + dir_ + ": " + mdb_msg(rc0));
    const bool fresh = info.me_last_txnid == 0;
    MDB_stat est;
    if ((rc0 = mdb_env_stat(env_, &est)) != 0)
        fail("cannot read the environment stat of " + dir_ + ": " + mdb_msg(rc0));
    if (!fresh) {
        uint64_t pages = file_bytes_ / est.ms_psize;
        uint64_t in_use = est.ms_branch_pages + est.ms_leaf_pages + est.ms_overflow_pages;
        if (est.ms_depth > 32 || in_use > pages)
            damaged(dir_, "the main database claims depth " + std::to_string(est.ms_depth) +
                              " and " + std::to_string(in_use) + " pages in a file of " +
                              std::to_string(pages) + " pages");
    }
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
        int r = mdb_dbi_open(txn, name, flags | (fresh ? MDB_CREATE : 0), dbi);
        if (r != 0 && !fresh)
            damaged(dir_, "its database '" + std::string(name) + "' cannot be opened (" +
                              mdb_msg(r) + ")");
        if (r != 0)
            fail("cannot open database '" + std::string(name) + "' in " + dir_ + ": " + mdb_msg(r));
        if (fresh) return;
        // The named database's root must lie inside the file too.
        MDB_val k = mval(name), v;
        if (mdb_get(txn, 1 /* MAIN_DBI */, &k, &v) == 0 && v.mv_size >= 48) {
            uint64_t root = le(static_cast<const unsigned char*>(v.mv_data) + 40, 8);
            uint64_t pages = file_bytes_ / est.ms_psize;
            if (root != kNoRoot && root >= pages)
                damaged(dir_, "its database '" + std::string(name) + "' has its root at page " +
                                  std::to_string(root) + ", past the end of the file (" +
                                  std::to_string(pages) + " pages)");
        }
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
    bool has_format = get(kMetaFormat, &format);
    if (!has_format && !fresh)
        damaged(dir_, "it has no storage format record (the meta database lost its contents)");
    if (!has_format) {
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
    // The per-kind tally (tally.hpp) must count what the records database holds; a data dir
    // from before the tally, or one an older edgecached wrote to since, is recounted once.
    RecordTally tally;
    auto has_tally = read_tally(txn, dbs_, &tally);
    if (!has_tally)
        fail("cannot read the record tally in " + dir_ + ": " + has_tally.error().message);
    MDB_stat rst;
    if ((rc = mdb_stat(txn, dbs_.records, &rst)) != 0)
        fail("cannot stat the records of " + dir_ + ": " + mdb_msg(rc));
    if (!*has_tally || tally.records() != rst.ms_entries) {
        auto counted = recount_tally(txn, dbs_);
        if (!counted) fail("cannot count the records of " + dir_ + ": " + counted.error().message);
        if (!fresh)
            LOG_INFO("store: counted %llu records in %s for the record tally",
                     static_cast<unsigned long long>(counted->records()), dir_.c_str());
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
