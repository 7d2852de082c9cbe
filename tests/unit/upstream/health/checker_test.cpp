// HealthChecker on a ManualScheduler with a FakeProbe: probe times are asserted to the nanosecond,
// and probe completion is either automatic (`latency` after the start) or in the test's hands.
#include "upstream/health/checker.hpp"

#include "support/fake_probe.hpp"
#include "support/fake_random.hpp"
#include "support/manual_scheduler.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace haven::upstream {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;
using test::FakeProbeControl;
using test::FakeRandom;
using test::ManualScheduler;
using HT = HealthTransition;

HealthParams params(double jitter = 0) {
    HealthParams p;
    p.interval = seconds(5);
    p.fast_interval = seconds(1);
    p.down_interval = seconds(10);
    p.timeout = seconds(2);
    p.rise = 2;
    p.fall = 3;
    p.jitter = jitter;
    return p;
}

class CheckerTest : public ::testing::Test {
protected:
    void make(HealthParams p = params(), HealthStatus initial = HealthStatus::Up) {
        checker = std::make_unique<HealthChecker>(sched, random, std::make_unique<test::FakeProbe>(probe, &sched), p,
                                                  initial, [this](const HealthReport& r) { on_report(r); });
    }
    virtual void on_report(const HealthReport& r) { reports.push_back(r); }

    // Start times of the probes, relative to t0.
    std::vector<Duration> starts() const {
        std::vector<Duration> out;
        for (auto t : probe->start_times) out.push_back(t - t0);
        return out;
    }

    ManualScheduler sched;
    const TimePoint t0 = sched.now();
    FakeRandom random{{0}}; // first probe at once; no jitter draws matter at jitter 0
    std::shared_ptr<FakeProbeControl> probe = std::make_shared<FakeProbeControl>();
    std::vector<HealthReport> reports;
    std::unique_ptr<HealthChecker> checker;
};

