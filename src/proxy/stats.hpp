// Per-worker counters. Each is written by its worker thread only (a relaxed load+store, no locked
// instruction on the request path) and read by the metrics scrape, which sums the workers.
#pragma once

#include "proxy/stage.hpp"

#include <array>
#include <atomic>
#include <cstdint>

namespace haven::proxy {

class Counter {
public:
    void inc(std::uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    void dec(std::uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed); }
    std::uint64_t get() const { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> v_{0};
};

inline constexpr std::size_t kFlagCount = static_cast<std::size_t>(ResponseFlag::ServerShutdown) + 1;

struct WorkerStats {
    Counter connections_accepted;
    Counter connections_active;
    Counter connections_evicted;  // idle connections closed to admit new ones at max_connections
    Counter connections_rejected; // new connections refused at max_connections (none idle)
    Counter requests;             // request heads parsed
    std::array<Counter, 6> responses_by_class; // index = status / 100 (0 = no status)
    std::array<Counter, kFlagCount> flags;     // responses by ResponseFlag
    Counter upstream_connects;
    Counter upstream_reused;      // requests sent on a pooled connection
    std::array<Counter, 9> upstream_tls; // TLS handshakes with servers, by net::tls::Handshake outcome
    Counter upstream_stale_retries; // idempotent requests re-sent after a pooled connection died
    std::array<Counter, 5> retry_decisions; // by upstream::RetryDecision: retried, no, budget, limit, no server
    Counter access_log_dropped;   // lines dropped because the log writer fell behind
};

} // namespace haven::proxy
