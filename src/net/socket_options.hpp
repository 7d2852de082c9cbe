// Socket options haven sets, in one place.
#pragma once

#include <asio/ip/tcp.hpp>

namespace haven::net {

// Server (upstream) connections: no Nagle delay (heads and bodies are written whole), and the
// kernel's queued-bytes hint on reads (TCP_INQ, see read_buffer.hpp).
void set_stream_options(asio::ip::tcp::socket& s);

// The same options on a proxy listener: accepted client connections inherit them, so accepting
// costs no setsockopt.
void set_listener_stream_options(int fd);

// True when an idle pooled connection is still usable: the server has neither closed it nor sent
// anything unasked. One non-blocking recv(MSG_PEEK); used before sending a request that must not
// be retried (non-idempotent) on a reused connection.
bool still_usable(asio::ip::tcp::socket& s);

// A connect error that is definitive, not a guess: the server's host answered that nothing
// listens on the port (ECONNREFUSED), or the network says the host cannot be reached
// (EHOSTUNREACH, ENETUNREACH). A timeout is not: the server may only be slow.
bool is_refusal(const asio::error_code& ec);

} // namespace haven::net
