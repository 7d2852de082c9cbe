#include "proxy/snapshot.hpp"

namespace haven::proxy {

std::shared_ptr<const Snapshot> Snapshot::build(std::shared_ptr<const config::Config> config,
                                                std::vector<std::shared_ptr<const upstream::HostSet>> pools) {
    auto snap = std::make_shared<Snapshot>();
    snap->pools = std::move(pools);
    const auto pool_index = [&](const std::string& name) {
        for (std::uint32_t i = 0; i < config->pools.size(); ++i) {
            if (config->pools[i].name == name) return i;
        }
        return kNoPool;
    };
    for (const auto& l : config->listeners) snap->routers.push_back(Router::compile(l, pool_index));
    snap->config = std::move(config);
    return snap;
}

} // namespace haven::proxy
