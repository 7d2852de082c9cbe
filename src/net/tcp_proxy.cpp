#include "net/tcp_proxy.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/write.hpp>

namespace haven::net {
namespace {

void end_both(asio::ip::tcp::socket& x, asio::ip::tcp::socket& y) {
    asio::error_code ignored;
    x.cancel(ignored);
    y.cancel(ignored);
    x.close(ignored);
    y.close(ignored);
}

awaitable<std::uint64_t> pump(asio::ip::tcp::socket& from, asio::ip::tcp::socket& to, char* buf, std::size_t size,
                              const std::function<void()>& on_progress) {
    std::uint64_t total = 0;
    for (;;) {
        // Plain reads: every relay read continues a stream, so skipping first attempts would save
        // nothing (see read_buffer.hpp), and a reset must end the relay at once.
        auto [ec, n] = co_await from.async_read_some(asio::buffer(buf, size), use_nothrow);
        if (!ec && n == 0) ec = asio::error::eof;
        if (ec == asio::error::eof) {
            asio::error_code ignored;
            to.shutdown(asio::socket_base::shutdown_send, ignored);
            co_return total;
        }
        if (ec) {
            end_both(from, to);
            co_return total;
        }
        if (on_progress) on_progress();
        auto [wec, wn] = co_await asio::async_write(to, asio::buffer(buf, n), use_nothrow);
        total += wn;
        if (wec) {
            end_both(from, to);
            co_return total;
        }
    }
}

} // namespace

awaitable<RelayResult> relay(asio::ip::tcp::socket& a, asio::ip::tcp::socket& b, char* buf_ab, char* buf_ba,
                             std::size_t size, const std::function<void()>& on_progress) {
    using namespace asio::experimental::awaitable_operators;
    auto [ab, ba] = co_await (pump(a, b, buf_ab, size, on_progress) && pump(b, a, buf_ba, size, on_progress));
    co_return RelayResult{ab, ba};
}

} // namespace haven::net
