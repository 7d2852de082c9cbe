// Smooth weighted round-robin.
//
// The picks are scheduled like packets in a worst-case fair queue (WF²Q, Bennett & Zhang 1996):
// one cycle is W = sum of weights picks, and a host of weight w ideally takes its k-th pick of a
// cycle during the virtual interval [k/w, (k+1)/w). A host is *eligible* once the start of its
// next interval (picks/w) is not after the virtual time (picks made / W); among eligible hosts the
// one whose interval ends first wins. Eligibility is what makes the order interleave: weights
// 5,1,1 give a b a a c a a (never more than 3 a's in a row, the least any order can do), where
// plain earliest-deadline-first gives a a a a a b c. Over each full cycle every host gets exactly
// its weight, and at every prefix each host is within one pick of its exact share.
//
// Two binary heaps hold the hosts: `ready_` (eligible, ordered by interval end) and `waiting_`
// (ordered by interval start). A pick promotes the waiting hosts whose start has come, pops the
// ready top and pushes it back into `waiting_`: O(log n) amortised, no allocation (the heaps are
// sized in set_hosts). Virtual times are rationals compared by 128-bit cross-multiplication.
#include "upstream/lb/lb_common.hpp"
#include "upstream/lb/load_balancer.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

namespace haven::upstream {
namespace {

using lb_detail::is_excluded;
using u128 = unsigned __int128;

constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();

struct Slot {
    HostIndex host;
    std::uint32_t weight;
    std::uint64_t picks; // turns taken, in this host's virtual time (rescaled by set_hosts)
};

// Pops heap entries until one that `allowed` accepts, removes it from the heap and returns it;
// the rejected entries are pushed back. kNone when no entry is allowed (the heap then holds the
// same entries). `after(a, b)` is true when a comes later than b, so the std max-heap functions yield the
// earliest entry first.
template <class After, class Allowed>
std::uint32_t take_first_allowed(std::vector<std::uint32_t>& heap, std::size_t& size, After after,
                                 Allowed allowed) {
    const std::size_t full = size;
    std::uint32_t found = kNone;
    while (size > 0) {
        std::pop_heap(heap.begin(), heap.begin() + size, after);
        --size;
        if (allowed(heap[size])) {
            found = heap[size];
            break;
        }
    }
    // The rejected entries occupy [size, full) except the found one at `size`: move the last
    // rejected entry into its place, then sift them all back in.
    std::size_t rejected = full - size;
    if (found != kNone) {
        heap[size] = heap[full - 1];
        --rejected;
    }
    for (std::size_t i = 0; i < rejected; ++i) {
        ++size;
        std::push_heap(heap.begin(), heap.begin() + size, after);
    }
    return found;
}

class RoundRobin final : public LoadBalancer {
public:
    void set_hosts(std::span<const LbEntry> hosts) override;
    HostIndex pick(const PickRequest& request) override;

private:
    // Interval end (picks+1)/weight: a finishes after b.
    bool finishes_after(std::uint32_t a, std::uint32_t b) const {
        const auto& x = slots_[a];
        const auto& y = slots_[b];
        const u128 lhs = static_cast<u128>(x.picks + 1) * y.weight;
        const u128 rhs = static_cast<u128>(y.picks + 1) * x.weight;
        return lhs != rhs ? lhs > rhs : a > b; // ties: list order, so equal weights rotate in order
    }
    // Interval start picks/weight: a starts after b.
    bool starts_after(std::uint32_t a, std::uint32_t b) const {
        const auto& x = slots_[a];
        const auto& y = slots_[b];
        const u128 lhs = static_cast<u128>(x.picks) * y.weight;
        const u128 rhs = static_cast<u128>(y.picks) * x.weight;
        return lhs != rhs ? lhs > rhs : a > b;
    }
    // picks/weight <= now/W.
    bool is_eligible(std::uint32_t pos) const {
        const auto& s = slots_[pos];
        return static_cast<u128>(s.picks) * total_weight_ <= static_cast<u128>(now_) * s.weight;
    }
    void promote_eligible();
    std::uint64_t carried_picks(const std::vector<Slot>& old_sorted, std::uint64_t old_now,
                                std::uint64_t old_total, const LbEntry& entry) const;
    void rebase_and_build_heaps();

