// Internal to src/upstream: what PoolState keeps per server (pool_state.cpp, pool_roles.cpp).
#pragma once

#include "upstream/pool_state.hpp"

namespace haven::upstream {

struct PoolState::Server {
    config::Server cfg;
    HostInfo info;
    HealthStatus health = HealthStatus::Up;
    AdminState admin = AdminState::Ready;
    std::uint32_t weight = 1;
    TimePoint up_since{};
    std::unique_ptr<HealthChecker> checker;
    std::string last_check;
    double last_check_ms = 0;
    std::int64_t last_check_time_us = 0;
    std::uint64_t checks = 0;
    std::uint64_t check_failures = 0;
    std::uint64_t ejections_total = 0;
    bool changed_once = false; // health changed at least once since the server was added
    // Refused connects (HostSignals::refusals): the count last read, whether the server is out
    // because of them, how many a passing check answered, and the episodes so far.
    std::uint64_t refusals_seen = 0;
    bool refused = false;
    std::uint64_t refusals_cleared = 0;
    std::uint64_t refusals_total = 0;
    bool region_down = false; // its cfg.region is down
    // In a pool without active checks: the TCP connect check that answers a refusal.
    std::unique_ptr<HealthChecker> refusal_check;
    EjectCause eject_cause = EjectCause::Response;
    // The postgres check's last answer (DbRole::Unknown until one, or with another check).
    DbRole role = DbRole::Unknown;
    double lag_seconds = 0;
};

} // namespace haven::upstream
