#include "proxy/http_session.hpp"

#include "core/log_exception.hpp"
#include "http/local_reply.hpp"
#include "net/address.hpp"
#include "net/tls/channel.hpp"
#include "net/tls/server_context.hpp"
#include "proxy/pipeline.hpp"
#include "proxy/request_context.hpp"
#include "proxy/stages/stages.hpp"

#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <spdlog/spdlog.h>

namespace haven::proxy {

namespace {
// How long a keep-alive connection waits with a buffer before parking without one.
constexpr std::chrono::milliseconds kParkAfter{250};
// How many keep-alive connections of a worker may wait that way at once before others park at once.
constexpr std::uint32_t kMaxWaitingIdle = 1024;
} // namespace

HttpSession::HttpSession(WorkerContext& w, asio::ip::tcp::socket sock, std::uint32_t listener)
    : w_(w), client_(std::move(sock)), listener_(listener),
      metrics_(w.snapshot().listeners[listener]->metrics.get()) {
    metrics_->counters.at(w_.index).connections.inc();
    slot = listener;
    asio::error_code ec;
    const auto peer = client_.socket().remote_endpoint(ec);
    client_ip_ = ec ? std::string("unknown") : net::ip_text(peer);
    deadline_.owner = this;
    deadline_.on_expire = &HttpSession::on_deadline;
    w_.deadlines.add(deadline_);
    w_.add_session(this);
    idle_since_ = w_.deadlines.now();
    w_.stats.connections_active.inc();
}

HttpSession::~HttpSession() {
    count_waiting(false);
    if (ctx_) w_.release_request(ctx_);
    w_.deadlines.remove(deadline_);
    w_.remove_session(this);
    w_.stats.connections_active.dec();
    w_.shared.connections.fetch_sub(1, std::memory_order_relaxed);
}

// A new connection starts parked: it costs no buffer and no coroutine until its first bytes
// arrive (one epoll_ctl per connection, which accept already pays several of).
void HttpSession::start(WorkerContext& w, asio::ip::tcp::socket sock, std::uint32_t listener) {
    auto* s = new HttpSession(w, std::move(sock), listener);
    const auto& l = w.snapshot().listeners[listener];
    if (l && l->tls) {
        SSL* ssl = l->tls->new_ssl();
        if (!ssl) {
            delete s;
            return;
        }
        // The channel keeps the context alive: its callbacks run during a handshake a reload may outlive.
        s->client_.set_tls(std::make_unique<net::tls::Channel>(ssl, s->client_.socket().native_handle(), l->tls));
    }
    s->arm(TimeoutKind::RequestHead, w.config().timeouts.request_headers);
    s->wait_readable();
}

// The TLS handshake, within the first request's head deadline (timeouts.request_headers, from
// accept): a client that stalls, sends plain HTTP or garbage is closed and counted by outcome.
net::awaitable<bool> HttpSession::handshake() {
    auto& tls = *client_.tls();
    const auto ec = co_await tls.handshake(client_.socket());
    metrics_->counters.at(w_.index).handshakes[static_cast<std::size_t>(tls.outcome())].inc();
    if (ec) co_return false;
    handshaken_ = true;
    co_return true;
}

// Runs the connection's coroutine until the connection closes (then the session is freed) or
// parks (then the session lives on, waiting for readability, and resume() is called again).
void HttpSession::resume() {
    asio::co_spawn(w_.io, run(), [this](std::exception_ptr e) {
        if (e) {
            log_exception(e, "http connection");
            finished_ = true;
        }
        if (finished_) delete this;
    });
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
    s->client_.socket().cancel(ignored);
    if (s->upstream_) s->upstream_->cancel(ignored);
}

void HttpSession::close_idle() {
    closing_ = true;
    asio::error_code ignored;
    client_.socket().cancel(ignored);
}

void HttpSession::force_close() {
    closing_ = true;
    aborted_ = true;
    asio::error_code ignored;
    client_.socket().cancel(ignored);
    if (upstream_) upstream_->cancel(ignored);
    client_.close();
}

void HttpSession::on_drain() {
    closing_ = true;
    if (idle_) close_idle();
}

void HttpSession::become_idle() {
    idle_ = true;
    idle_since_ = w_.deadlines.now();
    const auto idle = w_.config().timeouts.client_idle;
    if (idle > kParkAfter) arm(TimeoutKind::Park, kParkAfter);
    else arm(TimeoutKind::KeepAlive, idle);
    // Waiting with a buffer and a coroutine is worth it for a client that comes back within
    // moments; but when many connections already wait that way (a burst of clients going quiet),
    // park at once so that memory stays bounded.
    park_now_ = w_.waiting_idle >= kMaxWaitingIdle;
    if (!park_now_) count_waiting(true);
}

void HttpSession::count_waiting(bool on) {
    if (on == waiting_counted_) return;
    waiting_counted_ = on;
    if (on) ++w_.waiting_idle;
    else --w_.waiting_idle;
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
                // The head outgrew the small buffer: move it to a full-size one (which holds any
                // head up to max_header_bytes). The parser keeps offsets, not pointers.
                if (in_.capacity() < w_.large_buffers.buffer_size()) in_.borrow(w_.large_buffers);
                else in_.compact();
            }
        }
        if (in_.empty() && idle_ && park_now_ && !client_.has_buffered()) {
            park_now_ = false;
            co_return HeadStatus::Parked;
        }
        if (in_.capacity() == 0) in_.borrow(w_.small_buffers);
        asio::error_code ec;
        std::size_t n = 0;
        if (fired_ != TimeoutKind::None || closing_) {
            // A deadline or a shutdown came while no read was pending to cancel: act on it now.
            ec = asio::error::operation_aborted;
        } else {
            std::tie(ec, n) = co_await client_.read_some(in_.write_ptr(), in_.write_space(), !in_.empty());
        }
        count_waiting(false);
        if (ec && fired_ == TimeoutKind::Park && !closing_) co_return HeadStatus::Parked;
        if (ec || n == 0) {
            if (fired_ == TimeoutKind::RequestHead && !in_.empty()) {
                co_await reject(408, ResponseFlag::RequestTimeout);
            }
            co_return HeadStatus::Closed;
        }
        in_.commit(n);
    }
}

