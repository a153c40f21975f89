// Namespace administration: create, rename, delete in bounded batches, resumed after a restart.
#include <doctest/doctest.h>

#include "store_test_util.hpp"

using namespace ec;
using namespace ec::store;
using namespace ec::store::test;

namespace {

Result<Namespace> create_sync(loop::Loop& loop, Store& store, const std::string& title) {
    std::optional<Result<Namespace>> got;
    store.create_namespace(title, [&](Result<Namespace> r) { got.emplace(std::move(r)); });
    REQUIRE(run_until(loop, [&] { return got.has_value(); }));
    return *got;
}

Result<Namespace> rename_sync(loop::Loop& loop, Store& store, const std::string& id,
                              const std::string& title) {
    std::optional<Result<Namespace>> got;
    store.rename_namespace(id, title, [&](Result<Namespace> r) { got.emplace(std::move(r)); });
    REQUIRE(run_until(loop, [&] { return got.has_value(); }));
    return *got;
}

Status delete_ns_sync(loop::Loop& loop, Store& store, const std::string& id) {
    std::optional<Status> got;
    store.delete_namespace(id, [&](Status s) { got.emplace(std::move(s)); });
    REQUIRE(run_until(loop, [&] { return got.has_value(); }));
    return *got;
}

// Writes n keys into `title` in one op (created on demand).
void fill(loop::Loop& loop, Store& store, const std::string& title, int n) {
    std::optional<Status> got;
    WriteOp op;
    op.apply = [title, n](WriteTxn& txn) -> Status {
        auto ns = txn.namespace_for_title(title, true);
        if (!ns) return ns.error();
        for (int i = 0; i < n; ++i) {
            Status st = txn.kv_put(*ns, "key-" + std::to_string(i), "v", "", 0);
            if (!st) return st;
        }
        return Status::ok();
    };
    op.done = [&](Status s) { got.emplace(std::move(s)); };
    store.submit(std::move(op));
    REQUIRE(run_until(loop, [&] { return got.has_value(); }));
    REQUIRE(got->is_ok());
}

size_t pending(Store& store) {
    auto n = store.namespace_deletions_pending();
    REQUIRE(n.is_ok());
    return *n;
}

} // namespace

