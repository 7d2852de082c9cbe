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

// Before a listener's socket closes (a reload removed, renamed or re-moded it): connections the
// kernel already queued on it would be reset by the close. Takes them now, without waiting, and
// serves them on the listener of the current snapshot on the same address, if there is one
// (otherwise they are closed, as the close would have done).
void take_pending(WorkerContext& w, asio::ip::tcp::acceptor& acceptor);

} // namespace haven::proxy
