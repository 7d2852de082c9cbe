// Picking the records of a routed set for one answer, on the DNS thread: the control thread
// already chose which members are eligible (health_view.hpp); this applies the per-answer part of
// each routing — a weighted draw, the multivalue shuffle, the client's region.
#pragma once

#include "core/random.hpp"
#include "dns/health_view.hpp"

#include <vector>

namespace haven::dns {

// Route 53 answers at most this many values of a multivalue set.
inline constexpr std::size_t kMultivalueMax = 8;

// Appends the records to answer to `out`. Returns true when the choice depends on the client's
// address (latency routing), so that an EDNS Client Subnet answer says which subnet it is for.
bool pick(const RoutedSet& set, const SetView& view, RegionMatch client, Random& random, std::vector<const Rdata*>& out);

} // namespace haven::dns
