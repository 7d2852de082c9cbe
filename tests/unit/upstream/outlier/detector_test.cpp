// OutlierDetector (src/upstream/outlier/detector.cpp) and HostSignals, on fake time only.
#include "upstream/outlier/detector.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace haven::upstream {
namespace {

using std::chrono::nanoseconds;
using std::chrono::seconds;

TimePoint at(std::int64_t s) { return TimePoint{} + seconds(s); }

OutlierParams params(std::uint32_t max_percent = 50) {
    OutlierParams p;
    p.consecutive_failures = 5;
    p.base_ejection = seconds(30);
    p.max_ejection = seconds(300);
    p.max_ejected_percent = max_percent;
    return p;
}

// Feeds HostSignals the way workers do and asks the detector once the threshold is reached.
EjectDecision fail_times(HostSignals& sig, OutlierDetector& d, HostIndex h, std::uint32_t n, TimePoint now) {
    EjectDecision last = EjectDecision::None;
    for (std::uint32_t i = 0; i < n; ++i) {
        if (sig.on_failure() >= d.params().consecutive_failures) last = d.on_failures(h, now);
    }
    return last;
}

TEST(HostSignals, CountsConsecutiveFailuresAndResetsOnSuccess) {
    HostSignals sig;
    EXPECT_EQ(sig.on_failure(), 1u);
    EXPECT_EQ(sig.on_failure(), 2u);
    EXPECT_EQ(sig.on_failure(), 3u);
    sig.on_success();
    EXPECT_EQ(sig.consecutive_failures.load(), 0u);
    EXPECT_EQ(sig.on_failure(), 1u);
    sig.on_success();
    sig.on_success(); // already 0: stays 0
    EXPECT_EQ(sig.consecutive_failures.load(), 0u);
}

TEST(OutlierDetector, FiveConsecutiveFailuresEjectForBase) {
    OutlierDetector d(params(), 4);
    HostSignals sig;
    EXPECT_EQ(fail_times(sig, d, 1, 4, at(100)), EjectDecision::None); // below the threshold
    EXPECT_FALSE(d.ejected(1));
    EXPECT_EQ(fail_times(sig, d, 1, 1, at(100)), EjectDecision::Ejected);
    EXPECT_TRUE(d.ejected(1));
    EXPECT_EQ(d.ejected_until(1), at(130));
    EXPECT_EQ(d.ejection_count(1), 1u);
    EXPECT_EQ(d.ejected_total(), 1u);
    // More failures while ejected change nothing.
    EXPECT_EQ(d.on_failures(1, at(101)), EjectDecision::None);
    EXPECT_EQ(d.ejection_count(1), 1u);
    EXPECT_EQ(d.ejected_until(1), at(130));
}

TEST(OutlierDetector, SweepReturnsHostExactlyWhenEjectionEnds) {
    OutlierDetector d(params(), 2);
    ASSERT_EQ(d.on_failures(0, at(0)), EjectDecision::Ejected);
    EXPECT_TRUE(d.sweep(at(29)).empty());
    EXPECT_TRUE(d.sweep(at(30) - nanoseconds(1)).empty());
    EXPECT_TRUE(d.ejected(0));
    EXPECT_EQ(d.sweep(at(30)), std::vector<HostIndex>{0});
    EXPECT_FALSE(d.ejected(0));
    EXPECT_TRUE(d.sweep(at(31)).empty()); // reported once
}

TEST(OutlierDetector, RepeatedEjectionsGrowAndAreCapped) {
    OutlierDetector d(params(), 2);
    // Each ejection starts right when the previous one ended: no time in service, no decay.
    TimePoint now = at(0);
    const std::int64_t expected[] = {30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 300, 300};
    for (std::size_t i = 0; i < std::size(expected); ++i) {
        ASSERT_EQ(d.on_failures(0, now), EjectDecision::Ejected) << "ejection " << i + 1;
        EXPECT_EQ(d.ejection_count(0), i + 1);
        EXPECT_EQ(d.ejected_until(0) - now, seconds(expected[i])) << "ejection " << i + 1;
        now = d.ejected_until(0);
        ASSERT_EQ(d.sweep(now), std::vector<HostIndex>{0});
    }
}

TEST(OutlierDetector, CountDecaysOnePerBaseInService) {
    OutlierDetector d(params(), 2);
    TimePoint now = at(0);
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(d.on_failures(0, now), EjectDecision::Ejected);
        now = d.ejected_until(0);
        ASSERT_EQ(d.sweep(now), std::vector<HostIndex>{0});
    }
    ASSERT_EQ(d.ejection_count(0), 3u);
    const TimePoint back = now;
    d.sweep(back + seconds(29)); // not a full period yet
    EXPECT_EQ(d.ejection_count(0), 3u);
    d.sweep(back + seconds(30)); // k = 1
    EXPECT_EQ(d.ejection_count(0), 2u);
    d.sweep(back + seconds(75)); // k = 2 in total; 15 s carried toward the next period
    EXPECT_EQ(d.ejection_count(0), 1u);
    d.sweep(back + seconds(89));
    EXPECT_EQ(d.ejection_count(0), 1u);
    d.sweep(back + seconds(90)); // k = 3
    EXPECT_EQ(d.ejection_count(0), 0u);
    d.sweep(back + seconds(1000)); // never below 0
    EXPECT_EQ(d.ejection_count(0), 0u);
    // Clean again: the next ejection is base long.
    ASSERT_EQ(d.on_failures(0, back + seconds(1000)), EjectDecision::Ejected);
    EXPECT_EQ(d.ejected_until(0), back + seconds(1030));
}

