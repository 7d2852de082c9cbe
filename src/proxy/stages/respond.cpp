// Stage: respond. Relay the response head (rewritten) and body to the client, streaming the body
// through one buffer whatever its size. A response the server cuts short is never completed
// towards the client: haven closes the client connection instead.
#include "http/local_reply.hpp"
#include "proxy/http_session.hpp"
#include "proxy/stages/stages.hpp"
#include "policy/stale_cache.hpp"

#include <asio/write.hpp>
#include <fmt/format.h>

#include <cstring>

namespace haven::proxy::stages {
namespace {

using http::BodyKind;

struct BodyProgress {
    std::uint64_t remaining = 0; // ContentLength: bytes still due
    bool done = false;
};

using BodyGather = net::GatherList<http::HeadBuilder::kMaxPieces + 2>;

// De-chunking for HTTP/1.0 clients, in place: payload runs are moved down over the chunk
// framing that preceded them (a run never starts before the write cursor), leaving one
// contiguous piece to send.
struct DechunkSink {
    char* cursor;
};

void collect_payload(void* ctx, std::string_view payload) {
    auto* sink = static_cast<DechunkSink*>(ctx);
    std::memmove(sink->cursor, payload.data(), payload.size());
    sink->cursor += payload.size();
}

// Takes the body bytes of `data` that belong to this response into `out`; returns bytes consumed
// from data, or SIZE_MAX on a framing error.
std::size_t take_body(RequestContext& ctx, std::string_view data, bool dechunk, BodyProgress& p, BodyGather& out) {
    switch (ctx.resp.body) {
    case BodyKind::None: p.done = true; return 0;
    case BodyKind::UntilClose: out.add(data); return data.size();
    case BodyKind::ContentLength: {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(data.size(), p.remaining));
        out.add(data.substr(0, n));
        if (ctx.stale_capture) ctx.stale_body.append(data.substr(0, n));
        p.remaining -= n;
        p.done = p.remaining == 0;
        return n;
    }
    case BodyKind::Chunked: {
        char* start = const_cast<char*>(data.data());
        DechunkSink sink{start};
        const auto r = dechunk ? ctx.chunked.feed(data, &collect_payload, &sink) : ctx.chunked.feed(data);
        if (r.status == http::ChunkedDecoder::Status::Error) return SIZE_MAX;
        out.add(dechunk ? std::string_view(start, static_cast<std::size_t>(sink.cursor - start)) : data.substr(0, r.consumed));
        p.done = r.status == http::ChunkedDecoder::Status::Done;
        return r.consumed;
    }
    }
    return 0;
}

// Decides the client connection's fate and builds the head. Returns whether to de-chunk.
// An upgrade the server did not accept (no 101) closes the connection after the response: a
// client may already be sending bytes of the protocol it asked for, which must not be read as
// the next request.
bool prepare_head(RequestContext& ctx) {
    const bool client11 = ctx.req.version_minor == 1;
    const bool dechunk = ctx.resp.body == BodyKind::Chunked && !client11;
    const bool delimited = ctx.resp.body != BodyKind::UntilClose && !dechunk;
    const bool keep = ctx.req.keep_alive() && delimited && ctx.body_complete && !ctx.session->closing() &&
                      !ctx.req.connection_upgrade;
    ctx.close_client = !keep;
    http::ResponseRewrite rw;
    rw.drop_transfer_encoding = dechunk;
    rw.extra_fields = std::string_view(ctx.added_fields.data(), ctx.added_fields_len);
    if (ctx.pool && ctx.pool->hosts().sticky) sticky_response(ctx, rw.sticky_fields);
    if (client11) {
        rw.connection = keep ? http::ResponseRewrite::Conn::None : http::ResponseRewrite::Conn::Close;
    } else {
        rw.connection = keep ? http::ResponseRewrite::Conn::KeepAlive : http::ResponseRewrite::Conn::Close;
    }
    http::build_response_head(ctx.resp, ctx.resp_buf.readable().substr(0, ctx.resp.head_size), rw, ctx.out_head);
    return dechunk;
}

// fallback.stale_if_error: whether to keep a copy of this response (its head is copied now, while
// the parsed fields still point into the buffer; the body as it passes).
std::optional<policy::Storable> stale_candidate(RequestContext& ctx, std::string& head) {
    const auto* p = ctx.policies;
    if (!p || p->stale.empty() || ctx.req.method != http::Method::Get || ctx.degraded) return std::nullopt;
    const auto& cfg = *p->fallback->stale_if_error;
    auto st = policy::storable(ctx.req, ctx.resp, cfg.max_object, std::chrono::duration_cast<Duration>(cfg.max_stale));
    if (!st) return st;
    head = policy::stored_head(ctx.resp);
    ctx.stale_capture = true;
    ctx.stale_body.clear();
    ctx.stale_body.reserve(static_cast<std::size_t>(ctx.resp.content_length));
    return st;
}

void keep_stale(RequestContext& ctx, std::string head, const policy::Storable& st) {
    auto& w = *ctx.worker;
    ctx.stale_capture = false;
    policy::StaleCache::Entry e;
    e.head = std::move(head);
    e.body = std::move(ctx.stale_body);
    e.stored = w.scheduler.now();
    e.usable_for = st.lifetime + st.stale_window;
    ctx.policies->stale.at(w.index)->put(policy::stale_key(ctx.req), std::move(e));
    ctx.stale_body = std::string();
}

// The route's last good copy of this GET, if it may still answer (stale_cache.hpp), with Age and
// X-Haven-Degraded: REASON; stale.
net::awaitable<bool> stale_reply(RequestContext& ctx, const char* reason) {
    auto* p = ctx.policies;
    auto& s = *ctx.session;
    auto& w = *ctx.worker;
    if (p->stale.empty() || ctx.req.method != http::Method::Get) co_return false;
    const auto now = w.scheduler.now();
    const auto* e = p->stale.at(w.index)->get(policy::stale_key(ctx.req), now);
    if (!e) co_return false;
    const bool body_pending = ctx.req.body != BodyKind::None && !ctx.body_complete &&
                              !(ctx.req.body == BodyKind::ContentLength && ctx.req.content_length == 0);
    if (body_pending || !ctx.req.keep_alive() || ctx.req.connection_upgrade || s.closing()) ctx.close_client = true;
    const auto age = std::chrono::duration_cast<std::chrono::seconds>(now - e->stored).count();
    std::string out = e->head;
    out += fmt::format("Content-Length: {}\r\nAge: {}\r\n", e->body.size(), age);
    if (const auto& name = p->fallback->degraded_header; !name.empty()) out += fmt::format("{}: {}; stale\r\n", name, reason);
    out += w.date.line();
    if (ctx.close_client) out += "Connection: close\r\n";
    out += "\r\n";
    p->counters.at(w.index).degraded.inc();
    p->counters.at(w.index).stale_served.inc();
    s.arm(TimeoutKind::ClientWrite, w.config().timeouts.client_idle);
    net::GatherList<2> gl;
    gl.add(out);
    gl.add(e->body);
    auto [ec, n] = co_await s.client().send_all(gl);
    ctx.bytes_out += n;
    if (ec) ctx.close_client = true;
    co_return true;
}

} // namespace

