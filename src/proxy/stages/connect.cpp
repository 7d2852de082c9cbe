// Stage: connect. Reuse an idle keep-alive connection to the chosen server, or open a new one
// within timeouts.connect.
#include "net/socket_options.hpp"
#include "net/tls/channel.hpp"
#include "net/tls/client_context.hpp"
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
        if (!http::is_idempotent(ctx.req.method) && !net::still_usable(c->stream.socket())) continue;
        ctx.conn = std::move(c);
        ctx.conn_reused = true;
        ctx.worker->stats.upstream_reused.inc();
        return true;
    }
    return false;
}

// TLS to the server (the pool's `tls:`), within the same timeouts.connect as the TCP connect.
// Nothing of the request was sent: a failed handshake may be retried on any server; a refused
// certificate is not a refused connect, so the server stays in this worker's picks (its checks,
// which verify the same way, take it out).
net::awaitable<StageResult> handshake(RequestContext& ctx, upstream::UpstreamConn& c,
                                      const std::shared_ptr<const net::tls::ClientContext>& tls) {
    auto& session = *ctx.session;
    auto channel = net::tls::client_channel(tls, c.stream.socket().native_handle(), ctx.host_rt->info->tls_name);
    if (!channel) co_return StageResult::fail(ResponseFlag::UpstreamTls, ErrorSource::Internal, true);
    auto& ch = *channel;
    c.stream.set_tls(std::move(channel));
    session.watch_upstream(&c.stream.socket());
    const auto ec = co_await ch.handshake(c.stream.socket());
    session.watch_upstream(nullptr);
    ctx.worker->stats.upstream_tls[static_cast<std::size_t>(ch.outcome())].inc();
    if (!ec) co_return StageResult::next();
    const bool timed_out = session.fired() == TimeoutKind::Connect;
    session.clear_fired();
    co_return StageResult::fail(timed_out ? ResponseFlag::UpstreamConnectTimeout : ResponseFlag::UpstreamTls,
                                ErrorSource::Upstream, true);
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
    session.watch_upstream(&c->stream.socket());
    session.arm(TimeoutKind::Connect, w.config().timeouts.connect);
    w.stats.upstream_connects.inc();
    auto [ec] = co_await c->stream.socket().async_connect(endpoint, net::use_nothrow);
    session.watch_upstream(nullptr);
    if (ec) {
        const bool timed_out = session.fired() == TimeoutKind::Connect;
        session.clear_fired();
        if (!timed_out && net::is_refusal(ec)) ctx.pool->on_refused(ctx.host_rt);
        co_return StageResult::fail(timed_out ? ResponseFlag::UpstreamConnectTimeout : ResponseFlag::UpstreamConnectFailure,
                                    ErrorSource::Upstream, true);
    }
    net::set_stream_options(c->stream.socket());
    // Rules: a reload that took the server out of the pool while we connected retired its
    // runtime (info is gone): nothing was sent, so the request goes to a server of the new pool.
    if (!ctx.host_rt->info) co_return StageResult::fail(ResponseFlag::UpstreamConnectFailure, ErrorSource::Internal, true);
    if (const auto& tls = ctx.pool->hosts().tls) {
        if (auto r = co_await handshake(ctx, *c, tls); !r.ok()) co_return r;
        if (!ctx.host_rt->info) co_return StageResult::fail(ResponseFlag::UpstreamConnectFailure, ErrorSource::Internal, true);
    }
    ctx.conn = std::move(c);
    co_return StageResult::next();
}

} // namespace haven::proxy::stages
