// RetryBudget (src/upstream/retry/budget.cpp).
#include "upstream/retry/budget.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace haven::upstream {
namespace {

void start(RetryBudget& b, int n) {
    for (int i = 0; i < n; ++i) b.request_started();
}

int acquire_all(RetryBudget& b, int attempts) {
    int granted = 0;
    for (int i = 0; i < attempts; ++i) granted += b.try_acquire() ? 1 : 0;
    return granted;
}

TEST(RetryBudget, TwentyPercentOfAHundredInFlight) {
    RetryBudget b(0.2, 3);
    start(b, 100);
    for (int i = 0; i < 20; ++i) EXPECT_TRUE(b.try_acquire()) << "retry " << i + 1;
    EXPECT_FALSE(b.try_acquire());
    EXPECT_FALSE(b.try_acquire());
    EXPECT_EQ(b.retries(), 20u);
}

TEST(RetryBudget, MinConcurrentWithNoRequests) {
    RetryBudget b(0.2, 3);
    EXPECT_EQ(acquire_all(b, 10), 3);
    EXPECT_EQ(b.retries(), 3u);
}

TEST(RetryBudget, MinConcurrentWinsWhileTheRatioIsSmaller) {
    RetryBudget b(0.2, 3);
    start(b, 19); // floor(3.8) = 3
    EXPECT_EQ(acquire_all(b, 10), 3);
    b.request_started(); // 20 in flight: floor(4.0) = 4
    EXPECT_TRUE(b.try_acquire());
    EXPECT_FALSE(b.try_acquire());
}

TEST(RetryBudget, ReleasingFreesASlot) {
    RetryBudget b(0.2, 3);
    start(b, 10); // floor(2) < 3: 3 allowed
    EXPECT_EQ(acquire_all(b, 3), 3);
    EXPECT_FALSE(b.try_acquire());
    b.retry_finished();
    EXPECT_EQ(b.retries(), 2u);
    EXPECT_TRUE(b.try_acquire());
    EXPECT_FALSE(b.try_acquire());
}

TEST(RetryBudget, AllowanceShrinksWithTraffic) {
    RetryBudget b(0.5, 0);
    start(b, 10);
    EXPECT_EQ(acquire_all(b, 5), 5);
    for (int i = 0; i < 6; ++i) b.request_finished(); // 4 in flight: 2 allowed, 5 held
    b.retry_finished();
    EXPECT_FALSE(b.try_acquire()); // 4 held, still over
}

TEST(RetryBudget, ZeroAllowanceRefusesEverything) {
    RetryBudget b(0.0, 0);
    start(b, 1000);
    EXPECT_FALSE(b.try_acquire());
    EXPECT_EQ(b.retries(), 0u);
}

TEST(RetryBudget, SetChangesTheRule) {
    RetryBudget b(0.2, 0);
    start(b, 10);
    EXPECT_EQ(acquire_all(b, 5), 2);
    b.set(0.5, 0);
    EXPECT_EQ(acquire_all(b, 5), 3);
}

TEST(RetryBudget, OddRatiosStayInRange) {
    RetryBudget negative(-1.0, 2);
    start(negative, 100);
    EXPECT_EQ(acquire_all(negative, 5), 2);
    RetryBudget nan(std::numeric_limits<double>::quiet_NaN(), 1);
    start(nan, 100);
    EXPECT_EQ(acquire_all(nan, 5), 1);
    RetryBudget huge(1e30, 0);
    start(huge, 1);
    EXPECT_EQ(acquire_all(huge, 50), 50);
}

} // namespace
} // namespace haven::upstream
