#include "proxy/http_session.hpp"

#include "http/local_reply.hpp"
#include "net/address.hpp"
#include "proxy/pipeline.hpp"
#include "proxy/request_context.hpp"
#include "proxy/stages/stages.hpp"

#include <asio/read.hpp>
#include <asio/write.hpp>
#include <spdlog/spdlog.h>

namespace haven::proxy {

HttpSession::HttpSession(WorkerContext& w, asio::ip::tcp::socket sock, std::uint32_t listener)
    : w_(w), client_(std::move(sock)), listener_(listener) {
    asio::error_code ec;
    const auto peer = client_.remote_endpoint(ec);
    client_ip_ = ec ? std::string("unknown") : net::ip_text(peer);
    deadline_.owner = this;
    deadline_.on_expire = &HttpSession::on_deadline;
    w_.deadlines.add(deadline_);
    w_.add_session(this);
    idle_since_ = w_.deadlines.now();
}

HttpSession::~HttpSession() {
    if (ctx_) w_.release_request(ctx_);
    w_.deadlines.remove(deadline_);
    w_.remove_session(this);
}

net::awaitable<void> HttpSession::serve(WorkerContext& w, asio::ip::tcp::socket sock, std::uint32_t listener) {
    HttpSession session(w, std::move(sock), listener);
    co_await session.run();
}

void HttpSession::arm(TimeoutKind kind, std::chrono::milliseconds d) {
    kind_ = kind;
    fired_ = TimeoutKind::None;
    w_.deadlines.set(deadline_, d);
}

void HttpSession::on_deadline(Deadline* d) {
    auto* s = static_cast<HttpSession*>(d->owner);
    s->fired_ = s->kind_;
    asio::error_code ignored;
    s->client_.cancel(ignored);
    if (s->upstream_) s->upstream_->cancel(ignored);
}

void HttpSession::close_idle() {
    closing_ = true;
    asio::error_code ignored;
    client_.cancel(ignored);
}

void HttpSession::on_drain() {
    closing_ = true;
    if (idle_) close_idle();
}

void HttpSession::become_idle() {
    idle_ = true;
    idle_since_ = w_.deadlines.now();
    arm(TimeoutKind::KeepAlive, w_.config().timeouts.client_idle);
}

// A request's first byte arrived: it gets a context and the request-head deadline (the first
// request's deadline already runs from accept).
void HttpSession::begin_request() {
    if (!ctx_) ctx_ = w_.acquire_request();
    ctx_->session = this;
    ctx_->worker = &w_;
    const auto& limits = w_.config().limits;
    parser_.emplace(http::ParserLimits{limits.max_header_bytes, limits.max_request_line},
                    std::span<http::Header>(ctx_->req_headers));
    if (!first_request_ && kind_ != TimeoutKind::RequestHead) {
        arm(TimeoutKind::RequestHead, w_.config().timeouts.request_headers);
    }
    first_request_ = false;
}

net::awaitable<HttpSession::HeadStatus> HttpSession::read_head() {
    for (;;) {
        if (!in_.empty()) {
            if (!parser_) begin_request();
            const auto st = parser_->parse(in_.readable(), ctx_->req);
            if (st == http::ParseStatus::Complete) co_return HeadStatus::Ready;
            if (st == http::ParseStatus::Error) {
                co_await reject(http::status_for(parser_->error()), ResponseFlag::BadRequest);
                co_return HeadStatus::Closed;
            }
            if (in_.write_space() == 0) {
                // The head outgrew the inline buffer: move it to a pooled one (which holds any
                // head up to max_header_bytes). The parser keeps offsets, not pointers.
                if (in_.pooled()) in_.compact();
                else in_.borrow(w_.buffers);
            }
        }
        auto [ec, n] = co_await client_.async_read_some(asio::buffer(in_.write_ptr(), in_.write_space()),
                                                        net::use_nothrow);
        if (ec || n == 0) {
            if (fired_ == TimeoutKind::RequestHead && !in_.empty()) {
                co_await reject(408, ResponseFlag::RequestTimeout);
            }
            co_return HeadStatus::Closed;
        }
        in_.commit(n);
    }
}

// Answers a request haven cannot serve (bad syntax, timeout) and closes the connection.
net::awaitable<void> HttpSession::reject(int status, ResponseFlag flag) {
    if (!ctx_) begin_request();
    ctx_->start = w_.scheduler.now();
    ctx_->status = status;
    ctx_->flag = flag;
    ctx_->close_client = true;
    ctx_->bytes_in = in_.size();
    linger_ = true;
    w_.stats.flags[static_cast<std::size_t>(flag)].inc();
    co_await stages::local_reply(*ctx_, status, flag);
    stages::log(*ctx_);
}

// Consumes the finished request's bytes; what remains is the next pipelined request.
void HttpSession::end_request() {
    in_.consume(std::min(in_.size(), ctx_->input_used));
    if (!pending_.empty()) {
        in_.compact();
        if (in_.write_space() < pending_.size()) in_.borrow(w_.buffers);
        std::memcpy(in_.write_ptr(), pending_.data(), pending_.size());
        in_.commit(pending_.size());
        pending_.clear();
    }
    parser_.reset();
    if (in_.empty()) {
        in_.release_if_empty();
        w_.release_request(ctx_);
        ctx_ = nullptr;
    } else {
        ctx_->reset();
    }
}

net::awaitable<void> HttpSession::run() {
    w_.stats.connections_active.inc();
    arm(TimeoutKind::RequestHead, w_.config().timeouts.request_headers);
    for (;;) {
        if (co_await read_head() != HeadStatus::Ready) break;
        idle_ = false;
        ctx_->input_used = ctx_->req.head_size;
        co_await run_pipeline(*ctx_);
        const bool keep = !ctx_->close_client && !closing_;
        // Unread request bytes at close would make the kernel reset the connection.
        linger_ = ctx_->req.body != http::BodyKind::None && !ctx_->body_complete;
        end_request();
        if (!keep) {
            linger_ = linger_ || !in_.empty();
            break;
        }
        if (in_.empty()) become_idle();
    }
    if (!linger_) disarm();
    co_await linger_close();
    w_.stats.connections_active.dec();
    w_.shared.connections.fetch_sub(1, std::memory_order_relaxed);
}

// Closing right after an error reply while request bytes are still unread would make the kernel
// send RST, which can destroy the reply before the client reads it. Half-close, then drain what
// the client still sends for a short, bounded time.
net::awaitable<void> HttpSession::linger_close() {
    asio::error_code ec;
    upstream_ = nullptr;
    if (client_.is_open() && linger_ && fired_ == TimeoutKind::None) {
        client_.shutdown(asio::socket_base::shutdown_send, ec);
        if (!ec) {
            arm(TimeoutKind::ClientBody, std::chrono::milliseconds(1000));
            char sink[4096];
            for (int i = 0; i < 64; ++i) {
                auto [rec, n] = co_await client_.async_read_some(asio::buffer(sink), net::use_nothrow);
                if (rec || n == 0) break;
            }
        }
    }
    disarm();
    client_.close(ec);
}

} // namespace haven::proxy
