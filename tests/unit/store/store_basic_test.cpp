// Store basics: open/reopen, the data-dir lock, KV get/put/delete/metadata, namespaces, flush.
#include <doctest/doctest.h>

#include <stdexcept>

#include "store/key_codec.hpp"
#include "store_test_util.hpp"

using namespace ec;
using namespace ec::store;
using namespace ec::store::test;

TEST_SUITE("store/basic") {

    TEST_CASE("open creates the data dir, and a reopen keeps namespaces and values") {
        TempDir tmp;
        std::string dir = tmp.path + "/a/b";
        loop::Loop loop;
        int64_t exp = loop.clock().now_s() + 3600;
        std::string id;
        uint32_t num = 0;
        {
            auto store = Store::open(loop, options(dir));
            CHECK(store->namespace_by_title("n1") == nullptr);
            CHECK(put_sync(loop, *store, "n1", "k", "v", R"({"a":1})", exp).is_ok());
            const Namespace* ns = store->namespace_by_title("n1");
            REQUIRE(ns != nullptr);
            id = ns->id;
            num = ns->num;
        }
        CHECK(std::filesystem::exists(dir + "/data.mdb"));
        CHECK(std::filesystem::exists(dir + "/lock"));
        auto store = Store::open(loop, options(dir));
        const Namespace* ns = store->namespace_by_title("n1");
        REQUIRE(ns != nullptr);
        CHECK(ns->id == id);
        CHECK(ns->num == num);
        CHECK(store->namespace_by_id(id) == ns);
        KvValue v;
        auto got = store->kv_get(*ns, "k", &v);
        REQUIRE(got.is_ok());
        CHECK(*got);
        CHECK(v.value == "v");
        CHECK(v.metadata == R"({"a":1})");
        CHECK(v.expiration == exp);
        store.reset();
        CHECK(loop.open_handles() == 2); // only the loop's own idle and check handles
    }

    TEST_CASE("a second open of the same data dir fails with the lock message") {
        TempDir tmp;
        loop::Loop loop;
        auto first = Store::open(loop, options(tmp.path));
        std::string msg;
        try {
            auto second = Store::open(loop, options(tmp.path));
        } catch (const std::runtime_error& e) {
            msg = e.what();
        }
        CHECK(msg == "data dir " + tmp.path + " is in use by another edgecached (lock held on " +
                         tmp.path + "/lock)");
        first.reset();
        // The lock goes with the store.
        CHECK_NOTHROW(Store::open(loop, options(tmp.path)));
    }

    TEST_CASE("open reports bad options clearly") {
        TempDir tmp;
        loop::Loop loop;
        Options o = options(tmp.path);
        o.max_readers = 0;
        CHECK_THROWS_WITH_AS(Store::open(loop, o), doctest::Contains("bad max_readers"),
                             std::runtime_error);
    }

    TEST_CASE("get, put, overwrite and delete with metadata") {
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        REQUIRE(put_sync(loop, *store, "ns", "key", "one", R"({"m":1})").is_ok());
        const Namespace* ns = store->namespace_by_title("ns");
        REQUIRE(ns != nullptr);

        KvValue v;
        REQUIRE(*store->kv_get(*ns, "key", &v));
        CHECK(v.value == "one");
        CHECK(v.metadata == R"({"m":1})");
        CHECK(v.expiration == 0);

        // HEAD: metadata without the value.
        KvValue head;
        head.value = "stale";
        REQUIRE(*store->kv_get(*ns, "key", &head, false));
        CHECK(head.value.empty());
        CHECK(head.metadata == R"({"m":1})");

        REQUIRE(put_sync(loop, *store, "ns", "key", std::string(100000, 'z')).is_ok());
        REQUIRE(*store->kv_get(*ns, "key", &v));
        CHECK(v.value == std::string(100000, 'z'));
        CHECK(v.metadata.empty());

        CHECK_FALSE(*store->kv_get(*ns, "other", &v));
        CHECK(delete_sync(loop, *store, "ns", "key").is_ok());
        CHECK_FALSE(*store->kv_get(*ns, "key", &v));
        CHECK(delete_sync(loop, *store, "ns", "key").is_ok()); // deleting a missing key is fine
        CHECK(record_count(*store) == 0);

        // A delete in a namespace that does not exist succeeds without creating it.
        CHECK(delete_sync(loop, *store, "ghost", "key").is_ok());
        CHECK(store->namespace_by_title("ghost") == nullptr);
        CHECK(store->entry_counts()->namespaces == 1);
    }

    TEST_CASE("keys and values are binary-safe and namespaces are isolated") {
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        std::string key("a\0b\xff", 4), value("\0\1\2", 3);
        REQUIRE(put_sync(loop, *store, "one", key, value).is_ok());
        REQUIRE(put_sync(loop, *store, "two", key, "other").is_ok());
        KvValue v;
        REQUIRE(*store->kv_get(*store->namespace_by_title("one"), key, &v));
        CHECK(v.value == value);
        REQUIRE(*store->kv_get(*store->namespace_by_title("two"), key, &v));
        CHECK(v.value == "other");
        auto page = store->kv_list(*store->namespace_by_title("one"), "", "", 1000);
        REQUIRE(page.is_ok());
        REQUIRE(page->keys.size() == 1);
        CHECK(page->keys[0].name == key);
    }

    TEST_CASE("namespace ids are 32 lowercase hex, unique, and listed by title") {
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        for (const char* t : {"zeta", "alpha", "mid"})
            REQUIRE(put_sync(loop, *store, t, "k", "v").is_ok());
        auto all = store->namespaces();
        REQUIRE(all.size() == 3);
        CHECK(all[0]->title == "alpha");
        CHECK(all[1]->title == "mid");
        CHECK(all[2]->title == "zeta");
        CHECK(all[0]->num != all[1]->num);
        CHECK(all[0]->id != all[1]->id);
        for (const Namespace* ns : all) {
            CHECK(ns->id.size() == 32);
            CHECK(ns->id.find_first_not_of("0123456789abcdef") == std::string::npos);
            CHECK(store->namespace_by_id(ns->id) == ns);
        }
        CHECK(store->namespace_by_id("00000000000000000000000000000000") == nullptr);
    }

    TEST_CASE("storage limits: empty and over-long keys, bad titles") {
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        Status empty = put_sync(loop, *store, "ns", "", "v");
        CHECK(empty.error().http == 400);
        Status long_key = put_sync(loop, *store, "ns", std::string(513, 'k'), "v");
        CHECK(long_key.error().http == 414);
        CHECK(long_key.error().code == "key_too_long");
        CHECK(put_sync(loop, *store, "ns", std::string(512, 'k'), "v").is_ok());
        Status slash = put_sync(loop, *store, "a/b", "k", "v");
        CHECK(slash.error().code == "bad_namespace_title");
        Status neg = put_sync(loop, *store, "ns", "k", "v", "", -5);
        CHECK(neg.error().code == "bad_expiration");
    }

    TEST_CASE("kv_list validates limit and cursor") {
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        REQUIRE(put_sync(loop, *store, "ns", "k", "v").is_ok());
        const Namespace& ns = *store->namespace_by_title("ns");
        for (size_t bad : {size_t(0), size_t(1001)}) {
            auto r = store->kv_list(ns, "", "", bad);
            REQUIRE_FALSE(r.is_ok());
            CHECK(r.error().http == 400);
        }
        for (const char* bad : {"!!", "a+b/", "YQ==", "a"}) {
            auto r = store->kv_list(ns, "", bad, 10);
            REQUIRE_FALSE(r.is_ok());
            CHECK(r.error().code == "bad_cursor");
            CHECK(r.error().http == 400);
        }
        auto ok = store->kv_list(ns, "", encode_cursor("a"), 10);
        REQUIRE(ok.is_ok());
        CHECK(ok->keys.size() == 1);
    }

    TEST_CASE("destroying the store commits and syncs pending writes") {
        TempDir tmp;
        loop::Loop loop;
        int done_ok = 0;
        {
            auto store = Store::open(loop, options(tmp.path));
            for (int i = 0; i < 3; ++i) {
                store->kv_put("ns", "k" + std::to_string(i), "v", "", 0, [&](Status s) {
                    if (s.is_ok()) ++done_ok;
                });
            }
            CHECK(done_ok == 0); // nothing commits before the loop's check phase...
        }                        // ...or the destructor
        CHECK(done_ok == 3);
        auto store = Store::open(loop, options(tmp.path));
        const Namespace* ns = store->namespace_by_title("ns");
        REQUIRE(ns != nullptr);
        KvValue v;
        for (int i = 0; i < 3; ++i)
            CHECK(*store->kv_get(*ns, "k" + std::to_string(i), &v));
    }

    TEST_CASE("map usage and entry counts") {
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        auto before = store->map_usage();
        CHECK(before.map_size == 64ULL << 20);
        for (int i = 0; i < 50; ++i)
            store->kv_put("ns", "k" + std::to_string(i), std::string(4000, 'v'), "", 0, nullptr);
        store->flush();
        auto after = store->map_usage();
        CHECK(after.used_bytes > before.used_bytes);
        CHECK(after.used_bytes >= 50 * 4000);
        CHECK(after.used_bytes <= after.map_size);
        auto counts = store->entry_counts();
        REQUIRE(counts.is_ok());
        CHECK(counts->records == 50);
        CHECK(counts->namespaces == 1);
        CHECK(counts->expiry_entries == 0);
    }

} // TEST_SUITE
