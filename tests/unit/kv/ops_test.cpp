// Tests for kv::Ops: reads, validation, writes as values, the write path seam, the counters.
#include <doctest/doctest.h>

#include <optional>

#include "../store/store_test_util.hpp"
#include "kv/ops.hpp"

using namespace ec;
using namespace ec::kv;
using ec::store::test::run_until;
using ec::store::test::TempDir;

namespace {

struct Fixture {
    TempDir tmp;
    loop::Loop loop;
    std::unique_ptr<store::Store> store = store::Store::open(loop, store::test::options(tmp.path));
    NamespaceStats stats;
    Ops ops{*store, loop.clock(), stats};

    struct Outcome {
        Status status = Status::ok();
        WriteResult result;
    };
    // Submits w and drives the loop until its done has run.
    Outcome submit_sync(Write w) {
        std::optional<Outcome> out;
        ops.submit(std::move(w), [&](Status st, const WriteResult& r) { out = Outcome{st, r}; });
        REQUIRE(run_until(loop, [&] { return out.has_value(); }));
        return *out;
    }
    PutEntry entry(std::string key, std::string value) {
        PutEntry e;
        e.key = std::move(key);
        e.owned = std::move(value);
        return e;
    }
    std::optional<std::string> value_of(const std::string& title, const std::string& key) {
        auto v = ops.get(ops.find(NamespaceRef::title(title)), key);
        REQUIRE(v.is_ok());
        if (!*v) return std::nullopt;
        return (*v)->value;
    }
};

} // namespace

