// Lookups on the plain config structs (schema.hpp).
#include "config/schema.hpp"

#include <algorithm>

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

std::string_view name_of(InitialHealth i) {
    switch (i) {
    case InitialHealth::Check: return "check";
    case InitialHealth::Up: return "up";
    case InitialHealth::Down: return "down";
    }
    return "?";
}

void derive_check_defaults(HealthCheck& hc, const CheckKeysWritten& written) {
    // HAProxy lets its check timeout and fastinter/downinter follow `inter`; haven does too,
    // within bounds: a check needs no more than 2 s to say "unreachable", a suspected change is
    // confirmed at least twice as often as the regular checks run (and at least every second),
    // and a server that is down is checked as often as one that is up, so it returns within
    // about rise × interval of coming back.
    using std::chrono::milliseconds;
    if (!written.timeout) hc.timeout = std::min(hc.interval, Duration{2'000});
    if (!written.fast_interval) hc.fast_interval = std::max(milliseconds(1), std::min(hc.interval / 2, Duration{1'000}));
    if (!written.down_interval) hc.down_interval = hc.interval;
}

} // namespace haven::config
