// Listening sockets. Every worker thread has its own socket on each listener address
// (SO_REUSEPORT), so the kernel spreads new connections over the workers and no accept is
// shared or locked. Sockets are bound on the control thread (so errors are reported before
// anything changes) and handed to each worker as a file descriptor, which the worker adopts into
// its own event loop.
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <string>
#include <vector>

namespace haven::net {

// One listening socket of its own (no SO_REUSEPORT: a port another process listens on is
// refused, EADDRINUSE). Throws std::system_error with a message naming the address.
asio::ip::tcp::acceptor open_listener(asio::io_context& io, const asio::ip::tcp::endpoint& ep, int backlog = 4096);

// `count` listening sockets on `ep` (SO_REUSEPORT), non-blocking, close-on-exec. When ep's port is
// 0, the first socket picks a port and the others join it; `ep` is updated to the bound address.
// Throws std::system_error naming the address; no descriptor is left open then.
//
// SO_REUSEPORT lets any process of the same user join a port's group and take a share of its
// connections silently, so unless `shared_ok` (the caller holds sockets on `ep` itself, e.g. a
// listener renamed by a reload) the port is first probed with a bind without SO_REUSEPORT: if
// another process listens there, that fails and so does this (the message says so).
std::vector<int> open_listen_fds(asio::ip::tcp::endpoint& ep, std::size_t count, int backlog = 4096,
                                 bool shared_ok = false);

void close_fds(const std::vector<int>& fds);

} // namespace haven::net
