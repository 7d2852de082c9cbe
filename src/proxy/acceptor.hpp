// A worker's accept loop for one listener, and the connection limit it enforces.
#pragma once

#include "net/io.hpp"

#include <asio/ip/tcp.hpp>

#include <cstdint>

namespace haven::proxy {

class WorkerContext;

// Accepts connections until the acceptor is closed. At limits.max_connections the longest-idle
// keep-alive (or header-waiting) connection of this worker is closed to make room; when none is
// idle the new connection is refused (closed at once) rather than left to starve.
net::awaitable<void> accept_loop(WorkerContext& w, asio::ip::tcp::acceptor& acceptor, std::uint32_t slot);

} // namespace haven::proxy