// An idle keep-alive connection returns its buffer, and its coroutine ends: while parked the
// connection costs only this object and one pending wait. Readability resumes it; the keep-alive
// deadline, a shutdown or an eviction cancels the wait and closes it.
void HttpSession::park() {
    in_.release_if_empty();
    client_.release_idle_buffers();
    const auto idle = w_.config().timeouts.client_idle;
    // The keep-alive time left (a connection parked at once still has nearly all of it).
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(w_.deadlines.now() - idle_since_);
    arm(TimeoutKind::KeepAlive, idle > waited ? idle - waited : std::chrono::milliseconds(1));
    wait_readable();
}

void HttpSession::wait_readable() {
    client_.socket().async_wait(asio::socket_base::wait_read, [this](const asio::error_code& ec) {
        if (ec || closing_) {
            // 408 is not sent for a connection that never sent a byte (like HAProxy's default).
            client_.close();
            delete this;
            return;
        }
        resume();
    });
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
        if (in_.write_space() < pending_.size()) in_.borrow(w_.large_buffers);
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
    if (client_.tls() && !handshaken_ && !co_await handshake()) {
        disarm();
        client_.close();
        finished_ = true;
        co_return;
    }
    for (;;) {
        const HeadStatus hs = co_await read_head();
        if (hs == HeadStatus::Parked) {
            park();
            co_return;
        }
        if (hs != HeadStatus::Ready) break;
        idle_ = false;
        ctx_->input_used = ctx_->req.head_size;
        ctx_->bytes_in = ctx_->req.head_size;
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
    finished_ = true;
}

// Closing right after an error reply while request bytes are still unread would make the kernel
// send RST, which can destroy the reply before the client reads it. Half-close, then drain what
// the client still sends for a short, bounded time.
net::awaitable<void> HttpSession::linger_close() {
    asio::error_code ec;
    upstream_ = nullptr;
    if (client_.socket().is_open() && linger_ && fired_ == TimeoutKind::None) {
        client_.shutdown_send(ec);
        if (!ec) {
            arm(TimeoutKind::ClientBody, std::chrono::milliseconds(1000));
            char sink[4096];
            for (int i = 0; i < 64; ++i) {
                // These reads continue the request: re-arm after a drained read (net::rearm_read).
                auto [rec, n] = co_await client_.read_some(sink, sizeof sink, true);
                if (rec || n == 0) break;
            }
        }
    }
    disarm();
    if (client_.tls() && handshaken_ && !linger_) client_.tls()->close_notify();
    client_.close();
}

} // namespace haven::proxy
