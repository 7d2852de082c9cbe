#include "proxy/acceptor.hpp"

#include "core/log_exception.hpp"
#include "net/socket_options.hpp"
#include "proxy/http_session.hpp"
#include "proxy/tcp_session.hpp"
#include "proxy/worker_context.hpp"

#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

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

} // namespace

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
        const auto& listener = w.snapshot().listeners[slot];
        if (!listener || !admit(w)) {
            asio::error_code ignored;
            sock.close(ignored);
            continue;
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
}

} // namespace haven::proxy
