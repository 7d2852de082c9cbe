#include "upstream/host_set.hpp"

#include "net/address.hpp"

namespace haven::upstream {

std::vector<LbEntry> eligible_hosts(const std::vector<HostInfo>& hosts) {
    std::vector<LbEntry> out;
    out.reserve(hosts.size());
    for (HostIndex i = 0; i < hosts.size(); ++i) {
        if (hosts[i].weight > 0) out.push_back({i, hosts[i].weight});
    }
    return out;
}

std::shared_ptr<const HostSet> build_host_set(const config::Pool& pool, std::uint32_t pool_id, std::string& error) {
    auto set = std::make_shared<HostSet>();
    set->pool_id = pool_id;
    set->name = pool.name;
    set->balance = pool.balance;
    set->hash_on = pool.hash_on;
    set->keepalive = pool.keepalive;
    set->hosts.reserve(pool.servers.size());
    for (const auto& s : pool.servers) {
        auto ep = net::resolve(s.address, error);
        if (!ep) {
            error = "pool " + pool.name + " server " + s.name + ": " + error;
            return nullptr;
        }
        set->hosts.push_back(HostInfo{s.name, s.address.text, *ep, s.weight});
    }
    set->eligible = eligible_hosts(set->hosts);
    return set;
}

} // namespace haven::upstream
