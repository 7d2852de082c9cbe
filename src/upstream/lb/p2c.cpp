// Power of two random choices on requests in flight: draw two distinct hosts at random with
// probability proportional to weight, send the request to the one with the lower
// (active + 1) / weight (the first drawn on a tie). Two samples avoid the herd behaviour of
// pure least-connections across workers that each see only their own counts, while still
// steering away from loaded hosts (Mitzenmacher, "The Power of Two Choices in Randomized Load
// Balancing", 2001).
//
// Weighted draws use prefix sums of the weights and a binary search: O(log n), exact integer
// arithmetic, and a single Random::below() per draw, which tests can steer with FakeRandom. The
// second host is drawn from the weights with the first removed (by skipping the first host's
// range of the prefix sums), so it is distinct without rejection sampling.
#include "upstream/lb/lb_common.hpp"
#include "upstream/lb/load_balancer.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace haven::upstream {
namespace {

using lb_detail::active_of;
using lb_detail::is_excluded;
using lb_detail::lighter;

// Draws per candidate before giving up on sampling around excluded hosts; excluded hosts are the
// few already tried by this request, so more than a couple of failures means they hold most of
// the weight and a scan is the better tool.
constexpr int kMaxDraws = 4;

class PowerOfTwo final : public LoadBalancer {
public:
    PowerOfTwo(const ActiveCounts& active, Random& random) : active_(active), random_(random) {}

    void set_hosts(std::span<const LbEntry> hosts) override;
    HostIndex pick(const PickRequest& request) override;

private:
    static constexpr std::size_t kNone = static_cast<std::size_t>(-1);

    // The host whose weight range [ends_[i] - weight, ends_[i]) holds `unit`.
    std::size_t host_at(std::uint64_t unit) const {
        return static_cast<std::size_t>(std::upper_bound(ends_.begin(), ends_.end(), unit) - ends_.begin());
    }
    std::size_t draw() { return host_at(random_.below(total_)); }
    // Drawn from all hosts but `first`: a unit of the remaining weight, shifted past first's range.
    std::size_t draw_other(std::size_t first) {
        const std::uint64_t weight = hosts_[first].weight;
        std::uint64_t unit = random_.below(total_ - weight);
        if (unit >= ends_[first] - weight) unit += weight;
        return host_at(unit);
    }
    std::size_t draw_allowed(std::size_t avoid, std::span<const HostIndex> exclude);
    bool is_lighter(std::size_t a, std::size_t b) const {
        return lighter(active_of(active_, hosts_[a].host) + 1, hosts_[a].weight,
                       active_of(active_, hosts_[b].host) + 1, hosts_[b].weight);
    }
    HostIndex lightest_allowed(std::span<const HostIndex> exclude) const;

    const ActiveCounts& active_;
    Random& random_;
    std::vector<LbEntry> hosts_;
    std::vector<std::uint64_t> ends_; // ends_[i] = weight of hosts_[0..i]
    std::uint64_t total_ = 0;
};

void PowerOfTwo::set_hosts(std::span<const LbEntry> hosts) {
    hosts_ = lb_detail::usable_entries(hosts);
    ends_.clear();
    total_ = 0;
    for (const auto& h : hosts_) {
        total_ += h.weight;
        ends_.push_back(total_);
    }
}

// A host not excluded, drawn by weight (and distinct from `avoid` unless it is kNone), or kNone
// after kMaxDraws excluded draws.
std::size_t PowerOfTwo::draw_allowed(std::size_t avoid, std::span<const HostIndex> exclude) {
    for (int attempt = 0; attempt < kMaxDraws; ++attempt) {
        const std::size_t i = avoid == kNone ? draw() : draw_other(avoid);
        if (exclude.empty() || !is_excluded(exclude, hosts_[i].host)) return i;
    }
    return kNone;
}

// The fallback when sampling keeps hitting excluded hosts: the lightest remaining one, by scan.
HostIndex PowerOfTwo::lightest_allowed(std::span<const HostIndex> exclude) const {
    std::size_t best = kNone;
    for (std::size_t i = 0; i < hosts_.size(); ++i) {
        if (is_excluded(exclude, hosts_[i].host)) continue;
        if (best == kNone || is_lighter(i, best)) best = i;
    }
    return best == kNone ? kNoHost : hosts_[best].host;
}

// Rules: no hosts → kNoHost; one host → it unless excluded. Otherwise two distinct non-excluded
// draws, the lighter wins (ties: the first). If the first candidate cannot be drawn, scan; if
// only the second cannot, the first is the only choice left worth making.
HostIndex PowerOfTwo::pick(const PickRequest& request) {
    if (hosts_.empty()) return kNoHost;
    if (hosts_.size() == 1) {
        return is_excluded(request.exclude, hosts_[0].host) ? kNoHost : hosts_[0].host;
    }
    const std::size_t first = draw_allowed(kNone, request.exclude);
    if (first == kNone) return lightest_allowed(request.exclude);
    const std::size_t second = draw_allowed(first, request.exclude);
    if (second == kNone) return hosts_[first].host;
    return is_lighter(second, first) ? hosts_[second].host : hosts_[first].host;
}

} // namespace

std::unique_ptr<LoadBalancer> make_p2c(const ActiveCounts& active, Random& random) {
    return std::make_unique<PowerOfTwo>(active, random);
}

} // namespace haven::upstream
