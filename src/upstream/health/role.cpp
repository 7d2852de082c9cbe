#include "upstream/health/role.hpp"

#include <fmt/format.h>

namespace haven::upstream {

RoleRule role_rule(const config::Pool& pool) {
    RoleRule r;
    r.want = pool.role;
    r.max_lag = std::chrono::duration_cast<Duration>(pool.max_lag);
    r.max_lag_bytes = pool.max_lag_bytes;
    return r;
}

const char* role_name(DbRole r) {
    switch (r) {
    case DbRole::Unknown: return "unknown";
    case DbRole::Primary: return "primary";
    case DbRole::Replica: return "replica";
    }
    return "?";
}

namespace {

void role_fail(ProbeResult& r, std::string why, bool definitive) {
    r.ok = false;
    r.reason = std::move(why);
    r.definitive = definitive;
}

void judge_replica(ProbeResult& r, const RoleRule& rule, std::optional<std::uint64_t> primary_lsn) {
    const double max_s = std::chrono::duration<double>(rule.max_lag).count();
    if (rule.max_lag > Duration::zero() && r.lag_seconds > max_s) {
        role_fail(r, fmt::format("replica lag {:.1f}s over max_lag {:.1f}s", r.lag_seconds, max_s), false);
        return;
    }
    const std::uint64_t behind = primary_lsn && *primary_lsn > r.lsn ? *primary_lsn - r.lsn : 0;
    if (rule.max_lag_bytes > 0 && behind > rule.max_lag_bytes) {
        role_fail(r, fmt::format("replica {} bytes behind the primary, over max_lag_bytes {}", behind, rule.max_lag_bytes),
             false);
        return;
    }
    r.ok = true;
    r.reason = fmt::format("ok (replica, lag {:.1f}s, {} bytes)", r.lag_seconds, behind);
}

} // namespace

void judge_role(ProbeResult& r, const RoleRule& rule, std::optional<std::uint64_t> primary_lsn) {
    if (!r.ok || rule.want == config::PoolRole::Any || r.role == DbRole::Unknown) return;
    switch (rule.want) {
    case config::PoolRole::Any: return;
    case config::PoolRole::Primary:
        if (r.role == DbRole::Primary) {
            r.reason = "ok (primary)";
            r.definitive = true;
        } else {
            role_fail(r, "replica (in recovery), not the primary", true);
        }
        return;
    case config::PoolRole::Replica:
    case config::PoolRole::PreferReplica:
        if (r.role == DbRole::Replica) {
            judge_replica(r, rule, primary_lsn);
        } else if (rule.want == config::PoolRole::PreferReplica) {
            r.reason = "ok (primary, the fallback when no replica serves)";
        } else {
            role_fail(r, "primary, not a replica", true);
        }
        return;
    }
}

} // namespace haven::upstream
