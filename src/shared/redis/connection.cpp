#include "shared/redis/connection.hpp"

#include "core/log_exception.hpp"
#include "net/io.hpp"

#include <asio/async_result.hpp>
#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

namespace haven::shared {
namespace redis_connection_detail {

std::optional<asio::ip::tcp::endpoint> endpoint_of(const RedisAddress& a) {
    asio::error_code ec;
    const auto addr = asio::ip::make_address(a.host == "localhost" ? "127.0.0.1" : a.host, ec);
    if (ec) return std::nullopt;
    return asio::ip::tcp::endpoint(addr, a.port);
}

// now + bound, saturating: a bound of Duration::max() means "no deadline", not an overflow.
TimePoint deadline_after(TimePoint now, Duration bound) {
    if (bound <= Duration::zero()) return now;
    if (bound >= TimePoint::max() - now) return TimePoint::max();
    return now + std::chrono::duration_cast<TimePoint::duration>(bound);
}

// A peer that vanishes without a FIN or RST (a partition, a powered-off host) would otherwise keep
// a connection "up" for ever: the pub/sub connection is idle by nature, and timeouts alone never
// close the command connection. Keepalive probes catch the idle case (dead after about 11 s),
// TCP_USER_TIMEOUT bytes written and never acknowledged (10 s). A busy server still acknowledges
// at the TCP level, so neither closes a connection to a slow but living Redis.
void tune_socket(asio::ip::tcp::socket& s) {
    asio::error_code ignored;
    s.set_option(asio::ip::tcp::no_delay(true), ignored); // commands are small and pipelined
    s.set_option(asio::socket_base::keep_alive(true), ignored);
    const int fd = s.native_handle();
    const int idle_s = 5, interval_s = 2, probes = 3, unacked_ms = 10'000;
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval_s, sizeof interval_s);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes);
    ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &unacked_ms, sizeof unacked_ms);
}

// redis_await's initiation: named, so that no lambda type lands in Asio's coroutine frame.
struct AwaitStart {
    template <typename Handler>
    void operator()(Handler handler, std::function<void(RedisConnection::Done)> start) const {
        // Shared: the coroutine's handler is move-only, a std::function must be copyable.
        auto resume = std::make_shared<Handler>(std::move(handler));
        start([resume](RedisResult r) {
            auto ex = asio::get_associated_executor(*resume);
            asio::post(ex, [resume, r = std::move(r)]() mutable { (*resume)(std::move(r)); });
        });
    }
};

} // namespace redis_connection_detail

RedisConnection::RedisConnection(asio::io_context& io) : io_(io), socket_(io), timer_(io) {}

asio::awaitable<bool> RedisConnection::connect(RedisAddress to, Duration timeout) {
    auto self = shared_from_this();
    address_ = std::move(to);
    const auto target = redis_connection_detail::endpoint_of(address_);
    if (!target) {
        fail("not an IP address: " + address_.host);
        co_return false;
    }
    if (closed_) co_return false;
    // The watchdog closes the socket, which ends the connect attempt with operation_aborted.
    asio::steady_timer watchdog(io_);
    watchdog.expires_after(timeout);
    watchdog.async_wait([weak = weak_from_this()](const asio::error_code& ec) {
        if (auto c = weak.lock(); c && !ec && !c->open_) c->fail("connect timeout");
    });
    auto [ec] = co_await socket_.async_connect(*target, net::use_nothrow);
    watchdog.cancel();
    if (closed_) co_return false;
    if (ec) {
        fail("connect: " + ec.message());
        co_return false;
    }
    redis_connection_detail::tune_socket(socket_);
    open_ = true;
    asio::co_spawn(io_, read_loop(self), [](std::exception_ptr e) { log_exception(e, "redis connection"); });
    co_return true;
}

bool RedisConnection::command(const std::vector<std::string>& argv, Duration bound, Done& done) {
    if (!open_ || pending_.size() >= RedisClient::kMaxPending) return false;
    if (!redis_append_command(out_, argv)) return false;
    const TimePoint deadline = redis_connection_detail::deadline_after(SystemClock::instance().now(), bound);
    pending_.push_back(Pending{std::move(done), deadline});
    arm(deadline);
    flush();
    return true;
}

bool RedisConnection::send_raw(const std::vector<std::string>& argv) {
    if (!open_ || !redis_append_command(out_, argv)) return false;
    flush();
    return true;
}

