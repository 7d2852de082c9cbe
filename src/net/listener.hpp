// Listening sockets. Every worker thread has its own socket on each listener address
// (SO_REUSEPORT), so the kernel spreads new connections over the workers and no accept is
// shared or locked.
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <string>

namespace haven::net {

// Opens, binds and listens. Throws std::system_error with a message naming the address.
asio::ip::tcp::acceptor open_listener(asio::io_context& io, const asio::ip::tcp::endpoint& ep, int backlog = 4096);

} // namespace haven::net
