// store/tags: records carry tags; the tag index follows every put, replace, delete and sweep.
#include <set>

#include "store_test_util.hpp"

using namespace ec;
using namespace ec::store;
using namespace ec::store::test;

namespace {

// Runs one write op to completion and returns its status.
Status run_op(loop::Loop& loop, Store& store, std::function<Status(WriteTxn&)> apply) {
    std::optional<Status> result;
    WriteOp op;
    op.apply = std::move(apply);
    op.done = [&](Status s) { result = std::move(s); };
    store.submit(std::move(op));
    REQUIRE(run_until(loop, [&] { return result.has_value(); }));
    return *result;
}

std::set<std::string> tagged(loop::Loop& loop, Store& store, const std::string& tag,
                             size_t page = 1000) {
    std::set<std::string> keys;
    std::string after;
    do {
        Status st = run_op(loop, store, [&](WriteTxn& txn) -> Status {
            auto r = txn.scan_tag(tag, after, page,
                                  [&](const RecordView& rv) { keys.insert(std::string(rv.key)); });
            if (!r) return r.error();
            after = *r;
            return Status::ok();
        });
        REQUIRE(st.is_ok());
    } while (!after.empty());
    return keys;
}

Status put(loop::Loop& loop, Store& store, std::string key, std::vector<std::string> tags,
           int64_t expires = 0) {
    return run_op(loop, store, [=](WriteTxn& txn) {
        return txn.put_tagged_record(key, "payload", expires, tags);
    });
}

} // namespace

TEST_SUITE("store/tags") {

    TEST_CASE("tags are indexed, replaced, deleted and swept with their records") {
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        std::string long_key = "C/" + std::string(600, 'x'); // hashed storage key
        REQUIRE(put(loop, *store, "C/a", {"red", "blue"}).is_ok());
        REQUIRE(put(loop, *store, "C/b", {"red"}).is_ok());
        REQUIRE(put(loop, *store, long_key, {"red", "green"}).is_ok());
        CHECK(tagged(loop, *store, "red") == std::set<std::string>{"C/a", "C/b", long_key});
        CHECK(tagged(loop, *store, "red", 1) == std::set<std::string>{"C/a", "C/b", long_key});
        CHECK(tagged(loop, *store, "blue") == std::set<std::string>{"C/a"});

        // Replacing a record replaces its tags.
        REQUIRE(put(loop, *store, "C/a", {"green"}).is_ok());
        CHECK(tagged(loop, *store, "red") == std::set<std::string>{"C/b", long_key});
        CHECK(tagged(loop, *store, "blue").empty());
        CHECK(tagged(loop, *store, "green") == std::set<std::string>{"C/a", long_key});

        // Deleting drops them.
        REQUIRE(run_op(loop, *store, [&](WriteTxn& txn) -> Status {
                    auto r = txn.delete_record(long_key);
                    return r ? Status::ok() : Status(r.error());
                }).is_ok());
        CHECK(tagged(loop, *store, "green") == std::set<std::string>{"C/a"});

        // So does the sweeper.
        int64_t now = loop.clock().now_s();
        REQUIRE(put(loop, *store, "C/soon", {"red"}, now + 10).is_ok());
        CHECK(tagged(loop, *store, "red").count("C/soon") == 1);
        loop.clock().advance_for_test(20'000);
        store->sweep_now_for_test();
        REQUIRE(run_until(loop, [&] { return store->stats().expired_swept == 1; }));
        CHECK(tagged(loop, *store, "red") == std::set<std::string>{"C/b"});
    }

    TEST_CASE("tags survive a reopen") {
        TempDir tmp;
        {
            loop::Loop loop;
            auto store = Store::open(loop, options(tmp.path));
            REQUIRE(put(loop, *store, "C/x", {"t1"}).is_ok());
        }
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        CHECK(tagged(loop, *store, "t1") == std::set<std::string>{"C/x"});
    }

} // TEST_SUITE
