// Which servers of a pool take new requests: active-active within a priority tier, active-passive
// across tiers (`backup: true` is priority 1). A pure function of the servers' states, used by the
// control thread each time a state changes; the result goes into the pool's next HostSet.
#pragma once

#include "upstream/health/health_state.hpp"
#include "upstream/host.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace haven::upstream {

enum class AdminState : std::uint8_t {
    Ready, // in service
    Drain, // no new requests; requests in flight finish (health checks continue)
    Maint, // maintenance: no traffic at all, not even in panic mode (health checks continue)
};

struct HostView {
    HealthStatus health = HealthStatus::Up;
    AdminState admin = AdminState::Ready;
    bool ejected = false;       // by outlier detection
    bool refused = false;       // a connect was refused on live traffic; no check has passed since
    bool region_down = false;   // the server's `region` is down (regions:, its own checks)
    bool backup = false;        // `backup: true` (HAProxy semantics, see all_backups)
    std::uint32_t priority = 0; // tier; lower is preferred
    std::uint32_t weight = 1;   // effective weight (after slow start); 0 = takes nothing
};

// Whether a request that sticks to this server (cookie, stick table) may go to it: up, not
// ejected, not refusing, its region up, not in maintenance. Drain and weight 0 do not stop it:
// a drained server keeps its sticky clients until they leave.
bool sticky_usable(const HostView& h);

enum class OnAllDown : std::uint8_t {
    Fail,   // no server available: 503 with Retry-After
    TryAll, // panic mode: balance over every server not in maintenance or drain, ignoring health
};

struct ServingPolicy {
    std::uint32_t min_healthy = 1; // a tier serves when it has at least this many usable servers
    bool all_backups = false;      // false: of `backup` servers, only the first usable one serves
    OnAllDown on_all_down = OnAllDown::Fail;
};

enum class ServingMode : std::uint8_t {
    Normal,   // a tier with >= min_healthy usable servers
    Degraded, // no tier reaches min_healthy: the lowest tier with any usable server
    Panic,    // nothing usable and on_all_down: try_all
    None,     // nothing usable: requests get 503
};

struct Serving {
    std::vector<LbEntry> eligible; // HostIndex = position in `hosts`
    std::int64_t tier = -1;        // priority of the serving tier; -1 in Panic / None
    ServingMode mode = ServingMode::None;
};

// Usable: admin Ready, health Up, not ejected, not refused, weight > 0. A tier's serving count:
// its usable servers, with the usable `backup` servers counted as one unless all_backups.
// Tier choice: the lowest priority whose serving count >= min_healthy (Normal); else the tier
// with the largest serving count, the lowest priority among equals (Degraded) — so failing over
// never lowers the number of serving servers; else Panic (on_all_down: try_all — every server with
// admin Ready and weight > 0) or None. Within the chosen tier every usable server serves, except
// that when all_backups is false only the first usable `backup` server (in config order) does.
Serving select_serving(std::span<const HostView> hosts, const ServingPolicy& policy);

} // namespace haven::upstream

namespace haven::upstream {

// Effective weights are configured weights × kWeightScale, so that slow start has fine steps.
inline constexpr std::uint32_t kWeightScale = 100;

// A server that came Up at `up_since` ramps linearly from (almost) nothing to its full weight over
// `ramp` (slow_start); ramp 0 = full weight at once. Returns weight × kWeightScale × progress, at
// least 1 while the configured weight is > 0.
std::uint32_t effective_weight(std::uint32_t weight, TimePoint up_since, TimePoint now, Duration ramp);

} // namespace haven::upstream
