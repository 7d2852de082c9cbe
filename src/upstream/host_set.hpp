// HostSet: an immutable snapshot of one pool — its servers with resolved addresses and the subset
// that may take new requests now, with effective weights. Worker threads read snapshots without
// locks; whoever changes a pool's state (config reload, health checks, admin actions) publishes a
// new snapshot and each worker rebuilds its load balancer from it, off the request path.
#pragma once

#include "config/schema.hpp"
#include "upstream/host.hpp"

#include <asio/ip/tcp.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace haven::upstream {

struct HostInfo {
    std::string name;
    std::string address_text; // as configured, e.g. "127.0.0.1:9001"
    asio::ip::tcp::endpoint endpoint;
    std::uint32_t weight = 1; // configured weight; 0 = drained
};

struct HostSet {
    std::uint32_t pool_id = 0; // index of the pool in the config
    std::string name;
    config::Balance balance = config::Balance::RoundRobin;
    config::HashKey hash_on;
    config::UpstreamKeepalive keepalive;
    std::vector<HostInfo> hosts;   // config order; HostIndex indexes this
    std::vector<LbEntry> eligible; // hosts that may take new requests, weight > 0
};

// Builds the snapshot of `pool` (resolving addresses). On failure returns nullptr and sets error.
std::shared_ptr<const HostSet> build_host_set(const config::Pool& pool, std::uint32_t pool_id, std::string& error);

// The hosts eligible for new requests given their configured weights.
std::vector<LbEntry> eligible_hosts(const std::vector<HostInfo>& hosts);

} // namespace haven::upstream
