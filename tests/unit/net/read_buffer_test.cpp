#include "net/read_buffer.hpp"

#include "net/io.hpp"

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <poll.h>
#include <netinet/tcp.h>

#include <chrono>
#include <string>

namespace haven::net {
namespace {

using asio::ip::tcp;

// Waits (bounded) until the kernel has queued the peer's FIN on fd: on loopback, almost at once.
void wait_for_eof_queued(int fd) {
    pollfd p{fd, POLLRDHUP, 0};
    ASSERT_EQ(::poll(&p, 1, 5000), 1) << "the peer's FIN never arrived";
}

// A connected loopback pair: `a` is read from, `b` writes.
struct Pair {
    asio::io_context io;
    tcp::socket a{io}, b{io};
    explicit Pair(bool queue_hint = true) {
        tcp::acceptor acc(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        b.connect(acc.local_endpoint());
        acc.accept(a);
        a.non_blocking(true);
        if (queue_hint) enable_queue_hint(a.native_handle());
    }
    void send(const std::string& s) { asio::write(b, asio::buffer(s)); }
    // Runs the loop until it has no work left; bounded in time.
    void run() {
        io.restart();
        io.run_for(std::chrono::seconds(5));
    }
    // Reads once through the reactor with a ReadBuffer of `size` bytes; bounded in time.
    std::string read_once(std::size_t size) {
        std::string out(size, '\0');
        std::size_t got = 0;
        bool done = false;
        a.async_read_some(ReadBuffer(out.data(), out.size()), [&](asio::error_code ec, std::size_t n) {
            EXPECT_FALSE(ec) << ec.message();
            got = n;
            done = true;
        });
        run();
        EXPECT_TRUE(done) << "the read never completed: a drained socket missed its readiness event";
        out.resize(got);
        return out;
    }
};

// The rule itself, as the kernel reports it: a short read with nothing left reports drained; a
// full read, a short read with a FIN behind it, or a socket without the hint do not.
TEST(ReadBuffer, DrainedOnlyWhenTheKernelSaysNothingIsLeft) {
    Pair p;
    char buf[8];
    asio::error_code ec;
    std::size_t n = 0;
    const int fd = p.a.native_handle();
    EXPECT_EQ(read_reporting_drained(fd, buf, sizeof buf, 0, ec, n), ReadResult::WouldBlock);

    p.send("abc");
    EXPECT_EQ(read_reporting_drained(fd, buf, sizeof buf, 0, ec, n), ReadResult::Drained);
    EXPECT_EQ(std::string(buf, n), "abc");

    p.send("0123456789");
    EXPECT_EQ(read_reporting_drained(fd, buf, sizeof buf, 0, ec, n), ReadResult::Done)
        << "a full buffer says nothing about what is left";
    EXPECT_EQ(std::string(buf, n), "01234567");

    p.b.shutdown(tcp::socket::shutdown_send);
    wait_for_eof_queued(fd);
    EXPECT_EQ(read_reporting_drained(fd, buf, sizeof buf, 0, ec, n), ReadResult::Done)
        << "a FIN is still queued behind the last bytes: the next read must not wait for an event";
    EXPECT_EQ(std::string(buf, n), "89");
    EXPECT_EQ(read_reporting_drained(fd, buf, sizeof buf, 0, ec, n), ReadResult::Done);
    EXPECT_EQ(ec, asio::error::eof);
}

TEST(ReadBuffer, WithoutTheHintAShortReadSaysNothing) {
    Pair p(false);
    char buf[8];
    asio::error_code ec;
    std::size_t n = 0;
    p.send("abc");
    EXPECT_EQ(read_reporting_drained(p.a.native_handle(), buf, sizeof buf, 0, ec, n), ReadResult::Done);
    EXPECT_EQ(n, 3u);
}

#if HAVEN_READ_BUFFER_REPORTS_DRAINED
TEST(ReadBuffer, AsioReceiveUsesTheRule) {
    Pair p;
    using Op = asio::detail::reactive_socket_recv_op_base<ReadBuffer>;
    using asio::detail::reactor_op;
    char buf[8];
    const auto state = asio::detail::socket_ops::stream_oriented | asio::detail::socket_ops::user_set_non_blocking;
    Op nothing_yet(asio::error_code(), p.a.native_handle(), state, ReadBuffer(buf, sizeof buf), 0, nullptr);
    EXPECT_EQ(nothing_yet.perform(), reactor_op::not_done);
    p.send("abc");
    Op short_read(asio::error_code(), p.a.native_handle(), state, ReadBuffer(buf, sizeof buf), 0, nullptr);
    EXPECT_EQ(short_read.perform(), reactor_op::done_and_exhausted);
    p.send("0123456789");
    Op full_read(asio::error_code(), p.a.native_handle(), state, ReadBuffer(buf, sizeof buf), 0, nullptr);
    EXPECT_EQ(full_read.perform(), reactor_op::done);
}
#else
TEST(ReadBuffer, PlainReadsOnThisAsio) {
    GTEST_SKIP() << "Asio is not 1.22.1: ReadBuffer reads like a plain buffer";
}
#endif

// Whatever the flag says, no byte is ever left waiting: data that arrives after a short read,
// before or after the next read starts, completes that read.
TEST(ReadBuffer, DataAfterAShortReadIsStillDelivered) {
    Pair p;
    p.send("first");
    EXPECT_EQ(p.read_once(64), "first");
    p.send("second"); // arrives before the next read starts
    EXPECT_EQ(p.read_once(64), "second");

    std::string out(64, '\0');
    std::size_t got = 0;
    p.a.async_read_some(ReadBuffer(out.data(), out.size()), [&](asio::error_code, std::size_t n) { got = n; });
    p.io.restart();
    p.io.poll(); // the read is now waiting in the reactor
    EXPECT_EQ(got, 0u);
    p.send("third"); // arrives while the read waits
    p.run();
    EXPECT_EQ(std::string(out.data(), got), "third");
}

TEST(ReadBuffer, AFullReadLeavesTheRestForTheNext) {
    Pair p;
    p.send("0123456789");
    EXPECT_EQ(p.read_once(4), "0123");
    EXPECT_EQ(p.read_once(4), "4567");
    EXPECT_EQ(p.read_once(4), "89");
}

// The case a short read alone would get wrong: the last bytes and the FIN arrive before the read,
// so no readiness event follows them; the read after the data must still see end of stream.
TEST(ReadBuffer, EndOfStreamBehindTheLastBytesIsSeen) {
    Pair p;
    p.send("last");
    p.b.shutdown(tcp::socket::shutdown_send);
    wait_for_eof_queued(p.a.native_handle());
    EXPECT_EQ(p.read_once(64), "last");
    char c;
    asio::error_code got;
    bool done = false;
    p.a.async_read_some(ReadBuffer(&c, 1), [&](asio::error_code ec, std::size_t) { got = ec; done = true; });
    p.run();
    EXPECT_TRUE(done) << "end of stream was queued, yet the read waited for an event that never comes";
    EXPECT_EQ(got, asio::error::eof);
}

// What the hint cannot tell: a reset behind the last bytes. The read reports the socket drained
// (so the next read would wait for an event that never comes); rearm_read asks epoll again and
// sees the reset at once.
TEST(ReadBuffer, AResetBehindTheLastBytesIsSeenAfterARearm) {
    Pair p;
    std::string out(64, '\0');
    bool drained = false;
    std::size_t got = 0;
    // The read waits in the reactor first, so that the bytes and the reset reach it as one event.
    p.a.async_read_some(ReadBuffer(out.data(), out.size(), &drained), [&](asio::error_code ec, std::size_t n) {
        EXPECT_FALSE(ec);
        got = n;
    });
    p.io.restart();
    p.io.poll();
    ASSERT_EQ(got, 0u);
    p.send("last");
    const linger hard{1, 0};
    ASSERT_EQ(::setsockopt(p.b.native_handle(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard), 0);
    p.b.close();
    pollfd pf{p.a.native_handle(), POLLRDHUP, 0};
    ASSERT_EQ(::poll(&pf, 1, 5000), 1);
    ASSERT_TRUE(pf.revents & (POLLERR | POLLHUP)) << "the reset has arrived";
    p.run();
    EXPECT_EQ(std::string(out.data(), got), "last");
    EXPECT_TRUE(drained) << "nothing queued: the kernel's hint does not count a reset";

    asio::error_code result;
    bool done = false;
    asio::co_spawn(p.io, [&]() -> awaitable<void> {
        auto [ec] = co_await rearm_read(p.a);
        std::size_t n = 0;
        if (!ec) std::tie(ec, n) = co_await p.a.async_read_some(ReadBuffer(out.data(), out.size(), &drained), use_nothrow);
        result = ec;
        done = true;
    }, asio::detached);
    p.run();
    EXPECT_TRUE(done) << "the reset raised no new event and the re-arm did not find it";
    EXPECT_EQ(result, asio::error::connection_reset);
}

TEST(ReadBuffer, EndOfStreamAfterAShortReadIsSeen) {
    Pair p;
    p.send("x");
    EXPECT_EQ(p.read_once(64), "x");
    p.b.shutdown(tcp::socket::shutdown_send);
    char c;
    asio::error_code got;
    bool done = false;
    p.a.async_read_some(ReadBuffer(&c, 1), [&](asio::error_code ec, std::size_t) { got = ec; done = true; });
    p.run();
    EXPECT_TRUE(done);
    EXPECT_EQ(got, asio::error::eof);
}

} // namespace
} // namespace haven::net
