// Tier selection and slow start: which servers take new requests, and with what weight. Both are
// pure functions; the control thread calls them whenever a server's state changes and publishes
// the result in the pool's next HostSet.
#include "upstream/tiers.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <optional>

namespace haven::upstream {
namespace {

bool usable(const HostView& h) {
    return h.admin == AdminState::Ready && h.health == HealthStatus::Up && !h.ejected && !h.refused && !h.region_down &&
           h.weight > 0;
}

// Panic ignores health, ejection and refusals (they may be wrong, or everything is failing and any chance
// beats a certain 503) but never an operator's decision: Drain and Maint stay out.
bool panic_candidate(const HostView& h) { return h.admin == AdminState::Ready && h.weight > 0; }

// How many servers of each tier would serve if it were chosen: its usable servers, counting the
// usable `backup` servers as one when all_backups is false (only the first of them serves).
std::map<std::uint32_t, std::uint32_t> serving_per_tier(std::span<const HostView> hosts, bool all_backups) {
    std::map<std::uint32_t, std::uint32_t> count; // ordered: lowest priority first
    std::map<std::uint32_t, bool> backup_counted;
    for (const HostView& h : hosts) {
        if (!usable(h)) continue;
        if (h.backup && !all_backups) {
            if (backup_counted[h.priority]) continue;
            backup_counted[h.priority] = true;
        }
        ++count[h.priority];
    }
    return count;
}

// The serving tier: the lowest priority that would serve >= min_healthy servers (Normal); else
// the tier that would serve the most, the lowest of equals (Degraded). Counting the servers that
// would serve, not those merely usable, means spilling to another tier never lowers the number
// of servers taking traffic: a tier of spare backups of which one would serve does not replace
// a primary tier with as many. nullopt when no server is usable.
std::optional<std::pair<std::uint32_t, ServingMode>> choose_tier(std::span<const HostView> hosts,
                                                                  const ServingPolicy& policy) {
    const auto per_tier = serving_per_tier(hosts, policy.all_backups);
    if (per_tier.empty()) return std::nullopt;
    // min_healthy 0 would let a tier with no usable server "serve"; a tier needs at least one.
    const std::uint32_t needed = std::max<std::uint32_t>(policy.min_healthy, 1);
    for (const auto& [priority, count] : per_tier) {
        if (count >= needed) return std::pair{priority, ServingMode::Normal};
    }
    auto best = per_tier.begin();
    for (auto it = per_tier.begin(); it != per_tier.end(); ++it) {
        if (it->second > best->second) best = it;
    }
    return std::pair{best->first, ServingMode::Degraded};
}

std::vector<LbEntry> tier_members(std::span<const HostView> hosts, std::uint32_t tier, bool all_backups) {
    std::vector<LbEntry> out;
    bool backup_taken = false;
    for (std::size_t i = 0; i < hosts.size(); ++i) {
        const HostView& h = hosts[i];
        if (h.priority != tier || !usable(h)) continue;
        // HAProxy's rule: without all_backups the backups are an ordered list of spares, and
        // only the first one still usable takes traffic.
        if (h.backup && !all_backups) {
            if (backup_taken) continue;
            backup_taken = true;
        }
        out.push_back(LbEntry{static_cast<HostIndex>(i), h.weight});
    }
    return out;
}

} // namespace

bool sticky_usable(const HostView& h) {
    return h.admin != AdminState::Maint && h.health == HealthStatus::Up && !h.ejected && !h.refused && !h.region_down;
}

Serving select_serving(std::span<const HostView> hosts, const ServingPolicy& policy) {
    // Rules, in order:
    // 1. a tier that is usable (see choose_tier) serves, Normal or Degraded (never spilling to a
    //    tier that would serve fewer servers than the one it leaves);
    // 2. nothing usable and on_all_down is Fail: None, nobody serves;
    // 3. nothing usable and TryAll: Panic over every Ready server with weight > 0, in every tier
    //    and without the backup restriction (in panic any server is worth a try);
    //    None if there is not even one.
    Serving out;
    if (const auto chosen = choose_tier(hosts, policy)) {
        out.tier = chosen->first;
        out.mode = chosen->second;
        out.eligible = tier_members(hosts, chosen->first, policy.all_backups);
        return out;
    }
    if (policy.on_all_down == OnAllDown::Fail) return out;
    for (std::size_t i = 0; i < hosts.size(); ++i) {
        if (panic_candidate(hosts[i])) out.eligible.push_back(LbEntry{static_cast<HostIndex>(i), hosts[i].weight});
    }
    if (!out.eligible.empty()) out.mode = ServingMode::Panic;
    return out;
}

std::uint32_t effective_weight(std::uint32_t weight, TimePoint up_since, TimePoint now, Duration ramp) {
    // Rules: weight 0 takes nothing, ramp or not; no ramp, or a ramp already run, gives the full
    // scaled weight; during the ramp the share grows linearly with time since up_since (a clock
    // reading before up_since counts as the ramp's start) and never drops to 0, which would
    // remove a server that is Up from balancing.
    if (weight == 0) return 0;
    constexpr std::uint64_t kMaxWeight = std::numeric_limits<std::uint32_t>::max();
    // Scaled in 64 bits: a configured weight above 2^32 / kWeightScale saturates instead of wrapping.
    const std::uint64_t full = std::min<std::uint64_t>(std::uint64_t{weight} * kWeightScale, kMaxWeight);
    if (ramp <= Duration::zero()) return static_cast<std::uint32_t>(full);
    const Duration elapsed = now > up_since ? now - up_since : Duration::zero();
    if (elapsed >= ramp) return static_cast<std::uint32_t>(full);
    // 128-bit product: full (< 2^32) × elapsed (< 2^63 ns) does not fit 64 bits for long ramps.
    const auto scaled = static_cast<unsigned __int128>(full) * static_cast<std::uint64_t>(elapsed.count()) /
                        static_cast<std::uint64_t>(ramp.count());
    return std::max<std::uint32_t>(1, static_cast<std::uint32_t>(scaled));
}

} // namespace haven::upstream
