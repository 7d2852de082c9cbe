// One TCP connection to a Redis server or sentinel. Commands are written in order, batched while
// a write is in flight (pipelining), and answered in order: a FIFO of pending commands pairs each
// answer with its command. A command that outlives its bound completes with Timeout but keeps its
// FIFO slot, empty, so that its late answer is read and dropped instead of being handed to the
// next command. In push mode (after SUBSCRIBE) answers go to a handler instead.
//
// Single use: once closed it stays closed; the client makes a new one to reconnect. Shared
// (shared_ptr) with its own read loop and write and timer handlers, which keep it alive until
// they end. Internal to src/shared/redis/.
#pragma once

#include "shared/redis/client.hpp"
#include "shared/redis/reply.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace haven::shared {

class RedisConnection : public std::enable_shared_from_this<RedisConnection> {
public:
    using Done = std::function<void(RedisResult)>;
    using Hook = std::function<void()>;
    using ReplyHook = std::function<void(const RedisReply&)>;

    explicit RedisConnection(asio::io_context& io);

    // Connects to `to` within `timeout` and starts reading. False when it failed (error() says
    // why); the connection is then closed.
    asio::awaitable<bool> connect(RedisAddress to, Duration timeout);

    // Queues one command. True: `done` was taken and runs exactly once, never inline from here.
    // False, `done` untouched: not open, RedisClient::kMaxPending commands pending, or argv empty.
    bool command(const std::vector<std::string>& argv, Duration bound, Done& done);
    // Writes a command whose answers arrive as pushes (SUBSCRIBE): it takes no FIFO slot.
    bool send_raw(const std::vector<std::string>& argv);

    // From now on answers with no command waiting go to `handler` (set it once the handshake's
    // answers are in, before SUBSCRIBE).
    void set_push_handler(ReplyHook handler) { on_push_ = std::move(handler); }
    // Sees every error answer, before its command's `done` (the client watches for READONLY).
    void set_on_error_reply(ReplyHook hook) { on_error_reply_ = std::move(hook); }
    // Runs once, when the connection closes for any reason (close() included), after the pending
    // commands completed. Set it only on an open connection.
    void set_on_closed(Hook hook) { on_closed_ = std::move(hook); }
    // Where timeouts and error answers are counted (the command connection, once its handshake is
    // done); must outlive the connection's open life.
    void set_counters(RedisClient::Counters* counters) { counters_ = counters; }

    // Closes the socket; pending commands complete with Closed, inline, then on_closed runs.
    void close();

    bool open() const { return open_; }
    std::size_t pending() const { return pending_.size(); }
    const RedisAddress& address() const { return address_; }
    const std::string& error() const { return error_; }

private:
    struct Pending {
        Done done; // empty once the command timed out: its answer is still awaited, then dropped
        TimePoint deadline;
    };

    static asio::awaitable<void> read_loop(std::shared_ptr<RedisConnection> self);
    bool deliver_all();
    void deliver(RedisReply reply);
    void flush();
    void arm(TimePoint at);
    void expire();
    void fail(std::string why);

    asio::io_context& io_;
    asio::ip::tcp::socket socket_;
    asio::steady_timer timer_; // armed at the earliest deadline of the pending commands
    TimePoint armed_at_ = TimePoint::max();
    RedisReplyReader reader_;
    std::deque<Pending> pending_;
    std::string out_;     // encoded commands waiting for the write in flight
    std::string writing_; // the bytes of the write in flight
    bool write_in_flight_ = false;
    bool open_ = false;
    bool closed_ = false;
    RedisAddress address_;
    std::string error_;
    RedisClient::Counters* counters_ = nullptr;
    ReplyHook on_push_;
    ReplyHook on_error_reply_;
    Hook on_closed_;
};

// Calls start(done) and suspends until `done` runs; the coroutine then resumes from the
// io_context's queue, never inside whatever called `done` (stop(), say).
asio::awaitable<RedisResult> redis_await(std::function<void(RedisConnection::Done)> start);

// One command on `c`, awaited; NotConnected when `c` refuses it.
asio::awaitable<RedisResult> redis_call(std::shared_ptr<RedisConnection> c, std::vector<std::string> argv,
                                        Duration bound);

} // namespace haven::shared
