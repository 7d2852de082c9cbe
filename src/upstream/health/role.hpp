// Database roles (docs/database-ha.md): how a pool with `role:` judges a check's answer. The
// postgres check reports what the server is (primary or replica, its WAL position and replay
// lag); judge_role turns that into pass/fail for the pool. A server's own word about its role is
// definitive — a primary pool stops sending to a node the moment it answers "in recovery", and
// takes a newly promoted node at its first answer — while lag counts towards rise/fall like any
// failing check. Pure: no clock, no I/O.
#pragma once

#include "config/schema.hpp"
#include "upstream/health/probe.hpp"

#include <cstdint>
#include <optional>

namespace haven::upstream {

struct RoleRule {
    config::PoolRole want = config::PoolRole::Any;
    Duration max_lag{0};          // 0: no bound
    std::uint64_t max_lag_bytes = 0; // 0: no bound
};

RoleRule role_rule(const config::Pool& pool);

// Judges `r` (a passing check with role facts) for a pool: sets ok, reason and definitive.
// Rules: a failed check, a pool without a role, or a check that does not tell the role (http)
// stays as it is. Primary pools: a primary passes (definitive), a replica fails (definitive).
// Replica pools: a primary fails (definitive) — in prefer_replica it passes as the fallback; a
// replica passes unless its lag is over max_lag, or over max_lag_bytes behind `primary_lsn`
// (the pool's last known primary position; unknown: the byte bound is not applied).
void judge_role(ProbeResult& r, const RoleRule& rule, std::optional<std::uint64_t> primary_lsn);

const char* role_name(DbRole r);

} // namespace haven::upstream
