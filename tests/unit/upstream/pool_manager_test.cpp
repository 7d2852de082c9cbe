// PoolRuntime (a worker's view of a pool): refused connects stop the worker picking a server at
// once, the worker's own fallback while the whole serving tier refuses, and clearing by a snapshot
// that answers the refusal.
#include "upstream/pool_manager.hpp"

#include "support/fake_random.hpp"
#include "support/manual_scheduler.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace std::chrono_literals;

namespace haven::upstream {
namespace {

HostInfo host(std::string name, std::uint16_t port) {
    HostInfo h;
    h.name = std::move(name);
    h.address_text = "127.0.0.1:" + std::to_string(port);
    h.endpoint = asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port);
    h.signals = std::make_shared<HostSignals>();
    h.metrics = std::make_shared<HostMetrics>(1);
    return h;
}

// Three servers a, b (tier 0, serving) and c (a backup, the fallback).
std::shared_ptr<HostSet> three() {
    auto s = std::make_shared<HostSet>();
    s->name = "web";
    s->hosts = {host("a", 9001), host("b", 9002), host("c", 9003)};
    s->eligible = {{0, 100}, {1, 100}};
    s->fallback = {2};
    return s;
}

struct PoolRuntimeTest : ::testing::Test {
    test::ManualScheduler sched;
    DeadlineList deadlines{sched, 100ms};
    test::FakeRandom random{{0}};

    static std::set<HostIndex> picks(PoolRuntime& p, int n) {
        std::set<HostIndex> out;
        for (int i = 0; i < n; ++i) out.insert(p.pick({}));
        return out;
    }
    // A request's attempt on h, refused.
    static void refuse(PoolRuntime& p, HostIndex h) {
        HostRuntime* rt = p.acquire(h);
        p.on_refused(rt);
        p.release(rt);
    }
};

TEST_F(PoolRuntimeTest, ARefusedServerIsNotPickedAgainByThisWorker) {
    PoolRuntime p(three(), deadlines, random, 0);
    EXPECT_EQ(picks(p, 10), (std::set<HostIndex>{0, 1}));
    refuse(p, 0);
    EXPECT_EQ(p.refused_count(), 1u);
    EXPECT_EQ(picks(p, 10), (std::set<HostIndex>{1}));
    EXPECT_EQ(p.hosts().hosts[0].signals->refusals.load(), 1u) << "the control thread is told";
    EXPECT_EQ(p.hosts().hosts[0].metrics->at(0).refused_marks.get(), 1u);
    refuse(p, 0); // another request already on its way there
    EXPECT_EQ(p.refused_count(), 1u);
    EXPECT_EQ(p.hosts().hosts[0].signals->refusals.load(), 2u);
}

TEST_F(PoolRuntimeTest, WhenTheWholeTierRefusesTheFallbackTakesOver) {
    PoolRuntime p(three(), deadlines, random, 0);
    refuse(p, 0);
    refuse(p, 1);
    EXPECT_EQ(p.pick({}), kNoHost);
    EXPECT_EQ(p.fallback({}), 2u);
    const HostIndex tried[] = {2};
    EXPECT_EQ(p.fallback(tried), kNoHost);
    refuse(p, 2);
    EXPECT_EQ(p.fallback({}), kNoHost) << "a refused fallback is skipped too";
}

TEST_F(PoolRuntimeTest, ASnapshotThatAnswersTheRefusalClearsIt) {
    auto first = three();
    PoolRuntime p(first, deadlines, random, 0);
    refuse(p, 0); // refusal #1
    // A snapshot published for another reason (a weight change) answers nothing.
    auto other = std::make_shared<HostSet>(*first);
    p.update(other);
    EXPECT_EQ(picks(p, 10), (std::set<HostIndex>{1}));
    // The control thread took a out and checked it; the check passed and answered refusal #1.
    auto answered = std::make_shared<HostSet>(*first);
    answered->hosts[0].refusals_cleared = 1;
    p.update(answered);
    EXPECT_EQ(p.refused_count(), 0u);
    EXPECT_EQ(picks(p, 10), (std::set<HostIndex>{0, 1}));
}

TEST_F(PoolRuntimeTest, ALaterRefusalOutlivesAnAnswerToAnEarlierOne) {
    auto first = three();
    PoolRuntime p(first, deadlines, random, 0);
    refuse(p, 0);
    refuse(p, 0); // #2
    auto answered = std::make_shared<HostSet>(*first);
    answered->hosts[0].refusals_cleared = 1;
    p.update(answered);
    EXPECT_EQ(p.refused_count(), 1u);
    EXPECT_EQ(picks(p, 10), (std::set<HostIndex>{1}));
}

TEST_F(PoolRuntimeTest, ARefusalOfAServerAReloadRemovedChangesNothing) {
    auto first = three();
    PoolRuntime p(first, deadlines, random, 0);
    HostRuntime* rt = p.acquire(0);
    auto reloaded = std::make_shared<HostSet>(*first);
    reloaded->hosts.erase(reloaded->hosts.begin()); // a left the pool
    reloaded->eligible = {{0, 100}};
    reloaded->fallback = {1};
    p.update(reloaded);
    p.on_refused(rt);
    p.release(rt);
    EXPECT_EQ(p.refused_count(), 0u);
    EXPECT_EQ(picks(p, 4), (std::set<HostIndex>{0}));
}

} // namespace
} // namespace haven::upstream
