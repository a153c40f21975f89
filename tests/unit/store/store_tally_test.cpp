// store/tally: the per-kind record counts and bytes follow every write and survive reopening.
#include <lmdb.h>

#include "store/key_codec.hpp"
#include "store_test_util.hpp"

using namespace ec;
using namespace ec::store;
using namespace ec::store::test;

namespace {

Status tally_write(loop::Loop& loop, Store& store, std::function<Status(WriteTxn&)> apply) {
    std::optional<Status> result;
    WriteOp op;
    op.apply = std::move(apply);
    op.done = [&](Status s) { result = std::move(s); };
    store.submit(std::move(op));
    REQUIRE(run_until(loop, [&] { return result.has_value(); }));
    return *result;
}

EntryCounts tally_counts(Store& store) {
    auto c = store.entry_counts();
    REQUIRE(c.is_ok());
    CHECK(c->kv_records + c->cache_entries == c->records); // nothing else is stored
    return *c;
}

// Removes the tally from a closed data dir, as a data dir from before the tally has none.
void drop_tally_of(const std::string& dir) {
    MDB_env* env = nullptr;
    REQUIRE(mdb_env_create(&env) == 0);
    REQUIRE(mdb_env_set_maxdbs(env, 8) == 0);
    REQUIRE(mdb_env_open(env, dir.c_str(), MDB_NOTLS, 0600) == 0);
    MDB_txn* txn = nullptr;
    REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
    MDB_dbi meta;
    REQUIRE(mdb_dbi_open(txn, "meta", 0, &meta) == 0);
    char name[] = "record_tally";
    MDB_val k{sizeof name - 1, name};
    CHECK(mdb_del(txn, meta, &k, nullptr) == 0);
    REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
}

} // namespace

