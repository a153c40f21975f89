// Key encoding for LMDB's 511-byte limit: codec, byte-order listing across the boundary,
// cursors, hash-collision detection and the record layout at the record layer.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <set>

#include "store/bytes.hpp"
#include "store/env.hpp"
#include "store/key_codec.hpp"
#include "store/record.hpp"
#include "store_test_util.hpp"

using namespace ec;
using namespace ec::store;
using namespace ec::store::test;

namespace {

// Lists a whole namespace (or prefix) page by page and checks the page invariants.
std::vector<std::string> list_all(Store& store, const Namespace& ns, const std::string& prefix,
                                  size_t limit) {
    std::vector<std::string> names;
    std::string cursor;
    for (int pages = 0; pages < 100000; ++pages) {
        auto page = store.kv_list(ns, prefix, cursor, limit);
        REQUIRE(page.is_ok());
        CHECK(page->keys.size() <= limit);
        for (auto& e : page->keys)
            names.push_back(e.name);
        if (page->complete) {
            CHECK(page->cursor.empty());
            return names;
        }
        REQUIRE_FALSE(page->cursor.empty());
        cursor = page->cursor;
    }
    FAIL("listing did not complete");
    return names;
}

// Keys around the encoding threshold: the KV key length where storage keys start being
// hashed is threshold - 5 = 498 on Debian's LMDB. Many share their first 498 bytes (one run),
// some share shorter prefixes, and short keys sit between them.
std::vector<std::string> boundary_keys() {
    std::set<std::string> keys;
    for (size_t len = 490; len <= 512; ++len) {
        for (char c : {'a', 'b', 'x', '~'})
            keys.insert(std::string(len - 1, 'x') + c);
        keys.insert(std::string(len - 2, 'x') + "y" + char('a' + len % 5));
        keys.insert(std::string(len - 12, 'x') + "z" + std::string(11, 'q'));
        keys.insert(std::string(300, 'x') + "m" + std::string(len - 301, 'n'));
    }
    std::mt19937 rng(12345);
    for (int i = 0; i < 150; ++i) {
        size_t len = 495 + rng() % 18;
        std::string k(490, 'x');
        while (k.size() < len)
            k.push_back("xy\xff\x01"[rng() % 4]);
        keys.insert(k);
    }
    for (std::string k : {"a", "x", "xx", "y", "\xff", "xy"})
        keys.insert(k);
    keys.insert(std::string(100, 'x'));
    keys.insert(std::string(497, 'x'));
    keys.insert(std::string(200, 'x') + "0");
    keys.insert(std::string(498, 'x')); // exactly at the threshold
    return {keys.begin(), keys.end()};
}

} // namespace

