// Expiry: lazy on read, the budgeted sweeper over the expiry index, index upkeep on rewrites.
#include <doctest/doctest.h>

#include "store/key_codec.hpp"
#include "store_test_util.hpp"

using namespace ec;
using namespace ec::store;
using namespace ec::store::test;

TEST_SUITE("store/expiry") {

    TEST_CASE("expired records are never returned (lazy expiry on read)") {
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        int64_t now = loop.clock().now_s();
        REQUIRE(put_sync(loop, *store, "ns", "short", "v", "", now + 100).is_ok());
        REQUIRE(put_sync(loop, *store, "ns", "long", "v", "", now + 1000).is_ok());
        const Namespace& ns = *store->namespace_by_title("ns");
        KvValue v;
        CHECK(*store->kv_get(ns, "short", &v));
        CHECK(v.expiration == now + 100);

        // Wall time ran on since `now` was read: move the clock to 1 ms before the expiration,
        // relative to the clock's current reading, not to `now`.
        loop.clock().advance_for_test((now + 100) * 1000 - 1 - loop.clock().now_ms());
        CHECK(*store->kv_get(ns, "short", &v));
        CHECK(store->stats().expired_on_read == 0);

        loop.clock().advance_for_test(1); // now == expiration: expired
        CHECK_FALSE(*store->kv_get(ns, "short", &v));
        CHECK(store->stats().expired_on_read == 1);
        CHECK(*store->kv_get(ns, "long", &v));

        // Listing skips it too, but the record is still in LMDB until the sweeper runs.
        auto page = store->kv_list(ns, "", "", 1000);
        REQUIRE(page.is_ok());
        REQUIRE(page->keys.size() == 1);
        CHECK(page->keys[0].name == "long");
        CHECK(page->keys[0].expiration == now + 1000);
        CHECK(page->complete);
        CHECK(store->stats().expired_skipped == 1);
        CHECK(record_count(*store) == 2);

        Record rec;
        CHECK_FALSE(*store->get_record(kv_storage_key(ns.num, "short"), &rec));
        CHECK(*store->get_record(kv_storage_key(ns.num, "long"), &rec));
    }

    TEST_CASE("the sweeper deletes expired records in budgeted slices") {
        TempDir tmp;
        loop::Loop loop;
        Options o = options(tmp.path);
        o.sweep_budget = 3;
        auto store = Store::open(loop, o);
        int64_t now = loop.clock().now_s();
        for (int i = 0; i < 10; ++i)
            store->kv_put("ns", "exp" + std::to_string(i), "v", "", now + 100 + i, nullptr);
        store->kv_put("ns", "later", "v", "", now + 10'000, nullptr);
        store->kv_put("ns", "never1", "v", "", 0, nullptr);
        store->kv_put("ns", "never2", "v", "", 0, nullptr);
        store->flush();
        CHECK(record_count(*store) == 13);
        CHECK(store->entry_counts()->expiry_entries == 11);

        // Nothing is due yet: a sweep writes nothing at all. (It used to commit an empty
        // transaction, which marked the store dirty: an idle daemon fsynced every second.)
        uint64_t commits = store->stats().commits;
        uint64_t syncs = store->stats().syncs;
        store->sweep_now_for_test();
        for (int i = 0; i < 5; ++i)
            uv_run(loop.uv(), UV_RUN_NOWAIT);
        CHECK(store->stats().commits == commits);
        CHECK(store->stats().syncs == syncs);
        CHECK(store->stats().expired_swept == 0);
        CHECK(record_count(*store) == 13);

        loop.clock().advance_for_test(200'000);
        commits = store->stats().commits;
        store->sweep_now_for_test();
        REQUIRE(run_until(loop, [&] { return store->stats().expired_swept == 10; }));
        // Let a (wrong) extra slice show up if one were posted.
        for (int i = 0; i < 5; ++i)
            uv_run(loop.uv(), UV_RUN_NOWAIT);
        CHECK(store->stats().commits - commits == 4); // slices of 3, 3, 3, 1
        CHECK(record_count(*store) == 3);
        CHECK(store->entry_counts()->expiry_entries == 1);
        const Namespace& ns = *store->namespace_by_title("ns");
        KvValue v;
        CHECK(*store->kv_get(ns, "later", &v));
        CHECK(*store->kv_get(ns, "never1", &v));
        CHECK(store->stats().expired_on_read == 0);
    }

    TEST_CASE("the sweep timer runs on its own") {
        TempDir tmp;
        loop::Loop loop;
        Options o = options(tmp.path);
        o.sweep_interval_ms = 5;
        auto store = Store::open(loop, o);
        int64_t now = loop.clock().now_s();
        for (int i = 0; i < 5; ++i)
            store->kv_put("ns", "k" + std::to_string(i), "v", "", now + 60, nullptr);
        store->flush();
        loop.clock().advance_for_test(61'000);
        loop::Timer keepalive(loop.uv(), [] {}); // the store's timers don't keep the loop alive
        keepalive.start(60'000);
        CHECK(run_until(loop, [&] { return store->stats().expired_swept == 5; }));
        CHECK(record_count(*store) == 0);
    }

    TEST_CASE("rewrites and deletes keep the expiry index in step") {
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        int64_t now = loop.clock().now_s();
        auto expiry_entries = [&] { return store->entry_counts()->expiry_entries; };

        REQUIRE(put_sync(loop, *store, "ns", "k", "v1", "", now + 100).is_ok());
        CHECK(expiry_entries() == 1);
        REQUIRE(put_sync(loop, *store, "ns", "k", "v2", "", 0).is_ok()); // now permanent
        CHECK(expiry_entries() == 0);
        REQUIRE(put_sync(loop, *store, "ns", "k", "v3", "", now + 200).is_ok());
        REQUIRE(put_sync(loop, *store, "ns", "k", "v4", "", now + 300).is_ok());
        CHECK(expiry_entries() == 1);
        REQUIRE(delete_sync(loop, *store, "ns", "k").is_ok());
        CHECK(expiry_entries() == 0);

        // The sweeper must not delete a record that was rewritten with a later expiration.
        REQUIRE(put_sync(loop, *store, "ns", "k", "v5", "", now + 100).is_ok());
        REQUIRE(put_sync(loop, *store, "ns", "k", "v6", "", now + 5000).is_ok());
        loop.clock().advance_for_test(1000'000);
        store->sweep_now_for_test();
        store->flush();
        CHECK(store->stats().expired_swept == 0);
        KvValue v;
        REQUIRE(*store->kv_get(*store->namespace_by_title("ns"), "k", &v));
        CHECK(v.value == "v6");
    }

    TEST_CASE("a delete of an expired key reports that nothing live was deleted") {
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        int64_t now = loop.clock().now_s();
        REQUIRE(put_sync(loop, *store, "ns", "gone", "v", "", now + 60).is_ok());
        REQUIRE(put_sync(loop, *store, "ns", "live", "v", "", now + 600).is_ok());
        loop.clock().advance_for_test(120'000);
        std::vector<bool> deleted;
        WriteOp op;
        op.apply = [&](WriteTxn& txn) -> Status {
            deleted.clear();
            auto ns = txn.namespace_for_title("ns", false);
            if (!ns) return ns.error();
            for (const char* k : {"gone", "live", "missing"}) {
                auto r = txn.kv_delete(*ns, k);
                if (!r) return r.error();
                deleted.push_back(*r);
            }
            return Status::ok();
        };
        bool done = false;
        op.done = [&](Status s) { done = s.is_ok(); };
        store->submit(std::move(op));
        REQUIRE(run_until(loop, [&] { return done; }));
        CHECK(deleted == std::vector<bool>{false, true, false});
        CHECK(record_count(*store) == 0);
        CHECK(store->entry_counts()->expiry_entries == 0);
    }

} // TEST_SUITE
