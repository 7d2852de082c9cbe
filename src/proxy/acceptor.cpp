#include "proxy/acceptor.hpp"

#include "core/log_exception.hpp"
#include "net/socket_options.hpp"
#include "proxy/http_session.hpp"
#include "proxy/tcp_session.hpp"
#include "proxy/worker_context.hpp"

#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <optional>

namespace haven::proxy {
namespace {

// Whether a new connection may be admitted (making room if needed).
bool admit(WorkerContext& w) {
    const std::uint32_t open = w.shared.connections.fetch_add(1, std::memory_order_relaxed) + 1;
    if (open <= w.config().limits.max_connections || w.evict_idle_session()) return true;
    w.shared.connections.fetch_sub(1, std::memory_order_relaxed);
    w.stats.connections_rejected.inc();
    return false;
}

// Starts serving an accepted connection as one of listener `slot`'s.
void serve(WorkerContext& w, asio::ip::tcp::socket sock, std::uint32_t slot) {
    const auto& listener = w.snapshot().listeners[slot];
    if (!listener || !admit(w)) {
        asio::error_code ignored;
        sock.close(ignored);
        return;
    }
    w.stats.connections_accepted.inc();
    // No setsockopt here: the socket inherits the listener's options (set_listener_stream_options).
    if (listener->config.mode == config::ListenerMode::Http) {
        HttpSession::start(w, std::move(sock), slot);
    } else {
        asio::co_spawn(w.io, TcpSession::serve(w, std::move(sock), slot),
                       [](std::exception_ptr e) { log_exception(e, "tcp connection"); });
    }
}

// The slot of the snapshot's listener bound to `at`, or nullopt.
std::optional<std::uint32_t> listener_on(const WorkerContext& w, const asio::ip::tcp::endpoint& at) {
    const auto& listeners = w.snapshot().listeners;
    for (std::uint32_t slot = 0; slot < listeners.size(); ++slot) {
        const auto& l = listeners[slot];
        if (!l || l->config.listen.port != at.port()) continue;
        asio::error_code ec;
        const auto addr = asio::ip::make_address(l->config.listen.host, ec);
        if (!ec && addr == at.address()) return slot;
    }
    return std::nullopt;
}

} // namespace

void take_pending(WorkerContext& w, asio::ip::tcp::acceptor& acceptor) {
    asio::error_code ec;
    const auto at = acceptor.local_endpoint(ec);
    if (ec) return;
    const auto slot = listener_on(w, at);
    acceptor.non_blocking(true, ec);
    for (int taken = 0; !ec && taken < 4096; ++taken) { // at most a full backlog
        asio::ip::tcp::socket sock(w.io);
        acceptor.accept(sock, ec);
        if (ec) break; // would_block: the queue is empty
        if (slot) {
            serve(w, std::move(sock), *slot);
        } else {
            asio::error_code ignored;
            sock.close(ignored);
        }
    }
}

net::awaitable<void> accept_loop(WorkerContext& w, asio::ip::tcp::acceptor& acceptor, std::uint32_t slot) {
    for (;;) {
        auto [ec, sock] = co_await acceptor.async_accept(net::use_nothrow);
        if (ec) {
            if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
            // Out of file descriptors or memory: back off instead of spinning.
            asio::steady_timer pause(w.io, std::chrono::milliseconds(100));
            co_await pause.async_wait(net::use_nothrow);
            continue;
        }
        serve(w, std::move(sock), slot);
    }
}

} // namespace haven::proxy
