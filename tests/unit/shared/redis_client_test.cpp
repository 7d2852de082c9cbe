// The Redis client against real redis-server and redis-sentinel processes on 127.0.0.1. Every
// wait runs the io_context in short slices until a condition holds or a deadline passes; every
// process is killed by its handle's destructor. Without redis-server the tests skip (CI=true:
// they fail).
#include "shared/redis/client.hpp"

#include "support/redis_server.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <gtest/gtest.h>

#include <optional>

namespace haven::shared::redis_client_test {

using namespace std::chrono_literals;
using test::RedisSentinelProcess;
using test::RedisServerProcess;

#define HAVEN_REQUIRE_REDIS()                                                                              \
    do {                                                                                                   \
        if (!test::redis_program_available("redis-server")) {                                              \
            if (test::redis_required_by_ci()) FAIL() << "redis-server is not installed (CI=true)";         \
            GTEST_SKIP() << "redis-server is not installed (Debian package redis-server)";                 \
        }                                                                                                  \
    } while (0)

struct Loop {
    asio::io_context io;
    // Keeps run_for() from returning at once when nothing is pending.
    asio::executor_work_guard<asio::io_context::executor_type> guard = asio::make_work_guard(io);

    // Runs the loop until pred() holds or `limit` passed; returns pred().
    bool until(const std::function<bool()>& pred, Duration limit = 5s, Duration slice = 5ms) {
        const auto deadline = SystemClock::instance().now() + limit;
        for (;;) {
            if (pred()) return true; // asked once per slice: some predicates act (PUBLISH, FAILOVER)
            if (SystemClock::instance().now() >= deadline) return false;
            io.run_for(slice);
        }
    }
    // Runs the loop for `d`: lets late answers come in.
    void spin(Duration d) {
        const auto deadline = SystemClock::instance().now() + d;
        while (SystemClock::instance().now() < deadline) io.run_for(5ms);
    }
};

RedisSettings direct(std::uint16_t port) {
    RedisSettings s;
    s.servers = {RedisAddress{"127.0.0.1", port}};
    s.reconnect_min = 20ms;
    s.reconnect_max = 200ms;
    return s;
}

// One command, waited for (at most bound + 2 s).
RedisResult run(Loop& loop, RedisClient& client, std::vector<std::string> argv, Duration bound = 2s) {
    std::optional<RedisResult> out;
    client.send(std::move(argv), bound, [&](RedisResult r) { out = std::move(r); });
    EXPECT_TRUE(loop.until([&] { return out.has_value(); }, bound + 2s));
    return out.value_or(RedisResult{});
}

std::string text_of(RedisStatus s) {
    static const char* names[] = {"Ok", "Timeout", "NotConnected", "ServerError", "Closed"};
    return names[static_cast<int>(s)];
}

TEST(RedisClient, SetGetIncrRoundTrip) {
    HAVEN_REQUIRE_REDIS();
    RedisServerProcess server;
    ASSERT_TRUE(server.ok()) << server.error();
    Loop loop;
    RedisClient client(loop.io, direct(server.port()));

    bool answered = false;
    client.send({"PING"}, 1s, [&](RedisResult r) {
        answered = true;
        EXPECT_EQ(r.status, RedisStatus::NotConnected);
    });
    EXPECT_FALSE(answered); // never inline
    ASSERT_TRUE(loop.until([&] { return answered; }));

    client.start();
    ASSERT_TRUE(loop.until([&] { return client.connected(); }));
    EXPECT_EQ(client.master(), "127.0.0.1:" + std::to_string(server.port()));

    auto r = run(loop, client, {"SET", "greeting", "hello"});
    EXPECT_EQ(r.status, RedisStatus::Ok) << text_of(r.status);
    EXPECT_EQ(r.reply.type, RedisReply::Type::Status);
    EXPECT_EQ(r.reply.str, "OK");
    r = run(loop, client, {"GET", "greeting"});
    EXPECT_EQ(r.reply.type, RedisReply::Type::String);
    EXPECT_EQ(r.reply.str, "hello");
    r = run(loop, client, {"INCR", "counter"});
    EXPECT_EQ(r.reply.type, RedisReply::Type::Integer);
    EXPECT_EQ(r.reply.integer, 1);
    r = run(loop, client, {"GET", "missing"});
    EXPECT_EQ(r.status, RedisStatus::Ok);
    EXPECT_EQ(r.reply.type, RedisReply::Type::Nil);
    r = run(loop, client, {"INCR", "greeting"});
    EXPECT_EQ(r.status, RedisStatus::ServerError);
    EXPECT_EQ(r.reply.str.rfind("ERR", 0), 0u) << r.reply.str;

    EXPECT_EQ(client.counters().commands, 5u);
    EXPECT_EQ(client.counters().errors, 1u);
    EXPECT_EQ(client.counters().connects, 1u);
}

TEST(RedisClient, AThousandPipelinedCommandsAreAnsweredInOrder) {
    HAVEN_REQUIRE_REDIS();
    RedisServerProcess server;
    ASSERT_TRUE(server.ok()) << server.error();
    Loop loop;
    RedisClient client(loop.io, direct(server.port()));
    client.start();
    ASSERT_TRUE(loop.until([&] { return client.connected(); }));

    std::vector<std::int64_t> seen;
    for (int i = 0; i < 1000; ++i) {
        client.send({"INCR", "n"}, 5s, [&](RedisResult r) {
            EXPECT_EQ(r.status, RedisStatus::Ok);
            seen.push_back(r.reply.integer);
        });
    }
    ASSERT_TRUE(loop.until([&] { return seen.size() == 1000; }, 10s));
    for (std::size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], static_cast<std::int64_t>(i + 1));
}

