// HealthView: which members of each routed record set may be answered now, computed on the
// control thread from the health of each source (region, pool, server, own check) whenever one
// changes, and published to the DNS thread with the ZoneData it indexes. The rules, Route 53's:
//
//   failover    the primary while it is healthy, else the secondary while it is healthy;
//   weighted,   every healthy member (weighted picks one per answer by weight; multivalue
//   multivalue, answers up to 8 of their values; latency prefers the client's region);
//   latency
//   and when no member is healthy, every member as if all were (all_unhealthy), which an event
//   reports: an answer that may be wrong beats no answer when the checks themselves are broken.
#pragma once

#include "core/event_log.hpp"
#include "dns/zone_data.hpp"

#include <cstdint>
#include <vector>

namespace haven::dns {

struct SetView {
    std::vector<std::uint16_t> members; // eligible members, in config order
    bool all_unhealthy = false;
    bool operator==(const SetView&) const = default;
};

struct HealthView {
    std::vector<SetView> sets; // indexed like ZoneData::routed
};

// `up[i]`: source i (ZoneData::sources) is healthy.
HealthView compute_view(const ZoneData& data, const std::vector<bool>& up);

// One event per routed set whose answer changed between two views of the same ZoneData, naming
// the sources that changed and what is answered now ("app.example.com A: region eu down ->
// answers now us"), plus dns_all_unhealthy when a set has just lost its last healthy member.
// Returns how many sets changed.
std::size_t record_changes(const ZoneData& data, const HealthView& before, const HealthView& after,
                           const std::vector<bool>& up_before, const std::vector<bool>& up_after, EventLog& events);

// What a set answers now, in words ("us", "all members (none healthy)").
std::string answers_text(const RoutedSet& set, const SetView& view);

} // namespace haven::dns
