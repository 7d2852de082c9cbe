// src/upstream: everything about the servers behind a pool — who they are (host.hpp), which of
// them may take traffic now (host_set), how one is chosen (lb/), per-worker connection pools
// (conn_pool), and later health checks, outlier detection, circuit breakers and retries.
//
// This header holds plain types only; it is included widely.
#pragma once

#include <cstdint>
#include <limits>
#include <span>

namespace haven::upstream {

// Index of a server in its pool's server list (config order). Stable for the pool's lifetime.
using HostIndex = std::uint32_t;
inline constexpr HostIndex kNoHost = std::numeric_limits<HostIndex>::max();

// A server eligible for new requests, with its effective weight (> 0).
struct LbEntry {
    HostIndex host;
    std::uint32_t weight;
};

// What a load balancer may look at to choose for one request.
struct PickRequest {
    std::uint64_t hash = 0;      // key hash, for hashing balancers
    bool has_hash = false;       // false: the key was absent (hash balancers fall back to round-robin)
    std::span<const HostIndex> exclude; // hosts already tried for this request (retries)
};

} // namespace haven::upstream
