// Issue 11 defect 4: listing inside a run of long keys (storage keys sharing their truncated
// prefix) read and sorted the whole run per page; the run index makes a page cost O(limit).
#include <doctest/doctest.h>

#include <algorithm>
#include <random>

#include "store/bytes.hpp"
#include "store/env.hpp"
#include "store/key_codec.hpp"
#include "store/record.hpp"
#include "store/run_index.hpp"
#include "store_test_util.hpp"

using namespace ec;
using namespace ec::store;
using namespace ec::store::test;

namespace {

struct Txn {
    MDB_txn* txn = nullptr;
    explicit Txn(Env& env) { REQUIRE(mdb_txn_begin(env.env(), nullptr, 0, &txn) == 0); }
    ~Txn() {
        if (txn) mdb_txn_abort(txn);
    }
    void commit() {
        REQUIRE(mdb_txn_commit(txn) == 0);
        txn = nullptr;
    }
};

Status put(const RecordCtx& c, std::string_view key, int64_t expires_at = 0) {
    std::string_view parts[] = {"v"};
    return put_record(c, key, parts, expires_at);
}

// Pages of `limit` records through fresh scanners (as kv_list does, resuming after the last
// key). Returns every key seen; *most_read gets the most records one page read.
std::vector<std::string> walk(const RecordCtx& c, std::string_view prefix, size_t limit,
                              size_t* most_read) {
    std::vector<std::string> keys;
    std::string after;
    *most_read = 0;
    for (;;) {
        RecordScanner scan(c, prefix, after);
        RecordView rv;
        size_t n = 0;
        bool more = false;
        for (;;) {
            auto got = scan.next(&rv);
            REQUIRE(got.is_ok());
            if (!*got) break;
            if (n == limit) { // one past the page, as scan_live reads
                more = true;
                break;
            }
            keys.emplace_back(rv.key);
            ++n;
        }
        *most_read = std::max(*most_read, scan.records_read());
        if (!more) return keys;
        after = keys.back();
    }
}

size_t index_entries(const Env& env, MDB_txn* txn) {
    MDB_stat st;
    REQUIRE(mdb_stat(txn, env.dbs().runs, &st) == 0);
    return st.ms_entries;
}

} // namespace