TEST_SUITE("kv/ops") {

    TEST_CASE("a put by title creates its namespace and counts each entry once committed") {
        Fixture f;
        std::vector<PutEntry> two;
        two.push_back(f.entry("a", "1"));
        two.push_back(f.entry("b", "2"));
        auto out = f.submit_sync(Write::put(NamespaceRef::title("ns"), std::move(two)));
        REQUIRE(out.status.is_ok());
        CHECK(out.result.found);
        CHECK(out.result.ns.title == "ns");
        CHECK(out.result.count == 2);
        CHECK(f.stats.all().at("ns").writes == 2);
        CHECK(f.value_of("ns", "b") == "2");
        CHECK(f.value_of("ns", "zz") == std::nullopt);
        const NamespaceCounters& c = f.stats.all().at("ns");
        CHECK(c.reads == 2);
        CHECK(c.hits == 1);
    }

    TEST_CASE("a delete by title in a namespace that does not exist answers at once") {
        Fixture f;
        bool answered = false;
        WriteResult seen;
        f.ops.submit(Write::del(NamespaceRef::title("nowhere"), {"k1", "k2"}),
                     [&](Status st, const WriteResult& r) {
                         CHECK(st.is_ok());
                         answered = true;
                         seen = r;
                     });
        CHECK(answered); // before submit returned: nothing was queued
        CHECK_FALSE(seen.found);
        CHECK(seen.count == 2);
        CHECK(seen.deleted == 0);
        CHECK(f.store->namespace_by_title("nowhere") == nullptr);
        CHECK(f.stats.all().empty()); // no counters for a title nobody created
    }

    TEST_CASE("deletes report the keys that existed and count the keys asked for") {
        Fixture f;
        REQUIRE(
            f.submit_sync(Write::put(NamespaceRef::title("ns"), f.entry("a", "1"))).status.is_ok());
        auto out = f.submit_sync(Write::del(NamespaceRef::title("ns"), {"a", "missing"}));
        REQUIRE(out.status.is_ok());
        CHECK(out.result.count == 2);
        CHECK(out.result.deleted == 1);
        CHECK(f.stats.all().at("ns").deletes == 2);
        CHECK(f.value_of("ns", "a") == std::nullopt);
    }

    TEST_CASE("a write by id needs the namespace and counts nothing when refused") {
        Fixture f;
        auto out =
            f.submit_sync(Write::put(NamespaceRef::id(std::string(32, 'a')), f.entry("k", "v")));
        REQUIRE_FALSE(out.status.is_ok());
        CHECK(out.status.error().code == "namespace_not_found");
        CHECK(f.stats.all().empty());
    }

    TEST_CASE("namespace writes: create, rename and delete carry the counters along") {
        Fixture f;
        auto created = f.submit_sync(Write::create_namespace("first"));
        REQUIRE(created.status.is_ok());
        std::string id = created.result.ns.id;
        CHECK(id.size() == 32);
        REQUIRE(f.submit_sync(Write::put(NamespaceRef::id(id), f.entry("k", "v"))).status.is_ok());
        CHECK(f.stats.all().at("first").writes == 1);
        auto renamed = f.submit_sync(Write::rename_namespace(id, "second"));
        REQUIRE(renamed.status.is_ok());
        CHECK(renamed.result.ns.title == "second");
        CHECK(f.stats.all().count("first") == 0);
        CHECK(f.stats.all().at("second").writes == 1);
        CHECK(f.value_of("second", "k") == "v");
        REQUIRE(f.submit_sync(Write::delete_namespace(id)).status.is_ok());
        CHECK(f.stats.all().empty());
        CHECK(f.ops.find(NamespaceRef::id(id)) == nullptr);
    }

    TEST_CASE("a write path sees every write as a value and decides when it is done") {
        Fixture f;
        std::vector<Write> published;
        std::vector<WriteDone> pending;
        f.ops.set_write_path([&](Write w, WriteDone done) {
            published.push_back(w);
            pending.push_back(std::move(done));
        });
        std::optional<Status> answered;
        f.ops.submit(Write::put(NamespaceRef::title("ns"), f.entry("k", "v")),
                     [&](Status st, const WriteResult&) { answered = st; });
        REQUIRE(published.size() == 1);
        CHECK(published[0].kind == Write::Kind::put);
        CHECK(published[0].ns.name == "ns");
        REQUIRE(published[0].entries.size() == 1);
        CHECK(published[0].entries[0].value() == "v");
        CHECK_FALSE(answered.has_value()); // not acknowledged before the path says so
        CHECK(f.store->namespace_by_title("ns") == nullptr);

        // The path applies it locally, then reports: the client's answer and the counters follow.
        std::optional<Status> applied;
        WriteResult result;
        f.ops.apply_locally(published[0], [&](Status st, const WriteResult& r) {
            applied = st;
            result = r;
        });
        REQUIRE(run_until(f.loop, [&] { return applied.has_value(); }));
        REQUIRE(applied->is_ok());
        CHECK(f.stats.all().empty()); // apply_locally alone counts nothing
        pending[0](Status::ok(), result);
        REQUIRE(answered.has_value());
        CHECK(answered->is_ok());
        CHECK(f.stats.all().at("ns").writes == 1);
        CHECK(f.value_of("ns", "k") == "v");

        // A refusal reaches the client and counts nothing.
        answered.reset();
        f.ops.submit(Write::put(NamespaceRef::title("ns"), f.entry("k2", "v")),
                     [&](Status st, const WriteResult&) { answered = st; });
        pending[1](make_error(503, "fleet_unavailable", "no quorum"), WriteResult{});
        REQUIRE(answered.has_value());
        CHECK(answered->error().code == "fleet_unavailable");
        CHECK(f.stats.all().at("ns").writes == 1);
    }

    TEST_CASE("make_entry validates size, metadata and expiration in the dialect's words") {
        Fixture f;
        Rules rules;
        rules.max_value_size = 4;
        f.ops.set_rules(rules);
        int64_t now = f.ops.now_s();
        auto ok =
            f.ops.make_entry(PutRequest{"k", "abcd", R"({ "a" : 1 })", "ttl=120"}, Dialect::native);
        REQUIRE(ok.is_ok());
        CHECK(ok->value() == "abcd");
        CHECK(ok->metadata == R"({"a":1})");
        CHECK(ok->expiration == now + 120);
        // `ttl` is the native routes' alias only.
        auto cf =
            f.ops.make_entry(PutRequest{"k", "v", std::nullopt, "ttl=120"}, Dialect::cloudflare);
        REQUIRE(cf.is_ok());
        CHECK(cf->expiration == 0);

        auto big = f.ops.make_entry(PutRequest{"k", "abcde", std::nullopt, ""}, Dialect::native);
        CHECK(big.error().code == "value_too_large");
        auto meta = f.ops.make_entry(PutRequest{"k", "v", "{", ""}, Dialect::native);
        CHECK(meta.error().code == "invalid_metadata");
        auto query = f.ops.make_entry(PutRequest{"k", "v", std::nullopt, "expiration_ttl=%zz"},
                                      Dialect::native);
        CHECK(query.error().code == "invalid_query");
        auto short_ttl = f.ops.make_entry(PutRequest{"k", "v", std::nullopt, "expiration_ttl=5"},
                                          Dialect::cloudflare);
        CHECK(short_ttl.error().message ==
              "Invalid expiration_ttl of 5. Expiration TTL must be at least 60.");
    }

    TEST_CASE("listing a namespace that does not exist is empty, and refuses a cursor") {
        Fixture f;
        auto page = f.ops.list(nullptr, "", "", 10);
        REQUIRE(page.is_ok());
        CHECK(page->keys.empty());
        CHECK(page->complete);
        CHECK(f.ops.list(nullptr, "", "abc", 10).error().code == "bad_cursor");
        CHECK(Ops::list_limit(std::nullopt).value() == kMaxListLimit);
        CHECK(Ops::list_limit("0").error().code == "invalid_limit");
        CHECK(Ops::list_limit("1001").error().code == "invalid_limit");
        CHECK(Ops::list_limit("7").value() == 7);
    }
}
