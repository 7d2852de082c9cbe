// One replica's life on the fake clock with a fake launcher: restarts after restart_delay (never
// sooner), exponential backoff, CRASHLOOP, reset after a healthy period, liveness failures,
// readiness gating, the drain-then-stop sequence and the restart modes.
#include "supervisor/replica.hpp"

#include "fakes.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using namespace haven;
using namespace haven::test;
using supervisor::ExitStatus;
using supervisor::Replica;
using supervisor::ReplicaState;

namespace {

config::Service web() {
    config::Service s;
    s.name = "web";
    s.command = "server";
    s.path = "/usr/bin/server";
    s.args = {"--port", "{port}", "--name", "{name}"};
    s.env = {{"GREETING", "hi from {replica}"}};
    s.replicas = 1;
    s.ports = {9001};
    s.restart_delay = 1s;
    s.max_restart_delay = 8s;
    s.reset_after = 60s;
    s.crash_loop = {4, 60s, 30s};
    s.drain_timeout = 5s;
    s.stop_grace = 3s;
    config::ServiceProbe ready;
    ready.kind = config::ServiceProbe::Kind::Http;
    ready.period = 1s;
    ready.timeout = 500ms;
    ready.failure_threshold = 2;
    s.readiness = ready;
    return s;
}

struct ReplicaFixture {
    ManualScheduler sched;
    FakeLauncher launcher{sched};
    FakeGate gate;
    FakeProbes probes{sched};
    EventLog events;
    supervisor::ReplicaEnv env{sched, launcher, events, gate, probes.factory(), {"PATH=/bin", "GREETING=old"}};

    std::unique_ptr<Replica> make(config::Service s = web()) {
        return std::make_unique<Replica>(env, std::make_shared<const config::Service>(std::move(s)), 0);
    }
    void crash(int code = 1) { launcher.exit(launcher.last(), ExitStatus{code, 0}); }
    std::size_t spawns() const { return launcher.children.size(); }
};

} // namespace

TEST(Replica, StartsWithTemplatedArgsAndEnvAndGetsTrafficWhenReady) {
    ReplicaFixture f;
    auto r = f.make();
    r->start();
    ASSERT_EQ(f.spawns(), 1u);
    const auto& spec = f.launcher.last()->spec;
    EXPECT_EQ(spec.argv, (std::vector<std::string>{"server", "--port", "9001", "--name", "web-1"}));
    EXPECT_EQ(spec.env, (std::vector<std::string>{"PATH=/bin", "HAVEN_SERVICE=web", "HAVEN_REPLICA=web-1",
                                                  "HAVEN_PORT=9001", "GREETING=hi from 1"}));
    EXPECT_EQ(r->state(), ReplicaState::Starting);
    EXPECT_FALSE(f.gate.serving("web-1"));
    f.sched.advance(10ms); // the first readiness check, at once, passes
    EXPECT_EQ(r->state(), ReplicaState::Ready);
    EXPECT_TRUE(f.gate.serving("web-1"));
    EXPECT_EQ(f.events.count("replica_ready"), 1u);
}

TEST(Replica, RestartsAfterRestartDelayNeverSooner) {
    ReplicaFixture f;
    auto r = f.make();
    r->start();
    f.sched.advance(10ms);
    f.crash();
    f.sched.run_posted();
    EXPECT_EQ(r->state(), ReplicaState::Backoff);
    EXPECT_FALSE(f.gate.serving("web-1")); // out of rotation as soon as it is gone
    f.sched.advance(999ms);
    EXPECT_EQ(f.spawns(), 1u);
    f.sched.advance(1ms);
    EXPECT_EQ(f.spawns(), 2u);
    EXPECT_EQ(r->status().restarts, 1u);
    EXPECT_EQ(r->status().last_exit->code, 1);
}

TEST(Replica, BackoffDoublesThenACrashLoopSlowsItDown) {
    ReplicaFixture f;
    auto r = f.make();
    r->start();
    std::vector<Duration> gaps;
    for (int i = 0; i < 5; ++i) {
        f.crash();
        f.sched.run_posted();
        const auto before = f.sched.now();
        const auto n = f.spawns();
        while (f.spawns() == n) f.sched.advance(100ms);
        gaps.push_back(f.sched.now() - before);
    }
    // 1s, 2s, 4s, then the 4th restart within 60s: CRASHLOOP, every 30s.
    EXPECT_EQ(gaps, (std::vector<Duration>{1s, 2s, 4s, 30s, 30s}));
    EXPECT_EQ(f.events.count("replica_crashloop"), 1u);
    EXPECT_STREQ(supervisor::replica_state_name(r->state(), r->status().crashloop), "crashloop");
    EXPECT_EQ(r->status().crashloops, 1u);
}

