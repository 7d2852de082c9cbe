#include "net/socket_options.hpp"

#include "net/read_buffer.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <sys/socket.h>

#include <cerrno>

namespace haven::net {

void set_stream_options(asio::ip::tcp::socket& s) {
    asio::error_code ignored;
    s.set_option(asio::ip::tcp::no_delay(true), ignored);
    enable_queue_hint(s.native_handle());
}

void set_listener_stream_options(int fd) {
    const int one = 1;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    enable_queue_hint(fd);
}

bool still_usable(asio::ip::tcp::socket& s) {
    char byte;
    const ssize_t n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

bool is_refusal(const asio::error_code& ec) {
    return ec == asio::error::connection_refused || ec == asio::error::host_unreachable ||
           ec == asio::error::network_unreachable;
}

} // namespace haven::net
