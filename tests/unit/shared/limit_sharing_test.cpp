// Shared rate limits (src/shared/limit_sharing.cpp) against a real redis-server: two "instances",
// each a table, a client and a LimitSharing, on one io_context; the tables' time is a manual
// clock, rounds are run by hand. Without redis-server the tests skip (CI=true: they fail).
#include "shared/limit_sharing.hpp"

#include "support/manual_scheduler.hpp"
#include "support/redis_server.hpp"

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <gtest/gtest.h>

namespace haven::shared::limit_sharing_test {

using namespace std::chrono_literals;
using Kind = policy::LimitDecision::Kind;

struct Instance {
    Instance(asio::io_context& io, std::uint16_t port, test::ManualScheduler& clock, std::uint64_t per_minute)
        : client(io, settings(port)), route(std::make_shared<policy::RoutePolicies>("web", "0", 1)),
          sharing(client, clock, "t", 100ms, [this] { return std::vector<LimitSharing::Source>{{route, 0}}; }) {
        policy::RateLimiter rl;
        rl.id = "web:0:route";
        rl.table = std::make_unique<policy::LimitTable>(std::vector<policy::Limit>{{per_minute, 1min, 0}}, 1000,
                                                        Duration::zero(), true);
        route->limiters.push_back(std::move(rl));
        client.start();
    }
    static RedisSettings settings(std::uint16_t port) {
        RedisSettings s;
        s.servers = {RedisAddress{"127.0.0.1", port}};
        s.reconnect_min = 20ms;
        s.reconnect_max = 200ms;
        return s;
    }
    int admit(std::uint64_t key, int attempts, TimePoint now) {
        int n = 0;
        for (int i = 0; i < attempts; ++i) n += route->limiters[0].table->acquire(key, now).kind != Kind::Rejected;
        return n;
    }

