// Snapshot: everything a worker needs to route and balance, built once from a config and shared
// read-only by all workers. A reload builds a new one; each worker adopts it between requests.
#pragma once

#include "config/schema.hpp"
#include "proxy/router.hpp"
#include "upstream/host_set.hpp"

#include <memory>
#include <string>
#include <vector>

namespace haven::proxy {

struct Snapshot {
    std::shared_ptr<const config::Config> config;
    std::vector<std::shared_ptr<const upstream::HostSet>> pools; // config order
    std::vector<Router> routers;                                 // per listener, config order

    // `pools` are the control plane's current snapshots of config->pools, in order.
    static std::shared_ptr<const Snapshot> build(std::shared_ptr<const config::Config> config,
                                                 std::vector<std::shared_ptr<const upstream::HostSet>> pools);
};

} // namespace haven::proxy