// Rules:
//   - the client connection stays open only if the client wants it, the response length is
//     known to the client, the request body was read completely and haven is not draining;
//   - the server connection is reused only if the server allows it, the response ended on a
//     framing boundary, nothing followed it, and the whole request body was sent.
net::awaitable<StageResult> respond(RequestContext& ctx) {
    auto& s = *ctx.session;
    auto& w = *ctx.worker;
    auto& buf = ctx.resp_buf;
    ctx.status = ctx.resp.status;
    ctx.chunked.reset();
    const bool dechunk = prepare_head(ctx);
    // An error answer to a GET with a good copy kept: the copy instead (RFC 5861: 500, 502, 503, 504).
    // (Nested ifs, not && around co_await: g++ 12 mishandles co_await in such operands.)
    if (const int st = ctx.resp.status; (st == 500 || st == 502 || st == 503 || st == 504) && ctx.policies &&
                                        !ctx.policies->stale.empty()) {
        if (co_await stale_reply(ctx, "upstream_error")) {
            ctx.upstream_reusable = false; // its body was not read
            buf.clear();
            co_return StageResult::next();
        }
    }
    BodyProgress p{ctx.resp.content_length, false};
    std::string stale_head;
    const auto stale = ctx.policies && !ctx.policies->stale.empty() ? stale_candidate(ctx, stale_head) : std::nullopt;
    BodyGather out;
    for (std::size_t i = 0; i < ctx.out_head.count(); ++i) out.add(ctx.out_head.piece(i));
    buf.consume(ctx.resp.head_size);
    std::size_t used = take_body(ctx, buf.readable(), dechunk, p, out);
    if (used == SIZE_MAX) co_return StageResult::fail(ResponseFlag::UpstreamProtocolError, ErrorSource::Upstream, false);
    ctx.response_started = true;
    const auto client_idle = w.config().timeouts.client_idle;
    s.arm(TimeoutKind::ClientWrite, client_idle);
    asio::error_code wec;
    std::size_t wn = 0;
    if (!s.client().send_now(out, wec, wn)) {
        auto [rec, rn] = co_await s.client().send_rest(out);
        wec = rec;
        wn += rn;
    }
    ctx.bytes_out += wn;
    if (wec) {
        // Nothing reached the client: the log shows 499 (client gone), not the server's status.
        if (wn == 0) ctx.response_started = false;
        co_return StageResult::fail(ResponseFlag::ClientAborted, ErrorSource::Downstream, false);
    }
    buf.consume(used);
    bool extra = !buf.empty(); // bytes after the response: the server is not speaking HTTP/1.1 keep-alive
    while (!p.done) {
        buf.clear();
        s.arm(TimeoutKind::Server, server_timeout(ctx));
        auto [ec, n] = co_await ctx.conn->stream.read_some(buf.write_ptr(), buf.write_space(), true); // mid-body
        if (ec || n == 0) {
            if (ctx.resp.body == BodyKind::UntilClose && !ec) break; // the server's close ends the body
            ctx.close_client = true; // never complete a cut response
            const bool timeout = s.fired() == TimeoutKind::Server;
            co_return StageResult::fail(timeout ? ResponseFlag::UpstreamTimeout : ResponseFlag::UpstreamAborted,
                                        ErrorSource::Upstream, false);
        }
        buf.commit(n);
        out.clear();
        used = take_body(ctx, buf.readable(), dechunk, p, out);
        if (used == SIZE_MAX) {
            ctx.close_client = true;
            co_return StageResult::fail(ResponseFlag::UpstreamProtocolError, ErrorSource::Upstream, false);
        }
        s.arm(TimeoutKind::ClientWrite, client_idle);
        if (!s.client().send_now(out, wec, wn)) {
            auto [rec, rn] = co_await s.client().send_rest(out);
            wec = rec;
            wn += rn;
        }
        ctx.bytes_out += wn;
        if (wec) co_return StageResult::fail(ResponseFlag::ClientAborted, ErrorSource::Downstream, false);
        extra = used < buf.size();
    }
    ctx.upstream_reusable = ctx.resp.keep_alive() && ctx.resp.body != BodyKind::UntilClose && !extra && ctx.body_complete;
    buf.clear();
    if (stale) keep_stale(ctx, std::move(stale_head), *stale);
    co_return StageResult::next();
}

