// Stage: classify. Turns the result of the attempt into the request's outcome: the status and
// flag shown in the log, the counters, the server's in-flight count, and whether the upstream
// connection goes back to the pool.
#include "proxy/http_session.hpp"
#include "proxy/stages/stages.hpp"

namespace haven::proxy::stages {
namespace {

bool is_upstream_failure(ResponseFlag f) {
    switch (f) {
    case ResponseFlag::UpstreamConnectFailure:
    case ResponseFlag::UpstreamTls:
    case ResponseFlag::UpstreamConnectTimeout:
    case ResponseFlag::UpstreamTimeout:
    case ResponseFlag::UpstreamReset:
    case ResponseFlag::UpstreamProtocolError:
    case ResponseFlag::UpstreamAborted: return true;
    default: return false;
    }
}

// The final attempt's outcome for outlier detection: a relayed 5xx counts as a failure, as does
// any failure on the server's side; a client going away says nothing about the server.
void report_outcome(RequestContext& ctx, const StageResult& result) {
    if (result.kind == StageResult::Kind::Continue) {
        const bool aborted = ctx.flag == ResponseFlag::UpstreamAborted;
        report_attempt(ctx, ctx.resp.status < 500 && !aborted, aborted ? ctx.flag : ResponseFlag::None);
    } else if (result.kind == StageResult::Kind::Fail && is_upstream_failure(result.error.flag)) {
        report_attempt(ctx, false, result.error.flag);
    }
}

void settle_upstream(RequestContext& ctx) {
    ctx.session->watch_upstream(nullptr);
    if (ctx.conn) {
        if (ctx.upstream_reusable && ctx.host_rt->index != upstream::kNoHost) {
            ++ctx.conn->requests;
            ctx.host_rt->conns->put(std::move(ctx.conn));
        } else {
            ctx.conn.reset();
        }
    }
    release_server(ctx);
    ctx.resp_buf.clear();
    ctx.resp_buf.release_if_empty();
}

} // namespace

int status_for(ResponseFlag f) {
    switch (f) {
    case ResponseFlag::UpstreamTimeout: return 504;
    case ResponseFlag::UpstreamConnectFailure:
    case ResponseFlag::UpstreamTls:
    case ResponseFlag::UpstreamConnectTimeout:
    case ResponseFlag::UpstreamReset:
    case ResponseFlag::UpstreamProtocolError:
    case ResponseFlag::UpstreamAborted: return 502;
    case ResponseFlag::NoHealthyServer:
    case ResponseFlag::Overflow:
    case ResponseFlag::ServerQueue:
    case ResponseFlag::Draining: return 503;
    case ResponseFlag::NoRoute: return 404;
    case ResponseFlag::RequestTimeout: return 408;
    case ResponseFlag::ClientTimeout: return 408;
    case ResponseFlag::BadRequest: return 400;
    case ResponseFlag::ClientAborted: return 499; // never sent; shown in the log like nginx does
    case ResponseFlag::None: return 0;
    default: break; // the flags of haven's own replies (429, 401, ...) come with their status
    }
    return 500;
}

// Listener and route counters, the latency histogram, and what counts against the SLO: a 5xx, or
// a request that got no answer at all (status 0).
void count_request(RequestContext& ctx) {
    auto& w = *ctx.worker;
    const int cls = ctx.status / 100;
    const std::size_t index = cls >= 1 && cls <= 5 ? static_cast<std::size_t>(cls) : 0;
    auto& lc = ctx.session->listener_metrics().counters.at(w.index);
    lc.responses[index].inc();
    if (index == 5 || index == 0) lc.errors.inc();
    const auto took = std::chrono::duration_cast<std::chrono::microseconds>(w.scheduler.now() - ctx.start);
    lc.latency.observe_us(static_cast<std::uint64_t>(took.count()));
    if (ctx.route_metrics) ctx.route_metrics->counters.at(w.index).responses[index].inc();
}

void classify(RequestContext& ctx, StageResult& result) {
    switch (result.kind) {
    case StageResult::Kind::Continue: break;
    case StageResult::Kind::Respond:
        ctx.status = result.reply.status;
        ctx.flag = result.reply.flag;
        break;
    case StageResult::Kind::Fail:
        ctx.flag = result.error.flag;
        // Once the response started, the client saw the server's status: keep it in the log.
        if (!ctx.response_started) ctx.status = status_for(result.error.flag);
        if (ctx.response_started) ctx.close_client = true;
        break;
    }
    report_outcome(ctx, result);
    policy_end(ctx);
    if (const auto* fb = fallback_for(ctx)) ctx.status = static_cast<int>(fb->status); // what the client gets
    settle_upstream(ctx);
    if (ctx.pool) end_attempts(ctx);
    count_request(ctx);
    auto& stats = ctx.worker->stats;
    stats.requests.inc();
    stats.flags[static_cast<std::size_t>(ctx.flag)].inc();
    const int cls = ctx.status / 100;
    stats.responses_by_class[cls >= 1 && cls <= 5 ? cls : 0].inc();
}

} // namespace haven::proxy::stages
