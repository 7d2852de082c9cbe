// PoolState on a fake clock with fake probes: health transitions, failover across tiers with its
// event, outlier ejection from the workers' failure counters, admin states, slow start, reload.
#include "support/pool_state_fixture.hpp"

using namespace std::chrono_literals;

namespace haven::upstream {
namespace {

using test_support::check;
using test_support::PoolStateTest;
using test_support::server;

TEST_F(PoolStateTest, InitialDownServersWaitForRiseChecks) {
    auto p = pool();
    p.health_check->initial = config::InitialHealth::Down;
    PoolState ps(env, p, 0);
    EXPECT_TRUE(serving(*ps.current()).empty());
    EXPECT_EQ(ps.current()->mode, ServingMode::None);
    ps.start();
    all_ok();
    sched.advance(10ms);                   // a server with no result yet is checked at once
    EXPECT_TRUE(ps.first_round_done());
    EXPECT_TRUE(serving(*ps.current()).empty());
    sched.advance(110ms);                  // second success: fast_interval + the probe's 10 ms
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0, 1}));
    EXPECT_EQ(ps.current()->tier, 0);
    EXPECT_EQ(events.count("server_up"), 3u);
}

TEST_F(PoolStateTest, TheFirstCheckDecidesByDefault) {
    PoolState ps(env, pool(), 0);
    // Until its first result a server counts as up: requests before the first round are served.
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0, 1}));
    ps.start();
    all_ok();
    probes["web2"]->fallback = test::probe_fail("connection refused");
    EXPECT_FALSE(ps.first_round_done());
    for (const auto& [name, c] : probes) EXPECT_EQ(c->started, 1u) << name << ": probed at once, not spread";
    sched.advance(10ms);
    EXPECT_TRUE(ps.first_round_done());
    // One failed first check is enough to take a server out; passes change nothing.
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0}));
    EXPECT_EQ(events.count("server_down"), 1u);
    EXPECT_EQ(events.count("server_up"), 0u);
    EXPECT_EQ(ps.failovers(), 0u) << "settling at start is not a failover";
    // After the first result, the usual hysteresis: web1 needs `fall` failures.
    probes["web1"]->fallback = test::probe_fail("timeout");
    sched.advance(1s + 10ms);
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0}));
}

TEST_F(PoolStateTest, PrimariesDownMeansTheBackupServesAndBackAgain) {
    PoolState ps(env, pool(), 0);
    ps.start();
    all_ok();
    sched.advance(2s);
    ASSERT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0, 1}));
    probes["web1"]->fallback = test::probe_fail("connection refused");
    probes["web2"]->fallback = test::probe_fail("status 503");
    sched.advance(1s + 3 * 110ms);         // one normal interval, then fall-1 fast intervals
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{2}));
    EXPECT_EQ(ps.current()->tier, 1);
    EXPECT_EQ(ps.failovers(), 1u);
    const auto ev = events.since();
    const auto fo = std::find_if(ev.begin(), ev.end(), [](const Event& e) { return e.kind == "failover"; });
    ASSERT_NE(fo, ev.end());
    EXPECT_EQ(fo->detail, "tier 0 -> tier 1");
    const auto down = std::find_if(ev.begin(), ev.end(), [](const Event& e) { return e.kind == "server_down"; });
    ASSERT_NE(down, ev.end());
    EXPECT_TRUE(down->detail == "connection refused" || down->detail == "status 503");

    all_ok();
    sched.advance(1s + 2 * 110ms);         // down_interval, then rise-1 fast intervals
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0, 1}));
    EXPECT_EQ(ps.failovers(), 2u);
}

TEST_F(PoolStateTest, ConsecutiveFailuresFromWorkersEjectAndTheServerReturns) {
    auto p = pool(false);
    PoolState ps(env, p, 0);
    ASSERT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0, 1}));
    auto& signals = *ps.current()->hosts[1].signals;
    for (int i = 0; i < 5; ++i) signals.on_failure();
    ps.tick(sched.now());
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0}));
    EXPECT_EQ(events.count("ejected"), 1u);
    EXPECT_EQ(signals.consecutive_failures.load(), 0u) << "counting starts over";
    sched.advance(29s);
    ps.tick(sched.now());
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0}));
    sched.advance(1s);
    ps.tick(sched.now());
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0, 1}));
    EXPECT_EQ(events.count("returned"), 1u);
}

