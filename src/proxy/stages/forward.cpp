// Stage: forward. Send the request head (rewritten, see http/codec.hpp) and body to the server,
// then read the response head.
#include "http/local_reply.hpp"
#include "proxy/http_session.hpp"
#include "proxy/stages/stages.hpp"

#include <asio/post.hpp>
#include <asio/write.hpp>

namespace haven::proxy::stages {
namespace {

using http::BodyKind;

// How much of the request body is already in the session's input buffer, and whether that is all
// of it. A chunked body is validated here; framing errors found before anything was sent reject
// the request without forwarding a byte.
struct InitialBody {
    std::size_t bytes = 0;
    bool complete = false;
    bool bad_framing = false;
};

InitialBody initial_body(RequestContext& ctx, std::string_view after_head) {
    InitialBody b;
    switch (ctx.req.body) {
    case BodyKind::None:
    case BodyKind::UntilClose: b.complete = true; break;
    case BodyKind::ContentLength:
        b.bytes = static_cast<std::size_t>(std::min<std::uint64_t>(after_head.size(), ctx.req.content_length));
        b.complete = b.bytes == ctx.req.content_length;
        break;
    case BodyKind::Chunked: {
        const auto r = ctx.chunked.feed(after_head);
        b.bytes = r.consumed;
        b.complete = r.status == http::ChunkedDecoder::Status::Done;
        b.bad_framing = r.status == http::ChunkedDecoder::Status::Error;
        break;
    }
    }
    return b;
}

} // namespace

// timeouts.server, or the pool's per_try_timeout when set (both reset by every byte).
std::chrono::milliseconds server_timeout(const RequestContext& ctx) {
    const auto per_try = ctx.pool->hosts().retry.per_try_timeout;
    if (per_try > Duration::zero()) return std::chrono::duration_cast<std::chrono::milliseconds>(per_try);
    return ctx.worker->config().timeouts.server;
}

namespace {

// Retry safety after a failure once the request was (maybe partly) sent: only an idempotent request
// on a reused connection whose failure looks like the server had closed it (no response byte).
bool stale_retryable(const RequestContext& ctx) {
    // A streamed body can be sent again only if it was kept whole (retry_buffer).
    return ctx.conn_reused && http::is_idempotent(ctx.req.method) && ctx.body_complete && body_replayable(ctx) &&
           ctx.stale_retries == 0;
}

// Keeps a copy of the streamed body while it fits in retry_buffer, so that a retry can replay it.
void keep_for_retry(RequestContext& ctx, std::string_view bytes) {
    if (!ctx.body_copy_valid) return;
    if (ctx.body_copy.size() + bytes.size() > ctx.pool->hosts().retry.retry_buffer) {
        ctx.body_copy_valid = false;
        std::string().swap(ctx.body_copy);
        return;
    }
    ctx.body_copy.append(bytes);
}

// Streams the rest of the request body from the client to the server. Bytes read past the end of
// a chunked body belong to the next request and are kept for it.
net::awaitable<StageResult> stream_request_body(RequestContext& ctx) {
    auto& s = *ctx.session;
    auto& w = *ctx.worker;
    auto& buf = ctx.resp_buf; // not in use until the response: reuse it for the body
    buf.borrow(w.buffers);
    ctx.body_streamed = true;
    ctx.body_copy_valid = ctx.pool->hosts().retry.retries > 0 && ctx.pool->hosts().retry.retry_buffer > 0;
    ctx.body_copy.clear();
    std::uint64_t remaining = ctx.req.body == BodyKind::ContentLength ? ctx.req.content_length - ctx.body_sent : 0;
    for (;;) {
        buf.clear();
        std::size_t want = buf.write_space();
        if (ctx.req.body == BodyKind::ContentLength) want = static_cast<std::size_t>(std::min<std::uint64_t>(want, remaining));
        s.arm(TimeoutKind::ClientBody, w.config().timeouts.client_idle);
        auto [rec, n] = co_await s.client().read_some(buf.write_ptr(), want, true); // mid-message
        if (rec || n == 0) {
            const bool timeout = s.fired() == TimeoutKind::ClientBody;
            co_return StageResult::fail(timeout ? ResponseFlag::ClientTimeout : ResponseFlag::ClientAborted,
                                        ErrorSource::Downstream, false);
        }
        ctx.bytes_in += n;
        std::size_t take = n;
        bool done = false;
        if (ctx.req.body == BodyKind::ContentLength) {
            remaining -= n;
            done = remaining == 0;
        } else {
            const auto r = ctx.chunked.feed(std::string_view(buf.write_ptr(), n));
            if (r.status == http::ChunkedDecoder::Status::Error) {
                co_return StageResult::respond(400, ResponseFlag::BadRequest);
            }
            take = r.consumed;
            done = r.status == http::ChunkedDecoder::Status::Done;
            if (done && take < n) s.pending_input().assign(buf.write_ptr() + take, n - take);
        }
        keep_for_retry(ctx, std::string_view(buf.write_ptr(), take));
        s.arm(TimeoutKind::Server, server_timeout(ctx));
        net::GatherList<1> chunk;
        chunk.add(std::string_view(buf.write_ptr(), take));
        auto [wec, wn] = co_await ctx.conn->stream.send_all(chunk);
        if (wec) {
            co_return StageResult::fail(s.fired() == TimeoutKind::Server ? ResponseFlag::UpstreamTimeout : ResponseFlag::UpstreamReset,
                                        ErrorSource::Upstream, false);
        }
        ctx.body_sent += take;
        if (done) break;
    }
    ctx.body_complete = true;
    buf.clear();
    co_return StageResult::next();
}

} // namespace

// Sends the head and whatever body bytes are already buffered, in one gather write.
net::awaitable<StageResult> send_request(RequestContext& ctx) {
    auto& s = *ctx.session;
    auto& w = *ctx.worker;
    const std::string_view in = s.input().readable();
    ctx.chunked.reset();
    const InitialBody body = initial_body(ctx, in.substr(ctx.req.head_size));
    if (body.bad_framing) co_return StageResult::respond(400, ResponseFlag::BadRequest);

    http::RequestRewrite rw;
    rw.client_ip = s.client_ip();
    rw.proto = s.tls() ? "https" : "http";
    rw.replace_proto = s.tls(); // a client on TLS cannot claim another scheme
    rw.default_host = ctx.host_rt->info ? std::string_view(ctx.host_rt->info->address_text) : std::string_view();
    if (!ctx.req.find(http::HeaderId::XRequestId)) {
        if (!ctx.generated_id) w.request_ids.next(ctx.request_id.data());
        ctx.generated_id = true;
        rw.request_id = std::string_view(ctx.request_id.data(), ctx.request_id.size());
    }
    // A WebSocket handshake (a GET without a body) keeps its Upgrade; any other upgrade is dropped
    // with the hop-by-hop fields, and the request is served as plain HTTP (docs/proxying.md).
    ctx.upgrade = ctx.req.method == http::Method::Get && ctx.req.body == http::BodyKind::None &&
                  http::is_websocket_upgrade(ctx.req);
    rw.upgrade_websocket = ctx.upgrade;
    http::build_request_head(ctx.req, in.substr(0, ctx.req.head_size), rw, ctx.out_head);
    net::GatherList<http::HeadBuilder::kMaxPieces + 2> out;
    for (std::size_t i = 0; i < ctx.out_head.count(); ++i) out.add(ctx.out_head.piece(i));
    out.add(in.substr(ctx.req.head_size, body.bytes));
    // A retry replays a streamed body from the copy kept of it.
    const bool replay = !body.complete && ctx.body_streamed && ctx.body_copy_valid;
    if (replay) out.add(ctx.body_copy);
    ctx.input_used = ctx.req.head_size + body.bytes;
    ctx.bytes_in = ctx.input_used;

    // The client is waiting for permission to send the body: haven grants it itself now that a
    // server is connected (the Expect field is not forwarded; see docs/proxying.md).
    if (ctx.req.expect_continue && !body.complete && body.bytes == 0 && ctx.req.version_minor == 1) {
        s.arm(TimeoutKind::ClientWrite, w.config().timeouts.client_idle);
        net::GatherList<1> cont;
        cont.add(http::kContinue100);
        auto [cec, cn] = co_await s.client().send_all(cont);
        if (cec) co_return StageResult::fail(ResponseFlag::ClientAborted, ErrorSource::Downstream, false);
    }
    s.arm(TimeoutKind::Server, server_timeout(ctx));
    s.watch_upstream(&ctx.conn->stream.socket());
    asio::error_code ec;
    std::size_t n = 0;
    if (!ctx.conn->stream.send_now(out, ec, n)) {
        auto [rec, rn] = co_await ctx.conn->stream.send_rest(out);
        ec = rec;
        n += rn;
    }
    ctx.request_sent = n > 0;
    if (ec) {
        const bool timeout = s.fired() == TimeoutKind::Server;
        ctx.body_complete = body.complete || replay;
        co_return StageResult::fail(timeout ? ResponseFlag::UpstreamTimeout : ResponseFlag::UpstreamReset,
                                    ErrorSource::Upstream, !timeout && stale_retryable(ctx));
    }
    ctx.body_sent = body.bytes + (replay ? ctx.body_copy.size() : 0);
    ctx.body_complete = body.complete || replay;
    if (!ctx.body_complete) co_return co_await stream_request_body(ctx);
    co_return StageResult::next();
}

// Reads until a complete final response head is buffered. Interim 1xx responses are passed to an
// HTTP/1.1 client (except 100, which haven already sent itself); 101 ends the exchange when it
// accepts a WebSocket handshake haven forwarded, and is an error otherwise.
net::awaitable<StageResult> read_response_head(RequestContext& ctx) {
    auto& s = *ctx.session;
    auto& w = *ctx.worker;
    auto& buf = ctx.resp_buf;
    buf.borrow(w.buffers);
    const auto& limits = w.config().limits;
    http::ResponseParser parser({limits.max_header_bytes, limits.max_request_line},
                                std::span<http::Header>(ctx.resp_headers));
    bool received_any = false;
    for (;;) {
        if (!buf.empty()) {
            const auto st = parser.parse(buf.readable(), ctx.resp, ctx.req.method);
            if (st == http::ParseStatus::Error) {
                // Garbage on a reused connection is most likely bytes the server sent while the
                // connection was idle, not an answer to this request: worth a fresh connection.
                co_return StageResult::fail(ResponseFlag::UpstreamProtocolError, ErrorSource::Upstream,
                                            !ctx.response_started && stale_retryable(ctx));
            }
            if (st == http::ParseStatus::Complete) {
                if (ctx.resp.status >= 200) {
                    ctx.host_rt->counters->responses[std::min(ctx.resp.status / 100, 5)].inc();
                    co_return StageResult::next();
                }
                if (ctx.resp.status == 101) {
                    // Switching protocols: only to the WebSocket the client asked for (then respond
                    // opens the tunnel); any other 101 was never asked for.
                    if (!ctx.upgrade || !http::is_websocket_upgrade(ctx.resp)) {
                        co_return StageResult::fail(ResponseFlag::UpstreamProtocolError, ErrorSource::Upstream, false);
                    }
                    ctx.host_rt->counters->responses[1].inc();
                    co_return StageResult::next();
                }
                if (ctx.resp.status != 100 && ctx.req.version_minor == 1) {
                    ctx.response_started = true;
                    s.arm(TimeoutKind::ClientWrite, w.config().timeouts.client_idle);
                    net::GatherList<1> interim;
                    interim.add(buf.readable().substr(0, ctx.resp.head_size));
                    auto [cec, cn] = co_await s.client().send_all(interim);
                    if (cec) co_return StageResult::fail(ResponseFlag::ClientAborted, ErrorSource::Downstream, false);
                    ctx.bytes_out += cn;
                }
                buf.consume(ctx.resp.head_size);
                parser.reset();
                continue;
            }
            if (buf.write_space() == 0) {
                // A head larger than the streaming buffer moves to a large one.
                if (buf.capacity() < w.large_buffers.buffer_size()) buf.borrow(w.large_buffers);
                else buf.compact();
            }
        }
        s.arm(TimeoutKind::Server, server_timeout(ctx));
        asio::error_code ec;
        std::size_t n = 0;
        if (s.fired() != TimeoutKind::None || s.aborted()) {
            ec = asio::error::operation_aborted; // fired while no read was pending to cancel
        } else {
            std::tie(ec, n) = co_await ctx.conn->stream.read_some(buf.write_ptr(), buf.write_space(), received_any);
        }
        if (ec || n == 0) {
            if (s.fired() == TimeoutKind::Server) {
                co_return StageResult::fail(ResponseFlag::UpstreamTimeout, ErrorSource::Upstream, false);
            }
            // Nothing at all came back on a reused connection: the server had most likely closed it.
            const bool retry = !received_any && stale_retryable(ctx);
            co_return StageResult::fail(ResponseFlag::UpstreamReset, ErrorSource::Upstream, retry);
        }
        received_any = true;
        buf.commit(n);
    }
}


} // namespace haven::proxy::stages
