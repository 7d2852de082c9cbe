#include "net/io.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>

namespace haven::net {

std::size_t send_some_now(asio::ip::tcp::socket& s, const asio::const_buffer* bufs, std::size_t count,
                          asio::error_code& ec) {
    iovec iov[64];
    const std::size_t n = count < 64 ? count : 64;
    for (std::size_t i = 0; i < n; ++i) {
        iov[i].iov_base = const_cast<void*>(bufs[i].data());
        iov[i].iov_len = bufs[i].size();
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = n;
    for (;;) {
        const ssize_t r = ::sendmsg(s.native_handle(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (r >= 0) return static_cast<std::size_t>(r);
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) ec = asio::error_code(errno, asio::error::get_system_category());
        return 0;
    }
}

} // namespace haven::net
