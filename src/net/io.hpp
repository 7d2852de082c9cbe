// Shared vocabulary for coroutine I/O: awaitables that report errors as values (hot-path errors
// are error_codes, never exceptions), and the buffer-sequence type for gather writes.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include <array>
#include <cstddef>
#include <string_view>

namespace haven::net {

template <typename T = void>
using awaitable = asio::awaitable<T>;

// `auto [ec, n] = co_await sock.async_read_some(buf, use_nothrow);`
inline constexpr auto use_nothrow = asio::experimental::as_tuple(asio::use_awaitable);

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

private:
    std::array<asio::const_buffer, N> b_{};
    std::size_t n_ = 0;
};

} // namespace haven::net
