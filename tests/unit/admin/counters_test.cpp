// Tests for the counter tables every stats reader walks: names a scraper and a script rely on.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>

#include "admin/counters.hpp"
#include "cache/stats.hpp"

namespace {

using ec::admin::StatRow;

// Prometheus: counters end in _total, gauges do not; a family's first row has its help, one
// sentence; rows sharing a family are told apart by their label and are alike in kind.
template <class Counts> void check_counter_rows(std::span<const StatRow<Counts>> rows) {
    std::set<std::string_view> keys;
    std::set<std::string> samples;
    std::map<std::string_view, bool> family_gauge;
    for (const auto& row : rows) {
        INFO(row.json);
        CHECK(keys.insert(row.json).second);
        std::string_view metric = row.metric;
        CHECK(samples.insert(std::string(metric) + (row.metric_label ? row.metric_label : ""))
                  .second);
        CHECK(metric.starts_with("edgecached_"));
        CHECK(metric.ends_with("_total") != row.gauge);
        auto [family, first] = family_gauge.emplace(metric, row.gauge);
        if (first) {
            std::string_view help = row.help;
            CHECK(help.ends_with("."));
        } else {
            CHECK(family->second == row.gauge);
            CHECK(row.metric_label != nullptr);
        }
        if (row.ctl_always) CHECK(row.ctl_label != nullptr);
    }
}

} // namespace

TEST_SUITE("admin/counters") {
    TEST_CASE("each table names every counter once, the way Prometheus and scripts expect") {
        check_counter_rows(ec::admin::connection_rows());
        check_counter_rows(ec::admin::handshake_rows());
        check_counter_rows(ec::admin::cache_extra_rows());
        check_counter_rows(ec::admin::deferred_rows());
        check_counter_rows(ec::admin::hot_tier_rows());
        check_counter_rows(ec::admin::store_map_rows());
        check_counter_rows(ec::admin::store_record_rows());
        check_counter_rows(ec::admin::store_write_rows());
        check_counter_rows(ec::admin::store_commit_failure_rows());
        check_counter_rows(ec::admin::namespace_rows());
        check_counter_rows(ec::admin::origin_rows());
        check_counter_rows(ec::admin::origin_server_rows());
        auto rows = ec::admin::connection_rows();
        REQUIRE(rows.size() > ec::admin::connection_top_level_rows);
        CHECK(rows[0].json == "requests");
        CHECK(rows[1].json == "admin_requests");
    }

    TEST_CASE("the connection table's keys do not collide with the cache table's metrics") {
        std::set<std::string_view> metrics;
        for (const auto& row : ec::cache::cache_counter_table())
            metrics.insert(row.metric);
        for (const auto& row : ec::admin::connection_rows())
            CHECK_MESSAGE(metrics.count(row.metric) == 0, row.metric);
    }
}