TEST_F(CheckerTest, FirstProbeAtTheRandomDelay) {
    const std::uint64_t interval_ns = 5'000'000'000;
    random = FakeRandom({FakeRandom::for_below(1'234'567'890, interval_ns)});
    make();
    checker->start();
    sched.advance(nanoseconds(1'234'567'889));
    EXPECT_EQ(probe->started, 0u);
    sched.advance(nanoseconds(1));
    EXPECT_EQ(probe->started, 1u);
    EXPECT_EQ(checker->probes_started(), 1u);
}

TEST(CheckerSpread, FirstProbeAlwaysWithinOneInterval) {
    Duration earliest = seconds(5), latest = Duration::zero();
    for (std::uint64_t seed = 1; seed <= 300; ++seed) {
        ManualScheduler sched;
        const TimePoint t0 = sched.now();
        FastRandom random(seed);
        auto probe = std::make_shared<FakeProbeControl>();
        HealthChecker c(sched, random, std::make_unique<test::FakeProbe>(probe, &sched), params(),
                        HealthStatus::Up, nullptr);
        c.start();
        sched.advance(seconds(5) - nanoseconds(1));
        ASSERT_EQ(probe->started, 1u) << "seed " << seed;
        earliest = std::min(earliest, probe->start_times[0] - t0);
        latest = std::max(latest, probe->start_times[0] - t0);
    }
    // Spread over the interval, not bunched at one end.
    EXPECT_LT(earliest, milliseconds(500));
    EXPECT_GT(latest, milliseconds(4500));
}

TEST_F(CheckerTest, FailingServerGoesDownAfterFallThenSlowsToDownInterval) {
    probe->latency = Duration::zero();
    probe->fallback = test::probe_fail("timeout");
    make();
    checker->start();
    sched.advance(seconds(60) - nanoseconds(1));
    // fast_interval while the fall is pending, down_interval once Down.
    const std::vector<Duration> expected{seconds(0), seconds(1), seconds(2), seconds(12), seconds(22),
                                         seconds(32), seconds(42), seconds(52)};
    EXPECT_EQ(starts(), expected);
    ASSERT_EQ(reports.size(), expected.size());
    EXPECT_EQ(reports[0].transition, HT::Pending);
    EXPECT_EQ(reports[1].transition, HT::Pending);
    EXPECT_EQ(reports[2].transition, HT::Changed);
    EXPECT_EQ(reports[2].status, HealthStatus::Down);
    EXPECT_EQ(reports[2].at, t0 + seconds(2));
    EXPECT_EQ(checker->state().last_change(), t0 + seconds(2));
    for (std::size_t i = 3; i < reports.size(); ++i) {
        EXPECT_EQ(reports[i].transition, HT::Unchanged);
        EXPECT_EQ(reports[i].status, HealthStatus::Down);
        EXPECT_EQ(reports[i].result.reason, "timeout");
    }
}

// Nothing listens (the process is gone): a refused check costs nothing, so a down server whose
// checks are refused is checked every fast_interval and a restarted process is found sooner.
TEST_F(CheckerTest, ADownServerThatRefusesIsCheckedAtTheFastInterval) {
    probe->latency = Duration::zero();
    probe->fallback = test::probe_fail("connection refused");
    make();
    checker->start();
    sched.advance(seconds(6) - nanoseconds(1));
    const std::vector<Duration> expected{seconds(0), seconds(1), seconds(2), seconds(3), seconds(4), seconds(5)};
    EXPECT_EQ(starts(), expected);
    probe->fallback = test::probe_ok(); // restarted: up after rise (2) checks, one fast_interval apart
    sched.advance(seconds(2));
    EXPECT_EQ(checker->state().status(), HealthStatus::Up);
    EXPECT_EQ(checker->state().last_change(), t0 + seconds(7));
}

// A server that dies just after a good probe is declared Down after the regular interval (the
// first failing probe) plus (fall - 1) fast intervals, plus each probe's own duration.
TEST_F(CheckerTest, DetectionTimeIsExact) {
    probe->latency = milliseconds(100);
    probe->script = {test::probe_ok()};
    probe->fallback = test::probe_fail("timeout");
    make();
    checker->start();
    sched.advance(seconds(30));
    ASSERT_GE(reports.size(), 4u);
    const TimePoint died = t0 + milliseconds(100); // the good result
    EXPECT_EQ(reports[0].at, died);
    EXPECT_EQ(reports[1].at, died + seconds(5) + milliseconds(100));
    EXPECT_EQ(reports[3].transition, HT::Changed);
    EXPECT_EQ(reports[3].status, HealthStatus::Down);
    // interval + (fall-1) * fast_interval + fall * latency = 5s + 2s + 300ms
    EXPECT_EQ(reports[3].at - died, seconds(5) + 2 * seconds(1) + 3 * milliseconds(100));
    // From the first failing result to Down: (fall-1) * (fast_interval + latency).
    EXPECT_EQ(reports[3].at - reports[1].at, 2 * (seconds(1) + milliseconds(100)));
}

TEST_F(CheckerTest, RecoversAfterRiseSuccesses) {
    probe->latency = Duration::zero();
    probe->script = {test::probe_fail("timeout"), test::probe_ok(), test::probe_ok()};
    make(params(), HealthStatus::Down);
    checker->start();
    sched.advance(seconds(25));
    const std::vector<Duration> expected{seconds(0), seconds(10), seconds(11), seconds(16), seconds(21)};
    EXPECT_EQ(starts(), expected);
    ASSERT_GE(reports.size(), 3u);
    EXPECT_EQ(reports[0].transition, HT::Unchanged);
    EXPECT_EQ(reports[1].transition, HT::Pending);
    EXPECT_EQ(reports[2].transition, HT::Changed);
    EXPECT_EQ(reports[2].status, HealthStatus::Up);
}

TEST_F(CheckerTest, JitterVariesEachInterval) {
    probe->latency = Duration::zero();
    make(params(0.1)); // FakeRandom 0: the low end of the jitter, 0.9 x interval
    checker->start();
    sched.advance(seconds(10));
    const std::vector<Duration> expected{seconds(0), milliseconds(4500), milliseconds(9000)};
    EXPECT_EQ(starts(), expected);
}

TEST_F(CheckerTest, ReportsCarryResultTransitionStatusAndTime) {
    make();
    checker->start();
    sched.advance(seconds(3));
    ASSERT_TRUE(probe->in_flight());
    ASSERT_TRUE(probe->complete({false, "status 503", milliseconds(12), 503}));
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_FALSE(reports[0].result.ok);
    EXPECT_EQ(reports[0].result.reason, "status 503");
    EXPECT_EQ(reports[0].result.status, 503);
    EXPECT_EQ(reports[0].result.took, milliseconds(12));
    EXPECT_EQ(reports[0].transition, HT::Pending);
    EXPECT_EQ(reports[0].status, HealthStatus::Up);
    EXPECT_EQ(reports[0].at, t0 + seconds(3));
}

TEST_F(CheckerTest, CheckNowRunsAtOnceAndTheScheduleFollowsIt) {
    make();
    checker->start();
    sched.advance(Duration::zero());
    ASSERT_TRUE(probe->complete_ok()); // next regular probe would be at t0+5s
    sched.advance(seconds(2));
    checker->check_now();
    EXPECT_EQ(probe->started, 2u); // no advance needed
    EXPECT_EQ(probe->start_times[1], t0 + seconds(2));
    ASSERT_TRUE(probe->complete_ok());
    sched.advance(seconds(5) - nanoseconds(1)); // the t0+5s probe was replaced
    EXPECT_EQ(probe->started, 2u);
    sched.advance(nanoseconds(1));
    EXPECT_EQ(probe->started, 3u);
    EXPECT_EQ(probe->start_times[2], t0 + seconds(7));
}

TEST_F(CheckerTest, CheckNowDuringAProbeRunsRightAfterIt) {
    make();
    checker->start();
    sched.advance(Duration::zero());
    ASSERT_TRUE(probe->in_flight());
    checker->check_now();
    checker->check_now(); // coalesced with the first request
    EXPECT_EQ(probe->started, 1u);
    sched.advance(seconds(1));
    ASSERT_TRUE(probe->complete_fail());
    EXPECT_EQ(probe->started, 2u);
    EXPECT_EQ(probe->start_times[1], t0 + seconds(1));
    ASSERT_TRUE(probe->complete_ok());
    EXPECT_EQ(probe->started, 2u); // only one extra probe
    sched.advance(seconds(5));
    EXPECT_EQ(probe->started, 3u);
    EXPECT_EQ(probe->start_times[2], t0 + seconds(6));
    EXPECT_EQ(probe->abandoned, 0u);
}

TEST_F(CheckerTest, CheckNowWhileStoppedDoesNothing) {
    make();
    checker->check_now();
    sched.advance(seconds(60));
    EXPECT_EQ(probe->started, 0u);
}

TEST_F(CheckerTest, SlowProbeNeverOverlaps) {
    make();
    checker->start();
    sched.advance(seconds(60));
    EXPECT_EQ(probe->started, 1u); // still waiting for the first result
    ASSERT_TRUE(probe->complete_ok());
    sched.advance(seconds(5));
    EXPECT_EQ(probe->started, 2u);
    EXPECT_EQ(probe->start_times[1], t0 + seconds(65)); // interval counted from the result
    EXPECT_EQ(probe->abandoned, 0u);
}

TEST_F(CheckerTest, ProbeSlowerThanTheIntervalSpacesStartsByLatencyPlusInterval) {
    probe->latency = seconds(7);
    make();
    checker->start();
    sched.advance(seconds(30));
    const std::vector<Duration> expected{seconds(0), seconds(12), seconds(24)};
    EXPECT_EQ(starts(), expected);
    EXPECT_EQ(probe->abandoned, 0u);
}

TEST_F(CheckerTest, StopCancelsTheNextProbe) {
    make();
    checker->start();
    sched.advance(Duration::zero());
    ASSERT_TRUE(probe->complete_ok());
    checker->stop();
    EXPECT_EQ(sched.pending_timers(), 0u);
    sched.advance(std::chrono::hours(1));
    EXPECT_EQ(probe->started, 1u);
}

TEST_F(CheckerTest, ResultArrivingAfterStopIsDropped) {
    make();
    checker->start();
    sched.advance(Duration::zero());
    checker->stop();
    ASSERT_TRUE(probe->complete_fail()); // the probe was not told; it finishes later
    EXPECT_TRUE(reports.empty());
    EXPECT_EQ(checker->state().streak(), 0u);
    sched.advance(std::chrono::hours(1));
    EXPECT_EQ(probe->started, 1u);
}

TEST_F(CheckerTest, RestartAfterStopIgnoresTheOldProbe) {
    make();
    checker->start();
    sched.advance(Duration::zero());
    auto stale = probe->pending; // the first check's `done`, as a late Asio handler would hold it
    checker->stop();
    checker->start();
    sched.advance(Duration::zero());
    EXPECT_EQ(probe->started, 2u);
    stale(test::probe_fail());
    EXPECT_TRUE(reports.empty());
    ASSERT_TRUE(probe->complete_ok());
    EXPECT_EQ(reports.size(), 1u);
}

TEST_F(CheckerTest, DestroyedCheckerSurvivesALateResult) {
    make();
    checker->start();
    sched.advance(Duration::zero());
    checker.reset();
    EXPECT_TRUE(probe->destroyed);
    EXPECT_TRUE(probe->complete_fail()); // a misbehaving probe calls back anyway: nothing happens
    EXPECT_TRUE(reports.empty());
    EXPECT_EQ(sched.pending_timers(), 0u);
}

TEST_F(CheckerTest, DestructionCancelsAutomaticCompletion) {
    probe->latency = seconds(1);
    make();
    checker->start();
    sched.advance(Duration::zero());
    checker.reset();
    sched.advance(seconds(10));
    EXPECT_TRUE(reports.empty());
    EXPECT_EQ(sched.pending_timers(), 0u);
}

class ListenerDestroysChecker : public CheckerTest {
    void on_report(const HealthReport& r) override {
        reports.push_back(r);
        checker.reset();
    }
};

TEST_F(ListenerDestroysChecker, FromInsideTheReport) {
    probe->latency = Duration::zero();
    make();
    checker->start();
    sched.advance(seconds(30));
    EXPECT_EQ(reports.size(), 1u);
    EXPECT_EQ(checker, nullptr);
    EXPECT_EQ(probe->started, 1u);
}

class ListenerStopsChecker : public CheckerTest {
    void on_report(const HealthReport& r) override {
        reports.push_back(r);
        checker->stop();
    }
};

TEST_F(ListenerStopsChecker, FromInsideTheReport) {
    probe->latency = Duration::zero();
    make();
    checker->start();
    sched.advance(seconds(30));
    EXPECT_EQ(reports.size(), 1u);
    EXPECT_EQ(probe->started, 1u);
    EXPECT_EQ(sched.pending_timers(), 0u);
}

} // namespace
} // namespace haven::upstream
