#include "proxy/snapshot.hpp"

namespace haven::proxy {

std::shared_ptr<ListenerMetrics> MetricsStore::listener(const std::string& name) {
    auto& m = listeners_[name];
    if (!m) m = std::make_shared<ListenerMetrics>(workers_, name);
    return m;
}

std::shared_ptr<RouteMetrics> MetricsStore::route(const std::string& listener, const std::string& route,
                                                  const std::string& pool) {
    auto& m = routes_[listener + '\n' + route + '\n' + pool];
    if (!m) m = std::make_shared<RouteMetrics>(workers_, route, pool);
    return m;
}

std::shared_ptr<const Snapshot> Snapshot::build(std::shared_ptr<const config::Config> config,
                                                std::vector<std::shared_ptr<const upstream::HostSet>> pools,
                                                const std::map<std::string, std::uint32_t>& slots,
                                                MetricsStore& metrics, policy::PolicyStore& policies) {
    auto snap = std::make_shared<Snapshot>();
    snap->pools = std::move(pools);
    const auto pool_index = [&](const std::string& name) {
        for (std::uint32_t i = 0; i < config->pools.size(); ++i) {
            if (config->pools[i].name == name) return i;
        }
        return kNoPool;
    };
    std::uint32_t max_slot = 0;
    for (const auto& [name, slot] : slots) max_slot = std::max(max_slot, slot);
    snap->listeners.resize(slots.empty() ? 0 : max_slot + 1);
    for (const auto& l : config->listeners) {
        auto rt = std::make_shared<ListenerRuntime>();
        rt->config = l;
        if (l.tls) rt->tls = l.tls->context;
        rt->router = Router::compile(
            l, pool_index,
            [&](std::size_t position, const std::string& pool) {
                return metrics.route(l.name, std::to_string(position), pool);
            },
            [&](std::size_t position, const config::Policies& own) { return policies.route(l, position, own); });
        rt->metrics = metrics.listener(l.name);
        rt->no_route = metrics.route(l.name, "none", "none");
        snap->listeners[slots.at(l.name)] = std::move(rt);
    }
    snap->config = std::move(config);
    policies.sweep();
    return snap;
}

} // namespace haven::proxy
