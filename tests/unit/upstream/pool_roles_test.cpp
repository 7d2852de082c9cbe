// PoolState with `role:` on a fake clock with fake postgres answers: one primary at most (two is
// a split brain: nothing serves), unknown roles take nothing, prefer_replica's fallback tier,
// replica lag, and which servers' connections must end (on_marked_down: shutdown_sessions).
#include "support/pool_state_fixture.hpp"

using namespace std::chrono_literals;

namespace haven::upstream {
namespace {

using test_support::check;
using test_support::PoolStateTest;
using test_support::server;

ProbeResult says(DbRole role, double lag = 0, std::uint64_t lsn = 100) {
    ProbeResult r{true, "ok"};
    r.role = role;
    r.lag_seconds = lag;
    r.lsn = lsn;
    return r;
}

struct PoolRolesTest : PoolStateTest {
    config::Pool db(config::PoolRole role) {
        config::Pool p;
        p.name = "db";
        p.role = role;
        p.servers = {server("pg1", 5001), server("pg2", 5002)};
        p.health_check = check();
        p.health_check->kind = config::HealthCheck::Kind::Postgres;
        return p;
    }
    void answer(const std::string& name, ProbeResult r) { probes[name]->fallback = std::move(r); }
};

TEST_F(PoolRolesTest, WritesGoOnlyToTheServerThatSaysPrimary) {
    PoolState ps(env, db(config::PoolRole::Primary), 0);
    // Before any answer the role is unknown: nothing serves (a replica must never take a write).
    EXPECT_TRUE(serving(*ps.current()).empty());
    ps.start();
    answer("pg1", says(DbRole::Primary));
    answer("pg2", says(DbRole::Replica));
    sched.advance(20ms);
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0}));
    EXPECT_EQ(ps.primaries(), 1u);
    EXPECT_EQ(ps.current()->shut, (std::vector<std::uint8_t>{0, 1}));
    const auto st = ps.status();
    EXPECT_EQ(st[0].role, "primary");
    EXPECT_EQ(st[1].role, "replica");
}

TEST_F(PoolRolesTest, TwoPrimariesIsASplitBrainAndNothingServesUntilOneRemains) {
    PoolState ps(env, db(config::PoolRole::Primary), 0);
    ps.start();
    answer("pg1", says(DbRole::Primary));
    answer("pg2", says(DbRole::Replica));
    sched.advance(20ms);
    // pg2 is promoted while pg1 still runs as primary: at pg2's next check (down_interval) both claim.
    answer("pg2", says(DbRole::Primary));
    sched.advance(1s + 20ms);
    EXPECT_TRUE(serving(*ps.current()).empty());
    EXPECT_EQ(ps.primaries(), 2u);
    EXPECT_EQ(ps.split_brains(), 1u);
    EXPECT_EQ(events.count("split_brain"), 1u);
    EXPECT_EQ(ps.current()->shut, (std::vector<std::uint8_t>{1, 1})) << "connections to both end";
    // The old primary is fenced (it answers as a replica now): pg2 alone, at once.
    answer("pg1", says(DbRole::Replica));
    sched.advance(1s + 20ms);
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{1}));
    EXPECT_EQ(events.count("split_brain_resolved"), 1u);
    EXPECT_EQ(ps.current()->shut, (std::vector<std::uint8_t>{1, 0}));
}

TEST_F(PoolRolesTest, ADemotedPrimaryLeavesAtItsFirstAnswerAndANewOneServesAtItsFirst) {
    PoolState ps(env, db(config::PoolRole::Primary), 0);
    ps.start();
    answer("pg1", says(DbRole::Primary));
    answer("pg2", says(DbRole::Replica));
    sched.advance(20ms);
    answer("pg1", says(DbRole::Replica));
    sched.advance(1s + 20ms); // one check each: no fall/rise counting for a role answer
    EXPECT_TRUE(serving(*ps.current()).empty());
    EXPECT_EQ(events.count("no_primary"), 1u);
    answer("pg2", says(DbRole::Primary));
    sched.advance(1s + 20ms);
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{1}));
}

TEST_F(PoolRolesTest, ADeadPrimaryNeedsFallChecksButARefusedConnectActsAtOnce) {
    PoolState ps(env, db(config::PoolRole::Primary), 0);
    ps.start();
    answer("pg1", says(DbRole::Primary));
    answer("pg2", says(DbRole::Replica));
    sched.advance(20ms);
    answer("pg1", test::probe_fail("connection refused"));
    sched.advance(1s + 20ms);
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0})) << "one failed check is not evidence enough";
    ps.current()->hosts[0].signals->refusals.fetch_add(1); // a worker's connect was refused
    ps.tick(sched.now());
    EXPECT_TRUE(serving(*ps.current()).empty());
}

TEST_F(PoolRolesTest, PreferReplicaServesTheReplicasThenThePrimary) {
    PoolState ps(env, db(config::PoolRole::PreferReplica), 0);
    ps.start();
    answer("pg1", says(DbRole::Primary));
    answer("pg2", says(DbRole::Replica));
    sched.advance(20ms);
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{1}));
    answer("pg2", test::probe_fail("connection refused"));
    sched.advance(1s + 3 * 110ms);
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{0}));
    EXPECT_EQ(ps.current()->tier, 256);
}

TEST_F(PoolRolesTest, AReplicaTooFarBehindLeavesAfterFallChecks) {
    auto p = db(config::PoolRole::Replica);
    p.max_lag = 5s;
    PoolState ps(env, p, 0);
    ps.start();
    answer("pg1", says(DbRole::Primary));
    answer("pg2", says(DbRole::Replica, 0.5));
    sched.advance(20ms);
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{1}));
    answer("pg2", says(DbRole::Replica, 8.0));
    sched.advance(1s + 20ms);
    EXPECT_EQ(serving(*ps.current()), (std::vector<HostIndex>{1})) << "lag counts towards fall";
    sched.advance(2 * 110ms);
    EXPECT_TRUE(serving(*ps.current()).empty());
    const auto ev = events.since();
    const auto down = std::find_if(ev.begin(), ev.end(),
                                   [](const Event& e) { return e.kind == "server_down" && e.server == "pg2"; });
    ASSERT_NE(down, ev.end());
    EXPECT_EQ(down->detail, "replica lag 8.0s over max_lag 5.0s");
}

TEST_F(PoolRolesTest, PoolsWithoutARoleKeepTheirSessionsUnlessAsked) {
    auto p = pool();
    PoolState plain(env, p, 0);
    plain.start();
    all_ok();
    sched.advance(20ms);
    EXPECT_TRUE(plain.current()->shut.empty());
    p.on_marked_down = config::OnMarkedDown::ShutdownSessions;
    plain.reconfigure(p, 0);
    EXPECT_EQ(plain.current()->shut, (std::vector<std::uint8_t>{0, 0, 0}));
}

} // namespace
} // namespace haven::upstream
