// Shared vocabulary for coroutine I/O: awaitables that report errors as values (hot-path errors
// are error_codes, never exceptions), and the buffer-sequence type for gather writes.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/write.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include "net/read_buffer.hpp"

#include <array>
#include <cstddef>
#include <string_view>

namespace haven::net {

template <typename T = void>
using awaitable = asio::awaitable<T>;

// `auto [ec, n] = co_await sock.async_read_some(buf, use_nothrow);`
inline constexpr auto use_nothrow = asio::experimental::as_tuple(asio::use_awaitable);

// Before a read that continues a message on a socket whose last read reported it drained
// (ReadBuffer's flag): asks epoll again, so that a reset that came with the last bytes is seen
// (read_buffer.hpp explains why). `auto [ec] = co_await rearm_read(sock);`
inline auto rearm_read(asio::ip::tcp::socket& s) {
    return s.async_wait(asio::socket_base::wait_read, use_nothrow);
}

// A fixed-capacity list of buffers for one gather write (sendmsg with an iovec array).
template <std::size_t N>
class GatherList {
public:
    void add(std::string_view s) {
        if (!s.empty() && n_ < N) b_[n_++] = asio::const_buffer(s.data(), s.size());
    }
    void clear() { n_ = 0; }
    std::size_t count() const { return n_; }
    std::size_t bytes() const {
        std::size_t t = 0;
        for (std::size_t i = 0; i < n_; ++i) t += b_[i].size();
        return t;
    }
    const asio::const_buffer* begin() const { return b_.data(); }
    const asio::const_buffer* end() const { return b_.data() + n_; }

    // Drops the first `bytes` bytes (already sent).
    void consume(std::size_t bytes) {
        std::size_t i = 0;
        while (i < n_ && bytes >= b_[i].size()) bytes -= b_[i++].size();
        if (i < n_) b_[i] += bytes;
        for (std::size_t j = i; j < n_; ++j) b_[j - i] = b_[j];
        n_ -= i;
    }

private:
    std::array<asio::const_buffer, N> b_{};
    std::size_t n_ = 0;
};

// One non-blocking sendmsg of as much of `bufs` as fits (at most 64 pieces). Returns the bytes
// sent; `ec` is set only on a real error, not when the socket buffer is full.
std::size_t send_some_now(asio::ip::tcp::socket& s, const asio::const_buffer* bufs, std::size_t count,
                          asio::error_code& ec);

// Sends what the kernel takes now (one non-blocking sendmsg). Returns true when nothing is left
// to send (all sent, or an error, in `ec`); otherwise `bufs` holds the rest, for send_rest().
// The request path calls this inline: when the kernel takes everything — the usual case for
// heads and small bodies — a write costs no coroutine frame, handler or resumption.
template <std::size_t N>
bool send_now(asio::ip::tcp::socket& s, GatherList<N>& bufs, asio::error_code& ec, std::size_t& sent) {
    const std::size_t total = bufs.bytes();
    sent = send_some_now(s, bufs.begin(), bufs.count(), ec);
    if (ec || sent == total) return true;
    bufs.consume(sent);
    return false;
}

// The part send_now() left, asynchronously.
template <std::size_t N>
awaitable<std::pair<asio::error_code, std::size_t>> send_rest(asio::ip::tcp::socket& s, GatherList<N>& bufs) {
    auto [ec, n] = co_await asio::async_write(s, bufs, use_nothrow);
    co_return std::pair{ec, n};
}

// Writes all of `bufs` (send_now, then send_rest if needed). For paths that are not hot.
template <std::size_t N>
awaitable<std::pair<asio::error_code, std::size_t>> send_all(asio::ip::tcp::socket& s, GatherList<N>& bufs) {
    asio::error_code ec;
    std::size_t now = 0;
    if (send_now(s, bufs, ec, now)) co_return std::pair{ec, now};
    auto [wec, n] = co_await asio::async_write(s, bufs, use_nothrow);
    co_return std::pair{wec, now + n};
}

} // namespace haven::net
