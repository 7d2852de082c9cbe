// Tier selection and slow start (src/upstream/tiers.cpp).
#include "upstream/tiers.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace haven::upstream {
namespace {

using std::chrono::seconds;

TimePoint at_s(std::int64_t s) { return TimePoint{} + seconds(s); }

HostView up(std::uint32_t priority = 0, std::uint32_t weight = 1) {
    HostView h;
    h.priority = priority;
    h.weight = weight;
    return h;
}
HostView down(std::uint32_t priority = 0) {
    HostView h = up(priority);
    h.health = HealthStatus::Down;
    return h;
}
HostView backup(std::uint32_t priority = 1) {
    HostView h = up(priority);
    h.backup = true;
    return h;
}
HostView with_admin(HostView h, AdminState a) {
    h.admin = a;
    return h;
}
HostView ejected(HostView h) {
    h.ejected = true;
    return h;
}

std::vector<HostIndex> hosts_of(const Serving& s) {
    std::vector<HostIndex> out;
    for (const LbEntry& e : s.eligible) out.push_back(e.host);
    return out;
}

using Hosts = std::vector<HostIndex>;

TEST(SelectServing, AllUpInTierZeroServeTogether) {
    const std::vector<HostView> hosts{up(0, 3), up(0, 1), up(0, 2), backup(1)};
    const Serving s = select_serving(hosts, {});
    EXPECT_EQ(s.mode, ServingMode::Normal);
    EXPECT_EQ(s.tier, 0);
    EXPECT_EQ(hosts_of(s), (Hosts{0, 1, 2}));
    ASSERT_EQ(s.eligible.size(), 3u);
    EXPECT_EQ(s.eligible[0].weight, 3u);
    EXPECT_EQ(s.eligible[1].weight, 1u);
    EXPECT_EQ(s.eligible[2].weight, 2u);
}

TEST(SelectServing, PrimaryDownFailsOverToBackupTier) {
    const std::vector<HostView> hosts{down(0), down(0), backup(1)};
    const Serving s = select_serving(hosts, {});
    EXPECT_EQ(s.mode, ServingMode::Normal);
    EXPECT_EQ(s.tier, 1);
    EXPECT_EQ(hosts_of(s), (Hosts{2}));
}

TEST(SelectServing, ServersOfARegionThatIsDownLeaveTheirTierLikeUnhealthyOnes) {
    std::vector<HostView> hosts{up(0), up(0), up(1)};
    hosts[0].region_down = hosts[1].region_down = true; // "eu" down; the tier-1 server is in "us"
    const Serving s = select_serving(hosts, {});
    EXPECT_EQ(s.mode, ServingMode::Normal);
    EXPECT_EQ(s.tier, 1);
    EXPECT_EQ(hosts_of(s), (Hosts{2}));
}

TEST(SelectServing, MinHealthyMovesToTheNextTier) {
    const std::vector<HostView> hosts{up(0), down(0), up(1), up(1)};
    const Serving s = select_serving(hosts, {.min_healthy = 2});
    EXPECT_EQ(s.mode, ServingMode::Normal);
    EXPECT_EQ(s.tier, 1);
    EXPECT_EQ(hosts_of(s), (Hosts{2, 3}));
}

TEST(SelectServing, NobodyMeetsMinHealthyDegradesToTheLowestOfTheLargest) {
    const std::vector<HostView> hosts{down(0), up(1), down(1), up(2)};
    const Serving s = select_serving(hosts, {.min_healthy = 2});
    EXPECT_EQ(s.mode, ServingMode::Degraded);
    EXPECT_EQ(s.tier, 1);
    EXPECT_EQ(hosts_of(s), (Hosts{1}));
}

// min_healthy counts the servers that would serve: with all_backups false only one of the spare
// backups would, so losing one of two primaries must not move the traffic to a single backup.
TEST(SelectServing, MinHealthyNeverSpillsToFewerServers) {
    std::vector<HostView> hosts{up(0), down(0), backup(1), backup(1)};
    Serving s = select_serving(hosts, {.min_healthy = 2});
    EXPECT_EQ(s.mode, ServingMode::Degraded);
    EXPECT_EQ(s.tier, 0);
    EXPECT_EQ(hosts_of(s), (Hosts{0}));
    // With all_backups the backup tier would serve two: it takes over.
    s = select_serving(hosts, {.min_healthy = 2, .all_backups = true});
    EXPECT_EQ(s.mode, ServingMode::Normal);
    EXPECT_EQ(s.tier, 1);
    EXPECT_EQ(hosts_of(s), (Hosts{2, 3}));
    // A single backup never reaches 2; it serves once no primary is left.
    hosts = {up(0), down(0), backup(1)};
    EXPECT_EQ(hosts_of(select_serving(hosts, {.min_healthy = 2})), (Hosts{0}));
    hosts[0].health = HealthStatus::Down;
    s = select_serving(hosts, {.min_healthy = 2});
    EXPECT_EQ(s.mode, ServingMode::Degraded);
    EXPECT_EQ(hosts_of(s), (Hosts{2}));
}

TEST(SelectServing, BelowMinHealthyEverywhereTheLargestTierServes) {
    // min_healthy 3: tier 0 has 1, tier 1 has 2, tier 2 has 2: tier 1 (the lowest of the largest).
    const std::vector<HostView> hosts{up(0), down(0), up(1), up(1), up(2), up(2)};
    const Serving s = select_serving(hosts, {.min_healthy = 3});
    EXPECT_EQ(s.mode, ServingMode::Degraded);
    EXPECT_EQ(s.tier, 1);
    EXPECT_EQ(hosts_of(s), (Hosts{2, 3}));
}

TEST(SelectServing, AllDownIsNoneByDefault) {
    const std::vector<HostView> hosts{down(0), down(0), down(1)};
    const Serving s = select_serving(hosts, {});
    EXPECT_EQ(s.mode, ServingMode::None);
    EXPECT_EQ(s.tier, -1);
    EXPECT_TRUE(s.eligible.empty());
}

TEST(SelectServing, AllDownWithTryAllPanicsOverReadyServers) {
    const std::vector<HostView> hosts{down(0), with_admin(down(0), AdminState::Drain), ejected(up(0)),
                                      with_admin(down(1), AdminState::Maint), down(1), backup(1)};
    std::vector<HostView> all_down = hosts;
    all_down[5].health = HealthStatus::Down;
    const Serving s = select_serving(all_down, {.on_all_down = OnAllDown::TryAll});
    EXPECT_EQ(s.mode, ServingMode::Panic);
    EXPECT_EQ(s.tier, -1);
    // Down and ejected servers of every tier, backups included; Drain (1) and Maint (3) are not.
    EXPECT_EQ(hosts_of(s), (Hosts{0, 2, 4, 5}));
}

TEST(SelectServing, PanicWithOnlyDrainAndMaintIsNone) {
    const std::vector<HostView> hosts{with_admin(down(0), AdminState::Drain), with_admin(up(0), AdminState::Maint)};
    const Serving s = select_serving(hosts, {.on_all_down = OnAllDown::TryAll});
    EXPECT_EQ(s.mode, ServingMode::None);
    EXPECT_TRUE(s.eligible.empty());
}

TEST(SelectServing, PanicSkipsWeightZero) {
    HostView zero = down(0);
    zero.weight = 0;
    const std::vector<HostView> hosts{zero, down(0)};
    const Serving s = select_serving(hosts, {.on_all_down = OnAllDown::TryAll});
    EXPECT_EQ(s.mode, ServingMode::Panic);
    EXPECT_EQ(hosts_of(s), (Hosts{1}));
}

TEST(SelectServing, DrainAndMaintAreExcluded) {
    const std::vector<HostView> hosts{with_admin(up(0), AdminState::Drain), up(0), with_admin(up(0), AdminState::Maint)};
    const Serving s = select_serving(hosts, {});
    EXPECT_EQ(s.mode, ServingMode::Normal);
    EXPECT_EQ(hosts_of(s), (Hosts{1}));
}

TEST(SelectServing, EjectedIsExcluded) {
    const std::vector<HostView> hosts{ejected(up(0)), up(0)};
    EXPECT_EQ(hosts_of(select_serving(hosts, {})), (Hosts{1}));
    const std::vector<HostView> only_ejected{ejected(up(0)), up(1)};
    const Serving s = select_serving(only_ejected, {});
    EXPECT_EQ(s.tier, 1);
    EXPECT_EQ(hosts_of(s), (Hosts{1}));
}

TEST(SelectServing, WeightZeroIsExcluded) {
    const std::vector<HostView> hosts{up(0, 0), up(0, 5)};
    const Serving s = select_serving(hosts, {.min_healthy = 2});
    EXPECT_EQ(s.mode, ServingMode::Degraded); // the weight-0 server does not count as usable
    EXPECT_EQ(hosts_of(s), (Hosts{1}));
}

TEST(SelectServing, OnlyTheFirstUsableBackupServesByDefault) {
    const std::vector<HostView> hosts{down(0), down(0), backup(1), backup(1), backup(1)};
    EXPECT_EQ(hosts_of(select_serving(hosts, {})), (Hosts{2}));
    std::vector<HostView> first_down = hosts;
    first_down[2].health = HealthStatus::Down;
    EXPECT_EQ(hosts_of(select_serving(first_down, {})), (Hosts{3}));
}

TEST(SelectServing, AllBackupsServeWhenAsked) {
    const std::vector<HostView> hosts{down(0), backup(1), backup(1), backup(1)};
    const Serving s = select_serving(hosts, {.all_backups = true});
    EXPECT_EQ(s.tier, 1);
    EXPECT_EQ(hosts_of(s), (Hosts{1, 2, 3}));
}

TEST(SelectServing, BackupRuleKeepsNonBackupServersOfTheTier) {
    const std::vector<HostView> hosts{down(0), up(1), backup(1), up(1), backup(1)};
    EXPECT_EQ(hosts_of(select_serving(hosts, {})), (Hosts{1, 2, 3}));
}

// Two regions: us-east is priority 0 (3 servers), eu-west priority 1 (2 servers).
TEST(SelectServing, RegionFailover) {
    std::vector<HostView> hosts{up(0), up(0), up(0), up(1), up(1)};
    Serving s = select_serving(hosts, {});
    EXPECT_EQ(s.tier, 0);
    EXPECT_EQ(hosts_of(s), (Hosts{0, 1, 2}));
    for (int i = 0; i < 3; ++i) hosts[i].health = HealthStatus::Down;
    s = select_serving(hosts, {});
    EXPECT_EQ(s.mode, ServingMode::Normal);
    EXPECT_EQ(s.tier, 1);
    EXPECT_EQ(hosts_of(s), (Hosts{3, 4}));
    hosts[1].health = HealthStatus::Up; // one us-east server back: it takes over again
    EXPECT_EQ(hosts_of(select_serving(hosts, {})), (Hosts{1}));
}

TEST(SelectServing, EmptyPoolIsNone) {
    const Serving s = select_serving({}, {.on_all_down = OnAllDown::TryAll});
    EXPECT_EQ(s.mode, ServingMode::None);
}

TEST(EffectiveWeight, ZeroWeightIsZero) {
    EXPECT_EQ(effective_weight(0, at_s(0), at_s(100), seconds(10)), 0u);
    EXPECT_EQ(effective_weight(0, at_s(0), at_s(5), seconds(10)), 0u);
    EXPECT_EQ(effective_weight(0, at_s(0), at_s(0), Duration::zero()), 0u);
}

TEST(EffectiveWeight, MidRamp) {
    EXPECT_EQ(effective_weight(4, at_s(100), at_s(105), seconds(10)), 200u); // half of 400
    EXPECT_EQ(effective_weight(4, at_s(100), at_s(101), seconds(10)), 40u);
    EXPECT_EQ(effective_weight(3, at_s(0), at_s(1), seconds(3)), 100u);
}

TEST(EffectiveWeight, EndOfRampIsFullWeight) {
    EXPECT_EQ(effective_weight(4, at_s(100), at_s(110), seconds(10)), 4 * kWeightScale);
    EXPECT_EQ(effective_weight(4, at_s(100), at_s(1000), seconds(10)), 4 * kWeightScale);
    EXPECT_EQ(effective_weight(4, at_s(100), at_s(110) - std::chrono::nanoseconds(1), seconds(10)), 399u);
}

TEST(EffectiveWeight, BeforeUpSinceIsTheMinimum) {
    EXPECT_EQ(effective_weight(4, at_s(100), at_s(90), seconds(10)), 1u);
}

TEST(EffectiveWeight, NoRampIsFullAtOnce) {
    EXPECT_EQ(effective_weight(7, at_s(100), at_s(100), Duration::zero()), 7 * kWeightScale);
    EXPECT_EQ(effective_weight(7, at_s(100), at_s(50), Duration::zero()), 7 * kWeightScale);
}

TEST(EffectiveWeight, NeverBelowOneWhileRamping) {
    EXPECT_EQ(effective_weight(1, at_s(100), at_s(100), seconds(10)), 1u);
    EXPECT_EQ(effective_weight(1, at_s(0), at_s(0) + std::chrono::milliseconds(1), seconds(3600)), 1u);
}

TEST(EffectiveWeight, LongRampsAndLargeWeightsDoNotOverflow) {
    const Duration week = std::chrono::hours(24 * 7);
    EXPECT_EQ(effective_weight(1000, at_s(0), at_s(0) + week / 2, week), 50'000u);
    // 2^32 / 100 < weight: the scaled weight saturates at the uint32 maximum.
    EXPECT_EQ(effective_weight(50'000'000, at_s(0), at_s(1), Duration::zero()), 4'294'967'295u);
    EXPECT_EQ(effective_weight(50'000'000, at_s(0), at_s(0) + week / 2, week), 4'294'967'295u / 2);
}

} // namespace
} // namespace haven::upstream