TEST_SUITE("store/tally") {

    TEST_CASE("cache entries and KV keys are counted apart, with their bytes") {
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        EntryCounts c = tally_counts(*store);
        CHECK(c.cache_entries == 0);
        CHECK(c.cache_bytes == 0);
        CHECK(c.kv_records == 0);

        REQUIRE(put_sync(loop, *store, "ns", "a", std::string(1000, 'v')).is_ok());
        REQUIRE(put_sync(loop, *store, "ns", "b", "v").is_ok());
        REQUIRE(tally_write(loop, *store, [](WriteTxn& t) {
                    return t.put_record("C/one", std::string(5000, 'x'), 0);
                }).is_ok());
        c = tally_counts(*store);
        CHECK(c.kv_records == 2);
        CHECK(c.cache_entries == 1);
        CHECK(c.cache_bytes > 5000);
        CHECK(c.cache_bytes < 5100);
        CHECK(c.kv_bytes > 1000);
        CHECK(c.kv_bytes < 1100);

        // A replacement changes the bytes, not the count; a long key counts once.
        uint64_t kv_before = c.kv_bytes;
        REQUIRE(put_sync(loop, *store, "ns", "a", std::string(10, 'v')).is_ok());
        std::string long_key = "C/" + std::string(600, 'p');
        REQUIRE(tally_write(loop, *store, [&](WriteTxn& t) {
                    return t.put_record(long_key, "body", 0);
                }).is_ok());
        c = tally_counts(*store);
        CHECK(c.kv_records == 2);
        CHECK(c.kv_bytes == kv_before - 990);
        CHECK(c.cache_entries == 2);

        // Deletes give everything back.
        REQUIRE(delete_sync(loop, *store, "ns", "a").is_ok());
        REQUIRE(delete_sync(loop, *store, "ns", "b").is_ok());
        REQUIRE(tally_write(loop, *store, [&](WriteTxn& t) -> Status {
                    for (std::string k : {std::string("C/one"), long_key}) {
                        auto r = t.delete_record(k);
                        if (!r) return r.error();
                        REQUIRE(*r);
                    }
                    return Status::ok();
                }).is_ok());
        c = tally_counts(*store);
        CHECK(c.kv_records == 0);
        CHECK(c.kv_bytes == 0);
        CHECK(c.cache_entries == 0);
        CHECK(c.cache_bytes == 0);
    }

    TEST_CASE("a failed op leaves the tally as the committed records are") {
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        // The op writes a record, then fails: the batch is rerun without it.
        std::optional<Status> failed, ok;
        WriteOp bad;
        bad.apply = [](WriteTxn& t) -> Status {
            if (Status st = t.put_record("Cgone", "x", 0); !st) return st;
            return make_error(500, "test", "fails after writing");
        };
        bad.done = [&](Status s) { failed = std::move(s); };
        WriteOp good;
        good.apply = [](WriteTxn& t) { return t.put_record("Ckept", "x", 0); };
        good.done = [&](Status s) { ok = std::move(s); };
        store->submit(std::move(bad));
        store->submit(std::move(good));
        REQUIRE(run_until(loop, [&] { return failed && ok; }));
        CHECK_FALSE(failed->is_ok());
        CHECK(ok->is_ok());
        CHECK(tally_counts(*store).cache_entries == 1);
    }

    TEST_CASE("expired records swept go out of the tally") {
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        int64_t now = loop.clock().now_s();
        for (int i = 0; i < 5; ++i)
            REQUIRE(tally_write(loop, *store, [&](WriteTxn& t) {
                        return t.put_record("Cexp" + std::to_string(i), "x", now + 10);
                    }).is_ok());
        REQUIRE(put_sync(loop, *store, "ns", "k", "v", "", now + 100).is_ok());
        CHECK(tally_counts(*store).cache_entries == 5);
        loop.clock().advance_for_test(20'000);
        store->sweep_now_for_test();
        REQUIRE(run_until(loop, [&] { return tally_counts(*store).cache_entries == 0; }));
        EntryCounts c = tally_counts(*store);
        CHECK(c.cache_bytes == 0);
        CHECK(c.kv_records == 1);
    }

    TEST_CASE("one transaction of many ops writes the sum of their changes once") {
        // Ops queued together commit in one transaction, which writes the tally once at its
        // end: puts, a replacement in the same transaction, a delete of one written earlier in
        // it, and a failed op whose rerun must not leave its changes in the sum.
        TempDir tmp;
        EntryCounts summed;
        {
            loop::Loop loop;
            auto store = Store::open(loop, options(tmp.path));
            size_t done = 0, failed = 0;
            auto submit = [&](std::function<Status(WriteTxn&)> apply) {
                WriteOp op;
                op.apply = std::move(apply);
                op.done = [&](Status s) { s ? ++done : ++failed; };
                store->submit(std::move(op));
            };
            for (int i = 0; i < 6; ++i)
                submit([i](WriteTxn& t) {
                    return t.put_record("Cm" + std::to_string(i), std::string(100 + i, 'x'), 0);
                });
            submit([](WriteTxn& t) { return t.put_record("Cm2", std::string(5000, 'y'), 0); });
            submit([](WriteTxn& t) -> Status {
                if (Status st = t.put_record("Cnever", "x", 0); !st) return st;
                return make_error(500, "test", "fails after writing");
            });
            submit([](WriteTxn& t) -> Status {
                auto gone = t.delete_record("Cm4");
                return gone ? Status::ok() : Status(gone.error());
            });
            submit([](WriteTxn& t) {
                auto ns = t.namespace_for_title("ns", true);
                if (!ns) return Status(ns.error());
                return t.kv_put(*ns, "k", "value", "", 0);
            });
            REQUIRE(run_until(loop, [&] { return done + failed == 10; }));
            CHECK(failed == 1);
            summed = tally_counts(*store);
            CHECK(summed.cache_entries == 5);
            CHECK(summed.kv_records == 1);
        }
        // What a count of every record says.
        drop_tally_of(tmp.path);
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        EntryCounts counted = tally_counts(*store);
        CHECK(counted.cache_entries == summed.cache_entries);
        CHECK(counted.cache_bytes == summed.cache_bytes);
        CHECK(counted.kv_records == summed.kv_records);
        CHECK(counted.kv_bytes == summed.kv_bytes);
    }

    TEST_CASE("a data dir without a tally is counted when it opens") {
        TempDir tmp;
        uint64_t kv_bytes = 0, cache_bytes = 0;
        {
            loop::Loop loop;
            auto store = Store::open(loop, options(tmp.path));
            REQUIRE(put_sync(loop, *store, "ns", "a", "value").is_ok());
            REQUIRE(tally_write(loop, *store, [](WriteTxn& t) {
                        return t.put_record("C" + std::string(700, 'z'), "body", 0);
                    }).is_ok());
            EntryCounts c = tally_counts(*store);
            kv_bytes = c.kv_bytes;
            cache_bytes = c.cache_bytes;
        }
        drop_tally_of(tmp.path);
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        EntryCounts c = tally_counts(*store);
        CHECK(c.kv_records == 1);
        CHECK(c.kv_bytes == kv_bytes);
        CHECK(c.cache_entries == 1);
        CHECK(c.cache_bytes == cache_bytes);
    }

} // TEST_SUITE