TEST_F(PoolStateTest, DrainAndMaintenanceTakeAServerOutOfRotation) {
    PoolState ps(env, pool(false), 0);
    EXPECT_TRUE(ps.set_admin("web1", AdminState::Drain, "admin api"));
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{1}));
    EXPECT_TRUE(ps.set_admin("web2", AdminState::Maint, "admin api"));
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{2})) << "the backup takes over";
    EXPECT_FALSE(ps.set_admin("nope", AdminState::Drain, ""));
    EXPECT_TRUE(ps.set_admin("web1", AdminState::Ready, "admin api"));
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0}));
    EXPECT_EQ(events.count("admin_drain"), 1u);
    EXPECT_EQ(events.count("admin_maint"), 1u);
}

TEST_F(PoolStateTest, SlowStartRampsTheWeightOfAServerThatCameBack) {
    auto p = pool();
    p.slow_start = 10s;
    p.health_check->initial = config::InitialHealth::Down;
    PoolState ps(env, p, 0);
    ps.start();
    all_ok();
    sched.advance(2s);
    // initial: down servers come up through checks, so they ramp.
    auto weight_of = [&](HostIndex h) {
        for (const auto& e : ps.current()->eligible) {
            if (e.host == h) return e.weight;
        }
        return 0u;
    };
    const auto early = weight_of(0);
    EXPECT_GT(early, 0u);
    EXPECT_LT(early, kWeightScale);
    for (int i = 0; i < 100; ++i) {
        sched.advance(100ms);
        ps.tick(sched.now());
    }
    EXPECT_EQ(weight_of(0), kWeightScale);
}

TEST_F(PoolStateTest, AllDownGivesNoServerOrPanicMode) {
    auto p = pool();
    p.health_check->initial = config::InitialHealth::Down;
    PoolState none(env, p, 0);
    EXPECT_EQ(none.current()->mode, ServingMode::None);
    p.on_all_down = config::OnAllDown::TryAll;
    PoolState panic(env, p, 0);
    EXPECT_EQ(panic.current()->mode, ServingMode::Panic);
    EXPECT_EQ(serving(*panic.current()).size(), 3u);
}

TEST_F(PoolStateTest, ReloadKeepsTheStateOfUnchangedServers) {
    PoolState ps(env, pool(false), 0);
    ASSERT_TRUE(ps.set_admin("web2", AdminState::Drain, "test"));
    auto p = pool(false);
    p.servers.push_back(server("web3", 9004));
    ps.reconfigure(p, 0);
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0, 3})) << "web2 stays drained; web3 joins";
    EXPECT_EQ(ps.current()->hosts.size(), 4u);
}

TEST_F(PoolStateTest, AReloadThatRemovesTheChecksBringsDownServersBack) {
    PoolState ps(env, pool(), 0);
    ps.start();
    all_ok();
    probes["web2"]->fallback = test::probe_fail("connection refused");
    sched.advance(10ms);
    ASSERT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0}));
    ps.reconfigure(pool(false), 0); // the same servers, no health_check
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0, 1})) << "nothing would ever check web2 again";
    EXPECT_EQ(events.count("server_up"), 1u);
}

TEST_F(PoolStateTest, AServerPutBackInServiceWhileCheckedDownIsCheckedAtOnce) {
    PoolState ps(env, pool(), 0);
    ps.start();
    all_ok();
    probes["web2"]->fallback = test::probe_fail("connection refused"); // a replica still starting
    sched.advance(10ms);
    ASSERT_TRUE(ps.set_admin("web2", AdminState::Drain, "replica not ready"));
    ASSERT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0}));
    ASSERT_TRUE(ps.set_admin("web2", AdminState::Ready, "replica ready")); // a new probe, passing
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0, 1})) << "counted up until its check answers";
    EXPECT_EQ(probes["web2"]->started, 1u) << "checked at once, not at down_interval";
    sched.advance(10ms);
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0, 1}));
    // Put back again while really down: the first check decides at once.
    ASSERT_TRUE(ps.set_admin("web2", AdminState::Drain, "test"));
    probes["web2"]->fallback = test::probe_fail("connection refused");
    sched.advance(3s);
    ASSERT_TRUE(ps.set_admin("web2", AdminState::Ready, "test"));
    probes["web2"]->fallback = test::probe_fail("connection refused");
    sched.advance(10ms);
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0}));
}

TEST_F(PoolStateTest, RetriesFallBackToUsableServersOfOtherTiers) {
    PoolState ps(env, pool(false), 0);
    EXPECT_EQ(ps.current()->fallback, (std::vector<HostIndex>{2}));
}

} // namespace
} // namespace haven::upstream
