// PoolState: refused connects reported by workers (HostSignals::refusals) and the two causes of
// an outlier ejection, on a fake clock with fake probes.
#include "support/pool_state_fixture.hpp"

using namespace std::chrono_literals;

namespace haven::upstream {
namespace {

using test_support::PoolStateTest;

std::uint64_t cleared(const PoolState& ps, HostIndex h) { return ps.current()->hosts[h].refusals_cleared; }

TEST_F(PoolStateTest, AServerLeavesRotationWhileItsRegionIsDownAndComesBackWithIt) {
    auto cfg = pool();
    cfg.servers[0].region = "eu";
    cfg.servers[1].region = "us";
    PoolState ps(env, cfg, 0);
    ps.start();
    all_ok();
    sched.advance(20ms);
    ASSERT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0, 1}));
    ps.set_region("eu", false, "region eu down (0 of 1 endpoints up, needs 1)");
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{1}));
    EXPECT_EQ(events.count("region_server_down"), 1u);
    EXPECT_STREQ(state_name(ps.status()[0]), "region down");
    ps.set_region("eu", false, "again"); // no change, no event
    EXPECT_EQ(events.count("region_server_down"), 1u);
    ps.set_region("us", false, "region us down");
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{2})) << "both regions down: the backup serves";
    ps.set_region("eu", true, "region eu up");
    ps.set_region("us", true, "region us up");
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0, 1}));
    EXPECT_EQ(events.count("region_server_up"), 2u);
}

TEST_F(PoolStateTest, ARefusalTakesTheServerOutAtOnceAndAPassingCheckBringsItBack) {
    PoolState ps(env, pool(), 0);
    ps.start();
    all_ok();
    sched.advance(20ms);
    ASSERT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0, 1}));
    const auto probes_before = probes["web1"]->started;

    ps.current()->hosts[0].signals->on_refused(); // a worker's connect was refused
    ps.tick(sched.now());
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{1})) << "out for every worker at the next tick";
    EXPECT_EQ(events.count("refused"), 1u);
    EXPECT_EQ(probes["web1"]->started, probes_before + 1) << "checked at once, not at the next interval";
    EXPECT_EQ(ps.status()[0].refused, true);
    EXPECT_STREQ(state_name(ps.status()[0]), "refused");

    sched.advance(10ms); // the check passes: the refusal is answered
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0, 1}));
    EXPECT_EQ(cleared(ps, 0), 1u) << "workers may pick it again";
    EXPECT_EQ(events.count("refusal_cleared"), 1u);
    EXPECT_EQ(ps.status()[0].refusals_total, 1u);
}

TEST_F(PoolStateTest, ARefusalConfirmedByChecksStaysOutUntilTheServerIsBack) {
    PoolState ps(env, pool(), 0);
    ps.start();
    all_ok();
    sched.advance(20ms);
    probes["web1"]->fallback = test::probe_fail("connection refused");
    ps.current()->hosts[0].signals->on_refused();
    ps.current()->hosts[0].signals->on_refused();
    ps.tick(sched.now());
    EXPECT_EQ(events.count("refused"), 1u) << "one event per episode, not per refused connect";
    sched.advance(1s); // the checks fail: fall (3) reached at fast_interval
    EXPECT_EQ(events.count("server_down"), 1u);
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{1}));
    EXPECT_EQ(cleared(ps, 0), 0u);

    probes["web1"]->fallback = test::probe_ok(); // restarted
    sched.advance(1s + 120ms);                   // down_interval, then rise - 1 fast intervals
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0, 1}));
    EXPECT_EQ(cleared(ps, 0), 2u);
}

TEST_F(PoolStateTest, ARefusalAfterTheLastTickIsNotClearedByAnEarlierAnswer) {
    PoolState ps(env, pool(), 0);
    ps.start();
    all_ok();
    sched.advance(20ms);
    auto& signals = *ps.current()->hosts[0].signals;
    signals.on_refused();
    ps.tick(sched.now());
    signals.on_refused(); // seen by a worker, not yet by the control thread
    sched.advance(10ms);  // the check asked for the first refusal passes
    EXPECT_EQ(cleared(ps, 0), 1u) << "only what the control thread had seen is answered";
    ps.tick(sched.now());
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{1})) << "the second refusal is a new episode";
    EXPECT_EQ(events.count("refused"), 2u);
}