TEST(Replica, ACommandThatExitsAtOnceNeverBusyLoops) {
    ReplicaFixture f;
    auto r = f.make();
    r->start();
    // It exits as soon as it starts, for ten minutes.
    for (int i = 0; i < 6000; ++i) {
        if (!f.launcher.last()->exited) f.crash();
        f.sched.advance(100ms);
    }
    // 1+2+4 s, then every 30 s: about 23 starts in 600 s, not thousands.
    EXPECT_LE(f.spawns(), 24u);
    EXPECT_GE(f.spawns(), 20u);
}

TEST(Replica, StayingReadyForResetAfterEndsTheCrashLoop) {
    ReplicaFixture f;
    auto r = f.make();
    r->start();
    for (int i = 0; i < 4; ++i) { // exits at 0, 10, 20 and 30 s: the 4th within 60 s is a crash loop
        f.crash();
        f.sched.advance(10s);
    }
    ASSERT_TRUE(r->status().crashloop);
    f.sched.advance(20s + 10ms); // restarted at 60 s, and ready
    EXPECT_TRUE(r->status().crashloop);
    f.sched.advance(60s); // ready for reset_after
    EXPECT_FALSE(r->status().crashloop);
    EXPECT_EQ(f.events.count("replica_recovered"), 1u);
    f.crash();
    f.sched.run_posted();
    EXPECT_EQ(r->status().next_start_in_s, 1.0); // the backoff started over
}

TEST(Replica, FailingLivenessRestartsIt) {
    ReplicaFixture f;
    auto s = web();
    config::ServiceProbe live;
    live.kind = config::ServiceProbe::Kind::Tcp;
    live.initial_delay = 30s;
    live.period = 10s;
    live.failure_threshold = 3;
    s.liveness = live;
    auto r = f.make(s);
    r->start();
    f.sched.advance(10ms);
    f.probes.control("web-1", "liveness")->fallback = probe_fail("timeout");
    f.sched.advance(49s);
    EXPECT_TRUE(f.launcher.last()->signals.empty()); // two failures so far
    f.sched.advance(1s + 10ms);                       // the third, at 50s
    EXPECT_EQ(f.launcher.children.front()->signals, std::vector<int>{SIGTERM});
    EXPECT_EQ(f.events.count("replica_liveness_failed"), 1u);
    EXPECT_FALSE(f.gate.serving("web-1"));
    f.probes.control("web-1", "liveness")->fallback = probe_ok();
    f.sched.advance(1s); // exited on SIGTERM; restarted after restart_delay
    EXPECT_EQ(f.spawns(), 2u);
    EXPECT_EQ(r->status().liveness_kills, 1u);
    // The new process's probe has not run yet; the counts still hold the old one's checks.
    EXPECT_EQ(r->status().liveness->checks, 3u);
    EXPECT_EQ(r->status().liveness->failures, 3u);
}

TEST(Replica, ReadinessTakesItInAndOutOfRotation) {
    ReplicaFixture f;
    auto r = f.make();
    r->start();
    f.sched.advance(10ms);
    ASSERT_TRUE(f.gate.serving("web-1"));
    auto ready = f.probes.control("web-1", "readiness");
    ready->fallback = probe_fail("status 503");
    f.sched.advance(1s);
    EXPECT_TRUE(f.gate.serving("web-1")); // one failure of two
    f.sched.advance(1s);
    EXPECT_FALSE(f.gate.serving("web-1"));
    EXPECT_EQ(r->state(), ReplicaState::NotReady);
    EXPECT_EQ(f.spawns(), 1u); // not ready is not a restart
    ready->fallback = probe_ok();
    f.sched.advance(1s);
    EXPECT_TRUE(f.gate.serving("web-1"));
}