TEST_SUITE("store/long runs") {

    TEST_CASE("regress: a page inside a run of 20,000 long keys reads O(limit) records") {
        TempDir tmp;
        auto env = Env::open(options(tmp.path));
        KeyCodec codec(env->max_key_size(), env->hash_key());
        Txn t(*env);
        RecordCtx c{t.txn, &env->dbs(), &codec};
        std::string shared = kv_storage_key(7, std::string(500, 'p')); // 505 bytes: one run
        REQUIRE(codec.is_long(shared));
        std::vector<std::string> keys;
        for (int i = 0; i < 20000; ++i) {
            char tail[8];
            std::snprintf(tail, sizeof tail, "%05d", i);
            keys.push_back(shared + tail);
        }
        std::vector<std::string> shuffled = keys;
        std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(7));
        for (const auto& k : shuffled)
            REQUIRE(put(c, k).is_ok());
        REQUIRE(put(c, kv_storage_key(7, "a")).is_ok()); // short keys around the run
        REQUIRE(put(c, kv_storage_key(7, "q")).is_ok());
        CHECK(index_entries(*env, t.txn) == keys.size());

        size_t most = 0;
        auto first = walk(c, kv_storage_key(7, std::string(500, 'p')), 1, &most);
        CHECK(first == keys); // every key, in order, exactly once
        CHECK(most <= 3);     // before the run index: the whole run, 20,000 records

        auto all = walk(c, kv_storage_prefix(7), 1000, &most);
        REQUIRE(all.size() == keys.size() + 2);
        CHECK(all.front() == kv_storage_key(7, "a"));
        CHECK(all.back() == kv_storage_key(7, "q"));
        CHECK(std::equal(keys.begin(), keys.end(), all.begin() + 1));
        CHECK(most <= 1003);

        // A prefix that selects part of the run, and one past it.
        auto part = walk(c, shared + "123", 10, &most);
        CHECK(part == std::vector<std::string>(keys.begin() + 12300, keys.begin() + 12400));
        CHECK(most <= 13);
        CHECK(walk(c, shared + "9", 10, &most).empty());
    }

    TEST_CASE("keys sharing more than the index holds are still listed in order") {
        TempDir tmp;
        auto env = Env::open(options(tmp.path));
        KeyCodec codec(env->max_key_size(), env->hash_key());
        Txn t(*env);
        RecordCtx c{t.txn, &env->dbs(), &codec};
        std::string base(1200, 'z');
        std::vector<std::string> keys;
        for (std::string tail : {"", "\x01", "a", "b", "ba", "c"})
            for (std::string mid : {std::string(1, '\0'), std::string("m"), std::string(600, 'n')})
                keys.push_back(base.substr(0, 520) + mid + base + tail);
        std::sort(keys.begin(), keys.end());
        keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
        for (auto it = keys.rbegin(); it != keys.rend(); ++it)
            REQUIRE(put(c, *it).is_ok());
        size_t most = 0;
        CHECK(walk(c, "", 1, &most) == keys);
        CHECK(walk(c, "", 4, &most) == keys);
    }

    TEST_CASE("deletes and expiry keep the run index in step") {
        TempDir tmp;
        auto env = Env::open(options(tmp.path));
        KeyCodec codec(env->max_key_size(), env->hash_key());
        Txn t(*env);
        RecordCtx c{t.txn, &env->dbs(), &codec};
        std::string shared(510, 'k');
        std::vector<std::string> kept;
        for (int i = 0; i < 300; ++i) {
            std::string k = shared + std::to_string(1000 + i);
            REQUIRE(put(c, k, i % 3 == 0 ? 100 : 0).is_ok());
            if (i % 3 != 0 && i % 3 != 1) kept.push_back(k);
        }
        REQUIRE(put(c, shared + "1001").is_ok()); // an overwrite adds no entry
        CHECK(index_entries(*env, t.txn) == 300);
        for (int i = 1; i < 300; i += 3)
            REQUIRE(delete_record(c, shared + std::to_string(1000 + i)).is_ok());
        auto swept = delete_expired(c, 200, 1000);
        REQUIRE(swept.is_ok());
        CHECK(swept->deleted == 100);
        CHECK(index_entries(*env, t.txn) == kept.size());
        size_t most = 0;
        CHECK(walk(c, "", 7, &most) == kept);
    }

    TEST_CASE("a format 1 data dir is upgraded on open, with its run index built") {
        TempDir tmp;
        std::vector<std::string> keys;
        {
            auto env = Env::open(options(tmp.path));
            KeyCodec codec(env->max_key_size(), env->hash_key());
            Txn t(*env);
            RecordCtx c{t.txn, &env->dbs(), &codec};
            for (int i = 0; i < 50; ++i) {
                keys.push_back(std::string(505, 'u') + std::to_string(100 + i));
                REQUIRE(put(c, keys.back()).is_ok());
            }
            REQUIRE(put(c, "short").is_ok());
            // What format 1 left behind: no run index, version 1.
            REQUIRE(mdb_drop(t.txn, env->dbs().runs, 0) == 0);
            std::string one;
            detail::put_le32(one, 1);
            MDB_val k = detail::mval(kMetaFormat), v = detail::mval(one);
            REQUIRE(mdb_put(t.txn, env->dbs().meta, &k, &v, 0) == 0);
            t.commit();
        }
        auto env = Env::open(options(tmp.path));
        KeyCodec codec(env->max_key_size(), env->hash_key());
        Txn t(*env);
        RecordCtx c{t.txn, &env->dbs(), &codec};
        CHECK(index_entries(*env, t.txn) == keys.size());
        size_t most = 0;
        auto seen = walk(c, "", 5, &most);
        keys.insert(keys.begin(), "short");
        CHECK(seen == keys);
        MDB_val k = detail::mval(kMetaFormat), v;
        REQUIRE(mdb_get(t.txn, env->dbs().meta, &k, &v) == 0);
        CHECK(detail::get_le32(static_cast<const char*>(v.mv_data)) == kFormatVersion);
    }

    TEST_CASE("a data dir from a newer format is refused with its version") {
        TempDir tmp;
        {
            auto env = Env::open(options(tmp.path));
            Txn t(*env);
            std::string v9;
            detail::put_le32(v9, 9);
            MDB_val k = detail::mval(kMetaFormat), v = detail::mval(v9);
            REQUIRE(mdb_put(t.txn, env->dbs().meta, &k, &v, 0) == 0);
            t.commit();
        }
        std::string message;
        try {
            Env::open(options(tmp.path));
        } catch (const std::runtime_error& e) {
            message = e.what();
        }
        CHECK(message.find("storage format version 9") != std::string::npos);
    }

} // TEST_SUITE
