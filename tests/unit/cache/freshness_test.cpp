// Freshness: storability, lifetime precedence, age arithmetic and stale windows against
// RFC 9111 / RFC 5861 rules, with explicit times (no clock).
#include <doctest/doctest.h>

#include <initializer_list>
#include <vector>

#include "cache/freshness.hpp"
#include "tests/unit/cache/http_date.hpp"

using namespace ec::cache;
using namespace ec::cache::test;

namespace {

struct Msg {
    std::vector<ec::cache::Field> fields;
    Msg(std::initializer_list<std::pair<const char*, std::string>> l) {
        for (auto& [n, v] : l)
            fields.push_back({n, v});
    }
};

// Evaluates a 200 (or `status`) response to a plain GET, sent and received at T.
Freshness eval(const Msg& resp, int status = 200, FreshnessPolicy p = {}, const Msg& req = {},
               bool is_get = true) {
    auto ri = RequestInfo::from_fields(is_get, req.fields);
    auto si = ResponseInfo::from_fields(status, resp.fields);
    return evaluate(ri, si, p, T, T);
}

const std::string D = date(T);

} // namespace

TEST_SUITE("cache/freshness") {

    TEST_CASE("heuristically cacheable and understood status codes") {
        for (int s : {200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501})
            CHECK(heuristically_cacheable(s));
        for (int s : {201, 302, 303, 307, 400, 403, 500, 502, 503, 504})
            CHECK_FALSE(heuristically_cacheable(s));
        CHECK(understood_status(200));
        CHECK(understood_status(307));
        CHECK_FALSE(understood_status(304));
        CHECK_FALSE(understood_status(299));
        CHECK_FALSE(understood_status(599));
    }

    TEST_CASE("s-maxage > max-age > Expires - Date") {
        auto f = eval({{"Date", D},
                       {"Cache-Control", "max-age=60, s-maxage=120"},
                       {"Expires", date(T + 300)}});
        CHECK(f.storable);
        CHECK(f.source == LifetimeSource::origin);
        CHECK(f.lifetime == 120);
        CHECK(eval({{"Date", D}, {"Cache-Control", "max-age=60"}, {"Expires", date(T + 300)}})
                  .lifetime == 60);
        CHECK(eval({{"Date", D}, {"Expires", date(T + 300)}}).lifetime == 300);
        // Expires is relative to Date, not to the cache's clock.
        CHECK(eval({{"Date", date(T - 100)}, {"Expires", date(T + 300)}}).lifetime == 400);
        // Expires before Date: zero lifetime (and nothing else to keep → not stored).
        auto past = eval({{"Date", D}, {"Expires", date(T - 10)}});
        CHECK(past.lifetime == 0);
        CHECK(past.why_not == "not-useful");
    }

    TEST_CASE("missing Date means the response time; invalid Expires means already expired") {
        CHECK(eval({{"Expires", date(T + 50)}}).lifetime == 50);
        auto f = eval({{"Date", D}, {"Expires", "0"}, {"ETag", "\"v1\""}});
        CHECK(f.storable); // kept for revalidation: it has a validator
        CHECK(f.lifetime == 0);
        CHECK(state_at(f, T) == State::expired);
        // Two disagreeing Expires lines: treated as already expired.
        CHECK(eval({{"Expires", date(T + 50)}, {"Expires", date(T + 90)}, {"ETag", "\"a\""}})
                  .lifetime == 0);
        // max-age present: an invalid Expires is ignored.
        CHECK(eval({{"Expires", "garbage"}, {"Cache-Control", "max-age=30"}}).lifetime == 30);
    }

    TEST_CASE("invalid, negative or contradictory max-age/s-maxage make the response stale") {
        Msg etag = {{"ETag", "\"x\""}};
        for (const char* cc : {"max-age=abc", "max-age=-5", "max-age=", "max-age",
                               "max-age=10, max-age=20", "s-maxage=1.5, max-age=60"}) {
            CAPTURE(cc);
            auto f = eval({{"Cache-Control", cc}, {"ETag", "\"x\""}, {"Expires", date(T + 999)}});
            CHECK(f.storable);
            CHECK(f.lifetime == 0);
        }
        CHECK(eval({{"Cache-Control", "max-age=99999999999"}}).lifetime == kDeltaMax);
        CHECK(eval({{"Cache-Control", "max-age=5, max-age=5"}}).lifetime == 5);
    }

    TEST_CASE("age arithmetic (RFC 9111 §4.2.3)") {
        // request sent at 1000, response received at 1002, Date 995, Age 3:
        // apparent_age = 7, response_delay = 2, corrected_age_value = 5 → initial age 7.
        CHECK(corrected_initial_age(995, 3, 1000, 1002) == 7);
        // A larger upstream Age wins: 10 + 2 = 12.
        CHECK(corrected_initial_age(995, 10, 1000, 1002) == 12);
        // Date in the future (skew): apparent age 0, the Age path still counts.
        CHECK(corrected_initial_age(1010, 0, 1000, 1002) == 2);
        // No Date: date_value = response_time.
        CHECK(corrected_initial_age(std::nullopt, 0, 1002, 1002) == 0);
        // Overflowing inputs clamp.
        CHECK(corrected_initial_age(std::nullopt, kDeltaMax, 0, kDeltaMax) == kDeltaMax);

        auto ri = RequestInfo{};
        Msg resp = {{"Date", date(995)}, {"Age", "3"}, {"Cache-Control", "max-age=60"}};
        auto f = evaluate(ri, ResponseInfo::from_fields(200, resp.fields), {}, 1000, 1002);
        CHECK(f.corrected_initial_age == 7);
        CHECK(current_age(f, 1002) == 7);
        CHECK(current_age(f, 1012) == 17);
        CHECK(current_age(f, 900) == 7); // the clock went backwards: no negative resident time
        CHECK(fresh_until(f) == 1002 - 7 + 60);
        CHECK(state_at(f, 1054) == State::fresh);
        CHECK(state_at(f, 1055) == State::expired); // current_age 60 == lifetime: stale
    }

    TEST_CASE("Age is a single value: the first member of the first line (RFC 9111 §5.1)") {
        auto age_of = [](const Msg& m) { return ResponseInfo::from_fields(200, m.fields).age; };
        CHECK(age_of({{"Age", "7200, 0"}}) == 7200);
        CHECK(age_of({{"Age", "7200 ,0"}}) == 7200);
        CHECK(age_of({{"Age", "0"}, {"Age", "7200"}}) == 0);
        CHECK(age_of({{"Age", "20"}, {"Age", "30"}}) == 20);
        // An invalid value is ignored as if Age were absent, later lines included.
        CHECK(age_of({{"Age", "x"}, {"Age", "30"}}) == 0);
        CHECK(age_of({{"Age", "x, 30"}}) == 0);
        CHECK(age_of({{"Age", "-5"}}) == 0);
        CHECK(age_of({{"Age", ""}}) == 0);

        Msg resp = {{"Age", "30, 0"}, {"Age", "20"}, {"Cache-Control", "max-age=60"}};
        auto f = evaluate({}, ResponseInfo::from_fields(200, resp.fields), {}, T, T);
        CHECK(current_age(f, T) == 30);
        CHECK(state_at(f, T + 29) == State::fresh);
        CHECK(state_at(f, T + 30) == State::expired);
    }

    TEST_CASE("not storable: privacy") {
        CHECK(eval({{"Cache-Control", "no-store, max-age=60"}}).why_not == "no-store");
        CHECK_FALSE(eval({{"Cache-Control", "no-store, max-age=60"}}).shareable);
        CHECK(eval({{"Cache-Control", "private, max-age=60"}}).why_not == "private");
        // Qualified private limits the named fields only (withheld_fields()).
        CHECK(eval({{"Cache-Control", "private=\"X-User\", max-age=60"}}).storable);
        CHECK(eval({{"Cache-Control", "private=\"Set-Cookie\", max-age=60"}, {"Set-Cookie", "a=b"}})
                  .storable);
        CHECK(
            eval({{"Cache-Control", "no-cache=\"Set-Cookie\", max-age=60"}, {"Set-Cookie", "a=b"}})
                .storable);
        CHECK(eval({{"Cache-Control", "private=\"X-User\", max-age=60"}, {"Set-Cookie", "a=b"}})
                  .why_not == "set-cookie");
        CHECK(eval({{"Cache-Control", "max-age=60"}, {"Set-Cookie", "a=b"}}).why_not ==
              "set-cookie");
        CHECK(eval({{"Cache-Control", "max-age=60"},
                    {"Set-Cookie", "a=b"},
                    {"Cache-Control", "public"}})
                  .why_not == "set-cookie");
        CHECK(eval({{"Cache-Control", "max-age=60"}, {"Vary", "Accept, *"}}).why_not ==
              "vary-star");
        CHECK(eval({{"Cache-Control", "max-age=60"}, {"Vary", "Accept-Encoding"}}).storable);
    }

    TEST_CASE("Authorization (§3.5): stored only with public, s-maxage or must-revalidate") {
        Msg auth = {{"Authorization", "Bearer x"}};
        auto f = eval({{"Cache-Control", "max-age=60"}}, 200, {}, auth);
        CHECK_FALSE(f.storable);
        CHECK_FALSE(f.shareable);
        CHECK(f.why_not == "authorization");
        CHECK(eval({{"Cache-Control", "public, max-age=60"}}, 200, {}, auth).storable);
        CHECK(eval({{"Cache-Control", "s-maxage=60"}}, 200, {}, auth).storable);
        CHECK(eval({{"Cache-Control", "must-revalidate, max-age=60"}}, 200, {}, auth).storable);
    }

    TEST_CASE("not storable: request no-store, method, status, must-understand") {
        Msg cc60 = {{"Cache-Control", "max-age=60"}};
        auto f = eval(cc60, 200, {}, {{"Cache-Control", "no-store"}});
        CHECK(f.why_not == "request-no-store");
        CHECK(f.shareable);
        CHECK(eval(cc60, 200, {}, {}, false).why_not == "method");
        CHECK(eval(cc60, 206).why_not == "status");
        CHECK(eval(cc60, 304).why_not == "status");
        CHECK(eval(cc60, 103).why_not == "status");
        CHECK(eval(cc60, 600).why_not == "status");
        // §5.2.2.3: a status code the cache understands lifts no-store; any other is refused.
        CHECK(eval({{"Cache-Control", "must-understand, no-store, max-age=60"}}).storable);
        CHECK(eval({{"Cache-Control", "must-understand, no-store, max-age=60"}}, 404).storable);
        CHECK(eval({{"Cache-Control", "no-store, max-age=60"}}).why_not == "no-store");
        CHECK(eval({{"Cache-Control", "must-understand, no-store, max-age=60"}}, 299).why_not ==
              "no-store");
        CHECK(eval({{"Cache-Control", "must-understand, no-store, private, max-age=60"}}).why_not ==
              "private");
        CHECK(eval({{"Cache-Control", "must-understand, max-age=60"}}, 299).why_not ==
              "must-understand");
        CHECK(eval({{"Cache-Control", "must-understand, max-age=60"}}, 200).storable);
    }

    TEST_CASE("status codes: heuristic ones need freshness info; others only explicit") {
        FreshnessPolicy p;
        p.ttl = 100;
        CHECK(eval({}, 404, p).lifetime == 100);
        CHECK(eval({}, 302, p).why_not == "status");
        CHECK(eval({}, 500, p).why_not == "status");
        CHECK(eval({{"Cache-Control", "max-age=10"}}, 302, p).lifetime == 10);
        CHECK(eval({{"Cache-Control", "max-age=10"}}, 500, p).lifetime == 10);
        CHECK(eval({{"Cache-Control", "public"}}, 302, p).lifetime == 100);
    }

    TEST_CASE("route ttl only for responses without freshness information; 0 = not stored") {
        FreshnessPolicy p;
        CHECK(eval({{"Date", D}}, 200, p).why_not == "no-freshness");
        p.ttl = 300;
        auto f = eval({{"Date", D}}, 200, p);
        CHECK(f.source == LifetimeSource::route_ttl);
        CHECK(f.lifetime == 300);
        CHECK(eval({{"Cache-Control", "max-age=5"}}, 200, p).lifetime == 5);
        CHECK(eval({{"Cache-Control", "max-age=0"}, {"ETag", "\"e\""}}, 200, p).lifetime == 0);
        CHECK(eval({{"Expires", date(T + 7)}}, 200, p).lifetime == 7);
    }

    TEST_CASE("ttl_by_status: negative caching when the origin gave no explicit freshness") {
        std::map<int, int64_t> by_status = {{404, 30}, {500, 5}};
        FreshnessPolicy p;
        p.ttl = 300;
        p.ttl_by_status = &by_status;
        auto f = eval({}, 404, p);
        CHECK(f.source == LifetimeSource::status_ttl);
        CHECK(f.lifetime == 30);
        CHECK(eval({}, 500, p).lifetime == 5); // makes an otherwise uncacheable status cacheable
        CHECK(eval({}, 503, p).why_not == "status");
        CHECK(eval({{"Cache-Control", "max-age=2"}}, 404, p).lifetime == 2); // origin wins
        CHECK(eval({}, 200, p).lifetime == 300);
        CHECK(eval({{"Cache-Control", "no-store"}}, 404, p).why_not == "no-store");
    }

    TEST_CASE("heuristic freshness: off by default, 10% of Date - Last-Modified, capped") {
        Msg resp = {{"Date", D}, {"Last-Modified", date(T - 1000)}};
        CHECK(eval(resp).why_not == "no-freshness");
        FreshnessPolicy p;
        p.heuristic_freshness = true;
        auto f = eval(resp, 200, p);
        CHECK(f.source == LifetimeSource::heuristic);
        CHECK(f.lifetime == 100);
        CHECK(eval({{"Date", D}, {"Last-Modified", date(T - 100 * 86400)}}, 200, p).lifetime ==
              86400);
        p.heuristic_max = 3600;
        CHECK(eval({{"Date", D}, {"Last-Modified", date(T - 100 * 86400)}}, 200, p).lifetime ==
              3600);
        // Not for explicit freshness, not for statuses that are not heuristically cacheable,
        // not without Last-Modified; a route ttl takes precedence.
        CHECK(eval({{"Last-Modified", date(T - 1000)}, {"Cache-Control", "max-age=1"}}, 200, p)
                  .lifetime == 1);
        CHECK(eval(resp, 302, p).why_not == "status");
        CHECK(eval({{"Date", D}}, 200, p).why_not == "no-freshness");
        p.ttl = 50;
        CHECK(eval(resp, 200, p).source == LifetimeSource::route_ttl);
        // Last-Modified after Date: zero, so only kept for revalidation.
        p.ttl = 0;
        auto future = eval({{"Date", D}, {"Last-Modified", date(T + 1000)}}, 200, p);
        CHECK(future.lifetime == 0);
        CHECK(future.storable); // Last-Modified is a validator
    }

    TEST_CASE("force_ttl overrides the origin's lifetime but not privacy") {
        FreshnessPolicy p;
        p.ttl = 600;
        p.force_ttl = true;
        for (const char* cc : {"max-age=0", "s-maxage=1", "no-cache", "max-age=99999"}) {
            CAPTURE(cc);
            auto f = eval({{"Cache-Control", cc}, {"Expires", "0"}}, 200, p);
            CHECK(f.storable);
            CHECK(f.source == LifetimeSource::forced);
            CHECK(f.lifetime == 600);
            CHECK_FALSE(f.revalidate_each_use);
        }
        CHECK(eval({{"Cache-Control", "no-store"}}, 200, p).why_not == "no-store");
        CHECK(eval({{"Cache-Control", "private"}}, 200, p).why_not == "private");
        CHECK(eval({{"Set-Cookie", "a=b"}}, 200, p).why_not == "set-cookie");
        CHECK(eval({}, 200, p, {{"Authorization", "x"}}).why_not == "authorization");
        // must-revalidate and s-maxage still forbid stale serving.
        p.stale_if_error = 100;
        auto mr = eval({{"Cache-Control", "must-revalidate, max-age=1"}}, 200, p);
        CHECK(mr.lifetime == 600);
        CHECK(mr.stale_forbidden);
        CHECK(mr.sie == 0);
        // A forced no-cache is not stale-forbidding: route windows apply.
        CHECK(eval({{"Cache-Control", "no-cache"}}, 200, p).sie == 100);
        // ttl_by_status still picks per status; other statuses follow the origin.
        std::map<int, int64_t> by_status = {{404, 30}};
        p.ttl_by_status = &by_status;
        CHECK(eval({{"Cache-Control", "max-age=9"}}, 404, p).lifetime == 30);
        CHECK(eval({{"Cache-Control", "max-age=9"}}, 500, p).lifetime == 9);
        CHECK(eval({}, 500, p).why_not == "status");
    }

    TEST_CASE("stale windows: response directives and route windows, the larger wins") {
        auto f =
            eval({{"Cache-Control", "max-age=60, stale-while-revalidate=30, stale-if-error=100"}});
        CHECK(f.swr == 30);
        CHECK(f.sie == 100);
        CHECK(state_at(f, T + 59) == State::fresh);
        CHECK(state_at(f, T + 60) == State::stale_while_revalidate);
        CHECK(state_at(f, T + 89) == State::stale_while_revalidate);
        CHECK(state_at(f, T + 90) == State::stale_if_error_only);
        CHECK(state_at(f, T + 159) == State::stale_if_error_only);
        CHECK(state_at(f, T + 160) == State::expired);
        CHECK(usable_on_error(f, T + 159));
        CHECK_FALSE(usable_on_error(f, T + 160));

        FreshnessPolicy p;
        p.stale_while_revalidate = 50;
        p.stale_if_error = 10;
        auto g =
            eval({{"Cache-Control", "max-age=60, stale-while-revalidate=30, stale-if-error=100"}},
                 200, p);
        CHECK(g.swr == 50);
        CHECK(g.sie == 100);
        CHECK(eval({{"Cache-Control", "max-age=60"}}, 200, p).swr == 50);
        // Invalid window directives are ignored; duplicates take the smallest.
        CHECK(eval({{"Cache-Control", "max-age=1, stale-while-revalidate=x"}}).swr == 0);
        CHECK(eval({{"Cache-Control", "max-age=1, stale-if-error=9, stale-if-error=4"}}).sie == 4);
    }

    TEST_CASE("must-revalidate, proxy-revalidate, s-maxage and no-cache forbid stale") {
        FreshnessPolicy p;
        p.stale_while_revalidate = 50;
        p.stale_if_error = 50;
        for (const char* cc :
             {"max-age=60, must-revalidate, stale-while-revalidate=30, stale-if-error=30",
              "max-age=60, proxy-revalidate, stale-if-error=30",
              "s-maxage=60, stale-while-revalidate=30, stale-if-error=30",
              "max-age=60, no-cache, stale-if-error=30"}) {
            CAPTURE(cc);
            auto f = eval({{"Cache-Control", cc}, {"ETag", "\"v\""}}, 200, p);
            CHECK(f.storable);
            CHECK(f.stale_forbidden);
            CHECK(f.swr == 0);
            CHECK(f.sie == 0);
            CHECK_FALSE(usable_on_error(f, T + 61));
        }
    }

    TEST_CASE("no-cache: stored when it has a validator, revalidated on every use") {
        for (const char* cc : {"no-cache", "no-cache, max-age=600", "no-cache=\"\""}) {
            CAPTURE(cc);
            auto f = eval({{"Cache-Control", cc}, {"ETag", "\"v\""}});
            CHECK(f.storable);
            CHECK(f.revalidate_each_use);
            CHECK(state_at(f, T) == State::expired);
            CHECK(decide_reuse(f, {}, T, false) == Reuse::revalidate);
            CHECK_FALSE(usable_on_error(f, T));
        }
        // Without a validator there is nothing to revalidate with.
        CHECK(eval({{"Cache-Control", "no-cache, max-age=600"}}).why_not == "not-useful");
        FreshnessPolicy p;
        p.keep = 0;
        CHECK(eval({{"Cache-Control", "no-cache"}, {"ETag", "\"v\""}}, 200, p).why_not ==
              "not-useful");
    }

    TEST_CASE("a response already older than its lifetime is only kept for windows or validators") {
        CHECK(eval({{"Cache-Control", "max-age=60"}, {"Age", "100"}}).why_not == "not-useful");
        auto sie = eval({{"Cache-Control", "max-age=60, stale-if-error=100"}, {"Age", "100"}});
        CHECK(sie.storable);
        CHECK(state_at(sie, T) == State::stale_if_error_only);
        CHECK(eval({{"Cache-Control", "max-age=60"}, {"Age", "100"}, {"ETag", "\"e\""}}).storable);
    }

    TEST_CASE("retention: fresh_until + windows + keep (keep only with a validator)") {
        Msg resp = {{"Cache-Control", "max-age=60, stale-while-revalidate=30, stale-if-error=100"},
                    {"Age", "10"}};
        auto f = eval(resp);
        CHECK(fresh_until(f) == T + 50);
        CHECK(retain_until(f) == T + 150);
        CHECK(f.keep == 0);
        resp.fields.push_back({"Last-Modified", date(T - 5)});
        FreshnessPolicy p;
        p.keep = 1000;
        auto g = eval(resp, 200, p);
        CHECK(g.keep == 1000);
        CHECK(retain_until(g) == T + 1150);
    }

    TEST_CASE("decide_reuse: client directives honoured only with honor_client_no_cache") {
        auto f = eval({{"Cache-Control", "max-age=100, stale-while-revalidate=50"}});
        auto rc = [](const char* v) { return CacheControl::parse(v); };
        CHECK(decide_reuse(f, {}, T + 10, false) == Reuse::serve);
        CHECK(decide_reuse(f, {}, T + 120, false) == Reuse::serve_stale);
        CHECK(decide_reuse(f, {}, T + 150, false) == Reuse::revalidate);
        CHECK(decide_reuse(f, rc("no-cache"), T + 10, false) == Reuse::serve);
        CHECK(decide_reuse(f, rc("no-cache"), T + 10, true) == Reuse::revalidate);
        CHECK(decide_reuse(f, rc("max-age=20"), T + 10, true) == Reuse::serve);
        CHECK(decide_reuse(f, rc("max-age=5"), T + 10, true) == Reuse::revalidate);
        CHECK(decide_reuse(f, rc("max-age=500"), T + 120, true) == Reuse::revalidate);
        CHECK(decide_reuse(f, rc("min-fresh=80"), T + 10, true) == Reuse::serve);
        CHECK(decide_reuse(f, rc("min-fresh=95"), T + 10, true) == Reuse::revalidate);
        CHECK(decide_reuse(f, rc("max-stale=1000"), T + 200, true) == Reuse::revalidate);
        // Pragma: no-cache counts as no-cache only without Cache-Control.
        Msg pragma = {{"Pragma", "no-cache"}};
        auto r1 = RequestInfo::from_fields(true, pragma.fields);
        CHECK(r1.cc.no_cache);
        Msg both = {{"Pragma", "no-cache"}, {"Cache-Control", "max-age=100"}};
        CHECK_FALSE(RequestInfo::from_fields(true, both.fields).cc.no_cache);
        // immutable: a fresh entry is not revalidated for a client reload.
        auto im = eval({{"Cache-Control", "max-age=100, immutable"}});
        CHECK(decide_reuse(im, rc("no-cache"), T + 10, true) == Reuse::serve);
        CHECK(decide_reuse(im, rc("no-cache"), T + 100, true) == Reuse::revalidate);
    }

    TEST_CASE("request facts: Authorization, only-if-cached, no-store") {
        Msg req = {{"authorization", "Basic x"},
                   {"Cache-Control", "only-if-cached"},
                   {"cache-control", "no-store"}};
        auto r = RequestInfo::from_fields(true, req.fields);
        CHECK(r.has_authorization);
        CHECK(r.cc.only_if_cached);
        CHECK(r.cc.no_store);
    }

    TEST_CASE("qualified no-cache leaves the response reusable, the named fields withheld") {
        Msg resp = {{"Cache-Control", "max-age=600, no-cache=\"Set-Cookie, X-Session\""},
                    {"Set-Cookie", "s=1"}};
        auto f = eval(resp);
        CHECK(f.storable);
        CHECK_FALSE(f.revalidate_each_use);
        CHECK(state_at(f, T) == State::fresh);
        auto info = ResponseInfo::from_fields(200, resp.fields);
        CHECK(withheld_fields(info, {}) == std::vector<std::string>{"set-cookie", "x-session"});
        Msg priv = {{"Cache-Control", "max-age=60, private=\"X-User\""}};
        CHECK(withheld_fields(ResponseInfo::from_fields(200, priv.fields), {}) ==
              std::vector<std::string>{"x-user"});
        CHECK(withheld_fields(
                  ResponseInfo::from_fields(200, Msg{{"Cache-Control", "max-age=6"}}.fields), {})
                  .empty());
    }

    TEST_CASE("targeted fields (RFC 9213): ours, then CDN-Cache-Control, then Cache-Control") {
        FreshnessPolicy p;
        p.targeted_field = "Edgecached-Cache-Control";
        Msg cdn = {{"Cache-Control", "no-store"}, {"CDN-Cache-Control", "max-age=600"}};
        auto f = eval(cdn, 200, p);
        CHECK(f.storable);
        CHECK(f.lifetime == 600);
        Msg ours = {{"Cache-Control", "max-age=10"},
                    {"CDN-Cache-Control", "max-age=600"},
                    {"edgecached-cache-control", "max-age=60, stale-while-revalidate=5"}};
        f = eval(ours, 200, p);
        CHECK(f.lifetime == 60);
        CHECK(f.swr == 5);
        // private / no-store / no-cache in the targeted field, even when Cache-Control allows.
        CHECK(eval({{"Cache-Control", "max-age=60"}, {"CDN-Cache-Control", "private"}}, 200, p)
                  .why_not == "private");
        CHECK(eval({{"Cache-Control", "max-age=60"}, {"CDN-Cache-Control", "no-store"}}, 200, p)
                  .why_not == "no-store");
        CHECK(eval({{"Cache-Control", "max-age=60"},
                    {"CDN-Cache-Control", "no-cache"},
                    {"ETag", "\"e\""}},
                   200, p)
                  .revalidate_each_use);
        // Expires is ignored too when a targeted field governs.
        Msg exp = {{"Date", D}, {"Expires", date(T + 3600)}, {"CDN-Cache-Control", "public"}};
        CHECK(eval(exp, 200, p).why_not == "no-freshness");
        // Invalid or empty targeted fields are ignored as if absent; so are other targets.
        for (const char* v : {"max-age=60,", "Max-Age=60", "max-age=\"60", "", "max-age=1.5.1"}) {
            CAPTURE(v);
            auto g = eval({{"Cache-Control", "max-age=7"}, {"CDN-Cache-Control", v}}, 200, p);
            CHECK(g.lifetime == 7);
        }
        CHECK(eval({{"Cache-Control", "max-age=7"}, {"Other-Cache-Control", "max-age=60"}}, 200, p)
                  .lifetime == 7);
        p.targeted_field.clear(); // turned off: our field is just another field
        CHECK(eval(ours, 200, p).lifetime == 600);
        // Several lines combine; a later duplicate member wins; ?0 turns a directive off.
        CHECK(
            eval({{"CDN-Cache-Control", "max-age=5"}, {"CDN-Cache-Control", "max-age=50"}}, 200, p)
                .lifetime == 50);
        CHECK(eval({{"CDN-Cache-Control", "no-store=?0, max-age=9"}}, 200, p).lifetime == 9);
        CHECK(eval({{"CDN-Cache-Control", "max-age=-1"}}, 200, p).lifetime == 0);
        auto q = eval(
            {{"CDN-Cache-Control", "max-age=60, private=\"set-cookie\""}, {"Set-Cookie", "a=b"}},
            200, p);
        CHECK(q.storable);
    }

    TEST_CASE("withheld fields include the targeted field itself") {
        FreshnessPolicy p;
        p.targeted_field = "Edgecached-Cache-Control";
        Msg m = {{"Edgecached-Cache-Control", "max-age=60"}, {"CDN-Cache-Control", "max-age=6"}};
        CHECK(withheld_fields(ResponseInfo::from_fields(200, m.fields), p) ==
              std::vector<std::string>{"edgecached-cache-control"});
    }
}
