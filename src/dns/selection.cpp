#include "dns/selection.hpp"

#include <utility>

namespace haven::dns {
namespace {

void add_values(const Member& m, std::vector<const Rdata*>& out) {
    for (const auto& r : m.values) out.push_back(&r);
}

// One member, drawn by weight; uniformly when every eligible weight is 0 (Route 53: "all
// records weighted 0 are answered with equal probability").
const Member& weighted(const RoutedSet& set, const SetView& view, Random& random) {
    std::uint64_t total = 0;
    for (const auto k : view.members) total += set.members[k].weight;
    if (total == 0) return set.members[view.members[random.below(view.members.size())]];
    std::uint64_t r = random.below(total);
    for (const auto k : view.members) {
        const auto w = set.members[k].weight;
        if (r < w) return set.members[k];
        r -= w;
    }
    return set.members[view.members.back()];
}

// Every eligible value, the first min(8, n) of them a uniform random sample in random order
// (a partial Fisher-Yates shuffle).
void multivalue(const RoutedSet& set, const SetView& view, Random& random, std::vector<const Rdata*>& out) {
    const std::size_t first = out.size();
    for (const auto k : view.members) add_values(set.members[k], out);
    const std::size_t n = out.size() - first;
    const std::size_t keep = std::min(n, kMultivalueMax);
    for (std::size_t i = 0; i < keep; ++i) {
        const std::size_t j = i + random.below(n - i);
        std::swap(out[first + i], out[first + j]);
    }
    out.resize(first + keep);
}

// The eligible member in the client's region; otherwise the first eligible one, in the order
// the set lists them (its order of preference).
const Member& latency(const RoutedSet& set, const SetView& view, RegionMatch client) {
    if (client.region >= 0) {
        for (const auto k : view.members) {
            if (set.members[k].region == client.region) return set.members[k];
        }
    }
    return set.members[view.members.front()];
}

} // namespace

bool pick(const RoutedSet& set, const SetView& view, RegionMatch client, Random& random, std::vector<const Rdata*>& out) {
    if (view.members.empty()) return false;
    switch (set.routing) {
    case config::DnsRouting::Simple:
    case config::DnsRouting::Failover: add_values(set.members[view.members.front()], out); return false;
    case config::DnsRouting::Weighted: add_values(weighted(set, view, random), out); return false;
    case config::DnsRouting::Multivalue: multivalue(set, view, random, out); return false;
    case config::DnsRouting::Latency: add_values(latency(set, view, client), out); return true;
    }
    return false;
}

} // namespace haven::dns
