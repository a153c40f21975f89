// Prometheus text: a family's head and samples, and a counter table (admin/counters.hpp) written
// as families, for every /metrics writer.
#pragma once

#include <algorithm>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>

#include "admin/counters.hpp"
#include "util/json_writer.hpp"
#include "util/strings.hpp"

namespace ec::admin {

class PrometheusText {
public:
    explicit PrometheusText(std::string& out) : out_(out) {}
    void head(const char* name, const char* type, const char* help) {
        out_ += "# HELP ";
        out_ += name;
        out_ += ' ';
        out_ += help;
        out_ += "\n# TYPE ";
        out_ += name;
        out_ += ' ';
        out_ += type;
        out_ += '\n';
    }
    void sample(const char* name, std::string_view labels, double v) {
        out_ += name;
        if (!labels.empty()) {
            out_ += '{';
            out_ += labels;
            out_ += '}';
        }
        char buf[40];
        std::snprintf(buf, sizeof buf, " %.17g\n", v);
        out_ += buf;
    }
    void sample(const char* name, std::string_view labels, uint64_t v) {
        out_ += name;
        if (!labels.empty()) {
            out_ += '{';
            out_ += labels;
            out_ += '}';
        }
        out_ += ' ';
        append_u64(out_, v);
        out_ += '\n';
    }
    void one(const char* name, const char* type, const char* help, uint64_t v) {
        head(name, type, help);
        sample(name, "", v);
    }

private:
    std::string& out_;
};

// One set of counts and the labels of its samples ("listener=\"…\"", "" for none).
template <class Counts> struct Labelled {
    std::string labels;
    Counts counts;
};

// Each family of `rows` once, where it first appears, with a sample per set and per row of it.
template <class Counts>
void metric_rows(PrometheusText& p, std::span<const StatRow<Counts>> rows,
                 std::span<const Labelled<Counts>> sets) {
    for (size_t i = 0; i < rows.size(); ++i) {
        const std::string_view family = rows[i].metric;
        auto earlier = rows.first(i);
        if (std::any_of(earlier.begin(), earlier.end(),
                        [&](const auto& r) { return family == r.metric; }))
            continue;
        p.head(rows[i].metric, rows[i].gauge ? "gauge" : "counter", rows[i].help);
        for (const Labelled<Counts>& set : sets)
            for (const auto& row : rows.subspan(i)) {
                if (family != row.metric) continue;
                std::string labels = set.labels;
                if (row.metric_label) {
                    if (!labels.empty()) labels += ',';
                    labels += row.metric_label;
                }
                p.sample(row.metric, labels, set.counts.*row.field);
            }
    }
}

template <class Counts>
void metric_rows(PrometheusText& p, std::span<const StatRow<Counts>> rows, const Counts& counts) {
    const Labelled<Counts> one[] = {{"", counts}};
    metric_rows(p, rows, std::span<const Labelled<Counts>>(one));
}

// A table's rows as the keys of the JSON object being written.
template <class Counts>
void json_rows(JsonWriter& w, std::span<const StatRow<Counts>> rows, const Counts& c) {
    for (const auto& row : rows)
        w.field(row.json, c.*row.field);
}

} // namespace ec::admin
