// PoolState on a fake clock with fake probes: health transitions, failover across tiers with its
// event, outlier ejection from the workers' failure counters, admin states, slow start, reload.
#include "upstream/pool_state.hpp"

#include "support/fake_probe.hpp"
#include "support/fake_random.hpp"
#include "support/manual_scheduler.hpp"

#include <gtest/gtest.h>

#include <map>

using namespace std::chrono_literals;

namespace haven::upstream {
namespace {

config::Server server(std::string name, std::uint16_t port, bool backup = false) {
    config::Server s;
    s.name = std::move(name);
    s.address = config::Endpoint{"127.0.0.1:" + std::to_string(port), "127.0.0.1", port};
    s.backup = backup;
    return s;
}

config::HealthCheck check() {
    config::HealthCheck h;
    h.interval = 1000ms;
    h.fast_interval = 100ms;
    h.down_interval = 1000ms;
    h.timeout = 50ms;
    h.rise = 2;
    h.fall = 3;
    h.jitter = 0;
    return h;
}

struct PoolStateTest : ::testing::Test {
    asio::io_context io;
    test::ManualScheduler sched;
    test::FakeRandom random{{0}};
    EventLog events;
    std::vector<std::shared_ptr<const HostSet>> published;
    std::map<std::string, std::shared_ptr<test::FakeProbeControl>> probes;
    ControlEnv env{io, sched, random, events, [this](auto set) { published.push_back(std::move(set)); },
                   [this](const config::HealthCheck&, const config::Server& s, const asio::ip::tcp::endpoint&) {
                       auto c = std::make_shared<test::FakeProbeControl>();
                       c->latency = 10ms;
                       probes[s.name] = c;
                       return std::make_unique<test::FakeProbe>(c, &sched);
                   }};

    config::Pool pool(bool with_check = true) {
        config::Pool p;
        p.name = "web";
        p.servers = {server("web1", 9001), server("web2", 9002), server("spare", 9003, true)};
        if (with_check) p.health_check = check();
        p.outlier_detection.consecutive_failures = 5;
        p.outlier_detection.base_ejection = 30s;
        return p;
    }
    static std::vector<HostIndex> serving(const HostSet& s) {
        std::vector<HostIndex> out;
        for (const auto& e : s.eligible) out.push_back(e.host);
        return out;
    }
    void all_ok() {
        for (auto& [name, c] : probes) c->fallback = test::probe_ok();
    }
};

TEST_F(PoolStateTest, ServersStartDownUntilTheyPassRiseChecks) {
    PoolState ps(env, pool(), 0);
    EXPECT_TRUE(serving(*ps.current()).empty()) << "initial: down is the default";
    EXPECT_EQ(ps.current()->mode, ServingMode::None);
    ps.start();
    all_ok();
    sched.advance(1s);                     // first probe at a random point in [0, interval): 0 here
    EXPECT_TRUE(ps.first_round_done());
    sched.advance(200ms);                  // second success after fast_interval
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0, 1}));
    EXPECT_EQ(ps.current()->tier, 0);
    EXPECT_EQ(events.count("server_up"), 3u);
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
    PoolState ps(env, p, 0);
    ps.start();
    all_ok();
    sched.advance(2s);
    // Servers up at start come up through checks, so they ramp too.
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

TEST_F(PoolStateTest, RetriesFallBackToUsableServersOfOtherTiers) {
    PoolState ps(env, pool(false), 0);
    EXPECT_EQ(ps.current()->fallback, (std::vector<HostIndex>{2}));
}

} // namespace
} // namespace haven::upstream