    RedisClient client;
    std::shared_ptr<policy::RoutePolicies> route;
    LimitSharing sharing;
};

struct SharedLimit : ::testing::Test {
    void SetUp() override {
        if (!test::redis_program_available("redis-server")) {
            if (test::redis_required_by_ci()) FAIL() << "redis-server is not installed (CI=true)";
            GTEST_SKIP() << "redis-server is not installed (Debian package redis-server)";
        }
        server = std::make_unique<test::RedisServerProcess>();
        ASSERT_TRUE(server->ok()) << server->error();
    }
    bool until(const std::function<bool()>& pred, Duration limit = 5s) {
        const auto deadline = SystemClock::instance().now() + limit;
        while (!pred()) {
            if (SystemClock::instance().now() >= deadline) return false;
            io.run_for(5ms);
        }
        return true;
    }
    // One round of `i`, waited for until its calls are answered.
    void sync(Instance& i) {
        const auto before = i.sharing.counters().calls + i.sharing.counters().failed_calls;
        i.sharing.round();
        until([&] { return i.sharing.counters().calls + i.sharing.counters().failed_calls > before; }, 3s);
    }

    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> guard = asio::make_work_guard(io);
    test::ManualScheduler clock;
    std::unique_ptr<test::RedisServerProcess> server;
};

TEST_F(SharedLimit, ALimitSpentThroughOneInstanceIsSpentThroughTheOther) {
    Instance a(io, server->port(), clock, 10), b(io, server->port(), clock, 10);
    ASSERT_TRUE(until([&] { return a.client.connected() && b.client.connected(); }));
    const TimePoint t0 = clock.now();
    EXPECT_EQ(a.admit(42, 6, t0), 6);
    sync(a);
    EXPECT_EQ(a.sharing.counters().sent, 6u);
    // B has not seen the key: its first request passes locally; once its count came back from
    // Redis, B knows 7 of the 10 are spent.
    EXPECT_EQ(b.admit(42, 1, t0), 1);
    sync(b);
    EXPECT_EQ(b.sharing.counters().keys, 1u);
    EXPECT_EQ(b.admit(42, 10, t0), 3) << "10 per minute across both instances";
    sync(b);
    // A has not heard of B's requests yet: its next one passes on its local view (the documented
    // overshoot: what an instance admits before its count comes back); then A knows too.
    EXPECT_EQ(a.admit(42, 1, t0), 1);
    sync(a);
    EXPECT_EQ(a.admit(42, 5, t0), 0);
    const auto hash = server->command({"HGET", a.sharing.key_of("web:0:route", 42), "1"});
    ASSERT_TRUE(hash.has_value());
    EXPECT_FALSE(hash->str.empty()) << "the key's TAT is in Redis, in a hash with one field per limit";
    const auto ttl = server->command({"PTTL", a.sharing.key_of("web:0:route", 42)});
    ASSERT_TRUE(ttl.has_value());
    // 11 admitted in all (A's one of overshoot included): the TAT runs 11 x 6 s ahead, and the key
    // expires a second after it has passed.
    EXPECT_GT(ttl->integer, 60'000);
    EXPECT_LE(ttl->integer, 67'000);
}

TEST_F(SharedLimit, WithRedisDownEachInstanceLimitsAloneAndItsCountsAreDroppedNotSentLate) {
    Instance a(io, server->port(), clock, 10);
    ASSERT_TRUE(until([&] { return a.client.connected(); }));
    server->kill();
    ASSERT_TRUE(until([&] { return !a.client.connected(); }));
    const TimePoint t0 = clock.now();
    EXPECT_EQ(a.admit(1, 20, t0), 10) << "the local limit still holds";
    a.sharing.round();
    EXPECT_EQ(a.sharing.counters().unsent, 10u);
    EXPECT_EQ(a.sharing.counters().sent, 0u);
    std::vector<policy::LimitTable::Unsynced> left;
    a.route->limiters[0].table->take_unsynced(left);
    EXPECT_TRUE(left.empty()) << "taken and dropped";
}

TEST_F(SharedLimit, WhatAnyoneWroteIntoTheRedisHashIsBoundedNeverACrash) {
    Instance a(io, server->port(), clock, 10);
    ASSERT_TRUE(until([&] { return a.client.connected(); }));
    const auto planted = [&](std::uint64_t key, const char* junk) {
        EXPECT_TRUE(server->command({"HSET", a.sharing.key_of("web:0:route", key), "1", junk}).has_value());
        EXPECT_EQ(a.admit(key, 1, clock.now()), 1) << junk; // locally: the first of the burst
        sync(a);
    };
    // Not a number, or in the past: counts as nothing stored; the rest of the burst is left.
    planted(1, "abc");
    EXPECT_EQ(a.admit(1, 20, clock.now()), 9);
    planted(2, "-5");
    EXPECT_EQ(a.admit(2, 20, clock.now()), 9);
    // Far in the future (or too large for a number): refused, for at most the bound, then over.
    planted(3, "1e300");
    EXPECT_EQ(a.admit(3, 5, clock.now()), 0);
    planted(4, "99999999999999999999999");
    EXPECT_EQ(a.admit(4, 5, clock.now()), 0);
    EXPECT_EQ(a.sharing.counters().failed_calls, 0u);
    clock.advance(std::chrono::hours(24 * 4001));
    EXPECT_EQ(a.admit(3, 1, clock.now()), 1) << "the bound ends it";
}

TEST_F(SharedLimit, TheTimerRunsRoundsEveryInterval) {
    Instance a(io, server->port(), clock, 10);
    ASSERT_TRUE(until([&] { return a.client.connected(); }));
    a.sharing.start();
    EXPECT_EQ(a.admit(5, 2, clock.now()), 2);
    clock.advance(100ms);
    EXPECT_EQ(a.sharing.counters().rounds, 1u);
    ASSERT_TRUE(until([&] { return a.sharing.counters().sent == 2; }));
    clock.advance(250ms);
    EXPECT_EQ(a.sharing.counters().rounds, 3u);
    a.sharing.stop();
    clock.advance(1s);
    EXPECT_EQ(a.sharing.counters().rounds, 3u);
}

} // namespace haven::shared::limit_sharing_test