    std::vector<Slot> slots_;
    std::vector<std::uint32_t> ready_;   // eligible slots, min-heap on interval end
    std::size_t ready_size_ = 0;
    std::vector<std::uint32_t> waiting_; // slots not yet eligible, min-heap on interval start
    std::size_t waiting_size_ = 0;
    std::uint64_t now_ = 0;              // sum of slots_[i].picks: keeps some host eligible
    std::uint64_t total_weight_ = 0;
};

void RoundRobin::promote_eligible() {
    auto starts = [this](std::uint32_t a, std::uint32_t b) { return starts_after(a, b); };
    auto finishes = [this](std::uint32_t a, std::uint32_t b) { return finishes_after(a, b); };
    while (waiting_size_ > 0 && is_eligible(waiting_[0])) {
        std::pop_heap(waiting_.begin(), waiting_.begin() + waiting_size_, starts);
        --waiting_size_;
        ready_[ready_size_++] = waiting_[waiting_size_];
        std::push_heap(ready_.begin(), ready_.begin() + ready_size_, finishes);
    }
}

// Rules: no hosts → kNoHost. Normally the earliest-finishing eligible host. A retry skips the
// excluded hosts without charging them, so they keep their place for later picks; if every
// eligible host is excluded, the earliest-starting waiting one is taken ahead of its turn.
HostIndex RoundRobin::pick(const PickRequest& request) {
    if (slots_.empty()) return kNoHost;
    promote_eligible();
    auto allowed = [&](std::uint32_t pos) { return !is_excluded(request.exclude, slots_[pos].host); };
    auto starts = [this](std::uint32_t a, std::uint32_t b) { return starts_after(a, b); };
    auto finishes = [this](std::uint32_t a, std::uint32_t b) { return finishes_after(a, b); };
    std::uint32_t pos = take_first_allowed(ready_, ready_size_, finishes, allowed);
    if (pos == kNone) pos = take_first_allowed(waiting_, waiting_size_, starts, allowed);
    if (pos == kNone) return kNoHost;
    ++slots_[pos].picks;
    ++now_;
    waiting_[waiting_size_++] = pos;
    std::push_heap(waiting_.begin(), waiting_.begin() + waiting_size_, starts);
    return slots_[pos].host;
}

// A host that stays keeps its place in the rotation (its virtual start is rescaled to the new
// weight); a new host starts at the current virtual time, so it gets its share from now on
// instead of a burst making up for the past. This also means frequent set_hosts() calls (slow
// start, health flaps) do not restart the cycle and favour the first hosts.
std::uint64_t RoundRobin::carried_picks(const std::vector<Slot>& old_sorted, std::uint64_t old_now,
                                        std::uint64_t old_total, const LbEntry& entry) const {
    constexpr u128 kMax = std::numeric_limits<std::uint64_t>::max() / 2;
    auto it = std::lower_bound(old_sorted.begin(), old_sorted.end(), entry.host,
                               [](const Slot& s, HostIndex h) { return s.host < h; });
    u128 picks = 0;
    if (it != old_sorted.end() && it->host == entry.host) {
        picks = (static_cast<u128>(it->picks) * entry.weight + it->weight / 2) / it->weight;
    } else if (old_total > 0) {
        picks = static_cast<u128>(old_now) * entry.weight / old_total;
    }
    return static_cast<std::uint64_t>(std::min(picks, kMax));
}

void RoundRobin::set_hosts(std::span<const LbEntry> hosts) {
    std::vector<Slot> old = std::move(slots_);
    std::sort(old.begin(), old.end(), [](const Slot& a, const Slot& b) { return a.host < b.host; });
    const std::uint64_t old_now = now_;
    const std::uint64_t old_total = total_weight_;
    slots_.clear();
    total_weight_ = 0;
    for (const auto& e : lb_detail::usable_entries(hosts)) {
        slots_.push_back({e.host, e.weight, carried_picks(old, old_now, old_total, e)});
        total_weight_ += e.weight;
    }
    rebase_and_build_heaps();
}

// Subtracting whole cycles from every host (and from now) changes no comparison but keeps the
// counters small. now_ is re-derived as the sum of picks: with sum(picks) == now and sum(weights)
// == W, the smallest picks/weight is at most now/W, so some host is always eligible.
void RoundRobin::rebase_and_build_heaps() {
    std::uint64_t cycles = std::numeric_limits<std::uint64_t>::max();
    for (const auto& s : slots_) cycles = std::min(cycles, s.picks / s.weight);
    now_ = 0;
    for (auto& s : slots_) {
        s.picks -= cycles * s.weight;
        now_ += s.picks;
    }
    ready_.assign(slots_.size(), 0);
    waiting_.assign(slots_.size(), 0);
    ready_size_ = 0;
    waiting_size_ = 0;
    for (std::uint32_t pos = 0; pos < slots_.size(); ++pos) {
        if (is_eligible(pos)) {
            ready_[ready_size_++] = pos;
        } else {
            waiting_[waiting_size_++] = pos;
        }
    }
    std::make_heap(ready_.begin(), ready_.begin() + ready_size_,
                   [this](std::uint32_t a, std::uint32_t b) { return finishes_after(a, b); });
    std::make_heap(waiting_.begin(), waiting_.begin() + waiting_size_,
                   [this](std::uint32_t a, std::uint32_t b) { return starts_after(a, b); });
}

} // namespace

std::unique_ptr<LoadBalancer> make_round_robin() { return std::make_unique<RoundRobin>(); }

} // namespace haven::upstream
