// Which members of routed record sets are answered, and the events when that changes (see
// health_view.hpp).
#include "dns/health_view.hpp"

#include <set>

namespace haven::dns {
namespace {

bool healthy(const Member& m, const std::vector<bool>& up) {
    return m.source == kAlwaysHealthy || (m.source < up.size() && up[m.source]);
}

SetView everyone(const RoutedSet& set) {
    SetView v;
    for (std::size_t k = 0; k < set.members.size(); ++k) v.members.push_back(static_cast<std::uint16_t>(k));
    v.all_unhealthy = true;
    return v;
}

SetView failover(const RoutedSet& set, const std::vector<bool>& up) {
    std::int32_t primary = -1, secondary = -1;
    for (std::size_t k = 0; k < set.members.size(); ++k) {
        (set.members[k].role == config::FailoverRole::Primary ? primary : secondary) = static_cast<std::int32_t>(k);
    }
    SetView v;
    if (primary >= 0 && healthy(set.members[primary], up)) {
        v.members = {static_cast<std::uint16_t>(primary)};
    } else if (secondary >= 0 && healthy(set.members[secondary], up)) {
        v.members = {static_cast<std::uint16_t>(secondary)};
    } else {
        // Route 53 answers the primary when both are unhealthy.
        v.members = {static_cast<std::uint16_t>(primary >= 0 ? primary : 0)};
        v.all_unhealthy = true;
    }
    return v;
}

SetView view_of(const RoutedSet& set, const std::vector<bool>& up) {
    if (set.routing == config::DnsRouting::Failover) return failover(set, up);
    SetView v;
    for (std::size_t k = 0; k < set.members.size(); ++k) {
        if (healthy(set.members[k], up)) v.members.push_back(static_cast<std::uint16_t>(k));
    }
    return v.members.empty() ? everyone(set) : v;
}

std::string causes(const ZoneData& data, const RoutedSet& set, const std::vector<bool>& before,
                   const std::vector<bool>& after) {
    std::set<std::uint32_t> seen;
    std::string out;
    for (const auto& m : set.members) {
        if (m.source == kAlwaysHealthy || !seen.insert(m.source).second) continue;
        if (m.source >= before.size() || m.source >= after.size() || before[m.source] == after[m.source]) continue;
        out += (out.empty() ? "" : ", ") + data.sources[m.source].label + (after[m.source] ? " up" : " down");
    }
    return out.empty() ? "health changed" : out;
}

} // namespace

HealthView compute_view(const ZoneData& data, const std::vector<bool>& up) {
    HealthView view;
    view.sets.reserve(data.routed.size());
    for (const auto& set : data.routed) view.sets.push_back(view_of(set, up));
    return view;
}

std::string answers_text(const RoutedSet& set, const SetView& view) {
    if (view.all_unhealthy) return "all members (none healthy)";
    std::string out;
    for (const auto k : view.members) out += (out.empty() ? "" : ", ") + set.members[k].label;
    return out;
}

std::size_t record_changes(const ZoneData& data, const HealthView& before, const HealthView& after,
                           const std::vector<bool>& up_before, const std::vector<bool>& up_after, EventLog& events) {
    std::size_t changed = 0;
    for (std::size_t i = 0; i < data.routed.size() && i < before.sets.size() && i < after.sets.size(); ++i) {
        if (before.sets[i] == after.sets[i]) continue;
        ++changed;
        const RoutedSet& set = data.routed[i];
        events.add(set.routing == config::DnsRouting::Failover ? "dns_failover" : "dns_answers", "", "",
                   set.label + ": " + causes(data, set, up_before, up_after) + " -> answers now " +
                       answers_text(set, after.sets[i]));
        if (after.sets[i].all_unhealthy && !before.sets[i].all_unhealthy) {
            events.add("dns_all_unhealthy", "", "",
                       set.label + ": no member is healthy; answering as if all were healthy");
        }
    }
    return changed;
}

} // namespace haven::dns
