// make_load_balancer(): each configured algorithm gets its balancer.
#include "upstream/lb/load_balancer.hpp"

#include "support/fake_random.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace haven::upstream {
namespace {

const std::vector<LbEntry> kHosts{{0, 1}, {1, 1}, {2, 1}};

TEST(MakeLoadBalancer, RoundRobinRotates) {
    ActiveCounts active(3, 0);
    test::FakeRandom random;
    auto lb = make_load_balancer(config::Balance::RoundRobin, active, random);
    lb->set_hosts(kHosts);
    EXPECT_EQ(lb->pick({}), 0u);
    EXPECT_EQ(lb->pick({}), 1u);
}

TEST(MakeLoadBalancer, LeastConnReadsActiveCounts) {
    ActiveCounts active{4, 4, 1};
    test::FakeRandom random;
    auto lb = make_load_balancer(config::Balance::LeastConn, active, random);
    lb->set_hosts(kHosts);
    EXPECT_EQ(lb->pick({}), 2u);
}

TEST(MakeLoadBalancer, Random2DrawsFromRandom) {
    ActiveCounts active{0, 0, 5};
    test::FakeRandom random({test::FakeRandom::for_below(2, 3), test::FakeRandom::for_below(1, 2)});
    auto lb = make_load_balancer(config::Balance::Random2, active, random);
    lb->set_hosts(kHosts);
    EXPECT_EQ(lb->pick({}), 1u); // drew host 2 (5 active) and host 1 (idle)
}

TEST(MakeLoadBalancer, HashIsConsistent) {
    ActiveCounts active(3, 0);
    test::FakeRandom random;
    auto lb = make_load_balancer(config::Balance::Hash, active, random);
    lb->set_hosts(kHosts);
    const PickRequest request{.hash = hash_key("user-17"), .has_hash = true, .exclude = {}};
    const HostIndex first = lb->pick(request);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(lb->pick(request), first);
}

} // namespace
} // namespace haven::upstream