TEST(RedisClient, ATimedOutCommandDoesNotDesynchroniseTheConnection) {
    HAVEN_REQUIRE_REDIS();
    RedisServerProcess server({"--enable-debug-command", "yes"});
    ASSERT_TRUE(server.ok()) << server.error();
    Loop loop;
    RedisClient client(loop.io, direct(server.port()));
    client.start();
    ASSERT_TRUE(loop.until([&] { return client.connected(); }));

    std::optional<RedisResult> slow, next;
    client.send({"DEBUG", "SLEEP", "0.5"}, 20ms, [&](RedisResult r) { slow = std::move(r); });
    client.send({"ECHO", "mine"}, 3s, [&](RedisResult r) { next = std::move(r); });
    ASSERT_TRUE(loop.until([&] { return slow.has_value(); }, 1s));
    EXPECT_EQ(slow->status, RedisStatus::Timeout);
    EXPECT_FALSE(next.has_value()); // still behind the sleeping command
    ASSERT_TRUE(loop.until([&] { return next.has_value(); }, 3s));
    EXPECT_EQ(next->status, RedisStatus::Ok);
    EXPECT_EQ(next->reply.str, "mine"); // not the late "+OK" of DEBUG SLEEP

    const auto after = run(loop, client, {"ECHO", "after"});
    EXPECT_EQ(after.reply.str, "after");
    EXPECT_TRUE(client.connected());
    EXPECT_EQ(client.counters().timeouts, 1u);
}

TEST(RedisClient, BoundsTheCommandsPendingOnTheConnection) {
    HAVEN_REQUIRE_REDIS();
    RedisServerProcess server({"--enable-debug-command", "yes"});
    ASSERT_TRUE(server.ok()) << server.error();
    Loop loop;
    RedisClient client(loop.io, direct(server.port()));
    client.start();
    ASSERT_TRUE(loop.until([&] { return client.connected(); }));

    std::size_t ok = 0;
    client.send({"DEBUG", "SLEEP", "0.3"}, 5s, [&](RedisResult r) { ok += r.status == RedisStatus::Ok; });
    for (std::size_t i = 1; i < RedisClient::kMaxPending; ++i) {
        client.send({"PING"}, 5s, [&](RedisResult r) { ok += r.status == RedisStatus::Ok; });
    }
    std::optional<RedisResult> refused;
    client.send({"PING"}, 5s, [&](RedisResult r) { refused = std::move(r); });
    ASSERT_TRUE(loop.until([&] { return refused.has_value(); }, 1s));
    EXPECT_EQ(refused->status, RedisStatus::NotConnected);
    ASSERT_TRUE(loop.until([&] { return ok == RedisClient::kMaxPending; }, 10s));
    EXPECT_EQ(run(loop, client, {"PING"}).status, RedisStatus::Ok); // room again
}

