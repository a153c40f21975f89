// fleet status: the fleet this node belongs to, as GET /admin/fleet reports it.
#include "cli_error.hpp"
#include "commands.hpp"
#include "json_util.hpp"

namespace ec::ctl {

int cmd_fleet(Context& ctx) {
    allow_only(ctx.args, "fleet", {});
    if (ctx.args.words.size() != 2 || ctx.args.words[1] != "status")
        throw UsageError("fleet", "say what: fleet status");
    Response r = ctx.client.request("GET", "/admin/fleet");
    expect_success(r);
    if (ctx.json) {
        out(!r.body.empty() && r.body.back() == '\n' ? r.body : r.body + "\n");
        return kOk;
    }
    simdjson::dom::parser parser;
    Json doc = parse_json(parser, r.body, "/admin/fleet");
    if (!boolean(doc, {"enabled"})) {
        out("not in a fleet: this node has no \"fleet\" configuration\n");
        return kOk;
    }
    std::string s = "node        " + str(doc, {"node"}) + "\n";
    if (boolean(doc, {"connected"}))
        s += "connected   " + str(doc, {"server"}) +
             (boolean(doc, {"ready"}) ? "" : " (not ready: " + str(doc, {"reason"}) + ")") + "\n";
    else
        s += "connected   no: " + str(doc, {"reason"}) + "\n";
    s += "kv stream   applied up to " + fmt_count(num(doc, {"kv", "applied_seq"})) + ", lag " +
         fmt_count(num(doc, {"kv", "lag_messages"})) + " message(s) / " +
         fmt_duration(num(doc, {"kv", "lag_seconds"})) + ", " +
         fmt_count(num(doc, {"kv", "applied_total"})) + " applied since start" +
         (boolean(doc, {"kv", "resyncing"}) ? ", resynchronising" : "") + "\n";
    s += "nodes       " +
         (at(doc, {"nodes_known"}) ? fmt_count(num(doc, {"nodes_known"})) : std::string("?")) +
         " known to the purge stream\n";
    s += "purges      " + fmt_count(num(doc, {"purges", "pending"})) + " pending here, " +
         fmt_count(num(doc, {"purges", "applied_total"})) + " from other nodes applied\n";
    s += "writes      " + fmt_count(num(doc, {"writes", "ok"})) + " ok, " +
         fmt_count(num(doc, {"writes", "failed"})) + " failed\n";
    out(s);
    return kOk;
}

} // namespace ec::ctl
