// Applying fleet changes: exactly once (the sequence commits with the changes), namespaces by
// fleet id, out-of-order runs refused, resynchronisation restarts.
#include <doctest/doctest.h>

#include "../store/store_test_util.hpp"
#include "fleet/apply.hpp"

using namespace ec;
using namespace ec::fleet;
using namespace ec::store::test;

namespace {

const std::string kId = "00000000000000000000000000000001";

Change put(uint64_t seq, std::string key, std::string value, std::string id = kId) {
    Change c;
    c.kind = Change::Kind::put_entry;
    c.seq = seq;
    c.ns_id = std::move(id);
    c.key = std::move(key);
    c.value = std::move(value);
    return c;
}

Change del(uint64_t seq, std::string key) {
    Change c = put(seq, std::move(key), "");
    c.kind = Change::Kind::delete_entry;
    return c;
}

Change name(uint64_t seq, std::string title, std::string id = kId) {
    Change c;
    c.kind = Change::Kind::name_namespace;
    c.seq = seq;
    c.title = std::move(title);
    c.ns_id = std::move(id);
    return c;
}

struct Applied {
    Status status;
    ApplyOutcome outcome;
};

Applied apply_sync(loop::Loop& loop, store::Store& store, std::vector<Change> changes,
                   uint64_t expect_prev, std::optional<uint64_t> restart = std::nullopt) {
    auto out = std::make_shared<ApplyOutcome>();
    std::optional<Status> got;
    store::WriteOp op;
    op.apply = [&changes, out, expect_prev, restart](store::WriteTxn& txn) {
        return apply_changes(txn, changes, expect_prev, out.get(), restart);
    };
    op.on_commit = [&store, out] { store.namespaces_changed(out->unlinked); };
    op.done = [&](Status s) { got.emplace(std::move(s)); };
    store.submit(std::move(op));
    REQUIRE(run_until(loop, [&] { return got.has_value(); }));
    return {*got, *out};
}

std::optional<std::string> value_of(store::Store& store, const std::string& title,
                                    const std::string& key) {
    const store::Namespace* ns = store.namespace_by_title(title);
    if (!ns) return std::nullopt;
    store::KvValue v;
    auto r = store.kv_get(*ns, key, &v);
    REQUIRE(r);
    if (!*r) return std::nullopt;
    return v.value;
}

} // namespace

TEST_SUITE("fleet apply") {
    TEST_CASE("changes apply once; the sequence is stored with them and survives a restart") {
        TempDir dir;
        {
            loop::Loop loop;
            auto store = store::Store::open(loop, options(dir.path));
            auto a = apply_sync(loop, *store, {name(1, "users"), put(2, "k", "v1")}, 0);
            REQUIRE(a.status);
            CHECK(a.outcome.applied_seq == 2);
            CHECK(a.outcome.applied == 2);
            const store::Namespace* ns = store->namespace_by_title("users");
            REQUIRE(ns);
            CHECK(ns->id == kId); // the fleet's id, not a local one
            CHECK(value_of(*store, "users", "k") == "v1");
            // Delivered again (a reconnect replays): nothing is applied twice.
            auto again = apply_sync(loop, *store, {put(2, "k", "stale")}, 2);
            REQUIRE(again.status);
            CHECK(again.outcome.applied == 0);
            CHECK(value_of(*store, "users", "k") == "v1");
        }
        loop::Loop loop;
        auto store = store::Store::open(loop, options(dir.path));
        auto r = apply_sync(loop, *store, {put(3, "k", "v3"), del(4, "gone")}, 2);
        REQUIRE(r.status);
        CHECK(r.outcome.applied_seq == 4);
        CHECK(value_of(*store, "users", "k") == "v3");
    }

    TEST_CASE("a run that does not follow the stored sequence changes nothing") {
        TempDir dir;
        loop::Loop loop;
        auto store = store::Store::open(loop, options(dir.path));
        REQUIRE(apply_sync(loop, *store, {name(1, "n"), put(2, "a", "1")}, 0).status);
        // A run built on an op that failed (expects 7 to be stored) is refused whole.
        auto r = apply_sync(loop, *store, {put(8, "a", "2")}, 7);
        CHECK_FALSE(r.status);
        CHECK(r.status.error().code == "fleet_out_of_order");
        CHECK(value_of(*store, "n", "a") == "1");
    }

    TEST_CASE("an entry before its namespace's title gets the namespace, renamed by the title") {
        TempDir dir;
        loop::Loop loop;
        auto store = store::Store::open(loop, options(dir.path));
        REQUIRE(apply_sync(loop, *store, {put(5, "k", "v"), name(9, "late-title")}, 0).status);
        CHECK(value_of(*store, "late-title", "k") == "v");
        CHECK(store->namespace_by_title(kId) == nullptr);
        // A DEL of the title with the namespace named in its header drops it everywhere.
        Change drop;
        drop.kind = Change::Kind::drop_title;
        drop.seq = 10;
        drop.title = "late-title";
        drop.ns_id = kId;
        REQUIRE(apply_sync(loop, *store, {drop}, 9).status);
        CHECK(store->namespace_by_title("late-title") == nullptr);
        CHECK(store->namespace_by_id(kId) == nullptr);
    }

    TEST_CASE("a title the fleet gives another namespace replaces the local holder") {
        TempDir dir;
        loop::Loop loop;
        auto store = store::Store::open(loop, options(dir.path));
        REQUIRE(put_sync(loop, *store, "shared", "local", "x"));
        std::string local_id = store->namespace_by_title("shared")->id;
        REQUIRE(apply_sync(loop, *store, {name(1, "shared"), put(2, "k", "fleet")}, 0).status);
        CHECK(store->namespace_by_title("shared")->id == kId);
        CHECK(store->namespace_by_id(local_id) == nullptr);
        CHECK(value_of(*store, "shared", "k") == "fleet");
        CHECK(value_of(*store, "shared", "local") == std::nullopt);
    }

    TEST_CASE("a resynchronisation restarts the position, even below the stored one") {
        TempDir dir;
        loop::Loop loop;
        auto store = store::Store::open(loop, options(dir.path));
        REQUIRE(apply_sync(loop, *store, {name(100, "n"), put(101, "a", "old")}, 0).status);
        // The bucket was recreated: its stream starts at 1 again.
        auto r = apply_sync(loop, *store, {name(1, "n"), put(2, "a", "new")}, 999, uint64_t(0));
        REQUIRE(r.status);
        CHECK(r.outcome.applied_seq == 2);
        CHECK(value_of(*store, "n", "a") == "new");
    }
}