TEST_SUITE("store/keys") {

    TEST_CASE("KeyCodec keeps short keys and truncates + hashes long ones within 511 bytes") {
        KeyCodec codec(511, HashKey{1, 2});
        CHECK(codec.threshold() == 503);
        std::string shortk(502, 's');
        CHECK(codec.encode(shortk) == shortk);
        CHECK_FALSE(codec.is_long(shortk));
        std::string a = std::string(503, 'p'), b = std::string(503, 'p') + "tail";
        CHECK(codec.is_long(a));
        CHECK(codec.encode(a).size() == 511);
        CHECK(codec.encode(b).size() == 511);
        CHECK(codec.encode(b).substr(0, 503) == a);
        CHECK(codec.encode(a) != codec.encode(b));
        CHECK(codec.encode(std::string(5000, 'u')).size() == 511);
        // The hash is keyed: another key gives other encodings.
        KeyCodec other(511, HashKey{3, 4});
        CHECK(other.encode(b) != codec.encode(b));
        CHECK(codec.seek_key("abc") == "abc");
        CHECK(codec.seek_key(b) == a);
    }

    TEST_CASE("cursors round-trip any key and reject junk") {
        for (std::string k :
             {std::string("a"), std::string("\0\xff?/+", 5), std::string(512, '\xfe')}) {
            std::string c = encode_cursor(k);
            CHECK(c.find_first_of("+/=") == std::string::npos);
            auto back = decode_cursor(c);
            REQUIRE(back.has_value());
            CHECK(*back == k);
        }
        CHECK_FALSE(decode_cursor("").has_value());
        CHECK_FALSE(decode_cursor("a").has_value());
        CHECK_FALSE(decode_cursor("YQ==").has_value());
        CHECK_FALSE(decode_cursor("a b").has_value());
        CHECK_FALSE(decode_cursor(encode_cursor(std::string(513, 'k'))).has_value());
    }

    TEST_CASE("listing across the 511-byte boundary is in byte order, in pages of any size") {
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        std::vector<std::string> keys = boundary_keys();
        // Submit in a scrambled order; keys sharing a 498-byte prefix land in one LMDB run.
        std::vector<std::string> order = keys;
        std::shuffle(order.begin(), order.end(), std::mt19937(7));
        for (const auto& k : order)
            store->kv_put("ns", k, "v:" + k, "", 0, nullptr);
        store->kv_put("other", std::string(505, 'x'), "elsewhere", "", 0, nullptr);
        store->flush();
        const Namespace& ns = *store->namespace_by_title("ns");

        std::vector<std::string> expected = keys;
        std::sort(expected.begin(), expected.end());
        for (size_t limit : {1, 2, 7, 1000}) {
            CAPTURE(limit);
            CHECK(list_all(*store, ns, "", limit) == expected);
        }

        // Prefixes longer and shorter than the run prefix.
        for (std::string prefix :
             {std::string(499, 'x'), std::string(498, 'x') + "b", std::string(300, 'x'),
              std::string("xy"), std::string(505, 'x')}) {
            CAPTURE(prefix.size());
            std::vector<std::string> want;
            for (const auto& k : expected)
                if (k.starts_with(prefix)) want.push_back(k);
            CHECK(list_all(*store, ns, prefix, 7) == want);
            CHECK(list_all(*store, ns, prefix, 1000) == want);
        }

        // Every key is gettable and deletable.
        KvValue v;
        for (const auto& k : keys) {
            REQUIRE(*store->kv_get(ns, k, &v));
            CHECK(v.value == "v:" + k);
        }
        std::vector<std::string> kept;
        for (size_t i = 0; i < expected.size(); ++i) {
            if (i % 2)
                store->kv_delete("ns", expected[i], nullptr);
            else
                kept.push_back(expected[i]);
        }
        store->flush();
        for (size_t i = 0; i < expected.size(); ++i)
            CHECK(*store->kv_get(ns, expected[i], &v) == (i % 2 == 0));
        CHECK(list_all(*store, ns, "", 2) == kept);
        CHECK(list_all(*store, ns, "", 1000) == kept);
        CHECK(record_count(*store) == kept.size() + 1);
    }

    TEST_CASE("a page ends short, with a cursor, when expired records use up the skip budget") {
        TempDir tmp;
        loop::Loop loop;
        auto store = Store::open(loop, options(tmp.path));
        int64_t now = loop.clock().now_s();
        char buf[16];
        for (size_t i = 0; i < kScanSkipBudget + 10; ++i) {
            snprintf(buf, sizeof buf, "e%06zu", i);
            store->kv_put("ns", buf, "v", "", now + 60, nullptr);
        }
        store->kv_put("ns", "live", "v", "", 0, nullptr);
        store->flush();
        loop.clock().advance_for_test(120'000);
        const Namespace& ns = *store->namespace_by_title("ns");
        auto first = store->kv_list(ns, "", "", 1000);
        REQUIRE(first.is_ok());
        CHECK(first->keys.empty());
        CHECK_FALSE(first->complete);
        REQUIRE_FALSE(first->cursor.empty());
        auto second = store->kv_list(ns, "", first->cursor, 1000);
        REQUIRE(second.is_ok());
        REQUIRE(second->keys.size() == 1);
        CHECK(second->keys[0].name == "live");
        CHECK(second->complete);
    }

    TEST_CASE("record layer: runs are sorted by full key, and hash collisions are refused") {
        TempDir tmp;
        auto env = Env::open(options(tmp.path));
        KeyCodec codec(env->max_key_size(), env->hash_key());
        size_t t = codec.threshold();
        MDB_txn* txn = nullptr;
        REQUIRE(mdb_txn_begin(env->env(), nullptr, 0, &txn) == 0);
        RecordCtx c{txn, &env->dbs(), &codec};
        std::string run(t, 'r');
        auto put = [&](std::string_view k, std::string_view payload) {
            std::string_view parts[] = {payload};
            return put_record(c, k, parts, 0);
        };

        SUBCASE("a run is emitted in full-key order whatever the hash order") {
            // The hash orders tails in reverse, so LMDB holds the run backwards.
            codec.set_hash_for_test([](std::string_view k) {
                std::string tail(k.substr(503));
                tail.resize(8, '\0');
                return ~detail::get_be64(tail.data());
            });
            REQUIRE(codec.threshold() == 503);
            for (std::string tail : {"a", "b", "c", "ab", ""})
                REQUIRE(put(run + tail, tail).is_ok());
            REQUIRE(put("q", "short").is_ok());
            REQUIRE(put("s", "short").is_ok());
            std::vector<std::string> seen;
            uint64_t skipped = 0;
            auto page = scan_live(
                c, "", "", 100, 0, [&](const RecordView& rv) { seen.emplace_back(rv.key); },
                &skipped);
            REQUIRE(page.is_ok());
            CHECK(seen == std::vector<std::string>{"q", run, run + "a", run + "ab", run + "b",
                                                   run + "c", "s"});
            // Resuming inside the run.
            seen.clear();
            page = scan_live(
                c, "", run + "ab", 2, 0, [&](const RecordView& rv) { seen.emplace_back(rv.key); },
                &skipped);
            REQUIRE(page.is_ok());
            CHECK(seen == std::vector<std::string>{run + "b", run + "c"});
            CHECK_FALSE(page->complete);
            CHECK(page->last_key == run + "c");
        }

        SUBCASE("a different long key in the same slot is a 500 hash_collision") {
            codec.set_hash_for_test([](std::string_view) { return uint64_t{42}; });
            REQUIRE(put(run + "first", "one").is_ok());
            Status clash = put(run + "second", "two");
            REQUIRE_FALSE(clash.is_ok());
            CHECK(clash.error().http == 500);
            CHECK(clash.error().code == "hash_collision");
            RecordView rv;
            CHECK_FALSE(*find_record(c, run + "second", &rv)); // the slot is not this key's
            REQUIRE(*find_record(c, run + "first", &rv));
            CHECK(rv.payload == "one");
            auto del = delete_record(c, run + "second");
            REQUIRE(del.is_ok());
            CHECK_FALSE(del->has_value()); // and deleting it leaves the other key alone
            REQUIRE(*find_record(c, run + "first", &rv));
            CHECK(put(run + "first", "again").is_ok()); // the same key may be rewritten
        }
        mdb_txn_abort(txn);
    }

    TEST_CASE("a record value decodes its full key, tags and payload; a cut one is malformed") {
        std::string key(600, 'k');
        std::string tags = "\x02t1";
        std::string value;
        value += static_cast<char>(kRecordVersion);
        value += static_cast<char>(kFlagFullKey | kFlagTags);
        char expires[8];
        detail::put_le64(expires, 1234);
        value.append(expires, 8);
        detail::put_le32(value, static_cast<uint32_t>(key.size()));
        value += key;
        detail::put_le32(value, static_cast<uint32_t>(tags.size()));
        value += tags;
        const size_t payload_at = value.size();
        value += "payload";

        RecordView rv;
        REQUIRE(decode_record("ekey", value, &rv));
        CHECK(rv.expires_at == 1234);
        CHECK(rv.key == key);
        CHECK(rv.tags == tags);
        CHECK(rv.payload == "payload");
        // Every cut before the payload leaves a length or the bytes it announces short.
        for (size_t n = 0; n < payload_at; ++n)
            CHECK_FALSE(decode_record("ekey", std::string_view(value).substr(0, n), &rv));
        CHECK(decode_record("ekey", std::string_view(value).substr(0, payload_at), &rv));
        CHECK(rv.payload.empty());
    }

} // TEST_SUITE
