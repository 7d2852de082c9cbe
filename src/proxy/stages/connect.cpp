// Stage: connect. Reuse an idle keep-alive connection to the chosen server, or open a new one
// within timeouts.connect.
#include "net/socket_options.hpp"
#include "proxy/http_session.hpp"
#include "proxy/stages/stages.hpp"

namespace haven::proxy::stages {

// Rules:
//   - a pooled connection is reused unless the previous attempt found one stale (force_fresh);
//   - a request that must not be sent twice (not idempotent) only goes on a pooled connection
//     that a non-blocking peek shows is still open, so a server-side close cannot race it;
//   - a failed or timed-out connect sent nothing: it may be retried on any server;
//   - a refused connect (nothing listens, or no route to the host) also takes the server out of
//     this worker's picks at once (PoolRuntime::on_refused).
bool reuse_connection(RequestContext& ctx) {
    ctx.conn_reused = false;
    if (ctx.force_fresh) return false;
    auto& pool = *ctx.host_rt->conns;
    while (auto c = pool.take()) {
        if (!http::is_idempotent(ctx.req.method) && !net::still_usable(c->sock)) continue;
        ctx.conn = std::move(c);
        ctx.conn_reused = true;
        ctx.worker->stats.upstream_reused.inc();
        return true;
    }
    return false;
}

net::awaitable<StageResult> connect(RequestContext& ctx) {
    auto& w = *ctx.worker;
    ctx.force_fresh = false;
    // Rules: over the pool's max_connections nothing is opened: 503 overflow, not retried (another
    // server of the pool counts against the same cap).
    const auto& caps = ctx.pool->hosts().caps;
    if (caps && caps->caps().max_connections && !caps->acquire_connection()) {
        co_return StageResult::fail(ResponseFlag::Overflow, ErrorSource::Internal, false);
    }
    auto c = std::make_unique<upstream::UpstreamConn>(w.io.get_executor());
    if (caps && caps->caps().max_connections) c->caps = caps; // released when the connection closes
    c->host = ctx.host;
    const auto& endpoint = ctx.host_rt->info->endpoint;
    auto& session = *ctx.session;
    session.watch_upstream(&c->sock);
    session.arm(TimeoutKind::Connect, w.config().timeouts.connect);
    w.stats.upstream_connects.inc();
    auto [ec] = co_await c->sock.async_connect(endpoint, net::use_nothrow);
    session.watch_upstream(nullptr);
    if (ec) {
        const bool timed_out = session.fired() == TimeoutKind::Connect;
        session.clear_fired();
        if (!timed_out && net::is_refusal(ec)) ctx.pool->on_refused(ctx.host_rt);
        co_return StageResult::fail(timed_out ? ResponseFlag::UpstreamConnectTimeout : ResponseFlag::UpstreamConnectFailure,
                                    ErrorSource::Upstream, true);
    }
    net::set_stream_options(c->sock);
    ctx.conn = std::move(c);
    co_return StageResult::next();
}

} // namespace haven::proxy::stages