TEST(RedisClient, ServerKilledThenRestartedOnTheSamePort) {
    HAVEN_REQUIRE_REDIS();
    auto server = std::make_unique<RedisServerProcess>(std::vector<std::string>{"--enable-debug-command", "yes"});
    ASSERT_TRUE(server->ok()) << server->error();
    const std::uint16_t port = server->port();
    Loop loop;
    std::vector<bool> states; // declared before the client: it outlives it
    RedisClient client(loop.io, direct(port));
    client.on_state([&](bool up) { states.push_back(up); });
    client.start();
    ASSERT_TRUE(loop.until([&] { return client.connected(); }));
    EXPECT_EQ(states, std::vector<bool>{true});

    std::optional<RedisResult> pending;
    client.send({"DEBUG", "SLEEP", "3"}, 10s, [&](RedisResult r) { pending = std::move(r); });
    loop.spin(50ms); // written and being slept on
    server->kill();
    ASSERT_TRUE(loop.until([&] { return pending.has_value(); }));
    EXPECT_EQ(pending->status, RedisStatus::Closed);
    EXPECT_FALSE(client.connected());
    EXPECT_EQ(client.master(), "");
    EXPECT_EQ(run(loop, client, {"PING"}).status, RedisStatus::NotConnected);
    ASSERT_TRUE(loop.until([&] { return states.size() == 2; }));
    EXPECT_FALSE(states[1]);

    server = std::make_unique<RedisServerProcess>(std::vector<std::string>{}, port);
    ASSERT_TRUE(server->ok()) << server->error();
    ASSERT_TRUE(loop.until([&] { return client.connected(); }, 5s));
    EXPECT_EQ(states, (std::vector<bool>{true, false, true}));
    EXPECT_EQ(run(loop, client, {"SET", "k", "v"}).status, RedisStatus::Ok);
    EXPECT_EQ(client.counters().connects, 2u);
    EXPECT_EQ(client.counters().disconnects, 1u);
    EXPECT_EQ(client.counters().failovers, 0u); // the same address
}

TEST(RedisClient, SubscriptionsReceiveAndSurviveARestart) {
    HAVEN_REQUIRE_REDIS();
    auto server = std::make_unique<RedisServerProcess>();
    ASSERT_TRUE(server->ok()) << server->error();
    const std::uint16_t port = server->port();
    Loop loop;
    RedisClient client(loop.io, direct(port));
    std::vector<std::string> got;
    client.subscribe("news", [&](std::string_view channel, std::string_view payload) {
        EXPECT_EQ(channel, "news");
        got.emplace_back(payload);
    });
    client.start();
    ASSERT_TRUE(loop.until([&] { return client.connected(); }));

    // PUBLISH until a subscriber counts: the subscription connection comes up on its own time.
    auto publish_until_received = [&](const std::string& payload) {
        return loop.until([&] {
            if (!got.empty() && got.back() == payload) return true;
            if (client.connected()) run(loop, client, {"PUBLISH", "news", payload});
            loop.spin(20ms);
            return !got.empty() && got.back() == payload;
        }, 5s);
    };
    ASSERT_TRUE(publish_until_received("first"));

    server->kill();
    ASSERT_TRUE(loop.until([&] { return !client.connected(); }));
    server = std::make_unique<RedisServerProcess>(std::vector<std::string>{}, port);
    ASSERT_TRUE(server->ok()) << server->error();
    ASSERT_TRUE(loop.until([&] { return client.connected(); }, 5s));
    ASSERT_TRUE(publish_until_received("second"));
    // Subscribing after start() goes over the live pub/sub connection.
    std::string late;
    client.subscribe("late", [&](std::string_view, std::string_view payload) { late = payload; });
    ASSERT_TRUE(loop.until([&] {
        run(loop, client, {"PUBLISH", "late", "x"});
        loop.spin(20ms);
        return late == "x";
    }, 5s));
}