TEST(Replica, StopDrainsThenTermsThenKills) {
    ReplicaFixture f;
    auto r = f.make();
    r->start();
    f.sched.advance(10ms);
    f.gate.in_flight_["web-1"] = 2;
    f.launcher.term_exits = false;
    bool done = false;
    r->stop([&] { done = true; });
    EXPECT_FALSE(f.gate.serving("web-1"));
    EXPECT_EQ(r->state(), ReplicaState::Draining);
    f.sched.advance(1s);
    EXPECT_TRUE(f.launcher.last()->signals.empty()); // requests still in flight
    f.gate.in_flight_["web-1"] = 0;
    f.sched.advance(50ms);
    EXPECT_EQ(f.launcher.last()->signals, std::vector<int>{SIGTERM});
    f.sched.advance(2900ms);
    EXPECT_FALSE(done);
    f.sched.advance(100ms); // stop_grace: SIGKILL
    EXPECT_EQ(f.launcher.last()->signals, (std::vector<int>{SIGTERM, SIGKILL}));
    EXPECT_TRUE(done);
    EXPECT_EQ(r->state(), ReplicaState::Stopped);
    f.sched.advance(1h);
    EXPECT_EQ(f.spawns(), 1u); // a stop is not followed by a restart
}

TEST(Replica, DrainTimeoutBoundsTheWait) {
    ReplicaFixture f;
    auto r = f.make();
    r->start();
    f.sched.advance(10ms);
    f.gate.in_flight_["web-1"] = 1; // a request that never ends
    r->stop(nullptr);
    f.sched.advance(4900ms);
    EXPECT_TRUE(f.launcher.last()->signals.empty());
    f.sched.advance(200ms);
    EXPECT_EQ(f.launcher.last()->signals, std::vector<int>{SIGTERM});
}

TEST(Replica, RestartModes) {
    for (const auto& [mode, code, restarts] : {std::tuple{config::RestartMode::Always, 0, true},
                                               std::tuple{config::RestartMode::OnFailure, 0, false},
                                               std::tuple{config::RestartMode::OnFailure, 2, true},
                                               std::tuple{config::RestartMode::Never, 2, false}}) {
        ReplicaFixture f;
        auto s = web();
        s.restart = mode;
        auto r = f.make(s);
        r->start();
        f.crash(code);
        f.sched.advance(5s);
        EXPECT_EQ(f.spawns(), restarts ? 2u : 1u) << config::name_of(mode) << " exit " << code;
        if (!restarts) {
            EXPECT_EQ(r->state(), ReplicaState::Stopped);
        }
    }
}

TEST(Replica, ACommandThatCannotStartIsRetriedWithBackoff) {
    ReplicaFixture f;
    f.launcher.fail_next = true;
    auto r = f.make();
    r->start();
    EXPECT_EQ(f.events.count("replica_start_failed"), 1u);
    EXPECT_EQ(r->state(), ReplicaState::Backoff);
    f.sched.advance(1s);
    EXPECT_EQ(f.spawns(), 1u);
    EXPECT_EQ(r->state(), ReplicaState::Starting);
}

TEST(Replica, ReplaceStopsDrainedAndStartsTheNewDefinition) {
    ReplicaFixture f;
    auto r = f.make();
    r->start();
    f.sched.advance(10ms);
    auto next = web();
    next.env = {{"GREETING", "new"}};
    std::optional<bool> result;
    r->replace(std::make_shared<const config::Service>(next), [&](bool ok, const std::string&) { result = ok; });
    f.sched.advance(150ms);
    EXPECT_EQ(f.spawns(), 1u); // draining: at least 200 ms, even with nothing in flight
    EXPECT_FALSE(result.has_value());
    f.sched.advance(150ms); // SIGTERM, exited, started again, ready
    ASSERT_EQ(f.spawns(), 2u);
    EXPECT_EQ(f.launcher.last()->spec.env.back(), "GREETING=new");
    EXPECT_EQ(result, std::optional<bool>(true));
    EXPECT_EQ(f.gate.log, (std::vector<std::string>{"web-1 on", "web-1 off", "web-1 on"}));
}

TEST(Replica, NotReadyWithinReadyTimeoutCountsAsFailedToStart) {
    ReplicaFixture f;
    auto s = web();
    s.ready_timeout = 5s;
    f.probes.control("web-1", "readiness")->fallback = probe_fail();
    auto r = f.make(s);
    std::optional<bool> result;
    r->replace(std::make_shared<const config::Service>(s), [&](bool ok, const std::string&) { result = ok; });
    f.sched.advance(4s);
    EXPECT_EQ(r->state(), ReplicaState::NotReady);
    EXPECT_FALSE(result.has_value()); // not ready yet is not given up yet
    f.sched.advance(1s);
    EXPECT_EQ(result, std::optional<bool>(false));
    EXPECT_TRUE(r->settled());
}
