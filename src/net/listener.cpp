#include "net/listener.hpp"

#include <asio/detail/socket_option.hpp>

#include <sys/socket.h>

#include <system_error>

namespace haven::net {

asio::ip::tcp::acceptor open_listener(asio::io_context& io, const asio::ip::tcp::endpoint& ep, int backlog) {
    asio::ip::tcp::acceptor a(io);
    asio::error_code ec;
    a.open(ep.protocol(), ec);
    if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) a.set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true), ec);
    if (!ec) a.bind(ep, ec);
    if (!ec) a.listen(backlog, ec);
    if (ec) {
        throw std::system_error(ec, "cannot listen on " + ep.address().to_string() + ":" + std::to_string(ep.port()));
    }
    return a;
}

} // namespace haven::net