TEST(OutlierDetector, DecayInOneLongGapDropsByWholePeriods) {
    OutlierDetector d(params(), 2);
    TimePoint now = at(0);
    for (int i = 0; i < 5; ++i) {
        ASSERT_EQ(d.on_failures(0, now), EjectDecision::Ejected);
        now = d.ejected_until(0);
        d.sweep(now);
    }
    ASSERT_EQ(d.ejection_count(0), 5u);
    d.sweep(now + seconds(3 * 30 + 10)); // k = 3
    EXPECT_EQ(d.ejection_count(0), 2u);
    // The next ejection uses the decayed count: 3 × base.
    ASSERT_EQ(d.on_failures(0, now + seconds(100)), EjectDecision::Ejected);
    EXPECT_EQ(d.ejected_until(0), now + seconds(100 + 90));
}

TEST(OutlierDetector, NoDecayWhileEjected) {
    OutlierParams p = params();
    p.base_ejection = seconds(10);
    p.max_ejection = seconds(1000);
    OutlierDetector d(p, 2);
    ASSERT_EQ(d.on_failures(0, at(0)), EjectDecision::Ejected);
    d.sweep(at(10));
    ASSERT_EQ(d.on_failures(0, at(10)), EjectDecision::Ejected); // count 2, out until 30
    d.sweep(at(25));
    EXPECT_EQ(d.ejection_count(0), 2u);
}

// The cap, max_ejected_percent 50: E+1 hosts may be out while (E+1)×100 <= 50×N, and the first
// ejection is always allowed when N >= 2.
TEST(OutlierDetector, CapPoolOfOneNeverEjects) {
    OutlierDetector d(params(50), 1);
    EXPECT_EQ(d.on_failures(0, at(0)), EjectDecision::CapReached); // 100 > 50
    EXPECT_FALSE(d.ejected(0));
    EXPECT_EQ(d.ejection_count(0), 0u);
}

TEST(OutlierDetector, CapPoolOfOneEjectsOnlyAtHundredPercent) {
    OutlierDetector d(params(100), 1);
    EXPECT_EQ(d.on_failures(0, at(0)), EjectDecision::Ejected); // 100 <= 100
}

TEST(OutlierDetector, CapPoolOfTwoEjectsOne) {
    OutlierDetector d(params(50), 2);
    EXPECT_EQ(d.on_failures(0, at(0)), EjectDecision::Ejected);
    EXPECT_EQ(d.on_failures(1, at(0)), EjectDecision::CapReached); // 200 > 100
    EXPECT_EQ(d.ejected_total(), 1u);
}

