#include "proxy/tcp_session.hpp"

#include "net/address.hpp"
#include "net/socket_options.hpp"
#include "net/tcp_proxy.hpp"
#include "net/tls/channel.hpp"
#include "net/tls/client_context.hpp"
#include "net/tls/server_context.hpp"
#include "proxy/access_log.hpp"

#include <asio/steady_timer.hpp>

namespace haven::proxy {

TcpSession::TcpSession(WorkerContext& w, asio::ip::tcp::socket sock, std::uint32_t listener)
    : w_(w), client_(std::move(sock)), server_(asio::ip::tcp::socket(w.io.get_executor())), listener_(listener),
      metrics_(w.snapshot().listeners[listener]->metrics.get()) {
    metrics_->counters.at(w_.index).connections.inc();
    slot = listener;
    asio::error_code ec;
    const auto peer = client_.socket().remote_endpoint(ec);
    client_ip_ = ec ? std::string() : net::ip_text(peer);
    deadline_.owner = this;
    deadline_.on_expire = &TcpSession::on_deadline;
    w_.deadlines.add(deadline_);
    w_.add_session(this);
}

TcpSession::~TcpSession() {
    w_.deadlines.remove(deadline_);
    w_.remove_session(this);
}

// A TLS listener's handshake, within timeouts.request_headers (as on http listeners).
net::awaitable<bool> TcpSession::handshake() {
    const auto& l = w_.snapshot().listeners[listener_];
    SSL* ssl = l->tls->new_ssl();
    if (!ssl) co_return false;
    client_.set_tls(std::make_unique<net::tls::Channel>(ssl, client_.socket().native_handle(), l->tls));
    w_.deadlines.set(deadline_, w_.config().timeouts.request_headers);
    auto& tls = *client_.tls();
    const auto ec = co_await tls.handshake(client_.socket());
    w_.deadlines.clear(deadline_);
    metrics_->counters.at(w_.index).handshakes[static_cast<std::size_t>(tls.outcome())].inc();
    timed_out_ = false;
    co_return !ec;
}

// TLS to a server of a pool with `tls:`; counted in haven_upstream_tls_handshakes_total.
net::awaitable<bool> TcpSession::upstream_handshake(const std::shared_ptr<const net::tls::ClientContext>& tls,
                                                    const std::string& host) {
    auto channel = net::tls::client_channel(tls, server_.socket().native_handle(), host);
    if (!channel) co_return false;
    auto& ch = *channel;
    server_.set_tls(std::move(channel));
    const auto ec = co_await ch.handshake(server_.socket());
    w_.stats.upstream_tls[static_cast<std::size_t>(ch.outcome())].inc();
    co_return !ec;
}

net::awaitable<void> TcpSession::serve(WorkerContext& w, asio::ip::tcp::socket sock, std::uint32_t listener) {
    TcpSession session(w, std::move(sock), listener);
    co_await session.run();
}

void TcpSession::force_close() {
    client_.close();
    server_.close();
}

// on_marked_down: shutdown_sessions — the server this relay goes to is down or lost its role
// (docs/database-ha.md): end the relay now so no client keeps writing to a demoted primary.
void TcpSession::on_servers_shut(const upstream::PoolRuntime& pool) {
    if (pool_ != &pool) return;
    const auto& shut = pool.hosts().shut;
    if (host_ >= shut.size() || !shut[host_]) return;
    flag_ = ResponseFlag::ServerShutdown;
    shut_ = true;
    force_close();
}

void TcpSession::on_deadline(Deadline* d) {
    auto* s = static_cast<TcpSession*>(d->owner);
    s->timed_out_ = true;
    asio::error_code ignored;
    s->client_.socket().cancel(ignored);
    s->server_.socket().cancel(ignored);
}

upstream::HostIndex TcpSession::pick_now(upstream::PoolRuntime& pool, const upstream::PickRequest& pr) {
    const auto h = pool.pick(pr);
    return h != upstream::kNoHost ? h : pool.fallback(pr.exclude); // as the http pick stage does
}

// The first attempt found nothing at all to pick. A pool with `role:` then holds the new
// connection while no server takes one — a switchover, a split brain being fenced — for up to
// its queue.timeout (default timeouts.connect), as HAProxy's queue does, instead of closing it at
// once (docs/database-ha.md). Checked every 50 ms. Other pools close it at once.
net::awaitable<upstream::HostIndex> TcpSession::wait_for_server(upstream::PoolRuntime& pool,
                                                                const upstream::PickRequest& pr) {
    upstream::HostIndex h = upstream::kNoHost;
    const auto* cfg = w_.config().find_pool(pool.hosts().name);
    if (!cfg || cfg->role == config::PoolRole::Any) co_return h;
    const Duration queue = pool.hosts().queue_timeout;
    const Duration wait = queue.count() > 0 ? queue : std::chrono::duration_cast<Duration>(w_.config().timeouts.connect);
    const TimePoint until = w_.scheduler.now() + wait;
    asio::steady_timer timer(w_.io);
    while (h == upstream::kNoHost && w_.scheduler.now() < until && client_.socket().is_open()) {
        timer.expires_after(std::chrono::milliseconds(50));
        co_await timer.async_wait(net::use_nothrow);
        h = pick_now(pool, pr);
    }
    co_return h;
}

// Tries servers until one accepts the connection: every server at most once, at most 3 attempts.
net::awaitable<bool> TcpSession::connect_upstream(upstream::PoolRuntime& pool) {
    std::array<upstream::HostIndex, 3> tried{};
    const std::string& source = client_ip_;
    for (attempts_ = 0; attempts_ < tried.size();) {
        upstream::PickRequest pr;
        pr.exclude = std::span<const upstream::HostIndex>(tried.data(), attempts_);
        if (pool.hosts().balance == config::Balance::Hash && !source.empty()) {
            pr.hash = upstream::hash_key(source);
            pr.has_hash = true;
        }
        host_ = pick_now(pool, pr);
        if (host_ == upstream::kNoHost && attempts_ == 0) host_ = co_await wait_for_server(pool, pr);
        if (host_ == upstream::kNoHost) {
            if (attempts_ == 0) flag_ = ResponseFlag::NoHealthyServer;
            co_return false;
        }
        tried[attempts_++] = host_;
        const auto& info = pool.hosts().hosts[host_];
        if (!tried_.empty()) tried_ += ',';
        tried_ += info.name;
        server_ = net::Stream(asio::ip::tcp::socket(w_.io.get_executor()));
        w_.deadlines.set(deadline_, w_.config().timeouts.connect);
        timed_out_ = false;
        w_.stats.upstream_connects.inc();
        auto* rt = pool.acquire(host_);
        auto [cec] = co_await server_.socket().async_connect(info.endpoint, net::use_nothrow);
        // The pool's tls: the handshake runs within the same timeouts.connect.
        const bool tls_failed = !cec && pool.hosts().tls && !co_await upstream_handshake(pool.hosts().tls, info.tls_name);
        const bool failed = cec || tls_failed;
        if (rt->info) {
            if (failed) rt->info->signals->on_failure();
            else rt->info->signals->on_success();
        }
        if (cec && !timed_out_ && net::is_refusal(cec)) pool.on_refused(rt);
        pool.release(rt);
        if (!failed) co_return true;
        flag_ = timed_out_    ? ResponseFlag::UpstreamConnectTimeout
                : tls_failed ? ResponseFlag::UpstreamTls
                             : ResponseFlag::UpstreamConnectFailure;
    }
    co_return false;
}

net::awaitable<void> TcpSession::run() {
    w_.stats.connections_active.inc();
    const auto start = w_.scheduler.now();
    const std::int64_t start_wall = wall_time_us();
    const auto& listener = w_.snapshot().listeners[listener_];
    std::uint32_t pool_index = listener ? listener->router.match(http::RequestHead{}) : kNoPool;
    net::RelayResult moved;
    if (listener && listener->tls && !co_await handshake()) {
        flag_ = ResponseFlag::TlsHandshake;
        pool_index = kNoPool;
    }
    upstream::PoolRuntime* pool = pool_index == kNoPool ? nullptr : &w_.pool(pool_index);
    if (pool) pool->hold(); // kept alive across a reload until this connection ends
    if (pool && co_await connect_upstream(*pool)) {
        flag_ = ResponseFlag::None;
        net::set_stream_options(server_.socket()); // client_ inherited the listener's options
        auto* rt = pool->acquire(host_);
        pool_ = pool;
        const auto idle = w_.config().timeouts.client_idle;
        w_.deadlines.set(deadline_, idle);
        char* ab = w_.buffers.acquire();
        char* ba = w_.buffers.acquire();
        moved = co_await net::relay(client_, server_, ab, ba, w_.buffers.buffer_size(),
                                    [this, idle] { w_.deadlines.set(deadline_, idle); });
        w_.buffers.release(ab);
        w_.buffers.release(ba);
        pool->release(rt);
        pool_ = nullptr;
        if (timed_out_ && !shut_) flag_ = ResponseFlag::ClientTimeout;
    } else if (!pool && flag_ == ResponseFlag::None) {
        flag_ = ResponseFlag::NoRoute;
    }
    client_.close();
    server_.close();
    if (pool) pool->drop();
    w_.stats.flags[static_cast<std::size_t>(flag_)].inc();
    if (w_.access_log) {
        AccessRecord r;
        r.time_us = start_wall;
        r.duration_us = static_cast<std::uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(w_.scheduler.now() - start).count());
        r.flag = flag_;
        r.attempts = attempts_;
        r.bytes_in = moved.a_to_b;
        r.bytes_out = moved.b_to_a;
        r.client.set(client_ip_);
        r.method.set("TCP");
        r.listener.set(metrics_->name);
        if (const auto* tls = client_.tls(); tls && flag_ != ResponseFlag::TlsHandshake) {
            r.tls_version.set(tls->version());
            r.tls_cipher.set(tls->cipher());
        }
        if (pool) {
            r.pool.set(pool->hosts().name);
            if (host_ < pool->hosts().hosts.size()) r.server.set(pool->hosts().hosts[host_].name);
        }
        r.tried.set(tried_);
        if (!w_.access_log->try_push(r)) w_.stats.access_log_dropped.inc();
    }
    w_.stats.connections_active.dec();
    w_.shared.connections.fetch_sub(1, std::memory_order_relaxed);
}

} // namespace haven::proxy
