// The state behind a RedisClient, shared with its background coroutines (each holds a
// shared_ptr), so that destroying the client while one of them is suspended leaves it something
// valid to finish on. Three loops run on it:
//   run()       the command connection: find the master, connect, wait while up, start over
//               (client.cpp);
//   subscribe   the pub/sub connection to the same master, one loop per "up" (subscriber.cpp);
//   watch()     Sentinel mode: a connection to one sentinel subscribed to +switch-master
//               (sentinel.cpp).
// Internal to src/shared/redis/.
#pragma once

#include "shared/redis/client.hpp"
#include "shared/redis/connection.hpp"

#include <asio/steady_timer.hpp>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace haven::shared {

// What a new connection is for decides its handshake.
enum class RedisLink : std::uint8_t {
    Command,    // AUTH, SELECT, and in Sentinel mode ROLE (it must be a master)
    Subscriber, // AUTH
    Sentinel,   // none
};

using RedisMessageHandler = std::function<void(std::string_view, std::string_view)>;

struct RedisClient::Core : std::enable_shared_from_this<RedisClient::Core> {
    Core(asio::io_context& io, RedisSettings s);

    asio::io_context& io;
    RedisSettings settings;
    Counters counters;
    bool started = false;
    bool stopped = false;

    // --- the command connection (client.cpp)
    std::shared_ptr<RedisConnection> command; // set while up: open, handshake done, listeners told
    std::string master_text;                  // "host:port" while up
    RedisAddress master;                      // where the last "up" connected
    std::string last_master;                  // a new "up" elsewhere is a failover
    bool rediscover = false;                  // READONLY or +switch-master: leave, ask again
    asio::steady_timer wake;                  // run()'s pauses and its wait while up
    std::uint64_t epoch = 0;                  // +1 at each up and down
    std::vector<std::function<void(bool)>> state_listeners;
    std::function<void()> subscribed_listener; // a subscription confirmed (RedisClient::on_subscribed)
    std::vector<std::weak_ptr<RedisConnection>> live; // every connection made, for stop()

    // --- pub/sub (subscriber.cpp)
    std::vector<std::pair<std::string, RedisMessageHandler>> subscriptions;
    std::shared_ptr<RedisConnection> subscriber;
    std::shared_ptr<asio::steady_timer> subscriber_wake;
    std::uint64_t subscriber_epoch = 0; // the epoch whose pub/sub loop runs (0: none)

    // --- Sentinel (sentinel.cpp)
    std::size_t next_sentinel = 0; // the one that answered last is asked first
    std::size_t watch_sentinel = 0;
    asio::steady_timer watch_wake;

    bool sentinel_mode() const { return !settings.sentinels.empty(); }
    bool up() const { return command != nullptr; }

    void start();
    void stop();
    void send(std::vector<std::string>& argv, Duration bound, std::function<void(RedisResult)>& done);
    static asio::awaitable<void> run(std::shared_ptr<Core> self);
    // The connecting steps write why they failed to `why`: each loop has its own, so that the
    // three loops' failures do not overwrite one another.
    asio::awaitable<std::shared_ptr<RedisConnection>> open_master(std::string& why);
    asio::awaitable<std::shared_ptr<RedisConnection>> open_link(const RedisAddress& to, RedisLink link,
                                                                std::string& why);
    asio::awaitable<bool> handshake(RedisConnection& c, RedisLink link, std::string& why);
    asio::awaitable<void> pause(asio::steady_timer& timer, Duration d);
    asio::awaitable<void> wait_while_up();
    void went_up(std::shared_ptr<RedisConnection> conn);
    void went_down(const char* why);
    void notify(bool up);
    void request_rediscovery(const char* why);

    void add_subscription(std::string channel, RedisMessageHandler handler);
    void start_subscriber();
    void end_subscriber();
    bool subscriber_current(std::uint64_t e) const { return !stopped && epoch == e; }
    static asio::awaitable<void> run_subscriber(std::shared_ptr<Core> self, std::uint64_t epoch);
    void on_message(const RedisReply& push);

    asio::awaitable<std::optional<RedisAddress>> ask_sentinels(std::string& why);
    static asio::awaitable<void> watch(std::shared_ptr<Core> self);
    void on_sentinel_push(const RedisReply& push);
};

// The master's address from a SENTINEL get-master-addr-by-name answer: ["ip", "port"].
std::optional<RedisAddress> redis_master_from_sentinel(const RedisResult& r);
// Whether a ROLE answer says "master".
bool redis_role_is_master(const RedisResult& r);

} // namespace haven::shared
