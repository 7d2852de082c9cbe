// Lookups on the plain config structs (schema.hpp).
#include "config/schema.hpp"

namespace haven::config {

// A linear scan: configs hold a handful of pools and lookups happen when building snapshots,
// not per request.
const Pool* Config::find_pool(std::string_view name) const {
    for (const auto& pool : pools) {
        if (pool.name == name) return &pool;
    }
    return nullptr;
}

std::string_view name_of(ListenerMode m) { return m == ListenerMode::Http ? "http" : "tcp"; }

std::string_view name_of(Balance b) {
    switch (b) {
    case Balance::RoundRobin: return "roundrobin";
    case Balance::LeastConn: return "leastconn";
    case Balance::Random2: return "random2";
    case Balance::Hash: return "hash";
    }
    return "?";
}

std::string_view name_of(AdminState s) {
    switch (s) {
    case AdminState::Ready: return "ready";
    case AdminState::Drain: return "drain";
    case AdminState::Maint: return "maint";
    }
    return "?";
}

} // namespace haven::config
