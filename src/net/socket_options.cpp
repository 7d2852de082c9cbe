#include "net/socket_options.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace haven::net {

void set_stream_options(asio::ip::tcp::socket& s) {
    asio::error_code ignored;
    s.set_option(asio::ip::tcp::no_delay(true), ignored);
}

bool still_usable(asio::ip::tcp::socket& s) {
    char byte;
    const ssize_t n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

} // namespace haven::net