TEST(RedisClient, StopCompletesPendingCommandsWithClosed) {
    HAVEN_REQUIRE_REDIS();
    RedisServerProcess server({"--enable-debug-command", "yes"});
    ASSERT_TRUE(server.ok()) << server.error();
    Loop loop;
    std::vector<bool> states; // declared before the client: it outlives it
    auto client = std::make_unique<RedisClient>(loop.io, direct(server.port()));
    client->on_state([&](bool up) { states.push_back(up); });
    client->start();
    ASSERT_TRUE(loop.until([&] { return client->connected(); }));

    std::optional<RedisResult> pending;
    client->send({"DEBUG", "SLEEP", "0.5"}, 5s, [&](RedisResult r) { pending = std::move(r); });
    client->stop();
    ASSERT_TRUE(pending.has_value()); // inline from stop()
    EXPECT_EQ(pending->status, RedisStatus::Closed);
    EXPECT_EQ(states, (std::vector<bool>{true, false}));
    EXPECT_FALSE(client->connected());
    client->start(); // stays stopped
    client.reset();
    loop.spin(100ms); // whatever was still queued finds the client gone
    EXPECT_EQ(states.size(), 2u);
}

// A plain function, not a lambda: a coroutine lambda's captures die with the lambda object.
asio::awaitable<void> set_then_increment(RedisClient& client, std::optional<RedisResult>& out) {
    std::vector<std::string> set{"SET", "c", "1"};
    co_await client.call(std::move(set), 1s);
    std::vector<std::string> incr{"INCRBY", "c", "41"};
    out = co_await client.call(std::move(incr), 1s);
}

TEST(RedisClient, CallAwaitsTheAnswerInACoroutine) {
    HAVEN_REQUIRE_REDIS();
    RedisServerProcess server;
    ASSERT_TRUE(server.ok()) << server.error();
    Loop loop;
    RedisClient client(loop.io, direct(server.port()));
    client.start();
    ASSERT_TRUE(loop.until([&] { return client.connected(); }));
    std::optional<RedisResult> out;
    asio::co_spawn(loop.io, set_then_increment(client, out), asio::detached);
    ASSERT_TRUE(loop.until([&] { return out.has_value(); }));
    EXPECT_EQ(out->reply.integer, 42);
}

TEST(RedisClient, DirectModeTakesTheFirstServerThatAnswers) {
    HAVEN_REQUIRE_REDIS();
    RedisServerProcess server;
    ASSERT_TRUE(server.ok()) << server.error();
    Loop loop;
    RedisSettings s = direct(server.port());
    s.servers.insert(s.servers.begin(), RedisAddress{"127.0.0.1", test::free_tcp_port()}); // nobody there
    std::vector<bool> states;
    auto client = std::make_unique<RedisClient>(loop.io, s);
    client->on_state([&](bool up) { states.push_back(up); });
    client->start();
    ASSERT_TRUE(loop.until([&] { return client->connected(); }));
    EXPECT_EQ(client->master(), "127.0.0.1:" + std::to_string(server.port()));
    client.reset(); // unlike stop(), destruction tells the listeners nothing
    loop.spin(50ms);
    EXPECT_EQ(states, std::vector<bool>{true});
}

// One master, one replica, one sentinel (quorum 1) watching them as "mymaster".
struct SentinelSetup {
    Loop& loop;
    // No 5 s wait for more replicas before the initial (diskless) sync.
    RedisServerProcess master{{"--repl-diskless-sync-delay", "0"}};
    std::optional<RedisServerProcess> replica;
    std::optional<RedisSentinelProcess> sentinel;
    std::string failure;

    explicit SentinelSetup(Loop& l) : loop(l) { failure = prepare(); }

