// Consistent hashing with a Maglev lookup table (Eisenbud et al., "Maglev: A Fast and Reliable
// Software Network Load Balancer", NSDI 2016).
//
// Each host has a pseudo-random permutation of the M table slots (M prime, so any step 1..M-1
// visits every slot): slot_j = (offset + j * skip) mod M. Hosts take turns claiming the next
// free slot of their permutation until the table is full; a request key lands on
// table[hash mod M]. Because each host's preferences do not depend on the other hosts, removing
// one host mostly hands its slots to others and leaves the rest in place (about 1/N of keys
// move), and every worker builds the same table without coordinating.
//
// Weights: a host of weight w takes turns in proportion to w. Turns are scheduled earliest
// deadline first on (turns + 1) / w with a heap, so a host's share of the table is its weight
// share to within one slot, at O(M log n) however skewed the weights are. Hosts are sorted by
// HostIndex first, so the table depends only on the set of (host, weight) pairs, not on their
// order: re-adding a removed host restores the previous table exactly.
//
// Requests without a key are spread by smooth round-robin over the same hosts.
#include "upstream/lb/lb_common.hpp"
#include "upstream/lb/load_balancer.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace haven::upstream {
namespace {

using lb_detail::is_excluded;

// Prime, and large relative to pool sizes: the paper's guidance is M > 100 * N for shares within
// about 1% and small disruption. 65537 entries of 4 bytes = 256 KiB per pool and worker.
constexpr std::uint32_t kTableSize = 65537;

// A host's permutation parameters come from its HostIndex, the identity stable for the pool's
// lifetime; two salted hashes give independent offset and skip.
std::uint64_t host_hash(HostIndex host, std::uint32_t salt) {
    char bytes[8];
    std::memcpy(bytes, &host, 4);
    std::memcpy(bytes + 4, &salt, 4);
    return hash_key(std::string_view(bytes, sizeof bytes));
}

struct Filler {
    HostIndex host;
    std::uint32_t weight;
    std::uint32_t next; // next slot of this host's permutation to try
    std::uint32_t skip;
    std::uint64_t turns;
};

class Maglev final : public LoadBalancer {
public:
    Maglev() : round_robin_(make_round_robin()) {}

    void set_hosts(std::span<const LbEntry> hosts) override;
    HostIndex pick(const PickRequest& request) override;

private:
    void build_table();
    bool all_excluded(std::span<const HostIndex> exclude) const;

    std::vector<LbEntry> hosts_; // sorted by host
    std::vector<HostIndex> table_;
    std::unique_ptr<LoadBalancer> round_robin_; // for requests without a key
};

void Maglev::set_hosts(std::span<const LbEntry> hosts) {
    hosts_ = lb_detail::usable_entries(hosts);
    std::sort(hosts_.begin(), hosts_.end(),
              [](const LbEntry& a, const LbEntry& b) { return a.host < b.host; });
    round_robin_->set_hosts(hosts_);
    build_table();
}

void Maglev::build_table() {
    table_.clear();
    if (hosts_.empty()) return;
    std::vector<Filler> fillers;
    fillers.reserve(hosts_.size());
    for (const auto& h : hosts_) {
        const auto offset = static_cast<std::uint32_t>(host_hash(h.host, 0) % kTableSize);
        const auto skip = static_cast<std::uint32_t>(host_hash(h.host, 1) % (kTableSize - 1) + 1);
        fillers.push_back({h.host, h.weight, offset, skip, 0});
    }
    // Min-heap on the deadline (turns + 1) / weight; ties by position (i.e. by HostIndex).
    auto later = [&fillers](std::uint32_t a, std::uint32_t b) {
        const auto lhs = (fillers[a].turns + 1) * fillers[b].weight;
        const auto rhs = (fillers[b].turns + 1) * fillers[a].weight;
        return lhs != rhs ? lhs > rhs : a > b;
    };
    std::vector<std::uint32_t> heap(fillers.size());
    for (std::uint32_t i = 0; i < heap.size(); ++i) heap[i] = i;
    std::make_heap(heap.begin(), heap.end(), later);

    table_.assign(kTableSize, kNoHost);
    for (std::uint32_t filled = 0; filled < kTableSize; ++filled) {
        std::pop_heap(heap.begin(), heap.end(), later);
        Filler& f = fillers[heap.back()];
        // The permutation visits every slot and the table is not full, so this ends.
        while (table_[f.next] != kNoHost) {
            f.next += f.skip;
            if (f.next >= kTableSize) f.next -= kTableSize;
        }
        table_[f.next] = f.host;
        f.next += f.skip;
        if (f.next >= kTableSize) f.next -= kTableSize;
        ++f.turns;
        std::push_heap(heap.begin(), heap.end(), later);
    }
}

bool Maglev::all_excluded(std::span<const HostIndex> exclude) const {
    if (exclude.size() < hosts_.size()) return false; // fewer exclusions than hosts
    return std::all_of(hosts_.begin(), hosts_.end(),
                       [&](const LbEntry& h) { return is_excluded(exclude, h.host); });
}

// Rules: no hosts → kNoHost; no key → round-robin; otherwise the key's slot owner. A retry that
// excluded the owner walks forward to the next slot owned by an allowed host: slots of different
// hosts interleave, so the walk is short, and the same key retries on the same second choice.
HostIndex Maglev::pick(const PickRequest& request) {
    if (hosts_.empty()) return kNoHost;
    if (!request.has_hash) return round_robin_->pick(request);
    std::uint32_t slot = static_cast<std::uint32_t>(request.hash % kTableSize);
    if (request.exclude.empty() || !is_excluded(request.exclude, table_[slot])) return table_[slot];
    if (all_excluded(request.exclude)) return kNoHost;
    for (std::uint32_t step = 1; step < kTableSize; ++step) {
        slot = slot + 1 == kTableSize ? 0 : slot + 1;
        if (!is_excluded(request.exclude, table_[slot])) return table_[slot];
    }
    return kNoHost; // not reached: some allowed host owns at least one slot
}

} // namespace

std::unique_ptr<LoadBalancer> make_maglev() { return std::make_unique<Maglev>(); }

} // namespace haven::upstream
