// Snapshot: everything a worker needs to route and balance, built once from a config and shared
// read-only by all workers. A reload builds a new one; each worker adopts it between requests.
//
// Listeners are indexed by a slot that stays the same for a listener name for the life of the
// process, so a connection accepted before a reload still finds its listener afterwards (or finds
// that it was removed).
#pragma once

#include "config/schema.hpp"
#include "proxy/metrics.hpp"
#include "policy/policy_store.hpp"
#include "proxy/router.hpp"
#include "upstream/host_set.hpp"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace haven::proxy {

struct ListenerRuntime {
    config::Listener config;
    std::shared_ptr<const net::tls::ServerContext> tls; // config.tls->context, when the listener speaks TLS
    Router router;
    std::shared_ptr<ListenerMetrics> metrics;
    std::shared_ptr<RouteMetrics> no_route; // requests no route matched
};

// Metric objects that outlive snapshots, so counters stay monotonic across reloads. Control thread.
class MetricsStore {
public:
    explicit MetricsStore(std::size_t workers) : workers_(workers) {}
    std::shared_ptr<ListenerMetrics> listener(const std::string& name);
    std::shared_ptr<RouteMetrics> route(const std::string& listener, const std::string& route, const std::string& pool);
    const std::map<std::string, std::shared_ptr<ListenerMetrics>>& listeners() const { return listeners_; }
    const std::map<std::string, std::shared_ptr<RouteMetrics>>& routes() const { return routes_; }
    std::size_t workers() const { return workers_; }

private:
    std::size_t workers_;
    std::map<std::string, std::shared_ptr<ListenerMetrics>> listeners_;
    std::map<std::string, std::shared_ptr<RouteMetrics>> routes_; // key: listener \n route \n pool
};

struct Snapshot {
    std::shared_ptr<const config::Config> config;
    std::vector<std::shared_ptr<const upstream::HostSet>> pools; // config order
    std::vector<std::shared_ptr<const ListenerRuntime>> listeners; // by slot; nullptr: removed

    // `pools`: the control plane's snapshots of config->pools, in order. `slots`: listener name ->
    // slot (every listener of the config has one).
    // `policies` gives each route its compiled policies (and forgets those of routes gone).
    static std::shared_ptr<const Snapshot> build(std::shared_ptr<const config::Config> config,
                                                 std::vector<std::shared_ptr<const upstream::HostSet>> pools,
                                                 const std::map<std::string, std::uint32_t>& slots, MetricsStore& metrics,
                                                 policy::PolicyStore& policies);
};

} // namespace haven::proxy
