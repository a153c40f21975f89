// Help text, example config, Markdown reference and effective-config JSON, all from the tables.
#include "config/docs.hpp"

#include <simdjson.h>

#include "build_config.hpp"
#include "config/cli.hpp"
#include "config/options.hpp"
#include "util/json_writer.hpp"
#include "util/units.hpp"

namespace ec::config {

namespace {

// The i-th '|'-separated choice.
std::string_view choice_at(std::string_view choices, size_t i) {
    size_t start = 0;
    while (i-- > 0)
        start = choices.find('|', start) + 1;
    return choices.substr(start, choices.find('|', start) - start);
}

template <class T> void write_value(JsonWriter& w, const Option<T>& o, const T& v, bool mask);

template <class T> void write_object(JsonWriter& w, std::span<const Option<T>> table, const T& v);

void write_listen_tls(JsonWriter& w, const ListenTls& tls) {
    if (tls.certificates.empty())
        w.null();
    else
        write_object(w, tls_listen_options(), tls);
}

void write_listen(JsonWriter& w, const ListenSpec& l) {
    bool plain = l.kv_backend.empty() && l.serve_kv && l.serve_proxy && l.serve_health &&
                 !l.serve_metrics && l.tls.certificates.empty();
    if (plain) {
        w.value(l.address);
        return;
    }
    w.begin_object().field("address", l.address);
    if (!l.kv_backend.empty()) {
        w.field("kv_backend", l.kv_backend);
    } else {
        w.key("serve").begin_array();
        if (l.serve_kv) w.value("kv");
        if (l.serve_proxy) w.value("proxy");
        if (l.serve_health) w.value("health");
        if (l.serve_metrics) w.value("metrics");
        w.end_array();
    }
    if (!l.tls.certificates.empty()) {
        w.key("tls");
        write_listen_tls(w, l.tls);
    }
    w.end_object();
}

template <class T> void write_object(JsonWriter& w, std::span<const Option<T>> table, const T& v) {
    w.begin_object();
    for (const auto& o : table) {
        if constexpr (std::is_same_v<T, OriginSpec>) {
            // An origin is written the way it was given: its url, or its servers.
            if (o.type == Type::url && v.url.empty()) continue;
            if (o.type == Type::servers && !v.url.empty()) continue;
        }
        w.key(o.name);
        write_value(w, o, v, false);
    }
    w.end_object();
}

template <class T> void write_value(JsonWriter& w, const Option<T>& o, const T& v, bool mask) {
    switch (o.type) {
    case Type::boolean:
        w.value(v.*std::get<bool T::*>(o.field));
        return;
    case Type::integer:
    case Type::duration: {
        int64_t n = 0;
        if (auto m = std::get_if<int64_t T::*>(&o.field))
            n = v.*(*m);
        else
            n = v.*std::get<uint32_t T::*>(o.field);
        if (o.nullable && n < 0)
            w.null();
        else
            w.value(n);
        return;
    }
    case Type::size:
        w.value(format_size(v.*std::get<uint64_t T::*>(o.field)));
        return;
    case Type::string: {
        const std::string& s = v.*std::get<std::string T::*>(o.field);
        if (o.nullable && s.empty())
            w.null();
        else if (o.secret && mask)
            w.value("***");
        else
            w.value(s);
        return;
    }
    case Type::enumeration: {
        if (auto s = std::get_if<std::string T::*>(&o.field))
            w.value(v.*(*s));
        else if (auto d = std::get_if<Durability T::*>(&o.field))
            w.value(choice_at(o.choices, static_cast<size_t>(v.*(*d))));
        else
            w.value(
                choice_at(o.choices, static_cast<size_t>(v.*std::get<WriteMode T::*>(o.field))));
        return;
    }
    case Type::string_list:
    case Type::servers:
        w.begin_array();
        for (const auto& s : v.*std::get<std::vector<std::string> T::*>(o.field))
            w.value(s);
        w.end_array();
        return;
    case Type::url:
        if constexpr (std::is_same_v<T, OriginSpec>) w.value(v.url);
        return;
    case Type::listen:
        w.begin_array();
        for (const auto& l : v.*std::get<std::vector<ListenSpec> T::*>(o.field))
            write_listen(w, l);
        w.end_array();
        return;
    case Type::origins:
        w.begin_object();
        for (const auto& [name, origin] :
             v.*std::get<std::map<std::string, OriginSpec> T::*>(o.field)) {
            w.key(name);
            write_object(w, origin_options(), origin);
        }
        w.end_object();
        return;
    case Type::routes:
        w.begin_array();
        for (const auto& r : v.*std::get<std::vector<RouteSpec> T::*>(o.field))
            write_object(w, route_options(), r);
        w.end_array();
        return;
    case Type::status_map:
        w.begin_object();
        for (const auto& [status, secs] : v.*std::get<std::map<int, int64_t> T::*>(o.field))
            w.field(std::to_string(status), secs);
        w.end_object();
        return;
    case Type::origin_tls: {
        const OriginTls& tls = v.*std::get<OriginTls T::*>(o.field);
        bool by_url = false;
        if constexpr (std::is_same_v<T, OriginSpec>)
            by_url = v.url.size() > 5 && (v.url[4] == 's' || v.url[4] == 'S');
        // An https:// url with default settings is written as given: without a tls object.
        OriginTls plain = origin_tls_defaults();
        plain.enabled = true;
        if (!tls.enabled || (by_url && tls == plain))
            w.null();
        else
            write_object(w, tls_origin_options(), tls);
        return;
    }
    case Type::listen_tls:
        write_listen_tls(w, v.*std::get<ListenTls T::*>(o.field));
        return;
    case Type::certificates:
        w.begin_array();
        for (const auto& c : v.*std::get<std::vector<CertificateSpec> T::*>(o.field))
            write_object(w, tls_certificate_options(), c);
        w.end_array();
        return;
    case Type::fleet: {
        const FleetSpec& f = v.*std::get<FleetSpec T::*>(o.field);
        if (!f.enabled) {
            w.null();
            return;
        }
        w.begin_object();
        for (const auto& fo : fleet_options()) {
            w.key(fo.name);
            write_value(w, fo, f, mask);
        }
        w.end_object();
        return;
    }
    }
}

std::string config_json(const Config& cfg, bool mask) {
    std::string out;
    JsonWriter w(out);
    w.begin_object();
    for (const auto& o : config_options()) {
        w.key(o.name);
        write_value(w, o, cfg, mask);
    }
    w.end_object();
    return out;
}

bool is_scalar(simdjson::dom::element v) {
    return !v.is_array() && !v.is_object();
}

// Pretty-prints with two-space indents; arrays of scalars stay on one line.
void pretty(simdjson::dom::element v, std::string& out, size_t indent) {
    std::string pad(indent + 2, ' ');
    if (v.is_array()) {
        simdjson::dom::array arr = v.get_array().value_unsafe();
        bool inline_ok = true;
        for (auto e : arr)
            inline_ok = inline_ok && is_scalar(e);
        if (arr.size() == 0 || inline_ok) {
            out += '[';
            bool first = true;
            for (auto e : arr) {
                if (!first) out += ", ";
                first = false;
                pretty(e, out, indent);
            }
            out += ']';
            return;
        }
        out += "[\n";
        bool first = true;
        for (auto e : arr) {
            if (!first) out += ",\n";
            first = false;
            out += pad;
            pretty(e, out, indent + 2);
        }
        out += "\n" + std::string(indent, ' ') + "]";
    } else if (v.is_object()) {
        simdjson::dom::object obj = v.get_object().value_unsafe();
        if (obj.size() == 0) {
            out += "{}";
            return;
        }
        out += "{\n";
        bool first = true;
        for (auto field : obj) {
            if (!first) out += ",\n";
            first = false;
            out += pad;
            json_escape(out, field.key);
            out += ": ";
            pretty(field.value, out, indent + 2);
        }
        out += "\n" + std::string(indent, ' ') + "}";
    } else if (v.is_string()) {
        json_escape(out, v.get_string().value_unsafe());
    } else {
        out += simdjson::minify(v);
    }
}

std::string pretty_json(const std::string& compact) {
    simdjson::dom::parser parser;
    simdjson::padded_string padded(compact);
    std::string out;
    pretty(parser.parse(padded).value(), out, 0);
    out += '\n';
    return out;
}

// "1..60", "1MiB..64TiB"; empty for unbounded types.
template <class T> std::string bounds(const Option<T>& o) {
    if (o.type == Type::size) return format_size(o.min) + ".." + format_size(o.max);
    if (o.type == Type::integer || o.type == Type::duration)
        return std::to_string(o.min) + ".." + std::to_string(o.max);
    return "";
}

template <class T> std::string type_cell(const Option<T>& o) {
    std::string t = type_name(o.type, o.choices, o.nullable);
    std::string b = bounds(o);
    if (!b.empty()) t += ", " + b;
    return t;
}

template <class T> std::string default_cell(const Option<T>& o) {
    if (o.required) return "required";
    if (o.default_json.empty()) return "";
    return std::string(o.default_json);
}

// Appends `text` wrapped at 100 columns, each line indented by `indent` spaces.
void wrap(std::string& out, std::string_view text, size_t indent) {
    size_t col = 0;
    while (!text.empty()) {
        size_t sp = text.find(' ');
        std::string_view word = text.substr(0, sp);
        text = sp == std::string_view::npos ? std::string_view() : text.substr(sp + 1);
        if (col > 0 && col + 1 + word.size() > 100) {
            out += '\n';
            col = 0;
        }
        if (col == 0) {
            out.append(indent, ' ');
            col = indent;
        } else {
            out += ' ';
            ++col;
        }
        out += word;
        col += word.size();
    }
    out += '\n';
}

template <class T> void help_option(std::string& out, const Option<T>& o) {
    std::string head = "  " + std::string(o.name) + "  (" + type_cell(o);
    std::string d = default_cell(o);
    if (!d.empty()) head += d == "required" ? "; required" : "; default " + d;
    if (!o.reloadable) head += "; restart to change";
    head += ")\n";
    out += head;
    wrap(out, o.doc, 6);
}

// Escapes what Markdown would act on in a table cell: "|" ends the cell, "*" starts emphasis and
// "<data_dir>" would be taken for an HTML tag. Code spans (`in_code`) need only the pipe escaped.
std::string md_escape(std::string_view s, bool in_code = false) {
    std::string r;
    for (char c : s) {
        if (c == '|' || (c == '*' && !in_code)) r += '\\';
        if (c == '<' && !in_code)
            r += "&lt;";
        else
            r += c;
    }
    return r;
}

template <class T> void md_row(std::string& out, std::string_view name, const Option<T>& o) {
    std::string d = default_cell(o);
    out += "| `" + md_escape(name, true) + "` | " + md_escape(type_cell(o)) + " | " +
           (d.empty()         ? std::string("—")
            : d == "required" ? d
                              : "`" + md_escape(d, true) + "`") +
           " | " + (o.reloadable ? "yes" : "no") + " | " + md_escape(o.doc) + " |\n";
}

} // namespace

std::string help_text() {
    std::string out = "Usage: edgecached [FLAGS]\n\n"
                      "edgecached " EC_VERSION ": an edge cache daemon (caching reverse proxy and "
                      "Workers-KV-style key-value store).\n\nFlags:\n";
    for (const Flag& f : flags()) {
        std::string head = "  " + std::string(f.name);
        if (!f.metavar.empty()) head += " " + std::string(f.metavar);
        if (head.size() < 24)
            head.append(24 - head.size(), ' ');
        else
            head += "\n" + std::string(24, ' ');
        out += head;
        std::string body;
        wrap(body, f.doc, 24);
        out += body.substr(24);
    }
    out += '\n';
    wrap(out,
         "Precedence: flag > config file > systemd environment ($STATE_DIRECTORY, "
         "$RUNTIME_DIRECTORY) > built-in default. Flags still win after a reload (SIGHUP).",
         0);
    out += "\nConfig file options (JSON; sizes take bytes or strings like \"4GiB\"):\n";
    std::string_view group;
    for (const auto& o : config_options()) {
        if (o.group != group) {
            group = o.group;
            out += "\n" + std::string(group) + ":\n";
        }
        help_option(out, o);
    }
    out += "\nOrigin keys (origins.<name>.KEY; give url or servers):\n";
    for (const auto& o : origin_options())
        help_option(out, o);
    out += "\nRoute keys (routes[].KEY):\n";
    for (const auto& o : route_options())
        help_option(out, o);
    out += "\nTLS keys of an origin (origins.<name>.tls.KEY):\n";
    for (const auto& o : tls_origin_options())
        help_option(out, o);
    out += "\nTLS keys of a listener (listen[].tls.KEY, admin_tls.KEY):\n";
    for (const auto& o : tls_listen_options())
        help_option(out, o);
    out += "\nKeys of each certificate (listen[].tls.certificates[].KEY):\n";
    for (const auto& o : tls_certificate_options())
        help_option(out, o);
    out += "\nFleet keys (fleet.KEY):\n";
    for (const auto& o : fleet_options())
        help_option(out, o);
    return out;
}

std::string default_config_json() {
    return "// edgecached's built-in default, as installed: the daemon behaves the same without\n"
           "// this file. edgecached.example.json beside it documents every option and shows an\n"
           "// origin and a route. Comments (// and /* */) are allowed.\n" +
           pretty_json(config_json(defaults(), false));
}

namespace {

// The doc of the option named `name` in `table` as "// ..." lines at `indent`; "" if none.
template <class T>
std::string doc_comment(std::span<const Option<T>> table, std::string_view name, size_t indent) {
    for (const auto& o : table) {
        if (o.name != name) continue;
        std::string text = std::string(o.doc);
        if (!o.reloadable) text += " Restart to change (a reload keeps the running value).";
        // Wrapped at 100 columns as if indented by indent + 3, then "// " put in those 3.
        std::string out;
        wrap(out, text, indent + 3);
        for (size_t at = 0; at < out.size(); at = out.find('\n', at) + 1)
            out.replace(at + indent, 3, "// ");
        return out;
    }
    return "";
}

} // namespace

std::string commented_example_config() {
    // The example document, then a comment above each key from the tables' docs.
    std::string json = example_config_json();
    std::string out =
        "// edgecached configuration: an example to copy from, not read by the daemon. Every\n"
        "// option is at its default, except one origin (\"app\") and one route (\"api\") sending\n"
        "// /api/ to 127.0.0.1:8080. The file edgecached reads is edgecached.json beside this "
        "one.\n"
        "// Check a file with: edgecached --config FILE --check-config\n";
    std::string_view section;
    size_t pos = 0;
    while (pos < json.size()) {
        size_t nl = json.find('\n', pos);
        std::string_view line(json.data() + pos, nl - pos);
        pos = nl + 1;
        size_t indent = line.find_first_not_of(' ');
        if (indent != std::string_view::npos && line[indent] == '"') {
            size_t end = line.find('"', indent + 1);
            std::string_view key = line.substr(indent + 1, end - indent - 1);
            if (indent == 2) {
                section = key;
                out += "\n" + doc_comment(config_options(), key, 2);
            } else if (indent == 6 && section == "origins") {
                out += doc_comment(origin_options(), key, 6);
            } else if (indent == 6 && section == "routes") {
                out += doc_comment(route_options(), key, 6);
            }
        }
        out.append(line);
        out += '\n';
    }
    return out;
}

std::string example_config_json() {
    Config ex = defaults();
    OriginSpec origin = origin_defaults();
    origin.name = "app";
    origin.url = "http://127.0.0.1:8080";
    origin.servers = {"127.0.0.1:8080"};
    ex.origins = {{"app", origin}};
    RouteSpec route = route_defaults();
    route.name = "api";
    route.prefix = "/api/";
    route.origin = "app";
    route.ttl_by_status = {{404, 30}};
    route.ignore_query_params = {"utm_*"};
    ex.routes = {route};
    return pretty_json(config_json(ex, false));
}

std::string reference_markdown() {
    std::string out = "| option | type | default | reloadable | description |\n"
                      "|---|---|---|---|---|\n";
    for (const auto& o : config_options())
        md_row(out, o.name, o);
    for (const auto& o : origin_options())
        md_row(out, "origins.<name>." + std::string(o.name), o);
    for (const auto& o : route_options())
        md_row(out, "routes[]." + std::string(o.name), o);
    for (const auto& o : tls_origin_options())
        md_row(out, "origins.<name>.tls." + std::string(o.name), o);
    for (const auto& o : tls_listen_options())
        md_row(out, "listen[].tls." + std::string(o.name), o);
    for (const auto& o : tls_certificate_options())
        md_row(out, "listen[].tls.certificates[]." + std::string(o.name), o);
    for (const auto& o : fleet_options())
        md_row(out, "fleet." + std::string(o.name), o);
    return out;
}

std::string to_json(const Config& cfg) {
    return config_json(cfg, true);
}

std::string to_pretty_json(const Config& cfg) {
    return pretty_json(to_json(cfg));
}

std::string roff_escape(std::string_view text) {
    std::string out;
    bool line_start = true;
    for (char c : text) {
        if (line_start && (c == '.' || c == '\'')) out += "\\&";
        if (c == '\\')
            out += "\\e";
        else if (c == '-')
            out += "\\-";
        else
            out += c;
        line_start = c == '\n';
    }
    return out;
}

namespace {

std::string man_header(std::string_view name, int section, std::string_view title) {
    return ".TH " + std::string(name) + " " + std::to_string(section) + " \"\" \"edgecached " +
           EC_VERSION + "\" \"" + std::string(title) + "\"\n";
}

template <class T> void man_option(std::string& out, std::string_view name, const Option<T>& o) {
    out += ".TP\n\\fB" + roff_escape(name) + "\\fR (" + roff_escape(type_cell(o));
    std::string d = default_cell(o);
    if (!d.empty()) out += d == "required" ? "; required" : "; default " + roff_escape(d);
    if (!o.reloadable) out += "; restart to change";
    out += ")\n" + roff_escape(o.doc) + "\n";
}

} // namespace

std::string man_daemon() {
    std::string out = man_header("EDGECACHED", 8, "System Administration");
    out += ".SH NAME\nedgecached \\- edge cache daemon: caching reverse proxy and key\\-value "
           "store\n.SH SYNOPSIS\n.B edgecached\n[\\fIFLAGS\\fR]\n.SH DESCRIPTION\n"
           "edgecached serves a Workers\\-KV\\-style key\\-value API and caches origin responses "
           "(RFC 9111) in an LMDB environment with an in\\-memory hot tier. It is administered "
           "with \\fBedgecachectl\\fR(8) over a Unix socket; its configuration file is described "
           "in \\fBedgecached.json\\fR(5).\n.PP\n"
           "Precedence: flag > config file > systemd environment > built\\-in default. Flags "
           "still win after a reload.\n.SH OPTIONS\n";
    for (const Flag& f : flags()) {
        out += ".TP\n\\fB" + roff_escape(f.name) + "\\fR";
        if (!f.metavar.empty()) out += " \\fI" + roff_escape(f.metavar) + "\\fR";
        out += "\n" + roff_escape(f.doc) + "\n";
    }
    out += ".SH SIGNALS\n"
           ".TP\n\\fBSIGHUP\\fR\nRe\\-read the configuration file; an invalid one is refused "
           "and the running configuration stays (\\fBedgecachectl reload\\fR reports the "
           "result).\n"
           ".TP\n\\fBSIGUSR1\\fR\nReopen the access log (after rotation).\n"
           ".TP\n\\fBSIGTERM\\fR, \\fBSIGINT\\fR\nStop accepting, finish in\\-flight requests "
           "for up to drain_timeout_ms, commit and exit; a second signal closes what is left.\n"
           ".SH ENVIRONMENT\n"
           ".TP\n\\fBSTATE_DIRECTORY\\fR, \\fBRUNTIME_DIRECTORY\\fR\nSet by systemd: the "
           "default data directory and the directory of the admin socket.\n"
           ".TP\n\\fBJOURNAL_STREAM\\fR\nWhen it names standard error, every log line starts "
           "with its syslog priority (<3> error ... <7> debug) for journald.\n"
           ".TP\n\\fBNOTIFY_SOCKET\\fR, \\fBLISTEN_FDS\\fR\nsd_notify readiness and socket "
           "activation.\n"
           ".SH FILES\n"
           ".TP\n/etc/edgecached/edgecached.json\nThe configuration file the systemd unit "
           "passes with \\-\\-config.\n"
           ".TP\n/var/lib/edgecached\nThe data directory (data_dir) under systemd.\n"
           ".TP\n/run/edgecached/admin.sock\nThe admin socket under systemd.\n"
           ".SH EXIT STATUS\n0 after a clean shutdown or a valid \\-\\-check\\-config; 1 on a "
           "configuration or start\\-up error; 2 on a usage error.\n"
           ".SH SEE ALSO\n\\fBedgecachectl\\fR(8), \\fBedgecached.json\\fR(5), "
           "\\fBsystemctl\\fR(1), \\fBjournalctl\\fR(1)\n";
    return out;
}

std::string man_config() {
    std::string out = man_header("EDGECACHED.JSON", 5, "File Formats");
    out += ".SH NAME\nedgecached.json \\- edgecached configuration file\n.SH SYNOPSIS\n"
           "/etc/edgecached/edgecached.json\n.SH DESCRIPTION\n"
           "A JSON object; every key is optional and takes its default when absent. Sizes take "
           "bytes or strings like \"4GiB\"; durations are milliseconds. "
           "\\fBedgecached \\-\\-print\\-config\\fR prints the effective configuration with "
           "every default filled in; \\fBedgecached \\-\\-check\\-config\\fR validates a file. "
           "Options marked \"restart to change\" are not applied by a reload.\n";
    std::string_view group;
    for (const auto& o : config_options()) {
        if (o.group != group) {
            group = o.group;
            out += ".SH " + roff_escape(group) + "\n";
        }
        man_option(out, o.name, o);
    }
    out += ".SH ORIGIN KEYS\nEach value under \\fBorigins\\fR is an object with these keys "
           "(give url or servers).\n";
    for (const auto& o : origin_options())
        man_option(out, "origins.<name>." + std::string(o.name), o);
    out += ".SH ROUTE KEYS\nEach element of \\fBroutes\\fR is an object with these keys; the "
           "longest matching prefix wins.\n";
    for (const auto& o : route_options())
        man_option(out, "routes[]." + std::string(o.name), o);
    out += ".SH TLS KEYS\nAn origin's \\fBtls\\fR object, a listener's (or admin_tls's) "
           "\\fBtls\\fR object and each of its certificates take these keys.\n";
    for (const auto& o : tls_origin_options())
        man_option(out, "origins.<name>.tls." + std::string(o.name), o);
    for (const auto& o : tls_listen_options())
        man_option(out, "listen[].tls." + std::string(o.name), o);
    for (const auto& o : tls_certificate_options())
        man_option(out, "listen[].tls.certificates[]." + std::string(o.name), o);
    out += ".SH FLEET KEYS\nThe \\fBfleet\\fR object shares KV and purges with other nodes "
           "through NATS JetStream.\n";
    for (const auto& o : fleet_options())
        man_option(out, "fleet." + std::string(o.name), o);
    out += ".SH SEE ALSO\n\\fBedgecached\\fR(8), \\fBedgecachectl\\fR(8)\n";
    return out;
}

} // namespace ec::config
