// Socket options haven sets, in one place.
#pragma once

#include <asio/ip/tcp.hpp>

namespace haven::net {

// Client and server connections: no Nagle delay (heads and bodies are written whole).
void set_stream_options(asio::ip::tcp::socket& s);

// True when an idle pooled connection is still usable: the server has neither closed it nor sent
// anything unasked. One non-blocking recv(MSG_PEEK); used before sending a request that must not
// be retried (non-idempotent) on a reused connection.
bool still_usable(asio::ip::tcp::socket& s);

} // namespace haven::net
