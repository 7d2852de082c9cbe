#include "net/doorbell.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace haven::net {
namespace {

// A loop that runs without locking, like a worker's, is woken by a ring from another thread.
TEST(Doorbell, RingFromAnotherThreadRunsTheHandlerOnTheLoop) {
    asio::io_context io(ASIO_CONCURRENCY_HINT_UNSAFE);
    Doorbell bell(io);
    std::thread::id ran_on;
    int rings_seen = 0;
    bell.start([&] {
        ran_on = std::this_thread::get_id();
        ++rings_seen;
        io.stop();
    });
    std::thread other([&] { bell.ring(); });
    other.join();
    io.run_for(std::chrono::seconds(5)); // bounded: returns at once when the handler stops the loop
    EXPECT_EQ(rings_seen, 1);
    EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST(Doorbell, ManyRingsBeforeTheLoopRunsAreOneWakeUpAndItRearms) {
    asio::io_context io(ASIO_CONCURRENCY_HINT_UNSAFE);
    Doorbell bell(io);
    int wakeups = 0;
    bell.start([&] { ++wakeups; });
    for (int i = 0; i < 5; ++i) bell.ring();
    io.poll(); // runs what is ready now, never waits
    EXPECT_EQ(wakeups, 1);
    io.poll();
    EXPECT_EQ(wakeups, 1) << "the counter was reset: no ring, no wake-up";
    bell.ring();
    io.restart();
    io.poll();
    EXPECT_EQ(wakeups, 2) << "armed again after the first wake-up";
}

TEST(Doorbell, WithoutARingNothingRuns) {
    asio::io_context io(ASIO_CONCURRENCY_HINT_UNSAFE);
    Doorbell bell(io);
    bool ran = false;
    bell.start([&] { ran = true; });
    io.poll();
    EXPECT_FALSE(ran);
}

} // namespace
} // namespace haven::net
