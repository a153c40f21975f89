// origin list|sick|healthy|drain|auto: origin servers' health and the operator's override.
#include "commands.hpp"
#include "json_util.hpp"
#include "util/json_writer.hpp"

namespace ec::ctl {

namespace {

// One line per server: "app  127.0.0.1:9000  up  auto  open 2 idle 1  requests 40  failures 0"
std::string server_lines(Json origin) {
    std::string name = printable(str(origin, {"name"}));
    std::string s;
    simdjson::dom::array servers;
    if (auto v = at(origin, {"servers"}); !v || v->get(servers) != simdjson::SUCCESS) return s;
    for (Json sv : servers) {
        std::string admin = str(sv, {"admin"}, "auto");
        bool up = boolean(sv, {"up"});
        std::string state = admin == "drain" ? "draining" : up ? "up" : "down";
        s += name + "  " + printable(str(sv, {"server"})) + "  " + state;
        if (admin != "auto") s += " (set " + admin + ")";
        s += "  open " + fmt_count(num(sv, {"open"})) + " idle " + fmt_count(num(sv, {"idle"}));
        s += "  requests " + fmt_count(num(sv, {"requests"}));
        s += "  failures " + fmt_count(num(sv, {"failures"}));
        std::string err = str(sv, {"last_error"});
        if (!err.empty()) s += "  last error: " + printable(err);
        s += "\n";
    }
    return s;
}

} // namespace

int cmd_origin(Context& ctx) {
    allow_only(ctx.args, "origin", {"server"});
    const auto& w = ctx.args.words;
    if (w.size() < 2)
        throw UsageError("origin", "origin needs a verb: list, sick, healthy, drain or auto");
    const std::string& verb = w[1];
    simdjson::dom::parser parser;
    if (verb == "list") {
        if (w.size() != 2) throw UsageError("origin", "origin list takes no arguments");
        Response r = ctx.client.request("GET", "/admin/origins");
        expect_success(r);
        if (ctx.json) {
            out(r.body);
            if (r.body.empty() || r.body.back() != '\n') out("\n");
            return kOk;
        }
        Json doc = parse_json(parser, r.body, "/admin/origins");
        simdjson::dom::array origins;
        if (auto v = at(doc, {"origins"}); !v || v->get(origins) != simdjson::SUCCESS)
            throw CliError(kError, "/admin/origins: no \"origins\" array in the answer");
        if (origins.size() == 0) out("no origins configured\n");
        for (Json o : origins)
            out(server_lines(o));
        return kOk;
    }
    std::string health = verb;
    if (verb != "sick" && verb != "healthy" && verb != "drain" && verb != "auto")
        throw UsageError("origin", "unknown verb '" + verb +
                                       "' (expected list, sick, healthy, drain or auto)");
    if (w.size() != 3) throw UsageError("origin", "origin " + verb + " takes one origin NAME");
    std::string body;
    JsonWriter jw(body);
    jw.begin_object().field("origin", w[2]).field("health", health);
    if (auto server = ctx.args.get("server")) jw.field("server", *server);
    jw.end_object();
    Response r = ctx.client.request("POST", "/admin/origins/health", body);
    expect_success(r);
    if (ctx.json) {
        out(r.body);
        if (r.body.empty() || r.body.back() != '\n') out("\n");
        return kOk;
    }
    out(server_lines(parse_json(parser, r.body, "/admin/origins/health")));
    return kOk;
}

} // namespace ec::ctl
