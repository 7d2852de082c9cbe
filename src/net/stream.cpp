#include "net/stream.hpp"

#include "net/tls/channel.hpp"

namespace haven::net {

Stream::Stream(asio::ip::tcp::socket s) : sock_(std::move(s)) {}
Stream::~Stream() = default;
Stream::Stream(Stream&&) noexcept = default;
Stream& Stream::operator=(Stream&&) noexcept = default;

void Stream::set_tls(std::unique_ptr<tls::Channel> c) { tls_ = std::move(c); }

awaitable<std::tuple<asio::error_code, std::size_t>> Stream::read_some(void* data, std::size_t size, bool continues) {
    if (tls_) return tls_->read_some(sock_, data, size, continues);
    if (!(continues && drained_)) return sock_.async_read_some(ReadBuffer(data, size, &drained_), use_nothrow);
    return [](Stream& self, void* d, std::size_t n) -> awaitable<std::tuple<asio::error_code, std::size_t>> {
        auto [ec] = co_await rearm_read(self.sock_);
        if (ec) co_return std::tuple{ec, std::size_t{0}};
        co_return co_await self.sock_.async_read_some(ReadBuffer(d, n, &self.drained_), use_nothrow);
    }(*this, data, size);
}

bool Stream::tls_send_now(const asio::const_buffer* bufs, std::size_t count, asio::error_code& ec) {
    return tls_->send_now(bufs, count, ec);
}

awaitable<std::pair<asio::error_code, std::size_t>> Stream::tls_flush() {
    const auto ec = co_await tls_->flush(sock_);
    co_return std::pair{ec, std::size_t{0}};
}

awaitable<std::pair<asio::error_code, std::size_t>> Stream::tls_send_all(const asio::const_buffer* bufs,
                                                                         std::size_t count) {
    std::size_t total = 0;
    for (std::size_t i = 0; i < count; ++i) total += bufs[i].size();
    asio::error_code ec;
    if (!tls_->send_now(bufs, count, ec)) ec = co_await tls_->flush(sock_);
    co_return std::pair{ec, ec ? std::size_t{0} : total};
}

void Stream::shutdown_send(asio::error_code& ec) {
    if (tls_) tls_->close_notify();
    sock_.shutdown(asio::socket_base::shutdown_send, ec);
}

bool Stream::has_buffered() const { return tls_ && tls_->has_buffered(); }

void Stream::release_idle_buffers() {
    if (tls_) tls_->release_idle_buffer();
}

void Stream::close() {
    asio::error_code ignored;
    sock_.close(ignored);
}

} // namespace haven::net