    // "" when all three run and the sentinel knows the replica, else what went wrong.
    std::string prepare() {
        if (!master.ok()) return master.error();
        replica.emplace(std::vector<std::string>{"--replicaof", "127.0.0.1", std::to_string(master.port())});
        if (!replica->ok()) return replica->error();
        auto synced = [&] {
            const auto info = replica->command({"INFO", "replication"});
            return info && info->str.find("master_link_status:up") != std::string::npos;
        };
        if (!loop.until(synced, 10s, 50ms)) return "replica not synced:\n" + replica->log();
        // Started once the master knows its replica, so the sentinel's first INFO already lists it.
        sentinel.emplace(master.port(), "mymaster");
        if (!sentinel->ok()) return sentinel->error();
        auto knows_replica = [&] {
            const auto r = sentinel->command({"SENTINEL", "replicas", "mymaster"});
            return r && r->type == RedisReply::Type::Array && !r->elements.empty();
        };
        if (!loop.until(knows_replica, 10s, 50ms)) return "sentinel does not list the replica:\n" + sentinel->log();
        return "";
    }
    RedisSettings settings() const {
        RedisSettings s;
        s.sentinels = {RedisAddress{"127.0.0.1", sentinel->port()}};
        s.master_name = "mymaster";
        s.reconnect_min = 50ms;
        s.reconnect_max = 1s;
        return s;
    }
    std::string master_text() const { return "127.0.0.1:" + std::to_string(master.port()); }
    std::string replica_text() const { return "127.0.0.1:" + std::to_string(replica->port()); }
};

// The master dies; the sentinel promotes the replica; the client must end up there.
TEST(RedisClient, SentinelFailoverMovesTheClientToTheNewMaster) {
    HAVEN_REQUIRE_REDIS();
    Loop loop;
    SentinelSetup setup(loop);
    ASSERT_EQ(setup.failure, "");
    std::vector<bool> states; // declared before the client: it outlives it
    RedisClient client(loop.io, setup.settings());
    client.on_state([&](bool up) { states.push_back(up); });
    client.start();
    ASSERT_TRUE(loop.until([&] { return client.connected(); }));
    EXPECT_EQ(client.master(), setup.master_text());
    EXPECT_EQ(run(loop, client, {"SET", "k", "before"}).status, RedisStatus::Ok);

    setup.master.kill();
    ASSERT_TRUE(loop.until([&] { return client.connected() && client.master() == setup.replica_text(); }, 15s))
        << "master now: " << client.master() << "\n" << setup.sentinel->log();
    const auto r = run(loop, client, {"SET", "k", "after"});
    EXPECT_EQ(r.status, RedisStatus::Ok) << r.reply.str;
    EXPECT_EQ(client.counters().failovers, 1u);
    ASSERT_GE(states.size(), 3u);
    EXPECT_TRUE(states.front());
    EXPECT_FALSE(states[1]);
    EXPECT_TRUE(states.back());
}

// SENTINEL FAILOVER: the old master stays alive and becomes a replica. The client must not stay
// on it (nor return to it while the sentinel's answer is stale: the ROLE check), and pub/sub
// follows to the new master.
TEST(RedisClient, SentinelFailoverWithTheOldMasterAlive) {
    HAVEN_REQUIRE_REDIS();
    Loop loop;
    SentinelSetup setup(loop);
    ASSERT_EQ(setup.failure, "");
    RedisClient client(loop.io, setup.settings());
    std::vector<std::string> got;
    client.subscribe("events", [&](std::string_view, std::string_view payload) { got.emplace_back(payload); });
    client.start();
    ASSERT_TRUE(loop.until([&] { return client.connected(); }));

    // Refused (NOGOODSLAVE) until the sentinel has connected to the replica and heard from it.
    std::string refusal;
    auto failover_accepted = [&] {
        const auto r = setup.sentinel->command({"SENTINEL", "FAILOVER", "mymaster"});
        refusal = r ? r->str : "no answer";
        return r && r->type == RedisReply::Type::Status;
    };
    ASSERT_TRUE(loop.until(failover_accepted, 10s, 100ms)) << refusal;
    ASSERT_TRUE(loop.until([&] { return client.connected() && client.master() == setup.replica_text(); }, 15s))
        << "master now: " << client.master() << "\n" << setup.sentinel->log();
    EXPECT_EQ(run(loop, client, {"SET", "k", "on the new master"}).status, RedisStatus::Ok);
    EXPECT_EQ(client.counters().failovers, 1u);
    ASSERT_TRUE(loop.until([&] {
        run(loop, client, {"PUBLISH", "events", "moved"});
        loop.spin(20ms);
        return !got.empty() && got.back() == "moved";
    }, 5s));
}

} // namespace haven::shared::redis_client_test
