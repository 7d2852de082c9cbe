// Stream: a connected TCP socket that may speak TLS. The request path reads and writes through
// it; a plain stream takes exactly the path it took before TLS existed (the same inline
// sendmsg, the same drained-socket reads), at the cost of one branch.
#pragma once

#include "net/io.hpp"

#include <asio/ip/tcp.hpp>

#include <memory>
#include <tuple>

namespace haven::net {

namespace tls {
class Channel;
}

class Stream {
public:
    explicit Stream(asio::ip::tcp::socket s);
    ~Stream();
    Stream(Stream&&) noexcept;
    Stream& operator=(Stream&&) noexcept;

    asio::ip::tcp::socket& socket() { return sock_; }
    tls::Channel* tls() const { return tls_.get(); }
    void set_tls(std::unique_ptr<tls::Channel> c);

    // Reads into [data, data + size). `continues`: the read continues a message already started
    // (plain sockets then re-arm first when drained, see net::rearm_read; TLS handles it inside).
    awaitable<std::tuple<asio::error_code, std::size_t>> read_some(void* data, std::size_t size, bool continues);
    // The plain socket's last read reported it drained.
    bool& drained() { return drained_; }

    // As net::send_now / send_rest / send_all (io.hpp).
    template <std::size_t N>
    bool send_now(GatherList<N>& bufs, asio::error_code& ec, std::size_t& sent) {
        if (!tls_) return net::send_now(sock_, bufs, ec, sent);
        sent = bufs.bytes();
        const bool done = tls_send_now(bufs.begin(), bufs.count(), ec);
        bufs.clear();
        return done;
    }
    template <std::size_t N>
    awaitable<std::pair<asio::error_code, std::size_t>> send_rest(GatherList<N>& bufs) {
        if (!tls_) return net::send_rest(sock_, bufs);
        return tls_flush();
    }
    template <std::size_t N>
    awaitable<std::pair<asio::error_code, std::size_t>> send_all(GatherList<N>& bufs) {
        if (!tls_) return net::send_all(sock_, bufs);
        return tls_send_all(bufs.begin(), bufs.count());
    }

    // No more bytes to send: close_notify (TLS) and a TCP half-close.
    void shutdown_send(asio::error_code& ec);
    // Bytes already received that a read would return without the socket (TLS only).
    bool has_buffered() const;
    // Gives idle buffers back (TLS only).
    void release_idle_buffers();
    void close();

private:
    bool tls_send_now(const asio::const_buffer* bufs, std::size_t count, asio::error_code& ec);
    awaitable<std::pair<asio::error_code, std::size_t>> tls_flush();
    awaitable<std::pair<asio::error_code, std::size_t>> tls_send_all(const asio::const_buffer* bufs, std::size_t count);

    asio::ip::tcp::socket sock_;
    std::unique_ptr<tls::Channel> tls_;
    bool drained_ = false;
};

} // namespace haven::net
