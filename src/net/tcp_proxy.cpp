#include "net/tcp_proxy.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/write.hpp>

namespace haven::net {
namespace {

void end_both(Stream& x, Stream& y) {
    asio::error_code ignored;
    x.socket().cancel(ignored);
    y.socket().cancel(ignored);
    x.close();
    y.close();
}

awaitable<std::tuple<asio::error_code, std::size_t>> read_from(Stream& from, char* buf, std::size_t size) {
    // Plain reads: every relay read continues a stream, so skipping first attempts would save
    // nothing (see read_buffer.hpp), and a reset must end the relay at once.
    if (!from.tls()) return from.socket().async_read_some(asio::buffer(buf, size), use_nothrow);
    return from.read_some(buf, size, true);
}

awaitable<std::pair<asio::error_code, std::size_t>> write_to(Stream& to, const char* buf, std::size_t n) {
    if (!to.tls()) {
        auto [ec, wn] = co_await asio::async_write(to.socket(), asio::buffer(buf, n), use_nothrow);
        co_return std::pair{ec, wn};
    }
    GatherList<1> one;
    one.add(std::string_view(buf, n));
    co_return co_await to.send_all(one);
}

awaitable<std::uint64_t> pump(Stream& from, Stream& to, char* buf, std::size_t size,
                              const std::function<void()>& on_progress) {
    std::uint64_t total = 0;
    for (;;) {
        auto [ec, n] = co_await read_from(from, buf, size);
        if (!ec && n == 0) ec = asio::error::eof;
        if (ec == asio::error::eof) {
            asio::error_code ignored;
            to.shutdown_send(ignored);
            co_return total;
        }
        if (ec) {
            end_both(from, to);
            co_return total;
        }
        if (on_progress) on_progress();
        auto [wec, wn] = co_await write_to(to, buf, n);
        total += wn;
        if (wec) {
            end_both(from, to);
            co_return total;
        }
    }
}

} // namespace

awaitable<RelayResult> relay(Stream& a, Stream& b, char* buf_ab, char* buf_ba, std::size_t size,
                             const std::function<void()>& on_progress) {
    using namespace asio::experimental::awaitable_operators;
    auto [ab, ba] = co_await (pump(a, b, buf_ab, size, on_progress) && pump(b, a, buf_ba, size, on_progress));
    co_return RelayResult{ab, ba};
}

} // namespace haven::net
