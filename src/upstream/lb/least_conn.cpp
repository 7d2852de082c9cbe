// Weighted least-connections: the host minimising (active + 1) / weight, where `active` counts
// this worker's requests in flight. The "+ 1" scores the load a host would carry with this
// request, so an idle weight-2 host beats an idle weight-1 host and, at equilibrium, hosts carry
// load in proportion to their weights.
//
// pick() is an O(n) scan: exact least-load needs every host's current count, and counts change
// on every request start and end, which would cost a heap update per change (on the caller's
// side) to maintain an index. Pools are small (tens of servers) and the scan is branch-light, so
// the scan is cheaper in practice; p2c is the O(1) choice for large pools.
#include "upstream/lb/lb_common.hpp"
#include "upstream/lb/load_balancer.hpp"

#include <cstdint>
#include <vector>

namespace haven::upstream {
namespace {

using lb_detail::active_of;
using lb_detail::is_excluded;
using lb_detail::lighter;

class LeastConn final : public LoadBalancer {
public:
    explicit LeastConn(const ActiveCounts& active) : active_(active) {}

    void set_hosts(std::span<const LbEntry> hosts) override {
        hosts_ = lb_detail::usable_entries(hosts);
        // Keep rotating from about where we were: restarting at 0 on every change (slow start
        // updates weights often) would hand the ties to the first hosts.
        if (cursor_ >= hosts_.size()) cursor_ = 0;
    }

    HostIndex pick(const PickRequest& request) override;

private:
    const ActiveCounts& active_;
    std::vector<LbEntry> hosts_;
    std::size_t cursor_ = 0; // where the next scan starts: one past the last host chosen
};

// Rules: no hosts, or every host excluded → kNoHost. Otherwise the lightest non-excluded host.
// The scan starts just after the previous choice and only a strictly lighter host replaces the
// best so far, so among equally loaded hosts the choice rotates instead of always taking the
// first (which matters when requests are short and every count reads 0).
HostIndex LeastConn::pick(const PickRequest& request) {
    const std::size_t n = hosts_.size();
    std::size_t best = n;
    std::uint64_t best_load = 0;
    std::uint32_t best_weight = 1;
    // Two straight passes, [cursor, n) then [0, cursor), keep the wrap-around out of the loop.
    auto scan = [&](std::size_t from, std::size_t to) {
        for (std::size_t i = from; i < to; ++i) {
            const LbEntry& h = hosts_[i];
            const std::uint64_t load = active_of(active_, h.host) + 1;
            if (best != n && !lighter(load, h.weight, best_load, best_weight)) continue;
            if (!request.exclude.empty() && is_excluded(request.exclude, h.host)) continue;
            best = i;
            best_load = load;
            best_weight = h.weight;
        }
    };
    scan(cursor_, n);
    scan(0, cursor_);
    if (best == n) return kNoHost;
    cursor_ = best + 1 == n ? 0 : best + 1;
    return hosts_[best].host;
}

} // namespace

std::unique_ptr<LoadBalancer> make_least_conn(const ActiveCounts& active) {
    return std::make_unique<LeastConn>(active);
}

} // namespace haven::upstream
