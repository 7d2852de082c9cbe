// Regions on a manual clock with fake probes: endpoints go down after `fall` failures and up
// after `rise` successes, the region follows min_healthy, and each change is an event and a
// call to on_change (which rebuilds the DNS answers).
#include "dns/regions.hpp"

#include "support/fake_probe.hpp"
#include "support/fake_random.hpp"
#include "support/manual_scheduler.hpp"

#include <gtest/gtest.h>

#include <map>

namespace haven::dns {
namespace {

using haven::test::FakeProbe;
using haven::test::FakeProbeControl;

class Regions : public ::testing::Test {
protected:
    Regions()
        : set_(scheduler_, random_, events_,
               [this](const config::HealthCheck&, const asio::ip::tcp::endpoint& target) {
                   auto& c = probes_[target.port()];
                   if (!c) c = std::make_shared<FakeProbeControl>();
                   c->latency = std::chrono::milliseconds(10);
                   return std::make_unique<FakeProbe>(c, &scheduler_);
               },
               [this] { ++changes_; }) {}

    GroupSpec region(const std::string& name, std::vector<std::uint16_t> ports, std::uint32_t min_healthy = 1) {
        GroupSpec g;
        g.name = name;
        g.check.kind = config::HealthCheck::Kind::Tcp;
        g.check.interval = std::chrono::milliseconds(1000);
        g.check.fast_interval = std::chrono::milliseconds(500);
        g.check.down_interval = std::chrono::milliseconds(1000);
        g.check.timeout = std::chrono::milliseconds(500);
        g.check.rise = 2;
        g.check.fall = 2;
        g.check.jitter = 0;
        g.min_healthy = min_healthy;
        for (auto port : ports) {
            g.endpoints.push_back({"e" + std::to_string(port), "127.0.0.2:" + std::to_string(port),
                                   asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.2"), port)});
        }
        return g;
    }

    // A timeout: the endpoint's checks keep their down_interval (refused ones run at fast_interval).
    void fail(std::uint16_t port) { probes_[port]->fallback = haven::test::probe_fail("timeout"); }
    void heal(std::uint16_t port) { probes_[port]->fallback = haven::test::probe_ok(); }

    haven::test::ManualScheduler scheduler_;
    haven::test::FakeRandom random_;
    EventLog events_;
    std::map<std::uint16_t, std::shared_ptr<FakeProbeControl>> probes_;
    int changes_ = 0;
    RegionSet set_;
};

TEST_F(Regions, FirstResultsDecideAndTheRegionFollowsMinHealthy) {
    set_.configure({region("eu", {81, 82}, 2)});
    set_.start();
    EXPECT_FALSE(set_.first_round_done());
    EXPECT_EQ(set_.up("eu"), true) << "counts as up until the first results";
    EXPECT_EQ(set_.up("nowhere"), std::nullopt);
    fail(82);
    scheduler_.advance(std::chrono::milliseconds(20));
    EXPECT_TRUE(set_.first_round_done());
    EXPECT_EQ(set_.up("eu"), false) << "one of two up, min_healthy 2";
    EXPECT_EQ(changes_, 1);
    EXPECT_EQ(events_.count("region_endpoint_down"), 1u);
    ASSERT_EQ(events_.count("region_down"), 1u);
    EXPECT_EQ(events_.since().back().detail, "region eu down (1 of 2 endpoints up, needs 2)");
}

TEST_F(Regions, DownAfterFallUpAfterRise) {
    set_.configure({region("us", {91})});
    set_.start();
    scheduler_.advance(std::chrono::milliseconds(20));
    ASSERT_EQ(set_.up("us"), true);
    fail(91);
    scheduler_.advance(std::chrono::milliseconds(1010)); // one failure: pending
    EXPECT_EQ(set_.up("us"), true);
    scheduler_.advance(std::chrono::milliseconds(510)); // the second, fast_interval later
    EXPECT_EQ(set_.up("us"), false);
    EXPECT_EQ(changes_, 1);
    heal(91);
    scheduler_.advance(std::chrono::milliseconds(1010));
    EXPECT_EQ(set_.up("us"), false) << "rise 2: one success is not enough";
    scheduler_.advance(std::chrono::milliseconds(510));
    EXPECT_EQ(set_.up("us"), true);
    EXPECT_EQ(changes_, 2);
    const auto status = set_.status();
    ASSERT_EQ(status.size(), 1u);
    EXPECT_EQ(status[0].changes, 2u);
    EXPECT_EQ(status[0].endpoints[0].last_check, "ok");
}

TEST_F(Regions, ReconfigureKeepsTheHealthOfUnchangedEndpoints) {
    set_.configure({region("eu", {81})});
    set_.start();
    fail(81);
    scheduler_.advance(std::chrono::milliseconds(20));
    ASSERT_EQ(set_.up("eu"), false);
    set_.configure({region("eu", {81}), region("us", {91})});
    EXPECT_EQ(set_.up("eu"), false) << "kept across the reload";
    EXPECT_EQ(set_.up("us"), true);
    const int before = changes_;
    heal(81);
    scheduler_.advance(std::chrono::milliseconds(3000));
    EXPECT_EQ(set_.up("eu"), true);
    EXPECT_GT(changes_, before);
}

TEST_F(Regions, OwnChecksReportAsChecksNotRegions) {
    auto g = region("check app.example.com A #1", {99});
    g.region = false;
    set_.configure({g});
    set_.start();
    fail(99);
    scheduler_.advance(std::chrono::milliseconds(20));
    EXPECT_EQ(set_.up("check app.example.com A #1"), false);
    EXPECT_EQ(events_.count("dns_check_down"), 1u);
    EXPECT_EQ(events_.count("region_down"), 0u);
    EXPECT_EQ(events_.count("region_endpoint_down"), 0u);
}

} // namespace
} // namespace haven::dns
