// Group commit on the writer thread: batches, failed ops retried out, the loop never waits.
#include <doctest/doctest.h>

#include <map>
#include <stdexcept>

#include "store_test_util.hpp"

using namespace ec;
using namespace ec::store;
using namespace ec::store::test;

namespace {

// Collects each op's completion status by name.
struct Results {
    std::map<std::string, Status> by_name;
    std::vector<std::string> order;
    std::function<void(Status)> done(const std::string& name) {
        return [this, name](Status s) {
            CHECK(by_name.count(name) == 0); // exactly once
            by_name[name] = std::move(s);
            order.push_back(name);
        };
    }
    size_t size() const { return by_name.size(); }
};

} // namespace

TEST_SUITE("store/commit") {

    TEST_CASE("ops submitted in one iteration commit in one transaction") {
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        Results r;
        for (int i = 0; i < 5; ++i)
            store->kv_put("ns", "k" + std::to_string(i), "v", "", 0,
                          r.done("k" + std::to_string(i)));
        REQUIRE(ec::store::test::run_until(loop, [&] { return r.size() == 5; }));
        for (auto& [name, st] : r.by_name)
            CHECK(st.is_ok());
        CHECK(r.order == std::vector<std::string>{"k0", "k1", "k2", "k3", "k4"});
        CHECK(store->stats().commits == 1);
        CHECK(store->stats().ops_committed == 5);
        CHECK(store->stats().ops_failed == 0);
        CHECK(record_count(*store) == 5);
    }

    TEST_CASE("a failing op is retried out of the batch without failing the others") {
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        Results r;
        int a_applies = 0;
        WriteOp a;
        a.apply = [&](WriteTxn& txn) -> Status {
            ++a_applies;
            return txn.put_record("Ca", "payload-a", 0);
        };
        bool a_committed = false;
        a.on_commit = [&] { a_committed = true; };
        a.done = r.done("a");
        store->submit(std::move(a));

        WriteOp bad;
        bad.apply = [](WriteTxn& txn) -> Status {
            // Writes half its work, then fails: nothing of it may be committed.
            Status st = txn.put_record("Cpartial", "x", 0);
            if (!st) return st;
            return make_error(400, "nope", "refused by the op");
        };
        bool bad_committed = false;
        bad.on_commit = [&] { bad_committed = true; };
        bad.done = r.done("bad");
        store->submit(std::move(bad));

        WriteOp thrower;
        thrower.apply = [](WriteTxn&) -> Status { throw std::runtime_error("boom"); };
        thrower.done = r.done("thrower");
        store->submit(std::move(thrower));

        store->kv_put("ns", "b", "v", "", 0, r.done("b"));
        REQUIRE(ec::store::test::run_until(loop, [&] { return r.size() == 4; }));

        CHECK(r.by_name["a"].is_ok());
        CHECK(r.by_name["b"].is_ok());
        CHECK(r.by_name["bad"].error().code == "nope");
        CHECK(r.by_name["bad"].error().http == 400);
        CHECK(r.by_name["thrower"].error().http == 500);
        CHECK(a_committed);
        CHECK_FALSE(bad_committed);
        CHECK(a_applies == 3); // the batch ran three times: with bad, with thrower, clean
        CHECK(store->stats().commits == 1);
        CHECK(store->stats().ops_committed == 2);
        CHECK(store->stats().ops_failed == 2);
        Record rec;
        CHECK(*store->get_record("Ca", &rec));
        CHECK(rec.payload == "payload-a");
        CHECK_FALSE(*store->get_record("Cpartial", &rec));
        KvValue v;
        CHECK(*store->kv_get(*store->namespace_by_title("ns"), "b", &v));
    }

    TEST_CASE("a record read back names its key, short, heap-sized or long") {
        // Regression: find_record returned the key as a view into its own encoded copy, freed
        // on return; ASan caught get_record copying from it (keys past the SSO size).
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        Results r;
        const std::vector<std::string> keys = {"Cs", "Chttp://host.example/a/longer/path",
                                               "C" + std::string(600, 'k')};
        for (const auto& k : keys) {
            WriteOp op;
            op.apply = [k](WriteTxn& txn) -> Status { return txn.put_record(k, "p:" + k, 0); };
            op.done = r.done(k);
            store->submit(std::move(op));
        }
        REQUIRE(ec::store::test::run_until(loop, [&] { return r.size() == keys.size(); }));
        for (const auto& k : keys) {
            Record rec;
            REQUIRE(*store->get_record(k, &rec));
            CHECK(rec.key == k);
            CHECK(rec.payload == "p:" + k);
        }
    }

    TEST_CASE("a write that overflows the map gets 507 and the others commit") {
        TempDir tmp;
        loop::Loop loop;
        Options o = options(tmp.path);
        o.map_size = 1 << 20;
        auto store = Store::open(loop, o);
        Results r;
        store->kv_put("ns", "small1", "v", "", 0, r.done("small1"));
        store->kv_put("ns", "huge", std::string(4 << 20, 'h'), "", 0, r.done("huge"));
        store->kv_put("ns", "small2", "v", "", 0, r.done("small2"));
        REQUIRE(ec::store::test::run_until(loop, [&] { return r.size() == 3; }));
        CHECK(r.by_name["small1"].is_ok());
        CHECK(r.by_name["small2"].is_ok());
        REQUIRE_FALSE(r.by_name["huge"].is_ok());
        CHECK(r.by_name["huge"].error().http == 507);
        CHECK(r.by_name["huge"].error().code == "storage_full");
        // Over map_size / 20, the huge write went in a transaction of its own, which failed.
        // Besides the small writes' two commits, its map-full retry committed once to make
        // what earlier commits freed reusable before trying it again.
        CHECK(store->stats().commits == 3);
        const Namespace& ns = *store->namespace_by_title("ns");
        KvValue v;
        CHECK(*store->kv_get(ns, "small1", &v));
        CHECK(*store->kv_get(ns, "small2", &v));
        CHECK_FALSE(*store->kv_get(ns, "huge", &v));
    }

    TEST_CASE("evicting ahead of a full map goes in slices, one per commit") {
        // Regression: crossing 85% evicted down to 75% in one transaction (up to 20,000
        // records, ~260 ms inline in the loop). Now at most 1,000 go per commit.
        TempDir tmp;
        loop::Loop loop;
        Options o = options(tmp.path);
        o.map_size = 128 << 20; // 10% of it is more than 1,000 records of a page
        o.durability = Durability::batch;
        auto store = Store::open(loop, o);
        uint64_t most_in_one_commit = 0;
        int n = 0;
        for (int round = 0; round < 2000 && store->stats().evicted < 5000; ++round) {
            uint64_t before = store->stats().evicted;
            Results r;
            WriteOp op;
            int64_t expires = loop.clock().now_s() + 3600; // cache entries always expire
            op.apply = [&n, expires](WriteTxn& txn) -> Status {
                for (int i = 0; i < 200; ++i) {
                    std::string k = "Ck" + std::to_string(n + i);
                    Status st = txn.put_record(k, std::string(3000, 'v'), expires + n + i);
                    if (!st) return st;
                }
                return Status::ok();
            };
            op.done = r.done("fill");
            store->submit(std::move(op));
            REQUIRE(ec::store::test::run_until(loop, [&] { return r.size() == 1; }));
            REQUIRE_MESSAGE(r.by_name["fill"].is_ok(), r.by_name["fill"].error().message);
            n += 200;
            most_in_one_commit = std::max(most_in_one_commit, store->stats().evicted - before);
        }
        CHECK(store->stats().evicted >= 5000); // it did evict, over many commits
        CHECK(most_in_one_commit <= 1000);
    }

    TEST_CASE("regress_map_full_retry_reuses_what_it_evicted") {
        // LMDB hands out the pages a transaction freed only from the second transaction after
        // it. A map-full retry evicted cache entries in one transaction and ran the write in the
        // very next, which could not use what the eviction had just freed: the write got 507
        // with the room right there. When the eviction had taken the last cache entry, every
        // later write did too, for good: an empty cache refusing all writes (test_admin's
        // full-map test failed 1 run in 13 under load that way).
        TempDir tmp;
        loop::Loop loop;
        Options o = options(tmp.path);
        o.map_size = 4 << 20;
        auto store = Store::open(loop, o);
        int64_t expires = loop.clock().now_s() + 3600;
        auto write = [&](std::function<Status(WriteTxn&)> apply) {
            Results r;
            WriteOp op;
            op.apply = std::move(apply);
            op.done = r.done("write");
            store->submit(std::move(op));
            REQUIRE(ec::store::test::run_until(loop, [&] { return r.size() == 1; }));
            return r.by_name["write"];
        };
        // Cache entries up to 80% of the map: under the evict-ahead mark (85%), so nothing is
        // evicted before the write that needs the room.
        int entries = 0;
        while (store->map_usage().high_water_bytes < o.map_size * 80 / 100) {
            std::string key = "Centry" + std::to_string(entries++);
            REQUIRE(write([&](WriteTxn& txn) {
                        return txn.put_record(key, std::string(20000, 'c'), expires);
                    }).is_ok());
        }
        uint64_t untouched = o.map_size - store->map_usage().high_water_bytes;
        // One write of records that are never evicted ('X'), more than the untouched end of
        // the map holds: it fits only in what evicting the cache entries frees.
        const int records = static_cast<int>(untouched / 20000) + 20;
        Status st = write([&](WriteTxn& txn) -> Status {
            for (int i = 0; i < records; ++i)
                if (Status s =
                        txn.put_record("Xkept" + std::to_string(i), std::string(20000, 'x'), 0);
                    !s)
                    return s;
            return Status::ok();
        });
        CHECK_MESSAGE(st.is_ok(), (st.is_ok() ? "" : st.error().message));
        CHECK(store->stats().evicted > 0);
        CHECK(store->stats().evicted <= static_cast<uint64_t>(entries));
        // And the store goes on taking writes.
        CHECK(put_sync(loop, *store, "ns", "after", "v").is_ok());
    }

    TEST_CASE("regress_map_full_write_reuses_what_a_delete_just_freed") {
        // The same rule without eviction: the map full of KV data, an operator deletes a key
        // to make room and writes one of the same size. The delete was the last commit, so the
        // write could not use its pages, and nothing was left to evict: 507, again and again
        // until some other write committed.
        TempDir tmp;
        loop::Loop loop;
        Options o = options(tmp.path);
        o.map_size = 2 << 20;
        auto store = Store::open(loop, o);
        const std::string value(20000, 'v');
        int keys = 0;
        for (; keys < 200; ++keys) {
            Status st = put_sync(loop, *store, "ns", "k" + std::to_string(keys), value);
            if (!st) {
                REQUIRE(st.error().http == 507);
                break;
            }
        }
        REQUIRE(keys < 200); // the map is full
        REQUIRE(delete_sync(loop, *store, "ns", "k0").is_ok());
        Status st = put_sync(loop, *store, "ns", "again", value);
        CHECK_MESSAGE(st.is_ok(), (st.is_ok() ? "" : st.error().message));
    }

    TEST_CASE("ops creating the same namespace in one batch agree on it") {
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        Results r;
        std::vector<Namespace> seen;
        WriteOp twice;
        twice.apply = [&](WriteTxn& txn) -> Status {
            seen.clear();
            for (int i = 0; i < 2; ++i) {
                auto ns = txn.namespace_for_title("fresh", true);
                if (!ns) return ns.error();
                seen.push_back(*ns);
            }
            return Status::ok();
        };
        // The mirror is updated before on_commit runs.
        const Namespace* at_commit = nullptr;
        twice.on_commit = [&] { at_commit = store->namespace_by_title("fresh"); };
        twice.done = r.done("twice");
        store->submit(std::move(twice));
        store->kv_put("fresh", "a", "1", "", 0, r.done("a"));
        store->kv_put("fresh", "b", "2", "", 0, r.done("b"));
        store->kv_put("other", "c", "3", "", 0, r.done("c"));
        WriteOp ghost; // creates a namespace, then fails: the namespace must not survive
        ghost.apply = [](WriteTxn& txn) -> Status {
            auto ns = txn.namespace_for_title("ghost", true);
            if (!ns) return ns.error();
            return make_error(400, "nope", "refused");
        };
        ghost.done = r.done("ghost");
        store->submit(std::move(ghost));
        CHECK(store->namespace_by_title("fresh") == nullptr); // nothing before the commit
        REQUIRE(ec::store::test::run_until(loop, [&] { return r.size() == 5; }));

        REQUIRE(seen.size() == 2);
        CHECK(seen[0].id == seen[1].id);
        CHECK(seen[0].num == seen[1].num);
        const Namespace* fresh = store->namespace_by_title("fresh");
        REQUIRE(fresh != nullptr);
        CHECK(at_commit == fresh);
        CHECK(fresh->id == seen[0].id);
        CHECK(store->namespace_by_title("ghost") == nullptr);
        CHECK(store->namespaces().size() == 2);
        CHECK(store->entry_counts()->namespaces == 2);
        CHECK(store->stats().commits == 1);
        auto page = store->kv_list(*fresh, "", "", 10);
        REQUIRE(page.is_ok());
        REQUIRE(page->keys.size() == 2);
        CHECK(page->keys[0].name == "a");
        CHECK(page->keys[1].name == "b");
    }

    TEST_CASE("what arrives while a commit is in flight forms the next transaction") {
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        CommitGate gate; // declared after the store: opened before the store is destroyed
        store->set_commit_gate_for_test(gate.fn());
        Results r;
        store->kv_put("ns", "one", "1", "", 0, r.done("one"));
        for (int i = 0; i < 20; ++i)
            uv_run(loop.uv(), UV_RUN_NOWAIT);
        // The writer holds "one": the loop goes on, answering nothing yet.
        store->kv_put("ns", "two", "2", "", 0, r.done("two"));
        store->kv_put("ns", "three", "3", "", 0, r.done("three"));
        for (int i = 0; i < 20; ++i)
            uv_run(loop.uv(), UV_RUN_NOWAIT);
        CHECK(r.size() == 0);
        CHECK(store->stats().commits == 0);
        CHECK(store->namespace_by_title("ns") == nullptr); // nothing committed: not visible

        gate.release();
        REQUIRE(ec::store::test::run_until(loop, [&] { return r.size() == 3; }));
        CHECK(r.order == std::vector<std::string>{"one", "two", "three"});
        for (auto& [name, st] : r.by_name)
            CHECK(st.is_ok());
        CHECK(store->stats().commits == 2); // "one", then "two" and "three" together
        KvValue v;
        CHECK(*store->kv_get(*store->namespace_by_title("ns"), "three", &v));
    }

    TEST_CASE("the loop keeps reading while a large batch commits") {
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        REQUIRE(put_sync(loop, *store, "ns", "old", "before").is_ok());
        const Namespace* ns = store->namespace_by_title("ns");
        CommitGate gate;
        store->set_commit_gate_for_test(gate.fn());
        Results r;
        for (int i = 0; i < 2000; ++i)
            store->kv_put("ns", "big" + std::to_string(i), std::string(1000, 'b'), "", 0,
                          r.done("big" + std::to_string(i)));
        uv_run(loop.uv(), UV_RUN_NOWAIT); // handed to the writer, which waits at the gate
        KvValue v;
        for (int i = 0; i < 20; ++i) {
            uv_run(loop.uv(), UV_RUN_NOWAIT);
            REQUIRE(*store->kv_get(*ns, "old", &v));
            CHECK(v.value == "before");
            CHECK_FALSE(*store->kv_get(*ns, "big0", &v)); // not committed yet
        }
        CHECK(r.size() == 0);
        gate.release();
        REQUIRE(ec::store::test::run_until(loop, [&] { return r.size() == 2000; }));
        CHECK(*store->kv_get(*ns, "big1999", &v));
    }

    TEST_CASE("destroying the store while a commit is in flight releases every write") {
        TempDir tmp;
        loop::Loop loop;
        Results r;
        {
            auto store = Store::open(loop, options(tmp.path));
            CommitGate gate;
            store->set_commit_gate_for_test(gate.fn());
            store->kv_put("ns", "one", "1", "", 0, r.done("one"));
            uv_run(loop.uv(), UV_RUN_NOWAIT); // "one" is with the writer
            store->kv_put("ns", "two", "2", "", 0, r.done("two"));
            gate.release();
            store.reset();
            CHECK(r.size() == 2);
        }
        for (auto& [name, st] : r.by_name)
            CHECK(st.is_ok());
        uv_run(loop.uv(), UV_RUN_NOWAIT); // the writer's closed async handle is freed
        CHECK(loop.open_handles() == 2);
        auto reopened = Store::open(loop, options(tmp.path));
        CHECK(record_count(*reopened) == 2);
    }

    TEST_CASE("batch durability: done at commit, the writer syncs the meta page later") {
        TempDir tmp;
        loop::Loop loop;
        Options o = options(tmp.path);
        o.durability = Durability::batch;
        o.sync_interval_ms = 20;
        auto store = Store::open(loop, o);
        Results r;
        uint64_t syncs_at_done = 99;
        store->kv_put("ns", "k", "v", "", 0, [&](Status s) {
            syncs_at_done = store->stats().syncs;
            r.done("k")(std::move(s));
        });
        REQUIRE(ec::store::test::run_until(loop, [&] { return r.size() == 1; }));
        CHECK(r.by_name["k"].is_ok());
        CHECK(syncs_at_done == 0);
        CHECK(store->stats().commits == 1);
        CHECK(ec::store::test::run_until(loop, [&] { return store->stats().syncs == 1; }));
        // Nothing new was committed: the writer does not sync again.
        usleep(100'000);
        CHECK(store->stats().syncs == 1);
    }

    TEST_CASE("apply: a new sync_interval_ms times the sync a commit is already waiting for") {
        TempDir tmp;
        loop::Loop loop;
        Options o = options(tmp.path);
        o.durability = Durability::batch;
        o.sync_interval_ms = 3'600'000;
        auto store = Store::open(loop, o);
        Results r;
        store->kv_put("ns", "k", "v", "", 0, r.done("k"));
        REQUIRE(ec::store::test::run_until(loop, [&] { return r.size() == 1; }));
        CHECK(store->stats().syncs == 0);
        config::StoreSettings next = o;
        next.sync_interval_ms = 10;
        store->apply(next);
        CHECK(ec::store::test::run_until(loop, [&] { return store->stats().syncs == 1; }));
    }

    TEST_CASE("flush commits pending ops without running the loop") {
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        Results r;
        store->kv_put("ns", "a", "1", "", 0, r.done("a"));
        store->kv_put("ns", "b", "2", "", 0, r.done("b"));
        store->flush();
        CHECK(r.size() == 2);
        CHECK(store->stats().commits == 1);
        CHECK(store->stats().syncs >= 1);
    }

    TEST_CASE("a done callback may destroy the store; every other done still runs once") {
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        Results r;
        store->kv_put("ns", "a", "1", "", 0, [&](Status s) {
            r.done("a")(std::move(s));
            store.reset();
        });
        store->kv_put("ns", "b", "2", "", 0, r.done("b"));
        store->kv_put("ns", "c", "3", "", 0, r.done("c"));
        REQUIRE(ec::store::test::run_until(loop, [&] { return r.size() == 3; }));
        CHECK(store == nullptr);
        CHECK(r.order == std::vector<std::string>{"a", "b", "c"});
        auto reopened = Store::open(loop, options(tmp.path));
        CHECK(record_count(*reopened) == 3);
    }

} // TEST_SUITE
