// A service's replicas: rolling restarts one at a time (never two out of rotation at once), a
// reload that changes the definition (roll) or only the count (no roll), and a roll that halts
// at a replica that does not get ready.
#include "supervisor/service_runner.hpp"

#include "fakes.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using namespace haven;
using namespace haven::test;
using supervisor::ExitStatus;
using supervisor::ReplicaState;
using supervisor::ServiceRunner;

namespace {

config::Service runner_web(std::uint32_t replicas = 3) {
    config::Service s;
    s.name = "web";
    s.command = "server";
    s.path = "/usr/bin/server";
    s.args = {"{port}"};
    s.replicas = replicas;
    s.ports = {9001, 9002, 9003, 9004, 9005};
    s.restart_delay = 1s;
    config::ServiceProbe ready;
    ready.kind = config::ServiceProbe::Kind::Http;
    ready.period = 1s;
    s.readiness = ready;
    return s;
}

struct Fixture {
    ManualScheduler sched;
    FakeLauncher launcher{sched};
    FakeGate gate;
    FakeProbes probes{sched};
    EventLog events;
    supervisor::ReplicaEnv env{sched, launcher, events, gate, probes.factory(), {}};

    std::size_t serving(std::uint32_t replicas = 3) const {
        std::size_t n = 0;
        for (std::uint32_t i = 1; i <= replicas; ++i) n += gate.serving("web-" + std::to_string(i)) ? 1 : 0;
        return n;
    }
    // Advances in small steps, checking that at most one replica is out of rotation at a time.
    std::size_t advance_watching(Duration d, std::uint32_t replicas = 3) {
        std::size_t least = replicas;
        for (auto t = Duration::zero(); t < d; t += 10ms) {
            sched.advance(10ms);
            least = std::min(least, serving(replicas));
        }
        return least;
    }
};

} // namespace

TEST(ServiceRunner, RollingRestartReplacesOneReplicaAtATime) {
    Fixture f;
    ServiceRunner svc(f.env, std::make_shared<const config::Service>(runner_web()));
    svc.start();
    f.sched.advance(10ms);
    ASSERT_EQ(f.serving(), 3u);
    std::string error;
    ASSERT_TRUE(svc.rolling_restart("requested", error));
    EXPECT_FALSE(svc.rolling_restart("again", error)); // one at a time
    EXPECT_NE(error.find("in progress"), std::string::npos);
    EXPECT_EQ(f.advance_watching(3s), 2u); // never fewer than two serving
    EXPECT_EQ(f.launcher.children.size(), 6u);
    EXPECT_EQ(f.serving(), 3u);
    EXPECT_EQ(f.events.count("rolling_restart_done"), 1u);
    // In order: web-1's replacement was ready before web-2 left rotation.
    std::vector<std::string> expected = {"web-1 on", "web-2 on", "web-3 on", "web-1 off", "web-1 on",
                                         "web-2 off", "web-2 on", "web-3 off", "web-3 on"};
    EXPECT_EQ(f.gate.log, expected);
    EXPECT_FALSE(svc.status().rolling);
}

TEST(ServiceRunner, AReloadThatChangesTheEnvRollsAndOneThatScalesDoesNot) {
    Fixture f;
    ServiceRunner svc(f.env, std::make_shared<const config::Service>(runner_web()));
    svc.start();
    f.sched.advance(10ms);
    svc.update(std::make_shared<const config::Service>(runner_web(4)));
    f.sched.advance(100ms);
    EXPECT_EQ(f.launcher.children.size(), 4u); // one more, nobody restarted
    EXPECT_EQ(f.events.count("rolling_restart"), 0u);
    svc.update(std::make_shared<const config::Service>(runner_web(2)));
    f.sched.advance(1s);
    EXPECT_EQ(f.launcher.running(), 2u); // web-3 and web-4 stopped, highest first
    EXPECT_EQ(svc.status().replica_status.size(), 2u);
    auto changed = runner_web(2);
    changed.env = {{"MODE", "fast"}};
    svc.update(std::make_shared<const config::Service>(changed));
    EXPECT_EQ(f.advance_watching(3s, 2), 1u);
    EXPECT_EQ(f.events.count("rolling_restart_done"), 1u);
    for (const auto& c : f.launcher.children) {
        if (!c->exited) {
            EXPECT_EQ(c->spec.env.back(), "MODE=fast");
        }
    }
}

TEST(ServiceRunner, ARollHaltsAtAReplicaThatExits) {
    Fixture f;
    ServiceRunner svc(f.env, std::make_shared<const config::Service>(runner_web()));
    svc.start();
    f.sched.advance(10ms);
    f.probes.control("web-2", "readiness")->fallback = probe_fail("status 503");
    std::string error;
    ASSERT_TRUE(svc.rolling_restart("requested", error));
    f.sched.advance(300ms); // web-1 replaced and ready
    f.sched.advance(200ms); // web-2 drained, stopped, started again, not ready...
    ASSERT_EQ(f.launcher.children.size(), 5u);
    f.launcher.exit(f.launcher.last(), ExitStatus{1, 0}); // ... and dies before it is ready
    f.sched.advance(5s);
    EXPECT_EQ(f.events.count("rolling_restart_halted"), 1u);
    EXPECT_EQ(f.launcher.children.size(), 6u); // web-2 restarted by its own policy; web-3 untouched
    EXPECT_EQ(f.launcher.children[2]->signals.size(), 0u);
    EXPECT_FALSE(svc.status().rolling);
}