TEST(OutlierDetector, CapPoolOfFourEjectsTwo) {
    OutlierDetector d(params(50), 4);
    EXPECT_EQ(d.on_failures(0, at(0)), EjectDecision::Ejected);
    EXPECT_EQ(d.on_failures(1, at(0)), EjectDecision::Ejected);    // 200 <= 200
    EXPECT_EQ(d.on_failures(2, at(0)), EjectDecision::CapReached); // 300 > 200
    EXPECT_EQ(d.on_failures(3, at(0)), EjectDecision::CapReached);
    // Once one returns, another may go.
    ASSERT_EQ(d.sweep(at(30)).size(), 2u);
    EXPECT_EQ(d.on_failures(2, at(30)), EjectDecision::Ejected);
}

TEST(OutlierDetector, CapPoolOfTenEjectsFive) {
    OutlierDetector d(params(50), 10);
    for (HostIndex h = 0; h < 5; ++h) EXPECT_EQ(d.on_failures(h, at(0)), EjectDecision::Ejected) << h;
    for (HostIndex h = 5; h < 10; ++h) EXPECT_EQ(d.on_failures(h, at(0)), EjectDecision::CapReached) << h;
    EXPECT_EQ(d.ejected_total(), 5u);
}

TEST(OutlierDetector, CapBelowOneHostStillAllowsTheFirstEjection) {
    OutlierDetector d(params(10), 4); // 10% of 4 is 0.4 hosts
    EXPECT_EQ(d.on_failures(0, at(0)), EjectDecision::Ejected);
    EXPECT_EQ(d.on_failures(1, at(0)), EjectDecision::CapReached);
}

TEST(OutlierDetector, CapZeroPercentStillAllowsOneInAPair) {
    OutlierDetector d(params(0), 2);
    EXPECT_EQ(d.on_failures(0, at(0)), EjectDecision::Ejected);
    EXPECT_EQ(d.on_failures(1, at(0)), EjectDecision::CapReached);
}

TEST(OutlierDetector, CheckSuccessReturnsEjectedHostEarly) {
    OutlierDetector d(params(), 3);
    ASSERT_EQ(d.on_failures(2, at(0)), EjectDecision::Ejected);
    EXPECT_FALSE(d.on_check_success(1, at(5))); // not ejected: nothing to do
    EXPECT_TRUE(d.on_check_success(2, at(5)));
    EXPECT_FALSE(d.ejected(2));
    EXPECT_EQ(d.ejected_total(), 0u);
    EXPECT_TRUE(d.sweep(at(30)).empty()); // already back: the sweep does not report it again
    EXPECT_FALSE(d.on_check_success(2, at(31)));
    // The count is kept: failing again soon means a longer ejection.
    ASSERT_EQ(d.on_failures(2, at(31)), EjectDecision::Ejected);
    EXPECT_EQ(d.ejected_until(2), at(91));
}

TEST(OutlierDetector, DisabledNeverEjects) {
    OutlierParams p = params();
    p.consecutive_failures = 0;
    OutlierDetector d(p, 3);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(d.on_failures(0, at(i)), EjectDecision::None);
    EXPECT_EQ(d.ejected_total(), 0u);
    EXPECT_TRUE(d.sweep(at(1000)).empty());
}

TEST(OutlierDetector, OutOfRangeHostIsIgnored) {
    OutlierDetector d(params(), 2);
    EXPECT_EQ(d.on_failures(2, at(0)), EjectDecision::None);
    EXPECT_FALSE(d.on_check_success(7, at(0)));
}

TEST(OutlierDetector, ResizeKeepsStateByIndex) {
    OutlierDetector d(params(), 4);
    ASSERT_EQ(d.on_failures(1, at(0)), EjectDecision::Ejected);
    d.resize(6);
    EXPECT_TRUE(d.ejected(1));
    EXPECT_EQ(d.ejected_until(1), at(30));
    EXPECT_FALSE(d.ejected(5));
    EXPECT_EQ(d.ejection_count(5), 0u);
    d.resize(1); // host 1 left the pool
    EXPECT_EQ(d.ejected_total(), 0u);
    d.resize(3);
    EXPECT_FALSE(d.ejected(1)); // a new host at index 1 starts clean
    EXPECT_EQ(d.ejection_count(1), 0u);
}

} // namespace
} // namespace haven::upstream