TEST_F(PoolStateTest, WithoutChecksARefusalIsAnsweredByAConnectEverySecond) {
    PoolState ps(env, pool(false), 0);
    ps.start();
    ps.current()->hosts[1].signals->on_refused();
    ps.tick(sched.now());
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0}));
    ASSERT_TRUE(probes.count("web2"));
    auto probe = probes["web2"];
    probe->latency.reset(); // completed by hand
    ASSERT_TRUE(probe->in_flight()) << "a connect check starts at once";
    probe->complete_fail();
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0}));
    sched.advance(1s);
    ASSERT_TRUE(probe->in_flight());
    EXPECT_EQ(probe->started, 2u);
    probe->complete_ok();
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0, 1}));
    EXPECT_EQ(cleared(ps, 1), 1u);
    EXPECT_TRUE(probe->destroyed) << "the connect check ends with the episode";
}

TEST_F(PoolStateTest, WithoutChecksTheConnectCheckAlsoEndsAConnectionEjection) {
    // A replica killed under load: refused connects from several workers also count as
    // consecutive failures and eject it; the connect check that answers the refusal is the
    // evidence that ends both, not the 30 s ejection timer.
    PoolState ps(env, pool(false), 0);
    ps.start();
    auto& signals = *ps.current()->hosts[1].signals;
    for (int i = 0; i < 5; ++i) {
        signals.on_refused();
        signals.on_failure();
    }
    ps.tick(sched.now());
    EXPECT_EQ(events.count("ejected"), 1u);
    auto probe = probes["web2"];
    probe->latency.reset();
    probe->complete_ok();
    EXPECT_EQ(events.count("returned"), 1u);
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0, 1})) << "back at once, not after base_ejection";
}

TEST_F(PoolStateTest, AnEjectionForConnectionFailuresEndsWhenAnActiveCheckPasses) {
    PoolState ps(env, pool(), 0);
    ps.start();
    all_ok();
    sched.advance(20ms);
    auto& signals = *ps.current()->hosts[1].signals;
    for (int i = 0; i < 5; ++i) signals.on_failure(); // resets, timeouts: no response
    ps.tick(sched.now());
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0}));
    sched.advance(1s); // the next regular check passes
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0, 1}));
    EXPECT_EQ(events.count("returned"), 1u);
}

TEST_F(PoolStateTest, AnEjectionForBadResponsesRunsItsTimeWhateverTheChecksSay) {
    PoolState ps(env, pool(), 0);
    ps.start();
    all_ok();
    sched.advance(20ms);
    auto& signals = *ps.current()->hosts[1].signals;
    for (int i = 0; i < 4; ++i) signals.on_failure();
    signals.on_failure(true); // one 5xx in the streak: the server answers, badly
    ps.tick(sched.now());
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0}));
    for (int i = 0; i < 29; ++i) {
        sched.advance(1s);
        ps.tick(sched.now());
    }
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0})) << "its /health passes, yet it stays out";
    sched.advance(1s);
    ps.tick(sched.now());
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0, 1})) << "base_ejection (30 s) served";
}

TEST_F(PoolStateTest, ARefusedPrimaryFailsOverToTheBackupAtTheNextTick) {
    auto p = pool(false);
    p.servers = {test_support::server("primary", 9001), test_support::server("backup", 9002, true)};
    PoolState ps(env, p, 0);
    ps.start();
    ASSERT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0}));
    ps.current()->hosts[0].signals->on_refused();
    ps.tick(sched.now());
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{1}));
    EXPECT_EQ(ps.current()->tier, 1);
    EXPECT_EQ(ps.failovers(), 1u);
}

} // namespace
} // namespace haven::upstream
