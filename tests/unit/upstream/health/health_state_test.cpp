// HealthState is pure: every test passes `now` by hand and needs no clock or event loop.
#include "upstream/health/health_state.hpp"

#include "core/random.hpp"
#include "support/fake_random.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace haven::upstream {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using HT = HealthTransition;

const TimePoint t0 = TimePoint{} + std::chrono::hours(1);

HealthParams params(std::uint32_t rise = 2, std::uint32_t fall = 3) {
    HealthParams p;
    p.interval = seconds(5);
    p.fast_interval = seconds(1);
    p.down_interval = seconds(10);
    p.rise = rise;
    p.fall = fall;
    p.jitter = 0;
    return p;
}

TEST(HealthState, DownAfterExactlyFallFailures) {
    HealthState s(params(2, 3), HealthStatus::Up);
    EXPECT_EQ(s.observe(false, t0), HT::Pending);
    EXPECT_EQ(s.observe(false, t0 + seconds(1)), HT::Pending);
    EXPECT_EQ(s.streak(), 2u);
    EXPECT_EQ(s.status(), HealthStatus::Up);
    EXPECT_EQ(s.observe(false, t0 + seconds(2)), HT::Changed);
    EXPECT_EQ(s.status(), HealthStatus::Down);
    EXPECT_EQ(s.streak(), 0u);
    EXPECT_FALSE(s.pending());
    EXPECT_EQ(s.last_change(), t0 + seconds(2));
    // Further failures agree with Down.
    EXPECT_EQ(s.observe(false, t0 + seconds(3)), HT::Unchanged);
}

TEST(HealthState, UpAfterExactlyRiseSuccesses) {
    HealthState s(params(2, 3), HealthStatus::Down);
    EXPECT_EQ(s.observe(true, t0), HT::Pending);
    EXPECT_EQ(s.observe(true, t0 + seconds(1)), HT::Changed);
    EXPECT_EQ(s.status(), HealthStatus::Up);
    EXPECT_EQ(s.last_change(), t0 + seconds(1));
    EXPECT_EQ(s.observe(true, t0 + seconds(2)), HT::Unchanged);
}

TEST(HealthState, AgreeingResultResetsTheStreak) {
    HealthState s(params(2, 3), HealthStatus::Up);
    EXPECT_EQ(s.observe(false, t0), HT::Pending);
    EXPECT_EQ(s.observe(false, t0), HT::Pending);
    EXPECT_EQ(s.observe(true, t0), HT::Unchanged);
    EXPECT_EQ(s.streak(), 0u);
    // The count starts over: two more failures are not enough.
    EXPECT_EQ(s.observe(false, t0), HT::Pending);
    EXPECT_EQ(s.observe(false, t0), HT::Pending);
    EXPECT_EQ(s.observe(false, t0), HT::Changed);
}

TEST(HealthState, FlappingNeverChanges) {
    HealthState up(params(2, 2), HealthStatus::Up);
    HealthState down(params(2, 2), HealthStatus::Down);
    for (int i = 0; i < 100; ++i) {
        const bool ok = i % 2 == 0;
        EXPECT_NE(up.observe(ok, t0 + seconds(i)), HT::Changed);
        EXPECT_NE(down.observe(!ok, t0 + seconds(i)), HT::Changed);
    }
    EXPECT_EQ(up.status(), HealthStatus::Up);
    EXPECT_EQ(down.status(), HealthStatus::Down);
    EXPECT_EQ(up.last_change(), TimePoint{});
}

TEST(HealthState, RiseAndFallOfOneFlipAtOnce) {
    HealthState s(params(1, 1), HealthStatus::Up);
    EXPECT_EQ(s.observe(false, t0), HT::Changed);
    EXPECT_EQ(s.observe(true, t0), HT::Changed);
    HealthState zero(params(0, 0), HealthStatus::Up); // 0 means 1: never flip without evidence
    EXPECT_EQ(zero.observe(true, t0), HT::Unchanged);
    EXPECT_EQ(zero.observe(false, t0), HT::Changed);
}