TEST_SUITE("store/namespaces") {

    TEST_CASE("create gives a 32-hex id; a taken or bad title is refused") {
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        auto ns = create_sync(loop, *store, "alpha");
        REQUIRE(ns.is_ok());
        CHECK(ns->id.size() == 32);
        CHECK(ns->id.find_first_not_of("0123456789abcdef") == std::string::npos);
        CHECK(is_namespace_id(ns->id));
        CHECK_FALSE(is_namespace_id(ns->id.substr(1)));
        CHECK_FALSE(is_namespace_id(ns->id + "0"));
        CHECK_FALSE(is_namespace_id(std::string(31, 'a') + "A"));
        CHECK_FALSE(is_namespace_id(std::string(31, 'a') + "g"));
        CHECK(store->namespace_by_id(ns->id) == store->namespace_by_title("alpha"));
        auto dup = create_sync(loop, *store, "alpha");
        REQUIRE(!dup.is_ok());
        CHECK(dup.error().code == "namespace_exists");
        CHECK(dup.error().http == 400);
        CHECK(create_sync(loop, *store, "a/b").error().code == "bad_namespace_title");
        CHECK(create_sync(loop, *store, "").error().code == "bad_namespace_title");
        CHECK(store->namespaces().size() == 1);
    }

    TEST_CASE("a random namespace id has the id's form and is new each time") {
        // The fleet claims a title with one before the store sees the namespace.
        auto a = random_namespace_id();
        auto b = random_namespace_id();
        REQUIRE(a.is_ok());
        REQUIRE(b.is_ok());
        CHECK(is_namespace_id(*a));
        CHECK(is_namespace_id(*b));
        CHECK(*a != *b);
    }

    TEST_CASE("rename keeps the id and the keys; the old title is free again") {
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        REQUIRE(put_sync(loop, *store, "old", "k", "v").is_ok());
        REQUIRE(put_sync(loop, *store, "other", "k", "w").is_ok());
        std::string id = store->namespace_by_title("old")->id;
        auto r = rename_sync(loop, *store, id, "new");
        REQUIRE(r.is_ok());
        CHECK(r->title == "new");
        CHECK(store->namespace_by_title("old") == nullptr);
        const Namespace* ns = store->namespace_by_title("new");
        REQUIRE(ns != nullptr);
        CHECK(ns->id == id);
        CHECK(store->namespace_by_id(id) == ns);
        KvValue v;
        CHECK(*store->kv_get(*ns, "k", &v));
        CHECK(v.value == "v");
        CHECK(rename_sync(loop, *store, id, "new").is_ok()); // to its own title: a no-op
        CHECK(rename_sync(loop, *store, id, "other").error().code == "namespace_exists");
        CHECK(rename_sync(loop, *store, std::string(32, '0'), "x").error().http == 404);
        CHECK(rename_sync(loop, *store, id, "x/y").error().code == "bad_namespace_title");
        // The old title now names a fresh namespace.
        REQUIRE(put_sync(loop, *store, "old", "k2", "v2").is_ok());
        CHECK(store->namespace_by_title("old")->id != id);
        // And the rename survives a reopen.
        store.reset();
        store = Store::open(loop, options(tmp.path));
        REQUIRE(store->namespace_by_title("new") != nullptr);
        CHECK(store->namespace_by_title("new")->id == id);
    }

    TEST_CASE("delete hides the namespace at once and removes its keys batch by batch") {
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        fill(loop, *store, "big", 2500);
        REQUIRE(put_sync(loop, *store, "keep", "k", "v").is_ok());
        CHECK(record_count(*store) == 2501);
        std::string id = store->namespace_by_title("big")->id;
        uint64_t commits_before = store->stats().commits;
        REQUIRE(delete_ns_sync(loop, *store, id).is_ok());
        CHECK(store->namespace_by_title("big") == nullptr);
        CHECK(store->namespace_by_id(id) == nullptr);
        REQUIRE(run_until(loop, [&] { return pending(*store) == 0; }));
        CHECK(record_count(*store) == 1);
        // The unlink, then ceil(2500 / 1000) batches: never one transaction for everything.
        // Readers see the last batch's commit before the loop counts it: wait for the count.
        CHECK(run_until(loop, [&] { return store->stats().commits - commits_before >= 4; }));
        CHECK(delete_ns_sync(loop, *store, id).error().code == "namespace_not_found");
        // The title is free for a new, empty namespace.
        auto again = create_sync(loop, *store, "big");
        REQUIRE(again.is_ok());
        CHECK(again->id != id);
        auto page = store->kv_list(*store->namespace_by_title("big"), "", "", 10);
        REQUIRE(page.is_ok());
        CHECK(page->keys.empty());
    }

    TEST_CASE("a deletion cut short by a restart resumes when the store opens") {
        TempDir tmp;
        loop::Loop loop;
        {
            auto store = Store::open(loop, options(tmp.path));
            fill(loop, *store, "huge", 30000);
            std::string id = store->namespace_by_title("huge")->id;
            REQUIRE(delete_ns_sync(loop, *store, id).is_ok());
            // Closing now: the destructor commits a few more batches, then refuses the rest.
        }
        auto store = Store::open(loop, options(tmp.path));
        CHECK(store->namespace_by_title("huge") == nullptr);
        CHECK(pending(*store) == 1);
        CHECK(record_count(*store) > 0);
        REQUIRE(run_until(loop, [&] { return pending(*store) == 0; }));
        CHECK(record_count(*store) == 0);
    }

    TEST_CASE("ops find a namespace by id inside the transaction") {
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        auto ns = create_sync(loop, *store, "t");
        REQUIRE(ns.is_ok());
        std::optional<Status> got;
        std::string seen;
        WriteOp op;
        op.apply = [&](WriteTxn& txn) -> Status {
            auto a = txn.namespace_for_id(ns->id);
            if (!a) return a.error();
            seen = a->title;
            auto b = txn.namespace_for_id(std::string(32, 'f'));
            return b ? Status::ok() : Status(b.error());
        };
        op.done = [&](Status s) { got.emplace(std::move(s)); };
        store->submit(std::move(op));
        REQUIRE(run_until(loop, [&] { return got.has_value(); }));
        CHECK(seen == "t");
        CHECK(got->error().code == "namespace_not_found");
    }
}
