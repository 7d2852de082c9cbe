#include "upstream/lb/load_balancer.hpp"

#include "core/random.hpp"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace haven::upstream {
namespace {

// Closed-loop simulation: each pick starts a request on the chosen host; once `in_flight`
// requests are running, a uniformly random one finishes before the next pick. Returns picks per
// host.
std::map<HostIndex, int> simulate(LoadBalancer& lb, ActiveCounts& active, int picks, std::size_t in_flight,
                                  std::uint64_t seed) {
    FastRandom random(seed);
    std::vector<HostIndex> running;
    std::map<HostIndex, int> c;
    for (int i = 0; i < picks; ++i) {
        if (running.size() >= in_flight) {
            const auto k = random.below(running.size());
            --active[running[k]];
            running[k] = running.back();
            running.pop_back();
        }
        const HostIndex h = lb.pick({});
        ++active[h];
        running.push_back(h);
        ++c[h];
    }
    return c;
}

TEST(LeastConn, NoHostsGivesNoHost) {
    ActiveCounts active;
    auto lb = make_least_conn(active);
    EXPECT_EQ(lb->pick({}), kNoHost);
}

TEST(LeastConn, PrefersFewestActivePerWeight) {
    ActiveCounts active{5, 2, 9};
    auto lb = make_least_conn(active);
    lb->set_hosts(std::vector<LbEntry>{{0, 1}, {1, 1}, {2, 1}});
    EXPECT_EQ(lb->pick({}), 1u);
    // (4+1)/3 < (1+1)/1: the weight-3 host has more requests but less load per weight.
    active = {4, 1};
    lb->set_hosts(std::vector<LbEntry>{{0, 3}, {1, 1}});
    EXPECT_EQ(lb->pick({}), 0u);
    // Idle hosts: the heavier one scores (0+1)/4 against (0+1)/1.
    active = {0, 0};
    lb->set_hosts(std::vector<LbEntry>{{0, 1}, {1, 4}});
    EXPECT_EQ(lb->pick({}), 1u);
}

TEST(LeastConn, TiesRotate) {
    ActiveCounts active(3, 0);
    auto lb = make_least_conn(active);
    lb->set_hosts(std::vector<LbEntry>{{0, 1}, {1, 1}, {2, 1}});
    std::vector<HostIndex> seq;
    for (int i = 0; i < 6; ++i) seq.push_back(lb->pick({}));
    EXPECT_EQ(seq, (std::vector<HostIndex>{0, 1, 2, 0, 1, 2}));
}

// Tolerance: the weight-2 host takes 2.0x the picks of the weight-1 host within 5%, with about
// 300 requests in flight (so the "+1" in the score is negligible).
TEST(LeastConn, WeightTwoTakesTwiceTheLoadAtEquilibrium) {
    ActiveCounts active(2, 0);
    auto lb = make_least_conn(active);
    lb->set_hosts(std::vector<LbEntry>{{0, 2}, {1, 1}});
    auto c = simulate(*lb, active, 100'000, 300, 1);
    EXPECT_NEAR(c[0] / double(c[1]), 2.0, 0.1);
}

// Tolerance: 1% absolute of weight share.
TEST(LeastConn, SharesFollowWeightsAtEquilibrium) {
    ActiveCounts active(4, 0);
    auto lb = make_least_conn(active);
    const std::vector<LbEntry> hosts{{0, 5}, {1, 3}, {2, 1}, {3, 1}};
    lb->set_hosts(hosts);
    auto c = simulate(*lb, active, 100'000, 500, 2);
    for (const auto& e : hosts) EXPECT_NEAR(c[e.host] / 100'000.0, e.weight / 10.0, 0.01) << e.host;
}

TEST(LeastConn, NeverReturnsAnExcludedHost) {
    ActiveCounts active{0, 9, 9, 9};
    auto lb = make_least_conn(active);
    lb->set_hosts(std::vector<LbEntry>{{0, 1}, {1, 1}, {2, 1}, {3, 1}});
    const std::vector<HostIndex> exclude{0, 2};
    for (int i = 0; i < 100; ++i) {
        const HostIndex h = lb->pick({.exclude = exclude});
        EXPECT_TRUE(h == 1 || h == 3) << h;
    }
}

TEST(LeastConn, AllExcludedGivesNoHost) {
    ActiveCounts active(2, 0);
    auto lb = make_least_conn(active);
    lb->set_hosts(std::vector<LbEntry>{{0, 1}, {1, 1}});
    const std::vector<HostIndex> exclude{0, 1};
    EXPECT_EQ(lb->pick({.exclude = exclude}), kNoHost);
}

TEST(LeastConn, ExcludingOneOfTwoAlwaysGivesTheOther) {
    ActiveCounts active{0, 50};
    auto lb = make_least_conn(active);
    lb->set_hosts(std::vector<LbEntry>{{0, 1}, {1, 1}});
    const std::vector<HostIndex> exclude{0};
    for (int i = 0; i < 10; ++i) EXPECT_EQ(lb->pick({.exclude = exclude}), 1u);
}

TEST(LeastConn, ReplacedSetNeverReturnsRemovedHost) {
    ActiveCounts active(6, 0);
    auto lb = make_least_conn(active);
    lb->set_hosts(std::vector<LbEntry>{{0, 1}, {1, 1}, {2, 1}});
    lb->set_hosts(std::vector<LbEntry>{{0, 1}, {5, 1}});
    for (int i = 0; i < 10; ++i) {
        const HostIndex h = lb->pick({});
        EXPECT_TRUE(h == 0 || h == 5) << h;
    }
}

// Robustness: hosts past the end of `active` count as idle; weight-0 entries are ignored.
TEST(LeastConn, ToleratesShortActiveAndZeroWeights) {
    ActiveCounts active{3};
    auto lb = make_least_conn(active);
    lb->set_hosts(std::vector<LbEntry>{{0, 1}, {7, 1}, {8, 0}});
    EXPECT_EQ(lb->pick({}), 7u);
    for (int i = 0; i < 10; ++i) EXPECT_NE(lb->pick({}), 8u);
}

} // namespace
} // namespace haven::upstream
