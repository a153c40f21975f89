// reload, backup and config: the daemon's process-level admin routes.
#include <cstdio>
#include <filesystem>
#include <vector>

#include "commands.hpp"
#include "json_util.hpp"
#include "util/json_writer.hpp"

namespace ec::ctl {

namespace {

void print_json(const std::string& body) {
    out(body);
    if (body.empty() || body.back() != '\n') out("\n");
}

void no_operands(const Context& ctx, const char* command) {
    allow_only(ctx.args, command, {});
    if (ctx.args.words.size() > 1)
        throw UsageError(command, std::string(command) + " takes no arguments");
}

} // namespace

int cmd_reload(Context& ctx) {
    allow_only(ctx.args, "reload", {"allow-pending"});
    if (ctx.args.words.size() > 1) throw UsageError("reload", "reload takes no arguments");
    Response r = ctx.client.request("POST", "/admin/reload");
    if (r.status < 200 || r.status >= 300) {
        // The reason the new config was refused; the old one keeps running.
        throw CliError(r.status == 404 ? kNotFound : kError, "reload failed: " + error_message(r));
    }
    simdjson::dom::parser parser;
    Json doc = parse_json(parser, r.body, "/admin/reload");
    // Restart-only options that changed in the file: the running values stay until a restart,
    // so the file and the daemon disagree; that is an error unless the caller expects it.
    std::vector<std::string> pending;
    simdjson::dom::array list;
    if (auto p = at(doc, {"pending_restart"}); p && p->get(list) == simdjson::SUCCESS)
        for (Json name : list)
            pending.push_back(scalar_text(name));
    const bool pending_fails = !pending.empty() && !ctx.args.has("allow-pending");
    if (ctx.json) {
        print_json(r.body);
        return pending_fails ? kError : kOk;
    }
    std::string s;
    simdjson::dom::array changes;
    if (auto c = at(doc, {"changes"}); !c || c->get(changes) != simdjson::SUCCESS) {
        s = "reloaded\n";
    } else if (changes.size() == 0) {
        s = "reloaded (no changes)\n";
    } else {
        s = "reloaded, " + std::to_string(changes.size()) +
            (changes.size() == 1 ? " change:\n" : " changes:\n");
        for (Json c : changes)
            s += "  " + scalar_text(c) + "\n";
    }
    out(s);
    if (pending.empty()) return kOk;
    std::string names;
    for (const std::string& n : pending)
        names += (names.empty() ? "" : ", ") + n;
    if (!pending_fails) {
        out("pending restart: " + names + " (the running values stay until a restart)\n");
        return kOk;
    }
    std::fflush(stdout);
    throw CliError(kError, "pending restart: " + names +
                               " changed but only a restart applies them (the running values "
                               "stay); restart edgecached, or pass --allow-pending");
}

int cmd_backup(Context& ctx) {
    allow_only(ctx.args, "backup", {});
    if (ctx.args.words.size() != 2) throw UsageError("backup", "backup takes one DIR");
    // The daemon resolves paths from its own working directory: send an absolute one.
    std::error_code ec;
    std::filesystem::path dir = std::filesystem::absolute(ctx.args.words[1], ec);
    if (ec) throw CliError(kError, "cannot resolve " + ctx.args.words[1] + ": " + ec.message());
    std::string path = dir.lexically_normal().string();
    if (path.size() > 1 && path.back() == '/') path.pop_back();
    if (std::filesystem::exists(path, ec))
        throw CliError(kError, path + " already exists (a backup goes into a new directory)");
    std::string body;
    JsonWriter(body).begin_object().field("path", path).end_object();
    Response r = ctx.client.request("POST", "/admin/backup", body);
    expect_success(r);
    if (ctx.json) {
        print_json(r.body);
        return kOk;
    }
    simdjson::dom::parser parser;
    Json doc = parse_json(parser, r.body, "/admin/backup");
    std::string s = "backup written to " + str(doc, {"path"}, path);
    std::string details;
    if (auto b = at(doc, {"bytes"}); b && is_number(*b)) details = fmt_bytes(as_number(*b));
    for (const char* k : {"ms", "duration_ms"})
        if (auto v = at(doc, {k}); v && is_number(*v))
            details += (details.empty() ? "" : ", ") + fmt_count(as_number(*v)) + " ms";
    out(s + (details.empty() ? "" : " (" + details + ")") + "\n");
    return kOk;
}

int cmd_config(Context& ctx) {
    no_operands(ctx, "config");
    Response r = ctx.client.request("GET", "/admin/config");
    expect_success(r);
    if (ctx.json) {
        print_json(r.body);
        return kOk;
    }
    simdjson::dom::parser parser;
    out(pretty(parse_json(parser, r.body, "/admin/config")));
    return kOk;
}

} // namespace ec::ctl
