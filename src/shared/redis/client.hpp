// src/shared/redis: the Redis client through which haven instances share state (stick-table
// entries, rate-limit counters) — a plain Redis, or the master that Redis Sentinel names.
//
// hiredis does only the protocol (redisFormatCommandArgv to encode, its reader to decode); the
// sockets, timers and reconnection are Asio on the caller's io_context, so a worker's client
// shares the worker's event loop and never blocks it. This folder is only the client: what is
// stored, under which keys, is decided by whoever wires it in.
//
// Addresses are IP literals ("localhost" is taken as 127.0.0.1): the client never resolves names,
// because getaddrinfo blocks and Asio's asynchronous resolver completes from a thread of its own,
// which the workers' unlocked io_contexts (ASIO_CONCURRENCY_HINT_UNSAFE) forbid. Resolve names
// when building the settings. Sentinels answer with IP addresses.
#pragma once

#include "core/clock.hpp"

#include <asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace asio {
class io_context;
}

namespace haven::shared {

struct RedisAddress {
    std::string host; // an IP literal, or "localhost"
    std::uint16_t port = 6379;
};

struct RedisSettings {
    std::vector<RedisAddress> servers;   // direct mode (used when sentinels is empty): the first that answers
    std::vector<RedisAddress> sentinels; // Sentinel mode when non-empty
    std::string master_name;             // Sentinel mode: the monitored master's name
    std::string password;                // AUTH when non-empty (the master's; sentinels are asked without)
    int database = 0;                    // SELECT when non-zero (command connection only: pub/sub ignores it)
    Duration connect_timeout = std::chrono::milliseconds(500); // also bounds each handshake step
    Duration reconnect_min = std::chrono::milliseconds(100);   // backoff between attempts, doubling
    Duration reconnect_max = std::chrono::seconds(5);
};

struct RedisReply {
    enum class Type : std::uint8_t { Nil, Integer, String, Status, Error, Array };
    Type type = Type::Nil;
    std::int64_t integer = 0;
    std::string str; // String, Status and Error (the error's whole text, e.g. "READONLY You can't ...")
    std::vector<RedisReply> elements;
};

// How one command ended.
enum class RedisStatus : std::uint8_t {
    Ok,           // `reply` is the server's answer
    Timeout,      // no answer within the command's bound
    NotConnected, // not sent: no connection now, or too many commands pending on it
    ServerError,  // the answer was an error (-ERR, -READONLY, ...): its text is in reply.str
    Closed,       // sent, but the connection was lost (or stop() called) before the answer came
};

struct RedisResult {
    RedisStatus status = RedisStatus::NotConnected;
    RedisReply reply;
};

// One client per io_context (one per haven worker thread, one on the control thread). Not thread-safe:
// every member is called on its io_context's thread; every callback runs there.
//
// Two connections to the master: one for commands (pipelined, answered in order) and, once
// something is subscribed, one for pub/sub. In Sentinel mode a third connection, to one sentinel,
// listens for +switch-master. No exception escapes; failures are statuses.
class RedisClient {
public:
    // At most this many commands wait for their answers on the command connection (timed-out
    // ones included, until their late answers arrive): beyond it send() fails at once with
    // NotConnected, so a stalled server costs bounded memory.
    static constexpr std::size_t kMaxPending = 10'000;

    RedisClient(asio::io_context& io, RedisSettings settings);
    ~RedisClient(); // as stop(), but without calling the on_state listeners
    RedisClient(const RedisClient&) = delete;
    RedisClient& operator=(const RedisClient&) = delete;

    // Connects in the background; reconnects with backoff until stop(). Once only: a client that
    // was stopped stays stopped.
    void start();
    // Closes every connection. Pending commands complete with Closed, and on_state(false) runs if
    // the client was up, all inline; after stop() returns no subscription or state callback runs
    // again, so the client may be destroyed at once.
    void stop();

    // One command. `done` runs exactly once, never inline from send(): the reply; Timeout if none came
    // within `bound` (a late reply is read and dropped, never handed to the next command); NotConnected
    // (posted, at once) when there is no connection now. Commands pipeline on one connection.
    // An -ERR answer is ServerError; an empty argv completes (posted) as ServerError without being sent.
    void send(std::vector<std::string> argv, Duration bound, std::function<void(RedisResult)> done);
    // send() for coroutines; the coroutine resumes from the io_context's queue, never inside stop().
    asio::awaitable<RedisResult> call(std::vector<std::string> argv, Duration bound);

    // Pub/sub on a second connection to the same master: on_message(channel, payload). Re-subscribes
    // after every reconnect. Call before or after start(). Messages published while that connection
    // is down are lost (Redis pub/sub keeps nothing).
    void subscribe(std::string channel, std::function<void(std::string_view, std::string_view)> on_message);

    // Called (on the io thread) each time the command connection comes up (true) or goes down (false);
    // "up" after a Sentinel failover means connected to the new master.
    void on_state(std::function<void(bool up)> listener);
    // Called (on the io thread) each time the pub/sub connection's subscription to a channel is
    // confirmed, after connecting and after every reconnect: messages published from then on
    // reach the handlers, so state read after this call misses nothing. One listener (the last set).
    void on_subscribed(std::function<void()> listener);

    bool connected() const;
    std::string master() const; // "host:port" now connected to, "" when none

    struct Counters {
        std::uint64_t commands = 0;    // commands sent (not the ones refused with NotConnected)
        std::uint64_t timeouts = 0;    // commands that completed with Timeout
        std::uint64_t errors = 0;      // commands answered with an error (ServerError)
        std::uint64_t connects = 0;    // the command connection came up
        std::uint64_t disconnects = 0; // it went down (a drop, a failover, stop())
        std::uint64_t failovers = 0;   // it came up at another address than the last time
    };
    const Counters& counters() const;

    struct Core; // the state the background coroutines share; internal to src/shared/redis/

private:
    std::shared_ptr<Core> core_;
};

// The pause before connect attempt `attempt` + 1 after `attempt` + 1 failures in a row (0 is the
// first retry): reconnect_min doubled `attempt` times, at most reconnect_max. No jitter: haven
// instances lose their Redis at different moments anyway, and the pause stays testable.
Duration redis_backoff(std::uint32_t attempt, const RedisSettings& settings);

} // namespace haven::shared