void RedisConnection::close() {
    if (closed_) return;
    closed_ = true;
    open_ = false;
    asio::error_code ignored;
    socket_.close(ignored);
    timer_.cancel();
    // Taken out first: a `done` may send again (refused now) or close the client.
    auto pending = std::exchange(pending_, {});
    auto on_closed = std::exchange(on_closed_, nullptr);
    for (auto& p : pending) {
        if (p.done) p.done(RedisResult{RedisStatus::Closed, {}});
    }
    if (on_closed) on_closed();
}

void RedisConnection::fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    close();
}

asio::awaitable<void> RedisConnection::read_loop(std::shared_ptr<RedisConnection> self) {
    std::array<char, 16 * 1024> buf;
    while (self->open_) {
        auto [ec, n] = co_await self->socket_.async_read_some(asio::buffer(buf), net::use_nothrow);
        if (!self->open_) break;
        if (ec) {
            self->fail(ec == asio::error::eof ? "closed by the server" : "read: " + ec.message());
            break;
        }
        if (!self->reader_.feed(buf.data(), n) || !self->deliver_all()) {
            self->fail("protocol error");
            break;
        }
    }
}

// Hands out every complete answer read so far. False when the stream cannot be trusted any more.
bool RedisConnection::deliver_all() {
    RedisReply reply;
    while (open_) {
        const auto next = reader_.next(reply);
        if (next == RedisReplyReader::Next::NeedMore) return true;
        if (next == RedisReplyReader::Next::ProtocolError) return false;
        // An answer that no command awaits, outside push mode, means the pairing is lost.
        if (pending_.empty() && !on_push_) return false;
        deliver(std::move(reply));
    }
    return true;
}

void RedisConnection::deliver(RedisReply reply) {
    if (pending_.empty()) {
        on_push_(reply);
        return;
    }
    Pending p = std::move(pending_.front());
    pending_.pop_front();
    const bool error = reply.type == RedisReply::Type::Error;
    // Even a late (dropped) -READONLY says the server is no master any more.
    if (error && on_error_reply_) on_error_reply_(reply);
    if (!p.done) return;
    if (error && counters_ != nullptr) ++counters_->errors;
    p.done(RedisResult{error ? RedisStatus::ServerError : RedisStatus::Ok, std::move(reply)});
}

void RedisConnection::flush() {
    if (write_in_flight_ || out_.empty() || !open_) return;
    write_in_flight_ = true;
    writing_.swap(out_);
    out_.clear();
    asio::async_write(socket_, asio::buffer(writing_),
                      [self = shared_from_this()](const asio::error_code& ec, std::size_t) {
                          self->write_in_flight_ = false;
                          self->writing_.clear();
                          if (ec) return self->fail("write: " + ec.message());
                          self->flush(); // what was queued meanwhile, as one write
                      });
}

// One timer per connection, at the earliest deadline: commands usually share a bound, so their
// deadlines arrive in order and the timer is re-armed about once per bound, not per command.
void RedisConnection::arm(TimePoint at) {
    if (at >= armed_at_ || !open_) return;
    armed_at_ = at;
    timer_.expires_at(at);
    timer_.async_wait([weak = weak_from_this()](const asio::error_code& ec) {
        if (ec) return; // re-armed earlier, or closed
        if (auto c = weak.lock()) c->expire();
    });
}

void RedisConnection::expire() {
    armed_at_ = TimePoint::max();
    if (!open_) return;
    const TimePoint now = SystemClock::instance().now();
    std::vector<Done> due;
    TimePoint next = TimePoint::max();
    for (auto& p : pending_) {
        if (!p.done) continue;
        if (p.deadline <= now) {
            due.push_back(std::move(p.done));
            p.done = nullptr; // the slot stays: its answer will come and be dropped
        } else {
            next = std::min(next, p.deadline);
        }
    }
    arm(next);
    for (auto& d : due) {
        if (counters_ != nullptr) ++counters_->timeouts;
        d(RedisResult{RedisStatus::Timeout, {}});
    }
}

asio::awaitable<RedisResult> redis_await(std::function<void(RedisConnection::Done)> start) {
    return asio::async_initiate<decltype(asio::use_awaitable), void(RedisResult)>(
        redis_connection_detail::AwaitStart{}, asio::use_awaitable, std::move(start));
}

asio::awaitable<RedisResult> redis_call(std::shared_ptr<RedisConnection> c, std::vector<std::string> argv,
                                        Duration bound) {
    std::function<void(RedisConnection::Done)> start = [&](RedisConnection::Done done) {
        if (!c->command(argv, bound, done)) done(RedisResult{RedisStatus::NotConnected, {}});
    };
    co_return co_await redis_await(std::move(start));
}

} // namespace haven::shared
