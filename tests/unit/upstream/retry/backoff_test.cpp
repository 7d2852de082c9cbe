// retry_backoff (src/upstream/retry/backoff.cpp): full-jitter bounds, cap, overflow.
#include "upstream/retry/backoff.hpp"

#include "support/fake_random.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

namespace haven::upstream {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

constexpr Duration kBase = milliseconds(25);
constexpr Duration kMax = milliseconds(250);

// For n = 1..10 the delays stay in [0, min(max, base × 2^(n-1))] and spread over that range.
TEST(RetryBackoff, BoundsForEachRetryNumber) {
    FastRandom rng(42);
    for (std::uint32_t n = 1; n <= 10; ++n) {
        const Duration cap = std::min<Duration>(kMax, kBase * (1 << (n - 1)));
        Duration lo = Duration::max();
        Duration hi = Duration::zero();
        for (int i = 0; i < 5000; ++i) {
            const Duration d = retry_backoff(n, kBase, kMax, rng);
            ASSERT_GE(d, Duration::zero()) << "n=" << n;
            ASSERT_LE(d, cap) << "n=" << n;
            lo = std::min(lo, d);
            hi = std::max(hi, d);
        }
        // Uniform draws: 5000 of them reach the outer 2% at both ends.
        EXPECT_LT(lo, cap / 50) << "n=" << n;
        EXPECT_GT(hi, cap - cap / 50) << "n=" << n;
    }
}

TEST(RetryBackoff, CapIsRespected) {
    FastRandom rng(7);
    for (std::uint32_t n = 5; n <= 40; ++n) { // 25 ms × 16 = 400 ms > 250 ms from n = 5 on
        for (int i = 0; i < 200; ++i) ASSERT_LE(retry_backoff(n, kBase, kMax, rng), kMax) << n;
    }
}

TEST(RetryBackoff, ExtremesOfTheDraw) {
    test::FakeRandom low({0});
    test::FakeRandom high({std::numeric_limits<std::uint64_t>::max()});
    EXPECT_EQ(retry_backoff(1, kBase, kMax, low), Duration::zero());
    EXPECT_EQ(retry_backoff(1, kBase, kMax, high), kBase);
    EXPECT_EQ(retry_backoff(2, kBase, kMax, high), 2 * kBase);
    EXPECT_EQ(retry_backoff(3, kBase, kMax, high), 4 * kBase);
    EXPECT_EQ(retry_backoff(4, kBase, kMax, high), 8 * kBase);
    EXPECT_EQ(retry_backoff(5, kBase, kMax, high), kMax);
    EXPECT_EQ(retry_backoff(10, kBase, kMax, low), Duration::zero());
    EXPECT_EQ(retry_backoff(10, kBase, kMax, high), kMax);
}

TEST(RetryBackoff, HugeRetryNumbersDoNotOverflow) {
    test::FakeRandom high({std::numeric_limits<std::uint64_t>::max()});
    for (std::uint32_t n : {30u, 62u, 63u, 64u, 65u, 100u, 1000u, std::numeric_limits<std::uint32_t>::max()}) {
        EXPECT_EQ(retry_backoff(n, kBase, kMax, high), kMax) << n;
    }
    // A cap near the top of the range: the doubling must stop at max, not wrap negative.
    const Duration huge_max = Duration::max();
    for (std::uint32_t n : {40u, 63u, 64u, 200u}) {
        const Duration d = retry_backoff(n, kBase, huge_max, high);
        EXPECT_GT(d, Duration::zero()) << n;
        EXPECT_LE(d, huge_max) << n;
    }
    EXPECT_EQ(retry_backoff(64, nanoseconds(1), huge_max, high), huge_max);
}

TEST(RetryBackoff, FirstAttemptAndZeroParametersWaitNothing) {
    test::FakeRandom high({std::numeric_limits<std::uint64_t>::max()});
    EXPECT_EQ(retry_backoff(0, kBase, kMax, high), Duration::zero());
    EXPECT_EQ(retry_backoff(3, Duration::zero(), kMax, high), Duration::zero());
    EXPECT_EQ(retry_backoff(3, kBase, Duration::zero(), high), Duration::zero());
}

TEST(RetryBackoff, BaseAboveMaxIsCappedFromTheFirstRetry) {
    test::FakeRandom high({std::numeric_limits<std::uint64_t>::max()});
    EXPECT_EQ(retry_backoff(1, milliseconds(500), kMax, high), kMax);
}

} // namespace
} // namespace haven::upstream
