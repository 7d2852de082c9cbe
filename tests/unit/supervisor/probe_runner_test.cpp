// The probe schedule on the fake clock: initial_delay, period, timeout, thresholds — with the
// brief's liveness values (30s / 10s / 3) written as they are.
#include "supervisor/probe_runner.hpp"

#include "support/fake_probe.hpp"
#include "support/manual_scheduler.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using namespace haven;
using namespace haven::test;
using supervisor::ProbeOutcome;
using supervisor::ProbeParams;
using supervisor::ProbeRunner;
using supervisor::ProbeState;

namespace {

struct ProbeFixture {
    ManualScheduler sched;
    TimePoint t0 = sched.now();
    std::shared_ptr<FakeProbeControl> control = std::make_shared<FakeProbeControl>();
    std::vector<ProbeOutcome> outcomes;

    std::unique_ptr<ProbeRunner> runner(ProbeParams p, ProbeState initial) {
        auto r = std::make_unique<ProbeRunner>(sched, std::make_unique<FakeProbe>(control, &sched), p, initial,
                                               [this](const ProbeOutcome& o) { outcomes.push_back(o); });
        r->start();
        return r;
    }
    std::vector<Duration> start_offsets() const {
        std::vector<Duration> out;
        for (auto t : control->start_times) out.push_back(t - t0);
        return out;
    }
};

ProbeParams brief_liveness() { return {30s, 10s, 1s, 3, 1}; }

} // namespace

TEST(ProbeRunner, FirstCheckAfterInitialDelayThenEveryPeriod) {
    ProbeFixture f;
    f.control->latency = 5ms;
    auto r = f.runner(brief_liveness(), ProbeState::Passing);
    f.sched.advance(29s);
    EXPECT_EQ(f.control->started, 0u);
    f.sched.advance(31s);
    EXPECT_EQ(f.start_offsets(), (std::vector<Duration>{30s, 40s, 50s, 60s}));
    EXPECT_EQ(r->status().checks, 3u); // the one started at 60s answers 5 ms later
    f.sched.advance(5ms);
    EXPECT_EQ(r->status().checks, 4u);
    EXPECT_EQ(r->status().state, ProbeState::Passing);
}

TEST(ProbeRunner, LivenessFailsAfterFailureThresholdFailuresInARow) {
    ProbeFixture f;
    f.control->latency = 5ms;
    f.control->fallback = probe_fail("status 503");
    auto r = f.runner(brief_liveness(), ProbeState::Passing);
    f.sched.advance(40s + 10ms); // checks at 30s and 40s: two failures
    EXPECT_EQ(r->status().state, ProbeState::Passing);
    f.sched.advance(10s); // the third, at 50s
    EXPECT_EQ(r->status().state, ProbeState::Failing);
    ASSERT_EQ(f.outcomes.size(), 3u);
    EXPECT_TRUE(f.outcomes[2].changed);
    EXPECT_EQ(f.outcomes[2].reason, "status 503");
    EXPECT_EQ(r->status().consecutive_failures, 3u);
}

TEST(ProbeRunner, ASuccessResetsTheFailureCount) {
    ProbeFixture f;
    f.control->latency = 5ms;
    f.control->script = {probe_fail(), probe_fail(), probe_ok(), probe_fail(), probe_fail()};
    auto r = f.runner({0s, 1s, 500ms, 3, 1}, ProbeState::Passing);
    f.sched.advance(5s);
    EXPECT_EQ(r->status().state, ProbeState::Passing);
    EXPECT_EQ(r->status().failures, 4u);
}

TEST(ProbeRunner, ReadinessStartsUnknownAndNeedsSuccessThreshold) {
    ProbeFixture f;
    f.control->latency = 5ms;
    auto r = f.runner({5s, 5s, 1s, 3, 2}, ProbeState::Unknown);
    f.sched.advance(5s + 10ms);
    EXPECT_EQ(r->status().state, ProbeState::Unknown); // one success of two
    f.sched.advance(5s);
    EXPECT_EQ(r->status().state, ProbeState::Passing);
    EXPECT_TRUE(f.outcomes.back().changed);
}

TEST(ProbeRunner, ACheckWithoutAnswerFailsAtTheTimeout) {
    ProbeFixture f; // no latency: the fake never answers by itself
    auto r = f.runner({0s, 10s, 2s, 1, 1}, ProbeState::Unknown);
    f.sched.advance(1999ms);
    EXPECT_TRUE(f.outcomes.empty());
    f.sched.advance(1ms);
    ASSERT_EQ(f.outcomes.size(), 1u);
    EXPECT_EQ(f.outcomes[0].reason, "timeout");
    EXPECT_EQ(r->status().state, ProbeState::Failing);
    // A late answer to the abandoned check is ignored.
    f.control->complete_ok();
    EXPECT_EQ(f.outcomes.size(), 1u);
    f.sched.advance(8s); // the next check starts at 10s, which abandons nothing more
    EXPECT_EQ(f.control->started, 2u);
}

TEST(ProbeRunner, TheListenerMayDestroyTheRunner) {
    ProbeFixture f;
    f.control->latency = 5ms;
    std::unique_ptr<ProbeRunner> r;
    r = std::make_unique<ProbeRunner>(f.sched, std::make_unique<FakeProbe>(f.control, &f.sched),
                                      ProbeParams{0s, 1s, 500ms, 1, 1}, ProbeState::Unknown,
                                      [&](const ProbeOutcome&) { r.reset(); });
    r->start();
    f.sched.advance(5s);
    EXPECT_EQ(r, nullptr);
    EXPECT_EQ(f.control->started, 1u);
}
