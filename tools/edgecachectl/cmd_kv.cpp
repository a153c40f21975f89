// kv get|put|del|list|import|export over the native /kv routes of the admin socket.
#include <cerrno>
#include <cstring>
#include <fstream>

#include "commands.hpp"
#include "json_util.hpp"
#include "util/base64.hpp"
#include "util/json_writer.hpp"
#include "util/percent.hpp"
#include "util/strings.hpp"

namespace ec::ctl {

namespace {

// The bulk write route takes at most 10,000 entries; the byte cap keeps each request well
// under the default max_body_size (100 MiB).
constexpr size_t kImportBatchEntries = 10000;
constexpr size_t kImportBatchBytes = 32u << 20;
// GETs sent back to back during an export before their responses are read.
constexpr size_t kExportPipeline = 64;

std::string ns_target(const std::string& ns) {
    if (ns.empty()) throw UsageError("kv", "the namespace must not be empty");
    std::string t = "/kv/";
    percent_encode(t, ns);
    return t;
}

std::string key_target(const std::string& ns, const std::string& key) {
    if (key.empty()) throw UsageError("kv", "the key must not be empty");
    std::string t = ns_target(ns) + "/";
    percent_encode(t, key);
    return t;
}

void need_words(const Context& ctx, size_t min, size_t max, const char* usage) {
    size_t n = ctx.args.words.size();
    if (n < min || n > max) throw UsageError("kv", std::string("usage: edgecachectl ") + usage);
}

void print_json(const std::string& body) {
    out(body);
    if (body.empty() || body.back() != '\n') out("\n");
}

// {key, value | base64 value, base64?, expiration?, metadata?} as wrangler's bulk format has it.
void write_entry(JsonWriter& w, std::string_view key, std::string_view value,
                 const std::string* expiration, const std::string* metadata_json) {
    w.begin_object().field("key", key);
    if (valid_utf8(value)) {
        w.field("value", value);
    } else {
        std::string b64;
        base64_encode(b64, value);
        w.field("value", b64).field("base64", true);
    }
    if (expiration) {
        if (auto e = parse_i64(*expiration)) w.field("expiration", *e);
    }
    if (metadata_json && !metadata_json->empty()) w.key("metadata").raw(*metadata_json);
    w.end_object();
}

int kv_get(Context& ctx) {
    allow_only(ctx.args, "kv", {});
    need_words(ctx, 4, 4, "kv get NS KEY");
    const std::string& key = ctx.args.words[3];
    if (!ctx.json) {
        // The value goes out as it arrives (it may be as large as max_value_size), exactly as
        // stored: what `kv get` is for. Only an error body is kept, and only its start.
        std::string error_body;
        Response r = ctx.client.request("GET", key_target(ctx.args.words[2], key), {}, {},
                                        [&](const Response& head, std::string_view piece) {
                                            if (head.status >= 200 && head.status < 300)
                                                out(piece);
                                            else if (error_body.size() < 64 * 1024)
                                                error_body.append(
                                                    piece.substr(0, 64 * 1024 - error_body.size()));
                                        });
        r.body = std::move(error_body);
        expect_success(r);
        return kOk;
    }
    Response r = ctx.client.request("GET", key_target(ctx.args.words[2], key));
    expect_success(r);
    std::string j;
    JsonWriter w(j);
    write_entry(w, key, r.body, r.header("X-KV-Expiration"), r.header("X-KV-Metadata"));
    print_json(j);
    return kOk;
}

int kv_put(Context& ctx) {
    allow_only(ctx.args, "kv", {"file", "ttl", "expiration", "metadata"});
    need_words(ctx, 4, 5, "kv put NS KEY [VALUE | --file F] [--ttl N] [--expiration T]");
    const auto& w = ctx.args.words;
    std::string value;
    if (w.size() == 5 && ctx.args.has("file"))
        throw UsageError("kv", "give the value or --file, not both");
    if (w.size() == 5)
        value = w[4];
    else if (auto f = ctx.args.get("file"))
        value = read_file(*f);
    else
        throw UsageError("kv", "give a VALUE or --file F ('-' for stdin)");
    std::string target = key_target(w[2], w[3]);
    if (ctx.args.has("ttl")) {
        target += "?expiration_ttl=" +
                  std::to_string(number_option(ctx.args, "kv", "ttl", 1, 1ull << 40, 0));
    } else if (ctx.args.has("expiration")) {
        target += "?expiration=" +
                  std::to_string(number_option(ctx.args, "kv", "expiration", 1, 1ull << 40, 0));
    }
    Headers headers = {{"Content-Type", "application/octet-stream"}};
    if (auto m = ctx.args.get("metadata")) {
        simdjson::dom::parser parser;
        Json doc;
        if (parser.parse(m->data(), m->size(), true).get(doc) != simdjson::SUCCESS)
            throw UsageError("kv", "--metadata must be JSON (got '" + *m + "')");
        headers.emplace_back("X-KV-Metadata", minify(doc));
    }
    Response r = ctx.client.request("PUT", target, value, headers);
    expect_success(r);
    if (ctx.json) print_json(r.body);
    return kOk;
}

int kv_del(Context& ctx) {
    allow_only(ctx.args, "kv", {});
    need_words(ctx, 4, 4, "kv del NS KEY");
    Response r = ctx.client.request("DELETE", key_target(ctx.args.words[2], ctx.args.words[3]));
    expect_success(r);
    if (ctx.json) print_json(r.body);
    return kOk;
}

// Every key object ({"name","expiration"?,"metadata"?}, compact JSON) under `prefix`, following
// cursors until the end or until `limit` keys (0 = no limit). *cursor is left set when the
// listing stopped before its end.
std::vector<std::string> list_keys(Context& ctx, const std::string& ns, const std::string& prefix,
                                   uint64_t limit, std::string* cursor) {
    std::vector<std::string> keys;
    simdjson::dom::parser parser;
    cursor->clear();
    for (;;) {
        uint64_t page = 1000;
        if (limit) page = std::min<uint64_t>(page, limit - keys.size());
        std::string t = ns_target(ns) + "?limit=" + std::to_string(page);
        if (!prefix.empty()) {
            t += "&prefix=";
            percent_encode(t, prefix);
        }
        if (!cursor->empty()) {
            t += "&cursor=";
            percent_encode(t, *cursor);
        }
        Response r = ctx.client.request("GET", t);
        expect_success(r);
        Json doc = parse_json(parser, r.body, "kv list");
        simdjson::dom::array arr;
        if (auto k = at(doc, {"keys"}); !k || k->get(arr) != simdjson::SUCCESS)
            throw CliError(kError, "kv list: the response has no \"keys\" array");
        for (Json k : arr)
            keys.push_back(minify(k));
        bool complete = boolean(doc, {"list_complete"}, true);
        *cursor = complete ? "" : str(doc, {"cursor"});
        if (complete || cursor->empty()) {
            cursor->clear();
            return keys;
        }
        if (limit && keys.size() >= limit) return keys;
    }
}

int kv_list(Context& ctx) {
    allow_only(ctx.args, "kv", {"prefix", "limit"});
    need_words(ctx, 3, 3, "kv list NS [--prefix P] [--limit N]");
    uint64_t limit = number_option(ctx.args, "kv", "limit", 1, 1ull << 40, 0);
    std::string cursor;
    auto keys =
        list_keys(ctx, ctx.args.words[2], ctx.args.get("prefix").value_or(""), limit, &cursor);
    if (ctx.json) {
        std::string j = "{\"keys\":[";
        for (size_t i = 0; i < keys.size(); ++i)
            j += (i ? "," : "") + keys[i];
        j += "],\"list_complete\":";
        j += cursor.empty() ? "true" : "false";
        if (!cursor.empty()) {
            j += ",\"cursor\":";
            json_escape(j, cursor);
        }
        j += "}\n";
        out(j);
        return kOk;
    }
    simdjson::dom::parser parser;
    std::string names;
    for (const auto& k : keys) {
        names += printable(str(parse_json(parser, k, "kv list"), {"name"}));
        names += '\n';
    }
    out(names);
    return kOk;
}

int kv_import(Context& ctx) {
    allow_only(ctx.args, "kv", {});
    need_words(ctx, 4, 4, "kv import NS FILE");
    const std::string& ns = ctx.args.words[2];
    const std::string& file = ctx.args.words[3];
    std::string text = read_file(file);
    simdjson::dom::parser parser;
    Json doc = parse_json(parser, text, file.c_str());
    simdjson::dom::array arr;
    if (doc.get(arr) != simdjson::SUCCESS)
        throw CliError(kError, file + ": expected a JSON array of {key, value, ...} objects");
    std::vector<std::string> entries;
    entries.reserve(arr.size());
    for (Json e : arr) {
        if (!e.is_object())
            throw CliError(kError, file + ": entry " + std::to_string(entries.size()) +
                                       " is not an object");
        entries.push_back(minify(e));
    }
    const std::string target = ns_target(ns);
    size_t written = 0;
    simdjson::dom::parser rparser;
    for (size_t i = 0; i < entries.size();) {
        std::string body = "[";
        size_t first = i;
        while (i < entries.size() && i - first < kImportBatchEntries &&
               (i == first || body.size() + entries[i].size() + 2 <= kImportBatchBytes)) {
            if (i != first) body += ',';
            body += entries[i++];
        }
        body += ']';
        Response r = ctx.client.request("PUT", target, body);
        if (r.status < 200 || r.status >= 300) {
            std::string msg = error_message(r);
            Json err;
            simdjson::dom::array problems;
            if (rparser.parse(r.body.data(), r.body.size(), true).get(err) == simdjson::SUCCESS) {
                if (auto p = at(err, {"error", "entries"});
                    p && p->get(problems) == simdjson::SUCCESS) {
                    size_t shown = 0;
                    for (Json pb : problems) {
                        if (++shown > 10) {
                            msg += "\n  ... and " + std::to_string(problems.size() - 10) + " more";
                            break;
                        }
                        msg += "\n  entry " +
                               std::to_string(first + static_cast<size_t>(num(pb, {"index"}))) +
                               " (" + str(pb, {"key"}) + "): " + str(pb, {"message"});
                    }
                }
            }
            if (written)
                msg += "\n" + std::to_string(written) + " entries before entry " +
                       std::to_string(first) + " were imported";
            throw CliError(r.status == 404 ? kNotFound : kError, msg);
        }
        written += i - first;
    }
    if (ctx.json) {
        std::string j;
        JsonWriter(j).begin_object().field("success", true).field("written", written).end_object();
        print_json(j);
    } else {
        out("imported " + fmt_count(static_cast<double>(written)) +
            (written == 1 ? " key" : " keys") + " into " + ns + "\n");
    }
    return kOk;
}

int kv_export(Context& ctx) {
    allow_only(ctx.args, "kv", {"prefix"});
    need_words(ctx, 3, 4, "kv export NS [FILE]");
    const std::string& ns = ctx.args.words[2];
    std::string file = ctx.args.words.size() == 4 ? ctx.args.words[3] : "-";
    std::string cursor;
    auto keys = list_keys(ctx, ns, ctx.args.get("prefix").value_or(""), 0, &cursor);

    simdjson::dom::parser parser;
    std::string doc = "[";
    size_t exported = 0;
    for (size_t i = 0; i < keys.size(); i += kExportPipeline) {
        size_t end = std::min(keys.size(), i + kExportPipeline);
        std::vector<std::string> names, expirations, metadata;
        std::vector<bool> has_expiration;
        for (size_t j = i; j < end; ++j) {
            Json k = parse_json(parser, keys[j], "kv list");
            names.push_back(str(k, {"name"}));
            auto e = at(k, {"expiration"});
            has_expiration.push_back(e && is_number(*e));
            expirations.push_back(e && is_number(*e) ? minify(*e) : "");
            auto m = at(k, {"metadata"});
            metadata.push_back(m && !m->is_null() ? minify(*m) : "");
        }
        for (const auto& n : names)
            ctx.client.send("GET", key_target(ns, n));
        for (size_t j = 0; j < names.size(); ++j) {
            Response r = ctx.client.receive();
            if (r.status == 404) continue; // expired or deleted since the listing
            expect_success(r);
            std::string entry;
            JsonWriter w(entry);
            write_entry(w, names[j], r.body, has_expiration[j] ? &expirations[j] : nullptr,
                        &metadata[j]);
            doc += exported++ ? ",\n" : "\n";
            doc += entry;
        }
    }
    doc += exported ? "\n]\n" : "]\n";
    if (file == "-") {
        out(doc);
        return kOk;
    }
    std::ofstream f(file, std::ios::binary | std::ios::trunc);
    if (!f) throw CliError(kError, "cannot write " + file + ": " + std::strerror(errno));
    f.write(doc.data(), static_cast<std::streamsize>(doc.size()));
    f.close();
    if (!f) throw CliError(kError, "cannot write " + file + ": " + std::strerror(errno));
    if (ctx.json) {
        std::string j;
        JsonWriter(j).begin_object().field("exported", exported).field("file", file).end_object();
        print_json(j);
    } else {
        out("exported " + fmt_count(static_cast<double>(exported)) +
            (exported == 1 ? " key" : " keys") + " from " + ns + " to " + file + "\n");
    }
    return kOk;
}

} // namespace

int cmd_kv(Context& ctx) {
    const auto& w = ctx.args.words;
    if (w.size() < 2)
        throw UsageError("kv", "kv needs a verb: get, put, del, list, import, export");
    const std::string& verb = w[1];
    if (verb == "get") return kv_get(ctx);
    if (verb == "put") return kv_put(ctx);
    if (verb == "del" || verb == "delete") return kv_del(ctx);
    if (verb == "list") return kv_list(ctx);
    if (verb == "import") return kv_import(ctx);
    if (verb == "export") return kv_export(ctx);
    throw UsageError("kv", "unknown kv verb '" + verb + "'");
}

} // namespace ec::ctl
