#include "net/listener.hpp"

#include "net/address.hpp"
#include "net/socket_options.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace haven::net {
namespace {

// 0, or the errno of a bind of `ep` without SO_REUSEPORT (EADDRINUSE: another socket listens).
int probe_exclusive(const asio::ip::tcp::endpoint& ep) {
    const int fd = ::socket(ep.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) return errno;
    const int one = 1;
    int err = 0;
    // SO_REUSEADDR only skips connections of an earlier run still in TIME_WAIT; it never lets a
    // second socket bind a port that one listens on.
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        ::bind(fd, ep.data(), static_cast<socklen_t>(ep.size())) != 0) {
        err = errno;
    }
    ::close(fd);
    return err;
}

int open_one(const asio::ip::tcp::endpoint& ep, int backlog) {
    const int fd = ::socket(ep.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) return -errno;
    const int one = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        ::bind(fd, ep.data(), static_cast<socklen_t>(ep.size())) != 0 || ::listen(fd, backlog) != 0) {
        const int err = errno;
        ::close(fd);
        return -err;
    }
    set_listener_stream_options(fd);
    return fd;
}

} // namespace

asio::ip::tcp::acceptor open_listener(asio::io_context& io, const asio::ip::tcp::endpoint& ep, int backlog) {
    asio::ip::tcp::acceptor a(io);
    asio::error_code ec;
    a.open(ep.protocol(), ec);
    if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) a.bind(ep, ec);
    if (!ec) a.listen(backlog, ec);
    if (ec) throw std::system_error(ec, "cannot listen on " + endpoint_text(ep));
    return a;
}

std::vector<int> open_listen_fds(asio::ip::tcp::endpoint& ep, std::size_t count, int backlog, bool shared_ok) {
    if (!shared_ok && ep.port() != 0) {
        if (const int err = probe_exclusive(ep)) {
            const char* who = err == EADDRINUSE ? " (another process listens there)" : "";
            throw std::system_error(err, std::system_category(), "cannot listen on " + endpoint_text(ep) + who);
        }
    }
    std::vector<int> fds;
    for (std::size_t i = 0; i < count; ++i) {
        const int fd = open_one(ep, backlog);
        if (fd < 0) {
            close_fds(fds);
            throw std::system_error(-fd, std::system_category(), "cannot listen on " + endpoint_text(ep));
        }
        if (ep.port() == 0) {
            asio::ip::tcp::endpoint bound;
            socklen_t len = static_cast<socklen_t>(bound.capacity());
            ::getsockname(fd, bound.data(), &len);
            bound.resize(len);
            ep.port(bound.port());
        }
        fds.push_back(fd);
    }
    return fds;
}

void close_fds(const std::vector<int>& fds) {
    for (int fd : fds) ::close(fd);
}

} // namespace haven::net
