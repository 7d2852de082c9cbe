#include "upstream/lb/load_balancer.hpp"

#include "core/random.hpp"
#include "support/fake_random.hpp"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace haven::upstream {
namespace {

using test::FakeRandom;

// Steers the two draws: the first lands on weight unit `first` of `total`, the second on unit
// `second` of the weight left once the first host is removed (units of later hosts shift down).
FakeRandom steer(std::uint64_t first, std::uint64_t total, std::uint64_t second, std::uint64_t rest) {
    return FakeRandom({FakeRandom::for_below(first, total), FakeRandom::for_below(second, rest)});
}

std::map<HostIndex, int> count_picks(LoadBalancer& lb, int n) {
    std::map<HostIndex, int> c;
    for (int i = 0; i < n; ++i) ++c[lb.pick({})];
    return c;
}

TEST(P2c, NoHostsGivesNoHost) {
    ActiveCounts active;
    FastRandom random(1);
    auto lb = make_p2c(active, random);
    EXPECT_EQ(lb->pick({}), kNoHost);
}

TEST(P2c, SingleHostIsChosenUnlessExcluded) {
    ActiveCounts active{0, 0, 0, 4};
    FastRandom random(1);
    auto lb = make_p2c(active, random);
    lb->set_hosts(std::vector<LbEntry>{{3, 2}});
    EXPECT_EQ(lb->pick({}), 3u);
    const std::vector<HostIndex> exclude{3};
    EXPECT_EQ(lb->pick({.exclude = exclude}), kNoHost);
}

TEST(P2c, LighterOfTheTwoDrawsWins) {
    ActiveCounts active{3, 1, 2, 0};
    const std::vector<LbEntry> hosts{{0, 1}, {1, 1}, {2, 1}, {3, 1}};
    auto random = steer(0, 4, 0, 3); // host 0, then host 1
    auto lb = make_p2c(active, random);
    lb->set_hosts(hosts);
    EXPECT_EQ(lb->pick({}), 1u);

    auto random2 = steer(1, 4, 1, 3); // host 1, then host 2 (unit 1 of {0, 2, 3})
    auto lb2 = make_p2c(active, random2);
    lb2->set_hosts(hosts);
    EXPECT_EQ(lb2->pick({}), 1u);
}

TEST(P2c, TieGoesToTheFirstDraw) {
    ActiveCounts active{2, 2};
    auto random = steer(1, 2, 0, 1); // host 1, then host 0
    auto lb = make_p2c(active, random);
    lb->set_hosts(std::vector<LbEntry>{{0, 1}, {1, 1}});
    EXPECT_EQ(lb->pick({}), 1u);
}

TEST(P2c, ComparesLoadPerWeight) {
    ActiveCounts active{3, 0};
    const std::vector<LbEntry> hosts{{0, 4}, {1, 1}}; // units 0-3 are host 0, unit 4 host 1
    auto random = steer(4, 5, 0, 4);                 // host 1 then host 0: (3+1)/4 == (0+1)/1
    auto lb = make_p2c(active, random);
    lb->set_hosts(hosts);
    EXPECT_EQ(lb->pick({}), 1u); // tie: first drawn
    active[0] = 2;               // (2+1)/4 < 1
    EXPECT_EQ(lb->pick({}), 0u);
}

// Tolerance: 2% absolute. Equal weights and equal counts: every host is equally likely.
TEST(P2c, EqualWeightsSpreadEvenly) {
    ActiveCounts active(4, 7);
    FastRandom random(42);
    auto lb = make_p2c(active, random);
    lb->set_hosts(std::vector<LbEntry>{{0, 1}, {1, 1}, {2, 1}, {3, 1}});
    auto c = count_picks(*lb, 100'000);
    for (HostIndex h = 0; h < 4; ++h) EXPECT_NEAR(c[h] / 100'000.0, 0.25, 0.02) << h;
}

// Tolerance: 2% absolute. With equal load per weight ((active+1)/weight = 1 everywhere) every
// comparison ties, so the first, weight-proportional draw decides.
TEST(P2c, EqualLoadPerWeightFollowsWeights) {
    ActiveCounts active{4, 2, 0, 0};
    FastRandom random(42);
    auto lb = make_p2c(active, random);
    const std::vector<LbEntry> hosts{{0, 5}, {1, 3}, {2, 1}, {3, 1}};
    lb->set_hosts(hosts);
    auto c = count_picks(*lb, 100'000);
    for (const auto& e : hosts) EXPECT_NEAR(c[e.host] / 100'000.0, e.weight / 10.0, 0.02) << e.host;
}

// With every host idle and unequal weights, the heavier of the two draws always wins, so shares
// are not the weight shares: they follow from the draw probabilities. Tolerance: 1% absolute of
// that model.
TEST(P2c, IdleHostsFavourTheHeavierDraw) {
    ActiveCounts active(4, 0);
    FastRandom random(42);
    auto lb = make_p2c(active, random);
    const std::vector<LbEntry> hosts{{0, 5}, {1, 3}, {2, 1}, {3, 1}};
    lb->set_hosts(hosts);
    auto c = count_picks(*lb, 100'000);
    std::map<HostIndex, double> model;
    for (const auto& a : hosts) {
        for (const auto& b : hosts) {
            if (a.host == b.host) continue;
            const double p = a.weight / 10.0 * b.weight / (10.0 - a.weight); // a first, b second
            model[b.weight > a.weight ? b.host : a.host] += p;
        }
    }
    for (const auto& e : hosts) EXPECT_NEAR(c[e.host] / 100'000.0, model[e.host], 0.01) << e.host;
}

// Tolerance: 2.0x within 5%, about 300 requests in flight, uniform random completions.
TEST(P2c, WeightTwoTakesTwiceTheLoadAtEquilibrium) {
    ActiveCounts active(2, 0);
    FastRandom random(3);
    auto lb = make_p2c(active, random);
    lb->set_hosts(std::vector<LbEntry>{{0, 2}, {1, 1}});
    std::vector<HostIndex> running;
    std::map<HostIndex, int> c;
    for (int i = 0; i < 100'000; ++i) {
        if (running.size() >= 300) {
            const auto k = random.below(running.size());
            --active[running[k]];
            running[k] = running.back();
            running.pop_back();
        }
        const HostIndex h = lb->pick({});
        ++active[h];
        running.push_back(h);
        ++c[h];
    }
    EXPECT_NEAR(c[0] / double(c[1]), 2.0, 0.1);
}

TEST(P2c, NeverReturnsAnExcludedHost) {
    ActiveCounts active(6, 0);
    FastRandom random(5);
    auto lb = make_p2c(active, random);
    lb->set_hosts(std::vector<LbEntry>{{0, 5}, {1, 3}, {2, 1}, {3, 1}, {4, 2}, {5, 2}});
    const std::vector<HostIndex> exclude{0, 1, 4};
    for (int i = 0; i < 10'000; ++i) {
        const HostIndex h = lb->pick({.exclude = exclude});
        ASSERT_TRUE(h == 2 || h == 3 || h == 5) << h;
    }
}

TEST(P2c, AllExcludedGivesNoHost) {
    ActiveCounts active(3, 0);
    FastRandom random(5);
    auto lb = make_p2c(active, random);
    lb->set_hosts(std::vector<LbEntry>{{0, 1}, {1, 1}, {2, 1}});
    const std::vector<HostIndex> exclude{2, 0, 1};
    EXPECT_EQ(lb->pick({.exclude = exclude}), kNoHost);
}

TEST(P2c, ExcludingOneOfTwoAlwaysGivesTheOther) {
    ActiveCounts active{0, 100};
    FastRandom random(5);
    auto lb = make_p2c(active, random);
    lb->set_hosts(std::vector<LbEntry>{{0, 1000}, {1, 1}}); // draws almost always hit host 0
    const std::vector<HostIndex> exclude{0};
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(lb->pick({.exclude = exclude}), 1u);
}

// Draws that keep landing on excluded hosts end in a scan for the lightest allowed host.
TEST(P2c, FallsBackToAScanWhenDrawsKeepHittingExcludedHosts) {
    ActiveCounts active{0, 5, 2};
    FakeRandom random({0}); // always unit 0: host 0
    auto lb = make_p2c(active, random);
    lb->set_hosts(std::vector<LbEntry>{{0, 1}, {1, 1}, {2, 1}});
    const std::vector<HostIndex> exclude{0};
    EXPECT_EQ(lb->pick({.exclude = exclude}), 2u);
}

TEST(P2c, ReplacedSetNeverReturnsRemovedHost) {
    ActiveCounts active(8, 0);
    FastRandom random(9);
    auto lb = make_p2c(active, random);
    lb->set_hosts(std::vector<LbEntry>{{0, 1}, {1, 1}, {2, 1}});
    lb->set_hosts(std::vector<LbEntry>{{0, 1}, {7, 3}});
    auto c = count_picks(*lb, 1000);
    EXPECT_EQ(c.count(1) + c.count(2), 0u);
    EXPECT_EQ(c[0] + c[7], 1000);
}

TEST(P2c, WeightZeroEntriesAreIgnored) {
    ActiveCounts active{0, 50};
    FastRandom random(9);
    auto lb = make_p2c(active, random);
    lb->set_hosts(std::vector<LbEntry>{{0, 0}, {1, 1}});
    for (int i = 0; i < 100; ++i) ASSERT_EQ(lb->pick({}), 1u);
}

} // namespace
} // namespace haven::upstream
