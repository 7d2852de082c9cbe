// RetryBudget (src/upstream/retry/budget.cpp): a 10 s window of requests and retries, driven by
// hand-made time points (no clock, no sleeping).
#include "upstream/retry/budget.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace haven::upstream {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint kT0 = TimePoint{} + std::chrono::hours(1);

// n requests started (and finished) at `at`.
void requests(RetryBudget& b, int n, TimePoint at) {
    for (int i = 0; i < n; ++i) {
        b.on_request(at);
        b.request_finished();
    }
}

int acquire_all(RetryBudget& b, int attempts, TimePoint at) {
    int granted = 0;
    for (int i = 0; i < attempts; ++i) granted += b.try_acquire(at) ? 1 : 0;
    return granted;
}

TEST(RetryBudget, TwentyPercentOfTheWindowsRequestsPlusTheFloor) {
    RetryBudget b({0.2, 10}); // floor: 10 per second × 10 s = 100
    requests(b, 1000, kT0);
    EXPECT_EQ(acquire_all(b, 1000, kT0), 300); // 100 + 0.2 × 1000
    EXPECT_EQ(b.retries(), 300u);
    EXPECT_FALSE(b.try_acquire(kT0));
}

TEST(RetryBudget, TheFloorAloneWithNoTraffic) {
    RetryBudget b({0.2, 3});
    EXPECT_EQ(acquire_all(b, 100, kT0), 30);
}

TEST(RetryBudget, ABurstIsPaidFromEarlierTraffic) {
    // A server of three dies under load: all its requests in flight fail at once. The window's
    // earlier traffic pays for the burst, which a cap on retries in flight would refuse.
    RetryBudget b({0.2, 0});
    for (int s = 0; s < 5; ++s) requests(b, 2000, kT0 + seconds(s)); // 2000 requests a second
    const TimePoint kill = kT0 + seconds(5);
    EXPECT_EQ(acquire_all(b, 400, kill), 400);
}

TEST(RetryBudget, EveryRequestInFlightMayBeRetriedOnce) {
    // Seconds after start, little traffic has built an allowance; then a server dies with 400
    // requests in flight. Each of them may be retried once, elsewhere.
    RetryBudget b({0.2, 10});
    for (int i = 0; i < 400; ++i) b.on_request(kT0);
    EXPECT_EQ(b.in_flight(), 400u);
    EXPECT_EQ(acquire_all(b, 600, kT0), 100 + 80 + 400);
    for (int i = 0; i < 400; ++i) b.request_finished();
    EXPECT_EQ(b.in_flight(), 0u);
    EXPECT_FALSE(b.try_acquire(kT0)) << "finished requests take their part of the allowance with them";
}

TEST(RetryBudget, AStormIsHeldToTheRatio) {
    // Every request fails and wants two retries: over any window the retries stay within
    // ratio × requests + floor, so the servers see at most 1.2× the clients' load (+ the floor).
    RetryBudget b({0.2, 1});
    std::uint64_t sent = 0, retried = 0;
    for (int ms = 0; ms < 60'000; ms += 10) {
        const TimePoint now = kT0 + milliseconds(ms);
        for (int i = 0; i < 10; ++i) { // 1000 requests a second, one in flight at a time
            b.on_request(now);
            ++sent;
            retried += static_cast<std::uint64_t>(acquire_all(b, 2, now));
            b.request_finished();
        }
        EXPECT_LE(static_cast<double>(b.retries()), 0.2 * static_cast<double>(b.requests()) + 10 + 1 + 1e-9);
    }
    // Over the minute: 20% of 60,000 plus at most one floor (and the one request in flight) per
    // window passed (6 windows + 1).
    EXPECT_GE(retried, 12'000u);
    EXPECT_LE(retried, 12'000u + 7 * (10 + 1));
}

TEST(RetryBudget, OldTrafficLeavesTheWindow) {
    RetryBudget b({0.5, 0});
    requests(b, 100, kT0);
    EXPECT_EQ(b.requests(), 100u);
    EXPECT_EQ(acquire_all(b, 10, kT0 + seconds(9)), 10); // still inside the window
    EXPECT_EQ(b.requests(), 100u);
    EXPECT_EQ(b.retries(), 10u);
    // At 10 s the requests' bucket leaves: no allowance, while the retries made at 9 s still count.
    EXPECT_FALSE(b.try_acquire(kT0 + seconds(10)));
    EXPECT_EQ(b.requests(), 0u);
    EXPECT_EQ(b.retries(), 10u);
    EXPECT_EQ(acquire_all(b, 1, kT0 + seconds(19)), 0);
    EXPECT_EQ(b.retries(), 0u); // their bucket left at 19 s
}

TEST(RetryBudget, BucketsLeaveOneByOne) {
    RetryBudget b({1.0, 0});
    for (int s = 0; s < 10; ++s) requests(b, 1, kT0 + seconds(s));
    EXPECT_EQ(b.requests(), 10u);
    EXPECT_EQ(acquire_all(b, 3, kT0 + seconds(9)), 3);
    EXPECT_EQ(acquire_all(b, 1, kT0 + seconds(12)), 1); // 3 buckets left (7 requests), 4 retries
    EXPECT_EQ(b.requests(), 7u);
    EXPECT_EQ(b.retries(), 4u);
    EXPECT_FALSE(b.try_acquire(kT0 + seconds(15))); // 4 requests left, 4 retries spent
}

TEST(RetryBudget, ALongQuietGapEmptiesTheWindow) {
    RetryBudget b({0.2, 0});
    requests(b, 1000, kT0);
    EXPECT_EQ(acquire_all(b, 50, kT0), 50);
    b.on_request(kT0 + std::chrono::hours(3));
    EXPECT_EQ(b.requests(), 1u);
    EXPECT_EQ(b.retries(), 0u);
}

TEST(RetryBudget, ATimeBeforeTheNewestBucketCountsInIt) {
    RetryBudget b({1.0, 0});
    requests(b, 1, kT0 + seconds(5));
    requests(b, 1, kT0 + seconds(4)); // a stale reading: no bucket is emptied
    EXPECT_EQ(b.requests(), 2u);
    EXPECT_EQ(acquire_all(b, 5, kT0 + seconds(5)), 2);
}

TEST(RetryBudget, ZeroAllowanceRefusesEverything) {
    RetryBudget b({0.0, 0});
    requests(b, 1000, kT0);
    EXPECT_FALSE(b.try_acquire(kT0));
    EXPECT_EQ(b.retries(), 0u);
}

TEST(RetryBudget, SetChangesTheRule) {
    RetryBudget b({0.2, 0});
    requests(b, 10, kT0);
    EXPECT_EQ(acquire_all(b, 5, kT0), 2);
    b.set({0.5, 0});
    EXPECT_EQ(acquire_all(b, 5, kT0), 3);
}

TEST(RetryBudget, OddRatiosGrantOnlyTheFloor) {
    RetryBudget negative({-1.0, 1});
    requests(negative, 100, kT0);
    EXPECT_EQ(acquire_all(negative, 50, kT0), 10);
    RetryBudget nan({std::numeric_limits<double>::quiet_NaN(), 0});
    requests(nan, 100, kT0);
    EXPECT_EQ(acquire_all(nan, 5, kT0), 0);
    RetryBudget huge({1e30, 0});
    requests(huge, 1, kT0);
    EXPECT_EQ(acquire_all(huge, 50, kT0), 50);
}

} // namespace
} // namespace haven::upstream
