// judge_role: how a pool with `role:` reads the postgres check's answer, and the definitive
// results it gives HealthState (no rise/fall for a server's own word about its role).
#include "upstream/health/health_state.hpp"
#include "upstream/health/role.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;

namespace haven::upstream {
namespace {

ProbeResult answer(DbRole role, std::uint64_t lsn = 0, double lag = 0) {
    ProbeResult r{true, "ok"};
    r.role = role;
    r.lsn = lsn;
    r.lag_seconds = lag;
    return r;
}

RoleRule rule(config::PoolRole want, Duration max_lag = Duration::zero(), std::uint64_t max_bytes = 0) {
    return RoleRule{want, max_lag, max_bytes};
}

TEST(JudgeRole, PrimaryPoolTakesThePrimaryAndRefusesAReplicaAtOnce) {
    auto p = answer(DbRole::Primary);
    judge_role(p, rule(config::PoolRole::Primary), std::nullopt);
    EXPECT_TRUE(p.ok);
    EXPECT_TRUE(p.definitive);
    auto r = answer(DbRole::Replica);
    judge_role(r, rule(config::PoolRole::Primary), std::nullopt);
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(r.definitive);
    EXPECT_EQ(r.reason, "replica (in recovery), not the primary");
}

TEST(JudgeRole, ReplicaPoolRefusesThePrimaryUnlessItIsTheFallback) {
    auto p = answer(DbRole::Primary);
    judge_role(p, rule(config::PoolRole::Replica), std::nullopt);
    EXPECT_FALSE(p.ok);
    EXPECT_TRUE(p.definitive);
    auto q = answer(DbRole::Primary);
    judge_role(q, rule(config::PoolRole::PreferReplica), std::nullopt);
    EXPECT_TRUE(q.ok);
    EXPECT_FALSE(q.definitive);
}

TEST(JudgeRole, LagOverTheBoundFailsLikeAnyCheckNotAtOnce) {
    auto slow = answer(DbRole::Replica, 1000, 12.5);
    judge_role(slow, rule(config::PoolRole::Replica, 10s), std::nullopt);
    EXPECT_FALSE(slow.ok);
    EXPECT_FALSE(slow.definitive);
    EXPECT_EQ(slow.reason, "replica lag 12.5s over max_lag 10.0s");
    auto fine = answer(DbRole::Replica, 1000, 9.9);
    judge_role(fine, rule(config::PoolRole::Replica, 10s), std::nullopt);
    EXPECT_TRUE(fine.ok);
}

TEST(JudgeRole, ByteLagIsMeasuredAgainstThePrimarysLastPosition) {
    auto behind = answer(DbRole::Replica, 1'000'000);
    judge_role(behind, rule(config::PoolRole::Replica, 0s, 1 << 20), std::uint64_t{1'000'000 + (2u << 20)});
    EXPECT_FALSE(behind.ok);
    EXPECT_NE(behind.reason.find("2097152 bytes behind"), std::string::npos) << behind.reason;
    auto close = answer(DbRole::Replica, 1'000'000);
    judge_role(close, rule(config::PoolRole::Replica, 0s, 1 << 20), std::uint64_t{1'000'100});
    EXPECT_TRUE(close.ok);
    // No primary known (or a replica ahead of the last known position): the bound cannot apply.
    auto unknown = answer(DbRole::Replica, 5);
    judge_role(unknown, rule(config::PoolRole::Replica, 0s, 1), std::nullopt);
    EXPECT_TRUE(unknown.ok);
}

TEST(JudgeRole, FailedChecksAndChecksWithoutARoleStayAsTheyAre) {
    ProbeResult refused{false, "connection refused"};
    judge_role(refused, rule(config::PoolRole::Primary), std::nullopt);
    EXPECT_FALSE(refused.ok);
    EXPECT_FALSE(refused.definitive);
    EXPECT_EQ(refused.reason, "connection refused");
    ProbeResult http{true, "ok"}; // Patroni's /primary said 200: the check itself decided
    judge_role(http, rule(config::PoolRole::Primary), std::nullopt);
    EXPECT_TRUE(http.ok);
    EXPECT_FALSE(http.definitive);
    auto any = answer(DbRole::Replica);
    judge_role(any, rule(config::PoolRole::Any), std::nullopt);
    EXPECT_TRUE(any.ok);
}

TEST(JudgeRole, DefinitiveResultsSkipRiseAndFall) {
    HealthParams params;
    params.rise = 3;
    params.fall = 3;
    HealthState st(params, HealthStatus::Up);
    const TimePoint t{};
    EXPECT_EQ(st.observe(false, t), HealthTransition::Pending);
    EXPECT_EQ(st.observe(false, t, true), HealthTransition::Changed);
    EXPECT_EQ(st.status(), HealthStatus::Down);
    EXPECT_EQ(st.observe(true, t, true), HealthTransition::Changed);
    EXPECT_EQ(st.status(), HealthStatus::Up);
    EXPECT_EQ(st.observe(true, t, true), HealthTransition::Unchanged);
}

} // namespace
} // namespace haven::upstream
