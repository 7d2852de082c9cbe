// Idle keep-alive connections to one server, owned by one worker thread (no locks).
//
// Reuse is LIFO: the most recently used connection is the least likely to have been closed by the
// server. An idle connection is closed after keepalive.idle_timeout (kept shorter than common
// server keep-alive timeouts) or when the pool already holds keepalive.max_idle connections.
// A server may still close an idle connection just as it is reused; the proxy's retry rules
// (docs/retries.md) say when such a request is sent again.
#pragma once

#include "core/deadlines.hpp"
#include "upstream/circuit/resource_limits.hpp"
#include "upstream/host.hpp"

#include "net/stream.hpp"

#include <asio/ip/tcp.hpp>

#include <cstdint>
#include <memory>
#include <vector>

namespace haven::upstream {

class ConnPool;

struct UpstreamConn {
    explicit UpstreamConn(asio::any_io_executor ex) : stream(asio::ip::tcp::socket(ex)) {}
    ~UpstreamConn() {
        if (caps) caps->release_connection();
    }
    UpstreamConn(const UpstreamConn&) = delete;
    UpstreamConn& operator=(const UpstreamConn&) = delete;
    std::shared_ptr<ResourceLimits> caps; // the pool's max_connections counts this connection
    net::Stream stream; // TLS when the pool has `tls:`
    HostIndex host = kNoHost;
    std::uint32_t requests = 0; // requests completed on this connection (0 = fresh)
    Deadline idle;              // armed while the connection sits in a pool
    ConnPool* pool = nullptr;   // set while idle
};

class ConnPool {
public:
    ConnPool(DeadlineList& deadlines, std::uint32_t max_idle, Duration idle_timeout)
        : deadlines_(deadlines), max_idle_(max_idle), idle_timeout_(idle_timeout) {}
    ~ConnPool() { clear(); }
    ConnPool(const ConnPool&) = delete;
    ConnPool& operator=(const ConnPool&) = delete;

    // The most recently returned idle connection, or nullptr.
    std::unique_ptr<UpstreamConn> take();
    // Keeps `c` for reuse, or closes it when the pool is full.
    void put(std::unique_ptr<UpstreamConn> c);
    // Closes every idle connection (server removed, address changed, shutdown).
    void clear();
    std::size_t idle() const { return idle_.size(); }
    void set_limits(std::uint32_t max_idle, Duration idle_timeout) {
        max_idle_ = max_idle;
        idle_timeout_ = idle_timeout;
    }

private:
    static void on_idle_timeout(Deadline* d);
    void erase(UpstreamConn* c);

    DeadlineList& deadlines_;
    std::uint32_t max_idle_;
    Duration idle_timeout_;
    std::vector<std::unique_ptr<UpstreamConn>> idle_;
};

} // namespace haven::upstream
