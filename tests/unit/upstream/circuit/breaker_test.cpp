// CircuitBreaker and BreakerGate (src/upstream/circuit/breaker.cpp) on hand-made time points.
#include "upstream/circuit/breaker.hpp"

#include "support/fake_random.hpp"

#include <gtest/gtest.h>

namespace haven::upstream {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using T = BreakerTransition;

const TimePoint kT0 = TimePoint{} + std::chrono::hours(1);

BreakerParams brief() {
    BreakerParams p; // the brief's breaker: 5 failures in a row, 60 s open
    p.jitter = 0;
    return p;
}

BreakerCounts failures(std::uint32_t streak, std::uint64_t n) { return {streak, 0, n, 0, 0}; }

TEST(CircuitBreaker, OpensAfterFiveFailuresInARowAndHalfOpensAfterItsTimeout) {
    test::FakeRandom r{{0}};
    CircuitBreaker b(brief());
    EXPECT_EQ(b.observe(failures(4, 4), kT0, r), T::None);
    EXPECT_EQ(b.observe(failures(5, 1), kT0 + milliseconds(100), r), T::Opened);
    EXPECT_EQ(b.state(), BreakerState::Open);
    EXPECT_EQ(b.open_until(), kT0 + milliseconds(100) + seconds(60));
    EXPECT_EQ(b.observe({}, kT0 + seconds(60), r), T::None);
    EXPECT_EQ(b.observe({}, kT0 + milliseconds(100) + seconds(60), r), T::HalfOpened);
    EXPECT_EQ(b.observe({0, 0, 0, 1, 0}, kT0 + seconds(61), r), T::Closed);
    EXPECT_EQ(b.trips(), 1u);
}

TEST(CircuitBreaker, AFailedProbeReopensForLongerUpToTheCap) {
    test::FakeRandom r{{0}};
    auto p = brief();
    p.max_open_for = seconds(150);
    CircuitBreaker b(p);
    TimePoint now = kT0;
    ASSERT_EQ(b.observe(failures(5, 5), now, r), T::Opened);
    const Duration expected[] = {seconds(120), seconds(150), seconds(150)};
    for (const auto want : expected) {
        now = b.open_until();
        ASSERT_EQ(b.observe({}, now, r), T::HalfOpened);
        ASSERT_EQ(b.observe({0, 0, 0, 0, 1}, now, r), T::Reopened);
        EXPECT_EQ(b.open_until() - now, want);
    }
    EXPECT_EQ(b.trips(), 4u);
}

TEST(CircuitBreaker, HalfOpenNeedsCloseAfterSuccesses) {
    test::FakeRandom r{{0}};
    auto p = brief();
    p.close_after = 3;
    CircuitBreaker b(p);
    b.observe(failures(5, 5), kT0, r);
    b.observe({}, b.open_until(), r);
    EXPECT_EQ(b.observe({0, 0, 0, 2, 0}, kT0 + seconds(61), r), T::None);
    EXPECT_EQ(b.observe({0, 0, 0, 1, 0}, kT0 + seconds(62), r), T::Closed);
}

TEST(CircuitBreaker, FailureRatioOverTheWindowWithAMinimumVolume) {
    test::FakeRandom r{{0}};
    auto p = brief();
    p.consecutive_failures = 0;
    p.failure_ratio = 0.5;
    p.min_requests = 20;
    CircuitBreaker b(p);
    // 10 requests, all failed, but interleaved with successes so no streak: below the volume.
    EXPECT_EQ(b.observe({1, 0, 10, 0, 0}, kT0, r), T::None);
    EXPECT_EQ(b.observe({0, 9, 0, 0, 0}, kT0 + seconds(1), r), T::None); // 10/19
    EXPECT_EQ(b.observe({0, 1, 0, 0, 0}, kT0 + seconds(2), r), T::Opened); // 10/20 = 50%
}

TEST(CircuitBreaker, OldFailuresLeaveTheWindow) {
    test::FakeRandom r{{0}};
    auto p = brief();
    p.consecutive_failures = 0;
    p.failure_ratio = 0.5;
    p.min_requests = 10;
    CircuitBreaker b(p);
    EXPECT_EQ(b.observe({0, 0, 9, 0, 0}, kT0, r), T::None);
    EXPECT_EQ(b.observe({0, 10, 0, 0, 0}, kT0 + seconds(11), r), T::None) << "the 9 failures are 11 s old";
}

TEST(CircuitBreaker, JitterVariesTheOpenTime) {
    test::FakeRandom r{{~0ull}}; // uniform01 just below 1: the full +jitter
    auto p = brief();
    p.jitter = 0.1;
    CircuitBreaker b(p);
    b.observe(failures(5, 5), kT0, r);
    EXPECT_NEAR(to_seconds(b.open_until() - kT0), 66.0, 1e-6);
}

TEST(BreakerGate, ClosedPassesOpenRejectsHalfOpenAdmitsABoundedNumberOfProbes) {
    BreakerGate g(2);
    EXPECT_EQ(g.admit(1), BreakerGate::Admission::Pass);
    g.publish(BreakerState::Open, kT0 + seconds(60));
    EXPECT_EQ(g.admit(1), BreakerGate::Admission::Reject);
    g.publish(BreakerState::HalfOpen, kT0);
    EXPECT_EQ(g.admit(2), BreakerGate::Admission::Probe);
    EXPECT_EQ(g.admit(2), BreakerGate::Admission::Probe);
    EXPECT_EQ(g.admit(2), BreakerGate::Admission::Reject);
    g.on_result(BreakerGate::Admission::Probe, false, 0);
    EXPECT_EQ(g.admit(2), BreakerGate::Admission::Probe) << "a finished probe frees its slot";
    const auto c = g.take_counts();
    EXPECT_EQ(c.probe_successes, 1u);
    EXPECT_EQ(c.probe_failures, 0u);
}

TEST(BreakerGate, CountsPerWorkerAndTheStreak) {
    BreakerGate g(2);
    using A = BreakerGate::Admission;
    g.on_result(A::Pass, true, 0);
    g.on_result(A::Pass, true, 1);
    auto c = g.take_counts();
    EXPECT_EQ(c.failures, 2u);
    EXPECT_EQ(c.consecutive_failures, 2u);
    g.on_result(A::Pass, false, 1);
    c = g.take_counts();
    EXPECT_EQ(c.failures, 0u) << "only what came since the last call";
    EXPECT_EQ(c.successes, 1u);
    EXPECT_EQ(c.consecutive_failures, 0u);
}

TEST(CircuitBreakerWithGate, TheControlLoopDrivesTheGate) {
    // As the policy subsystem runs it: every 100 ms, counts in, state out.
    test::FakeRandom r{{0}};
    CircuitBreaker b(brief());
    BreakerGate g(1);
    TimePoint now = kT0;
    const auto tick = [&] {
        now += milliseconds(100);
        if (b.observe(g.take_counts(), now, r) != T::None) g.publish(b.state(), b.open_until());
    };
    for (int i = 0; i < 5; ++i) g.on_result(g.admit(1), true, 0);
    tick();
    EXPECT_EQ(g.admit(1), BreakerGate::Admission::Reject);
    now = b.open_until() - milliseconds(100);
    tick();
    const auto probe = g.admit(1);
    EXPECT_EQ(probe, BreakerGate::Admission::Probe);
    EXPECT_EQ(g.admit(1), BreakerGate::Admission::Reject) << "one probe at a time";
    g.on_result(probe, false, 0);
    tick();
    EXPECT_EQ(g.admit(1), BreakerGate::Admission::Pass);
}

} // namespace
} // namespace haven::upstream
