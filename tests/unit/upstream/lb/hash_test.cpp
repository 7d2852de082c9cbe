// Maglev consistent hashing (src/upstream/lb/hash.cpp).
#include "upstream/lb/load_balancer.hpp"

#include "core/random.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace haven::upstream {
namespace {

constexpr std::uint64_t kTableSize = 65537; // the table size hash.cpp uses
constexpr int kKeys = 100'000;

HostIndex pick_hash(LoadBalancer& lb, std::uint64_t hash, std::span<const HostIndex> exclude = {}) {
    return lb.pick({.hash = hash, .has_hash = true, .exclude = exclude});
}

std::vector<std::uint64_t> sample_keys() {
    std::vector<std::uint64_t> keys;
    for (int i = 0; i < kKeys; ++i) keys.push_back(hash_key("client-" + std::to_string(i)));
    return keys;
}

std::vector<HostIndex> map_keys(LoadBalancer& lb, const std::vector<std::uint64_t>& keys) {
    std::vector<HostIndex> out;
    for (auto k : keys) out.push_back(pick_hash(lb, k));
    return out;
}

// Hash values 0..M-1 land on table slots 0..M-1, so this counts each host's table entries.
std::map<HostIndex, int> table_counts(LoadBalancer& lb) {
    std::map<HostIndex, int> c;
    for (std::uint64_t slot = 0; slot < kTableSize; ++slot) ++c[pick_hash(lb, slot)];
    return c;
}

std::vector<LbEntry> equal_hosts(HostIndex n) {
    std::vector<LbEntry> hosts;
    for (HostIndex h = 0; h < n; ++h) hosts.push_back({h, 1});
    return hosts;
}

TEST(Maglev, NoHostsGivesNoHost) {
    auto lb = make_maglev();
    EXPECT_EQ(pick_hash(*lb, 42), kNoHost);
    EXPECT_EQ(lb->pick({}), kNoHost);
}

// Tolerances: table entries within 0.1% absolute of the weight share (the fill gives each host
// its share to within one entry); 100,000 hashed keys within 2% absolute.
TEST(Maglev, EqualWeightsShareTheTableAndTheKeys) {
    auto lb = make_maglev();
    const auto hosts = equal_hosts(10);
    lb->set_hosts(hosts);
    auto entries = table_counts(*lb);
    std::map<HostIndex, int> keys;
    for (auto h : map_keys(*lb, sample_keys())) ++keys[h];
    for (const auto& e : hosts) {
        EXPECT_NEAR(entries[e.host] / double(kTableSize), 0.1, 0.001) << e.host;
        EXPECT_NEAR(keys[e.host] / double(kKeys), 0.1, 0.02) << e.host;
    }
}

// Tolerances as above: 0.1% for table entries, 2% for keys.
TEST(Maglev, UnequalWeightsShareTheTableByWeight) {
    auto lb = make_maglev();
    const std::vector<LbEntry> hosts{{0, 5}, {1, 3}, {2, 1}, {3, 1}};
    lb->set_hosts(hosts);
    auto entries = table_counts(*lb);
    std::map<HostIndex, int> keys;
    for (auto h : map_keys(*lb, sample_keys())) ++keys[h];
    for (const auto& e : hosts) {
        EXPECT_NEAR(entries[e.host] / double(kTableSize), e.weight / 10.0, 0.001) << e.host;
        EXPECT_NEAR(keys[e.host] / double(kKeys), e.weight / 10.0, 0.02) << e.host;
    }
}

// Removing one of N hosts moves its keys and (almost) only its keys. Tolerance: fewer than 1% of
// the keys that were on a surviving host move (measured 0.25-0.45% for N = 5..20), and the keys
// moved overall are 1/N within 3% absolute. Adding the host back must restore at least 98% of
// the mappings; in fact it restores the table exactly, because the fill depends only on the set
// of (host, weight) pairs.
TEST(Maglev, RemovingAHostMovesAboutOneNthOfKeys) {
    const auto keys = sample_keys();
    for (HostIndex n : {5u, 10u, 20u}) {
        auto lb = make_maglev();
        auto hosts = equal_hosts(n);
        lb->set_hosts(hosts);
        const auto before = map_keys(*lb, keys);
        const HostIndex removed = n / 2;
        hosts.erase(hosts.begin() + removed);
        lb->set_hosts(hosts);
        const auto after = map_keys(*lb, keys);
        int survivors = 0, moved_survivors = 0, moved = 0;
        for (std::size_t i = 0; i < keys.size(); ++i) {
            EXPECT_NE(after[i], removed);
            moved += before[i] != after[i];
            if (before[i] == removed) continue;
            ++survivors;
            moved_survivors += before[i] != after[i];
        }
        EXPECT_LT(moved_survivors / double(survivors), 0.01) << "n=" << n;
        EXPECT_NEAR(moved / double(kKeys), 1.0 / n, 0.03) << "n=" << n;

        hosts.push_back({removed, 1}); // back, at a different place in the list
        lb->set_hosts(hosts);
        const auto restored = map_keys(*lb, keys);
        int same = 0;
        for (std::size_t i = 0; i < keys.size(); ++i) same += before[i] == restored[i];
        EXPECT_GE(same / double(kKeys), 0.98) << "n=" << n;
        EXPECT_EQ(restored, before) << "n=" << n;
    }
}

TEST(Maglev, TableDoesNotDependOnEntryOrderOrInstance) {
    auto a = make_maglev();
    auto b = make_maglev();
    std::vector<LbEntry> hosts{{3, 2}, {9, 1}, {4, 1}, {12, 3}};
    a->set_hosts(hosts);
    std::reverse(hosts.begin(), hosts.end());
    b->set_hosts(hosts);
    const auto keys = sample_keys();
    EXPECT_EQ(map_keys(*a, keys), map_keys(*b, keys));
}

TEST(Maglev, SameKeySameHost) {
    auto lb = make_maglev();
    lb->set_hosts(equal_hosts(7));
    const auto h = pick_hash(*lb, hash_key("10.0.0.1"));
    for (int i = 0; i < 10; ++i) EXPECT_EQ(pick_hash(*lb, hash_key("10.0.0.1")), h);
}

// No key: smooth round-robin over the same hosts.
TEST(Maglev, WithoutAKeyFallsBackToRoundRobin) {
    const std::vector<LbEntry> hosts{{0, 5}, {1, 1}, {2, 1}};
    auto lb = make_maglev();
    lb->set_hosts(hosts);
    auto rr = make_round_robin();
    rr->set_hosts(hosts);
    for (int i = 0; i < 70; ++i) ASSERT_EQ(lb->pick({}), rr->pick({})) << i;
    const std::vector<HostIndex> exclude{0};
    for (int i = 0; i < 10; ++i) EXPECT_NE(lb->pick({.exclude = exclude}), 0u);
}

// A retry walks to the next slot owned by an allowed host: never an excluded host, and the same
// key always retries on the same second choice.
TEST(Maglev, ExclusionWalksToTheNextAllowedOwner) {
    auto lb = make_maglev();
    lb->set_hosts(equal_hosts(5));
    const auto keys = sample_keys();
    for (int i = 0; i < 2000; ++i) {
        const HostIndex first = pick_hash(*lb, keys[i]);
        const HostIndex exclude[1] = {first};
        const HostIndex second = pick_hash(*lb, keys[i], exclude);
        ASSERT_NE(second, first);
        ASSERT_NE(second, kNoHost);
        ASSERT_EQ(pick_hash(*lb, keys[i], exclude), second);
    }
}

TEST(Maglev, AllExcludedGivesNoHost) {
    auto lb = make_maglev();
    lb->set_hosts(equal_hosts(3));
    const std::vector<HostIndex> exclude{2, 1, 0};
    EXPECT_EQ(pick_hash(*lb, 12345, exclude), kNoHost);
    EXPECT_NE(pick_hash(*lb, 12345), kNoHost);
}

TEST(Maglev, ExcludingOneOfTwoAlwaysGivesTheOther) {
    auto lb = make_maglev();
    lb->set_hosts(std::vector<LbEntry>{{0, 9}, {1, 1}});
    const std::vector<HostIndex> exclude{0};
    for (auto k : sample_keys()) ASSERT_EQ(pick_hash(*lb, k, exclude), 1u);
}

TEST(Maglev, ReplacedSetNeverReturnsRemovedHost) {
    auto lb = make_maglev();
    lb->set_hosts(equal_hosts(4));
    lb->set_hosts(std::vector<LbEntry>{{1, 1}, {6, 2}});
    auto entries = table_counts(*lb);
    EXPECT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[1] + entries[6], static_cast<int>(kTableSize));
}

TEST(Maglev, WeightZeroEntriesAreIgnored) {
    auto lb = make_maglev();
    lb->set_hosts(std::vector<LbEntry>{{0, 0}, {1, 1}});
    for (auto k : sample_keys()) ASSERT_EQ(pick_hash(*lb, k), 1u);
}

} // namespace
} // namespace haven::upstream