// Rules for keeping the client connection after haven's own reply: only when nothing of the
// request is left unread and the bytes after it can be trusted to start a new request. So it
// closes after a request it refused on sight (flag BadRequest: malformed, CONNECT — whose
// follow-up bytes are meant for a tunnel — or an Expect it cannot meet), after a refused upgrade
// (Connection: upgrade), after a timeout, and while the session is closing.
net::awaitable<void> local_reply(RequestContext& ctx, int status, ResponseFlag flag) {
    auto& s = *ctx.session;
    auto& w = *ctx.worker;
    const bool body_pending = ctx.req.body != BodyKind::None && !ctx.body_complete &&
                              !(ctx.req.body == BodyKind::ContentLength && ctx.req.content_length == 0);
    const bool untrusted = flag == ResponseFlag::BadRequest || ctx.req.connection_upgrade || status == 408;
    if (body_pending || untrusted || !ctx.req.keep_alive() || s.closing()) ctx.close_client = true;
    char buf[768];
    http::LocalReplyOptions o;
    o.close = ctx.close_client;
    o.head_request = ctx.req.method == http::Method::Head;
    o.detail = flag_name(flag);
    o.date_line = w.date.line();
    if (ctx.reply_fields_len > 0) {
        o.extra_fields = std::string_view(ctx.reply_fields.data(), ctx.reply_fields_len); // set by a policy
    } else if (status == 503) {
        o.extra_fields = "Retry-After: 1\r\n";
    }
    const std::string_view reply = http::format_local_reply(buf, sizeof buf, status, o);
    s.arm(TimeoutKind::ClientWrite, w.config().timeouts.client_idle);
    net::GatherList<1> out;
    out.add(reply);
    auto [ec, n] = co_await s.client().send_all(out);
    ctx.bytes_out += n;
    if (ec) ctx.close_client = true;
}

