// Stage: tunnel. After a server accepted a WebSocket handshake (101), the client connection and
// the server connection become one byte stream each way until both sides have closed: the 101
// head (rewritten) and any bytes the server sent behind it go to the client, any bytes the client
// sent behind its handshake go to the server, then net::relay copies both ways. Neither
// connection is used for HTTP again. The tunnel ends when it has been silent both ways for
// timeouts.client_idle.
#include "net/tcp_proxy.hpp"
#include "proxy/http_session.hpp"
#include "proxy/stages/stages.hpp"
#include "proxy/worker_context.hpp"

namespace haven::proxy::stages {
namespace {

// Two relay buffers from the worker's pool, returned however the tunnel ends.
struct RelayBuffers {
    net::BufferPool& pool;
    char* to_server = pool.acquire();
    char* to_client = pool.acquire();
    ~RelayBuffers() {
        pool.release(to_server);
        pool.release(to_client);
    }
};

} // namespace

net::awaitable<StageResult> tunnel(RequestContext& ctx) {
    auto& s = *ctx.session;
    auto& w = *ctx.worker;
    auto& buf = ctx.resp_buf;
    ctx.status = 101;
    ctx.response_started = true;
    ctx.close_client = true; // (and the server connection is not reused: upstream_reusable stays false)
    const auto idle = w.config().timeouts.client_idle;

    http::ResponseRewrite rw;
    rw.connection = http::ResponseRewrite::Conn::UpgradeWebSocket;
    http::build_response_head(ctx.resp, buf.readable().substr(0, ctx.resp.head_size), rw, ctx.out_head);
    net::GatherList<http::HeadBuilder::kMaxPieces + 1> to_client;
    for (std::size_t i = 0; i < ctx.out_head.count(); ++i) to_client.add(ctx.out_head.piece(i));
    to_client.add(buf.readable().substr(ctx.resp.head_size)); // the server may speak first
    s.arm(TimeoutKind::Tunnel, idle);
    auto [cec, cn] = co_await s.client().send_all(to_client);
    ctx.bytes_out += cn;
    buf.clear();
    if (cec) co_return StageResult::fail(ResponseFlag::ClientAborted, ErrorSource::Downstream, false);

    const std::string_view early = s.input().readable().substr(ctx.input_used); // the client may too
    if (!early.empty()) {
        net::GatherList<1> to_server;
        to_server.add(early);
        auto [sec, sn] = co_await ctx.conn->stream.send_all(to_server);
        ctx.input_used += early.size();
        ctx.bytes_in += sn;
        if (sec) co_return StageResult::fail(ResponseFlag::UpstreamAborted, ErrorSource::Upstream, false);
    }

    RelayBuffers relay_buf{w.buffers};
    const auto moved = co_await net::relay(s.client(), ctx.conn->stream, relay_buf.to_server, relay_buf.to_client,
                                           w.buffers.buffer_size(), [&s, idle] { s.arm(TimeoutKind::Tunnel, idle); });
    ctx.bytes_in += moved.a_to_b;
    ctx.bytes_out += moved.b_to_a;
    co_return StageResult::next();
}

} // namespace haven::proxy::stages