TEST(HealthState, IntervalFollowsTheState) {
    HealthState s(params(2, 3), HealthStatus::Up);
    EXPECT_EQ(s.next_interval(), seconds(5));
    s.observe(false, t0);
    EXPECT_EQ(s.next_interval(), seconds(1)); // pending: fast
    s.observe(false, t0);
    EXPECT_EQ(s.next_interval(), seconds(1));
    s.observe(false, t0);
    EXPECT_EQ(s.next_interval(), seconds(10)); // Down and stable
    s.observe(true, t0);
    EXPECT_EQ(s.next_interval(), seconds(1)); // pending rise
    s.observe(false, t0);
    EXPECT_EQ(s.next_interval(), seconds(10)); // streak broken
    s.observe(true, t0);
    s.observe(true, t0);
    EXPECT_EQ(s.status(), HealthStatus::Up);
    EXPECT_EQ(s.next_interval(), seconds(5));
}

TEST(HealthState, ADownServerWhoseChecksAreRefusedIsCheckedAtTheFastInterval) {
    HealthState s(params(2, 1), HealthStatus::Up);
    s.observe(false, t0);
    s.note_refused(true);
    ASSERT_EQ(s.status(), HealthStatus::Down);
    EXPECT_EQ(s.next_interval(), seconds(1)) << "nothing listens: look again soon";
    s.note_refused(false); // a timeout: the host may be gone, keep down_interval
    EXPECT_EQ(s.next_interval(), seconds(10));
    s.observe(true, t0);
    s.observe(true, t0);
    s.note_refused(true); // never while up
    EXPECT_EQ(s.next_interval(), seconds(5));
}

TEST(HealthState, ForceSetsStatusAndDropsTheStreak) {
    HealthState s(params(2, 3), HealthStatus::Up);
    s.observe(false, t0);
    ASSERT_TRUE(s.pending());
    s.force(HealthStatus::Down, t0 + seconds(7));
    EXPECT_EQ(s.status(), HealthStatus::Down);
    EXPECT_FALSE(s.pending());
    EXPECT_EQ(s.last_change(), t0 + seconds(7));
    // Forcing the current status is not a change.
    s.force(HealthStatus::Down, t0 + seconds(9));
    EXPECT_EQ(s.last_change(), t0 + seconds(7));
    // After a force, hysteresis applies from the new status.
    EXPECT_EQ(s.observe(true, t0 + seconds(10)), HT::Pending);
    EXPECT_EQ(s.observe(true, t0 + seconds(11)), HT::Changed);
}

TEST(Jitter, ZeroJitterIsExactAndDrawsNothing) {
    test::FakeRandom r({7, 9});
    EXPECT_EQ(apply_jitter(seconds(5), 0.0, r), seconds(5));
    EXPECT_EQ(apply_jitter(Duration(1), 0.0, r), Duration(1));
    EXPECT_EQ(r.next_u64(), 7u); // nothing was drawn
}

TEST(Jitter, ExtremesOfTheDraw) {
    test::FakeRandom low({0});
    EXPECT_EQ(apply_jitter(seconds(10), 0.1, low), seconds(9));
    test::FakeRandom mid({std::uint64_t{1} << 63});
    EXPECT_EQ(apply_jitter(seconds(10), 0.1, mid), seconds(10));
    test::FakeRandom high({~std::uint64_t{0}});
    const Duration d = apply_jitter(seconds(10), 0.1, high);
    EXPECT_LE(d, seconds(11));
    EXPECT_GT(d, milliseconds(10999));
}

TEST(Jitter, BoundsAndMeanOverManyDraws) {
    FastRandom r(42);
    const Duration d = seconds(5);
    const double j = 0.2;
    double sum = 0;
    const int n = 100000;
    Duration lo = d, hi = d;
    for (int i = 0; i < n; ++i) {
        const Duration x = apply_jitter(d, j, r);
        lo = std::min(lo, x);
        hi = std::max(hi, x);
        sum += static_cast<double>(x.count());
    }
    EXPECT_GE(lo, milliseconds(4000));
    EXPECT_LE(hi, milliseconds(6000));
    // The draws cover the range, not a sliver of it.
    EXPECT_LT(lo, milliseconds(4010));
    EXPECT_GT(hi, milliseconds(5990));
    const double mean = sum / n;
    EXPECT_NEAR(mean, static_cast<double>(d.count()), 0.005 * static_cast<double>(d.count()));
}

TEST(Jitter, NeverNegative) {
    test::FakeRandom low({0});
    EXPECT_EQ(apply_jitter(seconds(1), 1.5, low), Duration::zero());
    EXPECT_EQ(apply_jitter(Duration(-5), 0.1, low), Duration::zero());
    EXPECT_EQ(apply_jitter(Duration::zero(), 0.1, low), Duration::zero());
}

} // namespace
} // namespace haven::upstream
