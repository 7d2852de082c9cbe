// A pool's guards and stickiness, built from its config: the circuit breaker, the resource caps,
// the servers' slots (max_connections and the queue) and the sticky settings with their stick
// table. Each keeps its state across a reload that leaves its settings as they were.
#include "upstream/pool_state.hpp"

#include "upstream/circuit/breaker_config.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace haven::upstream {

// A breaker whose settings did not change keeps its state and its gate across a reload.
void PoolState::configure_breaker(const config::Pool& pool) {
    const auto& rl = pool.resource_limits;
    const ResourceCaps caps{rl.max_requests, rl.max_connections, rl.max_retries};
    if (caps == ResourceCaps{}) {
        caps_.reset();
    } else if (!caps_ || caps_->caps() != caps) {
        caps_ = std::make_shared<ResourceLimits>(caps);
    }
    // Per-server caps: the same slots (and queue) while the caps and the queue's size stay; a
    // reload that changes them starts new counts (requests in flight finish on the old object).
    std::vector<std::uint32_t> per_server;
    for (const auto& s : pool.servers) per_server.push_back(s.max_connections);
    if (std::all_of(per_server.begin(), per_server.end(), [](std::uint32_t c) { return c == 0; })) {
        slots_.reset();
    } else if (!slots_ || slots_->caps() != per_server || slots_->max_queue() != pool.queue.max) {
        slots_ = std::make_shared<ServerSlots>(std::move(per_server), pool.queue.max);
    }
    if (!pool.circuit_breaker) {
        breaker_.reset();
        gate_.reset();
        return;
    }
    if (breaker_ && gate_ && config_.circuit_breaker == pool.circuit_breaker) return;
    breaker_ = std::make_unique<CircuitBreaker>(breaker_params(*pool.circuit_breaker));
    gate_ = std::make_shared<BreakerGate>(env_.workers);
}

void PoolState::tick_breaker(TimePoint now) {
    if (!breaker_) return;
    const auto counts = gate_->take_counts();
    const auto t = breaker_->observe(counts, now, env_.random);
    if (t == BreakerTransition::None) return;
    gate_->publish(breaker_->state(), breaker_->open_until());
    const char* kind = breaker_->state() == BreakerState::Open       ? "breaker_open"
                       : breaker_->state() == BreakerState::HalfOpen ? "breaker_half_open"
                                                                     : "breaker_closed";
    std::string detail = breaker_state_name(breaker_->state());
    if (breaker_->state() == BreakerState::Open) {
        detail = fmt::format("open for {:.0f}s ({} consecutive failures; trip {})", to_seconds(breaker_->open_until() - now),
                             counts.consecutive_failures, breaker_->trips());
    }
    env_.events.add(kind, config_.name, "", detail);
}

// The same Stickiness while the pool's sticky settings and servers stay; a new one otherwise,
// keeping the stick table when its own settings did not change (entries name servers by id, not
// by position, so they stay right when servers are added or removed).
void PoolState::configure_sticky(const config::Pool& pool) {
    if (!pool.sticky) {
        sticky_.reset();
        return;
    }
    const auto names = [](const config::Pool& p) {
        std::vector<std::pair<std::string, std::string>> out;
        for (const auto& s : p.servers) out.emplace_back(s.name, s.cookie);
        return out;
    };
    if (sticky_ && config_.sticky == pool.sticky && config_.name == pool.name && names(config_) == names(pool)) return;
    std::shared_ptr<session::StickTable> table;
    if (sticky_ && session::Stickiness::same_table(pool, *sticky_)) table = sticky_->shared_table();
    sticky_ = std::make_shared<session::Stickiness>(pool, env_.workers, std::move(table));
}

} // namespace haven::upstream