// What the route's fallback stands in for: no server, an open breaker, or a server that failed
// after the retries. Not a rate limit (429 is the answer) nor an injected fault (the point is to
// see it) nor a request the client got wrong.
const char* degraded_reason(ResponseFlag f) {
    switch (f) {
    case ResponseFlag::NoHealthyServer: return "no_server";
    case ResponseFlag::CircuitOpen: return "circuit_open";
    case ResponseFlag::BulkheadFull: return "bulkhead_full";
    case ResponseFlag::Overflow: return "overflow";
    case ResponseFlag::ServerQueue: return "server_queue";
    case ResponseFlag::UpstreamConnectFailure:
    case ResponseFlag::UpstreamTls:
    case ResponseFlag::UpstreamConnectTimeout:
    case ResponseFlag::UpstreamTimeout:
    case ResponseFlag::UpstreamReset:
    case ResponseFlag::UpstreamProtocolError: return "upstream_failed";
    default: return nullptr;
    }
}

const config::FallbackPolicy* fallback_for(const RequestContext& ctx) {
    const auto* p = ctx.policies;
    if (!p || !p->fallback || (!p->fallback->reply && p->stale.empty()) || ctx.response_started ||
        !degraded_reason(ctx.flag)) {
        return nullptr;
    }
    return p->fallback.get();
}

net::awaitable<bool> fallback_reply(RequestContext& ctx) {
    if (!fallback_for(ctx)) co_return false;
    auto* p = ctx.policies;
    const char* reason = degraded_reason(ctx.flag);
    if (co_await stale_reply(ctx, reason)) co_return true;
    if (!p->fallback->reply) co_return false;
    auto& s = *ctx.session;
    auto& w = *ctx.worker;
    const auto& fb = *p->fallback;
    const bool body_pending = ctx.req.body != BodyKind::None && !ctx.body_complete &&
                              !(ctx.req.body == BodyKind::ContentLength && ctx.req.content_length == 0);
    if (body_pending || !ctx.req.keep_alive() || ctx.req.connection_upgrade || s.closing()) ctx.close_client = true;
    const bool head = ctx.req.method == http::Method::Head;
    std::string out = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n", fb.status,
                                  http::reason_phrase(static_cast<int>(fb.status)), fb.content_type, fb.body.size());
    if (!fb.degraded_header.empty()) out += fmt::format("{}: {}\r\n", fb.degraded_header, reason);
    for (const auto& [name, value] : fb.headers) out += fmt::format("{}: {}\r\n", name, value);
    if (ctx.reply_fields_len > 0) out.append(ctx.reply_fields.data(), ctx.reply_fields_len);
    out += w.date.line();
    if (ctx.close_client) out += "Connection: close\r\n";
    out += "\r\n";
    if (!head) out += fb.body;
    p->counters.at(w.index).degraded.inc();
    s.arm(TimeoutKind::ClientWrite, w.config().timeouts.client_idle);
    net::GatherList<1> gl;
    gl.add(out);
    auto [ec, n] = co_await s.client().send_all(gl);
    ctx.bytes_out += n;
    if (ec) ctx.close_client = true;
    co_return true;
}

} // namespace haven::proxy::stages
