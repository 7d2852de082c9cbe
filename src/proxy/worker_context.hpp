// WorkerContext: everything one worker thread owns — its event loop, timeouts, buffers, pools,
// counters, access-log ring and client sessions. Nothing here is touched by another thread except
// through run_soon() (snapshot and pool updates, shutdown) and the relaxed counters in `stats`.
#pragma once

#include "core/asio_scheduler.hpp"
#include "core/deadlines.hpp"
#include "core/random.hpp"
#include "net/buffer_pool.hpp"
#include "net/doorbell.hpp"
#include "proxy/snapshot.hpp"
#include "proxy/stats.hpp"
#include "upstream/pool_manager.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace haven::proxy {

class AccessLogRing;
class Session;
struct RequestContext;

// "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" for haven's own replies, refreshed once a tick.
class DateCache {
public:
    void refresh(std::int64_t wall_us);
    std::string_view line() const { return {buf_.data(), len_}; }

private:
    std::array<char, 64> buf_{};
    std::size_t len_ = 0;
    std::int64_t second_ = -1;
};

// X-Request-Id values: a random per-worker prefix and a counter, 32 hex digits, no syscall.
class RequestIdGenerator {
public:
    explicit RequestIdGenerator(std::uint64_t prefix);
    // Writes 32 characters to out.
    void next(char* out);

private:
    char prefix_hex_[16];
    std::uint64_t counter_ = 0;
};

struct WorkerShared; // process-wide state shared by workers (connection count)

class WorkerContext {
public:
    WorkerContext(unsigned index, std::shared_ptr<const Snapshot> snapshot, WorkerShared& shared,
                  AccessLogRing* access_log);
    ~WorkerContext();
    WorkerContext(const WorkerContext&) = delete;
    WorkerContext& operator=(const WorkerContext&) = delete;

    // Adopts a new snapshot (on this worker's thread): pools keep their connections where the
    // servers are unchanged.
    void apply(std::shared_ptr<const Snapshot> snapshot);
    // Adopts a new state of one pool (health, ejection, drain, weights), matched by name.
    void apply_pool(std::shared_ptr<const upstream::HostSet> set);

    const config::Config& config() const { return *snapshot_->config; }
    const Snapshot& snapshot() const { return *snapshot_; }
    upstream::PoolRuntime& pool(std::uint32_t index) { return *pools_[index]; }

    // Client sessions, for draining and for evicting idle connections at max_connections.
    void add_session(Session* s);
    void remove_session(Session* s);
    // Closes the longest-idle client connection of this worker; false if none is idle.
    bool evict_idle_session();
    // Tells the sessions relaying to `pool` that some of its servers' connections must end
    // (HostSet::shut); nothing when the snapshot shuts none.
    void shut_sessions(const upstream::PoolRuntime& pool);
    // Starts accepting on a listening socket bound by the control thread (adopts the descriptor).
    void add_listener(std::uint32_t slot, int fd, bool v6);
    // Stops accepting on a listener; its idle connections close, busy ones after their response.
    void remove_listener(std::uint32_t slot);
    // Graceful shutdown: idle connections close now, busy ones after their current response.
    void begin_drain();
    bool draining() const { return draining_; }
    // After the drain timeout: abort every session, then stop the event loop once they have all
    // ended (or after 2 s), so that no session outlives the loop.
    void shut_down();
    std::size_t session_count() const { return session_count_; }

    // Runs fn on this worker's thread, at once if the worker is waiting for events, else as soon
    // as its current work is done (it rings the worker's doorbell). The only way other threads
    // hand work to a worker: the worker's event loop runs without any locking
    // (ASIO_CONCURRENCY_HINT_UNSAFE), so nothing may be posted to it directly.
    void run_soon(std::function<void()> fn);
    // Called by the tick on the worker's thread: shutdown progress, retired pools, and the
    // mailbox (in case a ring was missed).
    void run_mailbox();

    // Keep-alive connections waiting for their next request with a buffer and a coroutine
    // (not parked yet). Bounded: see HttpSession::become_idle.
    std::uint32_t waiting_idle = 0;

    // Pooled per-request state (header arrays etc.): no allocation per request once warm.
    RequestContext* acquire_request();
    void release_request(RequestContext* r);

    unsigned index;
    asio::io_context io;
    AsioScheduler scheduler;
    DeadlineList deadlines;
    net::BufferPool small_buffers; // 1 KiB: where request heads are read first
    net::BufferPool buffers;       // 16 KiB: response heads, body streaming, TCP relay
    net::BufferPool large_buffers; // max_header_bytes + 1 KiB: heads that outgrow the others
    FastRandom random;
    WorkerStats stats;
    DateCache date;
    RequestIdGenerator request_ids;
    AccessLogRing* access_log;
    WorkerShared& shared;
    // Wall time of the last tick (deep health: a worker whose loop is stuck stops updating it).
    std::atomic<std::int64_t> heartbeat_us{0};

private:
    std::shared_ptr<const Snapshot> snapshot_;
    std::vector<std::unique_ptr<upstream::PoolRuntime>> pools_;
    std::vector<std::unique_ptr<upstream::PoolRuntime>> retired_pools_; // removed, still in use
    std::map<std::uint32_t, std::unique_ptr<asio::ip::tcp::acceptor>> acceptors_; // by listener slot
    std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> closed_acceptors_;
    Session* sessions_head_ = nullptr; // intrusive list, most recently idle last
    std::size_t session_count_ = 0;
    bool draining_ = false;
    int shutdown_ticks_ = -1;
    std::vector<RequestContext*> free_requests_;
    std::mutex mailbox_mu_;
    std::vector<std::function<void()>> mailbox_;
    std::atomic<bool> mailbox_full_{false};
    net::Doorbell doorbell_{io};

    void drain_mailbox();
};

struct WorkerShared {
    std::atomic<std::uint32_t> connections{0}; // client connections open in the process
};

} // namespace haven::proxy
