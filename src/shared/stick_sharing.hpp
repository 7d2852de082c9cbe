// StickSharing: the pools' stick tables shared by every haven instance that points at the same
// Redis (shared_state:, docs/sessions.md#shared-state). It runs on the control thread; workers
// hand it their table writes (session::StickSink) and never wait on Redis.
//
// - A write (a client newly stuck to a server, or an entry in use refreshed) goes to Redis by a
//   Lua script that keeps the later of two writes (last writer wins by the write's wall-clock
//   stamp), sets the key's expiry to the table's `expire`, and publishes the entry on one channel.
// - Every instance subscribes to that channel and puts what others wrote into its own table
//   (again last writer wins), so a client's next request finds its server on any instance.
// - While Redis is down (or unreachable), tables work locally: writes wait in a bounded backlog
//   (the oldest dropped first, counted). When Redis is back, the backlog is sent and each shared
//   table reloads what Redis holds (SCAN + MGET), so the instances agree again.
#pragma once

#include "core/event_log.hpp"
#include "core/scheduler.hpp"
#include "session/sticky.hpp"
#include "shared/redis/client.hpp"

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <string>

namespace haven::shared {

class StickSharing final : public session::StickSink {
public:
    // The pool's stickiness as the control plane has it now (null: none), looked up by name.
    using Lookup = std::function<const session::Stickiness*(std::string_view pool)>;
    // The names of the pools whose tables are shared now.
    using SharedPools = std::function<std::vector<std::string>()>;
    static constexpr std::size_t kMaxBacklog = 100'000;

    StickSharing(asio::io_context& control, Scheduler& scheduler, RedisSettings settings, std::string prefix, EventLog& events, Lookup lookup,
                 SharedPools pools);
    ~StickSharing() override;

    void start();
    void stop();

    // session::StickSink, on a worker thread: the write goes to the control thread.
    void write(const std::string& pool, std::size_t worker, const session::StickWrite& w) override;

    struct Counters {
        std::uint64_t published = 0;  // writes Redis took
        std::uint64_t superseded = 0; // writes Redis refused because it held a later one
        std::uint64_t failed = 0;     // writes that failed (then kept in the backlog)
        std::uint64_t dropped = 0;    // writes dropped from a full backlog
        std::uint64_t applied = 0;    // entries from other instances put in a table
        std::uint64_t stale = 0;      // ... that the table already had a later write for
        std::uint64_t resyncs = 0;    // times the tables were reloaded from Redis
        std::uint64_t loaded = 0;     // entries put in a table by those reloads
    };
    const Counters& counters() const { return counters_; }
    bool up() const;
    std::string master() const;
    std::size_t backlog() const { return backlog_.size(); }
    std::int64_t down_since_us() const { return down_since_us_; }
    const RedisClient::Counters& redis() const;
    // The connection, which shared rate limits (limit_sharing.hpp) use too.
    RedisClient& client() { return *client_; }

    // The Redis key and the channel (for tests and docs).
    std::string key_of(std::string_view pool, std::uint64_t key) const;
    std::string channel() const { return prefix_ + ":stick"; }

private:
    struct Pending {
        std::string pool;
        session::StickWrite w;
    };
    void send(Pending p);
    void keep(Pending p);
    void on_state(bool up);
    void on_message(std::string_view payload);
    void resync();
    void reload();
    asio::awaitable<void> reload_tables(std::shared_ptr<bool> alive);

    asio::io_context& control_;
    Scheduler& scheduler_;
    std::string prefix_;
    EventLog& events_;
    Lookup lookup_;
    SharedPools pools_;
    std::string instance_;
    std::unique_ptr<RedisClient> client_;
    std::deque<Pending> backlog_;
    Counters counters_;
    std::int64_t down_since_us_ = 0;
    bool ever_up_ = false;
    bool stopping_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

} // namespace haven::shared
