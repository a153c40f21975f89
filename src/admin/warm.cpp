// Warmer: cache warming through the daemon's own data-plane listener.
#include "admin/warm.hpp"

#include <simdjson.h>

#include "cache/freshness.hpp"
#include "config/options.hpp"
#include "origin/pool.hpp"
#include "util/json_writer.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"

namespace ec::admin {

namespace {

constexpr size_t kErrorBodyBytes = 4096;

// Why a fetch answered >= 400: the daemon's own error document says it ("origin_timeout: the
// origin did not answer in time"); anything else is the origin's answer, passed through.
template <class P> std::string failure_reason(const P& prog) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::string_view code, message;
    if (!parser.parse(prog.error_body).get(doc) && !doc["error"]["code"].get(code) &&
        !doc["error"]["message"].get(message))
        return std::string(code) + ": " + std::string(message);
    return "the origin answered " + std::to_string(prog.status);
}

} // namespace

struct Warmer::Job {
    WarmRequest req;
    http::ExchangeRef client;
    std::unique_ptr<origin::Pool> pool;
    size_t next = 0;
    size_t in_flight = 0;
    uint64_t done = 0;
    uint64_t failed = 0;
    bool finished = false;
};

Warmer::~Warmer() {
    shutdown();
}

void Warmer::shutdown() {
    for (auto& w : jobs_)
        if (auto job = w.lock(); job && job->pool) job->pool->shutdown();
    jobs_.clear();
}

void Warmer::start(http::Exchange& ex, WarmRequest req) {
    auto job = std::make_shared<Job>();
    config::OriginSpec spec = config::origin_defaults();
    spec.name = "warm";
    spec.servers = {req.target};
    spec.timeout_ms = 60000;
    spec.connect_timeout_ms = 2000;
    spec.max_connections = static_cast<uint32_t>(req.concurrency);
    job->pool = std::make_unique<origin::Pool>(loop_, spec);
    job->req = std::move(req);
    ex.status(200)
        .header("Content-Type", "application/x-ndjson")
        .header("Cache-Control", "no-store");
    ex.begin_stream(std::nullopt);
    job->client = ex.defer();
    LOG_INFO("warming %zu path(s), %zu at a time, Host %s", job->req.paths.size(),
             job->req.concurrency, job->req.host.c_str());
    jobs_.push_back(job);
    pump(job);
}

void Warmer::line(Job& job, std::string json) {
    json.push_back('\n');
    if (http::Exchange* ex = job.client.get()) ex->stream_write(http::Body::owned(std::move(json)));
}

void Warmer::pump(const std::shared_ptr<Job>& job) {
    if (job->finished) return;
    bool client_gone = job->client.get() == nullptr;
    while (!client_gone && job->in_flight < job->req.concurrency &&
           job->next < job->req.paths.size()) {
        const std::string path = job->req.paths[job->next++];
        // Already fresh: nothing to fetch.
        auto peek = proxy_.peek(job->req.host, path);
        if (peek.entry && !peek.entry->is_vary() && !peek.entry->is_partial() &&
            cache::state_at(peek.entry->freshness(), loop_.clock().now_s()) ==
                cache::State::fresh) {
            ++job->done;
            std::string out;
            JsonWriter(out)
                .begin_object()
                .field("path", path)
                .field("status", static_cast<int64_t>(peek.entry->status()))
                .field("cache", "FRESH")
                .field("bytes", static_cast<uint64_t>(peek.entry->body().size()))
                .end_object();
            line(*job, std::move(out));
            continue;
        }
        ++job->in_flight;
        origin::UpstreamRequest r;
        r.target = path;
        r.headers = {{"Host", job->req.host}, {"User-Agent", "edgecached-warm"}};
        struct Progress {
            int status = 0;
            std::string cache = "-";
            uint64_t bytes = 0;
            std::string error_body; // the start of an error response, to say why it failed
        };
        auto prog = std::make_shared<Progress>();
        auto finish = [this, job, path, prog](bool ok, std::string error) {
            --job->in_flight;
            ++job->done;
            if (!ok || prog->status >= 400) ++job->failed;
            std::string out;
            JsonWriter w(out);
            w.begin_object()
                .field("path", path)
                .field("status", static_cast<int64_t>(prog->status));
            w.field("cache", ok ? prog->cache : std::string("ERROR")).field("bytes", prog->bytes);
            if (error.empty() && prog->status >= 400) error = failure_reason(*prog);
            if (!error.empty()) w.field("error", error);
            w.end_object();
            line(*job, std::move(out));
            // Continue from a posted callback: never reenter the pool from its own callback.
            loop_.post([this, job] { pump(job); });
        };
        origin::Sink sink;
        sink.on_head = [prog](origin::ResponseHead&& h) {
            prog->status = h.status;
            for (const auto& hd : h.headers)
                if (iequals(hd.name, "x-cache")) prog->cache = hd.value;
        };
        sink.on_body = [prog](std::string_view chunk) {
            prog->bytes += chunk.size();
            if (prog->status >= 400 && prog->error_body.size() < kErrorBodyBytes)
                prog->error_body.append(chunk.substr(0, kErrorBodyBytes - prog->error_body.size()));
        };
        sink.on_complete = [finish] { finish(true, ""); };
        sink.on_error = [finish](origin::ErrorKind k, std::string m) {
            finish(false, std::string(origin::error_kind_name(k)) + ": " + m);
        };
        job->pool->fetch(std::move(r), std::move(sink));
    }
    if (job->in_flight == 0 && (client_gone || job->next >= job->req.paths.size())) {
        job->finished = true;
        std::string out;
        JsonWriter(out)
            .begin_object()
            .field("done", job->done)
            .field("failed", job->failed)
            .end_object();
        line(*job, std::move(out));
        if (http::Exchange* ex = job->client.get()) ex->stream_end();
        LOG_INFO("warm done: %llu path(s), %llu failed", static_cast<unsigned long long>(job->done),
                 static_cast<unsigned long long>(job->failed));
        // The pool may be inside one of its callbacks' callers: destroy it later.
        loop_.post([job] { job->pool.reset(); });
    }
}

} // namespace ec::admin
