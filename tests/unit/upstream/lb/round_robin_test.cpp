#include "upstream/lb/load_balancer.hpp"

#include "core/random.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace haven::upstream {
namespace {

std::vector<HostIndex> picks(LoadBalancer& lb, int n, std::span<const HostIndex> exclude = {}) {
    std::vector<HostIndex> out;
    for (int i = 0; i < n; ++i) out.push_back(lb.pick({.exclude = exclude}));
    return out;
}

std::map<HostIndex, int> counts(const std::vector<HostIndex>& seq) {
    std::map<HostIndex, int> c;
    for (auto h : seq) ++c[h];
    return c;
}

std::size_t longest_run(const std::vector<HostIndex>& seq, HostIndex host) {
    std::size_t best = 0, run = 0;
    for (auto h : seq) {
        run = h == host ? run + 1 : 0;
        best = std::max(best, run);
    }
    return best;
}

// The largest |picks of h in the first t - t * w_h / W| over every prefix t of `seq`.
double max_prefix_lag(const std::vector<HostIndex>& seq, const std::vector<LbEntry>& hosts) {
    double total = 0;
    for (const auto& e : hosts) total += e.weight;
    std::map<HostIndex, int> seen;
    double worst = 0;
    for (std::size_t t = 0; t < seq.size(); ++t) {
        ++seen[seq[t]];
        for (const auto& e : hosts) {
            const double ideal = static_cast<double>(t + 1) * e.weight / total;
            worst = std::max(worst, std::abs(seen[e.host] - ideal));
        }
    }
    return worst;
}

TEST(RoundRobin, NoHostsGivesNoHost) {
    auto lb = make_round_robin();
    EXPECT_EQ(lb->pick({}), kNoHost);
    lb->set_hosts({});
    EXPECT_EQ(lb->pick({}), kNoHost);
}

TEST(RoundRobin, EqualWeightsRotateInListOrder) {
    auto lb = make_round_robin();
    const std::vector<LbEntry> hosts{{7, 1}, {2, 1}, {9, 1}};
    lb->set_hosts(hosts);
    EXPECT_EQ(picks(*lb, 6), (std::vector<HostIndex>{7, 2, 9, 7, 2, 9}));
}

// Tolerance: exact. A cycle is 10 picks and 100,000 picks are 10,000 whole cycles.
TEST(RoundRobin, SharesMatchWeightsExactlyOverWholeCycles) {
    auto lb = make_round_robin();
    const std::vector<LbEntry> hosts{{10, 5}, {3, 3}, {7, 1}, {0, 1}}; // indices need not be contiguous
    lb->set_hosts(hosts);
    auto c = counts(picks(*lb, 100'000));
    EXPECT_EQ(c[10], 50'000);
    EXPECT_EQ(c[3], 30'000);
    EXPECT_EQ(c[7], 10'000);
    EXPECT_EQ(c[0], 10'000);
}

// Smoothness, precisely: (1) every aligned 7-pick cycle holds exactly 5 a, 1 b, 1 c with no
// more than 2 a's in a row inside it; (2) across cycles a never runs more than 3 times (5 a's
// between 2 others per cycle force a run of 3 somewhere); (3) at every prefix each host is
// within one pick of its exact share.
TEST(RoundRobin, WeightsFiveOneOneInterleave) {
    auto lb = make_round_robin();
    const std::vector<LbEntry> hosts{{0, 5}, {1, 1}, {2, 1}};
    lb->set_hosts(hosts);
    const auto seq = picks(*lb, 700);
    const std::vector<HostIndex> first_cycle(seq.begin(), seq.begin() + 7);
    EXPECT_EQ(first_cycle, (std::vector<HostIndex>{0, 1, 0, 0, 2, 0, 0})); // a b a a c a a
    for (std::size_t start = 0; start < seq.size(); start += 7) {
        const std::vector<HostIndex> cycle(seq.begin() + start, seq.begin() + start + 7);
        auto c = counts(cycle);
        EXPECT_EQ(c[0], 5);
        EXPECT_EQ(c[1], 1);
        EXPECT_EQ(c[2], 1);
        EXPECT_LE(longest_run(cycle, 0), 2u);
    }
    EXPECT_LE(longest_run(seq, 0), 3u);
    EXPECT_LE(max_prefix_lag(seq, hosts), 1.0);
}

TEST(RoundRobin, EveryPrefixIsWithinOnePickOfItsShare) {
    FastRandom random(7);
    std::vector<LbEntry> hosts;
    for (HostIndex h = 0; h < 50; ++h) {
        hosts.push_back({h, static_cast<std::uint32_t>(1 + random.below(256))});
    }
    auto lb = make_round_robin();
    lb->set_hosts(hosts);
    std::uint64_t total = 0;
    for (const auto& e : hosts) total += e.weight;
    const auto seq = picks(*lb, static_cast<int>(2 * total));
    EXPECT_LE(max_prefix_lag(seq, hosts), 1.0);
    auto c = counts(seq);
    for (const auto& e : hosts) EXPECT_EQ(c[e.host], 2 * static_cast<int>(e.weight)) << e.host;
}

TEST(RoundRobin, ThousandHostsGetExactSharesOverACycle) {
    std::vector<LbEntry> hosts;
    int total = 0;
    for (HostIndex h = 0; h < 1000; ++h) {
        hosts.push_back({h, 1 + h % 7});
        total += static_cast<int>(1 + h % 7);
    }
    auto lb = make_round_robin();
    lb->set_hosts(hosts);
    auto c = counts(picks(*lb, total));
    for (const auto& e : hosts) ASSERT_EQ(c[e.host], static_cast<int>(e.weight)) << e.host;
}

TEST(RoundRobin, NeverReturnsAnExcludedHost) {
    auto lb = make_round_robin();
    lb->set_hosts(std::vector<LbEntry>{{0, 5}, {1, 3}, {2, 1}, {3, 1}});
    const std::vector<HostIndex> exclude{0, 2};
    for (auto h : picks(*lb, 1000, exclude)) EXPECT_TRUE(h == 1 || h == 3) << h;
}

TEST(RoundRobin, AllExcludedGivesNoHost) {
    auto lb = make_round_robin();
    lb->set_hosts(std::vector<LbEntry>{{0, 5}, {1, 3}});
    const std::vector<HostIndex> exclude{1, 0};
    EXPECT_EQ(lb->pick({.exclude = exclude}), kNoHost);
    EXPECT_NE(lb->pick({}), kNoHost); // and the balancer still works afterwards
}

TEST(RoundRobin, ExcludingOneOfTwoAlwaysGivesTheOther) {
    auto lb = make_round_robin();
    lb->set_hosts(std::vector<LbEntry>{{4, 9}, {8, 1}});
    const std::vector<HostIndex> exclude{4};
    for (auto h : picks(*lb, 100, exclude)) EXPECT_EQ(h, 8u);
}

// A retry skips the excluded host without charging it, so the skipped host is served next and
// every cycle stays whole.
TEST(RoundRobin, ExclusionKeepsTheRotation) {
    auto lb = make_round_robin();
    lb->set_hosts(std::vector<LbEntry>{{0, 1}, {1, 1}, {2, 1}, {3, 1}});
    EXPECT_EQ(lb->pick({}), 0u);
    const std::vector<HostIndex> exclude{1};
    EXPECT_EQ(lb->pick({.exclude = exclude}), 2u);
    EXPECT_EQ(picks(*lb, 6), (std::vector<HostIndex>{1, 3, 0, 1, 2, 3}));
}

// Tolerance: 1% absolute, with 10% of picks excluding a random host.
TEST(RoundRobin, SharesHoldUnderRandomExclusions) {
    FastRandom random(11);
    auto lb = make_round_robin();
    const std::vector<LbEntry> hosts{{0, 5}, {1, 3}, {2, 1}, {3, 1}};
    lb->set_hosts(hosts);
    std::map<HostIndex, int> c;
    constexpr int kPicks = 100'000;
    for (int i = 0; i < kPicks; ++i) {
        const HostIndex excluded[1] = {static_cast<HostIndex>(random.below(4))};
        const bool retry = random.below(10) == 0;
        const auto exclude = retry ? std::span<const HostIndex>(excluded) : std::span<const HostIndex>();
        const HostIndex h = lb->pick({.exclude = exclude});
        if (retry) {
            ASSERT_NE(h, excluded[0]);
        }
        ++c[h];
    }
    for (const auto& e : hosts) EXPECT_NEAR(c[e.host] / double(kPicks), e.weight / 10.0, 0.01) << e.host;
}

TEST(RoundRobin, ReplacedSetNeverReturnsRemovedHost) {
    auto lb = make_round_robin();
    lb->set_hosts(std::vector<LbEntry>{{0, 1}, {1, 1}, {2, 1}});
    picks(*lb, 5);
    lb->set_hosts(std::vector<LbEntry>{{0, 1}, {2, 2}, {5, 1}});
    auto c = counts(picks(*lb, 400));
    EXPECT_EQ(c.count(1), 0u);
    // Surviving hosts keep their place in the rotation, so the shares are exact only to within
    // one pick (the old cycle was cut mid-way).
    EXPECT_NEAR(c[0], 100, 1);
    EXPECT_NEAR(c[2], 200, 1);
    EXPECT_NEAR(c[5], 100, 1);
}

// set_hosts() runs on every health or weight change; an unchanged set must not restart the cycle.
TEST(RoundRobin, SameSetAgainContinuesTheSequence) {
    const std::vector<LbEntry> hosts{{0, 5}, {1, 3}, {2, 1}, {3, 1}};
    auto steady = make_round_robin();
    steady->set_hosts(hosts);
    auto refreshed = make_round_robin();
    refreshed->set_hosts(hosts);
    for (int i = 0; i < 200; ++i) {
        ASSERT_EQ(refreshed->pick({}), steady->pick({})) << i;
        refreshed->set_hosts(hosts);
    }
}

// A host that joins late gets its share from then on, not a burst to make up for the past.
TEST(RoundRobin, NewHostGetsItsShareWithoutABurst) {
    auto lb = make_round_robin();
    lb->set_hosts(std::vector<LbEntry>{{0, 1}, {1, 1}});
    picks(*lb, 10'001);
    lb->set_hosts(std::vector<LbEntry>{{0, 1}, {1, 1}, {2, 1}});
    auto c = counts(picks(*lb, 30));
    EXPECT_NEAR(c[2], 10, 1);
}

// The caller filters weight-0 (drained) servers; one slipping through still gets nothing.
TEST(RoundRobin, WeightZeroEntriesAreIgnored) {
    auto lb = make_round_robin();
    lb->set_hosts(std::vector<LbEntry>{{0, 0}, {1, 2}, {2, 0}});
    for (auto h : picks(*lb, 10)) EXPECT_EQ(h, 1u);
    lb->set_hosts(std::vector<LbEntry>{{0, 0}});
    EXPECT_EQ(lb->pick({}), kNoHost);
}

} // namespace
} // namespace haven::upstream
